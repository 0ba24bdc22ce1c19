"""The command line through click's CliRunner: exit codes, JSON contracts, messages, files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cli
from problems import bundled_problem_path

SEED_ANY = str(bundled_problem_path("deepseek-r1-seed-any-vendor"))


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli.main, list(args), catch_exceptions=False)

    return invoke


def test_solve_problem_file_prints_the_plan_table(run):
    result = run("solve", SEED_ANY)
    assert result.exit_code == 0
    assert "mi300x-8x" in result.output and "Cost CNY" in result.output
    total = next(line for line in result.output.splitlines() if line.split()[:1] == ["Total"])
    assert "2,000,000" in total.split()
    assert "optimal" in result.output


def test_solve_json_has_the_contract_keys(run):
    result = run("solve", SEED_ANY, "--format", "json")
    data = json.loads(result.output)
    assert data["status"] == "optimal" and data["objective"] == 2_000_000
    line = data["plan"]["lines"][0]
    for key in ("accelerator", "platform", "gpus_per_node", "nodes", "nodes_per_replica", "replicas", "precision",
                "users", "tokens_per_s_per_user", "cost", "power_w"):
        assert key in line
    assert set(data["plan"]["totals"]) >= {"cost", "currency", "power_w", "nodes", "gpus", "memory_gb", "users"}
    assert set(data["solver"]) >= {"seconds", "gap"}


def test_flags_override_the_problem_file(run):
    result = run("solve", SEED_ANY, "--vendor", "nvidia", "--format", "json")
    data = json.loads(result.output)
    assert {l["accelerator"] for l in data["plan"]["lines"]} == {"h20-96g"}


def test_flags_only_form(run):
    result = run("solve", "--model", "deepseek-r1", "--kv-reserve-gb", "250", "--prices", "seed-2025-02",
                 "--vendor", "nvidia", "--max-nodes", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plan"]["totals"]["cost"] == 2_450_000


def test_csv_and_md_formats(run):
    csv_out = run("solve", SEED_ANY, "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("item,accelerator")
    md_out = run("solve", SEED_ANY, "--format", "md").output
    assert "| Buy |" in md_out


def test_estimate_reports_deepseek_kv_and_weights(run):
    result = run("estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8",
                 "--precision", "fp8", "--kv-dtype", "bf16", "--format", "json")
    data = json.loads(result.output)
    assert data["kv_bytes_per_token"] == 70272
    # the 690 GB checkpoint less its MTP module (11.27B fp8 experts + 2.19B bf16), loaded only for MTP
    assert data["weights_gb"] == pytest.approx(690 - 11.27 * 8.002 / 8 - 2.19 * 2, rel=0.002)
    assert data["fits"] is True and data["precision"] == "fp8"


def test_estimate_a100_auto_chooses_bf16_and_does_not_fit(run):
    result = run("estimate", "--model", "deepseek-r1", "--accelerator", "a100-80g-pcie", "--gpus", "8",
                 "--precision", "auto", "--format", "json")
    data = json.loads(result.output)
    assert data["precision"] == "bf16" and data["fits"] is False
    assert "leave no KV cache" in data["why_not"] and any("do not run" in n for n in data["notes"])


def test_catalog_accelerators_json_lists_the_ids(run):
    data = json.loads(run("catalog", "accelerators", "--format", "json").output)
    ids = {row["id"] for row in data}
    assert {"h200-sxm", "mi300x", "a100-80g-pcie", "ascend-910b", "epyc-9654"} <= ids
    assert len(ids) >= 30


def test_malformed_yaml_exits_2_with_location(run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: deepseek-r1\nworkload: {concurrent_users: 3\n")
    result = CliRunner().invoke(cli.main, ["solve", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:" in result.output and "malformed YAML" in result.output
    assert "Traceback" not in result.output


def test_unknown_id_suggests_the_closest(run, tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("model: deepseek-r2\nworkload: {concurrent_users: 3}\n")
    result = CliRunner().invoke(cli.main, ["solve", str(bad)])
    assert result.exit_code == 2
    assert "typo.yaml:1:8" in result.output and "did you mean 'deepseek-r1'" in result.output
    result = CliRunner().invoke(cli.main, ["estimate", "--model", "deepseek-r1", "--accelerator", "h100", "--gpus", "8"])
    assert result.exit_code == 2 and "'h100-sxm'" in result.output


def test_negative_budget_exits_2_naming_the_flag(run):
    result = CliRunner().invoke(cli.main, ["solve", SEED_ANY, "--budget", "-5"])
    assert result.exit_code == 2
    assert "--budget" in result.output and "greater than 0" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_infeasible_exits_1_and_explains_with_numbers(run):
    result = CliRunner().invoke(cli.main, ["solve", SEED_ANY, "--budget", "1500000", "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "infeasible"
    assert "budget" in data["explanation"]["conflicting"]
    assert "2,000,000" in data["explanation"]["summary"]


def test_output_file_is_written_and_not_replaced_without_force(run, tmp_path):
    out = tmp_path / "plan.json"
    assert run("solve", SEED_ANY, "--format", "json", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["status"] == "optimal"
    result = CliRunner().invoke(cli.main, ["solve", SEED_ANY, "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert run("solve", SEED_ANY, "-o", str(out), "--force").exit_code == 0


def test_failed_solve_leaves_no_output_file(tmp_path):
    out = tmp_path / "plan.txt"
    result = CliRunner().invoke(cli.main, ["solve", SEED_ANY, "--budget", "10", "-o", str(out)])
    assert result.exit_code == 1
    assert list(tmp_path.iterdir()) == []


COMMANDS = [[name] for name in sorted(cli.main.commands)] + [["catalog", name] for name in sorted(cli.catalog_group.commands)]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_help_does_not_import_the_solver_or_pandas():
    code = "import sys, cli; cli.main(['--help'], standalone_mode=False); " \
           "print(sorted(m for m in ('ortools', 'pandas', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_engine_settings_reach_the_plan_and_the_estimate(run):
    # Flags override the problem file's engine_settings; every plan line shows the settings the sizing assumed.
    result = run("solve", SEED_ANY, "--memory-utilization", "0.85", "--max-model-len", "16384", "--eager",
                 "--format", "json")
    line = json.loads(result.output)["plan"]["lines"][0]
    assert line["engine_settings"]["memory_utilization"] == 0.85
    assert line["engine_settings"]["max_model_len"] == 16384 and line["engine_settings"]["eager"] is True
    table = run("solve", SEED_ANY, "--max-model-len", "16384")
    assert "Engine settings assumed" in table.output and "max_model_len 16384" in table.output
    est = run("estimate", "--model", "qwen3-30b-a3b", "--accelerator", "a10", "--gpus", "4", "--engine", "vllm", "--tp", "4",
              "--max-model-len", "1024", "--max-batch", "1", "--engine-version", "0.8.5", "--input-tokens", "512",
              "--output-tokens", "512")
    assert est.exit_code == 0 and "NO — CUDA graphs need" in est.output and "KV cache" in est.output
    assert all(len(line) <= 80 for line in est.output.splitlines())
    eager = run("estimate", "--model", "qwen3-30b-a3b", "--accelerator", "a10", "--gpus", "4", "--engine", "vllm", "--tp", "4",
                "--max-model-len", "1024", "--max-batch", "1", "--eager", "--format", "json",
                "--input-tokens", "512", "--output-tokens", "512")
    data = json.loads(eager.output)
    assert data["fits"] is True and data["memory_gib"]["cuda_graphs"] == 0 and data["engine_settings"]["eager"]


def test_catalog_models_name_the_mtp_modules(run, catalog):
    """A model that ships MTP modules says so under its row (layers and parameters from the catalog), JSON too;
    one without them does not."""
    result = run("catalog", "models")
    assert result.exit_code == 0
    r1 = catalog.models["deepseek-r1"].mtp
    text = " ".join(result.output.split())
    assert f"layers: 61; mtp: {r1.layers} module, {r1.params_b:g}B;" in text
    assert "Llama 3.1 8B Instruct; layers: 32; precisions" in text
    rows = json.loads(run("catalog", "models", "--format", "json").output)
    rows = rows if isinstance(rows, list) else rows["rows"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["deepseek-r1"]["mtp"] == "1 module, 13.46B" and by_id["llama-3.1-8b"]["mtp"] == ""

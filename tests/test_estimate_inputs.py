"""`hwplan estimate` refuses what the problem YAML refuses: exit 2, one message naming the flag, no file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main

BASE = ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8"]


@pytest.mark.parametrize("extra, flag, value", [
    (["--request-rate", "inf"], "--request-rate", "inf"),
    (["--request-rate", "nan"], "--request-rate", "nan"),
    (["--request-rate", "1", "--concurrency", "4"], "--request-rate", "--concurrency"),
    (["--request-rate", "1", "--concurrency", "max"], "--request-rate", "--concurrency"),
    (["--spec-tokens", "3"], "--spec-tokens", "3"),
    (["--spec-acceptance", "0.8"], "--spec-acceptance", "0.8"),
    (["--engine-version", "0.21.0"], "--engine-version", "0.21.0"),            # engine auto: which engine's?
    (["--engine", "auto", "--engine-version", "0.12.0"], "--engine-version", "one engine"),
    # a request longer than the model's context (163,840 tokens): 163,000 + 1,000 = 164,000
    (["--input-tokens", "163000"], "--input-tokens + --output-tokens", "164,000"),
    # --max-model-len below one request (2,000 + 1,000 by default): the engine would reject every request
    (["--max-model-len", "2999"], "--max-model-len", "2,999"),
])
def test_bad_estimate_flags_exit_2_without_output_file(tmp_path, extra, flag, value):
    out = tmp_path / "est.json"
    result = CliRunner().invoke(main, BASE + extra + ["--format", "json", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert flag in result.output and value in result.output
    assert "Traceback" not in result.output and "Infinity" not in result.output
    assert not out.exists()


def test_engine_version_with_its_engine_and_spec_flags_with_speculative_run():
    ok = CliRunner().invoke(main, BASE + ["--engine", "vllm", "--engine-version", "0.21.0", "--speculative", "mtp",
                                          "--spec-tokens", "2", "--spec-acceptance", "0.8", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"tokens": 2' in ok.output and '"acceptance": 0.8' in ok.output


def test_solve_and_estimate_share_the_one_engine_rule():
    from optimizer.problem import version_names_engine

    assert version_names_engine(None, ["auto"])
    assert version_names_engine("0.21.0", ["vllm"])
    assert not version_names_engine("0.21.0", ["auto"])
    assert not version_names_engine("0.21.0", ["vllm", "sglang"])


def test_a_replica_whose_weights_do_not_fit_shows_no_negative_kv_budget():
    """Llama-3.1-70B bf16 (141.2 GB) on one 80 GB H100: the table says how far short the memory is, not a
    negative budget; JSON keeps the signed figure for scripts."""
    import json

    table = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-70b", "--precision", "bf16", "--accelerator",
                                      "h100-sxm", "--gpus", "1"])
    data = json.loads(CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-70b", "--precision", "bf16",
                                                "--accelerator", "h100-sxm", "--gpus", "1", "--format", "json"]).output)
    budget = data["kv_budget_per_gpu_gb"]
    assert budget < 0
    line = next(x for x in table.output.splitlines() if x.startswith("KV budget per accelerator"))
    assert line.split(None, 4)[-1] == f"none: {-budget:,.1f} GB short"


def test_gpus_with_ep_only_gives_tp_the_rest(catalog):
    """--gpus 8 --ep 8 (no --tp): TP takes the 8 / (DP 1 × PP 1) = 8 ranks (it was read as TP 1 and refused:
    'the layout --tp 1 × --dp 1 × --pp 1 uses 1 accelerators'); --gpus 16 --pp 2: TP 8 × PP 2."""
    from optimizer import estimate

    est = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, ep=8)
    assert est.layout.startswith("TP8") and "EP8" in est.layout
    assert "TP8 × PP2" in estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=16, pp=2).layout
    dense = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-70b", "--accelerator", "h200-sxm",
                                      "--gpus", "8", "--ep", "8"])
    assert dense.exit_code == 2 and "expert parallelism needs an MoE model" in dense.output

"""`precision: auto` tries the publisher's natively-run builds; a workload longer than the context is bad input."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import cli
from catalog.errors import ProblemError
from optimizer import check_plan, load_problem, optimize, problem_from_fields, with_overrides
from optimizer.problem import check_ids
from optimizer.sizing import candidate_variants
from problems import bundled_problem_path


def _maverick(precision):
    return problem_from_fields({"model": "llama-4-maverick", "precision": precision, "prices": "street-usd-2025",
                                "workload": {"concurrent_users": 50, "min_tokens_per_s": 20}})


def test_auto_picks_metas_fp8_maverick_when_it_is_cheaper(catalog):
    model = catalog.models["llama-4-maverick"]
    fp8, bf16 = model.variant("fp8"), model.variant("bf16")
    # Meta ships the FP8 checkpoint itself: 400B params × 8 bits = 400 GB against 800 GB in bf16.
    assert fp8.bits_per_weight * 2 == bf16.bits_per_weight and "huggingface.co/meta-llama/" in fp8.source
    only_bf16 = optimize(catalog, _maverick("bf16"))
    only_fp8 = optimize(catalog, _maverick("fp8"))
    assert only_fp8.totals.cost < only_bf16.totals.cost
    auto = optimize(catalog, _maverick("auto"))
    assert auto.totals.cost == min(only_fp8.totals.cost, only_bf16.totals.cost)
    assert {l.precision for l in auto.lines} == {"fp8"}
    assert any("precision auto compared bf16, fp8" in n and "uses fp8" in n for n in auto.notes)
    assert all("native fp8 units" in l.note for l in auto.lines)
    assert check_plan(auto, catalog, _maverick("auto")) == []


def test_auto_leaves_lossy_third_party_builds_alone(catalog):
    h100 = catalog.accelerators["h100-sxm"]
    # NVIDIA's FP8 Llama 3.1 70B and every AWQ/GGUF build are someone else's quantization: only when asked.
    assert [v.id for v, _ in candidate_variants(catalog.models["llama-3.1-70b"], h100, "auto")] == ["bf16"]
    r1 = [v.id for v, _ in candidate_variants(catalog.models["deepseek-r1"], h100, "auto")]
    assert r1 == ["fp8"]
    # Without native fp8 units the publisher's FP8 build is not tried: bf16 only.
    a100 = catalog.accelerators["a100-80g-sxm"]
    assert not a100.has_native("fp8")
    assert [v.id for v, _ in candidate_variants(catalog.models["llama-4-maverick"], a100, "auto")] == ["bf16"]
    assert [v.id for v, _ in candidate_variants(catalog.models["deepseek-r1"], h100, "ud-1.58bit")] == ["ud-1.58bit"]


def test_workload_longer_than_the_context_is_bad_input(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    limit = catalog.models["deepseek-r1"].max_context
    out_tokens = problem.workload.output_tokens
    too_long = with_overrides(problem, {("workload", "input_tokens"): ("--input-tokens", limit - out_tokens + 1)})
    with pytest.raises(ProblemError) as err:
        check_ids(too_long, catalog)
    assert f"{limit + 1:,} tokens" in str(err.value) and f"{limit:,}" in str(err.value)
    just_fits = with_overrides(problem, {("workload", "input_tokens"): ("--input-tokens", limit - out_tokens)})
    check_ids(just_fits, catalog)


def test_cli_exits_2_naming_both_numbers():
    result = CliRunner().invoke(cli.main, ["solve", "deepseek-r1-30-users", "--input-tokens", "300000"])
    assert result.exit_code == 2
    assert "300,000 + 6,000 = 306,000" in result.output and "163,840" in result.output
    assert "--input-tokens" in result.output and "Traceback" not in result.output

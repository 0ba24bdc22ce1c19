"""Prefill outside CUDA graphs: a release that prefills eagerly (engines.yaml `eager_prefill`) takes at least the
host's launch time per prefill step, which the prompts sharing a step share; the prefill server's occupancy keeps
the GPU's time."""

from __future__ import annotations

import pytest

from catalog.errors import CatalogError
from catalog.schema import EagerPrefill
from optimizer import serving, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import EngineSettings
from optimizer.serving import Benchmark, Times

# DeepSeek-R1 (config.json: num_hidden_layers 61, first_k_dense_replace 3): 3 dense and 58 MoE layers; a dense layer
# launches in 0.3 ms, an MoE layer's eager prefill in 1.4 ms (SGLang PR 12160: (82.6 − 3 × 0.3) / 58).
R1_FLOOR_S = 3 * 0.3e-3 + 58 * 1.4e-3


def _dep(catalog, engine: str, version: str | None = None, model: str = "deepseek-r1", acc: str = "h200-sxm",
         precision: str = "fp8", eager: bool = False):
    m, a = catalog.models[model], catalog.accelerators[acc]
    settings = EngineSettings(version=version, eager=eager) if version or eager else None
    return Deployment(model=m, variant=m.variant(precision), accelerator=a, platform=default_platform(catalog, a, 8),
                      engine=catalog.engines[engine], gpus_per_node=8, settings=settings)


@pytest.mark.parametrize("engine, version, floor", [
    ("sglang", "0.5.9", R1_FLOOR_S),       # before its piecewise prefill graphs became the default
    ("sglang", "0.5.12", 0.0),
    ("sglang", None, 0.0),                 # no release asked: the newest
    ("trtllm", None, R1_FLOOR_S),          # decode-only CUDA graphs in every release
    ("trtllm", "1.3.0", R1_FLOOR_S),
    ("vllm", "0.7.4", R1_FLOOR_S),         # the V0 engine graphs decode-only batches
    ("vllm", "0.11.0", 0.0),
])
def test_the_floor_follows_the_engine_release(catalog, engine, version, floor):
    dep = _dep(catalog, engine, version)
    assert speed.prefill_launch_floor(dep, dep.memory()) == pytest.approx(floor, abs=1e-12)


def test_eager_mode_prefills_eagerly_on_any_engine_and_a_dense_model_costs_its_layers(catalog):
    dep = _dep(catalog, "vllm", model="llama-3.3-70b", eager=True)
    layers = catalog.models["llama-3.3-70b"].layers
    assert catalog.models["llama-3.3-70b"].moe is None
    assert speed.prefill_launch_floor(dep, dep.memory()) == pytest.approx(layers * 0.3e-3)


def test_serving_times_carry_the_floor_and_a_tiny_prompt_takes_it(catalog):
    dep = _dep(catalog, "trtllm")
    fit = dep.memory()
    times = speed.serving_times(dep, fit)
    assert times.launch_floor_s == pytest.approx(R1_FLOOR_S)
    assert speed.prefill_time(dep, fit, 4) < R1_FLOOR_S      # the GPU's time of four tokens is below it
    assert times.prefill_step(4) == pytest.approx(R1_FLOOR_S)
    assert times.prefill_step(60_000) == speed.prefill_time(dep, fit, 60_000)   # a long prompt is GPU-bound


def test_the_release_rule_reads_versions():
    always = EagerPrefill(until=None, source="decode-only graphs")
    until = EagerPrefill(until="0.5.10", source="graphs from 0.5.10")
    assert always.applies(None) and always.applies("9.0")
    assert until.applies("v0.5.9") and until.applies("0.4.2")
    assert not until.applies("0.5.10") and not until.applies("0.5.12-cu130") and not until.applies(None)


def test_a_bad_release_in_the_catalog_is_refused():
    from pydantic import ValidationError

    with pytest.raises((ValidationError, CatalogError)):
        EagerPrefill(until="soon", source="a rule for a test")


TAU = 0.01          # decode step, any batch
OVERHEAD = 0.015
FLOOR = 0.08


def _times(floor: float) -> Times:
    """A replica whose prompts cost 10 µs per token on the GPU, with a launch floor per prefill step."""
    return Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: 1e-5 * n, layers=10,
                 budget=8192, overhead_s=OVERHEAD, launch_floor_s=floor)


def test_one_user_waits_the_floor_not_the_gpu_time():
    # C = 1: no queue, no other user's decodes; the prompt's own step lasts max(100 · 10 µs, 80 ms).
    with_floor = serving.closed_loop(_times(FLOOR), 1, 100, 50)
    assert with_floor.ttft_s == pytest.approx(FLOOR + OVERHEAD, rel=1e-6)
    assert serving.closed_loop(_times(0.0), 1, 100, 50).ttft_s == pytest.approx(100 * 1e-5 + OVERHEAD, rel=1e-6)


def test_the_floor_leaves_the_prefill_servers_occupancy_alone():
    # Under load the engine packs queued prompts into one step, which shares the floor: the steady state's
    # throughput and decode speed are those of the GPU's time; TTFT adds the floor's excess once.
    plain, floored = (serving.closed_loop(_times(f), 32, 100, 50) for f in (0.0, FLOOR))
    assert floored.requests_per_s == pytest.approx(plain.requests_per_s, rel=1e-9)
    assert floored.tpot_s == pytest.approx(plain.tpot_s, rel=1e-9)
    assert floored.ttft_s == pytest.approx(plain.ttft_s + (FLOOR - 100 * 1e-5), rel=1e-9)


def test_open_loop_adds_the_floor_excess_once():
    plain, floored = (serving.open_loop(_times(f), 2.0, 100, 50) for f in (0.0, FLOOR))
    assert floored.utilization == pytest.approx(plain.utilization)
    assert floored.ttft_s == pytest.approx(plain.ttft_s + FLOOR - 100 * 1e-5)


def test_prompts_prefilled_in_one_step_share_its_floor():
    # Four users, one prompt each, all 4 × 100 tokens in one step (budget 8192): each first token after one floor
    # (0.08 s ≥ 400 · 10 µs), not four. Equal lengths (range ratio 1); the warm-up ran batches of
    # min(4, 8192 // 100) = 4 prompts, so no cold stall.
    run = serving.benchmark_run(_times(FLOOR), 4, 100, 50, Benchmark(prompts_per_user=1, range_ratio=1.0,
                                                                      cold_stall_s=1.0))
    assert run.ttft_s == pytest.approx(FLOOR + OVERHEAD)
    waves = serving.closed_loop(_times(FLOOR), 4, 100, 50, arrivals="synchronized")
    # One chunk step of 400 tokens lasting the floor; every first token when it ends.
    assert waves.ttft_s == pytest.approx(FLOOR + OVERHEAD)


def test_a_disaggregated_prefill_pool_counts_the_floor_in_ttft():
    decode = _times(0.0)
    one = serving.size_pools(_times(FLOOR), decode, 64, 10, 100, 50)
    none = serving.size_pools(_times(0.0), decode, 64, 10, 100, 50)
    assert one.ttft_s - none.ttft_s == pytest.approx(FLOOR - 100 * 1e-5, rel=1e-6)


def test_estimate_states_the_floor_it_assumed():
    """`hwplan estimate` says when the release prefills outside CUDA graphs, and its JSON carries the floor."""
    import json

    from click.testing import CliRunner

    import cli

    args = ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8", "--precision", "fp8",
            "--concurrency", "1", "--input-tokens", "500"]
    trt = CliRunner().invoke(cli.main, [*args, "--engine", "trtllm"])
    assert trt.exit_code == 0 and "Prefill launch floor" in trt.output and "82 ms per prefill step" in trt.output
    data = json.loads(CliRunner().invoke(cli.main, [*args, "--engine", "trtllm", "--format", "json"]).output)
    assert data["prefill_launch_floor_s"] == pytest.approx(R1_FLOOR_S, abs=1e-4)
    assert data["ttft_s"] >= R1_FLOOR_S
    sgl = CliRunner().invoke(cli.main, [*args, "--engine", "sglang"])
    assert sgl.exit_code == 0 and "Prefill launch floor" not in sgl.output


def test_a_prompt_longer_than_the_chunk_budget_pays_the_floor_in_every_chunk():
    # 2,000 prompt tokens at 128 per step: ⌈2000 / 128⌉ = 16 chunk steps of at least 0.08 s, against 2000 · 10 µs =
    # 0.02 s of GPU time: the first token after 16 · 0.08 s.
    times = Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: 1e-5 * n, layers=10,
                  budget=128, overhead_s=OVERHEAD, launch_floor_s=FLOOR)
    assert times.launch_floor_for(2000) == pytest.approx(16 * FLOOR)
    alone = serving.closed_loop(times, 1, 2000, 50)
    assert alone.ttft_s == pytest.approx(16 * FLOOR + OVERHEAD, rel=1e-6)
    assert serving.closed_loop(times, 1, 2000, 50, arrivals="synchronized").ttft_s == pytest.approx(16 * FLOOR + OVERHEAD)
    assert serving.open_loop(times, 0.01, 2000, 50).ttft_s >= 16 * FLOOR + OVERHEAD


@pytest.mark.parametrize("short, full", [("0.8", "0.8.0"), ("v0.5.10", "0.5.10.0"), ("1", "1.0.0")])
def test_a_release_number_without_its_trailing_zeros_is_the_same_release(short, full):
    from catalog.schema import version_key

    assert version_key(short) == version_key(full)
    rule = EagerPrefill(until=full, source="a rule for a test")
    assert not rule.applies(short) and not rule.applies(full)
    assert version_key("0.7.9") < version_key("0.8") < version_key("0.8.1")


def test_estimate_names_the_release_asked_and_the_memory_rules_used():
    import json

    from click.testing import CliRunner

    import cli

    args = ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8", "--precision", "fp8",
            "--engine", "sglang", "--concurrency", "1", "--format", "json"]
    asked = json.loads(CliRunner().invoke(cli.main, [*args, "--engine-version", "0.5.9"]).output)["engine_settings"]
    newest = json.loads(CliRunner().invoke(cli.main, args).output)["engine_settings"]
    assert asked["engine_version"] == "0.5.9" and newest["engine_version"] == "newest"
    assert asked["memory_rules_version"] == newest["memory_rules_version"] != "0.5.9"

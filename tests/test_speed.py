"""The speed model: roofline limits by hand, monotonicity, and the seed post's verdicts."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import estimate, speed
from optimizer.capacity import replica_capacity
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import Workload


def _dep(catalog, model="llama-3.1-8b", acc="h100-sxm", gpus=1, precision="bf16", engine="vllm", platform=None):
    m = catalog.models[model]
    a = catalog.accelerators[acc]
    plat = catalog.platforms[platform] if platform else default_platform(catalog, a, gpus)
    return Deployment(model=m, variant=m.variant(precision), accelerator=a, platform=plat,
                      engine=catalog.engines[engine], gpus_per_node=gpus)


def _ideal(catalog, dep):
    """The same engine with every inefficiency removed: peak bandwidth and FLOPS, no overheads."""
    eff = {"default": {"bandwidth": 1.0, "compute": 1.0, "prefill": 1.0, "step_overhead_ms": 0.0,
                       "layer_overhead_us": 0.0, "source": "ideal roofline for a test"}}
    return dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {
        k: type(dep.engine.efficiency["default"]).model_validate(v) for k, v in eff.items()}}))


def test_llama_8b_batch_1_on_h100_is_bandwidth_bound_near_200_tok_s(catalog):
    dep = _ideal(catalog, _dep(catalog))
    fit = dep.memory()
    token, bound = speed.decode_token_time(dep, fit, batch=1, context=1)
    # 8.03e9 params × 2 B = 16.06 GB read per token; 3.35 TB/s ÷ 16.06 GB = 208.6 tok/s at batch 1.
    assert bound == "memory"
    assert 1 / token == pytest.approx(3350e9 / 16.06e9, rel=0.01)
    # The calibrated model is slower than the ideal roofline, never faster.
    real = _dep(catalog)
    assert 1 / speed.decode_token_time(real, real.memory(), 1, 1)[0] < 1 / token


def test_prefill_is_compute_bound_by_hand(catalog):
    dep = _ideal(catalog, _dep(catalog))
    fit = dep.memory()
    # 2,000 tokens: 2 × 8.03e9 × 2,000 = 32.12 TFLOP of matmuls; attention 2 × 32 heads × 256 (d_qk + d_v)
    # × 32 layers × 2,000²/2 pairs = 1.048 TFLOP; at 989 TFLOPS dense bf16: 33.17 TFLOP / 989e12 = 33.5 ms.
    expected = (2 * 8.03e9 * 2000 + 2 * 32 * 256 * 32 * 2000**2 / 2) / 989e12
    assert speed.prefill_time(dep, fit, 2000) == pytest.approx(expected, rel=1e-6)


def test_moe_touches_more_experts_as_the_batch_grows(catalog):
    dep = _ideal(catalog, _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8"))
    fit = dep.memory()
    t1 = speed.decode_token_time(dep, fit, 1, 1)[0]
    t64 = speed.decode_token_time(dep, fit, 64, 1)[0]
    # Batch 1 reads 17 GB of shared weights + 8/256 of 654 GB of experts; batch 64 reads 1 − (1 − 8/256)^64 = 87%.
    assert t64 / t1 > 4


DEPLOYMENTS = [("llama-3.1-8b", "h100-sxm", 1, "bf16", "vllm"), ("llama-3.1-70b", "h200-sxm", 8, "bf16", "sglang"),
               ("deepseek-r1", "h200-sxm", 8, "fp8", "trtllm"), ("qwen3-30b-a3b", "mi300x", 8, "bf16", "vllm"),
               ("deepseek-r1", "epyc-9654", 2, "q4_k_m", "llama.cpp")]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(case=st.sampled_from(DEPLOYMENTS), batch=st.integers(1, 400), context=st.integers(1, 30000),
       scale=st.floats(1.05, 4.0))
def test_more_bandwidth_is_never_slower(catalog, case, batch, context, scale):
    dep = _dep(catalog, *case)
    faster = dataclasses.replace(dep, accelerator=dep.accelerator.model_copy(
        update={"memory_bandwidth_gbs": dep.accelerator.memory_bandwidth_gbs * scale}))
    assert speed.decode_token_time(faster, faster.memory(), batch, context)[0] <= \
        speed.decode_token_time(dep, dep.memory(), batch, context)[0]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(case=st.sampled_from(DEPLOYMENTS), batch=st.integers(1, 300), inp=st.integers(1, 8000),
       out=st.integers(1, 8000))
def test_larger_batch_is_never_faster_per_user_nor_lower_in_total(catalog, case, batch, inp, out):
    dep = _dep(catalog, *case)
    fit = dep.memory()
    a = speed.serving_speed(dep, fit, batch, inp, out)
    b = speed.serving_speed(dep, fit, batch + 1, inp, out)
    assert b.tokens_per_s_per_user <= a.tokens_per_s_per_user + 1e-9
    # Total throughput does not fall by more than one more user's interference: past the prefill's saturation a
    # user's decode waits on the other users' prefills, (C − 1)/C of them, so one more user slows the decodes that
    # ride along each chunk step a little (at most 0.24% over 400 random cases of these deployments).
    assert b.output_tokens_per_s >= a.output_tokens_per_s * (1 - 0.005)


def test_users_per_replica_meet_the_speed_target(catalog):
    dep = _dep(catalog, "llama-3.1-70b", "h200-sxm", 8, "bf16", "vllm")
    slow = replica_capacity(dep, Workload(concurrent_users=1, input_tokens=1000, output_tokens=500))
    fast = replica_capacity(dep, Workload(concurrent_users=1, input_tokens=1000, output_tokens=500,
                                          min_tokens_per_s=40))
    assert fast.users < slow.users and fast.limit == "speed"
    assert fast.tokens_per_s_per_user >= 40
    # One more user would drop below the target.
    over = speed.serving_speed(dep, dep.memory(), fast.users + 1, 1000, 500)
    assert over.tokens_per_s_per_user < 40


def test_seed_verdict_cpu_serves_one_user_slowly_and_few_concurrently(catalog):
    single = estimate(catalog, model="deepseek-r1", accelerator="epyc-9654", gpus=2, precision="q4_k_m",
                      engine="llama.cpp", input_tokens=1000, output_tokens=1000, concurrency=1)
    eight = estimate(catalog, model="deepseek-r1", accelerator="epyc-9654", gpus=2, precision="q4_k_m",
                     engine="llama.cpp", input_tokens=1000, output_tokens=1000, concurrency=8)
    gpu = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, precision="fp8",
                   input_tokens=1000, output_tokens=1000, concurrency=1)
    assert single.fits and single.decode_tokens_per_s_per_user < 15      # "too slow"
    assert eight.decode_tokens_per_s_per_user < single.decode_tokens_per_s_per_user * 0.7  # "decays with concurrency"
    assert gpu.decode_tokens_per_s_per_user > 4 * single.decode_tokens_per_s_per_user


def test_seed_verdict_h20_holds_r1_but_prefills_far_slower_than_h200(catalog):
    kw = dict(model="deepseek-r1", gpus=16, nodes=2, precision="fp8", input_tokens=8000, output_tokens=1000,
              concurrency=1)
    h20 = estimate(catalog, accelerator="h20-96g", **kw)
    h200 = estimate(catalog, accelerator="h200-sxm", **kw)
    assert h20.fits and h200.fits
    # H20's dense fp8 is 296 TFLOPS vs 1,979 (15%): prompts take several times longer.
    assert h20.ttft_s > 3 * h200.ttft_s


def _with_overheads(dep, layer_us: float, moe_layer_us: float, moe_token_us: float = 0.0):
    eff = {"bandwidth": 1.0, "compute": 1.0, "prefill": 1.0, "step_overhead_ms": 0.0, "layer_overhead_us": layer_us,
           "moe_layer_overhead_us": moe_layer_us, "moe_token_overhead_us": moe_token_us, "source": "a test"}
    cls = type(dep.engine.efficiency["default"])
    return dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {"default": cls.model_validate(eff)}}))


def test_moe_layers_add_their_own_overhead_and_dense_models_do_not(catalog):
    # DeepSeek-R1 on 8 H200, TP8, one stage: 61 layers, 58 of them MoE. Per-layer overhead 20 µs on all 61,
    # the MoE layers' 50 µs on the 58, and 0.5 µs per token per MoE layer at 4 tokens:
    #   61 × 20 + 58 × (50 + 0.5 × 4) = 1220 + 3016 = 4236 µs.
    r1 = _with_overheads(_dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", "sglang"), 20, 50, 0.5)
    parts = speed.stage_breakdown(r1, r1.memory(), 4, 1000)
    assert parts["overhead"] == pytest.approx((61 * 20 + 58 * (50 + 0.5 * 4)) * 1e-6, rel=1e-12)
    # A dense model pays only the per-layer part: Llama-3.1-8B's 32 layers × 20 µs.
    llama = _with_overheads(_dep(catalog), 20, 50, 0.5)
    assert speed.stage_breakdown(llama, llama.memory(), 4, 1000)["overhead"] == pytest.approx(32 * 20e-6, rel=1e-12)

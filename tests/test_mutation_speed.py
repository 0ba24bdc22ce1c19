"""optimizer/speed.py's formulas worked by hand from the catalog's figures (written for mutation
testing, benchmarks/mutation.py): NCCL's latency model, all-reduce and all-to-all times, and decode and
prefill steps of tensor-parallel, pipelined, MoE and expert-parallel replicas on an ideal engine (every
efficiency 1, no overheads), so each expected number is the module docstring's formula written out."""

from __future__ import annotations

import dataclasses
import pytest

from optimizer import serving, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.layouts import Layout
from optimizer.problem import EngineSettings

# NCCL's tuning model, LL protocol, microseconds (https://github.com/NVIDIA/nccl/blob/master/src/graph/tuning.cc):
# base latency ring 6.6 / tree 6.8, NVLink step 0.6, network step ring 2.7 / tree 5.0, network overhead 1.0;
# scaled by 61.58 / 25.21, measured over modelled (https://github.com/NVIDIA/nccl/issues/1453), and by 2.20, a serving
# engine's decode step over nccl-tests (solved from the fit row SGLX-001, speed.py SERVING_OVER_NCCL_TESTS).
SCALE = 61.58 / 25.21 * 2.20
NVLINK_LATENCY, PCIE_LATENCY, HOP_LATENCY = 10e-6, 30e-6, 30e-6   # speed.py's stated assumptions


def _ideal(dep):
    eff = {"bandwidth": 1.0, "compute": 1.0, "prefill": 1.0, "step_overhead_ms": 0.0, "layer_overhead_us": 0.0,
           "moe_token_overhead_us": 0.0, "source": "ideal roofline for a test"}
    cls = type(dep.engine.efficiency["default"])
    return dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {"default": cls.model_validate(eff)}}))


def _dep(catalog, model, acc, gpus, precision="bf16", engine="vllm", nodes=1, layout=None, ideal=True):
    m, a = catalog.models[model], catalog.accelerators[acc]
    dep = Deployment(model=m, variant=m.variant(precision), accelerator=a, platform=default_platform(catalog, a, gpus),
                     engine=catalog.engines[engine], gpus_per_node=gpus, nodes=nodes, layout=layout)
    return _ideal(dep) if ideal else dep


def test_nccl_latency_one_server_is_the_link_figure():
    assert speed.nccl_allreduce_latency_s(8, 1) == NVLINK_LATENCY
    assert speed.nccl_allreduce_latency_s(8, 1, "pcie") == PCIE_LATENCY


@pytest.mark.parametrize("ranks, nodes, link, ring, tree", [
    # 16 ranks on 2 servers: ring 6.6 + (30 − 2) × max(0.6, 1.0) + 2 × 2.7 = 40.0; tree 6.8 + 2 × (7 × 0.6 + 1 × 5.0) = 25.2
    (16, 2, "native", 6.6 + 28 * 1.0 + 2 * 2.7, 6.8 + 2 * (7 * 0.6 + 1 * 5.0)),
    # 2 ranks on 2 servers: ring 6.6 + 0 + 2 × 2.7 = 12.0 beats tree 6.8 + 2 × (0 + 5.0) = 16.8
    (2, 2, "pcie", 6.6 + 0 + 2 * 2.7, 6.8 + 2 * 5.0),
    # 12 ranks on 8 servers: 12 // 8 = 1 rank per server; ring 6.6 + (22 − 14) × 1.0 + 14 × 2.7 = 52.4,
    # tree 6.8 + 2 × (0 × 0.6 + log2(8) × 5.0) = 36.8
    (12, 8, "native", 6.6 + 8 * 1.0 + 14 * 2.7, 6.8 + 2 * (0 + 3 * 5.0)),
    # 6 ranks on 3 servers: tree takes ⌈log2 3⌉ = 2 network steps: 6.8 + 2 × (1 × 0.6 + 2 × 5.0) = 28.0;
    # ring 6.6 + (10 − 4) × 1.0 + 4 × 2.7 = 23.4
    (6, 3, "native", 6.6 + 6 * 1.0 + 4 * 2.7, 6.8 + 2 * (1 * 0.6 + 2 * 5.0)),
])
def test_nccl_latency_across_servers_by_hand(ranks, nodes, link, ring, tree):
    base = NVLINK_LATENCY if link == "native" else PCIE_LATENCY
    assert speed.nccl_allreduce_latency_s(ranks, nodes, link) == pytest.approx(base + min(ring, tree) * SCALE * 1e-6,
                                                                               rel=1e-12)


def test_allreduce_in_one_server_and_across_two(catalog):
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8)
    link = catalog.accelerators["h100-sxm"].interconnect_gbs * 1e9 / 2       # one direction of NVLink
    volume = 10 * 8192 * 2                                                     # 10 tokens × hidden × bf16
    assert speed.allreduce_time(dep, 1, 10) == 0.0
    assert speed.allreduce_time(dep, 8, 10) == pytest.approx(NVLINK_LATENCY + volume * 2 * 7 / 8 / link, rel=1e-12)
    assert speed.allreduce_time(dep, 2, 10) == pytest.approx(NVLINK_LATENCY + volume * 2 * 1 / 2 / link, rel=1e-12)
    two = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, nodes=2)
    nic = two.platform.network_gbs * 1e9 / 8                                   # one NIC's share per accelerator
    latency = speed.nccl_allreduce_latency_s(16, 2)
    expected = latency + volume * 2 * 7 / 8 / link + volume / 8 * 2 * 1 / 2 / nic
    assert speed.allreduce_time(two, 16, 10) == pytest.approx(expected, rel=1e-12)
    # 4 consecutive ranks sit in the first server: no network share.
    assert speed.allreduce_time(two, 4, 10) == pytest.approx(NVLINK_LATENCY + volume * 2 * 3 / 4 / link, rel=1e-12)
    # 24 ranks over 8-GPU servers span three of them: 8 per server.
    three = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, nodes=3)
    expected = speed.nccl_allreduce_latency_s(24, 3) + volume * 2 * 7 / 8 / link + volume / 8 * 2 * 2 / 3 / nic
    assert speed.allreduce_time(three, 24, 10) == pytest.approx(expected, rel=1e-12)


def test_alltoall_by_hand(catalog):
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8")
    link = catalog.accelerators["h200-sxm"].interconnect_gbs * 1e9 / 2
    # 4 tokens per rank × top-8 experts × hidden 7,168 × 1 B (fp8 dispatch) × imbalance 1.2
    sent = 4 * 8 * 7168 * 1 * 1.2
    assert speed.alltoall_time(dep, 1, 4, 1) == 0.0
    assert speed.alltoall_time(dep, 8, 4, 1) == pytest.approx(NVLINK_LATENCY + sent * 7 / 8 / (link * 0.95), rel=1e-12)
    assert speed.alltoall_time(dep, 2, 4, 2) == pytest.approx(NVLINK_LATENCY + 2 * sent / 2 / (link * 0.95), rel=1e-12)
    dense = _dep(catalog, "llama-3.1-70b", "h200-sxm", 8)
    assert speed.alltoall_time(dense, 8, 4, 1) == 0.0        # no experts, nothing to dispatch
    two = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", nodes=2)
    nic = two.platform.network_gbs * 1e9 / 8
    # 16 ranks on 2 servers: half the bytes leave the server over RDMA (0.86 of the NIC), half stay on NVLink.
    expected = 20e-6 + max(sent / 2 / (nic * 0.86), sent / 2 / (link * 0.95))
    assert speed.alltoall_time(two, 16, 4, 1) == pytest.approx(expected, rel=1e-12)


def test_tensor_parallel_decode_by_hand(catalog):
    """Llama-3.1-70B bf16, TP 8 on H100 SXM: weights 70.6e9 × 2 B over 8 ranks, KV 1 of 8 heads per rank,
    two all-reduces per layer over NVLink."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8)
    fit = dep.memory()
    assert (fit.layout.tp, fit.layout.pp, fit.layout.dp) == (8, 1, 1)
    bw, f = 3350e9, 989e12
    link = 900e9 / 2
    batch, ctx = 4, 1000
    gemm = max(70.6e9 * 2 / 8 / bw, 2 * 70.6e9 * batch / (8 * f))
    kv_token = 80 * 2 * 8 * 128 * 2                        # layers × (K, V) × kv heads × head_dim × 2 B
    attn = max(batch * kv_token * ctx / 8 / bw, 2 * 64 * 256 * ctx * 80 * batch / 8 / f)
    comm = 2 * 80 * (NVLINK_LATENCY + batch * 8192 * 2 * 2 * 7 / 8 / link)
    token, bound = speed.decode_token_time(dep, fit, batch, ctx)
    assert token == pytest.approx(gemm + attn + comm, rel=1e-9)
    assert bound == "memory"


def test_pipelined_decode_across_two_servers_by_hand(catalog):
    """TP 8 × PP 2 over two servers: each stage runs ⌈B / 2⌉ sequences over 40 layers, weights split 16 ways,
    one network hop between the stages."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, nodes=2)
    fit = dep.memory()
    assert (fit.layout.tp, fit.layout.pp) == (8, 2)
    bw, f, link = 3350e9, 989e12, 900e9 / 2
    batch, ctx = 6, 2000
    b = 3                                                  # ⌈6 / 2⌉ per micro-batch
    gemm = max(70.6e9 * 2 / 16 / bw, 2 * 70.6e9 * b / (16 * f))
    kv_token = 80 * 2 * 8 * 128 * 2
    attn = max(b * kv_token * ctx / 16 / bw, 2 * 64 * 256 * ctx * 80 * b / (2 * 8) / f)
    comm = 2 * 40 * (NVLINK_LATENCY + b * 8192 * 2 * 2 * 7 / 8 / link)
    hop = HOP_LATENCY + b * 8192 * 2 / (dep.platform.network_gbs * 1e9)
    token, _ = speed.decode_token_time(dep, fit, batch, ctx)
    assert token == pytest.approx(2 * (gemm + attn + comm) + hop, rel=1e-9)


def test_moe_decode_reads_only_the_experts_the_batch_touches(catalog):
    """Qwen3-30B-A3B bf16 on one H100: 30.5e9 params × 2 B, of which 28.99e9 in 128 routed experts; a batch
    of b tokens routed to 8 experts each touches 1 − (1 − 8/128)^b of them."""
    dep = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 1)
    fit = dep.memory()
    bw, f = 3350e9, 989e12
    ctx = 500
    for batch in (1, 3):
        touched = 1 - (1 - 8 / 128) ** batch
        read = 30.5e9 * 2 - 28.99e9 * 2 * (1 - touched)
        gemm = max(read / bw, 2 * 3.3e9 * batch / f)
        kv_token = 48 * 2 * 4 * 128 * 2
        attn = max(batch * kv_token * ctx / bw, 2 * 32 * 256 * ctx * 48 * batch / f)
        assert speed.decode_token_time(dep, fit, batch, ctx)[0] == pytest.approx(gemm + attn, rel=1e-9)


def test_expert_parallel_decode_by_hand(catalog):
    """DeepSeek-R1 fp8 on 8 × H200 as attention DP 8 × EP 8 (SGLang): attention weights whole on every rank,
    experts split 8 ways, MLA latent attention per rank's own sequences, EP dispatch (fp8) and combine (bf16)
    on 58 MoE layers, no attention all-reduce (attention TP 1); compute at the fp8 rate, expert work × 1.2."""
    layout = Layout(tp=1, dp=8, ep=8)
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=layout)
    fit = dep.memory()
    bw, f8, f16, link = 4800e9, 1979e12, 989e12, 900e9 / 2
    batch, ctx = 64, 1000
    w = fit.weights_bytes
    bpp = w / 671e9
    touched = 1 - (1 - 8 / 256) ** batch
    read = fit.weights_per_gpu - 653.91e9 * bpp / 8 * (1 - touched)
    flops = 2 * 37e9 * batch + 2 * (653.91e9 * 8 / 256) * batch * (1.2 - 1)
    gemm = max(read / bw, flops / (8 * f8))
    seqs = 64 // 8
    latent = 61 * (512 + 64) * 2                            # MLA: one latent + RoPE key per layer, bf16 KV
    attn = max(seqs * latent * ctx / bw, 2 * 128 * (2 * 512 + 64) * ctx * 61 * seqs / f16)
    sent = 64 / 8 * 8 * 7168 * 1.2
    a2a = (NVLINK_LATENCY + sent * 1 * 7 / 8 / (link * 0.95)) + (NVLINK_LATENCY + sent * 2 * 7 / 8 / (link * 0.95))
    comm = 58 * a2a
    assert speed.decode_token_time(dep, fit, batch, ctx)[0] == pytest.approx(gemm + attn + comm, rel=1e-9)


def test_moe_tensor_parallel_under_attention_dp_all_reduces_every_token(catalog):
    """Attention DP 8 with EP 1: each MoE layer gathers and reduce-scatters all 8 groups' tokens over the 8
    ranks, which costs one all-reduce of the whole batch; the step differs from EP 8 by exactly that."""
    ep1 = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=1))
    ep8 = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=8))
    link = 900e9 / 2
    batch = 64
    allreduce = NVLINK_LATENCY + batch * 7168 * 2 * 2 * 7 / 8 / link
    sent = batch / 8 * 8 * 7168 * 1.2
    a2a = 2 * NVLINK_LATENCY + sent * 3 * 7 / 8 / (link * 0.95)
    fit1, fit8 = ep1.memory(), ep8.memory()
    assert fit1.weights_per_gpu == pytest.approx(fit8.weights_per_gpu)
    # Same weights per rank and no imbalance under EP 1: compute is 2 × 37e9 × 64 FLOPs, below the weights' read.
    t1 = speed.decode_token_time(ep1, fit1, batch, 1000)[0]
    t8 = speed.decode_token_time(ep8, fit8, batch, 1000)[0]
    assert t1 - t8 == pytest.approx(58 * (allreduce - a2a), rel=1e-6)


def test_tensor_parallel_prefill_by_hand(catalog):
    """Prefill of 4,000 tokens on Llama-3.1-70B TP 8: matmuls and attention over the 8 GPUs' dense bf16 peak,
    plus two all-reduces of 4,000 tokens per layer."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8)
    fit = dep.memory()
    tokens = 4000
    linear = 2 * 70.6e9 * tokens / (8 * 989e12)
    attention = 2 * 64 * 256 * 80 * tokens**2 / 2 / (8 * 989e12)
    comm = 2 * 80 * (NVLINK_LATENCY + tokens * 8192 * 2 * 2 * 7 / 8 / (900e9 / 2))
    assert speed.prefill_time(dep, fit, tokens) == pytest.approx(linear + attention + comm, rel=1e-9)
    # One token: reading the weights once (141.2 GB over 8 × 3.35 TB/s) bounds it.
    one = 70.6e9 * 2 / (8 * 3350e9) + 2 * 80 * (NVLINK_LATENCY + 8192 * 2 * 2 * 7 / 8 / (900e9 / 2))
    assert speed.prefill_time(dep, fit, 1) == pytest.approx(one, rel=1e-9)


def test_expert_parallel_prefill_dispatches_every_prompt_token(catalog):
    """Under attention DP one prompt's attention runs on one group (1/8 of the GPUs); MoE layers dispatch
    and combine its tokens over EP 8 (one all-reduce per layer of attention TP 1 costs nothing)."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=8))
    fit = dep.memory()
    tokens = 2000
    linear = 2 * 37e9 * tokens / (8 * 1979e12)
    dims = 128 + 64 + 128                                 # MLA prefill: qk_nope 128 (default) + rope 64 + v 128
    attention = 2 * 128 * dims * 61 * tokens**2 / 2 / (8 * 989e12 / 8)
    sent = tokens / 8 * 8 * 7168 * 1.2
    link = 900e9 / 2
    a2a = 2 * NVLINK_LATENCY + sent * 3 * 7 / 8 / (link * 0.95)
    expected = max(linear + attention, fit.weights_bytes / (8 * 4800e9)) + 58 * a2a
    assert speed.prefill_time(dep, fit, tokens) == pytest.approx(expected, rel=1e-9)


def test_batch_cap_is_per_attention_group(catalog):
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=8))
    assert dep.memory().settings.max_batch is None and speed.batch_cap(dep, dep.memory()) is None  # memory decides
    capped = dataclasses.replace(dep, settings=EngineSettings(max_batch=48))
    assert speed.batch_cap(capped, capped.memory()) == 48 * 8          # --max-running-requests per DP group × 8
    plain = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8)
    fit = plain.memory()
    assert fit.settings.max_batch is not None and speed.batch_cap(plain, fit) == fit.settings.max_batch


def test_weight_only_int4_runs_at_half_the_bf16_rate(catalog):
    """AWQ int4 (4.156 bits) computes in bf16 with dequantization in the main loop: prefill of a long prompt
    is compute-bound at 0.5 × the bf16 peak (fitted factor, speed.WEIGHT_ONLY_COMPUTE)."""
    bf16 = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1)
    awq = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, "int4")
    tokens = 8000
    linear = 2 * 8.03e9 * tokens / 989e12
    attention = 2 * 32 * 256 * 32 * tokens**2 / 2 / 989e12
    assert speed.prefill_time(bf16, bf16.memory(), tokens) == pytest.approx(linear + attention, rel=1e-9)
    assert speed.prefill_time(awq, awq.memory(), tokens) == pytest.approx(linear / 0.5 + attention, rel=1e-9)


def test_serving_speed_passes_the_closed_loop_through(catalog):
    """serving_speed is serving.closed_loop on this replica's step and prefill times, field by field; a batch
    of 0 is one user; the chunk budget is the engine's max batched tokens."""
    dep = dataclasses.replace(_dep(catalog, "llama-3.1-8b", "h100-sxm", 1, ideal=False),
                              settings=EngineSettings(max_batched_tokens=3000))
    fit = dep.memory()
    times = speed.serving_times(dep, fit)
    assert times.budget == 3000 and times.layers == 32
    assert times.token_time(8, 100) == speed.decode_token_time(dep, fit, 8, 100)
    assert times.prefill_time(100) == speed.prefill_time(dep, fit, 100) == times.prefill_time(100)
    for batch, arrivals in ((0, "random"), (8, "synchronized")):
        s = speed.serving_speed(dep, fit, batch, 100, 50, arrivals=arrivals)
        loop = serving.closed_loop(times, max(1, batch), 100, 50, arrivals=arrivals)
        assert s.batch == max(1, batch)
        assert (s.token_time_s, s.prefill_s, s.tokens_per_s_per_user, s.output_tokens_per_s, s.ttft_s, s.bound,
                s.ttft_p90_s) == (loop.step_s, loop.prefill_s, loop.tokens_per_s_per_user, loop.output_tokens_per_s,
                                  loop.ttft_s, loop.bound, loop.ttft_p90_s)


def test_sliding_window_layers_attend_to_their_window_in_prefill(catalog):
    """gpt-oss-20b bf16 on one H100 (ideal engine), 4,000 prompt tokens: 12 full layers attend over I²/2 pairs,
    12 sliding-window layers over I × 128; 64 heads × (64 + 64) dims; matmuls of 3.6e9 active parameters."""
    dep = _dep(catalog, "gpt-oss-20b", "h100-sxm", 1, "bf16")
    tokens = 4000
    linear = 2 * 3.6e9 * tokens / 989e12
    attention = 2 * 64 * 128 * (12 * tokens**2 / 2 + 12 * tokens * 128) / 989e12
    assert speed.prefill_time(dep, dep.memory(), tokens) == pytest.approx(linear + attention, rel=1e-9)


def test_prefill_uses_the_hardware_familys_own_efficiency(catalog):
    """Llama-3.1-8B bf16 on one MI300X under vLLM, 8,000 tokens: compute-bound at the CDNA3 prefill factor of
    engines.yaml (not the default one), plus the step overhead."""
    engine = catalog.engines["vllm"]
    eff = engine.efficiency["cdna3"]
    assert eff.prefill != engine.efficiency["default"].prefill
    dep = _dep(catalog, "llama-3.1-8b", "mi300x", 1, ideal=False)
    tokens = 8000
    rate = 1307.4e12 * eff.prefill
    expected = 2 * 8.03e9 * tokens / rate + 2 * 32 * 256 * 32 * tokens**2 / 2 / rate + eff.step_overhead_ms * 1e-3
    assert speed.prefill_time(dep, dep.memory(), tokens) == pytest.approx(expected, rel=1e-9)


def test_two_attention_groups_dispatch_their_prompt_tokens_too(catalog):
    """Attention DP 2 × TP 4 with EP 8: prefill all-reduces over the prompt's group of 4 ranks once per layer
    (attention DP), and dispatches and combines the prompt over the 8 EP ranks on the 58 MoE layers."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=4, dp=2, ep=8))
    fit = dep.memory()
    tokens = 2000
    link = 900e9 / 2
    linear = 2 * 37e9 * tokens / (8 * 1979e12)
    attention = 2 * 128 * (128 + 64 + 128) * 61 * tokens**2 / 2 / (8 * 989e12 / 2)
    allreduce = NVLINK_LATENCY + tokens * 7168 * 2 * 2 * 3 / 4 / link
    sent = tokens / 8 * 8 * 7168 * 1.2
    a2a = 2 * NVLINK_LATENCY + sent * 3 * 7 / 8 / (link * 0.95)
    expected = max(linear + attention, fit.weights_bytes / (8 * 4800e9)) + 61 * allreduce + 58 * a2a
    assert speed.prefill_time(dep, fit, tokens) == pytest.approx(expected, rel=1e-9)


def test_attention_tp_inside_dp_groups_adds_its_all_reduce_to_the_expert_traffic(catalog):
    """DeepSeek-R1 fp8 as 2 attention groups of TP 4 with EP 8 on 8 × H200: each group's 32 sequences attend
    on 4 ranks (one all-reduce of 32 tokens over 4 ranks per layer), then every MoE layer dispatches and
    combines over 8 ranks; with EP 1 the MoE layers all-reduce the whole batch over the 8 ranks instead."""
    link = 900e9 / 2
    batch, ctx = 64, 1000
    attention_ar = 61 * (NVLINK_LATENCY + 32 * 7168 * 2 * 2 * 3 / 4 / link)
    sent = batch / 8 * 8 * 7168 * 1.2
    a2a = 2 * NVLINK_LATENCY + sent * 3 * 7 / 8 / (link * 0.95)
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=4, dp=2, ep=8))
    fit = dep.memory()
    touched = 1 - (1 - 8 / 256) ** batch
    read = fit.weights_per_gpu - 653.91e9 * (fit.weights_bytes / 671e9) / 8 * (1 - touched)
    flops = 2 * 37e9 * batch + 2 * (653.91e9 * 8 / 256) * batch * (1.2 - 1)
    gemm = max(read / 4800e9, flops / (8 * 1979e12))
    latent = 61 * (512 + 64) * 2                            # whole on every rank of the group
    attn = max(32 * latent * ctx / 4800e9, 2 * 128 * (2 * 512 + 64) * ctx * 61 * 32 / 4 / 989e12)
    expected = gemm + attn + attention_ar + 58 * a2a
    assert speed.decode_token_time(dep, fit, batch, ctx)[0] == pytest.approx(expected, rel=1e-9)
    ep1 = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=4, dp=2, ep=1))
    moe_ar = NVLINK_LATENCY + batch * 7168 * 2 * 2 * 7 / 8 / link
    gemm1 = max(read / 4800e9, 2 * 37e9 * batch / (8 * 1979e12))
    expected1 = gemm1 + attn + attention_ar + 58 * moe_ar
    assert speed.decode_token_time(ep1, ep1.memory(), batch, ctx)[0] == pytest.approx(expected1, rel=1e-9)


def test_a_large_expert_parallel_batch_is_compute_bound_with_the_imbalance(catalog):
    """16,384 sequences on DeepSeek-R1 EP 8: the busiest rank computes 2 × 37e9 FLOPs per token plus 0.2 × the
    routed experts' 2 × 653.91e9 × 8/256 (imbalance 1.2), at the fp8 rate, more than reading its weights takes."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=8))
    fit = dep.memory()
    batch, ctx = 16384, 100
    flops = 2 * 37e9 * batch + 2 * (653.91e9 * 8 / 256) * batch * 0.2
    compute = flops / (8 * 1979e12)
    assert compute > fit.weights_per_gpu / 4800e9
    seqs = batch // 8
    attn = max(seqs * 61 * 576 * 2 * ctx / 4800e9, 2 * 128 * 1088 * ctx * 61 * seqs / 989e12)
    sent = batch / 8 * 8 * 7168 * 1.2
    comm = 58 * (2 * NVLINK_LATENCY + sent * 3 * 7 / 8 / (900e9 / 2 * 0.95))
    token, bound = speed.decode_token_time(dep, fit, batch, ctx)
    assert token == pytest.approx(compute + attn + comm, rel=1e-9)


def test_overheads_per_layer_per_routed_token_and_per_step(catalog):
    """An engine with 1 ms per layer, 0.5 µs per token per MoE layer and 2 ms per step: Qwen3-30B-A3B (48 MoE
    layers) at batch 4 spends 48 × 1 ms + 4 × 48 × 0.5 µs in overhead per stage — more than its memory time —
    plus 2 ms per step, and says so."""
    eff = {"bandwidth": 1.0, "compute": 1.0, "prefill": 1.0, "step_overhead_ms": 2.0, "layer_overhead_us": 1000.0,
           "moe_token_overhead_us": 0.5, "source": "a test"}
    dep = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 1)
    cls = type(dep.engine.efficiency["default"])
    dep = dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {"default": cls.model_validate(eff)}}))
    fit = dep.memory()
    batch, ctx = 4, 500
    touched = 1 - (1 - 8 / 128) ** batch
    gemm = max((30.5e9 * 2 - 28.99e9 * 2 * (1 - touched)) / 3350e9, 2 * 3.3e9 * batch / 989e12)
    attn = max(batch * 48 * 2 * 4 * 128 * 2 * ctx / 3350e9, 2 * 32 * 256 * ctx * 48 * batch / 989e12)
    overhead = 48 * 1000e-6 + 4 * 48 * 0.5e-6
    token, bound = speed.decode_token_time(dep, fit, batch, ctx)
    assert token == pytest.approx(gemm + attn + overhead + 2e-3, rel=1e-9)
    assert bound == "overhead" and overhead > gemm + attn


def test_pipeline_stages_inside_one_server_hop_over_nvlink(catalog):
    """Llama-3.1-70B as TP 4 × PP 2 in one 8-GPU server: ⌈B/2⌉ sequences per micro-batch, 40 layers and 2 of 8
    KV heads per rank, one in-server hop of the micro-batch's activations between the stages."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, layout=Layout(tp=4, pp=2))
    fit = dep.memory()
    link = 900e9 / 2
    batch, ctx = 5, 1500
    b = 3
    gemm = max(70.6e9 * 2 / 8 / 3350e9, 2 * 70.6e9 * b / (8 * 989e12))
    kv_token = 80 * 2 * 8 * 128 * 2
    attn = max(b * kv_token * ctx / 8 / 3350e9, 2 * 64 * 256 * ctx * 80 * b / (2 * 4) / 989e12)
    comm = 2 * 40 * (NVLINK_LATENCY + b * 8192 * 2 * 2 * 3 / 4 / link)
    hop = NVLINK_LATENCY + b * 8192 * 2 / link
    assert speed.decode_token_time(dep, fit, batch, ctx)[0] == pytest.approx(2 * (gemm + attn + comm) + hop, rel=1e-9)


def test_weight_only_quantization_in_fp16_is_discounted_too(catalog):
    """A 4-bit build that computes in fp16 (dequantizing to fp16) runs its matmuls at half the fp16 peak, as
    bf16 ones do."""
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, "int4")
    dep = dataclasses.replace(dep, variant=dep.variant.model_copy(update={"compute_dtype": "fp16"}))
    tokens = 8000
    rate16 = catalog.accelerators["h100-sxm"].dense_tflops("fp16") * 1e12
    expected = 2 * 8.03e9 * tokens / (0.5 * rate16) + 2 * 32 * 256 * 32 * tokens**2 / 2 / 989e12
    assert speed.prefill_time(dep, dep.memory(), tokens) == pytest.approx(expected, rel=1e-9)


def test_prefill_of_attention_groups_without_expert_parallelism(catalog):
    """Attention DP 2 × TP 4, EP 1: the prompt all-reduces over its group's 4 ranks once per layer, and each MoE
    layer all-reduces its tokens over all 8 ranks."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=4, dp=2, ep=1))
    fit = dep.memory()
    tokens, link = 2000, 900e9 / 2
    linear = 2 * 37e9 * tokens / (8 * 1979e12)
    attention = 2 * 128 * (128 + 64 + 128) * 61 * tokens**2 / 2 / (8 * 989e12 / 2)
    group = NVLINK_LATENCY + tokens * 7168 * 2 * 2 * 3 / 4 / link
    moe = NVLINK_LATENCY + tokens * 7168 * 2 * 2 * 7 / 8 / link
    expected = max(linear + attention, fit.weights_bytes / (8 * 4800e9)) + 61 * group + 58 * moe
    assert speed.prefill_time(dep, fit, tokens) == pytest.approx(expected, rel=1e-9)


def test_pcie_all_reduce_latency_and_link(catalog):
    """TP 4 on H100 PCIe cards: NCCL's PCIe latency (30 µs) and half of the platform's PCIe bandwidth each way."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-pcie", 4)
    assert dep.platform.link == "pcie"
    link = dep.platform.pcie_gbs * 1e9 / 2
    volume = 10 * 8192 * 2
    assert speed.allreduce_time(dep, 4, 10) == pytest.approx(PCIE_LATENCY + volume * 2 * 3 / 4 / link, rel=1e-12)


def test_all_to_all_across_servers_bound_by_nvlink_when_the_network_is_faster(catalog):
    """With a network share far above NVLink (8,000 GB/s per server, 1,000 per GPU, against 450), the half of
    the bytes that stays inside the server decides: sent / 2 over 0.95 × NVLink."""
    two = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", nodes=2)
    two = dataclasses.replace(two, platform=two.platform.model_copy(update={"network_gbs": 8000.0}))
    sent = 4 * 8 * 7168 * 1 * 1.2
    local = sent / 2 / (900e9 / 2 * 0.95)
    assert local > sent / 2 / (1000e9 * 0.86)
    assert speed.alltoall_time(two, 16, 4, 1) == pytest.approx(20e-6 + local, rel=1e-12)


def test_what_bounds_a_step(catalog):
    """Compute: 16,384 sequences on DeepSeek-R1 EP 8 (its matmuls outweigh reading the weights and the KV).
    Communication: Llama-3.1-70B as TP 16 over two servers at batch 1 — 160 cross-server all-reduces of about
    70 µs each against 2.6 ms of weight reads per rank."""
    ep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=8))
    assert speed.decode_token_time(ep, ep.memory(), 16384, 100)[1] == "compute"
    tp16 = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, nodes=2, layout=Layout(tp=16, nodes_per_replica=2))
    fit = tp16.memory()
    comm = 2 * 80 * speed.allreduce_time(tp16, 16, 1)
    assert comm > 70.6e9 * 2 / 16 / 3350e9
    token, bound = speed.decode_token_time(tp16, fit, 1, 100)
    assert bound == "communication" and token > comm


def test_eager_mode_launches_every_layers_kernels_from_the_host(catalog):
    """--eager: a stage takes at least EAGER_LAYER_LAUNCH_S per layer (Llama-3.1-8B: 32 layers), above its
    4.8 ms of weight reads on an ideal H100; the step is then overhead-bound. With CUDA graphs, no floor."""
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1)
    eager = dataclasses.replace(dep, settings=EngineSettings(eager=True))
    floor = 32 * speed.EAGER_LAYER_LAUNCH_S
    assert floor > 8.03e9 * 2 / 3350e9
    assert speed.decode_token_time(eager, eager.memory(), 1, 1) == (pytest.approx(floor, rel=1e-12), "overhead")
    graphs = speed.decode_token_time(dep, dep.memory(), 1, 1)
    assert graphs[0] < floor and graphs[1] == "memory"


def test_prefill_of_a_single_token_reads_the_weights_at_the_engines_bandwidth(catalog):
    """One prompt token on Llama-3.1-8B under vLLM on an H100: reading 16.06 GB at 0.68 × 3.35 TB/s dominates,
    plus the step overhead."""
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, ideal=False)
    eff = dep.engine.efficiency["default"]
    expected = 8.03e9 * 2 / (3350e9 * eff.bandwidth) + eff.step_overhead_ms * 1e-3
    assert speed.prefill_time(dep, dep.memory(), 1) == pytest.approx(expected, rel=1e-9)


def test_expert_parallel_prefill_over_two_ranks(catalog):
    """Qwen3-30B-A3B as attention DP 2 × EP 2 on two H100s: each of 48 MoE layers dispatches (fp8) and combines
    (bf16) the prompt's 2,000 tokens, 1,000 per rank, top-8, hidden 2,048, half of it leaving the GPU."""
    dep = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 2, layout=Layout(tp=1, dp=2, ep=2))
    fit = dep.memory()
    tokens, link = 2000, 900e9 / 2
    linear = 2 * 3.3e9 * tokens / (2 * 989e12)
    attention = 2 * 32 * 256 * 48 * tokens**2 / 2 / (2 * 989e12 / 2)
    sent = tokens / 2 * 8 * 2048 * 1.2
    a2a = 2 * NVLINK_LATENCY + sent * 3 * 1 / 2 / (link * 0.95)
    expected = max(linear + attention, fit.weights_bytes / (2 * 3350e9)) + 48 * a2a
    assert speed.prefill_time(dep, fit, tokens) == pytest.approx(expected, rel=1e-9)


def test_llama_cpp_has_its_own_ttft_overhead(catalog):
    dep = _dep(catalog, "llama-3.1-8b", "epyc-9654", 2, "q4_k_m", engine="llama.cpp", ideal=False)
    assert speed.serving_times(dep, dep.memory()).overhead_s == serving.TTFT_OVERHEAD_S["llama.cpp"] \
        != serving.DEFAULT_TTFT_OVERHEAD_S


def test_all_to_all_over_four_servers_by_hand(catalog):
    """32 ranks on 4 servers of 8: three quarters of the bytes leave the server over RDMA (0.86 of the NIC's
    share), a quarter stays on NVLink (0.95 of half the GPU's interconnect)."""
    four = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", nodes=4)
    sent = 4 * 8 * 7168 * 1 * 1.2          # 4 tokens × top-8 × hidden 7,168 × 1 B × imbalance 1.2
    nic = four.platform.network_gbs * 1e9 / 8
    link = catalog.accelerators["h200-sxm"].interconnect_gbs * 1e9 / 2
    expected = 20e-6 + max(sent * 3 / 4 / (nic * 0.86), sent / 4 / (link * 0.95))
    assert speed.alltoall_time(four, 32, 4, 1) == pytest.approx(expected, rel=1e-12)


def test_weight_reads_run_at_the_engines_bandwidth_efficiency(catalog):
    """vLLM on Hopper reaches a fraction e of HBM bandwidth (engines.yaml): one TP8 rank of Llama-3.1-70B bf16
    reads its weights in weights_per_gpu / (3,350 GB/s × e) — slower than the ideal read, never faster."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, ideal=False)
    fit = dep.memory()
    e = catalog.engines["vllm"].efficiency_for("hopper").bandwidth
    assert 0 < e < 1
    memory_s, _ = speed._gemm_parts(dep, fit, 1)
    assert memory_s == pytest.approx(fit.weights_per_gpu / (3350e9 * e), rel=1e-12)


def test_two_prompts_under_attention_dp_add_their_flops_and_their_tokens_to_the_moe_all_reduce(catalog):
    """Attention DP 8 × TP 1 with EP 1, DeepSeek-R1 fp8 on 8 × H200: two prompts prefilled at once, one per
    attention group, do twice the linear FLOPs, attend side by side (one prompt's attention at 1/8 of the GPUs'
    rate each) and all-reduce both prompts' tokens over the 8 ranks on each of the 58 MoE layers."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=1, dp=8, ep=1))
    fit = dep.memory()
    tokens = 2000
    link = 900e9 / 2
    attention = 2 * 128 * (128 + 64 + 128) * 61 * tokens**2 / 2 / (8 * 989e12 / 8)
    for prompts in (1, 2):
        linear = 2 * 37e9 * tokens * prompts / (8 * 1979e12)
        moe_allreduce = NVLINK_LATENCY + tokens * prompts * 7168 * 2 * 2 * 7 / 8 / link
        expected = max(linear + attention, fit.weights_bytes / (8 * 4800e9)) + 58 * moe_allreduce
        assert speed.prefill_time(dep, fit, tokens, prompts=prompts) == pytest.approx(expected, rel=1e-9)


def test_serving_speed_passes_speculative_decoding_through(catalog):
    """A speculative decoding setting reaches the closed loop: EAGLE with 2 drafts accepted at 0.8 gives the
    closed loop's per-user speed with that setting, which is not the plain one."""
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, ideal=False)
    fit = dep.memory()
    spec = serving.Speculative("eagle", 2, 0.8)
    s = speed.serving_speed(dep, fit, 8, 100, 200, speculative=spec)
    loop = serving.closed_loop(speed.serving_times(dep, fit), 8, 100, 200, spec=spec)
    plain = serving.closed_loop(speed.serving_times(dep, fit), 8, 100, 200)
    assert s.tokens_per_s_per_user == loop.tokens_per_s_per_user
    assert s.tokens_per_s_per_user != pytest.approx(plain.tokens_per_s_per_user, rel=1e-3)


def test_a_stage_counts_its_own_share_of_the_moe_layers(catalog):
    """Two pipeline stages of DeepSeek-R1 (61 layers, 58 MoE): a stage's overhead is ⌈61/2⌉ = 31 layers at
    20 µs and ⌈58/2⌉ = 29 MoE layers at 50 µs."""
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", engine="sglang", layout=Layout(tp=4, pp=2))
    eff = {"bandwidth": 1.0, "compute": 1.0, "prefill": 1.0, "step_overhead_ms": 0.0, "layer_overhead_us": 20.0,
           "moe_layer_overhead_us": 50.0, "moe_token_overhead_us": 0.0, "source": "overheads for a test"}
    cls = type(dep.engine.efficiency["default"])
    dep = dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {"default": cls.model_validate(eff)}}))
    parts = speed.stage_breakdown(dep, dep.memory(), 1, 1000)
    assert parts["overhead"] == pytest.approx(31 * 20e-6 + 29 * 50e-6)


def test_no_launch_floor_on_a_cpu_socket(catalog):
    """A release that prefills eagerly on GPUs (SGLang 0.5.9) sets no launch floor on a CPU socket, which has no
    CUDA graphs to miss."""
    m, a = catalog.models["qwen3-30b-a3b"], catalog.accelerators["epyc-9654"]
    assert a.family == "cpu" and m.moe is not None
    dep = Deployment(model=m, variant=m.variant("bf16"), accelerator=a, platform=default_platform(catalog, a, 1),
                     engine=catalog.engines["sglang"], gpus_per_node=1, settings=EngineSettings(version="0.5.9"))
    assert speed.prefill_launch_floor(dep, dep.memory()) == 0.0
    gpu = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 1, engine="sglang", ideal=False)
    gpu = dataclasses.replace(gpu, settings=EngineSettings(version="0.5.9"))
    assert speed.prefill_launch_floor(gpu, gpu.memory()) > 0


def test_a_pipelined_verification_step_by_hand(catalog):
    """The pipelined decode above (Llama-3.1-70B, TP 8 × PP 2 over two servers, B = 6, 2,000 tokens of context)
    verifying q = 3 tokens per sequence: each micro-batch of 3 sequences sends 9 tokens through the weights, the
    all-reduces and the hop between the servers, reads each sequence's KV cache once and attends 3 queries to it."""
    dep = _dep(catalog, "llama-3.1-70b", "h100-sxm", 8, nodes=2)
    fit = dep.memory()
    bw, f, link = 3350e9, 989e12, 900e9 / 2
    b, q, ctx = 3, 3, 2000
    tokens = b * q
    gemm = max(70.6e9 * 2 / 16 / bw, 2 * 70.6e9 * tokens / (16 * f))
    kv_token = 80 * 2 * 8 * 128 * 2
    attn = max(b * kv_token * ctx / 16 / bw, q * 2 * 64 * 256 * ctx * 80 * b / (2 * 8) / f)
    comm = 2 * 40 * (NVLINK_LATENCY + tokens * 8192 * 2 * 2 * 7 / 8 / link)
    hop = HOP_LATENCY + tokens * 8192 * 2 / (dep.platform.network_gbs * 1e9)
    token, _ = speed.decode_token_time(dep, fit, 6, ctx, queries=q)
    assert token == pytest.approx(2 * (gemm + attn + comm) + hop, rel=1e-9)


def test_a_group_of_one_gpu_servers_spans_a_server_per_rank():
    from types import SimpleNamespace

    assert speed._group_nodes(SimpleNamespace(nodes=4, gpus_per_node=1), 4) == 4
    assert speed._group_nodes(SimpleNamespace(nodes=2, gpus_per_node=8), 16) == 2
    assert speed._group_nodes(SimpleNamespace(nodes=1, gpus_per_node=8), 8) == 1


def test_llama_cpp_on_a_gpu_has_no_launch_floors(catalog):
    """llama.cpp (its fixed-memory rule) runs its own graph on GPUs too: neither the eager decode floor nor the
    eager prefill floor applies, even with --eager."""
    dep = _dep(catalog, "llama-3.1-8b", "rtx-4090", 1, "q4_k_m", engine="llama.cpp", ideal=False)
    eager = dataclasses.replace(dep, settings=EngineSettings(eager=True))
    fit = eager.memory()
    assert fit.settings.eager
    assert speed.prefill_launch_floor(eager, fit) == 0.0
    assert speed._eager_stage_floor(eager, fit) == 0.0


def test_gemm_reads_at_the_families_bandwidth_factor(catalog):
    """The weight reads of one decode step on an MI300X run at SGLang's CDNA3 bandwidth factor, not the default's."""
    dep = _dep(catalog, "llama-3.1-8b", "mi300x", 1, engine="sglang", ideal=False)
    fit = dep.memory()
    eff = dep.engine.efficiency_for("cdna3")
    assert eff.bandwidth != dep.engine.efficiency_for("hopper").bandwidth
    memory_s, _ = speed._gemm_parts(dep, fit, 1)
    assert memory_s == pytest.approx(fit.model_weights_rank / (5300e9 * eff.bandwidth), rel=1e-9)


def test_what_bounds_a_step_is_named(catalog):
    """Llama-3.1-8B bf16 on an ideal H100: 16 sequences at 32,768 tokens read 16 × 32,768 × 131,072 B of KV
    (20.5 ms) beside 16 GB of weights (4.8 ms), against about 1 ms of arithmetic: memory-bound. With a step
    overhead of 100 ms the overhead bounds it. One token of context reads one token's KV."""
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1)
    fit = dep.memory()
    assert speed.decode_token_time(dep, fit, 16, 32_768)[1] == "memory"
    kv_token = 32 * 2 * 8 * 128 * 2
    assert speed.stage_breakdown(dep, fit, 1, 1)["attention_memory"] == pytest.approx(kv_token / 3350e9, rel=1e-9)
    eff = dep.engine.efficiency["default"].model_copy(update={"step_overhead_ms": 100.0})
    slow = dataclasses.replace(dep, engine=dep.engine.model_copy(update={"efficiency": {"default": eff}}))
    assert speed.decode_token_time(slow, slow.memory(), 1, 100) == (pytest.approx(
        speed.decode_token_time(dep, fit, 1, 100)[0] + 0.1, rel=1e-9), "overhead")


def test_each_engine_schedules_prefill_steps_its_own_way(catalog):
    """serving_times carries the engine's scheduler into a benchmark replay: SGLang runs prefill batches alone,
    TensorRT-LLM takes whole prompts, vLLM neither (serving.PREFILL_ALONE, serving.WHOLE_PROMPTS)."""
    rules = {}
    for engine in ("sglang", "trtllm", "vllm"):
        dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, engine=engine)
        times = speed.serving_times(dep, dep.memory())
        rules[engine] = (times.prefill_alone, times.whole_prompts)
    assert rules == {"sglang": (True, False), "trtllm": (False, True), "vllm": (False, False)}


def test_expert_load_imbalance_needs_expert_parallelism(catalog, monkeypatch):
    """EP_IMBALANCE (the busiest rank's share of routed tokens) applies where experts are spread over ranks; at EP 1
    every rank holds a slice of every expert and sees every token, so the decode step does not depend on it."""
    # 8,192 sequences at a 200-token context: the experts' work is large enough to show in the step.
    dep = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 4, layout=Layout(tp=4))
    fit = dep.memory()
    plain = speed.decode_token_time(dep, fit, 8192, 200)[0]
    monkeypatch.setattr(speed, "EP_IMBALANCE", 3.0)
    assert speed.decode_token_time(dep, fit, 8192, 200)[0] == pytest.approx(plain, rel=1e-12)
    spread = _dep(catalog, "qwen3-30b-a3b", "h100-sxm", 4, layout=Layout(tp=4, ep=4))
    sfit = spread.memory()
    slow = speed.decode_token_time(spread, sfit, 8192, 200)[0]
    monkeypatch.setattr(speed, "EP_IMBALANCE", 1.0)
    assert speed.decode_token_time(spread, sfit, 8192, 200)[0] < slow


def test_serving_speed_passes_every_ttft_figure_on(catalog):
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1)
    fit = dep.memory()
    s = speed.serving_speed(dep, fit, 16, 2000, 200)
    r = serving.closed_loop(speed.serving_times(dep, fit), 16, 2000, 200)
    assert (s.ttft_s, s.ttft_p90_s, s.ttft_median_s) == pytest.approx((r.ttft_s, r.ttft_p90_s, r.ttft_median_s))
    assert s.ttft_median_s is not None

"""Speed model: decode step, prefill, and the users a replica serves at a target speed.

A calibrated roofline. A replica's layout (optimizer/layouts.py) has p pipeline stages of
R = tp × dp ranks: attention tensor parallel over tp ranks in each of dp attention
data-parallel groups, MoE layers as ep expert-parallel groups × R/ep tensor-parallel ranks.
With B running sequences of mean cached context S:

Decode, one pipeline stage, per rank (micro-batch b = ceil(B / p), b_g = ceil(b / dp) per group):
    weights  = weights on the busiest rank (sizing.weights_per_rank) − W_experts / (p · R) · (1 − f(b))
               f(b) = 1 − (1 − k/E)^b, the expected share of routed experts a batch of b
               tokens touches; attention and dense weights are whole in every attention group
    gemm     = max(weights / BW, 2 · P_active · b · λ / (p · R · F))
               λ = expert load imbalance on the busiest rank (1 without EP)
    attn     = max(b_g · KV bytes per sequence on a rank / BW, attention FLOPs / (R · F))
    comm     = all-reduces of the attention TP group (2 per layer without attention DP,
               1 with it) + per MoE layer either EP dispatch and combine (ep > 1 with
               attention DP) or the all-gather and reduce-scatter of MoE tensor parallel
               (attention DP, ep = 1)
    stage    = gemm + attn + comm + layer_overhead · layers/p + moe_layer_overhead · moe_layers/p
               (moe_layer_overhead: the extra kernels of an MoE layer — router, top-k, permutation,
               grouped GEMMs — which take ~50 µs however few tokens they carry; engines.yaml per engine)
               (eager mode, no CUDA graphs: at least layers/p × the host's launch time per layer)
token time   = (p · (stage − comm) + step_overhead) · slowdown + p · comm + pipeline hops
               slowdown: the engine's `early_releases` rule (engines.yaml) for the release asked
               (`--engine-version`) and the model's attention kind, else 1 — releases from before a
               model's kernels matured (DeepSeek's MLA models before March 2025) ran their kernels and
               scheduler slower; the collectives (NCCL, the same library either way) are not slowed
BW = peak bandwidth × η_bandwidth, F = dense peak TFLOPS of the datatype the matmuls run in
× η_compute (η per hardware family and engine, catalog/data/engines.yaml). GEMMs and attention
run one after the other, so their times add; each is bound by the slower of its memory
traffic and its arithmetic.

Links: a group inside one server uses its scale-up fabric (NVLink/xGMI/HCCS, else PCIe);
a group spanning servers also crosses each accelerator's share of the server's network
(`Platform.network_gbs` / accelerators per server). A cross-server all-reduce costs the
latency NCCL's own tuning model gives (src/graph/tuning.cc: ring and tree, LL protocol,
base and per-hop latencies; scaled to a published nccl-tests measurement and to a serving engine's
measured decode step across servers) plus its bytes over the network
share; an all-to-all over
the network runs at DeepEP's measured share of the NIC's bandwidth (decode: each expert's copy over the
network; prefill: one copy per remote server, forwarded over NVLink there, `alltoall_time`).

Prefill of I prompt tokens on all G accelerators (compute-bound):
    2 · P_active · I + 2 · layers · heads · (d_qk + d_v) · I²/2   FLOPs over G · F_prefill
(attention of one prompt on its own attention group's tp · p ranks), times the same slowdown,
plus the tensor-parallel and expert-parallel traffic of I tokens; at least the host's launch time of
every layer where the release prefills outside CUDA graphs (engines.yaml `eager_prefill`, eager mode:
`prefill_launch_floor`), which bounds short prompts of MoE models; serving.py applies it per prefill step.

Serving (closed loop, continuous batching with chunked prefill): optimizer/serving.py — the
prefill queue by Mean Value Analysis, decode stretched by the prefill share, TTFT mean and p90.
A replica serves the largest B that its KV memory holds, that the engine runs at
once (per attention DP group), and at which the per-user speed and TTFT targets still hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from catalog.schema import Model

from . import serving, sizing
from .deployment import Deployment
from .layouts import chunk_tokens_per_group

__all__ = ["Speed", "serving_speed", "serving_times", "decode_token_time", "prefill_time", "prompt_prefill_time",
           "attention_params",
           "ALLREDUCE_LATENCY_S", "batch_cap", "allreduce_time", "alltoall_time", "nccl_allreduce_latency_s",
           "EP_IMBALANCE", "stage_breakdown", "release_slowdown", "SERVING_OVER_NCCL_TESTS",
           "prefill_launch_floor", "EAGER_PREFILL_MOE_LAYER_S"]

# Latency of one small all-reduce / hop. Assumptions from NCCL's published small-message
# latencies (~5–10 µs over NVLink, tens of µs across PCIe or a network), rounded.
ALLREDUCE_LATENCY_S = {"native": 10e-6, "pcie": 30e-6}
NETWORK_HOP_LATENCY_S = 30e-6
ACTIVATION_BYTES = 2  # activations cross links in bf16
# NCCL's tuning model (https://github.com/NVIDIA/nccl/blob/master/src/graph/tuning.cc,
# ncclTunerConstantsDefaults and ncclTopoTuneModel, read 2026-06): base latency of an
# all-reduce and per-step hardware latency, LL protocol, microseconds; on multi-node rings
# intra-node steps cost at least the network overhead (getNetOverhead: 1.0 µs).
NCCL_BASE_LATENCY_US = {"ring": 6.6, "tree": 6.8}
NCCL_NVLINK_STEP_US = {"ring": 0.6, "tree": 0.6}
NCCL_NET_STEP_US = {"ring": 2.7, "tree": 5.0}
NCCL_NET_OVERHEAD_US = 1.0
# Measured over modelled: a 128-byte all-reduce across H100 servers took 61.58 µs in nccl-tests where
# NCCL's tuning model printed 25.21 µs for it (https://github.com/NVIDIA/nccl/issues/1453, 2024-09).
NCCL_MEASURED_OVER_MODEL = 61.58 / 25.21
# A serving engine's cross-server all-reduce over nccl-tests' loop of the same collective: a decode step issues
# two small all-reduces per layer between short kernels, each waiting on NCCL's proxy thread to post its network
# transfers. Solved from the fit set's one cross-server tensor-parallel row (measurements-fit.csv SGLX-001,
# https://github.com/sgl-project/sglang/issues/3956, 2025-03-06): DeepSeek-R1 TP16 over 2 × 8 H20, SGLang 0.4.3,
# one request at 37 tok/s = 27.0 ms per token. Weights and KV (0.87 ms), per-layer and MoE-layer overheads (4.24 ms)
# and the step (1.0 ms) take 6.1 ms, × 1.5 (engines.yaml: SGLang before 0.4.4 on MLA, whose kernels had not matured;
# NCCL's collectives are the same library either way and are not slowed) = 9.2 ms, leaving 17.8 ms for
# 122 all-reduces = 145.5 µs each; less 10 µs inside the server, 135.5 µs over NCCL's modelled 25.2 µs tree = 5.38,
# over nccl-tests' 2.44: 2.20 (with engines.yaml's SGLang factors as fitted).
SERVING_OVER_NCCL_TESTS = 2.20
# DeepEP's measured all-to-all bottleneck bandwidth against the hardware peak
# (https://github.com/deepseek-ai/DeepEP/blob/main/docs/legacy.md, normal kernels on H800:
# 153 of ~160 GB/s NVLink intranode, 43-58 of ~50 GB/s RDMA internode at EP 16-64): 0.95 and 0.86.
A2A_NVLINK_EFFICIENCY = 0.95
A2A_RDMA_EFFICIENCY = 0.86
# Latency floor of one dispatch or combine. Inside a server: the NVLink all-reduce latency
# above (assumption: an all-to-all is no faster than an all-reduce of the same group).
# Across servers: assumption from NCCL's tuning model for one network round (base 6.8 µs +
# 2 tree hops × 5.0 µs), rounded to 20 µs; DeepEP's low-latency kernels measure 77-194 µs
# for 128 tokens per rank at EP 8-256, which the bandwidth term reproduces.
A2A_NETWORK_LATENCY_S = 20e-6
# Expert load imbalance: tokens on the busiest expert-parallel rank over the mean.
# Assumption: 1.2 with expert-parallel load balancing (EPLB), the redundant-expert scheme
# DeepSeek's inference-system overview and SGLang's large-scale EP blog deploy
# (https://github.com/deepseek-ai/open-infra-index/blob/main/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md,
# https://lmsys.org/blog/2025-05-05-large-scale-ep/); neither publishes the max/mean ratio.
EP_IMBALANCE = 1.2
DISPATCH_BYTES = 1   # DeepEP dispatches fp8 activations (plus one scale per 128 values, ignored)
COMBINE_BYTES = 2    # and combines in bf16
# Weight-only quantized GEMMs (W4A16, MXFP4 on Hopper, GGUF) dequantize in the main loop,
# so they reach a smaller share of the 16-bit tensor rate than plain bf16 GEMMs.
# Fitted by benchmarks/calibrate.py on the gpt-oss (Hopper, Ampere) and AWQ rows.
WEIGHT_ONLY_COMPUTE = 0.5


@dataclass(frozen=True)
class Speed:
    batch: int
    token_time_s: float              # one decode step, as each running sequence sees it
    prefill_s: float                 # one request's prompt, alone
    tokens_per_s_per_user: float
    output_tokens_per_s: float
    ttft_s: float
    bound: str                       # what dominates a decode stage: memory, compute, communication, overhead
    ttft_p90_s: float | None = None  # 90th percentile time to first token (optimizer/serving.py)
    ttft_median_s: float | None = None   # median time to first token


def attention_params(model: Model) -> float:
    """Parameters in the attention blocks of all layers (see sizing.attention_params)."""
    return sizing.attention_params(model)


def _attention_dims(model: Model, decode: bool) -> int:
    """d_qk + d_v per head: the FLOPs of one (query, key) pair per layer are 2 · heads · this."""
    att = model.attention
    if att.kind != "mla":
        return 2 * att.head_dim  # type: ignore[operator]
    if decode:  # absorbed MLA attends over the latent: (kv_lora + rope) for scores, kv_lora for values
        return 2 * att.kv_lora_rank + att.qk_rope_head_dim  # type: ignore[operator]
    return (att.qk_nope_head_dim or 128) + att.qk_rope_head_dim + (att.v_head_dim or 128)  # type: ignore[operator]


def _compute_dtype(dep: Deployment) -> str:
    dtype = dep.variant.compute_dtype
    return dtype if dep.accelerator.has_native(dtype) else "bf16"


def _matmul_tflops(dep: Deployment, fit: sizing.MemoryFit) -> float:
    """Dense peak of the datatype the matmuls run in, discounted for weight-only dequantization."""
    dtype = _compute_dtype(dep)
    rate = dep.accelerator.dense_tflops(dtype)
    bits = fit.model_weights_bytes * 8 / (dep.model.params_b * 1e9)
    if dtype in ("bf16", "fp16") and bits < 12:
        rate *= WEIGHT_ONLY_COMPUTE
    return rate


def _link_bytes_per_s(dep: Deployment) -> float:
    """One direction of the scale-up link tensor-parallel traffic crosses inside a server."""
    gbs = dep.accelerator.interconnect_gbs if dep.platform.link == "native" else dep.platform.pcie_gbs
    return gbs * 1e9 / 2


def _nic_bytes_per_s(dep: Deployment) -> float:
    """One accelerator's share of its server's network bandwidth (rail-optimized: one NIC each)."""
    return dep.platform.network_gbs * 1e9 / max(1, dep.gpus_per_node)


def nccl_allreduce_latency_s(ranks: int, nodes: int, link: str = "native") -> float:
    """Latency of one small all-reduce over `ranks` ranks on `nodes` servers, seconds.

    One server: the calibrated NVLink/PCIe figure (ALLREDUCE_LATENCY_S). Several: NCCL's
    tuning model, LL protocol, the faster of ring
        base + (2(N−1) − 2(n−1)) · max(intra step, net overhead) + 2(n−1) · net step
    and tree
        base + 2 · ((N/n − 1) · intra step + log2(n) · net step)
    (src/graph/tuning.cc, ncclTopoTuneModel), scaled by the measured-over-modelled ratio of a published
    cross-server nccl-tests run (NCCL_MEASURED_OVER_MODEL) and by what a serving engine's decode step pays
    over nccl-tests (SERVING_OVER_NCCL_TESTS), plus the in-server latency.
    """
    if nodes <= 1:
        return ALLREDUCE_LATENCY_S[link]
    per_node = max(1, ranks // nodes)
    intra = max(NCCL_NVLINK_STEP_US["ring"], NCCL_NET_OVERHEAD_US)
    ring = NCCL_BASE_LATENCY_US["ring"] + (2 * (ranks - 1) - 2 * (nodes - 1)) * intra \
        + 2 * (nodes - 1) * NCCL_NET_STEP_US["ring"]
    tree = NCCL_BASE_LATENCY_US["tree"] + 2 * ((per_node - 1) * NCCL_NVLINK_STEP_US["tree"]
                                               + math.ceil(math.log2(nodes)) * NCCL_NET_STEP_US["tree"])
    return ALLREDUCE_LATENCY_S[link] + min(ring, tree) * NCCL_MEASURED_OVER_MODEL * SERVING_OVER_NCCL_TESTS * 1e-6


def _group_nodes(dep: Deployment, ranks: int) -> int:
    """Servers a group of `ranks` consecutive ranks spans."""
    return max(1, math.ceil(ranks / max(1, dep.gpus_per_node))) if dep.nodes > 1 else 1


def allreduce_time(dep: Deployment, ranks: int, tokens: float) -> float:
    """One all-reduce of `tokens` activations over a group of `ranks` ranks, seconds.

    In a server: latency + 2(n−1)/n · V over the scale-up link. Across s servers
    (hierarchical, as NCCL does): the in-server part, plus each rank's 1/(N/s) share of
    2(s−1)/s · V over its network share.
    """
    if ranks <= 1:
        return 0.0
    volume = tokens * dep.model.hidden_size * ACTIVATION_BYTES
    nodes = _group_nodes(dep, ranks)
    per_node = max(1, ranks // nodes)
    t = nccl_allreduce_latency_s(ranks, nodes, dep.platform.link)
    if per_node > 1:
        t += volume * 2 * (per_node - 1) / per_node / _link_bytes_per_s(dep)
    if nodes > 1:
        t += volume / per_node * 2 * (nodes - 1) / nodes / _nic_bytes_per_s(dep)
    return t


def alltoall_time(dep: Deployment, ranks: int, tokens_per_rank: float, bytes_per_value: float,
                  forwarded: bool = False) -> float:
    """One expert-parallel dispatch or combine: each rank sends its tokens' hidden states to
    the k experts they route to, spread over `ranks` ranks; seconds on the busiest rank.

    Bytes a rank sends: tokens · k · hidden · bytes · λ (λ = EP_IMBALANCE), the share
    (r−1)/r leaving the accelerator over NVLink and, across s servers, (s−1)/s of it over
    the network at DeepEP's measured efficiencies, as DeepEP's low-latency kernels (decode) send it:
    pure RDMA to each expert's rank. `forwarded`: DeepEP's normal kernels (prefill) instead send a token
    over the network once per remote server its experts are on and forward it over NVLink there
    ("Normal kernels with NVLink and RDMA forwarding", https://github.com/deepseek-ai/DeepEP README, read
    2026-12): (s − 1) · (1 − (1 − 1/s)^k) copies per token, each remote server holding one of its k experts
    with probability 1 − (1 − 1/s)^k when the experts are spread evenly (group-limited routing, where the
    model has it, only lowers this).
    """
    m = dep.model
    if ranks <= 1 or m.moe is None:
        return 0.0
    k = m.moe.experts_per_token
    per_copy = tokens_per_rank * m.hidden_size * bytes_per_value * EP_IMBALANCE
    sent = per_copy * k
    nodes = _group_nodes(dep, ranks)
    if nodes == 1:
        nvlink = sent * (ranks - 1) / ranks / (_link_bytes_per_s(dep) * A2A_NVLINK_EFFICIENCY)
        return ALLREDUCE_LATENCY_S[dep.platform.link] + nvlink
    local = sent / nodes
    remote = per_copy * ((nodes - 1) * (1 - (1 - 1 / nodes) ** k) if forwarded else k * (nodes - 1) / nodes)
    return A2A_NETWORK_LATENCY_S + max(remote / (_nic_bytes_per_s(dep) * A2A_RDMA_EFFICIENCY),
                                       local / (_link_bytes_per_s(dep) * A2A_NVLINK_EFFICIENCY))


def batch_cap(dep: Deployment, fit: sizing.MemoryFit) -> int | None:
    """The engine's cap on running sequences for the whole replica (per attention group × groups)."""
    cap = fit.settings.max_batch if fit.settings is not None else \
        dep.engine.max_batch(dep.accelerator.memory_bytes / sizing.GIB)
    if cap is None:
        return None
    return cap * fit.layout.dp


def _communication(dep: Deployment, fit: sizing.MemoryFit, b: int, layers: int, moe_layers: int) -> float:
    """Seconds of tensor- and expert-parallel traffic in one decode stage of `b` tokens."""
    lay = fit.layout
    tokens_per_group = math.ceil(b / lay.dp)
    if lay.dp == 1:
        # Plain TP (with or without EP: SGLang and vLLM reduce expert outputs with the TP all-reduce).
        return 2 * layers * allreduce_time(dep, lay.tp, tokens_per_group)
    comm = layers * allreduce_time(dep, lay.tp, tokens_per_group)
    if lay.ep > 1:
        per_rank = b / lay.stage_ranks
        comm += moe_layers * (alltoall_time(dep, lay.ep, per_rank, DISPATCH_BYTES)
                              + alltoall_time(dep, lay.ep, per_rank, COMBINE_BYTES))
    else:
        # MoE tensor parallel over every rank: gather all groups' tokens, reduce-scatter them back.
        comm += moe_layers * allreduce_time(dep, lay.stage_ranks, b)
    return comm


def _gemm_parts(dep: Deployment, fit: sizing.MemoryFit, b: int) -> tuple[float, float]:
    """(memory seconds, arithmetic seconds) of the weight GEMMs of one decode stage of `b` tokens."""
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    lay = fit.layout
    r, p = lay.stage_ranks, lay.pp
    bw = acc.memory_bandwidth_gbs * 1e9 * eff.bandwidth
    flops = _matmul_tflops(dep, fit) * 1e12 * eff.compute
    bytes_per_param = fit.model_weights_bytes / (m.params_b * 1e9)
    expert_flops = 0.0
    # What the busiest rank reads: its weights (sizing.weights_per_rank: attention and dense parts whole in
    # each attention DP group), less the routed experts on it that no token of the batch reaches.
    read_rank = fit.model_weights_rank
    if m.moe is not None:
        experts = m.moe.expert_params_b * 1e9 * bytes_per_param
        touched = 1 - (1 - m.moe.experts_per_token / m.moe.experts) ** b
        read_rank -= experts / (p * r) * (1 - touched)
        active_expert_params = m.moe.expert_params_b * m.moe.experts_per_token / m.moe.experts
        expert_flops = 2 * active_expert_params * 1e9 * b
    imbalance = EP_IMBALANCE if lay.ep > 1 else 1.0
    total_flops = 2 * m.active_params_b * 1e9 * b + expert_flops * (imbalance - 1)
    return read_rank / bw, total_flops / (p * r * flops)


def _attention_parts(dep: Deployment, fit: sizing.MemoryFit, b: int, context: float,
                     queries: int = 1) -> tuple[float, float]:
    """(memory seconds, arithmetic seconds) of attention in one decode stage: the KV traffic and the
    attention arithmetic of the busiest attention group's sequences at `context` tokens, each with `queries`
    new tokens (a speculative verification step: k + 1) that read its KV cache once and each attend to all of it."""
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    lay = fit.layout
    bw = acc.memory_bandwidth_gbs * 1e9 * eff.bandwidth
    attn_flops_rate = acc.dense_tflops("bf16") * 1e12 * eff.compute
    ctx = max(1, int(context))
    request_bytes = sizing.kv_bytes_per_request(m, dep.kv_dtype, ctx)
    rank_share = fit.rank_bytes_per_token / fit.kv_bytes_per_token
    seqs_per_group = math.ceil(b / lay.dp)
    kv_read = seqs_per_group * request_bytes * rank_share
    effective_ctx = request_bytes / fit.kv_bytes_per_token  # windowed layers attend to fewer tokens
    attn_ops = 2 * m.attention.heads * _attention_dims(m, decode=True) * effective_ctx * m.layers \
        * seqs_per_group * queries / (lay.pp * lay.tp)
    return kv_read / bw, attn_ops / attn_flops_rate


def stage_breakdown(dep: Deployment, fit: sizing.MemoryFit, b: int, context: float,
                    queries: int = 1) -> dict[str, float]:
    """Seconds of one decode pipeline stage of `b` sequences at mean cached `context`, each with `queries` new
    tokens (1; k + 1 in a speculative verification step: b · queries tokens pass the weights, the experts and
    the links, each sequence's KV cache is read once), by part:
    gemm_memory, gemm_compute, attention_memory, attention_compute, communication, overhead.

    The stage takes max(gemm_memory, gemm_compute) + max(attention_memory, attention_compute)
    + communication + overhead (module docstring)."""
    m = dep.model
    eff = dep.engine.efficiency_for(dep.accelerator.family)
    p = fit.layout.pp
    tokens = b * queries
    gemm_mem, gemm_compute = _gemm_parts(dep, fit, tokens)
    attn_mem, attn_compute = _attention_parts(dep, fit, b, context, queries)
    layers = math.ceil(m.layers / p)
    moe_layers = math.ceil(m.moe.moe_layers / p) if m.moe is not None else 0
    comm = _communication(dep, fit, tokens, layers, moe_layers)
    overhead = eff.layer_overhead_us * 1e-6 * layers
    if m.moe is not None:  # the MoE layers' extra kernels; eager-mode routing work grows with the tokens
        overhead += (eff.moe_layer_overhead_us + eff.moe_token_overhead_us * tokens) * 1e-6 * moe_layers
    return {"gemm_memory": gemm_mem, "gemm_compute": gemm_compute, "attention_memory": attn_mem,
            "attention_compute": attn_compute, "communication": comm, "overhead": overhead}


def _stage(dep: Deployment, fit: sizing.MemoryFit, b: int, context: float,
           queries: int = 1) -> tuple[float, str, float]:
    """(seconds, what dominates, seconds of communication) of one decode stage of `b` sequences (`queries` new
    tokens each, `stage_breakdown`)."""
    d = stage_breakdown(dep, fit, b, context, queries)
    total = max(d["gemm_memory"], d["gemm_compute"]) + max(d["attention_memory"], d["attention_compute"]) \
        + d["communication"] + d["overhead"]
    parts = {"memory": d["gemm_memory"] + d["attention_memory"], "compute": d["gemm_compute"] + d["attention_compute"],
             "communication": d["communication"], "overhead": d["overhead"]}
    return total, max(parts, key=parts.get), d["communication"]


def release_slowdown(dep: Deployment) -> float:
    """How many times longer every step takes on the engine release asked for (`--engine-version`)
    than the efficiency factors say: the `early_releases` rule of the engine (engines.yaml) that covers
    the release, the model's attention kind and its precision, else 1. No release asked: the newest, 1."""
    version = dep.settings.version if dep.settings is not None else None
    kind = dep.model.attention.kind
    return next((r.slowdown for r in dep.engine.early_releases if r.applies(version, kind, dep.variant.id)), 1.0)


# Eager mode (vLLM --enforce-eager, no CUDA graphs): the host launches every kernel of every layer each decode
# step, so a stage takes at least its layers × this CPU time. 0.3 ms per layer from two public measurements,
# with the graph-mode step time t_g as the fixed part: vLLM, GPT-2 (12 layers) on H200 at batch 1, 4.8 ms per
# token eager vs 1.3 ms with graphs: (4.8 − 1.3) / 12 = 0.29 ms
# (https://github.com/deepspeedai/DeepSpeed/pull/8352, 154.1 vs 41.8 ms for 32 tokens); vLLM, Llama-2-7B
# (32 layers) at batch 1, 12.0 vs 10.5 ms per token (https://github.com/vllm-project/vllm/pull/1440):
# about (12.0 − 1) / 32 = 0.34 ms with ~1 ms of fixed step time; SGLang without graphs in the same DeepSpeed
# run, 4.9 vs 1.04 ms: 0.32 ms. Large batches are GPU-bound and barely change.
EAGER_LAYER_LAUNCH_S = 0.3e-3


# Prefill outside CUDA graphs. Engines capture CUDA graphs for decode batches; where a release runs prefill eagerly
# (the engine's `eager_prefill` rule in engines.yaml: SGLang before its piecewise prefill graphs became the default,
# vLLM's V0 engine, TensorRT-LLM's PyTorch backend) the host launches every kernel of a prefill step from Python, so
# the step takes at least: dense layers × EAGER_LAYER_LAUNCH_S + MoE layers × EAGER_PREFILL_MOE_LAYER_S, an MoE layer's
# router, top-k, permutation, grouped GEMMs and combine each being launched. EAGER_PREFILL_MOE_LAYER_S is fitted on one
# public log (a fit source: no TTFT row `hwplan validate` scores comes from it): SGLang, DeepSeek-V3 (3 dense and 58
# MoE layers), one new token prefilled eagerly took 82.6 ms, 23.1 ms with a prefill CUDA graph
# (https://github.com/sgl-project/sglang/pull/12160, 2025-10): (82.6 − 3 × 0.3) / 58 = 1.41 ms. Corroboration, not
# fitted: Grok-2 (64 MoE layers) on SGLang TP8, one 1,024-token prompt, TTFT 104.6 ms without piecewise CUDA graphs
# (https://github.com/sgl-project/sglang/pull/13622, 2025-11), 64 × 1.4 ms = 90 ms plus the request's overhead.
EAGER_PREFILL_MOE_LAYER_S = 1.4e-3


def prefill_launch_floor(dep: Deployment, fit: sizing.MemoryFit) -> float:
    """Seconds the host needs to launch one prefill step's kernels where the release runs prefill outside CUDA
    graphs (the engine's `eager_prefill` rule for the release asked, `--engine-version`; or eager mode), not on
    CPUs nor for llama.cpp: dense layers × EAGER_LAYER_LAUNCH_S + MoE layers × EAGER_PREFILL_MOE_LAYER_S, over
    all pipeline stages (one prompt passes through each in turn); else 0."""
    s, asked = fit.settings, dep.settings
    rule = dep.engine.eager_prefill
    eager = (s is not None and s.eager) or (rule is not None and rule.applies(asked.version if asked else None))
    if not eager or dep.accelerator.family == "cpu" or dep.engine.memory.rule == "fixed":
        return 0.0
    moe_layers = dep.model.moe.moe_layers if dep.model.moe is not None else 0
    return (dep.model.layers - moe_layers) * EAGER_LAYER_LAUNCH_S + moe_layers * EAGER_PREFILL_MOE_LAYER_S


def _eager_stage_floor(dep: Deployment, fit: sizing.MemoryFit) -> float:
    """Seconds the host needs to launch one pipeline stage's kernels in eager mode (0 with CUDA graphs, on CPUs
    and for llama.cpp): ceil(layers / pp) × EAGER_LAYER_LAUNCH_S."""
    s = fit.settings
    if s is None or not s.eager or dep.accelerator.family == "cpu" or dep.engine.memory.rule == "fixed":
        return 0.0
    return math.ceil(dep.model.layers / fit.layout.pp) * EAGER_LAYER_LAUNCH_S


def decode_token_time(dep: Deployment, fit: sizing.MemoryFit, batch: int, context: float,
                      queries: int = 1) -> tuple[float, str]:
    """Seconds between two tokens of one sequence when `batch` sequences decode together (`queries` > 1: one
    speculative verification step, each sequence passing k + 1 tokens over its cached `context`,
    `stage_breakdown`). In eager mode a
    stage takes at least the host's kernel launches (`EAGER_LAYER_LAUNCH_S` per layer). An early release's
    slowdown (`release_slowdown`) stretches the stage's kernels and the step overhead, not its tensor- and
    expert-parallel communication nor the pipeline hops."""
    p = fit.layout.pp
    b = max(1, math.ceil(batch / p))
    stage, bound, comm = _stage(dep, fit, b, context, queries)
    if _eager_stage_floor(dep, fit) > stage:
        stage, bound = _eager_stage_floor(dep, fit), "overhead"
    hops = 0.0
    if p > 1:
        act = b * queries * dep.model.hidden_size * ACTIVATION_BYTES
        cross_node = dep.nodes - 1
        inside = p - 1 - cross_node
        hops = cross_node * (NETWORK_HOP_LATENCY_S + act / (dep.platform.network_gbs * 1e9)) \
            + inside * (ALLREDUCE_LATENCY_S[dep.platform.link] + act / _link_bytes_per_s(dep))
    eff = dep.engine.efficiency_for(dep.accelerator.family)
    overhead = eff.step_overhead_ms * 1e-3
    total = (p * (stage - comm) + overhead) * release_slowdown(dep) + p * comm + hops
    if overhead > p * stage:
        bound = "overhead"
    return total, bound


def prefill_time(dep: Deployment, fit: sizing.MemoryFit, input_tokens: int, prompts: int = 1,
                 packed: float = 1) -> float:
    """Seconds to process one prompt of `input_tokens` on the whole replica; with `prompts` > 1 (at most
    the attention DP groups), that many prompts at once, one per attention group: their linear layers
    and expert traffic add up, their attention runs side by side, the weights are read once. `packed` > 1:
    that many prompts of `input_tokens` each in one step on each attention group (a chunked-prefill step that
    packs several prompts): their linear layers add up and each attends to its own tokens only, so the attention
    grows with `packed`, not with its square (FlashAttention's variable-length batches, T. Dao,
    "FlashAttention-2", arXiv:2307.08691, 2023, §3.3). The GPU's time: the host's launch floor of an eager prefill
    step (`prefill_launch_floor`) is applied per step by optimizer/serving.py, where prompts that share a step
    share it."""
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    lay = fit.layout
    g = fit.gpus
    flops = _matmul_tflops(dep, fit) * 1e12 * eff.prefill * g
    # One prompt's attention runs on its own attention group: tp ranks per stage.
    attn_rate = acc.dense_tflops("bf16") * 1e12 * eff.prefill * g / lay.dp
    prompts = max(1, min(prompts, lay.dp))
    packed = max(1.0, packed)
    linear = 2 * m.active_params_b * 1e9 * input_tokens * prompts * packed
    att = m.attention
    full_layers = m.layers - att.window_layers
    pairs = full_layers * input_tokens**2 / 2 + att.window_layers * input_tokens * min(
        input_tokens, att.window_tokens or input_tokens)
    attention = 2 * att.heads * _attention_dims(m, decode=False) * pairs * packed
    # Reading the weights once bounds very short prompts.
    weights = fit.model_weights_bytes / (g * acc.memory_bandwidth_gbs * 1e9 * eff.bandwidth)
    compute = max(linear / flops + attention / attn_rate, weights)
    moe_layers = m.moe.moe_layers if m.moe is not None else 0
    step_tokens = input_tokens * packed            # one attention group's tokens in the step
    comm = (2 if lay.dp == 1 else 1) * m.layers * allreduce_time(dep, lay.tp, step_tokens)
    if lay.dp > 1:
        if lay.ep > 1:
            per_rank = step_tokens * prompts / lay.stage_ranks
            comm += moe_layers * (alltoall_time(dep, lay.ep, per_rank, DISPATCH_BYTES, forwarded=True)
                                  + alltoall_time(dep, lay.ep, per_rank, COMBINE_BYTES, forwarded=True))
        else:
            comm += moe_layers * allreduce_time(dep, lay.stage_ranks, step_tokens * prompts)
    return (compute + eff.step_overhead_ms * 1e-3) * release_slowdown(dep) + comm


def _memo(fn):
    """`fn` with its results kept: a capacity search asks for the same prompt's prefill at every batch."""
    seen: dict = {}

    def call(tokens):
        if tokens not in seen:
            seen[tokens] = fn(tokens)
        return seen[tokens]

    return call


def prompt_prefill_time(dep: Deployment, fit: sizing.MemoryFit, input_tokens: int, prompts: int = 1) -> float:
    """Seconds of `prompts` prompts of `input_tokens` (one per attention DP group, as `prefill_time`) prefilled
    alone in the chunk steps the engine splits each into: `serving_times(..., prompts)`'s Times.prompt_time
    (serving.chunked_prompt_time over pieces of layouts.chunk_tokens_per_group; SGLang under attention DP:
    max_batched_tokens // dp per group; one piece where the engine does not split prompts). The GPU's time,
    without the launch floor."""
    return serving_times(dep, fit, prompts).prompt_time(input_tokens)


def serving_times(dep: Deployment, fit: sizing.MemoryFit, prompts: int = 1) -> serving.Times:
    """The replica's step and prefill times, chunk budget (max_batched_tokens; 8192 when the engine states none —
    assumption: vLLM's and SGLang's default on large GPUs) and one prompt's chunk (layouts.chunk_tokens_per_group),
    TTFT overhead, the engine's queued steps (serving.QUEUED_STEPS) and its eager prefill's launch floor
    (`prefill_launch_floor`), for optimizer/serving.py. `prompts` > 1: its prefill time is a pass of that many
    prompts, one per attention DP group (`prefill_time`), as a disaggregated prefill replica runs them."""
    budget = fit.settings.max_batched_tokens if fit.settings is not None else 8192
    return serving.Times(token_time=lambda b, ctx: decode_token_time(dep, fit, b, ctx),
                         verify_time=lambda b, ctx, q: decode_token_time(dep, fit, b, ctx, queries=q),
                         prefill_time=_memo(lambda tokens: prefill_time(dep, fit, tokens, prompts=prompts)),
                         prefill_packed=lambda tokens, n: prefill_time(dep, fit, tokens, packed=n),
                         layers=dep.model.layers, budget=budget, overhead_s=serving.ttft_overhead(dep.engine.id),
                         queued_steps=serving.QUEUED_STEPS.get(dep.engine.id, 0.0),
                         launch_floor_s=prefill_launch_floor(dep, fit),
                         prefill_alone=dep.engine.id in serving.PREFILL_ALONE,
                         whole_prompts=dep.engine.id in serving.WHOLE_PROMPTS,
                         chunk=chunk_tokens_per_group(dep.engine, fit.layout, budget), stages=fit.layout.pp)


def serving_speed(dep: Deployment, fit: sizing.MemoryFit, batch: int, input_tokens: int,
                  output_tokens: int, *, arrivals: str = "random",
                  speculative: serving.Speculative | None = None) -> Speed:
    """Speeds with `batch` users in a closed loop of requests of input_tokens → output_tokens:
    queueing of prefills, chunked-prefill interference and speculative decoding as in
    optimizer/serving.py (`closed_loop`), which this delegates to."""
    batch = max(1, batch)
    s = serving.closed_loop(serving_times(dep, fit), batch, input_tokens, output_tokens, arrivals=arrivals,
                            spec=speculative)
    return Speed(batch=batch, token_time_s=s.step_s, prefill_s=s.prefill_s,
                 tokens_per_s_per_user=s.tokens_per_s_per_user, output_tokens_per_s=s.output_tokens_per_s,
                 ttft_s=s.ttft_s, bound=s.bound, ttft_p90_s=s.ttft_p90_s, ttft_median_s=s.ttft_median_s)

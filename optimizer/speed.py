"""Speed model: decode step, prefill, and the users a replica serves at a target speed.

A calibrated roofline (the formulas below; factors fitted by benchmarks/calibrate.py). For a replica with tensor parallelism t,
p pipeline stages and B running sequences of mean cached context S:

Decode, one pipeline stage, per rank (micro-batch b = ceil(B / p)):
    weights  = (W_dense + W_experts · f(b)) / (p · t)       f(b) = 1 − (1 − k/E)^b,
               the expected share of routed experts a batch of b tokens touches
               (plus the attention weights every rank holds under DP attention)
    gemm     = max(weights / BW, 2 · P_active · b / (p · t · F))
    attn     = max(KV bytes the rank reads / BW, attention FLOPs / F)
    comm     = 2 · layers/p · (α + all-reduce bytes / link)   (t > 1; NVLink ≫ PCIe)
    stage    = gemm + attn + comm + layer_overhead · layers/p
token time   = p · stage + pipeline hops + step_overhead
BW = peak bandwidth × η_bandwidth, F = dense peak TFLOPS of the datatype the
matmuls run in × η_compute (η per hardware family and engine, catalog/data/engines.yaml).
GEMMs and attention run one after the other, so their times add; each is bound by
the slower of its memory traffic and its arithmetic.

Prefill of I prompt tokens on all G accelerators (compute-bound):
    2 · P_active · I + 2 · layers · heads · (d_qk + d_v) · I²/2   FLOPs over G · F_prefill
plus the tensor-parallel traffic of I tokens.

Serving (closed loop, continuous batching with chunked prefill): optimizer/serving.py — the
prefill queue by Mean Value Analysis, decode stretched by the prefill share, TTFT mean and p90.
A replica serves the largest B that its KV memory holds, that the engine runs at
once, and at which the per-user speed and TTFT targets still hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from catalog.schema import Model

from . import serving, sizing
from .deployment import Deployment

__all__ = ["Speed", "serving_speed", "serving_times", "decode_token_time", "prefill_time", "attention_params",
           "ALLREDUCE_LATENCY_S", "batch_cap"]

# Latency of one small all-reduce / hop. Assumptions from NCCL's published small-message
# latencies (~5–10 µs over NVLink, tens of µs across PCIe or a network), rounded.
ALLREDUCE_LATENCY_S = {"native": 10e-6, "pcie": 30e-6}
NETWORK_HOP_LATENCY_S = 30e-6
ACTIVATION_BYTES = 2  # activations cross links in bf16
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


def attention_params(model: Model) -> float:
    """Parameters in the attention blocks of all layers (replicated per rank under DP attention).

    GQA/MHA: q and o projections (hidden × heads·hd each) plus k and v (hidden × kv·hd each).
    MLA: approximated as 4 · hidden² per layer (DeepSeek-V3: 187M actual vs 206M by this rule).
    """
    att, h = model.attention, model.hidden_size
    if att.kind == "mla":
        per_layer = 4 * h * h
    else:
        per_layer = 2 * h * att.heads * att.head_dim + 2 * h * att.kv_heads * att.head_dim  # type: ignore[operator]
    return per_layer * model.layers


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
    bits = fit.weights_bytes * 8 / (dep.model.params_b * 1e9)
    if dtype in ("bf16", "fp16") and bits < 12:
        rate *= WEIGHT_ONLY_COMPUTE
    return rate


def _link_bytes_per_s(dep: Deployment) -> float:
    """One direction of the link tensor-parallel traffic crosses."""
    gbs = dep.accelerator.interconnect_gbs if dep.platform.link == "native" else dep.platform.pcie_gbs
    return gbs * 1e9 / 2


def batch_cap(dep: Deployment, fit: sizing.MemoryFit) -> int | None:
    """The engine's default cap on running sequences for the whole replica (per DP rank × ranks)."""
    cap = fit.settings.max_batch if fit.settings is not None else \
        dep.engine.max_batch(dep.accelerator.memory_bytes / sizing.GIB)
    if cap is None:
        return None
    return cap * (fit.layout.tp if fit.layout.dp_attention else 1)


def _stage(dep: Deployment, fit: sizing.MemoryFit, b: int, context: float) -> tuple[float, str]:
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    t, p = fit.layout.tp, fit.layout.pp
    dp = fit.layout.dp_attention
    bw = acc.memory_bandwidth_gbs * 1e9 * eff.bandwidth
    flops = _matmul_tflops(dep, fit) * 1e12 * eff.compute
    attn_flops_rate = acc.dense_tflops("bf16") * 1e12 * eff.compute
    weights = fit.weights_bytes
    bytes_per_param = weights / (m.params_b * 1e9)
    if m.moe is not None:
        experts = m.moe.expert_params_b * 1e9 * bytes_per_param
        touched = 1 - (1 - m.moe.experts_per_token / m.moe.experts) ** b
        read = (weights - experts) + experts * touched
    else:
        read = weights
    read_rank = read / (p * t)
    if dp:  # every DP rank holds (and reads) the whole attention of its stage
        read_rank += attention_params(m) * bytes_per_param / p * (1 - 1 / t)
    gemm_mem = read_rank / bw
    gemm_compute = 2 * m.active_params_b * 1e9 * b / (p * t * flops)
    gemm = max(gemm_mem, gemm_compute)

    # KV traffic and attention arithmetic of b sequences at `context` tokens.
    ctx = max(1, int(context))
    request_bytes = sizing.kv_bytes_per_request(m, dep.kv_dtype, ctx)
    rank_share = fit.rank_bytes_per_token / fit.kv_bytes_per_token
    seqs_per_rank = b / t if dp else b
    kv_read = seqs_per_rank * request_bytes * rank_share
    effective_ctx = request_bytes / fit.kv_bytes_per_token  # windowed layers attend to fewer tokens
    attn_ops = 2 * m.attention.heads * _attention_dims(m, decode=True) * effective_ctx * m.layers * b / (p * t)
    attn = max(kv_read / bw, attn_ops / attn_flops_rate)

    layers = math.ceil(m.layers / p)
    comm = 0.0
    if t > 1:
        volume = b * m.hidden_size * ACTIVATION_BYTES * 2 * (t - 1) / t
        comm = 2 * layers * (ALLREDUCE_LATENCY_S[dep.platform.link] + volume / _link_bytes_per_s(dep))
    overhead = eff.layer_overhead_us * 1e-6 * layers
    if m.moe is not None:  # eager-mode routing work grows with the tokens in the step
        overhead += eff.moe_token_overhead_us * 1e-6 * b * math.ceil(m.moe.moe_layers / p)
    parts = {"memory": gemm_mem + kv_read / bw, "compute": gemm_compute + attn_ops / attn_flops_rate,
             "communication": comm, "overhead": overhead}
    return gemm + attn + comm + overhead, max(parts, key=parts.get)


def decode_token_time(dep: Deployment, fit: sizing.MemoryFit, batch: int, context: float) -> tuple[float, str]:
    """Seconds between two tokens of one sequence when `batch` sequences decode together."""
    p = fit.layout.pp
    b = max(1, math.ceil(batch / p))
    stage, bound = _stage(dep, fit, b, context)
    hops = 0.0
    if p > 1:
        act = b * dep.model.hidden_size * ACTIVATION_BYTES
        cross_node = dep.nodes - 1
        inside = p - 1 - cross_node
        hops = cross_node * (NETWORK_HOP_LATENCY_S + act / (dep.platform.network_gbs * 1e9)) \
            + inside * (ALLREDUCE_LATENCY_S[dep.platform.link] + act / _link_bytes_per_s(dep))
    eff = dep.engine.efficiency_for(dep.accelerator.family)
    overhead = eff.step_overhead_ms * 1e-3
    total = p * stage + hops + overhead
    if overhead > p * stage:
        bound = "overhead"
    return total, bound


def prefill_time(dep: Deployment, fit: sizing.MemoryFit, input_tokens: int) -> float:
    """Seconds to process one prompt of `input_tokens` on the whole replica."""
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    g = fit.gpus
    flops = _matmul_tflops(dep, fit) * 1e12 * eff.prefill * g
    attn_rate = acc.dense_tflops("bf16") * 1e12 * eff.prefill * g
    linear = 2 * m.active_params_b * 1e9 * input_tokens
    att = m.attention
    full_layers = m.layers - att.window_layers
    pairs = full_layers * input_tokens**2 / 2 + att.window_layers * input_tokens * min(
        input_tokens, att.window_tokens or input_tokens)
    attention = 2 * att.heads * _attention_dims(m, decode=False) * pairs
    # Reading the weights once bounds very short prompts.
    weights = fit.weights_bytes / (g * acc.memory_bandwidth_gbs * 1e9 * eff.bandwidth)
    compute = max(linear / flops + attention / attn_rate, weights)
    t = fit.layout.tp
    comm = 0.0
    if t > 1:
        volume = input_tokens * m.hidden_size * ACTIVATION_BYTES * 2 * (t - 1) / t
        comm = 2 * m.layers * (ALLREDUCE_LATENCY_S[dep.platform.link] + volume / _link_bytes_per_s(dep))
    return compute + comm + eff.step_overhead_ms * 1e-3


def serving_times(dep: Deployment, fit: sizing.MemoryFit) -> serving.Times:
    """The replica's step and prefill times, chunk budget (max_batched_tokens; 8192 when the engine
    states none — assumption: vLLM's and SGLang's default on large GPUs) and TTFT overhead, for
    optimizer/serving.py."""
    budget = fit.settings.max_batched_tokens if fit.settings is not None else 8192
    return serving.Times(token_time=lambda b, ctx: decode_token_time(dep, fit, b, ctx),
                         prefill_time=lambda tokens: prefill_time(dep, fit, tokens),
                         layers=dep.model.layers, budget=budget, overhead_s=serving.ttft_overhead(dep.engine.id))


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
                 ttft_s=s.ttft_s, bound=s.bound, ttft_p90_s=s.ttft_p90_s)

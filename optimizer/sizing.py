"""Memory sizing: does a model fit a replica, and how much KV cache is left?

Pure functions of catalog records. The formulas (DESIGN.md, "Sizing model"):

- Weights: a variant's measured size if it has one, else params × bits / 8.
- fp8 rule: a variant that needs native fp8 (or fp4) units runs only on
  hardware that has them; elsewhere its `fallback` (bf16) is used, so weights
  double. hwplan assumes no software fp8 emulation.
- KV bytes per token, whole model: GQA/MHA 2 × layers × kv_heads × head_dim × b;
  MLA layers × (kv_lora_rank + qk_rope_head_dim) × b. Sliding-window layers keep at
  most `window_tokens` per sequence.
- Tensor parallelism t splits GQA heads across ranks (a head is replicated when
  kv_heads < t); MLA's latent cache is replicated on every rank unless the engine
  runs data-parallel attention, where each rank holds only its own sequences.
  Pipeline parallelism p splits the layers.
- KV budget per accelerator: memory × utilization − weights share − reserve
  (`fraction_of_total` engines), or (memory − weights share − reserve) × utilization
  (`fraction_of_free`, TensorRT-LLM).

Units: bytes unless a name says otherwise; GB = 10^9 bytes, GiB = 2^30 bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from catalog.schema import KV_DTYPE_BYTES, Accelerator, Engine, Model, Variant

__all__ = [
    "GB", "GIB", "Layout", "MemoryFit",
    "weight_bytes", "runnable_variant", "candidate_variants", "resolve_kv_dtype",
    "kv_bytes_per_token", "kv_bytes_per_request", "choose_layout", "kv_rank_bytes_per_token",
    "memory_fit", "max_concurrency", "kv_reserve_factor", "engine_runs",
]

GB = 1e9
GIB = float(2**30)


def weight_bytes(model: Model, variant: Variant) -> float:
    """Bytes of the whole model's weights in `variant`."""
    if variant.size_gb is not None:
        return variant.size_gb * GB
    return model.params_b * 1e9 * variant.bits_per_weight / 8  # type: ignore[operator]


def runnable_variant(model: Model, acc: Accelerator, precision: str) -> tuple[Variant, str] | None:
    """The variant `acc` actually runs when `precision` is asked for, with a note; None if it cannot.

    A variant that needs native fp8/fp4 units falls back (fp8 → bf16) on hardware without them.
    """
    variant = model.variant(precision)
    needed = variant.requires_native
    if needed is None or acc.has_native(needed):
        return variant, ""
    if variant.fallback is None:
        return None
    fallback = model.variant(variant.fallback)
    if fallback.requires_native and not acc.has_native(fallback.requires_native):
        return None
    return fallback, f"{acc.id} has no native {needed} units: {precision} weights run as {fallback.id}"


def _publisher_native_build(model: Model, variant: Variant, acc: Accelerator) -> bool:
    """True for a build the model's own publisher ships (its Hugging Face repo sits in the same
    organization as `model.hf_repo`) in a datatype `acc` has native matrix units for (fp8, fp4)."""
    org = model.hf_repo.split("/")[0] if "/" in model.hf_repo else ""
    return bool(org) and variant.requires_native is not None and acc.has_native(variant.requires_native) \
        and f"huggingface.co/{org}/" in variant.source


def candidate_variants(model: Model, acc: Accelerator, precision: str | list[str]) -> list[tuple[Variant, str]]:
    """Variants to consider on `acc`, each with a note saying why it is there (empty: as asked).

    'auto' is the native precision (or its fallback) plus every build the model's publisher
    ships in a datatype `acc` runs natively — Meta's FP8 Llama 4 Maverick, Qwen's FP8 Qwen3 —
    since those are the same model served as published (see e.g.
    https://huggingface.co/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8). Lossy
    third-party builds (AWQ/GPTQ int4, GGUF, int8, another party's FP8/NVFP4) are tried only when
    asked for by id: their accuracy is the buyer's call, not the optimizer's.
    """
    if precision == "auto":
        asked = [model.native_precision] + [v.id for v in model.variants if v.id != model.native_precision
                                            and _publisher_native_build(model, v, acc)]
    else:
        asked = [precision] if isinstance(precision, str) else list(precision)
    seen: dict[str, tuple[Variant, str]] = {}
    for p in asked:
        found = runnable_variant(model, acc, p)
        if found is not None and found[0].id not in seen:
            if precision == "auto" and p != model.native_precision:
                found = (found[0], f"precision auto: {p} is {model.hf_repo.split('/')[0]}'s own {p} build, "
                                   f"run on {acc.id}'s native {found[0].requires_native} units")
            seen[found[0].id] = found
    return list(seen.values())


def resolve_kv_dtype(kv_dtype: str, engine: Engine | None = None, variant: Variant | None = None) -> str:
    """'auto' is the activation datatype, bf16, as vLLM, SGLang and TensorRT-LLM default to — except
    for quantized fp8/fp4 checkpoints on an engine whose builds carry KV scales (TensorRT-LLM: fp8)."""
    if kv_dtype != "auto":
        return kv_dtype
    if engine is not None and variant is not None and engine.quantized_kv_dtype and variant.quantized \
            and variant.compute_dtype in ("fp8", "fp4"):
        return engine.quantized_kv_dtype
    return "bf16"


def kv_reserve_factor(model: Model, variant: Variant) -> float:
    """The seed's rule of thumb: a KV reserve sized for an fp8 model doubles when it runs in 16-bit."""
    native = model.variant(model.native_precision)
    if native.compute_dtype == "fp8" and variant.compute_dtype in ("bf16", "fp16") and not variant.quantized:
        return 2.0
    return 1.0


def _per_layer_token_bytes(model: Model, kv_dtype: str, kv_heads: int | None = None) -> float:
    """KV bytes one layer stores per token (for `kv_heads` heads; default all of them)."""
    b = KV_DTYPE_BYTES[resolve_kv_dtype(kv_dtype)]
    att = model.attention
    if att.kind == "mla":
        return (att.kv_lora_rank + att.qk_rope_head_dim) * b  # type: ignore[operator]
    heads = att.kv_heads if kv_heads is None else kv_heads
    return 2 * heads * att.head_dim * b  # type: ignore[operator]


def kv_bytes_per_token(model: Model, kv_dtype: str = "auto") -> float:
    """The model's own KV bytes per token over all layers, before any sharding."""
    return model.layers * _per_layer_token_bytes(model, kv_dtype)


def kv_bytes_per_request(model: Model, kv_dtype: str, context_tokens: int) -> float:
    """KV bytes one sequence of `context_tokens` holds, whole model (windowed layers capped)."""
    att = model.attention
    per_layer = _per_layer_token_bytes(model, kv_dtype)
    full_layers = model.layers - att.window_layers
    windowed = att.window_layers * min(context_tokens, att.window_tokens or context_tokens)
    return per_layer * (full_layers * context_tokens + windowed)


@dataclass(frozen=True)
class Layout:
    """How one replica's accelerators split the model."""

    tp: int  # tensor-parallel ranks (inside a node)
    pp: int  # pipeline stages (nodes × tensor groups per node)
    dp_attention: bool = False

    @property
    def ranks(self) -> int:
        return self.tp * self.pp


def choose_layout(model: Model, gpus_per_node: int, nodes: int, dp_attention: bool = False,
                  split: str = "tensor") -> Layout:
    """Largest tensor-parallel size inside a node that divides both the node and the
    attention heads (engines require heads % tp == 0); the rest is pipeline stages.
    A `layer` split (llama.cpp across GPUs) puts whole layers on each device: tp = 1."""
    tp = 1
    for t in range(gpus_per_node, 0, -1):
        if split == "layer":
            break
        if gpus_per_node % t == 0 and model.attention.heads % t == 0:
            tp = t
            break
    pp = nodes * gpus_per_node // tp
    return Layout(tp=tp, pp=pp, dp_attention=dp_attention and model.attention.kind == "mla" and tp > 1)


def kv_rank_bytes_per_token(model: Model, kv_dtype: str, layout: Layout) -> float:
    """KV bytes one rank stores per token it holds (its layers; its heads, or the whole MLA latent)."""
    att = model.attention
    layers_per_rank = math.ceil(model.layers / layout.pp)
    if att.kind == "mla":
        per_layer = _per_layer_token_bytes(model, kv_dtype)  # replicated, or per DP rank for its own tokens
    else:
        per_layer = _per_layer_token_bytes(model, kv_dtype, kv_heads=math.ceil(att.kv_heads / layout.tp))
    return layers_per_rank * per_layer


def engine_runs(engine: Engine, acc: Accelerator, variant: Variant) -> bool:
    return acc.family in engine.families and variant.format in engine.formats


@dataclass(frozen=True)
class MemoryFit:
    """Memory picture of one replica."""

    layout: Layout
    gpus: int
    weights_bytes: float           # whole replica
    weights_per_gpu: float
    reserve_per_gpu: float
    kv_budget_per_gpu: float       # may be negative: the weights do not fit
    kv_bytes_per_token: float      # the model's own, unsharded
    rank_bytes_per_token: float    # what one rank stores per token it holds
    kv_capacity_tokens: int        # tokens the replica can hold
    memory_bytes: float            # installed memory of the replica

    @property
    def kv_budget_total(self) -> float:
        return max(self.kv_budget_per_gpu, 0.0) * self.gpus

    @property
    def weights_fit(self) -> bool:
        return self.kv_budget_per_gpu > 0


def memory_fit(model: Model, variant: Variant, acc: Accelerator, engine: Engine, *,
               gpus_per_node: int, nodes: int = 1, kv_dtype: str = "auto", dp_attention: bool = False,
               utilization: float | None = None) -> MemoryFit:
    """Memory budget of a replica of `nodes` × `gpus_per_node` accelerators.

    `utilization` overrides the engine's memory fraction (vLLM --gpu-memory-utilization,
    SGLang --mem-fraction-static, TensorRT-LLM free_gpu_memory_fraction).
    """
    kv_dtype = resolve_kv_dtype(kv_dtype, engine, variant)
    # llama.cpp splits layers across GPUs but spreads one model over CPU sockets' memory.
    split = "tensor" if acc.family == "cpu" else engine.split
    layout = choose_layout(model, gpus_per_node, nodes, dp_attention and engine.dp_attention, split)
    gpus = gpus_per_node * nodes
    weights = weight_bytes(model, variant)
    weights_per_gpu = weights / gpus
    memory = acc.memory_bytes
    reserve = engine.reserve_gib(memory / GIB, layout.ranks, layout.dp_attention) * GIB
    share = engine.memory_utilization if utilization is None else utilization
    if engine.memory_model == "fraction_of_total":
        budget = memory * share - weights_per_gpu - reserve
    elif engine.memory_model == "static_fraction":
        static = (memory - reserve) if utilization is None else memory * utilization
        budget = static - weights_per_gpu
    else:
        free = memory - weights_per_gpu - reserve
        budget = free * share if free > 0 else free
    rank_bytes = kv_rank_bytes_per_token(model, kv_dtype, layout)
    # Each tensor group holds every token of its sequences; with DP attention each
    # of the tp ranks holds different sequences, so the replica holds tp times more.
    holders = layout.tp if layout.dp_attention else 1
    capacity = int(max(budget, 0.0) // rank_bytes) * holders
    return MemoryFit(layout=layout, gpus=gpus, weights_bytes=weights, weights_per_gpu=weights_per_gpu,
                     reserve_per_gpu=reserve, kv_budget_per_gpu=budget,
                     kv_bytes_per_token=kv_bytes_per_token(model, kv_dtype), rank_bytes_per_token=rank_bytes,
                     kv_capacity_tokens=capacity, memory_bytes=acc.memory_bytes * gpus)


def max_concurrency(model: Model, fit: MemoryFit, kv_dtype: str, context_tokens: int) -> int:
    """Requests of `context_tokens` (prompt + output) the replica's KV cache holds at once."""
    if fit.kv_budget_per_gpu <= 0:
        return 0
    whole = kv_bytes_per_token(model, kv_dtype)
    # Share of a request's bytes that one rank stores, from the per-token ratio.
    rank_share = fit.rank_bytes_per_token / whole
    per_request = kv_bytes_per_request(model, kv_dtype, context_tokens) * rank_share
    holders = fit.layout.tp if fit.layout.dp_attention else 1
    return int(fit.kv_budget_per_gpu // per_request) * holders

"""Memory sizing: does a model fit a replica, and how much KV cache is left?

Pure functions of catalog records. The formulas:

- Weights: a variant's measured size if it has one, else params × bits / 8 (16-bit embeddings
  and lm_head in quantized checkpoints; per module kind where the checkpoint keeps some modules
  unquantized, `module_bytes`), sharded per rank as the engine shards them.
- fp8 rule: a variant that needs native fp8 (or fp4) units runs only on
  hardware that has them; elsewhere its `fallback` (bf16) is used, so weights
  double. hwplan assumes no software fp8 emulation.
- KV bytes per token, whole model: GQA/MHA 2 × layers × kv_heads × head_dim × b;
  MLA layers × (kv_lora_rank + qk_rope_head_dim) × b. Sliding-window layers keep at
  most `window_tokens` per sequence; compressed layers one entry per `ratio` tokens;
  indexer layers an indexer key per token; linear-attention and Mamba layers a fixed
  state per request (`kv_bytes_per_token`, `kv_bytes_per_request`).
- Tensor parallelism t splits GQA heads across ranks (a head is replicated when
  kv_heads < t); MLA's latent cache is replicated on every rank unless the engine
  runs data-parallel attention, where each rank holds only its own sequences.
  Pipeline parallelism p splits the layers.
- Engine memory per accelerator (`memory_fit` and below): the engine's own start-up budget —
  weights, the profile run's activation peak, CUDA graphs, non-torch memory, then the KV cache —
  with the engine settings (memory utilization, max batch, max batched tokens, max_model_len,
  eager) as inputs; each term is a small function citing the engine source and start-up logs.

Units: bytes unless a name says otherwise; GB = 10^9 bytes, GiB = 2^30 bytes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from catalog.errors import InputError
from catalog.schema import KV_DTYPE_BYTES, Accelerator, Engine, Model, Variant

from . import serving
from .layouts import Layout, chunk_tokens_per_group
from .problem import EngineSettings

__all__ = [
    "GB", "GIB", "Layout", "MemoryFit", "RankMemory", "Settings", "WeightParts",
    "resolve_settings", "whole_prompt_settings", "KV_BLOCK_TOKENS", "ffn_sizes", "weight_parts", "weights_per_rank", "activation_peak_bytes",
    "non_torch_bytes", "cuda_graph_bytes", "captured_graph_sizes", "custom_allreduce", "request_kv_bytes",
    "request_rank_bytes",
    "weight_bytes", "runnable_variant", "candidate_variants", "resolve_kv_dtype",
    "kv_bytes_per_token", "kv_bytes_per_request", "state_bytes_per_request", "choose_layout", "kv_rank_bytes_per_token",
    "memory_fit", "max_concurrency", "kv_reserve_factor", "engine_runs", "attention_params",
    "MODULE_KINDS", "module_params", "module_bytes",
]

GB = 1e9
GIB = float(2**30)


def weight_bytes(model: Model, variant: Variant) -> float:
    """Bytes of the whole model's weights in `variant`: its measured size, else params × bits / 8 —
    except that quantized safetensors checkpoints (bits < 16) keep the embedding and lm_head in 16 bits
    (2 × vocab × hidden parameters at 2 B): Llama-3.1-8B fp8 = 6.98e9 × 1 B + 1.05e9 × 2 B = 9.08 GB
    = 8.46 GiB, as TensorRT-LLM logs it ('Rank 0 uses 8.46 GB for model weights',
    https://github.com/NVIDIA/TensorRT-LLM/issues/6294)."""
    if variant.size_gb is not None:
        return variant.size_gb * GB
    if variant.mixed:
        return sum(module_bytes(model, variant).values())
    bits = variant.bits_per_weight  # type: ignore[assignment]
    if variant.format == "safetensors" and bits < 16:  # type: ignore[operator]
        embed = min(_embedding_params(model), model.params_b * 1e9 / 2)
        return (model.params_b * 1e9 - embed) * bits / 8 + embed * 2  # type: ignore[operator]
    return model.params_b * 1e9 * bits / 8  # type: ignore[operator]


MODULE_KINDS = ("embeddings", "lm_head", "attention", "dense_mlp", "experts", "vision")


def module_params(model: Model) -> dict[str, float]:
    """Parameters of the whole model by module kind (`MODULE_KINDS`), summing to `params_b`:
    embeddings and lm_head vocab × hidden each (lm_head 0 when tied), attention `attention_params`,
    experts `moe.expert_params_b`, vision `vision_params_b`, and dense_mlp the rest (dense MLPs, shared
    experts, routers, norms). Shapes as in Hugging Face transformers modeling_llama.py / modeling_deepseek_v3.py."""
    total = model.params_b * 1e9
    embed = model.vocab_size * model.hidden_size
    head = 0.0 if model.tie_word_embeddings else float(embed)
    experts = model.moe.expert_params_b * 1e9 if model.moe else 0.0
    vision = model.vision_params_b * 1e9
    attention = min(attention_params(model), max(total - embed - head - experts - vision, 0.0))
    dense = max(total - embed - head - attention - experts - vision, 0.0)
    return {"embeddings": float(embed), "lm_head": head, "attention": attention, "dense_mlp": dense,
            "experts": experts, "vision": vision}


def module_bytes(model: Model, variant: Variant) -> dict[str, float]:
    """Bytes of each module kind in a checkpoint with per-module precision (`variant.module_bits`,
    `variant.unquantized_layers`), before any measured size: params × bits / 8 per kind, where

    - linear kinds (attention, dense_mlp, experts) take `bits_per_weight` unless `module_bits` names them;
    - embeddings and lm_head take 16 bits in safetensors checkpoints (no engine quantizes them unless the
      config says so), the vision encoder 16 bits;
    - each layer in `unquantized_layers` holds its share in 16 bits: attention / layers, dense_mlp / layers
      and, when it is a MoE layer (the last `moe_layers` layers, as DeepSeek's first_k_dense_replace
      orders them), experts / moe_layers.

    Meta's FP8 Llama 3.1 405B (config.json quantization_config, quant_method fbgemm_fp8,
    https://huggingface.co/meta-llama/Llama-3.1-405B-Instruct-FP8/blob/main/config.json): attention of every
    layer, layers 0 and 125 and lm_head in bf16, the other 124 MLPs in fp8 with one fp32 scale per row:
    (71.87B + 2 × 2.62B + 4.20B) × 2 B + 124 × 2.62B × 1 B = 487.1 GB (vLLM logs 57.75 GiB per TP8 rank,
    https://github.com/vllm-project/vllm/issues/6746)."""
    params = module_params(model)
    mb = variant.module_bits
    base = variant.bits_per_weight or 16.0
    edge = 16.0 if variant.format == "safetensors" else base
    bits = {"embeddings": edge, "lm_head": edge, "attention": base, "dense_mlp": base, "experts": base,
            "vision": 16.0}
    if mb is not None:
        bits.update({k: v for k, v in mb.model_dump().items() if v is not None})
    out = {k: params[k] * bits[k] / 8 for k in MODULE_KINDS}
    moe_layers = model.moe.moe_layers if model.moe else 0
    for layer in variant.unquantized_layers:
        share = {"attention": 1 / model.layers, "dense_mlp": 1 / model.layers,
                 "experts": 1 / moe_layers if moe_layers and layer >= model.layers - moe_layers else 0.0}
        for kind, part in share.items():
            out[kind] += params[kind] * part * (16.0 - bits[kind]) / 8
    return out


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

    'auto' (alone or in a list) is the native precision (or its fallback) plus every build the
    model's publisher ships in a datatype `acc` runs natively — Meta's FP8 Llama 4 Maverick, Qwen's
    FP8 Qwen3 — since those are the same model served as published (see e.g.
    https://huggingface.co/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8). Lossy
    third-party builds (AWQ/GPTQ int4, GGUF, int8, another party's FP8/NVFP4) are tried only when
    asked for by id: their accuracy is the buyer's call, not the optimizer's.
    """
    asked: list[str] = []
    from_auto: set[str] = set()
    for p in ([precision] if isinstance(precision, str) else precision):
        if p != "auto":
            asked.append(p)
            continue
        builds = [v.id for v in model.variants if v.id != model.native_precision
                  and _publisher_native_build(model, v, acc)]
        asked += [model.native_precision, *builds]
        from_auto |= set(builds)
    seen: dict[str, tuple[Variant, str]] = {}
    for p in asked:
        found = runnable_variant(model, acc, p)
        if found is not None and found[0].id not in seen:
            if p in from_auto:
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


def _entry_bytes(model: Model, kv_dtype: str, heads: int | None, head_dim: int | None) -> float:
    """Bytes one layer stores per token: K and V of `heads` heads (GQA/MHA; V at `v_head_dim` when
    it differs, as in MiMo-V2), the MLA latent plus
    its RoPE key, or the model's own fixed cache entry (`attention.entry_bytes`)."""
    att = model.attention
    if att.entry_bytes is not None:
        return att.entry_bytes
    if att.fp8_entry_bytes is not None and resolve_kv_dtype(kv_dtype) == "fp8":
        return att.fp8_entry_bytes
    b = KV_DTYPE_BYTES[resolve_kv_dtype(kv_dtype)]
    if att.kind == "mla":
        return (att.kv_lora_rank + att.qk_rope_head_dim) * b  # type: ignore[operator]
    return heads * (head_dim + (att.v_head_dim or head_dim)) * b  # type: ignore[operator]


def _layer_entries(model: Model, kv_dtype: str, tp: int = 1) -> tuple[float, float]:
    """(bytes per token of a full layer, of a sliding-window layer) on one of `tp` tensor-parallel
    ranks: each keeps ceil(heads / tp) KV heads of each kind (a head is replicated when there are
    fewer heads than ranks)."""
    att = model.attention
    w_heads = att.window_kv_heads or att.kv_heads
    full_heads, window_heads = math.ceil(att.kv_heads / tp), math.ceil(w_heads / tp)
    full = _entry_bytes(model, kv_dtype, full_heads, att.head_dim)
    window = _entry_bytes(model, kv_dtype, window_heads, att.window_head_dim or att.head_dim)
    return full, window


def _per_layer_token_bytes(model: Model, kv_dtype: str, tp: int) -> float:
    """KV bytes per token per decoder layer, averaged over `model.layers`, on one of `tp` tensor-parallel
    ranks: `kv_bytes_per_token` / layers. Windowed layers count every token here (their cap applies per
    request); linear layers count nothing."""
    return _token_bytes(model, kv_dtype, tp) / model.layers


def _token_bytes(model: Model, kv_dtype: str, tp: int = 1) -> float:
    att = model.attention
    full, window = _layer_entries(model, kv_dtype, tp)
    compressed = sum(c.layers * (full + (att.indexer_bytes_per_token or 0.0) * c.indexer) / c.ratio
                     for c in att.compressed)
    indexer = att.indexer_layers * (att.indexer_bytes_per_token or 0.0)
    full_layers = model.kv_layers - att.window_layers
    return full_layers * full + att.window_layers * window + compressed + indexer


def kv_bytes_per_token(model: Model, kv_dtype: str = "auto") -> float:
    """The model's own KV-cache bytes per token over all layers, before any sharding.

    Sum over layer kinds (each at `kv_dtype`, `attention.entry_bytes` when the model fixes
    its cache format):
      full layers      2 × kv_heads × head_dim × b (GQA/MHA), (kv_lora_rank + rope) × b (MLA;
                       `attention.fp8_entry_bytes` at fp8 where the kernels store scales beside it)
      window layers    the same with their own heads, counted per token (the window cap is
                       applied per request, `kv_bytes_per_request`)
      compressed       layers × (entry + indexer key) / ratio (DeepSeek-V4 CSA/HCA)
      indexer          indexer_layers × indexer key bytes (DeepSeek-V3.2's lightning indexer)
      linear layers    nothing per token: a fixed state per request (`state_bytes_per_request`)
    Sources: vLLM's KV-cache specs (vllm/v1/kv_cache_interface.py; the DeepSeek-V4 cache entry
    of 448 fp8 + 64 bf16 RoPE + 8 scale bytes and the 128 + 4-byte indexer key in
    vllm/model_executor/layers/deepseek_v4_attention.py).
    """
    return _token_bytes(model, kv_dtype)


def state_bytes_per_request(model: Model) -> float:
    """Bytes of fixed per-request state: linear-attention (Gated DeltaNet, Kimi Delta Attention)
    and Mamba-2 layers hold a convolution state and a recurrent state whatever the context
    length. `linear_layers × state_bytes_per_layer`; 0 for models without such layers.
    State shapes: vLLM's MambaStateShapeCalculator (vllm/model_executor/layers/mamba/mamba_utils.py).
    """
    att = model.attention
    return att.linear_layers * (att.state_bytes_per_layer or 0.0)


def kv_bytes_per_request(model: Model, kv_dtype: str, context_tokens: int, tp: int = 1) -> float:
    """Cache bytes one sequence of `context_tokens` holds, whole model: full layers keep every
    token, windowed layers at most `window_tokens`, compressed layers one entry per `ratio`
    tokens (rounded up) on top of their window, indexer keys for every token, plus the fixed
    state of linear layers (`state_bytes_per_request`).

    With `tp` > 1: what one of `tp` tensor-parallel ranks holds of it — ceil(heads / tp) KV heads
    of each layer kind, the MLA latent and indexer keys whole (replicated), the linear layers'
    state split by heads (vLLM's MambaStateShapeCalculator divides heads and conv channels by tp).
    """
    att = model.attention
    full, window = _layer_entries(model, kv_dtype, tp=tp)
    full_layers = model.kv_layers - att.window_layers
    windowed = att.window_layers * window * min(context_tokens, att.window_tokens or context_tokens)
    compressed = sum(c.layers * (full + (att.indexer_bytes_per_token or 0.0) * c.indexer)
                     * math.ceil(context_tokens / c.ratio) for c in att.compressed)
    indexer = att.indexer_layers * (att.indexer_bytes_per_token or 0.0) * context_tokens
    state = state_bytes_per_request(model) / tp
    return full_layers * full * context_tokens + windowed + compressed + indexer + state


def choose_layout(model: Model, gpus_per_node: int, nodes: int, dp_attention: bool = False,
                  split: str = "tensor") -> Layout:
    """Largest tensor-parallel size inside a node that divides both the node and the
    attention heads (engines require heads % tp == 0); the rest is pipeline stages.
    A `layer` split (llama.cpp across GPUs) puts whole layers on each device: tp = 1.
    Data-parallel attention applies to MLA or MoE models with tp > 1: the tp ranks become attention
    groups of one rank each (attention TP 1, dp = tp). optimizer/layouts.py searches every other layout."""
    tp = 1
    for t in range(gpus_per_node, 0, -1):
        if split == "layer":
            break
        if gpus_per_node % t == 0 and model.attention.heads % t == 0:
            tp = t
            break
    pp = nodes * gpus_per_node // tp
    if dp_attention and tp > 1 and (model.attention.kind == "mla" or model.moe is not None):
        return Layout(tp=1, dp=tp, pp=pp, nodes_per_replica=nodes)
    return Layout(tp=tp, pp=pp, nodes_per_replica=nodes)


def kv_rank_bytes_per_token(model: Model, kv_dtype: str, layout: Layout) -> float:
    """KV bytes one rank stores per token it holds: its layers; its share of the KV heads under attention
    tensor parallelism (each attention DP group holds its own sequences; attention TP 1: all heads); MLA's
    latent whole."""
    if layout.numa_spread:  # one process: the cache's pages spread evenly over the sockets
        return _token_bytes(model, kv_dtype) / layout.ranks
    layers_per_rank = math.ceil(model.layers / layout.pp)
    # MLA's latent entry does not depend on the heads a rank holds: it is whole on every rank.
    return layers_per_rank * _per_layer_token_bytes(model, kv_dtype, layout.tp)


def attention_params(model: Model) -> float:
    """Parameters in the attention blocks of all layers.

    GQA/MHA: q and o projections (hidden × heads·hd each) plus k and v (hidden × kv·hd each).
    MLA: approximated as 4 · hidden² per layer (DeepSeek-V3: 187M actual vs 206M by this rule).
    """
    att, h = model.attention, model.hidden_size
    if att.kind == "mla":
        per_layer = 4 * h * h
    else:
        per_layer = 2 * h * att.heads * att.head_dim + 2 * h * att.kv_heads * att.head_dim  # type: ignore[operator]
    return per_layer * model.layers


def engine_runs(engine: Engine, acc: Accelerator, variant: Variant) -> bool:
    return acc.family in engine.families and variant.format in engine.formats


# ---------------------------------------------------------------- engine memory, per accelerator (rank)

@dataclass(frozen=True)
class Settings:
    """Engine settings after defaults: what the sizing assumed (see problem.EngineSettings for each
    engine's option names). `given` names the fields the user set; the rest are the engine's defaults."""

    memory_utilization: float
    max_batch: int | None          # None: the engine has no default cap (memory decides)
    max_batched_tokens: int
    max_model_len: int
    eager: bool
    given: tuple[str, ...] = ()
    version: str = ""            # the engine release whose memory rules apply
    cuda_graphs: bool = True     # False in eager mode, on CPUs, and for engines without graph memory (llama.cpp)
    release: str | None = None   # the release asked (--engine-version); None: the newest, whose speed rules apply

    def to_json(self) -> dict:
        """The settings as plans and estimates print them: `engine_version` is the release asked ("newest" when
        none was), `memory_rules_version` the release whose memory rules apply (the nearest sourced one)."""
        return {"memory_utilization": round(self.memory_utilization, 4), "max_batch": self.max_batch,
                "max_batched_tokens": self.max_batched_tokens, "max_model_len": self.max_model_len,
                "eager": self.eager, "cuda_graphs": self.cuda_graphs, "engine_version": self.release or "newest",
                "memory_rules_version": self.version}

    def graphs_text(self) -> str:
        """'CUDA graphs', 'eager (no CUDA graphs)' or 'no CUDA graphs' (CPU, llama.cpp)."""
        if self.cuda_graphs:
            return "CUDA graphs"
        return "eager (no CUDA graphs)" if self.eager else "no CUDA graphs"

    def short(self) -> str:
        """One line for plans: util 0.90, max batch 1024, 8192 tok/step, max_model_len 131072, graphs."""
        batch = "auto" if self.max_batch is None else f"{self.max_batch}"
        return (f"util {self.memory_utilization:.2f}, max batch {batch}, {self.max_batched_tokens} tok/step, "
                f"max_model_len {self.max_model_len}, {self.graphs_text()}")


def _default_tier_gib(engine: Engine, acc: Accelerator) -> float:
    """The memory (GiB) whose tier sets the engine's default batch and batched tokens: the card's, but the lowest
    tier for cards that keep the small-memory defaults whatever their memory (vLLM: A100)."""
    return 1.0 if acc.id in engine.memory.large_defaults_exclude else acc.memory_bytes / GIB


# TensorRT-LLM's KV-cache block (KvCacheConfig tokens_per_block, default 64 tokens): its tuning guide asks for
# max_num_tokens in whole blocks.
KV_BLOCK_TOKENS = 64


def whole_prompt_settings(engine: Engine, acc: Accelerator, given: EngineSettings | None,
                          input_tokens: int) -> EngineSettings | None:
    """Engine settings under which `engine` on `acc` accepts prompts of `input_tokens` (`given`, None for the
    engine's defaults), or None when the given settings make it refuse them.

    An engine that runs each prompt in one step (serving.WHOLE_PROMPTS: TensorRT-LLM, whose
    `enable_chunked_prefill` is off by default) rejects a prompt longer than its max_num_tokens ("The sum of
    prompt length ... should not exceed max_num_tokens", https://github.com/NVIDIA/TensorRT-LLM/issues/9277; its
    DeepSeek-R1 guide: max_num_tokens "needs to be large enough so that it covers the max input sequence length",
    docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md). Unless given, its max_batched_tokens
    is raised from the default to input_tokens rounded up to whole KV blocks (KV_BLOCK_TOKENS), which the memory
    sizing then charges for its activations; given below input_tokens: None. Engines that split long prompts
    into chunks: `given` unchanged (the engine's defaults for None)."""
    g = given or EngineSettings()
    if engine.id not in serving.WHOLE_PROMPTS:
        return g
    if g.max_batched_tokens is not None:
        return g if g.max_batched_tokens >= input_tokens else None
    if engine.max_batched_tokens(_default_tier_gib(engine, acc)) >= input_tokens:
        return g
    return g.model_copy(update={"max_batched_tokens": math.ceil(input_tokens / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS})


def resolve_settings(engine: Engine, acc: Accelerator, model: Model, layout: Layout,
                     given: EngineSettings | None = None) -> Settings:
    """Each setting as given, else the engine's default (engines.yaml `memory.defaults_version`):
    memory fraction (SGLang: its reserved-memory rule), max batch and max batched tokens by memory tier
    (vLLM keeps the small-GPU defaults on A100), max_model_len = the model's context, CUDA graphs on
    (never on CPUs, nor for an engine with no graph sizes: llama.cpp), the newest sourced engine release.

    Raises InputError when max_model_len exceeds the model's context (vLLM refuses such a value), or when the
    engine version is older than the first release that serves the model (`Model.min_engine_versions`).
    """
    g = given or EngineSettings()
    memory_gib = acc.memory_bytes / GIB
    tier_gib = _default_tier_gib(engine, acc)
    if g.memory_utilization is not None:
        util = g.memory_utilization
    elif engine.memory.rule == "sglang":
        util = engine.default_fraction(memory_gib, layout.ranks, layout.dp_attention)
    else:
        util = engine.memory_utilization
    if g.max_model_len is not None and g.max_model_len > model.max_context:
        raise InputError(f"--max-model-len = {g.max_model_len:,}: {model.id} takes at most {model.max_context:,} "
                         f"tokens (its context); {engine.name} refuses a longer max_model_len.")
    max_batch = g.max_batch if g.max_batch is not None else engine.max_batch(tier_gib)
    tokens = g.max_batched_tokens if g.max_batched_tokens is not None else engine.max_batched_tokens(tier_gib)
    length = g.max_model_len or model.max_context
    if g.max_batched_tokens is None and length <= engine.memory.unchunked_up_to_tokens:
        # vLLM V0 (before 0.8.0): chunked prefill off by default up to 32K tokens, so one step (and the profile
        # run) takes a whole max_model_len prompt: max(max_model_len, 2,048) tokens.
        tokens = max(length, 2048)
    _check_release_numbering(engine, g.version)
    _check_min_version(model, engine, g.version)
    _, version = engine.memory.for_version(g.version)
    graphs = not g.eager and acc.family != "cpu"
    return Settings(memory_utilization=util, max_batch=max_batch, max_batched_tokens=tokens,
                    max_model_len=g.max_model_len or model.max_context, eager=g.eager,
                    given=tuple(k for k, v in g.model_dump().items() if v not in (None, False)),
                    version=version, cuda_graphs=graphs, release=g.version)


def _check_release_numbering(engine: Engine, version: str | None) -> None:
    """InputError when `version` (--engine-version) is numbered unlike `engine`'s releases
    (`Engine.release_numbering_error`)."""
    why = engine.release_numbering_error(version)
    if why:
        raise InputError(f"--engine-version (engine_settings.version) = {version}: {why}")


def _check_min_version(model: Model, engine: Engine, version: str | None) -> None:
    """InputError when `version` (--engine-version) is older than the first release of `engine` that serves
    `model` (catalog `min_engine_versions`, with its source). No version given: the newest release, which does."""
    need = model.min_engine_version(engine.id)
    if version is None or need is None:
        return
    from catalog.schema import version_key

    if version_key(version) < version_key(need.version):
        raise InputError(f"--engine-version (engine_settings.version) = {version}: {engine.name} serves {model.id} from release {need.version} "
                         f"on ({need.source.split()[0]}); {engine.name} {version} cannot load it. Give --engine-version "
                         f"{need.version} or later, or leave it unset for the newest release.")


def ffn_sizes(model: Model) -> tuple[float, float]:
    """(dense MLP intermediate size, MoE expert intermediate size), from the model's config
    (`intermediate_size`, `moe.moe_intermediate_size`).

    A catalog entry without the expert width gets it from its parameters: expert_params / (moe_layers ×
    experts × 3 × hidden) (gate, up and down projections), rounded (gpt-oss-120b: 2,879.97 → 2,880).
    """
    moe_i = 0.0
    if model.moe:
        moe_i = float(model.moe.moe_intermediate_size or round(
            model.moe.expert_params_b * 1e9 / (model.moe.moe_layers * model.moe.experts * 3 * model.hidden_size)))
    return float(model.intermediate_size), moe_i


def _embedding_params(model: Model) -> float:
    """Input embedding + output head (lm_head), vocab × hidden each; one matrix when the model ties them
    (`tie_word_embeddings`, where the catalog records it). assumption: untied otherwise, as in every model
    above 7B in the catalog (tied heads are a small-model choice)."""
    copies = 1.0 if getattr(model, "tie_word_embeddings", False) else 2.0
    return copies * model.vocab_size * model.hidden_size


@dataclass(frozen=True)
class WeightParts:
    """Bytes of the loaded weights of the whole model, in the three parts engines shard differently;
    `draft` is the share of them that is a speculative-decoding draft (the model's MTP modules, or an
    EAGLE-3 head), loaded only when the deployment speculates with it."""

    embeddings: float   # embedding + lm_head (16-bit in quantized checkpoints)
    dense: float        # attention, dense MLP, shared experts, norms, router
    experts: float      # routed experts
    draft: float = 0.0  # of the above: the draft's bytes (MTP experts in `experts`, the rest in `dense`)

    @property
    def total(self) -> float:
        return self.embeddings + self.dense + self.experts


def checkpoint_has_mtp(model: Model, variant: Variant) -> bool:
    """Whether `variant`'s bytes include the model's MTP modules: a measured safetensors size does (the
    published checkpoints ship them: DeepSeek-R1 fp8 690 GB = 671B main + 14B MTP, DeepSeek-V3
    README_WEIGHTS.md); a size from params × bits does not (params_b leaves them out), nor does a GGUF
    (llama.cpp's convert_hf_to_gguf.py drops the layers past num_hidden_layers)."""
    return model.mtp is not None and variant.size_gb is not None and variant.format == "safetensors"


def mtp_parts(model: Model, variant: Variant) -> WeightParts:
    """Bytes of the model's MTP modules in `variant` (all zero without them): their routed experts at the
    experts' bits, the rest (the layer's attention and shared expert, the 2h → h projection, and the
    embedding and head copies of DeepSeek-V3-style checkpoints) at 16 bits in a quantized safetensors
    checkpoint, as its embeddings (`weight_bytes`; DeepSeek-V3's fp8 checkpoint keeps them in bf16), else at
    the variant's bits. DeepSeek-R1 fp8: 11.27B × 8.002 / 8 + 2.19B × 2 = 15.7 GB."""
    if model.mtp is None:
        return WeightParts(embeddings=0.0, dense=0.0, experts=0.0)
    bits = _bits(model, variant)
    own = variant.module_bits.experts if variant.module_bits is not None else None
    experts = model.mtp.expert_params_b * 1e9 * (own or bits) / 8
    rest_bits = 16.0 if variant.format == "safetensors" and bits < 16 else bits
    rest = (model.mtp.params_b - model.mtp.expert_params_b) * 1e9 * rest_bits / 8
    return WeightParts(embeddings=0.0, dense=rest, experts=experts)


# EAGLE-3 heads predict over a 32K draft vocabulary mapped onto the target's (vLLM's speculators
# Eagle3SpeculatorConfig `draft_vocab_size`, https://github.com/vllm-project/speculators).
EAGLE_DRAFT_VOCAB = 32_000


def draft_kv_layers(model: Model, draft: str | None) -> int:
    """Layers of KV cache the draft of speculative method `draft` adds, each per token like one of the model's
    full-attention layers (assumption: the draft layer's entry is the model's): MTP one per MTP module (catalog
    Model.mtp.layers), an EAGLE-3 head one, n-gram none. vLLM's V1 engine gives the drafter's attention layers
    blocks from the model's pool (vllm/v1/spec_decode/eagle.py registers them in the forward context the KV-cache
    spec is read from: Llama-3.1-8B with an EAGLE head logs 132 KiB per token, 33 layers' worth, vLLM issue
    19996); SGLang's draft worker allocates its own pool for as many tokens."""
    if draft == "mtp":
        return model.mtp.layers if model.mtp is not None else 0
    return 1 if draft == "eagle" else 0


def eagle_head_params(model: Model) -> float:
    """Parameters of an EAGLE-3 draft head for `model` (EAGLE-3, Li et al., arXiv:2503.01840; the Llama-style head
    of vLLM's and SGLang's llama_eagle3.py): the fc fusing three target hidden states (3h × h); one decoder layer
    whose q/k/v read the 2h concatenation of embedding and fused state (2h × (q + 2·kv) dims) with an o projection
    (q dims × h) and a gated MLP at the model's dense width (3 × h × intermediate); an LM head over the 32K draft
    vocabulary (EAGLE_DRAFT_VOCAB × h). The input embedding is the target's (vLLM shares it when the shapes
    match). q and kv dims: the model's heads × head_dim; assumption for MLA models, whose heads carry no single
    head_dim: an MHA layer of hidden width (q = kv = h)."""
    att, h = model.attention, model.hidden_size
    if att.kind == "mla" or att.head_dim is None:
        q, kv = h, h
    else:
        q, kv = att.heads * att.head_dim, att.kv_heads * att.head_dim
    return 3 * h * h + 2 * h * (q + 2 * kv) + q * h + 3 * h * model.intermediate_size + EAGLE_DRAFT_VOCAB * h


def weight_parts(model: Model, variant: Variant, acc: Accelerator | None = None,
                 engine: Engine | None = None, *, draft: str | None = None) -> WeightParts:
    """The checkpoint's bytes by part, as `engine` loads them on `acc`, with the draft of speculative method
    `draft` (mtp | eagle | ngram | None).

    The total is `weight_bytes` (a measured size, or params × bits / 8 with the 16-bit embeddings of
    quantized safetensors checkpoints; `module_bytes` per kind for per-module precision), less the MTP
    modules a checkpoint ships (`mtp_parts`, `checkpoint_has_mtp`) unless `draft` is "mtp" (then they are
    counted, their experts with the experts); with "eagle", plus an EAGLE-3 head in 16 bits
    (`eagle_head_params`, a dense part: split over attention TP like the model's). Experts take their
    share at the variant's bits (or their own); where the engine
    pads MXFP4 MoE weights on cards without fp4 units (vLLM's Marlin path, engines.yaml
    `memory.mxfp4_moe_pad`), the experts grow by (padded hidden × padded intermediate) / (hidden ×
    intermediate): gpt-oss-120b 2880 → 3072 × 2944, ×1.0904, 65.9 GiB loaded vs vLLM's 65.97 GiB
    (https://github.com/vllm-project/vllm/issues/23278).
    """
    mtp = mtp_parts(model, variant)
    total = weight_bytes(model, variant) - (mtp.total if checkpoint_has_mtp(model, variant) else 0.0)
    if variant.mixed:  # per-module precision: each kind at its own bits (a measured size spread in proportion)
        by_kind = module_bytes(model, variant)
        scale = total / sum(by_kind.values())
        embed, experts = (by_kind["embeddings"] + by_kind["lm_head"]) * scale, by_kind["experts"] * scale
    else:
        embed = _embedding_params(model) * (2.0 if variant.format == "safetensors" else _bits(model, variant) / 8)
        embed = min(embed, total * 0.5)
        experts = min(model.moe.expert_params_b * 1e9 * _bits(model, variant) / 8, total - embed) if model.moe else 0.0
    dense = total - embed - experts
    loaded = 0.0   # the draft's bytes
    if draft == "mtp":
        dense, experts, loaded = dense + mtp.dense, experts + mtp.experts, mtp.total
    elif draft == "eagle":
        loaded = eagle_head_params(model) * 2
        dense += loaded
    pad = engine.memory.mxfp4_moe_pad if engine is not None else {}
    if model.moe and pad and acc is not None and variant.id.startswith("mxfp4") and not acc.has_native("fp4"):
        _, moe_i = ffn_sizes(model)
        h = model.hidden_size
        experts *= (_round_up(h, pad.get("hidden", 1)) * _round_up(moe_i, pad.get("intermediate", 1))) / (h * moe_i)
    return WeightParts(embeddings=embed, dense=dense, experts=experts, draft=loaded)


def _bits(model: Model, variant: Variant) -> float:
    if variant.bits_per_weight is not None:
        return variant.bits_per_weight
    return weight_bytes(model, variant) * 8 / (model.params_b * 1e9)


def _round_up(x: float, multiple: int) -> float:
    return math.ceil(x / multiple) * multiple


def weights_per_rank(parts: WeightParts, layout: Layout) -> float:
    """Bytes of weights on the most loaded rank.

    Tensor parallelism splits every part, the vocabulary too (vLLM VocabParallelEmbedding/ParallelLMHead,
    SGLang likewise); pipeline stages split the layers, the first holding the embedding and the last the
    head (one of the two per stage). Data-parallel attention splits the embeddings and the dense part
    over attention TP only (each of the dp groups holds a whole copy) and the experts over all ranks
    (expert parallel, or MoE tensor parallel: the same bytes per rank).
    """
    if layout.dp > 1:
        embeddings = parts.embeddings if layout.pp == 1 else parts.embeddings / 2
        return (parts.dense / layout.pp + embeddings) / layout.tp + parts.experts / layout.ranks
    if layout.pp == 1:
        return parts.total / layout.tp
    return ((parts.dense + parts.experts) / layout.pp + parts.embeddings / 2) / layout.tp


def activation_peak_bytes(model: Model, layout: Layout, settings: Settings, engine: Engine) -> float:
    """Peak memory of the engine's profile run on one rank, bytes (bf16 activations, 2 B).

    vLLM (gpu_model_runner.py profile_run): a forward pass over `max_batched_tokens` tokens, then
    `_dummy_sampler_run` on min(max_batch, max_batched_tokens) rows of logits over the vocabulary;
    the peak is the larger of the two plus the hidden states kept between them. Forward: the residual
    and layer input (2 × tokens × hidden) plus the largest layer intermediate: attention q/k/v
    (tokens × (heads + 2 kv_heads) × head_dim / tp), dense MLP gate/up + activation
    (3 × tokens × intermediate / tp), or the fused-MoE caches of a chunk of at most
    `memory.moe_chunk_tokens` tokens (tokens × top-k × (max(2 × intermediate, hidden) + intermediate)),
    with the gathered input and output (2 × tokens × hidden); under data-parallel attention every
    rank's MoE sees all tp ranks' tokens. Sampler: rows × vocab × `memory.sampler_bytes_per_logit`.
    TensorRT-LLM's profiling forward over max_num_tokens is sized the same way.
    """
    b = 2.0
    tokens = chunk_tokens_per_group(engine, layout, settings.max_batched_tokens)   # SGLang splits it over DP
    h = model.hidden_size
    att = model.attention
    attention_tp = layout.tp
    head_dim = att.head_dim or ((att.qk_nope_head_dim or 128) + (att.qk_rope_head_dim or 64))
    kv_heads = att.kv_heads or att.heads
    hidden = tokens * h * b
    attention = tokens * (att.heads + 2 * kv_heads) * head_dim * b / attention_tp
    dense_i, moe_i = ffn_sizes(model)
    dense = tokens * 3 * dense_i * b / attention_tp if (model.moe is None or model.moe.moe_layers < model.layers) else 0.0
    moe = 0.0
    if model.moe:
        moe_tokens = tokens * layout.dp
        chunk = min(moe_tokens, engine.memory.moe_chunk_tokens)
        inter = moe_i / layout.moe_tp
        moe = chunk * model.moe.experts_per_token * (max(2 * inter, h) + inter) * b + 2 * moe_tokens * h * b
    forward = 2 * hidden + max(attention, dense, moe)
    rows = min(settings.max_batch or tokens, tokens)
    sampler = rows * model.vocab_size * engine.memory.sampler_bytes_per_logit
    return max(forward, sampler) + hidden


def non_torch_bytes(engine: Engine, layout: Layout) -> float:
    """Memory outside the allocator that the engine counts in its budget (cuBLAS/NCCL workspaces,
    communicators, custom all-reduce buffers), bytes; engines.yaml memory.non_torch_*_gib."""
    mem = engine.memory
    return (mem.non_torch_multi_rank_gib if layout.ranks > 1 else mem.non_torch_gib) * GIB


def custom_allreduce(acc: Accelerator, layout: Layout) -> bool:
    """vLLM's custom all-reduce kernel runs on NVLink-connected GPUs, or at most two PCIe GPUs
    (vllm/distributed/device_communicators/custom_all_reduce.py); elsewhere NCCL does the all-reduce."""
    return acc.form_factor != "pcie" or layout.tp <= 2


def captured_graph_sizes(engine: Engine, settings: Settings) -> list[int]:
    """Batch sizes the engine captures as CUDA graphs: its default list up to max batched tokens; none when eager
    or on a CPU."""
    if settings.eager or not settings.cuda_graphs:
        return []
    return [s for s in engine.memory.cuda_graph_sizes if s <= settings.max_batched_tokens]


def cuda_graph_bytes(model: Model, layout: Layout, settings: Settings, engine: Engine, acc: Accelerator) -> float:
    """CUDA-graph memory on one rank, bytes: per captured size, each dense layer's and each MoE layer's
    pool (the MoE one growing with the experts on the rank), plus, for tensor parallelism without the custom
    all-reduce, two NCCL all-reduces per layer captured in every graph (engines.yaml memory.graph_*, with
    the start-up logs they come from). Zero in eager mode."""
    sizes = captured_graph_sizes(engine, settings)
    if not sizes:
        return 0.0
    mem = engine.memory
    moe_layers = model.moe.moe_layers if model.moe else 0
    layers = math.ceil(model.layers / layout.pp)
    moe_local = math.ceil(moe_layers / layout.pp)
    dense_local = max(layers - moe_local, 0)
    experts = (model.moe.experts / layout.ep) if model.moe else 0
    per_size = (dense_local * mem.graph_dense_layer_kib + moe_local * (mem.graph_moe_layer_kib
                + mem.graph_moe_expert_kib * experts)) * 1024
    if layout.tp > 1 and layout.dp == 1 and not custom_allreduce(acc, layout):
        per_size += layers * 2 * mem.graph_nccl_allreduce_mib * 2**20
    return len(sizes) * per_size


def request_kv_bytes(model: Model, kv_dtype: str, layout: Layout, tokens: int, settings: Settings,
                     block_tokens: int = 16) -> float:
    """KV bytes one rank needs for one request of `tokens` tokens, as vLLM checks it at start-up
    (kv_cache_utils.py check_enough_kv_cache_memory: full-attention layers cdiv(tokens, 16) blocks;
    sliding-window layers min(window − 1 + max_batched_tokens, tokens) tokens plus one block).

    The rank's share comes from `kv_bytes_per_request(..., tp)` (its KV heads of each layer kind, the
    MLA latent whole, linear state split by heads; windowed layers capped at the window) over its
    pipeline stage's layers; vLLM's extra blocks for windowed layers are added on top.
    """
    if layout.numa_spread:
        return request_rank_bytes(model, kv_dtype, layout, tokens)
    rounded = int(_round_up(tokens, block_tokens))
    tp = layout.tp  # attention tensor parallel (each attention DP group holds its own sequences)
    rank = kv_bytes_per_request(model, kv_dtype, rounded, tp=tp)
    att = model.attention
    if att.window_layers and att.window_tokens:
        engine_window = min(att.window_tokens - 1 + settings.max_batched_tokens, tokens)
        engine_window = _round_up(engine_window, block_tokens) + block_tokens
        _, window_entry = _layer_entries(model, kv_dtype, tp=tp)
        rank += att.window_layers * window_entry * max(engine_window - min(att.window_tokens, rounded), 0)
    return rank * _stage_share(model, layout)


def request_rank_bytes(model: Model, kv_dtype: str, layout: Layout, context_tokens: int) -> float:
    """Cache bytes one rank holds of one request of `context_tokens` (prompt + output), engine-neutral:
    `kv_bytes_per_request` at the attention's tensor-parallel size (1 under data-parallel attention), over
    the rank's pipeline stage (ceil(layers / pp) of the layers). One NUMA-spread process (llama.cpp on a
    CPU host): the request's bytes spread evenly over the sockets."""
    if layout.numa_spread:
        return kv_bytes_per_request(model, kv_dtype, context_tokens) / layout.ranks
    tp = layout.tp  # attention tensor parallel (attention DP groups hold their own requests)
    return kv_bytes_per_request(model, kv_dtype, context_tokens, tp=tp) * _stage_share(model, layout)


def _stage_share(model: Model, layout: Layout) -> float:
    """Share of the layers one pipeline stage holds (the largest stage)."""
    return math.ceil(model.layers / layout.pp) / model.layers


@dataclass(frozen=True)
class RankMemory:
    """One accelerator's memory as the engine spends it, bytes; laid out like the start-up log.

    total: memory the driver reports (vLLM 'total_gpu_memory'); usable: the engine's share of it
    (vLLM utilization × total, 'requested memory'; SGLang mem_fraction_static × total; TensorRT-LLM
    total − peak); weights ('Model loading took'); activations (profile-run peak, 'torch peak
    increase'); cuda_graphs ('Graph capturing finished … took'); other (non-torch memory: NCCL,
    cuBLAS, CUDA context as the engine counts it); kv_cache ('Available KV cache memory';
    negative: nothing is left).
    """

    total: float
    usable: float
    weights: float
    activations: float
    cuda_graphs: float
    other: float
    kv_cache: float
    graphs_in_budget: bool = True

    def gib(self) -> dict[str, float]:
        return {k: round(getattr(self, k) / GIB, 2) for k in
                ("total", "usable", "weights", "activations", "cuda_graphs", "other", "kv_cache")}


@dataclass(frozen=True)
class MemoryFit:
    """Memory picture of one replica: per-rank terms, capacity and whether the engine starts."""

    layout: Layout
    gpus: int
    weights_bytes: float           # whole replica (the checkpoint as loaded)
    weights_per_gpu: float         # on the most loaded rank
    reserve_per_gpu: float         # everything else the engine holds back per rank (activations, graphs, other)
    kv_budget_per_gpu: float       # may be negative: the weights do not fit
    kv_bytes_per_token: float      # the model's own, unsharded
    rank_bytes_per_token: float    # what one rank stores per token it holds
    kv_capacity_tokens: int        # tokens the replica can hold
    memory_bytes: float            # memory of the replica as the driver reports it
    rank: RankMemory | None = None
    settings: Settings | None = None
    request_kv_bytes: float = 0.0  # one max_model_len request, per rank
    why_not: str | None = None     # why the engine would not start; None: it starts
    slots: int | None = None       # fixed request slots (llama.cpp --parallel); None: memory decides
    draft_weights_bytes: float = 0.0  # of weights_bytes: the speculative draft (MTP modules, EAGLE-3 head)
    model_weights_per_gpu: float | None = None  # weights_per_gpu without the draft (None: the same)

    @property
    def model_weights_bytes(self) -> float:
        """The main model's loaded weights (what a decode step reads), the draft left out."""
        return self.weights_bytes - self.draft_weights_bytes

    @property
    def model_weights_rank(self) -> float:
        """The main model's weights on the most loaded rank (what its decode step reads), bytes."""
        return self.weights_per_gpu if self.model_weights_per_gpu is None else self.model_weights_per_gpu

    @property
    def kv_budget_total(self) -> float:
        return max(self.kv_budget_per_gpu, 0.0) * self.gpus

    @property
    def weights_fit(self) -> bool:
        return self.kv_budget_per_gpu > 0

    @property
    def starts(self) -> bool:
        return self.why_not is None


def _g(x: float) -> str:
    return f"{x / GIB:,.2f} GiB"


def memory_fit(model: Model, variant: Variant, acc: Accelerator, engine: Engine, *,  # noqa: C901 — the engine's start-up sequence in its own order, one branch per engine memory rule
               gpus_per_node: int, nodes: int = 1, kv_dtype: str = "auto", dp_attention: bool = False,
               settings: EngineSettings | None = None, layout: Layout | None = None,
               draft: str | None = None) -> MemoryFit:
    """Memory of a replica of `nodes` × `gpus_per_node` accelerators, per rank, as `engine` spends it.

    Per accelerator (bytes; `total` = visible memory, u = memory utilization):
    - vllm (gpu_worker.py determine_available_memory): KV = u × total − weights − activations − other;
      before 0.21.0 CUDA graphs are captured afterwards and must fit in (1 − u) × total − CUDA context,
      from 0.21.0 their estimate comes out of the budget too (KV = ... − graphs); one request of
      max_model_len must fit in the KV cache (kv_cache_utils.py check_enough_kv_cache_memory).
    - sglang (model_runner.py profile_max_num_token): KV = u × total − weights − other (held before
      loading); activations and graphs must fit in (1 − u) × total.
    - trtllm (_util.py KvCacheCreator): KV = u × (total − weights − activations − other − graphs).
    - fixed (llama.cpp): KV = --parallel slots (max_batch) × one max_model_len request (its -c), which must
      fit in total − weights − reserve (compute buffers); with no max_batch, the planner sizes --parallel to
      fill that memory. On a CPU host one process spreads over the sockets (`Layout.numa_spread`).
    The memory rules are those of `settings.version` (engines.yaml memory.versions; default the newest).
    `why_not` names the first term that fails, with both numbers. Capacity: KV // bytes per token per
    rank (× dp attention groups, each holding its own sequences). `layout` fixes how the replica is split
    (optimizer/layouts.py; default: `choose_layout`). `draft`, the speculative-decoding method (mtp | eagle |
    ngram | None), loads its draft's weights (`weight_parts`: the model's MTP modules only then) and gives its
    draft layers KV blocks from the same memory (`draft_kv_layers`): `kv_budget_per_gpu` is the model's share,
    L / (L + d) of the pool for L cache layers and d draft layers.

    Raises InputError for a max_model_len above the model's context.
    """
    kv_dtype = resolve_kv_dtype(kv_dtype, engine, variant)
    # The memory rules of the engine release asked for (engines.yaml memory.versions; default the newest).
    versioned, _ = engine.memory.for_version(settings.version if settings else None)
    if versioned is not engine.memory:
        engine = engine.model_copy(update={"memory": versioned})
    # llama.cpp splits layers across GPUs; on a CPU host it runs one process over the sockets
    # (`--numa distribute`): no tensor parallelism, the pages spread over the sockets' memory.
    numa = acc.family == "cpu" and engine.split == "layer"
    split = "tensor" if acc.family == "cpu" else engine.split
    if layout is None:
        layout = choose_layout(model, gpus_per_node, nodes, dp_attention and engine.dp_attention, split)
    if numa:
        layout = dataclasses.replace(layout, numa_spread=True)
    s = resolve_settings(engine, acc, model, layout, settings)
    gpus = gpus_per_node * nodes
    parts = weight_parts(model, variant, acc, engine, draft=draft)
    weights = _rank_weights(model, parts, layout)
    # What a decode step reads on that rank: the main model's share (the draft's reads are its own forwards).
    main_weights = _rank_weights(model, weight_parts(model, variant, acc, engine), layout) if parts.draft else weights
    total = acc.memory_bytes
    mem = engine.memory
    rule = mem.rule
    acts = activation_peak_bytes(model, layout, s, engine) if rule in ("vllm", "sglang", "trtllm") else 0.0
    graphs = cuda_graph_bytes(model, layout, s, engine, acc) if rule in ("vllm", "sglang", "trtllm") else 0.0
    other = non_torch_bytes(engine, layout)
    why: str | None = None
    if rule == "vllm":
        usable = s.memory_utilization * total
        # From vLLM 0.21.0 the profile run also captures the graphs, so they come out of the budget too.
        kv = usable - weights - acts - other - (graphs if mem.graphs_in_budget else 0.0)
    elif rule == "sglang":
        usable = s.memory_utilization * total
        kv = usable - weights - other
    elif rule == "trtllm":
        free = total - weights - acts - other - graphs
        usable = total
        kv = free * s.memory_utilization if free > 0 else free
    else:
        reserve = (mem.fixed_reserve_host_gib if acc.family == "cpu" else mem.fixed_reserve_gib) * GIB
        usable = total
        other = reserve
        kv = total - weights - reserve
        if s.max_batch is not None and kv > 0:
            # llama.cpp allocates the KV cache for -c = max_model_len × --parallel slots, no more.
            slots = s.max_batch
            allocated = slots * request_rank_bytes(model, kv_dtype, layout, s.max_model_len)
            if allocated > kv:
                why = (f"'KV self size' {_g(allocated)} for -c {slots * s.max_model_len:,} (--parallel {slots} × "
                       f"max_model_len {s.max_model_len:,}) is more than the {_g(kv)} left after weights "
                       f"{_g(weights)} and {_g(reserve)} of compute buffers (out of memory at start-up; lower "
                       f"--max-model-len or --max-batch)")
            kv = allocated
    rank = RankMemory(total=total, usable=usable, weights=weights, activations=acts, cuda_graphs=graphs,
                      other=other, kv_cache=kv, graphs_in_budget=mem.graphs_in_budget)
    # The draft's layers take their blocks from the same pool: the model keeps L / (L + d) of it.
    extra = draft_kv_layers(model, draft)
    if extra and kv > 0:
        kv *= model.kv_layers / (model.kv_layers + extra)
    rank_bytes = kv_rank_bytes_per_token(model, kv_dtype, layout)
    request = request_kv_bytes(model, kv_dtype, layout, s.max_model_len, s)
    if why is not None:
        pass
    elif kv <= 0:
        in_budget = graphs if rule == "vllm" and mem.graphs_in_budget else 0.0
        spent = ", ".join(f"{name} {_g(v)}" for name, v in (("activations", acts), ("CUDA graphs", in_budget),
                                                              ("other", other)) if v > 0)
        why = (f"weights {_g(weights)}{', ' + spent if spent else ''} leave no KV cache: {_g(usable)} usable on "
               f"{acc.id} ({_g(total)} visible, memory utilization {s.memory_utilization:.2f})")
    elif rule == "vllm" and request > kv:
        why = (f"one {s.max_model_len:,}-token request needs {_g(request)} of KV, {_g(kv)} is left after weights "
               f"{_g(weights)} and activations {_g(acts)} (vLLM refuses to start; lower --max-model-len or raise "
               f"--memory-utilization)")
    elif rule == "vllm" and not mem.graphs_in_budget and graphs > total - usable - mem.context_gib * GIB:
        room = total - usable - mem.context_gib * GIB
        why = (f"CUDA graphs need {_g(graphs)}, {_g(max(room, 0.0))} is left above memory utilization "
               f"{s.memory_utilization:.2f} (out of memory while capturing; --eager avoids it)")
    elif rule == "sglang" and acts + graphs > total - usable:
        why = (f"activations {_g(acts)} and CUDA graphs {_g(graphs)} need more than the {_g(total - usable)} "
               f"left outside mem_fraction_static {s.memory_utilization:.2f} (out of memory at start-up)")
    capacity = int(max(kv, 0.0) // rank_bytes) * layout.dp if rank_bytes > 0 else 0
    if rule == "fixed" and s.max_batch is not None:
        capacity = s.max_batch * s.max_model_len
    return MemoryFit(layout=layout, gpus=gpus, weights_bytes=parts.total, weights_per_gpu=weights,
                     reserve_per_gpu=acts + other + (graphs if mem.graphs_in_budget else 0.0),
                     kv_budget_per_gpu=kv, kv_bytes_per_token=kv_bytes_per_token(model, kv_dtype),
                     rank_bytes_per_token=rank_bytes, kv_capacity_tokens=capacity, memory_bytes=total * gpus,
                     rank=rank, settings=s, request_kv_bytes=request, why_not=why,
                     slots=s.max_batch if rule == "fixed" else None, draft_weights_bytes=parts.draft,
                     model_weights_per_gpu=main_weights)


def _rank_weights(model: Model, parts: WeightParts, layout: Layout) -> float:
    """`weights_per_rank`, plus the redundant experts (optimizer/layouts.py) that fill every EP rank with whole
    experts when the experts do not divide evenly."""
    weights = weights_per_rank(parts, layout)
    if model.moe is not None and layout.ep > 1 and model.moe.experts % layout.ep:
        weights += parts.experts * ((-model.moe.experts) % layout.ep) / model.moe.experts / layout.ranks
    return weights


def max_concurrency(model: Model, fit: MemoryFit, kv_dtype: str, context_tokens: int) -> int:
    """Requests of `context_tokens` (prompt + output) the replica's KV cache holds at once
    (windowed layers keep only their window, via `kv_bytes_per_request`, at the rank's tensor-parallel share);
    at most the engine's slots where it has fixed ones (llama.cpp --parallel); 0 if the engine does not start."""
    if fit.kv_budget_per_gpu <= 0 or not fit.starts:
        return 0
    per_request = request_rank_bytes(model, kv_dtype, fit.layout, context_tokens)
    held = int(fit.kv_budget_per_gpu // per_request) * fit.layout.dp
    return held if fit.slots is None else min(held, fit.slots)

"""A catalog model from its Hugging Face files: `config.json`, the safetensors index, the quantization config.

`import_model(path)` reads a local folder (or a `config.json` path) and returns a `Model`:
layers by kind (full, sliding-window, compressed, linear-attention, Mamba), the KV and
state geometry, total and active parameters counted from the shapes in `config.json`,
and the native variant — its precision, bits per weight and, when the folder holds
`model.safetensors.index.json`, the exact checkpoint size (`metadata.total_size`).
No network: every file is local. An architecture it does not know, or a field it
cannot read, raises `CatalogError` naming the file and the field.

Parameter counts (billions) follow the module shapes of the reference implementations
(Hugging Face transformers `modeling_*.py`; vLLM `vllm/model_executor/models/*.py`):
- GQA/MHA: q h·n·d (doubled with an output gate), k and v h·n_kv·d, o n·d_v·h.
- MLA (DeepSeek-V2/V3): q_a h·r_q, q_b r_q·n·(d_nope+d_rope), kv_a h·(r_kv+d_rope),
  kv_b r_kv·n·(d_nope+d_v), o n·d_v·h; DeepSeek-V3.2's indexer adds r_q·n_i·d_i + h·d_i + h·n_i.
- DeepSeek-V4: q_a h·r_q, q_b r_q·n·d, kv h·d (one 512-d head), o_a n·d·r_o, o_b g·r_o·h.
- SwiGLU MLP 3·h·i; MoE layers E routed experts of 3·h·i_e (latent MoE: on a smaller
  width) plus shared experts and an h·E router.
- Gated DeltaNet h·(2·n_k·d_k + 2·n_v·d_v + 2·n_v) + conv + n_v·d_v·h; Kimi Delta Attention
  q, k, v, gates and o; Mamba-2 h·(2·d_in + 2·g·N + n_h) + conv + d_in·h.
- Embeddings V·h, plus the output head V·h unless tied; norms and biases are counted.
Multi-token-prediction layers are not counted (they are not loaded for plain decoding).
Active parameters (one convention for the importer and the bundled catalog, see
`Model.active_params_b`): a dense model's active parameters are its total less the vision
encoder — the input embedding included, as model cards state dense sizes (Llama-3.1-8B:
8.03B, https://huggingface.co/meta-llama/Llama-3.1-8B) and as the bundled dense models
have active = total. A MoE model's are everything but the routed experts, plus k/E of
them, without the vision encoder and without the input embedding (a row lookup; tied
embeddings count once, as the output head), as MoE makers publish activated counts
(gpt-oss, arXiv 2508.10925 Table 1).
`bits_per_weight` of an unquantized checkpoint is its dtype's (16 for bf16/fp16); the
measured checkpoint size, which also holds norms, buffers and file headers, is `size_gb`.
A quantized checkpoint's is the average over its weights other than the 16-bit embedding and
head, its multi-token-prediction (MTP) modules left out; `size_gb` holds the MTP modules (as the
published checkpoints and a bf16 upcast of them do), `Model.mtp` their parameters.
A NaN or infinite number in a JSON file is refused, naming the file and the field. Vision encoders are counted from their block shapes (4·h² + 2·h·i per
block, plus patch embedding and merger), a close approximation.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from .errors import CatalogError
from .schema import Attention, CompressedLayers, Model, ModuleBits, Moe, Mtp, Variant

__all__ = ["import_model", "model_yaml", "with_models", "ImportedModel"]

CONFIG = "config.json"
INDEX = "model.safetensors.index.json"
QUANT = "hf_quant_config.json"
_MISSING = object()

# Bits per weight of each storage format, scales included: fp8 with one fp32 (or ue8m0)
# scale per 128×128 block; MXFP4 E2M1 with one E8M0 scale per 32 (OCP MX spec v1.0);
# NVFP4 E2M1 with one E4M3 scale per 16 (NVIDIA ModelOpt); int4 with a bf16 scale per group.
FP8_BLOCK_BITS = 8 + 32 / (128 * 128)
MXFP4_BITS = 4 + 8 / 32
NVFP4_BITS = 4 + 8 / 16


@dataclasses.dataclass
class _Params:
    """Parameter counts by bucket, for sizes by storage format and for active parameters."""

    embed: float = 0.0        # input embedding
    head: float = 0.0         # output head (0 when tied)
    attn: float = 0.0         # attention / mixer linear layers (incl. indexers, linear attention)
    dense_mlp: float = 0.0
    shared: float = 0.0       # shared experts
    routed: float = 0.0       # routed experts, all layers
    router: float = 0.0       # router gates (kept in 16/32 bit)
    other: float = 0.0        # norms, biases, convolutions, sinks (kept in 16 bit)
    vision: float = 0.0

    @property
    def total(self) -> float:
        return sum(dataclasses.asdict(self).values())


@dataclasses.dataclass
class ImportedModel:
    """What `import_model` read: the model and the files it came from."""

    model: Model
    files: list[str]


class _Cfg:
    """config.json (or its text_config) with reads that name the file and the field on failure."""

    def __init__(self, data: dict, origin: str, prefix: str = ""):
        self.data, self.origin, self.prefix = data, origin, prefix

    def sub(self, key: str) -> _Cfg:
        value = self.get(key, None)
        if value is None:
            return self
        if not isinstance(value, dict):
            raise self.error(key, value, "an object")
        return _Cfg(value, self.origin, f"{self.prefix}{key}.")

    def error(self, key: str, value: Any, expected: str) -> CatalogError:
        shown = "missing" if value is _MISSING else f"= {json.dumps(value)[:60]}"
        return CatalogError(f"{self.origin}: field '{self.prefix}{key}' {shown}: cannot read it (expected "
                            f"{expected}); hwplan needs it to size the model.")

    def get(self, key: str, default: Any = _MISSING) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise self.error(key, value, "a value")
            return default
        return value

    def int(self, key: str, default: Any = _MISSING, minimum: int = 1) -> int:
        value = self.get(key, default)
        # assumption: Hugging Face configs hold 32-bit integers, and no model has 100,000 layers; a larger
        # value is a typo that would build per-layer lists of that length.
        top = 100_000 if "layers" in key else 2**31 - 1
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= top:
            raise self.error(key, value, f"a whole number from {minimum} to {top:,}")
        return value

    def list(self, key: str, n: int | None = None, default: Any = _MISSING) -> list:
        value = self.get(key, default)
        if not isinstance(value, list) or (n is not None and len(value) < n):
            raise self.error(key, value, f"a list of {n} entries" if n else "a list")
        return value

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def any(self, *keys: str, default: Any = _MISSING) -> Any:
        """The first of `keys` present (architectures name one field differently); the error names the first."""
        for key in keys:
            if self.has(key):
                return self.data[key]
        if default is _MISSING:
            raise self.error(keys[0], _MISSING, "a value")
        return default

    def int_any(self, *keys: str, default: Any = _MISSING, minimum: int = 1) -> int:
        for key in keys:
            if self.has(key):
                return self.int(key, minimum=minimum)
        return self.int(keys[0], default, minimum=minimum)


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the file ({exc.strerror}).") from None
    try:
        data = json.loads(text, parse_constant=_NonFinite)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a JSON object at the top, found {type(data).__name__}.")
    bad = _non_finite_at(data, ())
    if bad is not None:
        where, value = bad
        raise CatalogError(f"{path}: field '{where}' = {value}: not a finite number (JSON has no NaN or infinity; "
                           f"give the number, or remove the field).")
    return data


class _NonFinite(str):
    """A NaN, Infinity or -Infinity literal that Python's json module would accept, kept to be refused."""


def _non_finite_at(value: Any, path: tuple) -> tuple[str, str] | None:
    """(dotted field path, literal) of the first NaN/Infinity in a parsed JSON value, or None."""
    if isinstance(value, _NonFinite):
        return ".".join(map(str, path)) or "(top)", str(value)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found = _non_finite_at(child, path + (key,))
        if found:
            return found
    return None


# -- layer shapes -----------------------------------------------------------------------------------
def _gqa(h: int, n: int, kv: int, d: int, dv: int | None = None, *, gate: bool = False, bias: bool = False,
         o_bias: bool = False) -> float:
    dv = dv or d
    q = h * n * d * (2 if gate else 1)
    return q + h * kv * d + h * kv * dv + n * dv * h + (n * d + kv * d + kv * dv if bias else 0) + (h if o_bias else 0)


def _mla(c: _Cfg, h: int, n: int) -> float:
    r_q = c.get("q_lora_rank", None)
    r_kv, nope, rope, v = c.int("kv_lora_rank"), c.int("qk_nope_head_dim"), c.int("qk_rope_head_dim"), c.int("v_head_dim")
    q = h * r_q + r_q + r_q * n * (nope + rope) if r_q else h * n * (nope + rope)
    return q + h * (r_kv + rope) + r_kv + r_kv * n * (nope + v) + n * v * h


def _dsa_indexer(c: _Cfg, h: int) -> float:
    """DeepSeek-V3.2 lightning indexer: wq_b, wk, k_norm (weight + bias), weights_proj."""
    n_i, d_i = c.int("index_n_heads"), c.int("index_head_dim")
    return c.int("q_lora_rank") * n_i * d_i + h * d_i + 2 * d_i + h * n_i


def _swiglu(h: int, i: int) -> float:
    return 3 * h * i


def _gdn(c: _Cfg, h: int) -> tuple[float, int, int, int, int, int]:
    """Gated DeltaNet (Qwen3-Next, Qwen3.5): params and (n_k, d_k, n_v, d_v, kernel)."""
    nk, dk = c.int("linear_num_key_heads"), c.int("linear_key_head_dim")
    nv, dv = c.int("linear_num_value_heads"), c.int("linear_value_head_dim")
    k = c.int("linear_conv_kernel_dim")
    conv_dim = 2 * nk * dk + nv * dv
    params = h * (2 * nk * dk + 2 * nv * dv) + h * 2 * nv + conv_dim * k + 2 * nv + dv + nv * dv * h
    return params, nk, dk, nv, dv, k


# -- the importer -----------------------------------------------------------------------------------
@dataclasses.dataclass
class _Build:
    """What an architecture reader fills in."""

    layers: int
    hidden: int
    intermediate: int
    vocab: int
    tied: bool
    attention: dict
    params: _Params
    moe: dict | None = None
    routed_active: float = 0.0   # routed-expert parameters one token uses
    max_context: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    mtp_embeddings: bool = False  # MTP modules store their own embedding and head copies (DeepSeek-V3 layout)


def _embed(p: _Params, c: _Cfg, h: int, vocab: int, tied: bool) -> None:
    p.embed += vocab * h
    p.head += 0 if tied else vocab * h


def _moe_layers(c: _Cfg, n: int, first_dense: int = 0, freq_key: str = "moe_layer_freq") -> list[bool]:
    """Which of the n layers are MoE: a 0/1 list, or every `freq`-th layer after the first dense ones."""
    freq = c.get(freq_key, 1)
    if isinstance(freq, list):
        if len(freq) < n:
            raise c.error(freq_key, freq, f"a list of {n} entries")
        return [bool(x) for x in freq[:n]]
    if not isinstance(freq, int) or freq < 1:
        raise c.error(freq_key, freq, "a whole number ≥ 1 or a 0/1 list")
    return [i >= first_dense and (i - first_dense) % freq == 0 for i in range(n)] if freq > 1 else \
        [i >= first_dense for i in range(n)]


def _add_moe(b: _Build, c: _Cfg, moe_flags: list[bool], *, h: int, dense_i: int, expert_i: int, experts: int,
             k: int, shared_i: int = 0, shared: int = 0, expert_h: int | None = None) -> None:
    """MLP parameters of every layer: dense SwiGLU, or routed experts + shared experts + router.

    `expert_h` is the width the experts work at when it differs from the hidden size (latent
    MoE: a down projection h→expert_h before and an up projection after, per layer)."""
    p = b.params
    eh = expert_h or h
    n_moe = sum(moe_flags)
    p.dense_mlp += (len(moe_flags) - n_moe) * _swiglu(h, dense_i)
    p.routed += n_moe * experts * _swiglu(eh, expert_i)
    p.shared += n_moe * shared * _swiglu(h, shared_i)
    p.router += n_moe * h * experts
    if expert_h and expert_h != h:
        p.attn += n_moe * 2 * h * expert_h  # latent projections run for every token
    b.routed_active += n_moe * k * _swiglu(eh, expert_i)
    if n_moe:
        b.moe = dict(experts=experts, experts_per_token=k, shared_experts=shared, moe_layers=n_moe,
                     expert_params_b=_billions(n_moe * experts * _swiglu(eh, expert_i)), moe_intermediate_size=expert_i)


def _layer_kinds(c: _Cfg, n: int, key: str = "layer_types") -> list[str] | None:
    if not c.has(key):
        return None
    kinds = c.list(key, n)[:n]
    for kind in kinds:
        if not isinstance(kind, str):
            raise c.error(key, kinds, "a list of layer-type names")
    return kinds


def _llama_like(c: _Cfg, arch: str) -> _Build:
    """Llama, Mistral, Qwen2/Qwen3 dense and MoE, Mixtral, GLM-4.5/4.6, MiniMax-M2, Step-3.x, gpt-oss, Gemma 2/3/4."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    heads = c.int("num_attention_heads")
    kv = c.int("num_key_value_heads", heads)
    d = c.int("head_dim", h // heads)
    vocab = c.int("vocab_size")
    tied = bool(c.get("tie_word_embeddings", False))
    inter = c.int("intermediate_size", 0, minimum=0)
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=inter, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    b.attention = _llama_attention(c, arch, p, n, h, (heads, kv, d))
    experts = c.int_any("num_experts", "num_local_experts", "n_routed_experts", default=0, minimum=0) \
        if not arch.startswith("Gemma4") or c.get("enable_moe_block", False) else 0
    if experts:
        _llama_moe(c, arch, b, experts)
    else:
        if not inter:
            raise c.error("intermediate_size", c.get("intermediate_size", None), "the MLP width")
        p.dense_mlp += n * _swiglu(h, inter)
    b.max_context = c.int("max_position_embeddings")
    return b


def _llama_kinds(c: _Cfg, arch: str, n: int) -> list[str]:
    """Each layer's attention kind: explicit layer_types, or a sliding window on every layer (Mistral),
    or Gemma 2/3's alternation, or full attention everywhere."""
    kinds = _layer_kinds(c, n)
    window = c.get("sliding_window", None)
    if kinds is None and window and c.get("use_sliding_window", True) and arch.startswith("Mistral"):
        kinds = ["sliding_attention"] * n
    if kinds is None and window and arch.startswith(("Gemma2", "Gemma3")):
        # Older configs without layer_types: Gemma 2 alternates local and global layers;
        # Gemma 3 has one global layer every `sliding_window_pattern` (6) layers.
        every = 2 if arch.startswith("Gemma2") else c.int("sliding_window_pattern", 6)
        kinds = ["full_attention" if (i + 1) % every == 0 else "sliding_attention" for i in range(n)]
    return kinds or ["full_attention"] * n


def _llama_attention(c: _Cfg, arch: str, p: _Params, n: int, h: int, shape: tuple[int, int, int]) -> dict:
    """Adds the attention and norm parameters of `n` layers of width `h` to `p` (`shape`: query heads,
    KV heads, head dim); returns the schema's attention fields (GQA or MHA, and the sliding-window
    layers with their own KV geometry where Gemma 4 has one)."""
    heads, kv, d = shape
    bias = bool(c.get("attention_bias", arch.startswith("Qwen2")))
    gate = bool(c.get("attn_output_gate", False))
    kinds = _llama_kinds(c, arch, n)
    window = c.get("sliding_window", None)
    full = [k for k in kinds if k == "full_attention"]
    sliding = [k for k in kinds if k in ("sliding_attention", "chunked_attention")]
    if len(full) + len(sliding) != n:
        raise c.error("layer_types", sorted(set(kinds)), "full_attention or sliding_attention entries")
    # Gemma 4: full layers have their own head dims and KV heads, K shared as V.
    g_d = c.int("global_head_dim", d)
    g_kv = c.int("num_global_key_value_heads", kv)
    k_eq_v = bool(c.get("attention_k_eq_v", False))
    for kind in kinds:
        if kind == "full_attention" and (g_d != d or g_kv != kv):
            p.attn += h * heads * g_d + h * g_kv * g_d * (1 if k_eq_v else 2) + heads * g_d * h
        else:
            p.attn += _gqa(h, heads, kv, d, gate=gate, bias=bias, o_bias=bias and arch.startswith("GptOss"))
        p.other += 2 * h + (2 * d if c.get("use_qk_norm", True) else 0)
    if arch.startswith("GptOss"):
        p.other += n * heads  # attention sinks
    p.other += h
    att = dict(kind="gqa" if kv < heads else "mha", heads=heads, kv_heads=g_kv if sliding else kv,
               head_dim=g_d if sliding else d)
    if sliding:
        if not window:
            raise c.error("sliding_window", window, "the window size of the sliding-attention layers")
        att.update(window_layers=len(sliding), window_tokens=int(window))
        if (g_d, g_kv) != (d, kv):
            att.update(window_kv_heads=kv, window_head_dim=d)
    return att


def _moe_flags(c: _Cfg, n: int) -> list[bool]:
    """Which of the `n` layers are MoE: mlp_only_layers, decoder_sparse_step, moe_layer_freq, or every
    layer after first_k_dense_replace."""
    first_dense = c.int("first_k_dense_replace", 0, minimum=0)
    if c.has("mlp_only_layers") and c.list("mlp_only_layers"):
        return [i not in c.list("mlp_only_layers") for i in range(n)]
    if c.has("decoder_sparse_step"):
        step = c.int("decoder_sparse_step")
        return [(i + 1) % step == 0 for i in range(n)]
    if c.has("moe_layer_freq"):
        return _moe_layers(c, n, first_dense)
    return [i >= first_dense for i in range(n)]


def _llama_moe(c: _Cfg, arch: str, b: _Build, experts: int) -> None:
    """Adds the MoE layers (routed and shared experts, the dense layers between them, router and bias
    terms) to `b`."""
    p, n, h, inter = b.params, b.layers, b.hidden, b.intermediate
    k = c.int_any("num_experts_per_tok", "top_k_experts", "experts_per_token")
    expert_i = c.int("moe_intermediate_size", inter)
    flags = _moe_flags(c, n)
    shared_i = c.int_any("shared_expert_intermediate_size", "share_expert_dim", "shared_intermediate_size",
                         "moe_shared_expert_intermediate_size", default=expert_i, minimum=0)
    shared = c.int("n_shared_experts", 1 if shared_i and c.has("shared_expert_intermediate_size") else 0,
                   minimum=0) if shared_i else 0
    dense_i = c.int("dense_intermediate_size", inter, minimum=0)
    b.intermediate = b.intermediate or shared_i or expert_i
    if arch.startswith("Gemma4"):
        # Gemma 4 MoE layers keep their dense MLP beside the experts.
        p.dense_mlp += n * _swiglu(h, inter)
        _add_moe(b, c, [True] * n, h=h, dense_i=inter, expert_i=expert_i, experts=experts, k=k)
    else:
        _add_moe(b, c, flags, h=h, dense_i=dense_i, expert_i=expert_i, experts=experts, k=k,
                 shared_i=shared_i, shared=shared)
    if shared and c.has("shared_expert_intermediate_size"):
        p.router += sum(flags) * h  # Qwen's shared-expert gate
    if arch.startswith("GptOss"):
        p.other += sum(flags) * experts * (2 * expert_i + h) + sum(flags) * experts  # expert and router biases


def _deepseek(c: _Cfg, arch: str) -> _Build:
    """DeepSeek-V2/V3/V3.1/V3.2, Kimi-K2/K2.5, GLM-5 (MLA + MoE, optional sparse-attention indexer)."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    heads, vocab = c.int("num_attention_heads"), c.int("vocab_size")
    tied = bool(c.get("tie_word_embeddings", False))
    inter = c.int("intermediate_size")
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=inter, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    p.attn += n * _mla(c, h, heads)
    p.other += n * 2 * h + h
    b.attention = dict(kind="mla", heads=heads, kv_heads=c.int("num_key_value_heads", heads),
                       kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=c.int("qk_rope_head_dim"),
                       qk_nope_head_dim=c.int("qk_nope_head_dim"), v_head_dim=c.int("v_head_dim"))
    if c.has("index_topk"):
        # The indexer keeps one fp8 key plus one fp32 scale per 128 values per token (vLLM's
        # DeepSeek-V3.2 indexer cache: 128 + 4 = 132 bytes). GLM-5.2 layers marked 'shared'
        # reuse the previous indexer's choice and keep no keys.
        d_i = c.int("index_head_dim")
        kinds = _layer_kinds(c, n, "indexer_types")
        own = n if kinds is None else sum(k == "full" for k in kinds)
        p.attn += own * _dsa_indexer(c, h)
        # With an fp8 KV cache the sparse MLA kernels keep the latent as 512 fp8 values with one
        # fp32 scale per 128 plus the RoPE part in bf16 (vLLM's fp8_ds_mla cache format).
        r_kv, rope = c.int("kv_lora_rank"), c.int("qk_rope_head_dim")
        b.attention.update(indexer_layers=own, indexer_bytes_per_token=d_i + d_i // 128 * 4,
                           fp8_entry_bytes=r_kv + r_kv // 128 * 4 + rope * 2)
    first_dense = c.int("first_k_dense_replace", 0, minimum=0)
    if c.has("mlp_layer_types"):
        flags = [t == "sparse" for t in c.list("mlp_layer_types", n)[:n]]
    else:
        flags = _moe_layers(c, n, first_dense)
    _add_moe(b, c, flags, h=h, dense_i=inter, expert_i=c.int("moe_intermediate_size"),
             experts=c.int("n_routed_experts"), k=c.int("num_experts_per_tok"),
             shared_i=c.int("moe_intermediate_size"), shared=c.int("n_shared_experts", 0, minimum=0))
    p.router += sum(flags) * c.int("n_routed_experts")  # e_score_correction_bias
    b.max_context = c.int("max_position_embeddings")
    b.mtp_embeddings = True
    return b


def _deepseek_v4(c: _Cfg, arch: str) -> _Build:
    """DeepSeek-V4 (Pro, Flash): one 512-d KV head per layer in a fixed fp8 format, a 128-token
    sliding window on every layer, compressed caches at ratio 4 (with an indexer) or 128."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    heads, vocab, d = c.int("num_attention_heads"), c.int("vocab_size"), c.int("head_dim")
    rope = c.int("qk_rope_head_dim")
    r_q, r_o, groups = c.int("q_lora_rank"), c.int("o_lora_rank"), c.int("o_groups")
    tied = bool(c.get("tie_word_embeddings", False))
    expert_i = c.int("moe_intermediate_size")
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=expert_i, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    p.attn += n * (h * r_q + r_q + r_q * heads * d + h * d + d + heads * d * r_o + groups * r_o * h)
    p.other += n * (heads + 2 * h) + h
    ratios = c.list("compress_ratios", n)[:n]
    if any(not isinstance(r, int) or r < 0 for r in ratios):
        raise c.error("compress_ratios", ratios, "a list of whole numbers")
    n_i, d_i = c.int("index_n_heads"), c.int("index_head_dim")
    groups_by_ratio: dict[int, int] = {}
    for r in ratios:
        if r > 1:
            groups_by_ratio[r] = groups_by_ratio.get(r, 0) + 1
            p.attn += 2 * h * d  # the compressor's key/value and gate projections
            if r == 4:  # ratio-4 layers pick compressed rows with an indexer; ratio-128 ones read all (vLLM C4A/C128A)
                p.attn += r_q * n_i * d_i + h * n_i + 2 * h * d_i  # indexer: query, weights, its compressor
    # One cached row: 448 fp8 NoPE values + 64 bf16 RoPE values + 7 scale bytes + 1 pad
    # (vLLM DeepseekV4MultiHeadLatentAttentionWrapper.head_bytes).
    entry = (d - rope) + rope * 2 + (d - rope) // 64 + 1
    b.attention = dict(kind="mla", heads=heads, kv_heads=c.int("num_key_value_heads", 1), qk_rope_head_dim=rope,
                       entry_bytes=entry, window_layers=n, window_tokens=c.int("sliding_window"),
                       compressed=[dict(layers=k, ratio=r, indexer=(r == 4)) for r, k in sorted(groups_by_ratio.items())],
                       indexer_bytes_per_token=d_i + d_i // 128 * 4,
                       kv_lora_rank=d - rope)  # the 512-d row as MLA's latent + RoPE, for the attention FLOPs
    _add_moe(b, c, [True] * n, h=h, dense_i=expert_i, expert_i=expert_i, experts=c.int("n_routed_experts"),
             k=c.int("num_experts_per_tok"), shared_i=expert_i, shared=c.int("n_shared_experts", 0, minimum=0))
    b.max_context = c.int("max_position_embeddings")
    b.notes.append("mHC hyper-connection mixers (hc_mult streams) not counted: a few million parameters per layer.")
    b.mtp_embeddings = True
    return b


def _qwen_hybrid(c: _Cfg, arch: str) -> _Build:
    """Qwen3-Next, Qwen3.5, Qwen3.6: Gated DeltaNet layers with a full-attention layer every k."""
    b = _llama_like(_Cfg({k: v for k, v in c.data.items() if k != "layer_types"}, c.origin, c.prefix), arch)
    n, h = b.layers, b.hidden
    kinds = _layer_kinds(c, n)
    if kinds is None:
        every = c.int("full_attention_interval")
        kinds = ["full_attention" if (i + 1) % every == 0 else "linear_attention" for i in range(n)]
    n_full = sum(k == "full_attention" for k in kinds)
    n_lin = sum(k == "linear_attention" for k in kinds)
    if n_full + n_lin != n:
        raise c.error("layer_types", sorted(set(kinds)), "full_attention or linear_attention entries")
    heads, kv, d = b.attention["heads"], b.attention["kv_heads"], b.attention["head_dim"]
    # _llama_like counted gated attention on every layer; keep it for the full ones only.
    b.params.attn -= n_lin * _gqa(h, heads, kv, d, gate=bool(c.get("attn_output_gate", False)))
    gdn, nk, dk, nv, dv, k = _gdn(c, h)
    b.params.attn += n_lin * gdn
    # vLLM: conv state (k−1)·(2·n_k·d_k + n_v·d_v) at the model dtype (bf16), recurrent state
    # n_v·d_v·d_k at mamba_ssm_dtype (float32 in these configs).
    ssm_bytes = 4 if str(c.get("mamba_ssm_dtype", "bfloat16")) == "float32" else 2
    state = (k - 1) * (2 * nk * dk + nv * dv) * 2 + nv * dv * dk * ssm_bytes
    b.attention.update(linear_layers=n_lin, linear_kind="gated-deltanet", state_bytes_per_layer=state,
                       kv_layers=n_full)
    return b


def _kimi_linear(c: _Cfg, arch: str) -> _Build:
    """Kimi Linear / Kimi-K3: Kimi Delta Attention layers and MLA layers, latent MoE."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    heads, vocab = c.int("num_attention_heads"), c.int("vocab_size")
    tied = bool(c.get("tie_word_embeddings", False))
    inter = c.int("intermediate_size")
    la = c.sub("linear_attn_config")
    full = la.list("full_attn_layers")
    kda = la.list("kda_layers")
    if len(full) + len(kda) != n:
        raise la.error("full_attn_layers", full, f"with kda_layers, {n} layers in all")
    nh, hd, k = la.int("num_heads"), la.int("head_dim"), la.int("short_conv_kernel_size")
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=inter, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    p.attn += len(full) * _mla(c, h, heads)
    width = nh * hd
    # KDA: q, k, v, o; decay gate (full rank, or low rank h·d + d·width); output gate low rank; beta; conv.
    f_gate = h * width if la.get("use_full_rank_gate", False) else h * hd + hd * width
    p.attn += len(kda) * (4 * h * width + f_gate + h * hd + hd * width + h * nh)
    p.other += len(kda) * (3 * width * k + 2 * nh + hd) + n * 2 * h + h
    # vLLM kda_state_shape: conv (k−1)·3·width at bf16, recurrent nh·hd·hd at fp32.
    state = (k - 1) * 3 * width * 2 + nh * hd * hd * 4
    b.attention = dict(kind="mla", heads=heads, kv_heads=c.int("num_key_value_heads", heads),
                       kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=c.int("qk_rope_head_dim"),
                       qk_nope_head_dim=c.int("qk_nope_head_dim"), v_head_dim=c.int("v_head_dim"),
                       kv_layers=len(full), linear_layers=len(kda), linear_kind="kda", state_bytes_per_layer=state)
    experts = c.int("num_experts")
    _add_moe(b, c, _moe_layers(c, n, c.int("first_k_dense_replace", 0, minimum=0)), h=h, dense_i=inter,
             expert_i=c.int("moe_intermediate_size"), experts=experts, k=c.int("num_experts_per_token"),
             shared_i=c.int("moe_intermediate_size"), shared=c.int("num_shared_experts", 0, minimum=0),
             expert_h=c.int("routed_expert_hidden_size", h))
    b.max_context = c.int("max_position_embeddings")
    return b


def _nemotron_h(c: _Cfg, arch: str) -> _Build:
    """Nemotron-H / Nemotron-3: a pattern of Mamba-2 (M), attention (*), MLP (-) and MoE (E) layers."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    pattern = c.get("hybrid_override_pattern")
    if not isinstance(pattern, str) or len(pattern) != n or set(pattern) - set("M*-E"):
        raise c.error("hybrid_override_pattern", pattern, f"{n} characters of M, *, - or E")
    heads, kv, vocab = c.int("num_attention_heads"), c.int("num_key_value_heads"), c.int("vocab_size")
    d = c.int("head_dim", h // heads)
    tied = bool(c.get("tie_word_embeddings", False))
    inter = c.int("intermediate_size")
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=inter, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    mh, md, groups, state_n, k = (c.int("mamba_num_heads"), c.int("mamba_head_dim"), c.int("n_groups"),
                                  c.int("ssm_state_size"), c.int("conv_kernel"))
    d_in = mh * md
    conv_dim = d_in + 2 * groups * state_n
    n_m, n_a = pattern.count("M"), pattern.count("*")
    p.attn += n_m * (h * (2 * d_in + 2 * groups * state_n + mh) + d_in * h)
    p.other += n_m * (conv_dim * k + conv_dim + 3 * mh + d_in) + n * h + h
    p.attn += n_a * _gqa(h, heads, kv, d)
    # Nemotron-H MLPs are squared-ReLU (up and down, no gate).
    p.dense_mlp += pattern.count("-") * 2 * h * inter
    n_e = pattern.count("E")
    if n_e:
        experts, e_i = c.int("n_routed_experts"), c.int("moe_intermediate_size")
        s_i = c.int("moe_shared_expert_intermediate_size", e_i)
        p.routed += n_e * experts * 2 * h * e_i
        p.shared += n_e * c.int("n_shared_experts", 1) * 2 * h * s_i
        p.router += n_e * (h * experts + experts)
        kk = c.int("num_experts_per_tok")
        b.routed_active += n_e * kk * 2 * h * e_i
        b.moe = dict(experts=experts, experts_per_token=kk, shared_experts=c.int("n_shared_experts", 1),
                     moe_layers=n_e, expert_params_b=_billions(n_e * experts * 2 * h * e_i), moe_intermediate_size=e_i)
    ssm_bytes = 4 if str(c.get("mamba_ssm_cache_dtype", "bfloat16")) == "float32" else 2
    # vLLM mamba2_state_shape: conv (k−1)·(d_in + 2·g·N) at bf16, ssm heads·head_dim·N.
    state = (k - 1) * conv_dim * 2 + mh * md * state_n * ssm_bytes
    b.attention = dict(kind="gqa", heads=heads, kv_heads=kv, head_dim=d, kv_layers=n_a, linear_layers=n_m,
                       linear_kind="mamba2", state_bytes_per_layer=state)
    b.max_context = c.int("max_position_embeddings")
    return b


def _mimo_v2(c: _Cfg, arch: str) -> _Build:
    """MiMo-V2-Flash: full and sliding-window layers with their own heads, q/k dims ≠ v dims."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    pattern = c.list("hybrid_layer_pattern", n)[:n]
    heads, kv, d, dv = c.int("num_attention_heads"), c.int("num_key_value_heads"), c.int("head_dim"), c.int("v_head_dim")
    s_heads, s_kv = c.int("swa_num_attention_heads"), c.int("swa_num_key_value_heads")
    s_d, s_dv = c.int("swa_head_dim", d), c.int("swa_v_head_dim", dv)
    vocab, inter = c.int("vocab_size"), c.int("intermediate_size")
    tied = bool(c.get("tie_word_embeddings", False))
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=inter, vocab=vocab, tied=tied, attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    n_swa = sum(1 for x in pattern if x == 1)
    p.attn += (n - n_swa) * _gqa(h, heads, kv, d, dv) + n_swa * _gqa(h, s_heads, s_kv, s_d, s_dv)
    p.other += n * 2 * h + h + n_swa * s_heads
    b.attention = dict(kind="gqa", heads=heads, kv_heads=kv, head_dim=d, v_head_dim=dv, window_layers=n_swa,
                       window_tokens=c.int("sliding_window"), window_kv_heads=s_kv, window_head_dim=s_d)
    _add_moe(b, c, _moe_layers(c, n), h=h, dense_i=inter, expert_i=c.int("moe_intermediate_size"),
             experts=c.int("n_routed_experts"), k=c.int("num_experts_per_tok"))
    b.max_context = c.int("max_position_embeddings")
    return b


def _llama4(c: _Cfg, arch: str) -> _Build:
    """Llama 4: chunked local attention on 3 of 4 layers, MoE every `interleave_moe_layer_step` layers."""
    n, h = c.int("num_hidden_layers"), c.int("hidden_size")
    heads, kv, vocab = c.int("num_attention_heads"), c.int("num_key_value_heads"), c.int("vocab_size")
    d = c.int("head_dim", h // heads)
    tied = bool(c.get("tie_word_embeddings", False))
    p = _Params()
    b = _Build(layers=n, hidden=h, intermediate=c.int("intermediate_size_mlp"), vocab=vocab, tied=tied,
               attention={}, params=p)
    _embed(p, c, h, vocab, tied)
    p.attn += n * _gqa(h, heads, kv, d)
    p.other += n * 2 * h + h
    no_rope = c.get("no_rope_layers", [])  # 0 = global NoPE attention layer, 1 = chunked RoPE layer
    if not no_rope:
        every = c.int("nope_layer_interval", 4)
        no_rope = [int((i + 1) % every != 0) for i in range(n)]
    if not isinstance(no_rope, list) or len(no_rope) < n:
        raise c.error("no_rope_layers", no_rope, f"a list of {n} 0/1 entries")
    no_rope = no_rope[:n]
    chunked = sum(1 for x in no_rope if x)
    b.attention = dict(kind="gqa", heads=heads, kv_heads=kv, head_dim=d, window_layers=chunked,
                       window_tokens=c.int("attention_chunk_size"))
    step = c.int("interleave_moe_layer_step", 1)
    flags = [(i + 1) % step == 0 for i in range(n)]
    e_i = c.int("intermediate_size")
    _add_moe(b, c, flags, h=h, dense_i=c.int("intermediate_size_mlp"), expert_i=e_i,
             experts=c.int("num_local_experts"), k=c.int("num_experts_per_tok"), shared_i=e_i, shared=1)
    b.max_context = c.int("max_position_embeddings")
    return b


# Architecture name (config.json `architectures[0]`) → reader; text_config holds the language model
# of vision-language repositories.
_READERS = {
    "LlamaForCausalLM": _llama_like, "MistralForCausalLM": _llama_like, "MixtralForCausalLM": _llama_like,
    "Qwen2ForCausalLM": _llama_like, "Qwen3ForCausalLM": _llama_like, "Qwen2MoeForCausalLM": _llama_like,
    "Qwen3MoeForCausalLM": _llama_like, "Glm4MoeForCausalLM": _llama_like, "MiniMaxM2ForCausalLM": _llama_like,
    "MiniMaxM3ForCausalLM": _llama_like, "GptOssForCausalLM": _llama_like, "Gemma2ForCausalLM": _llama_like,
    "Gemma3ForCausalLM": _llama_like, "Gemma3ForConditionalGeneration": _llama_like,
    "Gemma4ForConditionalGeneration": _llama_like, "Gemma4ForCausalLM": _llama_like,
    "Step3p5ForCausalLM": _llama_like, "Step3p7FlashForCausalLM": _llama_like,
    "Qwen2_5_VLForConditionalGeneration": _llama_like, "Qwen3VLForConditionalGeneration": _llama_like,
    "Qwen3VLMoeForConditionalGeneration": _llama_like,
    "Qwen3NextForCausalLM": _qwen_hybrid, "Qwen3_5ForConditionalGeneration": _qwen_hybrid,
    "Qwen3_5MoeForConditionalGeneration": _qwen_hybrid, "Qwen3_5ForCausalLM": _qwen_hybrid,
    "Qwen3_5MoeForCausalLM": _qwen_hybrid,
    "DeepseekV2ForCausalLM": _deepseek, "DeepseekV3ForCausalLM": _deepseek, "DeepseekV32ForCausalLM": _deepseek,
    "GlmMoeDsaForCausalLM": _deepseek, "KimiK25ForConditionalGeneration": _deepseek,
    "DeepseekV4ForCausalLM": _deepseek_v4,
    "KimiK3ForConditionalGeneration": _kimi_linear, "KimiLinearForCausalLM": _kimi_linear,
    "NemotronHForCausalLM": _nemotron_h,
    "MiMoV2FlashForCausalLM": _mimo_v2,
    "Llama4ForConditionalGeneration": _llama4, "Llama4ForCausalLM": _llama4,
}


def _vision_params(v: _Cfg) -> float:
    """A ViT encoder plus its projector: blocks of attention (4·w² + biases) and MLP (2·w·i), patch
    and position embeddings, and a patch merger into the language model's width."""
    depth = v.int_any("depth", "num_hidden_layers", "vt_num_hidden_layers")
    w = v.int_any("hidden_size", "vt_hidden_size")
    i = v.int_any("intermediate_size", "vt_intermediate_size")
    patch = v.int("patch_size", 14)
    blocks = depth * (4 * w * w + 4 * w + 2 * w * i + i + w + 4 * w)
    embed = 3 * v.int("temporal_patch_size", 1) * patch * patch * w + v.int_any(
        "num_position_embeddings", "position_embedding_size", default=0, minimum=0) * w
    merge = v.int("spatial_merge_size", 2) ** 2
    out = v.int_any("out_hidden_size", "text_hidden_size", default=w)
    merger = (merge * w) ** 2 + merge * w * out
    mergers = 1 + len(v.get("deepstack_visual_indexes", []) or [])
    return blocks + embed + mergers * merger


# -- quantization -------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Quant:
    variant_id: str
    bits: dict[str, float]        # bucket -> bits per weight; missing buckets are 16-bit
    compute: str
    requires: str | None
    note: str
    skip: list = dataclasses.field(default_factory=list)  # modules the config keeps unquantized (patterns)
    method: str | None = None                            # quantization_config.quant_method


_BUCKET_SAMPLES = {  # a module path of each bucket, for ignore/exclude patterns
    "attn": ["model.layers.1.self_attn.q_proj", "model.layers.1.linear_attn.in_proj_qkvz"],
    "dense_mlp": ["model.layers.0.mlp.gate_proj"],
    "shared": ["model.layers.1.mlp.shared_experts.gate_proj", "model.layers.1.mlp.shared_expert.gate_proj"],
    "routed": ["model.layers.1.mlp.experts.0.gate_proj", "model.layers.1.mlp.experts"],
    "head": ["lm_head"],
    "vision": ["vision_tower.blocks.0.attn.qkv", "visual.blocks.0.attn.qkv"],
}


def _ignored(patterns: list, bucket: str, layer: int | None = None) -> bool:
    """True when a pattern of the config's skip list matches `bucket`'s module in decoder layer `layer`
    (None: the sample's own layer, a MoE layer for experts, the first for dense MLPs):
    're:' a regular expression (compressed-tensors `ignore`), '*' a wildcard (ModelOpt `exclude_modules`),
    else the module's name or a parent of it (fbgemm `modules_to_not_convert`: 'model.layers.0' keeps the
    whole first layer; transformers integrations/fbgemm_fp8.py matches `key + "."` in the name)."""
    for sample in _BUCKET_SAMPLES[bucket]:
        if layer is not None:
            sample = re.sub(r"layers\.\d+\.", f"layers.{layer}.", sample)
        for pat in patterns:
            if not isinstance(pat, str):
                continue
            if pat.startswith("re:"):
                hit = re.search(pat[3:], sample)
            elif "*" in pat:
                hit = re.fullmatch(re.escape(pat).replace(r"\*", ".*"), sample)
            else:
                hit = sample == pat or sample.startswith(pat + ".") or f".{pat}." in f".{sample}."
            if hit:
                return True
    return False


def _linear_buckets(p: _Params) -> list[str]:
    return [k for k in ("attn", "dense_mlp", "shared", "routed") if getattr(p, k)]


def _quant(cfg: dict, origin: str, hf_quant: dict | None, dtype: str, p: _Params, top: dict) -> _Quant:
    """The checkpoint's storage format, from `quantization_config` or `hf_quant_config.json`."""
    linear = _linear_buckets(p)
    if hf_quant is not None:
        q = hf_quant.get("quantization", hf_quant)
        return _modelopt(q, origin, linear)
    q = cfg.get("quantization_config") or top.get("quantization_config")
    if not q:
        return _unquantized(origin, dtype, top)
    if not isinstance(q, dict):
        raise CatalogError(f"{origin}: field 'quantization_config' = {json.dumps(q)[:60]}: cannot read it "
                           f"(expected an object).")
    method = str(q.get("quant_method", "")).lower()
    if method == "modelopt":
        return _modelopt(q, origin, linear)
    if method == "fbgemm_fp8":
        return _fbgemm_fp8(q, linear)
    if method in ("fp8", "deepseek_v4_fp8"):
        return _block_fp8(q, method, linear, top)
    if method == "mxfp4":
        return _Quant("mxfp4", {"routed": MXFP4_BITS}, "fp4", None, "MoE experts MXFP4 (4.25 bits), the rest bf16")
    if method in ("awq", "gptq"):
        return _int_groups(q, method, linear)
    if method == "compressed-tensors":
        return _compressed_tensors(q, origin, linear)
    raise CatalogError(f"{origin}: field 'quantization_config.quant_method' = \"{method}\": unknown quantization "
                       f"method (known: fp8, fbgemm_fp8, mxfp4, awq, gptq, compressed-tensors, modelopt).")


def _fbgemm_fp8(q: dict, linear: list[str]) -> _Quant:
    """Meta's row-wise FP8 (one fp32 scale per output row: + 32 / in_features bits, under 0.01 bit);
    modules_to_not_convert stay bf16 (transformers integrations/fbgemm_fp8.py)."""
    skip = q.get("modules_to_not_convert") or []
    bits = {k: 8.0 for k in linear}  # `_whole_layers` drops what the list keeps in bf16, layer by layer
    if not _ignored(skip, "head"):
        bits["head"] = 8.0
    return _Quant("fp8", bits, "fp8", "fp8", "FBGEMM row-wise fp8; modules_to_not_convert in bf16", skip, "fbgemm_fp8")


def _block_fp8(q: dict, method: str, linear: list[str], top: dict) -> _Quant:
    """fp8 e4m3 with 128×128 block scales on the linear buckets its ignored_layers do not name
    (DeepSeek-V4: routed experts MXFP4 when `expert_dtype` is fp4)."""
    skip = q.get("ignored_layers") or q.get("modules_to_not_convert") or []
    bits = {b: FP8_BLOCK_BITS for b in linear if not _ignored(skip, b)}
    note = "fp8 e4m3 with 128×128 block scales; embeddings, norms and routers in bf16"
    if top.get("expert_dtype") == "fp4":
        bits["routed"] = MXFP4_BITS
        note += "; routed experts MXFP4 (4.25 bits)"
    return _Quant("fp8", bits, "fp8", "fp8", note, skip, method)


def _int_groups(q: dict, method: str, linear: list[str]) -> _Quant:
    """AWQ or GPTQ: `bits`-bit integers with a 16-bit scale and a zero point per group of `group_size`."""
    bits_n, group = int(q.get("bits", q.get("w_bit", 4))), int(q.get("group_size", q.get("q_group_size", 128)))
    b = bits_n + (16 + bits_n) / group
    # AWQ's modules_to_not_convert match anywhere in a module's name (vLLM awq.py is_layer_skipped_awq:
    # `module_name in prefix`); `_whole_layers` drops the buckets they keep in 16 bits.
    skip = [f"re:{re.escape(m)}" for m in (q.get("modules_to_not_convert") or []) if isinstance(m, str)] \
        if method == "awq" else []
    return _Quant(f"int{bits_n}", {k: b for k in linear}, "bf16", None, f"{method.upper()} int{bits_n} group {group}",
                  skip, method)


def _unquantized(origin: str, dtype: str, top: dict) -> _Quant:
    """A checkpoint without a quantization_config: bf16 or fp16 as `torch_dtype` says (float32 is served
    as bf16)."""
    if top.get("expert_dtype") == "fp4":
        raise CatalogError(f"{origin}: field 'expert_dtype' = \"fp4\" without a quantization_config: cannot "
                           f"tell how the other weights are stored.")
    vid = {"bfloat16": "bf16", "float16": "fp16", "float32": "bf16"}.get(dtype)
    if vid is None:
        raise CatalogError(f"{origin}: field 'torch_dtype' = \"{dtype}\": cannot read it (expected bfloat16, "
                           f"float16 or float32).")
    return _Quant(vid, {}, "bf16" if vid == "bf16" else "fp16", None, f"{dtype} checkpoint")


def _compressed_tensors(q: dict, origin: str, linear: list[str]) -> _Quant:
    """llm-compressor's `compressed-tensors` format: the first config group's weight bits and group size,
    on every linear bucket its `ignore` list does not name."""
    groups = q.get("config_groups") or {}
    if not isinstance(groups, dict) or not groups:
        raise CatalogError(f"{origin}: field 'quantization_config.config_groups' is missing or empty: cannot "
                           f"tell how the weights are stored.")
    w = next(iter(groups.values())).get("weights") or {}
    n_bits = w.get("num_bits")
    if not isinstance(n_bits, int):
        raise CatalogError(f"{origin}: field 'quantization_config.config_groups.*.weights.num_bits' = "
                           f"{json.dumps(n_bits)}: cannot read it (expected a whole number).")
    group = w.get("group_size") or 128
    scale_bits = 8 if "uint8" in str(w.get("scale_dtype", "")) or "mxfp4" in str(q.get("format", "")) else 16
    b = n_bits + scale_bits / group
    kind = "fp" if w.get("type") == "float" else "int"
    ignore = q.get("ignore") or []
    bits = {k: b for k in linear if not _ignored(ignore, k)}
    if not _ignored(ignore, "head"):
        bits["head"] = b
    vid = "mxfp4" if kind == "fp" and n_bits == 4 and scale_bits == 8 else f"{kind}{n_bits}"
    compute = "fp4" if kind == "fp" and n_bits == 4 else ("fp8" if kind == "fp" and n_bits == 8 else "bf16")
    return _Quant(vid, bits, compute, "fp8" if compute == "fp8" else None,
                  f"compressed-tensors {kind}{n_bits} group {group} on {', '.join(sorted(bits))}", ignore,
                  "compressed-tensors")


_MODELOPT_BITS = {"FP8": 8.0, "NVFP4": NVFP4_BITS, "W4A16_NVFP4": NVFP4_BITS, "W4A8_NVFP4_FP8": NVFP4_BITS,
                  "FP8_PB_WO": FP8_BLOCK_BITS, "W4A16_AWQ": 4 + 16 / 128, "W4A8_AWQ": 4 + 16 / 128}


def _modelopt(q: dict, origin: str, linear: list[str]) -> _Quant:
    algo = str(q.get("quant_algo", ""))
    if algo == "MIXED_PRECISION":
        layers = q.get("quantized_layers")
        if not isinstance(layers, dict) or not layers:
            raise CatalogError(f"{origin}: field 'quantized_layers' is missing: a MIXED_PRECISION checkpoint must "
                               f"say how each layer is stored.")
        bits: dict[str, float] = {}
        for name, spec in layers.items():
            a = str((spec or {}).get("quant_algo", ""))
            if a not in _MODELOPT_BITS:
                raise CatalogError(f"{origin}: field 'quantized_layers.{name}.quant_algo' = \"{a}\": unknown "
                                   f"ModelOpt format (known: {', '.join(_MODELOPT_BITS)}).")
            bucket = ("head" if name.endswith("lm_head") else "routed" if ".experts" in name else
                      "shared" if "shared_expert" in name else "attn" if "attn" in name else "dense_mlp")
            bits.setdefault(bucket, _MODELOPT_BITS[a])
        fp4 = any(v == NVFP4_BITS for v in bits.values())
        return _Quant("fp4" if fp4 else "fp8", bits, "fp4" if fp4 else "fp8", "fp4" if fp4 else "fp8",
                      "NVIDIA ModelOpt mixed precision: " + ", ".join(f"{k} {v:g} bits" for k, v in sorted(bits.items())),
                      method="modelopt")
    if algo not in _MODELOPT_BITS:
        raise CatalogError(f"{origin}: field 'quant_algo' = \"{algo}\": unknown ModelOpt format (known: "
                           f"MIXED_PRECISION, {', '.join(_MODELOPT_BITS)}).")
    b = _MODELOPT_BITS[algo]
    excluded = q.get("exclude_modules") or []
    bits = {k: b for k in linear if not _ignored(excluded, k)}
    if not _ignored(excluded, "head"):
        bits["head"] = b
    fp4 = b == NVFP4_BITS
    return _Quant("fp4" if fp4 else "fp8", bits, "fp4" if fp4 else "fp8", "fp4" if fp4 else "fp8",
                  f"NVIDIA ModelOpt {algo}", excluded, "modelopt")


def _size_bytes(p: _Params, bits: dict[str, float], whole: tuple[int, ...] = (), layers: int = 1) -> float:
    """Bytes of the parameters by bucket at their bits (16 where `bits` has none); each layer in `whole` holds
    its 1/layers share of the linear buckets in 16 bits."""
    size = sum(v * bits.get(k, 16.0) / 8 for k, v in dataclasses.asdict(p).items())
    return size + len(whole) * sum(getattr(p, k) / layers * (16.0 - bits.get(k, 16.0)) / 8 for k in _linear_buckets(p))


def _whole_layers(quant: _Quant, p: _Params, layers: int) -> tuple[int, ...]:
    """Decoder layers the config's skip list keeps whole in 16 bits (every linear module of the layer matches:
    fbgemm's 'model.layers.0'); buckets the list keeps in 16 bits in every other layer (Meta's self_attn of
    layers 1-124) leave `quant.bits`."""
    if not quant.skip or not quant.bits:
        return ()
    linear = _linear_buckets(p)
    whole = tuple(i for i in range(layers) if all(_ignored(quant.skip, k, i) for k in linear))
    for k in [k for k in quant.bits if k in linear]:
        if all(_ignored(quant.skip, k, i) for i in range(layers) if i not in whole):
            del quant.bits[k]
    return whole


def _module_bits(quant: _Quant, p: _Params, whole: tuple[int, ...]) -> ModuleBits | None:
    """The checkpoint's bits per module kind when they differ from the catalog's default rule (every linear
    layer at one width, input embedding and lm_head in 16 bits); None when the rule already holds."""
    linear = _linear_buckets(p)
    widths = {quant.bits.get(k) for k in linear}
    if not quant.bits or (len(widths) == 1 and None not in widths and "head" not in quant.bits and not whole):
        return None
    dense = p.dense_mlp + p.shared
    dense_bits = (p.dense_mlp * quant.bits.get("dense_mlp", 16.0) + p.shared * quant.bits.get("shared", 16.0)) / dense \
        if dense else None
    return ModuleBits(attention=quant.bits.get("attn", 16.0) if p.attn else None,
                      dense_mlp=round(dense_bits, 6) if dense_bits else None,
                      experts=quant.bits.get("routed", 16.0) if p.routed else None,
                      embeddings=16.0, lm_head=quant.bits.get("head", 16.0) if p.head else None)


def _quantized_bits(main_bytes: float, p: _Params) -> float:
    """`bits_per_weight` of a quantized checkpoint whose main model (its MTP modules taken off) is `main_bytes`:
    the average bits of the weights other than the input embedding and output head, which the sizing keeps at
    2 bytes a parameter in a quantized safetensors checkpoint and spreads `bits_per_weight` over the rest
    (optimizer/sizing.py `weight_bytes`, `weight_parts`). So params × bits / 8 plus the 16-bit embeddings gives
    back `main_bytes`, and the routed experts are not sized at an average the 16-bit parts and the MTP modules
    inflate (DeepSeek-V3.2 fp8: 8.21 bits over the whole checkpoint against 8.0 for its fp8 weights with
    their 128 × 128 block scales). A checkpoint whose embeddings are all it has falls back to the plain average."""
    embeddings = p.embed + p.head
    rest = p.total - embeddings
    if rest <= 0 or main_bytes <= embeddings * 2:
        return main_bytes * 8 / p.total
    return (main_bytes - embeddings * 2) * 8 / rest


def _mtp_layers(c: _Cfg) -> int:
    return c.int_any("num_nextn_predict_layers", "mtp_num_hidden_layers", default=0, minimum=0)


def _mtp_params(c: _Cfg, b: _Build) -> _Params:
    """Multi-token-prediction modules the checkpoint stores beside the model: each one decoder layer
    like the last (MoE) layer plus a 2h→h projection and norms; DeepSeek-V3-style checkpoints also
    store an embedding and an output head per module (DeepSeek-V3 README_WEIGHTS.md)."""
    k = _mtp_layers(c)
    p, n = b.params, b.layers
    if not k:
        return _Params()
    n_moe = b.moe["moe_layers"] if b.moe else 0
    per = _Params(attn=p.attn / n, other=p.other / n + 2 * b.hidden * b.hidden + 3 * b.hidden,
                  dense_mlp=0.0 if n_moe else p.dense_mlp / n, shared=p.shared / n_moe if n_moe else 0.0,
                  routed=p.routed / n_moe if n_moe else 0.0, router=p.router / n_moe if n_moe else 0.0,
                  embed=p.embed if b.mtp_embeddings else 0.0, head=p.embed if b.mtp_embeddings else 0.0)
    return _Params(**{f: v * k for f, v in dataclasses.asdict(per).items()})


# -- public ----------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-.")[:80] or "model"


def import_model(path: str | Path, *, model_id: str | None = None, repo: str | None = None) -> ImportedModel:
    """Read a model's Hugging Face files (a folder, or its `config.json`) into a catalog `Model`.

    Reads `config.json`; when beside it, `model.safetensors.index.json` (its
    `metadata.total_size` is the checkpoint's size in bytes) and `hf_quant_config.json`
    (NVIDIA ModelOpt builds); a config saved as `X_config.json` reads only `X_`-prefixed
    companions, one under any other name none (`_sibling_prefix`). The native variant's size is the index total when present,
    else the size of the `*.safetensors` files in the folder, else the parameter counts by
    storage format (module docstring), multi-token-prediction modules included. Raises CatalogError
    naming the file and the field for an unknown architecture or a field it cannot read.
    `repo` ("org/name") names the Hugging Face repository the files come from; the model
    then cites its public config.json URL. Without it, a folder of the Hugging Face hub cache
    (`models--{org}--{name}/snapshots/{revision}/`) names its repository; elsewhere the model is
    named after its folder, or after the config file's own name when that is not config.json.
    """
    folder, config_path = _config_file(Path(path))
    origin = str(config_path)
    top = _read_json(config_path)
    files = [origin]
    arch, reader = _reader(top, origin)
    top_cfg = _Cfg(top, origin)
    text = top_cfg.sub("text_config")
    build = reader(text, arch)
    if top.get("vision_config") and top_cfg.has("vision_config"):
        build.params.vision = _vision_params(top_cfg.sub("vision_config"))
    if build.tied or bool(top.get("tie_word_embeddings", False)) and text is not top_cfg:
        build.tied = True
        build.params.head = 0.0
    p = build.params
    dtype = str(text.get("torch_dtype", text.get("dtype", top.get("torch_dtype", top.get("dtype", "bfloat16")))))
    hf_quant = None
    prefix = _sibling_prefix(config_path)
    quant_path = None if prefix is None else folder / (prefix + QUANT)
    if quant_path is not None and quant_path.exists():
        hf_quant = _read_json(quant_path)
        files.append(str(quant_path))
    quant = _quant(text.data, origin, hf_quant, dtype, p, top)
    whole = _whole_layers(quant, p, build.layers)
    module_bits = _module_bits(quant, p, whole)
    total = p.total
    # MoE: a token reads one row of the input embedding: no matrix work, so it is not active (as OpenAI
    # counts gpt-oss, arXiv 2508.10925 Table 1); a tied embedding is also the output head, which is.
    # Dense: active = total (less any vision encoder), as dense model cards and the bundled catalog count.
    if build.moe:
        active = total - p.routed + build.routed_active - p.vision - (0.0 if build.tied else p.embed)
    else:
        active = total - p.vision
    mtp = _mtp_params(text, build)
    size = _size_bytes(p, quant.bits, whole, build.layers) + _size_bytes(mtp, quant.bits)
    size_note = "checkpoint size from the parameter counts by storage format" + (
        f", with {mtp.total / 1e9:.2f}B parameters of multi-token-prediction modules" if mtp.total else "")
    size, size_note = _checkpoint_size(folder, total, size, size_note, files, prefix)
    # An unquantized checkpoint stores every weight in its dtype: report the dtype's bits; the measured
    # size (with norms, buffers, headers) stays in size_gb. A quantized one mixes formats: `_quantized_bits`.
    mtp_bytes = _size_bytes(mtp, quant.bits)
    bits_avg = 16.0 if not quant.bits else _quantized_bits(size - mtp_bytes, p)
    repo = repo or _cache_repo(folder) or ""
    name = model_id or _slug(repo.rsplit("/", 1)[-1] if repo else _local_name(folder, config_path))
    source = (f"https://huggingface.co/{repo}/blob/main/{CONFIG}" if repo else
              f"the {CONFIG} of '{folder.name}' (local files; name the repository with --repo to cite it)")
    notes = [f"Imported from {arch}: {total / 1e9:.2f}B parameters ({p.vision / 1e9:.2f}B vision), "
             f"{active / 1e9:.2f}B active."] + build.notes
    try:
        native = Variant(id=quant.variant_id, bits_per_weight=round(bits_avg, 4), size_gb=round(size / 1e9, 3),
                         compute_dtype=quant.compute, requires_native=quant.requires,
                         fallback="bf16" if quant.requires == "fp8" else None, quantized=False,
                         quant_method=quant.method, module_bits=module_bits, unquantized_layers=list(whole),
                         notes=f"{quant.note}{_skip_note(module_bits, whole)}; {size_note}.", source=source,
                         date=_today())
        variants = [native]
        if native.fallback:
            # The upcast converts every tensor of the checkpoint, its MTP modules too (DeepSeek-V3's
            # inference/fp8_cast_bf16.py walks all safetensors files): a safetensors size holds them, as the
            # sizing takes it (optimizer/sizing.py checkpoint_has_mtp).
            variants.append(Variant(id="bf16", bits_per_weight=16, size_gb=round((total + mtp.total) * 2 / 1e9, 3),
                                    compute_dtype="bf16", notes="Upcast for hardware without fp8 units: 2 bytes "
                                    "per parameter" + (f", the {mtp.total / 1e9:.2f}B parameters of the "
                                    "multi-token-prediction modules included" if mtp.total else "") + ".",
                                    source=source, date=_today()))
        att = Attention(**{**build.attention, "compressed": [CompressedLayers(**g) for g in
                                                              build.attention.get("compressed", [])]})
        moe = Moe(**build.moe) if build.moe else None
        mtp_modules = Mtp(layers=_mtp_layers(text), params_b=_billions(mtp.total),
                          expert_params_b=_billions(mtp.routed)) if mtp.total else None
        model = Model(id=_slug(name), name=name, hf_repo=str(repo), local_path="" if repo else str(folder.resolve()),
                      params_b=_billions(total),
                      active_params_b=_billions(active), layers=build.layers, hidden_size=build.hidden,
                      intermediate_size=build.intermediate or (moe.moe_intermediate_size if moe else 1),
                      vocab_size=build.vocab, tie_word_embeddings=build.tied, vision_params_b=_billions(p.vision),
                      attention=att, moe=moe, mtp=mtp_modules, max_context=build.max_context, native_precision=native.id,
                      variants=variants, notes=" ".join(notes), source=source, date=_today())
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise CatalogError(f"{origin}: the fields read do not make a valid model: {exc}") from None
    return ImportedModel(model=model, files=files)


_CACHE_FOLDER = re.compile(r"models--(.+)")


def _cache_repo(folder: Path) -> str | None:
    """The repository ("org/name") of a folder in the Hugging Face hub cache, None elsewhere. The cache keeps a
    repository's files in `models--{org}--{name}/snapshots/{revision}/` ('/' of the repo id written as '--';
    huggingface_hub's cache layout, https://huggingface.co/docs/huggingface_hub/guides/manage-cache), so the
    folder's own name is a commit hash, not the model's."""
    parts = folder.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots":
        found = _CACHE_FOLDER.fullmatch(parts[-3])
        if found and found.group(1).strip("-"):
            return found.group(1).replace("--", "/")
    return None


def _local_name(folder: Path, config_path: Path) -> str:
    """The model's name from local files: a config file not called config.json names the model by its own stem
    (`Qwen3-8B.json`, `Qwen--Qwen3-8B_config.json` → Qwen3-8B: a trailing `config` and an `org--` prefix are
    dropped), since several such files may share one folder; a config.json names it by its folder (resolved:
    `config.json` given inside the folder names the folder, not ".")."""
    if config_path.name != CONFIG:
        stem = re.sub(r"[._-]?config$", "", config_path.stem, flags=re.IGNORECASE).rsplit("--", 1)[-1]
        if stem:
            return stem
    return folder.resolve().name or "model"


def _config_file(path: Path) -> tuple[Path, Path]:
    """(the model folder, its config.json) from a folder or a config file; CatalogError if there is none."""
    if path.is_dir():
        if not (path / CONFIG).exists():
            raise CatalogError(f"{path}: no {CONFIG} in this folder; give a model folder or its {CONFIG}.")
        return path, path / CONFIG
    if path.exists():
        return path.parent, path
    raise CatalogError(f"{path}: no such file or folder.")


def _reader(top: dict, origin: str):
    """(architecture, its reader) from config.json's `architectures`; CatalogError for an unknown one."""
    archs = top.get("architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise CatalogError(f"{origin}: field 'architectures' = {json.dumps(archs)[:60]}: cannot read it "
                           f"(expected a list naming the model class, e.g. [\"LlamaForCausalLM\"]).")
    arch = archs[0]
    reader = _READERS.get(arch)
    if reader is None:
        from .errors import did_you_mean

        raise CatalogError(f"{origin}: field 'architectures' = [\"{arch}\"]: unknown architecture"
                           f"{did_you_mean(arch, _READERS)}; hwplan reads {', '.join(sorted(_READERS))}.")
    return arch, reader


def _sibling_prefix(config_path: Path) -> str | None:
    """How the files that belong with this config file are named beside it: '' for config.json (the
    repository's own layout: hf_quant_config.json, model.safetensors.index.json, *.safetensors); 'X_' for a
    config saved as 'X_config.json' (its companions as 'X_hf_quant_config.json', ...); None for any other name,
    whose folder's files may be another model's: none is read."""
    name = config_path.name
    if name == CONFIG:
        return ""
    if name.endswith(CONFIG) and name[:-len(CONFIG)].endswith(("_", "-", ".")):
        return name[:-len(CONFIG)]
    return None


def _checkpoint_size(folder: Path, total: float, size: float, size_note: str, files: list[str],
                     prefix: str | None = "") -> tuple[float, str]:
    """(bytes, how they were found): the safetensors index's total_size, else the *.safetensors files beside
    config.json (unless they hold under one bit per parameter: Git LFS pointers or a partial download),
    else `size` from the parameter counts. The files read are added to `files`. `prefix` (_sibling_prefix):
    a config saved under another name reads only its own prefixed index and no shards; None reads neither."""
    index_path = None if prefix is None else folder / (prefix + INDEX)
    if index_path is not None and index_path.exists():
        index = _read_json(index_path)
        files.append(str(index_path))
        meta = index.get("metadata")
        ts = meta.get("total_size") if isinstance(meta, dict) else None
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or ts <= 0:
            raise CatalogError(f"{index_path}: field 'metadata.total_size' = {json.dumps(ts)}: cannot read it "
                               f"(expected the checkpoint's size in bytes).")
        return float(ts), f"size from {index_path.name} metadata.total_size ({int(ts):,} B)"
    if prefix != "":
        return size, size_note
    shards = sorted(folder.glob("*.safetensors"))
    on_disk = float(sum(f.stat().st_size for f in shards))
    if shards and on_disk * 8 / total >= 1:
        files += [str(f) for f in shards]
        return on_disk, f"size of the {len(shards)} safetensors file(s) beside {CONFIG} ({int(on_disk):,} B)"
    if shards:
        size_note += f" (the {len(shards)} safetensors file(s) beside it hold {int(on_disk):,} B: pointers, not weights)"
    return size, size_note


def _skip_note(bits: ModuleBits | None, whole: tuple[int, ...]) -> str:
    if bits is None:
        return ""
    kinds = ", ".join(f"{k} {v:g}" for k, v in bits.model_dump().items() if v is not None)
    layers = f"; layers {', '.join(map(str, whole))} whole in 16 bits" if whole else ""
    return f" (bits by module: {kinds}{layers})"


def _billions(count: float) -> float:
    """Parameters in billions: 0.01B steps from 10B up, 4 significant digits below (0.05% at worst)."""
    b = count / 1e9
    return round(b, 2) if b >= 10 else float(f"{b:.4g}")


def _today() -> str:
    import datetime

    return datetime.date.today().isoformat()


def model_yaml(model: Model) -> str:
    """A catalog file (schema_version 1) holding `model`, ready for `--catalog`."""
    import yaml

    def sourced_last(record: dict) -> dict:
        return {k: v for k, v in record.items() if k not in ("source", "date", "notes")} | {
            k: record[k] for k in ("notes", "source", "date") if k in record}

    data = sourced_last(model.model_dump(mode="json", exclude_defaults=True))
    data["variants"] = [sourced_last(v) for v in data["variants"]]
    return yaml.safe_dump({"schema_version": 1, "models": [data]}, sort_keys=False, allow_unicode=True, width=100)


def with_models(catalog, models: list[Model]):
    """`catalog` with `models` added (replacing bundled ones with the same id)."""
    table = {**catalog.models, **{m.id: m for m in models}}
    origins = {**catalog.origins, **{f"models:{m.id}": m.source for m in models}}
    return dataclasses.replace(catalog, models=table, origins=origins)

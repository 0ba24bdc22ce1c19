"""The catalog's records: what hardware, models, engines and prices look like.

Every record is frozen and forbids unknown keys, so a misspelled YAML key fails
loudly. Units are in the field names (`memory_gb`, `tdp_w`, `memory_bandwidth_gbs`).
Every record carries `source` (a public URL or document, or `assumption: <reason>`)
and `date` (YYYY, YYYY-MM or YYYY-MM-DD) for the figures it holds.

GB means 10^9 bytes throughout, as vendors quote memory and bandwidth.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = [
    "DTYPES", "FAMILIES", "KV_DTYPE_BYTES", "HARDWARE_CLASSES",
    "Accelerator", "Platform", "System", "Attention", "CompressedLayers", "Moe", "Mtp", "ModuleBits", "MinEngineVersion", "Variant", "Model",
    "Engine", "EngineEfficiency", "EarlyRelease", "EagerPrefill", "EngineMemory", "EngineVersion", "version_key", "ReserveTier", "BatchTier", "TokenTier", "Offer", "PriceList", "ExchangeRate", "CatalogFile",
]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._+-]*$", max_length=80)]
def _date_text(value: object) -> object:
    """YAML reads 2025-02-11 as a date and 2025 as an int; both mean the text the user wrote."""
    if isinstance(value, (datetime.date, int)) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, datetime.date) else str(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value.strip()):
        parts = value.strip().split("-")
        try:  # a quoted '2025-13-45' matches the pattern but is no calendar date
            datetime.date(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
        except ValueError as exc:
            raise ValueError(f"not a calendar date ({exc})") from None
    return value


Date = Annotated[str, BeforeValidator(_date_text), StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Dtype = Literal["fp4", "fp8", "bf16", "fp16", "int8", "int4"]
FormFactor = Literal["pcie", "sxm", "oam", "cpu", "module"]
HardwareClass = Literal["datacenter", "workstation", "consumer", "edge"]
HARDWARE_CLASSES: tuple[str, ...] = ("datacenter", "workstation", "consumer", "edge")
# complete: sold configured (CPUs, memory, NICs) and ready for its accelerators;
# barebone: a chassis or "starting at" base configuration that needs parts added.
ServerClass = Literal["complete", "barebone"]
# Hardware families group accelerators whose engines behave alike; efficiency
# factors of the speed model are calibrated per family.
Family = Literal["pascal", "volta", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cdna4",
                 "ascend", "gaudi", "cpu"]

DTYPES: tuple[str, ...] = ("fp4", "fp8", "bf16", "fp16", "int8", "int4")
FAMILIES: tuple[str, ...] = Family.__args__  # type: ignore[attr-defined]

# Bytes per cached element for each KV-cache datatype. q8_0/q4_0 are llama.cpp's
# block formats: 32 values plus one fp16 scale (34 and 18 bytes per 32 values).
KV_DTYPE_BYTES: dict[str, float] = {
    "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32,
}


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Sourced(Record):
    source: str = Field(min_length=3, description="Public URL or document for the figures, "
                        "or 'assumption: <reason>'.")
    date: Date = Field(description="When the figures were published or read (YYYY[-MM[-DD]]).")
    notes: str = ""

    @field_validator("source")
    @classmethod
    def _assumption_has_reason(cls, value: str) -> str:
        if value.lower().startswith("assumption") and len(value.split(":", 1)[-1].strip()) < 5:
            raise ValueError("an assumption must say its reason: 'assumption: <why this value>'")
        return value


class Accelerator(Sourced):
    """One GPU, NPU or CPU socket (for CPU-only inference: memory = its DRAM population)."""

    id: Slug
    name: str
    maker: Slug = Field(description="Chip maker: nvidia, amd, huawei, intel.")
    hardware_class: HardwareClass = Field(description="Where it is meant to run: datacenter, workstation, "
                                          "consumer (GeForce-class cards) or edge.")
    family: Family
    architecture: str = ""
    year: int | None = Field(None, ge=2010, le=2035)
    form_factor: FormFactor
    memory_gb: float = Field(gt=0, le=100_000, description="Memory as the vendor states it (HBM '80 GB' parts hold 80 GiB).")
    visible_memory_gib: float | None = Field(None, gt=0, description="Memory the driver reports to the engine "
                                             "(torch.cuda.mem_get_info total, as vLLM's 'total_gpu_memory' and PyTorch's "
                                             "'total capacity' print it), GiB; what engines size their budget from. "
                                             "Default: memory_gb × 10^9 B.")
    memory_type: str = ""
    memory_bandwidth_gbs: float = Field(gt=0, le=100_000, description="Peak memory bandwidth, GB/s.")
    tflops: dict[Dtype, float] = Field(description="Dense peak TFLOPS (TOPS for int8) per datatype, no sparsity.")
    native_dtypes: list[Dtype] = Field(description="Datatypes with native matrix units (fp8 rule: 'fp8' here).")
    tdp_w: int = Field(gt=0, le=100_000)
    interconnect: str = Field("", description="Scale-up link inside a node (NVLink 4 + NVSwitch, xGMI, HCCS, PCIe).")
    interconnect_gbs: float = Field(gt=0, description="Per-accelerator scale-up bandwidth, GB/s, bidirectional.")
    max_per_node: int = Field(gt=0, le=1024)
    export_notes: str = ""
    unpriced_reason: str = Field("", description="Why no bundled price list sells a server with it "
                                 "(e.g. 'sold used only, no sourced price'); empty when one does.")

    @model_validator(mode="after")
    def _consistent(self) -> Accelerator:
        if "bf16" not in self.tflops and "fp16" not in self.tflops:
            raise ValueError("tflops needs a bf16 or fp16 figure (the 16-bit rate every model can run at)")
        for dtype in self.native_dtypes:
            if dtype not in self.tflops:
                raise ValueError(f"native_dtypes lists {dtype} but tflops has no {dtype} figure")
        for dtype, value in self.tflops.items():
            if value <= 0:
                raise ValueError(f"tflops.{dtype} must be positive, got {value}")
        return self

    @property
    def memory_bytes(self) -> float:
        """Capacity an engine sees, in bytes."""
        if self.visible_memory_gib is not None:
            return self.visible_memory_gib * 2**30
        return self.memory_gb * 1e9

    def has_native(self, dtype: str) -> bool:
        return dtype in self.native_dtypes

    def dense_tflops(self, dtype: str) -> float:
        """Dense rate for `dtype`; a datatype without its own figure runs at the 16-bit rate."""
        if dtype in self.tflops and (dtype in self.native_dtypes or dtype in ("bf16", "fp16")):
            return self.tflops[dtype]  # type: ignore[index]
        return self.tflops.get("bf16") or self.tflops["fp16"]  # type: ignore[index]


NicProtocol = Literal["infiniband", "roce", "ethernet"]
NIC_PROTOCOLS: tuple[str, ...] = ("infiniband", "roce", "ethernet")


class Nic(Record):
    """Scale-out NICs of one node: `count` ports of `gbps` each (the backend network between nodes)."""

    count: int = Field(gt=0, le=100_000, description="Ports per node (8 for a rail-optimised HGX node).")
    gbps: int = Field(gt=0, le=3200, description="Speed of one port, Gb/s (400 for ConnectX-7 NDR).")
    protocol: NicProtocol = Field(description="infiniband, roce (RDMA over Ethernet switches) or ethernet.")

    @property
    def fabric(self) -> str:
        """The switch family the ports plug into: infiniband, or ethernet (RoCE runs on Ethernet switches)."""
        return "infiniband" if self.protocol == "infiniband" else "ethernet"


class Platform(Sourced):
    """A server that hosts accelerators of one form factor (or CPU sockets)."""

    id: Slug
    name: str
    maker: Slug = Field(description="Who builds the server: supermicro, dell, nvidia, huawei ...")
    hardware_class: HardwareClass = Field(description="datacenter (rack server), workstation (desk-side box), "
                                          "consumer or edge.")
    server_class: ServerClass = Field("complete", description="complete: sold configured (CPUs, memory, NICs); "
                                      "barebone: a chassis or 'starting at' base configuration that needs parts added.")
    form_factor: FormFactor
    accepts: list[Slug] = Field(default_factory=list, description="Accelerator ids it takes; empty = any of the form factor.")
    gpu_counts: list[int] = Field(min_length=1, description="Accelerators per node it can be bought with.")
    base_power_w: int = Field(ge=0, le=1_000_000, description="Maximum draw without the accelerators: CPUs, "
                              "fans, NICs, switches; a node's maximum draw is this plus count × TDP.")
    rack_units: int = Field(gt=0, le=100)
    max_system_power_w: int | None = Field(None, gt=0, description="Most the server's power supplies deliver "
                                           "(its maker's maximum system power); a node's maximum draw stays below it.")
    link: Literal["native", "pcie"] = Field("native", description="native: the accelerators' own fabric joins all of them; "
                                            "pcie: tensor-parallel traffic crosses PCIe.")
    pcie_gbs: float = Field(64.0, gt=0, description="PCIe bandwidth per accelerator, GB/s bidirectional (Gen4 x16 = 64).")
    network_gbs: float = Field(50.0, gt=0, description="Node-to-node bandwidth for pipeline hops, GB/s (400 Gb/s = 50).")
    nics: list[Nic] = Field(default_factory=list, description="Scale-out NICs per node (count × speed, protocol); "
                            "the first entry is the backend network a multi-node replica uses. Empty: none stated.")
    direct_connect: bool = Field(False, description="Two nodes may be cabled back to back, port to port, without a "
                                 "switch (InfiniBand with a host subnet manager, or RoCE).")
    nics_included: bool = Field(True, description="The server's price includes its scale-out NICs; false (a "
                                "barebone or base configuration): a multi-node replica buys them as `nic` items.")
    cooling: Literal["air", "liquid"] = Field("air", description="How the node is cooled; liquid-cooled nodes need a "
                                              "rack with coolant distribution.")
    scale_up_domain: int | None = Field(None, gt=0, le=100_000, description="Accelerators joined by one scale-up "
                                        "mesh (NVLink/UB) for tensor and expert parallelism; default: one node's.")
    racks_per_node: int | None = Field(None, gt=0, le=1000, description="Rack-scale systems: racks one node fills "
                                       "(GB200 NVL72: 1; CloudMatrix 384: 16). Default: nodes share racks by rack units.")

    @field_validator("gpu_counts")
    @classmethod
    def _positive_counts(cls, counts: list[int]) -> list[int]:
        if any(c <= 0 for c in counts):
            raise ValueError("accelerator counts must be positive")
        return sorted(set(counts))


class System(Sourced):
    """A platform sold with a fixed set of accelerators at one price (DGX H200, 8×MI300X node)."""

    id: Slug
    name: str
    maker: Slug
    platform: Slug
    accelerator: Slug
    count: int = Field(gt=0, le=1024, description="Accelerators in one node.")
    max_power_w: int | None = Field(None, gt=0, description="Maximum draw of the whole node (power caps, rack "
                                    "and facility sizing) as its maker states it; default: platform base power + "
                                    "count × TDP.")
    typical_power_w: int | None = Field(None, gt=0, description="Typical draw under load (energy in TCO) where a "
                                        "source states one; default: maximum × tco.load_factor.")

    @model_validator(mode="after")
    def _typical_le_max(self) -> System:
        if self.typical_power_w is not None and self.max_power_w is not None and self.typical_power_w > self.max_power_w:
            raise ValueError(f"typical_power_w {self.typical_power_w} exceeds max_power_w {self.max_power_w}")
        return self


class CompressedLayers(Record):
    """Layers that keep, besides their sliding window, one cache entry per `ratio` tokens of the
    whole context (DeepSeek-V4's compressed sparse attention, ratio 4, and heavily compressed
    attention, ratio 128; https://huggingface.co/deepseek-ai/DeepSeek-V4-Flash)."""

    layers: int = Field(gt=0, description="How many layers compress at this ratio.")
    ratio: int = Field(ge=2, description="Tokens pooled into one cache entry.")
    indexer: bool = Field(False, description="The layers' sparse-attention indexer keeps a key per compressed "
                          "entry (attention.indexer_bytes_per_token each).")


LinearKind = Literal["gated-deltanet", "kda", "mamba2", "lightning"]


class Attention(Record):
    """How a model's layers attend, and what each keeps per sequence.

    Layer kinds: full attention (a KV entry per token), sliding-window or chunked
    attention (at most `window_tokens` entries), compressed layers (DeepSeek-V4: one
    entry per `ratio` tokens on top of the window), a sparse-attention indexer's key
    cache (DeepSeek-V3.2, GLM-5), and linear-attention or state-space layers (Gated
    DeltaNet, Kimi Delta Attention, Mamba-2) that hold a fixed state per request.
    """

    kind: Literal["mha", "gqa", "mla"]
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0, description="KV heads of the full-attention layers.")
    head_dim: int | None = Field(None, gt=0, description="Per-head dims of the full-attention layers' keys and values.")
    kv_lora_rank: int | None = Field(None, gt=0)
    qk_rope_head_dim: int | None = Field(None, gt=0)
    qk_nope_head_dim: int | None = Field(None, gt=0, description="MLA: per-head query/key dims without RoPE "
                                         "(prefill attention cost); default 128 as in DeepSeek-V3.")
    v_head_dim: int | None = Field(None, gt=0, description="Per-head value dims when they differ from the key dims "
                                   "(MLA default 128 as in DeepSeek-V3; GQA default head_dim).")
    window_layers: int = Field(0, ge=0, description="Layers with sliding-window or chunked attention.")
    window_tokens: int | None = Field(None, gt=0, description="Tokens such a layer keeps at most.")
    window_kv_heads: int | None = Field(None, gt=0, description="KV heads of the sliding-window layers when they "
                                        "differ from the full layers' (Gemma 4, MiMo-V2); default kv_heads.")
    window_head_dim: int | None = Field(None, gt=0, description="Head dims of the sliding-window layers when they "
                                        "differ; default head_dim.")
    kv_layers: int | None = Field(None, gt=0, description="Layers with softmax attention (full, windowed or "
                                  "compressed); default: every layer that is not a linear layer.")
    entry_bytes: float | None = Field(None, gt=0, description="Bytes of one cached token per layer in the model's "
                                      "own fixed cache format, whatever the KV datatype (DeepSeek-V4: 584).")
    fp8_entry_bytes: float | None = Field(None, gt=0, description="Bytes of one cached token per layer when the "
                                          "KV cache is fp8 and the kernels store scales beside it (DeepSeek-V3.2's "
                                          "fp8_ds_mla: 512 fp8 + 4 fp32 scales + 64 bf16 RoPE values = 656).")
    compressed: list[CompressedLayers] = Field(default_factory=list, description="Layers that also keep a "
                                               "compressed cache of the whole context.")
    indexer_layers: int = Field(0, ge=0, description="Layers whose sparse-attention indexer keeps a key for "
                                "every token (DeepSeek-V3.2: all 61; GLM-5.2: the layers with their own indexer).")
    indexer_bytes_per_token: float | None = Field(None, gt=0, description="Bytes of one indexer key: fp8 "
                                                  "values plus one fp32 scale per 128 (132 B for 128 dims).")
    linear_layers: int = Field(0, ge=0, description="Layers with linear attention or a state-space mixer: a fixed "
                               "state per request, no per-token cache.")
    linear_kind: LinearKind | None = None
    state_bytes_per_layer: float | None = Field(None, gt=0, description="Bytes of one request's state in one "
                                                "linear layer (convolution state + recurrent state).")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Attention:
        if self.kind == "mla" and (self.kv_lora_rank is None or self.qk_rope_head_dim is None) \
                and self.entry_bytes is None:
            raise ValueError("MLA attention needs kv_lora_rank and qk_rope_head_dim (or entry_bytes)")
        if self.kind != "mla" and self.head_dim is None:
            raise ValueError(f"{self.kind.upper()} attention needs head_dim")
        if self.window_layers and self.window_tokens is None:
            raise ValueError("window_layers needs window_tokens")
        if self.indexer_layers and self.indexer_bytes_per_token is None:
            raise ValueError("indexer_layers needs indexer_bytes_per_token")
        if any(c.indexer for c in self.compressed) and self.indexer_bytes_per_token is None:
            raise ValueError("a compressed group with an indexer needs indexer_bytes_per_token")
        if self.linear_layers and (self.state_bytes_per_layer is None or self.linear_kind is None):
            raise ValueError("linear_layers needs linear_kind and state_bytes_per_layer")
        return self


class Moe(Record):
    experts: int = Field(gt=0, description="Routed experts per MoE layer.")
    experts_per_token: int = Field(gt=0)
    shared_experts: int = Field(0, ge=0)
    moe_layers: int = Field(gt=0)
    expert_params_b: float = Field(gt=0, description="Parameters in all routed experts of all layers, billions.")
    moe_intermediate_size: int | None = Field(None, gt=0, description="Hidden width of one routed expert's MLP.")

    @model_validator(mode="after")
    def _k_le_e(self) -> Moe:
        if self.experts_per_token > self.experts:
            raise ValueError("experts_per_token exceeds experts")
        return self


class Mtp(Record):
    """Multi-token-prediction (MTP) modules a checkpoint stores beside the model (config.json
    `num_nextn_predict_layers`, Qwen's `mtp_num_hidden_layers`): each one decoder layer like the model's last,
    a 2h → h projection and norms, and in DeepSeek-V3-style checkpoints its own embedding and output head
    (DeepSeek-V3 README_WEIGHTS.md: 671B main model + 14B MTP module). Engines load them only when they run
    MTP speculative decoding (vLLM's DeepSeek `load_weights` skips the spec-decode layers otherwise)."""

    layers: int = Field(ge=1, description="MTP modules (num_nextn_predict_layers).")
    params_b: float = Field(gt=0, description="Their parameters, billions; not counted in the model's params_b.")
    expert_params_b: float = Field(0.0, ge=0, description="Their routed experts, billions (split over the ranks "
                                   "like the model's experts).")

    @model_validator(mode="after")
    def _experts_inside(self) -> Mtp:
        if self.expert_params_b > self.params_b:
            raise ValueError("mtp.expert_params_b exceeds mtp.params_b")
        return self


class ModuleBits(Record):
    """Bits per weight of each module kind where a checkpoint stores it differently from the variant's
    `bits_per_weight`, as its quantization config says (fbgemm/mxfp4 `modules_to_not_convert`, fp8
    `ignored_layers`, compressed-tensors `ignore`, ModelOpt `exclude_modules` or per-layer formats).
    Unset kinds take the variant's rule: linear layers at `bits_per_weight`, the input embedding and the
    output head at 16 bits in quantized safetensors checkpoints."""

    attention: float | None = Field(None, gt=0, le=32, description="Attention projections (q, k, v, o; MLA's "
                                    "low-rank projections), every layer.")
    dense_mlp: float | None = Field(None, gt=0, le=32, description="Dense MLPs and shared experts.")
    experts: float | None = Field(None, gt=0, le=32, description="Routed experts.")
    embeddings: float | None = Field(None, gt=0, le=32, description="The input embedding.")
    lm_head: float | None = Field(None, gt=0, le=32, description="The output head (lm_head).")


class Variant(Sourced):
    """One way to hold the model's weights: a precision or a quantized build."""

    id: Slug = Field(description="Precision id used on the command line: fp8, bf16, int4, q4_k_m, ud-1.58bit.")
    format: Literal["safetensors", "gguf"] = "safetensors"
    bits_per_weight: float | None = Field(None, gt=0, le=32)
    size_gb: float | None = Field(None, gt=0, description="Measured size of the weights; used instead of params × bits.")
    compute_dtype: Dtype = Field(description="Datatype the matrix multiplies run in (picks the TFLOPS figure).")
    requires_native: Dtype | None = Field(None, description="Hardware must have native units for this datatype.")
    fallback: Slug | None = Field(None, description="Variant used where `requires_native` is missing (fp8 -> bf16).")
    quantized: bool = Field(False, description="True for lossy builds below the model's native precision; "
                            "precision 'auto' never picks these.")
    quant_method: str | None = Field(None, max_length=40, description="The checkpoint's quantization_config."
                                     "quant_method (fbgemm_fp8, compressed-tensors, modelopt …), naming the build.")
    module_bits: ModuleBits | None = Field(None, description="Module kinds the checkpoint stores at other bits "
                                           "than `bits_per_weight` (e.g. attention kept in bf16: 16).")
    unquantized_layers: list[int] = Field(default_factory=list, description="Decoder layers (0-based) the "
                                          "checkpoint keeps whole in 16 bits (e.g. Meta's FP8 Llama 3.1 405B: "
                                          "the first and the last).")

    @property
    def mixed(self) -> bool:
        """True when some modules are stored at other bits than `bits_per_weight` (per-module precision)."""
        return self.module_bits is not None or bool(self.unquantized_layers)

    @model_validator(mode="after")
    def _has_size(self) -> Variant:
        if self.bits_per_weight is None and self.size_gb is None:
            raise ValueError("a variant needs bits_per_weight or size_gb")
        return self


class MinEngineVersion(Record):
    """The first release of an engine that serves a model (its architecture or checkpoint format)."""

    engine: Slug = Field(description="Engine id (vllm, sglang, trtllm, llama.cpp).")
    version: str = Field(pattern=r"^[vb]?[0-9]+(\.[0-9]+)*$", description="First release that runs the model, "
                         "e.g. 0.10.1 (llama.cpp: the build, b6096).")
    source: str = Field(min_length=3, description="Public release note, recipe or pull request saying so.")


class Model(Sourced):
    """An LLM's architecture as sizing needs it, with the ways its weights can be held.

    Parameter counts exclude multi-token-prediction (MTP) layers; for a vision-language
    model they include the vision encoder (its weights are loaded) while `layers`,
    `hidden_size` and `attention` describe the language model.
    """

    id: Slug
    name: str
    hf_repo: str = ""
    local_path: str = Field("", description="The folder a model imported from local files came from (no "
                            "repository named): launch commands serve it when `hf_repo` is empty.")
    params_b: float = Field(gt=0, le=100_000, description="Total parameters, billions.")
    active_params_b: float = Field(gt=0, description="Parameters used per token, billions. Dense: the total "
                                   "less any vision encoder (the input embedding counts, as dense model cards "
                                   "state it). MoE: the total less the routed experts a token does not use, the "
                                   "vision encoder and the input embedding (a row lookup), as MoE makers publish "
                                   "activated counts (gpt-oss, arXiv 2508.10925 Table 1).")
    layers: int = Field(gt=0, description="Decoder layers of the language model (every kind).")
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0, description="Hidden width of a dense layer's MLP (config.json "
                                   "intermediate_size); for all-MoE models the shared expert's or the expert's.")
    vocab_size: int = Field(gt=0)
    tie_word_embeddings: bool = Field(False, description="The output head reuses the input embedding matrix "
                                      "(config.json tie_word_embeddings).")
    vision_params_b: float = Field(0.0, ge=0, description="Parameters of a vision encoder and projector, "
                                   "billions (included in params_b).")
    attention: Attention
    moe: Moe | None = None
    mtp: Mtp | None = Field(None, description="Multi-token-prediction modules the model ships (MTP speculative "
                            "decoding needs them).")
    max_context: int = Field(gt=0)
    native_precision: Slug
    variants: list[Variant] = Field(min_length=1)
    min_engine_versions: list[MinEngineVersion] = Field(default_factory=list, description="Engines that serve "
                                                        "the model only from some release on.")

    def min_engine_version(self, engine: str) -> MinEngineVersion | None:
        """The first release of `engine` that serves this model, or None (no stated minimum)."""
        return next((m for m in self.min_engine_versions if m.engine == engine), None)

    @model_validator(mode="after")
    def _cross_checks(self) -> Model:
        self._check_variants()
        if self.active_params_b > self.params_b:
            raise ValueError("active_params_b exceeds params_b")
        self._check_layers()
        if self.moe and self.moe.expert_params_b >= self.params_b:
            raise ValueError("moe.expert_params_b must be less than params_b")
        if self.vision_params_b >= self.params_b:
            raise ValueError("vision_params_b must be less than params_b")
        return self

    def _check_variants(self) -> None:
        """Variant ids are unique, the native precision and every fallback name one of them, and each
        variant's unquantized layers are distinct layer numbers."""
        ids = [v.id for v in self.variants]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"variant ids repeat: {sorted(dupes)}")
        if self.native_precision not in ids:
            raise ValueError(f"native_precision '{self.native_precision}' is not one of the variants {ids}")
        for v in self.variants:
            if v.fallback is not None and v.fallback not in ids:
                raise ValueError(f"variant {v.id} falls back to '{v.fallback}', which is not a variant")
            bad = [i for i in v.unquantized_layers if not 0 <= i < self.layers]
            if bad or len(set(v.unquantized_layers)) != len(v.unquantized_layers):
                raise ValueError(f"variant {v.id}: unquantized_layers {v.unquantized_layers} must be distinct layer "
                                 f"numbers from 0 to {self.layers - 1}")

    def _check_layers(self) -> None:
        """The attention's layer counts fit the model's layers (KV, linear, window, compressed, indexer)."""
        att = self.attention
        kv_layers = self.kv_layers
        if kv_layers < 1:
            raise ValueError("no layer keeps a per-token cache: attention.kv_layers must be at least 1")
        if att.kv_layers is not None and att.kv_layers + att.linear_layers > self.layers:
            raise ValueError(f"attention.kv_layers ({att.kv_layers}) + linear_layers ({att.linear_layers}) "
                             f"exceeds layers ({self.layers})")
        if att.window_layers > kv_layers:
            raise ValueError(f"attention.window_layers ({att.window_layers}) exceeds the attention layers ({kv_layers})")
        if sum(c.layers for c in att.compressed) > kv_layers:
            raise ValueError("attention.compressed names more layers than the attention layers")
        if att.indexer_layers > kv_layers:
            raise ValueError("attention.indexer_layers exceeds the attention layers")

    @property
    def kv_layers(self) -> int:
        """Layers with softmax attention (full, windowed or compressed)."""
        att = self.attention
        return att.kv_layers if att.kv_layers is not None else self.layers - att.linear_layers

    def variant(self, precision: str) -> Variant:
        for v in self.variants:
            if v.id == precision:
                return v
        raise KeyError(precision)


class EngineEfficiency(Record):
    """Speed-model factors for one hardware family under one engine (see optimizer/speed.py)."""

    bandwidth: float = Field(gt=0, le=1, description="Share of peak memory bandwidth reached in decode.")
    compute: float = Field(gt=0, le=1, description="Share of dense peak TFLOPS reached in batched decode.")
    prefill: float = Field(gt=0, le=1, description="Share of dense peak TFLOPS reached in prefill.")
    step_overhead_ms: float = Field(ge=0, le=1000, description="Fixed time per decode step: scheduling, sampling.")
    layer_overhead_us: float = Field(0.0, ge=0, le=10_000, description="Kernel launch and sync time per layer "
                                     "per step (MoE layers run many small kernels).")
    moe_layer_overhead_us: float = Field(0.0, ge=0, le=10_000, description="Extra kernel launch and sync time "
                                         "per MoE layer per step over a dense layer's (router, top-k, token "
                                         "permutation and grouped-GEMM kernels).")
    moe_token_overhead_us: float = Field(0.0, ge=0, le=1000, description="Routing time per token per MoE layer "
                                         "(token permutation in eager-mode MoE; 0 where fused kernels hide it).")
    source: str = Field(min_length=3, description="Why these values: the calibration rows they were fitted on, "
                        "or an assumption with its reason.")


class EarlyRelease(Record):
    """Engine releases that ran one model architecture slower than later ones: every step (decode and
    prefill) takes `slowdown` times as long on releases before `before` (see optimizer/speed.py)."""

    before: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$", description="First release the slowdown no longer "
                        "applies to, e.g. 0.8.0.")
    attention: Literal["mla"] = Field(description="Attention kind of the models it applies to (mla: DeepSeek's "
                                      "multi-head latent attention models).")
    precisions: list[str] = Field(default_factory=list, description="Model precisions (variant ids: fp8, int4, "
                                  "...) it applies to, each running its own kernels; empty: all.")
    slowdown: float = Field(ge=1, le=20, description="Step time on those releases over the time the efficiency "
                            "factors give.")
    source: str = Field(min_length=3, description="Why: what the later releases added, and what the factor was "
                        "fitted on.")

    def applies(self, version: str | None, attention: str, precision: str) -> bool:
        """True for a release before `before` (None: the newest release, never early) running a model of that
        attention kind in one of `precisions` (any when empty)."""
        return version is not None and attention == self.attention and \
            (not self.precisions or precision in self.precisions) and \
            version_key(version.lstrip("vb")) < version_key(self.before)


class EagerPrefill(Record):
    """Releases of an engine that run prefill outside CUDA graphs by default, so the host launching every kernel
    bounds a short prompt's step (see optimizer/speed.py, prefill_launch_floor)."""

    until: str | None = Field(None, pattern=r"^[0-9]+(\.[0-9]+)*$", description="First release whose prefill runs "
                              "in CUDA graphs by default; null: every release prefills eagerly.")
    source: str = Field(min_length=3, description="Where the engine says which batches its CUDA graphs cover.")

    def applies(self, version: str | None) -> bool:
        """True for every release when `until` is null, else for a release before it (None: the newest release)."""
        return self.until is None or (version is not None
                                      and version_key(version.lstrip("vb")) < version_key(self.until))


class BatchTier(Record):
    """Default cap on running sequences for accelerators with less than `below_gib` of memory."""

    below_gib: float = Field(gt=0)
    max_batch: int = Field(gt=0)


class TokenTier(Record):
    """Default tokens per forward step (max batched tokens) below `below_gib` of accelerator memory."""

    below_gib: float = Field(gt=0)
    max_batched_tokens: int = Field(gt=0)


class ReserveTier(Record):
    """SGLang's default-fraction rule: below `below_gib` of memory it holds back
    reserve_gib + per_rank_gib × (tp × pp) and sets mem_fraction_static = (memory − that) / memory."""

    below_gib: float = Field(gt=0)
    reserve_gib: float = Field(ge=0)
    per_rank_gib: float = Field(0.0, ge=0)


class EngineVersion(Record):
    """One engine release whose memory rules differ from the release before it (engines.yaml
    `memory.versions`). Its fields replace the engine's `memory` fields of the same name from this
    release on; unset fields keep the older release's value."""

    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$", description="Release number, e.g. 0.21.0 (llama.cpp: "
                         "the build number, e.g. 6000).")
    released: Date = Field(description="Release date (YYYY[-MM[-DD]]).")
    rule: str = Field(min_length=3, description="What changes in the memory budget from this release on.")
    source: str = Field(min_length=3, description="Public release note, pull request or source file of the change.")
    graphs_in_budget: bool | None = None
    mxfp4_moe_pad: dict[str, int] | None = None
    unchunked_up_to_tokens: int | None = Field(None, ge=0, description="Chunked prefill off by default when "
                                               "max_model_len is at most this: max batched tokens = max(max_model_len,"
                                               " 2,048) (vLLM's V0 engine); 0 = always chunked.")

    def key(self) -> tuple[int, ...]:
        return version_key(self.version)


def version_key(text: str) -> tuple[int, ...]:
    """(0, 21) from '0.21.0', 'v0.21', '~0.21 (Oct 2025)'; (6000,) from 'b6000'; () when there is no number.
    Trailing zeros are dropped, so 0.8 and 0.8.0 are the same release and compare equal."""
    import re

    found = re.search(r"(\d+(?:\.\d+)*)", text)
    parts = [int(x) for x in found.group(1).split(".")] if found else []
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


class EngineMemory(Record):
    """How an engine spends one accelerator's memory at start-up (see optimizer/sizing.py, memory_fit).

    Every figure is per accelerator (rank). `rule` picks the budget:
    - vllm: KV = utilization × visible − weights − activation peak − non-torch; CUDA graphs are captured
      after the KV cache and must fit in the memory above the utilization (less the CUDA context).
    - sglang: KV = mem_fraction_static × visible − weights − memory used before loading (context, NCCL);
      activations and CUDA graphs live in the rest.
    - trtllm: KV = free_gpu_memory_fraction × (visible − weights − activation peak − memory outside torch).
    - fixed: KV = visible − weights − `fixed_reserve_gib` (llama.cpp: compute buffers, no fraction).
    """

    rule: Literal["vllm", "sglang", "trtllm", "fixed"]
    defaults_version: str = Field(min_length=3, description="Engine version the defaults below come from.")
    max_batched_tokens_tiers: list[TokenTier] = Field(default_factory=list, description="Default max batched "
                                                      "tokens by accelerator memory; empty = 8,192.")
    max_model_len_default: Literal["model_context"] = "model_context"
    sampler_bytes_per_logit: float = Field(0.0, ge=0, description="Bytes the profile run's sampler holds per "
                                           "(sequence × vocabulary entry): the logits and their copies.")
    moe_chunk_tokens: int = Field(32768, gt=0, description="Tokens per fused-MoE chunk in the profile run.")
    non_torch_gib: float = Field(0.0, ge=0, description="Memory outside the allocator counted in the budget, "
                                 "one rank alone (cuBLAS/NCCL workspaces).")
    non_torch_multi_rank_gib: float = Field(0.0, ge=0, description="The same with tensor/data parallel peers "
                                            "(NCCL communicators, custom all-reduce buffers).")
    context_gib: float = Field(0.0, ge=0, description="CUDA context and driver memory outside every budget.")
    cuda_graph_sizes: list[int] = Field(default_factory=list, description="Batch sizes captured as CUDA graphs "
                                        "by default (those above max batched tokens are dropped).")
    graph_dense_layer_kib: float = Field(0.0, ge=0, description="Graph memory per captured size per dense layer.")
    graph_moe_layer_kib: float = Field(0.0, ge=0, description="Graph memory per captured size per MoE layer.")
    graph_moe_expert_kib: float = Field(0.0, ge=0, description="Further graph memory per captured size per MoE "
                                        "layer per local expert.")
    graph_nccl_allreduce_mib: float = Field(0.0, ge=0, description="Graph memory per captured NCCL all-reduce "
                                            "(tensor parallel without the custom all-reduce kernel).")
    graphs_in_budget: bool = Field(True, description="False: graphs are captured after the KV cache, outside "
                                   "the utilization share (vLLM before 0.21).")
    mxfp4_moe_pad: dict[str, int] = Field(default_factory=dict, description="Padding of MXFP4 MoE weights where "
                                          "the card has no fp4 units: multiples for 'hidden' and 'intermediate'.")
    default_fraction_tiers: list[ReserveTier] = Field(default_factory=list, description="sglang: the reserved "
                                                      "memory that sets the default mem_fraction_static.")
    fixed_reserve_gib: float = Field(0.0, ge=0, description="fixed: memory held back per accelerator.")
    fixed_reserve_host_gib: float = Field(0.0, ge=0, description="fixed: memory held back per CPU socket "
                                          "(operating system, page cache).")
    large_defaults_exclude: list[Slug] = Field(default_factory=list, description="Accelerator ids that keep the "
                                               "small-memory defaults whatever their memory (vLLM: A100).")
    versions: list[EngineVersion] = Field(default_factory=list, description="Later releases whose memory rules "
                                          "differ, oldest first; the newest is the default version.")
    older_versions: list[EngineVersion] = Field(default_factory=list, description="Earlier releases whose rules "
                                                "differ, oldest first: a release up to and including one takes its "
                                                "fields (the oldest such entry's win).")
    unchunked_up_to_tokens: int = Field(0, ge=0, description="Chunked prefill off by default when max_model_len is "
                                        "at most this (0: always chunked, as vLLM V1).")
    source: str = Field(min_length=3, description="Public source files and start-up logs of these figures.")

    @model_validator(mode="after")
    def _tiers_sorted(self) -> EngineMemory:
        for name in ("max_batched_tokens_tiers", "default_fraction_tiers"):
            bounds = [t.below_gib for t in getattr(self, name)]
            if bounds != sorted(bounds):
                raise ValueError(f"{name} must be sorted by below_gib")
        if self.rule == "sglang" and not self.default_fraction_tiers:
            raise ValueError("the sglang rule needs default_fraction_tiers")
        keys = [v.key() for v in self.versions]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise ValueError("memory.versions must be sorted oldest first, each release once")
        return self

    @property
    def base_version(self) -> str:
        """The release `defaults_version` names (its first number: '0.10.1' of 'vLLM 0.10.1 (2025-08)',
        'b6000' of 'llama.cpp b6000 (2025-07)')."""
        import re

        found = re.search(r"\b(\d+(?:\.\d+)+|b\d{3,})\b", self.defaults_version)
        return found.group(1) if found else ""

    def known_versions(self) -> list[str]:
        """Releases with their own rules, oldest first: `older_versions`, the base release, `versions`."""
        return [v.version for v in self.older_versions] + [v for v in [self.base_version] if v] + \
            [v.version for v in self.versions]

    def for_version(self, version: str | None) -> tuple[EngineMemory, str]:
        """(these rules as of `version`, the release whose rules apply). None: the newest release.
        A release between two listed ones takes the older one's rules (nothing changed in between);
        one older than the base release takes the base rules."""
        fields = ("graphs_in_budget", "mxfp4_moe_pad", "unchunked_up_to_tokens")
        if version is not None and self.older_versions and version_key(version) < version_key(self.base_version):
            want = version_key(version)
            older = [v for v in self.older_versions if want <= v.key()]
            update = {}
            for v in reversed(older):   # newest first, so the oldest matching entry wins
                update.update({k: getattr(v, k) for k in fields if getattr(v, k) is not None})
            if older:
                return self.model_copy(update=update), older[0].version
        if not self.versions:
            return self, self.base_version
        if version is None:
            chosen = list(self.versions)
        else:
            want = version_key(version)
            chosen = [v for v in self.versions if v.key() <= want]
        update: dict = {}
        for v in chosen:
            update.update({k: getattr(v, k) for k in fields if getattr(v, k) is not None})
        label = chosen[-1].version if chosen else self.base_version
        return (self.model_copy(update=update) if update else self), label


class Engine(Sourced):
    """How a serving engine spends memory and time."""

    id: Slug
    name: str
    formats: list[Literal["safetensors", "gguf"]]
    families: list[Family] = Field(description="Hardware families it runs on.")
    memory_utilization: float = Field(gt=0, le=1, description="The engine's default memory fraction (vLLM "
                                      "gpu_memory_utilization, TensorRT-LLM free_gpu_memory_fraction; SGLang: 1, "
                                      "its default fraction comes from memory.default_fraction_tiers).")
    memory: EngineMemory = Field(description="How it spends memory at start-up, term by term.")
    quantized_kv_dtype: str | None = Field(None, description="KV datatype 'auto' means for quantized fp8/fp4 "
                                           "checkpoints, which carry KV scales (TensorRT-LLM's ModelOpt builds: fp8).")
    dp_attention_reserve_gib: float = Field(0.0, ge=0, description="Extra memory held back per accelerator with "
                                            "DP attention (SGLang's default-fraction rule).")
    dp_attention: bool = Field(False, description="Can split MLA's latent cache by data-parallel attention ranks.")
    split: Literal["tensor", "layer"] = Field("tensor", description="How it spreads a model over accelerators: "
                                              "tensor parallel inside a node, or whole layers per device (llama.cpp).")
    batch_tiers: list[BatchTier] = Field(default_factory=list, description="Default cap on concurrent sequences "
                                         "per replica (per DP rank), by accelerator memory; empty = memory decides.")
    efficiency: dict[str, EngineEfficiency] = Field(description="Speed factors by hardware family; 'default' "
                                                    "covers families not listed.")
    early_releases: list[EarlyRelease] = Field(default_factory=list, description="Releases that ran an "
                                               "architecture slower than the efficiency factors say (--engine-version).")
    eager_prefill: EagerPrefill | None = Field(None, description="Releases whose prefill runs outside CUDA "
                                               "graphs (--engine-version); null: its prefill is graphed or compiled.")

    @model_validator(mode="after")
    def _efficiency_keys(self) -> Engine:
        unknown = set(self.efficiency) - set(FAMILIES) - {"default"}
        if unknown:
            raise ValueError(f"efficiency has unknown families {sorted(unknown)}; allowed: default, "
                             f"{', '.join(FAMILIES)}")
        if "default" not in self.efficiency:
            raise ValueError("efficiency needs a 'default' entry for families not listed")
        return self

    def efficiency_for(self, family: str) -> EngineEfficiency:
        return self.efficiency.get(family) or self.efficiency["default"]

    def release_numbering_error(self, version: str | None) -> str | None:
        """Why `version` cannot be a release of this engine, or None: llama.cpp numbers its builds b1234, the other
        engines their releases 0.21.0 (as the releases the catalog has rules for, `EngineMemory.known_versions`).
        A number newer than the catalog's newest is accepted: the newest rules apply."""
        known = self.memory.known_versions()
        if version is None or not known:
            return None
        builds = known[-1].startswith("b")
        if version.startswith("b") == builds:
            return None
        return (f"{self.name} numbers its releases like {'b6000' if builds else known[-1]} (those with rules in the "
                f"catalog: {', '.join(known)}); give such a number, or leave it unset for the newest release.")

    def max_batch(self, memory_gib: float) -> int | None:
        """Default cap on running sequences on an accelerator of `memory_gib`; None = memory decides."""
        tier = next((t for t in self.batch_tiers if memory_gib < t.below_gib), None)
        return tier.max_batch if tier else None

    @property
    def memory_model(self) -> str:
        """The memory rule's name (vllm, sglang, trtllm, fixed)."""
        return self.memory.rule

    def max_batched_tokens(self, memory_gib: float) -> int:
        """Default tokens per forward step on an accelerator of `memory_gib`."""
        tier = next((t for t in self.memory.max_batched_tokens_tiers if memory_gib < t.below_gib), None)
        return tier.max_batched_tokens if tier else 8192

    def default_fraction(self, memory_gib: float, ranks: int, dp_attention: bool = False) -> float:
        """SGLang's default mem_fraction_static: (memory − reserved) / memory, reserved by memory tier."""
        tiers = self.memory.default_fraction_tiers
        if not tiers:
            return self.memory_utilization
        tier = next((t for t in tiers if memory_gib < t.below_gib), tiers[-1])
        reserved = tier.reserve_gib + tier.per_rank_gib * ranks + (self.dp_attention_reserve_gib if dp_attention else 0)
        return max(memory_gib - reserved, 0.0) / memory_gib


class Offer(Record):
    """One item at one price from one seller.

    `price_date` is when the price was quoted or published; `retrieved` is when it was
    read (a page read in 2026 may quote a 2024 price). Plans show the price date.
    """

    item: Slug = Field(description="Id of an accelerator, platform, system, network item or rack.")
    price: float = Field(gt=0, le=1e12, description="Price of one item in the list's currency.")
    seller: str = Field(min_length=1, description="Who sells it: a distributor, an OEM, a "
                        "marketplace listing — never a description of where a figure came from. Required.")
    condition: Literal["new", "used", "refurbished"] = "new"
    warranty_months: int | None = Field(None, ge=0)
    lead_time_weeks: float | None = Field(None, ge=0)
    stock: int | None = Field(None, ge=0, description="Units available; none = unlimited.")
    valid_from: Date | None = Field(None, description="First day the offer holds (default: its date).")
    valid_until: Date | None = Field(None, description="Last day the offer holds; none = open.")
    source: str = Field(min_length=3, description="Public URL or document title the price comes from.")
    price_date: Date = Field(description="When the price was quoted or published (YYYY[-MM[-DD]]).")
    retrieved: Date | None = Field(None, description="When the source was read, if later than price_date.")
    estimate: bool = Field(False, description="True when the price is an estimate, not a quote; `notes` "
                           "says its basis.")
    notes: str = ""

    @model_validator(mode="after")
    def _validity(self) -> Offer:
        if self.estimate and not self.notes:
            raise ValueError("an estimated price needs notes saying its basis")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(f"valid_until {self.valid_until} is before valid_from {self.valid_from}")
        if self.seller.strip().lower() in ("unspecified", "unknown", "n/a", "none"):
            raise ValueError(f"seller = '{self.seller}': name who sells it (a distributor, an OEM, a marketplace "
                             f"listing)")
        if self.retrieved and _first_day(self.price_date) > _last_day(self.retrieved):
            raise ValueError(f"price_date = {self.price_date} is after retrieved = {self.retrieved}: a price "
                             f"cannot be quoted after the page it was read on")
        today = datetime.date.today().isoformat()
        if _first_day(self.price_date) > today:
            raise ValueError(f"price_date = {self.price_date} is in the future (today is {today})")
        if self.retrieved and _first_day(self.retrieved) > today:
            raise ValueError(f"retrieved = {self.retrieved} is in the future (today is {today})")
        return self


def _first_day(date: str) -> str:
    """'2025' → '2025-01-01', '2025-06' → '2025-06-01' (ISO text compares in date order)."""
    return date + "-01-01"[len(date) - 4:] if len(date) < 10 else date


def _last_day(date: str) -> str:
    """'2025' → '2025-12-31', '2025-06' → '2025-06-31' (a bound for comparison, not a real day)."""
    return date + "-12-31"[len(date) - 4:] if len(date) < 10 else date


class PriceList(Sourced):
    id: Slug
    name: str
    currency: Currency
    offers: list[Offer] = Field(min_length=1)


class ExchangeRate(Sourced):
    base: Currency
    quote: Currency
    rate: float = Field(gt=0, description="Units of `quote` per one unit of `base`.")


class NetworkItem(Sourced):
    """A scale-out network part a price list can sell: a NIC, a switch, a cable or a transceiver."""

    id: Slug
    name: str
    maker: Slug
    kind: Literal["nic", "switch", "cable", "transceiver"]
    protocol: Literal["infiniband", "ethernet"] = Field(description="infiniband, or ethernet (RoCE and plain Ethernet).")
    gbps: int = Field(gt=0, le=3200, description="Speed of one port (switch, NIC) or one link (cable, transceiver), Gb/s.")
    ports: int | None = Field(None, gt=0, le=4096, description="Switch: ports at `gbps` (a 64-port NDR switch has "
                              "32 twin-port OSFP cages = 64 × 400 Gb/s). NIC: ports per card.")
    power_w: int | None = Field(None, gt=0, le=100_000, description="Maximum draw, W (switches and NICs, with a "
                                "transceiver powered in every port): sizes power caps, racks and the facility.")
    typical_power_w: int | None = Field(None, gt=0, le=100_000, description="Typical draw, W (the datasheet's "
                                        "'typical power with passive cables'): energy in TCO.")
    rack_units: int | None = Field(None, gt=0, le=50)
    media: Literal["copper", "fiber"] = Field("fiber", description="Cables: copper (direct-attach, a whole link at "
                                              "its speed) or fiber (needs a transceiver at each end).")

    @model_validator(mode="after")
    def _switch_has_ports(self) -> NetworkItem:
        if self.kind in ("switch", "nic") and self.ports is None:
            raise ValueError(f"a {self.kind} needs `ports` (how many {self.gbps} Gb/s ports it has)")
        if self.typical_power_w is not None and self.power_w is not None and self.typical_power_w > self.power_w:
            raise ValueError(f"typical_power_w {self.typical_power_w} W is more than the maximum power_w "
                             f"{self.power_w} W")
        if self.kind in ("cable", "transceiver") and (self.power_w or self.typical_power_w):
            raise ValueError(f"a {self.kind} draws from the port it sits in: give its power in the switch's or "
                             f"NIC's power_w, not here")
        return self


class Rack(Sourced):
    """A rack position as a plan counts it: space, the power it can feed and cool, and how it is cooled."""

    id: Slug
    name: str
    maker: Slug = "various"
    rack_units: int = Field(gt=0, le=60, description="Usable height, U (42 or 48).")
    max_kw: float = Field(gt=0, le=2000, description="Power the rack's PDUs and cooling are rated for, kW.")
    cooling: Literal["air", "liquid"] = Field(description="air, or liquid (coolant distribution for direct liquid "
                                              "cooling); a liquid rack also takes air-cooled nodes.")


class CatalogFile(Record):
    """One YAML file: any of the sections below, each a list of records."""

    schema_version: Literal[1]
    accelerators: list[Accelerator] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    models: list[Model] = Field(default_factory=list)
    engines: list[Engine] = Field(default_factory=list)
    price_lists: list[PriceList] = Field(default_factory=list)
    exchange_rates: list[ExchangeRate] = Field(default_factory=list)
    network_items: list[NetworkItem] = Field(default_factory=list)
    racks: list[Rack] = Field(default_factory=list)

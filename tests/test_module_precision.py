"""Checkpoints that keep some modules unquantized: per-module-kind bits (`Variant.module_bits`) and whole
16-bit layers (`Variant.unquantized_layers`), in sizing, in the independent checker, in the importer and in
`hwplan validate`'s choice of checkpoint.

Every expected number is derived here from the public shapes of Llama 3.1 405B
(https://huggingface.co/meta-llama/Llama-3.1-405B-Instruct/blob/main/config.json: hidden 16384, 126 layers,
128 heads, 8 KV heads, head_dim 128, intermediate 53248, vocab 128256) and the quantization config of Meta's
FP8 build (https://huggingface.co/meta-llama/Llama-3.1-405B-Instruct-FP8/blob/main/config.json:
quant_method fbgemm_fp8; modules_to_not_convert: every layer's self_attn, layers 0 and 125, lm_head).
"""

from __future__ import annotations

import json

import pytest

from catalog.hf_import import import_model
from catalog.schema import Model, ModuleBits, Variant
from optimizer import check_plan, optimize, problem_from_fields, sizing
from optimizer.check import _weights_bytes
from optimizer.validate import _named_build

H, L, HEADS, KV, D, I, V = 16384, 126, 128, 8, 128, 53248, 128256
ATTN_LAYER = 2 * H * HEADS * D + 2 * H * KV * D      # q and o, k and v
MLP_LAYER = 3 * H * I                                # gate, up, down
EMBED = V * H                                        # the input embedding; lm_head the same again
# Meta FP8: attention of every layer, the MLPs of layers 0 and 125, embedding and lm_head in bf16 (2 B);
# the other 124 MLPs in fp8 with one fp32 scale per output row (catalog: 8.002 bits).
META_FP8 = (L * ATTN_LAYER + 2 * MLP_LAYER + 2 * EMBED) * 2 + 124 * MLP_LAYER * 8.002 / 8
# NVIDIA ModelOpt FP8: every linear layer of the blocks in fp8, embedding and lm_head in bf16.
MODELOPT_FP8 = (L * (ATTN_LAYER + MLP_LAYER)) * 1 + 2 * EMBED * 2


def test_meta_fp8_405b_weighs_its_bf16_attention_and_edge_layers(catalog):
    m = catalog.models["llama-3.1-405b"]
    meta, modelopt = m.variant("fp8-meta"), m.variant("fp8")
    # params_b (405.9) is rounded: the dense remainder may differ from the shapes by 0.02%.
    assert sizing.weight_bytes(m, meta) == pytest.approx(META_FP8, rel=1e-3)
    assert sizing.weight_bytes(m, modelopt) == pytest.approx(MODELOPT_FP8, rel=1e-3)
    assert sizing.weight_bytes(m, meta) / sizing.weight_bytes(m, modelopt) > 1.18   # 487 GB vs 410 GB
    parts = sizing.weight_parts(m, meta)
    assert parts.embeddings == pytest.approx(2 * EMBED * 2)
    assert parts.total == pytest.approx(sizing.weight_bytes(m, meta))


def test_meta_fp8_405b_per_rank_on_8_h100_matches_the_vllm_log(catalog):
    """TP8 splits every part: 487.3 GB / 8 = 60.9 GB = 56.7 GiB per rank, where vLLM logged 'Loading model
    weights took 57.7520 GB' (GiB) on each of 8 workers (https://github.com/vllm-project/vllm/issues/6746)."""
    m = catalog.models["llama-3.1-405b"]
    fit = sizing.memory_fit(m, m.variant("fp8-meta"), catalog.accelerators["h100-sxm"], catalog.engines["vllm"],
                            gpus_per_node=8)
    assert fit.layout.tp == 8
    assert fit.weights_per_gpu == pytest.approx(META_FP8 / 8, rel=1e-3)
    assert fit.weights_per_gpu / 2**30 == pytest.approx(57.752, rel=0.03)


def _toy(**variant) -> Model:
    """A small MoE model: 4 layers (first dense, three MoE), hidden 1000, vocab 10,000, 8 experts."""
    return Model.model_validate({
        "id": "toy", "name": "toy", "params_b": 2.0, "active_params_b": 0.5, "layers": 4, "hidden_size": 1000,
        "intermediate_size": 4000, "vocab_size": 10_000, "max_context": 4096, "native_precision": "q",
        "attention": {"kind": "gqa", "heads": 8, "kv_heads": 2, "head_dim": 125},
        "moe": {"experts": 8, "experts_per_token": 2, "moe_layers": 3, "expert_params_b": 1.2},
        "variants": [{"id": "q", "bits_per_weight": 4.5, "compute_dtype": "fp4", **variant,
                      "source": "assumption: a test model", "date": "2026"}],
        "source": "assumption: a test model", "date": "2026"})


def test_module_bits_and_a_whole_moe_layer_by_hand():
    """FP8 attention + NVFP4 experts (LMSYS's DeepSeek recipe, in miniature), layer 3 (a MoE layer) whole in
    16 bits. Attention 4 × (2·1000·8·125 + 2·1000·2·125) = 10.0M; embedding and head 10M each; experts 1.2B;
    dense MLPs the rest: 2.0B − 30M − 1.2B = 770M."""
    m = _toy(module_bits={"attention": 8}, unquantized_layers=[3])
    attn, embed, experts = 4 * (2 * 1000 * 8 * 125 + 2 * 1000 * 2 * 125), 10_000 * 1000, 1.2e9
    dense = 2.0e9 - attn - 2 * embed - experts
    want = (attn * 8 + 2 * embed * 16 + experts * 4.5 + dense * 4.5) / 8
    # layer 3 in 16 bits: its attention (1/4), its dense share (1/4) and its experts (1/3 of the MoE layers)
    want += (attn / 4 * (16 - 8) + dense / 4 * (16 - 4.5) + experts / 3 * (16 - 4.5)) / 8
    v = m.variant("q")
    assert sizing.weight_bytes(m, v) == pytest.approx(want)
    assert sizing.weight_parts(m, v).experts == pytest.approx((experts * 4.5 + experts / 3 * 11.5) / 8)
    # Layer 0 is dense: no expert share.
    dense_layer = _toy(unquantized_layers=[0]).variant("q")
    base = (2.0e9 - 2 * embed) * 4.5 / 8 + 2 * embed * 2
    assert sizing.weight_bytes(_toy(unquantized_layers=[0]), dense_layer) == pytest.approx(
        base + (attn / 4 + dense / 4) * (16 - 4.5) / 8)


def test_a_measured_size_spreads_over_the_module_kinds():
    """size_gb wins for the total; the parts keep the kinds' proportions (experts 4.5 of their bits)."""
    m = _toy(size_gb=2.0, module_bits={"attention": 16, "experts": 4})
    v = m.variant("q")
    by_kind = sizing.module_bytes(m, v)
    parts = sizing.weight_parts(m, v)
    assert parts.total == pytest.approx(2.0e9)
    assert parts.experts == pytest.approx(2.0e9 * by_kind["experts"] / sum(by_kind.values()))
    assert parts.embeddings == pytest.approx(2.0e9 * (by_kind["embeddings"] + by_kind["lm_head"]) / sum(by_kind.values()))
    assert by_kind["experts"] == pytest.approx(1.2e9 * 4 / 8)


def test_unquantized_layers_must_name_real_layers():
    with pytest.raises(ValueError, match="unquantized_layers"):
        _toy(unquantized_layers=[4])
    with pytest.raises(ValueError, match="unquantized_layers"):
        _toy(unquantized_layers=[1, 1])
    with pytest.raises(ValueError):
        ModuleBits(attention=0)


def test_the_checker_counts_the_kept_modules(catalog):
    """The checker's own lower bound for Meta's build is its exact size (dense GQA: every kind is counted),
    so a plan claiming the all-fp8 size per rank is caught."""
    m = catalog.models["llama-3.1-405b"]
    assert _weights_bytes(m, m.variant("fp8-meta")) == pytest.approx(META_FP8, rel=1e-3)
    assert _weights_bytes(m, m.variant("fp8")) == pytest.approx(L * (ATTN_LAYER + MLP_LAYER) + 2 * EMBED, rel=1e-3)
    problem = problem_from_fields({"model": "llama-3.1-405b", "precision": "fp8-meta",
                                   "workload": {"concurrent_users": 4}, "constraints": {"accelerators": ["h100-sxm"]}})
    plan = optimize(catalog, problem)
    assert check_plan(plan, catalog, problem) == []
    line = plan.lines[0]
    ranks = line.sizing.tp * line.sizing.pp * line.sizing.dp
    tampered = line.model_copy(update={"sizing": line.sizing.model_copy(
        update={"weights_gb_per_gpu": MODELOPT_FP8 / ranks / 1e9})})
    bad = plan.model_copy(update={"lines": (tampered,)})
    assert any("GB of weights per accelerator is less than" in v for v in check_plan(bad, catalog, problem))


@pytest.mark.parametrize(("text", "want"), [
    ("fp8 (meta fbgemm/row-wise fp8 ckpt)", "fp8-meta"),   # the checkpoint's quant_method named
    ("fp8", "fp8"),
    ("fp8 (nvidia modelopt)", "fp8"),
    ("bf16", "bf16"),
])
def test_validate_runs_the_checkpoint_a_row_names(catalog, text, want):
    choice = "bf16" if text == "bf16" else "fp8"
    assert _named_build(catalog.models["llama-3.1-405b"], choice, text) == want


def _meta_config(tmp_path):
    skip = ["model.layers.0", "model.layers.125", "lm_head"] + [f"model.layers.{i}.self_attn" for i in range(1, 125)]
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": H, "num_hidden_layers": L,
              "num_attention_heads": HEADS, "num_key_value_heads": KV, "intermediate_size": I, "vocab_size": V,
              "max_position_embeddings": 131072, "torch_dtype": "bfloat16", "tie_word_embeddings": False,
              "quantization_config": {"quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0,
                                      "modules_to_not_convert": skip}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_import_reads_fbgemm_modules_to_not_convert(tmp_path):
    m = import_model(_meta_config(tmp_path)).model
    v = m.variant("fp8")
    assert v.quant_method == "fbgemm_fp8"
    assert v.unquantized_layers == [0, 125]
    assert v.module_bits.attention == 16 and v.module_bits.lm_head == 16 and v.module_bits.dense_mlp == 8
    # The importer's size: the same split at 8.0 bits (fbgemm's row scales are under 0.01 bit), plus norms.
    norms = L * 2 * H + H
    want = (L * ATTN_LAYER + 2 * MLP_LAYER + 2 * EMBED + norms) * 2 + 124 * MLP_LAYER * 1
    assert v.size_gb * 1e9 == pytest.approx(want, rel=1e-4)
    assert sizing.weight_bytes(m, v) == pytest.approx(want, rel=1e-4)


def test_import_without_skips_keeps_the_default_rule(tmp_path):
    cfg = json.loads(_meta_config(tmp_path).joinpath("config.json").read_text())
    cfg["quantization_config"]["modules_to_not_convert"] = ["lm_head"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    v = import_model(tmp_path).model.variant("fp8")
    assert v.module_bits is None and v.unquantized_layers == [] and not v.mixed


def test_a_variant_without_module_precision_is_unchanged():
    """No module_bits: the earlier rule, params × bits with 16-bit embedding and head."""
    m = _toy()
    embed = 2 * 10_000 * 1000
    assert sizing.weight_bytes(m, m.variant("q")) == pytest.approx((2.0e9 - embed) * 4.5 / 8 + embed * 2)
    assert not Variant(id="x", bits_per_weight=8, compute_dtype="fp8", source="assumption: a test variant", date="2026").mixed


def test_import_reads_awq_modules_to_not_convert(tmp_path):
    """AWQ int4 group 128 (4 + 20/128 bits) with 'self_attn' kept in 16 bits (a substring of every attention
    projection's name, as vLLM's is_layer_skipped_awq matches): attention 16 bits, MLPs 4.156, no whole layer."""
    cfg = json.loads(_meta_config(tmp_path).joinpath("config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm",
                                  "zero_point": True, "modules_to_not_convert": ["self_attn"]}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    v = import_model(tmp_path).model.variant("int4")
    bits = 4 + 20 / 128
    assert v.quant_method == "awq" and v.unquantized_layers == []
    assert v.module_bits.attention == 16 and v.module_bits.dense_mlp == pytest.approx(bits)
    norms = L * 2 * H + H
    want = (L * ATTN_LAYER + 2 * EMBED + norms) * 2 + L * MLP_LAYER * bits / 8
    assert v.size_gb * 1e9 == pytest.approx(want, rel=1e-4)


def test_import_reads_fp8_ignored_layers_and_modelopt_exclusions(tmp_path):
    """Block fp8 (vLLM Fp8Config `ignored_layers`) keeping the last layer whole; ModelOpt FP8 with
    `exclude_modules` on every layer's attention (wildcards): both leave those modules in 16 bits."""
    cfg = json.loads(_meta_config(tmp_path).joinpath("config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "fp8", "weight_block_size": [128, 128],
                                  "ignored_layers": ["model.layers.125", "lm_head"]}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    v = import_model(tmp_path).model.variant("fp8")
    assert v.unquantized_layers == [125] and v.module_bits.attention == pytest.approx(8 + 32 / 128**2)
    del cfg["quantization_config"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "hf_quant_config.json").write_text(json.dumps(
        {"quantization": {"quant_algo": "FP8", "exclude_modules": ["lm_head", "model.layers.*.self_attn*"]}}))
    v = import_model(tmp_path).model.variant("fp8")
    assert v.quant_method == "modelopt" and v.unquantized_layers == []
    assert v.module_bits.attention == 16 and v.module_bits.dense_mlp == 8

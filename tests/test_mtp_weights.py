"""The model's multi-token-prediction (MTP) modules: in the checkpoint, loaded only for MTP speculative decoding.

DeepSeek-R1's fp8 checkpoint is 690 GB with its MTP module (DeepSeek-V3 README_WEIGHTS.md: 671B main + 14B MTP);
vLLM and SGLang load that module only when MTP runs. The expected figures are derived here from the config's
shapes: the module is one MoE layer (256 experts of 3 × 7168 × 2048), MLA attention, a shared expert, the
2h → h projection and copies of the embedding and head.
"""

from __future__ import annotations

import json

import pytest

from catalog.errors import ProblemError
from catalog.hf_import import import_model
from optimizer import estimate, sizing, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.layouts import Layout
from optimizer.problem import check_ids, problem_from_fields
from optimizer.serving import Speculative

GB = 1e9
H, VOCAB, MOE_I, EXPERTS = 7168, 129280, 2048, 256
MTP_EXPERTS = round(EXPERTS * 3 * H * MOE_I / 1e7) * 1e7   # 11.27e9 parameters, as the catalog rounds it
MTP_REST = 13.46e9 - MTP_EXPERTS                         # attention, shared expert, eh_proj, embedding and head copies
MTP_BYTES = MTP_EXPERTS * 8.002 / 8 + MTP_REST * 2       # experts in fp8, the rest in bf16
EMBED = 2 * VOCAB * H * 2                                # input embedding and output head, bf16
EXPERT_BYTES = round(58 * EXPERTS * 3 * H * MOE_I / 1e7) * 1e7 * 8.002 / 8   # the main model's routed experts (653.91B)


def test_the_module_is_derived_from_the_config_shapes():
    assert MTP_EXPERTS / 1e9 == pytest.approx(11.27, abs=0.005)
    assert MTP_BYTES / GB == pytest.approx(15.65, abs=0.05)


def test_weights_leave_the_module_out_unless_mtp_runs(catalog):
    m = catalog.models["deepseek-r1"]
    fp8 = m.variant("fp8")
    plain = sizing.weight_parts(m, fp8)
    loaded = sizing.weight_parts(m, fp8, draft="mtp")
    assert plain.total == pytest.approx(690 * GB - MTP_BYTES, rel=1e-9)
    assert loaded.total == pytest.approx(690 * GB, rel=1e-9)        # the measured checkpoint, all of it
    assert loaded.experts - plain.experts == pytest.approx(MTP_EXPERTS * 8.002 / 8, rel=1e-9)
    assert plain.experts == pytest.approx(EXPERT_BYTES, rel=1e-9)
    assert (plain.draft, loaded.draft) == (0.0, pytest.approx(MTP_BYTES, rel=1e-9))


@pytest.mark.parametrize("precision", ["q4_k_m", "int4"])
def test_gguf_and_computed_sizes_hold_no_module(catalog, precision):
    """A GGUF conversion drops the MTP layers and a size from params × bits never counted them: nothing to take
    off; running MTP adds the module at the variant's bits."""
    m = catalog.models["deepseek-r1"]
    v = m.variant(precision)
    assert sizing.weight_parts(m, v).total == pytest.approx(sizing.weight_bytes(m, v), rel=1e-9)
    added = sizing.weight_parts(m, v, draft="mtp").total - sizing.weight_parts(m, v).total
    bits = v.bits_per_weight or v.size_gb * 1e9 * 8 / (m.params_b * 1e9)
    rest_bits = 16 if v.format == "safetensors" else bits   # a GGUF stores the rest at its own bits
    assert added == pytest.approx(MTP_EXPERTS * bits / 8 + MTP_REST * rest_bits / 8, rel=1e-9)


def _dep(catalog, layout, mtp):
    m, acc = catalog.models["deepseek-r1"], catalog.accelerators["h200-sxm"]
    return Deployment(model=m, variant=m.variant("fp8"), accelerator=acc, platform=default_platform(catalog, acc, 8),
                      engine=catalog.engines["vllm"], gpus_per_node=8, layout=layout, draft="mtp" if mtp else None)


def test_attention_dp_ranks_carry_the_dense_part_without_the_module(catalog):
    """DP8 attention + EP8: each rank holds the whole dense part and embeddings, 1/8 of the experts."""
    dp8 = Layout(tp=1, pp=1, dp=8, ep=8)
    dense = 690 * GB - MTP_BYTES - EMBED - EXPERT_BYTES
    expected = dense + EMBED + EXPERT_BYTES / 8
    assert _dep(catalog, dp8, False).memory().weights_per_gpu == pytest.approx(expected, rel=1e-9)
    with_mtp = _dep(catalog, dp8, True).memory()
    assert with_mtp.weights_per_gpu == pytest.approx(expected + MTP_REST * 2 + MTP_EXPERTS * 8.002 / 8 / 8, rel=1e-9)
    assert with_mtp.model_weights_rank == pytest.approx(expected, rel=1e-9)


def test_a_decode_step_reads_the_main_model_only(catalog):
    """The MTP draft's reads are its own forward (serving.DRAFT_STEP_SHARE); loading the module must not slow the
    verifying step."""
    tp8 = Layout(tp=8, pp=1, dp=1, ep=1)
    plain, drafted = _dep(catalog, tp8, False), _dep(catalog, tp8, True)
    t_plain = speed.serving_times(plain, plain.memory()).token_time(32, 3000)[0]
    t_drafted = speed.serving_times(drafted, drafted.memory()).token_time(32, 3000)[0]
    assert t_drafted == pytest.approx(t_plain, rel=1e-9)


def test_vllm_starts_deepseek_with_attention_dp_on_h200(catalog):
    """With the module counted on every rank (117.7 GB) one 163,840-token request's KV did not fit and the
    estimate said the deployment does not start; without it it does."""
    est = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, dp_attention=True, engine="vllm")
    assert est.fits
    assert est.weights_per_gpu_gb == pytest.approx((690 * GB - MTP_BYTES - EMBED - EXPERT_BYTES + EMBED
                                                    + EXPERT_BYTES / 8) / GB, rel=1e-6)


def test_mtp_needs_the_modules_and_any_model_with_them_may_run_it(catalog):
    base = {"model": "kimi-k2", "workload": {"concurrent_users": 10, "speculative": {"method": "mtp"}}}
    with pytest.raises(ProblemError, match="kimi-k2 has no multi-token-prediction layers"):
        check_ids(problem_from_fields(base), catalog)
    check_ids(problem_from_fields({**base, "model": "qwen3.5-397b-a17b"}), catalog)


def test_import_reads_the_module_from_the_config(tmp_path):
    config = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": H,
              "intermediate_size": 18432, "moe_intermediate_size": MOE_I, "num_hidden_layers": 61,
              "num_attention_heads": 128, "num_key_value_heads": 128, "n_routed_experts": EXPERTS,
              "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "vocab_size": VOCAB,
              "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
              "v_head_dim": 128, "max_position_embeddings": 163840, "num_nextn_predict_layers": 1,
              "torch_dtype": "bfloat16"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = import_model(tmp_path / "config.json").model
    assert model.mtp.layers == 1
    assert model.mtp.expert_params_b == pytest.approx(MTP_EXPERTS / 1e9, abs=0.005)
    # 13.46B: the layer's MLA attention, shared expert and router, eh_proj 2h × h, and the embedding and head copies
    attention = H * 1536 + 1536 * 128 * 192 + H * 576 + 512 * 128 * 256 + 128 * 128 * H
    rest = attention + 3 * H * MOE_I + EXPERTS * H + 2 * H * H + 2 * VOCAB * H
    assert model.mtp.params_b == pytest.approx((MTP_EXPERTS + rest) / 1e9, rel=2e-3)
    config["num_nextn_predict_layers"] = 0
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert import_model(tmp_path / "config.json").model.mtp is None


def test_the_estimate_says_whether_the_module_is_loaded(catalog):
    plain = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="vllm")
    mtp = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="vllm",
                   speculative=Speculative("mtp", 1))
    assert plain.mtp_module_gb == pytest.approx(MTP_BYTES / GB, rel=1e-6) and not plain.mtp_module_loaded
    assert mtp.mtp_module_loaded and mtp.weights_gb - plain.weights_gb == pytest.approx(MTP_BYTES / GB, rel=1e-6)
    llama = estimate(catalog, model="llama-3.1-8b", accelerator="h200-sxm", gpus=1)
    assert llama.mtp_module_gb == 0.0


def test_draft_layers_take_their_share_of_the_kv_pool(catalog):
    """vLLM gives the drafter's attention layers blocks from the model's pool: with one MTP layer beside DeepSeek-R1's
    61, the model keeps 61/62 of it; n-gram drafting has no layers; the engine's pool itself is the same."""
    tp8 = Layout(tp=8, pp=1, dp=1, ep=1)
    m, acc = catalog.models["deepseek-r1"], catalog.accelerators["h200-sxm"]

    def fit(draft):
        return Deployment(model=m, variant=m.variant("fp8"), accelerator=acc, platform=default_platform(catalog, acc, 8),
                          engine=catalog.engines["vllm"], gpus_per_node=8, layout=tp8, draft=draft).memory()

    plain, ngram, mtp = fit(None), fit("ngram"), fit("mtp")
    assert ngram.kv_budget_per_gpu == pytest.approx(plain.kv_budget_per_gpu)
    assert mtp.kv_budget_per_gpu == pytest.approx(mtp.rank.kv_cache * 61 / 62)
    # the pool shrinks by the module's weights on the rank: its experts over 8 ranks, the rest over TP8
    assert plain.rank.kv_cache - mtp.rank.kv_cache == pytest.approx(MTP_BYTES / 8, rel=1e-6)


def test_an_eagle_head_is_one_llama_layer_with_its_fc_and_a_32k_head(catalog):
    """Llama-3.1-70B (h 8,192, 64 × 128 q dims, 8 × 128 kv dims, MLP 28,672): fc 3h², q/k/v from 2h, o, the gated
    MLP, and a 32,000 × h LM head: 1.40e9 parameters, 2.81 GB in 16 bits, split over TP like the dense part."""
    m = catalog.models["llama-3.1-70b"]
    h = 8192
    params = 3 * h * h + 2 * h * (8192 + 2 * 1024) + 8192 * h + 3 * h * 28672 + 32000 * h
    assert sizing.eagle_head_params(m) == params
    v = m.variant("bf16")
    eagle = sizing.weight_parts(m, v, draft="eagle")
    plain = sizing.weight_parts(m, v)
    assert eagle.dense - plain.dense == pytest.approx(params * 2) and eagle.draft == pytest.approx(params * 2)
    assert eagle.experts == plain.experts and eagle.embeddings == plain.embeddings
    assert sizing.draft_kv_layers(m, "eagle") == 1 and sizing.draft_kv_layers(m, "ngram") == 0
    est = estimate(catalog, model="llama-3.1-70b", accelerator="h100-sxm", gpus=4, engine="vllm",
                   speculative=Speculative("eagle", 3))
    assert est.draft_weights_gb == pytest.approx(params * 2 / GB, rel=1e-6) and not est.mtp_module_loaded


def test_every_16_bit_checkpoint_of_a_model_with_mtp_holds_its_modules(catalog):
    """A measured safetensors size counts the MTP modules (sizing takes them off unless MTP runs), so a 16-bit
    checkpoint (or upcast) of a model that ships them is (params + MTP params) × 2 B; one that left them out
    would load less than the model."""
    checked = 0
    for m in catalog.models.values():
        for v in m.variants:
            if m.mtp is None or v.size_gb is None or v.format != "safetensors" or v.compute_dtype != "bf16" \
                    or v.quantized:
                continue
            assert v.size_gb == pytest.approx((m.params_b + m.mtp.params_b) * 2, rel=0.01), (m.id, v.id)
            checked += 1
    assert checked >= 10


def test_a_measured_moe_checkpoint_leaves_its_attention_a_dense_part(catalog):
    """Routed experts are sized at the variant's bits and the rest of a measured size is the dense part, which
    attention DP replicates on every rank: a bits_per_weight averaged over the whole checkpoint (its 16-bit
    embeddings and MTP modules included) sized the experts past the size and left DeepSeek-V3.2 fp8 no dense part
    at all. Every MoE safetensors checkpoint with a measured size keeps at least its GQA attention at 4 bits in the
    dense part (attention_params is exact for GQA/MHA; MLA's is an estimate, so MLA models are held to 2 bits;
    GGUF's dynamic quants spread their bits otherwise)."""
    for m in catalog.models.values():
        if m.moe is None:
            continue
        floor = sizing.attention_params(m) * (2 if m.attention.kind == "mla" else 4) / 8
        for v in m.variants:
            if v.size_gb is not None and v.format == "safetensors":
                assert sizing.weight_parts(m, v).dense >= floor, (m.id, v.id)

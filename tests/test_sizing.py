"""Memory formulas against hand-computed numbers; each derivation is written next to its assert."""

from __future__ import annotations

import pytest

from catalog import load_catalog
from catalog.schema import Accelerator, Engine
from optimizer import sizing
from optimizer.problem import EngineSettings

GIB = 2**30


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _acc(**kw) -> Accelerator:
    base = dict(id="test-gpu", name="Test GPU", maker="nvidia", hardware_class="datacenter", family="hopper", form_factor="sxm",
                memory_gb=100, memory_bandwidth_gbs=4000, tflops={"bf16": 1000, "fp8": 2000},
                native_dtypes=["bf16", "fp8"], tdp_w=700, interconnect_gbs=900, max_per_node=8,
                source="assumption: test fixture with round numbers", date="2025")
    base.update(kw)
    return Accelerator(**base)


def _engine(**kw) -> Engine:
    rule = kw.pop("rule", "vllm")
    base = dict(id="test-engine", name="Test", formats=["safetensors"], families=["hopper", "ampere"],
                memory_utilization=0.9, dp_attention=True,
                memory={"rule": rule, "defaults_version": "test fixture", "non_torch_gib": 2.0,
                        "non_torch_multi_rank_gib": 2.0, "source": "assumption: test fixture"},
                efficiency={"default": {"bandwidth": 0.8, "compute": 0.5, "prefill": 0.5, "step_overhead_ms": 2.0,
                                        "source": "assumption: test fixture"}},
                source="assumption: test fixture", date="2025")
    base.update(kw)
    return Engine(**base)


def test_deepseek_r1_mla_kv_bytes_per_token(cat):
    # MLA caches the latent and the decoupled RoPE key: 61 layers × (512 + 64) × 2 B (bf16) = 70,272 B.
    assert sizing.kv_bytes_per_token(cat.models["deepseek-r1"], "bf16") == 61 * 576 * 2 == 70_272
    # fp8 KV halves it: 61 × 576 × 1 = 35,136 B.
    assert sizing.kv_bytes_per_token(cat.models["deepseek-r1"], "fp8") == 35_136


def test_llama_70b_gqa_kv_bytes_per_token(cat):
    # GQA: 2 (K and V) × 80 layers × 8 KV heads × 128 head dim × 2 B = 327,680 B.
    assert sizing.kv_bytes_per_token(cat.models["llama-3.1-70b"], "bf16") == 2 * 80 * 8 * 128 * 2 == 327_680


def test_deepseek_r1_weights_fp8_and_bf16(cat):
    m = cat.models["deepseek-r1"]
    # fp8: the measured checkpoint (671B main + 14B MTP layer, 1 B each, block scales) is about 690 GB.
    assert sizing.weight_bytes(m, m.variant("fp8")) / 1e9 == pytest.approx(690, rel=0.02)
    # bf16 upcast: the whole checkpoint at 2 B, (671 + 13.46) × 2 = 1,368.9 GB; loaded without MTP speculation,
    # 671e9 parameters × 2 B = 1,342 GB ≈ 1.34 TB.
    assert sizing.weight_bytes(m, m.variant("bf16")) / 1e9 == pytest.approx((671 + 13.46) * 2, rel=1e-6)
    assert sizing.weight_parts(m, m.variant("bf16")).total / 1e9 == pytest.approx(1342, rel=1e-6)


def test_fp8_rule_falls_back_to_bf16_without_fp8_units(cat):
    m = cat.models["deepseek-r1"]
    variant, note = sizing.runnable_variant(m, cat.accelerators["a100-80g-pcie"], "fp8")
    assert variant.id == "bf16" and "no native fp8" in note
    variant, note = sizing.runnable_variant(m, cat.accelerators["h200-sxm"], "fp8")
    assert variant.id == "fp8" and note == ""
    # 'auto' is the native precision where it runs, else its fallback.
    assert [v.id for v, _ in sizing.candidate_variants(m, cat.accelerators["h20-96g"], "auto")] == ["fp8"]
    assert [v.id for v, _ in sizing.candidate_variants(m, cat.accelerators["ascend-910b"], "auto")] == ["bf16"]


def test_kv_reserve_doubles_only_for_the_bf16_upcast_of_an_fp8_model(cat):
    r1, llama = cat.models["deepseek-r1"], cat.models["llama-3.1-70b"]
    assert sizing.kv_reserve_factor(r1, r1.variant("bf16")) == 2.0
    assert sizing.kv_reserve_factor(r1, r1.variant("fp8")) == 1.0
    assert sizing.kv_reserve_factor(llama, llama.variant("bf16")) == 1.0


def test_tensor_parallel_splits_gqa_heads_and_replicates_them_past_kv_heads(cat):
    m = cat.models["llama-3.1-70b"]
    # tp 8: each rank holds 1 of the 8 KV heads: 2 × 80 × 1 × 128 × 2 = 40,960 B per token.
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=8, pp=1)) == 40_960
    # tp 16 > 8 KV heads: each head is replicated on two ranks, still 40,960 B per rank.
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=16, pp=1)) == 40_960
    # pp 2 halves the layers per rank: 2 × 40 × 8 × 128 × 2 = 163,840 B.
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=1, pp=2)) == 163_840


def test_mla_latent_is_replicated_across_tp_unless_dp_attention(cat):
    m = cat.models["deepseek-r1"]
    # Replicated: every one of 8 ranks stores the whole 70,272 B latent of every token.
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=8, pp=1)) == 70_272
    acc, eng = _acc(memory_gb=200), _engine()
    v = m.variant("fp8")
    plain = sizing.memory_fit(m, v, acc, eng, gpus_per_node=8)
    dp = sizing.memory_fit(m, v, acc, eng, gpus_per_node=8, dp_attention=True)
    # Each tensor group holds a token once (latent replicated): capacity = budget // 70,272.
    assert plain.kv_capacity_tokens == int(plain.kv_budget_per_gpu // 70_272)
    # DP attention: each of the 8 ranks holds its own sequences → 8 × (budget // 70,272) ...
    assert dp.kv_capacity_tokens == int(dp.kv_budget_per_gpu // 70_272) * 8
    # ... but every rank keeps the attention and embeddings whole (experts split), so its weights are larger.
    assert dp.weights_per_gpu > plain.weights_per_gpu


def _llama70b_tp2_activations() -> float:
    """vLLM profile-run peak of Llama-3.1-70B at tp 2, 8,192 batched tokens, no sampler term (fixture)."""
    h, tokens, tp = 8192, 8192, 2
    intermediate = 28_672                                      # config.json intermediate_size
    hidden = tokens * h * 2                                    # 134,217,728 B
    mlp = tokens * 3 * intermediate * 2 / tp                   # gate/up + activation, half per rank
    return 2 * hidden + mlp + hidden                           # residual + input + MLP, then kept hidden states


def test_vllm_budget_by_hand_utilization_minus_weights_activations_other(cat):
    m = cat.models["llama-3.1-70b"]
    acc, eng = _acc(), _engine()
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, eng, gpus_per_node=2,
                            settings=EngineSettings(max_model_len=3000, eager=True))
    weights = 70.6e9 * 2  # 141.2 GB of bf16 weights, 70.6 GB per GPU
    acts = _llama70b_tp2_activations()
    assert fit.rank.activations == pytest.approx(acts)
    budget = 100e9 * 0.9 - weights / 2 - acts - 2 * GIB  # 90 GB − 70.6 GB − activations − 2 GiB non-torch
    assert fit.kv_budget_per_gpu == pytest.approx(budget)
    # tp 2 → 4 KV heads per rank: 2 × 80 × 4 × 128 × 2 = 163,840 B per token per rank.
    assert fit.kv_capacity_tokens == int(budget // 163_840)
    # Requests of 2,000 + 1,000 tokens: capacity // 3,000 at once.
    assert sizing.max_concurrency(m, fit, "bf16", 3000) == int(budget // (163_840 * 3000))
    assert fit.starts


def test_trtllm_budget_by_hand_fraction_of_free(cat):
    m = cat.models["llama-3.1-70b"]
    acc, eng = _acc(), _engine(rule="trtllm")
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, eng, gpus_per_node=2,
                            settings=EngineSettings(max_model_len=3000, eager=True))
    # TensorRT-LLM: 0.9 × (100 GB − 70.6 GB − activations − 2 GiB outside torch).
    assert fit.kv_budget_per_gpu == pytest.approx((100e9 - 70.6e9 - _llama70b_tp2_activations() - 2 * GIB) * 0.9)


def test_sliding_window_layers_cap_their_cache(cat):
    m = cat.models["gpt-oss-120b"]
    att = m.attention
    per_layer = 2 * att.kv_heads * att.head_dim * 2  # 2 × 8 × 64 × 2 = 2,048 B per token per layer
    assert per_layer == 2048
    full = (m.layers - att.window_layers) * per_layer * 8192      # 18 × 2,048 × 8,192 = 301,989,888
    windowed = att.window_layers * per_layer * att.window_tokens  # 18 × 2,048 × 128 = 4,718,592
    assert sizing.kv_bytes_per_request(m, "bf16", 8192) == full + windowed == 306_708_480


def test_layout_splits_ten_gpus_into_tensor_pairs_for_128_heads(cat):
    # 128 heads: tp must divide 128 and the 10 GPUs of the node → tp 2, 5 stages per node.
    layout = sizing.choose_layout(cat.models["deepseek-r1"], gpus_per_node=10, nodes=2)
    assert (layout.tp, layout.pp) == (2, 10)


def test_weights_that_do_not_fit_give_a_negative_budget(cat):
    m = cat.models["deepseek-r1"]
    fit = sizing.memory_fit(m, m.variant("bf16"), cat.accelerators["a100-80g-pcie"], cat.engines["vllm"],
                            gpus_per_node=8)
    # 1,342 GB over 8 cards is 167.75 GB each, more than an 80 GB card holds.
    assert not fit.weights_fit and fit.kv_capacity_tokens == 0

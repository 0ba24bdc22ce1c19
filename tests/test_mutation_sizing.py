"""optimizer/sizing.py's formulas worked by hand from the catalog's figures (written for mutation testing,
benchmarks/mutation.py): the profile run's activation peak, CUDA-graph memory, weights per rank, measured-size
builds, 'auto' precision, layouts, attention parameters and each engine rule's start-up check."""

from __future__ import annotations

import math

import pytest

from optimizer import sizing
from optimizer.layouts import Layout
from optimizer.problem import EngineSettings

GIB = 2**30


def _settings(catalog, model, acc, engine, layout, **given):
    return sizing.resolve_settings(catalog.engines[engine], catalog.accelerators[acc], catalog.models[model], layout,
                                   EngineSettings(**given))


def test_activation_peak_of_a_dense_model_by_hand(catalog):
    """Llama-3.1-70B, TP 8, 4,096 tokens per step: the forward pass holds the residual and layer input
    (2 × T × hidden × 2 B) plus the largest intermediate — here the MLP's gate/up/activation, 3 × T × 28,672 / 8
    — and the hidden states again on top; the sampler (256 rows × vocab × 39 B per logit in vLLM) is larger."""
    engine = catalog.engines["vllm"]
    layout = Layout(tp=8)
    s = _settings(catalog, "llama-3.1-70b", "h100-sxm", "vllm", layout, max_batched_tokens=4096, max_batch=256)
    t, h = 4096, 8192
    hidden = t * h * 2
    attention = t * (64 + 2 * 8) * 128 * 2 / 8
    mlp = t * 3 * 28672 * 2 / 8
    forward = 2 * hidden + max(attention, mlp)
    sampler = 256 * 128256 * engine.memory.sampler_bytes_per_logit
    expected = max(forward, sampler) + hidden
    assert sampler > forward and mlp > attention
    assert sizing.activation_peak_bytes(catalog.models["llama-3.1-70b"], layout, s, engine) == pytest.approx(expected)
    # Fewer rows than tokens: the sampler runs min(max_batch, tokens) rows; with 16 rows the forward dominates.
    s16 = _settings(catalog, "llama-3.1-70b", "h100-sxm", "vllm", layout, max_batched_tokens=4096, max_batch=16)
    assert sizing.activation_peak_bytes(catalog.models["llama-3.1-70b"], layout, s16, engine) == \
        pytest.approx(forward + hidden)


def test_activation_peak_of_a_moe_model_by_hand(catalog):
    """Qwen3-30B-A3B (every layer MoE, no dense MLP), TP 2, 16,384 tokens: the fused-MoE caches of a chunk of
    min(T, 32,768) tokens × top-8 × (max(2 × 768/2, 2,048) + 768/2) plus the gathered input and output
    2 × T × hidden, all at 2 B."""
    engine = catalog.engines["vllm"]
    layout = Layout(tp=2)
    s = _settings(catalog, "qwen3-30b-a3b", "h100-sxm", "vllm", layout, max_batched_tokens=16384, max_batch=8)
    t, h = 16384, 2048
    chunk = min(t, engine.memory.moe_chunk_tokens)
    inter = 768 / 2
    moe = chunk * 8 * (max(2 * inter, h) + inter) * 2 + 2 * t * h * 2
    attention = t * (32 + 2 * 4) * 128 * 2 / 2
    hidden = t * h * 2
    assert moe > attention
    expected = 2 * hidden + moe + hidden      # the sampler's 8 rows are far smaller
    assert sizing.activation_peak_bytes(catalog.models["qwen3-30b-a3b"], layout, s, engine) == pytest.approx(expected)


def test_activation_peak_of_mla_with_a_dense_prefix_by_hand(catalog):
    """DeepSeek-R1 (3 dense layers before 58 MoE layers), TP 8, 8,192 tokens on TensorRT-LLM (MoE chunk 8,192):
    attention q/k/v of 128 heads at 128 + 64 = 192 dims (MLA: nope + rope), the dense MLP of 18,432, and the
    MoE of 2,048-wide experts split 8 ways; the MoE term is the largest."""
    engine = catalog.engines["trtllm"]
    layout = Layout(tp=8)
    s = _settings(catalog, "deepseek-r1", "h200-sxm", "trtllm", layout, max_batched_tokens=8192, max_batch=64)
    t, h = 8192, 7168
    attention = t * (128 + 2 * 128) * (128 + 64) * 2 / 8
    dense = t * 3 * 18432 * 2 / 8
    inter = 2048 / 8
    moe = min(t, engine.memory.moe_chunk_tokens) * 8 * (max(2 * inter, h) + inter) * 2 + 2 * t * h * 2
    hidden = t * h * 2
    sampler = 64 * 129280 * engine.memory.sampler_bytes_per_logit
    expected = max(2 * hidden + max(attention, dense, moe), sampler) + hidden
    assert sizing.activation_peak_bytes(catalog.models["deepseek-r1"], layout, s, engine) == pytest.approx(expected)


def test_cuda_graph_memory_by_hand(catalog):
    """vLLM on 8 × H100 PCIe (no custom all-reduce beyond 2 PCIe GPUs): per captured size, 80 dense layers ×
    56 KiB plus two NCCL all-reduces per layer × 0.85 MiB; sizes up to max batched tokens."""
    engine = catalog.engines["vllm"]
    mem = engine.memory
    model = catalog.models["llama-3.1-70b"]
    layout = Layout(tp=8)
    pcie = catalog.accelerators["h100-pcie"]
    s = _settings(catalog, "llama-3.1-70b", "h100-pcie", "vllm", layout, max_batched_tokens=256)
    sizes = [n for n in mem.cuda_graph_sizes if n <= 256]
    assert sizing.captured_graph_sizes(engine, s) == sizes and len(sizes) < len(mem.cuda_graph_sizes)
    per_size = 80 * mem.graph_dense_layer_kib * 1024 + 80 * 2 * mem.graph_nccl_allreduce_mib * 2**20
    assert sizing.cuda_graph_bytes(model, layout, s, engine, pcie) == pytest.approx(len(sizes) * per_size)
    # NVLink (SXM): the custom all-reduce needs no NCCL graph memory.
    sxm = catalog.accelerators["h100-sxm"]
    assert sizing.cuda_graph_bytes(model, layout, s, engine, sxm) == pytest.approx(len(sizes) * 80 * 56 * 1024)
    # One GPU: no all-reduce at all, even on PCIe.
    one = Layout(tp=1)
    assert sizing.cuda_graph_bytes(model, one, s, engine, pcie) == pytest.approx(len(sizes) * 80 * 56 * 1024)
    # Eager: nothing captured.
    eager = _settings(catalog, "llama-3.1-70b", "h100-pcie", "vllm", layout, max_batched_tokens=256, eager=True)
    assert sizing.captured_graph_sizes(engine, eager) == [] and sizing.cuda_graph_bytes(model, layout, eager, engine,
                                                                                         pcie) == 0.0


def test_cuda_graph_memory_of_moe_stages_by_hand(catalog):
    """Qwen3-30B-A3B, PP 2 × EP 2 on SXM: each stage holds ⌈48/2⌉ = 24 MoE layers, no dense layer, each MoE
    layer's pool 190 KiB + 2 KiB × 128/2 experts on the rank."""
    engine = catalog.engines["vllm"]
    mem = engine.memory
    layout = Layout(tp=2, pp=2, ep=2)
    s = _settings(catalog, "qwen3-30b-a3b", "h100-sxm", "vllm", layout, max_batched_tokens=8192)
    sizes = len([n for n in mem.cuda_graph_sizes if n <= 8192])
    per_size = 24 * (mem.graph_moe_layer_kib + mem.graph_moe_expert_kib * 128 / 2) * 1024
    got = sizing.cuda_graph_bytes(catalog.models["qwen3-30b-a3b"], layout, s, engine, catalog.accelerators["h100-sxm"])
    assert got == pytest.approx(sizes * per_size)


def test_custom_allreduce_and_non_torch_memory(catalog):
    pcie, sxm = catalog.accelerators["h100-pcie"], catalog.accelerators["h100-sxm"]
    assert sizing.custom_allreduce(sxm, Layout(tp=8))
    assert sizing.custom_allreduce(pcie, Layout(tp=2)) and not sizing.custom_allreduce(pcie, Layout(tp=4))
    mem = catalog.engines["vllm"].memory
    assert sizing.non_torch_bytes(catalog.engines["vllm"], Layout(tp=1)) == mem.non_torch_gib * GIB
    assert sizing.non_torch_bytes(catalog.engines["vllm"], Layout(tp=2)) == mem.non_torch_multi_rank_gib * GIB
    assert sizing.non_torch_bytes(catalog.engines["vllm"], Layout(pp=2)) == mem.non_torch_multi_rank_gib * GIB


@pytest.mark.parametrize("layout, expected", [
    (Layout(tp=4), 1110 / 4),                              # everything split over TP
    (Layout(tp=2, pp=2), ((100 + 1000) / 2 + 10 / 2) / 2),  # a stage: half the layers and one of embed / head
    (Layout(tp=2, dp=4, ep=8), (100 + 10) / 2 + 1000 / 8),  # attention DP: dense and embeddings whole per group
    (Layout(tp=2, dp=4, ep=8, pp=2), (100 / 2 + 10 / 2) / 2 + 1000 / 16),
    (Layout(tp=4, dp=2, ep=8), (100 + 10) / 4 + 1000 / 8),   # two attention groups are attention DP too
])
def test_weights_on_the_busiest_rank(layout, expected):
    parts = sizing.WeightParts(embeddings=10.0, dense=100.0, experts=1000.0)
    assert parts.total == 1110.0
    assert sizing.weights_per_rank(parts, layout) == pytest.approx(expected)


def test_measured_size_builds_take_their_bits_from_the_size(catalog):
    """A GGUF build known by its size (Llama-3.1-70B Q4_K_M, 43.1 GB) has 43.1e9 × 8 / 70.6e9 bits per weight,
    and its embedding and head take that share too; DeepSeek-R1's 1.58-bit build (131 GB) likewise for its
    653.91e9 expert parameters."""
    llama = catalog.models["llama-3.1-70b"]
    parts = sizing.weight_parts(llama, llama.variant("q4_k_m"))
    bits = 43.1e9 * 8 / 70.6e9
    assert parts.total == pytest.approx(43.1e9)
    assert parts.embeddings == pytest.approx(2 * 128256 * 8192 * bits / 8)
    assert parts.experts == 0.0
    r1 = catalog.models["deepseek-r1"]
    parts = sizing.weight_parts(r1, r1.variant("ud-1.58bit"))
    bits = 131e9 * 8 / 671e9
    assert parts.embeddings == pytest.approx(2 * 129280 * 7168 * bits / 8)
    assert parts.experts == pytest.approx(653.91e9 * bits / 8)
    assert parts.dense == pytest.approx(131e9 - parts.embeddings - parts.experts)


def test_auto_precision_adds_the_publishers_own_native_builds(catalog):
    """'auto' on H100 (fp8 units): Llama 4 Maverick's native bf16 plus Meta's own FP8 build, with the reason;
    on an A100 (no fp8) only bf16; Llama 3.1 70B's FP8 is NVIDIA's build, not Meta's, so auto stays bf16."""
    maverick = catalog.models["llama-4-maverick"]
    h100, a100 = catalog.accelerators["h100-sxm"], catalog.accelerators["a100-80g-sxm"]
    found = sizing.candidate_variants(maverick, h100, "auto")
    assert [(v.id, note) for v, note in found] == [
        ("bf16", ""), ("fp8", "precision auto: fp8 is meta-llama's own fp8 build, run on h100-sxm's native fp8 units")]
    assert [v.id for v, _ in sizing.candidate_variants(maverick, a100, "auto")] == ["bf16"]
    assert [v.id for v, _ in sizing.candidate_variants(catalog.models["llama-3.1-70b"], h100, ["auto"])] == ["bf16"]
    # Asked by id alone, a build comes without a note; asked twice (by id and by 'auto'), once.
    assert [(v.id, n) for v, n in sizing.candidate_variants(maverick, h100, "fp8")] == [("fp8", "")]
    assert [v.id for v, _ in sizing.candidate_variants(maverick, h100, ["fp8", "auto"])] == ["fp8", "bf16"]


def test_choose_layout_names_the_servers_it_spans(catalog):
    llama = catalog.models["llama-3.1-70b"]
    assert sizing.choose_layout(llama, 8, 2) == Layout(tp=8, pp=2, nodes_per_replica=2)
    assert sizing.choose_layout(llama, 8, 1, split="layer") == Layout(tp=1, pp=8)
    r1 = catalog.models["deepseek-r1"]
    assert sizing.choose_layout(r1, 8, 2, dp_attention=True) == Layout(tp=1, dp=8, pp=2, nodes_per_replica=2)
    assert sizing.choose_layout(llama, 8, 1, dp_attention=True) == Layout(tp=8)   # dense GQA: no attention DP
    assert sizing.choose_layout(r1, 1, 1, dp_attention=True) == Layout()            # one GPU: nothing to split


def test_attention_parameters_by_hand(catalog):
    # Llama-3.1-8B: per layer q and o 2 × 4,096 × 32 × 128, k and v 2 × 4,096 × 8 × 128; 32 layers.
    assert sizing.attention_params(catalog.models["llama-3.1-8b"]) == 32 * (2 * 4096 * 32 * 128 + 2 * 4096 * 8 * 128)
    # MLA: 4 × hidden² per layer (DeepSeek-R1: 61 × 4 × 7,168²).
    assert sizing.attention_params(catalog.models["deepseek-r1"]) == 61 * 4 * 7168 * 7168


def test_settings_text(catalog):
    s = _settings(catalog, "llama-3.1-8b", "h100-sxm", "vllm", Layout(), max_batch=64, max_batched_tokens=4096,
                  max_model_len=8192)
    assert s.graphs_text() == "CUDA graphs"
    assert s.short() == "util 0.90, max batch 64, 4096 tok/step, max_model_len 8192, CUDA graphs"
    eager = _settings(catalog, "llama-3.1-8b", "h100-sxm", "vllm", Layout(), eager=True)
    assert eager.graphs_text() == "eager (no CUDA graphs)"
    cpu = _settings(catalog, "llama-3.1-8b", "epyc-9654", "llama.cpp", Layout())
    assert cpu.graphs_text() == "no CUDA graphs" and not cpu.cuda_graphs
    sgl = _settings(catalog, "llama-3.1-8b", "h100-sxm", "sglang", Layout())
    assert sgl.max_batch is None and "max batch auto" in sgl.short()
    j = s.to_json()
    assert (j["max_batch"], j["max_batched_tokens"], j["max_model_len"], j["eager"], j["cuda_graphs"]) == \
        (64, 4096, 8192, False, True)
    assert j["memory_utilization"] == 0.9 and j["memory_rules_version"] == s.version
    assert j["engine_version"] == "newest" and s.release is None
    assert set(s.given) == {"max_batch", "max_batched_tokens", "max_model_len"}


def test_vllm_start_up_arithmetic_by_hand(catalog):
    """Llama-3.1-8B bf16 on one H100 SXM under vLLM with 0.9 utilization: KV = 0.9 × total − weights −
    activations − non-torch (graphs captured afterwards, outside the budget before 0.21.0)."""
    m, acc, engine = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"], catalog.engines["vllm"]
    given = EngineSettings(max_batch=256, max_batched_tokens=8192, max_model_len=8192)
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1, settings=given)
    s = fit.settings
    total = acc.memory_bytes
    weights = 8.03e9 * 2
    acts = sizing.activation_peak_bytes(m, fit.layout, s, engine)
    other = engine.memory.non_torch_gib * GIB
    graphs = sizing.cuda_graph_bytes(m, fit.layout, s, engine, acc)
    in_budget = graphs if fit.rank.graphs_in_budget else 0.0
    kv = s.memory_utilization * total - weights - acts - other - in_budget
    assert fit.weights_per_gpu == pytest.approx(weights)
    assert fit.kv_budget_per_gpu == pytest.approx(kv)
    token = 32 * 2 * 8 * 128 * 2
    assert fit.rank_bytes_per_token == token and fit.kv_bytes_per_token == token
    assert fit.kv_capacity_tokens == int(kv // token)
    assert fit.reserve_per_gpu == acts + other + in_budget     # exactly: nothing else is held back
    # vLLM 0.10.1 captures its graphs outside the budget: the reserve is activations and non-torch memory only.
    old = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                            settings=EngineSettings(max_batch=256, max_batched_tokens=8192, max_model_len=8192,
                                                    version="0.10.1"))
    assert not old.rank.graphs_in_budget and old.rank.cuda_graphs > 0
    assert old.reserve_per_gpu == sizing.activation_peak_bytes(m, old.layout, old.settings, engine) + other
    assert fit.memory_bytes == total and fit.gpus == 1 and fit.starts and fit.weights_fit
    assert fit.request_kv_bytes == pytest.approx(token * 8192)
    assert fit.kv_budget_total == pytest.approx(kv)
    # Requests of 4,000 tokens: ⌊KV / (4,000 × 131,072 B)⌋ of them.
    assert sizing.max_concurrency(m, fit, "auto", 4000) == int(kv // (4000 * token))
    r = fit.rank.gib()
    assert r["weights"] == round(weights / GIB, 2) and r["total"] == round(total / GIB, 2)


def test_sglang_and_trtllm_start_up_arithmetic_by_hand(catalog):
    m, acc = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"]
    sgl = catalog.engines["sglang"]
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, sgl, gpus_per_node=1,
                            settings=EngineSettings(memory_utilization=0.8))
    # SGLang: KV = fraction × total − weights − non-torch; activations and graphs live outside the fraction.
    kv = 0.8 * acc.memory_bytes - 8.03e9 * 2 - sgl.memory.non_torch_gib * GIB
    assert fit.kv_budget_per_gpu == pytest.approx(kv) and fit.rank.usable == pytest.approx(0.8 * acc.memory_bytes)
    trt = catalog.engines["trtllm"]
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, trt, gpus_per_node=1,
                            settings=EngineSettings(memory_utilization=0.9, max_batched_tokens=8192, max_batch=64))
    s = fit.settings
    acts = sizing.activation_peak_bytes(m, fit.layout, s, trt)
    graphs = sizing.cuda_graph_bytes(m, fit.layout, s, trt, acc)
    free = acc.memory_bytes - 8.03e9 * 2 - acts - trt.memory.non_torch_gib * GIB - graphs
    # TensorRT-LLM: KV = fraction × what is free after weights, activations, non-torch memory and graphs.
    assert fit.kv_budget_per_gpu == pytest.approx(0.9 * free) and fit.rank.usable == acc.memory_bytes


def test_weights_that_do_not_fit_name_every_term(catalog):
    """Llama-3.1-70B bf16 (141.2 GB) on one 80 GB H100: no KV cache; the message names the weights and what
    else the budget holds, the usable and visible memory and the utilization."""
    m, acc, engine = catalog.models["llama-3.1-70b"], catalog.accelerators["h100-sxm"], catalog.engines["vllm"]
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                            settings=EngineSettings(max_model_len=4096))
    assert not fit.weights_fit and not fit.starts and fit.kv_capacity_tokens == 0 and fit.kv_budget_total == 0.0
    assert fit.why_not.startswith(f"weights {70.6e9 * 2 / GIB:,.2f} GiB, activations ")
    # From vLLM 0.21.0 (the default release) the graphs come out of the budget and are named; before it they
    # are captured after the KV cache is sized, and are not.
    assert ", CUDA graphs " in fit.why_not
    old = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                            settings=EngineSettings(max_model_len=4096, version="0.10.1"))
    assert old.why_not.startswith(f"weights {70.6e9 * 2 / GIB:,.2f} GiB, activations ") and "CUDA" not in old.why_not
    assert f", other {engine.memory.non_torch_gib:,.2f} GiB leave no KV cache" in old.why_not
    assert f"usable on h100-sxm ({acc.memory_bytes / GIB:,.2f} GiB visible, memory utilization 0.90)" in fit.why_not
    assert sizing.max_concurrency(m, fit, "auto", 1000) == 0


def test_quantized_checkpoints_keep_one_16_bit_copy_of_tied_embeddings(catalog):
    """Llama-3.1-8B AWQ int4 (4.156 bits): untied, the embedding and lm_head (2 × 128,256 × 4,096) stay 16-bit;
    the same model with tied embeddings keeps one such matrix."""
    llama = catalog.models["llama-3.1-8b"]
    v = llama.variant("int4")
    embed = 128256 * 4096
    assert sizing.weight_bytes(llama, v) == pytest.approx((8.03e9 - 2 * embed) * 4.156 / 8 + 2 * embed * 2)
    tied = llama.model_copy(update={"tie_word_embeddings": True})
    assert sizing.weight_bytes(tied, v) == pytest.approx((8.03e9 - embed) * 4.156 / 8 + embed * 2)


def test_embeddings_are_at_most_half_of_a_small_models_weights(catalog):
    """A 1e9-parameter model with Llama-3.1-8B's 128,256 × 4,096 vocabulary (2.1e9 embedding parameters, more than
    the model): int4 counts at most half the parameters as 16-bit embeddings — 0.5e9 × 4.156/8 + 0.5e9 × 2 B —
    and weight_parts gives the embeddings at most half of that total."""
    small = catalog.models["llama-3.1-8b"].model_copy(update={"params_b": 1.0})
    v = small.variant("int4")
    total = 0.5e9 * 4.156 / 8 + 0.5e9 * 2
    assert sizing.weight_bytes(small, v) == pytest.approx(total)
    parts = sizing.weight_parts(small, v)
    assert parts.embeddings == pytest.approx(total / 2) and parts.dense == pytest.approx(total / 2)


def test_mla_activation_head_dims_follow_the_rope_width(catalog):
    """An MLA model without head_dim sizes q/k/v activations at qk_nope (128 when unset) + qk_rope dims: with a
    32-dim RoPE key, 160 dims."""
    r1 = catalog.models["deepseek-r1"]
    att = r1.attention.model_copy(update={"qk_rope_head_dim": 32})
    model = r1.model_copy(update={"attention": att})
    engine = catalog.engines["trtllm"]
    layout = Layout(tp=8)
    s = _settings(catalog, "deepseek-r1", "h200-sxm", "trtllm", layout, max_batched_tokens=8192, max_batch=64)
    wide = model.model_copy(update={"moe": None})      # no MoE term: attention (vs the dense MLP) decides
    t = 8192
    attention = t * (128 + 2 * 128) * (128 + 32) * 2 / 8
    mlp = t * 3 * 18432 * 2 / 8
    hidden = t * 7168 * 2
    sampler = 64 * 129280 * engine.memory.sampler_bytes_per_logit
    assert attention > mlp
    assert sizing.activation_peak_bytes(wide, layout, s, engine) == pytest.approx(
        max(2 * hidden + attention, sampler) + hidden)


def test_tensorrt_llm_keeps_fp8_kv_for_a_quantized_fp8_build(catalog):
    """TensorRT-LLM's FP8 checkpoints carry KV scales: 'auto' KV is fp8, 1 B per value — Llama-3.1-8B stores
    32 layers × 2 × 8 heads × 128 × 1 B = 65,536 B per token (bf16 under vLLM: twice that)."""
    m, acc = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"]
    trt = sizing.memory_fit(m, m.variant("fp8"), acc, catalog.engines["trtllm"], gpus_per_node=1)
    assert trt.kv_bytes_per_token == 32 * 2 * 8 * 128 * 1 == trt.rank_bytes_per_token
    vllm = sizing.memory_fit(m, m.variant("fp8"), acc, catalog.engines["vllm"], gpus_per_node=1)
    assert vllm.kv_bytes_per_token == 32 * 2 * 8 * 128 * 2


def test_llama_cpp_on_a_two_socket_host_is_one_numa_spread_process(catalog):
    """On a CPU host llama.cpp runs one process over both sockets: tensor-style split of memory (tp = 2 ranks of
    pages), no pipeline, spread over NUMA nodes."""
    m = catalog.models["deepseek-r1"]
    fit = sizing.memory_fit(m, m.variant("q4_k_m"), catalog.accelerators["epyc-9654"], catalog.engines["llama.cpp"],
                            gpus_per_node=2)
    assert fit.layout == Layout(tp=2, numa_spread=True)


def test_cuda_graphs_that_do_not_fit_above_the_utilization(catalog):
    """vLLM before 0.21.0 (here 0.10.1) captures graphs after sizing the KV cache, in what utilization leaves: Llama-3.1-70B on
    8 × H100 PCIe at utilization 0.98 has 0.02 × total − 0.61 GiB (CUDA context) left, less than its graphs
    (67 sizes × (80 layers × 56 KiB + 80 × 2 NCCL all-reduces × 0.85 MiB))."""
    m, acc, engine = catalog.models["llama-3.1-70b"], catalog.accelerators["h100-pcie"], catalog.engines["vllm"]
    mem = engine.memory
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=8,
                            settings=EngineSettings(memory_utilization=0.98, version="0.10.1"))
    sizes = len([n for n in mem.cuda_graph_sizes if n <= fit.settings.max_batched_tokens])
    graphs = sizes * (80 * mem.graph_dense_layer_kib * 1024 + 80 * 2 * mem.graph_nccl_allreduce_mib * 2**20)
    room = acc.memory_bytes - 0.98 * acc.memory_bytes - mem.context_gib * GIB
    assert 0 < room < graphs
    assert fit.why_not == (f"CUDA graphs need {graphs / GIB:,.2f} GiB, {room / GIB:,.2f} GiB is left above memory "
                           f"utilization 0.98 (out of memory while capturing; --eager avoids it)")


def test_sglang_activations_must_fit_outside_its_static_fraction(catalog):
    """SGLang holds mem_fraction_static for weights and KV; the profile run's activations (and graphs) need the
    rest: at 0.99 of an H100, 1% is too little for Llama-3.1-8B's activations over 8,192 tokens."""
    m, acc, engine = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"], catalog.engines["sglang"]
    fit = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                            settings=EngineSettings(memory_utilization=0.99, max_batched_tokens=8192))
    acts = sizing.activation_peak_bytes(m, fit.layout, fit.settings, engine)
    graphs = sizing.cuda_graph_bytes(m, fit.layout, fit.settings, engine, acc)
    left = acc.memory_bytes - 0.99 * acc.memory_bytes
    assert acts + graphs > left
    assert fit.why_not == (f"activations {acts / GIB:,.2f} GiB and CUDA graphs {graphs / GIB:,.2f} GiB need more "
                           f"than the {left / GIB:,.2f} GiB left outside mem_fraction_static 0.99 (out of memory at "
                           f"start-up)")


def test_kv_datatype_auto_per_engine_and_build(catalog):
    """'auto' is bf16, except TensorRT-LLM with a quantized fp8 or fp4 build (KV scales): fp8."""
    r1, trt, vllm = catalog.models["deepseek-r1"], catalog.engines["trtllm"], catalog.engines["vllm"]
    assert sizing.resolve_kv_dtype("auto", trt, r1.variant("fp4")) == "fp8"
    assert sizing.resolve_kv_dtype("auto", trt, r1.variant("fp8")) == "bf16"     # DeepSeek's own fp8: not quantized
    assert sizing.resolve_kv_dtype("auto", trt, r1.variant("int4")) == "bf16"    # computes in bf16
    assert sizing.resolve_kv_dtype("auto", vllm, r1.variant("fp4")) == "bf16"
    assert sizing.resolve_kv_dtype("fp8", vllm, r1.variant("bf16")) == "fp8"


def test_indexer_keys_add_to_the_latent_cache(catalog):
    """DeepSeek-V3.2: 61 MLA layers of (512 + 64) × 2 B, plus its lightning indexer's 132-byte key on each of
    61 layers; at fp8 the latent entry is the kernels' 656 bytes."""
    m = catalog.models["deepseek-v3.2"]
    assert sizing.kv_bytes_per_token(m, "bf16") == 61 * (512 + 64) * 2 + 61 * 132
    assert sizing.kv_bytes_per_token(m, "fp8") == 61 * 656 + 61 * 132
    assert sizing.kv_bytes_per_request(m, "bf16", 1000) == 1000 * (61 * (512 + 64) * 2 + 61 * 132)


def test_module_parameters_by_hand(catalog):
    """Parameters by module kind. Llama-3.1-8B: embeddings and lm_head 128,256 × 4,096 each, attention
    32 × (2 × 4,096 × 32 × 128 + 2 × 4,096 × 8 × 128), dense MLP the rest of 8.03e9. Gemma 4 26B-A4B (tied
    embeddings: no lm_head): 262,144 × 2,816, attention 30 × (2 × 2,816 × 16 × 512 + 2 × 2,816 × 2 × 512),
    22.84e9 in experts, 0.4507e9 in the vision encoder, dense the rest of 25.68e9."""
    llama = sizing.module_params(catalog.models["llama-3.1-8b"])
    embed, att = 128256 * 4096, 32 * (2 * 4096 * 32 * 128 + 2 * 4096 * 8 * 128)
    assert (llama["embeddings"], llama["lm_head"], llama["attention"], llama["experts"], llama["vision"]) == \
        (embed, embed, att, 0.0, 0.0)
    assert llama["dense_mlp"] == pytest.approx(8.03e9 - embed - embed - att, rel=1e-13)
    gemma = sizing.module_params(catalog.models["gemma-4-26b-a4b"])
    embed, att = 262144 * 2816, 30 * (2 * 2816 * 16 * 512 + 2 * 2816 * 2 * 512)
    assert (gemma["embeddings"], gemma["lm_head"], gemma["attention"]) == (embed, 0.0, att)
    assert gemma["experts"] == pytest.approx(22.84e9, rel=1e-13) and gemma["vision"] == pytest.approx(0.4507e9,
                                                                                                     rel=1e-13)
    assert gemma["dense_mlp"] == pytest.approx(25.68e9 - embed - 0.0 - att - 22.84e9 - 0.4507e9, rel=1e-13)


def test_attention_parameters_are_capped_by_what_the_model_has_left(catalog):
    """A 2e9-parameter model with Llama-3.1-8B's shapes: after 2 × 0.525e9 of embeddings only 0.949e9 are left,
    less than the 1.34e9 its attention shapes would take; attention takes them all, the dense part nothing."""
    small = catalog.models["llama-3.1-8b"].model_copy(update={"params_b": 2.0})
    p = sizing.module_params(small)
    left = 2e9 - 128256 * 4096 - 128256 * 4096
    assert p["attention"] == pytest.approx(left, rel=1e-13) and p["dense_mlp"] == 0.0


def test_per_module_bytes_of_metas_fp8_405b(catalog):
    """Llama-3.1-405B 'fp8-meta' (8.002 bits with one fp32 scale per row; attention kept in bf16; layers 0 and
    125 whole in bf16): embeddings and lm_head 128,256 × 16,384 at 16 bits, attention 126 × (2 × 16,384 × 128 ×
    128 + 2 × 16,384 × 8 × 128) at 16 bits, the dense MLPs (the rest of 405.9e9) at 8.002 bits plus, for the two
    bf16 layers, their 1/126 share at the 16 − 8.002 bits more. A GGUF file of the same split would keep its
    embeddings at the file's own 8.002 bits."""
    m = catalog.models["llama-3.1-405b"]
    v = m.variant("fp8-meta")
    e = 128256 * 16384
    a = 126 * (2 * 16384 * 128 * 128 + 2 * 16384 * 8 * 128)
    d = 405.9e9 - e - e - a
    got = sizing.module_bytes(m, v)
    assert (got["embeddings"], got["lm_head"], got["attention"]) == (e * 2, e * 2, a * 2)
    assert got["dense_mlp"] == pytest.approx(d * 8.002 / 8 + 2 * d / 126 * (16 - 8.002) / 8, rel=1e-12)
    assert got["experts"] == 0.0 and got["vision"] == 0.0
    gguf = sizing.module_bytes(m, v.model_copy(update={"format": "gguf"}))
    assert gguf["embeddings"] == pytest.approx(e * 8.002 / 8, rel=1e-12) and gguf["attention"] == a * 2


def test_compressed_layers_of_deepseek_v4_by_hand(catalog):
    """DeepSeek-V4-Flash, one 1,000-token request: 43 sliding-window layers of 584-byte entries keep 128 tokens;
    21 compressed layers keep one entry plus a 132-byte indexer key per 4 tokens (⌈1000/4⌉ = 250), 20 more one
    entry per 128 tokens (⌈1000/128⌉ = 8), without indexer."""
    m = catalog.models["deepseek-v4-flash"]
    expected = 43 * 584 * 128 + 21 * (584 + 132) * 250 + 20 * 584 * 8
    assert sizing.kv_bytes_per_request(m, "bf16", 1000) == expected


def test_mixed_precision_parts_and_the_expert_width_fallback(catalog):
    """The parts of a per-module checkpoint add up to its bytes (Meta's FP8 405B: its embeddings and lm_head at
    16 bits, 2 × 2 × 128,256 × 16,384 B); a MoE entry without moe_intermediate_size gets it from its expert
    parameters: DeepSeek-R1 653.91e9 / (58 layers × 256 experts × 3 × 7,168) = 2,047.6 → 2,048."""
    m = catalog.models["llama-3.1-405b"]
    parts = sizing.weight_parts(m, m.variant("fp8-meta"))
    assert parts.total == pytest.approx(sum(sizing.module_bytes(m, m.variant("fp8-meta")).values()), rel=1e-12)
    assert parts.embeddings == pytest.approx(2 * 2 * 128256 * 16384, rel=1e-12) and parts.experts == 0.0
    r1 = catalog.models["deepseek-r1"]
    bare = r1.model_copy(update={"moe": r1.moe.model_copy(update={"moe_intermediate_size": None})})
    assert sizing.ffn_sizes(bare) == (18432.0, 2048.0)
    assert sizing.ffn_sizes(catalog.models["llama-3.1-8b"]) == (14336.0, 0.0)


def test_attention_dp_applies_to_mla_models_without_experts_too(catalog):
    """Data-parallel attention turns the TP ranks into attention groups for MLA models whether or not they
    have experts (DeepSeek-R1 restated without its MoE), and for MoE models; not for a dense GQA model."""
    r1 = catalog.models["deepseek-r1"]
    dense_mla = r1.model_copy(update={"moe": None})
    assert sizing.choose_layout(dense_mla, 8, 1, dp_attention=True) == Layout(tp=1, dp=8, pp=1, nodes_per_replica=1)
    assert sizing.choose_layout(r1, 8, 1, dp_attention=True) == Layout(tp=1, dp=8, pp=1, nodes_per_replica=1)
    llama = catalog.models["llama-3.1-70b"]
    assert sizing.choose_layout(llama, 8, 1, dp_attention=True) == Layout(tp=8, pp=1, nodes_per_replica=1)


def test_a_too_old_engine_names_the_release_and_its_source(catalog):
    """gpt-oss-120b needs vLLM 0.10.1 (the catalog's min_engine_versions): 0.10.0 is refused, and the message
    gives the source's URL (the first word of the source field)."""
    from catalog.errors import InputError

    model, engine = catalog.models["gpt-oss-120b"], catalog.engines["vllm"]
    need = model.min_engine_version("vllm")
    url = need.source.split()[0]
    assert url.startswith("https://")
    with pytest.raises(InputError) as err:
        sizing._check_min_version(model, engine, "0.10.0")
    assert f"from release {need.version} on ({url});" in str(err.value)
    sizing._check_min_version(model, engine, need.version)   # the release itself serves it


def test_linear_layers_state_adds_to_a_requests_cache(catalog):
    """Qwen3.5-27B's linear-attention layers hold a fixed state per request: with no context tokens its cache is that
    state alone, linear_layers × state_bytes_per_layer (catalog figures from its config.json)."""
    m = catalog.models["qwen3.5-27b"]
    state = m.attention.linear_layers * m.attention.state_bytes_per_layer
    assert state > 0
    assert sizing.kv_bytes_per_request(m, "bf16", 0) == pytest.approx(state)
    assert sizing.kv_bytes_per_request(m, "bf16", 1000) > state


def test_sglang_holds_back_more_under_attention_dp(catalog):
    """SGLang's default memory fraction reserves dp_attention_reserve_gib more per accelerator with attention DP:
    the two fractions differ by that reserve over the accelerator's memory."""
    from optimizer.layouts import Layout

    eng, acc = catalog.engines["sglang"], catalog.accelerators["h200-sxm"]
    plain = _settings(catalog, "deepseek-r1", "h200-sxm", "sglang", Layout(tp=8))
    dp = _settings(catalog, "deepseek-r1", "h200-sxm", "sglang", Layout(tp=1, dp=8, ep=8))
    assert eng.dp_attention_reserve_gib > 0
    assert plain.memory_utilization - dp.memory_utilization == pytest.approx(
        eng.dp_attention_reserve_gib / (acc.memory_bytes / sizing.GIB))


def test_vllm_v0_prefills_a_whole_max_model_len_prompt_up_to_32k(catalog):
    """vLLM before 0.8.0 turned chunked prefill off when max_model_len ≤ 32,768: one step then takes the whole
    max_model_len; one token more and the default budget applies."""
    from optimizer.layouts import Layout

    vllm = catalog.engines["vllm"]
    old = vllm.model_copy(update={"memory": vllm.memory.for_version("0.7.3")[0]})
    m, acc = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"]
    at = sizing.resolve_settings(old, acc, m, Layout(), EngineSettings(max_model_len=32768))
    above = sizing.resolve_settings(old, acc, m, Layout(), EngineSettings(max_model_len=32769))
    assert at.max_batched_tokens == 32768
    assert above.max_batched_tokens == old.max_batched_tokens(acc.memory_bytes / sizing.GIB) != 32769


def test_two_ranks_of_data_parallel_attention(catalog):
    """DeepSeek-R1 (MLA, MoE) on two GPUs with attention DP: each rank is an attention group of its own (TP 1,
    DP 2); a dense GQA model keeps its tensor-parallel pair."""
    assert sizing.choose_layout(catalog.models["deepseek-r1"], 2, 1, dp_attention=True) == Layout(tp=1, dp=2, pp=1)
    assert sizing.choose_layout(catalog.models["deepseek-r1"], 1, 1, dp_attention=True) == Layout(tp=1, pp=1)
    assert sizing.choose_layout(catalog.models["llama-3.1-70b"], 2, 1, dp_attention=True) == Layout(tp=2, pp=1)


def test_llama_cpp_holds_no_profiled_activations(catalog):
    """llama.cpp's rule ('fixed') reserves compute buffers, not a profiled activation peak: its rank shows none."""
    m, acc = catalog.models["llama-3.1-8b"], catalog.accelerators["epyc-9654"]
    fit = sizing.memory_fit(m, m.variant("q4_k_m"), acc, catalog.engines["llama.cpp"], gpus_per_node=1,
                            settings=EngineSettings(max_model_len=4096))
    assert fit.starts and fit.rank.activations == 0.0


def test_vllm_request_check_of_windowed_layers_at_tp2_by_hand(catalog):
    """gpt-oss-120b (36 layers, 18 with a 128-token window; 8 KV heads of 64) at TP2, bf16 KV: each rank holds 4
    heads, 4 × 2 × 64 × 2 = 1,024 B per token per layer. One 8,192-token request as vLLM checks it at start-up:
    full layers 8,192 tokens; windowed layers min(127 + 2,048, 8,192) = 2,175 tokens rounded up to 2,176, plus
    one 16-token block."""
    m, acc, engine = catalog.models["gpt-oss-120b"], catalog.accelerators["h100-sxm"], catalog.engines["vllm"]
    settings = sizing.resolve_settings(engine, acc, m, Layout(tp=2), EngineSettings(max_batched_tokens=2048))
    entry = 4 * 2 * 64 * 2
    expected = 18 * 8192 * entry + 18 * (2176 + 16) * entry
    assert sizing.request_kv_bytes(m, "bf16", Layout(tp=2), 8192, settings) == pytest.approx(expected)


def test_sizing_refuses_a_release_numbered_unlike_the_engines(catalog):
    """A memory fit asked for vLLM release 'b6000' (llama.cpp's numbering) stops with an InputError naming it."""
    from catalog.errors import InputError

    m, acc, engine = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"], catalog.engines["vllm"]
    with pytest.raises(InputError, match="b6000"):
        sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1, settings=EngineSettings(version="b6000"))


def test_old_vllm_graphs_must_fit_beside_the_cuda_context(catalog):
    """vLLM before 0.21.0 captures CUDA graphs after sizing the KV cache, in (1 − utilization) × total less the CUDA
    context (engines.yaml memory.context_gib): with the utilization set so that room is half a context short of the
    graphs, it does not start; with a context's room to spare, it does."""
    m, acc, engine = catalog.models["llama-3.1-8b"], catalog.accelerators["h100-sxm"], catalog.engines["vllm"]
    old = "0.10.1"
    probe = sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                              settings=EngineSettings(max_model_len=8192, version=old))
    graphs = probe.rank.cuda_graphs
    context = engine.memory.for_version(old)[0].context_gib * GIB
    assert graphs > 0 and context > 0

    def fit(room):   # utilization leaving `room` above the graphs and the context
        u = 1 - (graphs + context + room) / acc.memory_bytes
        return sizing.memory_fit(m, m.variant("bf16"), acc, engine, gpus_per_node=1,
                                 settings=EngineSettings(max_model_len=8192, version=old, memory_utilization=u))

    short = fit(-context / 2)
    assert short.rank.cuda_graphs == pytest.approx(graphs) and not short.starts
    assert "CUDA graphs need" in short.why_not and "--eager avoids it" in short.why_not
    assert fit(context / 2).starts


def test_an_eagle_head_on_an_mla_model_is_an_mha_layer_of_hidden_width(catalog):
    """DeepSeek-R1 (MLA, h 7,168, dense MLP 18,432): fc 3h², q, k, v from 2h at h each (6h²), o h², the MLP and a
    32,000-token head."""
    m = catalog.models["deepseek-r1"]
    h = 7168
    assert sizing.eagle_head_params(m) == 3 * h * h + 2 * h * 3 * h + h * h + 3 * h * 18432 + 32000 * h


def test_vllm_windowed_layers_hold_the_window_and_a_step_of_tokens_by_hand(catalog):
    """gpt-oss-20b (config.json: sliding_window 128 on 12 of its 24 layers, 8 KV heads of 64): vLLM's start-up
    check gives a windowed layer min(window − 1 + max_batched_tokens, tokens) tokens rounded up to 16-token
    blocks, plus one block. At 2,050 batched tokens that is 2,177 → 2,192 + 16 = 2,208 tokens, 2,080 beyond the
    128 the window keeps (a budget where one token less would round to 2,176)."""
    model = catalog.models["gpt-oss-20b"]
    s = _settings(catalog, "gpt-oss-20b", "h100-sxm", "vllm", Layout(tp=1), max_batched_tokens=2050)
    tokens = 100_000
    extra = sizing.request_kv_bytes(model, "bf16", Layout(tp=1), tokens, s) - \
        sizing.kv_bytes_per_request(model, "bf16", tokens, tp=1)
    per_token = 2 * 8 * 64 * 2                    # K and V, 8 heads of 64, 2 bytes (bf16)
    assert extra == pytest.approx(12 * per_token * (2192 + 16 - 128))


def test_mxfp4_experts_are_not_padded_where_the_accelerator_has_fp4_units(catalog):
    """vLLM pads MXFP4 MoE weights only on the Marlin/Triton paths of cards without fp4 units (mxfp4.py):
    gpt-oss-120b on B200 keeps the checkpoint's bytes, on H100 it grows."""
    model = catalog.models["gpt-oss-120b"]
    variant, vllm = model.variant("mxfp4"), catalog.engines["vllm"]
    plain = sizing.weight_parts(model, variant).total
    assert sizing.weight_parts(model, variant, catalog.accelerators["b200"], vllm).total == plain
    assert sizing.weight_parts(model, variant, catalog.accelerators["h100-sxm"], vllm).total > plain


def test_a_replica_over_two_servers_counts_both_servers_accelerators(catalog):
    model = catalog.models["llama-3.1-70b"]
    fit = sizing.memory_fit(model, model.variant("bf16"), catalog.accelerators["h100-sxm"], catalog.engines["vllm"],
                            gpus_per_node=8, nodes=2)
    one = sizing.memory_fit(model, model.variant("bf16"), catalog.accelerators["h100-sxm"], catalog.engines["vllm"],
                            gpus_per_node=8)
    assert fit.gpus == 16 and fit.layout.nodes_per_replica == 2 and one.gpus == 8
    assert fit.memory_bytes == pytest.approx(2 * one.memory_bytes)


def test_llama_cpp_holds_back_its_gpu_reserve_not_the_hosts(catalog):
    """llama.cpp's rule (engines.yaml): KV = visible − weights − 1.5 GiB on an accelerator (16 GiB on a CPU
    socket, for the OS and buffers)."""
    model = catalog.models["llama-3.1-8b"]
    fit = sizing.memory_fit(model, model.variant("bf16"), catalog.accelerators["rtx-4090"],
                            catalog.engines["llama.cpp"], gpus_per_node=1)
    assert fit.memory_bytes - fit.weights_per_gpu - fit.kv_budget_per_gpu == pytest.approx(1.5 * GIB)

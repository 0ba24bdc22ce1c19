"""The engine memory model against public start-up reports: each case derives its numbers by hand
(the arithmetic is written out) and cites the report it reproduces."""

from __future__ import annotations

import json

import pytest

from catalog import load_catalog
from catalog.errors import InputError
from optimizer import estimate, sizing
from optimizer.capacity import replica_capacity
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import EngineSettings, Workload

GIB = 2**30
KIB, MIB = 1024, 2**20


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _fit(cat, model, precision, acc, gpus, engine, dp_attention=False, kv="auto", **settings):
    m = cat.models[model]
    return sizing.memory_fit(m, m.variant(precision), cat.accelerators[acc], cat.engines[engine], gpus_per_node=gpus,
                             kv_dtype=kv, dp_attention=dp_attention, settings=EngineSettings(**settings))


def test_gpt_oss_120b_on_one_h100_does_not_start_at_131072_tokens(cat):
    # https://github.com/vllm-project/vllm/issues/27508 (vLLM V1, H100 80GB, --gpu-memory-utilization 0.95,
    # --max-model-len 131072, --max-num-batched-tokens 1024): "To serve at least one request with the models's
    # max seq len (131072), (4.54 GiB KV cache is needed, which is larger than the available KV cache memory
    # (1.71 GiB)".
    fit = _fit(cat, "gpt-oss-120b", "mxfp4", "h100-sxm", 1, "vllm", memory_utilization=0.95,
               max_model_len=131072, max_batched_tokens=1024, version="0.11")
    # One request: 18 full layers × 131,072 tokens × 2,048 B (2 × 8 KV heads × 64 × 2 B) = 4,831,838,208 B, plus
    # 18 sliding layers × (min(128 − 1 + 1,024, 131,072) = 1,151 → 1,152 tokens + one 16-token block) × 2,048 B.
    request = 18 * 131072 * 2048 + 18 * (1152 + 16) * 2048
    assert fit.request_kv_bytes == request and round(request / GIB, 2) == 4.54
    # Weights on Hopper (Marlin, no fp4 units): MXFP4 experts 114.66e9 × 4.25 / 8 B padded to hidden 3,072 ×
    # intermediate 2,944 (from 2,880 × 2,880); the rest of the 65.28 GB checkpoint as is.
    experts = 114.66e9 * 4.25 / 8
    weights = 65.28e9 + experts * (3072 * 2944 / (2880 * 2880) - 1)
    assert fit.weights_per_gpu == pytest.approx(weights)
    assert weights / GIB == pytest.approx(65.97, rel=0.005)   # vLLM logs 'Model loading took 65.9651 GiB' (#23278)
    # Activations: the sampler's 1,024 rows × 201,088 vocabulary × 39 B, plus the 1,024 × 2,880 hidden states kept.
    acts = 1024 * 201088 * 39 + 1024 * 2880 * 2
    assert fit.rank.activations == pytest.approx(acts)
    kv = 0.95 * 79.18 * GIB - weights - acts - 0.13 * GIB
    assert fit.kv_budget_per_gpu == pytest.approx(kv)
    assert abs(kv / GIB - 1.71) < 0.1                          # the log's 1.71 GiB, within 0.1 GiB
    assert not fit.starts
    assert "one 131,072-token request needs 4.54 GiB of KV" in fit.why_not and "weights 65.9" in fit.why_not


def test_qwen3_30b_a3b_on_four_a10_runs_out_of_memory_with_cuda_graphs_and_starts_eager(cat):
    # https://github.com/vllm-project/vllm/issues/17327 (comment by cpwan, vLLM 0.8.5, 4 × A10, TP4):
    # "Gives OOM, even i set max-model-len to 1024, with max-num-seq = 1. Works with enforce-eager."
    graphs = _fit(cat, "qwen3-30b-a3b", "bf16", "a10", 4, "vllm", max_model_len=1024, max_batch=1, version="0.8.5")
    # 67 capture sizes (1, 2, 4, 8 … 512, all under the 2,048-token default below 70 GiB), each holding
    # 48 MoE layers × (190 KiB + 2 KiB × 128 experts) and, on four PCIe cards without the custom all-reduce,
    # 48 layers × 2 NCCL all-reduces × 0.85 MiB.
    per_size = 48 * (190 + 2.0 * 128) * KIB + 48 * 2 * 0.85 * MIB
    assert graphs.rank.cuda_graphs == pytest.approx(67 * per_size)
    room = 21.99 * GIB * (1 - 0.9) - 0.61 * GIB              # above the utilization, less the CUDA context
    assert graphs.rank.cuda_graphs > room
    assert not graphs.starts and "CUDA graphs need" in graphs.why_not and "--eager" in graphs.why_not

    eager = _fit(cat, "qwen3-30b-a3b", "bf16", "a10", 4, "vllm", max_model_len=1024, max_batch=1, eager=True,
                 version="0.8.5")
    assert eager.rank.cuda_graphs == 0 and eager.starts
    # KV: 0.9 × 21.99 GiB − 61.0e9 / 4 weights − activations − 0.55 GiB non-torch (TP > 1) > one 1,024-token
    # request (48 layers × 1 KV head per rank × 128 × 2 × 2 B × 1,024 = 25,165,824 B).
    kv = 0.9 * 21.99 * GIB - 61.0e9 / 4 - eager.rank.activations - 0.55 * GIB
    assert eager.kv_budget_per_gpu == pytest.approx(kv)
    assert eager.request_kv_bytes == 48 * 1 * 128 * 2 * 2 * 1024 < kv


def test_llama_8b_fp8_on_h100_under_trtllm_holds_about_860k_kv_tokens(cat):
    # https://github.com/NVIDIA/TensorRT-LLM/issues/6294 (TensorRT-LLM 0.20, nvidia/Llama-3.1-8B-Instruct-FP8 on
    # one H100, kv_cache_free_gpu_memory_fraction 0.8): 'Rank 0 uses 8.46 GB for model weights'; the paged KV
    # cache holds 860,320 tokens.
    fit = _fit(cat, "llama-3.1-8b", "fp8", "h100-sxm", 1, "trtllm", kv="fp8", memory_utilization=0.8)
    # Weights: (8.03e9 − 2 × 128,256 × 4,096 embedding/head parameters) × 1 B + those × 2 B.
    embed = 2 * 128256 * 4096
    weights = (8.03e9 - embed) * 1 + embed * 2
    assert fit.weights_per_gpu == pytest.approx(weights) and round(weights / GIB, 2) == 8.46
    # Activations: the sampler's 2,048 rows × 128,256 vocabulary × 12 B, plus 8,192 × 4,096 × 2 B hidden states;
    # CUDA graphs: 8 sizes × 32 dense layers × 56 KiB; outside torch 0.61 GiB.
    acts = 2048 * 128256 * 12 + 8192 * 4096 * 2
    graphs = 8 * 32 * 56 * KIB
    kv = 0.8 * (79.18 * GIB - weights - acts - 0.61 * GIB - graphs)
    assert fit.kv_budget_per_gpu == pytest.approx(kv)
    tokens = int(kv // (32 * 8 * 128 * 2 * 1))            # fp8 KV: 65,536 B per token
    assert fit.kv_capacity_tokens == tokens
    assert abs(tokens / 860_320 - 1) < 0.03                 # the log's 860,320 tokens, within 3%


def test_qwen3_coder_480b_fp8_on_eight_h20_cannot_hold_one_262144_token_request(cat):
    # https://github.com/vllm-project/recipes/pull/12 (vLLM 0.10.1.dev, 8 × H20 141GB, -dp 8
    # --enable-expert-parallel): "To serve at least one request with the models's max seq len (262144),
    # (62.00 GiB KV cache is needed, which is larger than the available KV cache memory (48.66 GiB)".
    fit = _fit(cat, "qwen3-coder-480b-a35b", "fp8", "h20-141g", 8, "vllm", dp_attention=True, max_model_len=262144)
    assert fit.layout.dp_attention
    # Each DP rank holds whole requests: 62 layers × 8 KV heads × 128 × 2 (K, V) × 2 B × 262,144 tokens.
    request = 62 * 8 * 128 * 2 * 2 * 262144
    assert fit.request_kv_bytes == request and round(request / GIB, 2) == 62.00
    # Weights per rank: embeddings + attention whole, experts / 8: 1.87e9 × 2 B + 10.20e9 × 1 B + 468.08e9 / 8 × 1 B.
    embed = 2 * 151936 * 6144
    dense = 480.15e9 - embed - 468.08e9
    assert fit.weights_per_gpu == pytest.approx(embed * 2 + dense + 468.08e9 / 8)
    assert not fit.starts and "one 262,144-token request needs 62.00 GiB of KV" in fit.why_not
    assert abs(fit.kv_budget_per_gpu / GIB / 48.66 - 1) < 0.08    # the log's 48.66 GiB, within 8%


def test_vllm_sampler_term_matches_llm_d_start_up_logs(cat):
    # https://github.com/llm-d/llm-d-benchmark/blob/259334868c5075da530cc6c90b43fceb11b6e6a7/config_explorer/empirical-vllm-memory-results.md
    # Llama-3.1-8B on an H100 at vLLM defaults: peak activation 4.76 GiB, available KV 51.38 GiB.
    fit = _fit(cat, "llama-3.1-8b", "bf16", "h100-sxm", 1, "vllm", max_model_len=16000)
    acts = 1024 * 128256 * 39 + 8192 * 4096 * 2              # 1,024 sequences × vocab × 39 B + hidden states
    assert fit.rank.activations == pytest.approx(acts)
    assert abs(acts / GIB / 4.76 - 1) < 0.03
    assert abs(fit.kv_budget_per_gpu / GIB / 51.38 - 1) < 0.03


def test_defaults_follow_the_engines_rules(cat):
    m = cat.models["llama-3.1-8b"]
    vllm, sglang = cat.engines["vllm"], cat.engines["sglang"]
    one = sizing.Layout(tp=1, pp=1)
    # vLLM get_batch_defaults: >= 70 GiB → 1,024 sequences, 8,192 tokens; A100 and small cards 256 / 2,048.
    h100 = sizing.resolve_settings(vllm, cat.accelerators["h100-sxm"], m, one)
    assert (h100.max_batch, h100.max_batched_tokens, h100.memory_utilization) == (1024, 8192, 0.9)
    a100 = sizing.resolve_settings(vllm, cat.accelerators["a100-80g-sxm"], m, one)
    assert (a100.max_batch, a100.max_batched_tokens) == (256, 2048)
    assert h100.max_model_len == m.max_context and not h100.eager
    # SGLang: mem_fraction_static = (79.18 − (9.5 + 0.5 × 1)) / 79.18 on an 80 GB card at tp 1.
    s = sizing.resolve_settings(sglang, cat.accelerators["h100-sxm"], m, one)
    assert s.memory_utilization == pytest.approx((79.18 - 10.0) / 79.18)
    given = sizing.resolve_settings(vllm, cat.accelerators["h100-sxm"], m, one,
                                    EngineSettings(memory_utilization=0.5, max_batch=8))
    assert (given.memory_utilization, given.max_batch) == (0.5, 8) and set(given.given) == {"memory_utilization",
                                                                                              "max_batch"}


def test_a_max_model_len_beyond_the_context_is_rejected(cat):
    with pytest.raises(InputError, match=r"--max-model-len = 200,000: llama-3.1-8b takes at most 131,072"):
        estimate(cat, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, max_model_len=200_000)
    with pytest.raises(InputError, match=r"--memory-utilization = 1.5"):
        estimate(cat, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, memory_utilization=1.5)
    with pytest.raises(InputError, match=r"--memory-utilization = 0"):
        estimate(cat, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, memory_utilization=0)


def test_the_optimizer_never_counts_a_replica_that_would_not_start(cat):
    m = cat.models["qwen3-30b-a3b"]
    acc = cat.accelerators["a10"]
    plat = default_platform(cat, acc, 4)
    work = Workload(concurrent_users=1, input_tokens=512, output_tokens=512)

    def cap(eager: bool):
        dep = Deployment(model=m, variant=m.variant("bf16"), accelerator=acc, platform=plat,
                         engine=cat.engines["vllm"], gpus_per_node=4,
                         settings=EngineSettings(max_model_len=1024, max_batch=1, eager=eager, version="0.8.5"))
        return replica_capacity(dep, work)

    with_graphs, eager = cap(False), cap(True)
    assert with_graphs.users == 0 and with_graphs.limit == "start"
    assert eager.users == 1          # max batch 1 caps it


def test_estimate_json_breakdown_adds_up_like_the_start_up_log(cat):
    old = estimate(cat, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine="vllm", max_model_len=16000,
                   engine_version="0.10.1")
    mem = old.memory_gib
    assert set(mem) == {"total", "usable", "weights", "activations", "cuda_graphs", "other", "kv_cache"}
    # vLLM 0.10.1: KV = usable − weights − activations − other (graphs are captured afterwards, outside).
    assert mem["kv_cache"] == pytest.approx(mem["usable"] - mem["weights"] - mem["activations"] - mem["other"],
                                            abs=0.02)
    est = estimate(cat, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine="vllm", max_model_len=16000)
    new = est.memory_gib
    # Default, vLLM 0.21.0 on: the graphs' estimate comes out of the budget too.
    assert new["cuda_graphs"] > 0 and new["kv_cache"] == pytest.approx(
        new["usable"] - new["weights"] - new["activations"] - new["other"] - new["cuda_graphs"], abs=0.02)
    assert new["kv_cache"] == pytest.approx(mem["kv_cache"] - mem["cuda_graphs"], abs=0.02)
    assert est.engine_settings["memory_rules_version"] == "0.21.0" and est.engine_settings["engine_version"] == "newest"
    assert old.engine_settings["memory_rules_version"] == "0.10.1" == old.engine_settings["engine_version"]
    data = est.to_json()
    assert data["fits"] is True and data["why_not"] is None
    assert data["engine_settings"]["max_model_len"] == 16000 and data["kv_capacity_tokens"] > 0
    assert json.dumps(data)   # serialisable


def test_validate_reads_the_memory_rows_by_default_with_their_settings(cat):
    from optimizer.validate import VERDICT_METRICS, bundled_memory_measurements, read_cases, validate

    cases, skipped = read_cases(bundled_memory_measurements(), cat)
    assert not skipped and len(cases) >= 20
    by_id = {c.id: c for c in cases}
    # Settings columns are inputs: MEM-17 ran at utilization 0.95, max_model_len 131,072, 1,024 batched tokens.
    c = by_id["MEM-17"]
    assert (c.memory_utilization, c.max_model_len, c.max_batched_tokens) == (0.95, 131072, 1024)
    assert by_id["MEM-24"].eager and not by_id["MEM-23"].eager
    report = validate(cat)
    ids = {r.case.id for r in report.results}
    assert {"MEM-01", "MEM-30"} <= ids                     # the bundled default reads the memory file too
    verdicts = [r for r in report.results if r.case.metric in VERDICT_METRICS]
    assert verdicts and all(r.error == 0 for r in verdicts), [(r.case.id, r.predicted) for r in verdicts]


def test_weights_per_rank_shard_as_the_engines_shard_them():
    parts = sizing.WeightParts(embeddings=2.0e9, dense=10.0e9, experts=80.0e9)
    # Tensor parallel 8 splits everything (vocabulary-parallel embedding and head too): 92e9 / 8.
    assert sizing.weights_per_rank(parts, sizing.Layout(tp=8, pp=1)) == pytest.approx(92e9 / 8)
    # tp 4 × pp 2: each stage holds half the layers and one of embedding/head, split 4 ways.
    assert sizing.weights_per_rank(parts, sizing.Layout(tp=4, pp=2)) == pytest.approx((90e9 / 2 + 1e9) / 4)
    # Data-parallel attention over 8 ranks: embeddings and dense whole on every rank, experts / 8.
    assert sizing.weights_per_rank(parts, sizing.Layout(tp=1, dp=8, pp=1)) == \
        pytest.approx(2e9 + 10e9 + 80e9 / 8)
    # Attention TP 2 in 4 attention DP groups: embeddings and dense split over the group's 2 ranks, experts / 8.
    assert sizing.weights_per_rank(parts, sizing.Layout(tp=2, dp=4, ep=8)) == pytest.approx((2e9 + 10e9) / 2 + 80e9 / 8)
    # ... and over 2 stages: half the dense layers, one of embedding/head, experts / 16.
    assert sizing.weights_per_rank(parts, sizing.Layout(tp=1, dp=8, pp=2)) == \
        pytest.approx(5e9 + 1e9 + 80e9 / 16)


def test_sglang_pool_is_the_static_fraction_less_weights_and_pre_load_memory(cat):
    # https://github.com/vllm-project/vllm/issues/21348 (SGLang, Qwen3-235B-A22B-FP8, 4 × H100, --tp 4
    # --mem-fraction-static 0.93): 'KV Cache is allocated. #tokens: 367404'. SGLang model_runner.py
    # profile_max_num_token: rest = free after loading − total × (1 − fraction), i.e. fraction × total − weights −
    # what was in use before loading (2.1 GiB with TP peers).
    fit = _fit(cat, "qwen3-235b-a22b", "fp8", "h100-sxm", 4, "sglang", memory_utilization=0.93)
    embed = 2 * 151936 * 4096
    weights = ((235e9 - embed) * 1 + embed * 2) / 4       # fp8 body, bf16 embedding/head, split 4 ways
    kv = 0.93 * 79.18 * GIB - weights - 2.1 * GIB
    assert fit.kv_budget_per_gpu == pytest.approx(kv)
    cell = 94 * 1 * 128 * 2 * 2                            # 94 layers × 1 KV head per rank × 128 × (K, V) × 2 B
    assert fit.kv_capacity_tokens == int(kv // cell)
    assert abs(fit.kv_capacity_tokens / 367_404 - 1) < 0.02


def test_problem_file_engine_settings_and_flags_override_them(tmp_path):
    from optimizer.problem import load_problem, with_overrides

    path = tmp_path / "p.yaml"
    path.write_text("model: llama-3.1-8b\nengine_settings:\n  memory_utilization: 0.8\n  max_model_len: 8192\n"
                    "workload:\n  concurrent_users: 10\n")
    prob = load_problem(path)
    assert (prob.engine_settings.memory_utilization, prob.engine_settings.max_model_len) == (0.8, 8192)
    assert not prob.engine_settings.eager and prob.engine_settings.max_batch is None
    over = with_overrides(prob, {("engine_settings", "max_model_len"): ("--max-model-len", 4096),
                                 ("engine_settings", "eager"): ("--eager", True)})
    assert (over.engine_settings.memory_utilization, over.engine_settings.max_model_len) == (0.8, 4096)
    assert over.engine_settings.eager and over.where("engine_settings", "max_model_len") == "--max-model-len"

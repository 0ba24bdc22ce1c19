"""Engine releases as an input, each engine's own log words, and llama.cpp's -c × --parallel KV cache."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from catalog import load_catalog
from cli import main
from optimizer import estimate, sizing
from optimizer.problem import EngineSettings
from optimizer.validate import engine_version

GIB = 2**30


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _fit(cat, model, precision, acc, gpus, engine, **settings):
    m = cat.models[model]
    return sizing.memory_fit(m, m.variant(precision), cat.accelerators[acc], cat.engines[engine], gpus_per_node=gpus,
                             settings=EngineSettings(**settings))


def test_a_release_takes_the_rules_of_the_newest_listed_release_not_after_it(cat):
    mem = cat.engines["vllm"].memory
    assert mem.for_version("0.10.1")[1] == "0.10.1" and not mem.for_version("0.10.1")[0].graphs_in_budget
    assert mem.for_version("0.11")[1] == "0.10.1"                  # nothing changed between 0.10.1 and 0.12.0
    assert mem.for_version("0.8.5")[1] == "0.10.1"                 # older than the base: the base rules
    twelve = mem.for_version("0.12.0")[0]
    assert twelve.mxfp4_moe_pad == {"hidden": 256, "intermediate": 64} and not twelve.graphs_in_budget
    newest, label = mem.for_version(None)
    assert label == "0.21.0" and newest.graphs_in_budget and newest.mxfp4_moe_pad["intermediate"] == 64


def test_gpt_oss_120b_weights_follow_the_release_mxfp4_backend(cat):
    # gpt-oss-120b: hidden 2,880, expert intermediate 2,880; experts 114.66e9 params × 4.25 bits / 8 on a
    # 65.28 GB checkpoint. 0.10.1 (Marlin): 3,072 × 2,944; 0.12.0 (triton_kernels): 3,072 × 2,880.
    experts = 114.66e9 * 4.25 / 8
    marlin = _fit(cat, "gpt-oss-120b", "mxfp4", "h100-sxm", 1, "vllm", version="0.10.1")
    triton = _fit(cat, "gpt-oss-120b", "mxfp4", "h100-sxm", 1, "vllm", version="0.12.0")
    assert marlin.weights_per_gpu == pytest.approx(65.28e9 + experts * (3072 * 2944 / 2880**2 - 1))
    assert triton.weights_per_gpu == pytest.approx(65.28e9 + experts * (3072 / 2880 - 1))
    # llm-d's start-up log on the Triton path: 'Model loading took 64.38 GiB' (within 0.5%).
    assert triton.weights_per_gpu / GIB == pytest.approx(64.38, rel=0.005)


def test_from_vllm_0_21_the_graphs_come_out_of_the_utilization_budget(cat):
    old = _fit(cat, "llama-3.1-8b", "bf16", "h100-sxm", 1, "vllm", max_model_len=16000, version="0.10.1")
    new = _fit(cat, "llama-3.1-8b", "bf16", "h100-sxm", 1, "vllm", max_model_len=16000, version="0.21.0")
    r = new.rank
    assert r.cuda_graphs > 0
    assert new.kv_budget_per_gpu == pytest.approx(r.usable - r.weights - r.activations - r.other - r.cuda_graphs)
    assert old.kv_budget_per_gpu - new.kv_budget_per_gpu == pytest.approx(r.cuda_graphs)


def test_validate_reads_the_release_from_the_row_or_its_date(cat):
    assert engine_version({"engine_version": "v0.10.1.dev101"}, "vllm", cat) == "0.10.1"
    assert engine_version({"engine_version": "~0.11 (Oct 2025)"}, "vllm", cat) == "0.11"
    assert engine_version({"engine_version": "V0 ~0.6 (Dec 2024)"}, "vllm", cat) == "0.6"
    # No number: the newest listed release published by the row's date (a year counts to its end).
    assert engine_version({"engine_version": "V1 (2025)", "date": "2025"}, "vllm", cat) == "0.12.0"
    assert engine_version({"engine_version": "V1", "date": "2025-08-20"}, "vllm", cat) == "0.10.1"
    assert engine_version({"engine_version": "n/s", "date": "2026-09-01"}, "vllm", cat) == "0.21.0"


def test_a_bad_engine_version_is_a_clear_error():
    res = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
                                    "--engine-version", "latest"])
    assert res.exit_code == 2 and "--engine-version" in res.output and "latest" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("engine,words,absent", [
    ("sglang", ["KV Cache is allocated", "Load weight end", "max_total_num_tokens"], "Maximum concurrency"),
    ("trtllm", ["[MemUsageChange] Allocated", "no log line"], "Maximum concurrency"),
    ("vllm", ["Available KV cache memory", "Maximum concurrency"], "KV self size"),
])
def test_the_breakdown_speaks_each_engines_log(engine, words, absent):
    res = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
                                    "--engine", engine, "--max-model-len", "16000"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for w in words:
        assert w in flat
    assert absent not in flat


def test_llama_cpp_on_cpu_sockets_is_one_process_with_a_kv_cache_of_c_times_parallel(cat):
    est = estimate(cat, model="deepseek-r1", accelerator="xeon-6980p", gpus=2, precision="q4_k_m", concurrency=4,
                   max_model_len=32768)
    assert est.engine == "llama.cpp" and est.numa_spread and est.tp == 1 and est.pp == 1
    assert est.engine_settings["cuda_graphs"] is False and est.memory_gib["cuda_graphs"] == 0
    # MLA latent: 61 layers × (512 + 64) × 2 B per token; -c = 4 slots × 32,768 tokens, spread over 2 sockets.
    per_token = 61 * (512 + 64) * 2
    assert est.kv_bytes_per_token == per_token
    assert est.memory_gib["kv_cache"] == pytest.approx(4 * 32768 * per_token / 2 / GIB, abs=0.01)
    assert est.kv_capacity_tokens == 4 * 32768 and est.fits
    assert est.max_concurrency == 4          # four slots, however small the requests
    res = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "xeon-6980p", "--gpus", "2",
                                    "--precision", "q4_k_m"])
    flat = " ".join(res.output.split())
    assert "tp 2" not in flat and "no TP" in flat and "KV self size" in flat and "no CUDA graphs" in flat


def test_llama_cpp_refuses_a_kv_cache_larger_than_the_memory_left(cat):
    est = estimate(cat, model="deepseek-r1", accelerator="xeon-6980p", gpus=2, precision="q4_k_m", concurrency=128)
    # 128 slots × 163,840 tokens × 70,272 B over 2 sockets = 686 GiB per socket > what weights leave.
    need = 128 * 163840 * 61 * 576 * 2 / 2
    assert need / GIB > est.memory_gib["total"] - est.memory_gib["weights"] - est.memory_gib["other"]
    assert not est.fits and "KV self size" in est.why_not and "--parallel 128" in est.why_not


def test_cpu_plans_say_no_cuda_graphs():
    res = CliRunner().invoke(main, ["solve", "deepseek-r1-cpu-only"])
    assert res.exit_code == 0, res.output
    prose = " ".join(res.output.split())   # the table text wraps at 80 columns
    line = prose[prose.index("Engine settings assumed"):].split("Facility:")[0]
    assert "no CUDA graphs" in line and ", CUDA graphs" not in line


def test_mlp_widths_come_from_the_config_not_the_parameter_count(cat):
    # Hybrid models (linear attention / Mamba layers) hold parameters outside the MLPs, so a width derived
    # from parameter counts is wrong for them: the activation peak must use the config's widths.
    hybrids = [m for m in cat.models.values() if m.attention.linear_layers and m.moe]
    assert hybrids
    for m in hybrids:
        assert sizing.ffn_sizes(m) == (m.intermediate_size, m.moe.moe_intermediate_size)
        # The same parameter count with another config width: the width follows the config.
        wider = m.model_copy(update={"moe": m.moe.model_copy(update={"moe_intermediate_size":
                                                                     2 * m.moe.moe_intermediate_size})})
        assert sizing.ffn_sizes(wider)[1] == 2 * m.moe.moe_intermediate_size


def test_capacity_counts_each_layer_kind_per_rank(cat):
    # A hybrid model at TP 4: each rank holds a quarter of the KV heads of the full layers and a quarter of the
    # linear layers' state; max_concurrency divides the rank's KV budget by exactly that.
    m = next(m for m in cat.models.values() if m.attention.linear_layers and m.attention.kv_heads >= 4)
    precision = m.native_precision
    fit = sizing.memory_fit(m, m.variant(precision), cat.accelerators["h200-sxm"], cat.engines["vllm"],
                            gpus_per_node=4, settings=EngineSettings(max_model_len=8192))
    assert fit.layout.tp == 4
    per_request = sizing.kv_bytes_per_request(m, "bf16", 3000, tp=4)
    assert per_request < sizing.kv_bytes_per_request(m, "bf16", 3000)
    assert sizing.max_concurrency(m, fit, "bf16", 3000) == int(fit.kv_budget_per_gpu // per_request)


def test_vllm_v0_profiles_a_whole_max_model_len_prompt_up_to_32k(cat):
    # vLLM V0 (before 0.8.0): no chunked prefill up to 32,768 tokens, so max_num_batched_tokens =
    # max(max_model_len, 2,048); above 32K, and from V1 on, the default tiers (2,048 below 70 GiB).
    def tokens(version, length):
        return _fit(cat, "llama-3.1-8b", "bf16", "rtx-3090", 1, "vllm", max_model_len=length,
                    version=version).settings.max_batched_tokens
    assert tokens("0.6", 20000) == 20000 and tokens("0.6", 1024) == 2048
    assert tokens("0.6", 40000) == 2048 and tokens("0.8.5", 20000) == 2048
    assert cat.engines["vllm"].memory.for_version("0.6")[1] == "0.7.3"
    # The profile run's MLP intermediate over 20,000 tokens (3 × 20,000 × 14,336 × 2 B) now sets the peak.
    v0 = _fit(cat, "llama-3.1-8b", "bf16", "rtx-3090", 1, "vllm", max_model_len=20000, version="0.6")
    assert v0.rank.activations >= 3 * 20000 * 14336 * 2


def test_a_plan_takes_an_engine_version_only_with_its_engine():
    res = CliRunner().invoke(main, ["solve", "llama-3.1-70b-100-users", "--engine-version", "0.10.1"])
    assert res.exit_code == 2 and "engine_settings.version = '0.10.1'" in res.output and "--engine vllm" in res.output
    res = CliRunner().invoke(main, ["solve", "llama-3.1-70b-100-users", "--engine", "vllm", "--engine-version",
                                    "0.10.1", "--format", "json"])
    assert res.exit_code == 0, res.output
    import json

    lines = json.loads(res.output)["plan"]["lines"]
    assert all(l["engine_settings"]["engine_version"] == "0.10.1" for l in lines if l.get("engine_settings"))


def test_llama_cpp_launch_on_cpu_sockets_spreads_over_numa_instead_of_offloading():
    res = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "xeon-6980p", "--gpus", "2",
                                    "--precision", "q4_k_m", "--concurrency", "4", "--max-model-len", "32768"])
    flat = " ".join(res.output.replace("\\\n", " ").split())
    assert "--numa distribute" in flat and "-ngl" not in flat
    assert f"-c {4 * 32768}" in flat and "--parallel 4" in flat

"""Layouts: which ones engines run, what they cost in memory and time, and the plans and commands they give."""

from __future__ import annotations

import math

import pytest

from catalog import load_catalog
from optimizer import sizing, speed
from optimizer.deployment import Deployment
from optimizer.launch import LaunchSettings, launch_for
from optimizer.layouts import Layout, candidate_layouts, layout_problem
from optimizer.problem import problem_from_fields
from optimizer.solve import optimize


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_heads_kv_heads_and_experts_decide_which_layouts_are_valid(cat):
    llama, r1, qwen = cat.models["llama-3.1-70b"], cat.models["deepseek-r1"], cat.models["qwen3-235b-a22b"]
    vllm, sglang, trt = cat.engines["vllm"], cat.engines["sglang"], cat.engines["trtllm"]
    # 64 heads, 8 KV heads: TP16 over two 8-GPU servers replicates each KV head on 2 ranks.
    assert layout_problem(llama, vllm, Layout(tp=16, nodes_per_replica=2), 8) is None
    assert "heads do not divide over TP 6" in layout_problem(llama, vllm, Layout(tp=6), 6)
    # Attention DP inside one replica is for MoE models; a dense model takes more replicas instead.
    assert "MoE" in layout_problem(llama, sglang, Layout(tp=1, dp=8), 8)
    # Wide EP over two servers, in all three engines; GQA MoE models take attention DP too.
    for eng in (vllm, sglang, trt):
        assert layout_problem(r1, eng, Layout(tp=1, dp=16, ep=16, nodes_per_replica=2), 8) is None
    assert layout_problem(qwen, sglang, Layout(tp=1, dp=8, ep=8), 8) is None
    # vLLM's expert parallelism spans every rank; TensorRT-LLM's attention DP has attention TP 1.
    assert "EP = TP × DP" in layout_problem(r1, vllm, Layout(tp=1, dp=8, ep=4), 8)
    assert "TP 1" in layout_problem(r1, trt, Layout(tp=2, dp=4, ep=8), 8)
    assert layout_problem(r1, sglang, Layout(tp=2, dp=4, ep=8), 8) is None
    # 128 experts do not divide over 256 EP ranks.
    assert "128 experts" in layout_problem(qwen, sglang, Layout(tp=1, dp=256, ep=256, nodes_per_replica=32), 8)
    # The ranks must fill the servers exactly.
    assert "do not fill" in layout_problem(llama, vllm, Layout(tp=2, replicas_per_node=3), 8)


def test_candidates_include_sub_node_replicas_and_cross_node_tensor_parallel(cat):
    llama, vllm = cat.models["llama-3.1-70b"], cat.engines["vllm"]
    one = candidate_layouts(llama, vllm, 8, 1)
    assert {Layout(tp=1, replicas_per_node=8), Layout(tp=2, replicas_per_node=4),
            Layout(tp=4, replicas_per_node=2), Layout(tp=8)} <= set(one)
    assert candidate_layouts(llama, vllm, 8, 1, max_replicas_per_node=1) == [Layout(tp=8)]
    two = candidate_layouts(llama, vllm, 8, 2)
    assert Layout(tp=8, pp=2, nodes_per_replica=2) in two and Layout(tp=16, nodes_per_replica=2) in two
    # llama.cpp splits whole layers: no tensor parallel anywhere.
    gguf = candidate_layouts(llama, cat.engines["llama.cpp"], 8, 1)
    assert gguf and all(lay.tp == 1 and lay.dp == 1 for lay in gguf)


def test_cross_server_allreduce_follows_nccl_tuning_model_by_hand(cat):
    # 16 ranks on 2 servers, LL protocol (NCCL tuning.cc):
    #   ring = 6.6 + (2·15 − 2·1) · max(0.6, 1.0) + 2·1 · 2.7 = 40.0 µs
    #   tree = 6.8 + 2 · (7 · 0.6 + log2(2) · 5.0)        = 25.2 µs  → NCCL picks the tree,
    # × 61.58 / 25.21 (measured over modelled, NVIDIA/nccl#1453) × 2.20 (a serving engine's step over nccl-tests,
    # solved from the fit row SGLX-001), + 10 µs inside the server.
    lat = 10e-6 + 25.2e-6 * 61.58 / 25.21 * 2.20
    assert speed.nccl_allreduce_latency_s(16, 2) == pytest.approx(lat)
    assert speed.nccl_allreduce_latency_s(8, 1) == pytest.approx(10e-6)
    r1 = cat.models["deepseek-r1"]
    dep = Deployment(model=r1, variant=r1.variant("fp8"), accelerator=cat.accelerators["h100-sxm"],
                     platform=cat.platforms["hgx-8gpu-hopper"], engine=cat.engines["sglang"], gpus_per_node=8,
                     nodes=2, layout=Layout(tp=16, nodes_per_replica=2))
    # One token: V = 7168 × 2 B; NVLink part 2·7/8·V over 450 GB/s one way; network part: each of
    # 8 ranks sends V/8 · 2·1/2 over its 400/8 = 50 GB/s share of the servers' NICs.
    v = 7168 * 2
    by_hand = lat + v * 2 * 7 / 8 / 450e9 + v / 8 * 2 * 1 / 2 / 50e9
    assert speed.allreduce_time(dep, 16, 1) == pytest.approx(by_hand)
    # Expert-parallel dispatch of 4 tokens per rank over EP16 on 2 servers, fp8: 4 · 8 experts · 7168 · 1 B
    # · 1.2 imbalance; half of it leaves the server at 0.86 of 50 GB/s, half stays at 0.95 of 450 GB/s.
    sent = 4 * 8 * 7168 * 1 * 1.2
    by_hand = 20e-6 + max(sent / 2 / (50e9 * 0.86), sent / 2 / (450e9 * 0.95))
    assert speed.alltoall_time(dep, 16, 4, 1) == pytest.approx(by_hand)


def test_attention_dp_splits_the_kv_cache_for_gqa_as_for_mla(cat):
    qwen = cat.models["qwen3-235b-a22b"]
    v, acc, eng = qwen.variant("fp8"), cat.accelerators["h200-sxm"], cat.engines["sglang"]
    tp = sizing.memory_fit(qwen, v, acc, eng, gpus_per_node=8, kv_dtype="bf16", layout=Layout(tp=8))
    dp = sizing.memory_fit(qwen, v, acc, eng, gpus_per_node=8, kv_dtype="bf16", layout=Layout(tp=1, dp=8, ep=8))
    # 4 KV heads < TP 8: each TP rank holds one (replicated) head: 2 · 94 · 1 · 128 · 2 B per token;
    # each DP rank holds all 4 heads of its own sequences: 2 · 94 · 4 · 128 · 2 B.
    assert tp.rank_bytes_per_token == 2 * 94 * 1 * 128 * 2
    assert dp.rank_bytes_per_token == 2 * 94 * 4 * 128 * 2
    assert tp.kv_capacity_tokens == int(tp.kv_budget_per_gpu // tp.rank_bytes_per_token)
    assert dp.kv_capacity_tokens == int(dp.kv_budget_per_gpu // dp.rank_bytes_per_token) * 8
    # Each DP rank also holds the embeddings and the dense part (attention, norms, router) whole, the experts
    # split over all 8 ranks: (embeddings + dense) · (1 − 1/8) beyond a TP rank's share.
    parts = sizing.weight_parts(qwen, v, acc, eng)
    assert dp.weights_per_gpu - tp.weights_per_gpu == pytest.approx((parts.embeddings + parts.dense) * 7 / 8)


def _llama_problem(**constraints):
    return problem_from_fields({
        "model": "llama-3.1-70b", "precision": "fp8", "prices": "street-usd-2025",
        "workload": {"concurrent_users": 500, "min_tokens_per_s": 20},
        "constraints": {"accelerators": ["h100-sxm"], **constraints}})


def test_llama_70b_500_users_packs_replicas_smaller_than_a_server(cat):
    sub = optimize(cat, _llama_problem())
    whole = optimize(cat, _llama_problem(max_replicas_per_node=1))
    assert any(line.replicas_per_node > 1 for line in sub.lines)
    assert all(line.replicas_per_node == 1 for line in whole.lines)
    assert sub.totals.cost < whole.totals.cost
    for line in sub.lines:
        # The replicas fill whole servers: tp × pp × dp per replica, replicas_per_node of them per server.
        assert line.tp * line.pp * line.dp * line.replicas_per_node == line.gpus_per_node
        assert line.nodes == line.replicas // line.replicas_per_node
        assert line.users == line.replicas * line.users_per_replica
        assert len(line.launch) == line.replicas_per_node
    assert sub.totals.users >= 500
    line = sub.to_json()["plan"]["lines"][0]
    assert {"tp", "pp", "dp", "ep", "replicas_per_node", "nodes_per_replica", "launch"} <= set(line)
    assert line["replicas_per_node"] > 1 and all(cmd.startswith("CUDA_VISIBLE_DEVICES=") or "printf" in cmd
                                                 for cmd in line["launch"])
    # The whole-server plan buys as many servers as 500 users need at one replica per server.
    per_server = max(line.users_per_replica for line in whole.lines)
    assert whole.totals.nodes >= math.ceil(500 / per_server)


def test_launch_commands_carry_layout_and_sizing_settings(cat):
    llama, r1 = cat.models["llama-3.1-70b"], cat.models["deepseek-r1"]
    settings = LaunchSettings(memory_fraction=0.9, max_running=64, max_model_len=3000, kv_dtype="fp8",
                              gpus_per_node=8)
    cmds = launch_for(llama, llama.variant("fp8"), cat.engines["vllm"], Layout(tp=2, replicas_per_node=4), settings)
    assert len(cmds) == 4
    assert cmds[1].startswith("CUDA_VISIBLE_DEVICES=2,3 vllm serve nvidia/Llama-3.1-70B-Instruct-FP8 ")
    for flag in ("--tensor-parallel-size 2", "--gpu-memory-utilization 0.9", "--max-model-len 3000",
                 "--max-num-seqs 64", "--kv-cache-dtype fp8", "--port 8001"):
        assert flag in cmds[1]
    head, worker = launch_for(r1, r1.variant("fp8"), cat.engines["sglang"], Layout(tp=16, nodes_per_replica=2),
                              settings)
    assert "python -m sglang.launch_server --model-path" in head and "--tp-size 16" in head
    assert "--nnodes 2 --node-rank 0 --dist-init-addr $HEAD_IP:20000" in head
    assert "--node-rank $NODE_RANK" in worker
    wide = launch_for(r1, r1.variant("fp8"), cat.engines["sglang"],
                      Layout(tp=1, dp=16, ep=16, nodes_per_replica=2), settings)[0]
    assert "--tp-size 16 --attn-dp-size 16 --ep-size 16 --moe-a2a-backend deepep" in wide
    (trt,) = launch_for(r1, r1.variant("fp8"), cat.engines["trtllm"], Layout(tp=1, dp=8, ep=8), settings)
    assert "'enable_attention_dp: true'" in trt and "--ep_size 8" in trt and "--tp_size 8" in trt
    assert "--extra_llm_api_options extra-llm-api.yaml" in trt and "--max_batch_size 8" in trt  # 64 over 8 groups
    head, worker = launch_for(r1, r1.variant("fp8"), cat.engines["vllm"],
                              Layout(tp=1, dp=16, ep=16, nodes_per_replica=2), settings)
    assert "--data-parallel-size 16 --enable-expert-parallel" in head and "--data-parallel-size-local 8" in head
    assert "--data-parallel-start-rank $(($NODE_RANK * 8)) --headless" in worker


def test_estimate_fixes_the_layout_from_flags_or_chooses_the_fastest(cat):
    from catalog.errors import InputError
    from optimizer import estimate

    # TP16 over two 8-GPU servers: --gpus derived (16), nodes derived from 8 H100 per server.
    est = estimate(cat, model="deepseek-r1", accelerator="h100-sxm", gpus=0, tp=16, engine="sglang",
                   input_tokens=128, output_tokens=128)
    assert (est.gpus, est.nodes, est.tp, est.pp, est.dp, est.ep) == (16, 2, 16, 1, 1, 1)
    assert est.layout == "TP16 over 2 nodes" and len(est.launch) == 2 and "--tp-size 16" in est.launch[0]
    # Left free, the layout is the fastest valid one at the asked concurrency: no slower than TP16.
    free = estimate(cat, model="deepseek-r1", accelerator="h100-sxm", gpus=16, nodes=2, engine="sglang",
                    input_tokens=128, output_tokens=128)
    assert free.decode_tokens_per_s_per_user >= est.decode_tokens_per_s_per_user
    # --dp-attention stays the shorthand for attention DP over every rank.
    dp = estimate(cat, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="vllm", dp_attention=True)
    assert (dp.tp, dp.dp, dp.ep) == (1, 8, 8) and "--data-parallel-size 8 --enable-expert-parallel" in dp.launch[0]
    with pytest.raises(InputError, match="--gpus = 8: the layout --tp 16"):
        estimate(cat, model="deepseek-r1", accelerator="h100-sxm", gpus=8, tp=16)
    with pytest.raises(InputError, match="cannot run it"):
        estimate(cat, model="llama-3.1-70b", accelerator="h100-sxm", gpus=0, tp=1, dp=8, engine="sglang")


def test_validate_reads_each_rows_layout_as_input(cat):
    from pathlib import Path

    from optimizer.validate import read_cases

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    cases, skipped = read_cases(bench / "measurements-layouts-test.csv", cat)
    other, _ = read_cases(bench / "measurements-layouts-other.csv", cat)  # sgl-project also publishes fit rows
    by_id = {c.id: c for c in cases + other}
    # SGLang counts every rank in --tp: --tp 8 --dp 4 is attention TP 2 in 4 groups, EP 8.
    assert (by_id["LAY-004"].tp, by_id["LAY-004"].dp, by_id["LAY-004"].ep) == (2, 4, 8)
    assert (by_id["LAY-003"].tp, by_id["LAY-003"].dp, by_id["LAY-003"].ep) == (1, 4, 4)
    assert (by_id["LAY-001"].tp, by_id["LAY-001"].gpus, by_id["LAY-001"].nodes) == (16, 16, 2)
    # Disaggregated prefill/decode deployments are set aside by rule, with the reason.
    assert {i for i, _ in skipped} == {"LAY-005", "LAY-006"}


def test_cross_server_fit_row_reads_as_tp16_over_two_servers_without_attention_dp(cat):
    # The fit row speed.SERVING_OVER_NCCL_TESTS is solved from: 'dp-attention=false' in its notes is not attention
    # DP; SGLang 0.4.3 comes before the 0.4.4 rule for MLA models (a 1.5 slowdown in engines.yaml).
    from optimizer.validate import bundled_measurements, read_cases

    fit = next(f for f in bundled_measurements() if f.name == "measurements-fit.csv")
    cases, _ = read_cases(fit, cat)
    row = next(c for c in cases if c.id == "SGLX-001")
    assert (row.tp, row.dp, row.ep, row.pp, row.gpus, row.nodes) == (16, 1, 1, 1, 16, 2)
    assert row.dp_attention is False and row.accelerator == "h20-96g" and row.engine_version == "0.4.3"
    rule = next(r for r in cat.engines["sglang"].early_releases if r.before == "0.4.4")
    assert rule.applies(row.engine_version, "mla", row.precision)


def test_nvl72_rack_is_one_scale_up_domain_with_wide_ep_and_replicas_inside(cat):
    r1, eng = cat.models["deepseek-r1"], cat.engines["sglang"]
    rack = candidate_layouts(r1, eng, 72, 1)
    # EP72 over the rack: 256 experts + 32 redundant copies = 288 slots, 4 per GPU; nine TP8 replicas per rack.
    assert Layout(tp=1, dp=72, ep=72) in rack and Layout(tp=8, replicas_per_node=9) in rack
    from optimizer.layouts import redundant_experts

    assert redundant_experts(r1, Layout(tp=1, dp=72, ep=72)) == 32
    assert redundant_experts(r1, Layout(tp=1, dp=64, ep=64)) == 0
    v, acc = r1.variant("fp8"), cat.accelerators["gb200"]
    ep72 = sizing.memory_fit(r1, v, acc, eng, gpus_per_node=72, layout=Layout(tp=1, dp=72, ep=72))
    ep64 = sizing.memory_fit(r1, v, acc, eng, gpus_per_node=64, layout=Layout(tp=1, dp=64, ep=64))
    parts = sizing.weight_parts(r1, v, acc, eng)
    # Per rank: dense and embeddings whole; routed experts 4 of 256 (EP72 with redundancy) vs 4 of 256 (EP64).
    assert ep72.weights_per_gpu == pytest.approx(parts.dense + parts.embeddings + parts.experts * 288 / 256 / 72)
    assert ep72.weights_per_gpu == pytest.approx(ep64.weights_per_gpu)
    settings = LaunchSettings(memory_fraction=0.9, max_running=None, max_model_len=4096, kv_dtype="bf16",
                              gpus_per_node=72)
    (cmd,) = launch_for(r1, v, eng, Layout(tp=1, dp=72, ep=72), settings)
    assert "--ep-size 72" in cmd and "--enable-eplb --ep-num-redundant-experts 32" in cmd
    (cmd,) = launch_for(r1, v, cat.engines["vllm"], Layout(tp=1, dp=72, ep=72), settings)
    assert """--eplb-config '{"num_redundant_experts":32}'""" in cmd


def test_estimate_spreads_more_accelerators_than_a_server_holds_over_whole_servers(catalog):
    # An H200 server holds 8 (max_per_node); 16 of them are two servers, not one 16-GPU chassis.
    from optimizer import estimate

    assert catalog.accelerators["h200-sxm"].max_per_node == 8
    est = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=16)
    assert (est.gpus, est.nodes) == (16, 2)

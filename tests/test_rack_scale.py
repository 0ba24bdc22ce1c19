"""Rack-scale systems: SGLang's attention-DP prefill chunk, prefill of one prompt per attention group, and a
GB200 NVL72 rack split into prefill and decode pools against nine 8×B200 servers (optimizer/rackscale.py)."""

from __future__ import annotations

import pytest

from optimizer import sizing, speed
from optimizer.deployment import Deployment
from optimizer.layouts import Layout, chunk_tokens_per_group
from optimizer.rackscale import best_decode, continuous_split_per_gpu, split_capacity

I, O = 2000, 1000


def _dep(catalog, acc, plat, layout, per_node, nodes=1, engine="sglang", precision="fp8"):
    m = catalog.models["deepseek-r1"]
    return Deployment(model=m, variant=m.variant(precision), accelerator=catalog.accelerators[acc],
                      platform=catalog.platforms[plat], engine=catalog.engines[engine], gpus_per_node=per_node,
                      nodes=nodes, layout=layout)


def test_sglang_splits_its_prefill_chunk_over_attention_dp_groups(catalog):
    """SGLang server_args.py: `chunked_prefill_size // dp_size` with --enable-dp-attention; vLLM and
    TensorRT-LLM give every DP rank its own budget."""
    dp72 = Layout(tp=1, dp=72, ep=72)
    assert chunk_tokens_per_group(catalog.engines["sglang"], dp72, 16384) == 16384 // 72 == 227
    assert chunk_tokens_per_group(catalog.engines["vllm"], dp72, 16384) == 16384
    assert chunk_tokens_per_group(catalog.engines["trtllm"], dp72, 16384) == 16384
    assert chunk_tokens_per_group(catalog.engines["sglang"], Layout(tp=8), 16384) == 16384


def test_wide_ep_over_a_whole_nvl72_rack_starts_under_sglang(catalog):
    """With the whole rack's 16,384-token chunk (SGLang's default above 160 GiB) on every rank, the MoE
    activations of 72 ranks' tokens (72 × 16,384 × 7,168 × 2 B × 2 ≈ 34 GB for the gathered input and
    output alone) did not fit outside mem_fraction_static, and SGLang's DP72 + EP72 was refused."""
    m = catalog.models["deepseek-r1"]
    dep = _dep(catalog, "gb200", "gb200-nvl72-rack", Layout(tp=1, dp=72, ep=72), 72)
    fit = dep.memory()
    assert fit.starts, fit.why_not
    # the same memory rules with every DP rank taking the whole chunk (vLLM's scheduling) need far more
    whole = catalog.engines["vllm"].model_copy(update={"memory": dep.engine.memory})
    split = sizing.activation_peak_bytes(m, fit.layout, fit.settings, dep.engine)
    assert split < 0.5 * sizing.activation_peak_bytes(m, fit.layout, fit.settings, whole)
    # what is left: the gathered MoE input and output of 72 ranks × 227 tokens, plus the rest of the pass
    assert split >= 2 * (16384 // 72) * 72 * m.hidden_size * 2


def test_prefill_of_one_prompt_per_attention_group(catalog):
    """dp prompts at once: the weights are read once and the attention runs side by side, so the time is
    below dp separate prompts and at least one prompt's; without attention DP `prompts` changes nothing."""
    dep = _dep(catalog, "b200", "hgx-b200-8gpu", Layout(tp=1, dp=8, ep=8), 8)
    fit = dep.memory()
    one = speed.prefill_time(dep, fit, I)
    eight = speed.prefill_time(dep, fit, I, prompts=8)
    assert one < eight < 8 * one
    # the extra linear work alone: 7 more prompts × 2 × active params × I FLOPs over 8 GPUs is a lower bound
    m, acc = dep.model, dep.accelerator
    eff = dep.engine.efficiency_for(acc.family)
    extra_linear = 7 * 2 * m.active_params_b * 1e9 * I / (8 * acc.dense_tflops("fp8") * 1e12 * eff.prefill)
    assert eight - one >= extra_linear * 0.99
    tp = _dep(catalog, "b200", "hgx-b200-8gpu", Layout(tp=8), 8)
    assert speed.prefill_time(tp, tp.memory(), I, prompts=8) == speed.prefill_time(tp, tp.memory(), I)


@pytest.fixture(scope="module")
def splits(catalog):
    m = catalog.models["deepseek-r1"]
    common = {"min_tokens_per_s": 10.0, "input_tokens": I, "output_tokens": O}
    rack = split_capacity(m, m.variant("fp8"), catalog.accelerators["gb200"], catalog.platforms["gb200-nvl72-rack"],
                          catalog.engines["sglang"], gpus_per_node=72, nodes=1, **common)
    b200 = split_capacity(m, m.variant("fp8"), catalog.accelerators["b200"], catalog.platforms["hgx-b200-8gpu"],
                          catalog.engines["sglang"], gpus_per_node=8, nodes=9, **common)
    return rack, b200


def test_the_split_serves_the_slower_pool_and_no_split_of_whole_replicas_does_better(catalog, splits):
    rack, _ = splits
    assert rack.prefill_gpus + rack.decode_gpus <= 72
    # requests/s = the slower of decode (d · D / O) and prefill (p · P / I)
    expected = min(rack.decode_gpus * rack.decode.per_gpu / O, rack.prefill_gpus * rack.prefill.per_gpu / I)
    assert rack.requests_per_s == pytest.approx(expected)
    # an integer split cannot beat the continuous one: 72 / (1/D + I/(O·P)) with the pools' own D and P
    assert rack.per_gpu <= continuous_split_per_gpu(rack.decode.per_gpu, rack.prefill.per_gpu, I, O) * (1 + 1e-9)
    # every other split of whole prefill replicas, sized again here, serves no more
    m = catalog.models["deepseek-r1"]
    for p in range(rack.prefill.gpus, 72, rack.prefill.gpus):
        if p == rack.prefill_gpus:
            continue
        dec = best_decode(m, m.variant("fp8"), catalog.accelerators["gb200"], catalog.platforms["gb200-nvl72-rack"],
                          catalog.engines["sglang"], 72 - p, 1, 10.0, I, O)
        if dec is not None:
            assert min((72 - p) * dec.per_gpu / O, p * rack.prefill.per_gpu / I) <= rack.requests_per_s + 1e-9


def test_a_gb200_rack_beats_nine_b200_servers_through_wide_ep(catalog, splits):
    """The published runs (InferenceX 2026-05-22: GB200 NVL72 1.15-1.73 × B200 per GPU) put the rack ahead;
    so must hwplan. Why, derived: the rack's decode replica spreads the 256 experts over its decode GPUs
    (EP ≥ 16 inside one NVLink domain), so each GPU holds a fraction of the expert bytes an 8-GPU server's
    GPU holds and keeps the rest for KV cache; B200's wide EP crosses 400 Gb/s NICs instead."""
    rack, b200 = splits
    assert rack.gpus == b200.gpus == 72
    assert rack.decode.layout.ep >= 16 and rack.decode.nodes == 1
    m = catalog.models["deepseek-r1"]
    experts = sizing.weight_parts(m, m.variant("fp8"), catalog.accelerators["gb200"], catalog.engines["sglang"]).experts
    # expert bytes per GPU: experts / EP on the rack, against at least experts / 16 on B200 (DP16 over 2 nodes
    # at most shares them over 16 GPUs by MoE tensor parallelism; one server over 8)
    assert experts / rack.decode.layout.ep < experts / 16 * 1.0001
    assert rack.decode.batch / rack.decode.gpus > b200.decode.batch / b200.decode.gpus
    assert rack.decode.per_gpu > b200.decode.per_gpu
    assert rack.per_gpu > b200.per_gpu


# --------------------------------------------------------------------------- prefill pools batch their prompts


def test_prefill_rate_of_a_pass_of_several_prompts_by_hand():
    """A pass of n = 8 prompts lasting S = 0.8 s: a prompt's share s = 0.1 s. Without a TTFT target the
    replica runs 90 % busy: λ = 0.9 / s = 9 prompts/s. With a mean TTFT of 2 s: the fixed part is its own
    pass S, the rest of the pass under way S − s, the transfer 0.05 s and the overhead 0.015 s =
    1.565 s; the M/D/1 wait ρ·s / (2(1 − ρ)) takes the remaining b = 0.435 s: ρ = 2b / (s + 2b)."""
    from optimizer import disagg

    free = disagg.prefill_rate(0.8, 0.05, 0.015, None, prompts=8)
    assert free.utilization == pytest.approx(0.9)
    assert free.requests_per_s == pytest.approx(0.9 * 8 / 0.8)
    assert free.prefill_s == 0.8 and free.prompts == 8
    size = disagg.prefill_rate(0.8, 0.05, 0.015, 2.0, percentile=50, prompts=8)
    b = 2.0 - (0.8 + 0.7 + 0.05 + 0.015)
    rho = 2 * b / (0.1 + 2 * b)
    assert size.utilization == pytest.approx(rho, rel=1e-9)
    assert size.requests_per_s == pytest.approx(rho / 0.1, rel=1e-9)
    assert size.ttft_s == pytest.approx(2.0, rel=1e-9)
    # one prompt per pass is the plain M/D/1 (fixed part S + transfer + overhead)
    one = disagg.prefill_rate(0.1, 0.05, 0.015, 2.0, percentile=50)
    b1 = 2.0 - (0.1 + 0.05 + 0.015)
    assert one.utilization == pytest.approx(2 * b1 / (0.1 + 2 * b1), rel=1e-9)
    # the fixed part alone over the target: no rate
    assert disagg.prefill_rate(0.8, 0.05, 0.015, 1.5, prompts=8) is None


def test_prefill_batches_one_prompt_per_attention_group():
    from optimizer.disagg import prefill_batches

    assert prefill_batches(Layout(tp=1, dp=8, ep=8), 500) == [1, 8]
    assert prefill_batches(Layout(tp=1, dp=8, ep=8), 3) == [1, 3]     # KV memory for three prompts only
    assert prefill_batches(Layout(tp=8), 500) == [1]


def _gb200_problem(users: int, serving: str = "disaggregated", **workload):
    from optimizer import problem_from_fields

    return problem_from_fields({
        "model": "deepseek-r1", "precision": "fp8", "engine": "sglang", "serving": serving,
        "workload": {"concurrent_users": users, "input_tokens": I, "output_tokens": O, "min_tokens_per_s": 10.0,
                     **workload},
        "constraints": {"accelerators": ["gb200"], "max_nodes_per_replica": 9}})


@pytest.fixture(scope="module")
def gb200_pools(catalog):
    from optimizer import optimize

    problem = _gb200_problem(38_000)
    return optimize(catalog, problem), problem


def test_a_gb200_prefill_pool_takes_one_prompt_per_attention_group(catalog, gb200_pools):
    """The prefill line of a GB200 NVL72 disaggregated plan, derived from speed.prefill_time: its replicas
    prefill dp prompts per pass, so each GPU takes 0.9 · dp · I / (S_dp · ranks) input tokens/s, and that
    is within 25 % of LMSYS's 18,471 per prefill GPU (2025-09-25, BF16 attention + FP8 MoE, 2,000-token
    prompts; https://lmsys.org/blog/2025-09-25-gb200-part-2/) — one prompt per pass reached about half."""
    plan, problem = gb200_pools
    pre = next(l for l in plan.lines if l.role == "prefill")
    assert pre.dp > 1 and pre.prefill_prompts == pre.dp
    ranks = pre.tp * pre.dp * pre.pp
    dep = _dep(catalog, "gb200", "gb200-nvl72-rack", Layout(tp=pre.tp, dp=pre.dp, ep=pre.ep, pp=pre.pp), ranks)
    s = speed.prefill_time(dep, dep.memory(), I, prompts=pre.dp)
    assert pre.prefill_s == pytest.approx(s)
    assert pre.requests_per_hour_per_replica == int(3600 * 0.9 * pre.dp / s + 1e-9)
    per_gpu = pre.requests_per_hour_per_replica * I / 3600 / ranks
    assert per_gpu == pytest.approx(0.9 * pre.dp * I / (s * ranks), rel=1e-3)
    assert 0.75 * 18471 <= per_gpu <= 1.25 * 18471
    one = speed.prefill_time(dep, dep.memory(), I)
    assert 0.9 * I / (one * ranks) < 0.75 * 18471


def test_checker_holds_a_prefill_line_to_its_prompts_per_pass(catalog, gb200_pools):
    from optimizer.check import check_plan

    plan, problem = gb200_pools
    assert check_plan(plan, catalog, problem) == []
    pre = next(l for l in plan.lines if l.role == "prefill")

    def tampered(**fields):
        lines = tuple(l.model_copy(update=fields) if l.role == "prefill" else l for l in plan.lines)
        return check_plan(plan.model_copy(update={"lines": lines}), catalog, problem)

    # the same rate from one prompt per pass would keep the replica 0.9 · dp busy: no finite TTFT
    assert any("waits to a TTFT of inf" in v for v in tampered(prefill_prompts=1))
    assert any("at most one prompt per attention DP group" in v for v in tampered(prefill_prompts=pre.dp + 1))
    # a pass of dp prompts cannot be shorter than their FLOPs at peak: a tiny stated pass is floored there
    assert any("waits to a TTFT" in v for v in tampered(prefill_s=1e-6, ttft_p90_s=1e-3))

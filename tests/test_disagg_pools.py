"""One pool of a disaggregated deployment: `estimate(role=...)`, `hwplan validate`'s pool rows, and the prefill
all-to-all that DeepEP's normal kernels forward over NVLink (optimizer/speed.py `alltoall_time`)."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from cli import main
from optimizer import speed, validate
from optimizer.deployment import Deployment
from optimizer.estimator import estimate
from optimizer.layouts import Layout


def _r1_over(cat, nodes: int, ep: int) -> Deployment:
    r1 = cat.models["deepseek-r1"]
    return Deployment(model=r1, variant=r1.variant("fp8"), accelerator=cat.accelerators["h100-sxm"],
                      platform=cat.platforms["hgx-8gpu-hopper"], engine=cat.engines["sglang"], gpus_per_node=8,
                      nodes=nodes, layout=Layout(tp=1, dp=ep, ep=ep, nodes_per_replica=nodes))


def test_prefill_all_to_all_crosses_the_network_once_per_remote_server(catalog):
    # 4 tokens per rank, fp8 (1 B), hidden 7168, 8 experts per token, imbalance 1.2; the hgx-8gpu-hopper server's
    # 400 GB/s network over 8 GPUs = 50 GB/s each at DeepEP's 0.86, NVLink 450 GB/s at 0.95; 20 µs network latency.
    copy = 4 * 7168 * 1 * 1.2
    local_two = copy * 8 / 2          # the experts on the token's own server stay on NVLink, as for decode
    # Two servers: the other server holds at least one of the token's 8 experts with probability 1 − (1/2)^8.
    remote_two = copy * 1 * (1 - 0.5 ** 8)
    two = _r1_over(catalog, 2, 16)
    assert speed.alltoall_time(two, 16, 4, 1, forwarded=True) == pytest.approx(
        20e-6 + max(remote_two / (50e9 * 0.86), local_two / (450e9 * 0.95)))
    # Decode's low-latency kernels send each remote expert's copy: 4 of the 8 on average.
    assert speed.alltoall_time(two, 16, 4, 1) == pytest.approx(20e-6 + copy * 4 / (50e9 * 0.86))
    # Four servers: each of the 3 others holds one of the 8 experts with probability 1 − (3/4)^8.
    four = _r1_over(catalog, 4, 32)
    remote_four = copy * 3 * (1 - 0.75 ** 8)
    assert speed.alltoall_time(four, 32, 4, 1, forwarded=True) == pytest.approx(
        20e-6 + max(remote_four / (50e9 * 0.86), copy * 8 / 4 / (450e9 * 0.95)))
    # Inside one server there is nothing to forward: the same either way.
    one = _r1_over(catalog, 1, 8)
    assert speed.alltoall_time(one, 8, 4, 1, forwarded=True) == speed.alltoall_time(one, 8, 4, 1)


def test_prefill_forwards_and_decode_does_not(catalog, monkeypatch):
    dep = _r1_over(catalog, 2, 16)
    fit = dep.memory()
    seen: list[bool] = []
    real = speed.alltoall_time

    def spy(*args, forwarded=False):
        seen.append(forwarded)
        return real(*args, forwarded=forwarded)

    monkeypatch.setattr(speed, "alltoall_time", spy)
    speed.prefill_time(dep, fit, 2000, prompts=16)
    assert seen and all(seen)
    seen.clear()
    speed.decode_token_time(dep, fit, 256, 2000)
    assert seen and not any(seen)


_POOL = dict(model="deepseek-v3", accelerator="h100-sxm", gpus=32, nodes=4, precision="fp8", engine="sglang",
             tp=1, dp=32, ep=32, input_tokens=2000, output_tokens=100)


def _deployment(catalog, est) -> Deployment:
    m = catalog.models[est.model]
    return Deployment(model=m, variant=m.variant(est.precision), accelerator=catalog.accelerators[est.accelerator],
                      platform=catalog.platforms[est.platform], engine=catalog.engines[est.engine],
                      gpus_per_node=est.gpus // est.nodes, nodes=est.nodes,
                      layout=Layout(tp=1, dp=32, ep=32, nodes_per_replica=est.nodes))


def test_a_decode_replica_runs_its_batch_with_no_prompt_in_its_steps(catalog):
    batch = 64 * 32
    pool = estimate(catalog, concurrency=batch, role="decode", **_POOL)
    mixed = estimate(catalog, concurrency=batch, **_POOL)
    assert pool.fits and pool.role == "decode" and pool.batch == batch
    dep = _deployment(catalog, pool)
    tau, _ = speed.decode_token_time(dep, dep.memory(), batch, 2000 + 100 / 2)   # τ(B) at the mean context
    assert pool.decode_tokens_per_s_per_user == pytest.approx(1 / tau)
    assert pool.output_tokens_per_s_total == pytest.approx(batch / tau)
    assert pool.ttft_s is None and pool.prefill_input_tokens_per_s is None   # prompts run on the prefill pool
    # The same replica serving prompts too is slower per user: its prompts share the steps.
    assert mixed.decode_tokens_per_s_per_user < pool.decode_tokens_per_s_per_user
    assert any("--disaggregation-mode decode" in c for c in pool.launch)


def test_a_prefill_replica_runs_one_prompt_per_attention_group_back_to_back(catalog):
    pool = estimate(catalog, role="prefill", **_POOL)
    dep = _deployment(catalog, pool)
    fit = dep.memory()
    # 32 attention DP groups, one 2,000-token prompt each per forward pass, in chunk steps of
    # --chunked-prefill-size // 32 tokens (SGLang divides it over the DP groups): each step at least a prompt of
    # its own size, a later one also attending to the tokens before it.
    assert pool.batch == 32
    chunk = fit.settings.max_batched_tokens // 32
    assert chunk < 2000

    def p(tokens):
        return speed.prefill_time(dep, fit, tokens, prompts=32)

    cuts = [*range(0, 2000, chunk), 2000]
    passes = sum(max(p(b - a), p(b) - p(a)) for a, b in zip(cuts, cuts[1:]))
    assert passes > p(2000)
    assert pool.prefill_input_tokens_per_s == pytest.approx(32 * 2000 / passes)
    assert pool.decode_tokens_per_s_per_user is None and pool.output_tokens_per_s_total is None
    assert pool.ttft_s > speed.prefill_time(dep, fit, 2000)       # a prompt alone, plus the engine's overhead
    assert any("--disaggregation-mode prefill" in c for c in pool.launch)


@pytest.mark.parametrize("args, said", [
    (["--role", "prefill", "--speculative", "mtp"], "--speculative = mtp with --role prefill"),
    (["--role", "decode", "--request-rate", "2"], "--request-rate = 2 with --role decode"),
    (["--role", "decode", "--serving", "disaggregated"], "--role = decode with --serving disaggregated"),
])
def test_role_flags_that_cannot_go_together_exit_2(args, said):
    got = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus",
                                    "8", *args])
    assert got.exit_code == 2, got.output
    assert said in got.output and "Traceback" not in got.output


def _write(path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(validate.COLUMNS) + ["ep"])
        w.writeheader()
        w.writerows(rows)


_ROW = dict(model="DeepSeek-V3", precision="FP8", hardware="H100-SXM-80GB", num_gpus="32", num_nodes="4",
            engine="SGLang", tp="32", pp="1", ep="32", input_len="2000", output_len="100", value="5000")


def test_validate_checks_each_pool_and_sets_whole_deployments_aside(catalog, tmp_path):
    path = tmp_path / "pools-fit.csv"
    _write(path, [
        {**_ROW, "id": "P-1", "concurrency_or_batch": "n/a", "metric": "prefill_tok_s_per_gpu",
         "notes": "prefill pool of a PD-disaggregated deployment, DP attention"},
        {**_ROW, "id": "D-1", "concurrency_or_batch": "2048", "metric": "decode_tok_s_per_gpu",
         "notes": "decode nodes of a disaggregated deployment, DP attention; no MTP"},
        {**_ROW, "id": "W-1", "concurrency_or_batch": "2048", "metric": "tok_s_per_gpu",
         "notes": "whole PD disaggregated deployment, DP attention"},
    ])
    cases, skipped = validate.read_cases(path, catalog)
    by_id = {c.id: c for c in cases}
    assert by_id["P-1"].role == "prefill" and by_id["D-1"].role == "decode"
    assert by_id["D-1"].speculative is None          # "no MTP" is not a speculative run
    assert [i for i, _ in skipped] == ["W-1"] and "not a single replica" in skipped[0][1]
    pre = estimate(catalog, role="prefill", **{**_POOL, "output_tokens": 100})
    dec = estimate(catalog, role="decode", concurrency=2048, **_POOL)
    assert validate.predict(by_id["P-1"], catalog)[0] == pytest.approx(pre.prefill_input_tokens_per_s / 32)
    assert validate.predict(by_id["D-1"], catalog)[0] == pytest.approx(dec.output_tokens_per_s_total / 32)
    report = validate.validate(catalog, path)
    pools = [s for s in report.summary() if s["kind"] == "pool"]
    assert pools and pools[0]["rows"] == 2


def test_calibration_fits_no_pool_row(catalog):
    from benchmarks.calibrate import speed_cases

    fit = validate.bundled_measurements()
    fit = [p for p in fit if validate.file_role(p) == "fit"]
    every, _ = validate.read_cases(fit[0], catalog)
    assert any(c.role for c in every)          # the fit file holds pool rows (LMSYS's per-pool figures) …
    assert not any(c.role for c in speed_cases([str(p) for p in fit], catalog))   # … and nothing is fitted on them


def test_a_published_acceptance_length_gives_the_per_token_acceptance():
    from optimizer.serving import acceptance_for_length

    # k = 2 drafts: E = 1 + a + a² = 2.18 → a = (−1 + √(1 + 4 · 1.18)) / 2.
    assert acceptance_for_length(2, 2.18) == pytest.approx((-1 + (1 + 4 * 1.18) ** 0.5) / 2, abs=1e-9)
    # k = 1: E = 1 + a.
    assert acceptance_for_length(1, 1.92) == pytest.approx(0.92, abs=1e-9)
    assert acceptance_for_length(3, 4.0) == 1.0 and acceptance_for_length(3, 5.0) == 1.0
    with pytest.raises(ValueError):
        acceptance_for_length(2, 0.9)


def test_a_row_stating_its_acceptance_length_runs_with_it(catalog, tmp_path):
    path = tmp_path / "mtp-fit.csv"
    _write(path, [{**_ROW, "id": "M-1", "concurrency_or_batch": "64", "metric": "decode_tok_s_per_gpu",
                   "notes": "decode pool, DP attention, MTP with 2 draft tokens, mean acceptance length 2.18"}])
    (case,), _ = validate.read_cases(path, catalog)
    assert case.speculative.method == "mtp" and case.speculative.tokens == 2
    assert case.speculative.tokens_per_step() == pytest.approx(2.18)


def test_verification_attends_every_draft_token_to_the_whole_cache(catalog):
    # A verification step of b sequences passing q = k + 1 tokens each: the weights and links carry b·q tokens,
    # each sequence's KV cache is read once, and each of its q tokens attends to all of it.
    dep = _r1_over(catalog, 1, 8)
    fit = dep.memory()
    b, ctx, q = 8, 60_000, 3
    one = speed.stage_breakdown(dep, fit, b, ctx)
    verify = speed.stage_breakdown(dep, fit, b, ctx, queries=q)
    tokens = speed.stage_breakdown(dep, fit, b * q, ctx)
    assert verify["attention_memory"] == pytest.approx(one["attention_memory"])
    assert verify["attention_compute"] == pytest.approx(q * one["attention_compute"])
    for part in ("gemm_memory", "gemm_compute", "communication", "overhead"):
        assert verify[part] == pytest.approx(tokens[part])
    # The serving model's speculative step takes the verification from the replica's times.
    from optimizer import serving

    times = speed.serving_times(dep, fit)
    step = serving._Step(times, ctx, serving.Speculative("mtp", q - 1, 0.7))
    plain, _ = times.token_time(b, ctx)
    first, _ = times.token_time(1, ctx)
    draft = (q - 1) * (serving.DRAFT_STEP_SHARE * first + (plain - first) / times.layers)
    assert step(b)[0] == pytest.approx(speed.decode_token_time(dep, fit, b, ctx, queries=q)[0] + draft)


def test_an_estimate_without_a_layout_runs_as_many_of_the_asked_requests_as_any_layout(catalog):
    """DeepSeek-V3 on 8 H200 under SGLang asked for 1,024 requests: TP8 runs 223 of them at once (its KV cache);
    the layout the estimate picks runs the most any layout of the server runs."""
    from optimizer.layouts import candidate_layouts

    asked = dict(model="deepseek-v3", accelerator="h200-sxm", gpus=8, precision="fp8", engine="sglang",
                 concurrency=1024)
    picked = estimate(catalog, **asked)
    running = []
    for lay in candidate_layouts(catalog.models["deepseek-v3"], catalog.engines["sglang"], 8, 1):
        if lay.replicas_per_node == 1:
            one = estimate(catalog, tp=lay.tp, dp=lay.dp, ep=lay.ep, pp=lay.pp, **asked)
            if one.fits:
                running.append(one.batch)
    assert picked.batch == max(running) and picked.batch > estimate(catalog, tp=8, **asked).batch

"""The benchmark replay (optimizer/serving.py `benchmark_run`): InferenceX's closed-loop client, request by
request, with the engine's prefill batching and intake interval; and validate reading the protocol and the
launch settings of InferenceX rows. Expected values are derived by hand from the replay's rules."""

from __future__ import annotations

import math

import pytest

from catalog.errors import InputError
from optimizer import serving
from optimizer.serving import Benchmark, Times

P_PER_TOKEN = 0.001      # prefill: 1 ms per prompt token
OVERHEAD = 0.005
TAU = 0.01               # decode step, the same at every batch: a prefill step carries no extra decode work


def _times(budget: int) -> Times:
    return Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: P_PER_TOKEN * n, layers=10,
                 budget=budget, overhead_s=OVERHEAD)


def _tpot(times: Times, users: int, i: int, o: int) -> float:
    """The steady TPOT the replay decodes at (an input of the replay, from the steady model)."""
    return serving.closed_loop(times, users, i, o, "random").tpot_s


def test_one_user_never_queues():
    # C = 1: each of the 10 prompts runs alone on an idle replica: TTFT = P(I) + overhead = 0.1 + 0.005,
    # even with an intake interval (an idle engine receives at once).
    for intake in (1, 30):
        r = serving.closed_loop(_times(8192), 1, 100, 50, arrivals=Benchmark(10, 1.0, intake))
        assert r.ttft_s == pytest.approx(0.105)
        assert r.ttft_p90_s == pytest.approx(0.105)
        assert r.arrivals == "benchmark"


def test_a_wave_that_fits_the_budget_is_one_prefill_step():
    # C = 2, fixed lengths (ratio 1), budget 200 ≥ 2 × 100: both prompts of each wave in one step of 200 tokens,
    # and both end together, so the second wave is alike: every TTFT = P(200) + overhead = 0.2 + 0.005.
    r = serving.closed_loop(_times(200), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert r.ttft_s == pytest.approx(0.205)


def test_a_budget_of_one_prompt_serializes_the_first_wave_only():
    # Budget 150 < 2 × 100: one prompt per step. Wave 1: TTFTs P + ov and 2P + ov (P = 0.1). Their ends differ
    # by P, so wave 2's prompts arrive P apart and each finds the replica free: P + ov each.
    # Mean = (P + 2P + P + P) / 4 + ov = 1.25·P + ov; p90 = the 4th of 4 = 2P + ov.
    r = serving.closed_loop(_times(150), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert r.ttft_s == pytest.approx(1.25 * 0.1 + 0.005)
    assert r.ttft_p90_s == pytest.approx(2 * 0.1 + 0.005)


def test_intake_interval_holds_a_request_that_arrives_while_others_decode():
    # As above, but the engine receives every N = 50 decode steps (period 50·τ = 0.5 s) while decoding.
    times, n_steps, p = _times(150), 50, 0.1
    tpot = _tpot(times, 2, 100, 50)
    end1 = p + OVERHEAD + 49 * tpot          # the first request's end: the third prompt starts
    end2 = end1 + p                          # the second's: the fourth starts
    last = 2 * p                             # the engine's last intake: after the second prefill step
    period = n_steps * TAU
    t3 = last + math.ceil((end1 - last) / period) * period   # the next intake after end1
    assert end1 < end2 <= t3                 # (both wait for the same intake)
    # Both are received at t3 and prefilled one after the other.
    ttft3 = t3 + p + OVERHEAD - end1
    ttft4 = t3 + 2 * p + OVERHEAD - end2
    r = serving.closed_loop(times, 2, 100, 50, arrivals=Benchmark(2, 1.0, n_steps))
    assert r.ttft_s == pytest.approx((p + 2 * p + 2 * OVERHEAD + ttft3 + ttft4) / 4)
    # Without the interval the same run waits less.
    assert serving.closed_loop(times, 2, 100, 50, arrivals=Benchmark(2, 1.0, 1)).ttft_s < r.ttft_s


def test_lengths_lie_in_the_range_and_spread_the_waves():
    # Range ratio 0.8: prompts of 80-100 tokens, so a replica that prefills one prompt per step serves the first
    # wave of C = 8 in at most 8 × P(100) and at least 8 × P(80); later waves arrive spread by the output lengths
    # and wait less than the first wave's mean.
    times = _times(100)
    r = serving.closed_loop(times, 8, 100, 200, arrivals=Benchmark(10, 0.8, 1))
    first_wave_mean_low = sum(k * 0.080 for k in range(1, 9)) / 8 + OVERHEAD
    assert 0.080 + OVERHEAD <= r.ttft_s < first_wave_mean_low
    assert [serving._van_der_corput(j, 2) for j in (1, 2, 3)] == [0.5, 0.25, 0.75]


def test_benchmark_settings_are_checked():
    with pytest.raises(InputError, match="range ratio"):
        Benchmark(10, 0.0, 1)
    with pytest.raises(InputError, match="at least 1"):
        Benchmark(0, 0.8, 1)


def test_validate_reads_inferencex_protocol_and_launch_settings(tmp_path):
    from catalog import load_catalog
    from optimizer import validate

    header = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
              "concurrency_or_batch,metric,value,unit,source,date,notes")
    row = ("X-{n},DeepSeek-R1-0528,FP8 (block-scaled DeepSeek FP8 ckpt),B300-288GB,8,1,SGLang,v0.5.12-cu130,8,1,1,"
           "1024,1024,64,ttft_ms,624,ms,{source},2026-05-22,\"{notes}\"")
    path = tmp_path / "m.csv"
    path.write_text("\n".join([
        header,
        row.format(n=1, source="InferenceX nightly run",
                   notes="launch: --chunked-prefill-size 32768 --scheduler-recv-interval 30"),
        row.format(n=2, source="another benchmark", notes="--max_num_tokens 1152"),
        row.format(n=3, source="another benchmark", notes="KV capacity max_num_tokens 1,069,242 per rank"),
    ]) + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert not skipped
    by_id = {c.id: c for c in cases}
    # SGLang: its overlap scheduler queues a request behind the running step (half a step on average) and the one
    # already launched (1 step): 1.5 steps; and its fitted cold-shape stall.
    assert by_id["X-1"].benchmark == Benchmark(10, 0.8, 30, 0.5 + 1, serving.COLD_STALL_S["sglang"])
    assert by_id["X-1"].max_batched_tokens == 32768
    assert by_id["X-2"].benchmark is None and by_id["X-2"].max_batched_tokens == 1152
    assert by_id["X-3"].max_batched_tokens is None    # a token count, not a launch flag


def test_a_request_arriving_during_decodes_waits_the_queued_steps():
    # As the budget-of-one-prompt case (P = 0.1, τ = 0.01, C = 2, 4 prompts), with q = 1.5 queued steps. Wave 1:
    # P + ov and 2P + ov. Prompt 2 starts when prompt 0 ends, while prompt 1 still decodes: the engine takes it
    # q·τ later, so its TTFT is q·τ + P + ov. Prompt 3 starts P later (when prompt 1 ends), before prompt 2's
    # prefill step is over: it is received after that step and prefilled next, ending P after prompt 2's first
    # token: TTFT = (q·τ + 2P) − P + ov = q·τ + P + ov.
    # Mean = (P + 2P + 2(q·τ + P)) / 4 + ov = 1.25·P + q·τ/2 + ov.
    q, p = 1.5, 0.1
    r = serving.closed_loop(_times(150), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1, q))
    assert r.ttft_s == pytest.approx(1.25 * p + q * TAU / 2 + OVERHEAD)
    assert r.ttft_p90_s == pytest.approx(2 * p + OVERHEAD)


def test_queued_steps_add_to_the_intake_interval_beyond_the_running_step():
    # With an intake interval the next intake already ends the running step; only the launched steps beyond it
    # (q − 0.5) are added: the interval case's TTFTs of prompts 2 and 3 grow by (q − 0.5)·τ each.
    times, n_steps, p, q = _times(150), 50, 0.1, 1.5
    base = serving.closed_loop(times, 2, 100, 50, arrivals=Benchmark(2, 1.0, n_steps))
    r = serving.closed_loop(times, 2, 100, 50, arrivals=Benchmark(2, 1.0, n_steps, q))
    assert r.ttft_s == pytest.approx(base.ttft_s + 2 * (q - 0.5) * TAU / 4)


def test_a_batch_size_the_warmup_did_not_run_stalls_once():
    # C = 3, fixed 100-token prompts, budget 200, 2 prompts per user (6 prompts). The warm-up ran batches of
    # min(3, 200 // 100) = 2 prompts. Wave 1: prompts 0 and 1 in one step (2 prompts: warm), TTFT P(200) + ov =
    # 0.2 + ov; prompt 2 alone: a new size, the engine stalls D first: TTFT 0.2 + D + 0.1 + ov. Prompts 3 and 4
    # start together when 0 and 1 end (one warm step: 0.2 + ov each); prompt 5 starts when prompt 2 ends,
    # 0.1 + D after them, inside their 0.2 s step, and is prefilled alone right after it (size 1 is warm now):
    # TTFT = 0.2 + 0.1 − (0.1 + D) + ov = 0.2 − D + ov.
    # Mean = (4 × 0.2 + 0.3 + D + 0.2 − D) / 6 + ov = 1.3 / 6 + ov; p90 = the 6th of 6 = 0.3 + D + ov.
    d = 0.05
    r = serving.closed_loop(_times(200), 3, 100, 50, arrivals=Benchmark(2, 1.0, 1, 0.0, d))
    assert r.ttft_s == pytest.approx(1.3 / 6 + OVERHEAD)
    assert r.ttft_p90_s == pytest.approx(0.3 + d + OVERHEAD)
    # Without the stall the slowest prompt is 0.3 + ov; with one user every batch is warm: no stall at all.
    assert serving.closed_loop(_times(200), 3, 100, 50, arrivals=Benchmark(2, 1.0, 1)).ttft_p90_s == \
        pytest.approx(0.3 + OVERHEAD)
    assert serving.closed_loop(_times(8192), 1, 100, 50, arrivals=Benchmark(10, 1.0, 1, 0.0, d)).ttft_s == \
        pytest.approx(0.1 + OVERHEAD)


def test_engine_constants_of_a_benchmark_run():
    b = Benchmark.for_engine("sglang", 10, 0.8, 30)
    assert (b.prompts_per_user, b.range_ratio, b.intake_steps) == (10, 0.8, 30)
    assert b.queued_steps == 1.5 and b.cold_stall_s == serving.COLD_STALL_S["sglang"] > 0
    assert Benchmark.for_engine("vllm").queued_steps == 0.5      # one step at a time: half the running step
    assert Benchmark.for_engine("trtllm").queued_steps == 1.5
    other = Benchmark.for_engine("llama.cpp")
    assert (other.queued_steps, other.cold_stall_s) == (0.0, 0.0)
    with pytest.raises(InputError, match="negative"):
        Benchmark(10, 0.8, 1, -1.0)
    with pytest.raises(InputError, match="negative"):
        Benchmark(10, 0.8, 1, 0.0, -0.5)

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


def _times(budget: int, **scheduler) -> Times:
    return Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: P_PER_TOKEN * n, layers=10,
                 budget=budget, overhead_s=OVERHEAD, **scheduler)


def _ttfts(times: Times, users: int, i: int, o: int, bench: Benchmark) -> list[float]:
    """Each prompt's TTFT in the replay, in prompt order."""
    replay = serving._replay(times, users, i, o, bench, None)
    return [replay.ttft[j] for j in sorted(replay.ttft)]


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


# Two users, fixed 100-token prompts and 50 output tokens, P = 1 ms per prompt token, τ = 10 ms, budget 150 (a
# prompt and a half per step), two prompts per user. The three schedulers (serving.PREFILL_ALONE, WHOLE_PROMPTS).

def test_chunked_prompts_with_the_decodes_riding_along():
    # vLLM's rule. Step 1: prompt 0 and 50 tokens of prompt 1, 0.15 s: TTFT0 = 0.15 + ov. Step 2: prompt 1's last
    # 50 tokens, with prompt 0's decode riding along (τ is flat: it adds nothing), 0.05 s: TTFT1 = 0.2 + ov, and
    # prompt 0 has 1 of its 49 decode tokens. Prompt 0 ends 48 steps later (t = 0.68), prompt 1 one step after
    # (0.69): prompts 2 and 3 are sent at 0.68 + ov and 0.69 + ov. The engine, idle at 0.69, takes prompt 2 at
    # once (0.69 → 0.79: TTFT2 = 0.79 + ov − 0.685), then prompt 3 (0.79 → 0.89: TTFT3 = 0.89 + ov − 0.695).
    got = _ttfts(_times(150), 2, 100, 50, Benchmark(2, 1.0, 1))
    assert got == pytest.approx([0.155, 0.205, 0.11, 0.2])
    r = serving.closed_loop(_times(150), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert r.ttft_s == pytest.approx((0.155 + 0.205 + 0.11 + 0.2) / 4)
    assert r.ttft_p90_s == pytest.approx(0.205)


def test_whole_prompts_wait_for_a_step_with_room():
    # TensorRT-LLM's rule: step 1 holds prompt 0 only (prompt 1 does not fit the other 50 tokens), 0.1 s; step 2
    # prompt 1 with prompt 0's decode, 0.1 s. From there on as the chunked case: TTFT2 and TTFT3 0.11 and 0.2.
    got = _ttfts(_times(150, whole_prompts=True), 2, 100, 50, Benchmark(2, 1.0, 1))
    assert got == pytest.approx([0.105, 0.205, 0.11, 0.2])


def test_a_prefill_step_alone_holds_the_decodes_so_waves_persist():
    # SGLang's rule: step 2 (prompt 1's last 50 tokens) runs without prompt 0's decode, so both requests start
    # decoding together at 0.2 and end together at 0.69; prompts 2 and 3 arrive together (0.695) and repeat the
    # first wave: 0.15 and 0.2 after their arrival, plus the overhead.
    got = _ttfts(_times(150, prefill_alone=True), 2, 100, 50, Benchmark(2, 1.0, 1))
    assert got == pytest.approx([0.155, 0.205, 0.155, 0.205])
    riding = _ttfts(_times(150), 2, 100, 50, Benchmark(2, 1.0, 1))
    assert sum(got) > sum(riding)


def test_intake_interval_holds_a_request_that_arrives_while_others_decode():
    # Whole prompts, budget 100, lengths by range ratio 0.5: prompts of 75, 63, 88, 57 tokens and outputs of
    # 34, 42, 28, 37 tokens (prompt j: ⌈100·(0.5 + 0.5·u)⌉, u the van der Corput terms 1/2, 1/4, 3/4, 1/8; outputs
    # with 1/3, 2/3, 1/9, 4/9). The engine polls after every prefill step and every N = 10 decode steps.
    # Step 1: prompt 0 (75 tokens; 63 more do not fit): t = 0.075, TTFT0 = 0.08. Step 2: prompt 1 with prompt 0's
    # decode (99 slots): t = 0.138, TTFT1 = 0.143. Prompt 0 needs 33 decode tokens, 1 given: 32 steps, t = 0.458,
    # the 2nd step after the last poll: prompt 2 is sent at 0.463 and received at the next poll, 8 steps on
    # (t = 0.538); its prefill (88 tokens, prompt 1 riding) ends at 0.626: TTFT2 = 0.626 + ov − 0.463 = 0.168.
    # That step gives prompt 1 its 42nd token: it ends, and prompt 3 is sent at 0.631, after the engine's
    # poll at 0.626, so it waits for the next poll 10 steps later (0.726); its prefill (57 tokens) ends at 0.783:
    # TTFT3 = 0.783 + ov − 0.631 = 0.157.
    got = _ttfts(_times(100, whole_prompts=True), 2, 100, 50, Benchmark(2, 0.5, 10))
    assert got == pytest.approx([0.08, 0.143, 0.168, 0.157])
    # Polling after every step takes prompt 2 in one step after it is sent (t = 0.468): TTFT2 = 0.098.
    assert _ttfts(_times(100, whole_prompts=True), 2, 100, 50, Benchmark(2, 0.5, 1))[2] == pytest.approx(0.098)


def test_queued_steps_delay_what_the_scheduler_sees_by_one_step():
    # As the interval case with N = 1 and q = 1.5 queued steps (an overlap scheduler): the step formed at a
    # boundary sees only what was sent before the previous step began. Prompt 2, sent at 0.463 during the
    # step 0.458 → 0.468, is seen by the step formed at 0.478 (its previous step began at 0.468 ≥ 0.463): its
    # prefill runs 0.478 → 0.566, TTFT2 = 0.566 + ov − 0.463 = 0.108, one step (0.01) more than with q = 0.5.
    bench = Benchmark(2, 0.5, 1, 1.5)
    assert _ttfts(_times(100, whole_prompts=True), 2, 100, 50, bench)[2] == pytest.approx(0.108)
    assert _ttfts(_times(100, whole_prompts=True), 2, 100, 50, Benchmark(2, 0.5, 1, 0.5))[2] == \
        pytest.approx(0.098)


def test_a_batch_size_the_warmup_did_not_run_stalls_once():
    # C = 3, fixed 100-token prompts, budget 200, 2 prompts per user, whole prompts. The warm-up ran steps of
    # min(3, 200 // 100) = 2 prompts. Step 1: prompts 0 and 1 (0.2 s, warm): TTFT 0.2 + ov each. Step 2: prompt 2
    # alone, with the two decodes riding: 0.1 s and a new size, so the engine first stalls D: TTFT2 =
    # 0.3 + D + ov. A second step of one prompt does not stall again.
    d = 0.05
    got = _ttfts(_times(200, whole_prompts=True), 3, 100, 50, Benchmark(2, 1.0, 1, 0.0, d))
    assert got[:3] == pytest.approx([0.205, 0.205, 0.305 + d])
    assert max(got[3:]) < 0.305 + d
    # With one user every step is the warmed size: no stall at all.
    assert serving.closed_loop(_times(8192), 1, 100, 50, arrivals=Benchmark(10, 1.0, 1, 0.0, d)).ttft_s == \
        pytest.approx(0.1 + OVERHEAD)


def test_a_long_prompts_chunks_add_up_to_its_prefill():
    # One user, one 100-token prompt, prefill pure attention P(n) = 1e-4·n² s (P(100) = 1 s), budget 50: chunk 1
    # is a prompt of 50 alone, P(50) = 0.25 s; chunk 2's 50 tokens also attend to the first 50, so the step adds
    # P(100) − P(50) − P(50) = 0.5 s to its P(50): 0.75 s. TTFT = 1.0 + ov, as without chunking; timing chunk 2 as
    # a fresh 50-token prompt would give 0.5 + ov.
    def quadratic(budget: int) -> Times:
        return Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: 1e-4 * n * n, layers=10,
                     budget=budget, overhead_s=OVERHEAD)
    for budget in (50, 100):
        assert _ttfts(quadratic(budget), 1, 100, 2, Benchmark(1, 1.0, 1)) == pytest.approx([1.0 + OVERHEAD])


def test_the_replay_measures_tpot_as_the_client_does():
    # The chunked case: prompt 0's 49 decode tokens take from its first token (0.15) to its end (0.68), prompt
    # 1's from 0.2 to 0.69; prompts 2 and 3 decode alone or together at τ once their prefills end. The client's
    # TPOT: (end − first token) / (output − 1), averaged over requests.
    r = serving.closed_loop(_times(150), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    # Prompt 2: first token 0.79, prompt 3's prefill step (0.1 s) carries its first decode, then 48 steps: 0.79 +
    # 0.1 + 0.48 = 1.37. Prompt 3: first token 0.89, 49 steps: 1.38.
    expected = [(0.68 - 0.15) / 49, (0.69 - 0.2) / 49, (1.37 - 0.79) / 49, (1.38 - 0.89) / 49]
    assert r.tpot_s == pytest.approx(sum(expected) / 4)


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


def test_the_replay_gives_the_median_of_its_prompts():
    # The chunked case's TTFTs 0.155, 0.205, 0.11, 0.2: the median is the mean of the middle two.
    r = serving.closed_loop(_times(150), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert r.ttft_median_s == pytest.approx((0.155 + 0.2) / 2)


def test_steady_median_has_no_wait_at_half_load_or_less():
    # Kingman's tail P(W > t) = ρ·exp(−tρ/W̄): at ρ ≤ 1/2 at least half of the requests do not wait, so the
    # median TTFT is one prompt's service plus the overhead, below the mean. Above, the median wait is
    # (W̄/ρ)·ln(2ρ).
    times = _times(8192)
    light = serving.closed_loop(times, 2, 100, 50)
    assert light.utilization <= 0.5
    assert light.ttft_median_s == pytest.approx(light.prefill_service_s + OVERHEAD)
    assert light.ttft_median_s < light.ttft_s
    rate = 0.8 / 0.1                      # open loop at ρ = 0.8 of a 0.1 s prompt
    busy = serving.open_loop(times, rate, 100, 50)
    wait = busy.wait_s
    assert busy.ttft_median_s == pytest.approx(wait / 0.8 * math.log(1.6) + busy.prefill_service_s + OVERHEAD)
    # Waves: 4 prompts of 100 tokens in chunk steps of 134, 134 and 132 tokens (budget 134, filled as the engine
    # fills it): prompt k's last token (token 100k) in step ⌈100k/134⌉ = 1, 2, 3, 3, so first tokens after 134,
    # 268, 400 and 400 tokens' prefill: mean 1,202/4 = 300.5 tokens' worth, median (268 + 400)/2 = 334.
    waves = serving.closed_loop(_times(134), 4, 100, 50, arrivals="synchronized")
    assert waves.ttft_s == pytest.approx(300.5 * P_PER_TOKEN + OVERHEAD)
    assert waves.ttft_median_s == pytest.approx(334 * P_PER_TOKEN + OVERHEAD)


def test_validate_replays_median_ttft_rows_of_inferencex(tmp_path):
    from catalog import load_catalog
    from optimizer import validate

    header = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
              "concurrency_or_batch,metric,value,unit,source,date,notes")
    row = ("M-1,DeepSeek-R1-0528,FP8 (block-scaled DeepSeek FP8 ckpt),B300-288GB,8,1,SGLang,v0.5.12-cu130,8,1,1,"
           "1024,1024,64,ttft_median_ms,150,ms,InferenceX nightly run,2026-05-22,\"--chunked-prefill-size 32768\"")
    path = tmp_path / "m.csv"
    path.write_text(header + "\n" + row + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert not skipped and cases[0].benchmark is not None
    predicted, est = validate.predict(cases[0], load_catalog())
    assert predicted == pytest.approx(est.ttft_median_s * 1000) and est.ttft_median_s < est.ttft_s


def test_ttft_breakdown_scales_packed_prefill_steps_too():
    # k in benchmarks/ttft_breakdown.py: prefill k times slower inside the model. A step of two 50-token prompts is
    # timed by prefill_packed (here 1 ms per token: 0.1 s); at k = 2 it takes 0.2 s, as one 100-token prompt does
    # (0.1 s → 0.2 s). Scaling only the one-prompt time left packed steps, most of a loaded replay, at 0.1 s.
    from benchmarks.ttft_breakdown import _scaled

    times = Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: P_PER_TOKEN * n, layers=10,
                  budget=8192, overhead_s=OVERHEAD, prefill_packed=lambda tokens, n: P_PER_TOKEN * tokens * n)
    slow = _scaled(times, 2.0)
    assert slow.prefill_step(100, 1) == pytest.approx(0.2)
    assert slow.prefill_step(100, 2) == pytest.approx(0.2)


@pytest.mark.parametrize("unit", ["s", "seconds", "µs", "s/token", "s (mean)", "hours"])
def test_validate_sets_aside_a_millisecond_metric_given_in_another_unit(tmp_path, unit):
    from catalog import load_catalog
    from optimizer import validate

    header = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
              "concurrency_or_batch,metric,value,unit,source,date,notes")
    row = ("U-1,DeepSeek-R1-0528,FP8 (block-scaled DeepSeek FP8 ckpt),B300-288GB,8,1,SGLang,v0.5.12-cu130,8,1,1,"
           f"1024,1024,4,ttft_median_ms,0.15,{unit},InferenceX nightly run,2026-05-22,")
    ok = row.replace(f",0.15,{unit},", ",150,ms,").replace("U-1", "U-2")
    path = tmp_path / "m.csv"
    path.write_text(header + "\n" + row + "\n" + ok + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert [c.id for c in cases] == ["U-2"]
    assert skipped[0][0] == "U-1" and "milliseconds" in skipped[0][1]


def test_validate_sets_aside_a_row_with_no_request_in_flight(tmp_path):
    from catalog import load_catalog
    from optimizer import validate

    header = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
              "concurrency_or_batch,metric,value,unit,source,date,notes")
    row = ("Z-{n},DeepSeek-R1-0528,FP8 (block-scaled DeepSeek FP8 ckpt),B300-288GB,8,1,SGLang,v0.5.12-cu130,8,1,1,"
           "1024,1024,{c},ttft_median_ms,150,ms,InferenceX nightly run,2026-05-22,")
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header, row.format(n=1, c=0), row.format(n=2, c=1)]) + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert [c.id for c in cases] == ["Z-2"] and cases[0].concurrency == 1
    assert skipped[0][0] == "Z-1" and "at least one request" in skipped[0][1]

"""Prompt lengths that spread (`input_tokens_spread` s: uniform over input_tokens × [1 − s, 1 + s]) make the prefill
queue of request-rate sizing an M/G/1 queue: Pollaczek–Khinchine's wait grows with the service's squared coefficient
of variation, checked here against a simulated queue."""

from __future__ import annotations

import random
import statistics

import pytest
from click.testing import CliRunner

from catalog import load_catalog
from cli import main
from optimizer import serving, validate
from optimizer.estimator import estimate
from optimizer.serving import Times


def _simulated_wait(rate: float, low: float, high: float, customers: int = 200_000, seed: int = 7) -> float:
    """Mean wait of a FIFO single-server queue with Poisson arrivals and uniform service on [low, high], by
    Lindley's recursion W_{n+1} = max(0, W_n + S_n − A_{n+1})."""
    rng = random.Random(seed)
    wait = total = 0.0
    for _ in range(customers):
        total += wait
        wait = max(0.0, wait + rng.uniform(low, high) - rng.expovariate(rate))
    return total / customers


@pytest.mark.parametrize("rate, low, high", [(6.0, 0.0, 0.2), (3.0, 0.05, 0.25), (8.0, 0.08, 0.12)])
def test_the_mg1_wait_is_the_simulated_queues(rate, low, high):
    mean = (low + high) / 2
    scv = (high - low) ** 2 / 12 / mean ** 2            # a uniform service's variance over its mean squared
    assert serving.mg1_wait(rate, mean, scv) == pytest.approx(_simulated_wait(rate, low, high), rel=0.05)
    # Without the spread (M/D/1) the wait is shorter by the factor 1 + c².
    assert serving.md1_wait(rate, mean) == pytest.approx(serving.mg1_wait(rate, mean, scv) / (1 + scv))


def test_the_lengths_stand_for_a_uniform_spread():
    assert serving.prompt_lengths(1000) == [1000]
    lengths = serving.prompt_lengths(1600, 0.5)      # uniform over [800, 2400]
    assert len(lengths) == serving.PROMPT_LENGTH_POINTS
    assert min(lengths) > 800 and max(lengths) < 2400
    assert statistics.fmean(lengths) == pytest.approx(1600, abs=1)
    # The bins' midpoints keep the spread's variance but each bin's own: (width² / 12)·(1 − 1/K²).
    k = serving.PROMPT_LENGTH_POINTS
    assert statistics.pvariance(lengths) == pytest.approx(1600 ** 2 / 12 * (1 - 1 / k ** 2), rel=1e-3)
    assert min(serving.prompt_lengths(10, 1.0)) >= 1
    with pytest.raises(Exception, match="input_tokens_spread = 1.5"):
        serving.prompt_lengths(10, 1.5)


def _linear_times(per_token: float) -> Times:
    return Times(token_time=lambda b, ctx: (0.02, "memory"), prefill_time=lambda t: per_token * t, layers=10,
                 budget=100_000, overhead_s=0.0)


def test_the_open_loop_waits_as_pollaczek_khinchine_over_the_prompts_lengths():
    per_token, prompt, rate, spread = 1e-4, 2000, 3.0, 1.0
    times = _linear_times(per_token)
    fixed = serving.open_loop(times, rate, prompt, 100)
    spread_out = serving.open_loop(times, rate, prompt, 100, spread=spread)
    # The service is proportional to the tokens here, so its c² is the lengths' (midpoint bins: (s²/3)(1 − 1/K²)).
    mean_s = per_token * prompt
    c2 = spread ** 2 / 3 * (1 - 1 / serving.PROMPT_LENGTH_POINTS ** 2)
    rho = rate * mean_s
    queued = fixed.wait_s - rate * mean_s ** 2 / (2 * (1 - rho))     # the decode steps a request waits behind
    assert spread_out.wait_s - queued == pytest.approx(rho * mean_s * (1 + c2) / (2 * (1 - rho)), rel=1e-3)
    assert spread_out.ttft_s > fixed.ttft_s and spread_out.ttft_p90_s > fixed.ttft_p90_s
    # No spread: the M/D/1 queue, unchanged.
    assert serving.open_loop(times, rate, prompt, 100, spread=0.0) == fixed


def test_estimate_and_its_flag_take_the_spread():
    catalog = load_catalog()
    ask = dict(model="llama-3.1-70b", accelerator="h200-sxm", gpus=8, request_rate=2.0, input_tokens=4000,
               output_tokens=300)
    plain, spread = estimate(catalog, **ask), estimate(catalog, **ask, input_tokens_spread=1.0)
    assert spread.ttft_s > plain.ttft_s and spread.ttft_p90_s > plain.ttft_p90_s
    got = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-70b", "--accelerator", "h200-sxm", "--gpus", "8",
                                    "--request-rate", "2", "--input-tokens-spread", "1.5"])
    assert got.exit_code == 2 and "--input-tokens-spread = 1.5" in got.output and "Traceback" not in got.output
    # Without a request rate the closed loop takes every prompt at --input-tokens, and says so.
    closed = estimate(catalog, **{**ask, "request_rate": None, "concurrency": 8}, input_tokens_spread=0.5)
    assert any("--input-tokens-spread 0.5" in n for n in closed.notes)


def test_tensorrt_llm_covers_the_longest_prompt():
    catalog = load_catalog()
    est = estimate(catalog, model="llama-3.1-70b", accelerator="h100-sxm", gpus=4, engine="trtllm", input_tokens=6000,
                   output_tokens=500, concurrency=4, input_tokens_spread=0.5)
    assert est.engine_settings["max_batched_tokens"] == 9024           # 6,000 × 1.5 in whole 64-token blocks


HEADER = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
          "concurrency_or_batch,metric,value,unit,source,date,notes,request_rate,input_tokens_spread")
ROW = ("S-{n},Llama-3.1-8B-Instruct,BF16,H100-SXM-80GB,1,1,vLLM,0.10.0,1,1,1,1000,200,,ttft_ms,60,ms,"
       "https://example.org/run,2025-08,vllm bench serve --random-range-ratio,8,{spread}")


@pytest.mark.parametrize("spread, kept", [("", 0.0), ("0.8", 0.8), ("1", 1.0)])
def test_validate_reads_the_spread_column(tmp_path, spread, kept):
    path = tmp_path / "m.csv"
    path.write_text("\n".join([HEADER, ROW.format(n=1, spread=spread)]) + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert not skipped and cases[0].input_tokens_spread == kept


@pytest.mark.parametrize("spread", ["1.2", "-0.1", "nan", "wide"])
def test_validate_sets_aside_a_spread_outside_zero_to_one(tmp_path, spread):
    path = tmp_path / "m.csv"
    path.write_text("\n".join([HEADER, ROW.format(n=1, spread=spread)]) + "\n")
    cases, skipped = validate.read_cases(path, load_catalog())
    assert not cases and "input_tokens_spread" in str(skipped[0])


def test_a_users_own_prompt_does_not_slow_its_own_decode():
    # Closed loop: the decode is stretched by the OTHER users' prefills, X·P·(C − 1)/C of the replica's time.
    tau, per_token, prompt, out = 0.02, 1e-4, 4000, 101
    times = Times(token_time=lambda b, ctx: (tau, "memory"), prefill_time=lambda t: per_token * t, layers=10,
                  budget=100_000, overhead_s=0.0)
    alone = serving.closed_loop(times, 1, prompt, out)
    assert alone.tpot_s == pytest.approx(tau)
    two = serving.closed_loop(times, 2, prompt, out)
    share = two.requests_per_s * per_token * prompt / 2          # the other user's prefills
    assert two.tpot_s == pytest.approx(tau / (1 - share), rel=1e-6)

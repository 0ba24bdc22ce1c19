"""Serving under load (optimizer/serving.py): each queueing formula against a hand-derived number,
on a stub replica whose step and prefill times are simple lines, then the hooks into capacity,
the problem and the CLI on the real catalog."""

from __future__ import annotations

import math

import pytest

from catalog.errors import InputError, ProblemError
from optimizer import serving, speed
from optimizer.capacity import replica_capacity
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import Workload
from optimizer.serving import Speculative, Times

# Stub replica: one decode step τ(b) = 10 ms + 0.1 ms per running sequence; one prompt P(n) = 1 ms per
# token; 50 layers; chunk budget 8192 tokens; 15 ms fixed TTFT overhead.
STUB = Times(token_time=lambda b, ctx: (0.01 + 0.0001 * b, "memory"), prefill_time=lambda n: 0.001 * n,
             layers=50, budget=8192, overhead_s=0.015)


def tau(b: float) -> float:
    return 0.01 + 0.0001 * b


def test_tokens_per_verification_step_follow_leviathan():
    # k = 3 drafts at a = 0.85: 1 + 0.85 + 0.85² + 0.85³ = 1 + 0.85 + 0.7225 + 0.614125 = 3.186625.
    assert serving.spec_tokens_per_step(3, 0.85) == pytest.approx(3.186625)
    # Every draft accepted: k + 1 tokens; a = 0.5, k = 1: 1.5.
    assert serving.spec_tokens_per_step(2, 1.0) == 3
    assert serving.spec_tokens_per_step(1, 0.5) == pytest.approx(1.5)


def test_mva_with_think_time_by_hand():
    # One customer never waits: R = S = 1, X = 1 / (S + Z) = 1/3.
    assert serving.mva(1, 1.0, 2.0) == pytest.approx((1 / 3, 1.0))
    # Two customers, S = 1, Z = 2: n=1: R=1, X=1/3, Q=1/3; n=2: R = 1·(1 + 1/3) = 4/3, X = 2/(4/3 + 2) = 0.6.
    assert serving.mva(2, 1.0, 2.0) == pytest.approx((0.6, 4 / 3))


def test_mva_beyond_the_exact_range_uses_schweitzer_closed_form():
    # C = 300, S = 0.01, Z = 2: R² + R(Z − C·S) − S·Z = 0 → R = ((3 − 2) + sqrt(1 + 4·0.01·2)) / 2.
    r = (1 + math.sqrt(1 + 0.08)) / 2
    x, got = serving.mva(300, 0.01, 2.0)
    assert got == pytest.approx(r)
    assert x == pytest.approx(300 / (r + 2))
    assert x * 0.01 < 1   # the server is never busier than all the time


def test_md1_wait_and_exponential_tail_percentile():
    # λ = 5/s, S = 0.1 s: ρ = 0.5; Pollaczek–Khinchine W̄ = λ·S² / (2(1 − ρ)) = 5·0.01 / 1 = 0.05 s.
    assert serving.md1_wait(5, 0.1) == pytest.approx(0.05)
    assert serving.md1_wait(10, 0.1) == math.inf
    # P(W > t) = ρ·exp(−tρ/W̄) = 0.1 → t = (0.05/0.5)·ln(0.5/0.1) = 0.1·ln 5.
    assert serving.wait_percentile(0.05, 0.5, 0.9) == pytest.approx(0.1 * math.log(5))
    # Fewer than 10% of requests wait at all: the p90 wait is zero.
    assert serving.wait_percentile(0.05, 0.08, 0.9) == 0


def test_synchronized_wave_by_hand():
    # C = 4 users, I = 1000, O = 101. The wave's 4,000 prompt tokens fit one 8,192-token chunk step:
    # prefill of 4,000 tokens = 4.0 s, plus what the (4 − 1)/2 = 1.5 decoding sequences add to that step
    # beyond one sequence's step: τ(1.5) − τ(1) = 0.05 ms.
    r = serving.closed_loop(STUB, 4, 1000, 101, arrivals="synchronized")
    wave = 4.0 + tau(1.5) - tau(1)
    assert r.ttft_s == pytest.approx(wave * 5 / 8 + 0.015)          # (C + 1)/(2C) of the wave + overhead
    assert r.ttft_p90_s == pytest.approx(wave * 4 / 4 + 0.015)      # ceil(0.9·4) = 4th request of 4
    # TPOT: τ(4) plus the rest of the wave spread over the O − 1 = 100 decode steps.
    assert r.tpot_s == pytest.approx(tau(4) + (wave - wave * 5 / 8) / 100)
    cycle = wave + 100 * tau(4)
    assert r.output_tokens_per_s == pytest.approx(4 / cycle * 101)


def test_random_single_user_by_hand():
    # C = 1: no wait. The decode batch is below one, so τ = τ(1) = 10.1 ms and the decodes add nothing to
    # the chunk step beyond τ(1): S = P(1000) = 1.0 s.
    r = serving.closed_loop(STUB, 1, 1000, 101)
    s = 1.0
    assert r.ttft_s == pytest.approx(s + 0.015)
    assert r.ttft_p90_s == pytest.approx(s + 0.015)
    # X = 1 / (S + Z), Z = 100·TPOT, TPOT = τ(1)/(1 − X·P(1000)) with P = 1 s:
    # x(S + 1.01/(1 − x)) = 1  →  −S·x² + (S + 1.01 + 1)·x − 1 = 0.
    a, b = -s, s + 1.01 + 1
    x = (-b + math.sqrt(b * b - 4 * a * -1)) / (2 * a)
    assert r.requests_per_s == pytest.approx(x, rel=1e-6)
    assert r.tpot_s == pytest.approx(tau(1) / (1 - x), rel=1e-6)


def test_random_arrivals_queue_prefills_and_stretch_decodes():
    few, many = serving.closed_loop(STUB, 2, 1000, 101), serving.closed_loop(STUB, 16, 1000, 101)
    assert many.wait_s > few.wait_s > 0
    assert many.ttft_p90_s > many.ttft_s            # a tail beyond the mean
    assert many.tpot_s > few.tpot_s
    # The fixed point holds: TPOT = τ(B)/(1 − X·P), B = X·(O − 1)·TPOT (Little's law).
    b = many.requests_per_s * 100 * many.tpot_s
    assert many.decode_batch == pytest.approx(b, rel=1e-4)
    assert many.tpot_s == pytest.approx(tau(b) / (1 - many.requests_per_s * 1.0), rel=1e-4)


def test_mtp_step_and_tokens_per_step_by_hand():
    # Synchronized, C = 1, MTP k = 1, a = 0.85: E = 1.85 tokens per step. A step verifies 1·(1+1) = 2 tokens
    # (τ(2) = 10.2 ms) and runs one MTP layer: τ(1)/50 layers = 0.202 ms.
    r = serving.closed_loop(STUB, 1, 1000, 101, arrivals="synchronized", spec=Speculative("mtp", 1, 0.85))
    assert r.tokens_per_step == pytest.approx(1.85)
    assert r.tpot_s == pytest.approx((tau(2) + tau(1) / 50) / 1.85)
    # n-gram drafting has no draft model: the step is the verification alone.
    ng = serving.closed_loop(STUB, 1, 1000, 101, arrivals="synchronized", spec=Speculative("ngram", 1, 0.5))
    assert ng.tpot_s == pytest.approx(tau(2) / 1.5)


def test_open_loop_by_hand():
    # λ = 0.5/s, P = 1 s: half the time prefills, so TPOT = τ(B)/0.5 and B = λ·100·TPOT = 100·τ(B)
    # = 1 + 0.01·B → B = 1/0.99. S = 1 + what B decodes add to the one chunk step, τ(B) − τ(1);
    # M/D/1 wait W̄ = λS²/(2(1 − λS)).
    r = serving.open_loop(STUB, 0.5, 1000, 101)
    b = 1 / 0.99
    assert r.decode_batch == pytest.approx(b, rel=1e-5)
    assert r.tpot_s == pytest.approx(tau(b) / 0.5, rel=1e-5)
    s = 1.0 + tau(b) - tau(1)
    w = 0.5 * s * s / (2 * (1 - 0.5 * s))
    assert r.ttft_s == pytest.approx(w + s + 0.015, rel=1e-5)
    assert r.ttft_p90_s == pytest.approx((w / (0.5 * s)) * math.log(0.5 * s / 0.1) + s + 0.015, rel=1e-5)
    # Overloaded: prompts arrive faster than one replica prefills them.
    assert serving.open_loop(STUB, 1.2, 1000, 101).ttft_s == math.inf
    with pytest.raises(InputError, match="request_rate"):
        serving.open_loop(STUB, 0, 1000, 101)


def test_speculative_support_is_checked():
    with pytest.raises(InputError, match="llama-3.1-8b has no multi-token-prediction"):
        serving.check_speculative(Speculative("mtp", 1), "llama-3.1-8b", "vllm")
    with pytest.raises(InputError, match="llama.cpp engine does not run eagle"):
        serving.check_speculative(Speculative("eagle", 2), "llama-3.1-8b", "llama.cpp")
    with pytest.raises(InputError, match="acceptance"):
        serving.check_speculative(Speculative("eagle", 2, 1.5), "llama-3.1-8b", "vllm")
    serving.check_speculative(Speculative("mtp", 3), "deepseek-r1", "sglang")   # supported: no error


def _dep(catalog, model, acc, gpus, precision, engine):
    m, a = catalog.models[model], catalog.accelerators[acc]
    return Deployment(model=m, variant=m.variant(precision), accelerator=a, platform=default_platform(catalog, a, gpus),
                      engine=catalog.engines[engine], gpus_per_node=gpus)


def test_max_ttft_binds_on_long_prompts(catalog):
    dep = _dep(catalog, "llama-3.1-70b", "h200-sxm", 8, "bf16", "vllm")
    base = dict(concurrent_users=100, input_tokens=32000, output_tokens=500)
    free = replica_capacity(dep, Workload(**base))
    p90 = replica_capacity(dep, Workload(**base, max_ttft_s=8.0))
    mean = replica_capacity(dep, Workload(**base, max_ttft_s=8.0, ttft_percentile=50))
    assert p90.limit == "ttft" and 1 <= p90.users < free.users
    assert p90.ttft_p90_s <= 8.0
    # One more user would break the p90 target.
    over = speed.serving_speed(dep, dep.memory(), p90.users + 1, 32000, 500)
    assert over.ttft_p90_s > 8.0
    # The mean is below the p90, so bounding the mean lets a replica take at least as many users.
    assert mean.users >= p90.users


def test_mtp_raises_per_user_speed_on_deepseek(catalog):
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", "sglang")
    plain = speed.serving_speed(dep, dep.memory(), 1, 1000, 1000)
    mtp = speed.serving_speed(dep, dep.memory(), 1, 1000, 1000, speculative=Speculative("mtp", 3))
    # E = 3.19 tokens per step; the step verifies 4 tokens (same weight reads at batch 1) plus 3 MTP layers
    # (3/61 of a step): per-user speed rises by well over 2×, less than 3.19×.
    assert 2 < mtp.tokens_per_s_per_user / plain.tokens_per_s_per_user < 3.19


def test_problem_speculative_on_a_model_without_mtp_is_a_problem_error(catalog):
    dep = _dep(catalog, "llama-3.1-70b", "h200-sxm", 8, "bf16", "vllm")
    with pytest.raises(ProblemError, match="multi-token-prediction"):
        replica_capacity(dep, Workload(concurrent_users=10, speculative={"method": "mtp", "tokens": 2}))


def test_request_rate_sizes_a_replica_in_requests_per_hour(catalog):
    dep = _dep(catalog, "llama-3.1-70b", "h200-sxm", 8, "bf16", "vllm")
    w = Workload(request_rate=5, input_tokens=1000, output_tokens=500, min_tokens_per_s=20)
    assert w.demand == 18000                       # 5 requests/s × 3600 s
    cap = replica_capacity(dep, w)
    assert cap.limit == "speed" and cap.tokens_per_s_per_user >= 20
    times = speed.serving_times(dep, dep.memory())
    # The bound is tight: one more request per hour misses the per-user speed.
    assert serving.open_loop(times, (cap.users + 1) / 3600, 1000, 500).tokens_per_s_per_user < 20
    # Little's law links the two forms: at this rate the replica decodes about as many users at once as
    # the closed loop at the same per-user speed holds (the closed loop's users also include those in prefill).
    at = serving.open_loop(times, cap.users / 3600, 1000, 500)
    closed = replica_capacity(dep, Workload(concurrent_users=100, input_tokens=1000, output_tokens=500,
                                            min_tokens_per_s=20))
    assert at.decode_batch == pytest.approx(closed.users, rel=0.1)


def test_workload_takes_users_or_a_rate_not_both():
    with pytest.raises(ValueError, match="not both"):
        Workload(concurrent_users=10, request_rate=1.0)


def test_a_rate_problem_solves_and_passes_the_checker(catalog):
    from optimizer import check_plan, optimize
    from optimizer.problem import Problem

    problem = Problem.model_validate({
        "name": "rate", "description": "Llama 3.1 70B at 20 requests/s of 1,000 in / 500 out, 20 tok/s each.",
        "model": "llama-3.1-70b", "precision": "bf16", "prices": ["street-usd-2025"],
        "workload": {"request_rate": 20, "input_tokens": 1000, "output_tokens": 500, "min_tokens_per_s": 20},
        "constraints": {"form_factors": ["sxm", "oam"]}})
    plan = optimize(catalog, problem)
    assert plan.status == "optimal"
    assert check_plan(plan, catalog, problem) == []
    assert plan.totals.users >= 72000              # 20 requests/s = 72,000 requests per hour

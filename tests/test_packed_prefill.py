"""Prompts prefilled together in one step each attend to their own tokens (optimizer/speed.py `prefill_time`
`packed`, optimizer/serving.py `Times.prefill_step`): the step's linear layers grow with the prompts, its
attention with the prompts, not with their square. Before, a packed step was timed as one prompt of all its
tokens, whose attention grows with the square of the total. Expected values are derived by hand."""

from __future__ import annotations

import pytest

from optimizer import serving, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.serving import Benchmark, Times


def _one_gpu(catalog, model="llama-3.1-8b", acc="h100-sxm"):
    m, a = catalog.models[model], catalog.accelerators[acc]
    dep = Deployment(model=m, variant=m.variant("bf16"), accelerator=a, platform=default_platform(catalog, a, 1),
                     engine=catalog.engines["vllm"], gpus_per_node=1)
    return dep, dep.memory()


def test_packed_prompts_pay_their_own_attention_only(catalog):
    # On one GPU a long prompt is compute-bound: P(k·I) = k·L + k²·A + s (L: one prompt's linear layers, A: its
    # attention, s: the fixed step cost), so the second difference P(3I) − 2·P(2I) + P(I) = 2·A. Three prompts of I
    # tokens packed in one step cost 3·L + 3·A + s = P(3I) − 6·A.
    dep, fit = _one_gpu(catalog)
    i = 4096
    p1, p2, p3 = (speed.prefill_time(dep, fit, k * i) for k in (1, 2, 3))
    attention = (p3 - 2 * p2 + p1) / 2
    assert attention > 0.01 * p1                       # the attention is a visible share at 4k tokens
    assert speed.prefill_time(dep, fit, i, packed=3) == pytest.approx(p3 - 6 * attention, rel=1e-9)
    assert speed.prefill_time(dep, fit, i, packed=1) == pytest.approx(p1)


def test_serving_times_time_a_packed_step_by_its_prompts(catalog):
    dep, fit = _one_gpu(catalog)
    times = speed.serving_times(dep, fit)
    assert times.prefill_step(3 * 4096, 3) == pytest.approx(speed.prefill_time(dep, fit, 4096, packed=3))
    assert times.prefill_step(3 * 4096, 3) < times.prefill_step(3 * 4096)     # one prompt of 12k tokens
    assert times.prefill_step(4096, 1) == pytest.approx(speed.prefill_time(dep, fit, 4096))


A, B = 1e-3, 1e-6        # prefill of n tokens alone: A·n + B·n² seconds (linear layers and attention)
OVERHEAD = 0.005


def _times(budget: int, packed: bool = True) -> Times:
    return Times(token_time=lambda b, ctx: (0.01, "memory"), prefill_time=lambda n: A * n + B * n * n, layers=10,
                 budget=budget, overhead_s=OVERHEAD,
                 prefill_packed=(lambda n, k: k * (A * n + B * n * n)) if packed else None)


def test_a_benchmark_step_of_two_prompts_costs_two_prompts():
    # C = 2, 100-token prompts, budget 200: both prompts of every wave share one step, and both waves alike. The step
    # costs 2·(A·100 + B·100²) = 0.22 s, not one 200-token prompt's A·200 + B·200² = 0.24 s.
    r = serving.closed_loop(_times(200), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert r.ttft_s == pytest.approx(2 * (A * 100 + B * 100 ** 2) + OVERHEAD)
    old = serving.closed_loop(_times(200, packed=False), 2, 100, 50, arrivals=Benchmark(2, 1.0, 1))
    assert old.ttft_s == pytest.approx(A * 200 + B * 200 ** 2 + OVERHEAD)


def test_a_synchronized_wave_packs_its_prompts_per_step():
    # C = 4 synchronized, 100 tokens, budget 200: ceil(400 / 200) = 2 steps of 2 prompts, each 2·(A·100 + B·100²);
    # τ is the same at every batch, so the decodes add nothing. Prompts 1-2 get their first token when step 1
    # ends (half the wave), prompts 3-4 when step 2 ends: mean TTFT = (2·wave/2 + 2·wave)/4 + overhead.
    wave = 2 * 2 * (A * 100 + B * 100 ** 2)
    r = serving.closed_loop(_times(200), 4, 100, 50, arrivals="synchronized")
    assert r.ttft_s == pytest.approx(0.75 * wave + OVERHEAD)

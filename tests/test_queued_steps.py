"""Plans' TTFT includes the wait for the decode steps an engine is running or has already launched when a request
arrives (optimizer/serving.py `QUEUED_STEPS`): the open loop adds queued_steps × τ × min(1, B), the closed loop
queued_steps × τ × min(1, B·(C − 1)/C) (the other users' decodes). Expected values are derived by hand from that
rule."""

from __future__ import annotations

import pytest

from optimizer import serving, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.serving import Times

TAU = 0.01                # decode step, the same at every batch


def _times(queued: float) -> Times:
    return Times(token_time=lambda b, ctx: (TAU, "memory"), prefill_time=lambda n: 0.001 * n, layers=10,
                 budget=8192, overhead_s=0.005, queued_steps=queued)


@pytest.mark.parametrize("users", [1, 4, 32])
def test_closed_loop_adds_the_queued_steps(users):
    # The queued wait does not feed back into the loop: the decode batch B, TPOT and throughput are the same as with
    # no queued steps, and the TTFT (mean and p90) grows by q·τ·min(1, B).
    q = 1.5
    base = serving.closed_loop(_times(0.0), users, 100, 50)
    r = serving.closed_loop(_times(q), users, 100, 50)
    assert (r.decode_batch, r.tpot_s, r.requests_per_s) == (base.decode_batch, base.tpot_s, base.requests_per_s)
    added = q * TAU * min(1.0, base.decode_batch * (users - 1) / users)     # the other users' decodes
    assert r.ttft_s == pytest.approx(base.ttft_s + added)
    assert r.ttft_p90_s == pytest.approx(base.ttft_p90_s + added)
    assert r.wait_s == pytest.approx(base.wait_s + added)


def test_a_single_user_never_finds_decodes_running():
    # Closed loop, C = 1: the user's next request comes when its last one has ended: no decode runs, no wait.
    # C = 2: half the decode batch is the other user's: the wait is q·τ·min(1, B/2).
    assert serving.closed_loop(_times(1.5), 1, 100, 50).ttft_s == serving.closed_loop(_times(0.0), 1, 100, 50).ttft_s
    r0 = serving.closed_loop(_times(0.0), 2, 100, 50)
    assert 1 < r0.decode_batch < 2
    assert serving.closed_loop(_times(1.5), 2, 100, 50).ttft_s - r0.ttft_s == \
        pytest.approx(1.5 * TAU * r0.decode_batch / 2)


def test_open_loop_adds_the_queued_steps_times_the_decoding_share():
    # λ = 2 requests/s, O = 50: B = λ·(O − 1)·TPOT ≈ 2·49·0.01 ≈ 1 (slightly more: prefill stretches TPOT): the
    # full q·τ is added once B ≥ 1; at λ = 0.5, B ≈ 0.25 and a quarter of it.
    q = 1.5
    for rate in (2.0, 0.5):
        base = serving.open_loop(_times(0.0), rate, 100, 50)
        r = serving.open_loop(_times(q), rate, 100, 50)
        assert r.ttft_s == pytest.approx(base.ttft_s + q * TAU * min(1.0, base.decode_batch))
    assert serving.open_loop(_times(0.0), 0.5, 100, 50).decode_batch == pytest.approx(0.5 * 49 * 0.01, rel=0.1)


def test_synchronized_waves_and_disaggregated_prefill_do_not_wait():
    # A wave starts together (no decode runs when it arrives); a prefill-only pool runs no decodes.
    base = serving.closed_loop(_times(0.0), 4, 100, 50, arrivals="synchronized")
    assert serving.closed_loop(_times(1.5), 4, 100, 50, arrivals="synchronized").ttft_s == base.ttft_s
    kwargs = dict(decode_cap=64, users=8, input_tokens=100, output_tokens=50)
    assert serving.size_pools(_times(1.5), _times(1.5), **kwargs).ttft_s == \
        serving.size_pools(_times(0.0), _times(0.0), **kwargs).ttft_s


def _dep(catalog, acc, gpus, precision, engine):
    m, a = catalog.models["llama-3.1-8b"], catalog.accelerators[acc]
    return Deployment(model=m, variant=m.variant(precision), accelerator=a, platform=default_platform(catalog, a, gpus),
                      engine=catalog.engines[engine], gpus_per_node=gpus, nodes=1)


def test_serving_times_carry_the_engines_queued_steps(catalog):
    for engine, q in (("vllm", 0.5), ("sglang", 1.5), ("trtllm", 1.5)):
        dep = _dep(catalog, "h100-sxm", 1, "bf16", engine)
        assert speed.serving_times(dep, dep.memory()).queued_steps == q
    cpu = _dep(catalog, "epyc-9654", 2, "q4_k_m", "llama.cpp")
    assert speed.serving_times(cpu, cpu.memory()).queued_steps == 0.0      # not listed: no queued steps

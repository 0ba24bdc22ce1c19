"""`hwplan estimate` without --tp/--dp/--ep (optimizer/estimator.py `_fastest_layout`): where no layout runs all the
asked requests at once, the one that serves them the most output tokens/s, not the one whose KV cache holds the
most of them (found by tester5)."""

from __future__ import annotations

import pytest

from optimizer.estimator import estimate
from optimizer.layouts import candidate_layouts

LONG = dict(model="deepseek-r1", accelerator="h200-sxm", gpus=8, precision="fp8", engine="sglang",
            input_tokens=60000, output_tokens=2000)


def _each_layout(catalog, **asked):
    out = []
    for lay in candidate_layouts(catalog.models[asked["model"]], catalog.engines[asked["engine"]], 8, 1):
        if lay.replicas_per_node == 1:
            one = estimate(catalog, tp=lay.tp, dp=lay.dp, ep=lay.ep, pp=lay.pp, **asked)
            if one.fits:
                out.append(one)
    return out


def test_long_prompts_that_no_layout_runs_all_of_go_to_the_most_output_per_second(catalog):
    # 64 requests of 62,000 tokens: TP8's KV cache holds about 10, DP8 attention's 40 (each rank keeps its own
    # sequences' MLA cache). DP8 attention prefills each 60,000-token prompt on one rank while every rank's decode
    # waits at the MoE layers: fewer tokens/s for the 64 users and a far slower decode per user than TP8's.
    asked = dict(LONG, concurrency=64)
    every = _each_layout(catalog, **asked)
    assert all(e.batch < 64 for e in every)                      # no layout runs them all
    picked = estimate(catalog, **asked)
    best = max(e.output_tokens_per_s_total for e in every)
    assert picked.output_tokens_per_s_total == pytest.approx(best)
    tp8 = estimate(catalog, tp=8, **asked)
    assert picked.output_tokens_per_s_total >= tp8.output_tokens_per_s_total
    assert picked.decode_tokens_per_s_per_user >= tp8.decode_tokens_per_s_per_user / 2


def test_requests_that_every_layout_runs_go_to_the_fastest_per_user(catalog):
    asked = dict(LONG, input_tokens=1000, output_tokens=1000, concurrency=8)
    every = _each_layout(catalog, **asked)
    assert all(e.batch == 8 for e in every)
    picked = estimate(catalog, **asked)
    assert picked.decode_tokens_per_s_per_user == pytest.approx(max(e.decode_tokens_per_s_per_user for e in every))


def test_requests_left_waiting_are_told_how_long_they_wait(catalog):
    # TP8 runs 10 of the 64 requests; the speeds and the time to first token are the running ones'. The other 54
    # wait for a slot: a closed loop of 64 over 10 slots completes X = 10 / T requests/s, T = TTFT + O / speed the
    # time of one request, so each request takes 64 / X = 6.4 T, of which it waits 6.4 T − T = 5.4 T before its
    # prompt starts (Little's law).
    asked = dict(LONG, concurrency=64, tp=8)
    e = estimate(catalog, **asked)
    assert e.batch == 10
    one = e.ttft_s + 2000 / e.decode_tokens_per_s_per_user
    wait = one * (64 - 10) / 10
    note = next(n for n in e.notes if "run at once" in n)
    assert f"about {wait:,.0f} s" in note and "first token" in note

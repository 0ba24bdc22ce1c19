"""Fuzzing every command (issue 17): hostile problem files, catalogs, CSV sheets, flags and output paths.

The cases come from benchmarks/fuzz.py (`make_case`, `run_case`), which checks each run: exit code
in {0, 1, 2, 3 (time-out), 130 (interrupt)}, no traceback, no output file on failure, no file
touched outside the named outputs, and every plan printed with exit 0 inside the problem's own
limits. Hypothesis draws the seeds, derandomized so CI runs the same cases every time; the long
run (10,000 cases) is `python -m benchmarks.fuzz`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import KINDS, Case, make_case, run_case

FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _check(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.problems == [], (case.args, outcome.problems)


# 40 mixed seeds and 12 of each kind in CI (a minute on 2 cores); the breadth is the benchmark's own run
# (`python -m benchmarks.fuzz --cases 10000`).
@settings(FUZZ, max_examples=40)
@given(seed=SEEDS)
def test_any_case(seed):
    _check(make_case(seed))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "report"])
@settings(FUZZ, max_examples=12)
@given(seed=SEEDS)
def test_each_kind_of_input(kind, seed):
    _check(make_case(seed, kind))


@settings(FUZZ, max_examples=2)
@given(seed=SEEDS)
def test_report(seed):
    _check(make_case(seed, "report"))


def test_the_harness_catches_a_traceback_a_stray_file_and_a_broken_limit(monkeypatch):
    """run_case must report what it is there to catch, else the fuzz tests above prove nothing."""
    import json

    import optimizer.render

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(optimizer.render, "render_plan", crash)
    outcome = run_case(Case(seed=0, kind="flags", args=["solve", "deepseek-r1-30-users", "--time-limit", "2"]))
    assert any(p.startswith("exception RuntimeError") for p in outcome.problems), outcome.problems

    def stray(plan, fmt, *args, **kwargs):
        open("stray.txt", "w").close()
        return json.dumps({"plan": {"totals": {"cost": 10**9, "currency": "CNY", "nodes": 99, "power_w": 1,
                                               "users": 1}, "lines": [{"tokens_per_s_per_user": 1.0}]},
                           "users_demanded": 30})

    monkeypatch.setattr(optimizer.render, "render_plan", stray)
    from problems import bundled_problem_path

    case = Case(seed=0, kind="problem", args=["solve", str(bundled_problem_path("deepseek-r1-30-users")),
                                               "--time-limit", "2"], problem_file=str(
        bundled_problem_path("deepseek-r1-30-users")))
    problems = run_case(case).problems
    assert any("stray.txt" in p for p in problems), problems
    # deepseek-r1-30-users: budget 3,000,000 CNY, max_nodes 2, 30 users at ≥ 15 tok/s.
    assert any("cost 1000000000 > budget 3000000" in p for p in problems), problems
    assert any("nodes 99 > max_nodes 2" in p for p in problems), problems
    assert any("users 1 < demanded 30" in p for p in problems), problems
    assert any("1.0 tok/s < min_tokens_per_s 15" in p for p in problems), problems

"""Determinism, time limits, numeric range, and the optimum against an independent HiGHS MILP."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from catalog.errors import SolverTimeoutError
from optimizer import SolveOptions, load_problem, optimize, with_overrides
from optimizer.model import Limits, PlanModel, solve_units
from optimizer.render import render_plan
from problems import bundled_problem_path

from .synthetic import random_units


def _strip_timing(text: str) -> dict:
    data = json.loads(text)
    data["solver"].pop("seconds")
    return data


@pytest.mark.parametrize("name", ["deepseek-r1-30-users", "llama-3.1-70b-100-users", "deepseek-r1-seed-nvidia"])
def test_same_input_same_json_whatever_the_workers(catalog, name):
    problem = load_problem(bundled_problem_path(name))
    outputs = [_strip_timing(render_plan(optimize(catalog, problem, SolveOptions(workers=w, seed=s)), "json"))
               for w, s in ((1, 0), (1, 0), (4, 7), (8, 3))]
    assert all(o == outputs[0] for o in outputs[1:])


def test_canonical_answer_among_equal_optima():
    # Two identical units: any split of 4 replicas is optimal; the canonical answer puts them on the last id.
    a = random_units(random.Random(1), 1)[0]
    twins = [dataclasses.replace(a, id="a", users=10), dataclasses.replace(a, id="b", users=10)]
    limits = Limits(demand=40)
    answers = {tuple(sorted(solve_units(twins, limits, "cost", SolveOptions(workers=w, seed=s)).replicas.items()))
               for w, s in ((2, 0), (4, 1), (8, 2))}
    assert answers == {(("b", 4),)}


def test_time_limit_gives_a_bounded_plan_or_a_clear_error():
    rng = random.Random(7)
    units = random_units(rng, 3000)
    limits = Limits(demand=5000, max_skus=2, budget=200_000)
    try:
        sol = PlanModel(units, limits).solve("cost", SolveOptions(time_limit_s=0.001))
    except SolverTimeoutError as exc:
        assert "time limit" in str(exc)
        return
    assert sol is not None  # the demand fits under the budget with the cheapest unit (a plan exists)
    if sol.status == "feasible":
        assert sol.bound is not None and sol.bound <= sol.values["cost"] and 0 <= sol.gap <= 1
    else:
        assert sol.status == "optimal" and sol.gap == 0 and sol.bound == sol.values["cost"]


def test_a_million_users_and_a_trillion_budget_do_not_overflow(catalog):
    problem = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    big = with_overrides(problem, {("workload", "concurrent_users"): ("--users", 1_000_000),
                                   ("constraints", "budget"): ("--budget", 1e12)})
    plan = optimize(catalog, big)
    assert plan.status == "optimal" and plan.totals.users >= 1_000_000 and plan.totals.cost <= 10**12
    # In cents (CNY through an exchange rate), the same question still fits in 64-bit integers.
    cny = with_overrides(big, {("constraints", "currency"): ("--currency", "CNY"),
                               ("constraints", "budget"): ("--budget", 1e12)})
    plan = optimize(catalog, cny)
    assert plan.totals.currency == "CNY" and plan.totals.users >= 1_000_000


def _highs_lexicographic(units, limits):
    """min cost, then power, then nodes — an independent MILP with HiGHS (scipy.optimize.milp)."""
    n = len(units)
    rows, lo, hi = [], [], []
    rows.append([u.users for u in units]); lo.append(limits.demand); hi.append(np.inf)
    if limits.max_nodes is not None:
        rows.append([u.nodes for u in units]); lo.append(0); hi.append(limits.max_nodes)
    if limits.budget is not None:
        rows.append([u.cost for u in units]); lo.append(0); hi.append(limits.budget)
    if limits.max_power_w is not None:
        rows.append([u.power_w for u in units]); lo.append(0); hi.append(limits.max_power_w)
    for acc, cap in limits.stock.items():
        rows.append([u.gpus if u.accelerator_id == acc else 0 for u in units]); lo.append(0); hi.append(cap)
    values = []
    for term in ("cost", "power_w", "nodes"):
        c = np.array([getattr(u, term) for u in units], dtype=float)
        res = milp(c, constraints=LinearConstraint(np.array(rows, dtype=float), lo, hi), integrality=np.ones(n),
                   bounds=Bounds(0, 10**6), options={"mip_rel_gap": 0})
        if res.status != 0:
            return None
        value = round(res.fun)
        values.append(value)
        rows.append(list(c)); lo.append(-np.inf); hi.append(value)
    return tuple(values)


@pytest.mark.parametrize("seed", range(12))
def test_optimum_equals_an_independent_highs_milp(seed):
    rng = random.Random(900 + seed)
    units = random_units(rng, 150)
    limits = Limits(demand=rng.randint(200, 3000), max_nodes=rng.choice([None, 400]),
                    max_power_w=rng.choice([None, 2_000_000]), stock=rng.choice([{}, {"a": 2000}]))
    sol = solve_units(units, limits, "cost")
    expected = _highs_lexicographic(units, limits)
    if expected is None:
        assert sol is None
        return
    assert (sol.values["cost"], sol.values["power"], sol.values["nodes"]) == expected

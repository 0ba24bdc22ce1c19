"""Shortlists: no two plans share the named thing, each is the best without the earlier ones, none is redundant."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random

import pytest

from optimizer import check_plan, load_problem, optimize, with_overrides
from optimizer.model import Limits
from optimizer.search import k_disjoint, redundant_line, shortlist
from problems import bundled_problem_path

from .synthetic import random_units, satisfies, totals


def _plans(units, limits):
    # Every unit serves at least a quarter of the demand: 4 replicas of one suffice, 5 with a spare node.
    top = 5 if limits.spare else 4
    for combo in itertools.product(range(top + 1), repeat=len(units)):
        replicas = {u.id: r for u, r in zip(units, combo) if r}
        if replicas and satisfies(units, replicas, limits):
            yield replicas


def _case(seed):
    rng = random.Random(900 + seed)
    units = random_units(rng, 5)
    demand = rng.randint(20, 70)
    units = [dataclasses.replace(u, users=max(u.users, math.ceil(demand / 4))) for u in units]
    return units, Limits(demand=demand, max_nodes=rng.choice([None, 9]), spare=seed % 5 == 0)


@pytest.mark.parametrize("level", ["accelerator_id", "sku"])
@pytest.mark.parametrize("seed", range(12))
def test_each_alternative_is_the_brute_force_best_without_the_earlier_groups(seed, level):
    units, limits = _case(seed)
    group = {u.id: getattr(u, level) for u in units}
    found = k_disjoint(units, limits, "cost", 4, group.__getitem__)
    used: set[str] = set()
    for solution in found:
        groups = {group[uid] for uid in solution.replicas}
        assert not groups & used                       # no two plans share a group
        allowed = [u for u in units if group[u.id] not in used]
        best = min(totals(units, r)["cost"] for r in _plans(allowed, limits))
        assert solution.values["cost"] == best         # the best plan among those left
        assert redundant_line(units, solution.replicas, limits) is None
        used |= groups
    # It stops only when nothing is left that serves the demand.
    left = [u for u in units if group[u.id] not in used]
    if len(found) < 4:
        assert not any(True for _ in _plans(left, limits))


def test_redundant_line_finds_a_line_the_plan_does_not_need():
    units, _ = _case(0)
    a, b = units[0], units[1]
    limits = Limits(demand=a.users)
    assert redundant_line(units, {a.id: 1, b.id: 1}, limits) in (a.id, b.id)
    assert redundant_line(units, {a.id: 1}, limits) is None
    assert redundant_line(units, {a.id: 1, b.id: 1}, Limits(demand=a.users + b.users)) is None


@pytest.mark.parametrize("distinct", ["accelerator", "sku"])
def test_catalog_shortlist_alternatives_equal_solving_without_the_earlier_accelerators(catalog, distinct):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    plans = shortlist(catalog, problem, k=4, distinct=distinct)
    assert len(plans) >= 3
    seen: set[str] = set()
    for plan in plans:
        accs = {l.accelerator for l in plan.lines}
        if distinct == "accelerator":
            assert not accs & seen
            expected = optimize(catalog, with_overrides(problem, {("constraints", "exclude_accelerators"):
                                                                  ("--exclude", sorted(seen))})) if seen else None
            if expected is not None:
                assert plan.totals.cost == expected.totals.cost
        seen |= accs
        # Irredundant: without any one line the plan serves fewer users than demanded.
        for line in plan.lines:
            assert plan.totals.users - line.users < problem.workload.concurrent_users or len(plan.lines) == 1
        assert check_plan(plan, catalog, problem) == []
    assert plans[0].totals.cost == optimize(catalog, problem).totals.cost

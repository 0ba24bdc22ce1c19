"""The CP-SAT model (with and without dominance pruning) against brute-force enumeration.

Instances are seeded and small enough to enumerate every replica vector. Units serve
at least a quarter of the demand, so no optimal plan uses more than 4 replicas of a
unit (5 with a spare): the enumeration range provably contains the optimum.
"""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from optimizer.model import OBJECTIVE_TERMS, Limits, PlanModel, solve_units
from optimizer.prune import prune_dominated

from .synthetic import FakeUnit, brute_force, random_limits, random_units, satisfies, totals


def _instance(seed: int, n_units: int = 4):
    rng = random.Random(seed)
    limits = random_limits(rng, [])
    units = random_units(rng, n_units)
    floor_users = math.ceil(limits.demand / 4)
    units = [dataclasses.replace(u, users=max(u.users, floor_users)) for u in units]
    return units, limits


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("objective", ["cost", "power"])
def test_min_objective_equals_brute_force(seed, objective):
    units, limits = _instance(seed)
    order = OBJECTIVE_TERMS[objective]
    expected = brute_force(units, limits, order, max_replicas=5)
    bound = {"cost": "cost", "power": "power_w"}[objective]   # the objective's first term, a plain unit sum here
    for candidate_units in (units, prune_dominated(units, limits), prune_dominated(units, limits, demand_cap=True),
                            prune_dominated(units, limits, demand_cap=True, bound=bound)):
        sol = solve_units(candidate_units, limits, objective)
        if expected is None:
            assert sol is None, f"seed {seed}: solver found {sol} but brute force found nothing"
            continue
        assert sol is not None and sol.status == "optimal"
        got = tuple(sense * sol.values[t] for t, sense in order)
        assert got == expected
        # The replicas it returns really add up to what it claims and meet every limit.
        assert satisfies(units, sol.replicas, limits)
        assert totals(units, sol.replicas)["cost"] == sol.values["cost"]


@pytest.mark.parametrize("seed", range(40))
def test_max_users_under_budget_equals_brute_force(seed):
    rng = random.Random(1000 + seed)
    units = random_units(rng, 4)
    budget = max(u.cost for u in units) * 2
    units = [dataclasses.replace(u, cost=max(u.cost, math.ceil(budget / 5))) for u in units]
    limits = Limits(demand=None, budget=budget, max_nodes=rng.choice([None, 6]))
    order = OBJECTIVE_TERMS["users"]
    expected = brute_force(units, limits, order, max_replicas=5)
    sol = solve_units(prune_dominated(units, limits), limits, "users")
    assert sol is not None
    assert tuple(s * sol.values[t] for t, s in order) == expected


@pytest.mark.parametrize("spare", [False, True])
def test_demand_cap_lets_a_unit_serving_the_whole_demand_dominate_a_larger_one(spare):
    big = FakeUnit("big", users=100, cost=10, power_w=500, nodes=1, gpus=8, accelerator_id="a", sku="x")
    enough = FakeUnit("enough", users=50, cost=9, power_w=500, nodes=1, gpus=8, accelerator_id="a", sku="y")
    limits = Limits(demand=40, spare=spare)
    # Without the cap, 'big' serves more users than 'enough': neither dominates the other.
    assert [u.id for u in prune_dominated([big, enough], limits)] == ["big", "enough"]
    # With it, both serve the 40 users demanded (min(100, 40) ≤ 50) and 'enough' costs less.
    assert [u.id for u in prune_dominated([big, enough], limits, demand_cap=True)] == ["enough"]
    # The answer is unchanged: one replica of 'enough' (50 ≥ 40 users) at 9, or with a spare
    # replica two of them at 18, against 10 and 20 for 'big'.
    sol = solve_units(prune_dominated([big, enough], limits, demand_cap=True), limits, "cost")
    assert sol.replicas == {"enough": 2 if spare else 1} and sol.values["cost"] == (18 if spare else 9)
    assert sol.values["cost"] == solve_units([big, enough], limits, "cost").values["cost"]


def test_pruning_keeps_the_better_unit_and_drops_the_dominated_one():
    good = FakeUnit("good", users=10, cost=100, power_w=500, nodes=1, gpus=8, accelerator_id="a", sku="x")
    worse = FakeUnit("worse", users=9, cost=120, power_w=500, nodes=1, gpus=8, accelerator_id="b", sku="y")
    other = FakeUnit("other", users=30, cost=250, power_w=900, nodes=2, gpus=16, accelerator_id="b", sku="y")
    assert [u.id for u in prune_dominated([good, worse, other], Limits(demand=10))] == ["good", "other"]
    # With a SKU cap, only a unit of the same node type may replace another.
    assert {u.id for u in prune_dominated([good, worse, other], Limits(demand=10, max_skus=1))} == \
        {"good", "worse", "other"}
    # A stock limit on `a` means `good` uses scarce GPUs that `worse` does not: both stay.
    assert {u.id for u in prune_dominated([good, worse], Limits(demand=10, stock={"a": 8}))} == {"good", "worse"}


def test_infeasible_returns_none_and_relaxing_the_cap_makes_it_feasible():
    u = FakeUnit("u", users=10, cost=100, power_w=500, nodes=1, gpus=8, accelerator_id="a", sku="x")
    limits = Limits(demand=50, max_nodes=3)
    assert solve_units([u], limits, "cost") is None
    assert PlanModel([u], dataclasses.replace(limits, max_nodes=5)).feasible() is True


def test_spare_replica_survives_losing_the_largest_replica():
    big = FakeUnit("big", users=40, cost=100, power_w=500, nodes=1, gpus=8, accelerator_id="a", sku="x")
    sol = solve_units([big], Limits(demand=40, spare=True), "cost")
    # Without a spare one replica covers 40 users; losing it must still leave 40.
    assert sol.replicas == {"big": 2}


@pytest.mark.parametrize("seed", range(20))
def test_sku_level_pruning_under_a_sku_cap_keeps_the_optimum(seed):
    rng = random.Random(3000 + seed)
    demand = rng.randint(20, 80)
    units = [dataclasses.replace(u, users=max(u.users, math.ceil(demand / 4)), sku=f"s{rng.randint(0, 3)}")
             for u in random_units(rng, 6)]
    limits = Limits(demand=demand, max_skus=rng.choice([1, 2]))
    expected = brute_force(units, limits, OBJECTIVE_TERMS["cost"], max_replicas=5)
    sol = solve_units(prune_dominated(units, limits), limits, "cost")
    if expected is None:
        assert sol is None
    else:
        assert (sol.values["cost"], sol.values["power"], sol.values["nodes"]) == expected


def test_a_node_type_whose_every_unit_is_beaten_goes_under_a_sku_cap():
    good = [FakeUnit(f"g{i}", users=10 * i, cost=90 * i, power_w=400 * i, nodes=i, gpus=8 * i, accelerator_id="a",
                     sku="good") for i in (1, 2)]
    bad = [FakeUnit(f"b{i}", users=9 * i, cost=100 * i, power_w=500 * i, nodes=i, gpus=8 * i, accelerator_id="b",
                    sku="bad") for i in (1, 2)]
    kept = prune_dominated(good + bad, Limits(demand=30, max_skus=1))
    assert {u.sku for u in kept} == {"good"}
    # Shortlists must keep the alternative node type.
    assert {u.sku for u in prune_dominated(good + bad, Limits(demand=30, max_skus=1), same_sku=True)} == {"good", "bad"}

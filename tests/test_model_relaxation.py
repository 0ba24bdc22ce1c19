"""`PlanModel._demand_out_of_reach`: a relaxation proves some problems infeasible without CP-SAT.

Each case is worked by hand: the most users a plan can serve under one limit, as a fractional
knapsack (units × their best users per unit of the limit), against the integer optimum."""

from __future__ import annotations

from optimizer.model import Limits, PlanModel, solve_units

from .synthetic import FakeUnit


def _unit(uid: str, users: int, cost: int, gpus: int = 1, acc: str = "x") -> FakeUnit:
    return FakeUnit(id=uid, users=users, cost=cost, power_w=100 * gpus, nodes=1, gpus=gpus,
                    accelerator_id=acc, sku=f"sku-{uid}")


def test_budget_relaxation_proves_what_no_plan_can_reach():
    # A: 10 users for 100 (0.10 a unit of money), B: 3 users for 20 (0.15). Budget 600: at most
    # 600 × 0.15 = 90 users, reached by 30 B (cost 600). 90 users: a plan; 91: proven out of reach.
    units = [_unit("a", 10, 100), _unit("b", 3, 20)]
    assert not PlanModel(units, Limits(demand=90, budget=600))._demand_out_of_reach()
    sol = solve_units(units, Limits(demand=90, budget=600))
    assert sol is not None and sol.replicas == {"b": 30}
    assert PlanModel(units, Limits(demand=91, budget=600))._demand_out_of_reach()
    assert solve_units(units, Limits(demand=91, budget=600)) is None


def test_stock_relaxation_counts_each_accelerator_at_its_best_ratio():
    # Stock of 8 "x": A 10 users on 8 (1.25 per GPU), B 3 users on 2 (1.5): at most 8 × 1.5 = 12 from x.
    # C on accelerator "y" (no stock) is capped by the demand only: with C the stock cannot bind.
    a, b = _unit("a", 10, 100, gpus=8), _unit("b", 3, 20, gpus=2)
    assert not PlanModel([a, b], Limits(demand=12, stock={"x": 8}))._demand_out_of_reach()
    assert solve_units([a, b], Limits(demand=12, stock={"x": 8})).replicas == {"b": 4}
    assert PlanModel([a, b], Limits(demand=13, stock={"x": 8}))._demand_out_of_reach()
    assert solve_units([a, b], Limits(demand=13, stock={"x": 8})) is None
    c = _unit("c", 1, 1000, acc="y")
    assert not PlanModel([a, b, c], Limits(demand=13, stock={"x": 8}))._demand_out_of_reach()
    assert solve_units([a, b, c], Limits(demand=13, stock={"x": 8})).replicas == {"b": 4, "c": 1}


def test_an_integer_gap_is_left_to_the_solver():
    # Budget 100, A 10 users for 60, B 7 for 45; 15 users wanted. The replica bounds (A 1, B 2) reach
    # 10 + 14 = 24 and the budget relaxation 100 × 10 / 60 ≈ 16.7, both ≥ 15, so neither proves
    # anything; yet 2 B serve 14 < 15 and A + B cost 105 > 100: CP-SAT proves it. 14 users: 2 B.
    units = [_unit("a", 10, 60), _unit("b", 7, 45)]
    assert not PlanModel(units, Limits(demand=15, budget=100))._demand_out_of_reach()
    assert solve_units(units, Limits(demand=15, budget=100)) is None
    assert solve_units(units, Limits(demand=14, budget=100)).replicas == {"b": 2}


def test_replica_bounds_alone_bound_the_users():
    # Node cap 3, each unit one node: bounds of 3 replicas; 3 × 4 users = 12 < 13 → out of reach.
    units = [_unit("a", 4, 10)]
    assert PlanModel(units, Limits(demand=13, max_nodes=3))._demand_out_of_reach()
    assert not PlanModel(units, Limits(demand=12, max_nodes=3))._demand_out_of_reach()
    assert solve_units(units, Limits(demand=12, max_nodes=3)).replicas == {"a": 3}

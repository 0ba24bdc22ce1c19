"""Search modes against independent oracles: brute-force fronts, bisection, monotone sweeps."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random

import pytest
from click.testing import CliRunner

import cli
from catalog.errors import NoPlanError
from optimizer import check_plan, load_problem, optimize, with_overrides
from optimizer.model import Limits, PlanModel, solve_units
from optimizer.search import k_best, pareto, pareto_front, per_vendor, shortlist, sweep
from problems import bundled_problem_path

from .synthetic import random_units, satisfies, totals


def _small(seed):
    rng = random.Random(seed)
    units = random_units(rng, 4)
    demand = rng.randint(20, 80)
    units = [dataclasses.replace(u, users=max(u.users, math.ceil(demand / 4))) for u in units]
    return units, Limits(demand=demand, max_nodes=rng.choice([None, 8]))


def _all_plans(units, limits, top=5):
    for combo in itertools.product(range(top + 1), repeat=len(units)):
        replicas = {u.id: r for u, r in zip(units, combo) if r}
        if replicas and satisfies(units, replicas, limits):
            yield replicas


@pytest.mark.parametrize("seed", range(25))
def test_pareto_front_equals_brute_force(seed):
    units, limits = _small(seed)
    front = pareto_front(PlanModel(units, limits), "cost", "power")
    got = [(s.values["cost"], s.values["power"]) for s in front]
    points = {(totals(units, r)["cost"], totals(units, r)["power"]) for r in _all_plans(units, limits)}
    expected = sorted(p for p in points if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points))
    assert got == expected
    # Every point is non-dominated by every other returned point.
    for a in got:
        assert not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in got)


@pytest.mark.parametrize("seed", range(20))
def test_k_best_distinct_sets_in_order_first_is_the_optimum(seed):
    units, limits = _small(seed)
    found = k_best(PlanModel(units, limits, need_used=True), "cost", 4, lambda uid: uid)
    sets = [frozenset(s.replicas) for s in found]
    assert len(set(sets)) == len(sets)
    costs = [(s.values["cost"], s.values["power"], s.values["nodes"]) for s in found]
    assert costs == sorted(costs)
    assert found[0].values["cost"] == solve_units(units, limits, "cost").values["cost"]
    # Brute force: the best plan for each set of units used, then the K best sets.
    best_by_set = {}
    for r in _all_plans(units, limits):
        t = totals(units, r)
        key = frozenset(r)
        best_by_set[key] = min(best_by_set.get(key, (math.inf,)), (t["cost"], t["power"], t["nodes"]))
    assert costs == sorted(best_by_set.values())[:len(costs)]


@pytest.mark.parametrize("seed", range(15))
def test_max_users_under_budget_matches_bisection_on_min_cost(seed):
    rng = random.Random(500 + seed)
    units = random_units(rng, 3)
    budget = rng.randint(80, 300)
    best = solve_units(units, Limits(budget=budget), "users")
    served = best.values["users"] if best else 0

    def affordable(n):
        sol = solve_units(units, Limits(demand=n), "cost")
        return sol is not None and sol.values["cost"] <= budget

    lo, hi = 0, 10_000  # largest n whose min-cost plan fits the budget
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if affordable(mid) else (lo, mid)
    assert served == lo


def test_catalog_shortlist_is_distinct_ordered_and_starts_at_the_optimum(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    plans = shortlist(catalog, problem, k=4)
    assert plans[0].totals.cost == optimize(catalog, problem).totals.cost
    assert [p.totals.cost for p in plans] == sorted(p.totals.cost for p in plans)
    skus = [frozenset(l.system or l.platform for l in p.lines) for p in plans]
    assert len(set(skus)) == len(skus)
    by_vendor = shortlist(catalog, problem, k=3, distinct="vendor")
    assert len({frozenset(l.maker for l in p.lines) for p in by_vendor}) == len(by_vendor)
    for p in plans + by_vendor:
        assert check_plan(p, catalog, problem) == []


def test_per_vendor_gives_one_plan_per_vendor(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    plans = per_vendor(catalog, problem)
    vendors = [{l.maker for l in p.lines} for p in plans]
    assert all(len(v) == 1 for v in vendors) and len({next(iter(v)) for v in vendors}) == len(plans)
    assert {"amd", "nvidia"} <= {next(iter(v)) for v in vendors}


def test_catalog_pareto_points_are_non_dominated(catalog):
    # NVIDIA only: two 8×H20 nodes (2.2M CNY, 2 × 7.2 kW maximum) against one 8×H200 (2.45M, 10.2 kW)
    problem = load_problem(bundled_problem_path("deepseek-r1-seed-nvidia"))
    front = pareto(catalog, problem, "cost", "power")
    pts = [(p.totals.cost, p.totals.power_w) for p in front]
    assert pts == sorted(pts) and len(pts) >= 2
    assert all(b[1] < a[1] for a, b in zip(pts, pts[1:]))  # power strictly falls as cost rises


def test_sweep_costs_never_decrease_as_users_grow(catalog):
    problem = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    points = sweep(catalog, problem, users=[float(u) for u in range(10, 410, 20)])
    costs = [p.plan.totals.cost for p in points if p.plan]
    assert len(costs) == len(points)
    assert costs == sorted(costs)
    assert all(p.plan.totals.users >= p.value for p in points)


@pytest.mark.parametrize("name, budgets", [("llama-3.1-70b-100-users", [100_000.0, 200_000.0, 400_000.0, 800_000.0]),
                                           ("deepseek-r1-30-users", [1_000_000.0, 2_000_000.0, 3_000_000.0])])
def test_budget_sweep_points_equal_solving_each_budget_alone(catalog, name, budgets):
    # The first budget is too small for the larger servers: later points must still consider them.
    problem = load_problem(bundled_problem_path(name))
    points = sweep(catalog, problem, budgets=budgets)
    served = [p.plan.totals.users if p.plan else 0 for p in points]
    assert served == sorted(served) and served[-1] > 0
    for p in points:
        alone = with_overrides(problem, {("objective",): ("--objective", "users"),
                                         ("constraints", "budget"): ("--budget", p.value)})
        try:
            expected = optimize(catalog, alone).totals.users
        except NoPlanError:
            expected = 0
        assert (p.plan.totals.users if p.plan else 0) == expected
        if p.plan:
            assert p.plan.totals.cost <= p.value


def test_tco_components_add_up(catalog):
    problem = with_overrides(load_problem(bundled_problem_path("deepseek-r1-30-users")),
                             {("objective",): ("--objective", "tco")})
    plan = optimize(catalog, problem)
    t = plan.tco
    assert t.total == t.capex + t.energy + t.hosting == plan.objective_value
    # Energy by hand: power (W) × PUE 1.4 × 4 years × 8,760 h / 1,000 × 0.70 CNY/kWh.
    assert float(t.energy) == pytest.approx(plan.totals.power_w * 1.4 * 4 * 8760 / 1000 * 0.70)


def test_spare_node_plan_survives_any_one_node_down(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    spare = with_overrides(problem, {("constraints", "spare_nodes"): ("--spare-nodes", 1)})
    spare = spare.model_copy(update={"constraints": spare.constraints.model_copy(update={"budget": None})})
    plan = optimize(catalog, spare)
    assert check_plan(plan, catalog, spare) == []
    for line in plan.lines:  # lose one node: its whole replica goes
        assert plan.totals.users - line.users_per_replica >= 30
    assert plan.totals.cost > optimize(catalog, problem).totals.cost


def test_cli_search_commands(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli.main, ["shortlist", "deepseek-r1-30-users", "-k", "3", "--format", "json"])
    assert out.exit_code == 0 and len(json.loads(out.output)["plans"]) == 3
    svg = tmp_path / "front.svg"
    out = runner.invoke(cli.main, ["pareto", "deepseek-r1-30-users", "--plot", str(svg)])
    assert out.exit_code == 0 and svg.read_text().startswith("<svg")
    png = tmp_path / "curve.png"
    out = runner.invoke(cli.main, ["sweep", "llama-3.1-70b-100-users", "--users", "50:150:50", "--plot", str(png)])
    assert out.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = runner.invoke(cli.main, ["sweep", "deepseek-r1-30-users", "--users", "10:50:20", "--budget", "2100000",
                                   "--format", "json"])
    plans = json.loads(out.stdout)["plans"]
    assert [p["sweep_value"] for p in plans] == [10, 30, 50] and plans[-1]["status"] in ("optimal", "infeasible")
    html = tmp_path / "r.html"
    out = runner.invoke(cli.main, ["report", "deepseek-r1-30-users", "-o", str(html)])
    text = html.read_text()
    assert out.exit_code == 0 and "<svg" in text and "http" not in text.split("<body>")[0]
    assert "Sources of the figures used" in text


def test_parallel_sweep_gives_the_same_answers_as_a_serial_one(catalog):
    problem = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    users = [float(u) for u in range(20, 1020, 20)]  # 50 points: two chunks
    serial = sweep(catalog, problem, users=users, workers=1)
    parallel = sweep(catalog, problem, users=users, workers=2)
    assert [(p.value, p.plan.totals.cost, [l.unit for l in p.plan.lines]) for p in serial] == \
        [(p.value, p.plan.totals.cost, [l.unit for l in p.plan.lines]) for p in parallel]

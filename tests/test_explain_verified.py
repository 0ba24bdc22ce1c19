"""Explanations whose every suggested change is re-solved, with numbers a buyer can act on."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from catalog.errors import InfeasibleError, NoPlanError
from optimizer import load_problem, optimize, problem_from_fields, with_overrides
from problems import bundled_problem_path


def _apply(problem, settings):
    """The problem with {'constraints.max_nodes': 3, 'precision': 'x', ...} applied (None drops a field)."""
    data = problem.model_dump(exclude_unset=True)
    for dotted, value in settings.items():
        d = data
        *path, last = dotted.split(".")
        for key in path:
            d = d.setdefault(key, {})
        if value is None:
            d.pop(last, None)
        else:
            d[last] = value
    return type(problem).model_validate(data)


def test_two_thousand_users_need_budget_and_node_cap_together(catalog):
    # One 8×MI300X node serves a few hundred users here; the problem caps nodes at 2, so 2,000 users
    # need both a larger budget and more nodes (the budget alone is asserted insufficient below).
    problem = with_overrides(load_problem(bundled_problem_path("deepseek-r1-30-users")),
                             {("workload", "concurrent_users"): ("--users", 2000)})
    with pytest.raises(InfeasibleError) as err:
        optimize(catalog, problem)
    ex = err.value.explanation
    # The node cap binds too: with no budget at all, two nodes still cannot serve 1,000 users.
    no_budget = with_overrides(problem, {("constraints", "budget"): ("--budget", 10**12)})
    with pytest.raises(NoPlanError):
        optimize(catalog, no_budget)
    assert not any(ex["relaxations"].values())
    assert "No single limit change is enough" in ex["summary"]
    match = re.search(r"budget ≥ ([\d,.]+) CNY and max_nodes ≥ (\d+)", ex["summary"])
    assert match, ex["summary"]
    budget, nodes = float(match.group(1).replace(",", "")), int(match.group(2))
    both = optimize(catalog, _apply(problem, ex["together_set"]))
    assert both.totals.users >= 1000 and both.totals.nodes <= nodes and both.totals.cost <= Fraction(budget)
    # Each of the two alone still fails: the budget with two nodes, the node cap with 3M CNY.
    for alone in ({("constraints", "budget"): ("--budget", budget)},
                  {("constraints", "max_nodes"): ("--max-nodes", nodes)}):
        with pytest.raises(NoPlanError):
            optimize(catalog, with_overrides(problem, alone))
    # The smallest: one node fewer does not do with that budget, and the cheapest plan on those nodes costs that much.
    assert both.totals.nodes == nodes
    with pytest.raises(NoPlanError):
        optimize(catalog, _apply(problem, {**ex["together_set"], "constraints.max_nodes": nodes - 1,
                                           "constraints.budget": budget}))


def test_a_single_change_that_is_printed_works_with_every_other_limit_kept(catalog):
    problem = with_overrides(load_problem(bundled_problem_path("deepseek-r1-seed-any-vendor")),
                             {("constraints", "budget"): ("--budget", 1_500_000)})
    with pytest.raises(InfeasibleError) as err:
        optimize(catalog, problem)
    fix = err.value.explanation["relaxations"]["budget"]
    amount = float(re.search(r"budget ≥ ([\d,.]+)", fix).group(1).replace(",", ""))
    assert optimize(catalog, with_overrides(problem, {("constraints", "budget"): ("--budget", amount)}))
    with pytest.raises(NoPlanError):
        optimize(catalog, with_overrides(problem, {("constraints", "budget"): ("--budget", amount - 1)}))


def _r1_on_4090s():
    return problem_from_fields({"model": "deepseek-r1", "prices": "street-usd-2025",
                                "workload": {"concurrent_users": 4},
                                "constraints": {"accelerators": ["rtx-4090"], "max_nodes": 1,
                                                "hardware_classes": ["datacenter", "workstation", "consumer"]}})


def test_r1_on_one_4090_node_suggests_the_1_58bit_build_with_its_price(catalog):
    problem = _r1_on_4090s()
    with pytest.raises(InfeasibleError) as err:
        optimize(catalog, problem)
    ex = err.value.explanation
    small = optimize(catalog, with_overrides(problem, {("precision",): ("--precision", "ud-1.58bit")}))
    assert f"--precision ud-1.58bit: 1 node of 8 × rtx-4090 (ud-1.58bit, llama.cpp), {float(small.totals.cost):,.0f} USD" \
        in ex["summary"]
    # Each suggestion re-solves to a plan.
    assert ex["suggestions"]
    for s in ex["suggestions"]:
        assert optimize(catalog, _apply(problem, s["set"])).totals.users >= 4
    # No internal unit or node-type ids, and one sentence per accelerator, not one per node size.
    assert not re.search(r"\+\d+x|/\d+n/", ex["summary"])
    assert len(ex["near_misses"]) == 1 and "GeForce RTX 4090" in ex["near_misses"][0]


def test_node_count_suggestion_is_the_fewest_nodes(catalog):
    problem = _r1_on_4090s()
    with pytest.raises(InfeasibleError) as err:
        optimize(catalog, problem)
    nodes = next(s for s in err.value.explanation["suggestions"] if s["change"].startswith("--max-nodes"))
    n = nodes["set"]["constraints.max_nodes"]
    assert optimize(catalog, _apply(problem, nodes["set"])).totals.nodes == n
    with pytest.raises(NoPlanError):
        optimize(catalog, _apply(problem, {**nodes["set"], "constraints.max_nodes": n - 1}))

"""The independent checker catches a plan that lies about its numbers or breaks a limit."""

from __future__ import annotations

from fractions import Fraction

from optimizer import check_plan, load_problem, optimize, with_overrides
from problems import bundled_problem_path


def _plan(catalog, name="deepseek-r1-seed-any-vendor"):
    problem = load_problem(bundled_problem_path(name))
    return problem, optimize(catalog, problem)


def test_an_honest_plan_passes(catalog):
    problem, plan = _plan(catalog)
    assert check_plan(plan, catalog, problem) == []


def test_a_wrong_price_is_caught(catalog):
    problem, plan = _plan(catalog)
    cheap = plan.purchases[0].model_copy(update={"unit_price": Fraction(1_500_000)})
    bad = plan.model_copy(update={"purchases": (cheap,)})
    problems = check_plan(bad, catalog, problem)
    assert any("costs 2,000,000.00 CNY each, plan says 1,500,000.00 CNY" in p for p in problems)
    assert any("the purchases add up to 1,500,000.00 CNY" in p for p in problems)


def test_purchases_that_do_not_match_the_lines_are_caught(catalog):
    problem, plan = _plan(catalog)
    more = plan.purchases[0].model_copy(update={"quantity": 2})
    problems = check_plan(plan.model_copy(update={"purchases": (more,)}), catalog, problem)
    assert any("the lines need 1 × mi300x-8x, the purchases buy 2" in p for p in problems)


def test_overstated_users_are_caught(catalog):
    problem, plan = _plan(catalog, "deepseek-r1-30-users")
    line = plan.lines[0].model_copy(update={"users_per_replica": plan.lines[0].users_per_replica + 1000})
    bad = plan.model_copy(update={"lines": (line,)})
    assert any("users per replica, but a KV budget" in p for p in check_plan(bad, catalog, problem))


def test_a_plan_over_budget_and_cap_is_caught(catalog):
    problem, plan = _plan(catalog)
    tighter = with_overrides(problem, {("constraints", "budget"): ("--budget", 1_000_000),
                                       ("constraints", "max_power_w"): ("--max-power-kw", 1000)})
    problems = check_plan(plan, catalog, tighter)
    assert any("exceeds the budget" in p for p in problems)
    assert any("exceeds the cap of 1,000 W" in p for p in problems)


def test_a_forbidden_vendor_is_caught(catalog):
    problem, plan = _plan(catalog)
    nvidia_only = with_overrides(problem, {("constraints", "vendors"): ("--vendor", ["nvidia"])})
    assert any("vendor amd is not allowed" in p for p in check_plan(plan, catalog, nvidia_only))

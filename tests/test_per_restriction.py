"""Per-vendor and per-seller plans are exactly `solve` restricted to that vendor or seller."""

from __future__ import annotations

from fractions import Fraction

import pytest

from catalog.errors import NoPlanError
from optimizer import check_plan, load_problem, optimize, with_overrides
from optimizer.report import html_report
from optimizer.search import per_seller, per_vendor
from optimizer.solve import prepare_problem
from problems import bundled_problem_path


def _restricted_best(catalog, problem, field, flag, value):
    try:
        return optimize(catalog, with_overrides(problem, {("constraints", field): (flag, [value])}))
    except NoPlanError:
        return None


def _bought(plan):
    return sorted((l.accelerator, l.gpus_per_node, l.nodes) for l in plan.lines)


@pytest.mark.parametrize("name", ["deepseek-r1-seed-any-vendor", "llama-3.1-70b-seller-quotes", "deepseek-r1-30-users"])
def test_each_vendor_plan_is_solve_restricted_to_that_vendor(catalog, name):
    problem = load_problem(bundled_problem_path(name))
    makers = sorted({u.node.maker for u in prepare_problem(catalog, problem, prune=False).units})
    expected = {m: _restricted_best(catalog, problem, "vendors", "--vendor", m) for m in makers}
    got = {p.lines[0].maker: p for p in per_vendor(catalog, problem)}
    assert set(got) == {m for m, plan in expected.items() if plan is not None}
    for maker, plan in got.items():
        assert {l.maker for l in plan.lines} == {maker}
        assert plan.totals.cost == expected[maker].totals.cost
        assert _bought(plan) == _bought(expected[maker])
        assert check_plan(plan, catalog, problem) == []


def test_seed_nvidia_best_is_two_h20_nodes_not_one_h200(catalog):
    # The seed's NVIDIA answer: 8×H20 has 96 GB per GPU (768 GB a node); DeepSeek-R1 fp8 weights
    # (~671 GB) plus the 250 GB KV reserve need two nodes, and two H20 nodes cost less than one H200 node.
    problem = load_problem(bundled_problem_path("deepseek-r1-seed-any-vendor"))
    nvidia = next(p for p in per_vendor(catalog, problem) if p.lines[0].maker == "nvidia")
    alone = _restricted_best(catalog, problem, "vendors", "--vendor", "nvidia")
    h200 = _restricted_best(catalog, problem, "accelerators", "--accelerator", "h200-sxm")
    assert alone.totals.nodes == 2 and {l.accelerator for l in alone.lines} == {"h20-96g"}
    assert alone.totals.cost < h200.totals.cost
    assert nvidia.totals.cost == alone.totals.cost and _bought(nvidia) == _bought(alone)


def test_amd_appears_on_the_seller_quotes_problem_when_it_has_a_plan(catalog):
    problem = load_problem(bundled_problem_path("llama-3.1-70b-seller-quotes"))
    amd = _restricted_best(catalog, problem, "vendors", "--vendor", "amd")
    assert amd is not None
    got = [p for p in per_vendor(catalog, problem) if p.lines[0].maker == "amd"]
    assert len(got) == 1 and got[0].totals.cost == amd.totals.cost


def test_each_seller_plan_is_solve_restricted_to_that_seller(catalog):
    problem = load_problem(bundled_problem_path("llama-3.1-70b-seller-quotes"))
    found = per_seller(catalog, problem)
    assert found
    for seller, plan in found:
        alone = _restricted_best(catalog, problem, "sellers", "--seller", seller)
        assert {p.seller for p in plan.purchases} == {seller}
        assert plan.totals.cost == alone.totals.cost and _bought(plan) == _bought(alone)


def test_html_report_best_per_vendor_matches_restricted_solves(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-seed-any-vendor"))
    page = html_report(catalog, problem)
    section = page.split("Best plan per vendor", 1)[1].split("<h2>", 1)[0]
    alone = _restricted_best(catalog, problem, "vendors", "--vendor", "nvidia")
    assert "h20-96g" in section and "h200" not in section.split("Cost vs power")[0]
    assert f"{int(alone.totals.cost):,}" in section

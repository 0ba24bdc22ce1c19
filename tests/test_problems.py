"""Every bundled problem is a golden case: it validates, solves, passes the checker, and
the seed's own questions give the answers the seed's table implies."""

from __future__ import annotations

import pytest

from optimizer import check_plan, load_problem, optimize
from problems import bundled_problems

PROBLEMS = bundled_problems()


def test_there_are_at_least_six_bundled_problems():
    assert len(PROBLEMS) >= 6


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_bundled_problem_solves_and_passes_the_checker(path, catalog):
    problem = load_problem(path)
    assert problem.description, "each problem says what question it asks"
    plan = optimize(catalog, problem)
    assert plan.status == "optimal"
    assert check_plan(plan, catalog, problem) == []
    assert "#" in path.read_text(), "each problem carries a comment with the answer a careful human reaches"


def _solve(catalog, name):
    problem = load_problem(next(p for p in PROBLEMS if p.stem == name))
    return optimize(catalog, problem)


def _bought(plan):
    return sorted((line.system or line.platform, line.nodes) for line in plan.lines)


def test_seed_any_vendor_buys_one_mi300x_node(catalog):
    # 690 GB fp8 weights + 250 GB fit in 8 × 192 GB; 2.0M CNY is the cheapest line of the table.
    plan = _solve(catalog, "deepseek-r1-seed-any-vendor")
    assert _bought(plan) == [("mi300x-8x", 1)]
    assert plan.totals.cost == 2_000_000 and plan.totals.currency == "CNY"


def test_seed_nvidia_only_buys_two_h20_nodes(catalog):
    # One 8×H20 node holds 768 GB < 690 + 250 GB; two (2.2M) undercut 8×H200 (2.45M).
    plan = _solve(catalog, "deepseek-r1-seed-nvidia")
    assert _bought(plan) == [("xe9680-h20-8x", 2)]
    # plus the fabric between them: XE9680's 8 × 400 Gb/s InfiniBand ports cabled node to node (no
    # switch), 8 links of one fiber (120 USD) and two transceivers (600 USD each), at the USD→CNY rate
    from fractions import Fraction
    rate = Fraction(str(catalog.exchange_rate("USD", "CNY").rate))
    assert plan.totals.cost == 2_200_000 + 8 * (120 + 2 * 600) * rate


def test_seed_nvidia_one_node_buys_the_self_built_h200(catalog):
    # Only 8×H200 (1,128 GB) holds it on one node; self-built is 400k CNY below the DGX.
    plan = _solve(catalog, "deepseek-r1-seed-nvidia-one-node")
    assert _bought(plan) == [("hgx-h200-8x", 1)]
    # power totals are maximum draw: DGX H200-class 10.2 kW (the seed's ~8 kW is its typical draw)
    assert plan.totals.cost == 2_450_000 and plan.totals.power_w == 10_200
    assert plan.lines[0].node_typical_power_w == 8000


def test_seed_a100_needs_three_nodes_in_bf16(catalog):
    # bf16: 1,342 GB weights + 2 × 250 GB reserve = 1.84 TB > 1.6 TB of two nodes → three nodes.
    plan = _solve(catalog, "deepseek-r1-seed-a100-bf16")
    # plus the fabric of the three-node pipeline: 3 × 2 × 25 GbE ports on one 48-port switch (6,000 USD)
    # and 6 direct-attach cables (40 USD each), at the USD→CNY rate
    from fractions import Fraction
    rate = Fraction(str(catalog.exchange_rate("USD", "CNY").rate))
    assert plan.totals.nodes == 3 and plan.totals.cost == 3_000_000 + (6000 + 6 * 40) * rate
    assert {line.precision for line in plan.lines} == {"bf16"}


def test_thirty_users_plan_meets_the_speed_target(catalog):
    # 30 users at >= 15 tok/s with 2k in / 6k out: one 8×MI300X node (2.0M CNY) is enough.
    plan = _solve(catalog, "deepseek-r1-30-users")
    assert plan.totals.users >= 30 and plan.totals.cost <= 3_000_000
    assert all(line.tokens_per_s_per_user >= 15 for line in plan.lines)
    assert _bought(plan) == [("mi300x-8x", 1)]


def test_cpu_only_is_cheap_slow_and_serves_few(catalog):
    plan = _solve(catalog, "deepseek-r1-cpu-only")
    line = plan.lines[0]
    assert catalog.accelerators[line.accelerator].family == "cpu"
    assert 4 <= line.users_per_replica < 50          # "poor concurrency"
    assert 5 <= line.tokens_per_s_per_user < 15      # "too slow"
    assert plan.totals.cost < 100_000


def test_speed_target_changes_the_answer(catalog):
    """Without a speed target the cheapest plan crawls; with one it buys faster hardware."""
    from optimizer import load_problem, with_overrides
    from problems import bundled_problem_path

    problem = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    crawling = optimize(catalog, with_overrides(problem, {("workload", "min_tokens_per_s"): ("--min-tokens-per-s", 0.0)}))
    fast = optimize(catalog, problem)
    assert crawling.totals.cost <= fast.totals.cost
    assert min(l.tokens_per_s_per_user for l in fast.lines) >= 20


def test_h100_pcie_offers_split_the_purchase(catalog):
    plan = _solve(catalog, "llama-3.1-70b-h100-pcie-offers")
    cards = [p for p in plan.purchases if p.item == "h100-pcie"]
    assert len({p.seller for p in cards}) >= 2      # the one-card seller and a second one
    assert any(p.quantity == 1 and p.unit_price == 24_000 for p in cards)
    assert sum(p.extended for p in plan.purchases) == plan.totals.cost


def test_seller_quotes_compare_at_least_three_sellers(catalog):
    from optimizer.search import per_seller

    problem = load_problem(next(p for p in PROBLEMS if p.stem == "llama-3.1-70b-seller-quotes"))
    found = per_seller(catalog, problem)
    assert len(found) >= 3
    assert found[0][0] == "Arc Compute" and found[0][1].totals.cost == 224_999
    assert all({p.seller for p in plan.purchases} == {seller} for seller, plan in found)

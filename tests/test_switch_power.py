"""Switch and NIC power: in the plan's total, the power cap and the facility draw, in network racks, and
verified by the independent checker (optimizer/fabric.py, racks.py, model.py, check.py)."""

from __future__ import annotations

import pytest

from catalog.errors import InfeasibleError
from optimizer import check_plan, optimize, problem_from_fields
from tests.test_cluster import _catalog_with

# One 64-port NDR switch (NVIDIA Quantum-2 QM9700): typical 940 W with passive cables; every one of its 64
# ports may hold a 400 Gb/s transceiver drawing half of a 17 W twin-port OSFP (the QM97xx manual's
# Class 8 modules), so its maximum is 940 + 64 × 17 / 2 W.
QM9700_MAX_W = 940 + 64 * 17 // 2
QM9700_TYPICAL_W = 940


def _two_h20_nodes(tmp_path, catalog, **constraints):
    """Two 8×H20 XE9680 servers as one replica, without a direct connection: 16 node ports on one switch."""
    cat = _catalog_with(tmp_path, catalog, "xe9680", direct_connect=False)
    fields = {"model": "deepseek-r1", "prices": "seed-2025-02", "workload": {"kv_reserve_gb": 250},
              "constraints": {"currency": "CNY", "accelerators": ["h20-96g"], "max_nodes_per_replica": 3,
                              **constraints}}
    return cat, problem_from_fields(fields)


def test_the_catalog_switch_figures_are_the_sum_of_their_parts(catalog):
    sw = catalog.network_items["ib-switch-ndr-64p"]
    assert (sw.power_w, sw.typical_power_w) == (QM9700_MAX_W, QM9700_TYPICAL_W) == (1484, 940)
    for item in catalog.network_items.values():
        if item.kind in ("switch", "nic"):
            assert item.power_w and item.typical_power_w and item.typical_power_w <= item.power_w, item.id
            assert "Power:" in item.notes, item.id   # the basis of both figures, with its source or assumption


def test_a_switched_plan_draws_its_switch_and_racks_it(tmp_path, catalog):
    cat, problem = _two_h20_nodes(tmp_path, catalog)
    plan = optimize(cat, problem)
    [line] = plan.lines
    [net] = plan.network
    assert net.switches == (("ib-switch-ndr-64p", 1, 64),)
    assert (net.power_w, net.typical_power_w, net.rack_units) == (QM9700_MAX_W, QM9700_TYPICAL_W, 1)
    assert plan.totals.power_w == 2 * line.node_power_w + QM9700_MAX_W
    [rack] = [r for r in plan.racks if r.load_w is not None]
    # one 1U switch of 1,484 W: max(⌈1/42⌉, ⌈1,484 / 40,000⌉) = 1 air-cooled network rack
    assert (rack.racks, rack.load_w, rack.load_units, rack.limit_kw) == (1, QM9700_MAX_W, 1, 40)
    assert "network switches" in rack.node_type
    assert check_plan(plan, cat, problem) == []
    switch_row = next(p for p in plan.purchases if p.item == "ib-switch-ndr-64p")
    assert "1,484 W max, 940 W typical" in switch_row.description


def test_the_power_cap_counts_the_switch(tmp_path, catalog):
    cat, problem = _two_h20_nodes(tmp_path, catalog)
    plan = optimize(cat, problem)
    need = plan.totals.power_w          # two nodes + one switch at its maximum
    ok = optimize(cat, _two_h20_nodes(tmp_path, catalog, max_power_w=need)[1])
    assert ok.totals.power_w <= need
    try:
        tight = optimize(cat, _two_h20_nodes(tmp_path, catalog, max_power_w=need - 1)[1])
    except InfeasibleError:
        return
    assert tight.totals.power_w <= need - 1   # another plan, within the cap with its switch counted
    assert tight.totals.power_w == sum(line.power_w for line in tight.lines) + sum(n.power_w for n in tight.network)


def test_the_checker_catches_a_missing_network_rack_and_a_wrong_switch_draw(tmp_path, catalog):
    cat, problem = _two_h20_nodes(tmp_path, catalog)
    plan = optimize(cat, problem)
    node_racks = tuple(r for r in plan.racks if r.load_w is None)
    no_rack = plan.model_copy(update={"racks": node_racks})
    assert any("have no network racks" in v for v in check_plan(no_rack, cat, problem))
    [net_rack] = [r for r in plan.racks if r.load_w is not None]
    zero = plan.model_copy(update={"racks": node_racks + (net_rack.model_copy(update={"racks": 0}),)})
    assert any("need 1 network racks" in v for v in check_plan(zero, cat, problem))
    [net] = plan.network
    low = plan.model_copy(update={"network": (net.model_copy(update={"power_w": net.power_w - 500}),)})
    assert any(f"draw {QM9700_MAX_W:,} W at most, the plan says {QM9700_MAX_W - 500:,} W" in v
               for v in check_plan(low, cat, problem))


def test_switches_above_one_rack_limit_need_more_network_racks():
    """Three switches of 1,484 W under a 2 kW rack limit: max(⌈3U / 42U⌉, ⌈4,452 / 2,000⌉) = 3 racks."""
    from optimizer.model import Fabric, FabricClass, FabricSwitch, Limits, NetworkRack, solve_units
    from tests.synthetic import FakeUnit

    units = [FakeUnit("u", users=10, cost=100, power_w=100, nodes=3, gpus=24, accelerator_id="a", sku="s")]
    fabric = Fabric(classes=(FabricClass("f", (FabricSwitch("sw", ports=8, price=5, power_w=1484, rack_units=1),),
                                         link_price=0),),
                    switched={"u": ("f", 24, 3)}, direct={},
                    rack=NetworkRack(rack_units=42, limit_w=2000, price=7))
    # one replica: 24 node ports on 8-port switches, 3 nodes ≤ 8 → one tier, ⌈24/8⌉ = 3 switches
    sol = solve_units(units, Limits(demand=10), "cost", fabric=fabric)
    assert sol.fabric == {"f": {"sw": 3}}
    assert sol.racks == {"@network": 3}
    assert sol.values["cost"] == 100 + 3 * 5 + 3 * 7
    assert sol.values["power"] == 100 + 3 * 1484


@pytest.mark.parametrize("limit_w, racks", [(1484, 3), (1484 * 3, 1), (1484 * 2, 2)])
def test_network_racks_by_power_match_the_formula(limit_w, racks):
    from optimizer.model import Fabric, FabricClass, FabricSwitch, Limits, NetworkRack, solve_units
    from tests.synthetic import FakeUnit

    units = [FakeUnit("u", users=10, cost=100, power_w=100, nodes=3, gpus=24, accelerator_id="a", sku="s")]
    fabric = Fabric(classes=(FabricClass("f", (FabricSwitch("sw", ports=8, price=5, power_w=1484, rack_units=1),),
                                         link_price=0),),
                    switched={"u": ("f", 24, 3)}, direct={}, rack=NetworkRack(rack_units=42, limit_w=limit_w))
    sol = solve_units(units, Limits(demand=10), "cost", fabric=fabric)
    assert sol.racks.get("@network") == -(-3 * 1484 // limit_w) == racks


def test_the_checker_reports_a_switch_the_catalog_does_not_have(tmp_path, catalog):
    # A tampered plan naming an unknown switch gets a violation, not a KeyError from the checker.
    cat, problem = _two_h20_nodes(tmp_path, catalog)
    plan = optimize(cat, problem)
    [net] = plan.network
    ghost = plan.model_copy(update={"network": (net.model_copy(update={"switches": (("no-such-switch", 1, 64),)}),)})
    found = check_plan(ghost, cat, problem)
    assert any("no-such-switch, which is not a network item of the catalog" in v for v in found)

"""A cluster that can be built: hardware classes, one power basis, fabric, racks."""

from __future__ import annotations

import pytest

from catalog.errors import InfeasibleError
from optimizer import load_problem, optimize, problem_from_fields
from optimizer.problem import DEFAULT_HARDWARE_CLASSES
from problems import bundled_problems

PROBLEMS = bundled_problems()


# -- hardware classes -------------------------------------------------------------------
@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_no_bundled_plan_buys_a_class_its_problem_does_not_allow(path, catalog):
    problem = load_problem(path)
    allowed = set(problem.constraints.hardware_classes)
    plan = optimize(catalog, problem)
    for line in plan.lines:
        assert catalog.accelerators[line.accelerator].hardware_class in allowed
        assert catalog.platforms[line.platform].hardware_class in allowed
    if "consumer" not in allowed:
        assert not any(catalog.accelerators[line.accelerator].hardware_class == "consumer" for line in plan.lines)


def test_default_classes_are_datacenter_and_workstation():
    problem = problem_from_fields({"model": "llama-3.1-70b", "workload": {"concurrent_users": 10}})
    assert problem.constraints.hardware_classes == list(DEFAULT_HARDWARE_CLASSES) == ["datacenter", "workstation"]


def _rtx_problem(classes):
    fields = {"model": "llama-3.1-70b", "precision": "bf16", "workload": {"concurrent_users": 50},
              "constraints": {"accelerators": ["rtx-5090"]}}
    if classes is not None:
        fields["constraints"]["hardware_classes"] = classes
    return problem_from_fields(fields)


def test_consumer_cards_are_filtered_by_default_with_the_reason(catalog):
    from optimizer.units import prepare

    problem = _rtx_problem(None)
    assert prepare(catalog, problem).filtered["rtx-5090"] == \
        "hardware class consumer is not in constraints.hardware_classes"
    with pytest.raises(InfeasibleError):
        optimize(catalog, problem)


def test_a_plan_that_buys_consumer_cards_says_so(catalog):
    plan = optimize(catalog, _rtx_problem(["datacenter", "consumer"]))
    assert {line.accelerator for line in plan.lines} == {"rtx-5090"}
    assert any("consumer-class hardware" in n and "rtx-5090" in n for n in plan.notes)
    # the only host for an 8-card RTX 5090 node in street-usd-2025 is the barebone PCIe Gen5 server
    assert any(n.startswith("barebone servers") and "pcie-gen5-8gpu" in n for n in plan.notes)


def test_workstation_servers_leave_with_the_workstation_class(catalog):
    """deepseek-r1-1.58bit's answer is two DGX Spark boxes (workstation class); without that class it changes."""
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-1.58bit")
    from optimizer import with_overrides
    problem = with_overrides(load_problem(path), {("constraints", "hardware_classes"): ("--class", ["datacenter"])})
    plan = optimize(catalog, problem)
    assert all(catalog.platforms[line.platform].hardware_class == "datacenter" for line in plan.lines)
    assert "dgx-spark" not in {line.platform for line in plan.lines}


# -- one power basis ----------------------------------------------------------------------
def _every_node(catalog):
    """(name, platform, accelerator, count, system) for every system and every platform build."""
    from optimizer.units import platform_accepts

    for s in catalog.systems.values():
        yield s.id, catalog.platforms[s.platform], catalog.accelerators[s.accelerator], s.count, s
    for p in catalog.platforms.values():
        for a in catalog.accelerators.values():
            if platform_accepts(p, a):
                for n in p.gpu_counts:
                    yield f"{p.id}+{n}x{a.id}", p, a, n, None


def test_every_node_draws_at_least_its_accelerators_tdp(catalog):
    from optimizer.units import node_power_w

    for name, plat, acc, count, system in _every_node(catalog):
        assert node_power_w(plat, acc, count, system) >= count * acc.tdp_w, name


def test_platform_builds_stay_within_their_power_supplies(catalog):
    from optimizer.units import node_power_w

    for name, plat, acc, count, system in _every_node(catalog):
        if system is None and plat.max_system_power_w is not None:
            assert node_power_w(plat, acc, count) <= plat.max_system_power_w, name


def test_the_figures_the_issue_names_are_on_one_basis(catalog):
    s = catalog.systems
    # HGX H100/H800 and H200 nodes: maximum = DGX H100/H200's 10.2 kW; the seed's figures are typical draw
    for sid, typical in (("hgx-h100-8x", 5000), ("hgx-h800-8x", 5000), ("hgx-h200-8x", 8000), ("dgx-h200", 8000)):
        assert (s[sid].max_power_w, s[sid].typical_power_w) == (10200, typical), sid
    assert 8 * catalog.accelerators["h100-sxm"].tdp_w == 5600 < s["hgx-h100-8x"].max_power_w
    assert catalog.accelerators["h20-96g"].tdp_w == 400 and catalog.accelerators["l20"].tdp_w == 275


def test_tco_energy_uses_typical_draw_where_stated(catalog):
    """One self-built 8×H200: typical 8 kW for energy, 10.2 kW maximum for the power total."""
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia-one-node")
    plan = optimize(catalog, load_problem(path))
    assert plan.totals.power_w == 10_200
    # energy = 8,000 W × PUE 1.4 × 4 years × 8,760 h / 1,000 × 0.70 CNY/kWh (the problem's defaults)
    assert float(plan.tco.energy) == pytest.approx(8000 * 1.4 * 4 * 8760 / 1000 * 0.70)


# -- scale-out network ----------------------------------------------------------------------
def _usd_cny(catalog):
    from fractions import Fraction

    return Fraction(str(catalog.exchange_rate("USD", "CNY").rate))


def _catalog_with(tmp_path, catalog, platform_id, **changes):
    """The bundled catalog with one platform record replaced (a user catalog file overrides by id)."""
    import yaml

    from catalog import load_catalog

    record = catalog.platforms[platform_id].model_dump(mode="json", exclude_defaults=True)
    record.update(changes)
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "platforms": [record]}, allow_unicode=True))
    return load_catalog([path])


def test_fabric_cost_turns_two_small_nodes_into_one_big_one(tmp_path, catalog):
    """deepseek-r1-seed-nvidia, worked by hand (seed prices, CNY; network prices USD at the catalog rate r):

    two 8×H20 XE9680 nodes in one replica: 2 × 1,100,000 = 2,200,000, plus their fabric;
    one 8×H200 HGX node (one replica, no fabric):          2,450,000.
    XE9680 has 8 × 400 Gb/s InfiniBand ports per node.
    - cabled node to node (direct connection): 8 links × (fiber 120 + 2 × transceiver 600) USD
      = 10,560 USD → 2,200,000 + 10,560·r ≈ 2,275,146 < 2,450,000: the two H20 nodes win;
    - through a switch (platform without direct connection): 16 node ports fit one 64-port NDR
      switch (36,000 USD) and take 16 links × 1,320 USD = 21,120 USD → 2,200,000 + 57,120·r
      ≈ 2,606,472 > 2,450,000: the single H200 node wins.
    """
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia")
    problem = load_problem(path)
    r = _usd_cny(catalog)
    assert 2_200_000 + 10_560 * r < 2_450_000 < 2_200_000 + 57_120 * r

    direct = optimize(catalog, problem)
    assert [(l.system, l.nodes) for l in direct.lines] == [("xe9680-h20-8x", 2)]
    assert direct.totals.cost == 2_200_000 + 8 * (120 + 2 * 600) * r
    [net] = direct.network
    assert (net.fabric, net.direct_links, net.switches, net.links, net.transceivers) == ("infiniband-400", 8, (), 8, 16)

    switched_catalog = _catalog_with(tmp_path, catalog, "xe9680", direct_connect=False)
    switched = optimize(switched_catalog, problem)
    assert [(l.system, l.nodes) for l in switched.lines] == [("hgx-h200-8x", 1)]
    assert switched.totals.cost == 2_450_000 and switched.network == ()

    # Without network prices the fabric is free and unpriced: the two H20 nodes come back, and the plan says so.
    from optimizer import with_overrides
    unpriced = optimize(switched_catalog, with_overrides(problem, {("network_prices",): ("--network-prices", [])}))
    assert [(l.system, l.nodes) for l in unpriced.lines] == [("xe9680-h20-8x", 2)]
    assert unpriced.totals.cost == 2_200_000
    assert any("not fully priced" in n for n in unpriced.notes)


def test_many_nodes_need_leaves_and_spines(catalog):
    """The fabric sizing by hand, on its own: 100 nodes × 8 × 400 Gb/s ports = 800 node ports.
    One tier fits while every rail fits one switch (≤ 64 nodes); 100 > 64, so two tiers: 800 uplinks,
    switch ports ≥ 800 + 2 × 800 = 2,400 → 38 NDR switches (37.5), 1,600 links and 3,200 transceivers."""
    from optimizer.fabric import FabricNeed, build_fabric, fabric_prices

    problem = problem_from_fields({"model": "llama-3.1-70b", "workload": {"concurrent_users": 10}})
    prices = fabric_prices(catalog, problem, "USD", {"infiniband-400"})
    needs = {"u": FabricNeed(key="infiniband-400", ports=2 * 8, nodes=2)}
    [b] = build_fabric(needs, {"u": 50}, prices)
    assert (b.node_ports, b.nodes, b.uplinks) == (800, 100, 800)
    assert [(p.item.id, n) for p, n in b.switches] == [("ib-switch-ndr-64p", 38)]
    assert (b.links, b.transceivers) == (1600, 3200)
    assert b.cost == 38 * 36_000 + 1600 * 120 + 3200 * 600


def test_the_solver_prices_a_two_tier_fabric_as_worked_by_hand():
    """CP-SAT with fabric variables against the hand count: 3 two-node replicas of 4 ports per node on
    switches of 8 ports (price 10, 1 W) and links of price 1. 6 nodes ≤ 8: one tier, 24 node ports →
    3 switches, 24 links; cost 3 × 100 (nodes) + 3 × 10 + 24 = 354, power 3 × 50 + 3."""
    from optimizer.model import Fabric, FabricClass, FabricSwitch, Limits, solve_units
    from tests.synthetic import FakeUnit

    unit = FakeUnit("pair", users=10, cost=100, power_w=50, nodes=2, gpus=16, accelerator_id="a", sku="x")
    fabric = Fabric(classes=(FabricClass(key="ib", switches=(FabricSwitch(key="sw8", ports=8, price=10, power_w=1),),
                                         link_price=1),),
                    switched={"pair": ("ib", 8, 2)}, direct={})
    sol = solve_units([unit], Limits(demand=30), "cost", fabric=fabric)
    assert sol.replicas == {"pair": 3} and sol.fabric == {"ib": {"sw8": 3}}
    assert sol.values["cost"] == 354 and sol.values["power"] == 153
    # 5 replicas = 10 nodes > 8 ports: two tiers, 40 node ports + 40 uplinks → 120 ports = 15 switches, 80 links
    sol = solve_units([unit], Limits(demand=50), "cost", fabric=fabric)
    assert sol.fabric == {"ib": {"sw8": 15}} and sol.values["cost"] == 5 * 100 + 15 * 10 + 80


def test_an_infiniband_switch_row_imports(tmp_path, catalog):
    from catalog.tools import import_sheet

    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Part,Price\nib-switch-ndr-64p,\"$31,500\"\nmpo-fiber-3m,95\n")
    result = import_sheet(sheet, seller="Acme", mapping={"Part": "item", "Price": "price"}, price_list_id="acme",
                          currency="USD", price_date="2026-11-01", catalog=catalog)
    assert result.accepted == 2 and [o.item for o in result.price_list.offers] == ["ib-switch-ndr-64p", "mpo-fiber-3m"]


def test_platform_nics_match_their_network_bandwidth(catalog):
    """network_gbs (GB/s, what the speed model uses) is the NICs' count × Gb/s / 8."""
    for p in catalog.platforms.values():
        if p.nics:
            assert sum(n.count * n.gbps for n in p.nics) / 8 == p.network_gbs, p.id


# -- racks and facility ---------------------------------------------------------------------
def test_racks_are_counted_and_their_price_and_limit_move_the_optimum():
    """Two node types serving 10 users per node: A at 100 (one node per rack: it draws the rack's
    whole limit), B at 120 (four per rack). 40 users need 4 nodes, k of them A, taking
    k + ⌈(4 − k)/4⌉ racks:
    - racks free, no limit: 4 × A = 400 (4 racks);
    - at most 2 racks: k + ⌈(4 − k)/4⌉ ≤ 2 allows k ≤ 1; k = 1 costs 100 + 3 × 120 = 460 < 480 (k = 0);
    - racks at 50 each: k = 4: 400 + 200 = 600; k = 1: 460 + 100 = 560; k = 0: 480 + 50 = 530, so B."""
    from optimizer.model import Limits, RackGroup, Racks, solve_units
    from tests.synthetic import FakeUnit

    a = FakeUnit("a", users=10, cost=100, power_w=30_000, nodes=1, gpus=8, accelerator_id="x", sku="A")
    b = FakeUnit("b", users=10, cost=120, power_w=10_000, nodes=1, gpus=8, accelerator_id="y", sku="B")

    def racks(price):
        return Racks(groups=(RackGroup("A", per_rack=1, price=price), RackGroup("B", per_rack=4, price=price)),
                     units={"a": ("A", 1), "b": ("B", 1)})

    free = solve_units([a, b], Limits(demand=40), "cost", racks=racks(0))
    assert free.replicas == {"a": 4} and free.racks == {"A": 4} and free.values["cost"] == 400
    capped = solve_units([a, b], Limits(demand=40, max_racks=2), "cost", racks=racks(0))
    assert capped.replicas == {"a": 1, "b": 3} and capped.racks == {"A": 1, "B": 1} and capped.values["cost"] == 460
    priced = solve_units([a, b], Limits(demand=40), "cost", racks=racks(50))
    assert priced.replicas == {"b": 4} and priced.values["cost"] == 530


def _one_node_problem(**constraints):
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia-one-node")
    from optimizer import with_overrides

    problem = load_problem(path)
    return with_overrides(problem, {("constraints", k): (f"--{k}", v) for k, v in constraints.items()})


def test_the_plan_lists_racks_and_their_load(catalog):
    # one self-built 8×H200 (8U, 10.2 kW maximum) in a 42U, 40 kW air-cooled rack: min(42 // 8, 40 // 10.2) = 3 per rack
    plan = optimize(catalog, _one_node_problem())
    [r] = plan.racks
    assert (r.rack, r.racks, r.nodes, r.nodes_per_rack, r.fullest_rack_kw) == ("rack-42u-air", 1, 1, 3, 10.2)
    assert plan.facility_power_w == round(10_200 * 1.4)


def test_a_node_above_the_rack_limit_is_filtered_with_the_reason(catalog):
    from optimizer.racks import rack_kinds

    problem = _one_node_problem(max_rack_kw=10)
    with pytest.raises(InfeasibleError):
        optimize(catalog, problem)   # one 8×H200 node draws 10.2 kW > 10 kW
    h200 = catalog.systems["hgx-h200-8x"]
    kind = rack_kinds(catalog, problem, "CNY", {"hgx-h200-8x": (catalog.platforms[h200.platform], 10_200)})
    assert kind["hgx-h200-8x"].per_rack == 0
    assert kind["hgx-h200-8x"].why_not() == ("one node draws 10.2 kW, more than the 10 kW per air-cooled rack "
                                             "(constraints.max_rack_kw)")
    # a GB200 NVL72 rack (132 kW maximum, liquid-cooled, 48U) fills one 48U liquid-cooled rack
    nvl = catalog.systems["gb200-nvl72"]
    kind = rack_kinds(catalog, problem, "CNY", {"gb200-nvl72": (catalog.platforms[nvl.platform], nvl.max_power_w)})
    assert (kind["gb200-nvl72"].rack.id, kind["gb200-nvl72"].per_rack) == ("rack-48u-liquid", 1)


def test_the_site_cap_counts_the_facility_draw(catalog):
    # 10.2 kW × PUE 1.4 = 14.28 kW: a 14 kW site cannot take the only one-node answer, a 14.3 kW site can
    with pytest.raises(InfeasibleError):
        optimize(catalog, _one_node_problem(max_site_kw=14))
    plan = optimize(catalog, _one_node_problem(max_site_kw=14.3))
    assert plan.totals.power_w * 1.4 <= 14_300


def test_the_checker_catches_too_few_racks_and_a_missing_fabric(catalog):
    from optimizer import check_plan

    plan = optimize(catalog, _one_node_problem())
    short = plan.model_copy(update={"racks": (plan.racks[0].model_copy(update={"racks": 0}),)})
    assert any("need 1 racks" in v for v in check_plan(short, catalog, _one_node_problem()))
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia")
    problem = load_problem(path)
    two = optimize(catalog, problem)
    bare = two.model_copy(update={"network": ()})
    assert any("infiniband-400 fabric" in v and "buys none" in v for v in check_plan(bare, catalog, problem))


# -- bill of materials ------------------------------------------------------------------------
@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_every_multi_node_plan_buys_its_fabric_and_the_bom_adds_up(path, catalog):
    from optimizer.export import bom_rows

    problem = load_problem(path)
    plan = optimize(catalog, problem)
    if any(l.nodes_per_replica > 1 for l in plan.lines):
        kinds = {p.kind for p in plan.purchases}
        assert plan.network and all(n.priced for n in plan.network)
        assert "cable" in kinds, "every link of the fabric is a cable in the BOM"
    node_racks = [r for r in plan.racks if r.load_w is None]
    assert {r.node_type for r in node_racks} == {l.system or f"{l.platform}+{l.gpus_per_node}x{l.accelerator}"
                                                 for l in plan.lines}
    if any(n.switches for n in plan.network):   # switches are bought, racked and draw power
        kinds = {p.kind for p in plan.purchases}
        assert "switch" in kinds
        [net] = [r for r in plan.racks if r.load_w is not None]
        assert net.load_w == sum(catalog.network_items[i].power_w * c for n in plan.network for i, c, _ in n.switches)
        assert plan.totals.power_w == sum(l.power_w for l in plan.lines) + sum(n.power_w for n in plan.network)
    rows = bom_rows(plan)
    total = rows[-1]
    from fractions import Fraction
    assert sum(Fraction(str(r["extended_price"])) for r in rows[:-1]) == Fraction(str(total["extended_price"]))
    assert all(r["source"] for r in rows[:-1])


def test_the_workbook_summary_lists_network_racks_and_facility(tmp_path, catalog):
    import openpyxl

    from optimizer.export import export_bom

    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia")
    problem = load_problem(path)
    plan = optimize(catalog, problem)
    import io

    content = export_bom(str(tmp_path / "bom.xlsx"), [plan], problem, catalog)
    book = openpyxl.load_workbook(io.BytesIO(content))
    labels = [row[0].value for row in book.worksheets[0].iter_rows() if row[0].value]
    assert "  network infiniband-400" in labels and any(str(l).startswith("  racks ") for l in labels)
    assert "  facility kW (IT maximum × PUE)" in labels


def test_an_explanation_prices_the_fabric_too(catalog):
    """Two 8×H20 nodes cost 2,200,000 CNY plus 8 × 1,320 USD of InfiniBand cabling; a budget of 2,210,000
    holds the nodes but not the cabling, and the smallest budget named must include it."""
    from optimizer import with_overrides

    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia")
    problem = with_overrides(load_problem(path), {("constraints", "budget"): ("--budget", 2_210_000)})
    with pytest.raises(InfeasibleError) as err:
        optimize(catalog, problem)
    fix = err.value.explanation["relaxations"]["budget"]
    named = int(fix.split("≥")[1].split("CNY")[0].replace(",", ""))
    exact = 2_200_000 + 8 * 1320 * _usd_cny(catalog)
    assert exact <= named <= exact + 8   # solver money rounds each link's price up to a whole yuan


def test_cli_class_flag_and_network_section(tmp_path):
    import json

    from click.testing import CliRunner

    import cli

    args = ["solve", "--model", "llama-3.1-70b", "--users", "50", "--precision", "bf16", "--accelerator", "rtx-5090",
            "--format", "json"]
    refused = CliRunner().invoke(cli.main, args)
    assert refused.exit_code == 1
    allowed = CliRunner().invoke(cli.main, [*args, "--class", "consumer", "--class", "datacenter"])
    assert allowed.exit_code == 0, allowed.output
    data = json.loads(allowed.output)
    assert any("consumer-class" in n for n in data["notes"])
    assert data["plan"]["racks"] and data["plan"]["facility"]["pue"] == 1.4


def test_catalog_lists_network_items_and_racks():
    import json

    from click.testing import CliRunner

    import cli

    result = CliRunner().invoke(cli.main, ["catalog", "network", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert rows["ib-switch-ndr-64p"]["ports"] == 64 and rows["ib-switch-ndr-64p"]["protocol"] == "infiniband"
    assert rows["rack-48u-liquid"]["kind"] == "rack"


# -- the fabric and rack variables against brute force ------------------------------------------
def _brute_force_cost(units, fabric_need, sw_ports, sw_price, link_price, rack_of, demand, max_racks,
                      cards=None, nic_price=0):
    """Cheapest plan by enumeration, fabric and racks priced by the formulas of optimizer/fabric.py and
    optimizer/racks.py written out again: one tier while the switched nodes fit one switch
    (⌈T/P⌉ switches), else two tiers (T uplinks, ⌈3T/P⌉ switches, at most P²/2 nodes); links =
    T + uplinks + direct cables; racks ⌈k·nodes/q⌉ per node type at its price."""
    import itertools

    best = None
    ranges = [range(0, -(-demand // u.users) + 1) for u in units]
    for counts in itertools.product(*ranges):
        if sum(u.users * r for u, r in zip(units, counts)) < demand:
            continue
        cost = sum(u.cost * r for u, r in zip(units, counts))
        ports = sum(fabric_need.get(u.id, (0, 0, 0))[0] * r for u, r in zip(units, counts))
        nodes = sum(fabric_need.get(u.id, (0, 0, 0))[1] * r for u, r in zip(units, counts))
        direct = sum(fabric_need.get(u.id, (0, 0, 0))[2] * r for u, r in zip(units, counts))
        if ports and nodes > sw_ports * sw_ports // 2:
            continue
        uplinks = ports if nodes > sw_ports else 0
        cost += sw_price * -(-(ports + 2 * uplinks) // sw_ports) + link_price * (ports + uplinks + direct)
        cost += nic_price * sum((cards or {}).get(u.id, 0) * r for u, r in zip(units, counts))
        racks = 0
        for sku, (per_rack, per_node, price) in rack_of.items():
            n = sum(u.nodes * r for u, r in zip(units, counts) if u.sku == sku)
            k = -(-per_node * n // per_rack)
            racks += k
            cost += price * k
        if max_racks is not None and racks > max_racks:
            continue
        best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_fabric_and_racks_match_brute_force(seed):
    import random

    from optimizer.model import Fabric, FabricClass, FabricSwitch, Limits, RackGroup, Racks, solve_units
    from tests.synthetic import FakeUnit

    rng = random.Random(seed)
    units, need = [], {}
    for i in range(3):
        nodes = rng.choice([1, 2, 3])
        u = FakeUnit(f"u{i}", users=rng.randint(5, 30), cost=rng.randint(50, 150) * nodes, power_w=100 * nodes,
                     nodes=nodes, gpus=8 * nodes, accelerator_id="a", sku=f"s{i % 2}")
        units.append(u)
        if nodes > 1:
            nics = rng.choice([1, 2, 4])
            need[u.id] = (0, 0, nics) if nodes == 2 and rng.random() < 0.4 else (nodes * nics, nodes, 0)
    sw_ports, sw_price, link_price = rng.choice([4, 8, 16]), rng.randint(5, 40), rng.randint(0, 5)
    rack_of = {s: (rng.choice([1, 2, 3]), 1, rng.randint(0, 30)) for s in ("s0", "s1")}
    demand = rng.randint(20, 70)
    max_racks = rng.choice([None, None, 6])
    cards = {u: rng.choice([0, n or 2]) for u, (p, n, d) in need.items()}
    nic_price = rng.randint(0, 9)
    fabric = Fabric(classes=(FabricClass("f", (FabricSwitch("sw", sw_ports, sw_price),), link_price, nic_price),),
                    switched={u: ("f", p, n) for u, (p, n, d) in need.items() if p},
                    direct={u: ("f", d) for u, (p, n, d) in need.items() if d},
                    nics={u: ("f", c) for u, c in cards.items() if c})
    racks = Racks(groups=tuple(RackGroup(s, per_rack=q, price=c) for s, (q, _, c) in rack_of.items()),
                  units={u.id: (u.sku, u.nodes) for u in units})
    sol = solve_units(units, Limits(demand=demand, max_racks=max_racks), "cost", fabric=fabric, racks=racks)
    expected = _brute_force_cost(units, need, sw_ports, sw_price, link_price, rack_of, demand, max_racks,
                                 cards, nic_price)
    assert (sol.values["cost"] if sol else None) == expected


def test_nodes_sold_without_nics_buy_them(catalog):
    """Llama 3.1 405B in fp8 (~405 GB) needs two 8 × L40S PCIe Gen5 servers (8 × 48 GB = 384 GB each). That
    server's price is a base configuration without its 400 Gb/s RoCE NIC (nics_included: false), and two
    nodes may be cabled directly: 1 link = fiber 120 + 2 × 400G Ethernet transceiver 500, plus 2 NICs × 2,000
    → 5,120 USD of network."""
    from optimizer import check_plan

    problem = problem_from_fields({"model": "llama-3.1-405b", "precision": "fp8", "workload": {"concurrent_users": 4},
                                   "constraints": {"accelerators": ["l40s"]}})
    plan = optimize(catalog, problem)
    [line] = plan.lines
    assert (line.platform, line.nodes_per_replica, line.replicas) == ("pcie-gen5-8gpu", 2, 1)
    [net] = plan.network
    assert (net.fabric, net.direct_links, net.links, net.transceivers, net.nics) == ("ethernet-400", 1, 1, 2, 2)
    assert net.cost == 120 + 2 * 500 + 2 * 2000
    assert {p.item: p.quantity for p in plan.purchases if p.kind == "nic"} == {"nic-eth-400g": 2}
    no_nics = plan.model_copy(update={"network": (net.model_copy(update={"nics": 0}),)})
    assert any("without NICs need 2 NIC cards" in v for v in check_plan(no_nics, catalog, problem))


def test_a_rack_scale_system_above_the_liquid_limit_needs_it_raised(catalog):
    """Vera Rubin NVL72: 30 kW + 72 × 2.3 kW = 195.6 kW in its own rack: over the default 132 kW liquid-rack
    limit, inside 200 kW (its own power shelves, not the generic rack's 132 kW rating, are what count)."""
    from optimizer.racks import rack_kinds
    from optimizer.units import node_power_w

    plat = catalog.platforms["vr200-nvl72-rack"]
    watts = node_power_w(plat, catalog.accelerators["rubin"], 72)
    assert watts == 30_000 + 72 * 2300
    nodes = {"vr200": (plat, watts)}
    default = rack_kinds(catalog, problem_from_fields({"model": "deepseek-r1", "workload": {"concurrent_users": 1}}),
                         "USD", nodes)["vr200"]
    raised = rack_kinds(catalog, problem_from_fields({"model": "deepseek-r1", "workload": {"concurrent_users": 1},
                                                      "constraints": {"max_liquid_rack_kw": 200}}), "USD", nodes)["vr200"]
    assert default.per_rack == 0 and "more than the 132 kW" in default.why_not()
    assert raised.per_rack == 1


def test_the_checker_catches_too_few_switch_ports_and_cables(tmp_path, catalog):
    """Two 8×H20 XE9680 nodes (one replica) without a direct connection: 16 × 400 Gb/s node ports on one
    64-port NDR switch, 16 links; a plan listing no switch, or 15 cables, is caught."""
    from optimizer import check_plan

    cat = _catalog_with(tmp_path, catalog, "xe9680", direct_connect=False)
    problem = problem_from_fields({"model": "deepseek-r1", "prices": "seed-2025-02", "workload": {"kv_reserve_gb": 250},
                                   "constraints": {"currency": "CNY", "accelerators": ["h20-96g"],
                                                   "max_nodes_per_replica": 3}})
    plan = optimize(cat, problem)
    [net] = plan.network
    assert (net.node_ports, net.nodes, net.switches) == (16, 2, (("ib-switch-ndr-64p", 1, 64),))
    no_switch = plan.model_copy(update={"network": (net.model_copy(update={"switches": ()}),)})
    problems = check_plan(no_switch, cat, problem)
    assert any("switches give 0 ports" in v for v in problems)
    assert any("the fabric lists 0 × ib-switch-ndr-64p, the purchases buy 1" in v for v in problems)
    fewer_cables = plan.model_copy(update={"network": (net.model_copy(update={"links": 15}),)})
    assert any("15 cables for 16 links" in v for v in check_plan(fewer_cables, cat, problem))


def test_network_lines_count_in_the_right_number():
    """One fabric class in words: '1 node', '1 cable', '2 links' (was '1 nodes', '1 cables')."""
    from types import SimpleNamespace

    from optimizer.render import _network_text

    one = SimpleNamespace(fabric="ethernet-400", node_ports=8, nodes=1, switches=[("eth-sw", 1, 0)], uplinks=0,
                          direct_links=1, nics=1, links=2, transceivers=1, cost=100, power_w=0)
    text = _network_text(one)
    assert "8 node ports of 1 node on 1 × eth-sw" in text and "1 cable node to node" in text
    assert "1 NIC for" in text and "2 links, 1 transceiver," in text


def test_a_tco_plan_prints_the_total_it_minimized_in_the_table_and_markdown():
    """--objective tco: the table and markdown state the total cost of ownership as its parts add up (it was in
    JSON and the HTML report only)."""
    import json

    from click.testing import CliRunner

    from cli import main

    run = CliRunner()
    data = json.loads(run.invoke(main, ["solve", "deepseek-r1-30-users", "--objective", "tco", "--format",
                                        "json"]).output)
    tco = data["tco"] if "tco" in data else data["plan"]["tco"]
    assert tco["total"] == pytest.approx(tco["capex"] + tco["energy"] + tco["hosting"])
    for fmt in ("table", "md"):
        out = run.invoke(main, ["solve", "deepseek-r1-30-users", "--objective", "tco", "--format", fmt]).output
        flat = " ".join(out.split())
        assert f"Total cost of ownership over {tco['years']:g} years: {tco['total']:,.2f}" in flat
        assert f"capital {tco['capex']:,}" in flat and f"energy {tco['energy']:,.2f}" in flat

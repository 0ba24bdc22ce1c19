"""The CP-SAT model's rules on small synthetic units, each optimum worked by hand (written for mutation
testing of optimizer/model.py, benchmarks/mutation.py): replica bounds, every objective's lexicographic
order, purchases from offers with stock and a seller limit, direct links, NICs and unpriced fabrics, rack
hosting in the TCO term, weighted stages beyond 62 bits, canonical answers and the model's helpers."""

from __future__ import annotations

import pytest

from optimizer.model import (Fabric, FabricClass, FabricSwitch, Limits, OfferVar, Offers, PlanModel, RackGroup,
                             Racks, SolveOptions, replica_bounds, solve_units)
from tests.synthetic import FakeUnit


def _u(uid, users, cost, power=100, nodes=1, gpus=8, acc="a", sku=None):
    return FakeUnit(uid, users=users, cost=cost, power_w=power, nodes=nodes, gpus=gpus, accelerator_id=acc,
                    sku=sku or uid)


U = _u("u", users=10, cost=100, power=50, nodes=2, gpus=16)


@pytest.mark.parametrize("limits, maximize, bound", [
    (Limits(demand=35), False, 4),                     # ⌈35 / 10⌉
    (Limits(demand=35, spare=True), False, 5),         # one more for the spare
    (Limits(demand=35), True, 10**6),                  # maximizing users: the demand caps nothing
    (Limits(max_nodes=9), False, 4),                   # 9 // 2 nodes
    (Limits(budget=450), False, 4),                    # 450 // 100
    (Limits(max_power_w=180), False, 3),               # 180 // 50
    (Limits(stock={"a": 40}), False, 2),               # 40 // 16 GPUs
    (Limits(stock={"b": 0}), False, 10**6),            # another accelerator's stock
    (Limits(), False, 10**6),
    (Limits(max_nodes=1), False, 0),                   # a 2-node replica never fits: dropped
])
def test_replica_bounds_by_hand(limits, maximize, bound):
    assert replica_bounds([U], limits, maximize) == {"u": bound}


def test_free_and_powerless_units_are_not_capped_by_budget_or_power():
    free = _u("f", users=1, cost=0, power=0)
    assert replica_bounds([free], Limits(budget=10, max_power_w=10)) == {"f": 10**6}


def test_each_objective_orders_its_terms():
    """Two ways to serve 20 users: A (2 × 10 users, cost 2 × 100, power 2 × 300 W, 1 node each) or B (one replica
    of 20 users, cost 250, power 400 W, 2 nodes). cost: A (200 < 250); power: B (400 < 600); nodes: A and B both
    need 2 nodes, then cost: A."""
    a = _u("a", users=10, cost=100, power=300, nodes=1)
    b = _u("b", users=20, cost=250, power=400, nodes=2)
    lim = Limits(demand=20)
    assert solve_units([a, b], lim, "cost").replicas == {"a": 2}
    power = solve_units([a, b], lim, "power")
    assert power.replicas == {"b": 1} and power.values == {"cost": 250, "power": 400, "nodes": 2, "users": 20}
    assert solve_units([a, b], lim, "nodes").replicas == {"a": 2}
    # Most users within a budget of 500: 5 × A (50 users) beats 2 × B (40); ties broken by cost.
    users = solve_units([a, b], Limits(demand=1, budget=500), "users")
    assert users.replicas == {"a": 5} and users.values["users"] == 50 and users.values["cost"] == 500
    assert users.status == "optimal" and users.bound == 50      # the proven bound of the primary term


def test_a_primary_tie_is_broken_by_the_next_term():
    """Equal cost (200): A twice at 300 W or B once at 250 W; cost first, then power: B."""
    a = _u("a", users=10, cost=100, power=300)
    b = _u("b", users=20, cost=200, power=250)
    sol = solve_units([a, b], Limits(demand=20), "cost")
    assert sol.replicas == {"b": 1} and sol.values["power"] == 250 and sol.bound == 200 and sol.gap == 0.0


def test_weighted_stages_beyond_62_bits_keep_the_lexicographic_order():
    """Costs near 10^12 and power near 10^9 with bounds near 10^6 replicas cannot share one 62-bit weighted sum,
    so the solve takes more than one stage, and still: cost first (3 × A or 3 × C: 3 × 600e9 = 1.8e12, less
    than B's 2 × 1e12 = 2e12), then power among the cheapest (C ties A on cost with less power: 3 × 800e6)."""
    a = _u("a", users=10, cost=600_000_000_000, power=900_000_000)
    b = _u("b", users=15, cost=1_000_000_000_000, power=100)
    c = _u("c", users=10, cost=600_000_000_000, power=800_000_000)
    sol = solve_units([a, b, c], Limits(demand=30), "cost")
    assert sol.stages > 1
    assert sol.replicas == {"c": 3} and sol.values["cost"] == 1_800_000_000_000
    assert sol.values["power"] == 2_400_000_000


def test_several_workers_give_the_canonical_answer():
    """Two identical units: the canonical optimum is the smallest replica vector in key order — none of the
    first, all of the second."""
    x, y = _u("x", users=10, cost=100), _u("y", users=10, cost=100)
    sol = solve_units([x, y], Limits(demand=30), "cost", SolveOptions(workers=2))
    assert sol.replicas == {"y": 3} and sol.values["cost"] == 300


def test_purchases_fill_the_cheap_offer_up_to_its_stock():
    """A replica needs 1 server and 2 cards; 3 replicas. Servers: S1 at 50 (stock 2), S2 at 60; cards: C1 at 10.
    Cost: 2 × 50 + 1 × 60 + 6 × 10 = 220. With one seller at most (S2 sells servers and cards at 12): 3 × 60 +
    6 × 12 = 252."""
    unit = _u("u", users=10, cost=0)
    offers = (OfferVar("s1", "server", "sa", 50, 2), OfferVar("s2", "server", "sb", 60, None),
              OfferVar("c1", "card", "sa", 10, None), OfferVar("c2", "card", "sb", 12, None),
              OfferVar("unused", "other", "sc", 1, None))
    needs = {"u": (("server", 1), ("card", 2))}
    sol = solve_units([unit], Limits(demand=30), "cost", offers=Offers(offers, needs))
    assert sol.purchases == {"s1": 2, "s2": 1, "c1": 6} and sol.values["cost"] == 220
    one = solve_units([unit], Limits(demand=30), "cost", offers=Offers(offers, needs, max_sellers=1))
    assert one.purchases == {"s2": 3, "c2": 6} and one.values["cost"] == 252
    # A budget of 219 is one short of the cheapest purchase.
    assert solve_units([unit], Limits(demand=30, budget=219), "cost", offers=Offers(offers, needs)) is None


def test_direct_links_nics_and_an_unpriced_fabric():
    """Two-node replicas cabled port to port (4 cables each, 7 per cable), nodes without NICs (2 cards per
    replica at 5): 2 replicas cost 2 × 100 + 8 × 7 + 4 × 5 = 276. A class with no switch offered leaves its
    switched ports unpriced: only the links are paid (8 ports × 2 replicas × 3)."""
    pair = _u("p", users=10, cost=100, nodes=2, gpus=16)
    cls = FabricClass("eth", (), link_price=7, nic_price=5)
    direct = Fabric(classes=(cls,), switched={}, direct={"p": ("eth", 4)}, nics={"p": ("eth", 2)})
    sol = solve_units([pair], Limits(demand=20), "cost", fabric=direct)
    assert sol.values["cost"] == 2 * 100 + 8 * 7 + 4 * 5 and sol.fabric == {}
    unpriced = Fabric(classes=(FabricClass("ib", (), link_price=3),), switched={"p": ("ib", 8, 2)}, direct={})
    sol = solve_units([pair], Limits(demand=20), "cost", fabric=unpriced)
    assert sol.values["cost"] == 2 * 100 + 16 * 3 and sol.fabric == {}
    # A unit that needs no fabric is untouched by it.
    single = _u("s", users=10, cost=120)
    assert solve_units([single], Limits(demand=20), "cost", fabric=direct).values["cost"] == 240


def test_the_cheaper_of_two_switch_types_and_its_power():
    """16 node ports on 8 nodes: one 16-port switch at 30 (20 W) or two 8-port switches at 12 each (5 W): 24 < 30,
    with 10 W; the links (16 × 1) and the switches join cost and power."""
    pair = _u("p", users=10, cost=100, power=50, nodes=2, gpus=16)
    cls = FabricClass("ib", (FabricSwitch("big", 16, 30, 20), FabricSwitch("small", 8, 12, 5)), link_price=1)
    fabric = Fabric(classes=(cls,), switched={"p": ("ib", 4, 2)}, direct={})
    sol = solve_units([pair], Limits(demand=40), "cost", fabric=fabric)
    assert sol.replicas == {"p": 4} and sol.fabric == {"ib": {"small": 2}}
    assert sol.values["cost"] == 400 + 24 + 16 and sol.values["power"] == 200 + 10


def test_tco_counts_energy_and_rack_hosting():
    """TCO = capital + energy per replica + racks at price + hosting. A: 100 + 50 energy, 1 node per rack; B:
    120 + 10 energy, 4 per rack; racks at 5, hosting 40. 2 replicas needed: A: 2 × 150 + 2 × 45 = 390;
    B: 2 × 130 + 1 × 45 = 305."""
    a, b = _u("a", users=10, cost=100, sku="A"), _u("b", users=10, cost=120, sku="B")
    racks = Racks(groups=(RackGroup("A", per_rack=1, price=5, hosting=40), RackGroup("B", per_rack=4, price=5,
                                                                                     hosting=40)),
                  units={"a": ("A", 1), "b": ("B", 1)})
    sol = solve_units([a, b], Limits(demand=20), "tco", tco={"a": 50, "b": 10}, racks=racks)
    assert sol.replicas == {"b": 2} and sol.values["tco"] == 305 and sol.values["cost"] == 245
    assert sol.racks == {"B": 1} and sol.values["racks"] == 1
    # By cost alone: A (2 × 100 + 2 × 5 = 210 < 2 × 120 + 5 = 245).
    assert solve_units([a, b], Limits(demand=20), "cost", racks=racks).replicas == {"a": 2}


def test_a_rack_scale_system_takes_several_racks_per_node():
    """A node that needs 2 racks (racks_per_node 2) at 10 each: 3 nodes → 6 racks; a limit of 5 racks is
    infeasible."""
    big = _u("n", users=10, cost=100, sku="N")
    racks = Racks(groups=(RackGroup("N", per_rack=1, price=10, racks_per_node=2),), units={"n": ("N", 1)})
    sol = solve_units([big], Limits(demand=30), "cost", racks=racks)
    assert sol.racks == {"N": 6} and sol.values["cost"] == 360
    assert solve_units([big], Limits(demand=30, max_racks=5), "cost", racks=racks) is None


def test_a_gpu_term_as_an_objective():
    """Fewest accelerators of kind a: one 4-GPU replica of 20 users beats two 8-GPU replicas of 10 users even
    at a higher cost."""
    small = _u("s", users=10, cost=50, gpus=8)
    dense = _u("d", users=20, cost=200, gpus=4)
    sol = solve_units([small, dense], Limits(demand=20), (("gpus:a", 1), ("cost", 1)))
    assert sol.replicas == {"d": 1} and sol.values["gpus:a"] == 4


def test_model_helpers_feasible_caps_and_no_goods():
    a = _u("a", users=10, cost=100, sku="A")
    b = _u("b", users=10, cost=150, sku="B")
    model = PlanModel([a, b], Limits(demand=20), need_used=True)
    assert model.feasible() is True
    assert model.upper("cost") == 2 * 100 + 2 * 150      # each unit at most ⌈20/10⌉ = 2 replicas
    first = model.solve("cost")
    assert first.replicas == {"a": 2}
    # The next plan must not use exactly {A}: B alone (300) or A with B (250) — the mix is cheaper.
    model.forbid_group_set({"A": ["a"], "B": ["b"]}, {"A"})
    assert model.solve("cost").replicas == {"a": 1, "b": 1}
    model.cap_term("cost", 249)
    assert model.feasible() is False and model.solve("cost") is None
    hinted = PlanModel([a, b], Limits(demand=20))
    hinted.hint({"b": 5})
    assert hinted.solve("cost").replicas == {"a": 2}


def test_the_largest_used_replica_may_fail_under_spare():
    """Spare: capacity minus the largest used replica still covers the demand. 30 users from 20-user replicas
    (cost 100): 2 replicas give 40 − 20 = 20 < 30, so 3 (60 − 20 = 40)."""
    big = _u("big", users=20, cost=100)
    sol = solve_units([big], Limits(demand=30, spare=True), "cost")
    assert sol.replicas == {"big": 3}


def test_a_no_good_forbids_exactly_one_set_of_groups():
    """Groups A, B, C (one unit each, 10 users; cost 100, 1,000, 150); 20 users. The best plan uses {A} (2 × A
    = 200). Forbidding the set {A} leaves supersets allowed: A + C = 250 beats 2 × C = 300."""
    a, b, c = _u("a", 10, 100, sku="A"), _u("b", 10, 1000, sku="B"), _u("c", 10, 150, sku="C")
    model = PlanModel([a, b, c], Limits(demand=20), need_used=True)
    assert model.solve("cost").replicas == {"a": 2}
    model.forbid_group_set({"A": ["a"], "B": ["b"], "C": ["c"]}, {"A"})
    assert model.solve("cost").replicas == {"a": 1, "c": 1}
    model.forbid_group_set({"A": ["a"], "B": ["b"], "C": ["c"]}, {"A", "C"})
    assert model.solve("cost").replicas == {"c": 2}


def test_the_best_single_unit_plan_bounds_the_optimum():
    """_single_unit_bound: the term of the best plan made of one unit alone. A (10 users, cost 100, 300 W) and
    B (20 users, cost 250, 400 W), 30 users: A × 3 costs 300 (B × 2: 500); by power B × 2 = 800 W (A: 900).
    With a spare replica: A × 4 = 400. Under a budget of 350, B (needs 2 × 250) is skipped, not the end of the
    search. Racks (A one per rack at 10, hosting 5): 300 + 3 × 10 = 330 by cost, 3 racks, tco + 3 × 15."""
    a = _u("a", users=10, cost=100, power=300, sku="A")
    b = _u("b", users=20, cost=250, power=400, sku="B")
    assert PlanModel([a, b], Limits(demand=30))._single_unit_bound("cost") == 300
    assert PlanModel([a, b], Limits(demand=30))._single_unit_bound("power") == 800
    assert PlanModel([a, b], Limits(demand=30, spare=True))._single_unit_bound("cost") == 400
    assert PlanModel([b, a], Limits(demand=30, budget=350))._single_unit_bound("cost") == 300
    racks = Racks(groups=(RackGroup("A", per_rack=1, price=10, hosting=5),), units={"a": ("A", 1)})
    racked = PlanModel([b, a], Limits(demand=30), racks=racks, tco={"a": 0, "b": 0})
    assert racked._single_unit_bound("cost") == 330 and racked._single_unit_bound("racks") == 0
    assert PlanModel([a], Limits(demand=30), racks=racks)._single_unit_bound("racks") == 3
    assert PlanModel([a], Limits(demand=30), racks=racks, tco={"a": 7})._single_unit_bound("tco") == \
        3 * (100 + 7) + 3 * (10 + 5)
    assert PlanModel([a], Limits(demand=30, max_racks=2), racks=racks)._single_unit_bound("cost") is None
    assert PlanModel([a], Limits(demand=30, budget=329), racks=racks)._single_unit_bound("cost") is None
    # No bound from this rule: maximizing users, no demand, offers, or constraints added after building.
    assert PlanModel([a, b], Limits(demand=30), maximize_users=True)._single_unit_bound("cost") is None
    assert PlanModel([a, b], Limits())._single_unit_bound("cost") is None
    offers = Offers((OfferVar("o", "server", "s", 1, None),), {"a": (("server", 1),), "b": (("server", 1),)})
    assert PlanModel([a, b], Limits(demand=30), offers=offers)._single_unit_bound("cost") is None
    capped = PlanModel([a, b], Limits(demand=30))
    capped.cap_term("cost", 1000)
    assert capped._single_unit_bound("cost") is None
    # A unit that needs a fabric is left out (its plan also buys switches and links).
    fabric = Fabric(classes=(FabricClass("f", (), 1),), switched={"a": ("f", 8, 2)}, direct={})
    assert PlanModel([a, b], Limits(demand=30), fabric=fabric)._single_unit_bound("cost") == 500


def test_a_known_optimum_bounds_the_next_term_by_ratio():
    """With the cost held at 300, power is at most max over units of 300 × power / cost: A 300 × 300/100 = 900,
    B 300 × 400/250 = 480 → 900, below the variables' own bound 3 × 300 + 2 × 400 = 1,700."""
    a = _u("a", users=10, cost=100, power=300)
    b = _u("b", users=20, cost=250, power=400)
    model = PlanModel([a, b], Limits(demand=30))
    assert model.upper("power") == 1700
    assert model._bound("power", {}) == 1700
    assert model._bound("power", {"cost": 300}) == 900
    assert model._bound("power", {"cost": 0}) == 0          # nothing bought: no power either
    free = _u("f", users=10, cost=0, power=50)
    with_free = PlanModel([a, free], Limits(demand=30))
    assert with_free._bound("power", {"cost": 300}) == with_free.upper("power")   # a free unit: no ratio


def test_stock_allows_exactly_what_is_in_stock():
    """8 GPUs per replica of 10 users; 50 users need 5 replicas = 40 GPUs: a stock of 40 suffices, 39 does not."""
    u = _u("u", users=10, cost=100, gpus=8)
    assert solve_units([u], Limits(demand=50, stock={"a": 40}), "cost").replicas == {"u": 5}
    assert solve_units([u], Limits(demand=50, stock={"a": 39}), "cost") is None


def test_used_flags_only_when_asked():
    a = _u("a", users=10, cost=100)
    assert PlanModel([a], Limits(demand=10)).used == {}
    assert list(PlanModel([a], Limits(demand=10), need_used=True).used) == ["a"]
    assert list(PlanModel([a], Limits(demand=10, max_skus=1)).used) == ["a"]


def test_a_maximized_primary_term_gets_no_start_bound():
    """Most users (then least cost) within the replica bounds of a 30-user demand: A ≤ ⌈30/10⌉ = 3 and
    B ≤ ⌈30/20⌉ = 2 replicas give 3 × 10 + 2 × 20 = 70 users; a minimizing start bound (the best single-unit
    plan, 30 users) must not cap a maximized term."""
    a = _u("a", users=10, cost=100)
    b = _u("b", users=20, cost=250)
    sol = PlanModel([a, b], Limits(demand=30)).solve((("users", -1), ("cost", 1)))
    assert sol.values["users"] == 70 and sol.replicas == {"a": 3, "b": 2}


def test_one_switch_is_counted():
    """Two replicas: 8 node ports fit one 8-port switch (12) rather than the 16-port one (30)."""
    pair = _u("p", users=10, cost=100, power=50, nodes=2, gpus=16)
    cls = FabricClass("ib", (FabricSwitch("big", 16, 30, 20), FabricSwitch("small", 8, 12, 5)), link_price=1)
    sol = solve_units([pair], Limits(demand=20), "cost", fabric=Fabric((cls,), {"p": ("ib", 4, 2)}, {}))
    assert sol.fabric == {"ib": {"small": 1}} and sol.values["cost"] == 200 + 12 + 8


def test_a_staged_solve_leaves_the_model_as_it_found_it():
    """The held optima of a staged solve go on a copy: after solving by cost (3 × C, 1.8e12), the same model
    solved by power still finds 2 × B (200 W). A cap added beforehand (cost ≤ 10^13, which binds nothing)
    stays."""
    a = _u("a", users=10, cost=600_000_000_000, power=900_000_000)
    b = _u("b", users=15, cost=1_000_000_000_000, power=100)
    c = _u("c", users=10, cost=600_000_000_000, power=800_000_000)
    model = PlanModel([a, b, c], Limits(demand=30))
    model.cap_term("cost", 10**13)
    first = model.solve("cost")
    assert first.stages > 1 and first.replicas == {"c": 3}
    second = model.solve("power")
    assert second.replicas == {"b": 2} and second.values["power"] == 200


# -- pools, network racks, rack groups, relaxations and bounds (model run 3's survivors) ----------------------

def _pools():
    """Two decode units (10 and 20 users, 30 and 50 requests per hour sent to prefill), one unit in the decode
    table serving no one, and one prefill unit taking 40 requests per hour."""
    from optimizer.model import Roles

    d1, d2 = _u("d1", users=10, cost=100), _u("d2", users=20, cost=150)
    idle = _u("idle", users=0, cost=10)
    pre = _u("p", users=0, cost=50)
    roles = Roles(prefill={"p": 40}, decode={"d1": 30, "d2": 50, "idle": 5})
    return [d1, d2, idle, pre], roles


def test_prefill_bounds_cover_what_an_optimal_decode_pool_sends():
    """Minimizing for N = 35 users: a decode pool dropping no replica holds < 35 + 20 users, so it sends at most
    max(⌈30·(35+19)/10⌉, ⌈50·(35+19)/20⌉) = max(162, 135) = 162 requests per hour: ⌈162 / 40⌉ = 5 prefill
    replicas. A decode entry serving no one is left out of that ratio. Maximizing users: Σ decode · R =
    30·4 + 50·2 + 5·7 = 255 requests per hour, ⌈255 / 40⌉ = 7."""
    from optimizer.model import _role_bounds

    units, roles = _pools()
    bounds = {"d1": 4, "d2": 2, "idle": 7, "p": 100}
    assert _role_bounds(units, bounds, roles, False, 35)["p"] == 5
    assert _role_bounds(units, bounds, roles, True, 35)["p"] == 7
    assert _role_bounds(units, bounds, roles, False, 35)["d1"] == 4   # decode bounds stay


def test_a_decode_unit_without_a_stated_link_is_not_slower_than_a_link_floor():
    """The prefill unit was sized for decode links of at least 400: a decode unit whose link is not stated is
    not excluded, so one of each serves 10 users (cost 100 + 50)."""
    from optimizer.model import Roles

    d, p = _u("d", users=10, cost=100), _u("p", users=0, cost=50)
    roles = Roles(prefill={"p": 40}, decode={"d": 30}, links={"p": 400})
    sol = solve_units([d, p], Limits(demand=10), "cost", roles=roles)
    assert sol.replicas == {"d": 1, "p": 1} and sol.values["cost"] == 150


def test_a_pool_rate_too_large_for_the_solver_names_the_prefill_pool():
    from catalog.errors import ProblemError
    from optimizer.model import Roles

    d, p = _u("d", users=10, cost=100), _u("p", users=0, cost=50)
    roles = Roles(prefill={"p": 2**62}, decode={"d": 30})   # one replica already reaches 2^62
    with pytest.raises(ProblemError, match="the prefill requests per hour of a plan could reach"):
        PlanModel([d, p], Limits(demand=10, max_nodes=8), roles=roles)


def _switched(power_w=1484, rack_units=1, rack=None):
    from optimizer.model import Fabric, FabricClass, FabricSwitch

    unit = _u("u", users=10, cost=100, power=100, nodes=3, gpus=24)
    fabric = Fabric(classes=(FabricClass("f", (FabricSwitch("sw", ports=8, price=5, power_w=power_w,
                                                             rack_units=rack_units),), link_price=0),),
                    switched={"u": ("f", 24, 3)}, direct={}, rack=rack)
    return unit, fabric   # one replica: 24 node ports on 8-port switches, one tier: ⌈24 / 8⌉ = 3 switches


def test_network_racks_by_height_alone():
    """Three 20U switches that draw nothing stated in 42U racks: ⌈60 / 42⌉ = 2 racks at 7 each."""
    from optimizer.model import NetworkRack

    unit, fabric = _switched(power_w=0, rack_units=20, rack=NetworkRack(rack_units=42, limit_w=2000, price=7))
    sol = solve_units([unit], Limits(demand=10), "cost", fabric=fabric)
    assert sol.racks == {"@network": 2} and sol.values["cost"] == 100 + 3 * 5 + 2 * 7


@pytest.mark.parametrize("limit_w, racks", [(1484 * 3, 1), (1, 3 * 1484)])
def test_network_racks_at_the_power_limit(limit_w, racks):
    """R · limit ≥ 3 × 1,484 W: a rack taking exactly the three switches' draw holds them (1 rack); a 1 W limit
    needs one rack per watt."""
    from optimizer.model import NetworkRack

    unit, fabric = _switched(rack=NetworkRack(rack_units=42, limit_w=limit_w))
    assert solve_units([unit], Limits(demand=10), "cost", fabric=fabric).racks == {"@network": racks}


def test_network_racks_join_the_tco_with_their_price_and_hosting():
    """TCO = the replica (100 + 40 of energy and hosting) + 3 switches × 5 + 3 racks × (7 + 2)."""
    from optimizer.model import NetworkRack

    unit, fabric = _switched(rack=NetworkRack(rack_units=42, limit_w=1484, price=7, hosting=2))
    sol = solve_units([unit], Limits(demand=10), "tco", tco={"u": 40}, fabric=fabric)
    assert sol.racks == {"@network": 3} and sol.values["tco"] == 140 + 15 + 3 * 9


def test_a_rack_group_holding_no_node_buys_no_rack():
    """A node type whose racks hold 0 nodes (no rack fits it) gets no rack variable: the unit is costed alone."""
    racks = Racks(groups=(RackGroup(key="g", per_rack=0, price=1000),), units={"u": ("g", 2)})
    sol = solve_units([U], Limits(demand=10), "cost", racks=racks)
    assert sol.replicas == {"u": 1} and sol.racks == {} and sol.values["cost"] == 100


def test_the_node_cap_relaxation_answers_without_a_solve():
    """Three 1-node units of 10 users under a 2-node cap: each may take 2 replicas (60 users in reach), but two
    nodes serve at most 2 × 10 = 20 < 50 users."""
    units = [_u(k, users=10, cost=100) for k in "abc"]
    model = PlanModel(units, Limits(demand=50, max_nodes=2))
    assert model._demand_out_of_reach() is True
    assert PlanModel(units, Limits(demand=20, max_nodes=2))._demand_out_of_reach() is False


def test_the_single_unit_start_bound_by_hand():
    """Demand 30. 'big' (cost 90, 30 users) breaks the 4-node cap at 5 nodes; 'net' needs the fabric; 'norack'
    sits in a group whose racks hold no node; 'a' (cost 100, 10 users, 1 node) needs 3 replicas and ⌈3/2⌉ = 2
    racks at 50: 300 + 100 = 400, exactly the budget; 'b' (cost 130, 15 users) 2 replicas, 1 rack: 310. Every
    skipped unit comes first in the list, so none may end the search: the bound is min(400, 310) = 310."""
    from optimizer.model import Fabric

    big = _u("big", users=30, cost=90, nodes=5)
    net = _u("net", users=30, cost=10)
    norack = _u("norack", users=30, cost=20)
    a, b = _u("a", users=10, cost=100), _u("b", users=15, cost=130)
    racks = Racks(groups=(RackGroup(key="g", per_rack=2, price=50), RackGroup(key="z", per_rack=0)),
                  units={"a": ("g", 1), "b": ("g", 1), "norack": ("z", 1)})
    fabric = Fabric(classes=(), switched={"net": ("f", 8, 1)}, direct={})
    model = PlanModel([big, net, norack, a, b], Limits(demand=30, max_nodes=4, budget=400), racks=racks,
                      fabric=fabric)
    assert model._single_unit_bound("cost") == 310
    only_a = PlanModel([big, net, norack, a], Limits(demand=30, max_nodes=4, budget=400), racks=racks, fabric=fabric)
    assert only_a._single_unit_bound("cost") == 400   # a plan costing exactly the budget meets it


def test_solve_returns_the_canonical_choice_with_several_workers(monkeypatch):
    """With more than one worker, the answer is what `_canonical` chooses, not the first optimum found."""
    monkeypatch.setattr(PlanModel, "_canonical", lambda self, values, terms, options: {"x": 7, "y": 0})
    x, y = _u("x", users=10, cost=100), _u("y", users=10, cost=100)
    sol = solve_units([x, y], Limits(demand=30), "cost", SolveOptions(workers=2))
    assert sol.replicas == {"x": 7}


def test_a_replica_costing_one_money_unit_is_still_capped_by_the_budget():
    cheap = _u("c", users=1, cost=1)
    assert replica_bounds([cheap], Limits(budget=5)) == {"c": 5}

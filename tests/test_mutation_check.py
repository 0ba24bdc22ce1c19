"""The checker's fabric rules, one tampered network at a time (written for mutation testing of
optimizer/check.py, benchmarks/mutation.py).

The plan: DeepSeek-R1 on two 8 × H20 XE9680 nodes in one replica, with the platform's direct connection
turned off, so its 2 × 8 = 16 InfiniBand 400 Gb/s node ports go through one 64-port NDR switch."""

from __future__ import annotations

import pytest
import yaml

from catalog import load_catalog
from optimizer import check_plan, optimize, problem_from_fields

KEY = "infiniband-400"


@pytest.fixture(scope="module")
def switched(catalog, tmp_path_factory):
    record = catalog.platforms["xe9680"].model_dump(mode="json", exclude_defaults=True)
    record["direct_connect"] = False
    path = tmp_path_factory.mktemp("catalog") / "override.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "platforms": [record]}, allow_unicode=True))
    cat = load_catalog([path])
    problem = problem_from_fields({"model": "deepseek-r1", "prices": "seed-2025-02", "workload": {"kv_reserve_gb": 250},
                                   "constraints": {"currency": "CNY", "accelerators": ["h20-96g"],
                                                   "max_nodes_per_replica": 3}})
    plan = optimize(cat, problem)
    [net] = plan.network
    assert (net.fabric, net.node_ports, net.nodes, net.uplinks) == (KEY, 16, 2, 0)
    assert net.switches == (("ib-switch-ndr-64p", 1, 64),)
    return cat, problem, plan


def _fabric(plan, catalog, problem, replicas=None, **change):
    """The fabric messages of the plan with its network changed (and, with `replicas`, its line scaled so the
    lines need that many node ports: 16 per replica)."""
    [net] = plan.network
    if replicas is not None:
        line = plan.lines[0].model_copy(update={"replicas": replicas})
        plan = plan.model_copy(update={"lines": (line,)})
        change = {"node_ports": 16 * replicas, "nodes": 2 * replicas, "links": 16 * replicas + change.get("uplinks", 0),
                  **change}
    tampered = plan.model_copy(update={"network": (net.model_copy(update=change),)})
    return [v for v in check_plan(tampered, catalog, problem) if v.startswith(f"{KEY} fabric:")]


def test_the_honest_switched_plan_passes(switched):
    cat, problem, plan = switched
    assert check_plan(plan, cat, problem) == []


@pytest.mark.parametrize("item, ports", [
    ("eth-switch-400g-64p", 64),      # right speed and ports, wrong protocol
    ("ib-switch-hdr-40p", 40),        # InfiniBand, but 200 Gb/s
    ("nic-ib-400g", 1),               # InfiniBand 400 Gb/s, but a NIC
])
def test_a_switch_of_the_wrong_kind_protocol_or_speed_is_named(switched, item, ports):
    cat, problem, plan = switched
    found = _fabric(plan, cat, problem, switches=((item, 1, ports),))
    # No usable switch: no ports, and "the largest switch" has 0 of them.
    assert found == [f"{KEY} fabric: {item} is not a infiniband switch of 400 Gb/s or faster",
                     f"{KEY} fabric: 2 nodes exceed the 0 ports of one switch, so 16 uplinks are needed; the plan has 0",
                     f"{KEY} fabric: switches give 0 ports, 16 node ports and 0 uplinks need 16",
                     f"{KEY} fabric: 2 nodes exceed a two-tier fat tree of 0-port switches"]


def test_a_wrong_switch_is_named_and_the_good_one_after_it_still_counts(switched):
    cat, problem, plan = switched
    found = _fabric(plan, cat, problem, switches=(("ib-switch-hdr-40p", 1, 40), ("ib-switch-ndr-64p", 1, 64)))
    assert found == [f"{KEY} fabric: ib-switch-hdr-40p is not a infiniband switch of 400 Gb/s or faster"]


def test_a_faster_switch_of_the_same_protocol_is_fine(switched):
    cat, problem, plan = switched
    assert _fabric(plan, cat, problem, switches=(("ib-switch-xdr-144p", 1, 144),)) == []


def test_too_few_switch_ports(switched):
    cat, problem, plan = switched
    assert _fabric(plan, cat, problem, switches=())[1] == \
        f"{KEY} fabric: switches give 0 ports, 16 node ports and 0 uplinks need 16"
    # 3 replicas = 6 nodes, 48 node ports on 1 switch of 64: enough; 5 replicas = 80 ports: not.
    assert _fabric(plan, cat, problem, replicas=3) == []
    assert _fabric(plan, cat, problem, replicas=5) == [
        f"{KEY} fabric: switches give 64 ports, 80 node ports and 0 uplinks need 80"]
    assert _fabric(plan, cat, problem, replicas=5, switches=(("ib-switch-ndr-64p", 2, 64),)) == []


def test_two_tiers_at_their_boundary(switched):
    """One tier while the nodes fit one switch's 64 ports (32 replicas = 64 nodes, 512 node ports on 8
    switches); 33 replicas = 66 nodes need leaves and spines: 528 uplinks, 528 + 2 × 528 = 1,584 ports = 24.75
    switches, so 25."""
    cat, problem, plan = switched
    assert _fabric(plan, cat, problem, replicas=32, switches=(("ib-switch-ndr-64p", 8, 64),)) == []
    assert _fabric(plan, cat, problem, replicas=33, switches=(("ib-switch-ndr-64p", 9, 64),)) == [
        f"{KEY} fabric: 66 nodes exceed the 64 ports of one switch, so 528 uplinks are needed; the plan has 0"]
    assert _fabric(plan, cat, problem, replicas=33, uplinks=528, links=528 + 528,
                   switches=(("ib-switch-ndr-64p", 25, 64),)) == []
    assert _fabric(plan, cat, problem, replicas=33, uplinks=528, links=528 + 528,
                   switches=(("ib-switch-ndr-64p", 24, 64),)) == [
        f"{KEY} fabric: switches give 1536 ports, 528 node ports and 528 uplinks need 1584"]
    assert _fabric(plan, cat, problem, replicas=33, uplinks=527, links=528 + 527,
                   switches=(("ib-switch-ndr-64p", 25, 64),)) == [
        f"{KEY} fabric: 66 nodes exceed the 64 ports of one switch, so 528 uplinks are needed; the plan has 527"]


def test_a_two_tier_fat_tree_has_a_ceiling(switched):
    """64-port switches in two tiers reach 64 × 64 / 2 = 2,048 nodes: 1,024 replicas fit, 1,025 (2,050 nodes)
    do not."""
    cat, problem, plan = switched
    for replicas, over in ((1024, False), (1025, True)):
        ports = 16 * replicas
        found = _fabric(plan, cat, problem, replicas=replicas, uplinks=ports, links=2 * ports,
                        switches=(("ib-switch-ndr-64p", -(-3 * ports // 64), 64),))
        ceiling = f"{KEY} fabric: {2 * replicas} nodes exceed a two-tier fat tree of 64-port switches"
        assert found == ([ceiling] if over else [])


def test_cables_must_match_the_links(switched):
    cat, problem, plan = switched
    assert _fabric(plan, cat, problem, links=17) == [f"{KEY} fabric: 17 cables for 16 links"]


@pytest.fixture(scope="module")
def no_nics(catalog):
    """Llama 3.1 405B fp8 on two 8 × L40S PCIe servers in one replica, sold without their one 400 Gb/s NIC each
    (nics_included: false): two NIC cards bought, one direct cable."""
    problem = problem_from_fields({"model": "llama-3.1-405b", "precision": "fp8", "workload": {"concurrent_users": 4},
                                   "constraints": {"accelerators": ["l40s"]}})
    plan = optimize(catalog, problem)
    [net] = plan.network
    assert (net.fabric, net.nics, net.direct_links) == ("ethernet-400", 2, 1)
    return problem, plan


def _nic_messages(catalog, problem, plan):
    return [v for v in check_plan(plan, catalog, problem) if "NIC cards" in v]


def test_nics_for_nodes_sold_without_them(catalog, no_nics):
    problem, plan = no_nics
    assert check_plan(plan, catalog, problem) == []
    [net] = plan.network
    listed = plan.model_copy(update={"network": (net.model_copy(update={"nics": 3}),)})
    assert _nic_messages(catalog, problem, listed) == [
        "ethernet-400 fabric: nodes sold without NICs need 2 NIC cards; the plan lists 3 and buys 2"]
    # Listed right, bought short: one card instead of two.
    purchases = tuple(p.model_copy(update={"quantity": 1}) if p.kind == "nic" else p for p in plan.purchases)
    short = plan.model_copy(update={"purchases": purchases})
    assert _nic_messages(catalog, problem, short) == [
        "ethernet-400 fabric: nodes sold without NICs need 2 NIC cards; the plan lists 2 and buys 1"]


# -- racks: the H100 PCIe offers plan, one 4-card and one 8-card PCIe Gen5 server (4U, air), 2.9 and 4.3 kW,
# each node type in its own 42U, 40 kW air rack: 8-card nodes fit min(42 // 4, 40,000 // 4,300) = 9 per rack.
EIGHT = "pcie-gen5-8gpu+8xh100-pcie"


@pytest.fixture(scope="module")
def pcie(catalog):
    from optimizer import load_problem
    from problems import bundled_problem_path

    problem = load_problem(bundled_problem_path("llama-3.1-70b-h100-pcie-offers"))
    plan = optimize(catalog, problem)
    assert [(r.node_type, r.rack, r.racks, r.nodes) for r in plan.racks] == [
        ("pcie-gen5-8gpu+4xh100-pcie", "rack-42u-air", 1, 1), (EIGHT, "rack-42u-air", 1, 1)]
    assert [l.node_power_w for l in plan.lines] == [2900, 4300]
    return problem, plan


def _with(problem, **constraints):
    from optimizer import with_overrides

    return with_overrides(problem, {("constraints", k): (f"--{k}", v) for k, v in constraints.items()})


def _rack_messages(catalog, problem, plan, eight_nodes=None, **rack_change):
    if eight_nodes is not None:
        lines = (plan.lines[0], plan.lines[1].model_copy(update={"replicas": eight_nodes}))
        plan = plan.model_copy(update={"lines": lines})
    if rack_change:
        racks = (plan.racks[0], plan.racks[1].model_copy(update=rack_change))
        plan = plan.model_copy(update={"racks": racks})
    words = ("rack", "racks", "facility")
    return [v for v in check_plan(plan, catalog, problem) if any(w in v for w in words) and "total" not in v]


def test_rack_counts_at_their_boundary(catalog, pcie):
    problem, plan = pcie
    assert _rack_messages(catalog, problem, plan, eight_nodes=9, nodes=9) == []
    assert _rack_messages(catalog, problem, plan, eight_nodes=10, nodes=10) == [
        f"10 × {EIGHT} need 2 racks at 9 per rack (40 kW, 42U); the plan has 1"]
    assert _rack_messages(catalog, problem, plan, eight_nodes=10, nodes=10, racks=2) == []
    assert _rack_messages(catalog, problem, plan, nodes=2) == [f"racks of {EIGHT} hold 2 nodes, the lines have 1"]


def test_a_node_type_without_racks(catalog, pcie):
    problem, plan = pcie
    bare = plan.model_copy(update={"racks": plan.racks[:1]})
    assert _rack_messages(catalog, problem, bare) == [f"1 × {EIGHT} have no racks"]


def test_a_node_above_the_rack_limit_and_at_it(catalog, pcie):
    problem, plan = pcie
    assert _rack_messages(catalog, _with(problem, max_rack_kw=4.3), plan) == []
    assert _rack_messages(catalog, _with(problem, max_rack_kw=4.2), plan) == [
        f"one {EIGHT} (4.3 kW, 4U) fits no 4.2 kW, 42U rack"]


def test_the_rack_must_match_the_cooling(catalog, pcie):
    problem, plan = pcie
    found = _rack_messages(catalog, problem, plan, rack="rack-48u-liquid")
    assert f"{EIGHT} is air-cooled but racked in rack-48u-liquid (liquid-cooled)" in found


def test_max_racks_bought_racks_and_the_site_cap(catalog, pcie):
    problem, plan = pcie
    assert _rack_messages(catalog, _with(problem, max_racks=2), plan) == []
    assert _rack_messages(catalog, _with(problem, max_racks=1), plan) == [
        "the plan fills 2 racks, more than the limit of 1"]
    assert _rack_messages(catalog, problem, plan, cost=1000) == [
        "racks bought {}, racks listed {'rack-42u-air': 1}"]
    # IT draw 2,900 + 4,300 = 7,200 W × PUE 1.4 = 10.08 kW: a cap of 10.08 kW holds, 10.07 does not.
    assert problem.tco.pue == 1.4
    assert _rack_messages(catalog, _with(problem, max_site_kw=10.08), plan) == []
    assert _rack_messages(catalog, _with(problem, max_site_kw=10.07), plan) == [
        "the facility draws 10.1 kW (PUE 1.4), more than the site cap of 10.07 kW"]


def test_liquid_cooled_nodes_take_the_liquid_rack_limit(catalog, pcie):
    """The 8-card line restated on a liquid-cooled 4U server (UBB MI355X) in 48U liquid racks: the limit is
    max_liquid_rack_kw (132 kW), so min(48 // 4, 132,000 // 4,300) = 12 nodes fit a rack — 10 nodes in one
    rack hold (at the 40 kW air limit only 9 would)."""
    problem, plan = pcie
    sku = "ubb-mi355x-8oam+8xh100-pcie"
    lines = (plan.lines[0], plan.lines[1].model_copy(update={"platform": "ubb-mi355x-8oam", "replicas": 10}))
    racks = (plan.racks[0], plan.racks[1].model_copy(update={"node_type": sku, "rack": "rack-48u-liquid",
                                                             "cooling": "liquid", "nodes": 10}))
    liquid = plan.model_copy(update={"lines": lines, "racks": racks})
    assert not [v for v in check_plan(liquid, catalog, problem) if "rack" in v]
    thirteen = liquid.model_copy(update={"racks": (racks[0], racks[1].model_copy(update={"nodes": 13})),
                                       "lines": (lines[0], lines[1].model_copy(update={"replicas": 13}))})
    assert f"13 × {sku} need 2 racks at 12 per rack (132 kW, 48U); the plan has 1" in check_plan(thirteen, catalog,
                                                                                                   problem)


def test_a_fabric_no_line_needs_is_named(catalog, pcie, switched):
    """A single-node plan that lists an InfiniBand fabric: the lines need no node port at all."""
    problem, plan = pcie
    _, _, two_nodes = switched
    listed = plan.model_copy(update={"network": two_nodes.network})
    assert (f"{KEY} fabric: the lines need 0 node ports on 0 nodes and 0 direct cables, the plan says 16 on 2 and 0"
            in check_plan(listed, catalog, problem))


def test_a_rack_scale_node_fills_its_own_racks(catalog, pcie):
    """CloudMatrix 384 takes 16 racks per node (racks_per_node): one node restated on it needs 16 liquid racks,
    so 1 rack is short and 16 hold."""
    problem, plan = pcie
    sku = "cloudmatrix-384+8xh100-pcie"
    lines = (plan.lines[0], plan.lines[1].model_copy(update={"platform": "cloudmatrix-384"}))
    racks = (plan.racks[0], plan.racks[1].model_copy(update={"node_type": sku, "rack": "rack-48u-liquid",
                                                             "cooling": "liquid"}))
    one = plan.model_copy(update={"lines": lines, "racks": racks})
    assert f"1 × {sku} need 16 racks at 1 per rack (132 kW, 48U); the plan has 1" in check_plan(one, catalog, problem)
    sixteen = one.model_copy(update={"racks": (racks[0], racks[1].model_copy(update={"racks": 16}))})
    assert not [v for v in check_plan(sixteen, catalog, problem) if "racks at" in v]


def test_the_checkers_own_request_bytes_for_window_layers(catalog):
    """Gemma 4 26B-A4B: 5 full layers of 2 KV heads × 512 dims and 25 sliding-window layers (1,024 tokens) of
    8 heads × 256 dims, bf16. One 4,000-token request: 5 × 2 × 2 × 512 × 2 B × 4,000 + 25 × 2 × 8 × 256 × 2 B
    × 1,024; on one of 2 TP ranks each layer keeps half the heads, and one of 2 stages half of it all."""
    from optimizer.check import _request_bytes, _request_rank_bytes

    m = catalog.models["gemma-4-26b-a4b"]
    whole = 5 * 2 * 2 * 512 * 2 * 4000 + 25 * 2 * 8 * 256 * 2 * 1024
    assert _request_bytes(m, "bf16", 4000) == whole
    assert _request_rank_bytes(m, "bf16", 2, 2, False, 4000) == (5 * 2 * 1 * 512 * 2 * 4000
                                                                 + 25 * 2 * 4 * 256 * 2 * 1024) / 2


def test_a_cpu_plan_is_checked_without_a_flops_bound(catalog):
    """Llama-3.1-8B Q4_K_M on a two-socket EPYC 9654 host (llama.cpp, KV spread over the sockets) passes; with
    1,000 times its users the KV rule objects, but no FLOPS bound does (CPU FLOPS figures are estimates)."""
    problem = problem_from_fields({"model": "llama-3.1-8b", "precision": "q4_k_m", "prices": "street-usd-2025",
                                   "workload": {"concurrent_users": 2, "min_tokens_per_s": 5},
                                   "constraints": {"accelerators": ["epyc-9654"]}})
    plan = optimize(catalog, problem)
    assert plan.lines[0].accelerator == "epyc-9654" and check_plan(plan, catalog, problem) == []
    line = plan.lines[0]
    crowded = plan.model_copy(update={"lines": (line.model_copy(update={"users_per_replica":
                                                                         1000 * line.users_per_replica}),)})
    found = check_plan(crowded, catalog, problem)
    assert any("users per replica, but a KV budget" in v for v in found)
    assert not any("TFLOPS" in v for v in found)


def test_two_multi_node_lines_add_their_node_ports(catalog, switched):
    """The two-node line listed twice needs 2 × 16 node ports on 4 nodes; the plan's fabric says 16 on 2."""
    cat, problem, plan = switched
    doubled = plan.model_copy(update={"lines": (plan.lines[0], plan.lines[0])})
    assert (f"{KEY} fabric: the lines need 32 node ports on 4 nodes and 0 direct cables, the plan says 16 on 2 and 0"
            in check_plan(doubled, cat, problem))


def test_a_node_type_without_racks_does_not_hide_the_next_one(catalog, pcie):
    """The 4-card node type (first by name) has no racks and the 8-card one needs 2 racks for 10 nodes but
    lists 1: both are named (the rule goes on to the next node type)."""
    problem, plan = pcie
    ten = plan.model_copy(update={"lines": (plan.lines[0], plan.lines[1].model_copy(update={"replicas": 10})),
                                  "racks": (plan.racks[1].model_copy(update={"nodes": 10}),)})
    assert _rack_messages(catalog, problem, ten) == [
        "1 × pcie-gen5-8gpu+4xh100-pcie have no racks",
        f"10 × {EIGHT} need 2 racks at 9 per rack (40 kW, 42U); the plan has 1"]


def test_the_site_cap_counts_every_node_of_a_line(catalog, pcie):
    """Nine 8-card nodes: IT draw 2,900 + 9 × 4,300 = 41,600 W, × PUE 1.4 = 58.24 kW: 58.24 holds, 58.23 not."""
    problem, plan = pcie
    assert _rack_messages(catalog, _with(problem, max_site_kw=58.24), plan, eight_nodes=9, nodes=9) == []
    assert _rack_messages(catalog, _with(problem, max_site_kw=58.23), plan, eight_nodes=9, nodes=9) == [
        "the facility draws 58.2 kW (PUE 1.4), more than the site cap of 58.23 kW"]


def test_racks_bought_match_the_racks_listed(catalog, pcie):
    """With the rack price list the plan buys the racks it lists: it passes; without the purchases the rule
    names both sides."""
    problem, _ = pcie
    priced = problem.model_copy(update={"network_prices": ["racks-usd-2026"]})
    plan = optimize(catalog, priced)
    bought: dict[str, int] = {}
    listed: dict[str, int] = {}
    for p in plan.purchases:                               # one row per offer; the same rack may recur
        if p.kind == "rack":
            bought[p.item] = bought.get(p.item, 0) + p.quantity
    for r in plan.racks:                                   # one row per node type
        listed[r.rack] = listed.get(r.rack, 0) + r.racks
    assert bought and bought == listed and check_plan(plan, catalog, priced) == []
    unbought = plan.model_copy(update={"purchases": tuple(p for p in plan.purchases if p.kind != "rack")})
    assert f"racks bought {{}}, racks listed {listed}" in check_plan(unbought, catalog, priced)


# -- a disaggregated plan (DeepSeek-R1, 8k-token prompts, SGLang on H200 or MI355X): each pool rule's numbers


@pytest.fixture(scope="module")
def pooled(catalog):
    from .test_disagg import _small_problem

    problem = _small_problem(serving="disaggregated")
    return optimize(catalog, problem), problem


def _pool_messages(catalog, problem, plan, role, **fields):
    lines = tuple(l.model_copy(update=fields) if l.role == role else l for l in plan.lines)
    return check_plan(plan.model_copy(update={"lines": lines}), catalog, problem)


def test_each_pool_rule_states_its_numbers(catalog, pooled):
    plan, problem = pooled
    assert check_plan(plan, catalog, problem) == []
    pre = next(l for l in plan.lines if l.role == "prefill")
    dec = next(l for l in plan.lines if l.role == "decode")
    # Decode: users × tok/s × 3600 / (output − 1) requests per hour with the batch full.
    finish = dec.users_per_replica * dec.tokens_per_s_per_user * 3600 / (problem.workload.output_tokens - 1)
    slow = _pool_messages(catalog, problem, plan, "decode", requests_per_hour_per_replica=int(finish * 0.9))
    assert any(f"finish {finish:,.0f} requests per hour, the line says {int(finish * 0.9):,}" in m for m in slow)
    # A prefill line that states no rate takes no request.
    none = _pool_messages(catalog, problem, plan, "prefill", requests_per_hour_per_replica=None)
    assert any(m.startswith("the prefill pool takes 0 requests per hour") for m in none)
    # TTFT: the message names the line's rate.
    early = _pool_messages(catalog, problem, plan, "prefill", ttft_p90_s=pre.prefill_s)
    assert any(m.startswith(f"{pre.item} (prefill): at {pre.requests_per_hour_per_replica:,.0f} requests per hour")
               and "waits to a TTFT" in m for m in early)
    # The TTFT target: the plan's own p90 TTFT passes at a target equal to it and fails just below.
    tight = problem.model_copy(update={"workload": problem.workload.model_copy(
        update={"max_ttft_s": pre.ttft_p90_s * 0.999})})
    assert any("exceeds the" in m for m in check_plan(plan, catalog, tight))


def test_a_switch_without_stated_height_counts_as_one_rack_unit(switched, tmp_path):
    """The plan's one 64-port NDR switch restated without `rack_units`: it counts 1U, and with its network
    rack removed the rule names 1U and the switch's maximum draw."""
    cat, problem, plan = switched
    sw = cat.network_items["ib-switch-ndr-64p"]
    record = sw.model_dump(mode="json", exclude_defaults=True)
    record.pop("rack_units")
    xe = cat.platforms["xe9680"].model_dump(mode="json", exclude_defaults=True)   # the fixture's own override
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "platforms": [xe], "network_items": [record]},
                                   allow_unicode=True))
    unstated = load_catalog([path])
    assert unstated.network_items[sw.id].rack_units is None
    no_rack = plan.model_copy(update={"racks": tuple(r for r in plan.racks if r.load_w is None)})
    assert f"1U of switches drawing {sw.power_w:,} W have no network racks" in check_plan(no_rack, unstated, problem)


def test_request_bytes_keep_every_window_head_when_whole(catalog):
    """Gemma 4 26B-A4B on 2 TP ranks but with the cache whole on each (as MLA is): every head of every
    layer, the same bytes as unsharded (see the window-layer test above for the arithmetic)."""
    from optimizer.check import _request_bytes, _request_rank_bytes

    m = catalog.models["gemma-4-26b-a4b"]
    assert _request_rank_bytes(m, "bf16", 2, 1, True, 4000) == _request_bytes(m, "bf16", 4000) == \
        5 * 2 * 2 * 512 * 2 * 4000 + 25 * 2 * 8 * 256 * 2 * 1024


def test_the_checkers_md1_ttft_by_hand():
    """One prefill server, 1 prompt/s of 0.5 s: ρ = 0.5, mean wait ρS / 2(1 − ρ) = 0.25 s; p90 by Kingman's tail
    W̄/ρ · ln(ρ / 0.1) = 0.5 · ln 5; below ρ = 0.1 no p90 wait; at ρ ≥ 1 no finite TTFT. `fixed` adds."""
    import math

    from optimizer.check import _md1_ttft

    assert _md1_ttft(1.0, 0.5, 1.0, 50) == pytest.approx(1.25)
    assert _md1_ttft(1.0, 0.5, 1.0, 90) == pytest.approx(1.0 + 0.5 * math.log(5))
    assert _md1_ttft(0.1, 0.5, 1.0, 90) == 1.0
    assert _md1_ttft(0.1, 0.5, 1.0, 50) == pytest.approx(1.0 + 0.05 * 0.5 / (2 * 0.95))
    assert _md1_ttft(2.0, 0.5, 1.0, 50) == math.inf


def test_open_loop_pools_take_the_request_rate(catalog, pooled):
    """Given a request rate, the prefill pool must take rate × 3,600 requests per hour (not what the decode pool
    returns): one request per second more than the pool takes is named."""
    plan, problem = pooled
    take = sum(l.requests_per_hour_per_replica * l.replicas for l in plan.lines if l.role == "prefill")
    rate = (take + 3600) / 3600
    open_loop = problem.model_copy(update={"workload": problem.workload.model_copy(update={"request_rate": rate})})
    assert f"the prefill pool takes {take:,} requests per hour, the decode pool sends {take + 3600:,}" in \
        check_plan(plan, catalog, open_loop)


def test_a_mean_ttft_target_reads_the_mean_ttft(catalog, pooled):
    """With ttft_percentile 50 the rule reads the line's mean TTFT: a mean stated below the queue's is named,
    whatever its p90 says."""
    plan, problem = pooled
    mean = problem.model_copy(update={"workload": problem.workload.model_copy(update={"ttft_percentile": 50})})
    pre = next(l for l in plan.lines if l.role == "prefill")
    low = _pool_messages(catalog, mean, plan, "prefill", ttft_s=pre.prefill_s * 0.5)
    assert any("waits to a TTFT" in m and "(p50)" in m for m in low)


# -- check run 5's survivors: module bits, purchase order, the layout's attention DP ------------------------------

def _small_model(catalog, moe: bool):
    """A model with round shapes: hidden 1,000, vocabulary 100,000, 10 layers of GQA (8 heads, 2 KV heads of 100
    dims), 2 B parameters, untied head; with `moe`, 1 B of them in routed experts."""
    base = catalog.models["qwen3-235b-a22b" if moe else "llama-3.1-70b"]
    att = base.attention.model_copy(update={"kind": "gqa", "heads": 8, "kv_heads": 2, "head_dim": 100})
    update = {"hidden_size": 1000, "vocab_size": 100_000, "layers": 10, "params_b": 2.0, "attention": att,
              "tie_word_embeddings": False}
    if moe:
        update["moe"] = base.moe.model_copy(update={"expert_params_b": 1.0})
    return base.model_copy(update=update)


def _variant(model, **fields):
    from catalog.schema import ModuleBits

    v = model.variants[0]
    if "module_bits" in fields:
        fields["module_bits"] = ModuleBits(**fields["module_bits"])
    return v.model_copy(update={"size_gb": None, "format": "safetensors", "bits_per_weight": 8.0,
                                "module_bits": None, "unquantized_layers": [], **fields})


def test_weights_with_module_bits_by_hand(catalog):
    """Embedding and head 1e8 parameters each, attention 10 × (2·8 + 2·2) × 100 × 1,000 = 2e7, experts 1e9, the
    rest 2e9 − 1.22e9 = 7.8e8. Experts at 4 bits and the head at 8; the embedding at 16 (safetensors), attention
    at the checkpoint's 8; the rest at the smallest bits used, 4:
    1e8·2 + 1e8·1 + 2e7·1 + 1e9·0.5 + 7.8e8·0.5 = 1.21e9 bytes."""
    from optimizer.check import _weights_bytes

    m = _small_model(catalog, moe=True)
    v = _variant(m, module_bits={"experts": 4, "lm_head": 8})
    assert _weights_bytes(m, v) == pytest.approx(2e8 + 1e8 + 2e7 + 5e8 + 3.9e8, rel=1e-9)
    gguf = _variant(m, format="gguf", module_bits={"experts": 4, "lm_head": 8})   # the embedding at 8 bits too
    assert _weights_bytes(m, gguf) == pytest.approx(1e8 + 1e8 + 2e7 + 5e8 + 3.9e8, rel=1e-9)


def test_unquantized_layers_of_a_dense_model_by_hand(catalog):
    """Dense, 8 bits, layers 0 and 3 kept in 16 bits: embedding and head at 16 bits (2e8 bytes each), attention
    2e7 bytes, the rest 2e9 − 2.2e8 = 1.78e9 bytes; each listed layer adds its attention's 2e7 / 10 and its tenth of
    the rest, 1.78e8, at 8 more bits: 2.2e9 + 2 × (2e6 + 1.78e8) = 2.56e9 bytes."""
    from optimizer.check import _weights_bytes

    m = _small_model(catalog, moe=False)
    assert _weights_bytes(m, _variant(m, unquantized_layers=[0, 3])) == pytest.approx(2.56e9, rel=1e-9)


def test_a_network_purchase_listed_first_does_not_hide_the_node_sellers_rule(switched):
    """The sellers rule is skipped for the switch only: with the switch's purchase first, the node's seller
    outside constraints.sellers is still named."""
    cat, problem, plan = switched
    net = [p for p in plan.purchases if p.item in cat.network_items]
    nodes = [p for p in plan.purchases if p.item not in cat.network_items and p.item not in cat.racks]
    assert net and nodes
    reordered = plan.model_copy(update={"purchases": tuple(net) + tuple(p for p in plan.purchases if p not in net)})
    only = _with(problem, sellers=["nobody"])
    found = check_plan(reordered, cat, only)
    assert any(f"{nodes[0].item} bought from {nodes[0].seller}, not in constraints.sellers" in v for v in found)
    assert not any(f"{net[0].item} bought from" in v and "constraints.sellers" in v for v in found)


def test_the_attention_dp_message_says_the_line_has_it_on(switched):
    """The H20 plan's layout has one attention group; a line claiming attention DP is named as having it on."""
    cat, problem, plan = switched
    line = plan.lines[0]
    assert not line.dp_attention and line.sizing.dp == 1
    bad = line.model_copy(update={"dp_attention": True})
    found = check_plan(plan.model_copy(update={"lines": (bad,)}), cat, problem)
    assert any("data-parallel attention is on but the layout has" in v for v in found), found


def test_pool_rules_count_decode_replicas_and_refuse_an_aggregated_line(catalog, pooled):
    """The decode pool sends back its replicas' requests together: with the decode line restated at twice its
    replicas, the message names twice the rate. A disaggregated plan with a line left aggregated is refused."""
    plan, problem = pooled
    dec = next(l for l in plan.lines if l.role == "decode")
    pre = next(l for l in plan.lines if l.role == "prefill")
    sends = dec.requests_per_hour_per_replica * dec.replicas
    per_prefill = -(-sends // pre.replicas)   # the prefill pool restated to take just what the decode pool sends
    lines = tuple(l.model_copy(update={"requests_per_hour_per_replica": per_prefill}) if l.role == "prefill" else
                  l.model_copy(update={"replicas": l.replicas * 2}) if l.role == "decode" else l for l in plan.lines)
    doubled = check_plan(plan.model_copy(update={"lines": lines}), catalog, problem)
    take = per_prefill * pre.replicas
    assert f"the prefill pool takes {take:,} requests per hour, the decode pool sends {2 * sends:,.0f}" in doubled
    lines = tuple(l.model_copy(update={"role": "aggregated"}) if l.role == "prefill" else l for l in plan.lines)
    mixed = check_plan(plan.model_copy(update={"lines": lines}), catalog, problem)
    assert "a disaggregated plan has an aggregated line" in mixed


def test_network_racks_must_carry_what_the_switches_draw(switched):
    """The plan's one NDR switch sits in a network rack whose load is its draw; a rack stated at half that load is
    refused with both figures."""
    cat, problem, plan = switched
    sw = cat.network_items["ib-switch-ndr-64p"]
    racks = tuple(r.model_copy(update={"load_w": sw.power_w // 2}) if r.load_w is not None else r for r in plan.racks)
    assert f"network racks carry {sw.power_w // 2:,} W, the switches draw {sw.power_w:,} W" in check_plan(
        plan.model_copy(update={"racks": racks}), cat, problem)


def test_the_line_states_its_attention_groups_in_words(catalog, pcie):
    """A line that says attention DP while its layout has one group: '1 attention group' (singular)."""
    problem, plan = pcie
    line = next(l for l in plan.lines if l.sizing.dp == 1)
    i = plan.lines.index(line)
    lines = list(plan.lines)
    lines[i] = line.model_copy(update={"dp_attention": True})
    assert any(m.endswith("data-parallel attention is on but the layout has 1 attention group")
               for m in check_plan(plan.model_copy(update={"lines": tuple(lines)}), catalog, problem))


def test_a_cpu_host_spreads_each_request_over_its_sockets(catalog):
    """One llama.cpp process over two sockets (--numa distribute) keeps each request's KV once, half on each socket:
    DeepSeek-R1's MLA latent is not replicated as under tensor parallelism, so the honest plan passes; twice its
    memory users do not fit."""
    from optimizer import load_problem
    from problems import bundled_problem_path

    problem = load_problem(bundled_problem_path("deepseek-r1-cpu-only"))
    plan = optimize(catalog, problem)
    line = plan.lines[0]
    assert catalog.accelerators[line.accelerator].family == "cpu" and line.sizing.tp == 2
    assert check_plan(plan, catalog, problem) == []
    sizing = line.sizing.model_copy(update={"memory_users": line.sizing.memory_users * 2 + 1})
    over = plan.model_copy(update={"lines": (line.model_copy(update={"sizing": sizing}),)})
    assert any("users per replica, but a KV budget" in m for m in check_plan(over, catalog, problem))


def test_a_prompts_kv_transfer_adds_to_its_ttft(catalog, pooled):
    """A prefill line whose KV transfer is restated one second longer, its TTFT unchanged, understates its TTFT:
    the transfer is part of a prompt's time to first token."""
    plan, problem = pooled
    pre = next(l for l in plan.lines if l.role == "prefill")
    late = _pool_messages(catalog, problem, plan, "prefill", kv_transfer_s=pre.kv_transfer_s + 1.0)
    assert any("waits to a TTFT" in m for m in late)

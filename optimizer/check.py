"""The independent plan checker: recompute everything a plan claims, without the solver.

From the catalog and the problem alone it re-prices every purchase (the offer it
names, the exchange rate), checks stock, sellers, conditions, warranty and lead time,
checks that the purchases buy exactly what the lines need, re-derives node power, re-runs the sizing model for every line's replica,
re-adds the totals in exact arithmetic, and re-tests every limit. It returns the
violations as sentences with numbers; an empty list means the plan is sound.
Every plan hwplan returns or prints has passed it.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from catalog import Catalog

from .capacity import replica_capacity
from .deployment import Deployment
from .layouts import Layout
from .plan import Plan, PlanLine
from .problem import Problem
from .scaling import exact

__all__ = ["check_plan", "assert_plan_ok"]


def _items_of(line: PlanLine) -> list[tuple[str, int]]:
    """What the line's nodes are bought as, recomputed: the system, or the platform and its accelerators."""
    if line.system is not None:
        return [(line.system, line.nodes)]
    return [(line.platform, line.nodes), (line.accelerator, line.nodes * line.gpus_per_node)]


def _offer(catalog: Catalog, problem: Problem, key: str):
    pl_id, _, pos = key.rpartition("#")
    if (pl_id not in problem.price_lists and pl_id not in problem.network_price_lists) or not pos.isdigit():
        return None, None
    plist = catalog.price_lists.get(pl_id)
    if plist is None or int(pos) >= len(plist.offers):
        return None, None
    return plist, plist.offers[int(pos)]


def _check_purchases(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:
    out: list[str] = []
    currency = plan.totals.currency
    c = problem.constraints
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        plist, offer = _offer(catalog, problem, p.offer)
        if offer is None or offer.item != p.item or offer.seller != p.seller:
            out.append(f"purchase of {p.item} from {p.seller}: no such offer ({p.offer}) in {problem.price_lists}")
            continue
        price = exact(offer.price)
        if plist.currency != currency:
            rate = catalog.exchange_rate(plist.currency, currency)
            price = price * exact(rate.rate) if rate else None
        if price != p.unit_price:
            out.append(f"{p.item} from {p.seller} costs {_fmt_money(price or 0, currency)} each, plan says "
                       f"{_fmt_money(p.unit_price, currency)}")
        if p.quantity < 1:
            out.append(f"{p.item} from {p.seller}: quantity {p.quantity}")
        if offer.stock is not None and p.quantity > offer.stock:
            out.append(f"{p.quantity} × {p.item} bought from {p.seller}, who has {offer.stock} in stock")
        if p.item in catalog.network_items or p.item in catalog.racks:
            continue  # network and racks: checked by _check_fabric; the node sellers' limits do not apply
        if c.sellers and offer.seller not in c.sellers:
            out.append(f"{p.item} bought from {offer.seller}, not in constraints.sellers")
        if c.conditions and offer.condition not in c.conditions:
            out.append(f"{p.item} from {offer.seller} is {offer.condition}, not in constraints.conditions")
        if c.min_warranty_months is not None and (offer.warranty_months or 0) < c.min_warranty_months:
            out.append(f"{p.item} from {offer.seller} has {offer.warranty_months} months of warranty, "
                       f"less than {c.min_warranty_months}")
        if c.max_lead_time_weeks is not None and (offer.lead_time_weeks is None
                                                  or offer.lead_time_weeks > c.max_lead_time_weeks):
            out.append(f"{p.item} from {offer.seller} arrives in {offer.lead_time_weeks} weeks, more than "
                       f"{c.max_lead_time_weeks:g}")
        if c.as_of is not None and offer.valid_until is not None and offer.valid_until < c.as_of[:len(offer.valid_until)]:
            out.append(f"{p.item} from {offer.seller}: the offer expired on {offer.valid_until}")
        bought[p.item] += p.quantity
    needed: dict[str, int] = defaultdict(int)
    for line in plan.lines:
        for item, qty in _items_of(line):
            needed[item] += qty
    bought = {i: q for i, q in bought.items() if i not in catalog.network_items and i not in catalog.racks}
    bought = defaultdict(int, bought)
    for item in sorted(set(needed) | set(bought)):
        if needed[item] != bought[item]:
            out.append(f"the lines need {needed[item]} × {item}, the purchases buy {bought[item]}")
    sellers = {p.seller for p in plan.purchases}
    if c.max_sellers is not None and len(sellers) > c.max_sellers:
        out.append(f"the plan buys from {len(sellers)} sellers; at most {c.max_sellers} are allowed")
    spent = sum((p.unit_price * p.quantity for p in plan.purchases), Fraction(0))
    if spent != plan.totals.cost:
        out.append(f"the purchases add up to {_fmt_money(spent, currency)}, the plan's total says "
                   f"{_fmt_money(plan.totals.cost, currency)}")
    return out


def _node_power(catalog: Catalog, line: PlanLine) -> int:
    if line.system is not None and catalog.systems[line.system].max_power_w is not None:
        return catalog.systems[line.system].max_power_w  # type: ignore[return-value]
    return catalog.platforms[line.platform].base_power_w + line.gpus_per_node * catalog.accelerators[line.accelerator].tdp_w


def _fmt_money(x: Fraction, currency: str) -> str:
    return f"{float(x):,.2f} {currency}"


def _check_line(catalog: Catalog, problem: Problem, line: PlanLine, currency: str) -> list[str]:
    out: list[str] = []
    name = line.unit
    if line.accelerator not in catalog.accelerators or line.platform not in catalog.platforms:
        return [f"{name}: unknown accelerator or platform"]
    acc = catalog.accelerators[line.accelerator]
    plat = catalog.platforms[line.platform]
    if line.system is not None:
        sysrec = catalog.systems.get(line.system)
        if sysrec is None or (sysrec.accelerator, sysrec.platform, sysrec.count) != \
                (line.accelerator, line.platform, line.gpus_per_node):
            out.append(f"{name}: system {line.system} is not {line.gpus_per_node} × {line.accelerator} in {line.platform}")
    else:
        takes = acc.id in plat.accepts if plat.accepts else plat.form_factor == acc.form_factor
        if not takes or line.gpus_per_node not in plat.gpu_counts:
            out.append(f"{name}: platform {plat.id} does not take {line.gpus_per_node} × {acc.id}")
    if line.replicas < 1 or line.nodes_per_replica < 1:
        out.append(f"{name}: replicas and nodes per replica must be positive")
    power = _node_power(catalog, line)
    if power != line.node_power_w:
        out.append(f"{name}: node draws {power} W, plan says {line.node_power_w} W")
    if abs(acc.memory_gb * line.gpus_per_node - line.memory_gb_per_node) > 1e-6:
        out.append(f"{name}: node memory is {acc.memory_gb * line.gpus_per_node} GB, plan says {line.memory_gb_per_node}")

    c = problem.constraints
    if c.vendors and acc.maker not in c.vendors:
        out.append(f"{name}: vendor {acc.maker} is not allowed (constraints.vendors = {c.vendors})")
    if c.accelerators and acc.id not in c.accelerators:
        out.append(f"{name}: {acc.id} is not in constraints.accelerators")
    if acc.id in c.exclude_accelerators:
        out.append(f"{name}: {acc.id} is excluded")
    if c.form_factors and acc.form_factor not in c.form_factors:
        out.append(f"{name}: form factor {acc.form_factor} is not allowed")
    if c.require_native_fp8 and not acc.has_native("fp8"):
        out.append(f"{name}: {acc.id} has no native fp8 units but constraints.require_native_fp8 is set")
    if line.nodes_per_replica > c.max_nodes_per_replica:
        out.append(f"{name}: a replica spans {line.nodes_per_replica} nodes, more than "
                   f"constraints.max_nodes_per_replica = {c.max_nodes_per_replica}")

    model = catalog.models[problem.model]
    try:
        variant = model.variant(line.precision)
    except KeyError:
        return out + [f"{name}: {model.id} has no precision {line.precision}"]
    if variant.requires_native and not acc.has_native(variant.requires_native):
        out.append(f"{name}: {line.precision} needs native {variant.requires_native} units, which {acc.id} lacks")
    engine = catalog.engines.get(line.engine)
    if engine is None:
        return out + [f"{name}: unknown engine {line.engine}"]
    ranks = line.tp * line.dp * line.pp
    if line.replicas_per_node > 1 and (line.nodes_per_replica != 1 or ranks * line.replicas_per_node != line.gpus_per_node
                                       or line.replicas % line.replicas_per_node):
        return out + [f"{name}: {line.replicas} replicas of {ranks} accelerators, {line.replicas_per_node} per "
                      f"node, do not fill whole {line.gpus_per_node}-accelerator nodes"]
    if line.replicas_per_node == 1 and ranks != line.gpus_per_node * line.nodes_per_replica:
        return out + [f"{name}: a layout of {ranks} ranks on {line.nodes_per_replica} × {line.gpus_per_node} accelerators"]
    try:
        layout = Layout(tp=line.tp, pp=line.pp, dp=line.dp, ep=line.ep, replicas_per_node=line.replicas_per_node,
                        nodes_per_replica=line.nodes_per_replica)
    except ValueError as e:
        return out + [f"{name}: {e}"]
    dep = Deployment(model=model, variant=variant, accelerator=acc, platform=plat, engine=engine,
                     gpus_per_node=ranks if line.replicas_per_node > 1 else line.gpus_per_node,
                     nodes=line.nodes_per_replica, kv_dtype=line.kv_dtype, layout=layout,
                     settings=problem.engine_settings)
    cap = replica_capacity(dep, problem.workload)
    if not cap.fits:
        out.append(f"{name}: one replica does not fit ({cap.limit})")
    elif cap.users < line.users_per_replica:
        out.append(f"{name}: a replica serves {cap.users} users, plan says {line.users_per_replica}")
    return out


def _fabric_needs(catalog: Catalog, plan: Plan) -> tuple[dict[str, list[int]], dict[str, list[tuple[int, int]]]]:
    """Per fabric class, from the lines and the catalog alone: [node ports on switches, nodes on switches,
    direct cables], and (nodes, NIC ports each) of nodes sold without their NICs."""
    need: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    nic_ports: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in plan.lines:
        plat = catalog.platforms[line.platform]
        if line.nodes_per_replica < 2 or not plat.nics:
            continue
        nic = plat.nics[0]
        key = f"{'infiniband' if nic.protocol == 'infiniband' else 'ethernet'}-{nic.gbps}"
        if not plat.nics_included:
            nic_ports[key].append((line.nodes_per_replica * line.replicas, nic.count))
        if line.nodes_per_replica == 2 and plat.direct_connect:
            need[key][2] += nic.count * line.replicas
        else:
            need[key][0] += nic.count * line.nodes_per_replica * line.replicas
            need[key][1] += line.nodes_per_replica * line.replicas
    return need, nic_ports


def _check_switches(catalog: Catalog, key: str, n, ports: int, nodes: int) -> list[str]:
    """The switches of one fabric class: right protocol and speed, enough ports for the node ports
    and (when the nodes outnumber one switch's ports) as many uplinks, on two tiers at most."""
    out: list[str] = []
    protocol, speed = key.rsplit("-", 1)
    capacity, largest = 0, 0
    for item, count, _ in n.switches:
        sw = catalog.network_items.get(item)
        if sw is None or sw.kind != "switch" or sw.protocol != protocol or sw.gbps < int(speed):
            out.append(f"{key} fabric: {item} is not a {protocol} switch of {speed} Gb/s or faster")
            continue
        capacity += (sw.ports or 0) * count
        largest = max(largest, sw.ports or 0)
    uplinks = ports if nodes > largest else 0   # a rail's nodes outnumber one switch's ports: two tiers
    if ports and n.uplinks < uplinks:
        out.append(f"{key} fabric: {nodes} nodes exceed the {largest} ports of one switch, so {ports} uplinks "
                   f"are needed; the plan has {n.uplinks}")
    if capacity < ports + 2 * n.uplinks:
        out.append(f"{key} fabric: switches give {capacity} ports, {ports} node ports and {n.uplinks} uplinks "
                   f"need {ports + 2 * n.uplinks}")
    if ports and nodes > largest * largest // 2:
        out.append(f"{key} fabric: {nodes} nodes exceed a two-tier fat tree of {largest}-port switches")
    return out


def _check_nics(catalog: Catalog, plan: Plan, key: str, n, nic_ports: list[tuple[int, int]]) -> list[str]:
    """NIC cards of one fabric class: ⌈ports per node / ports per card⌉ for every node sold without them."""
    protocol, speed = key.rsplit("-", 1)
    items = [p for p in plan.purchases if p.item in catalog.network_items
             and catalog.network_items[p.item].kind == "nic" and catalog.network_items[p.item].protocol == protocol
             and catalog.network_items[p.item].gbps == int(speed)]
    card_ports = (catalog.network_items[items[0].item].ports or 1) if items else 1
    cards = sum(nodes * -(-each // card_ports) for nodes, each in nic_ports)
    bought = sum(p.quantity for p in items)
    if n.nics != cards or (cards and bought != cards):
        return [f"{key} fabric: nodes sold without NICs need {cards} NIC cards; the plan lists {n.nics} and "
                f"buys {bought}"]
    return []


def _check_network_purchases(catalog: Catalog, plan: Plan) -> list[str]:
    """Switches, cables and transceivers bought match the fabric the plan lists."""
    out: list[str] = []
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        if p.item in catalog.network_items:
            bought[p.item] += p.quantity
    listed: dict[str, int] = defaultdict(int)
    for n in plan.network:
        for item, count, _ in n.switches:
            listed[item] += count
    for item in sorted(set(bought) | set(listed)):
        kind = catalog.network_items[item].kind if item in catalog.network_items else "switch"
        if kind == "switch" and bought[item] != listed[item]:
            out.append(f"the fabric lists {listed[item]} × {item}, the purchases buy {bought[item]}")
    cables = sum(q for i, q in bought.items() if catalog.network_items[i].kind == "cable")
    xcvrs = sum(q for i, q in bought.items() if catalog.network_items[i].kind == "transceiver")
    links = sum(n.links for n in plan.network if n.priced)
    if cables != links:
        out.append(f"{cables} cables bought for {links} links")
    if xcvrs != sum(n.transceivers for n in plan.network if n.priced):
        out.append(f"{xcvrs} transceivers bought, the fabric lists {sum(n.transceivers for n in plan.network)}")
    return out


def _check_fabric(catalog: Catalog, plan: Plan) -> list[str]:
    """The scale-out network, re-derived from the lines and the catalog: every multi-node replica's
    NIC ports (or port-to-port cables of a directly connected pair) are counted per fabric class; the
    switches bought must offer enough ports of the right protocol and speed (twice the node ports
    when the nodes outnumber a switch's ports: leaves and spines), and cables, transceivers and NICs
    must match. Non-blocking two-tier fat tree, as the NVIDIA DGX SuperPOD reference design
    (https://docs.nvidia.com/dgx-superpod/reference-architecture/latest/)."""
    out: list[str] = []
    need, nic_ports = _fabric_needs(catalog, plan)
    shown = {n.fabric: n for n in plan.network}
    for key in sorted(set(need) | set(shown)):
        ports, nodes, direct = need.get(key, [0, 0, 0])
        n = shown.get(key)
        if n is None:
            out.append(f"the multi-node replicas need a {key} fabric ({ports} switch ports, {direct} direct cables); "
                       f"the plan buys none")
            continue
        if (n.node_ports, n.nodes, n.direct_links) != (ports, nodes, direct):
            out.append(f"{key} fabric: the lines need {ports} node ports on {nodes} nodes and {direct} direct cables, "
                       f"the plan says {n.node_ports} on {n.nodes} and {n.direct_links}")
        if not n.priced:
            continue
        out += _check_switches(catalog, key, n, ports, nodes)
        if n.links != ports + n.uplinks + direct:
            out.append(f"{key} fabric: {n.links} cables for {ports + n.uplinks + direct} links")
        out += _check_nics(catalog, plan, key, n, nic_ports.get(key, []))
    return out + _check_network_purchases(catalog, plan)


def _check_racks(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:
    """Racks, re-derived per node type from the catalog: enough rack space and power for every node
    (a rack's load = its nodes' maximum draw ≤ the cooling's kW limit and the rack's rating), the
    max-racks limit, rack purchases matching the racks listed, and the facility draw (IT maximum × PUE)
    under the site cap."""
    out: list[str] = []
    c = problem.constraints
    nodes: dict[str, tuple[int, int, str]] = {}   # node type -> (nodes, node draw W, platform)
    for line in plan.lines:
        sku = line.system or f"{line.platform}+{line.gpus_per_node}x{line.accelerator}"
        n, w, p = nodes.get(sku, (0, line.node_power_w, line.platform))
        nodes[sku] = (n + line.nodes, w, p)
    shown = {r.node_type: r for r in plan.racks}
    for sku, (n, watts, plat_id) in sorted(nodes.items()):
        r = shown.get(sku)
        if r is None:
            out.append(f"{n} × {sku} have no racks")
            continue
        plat = catalog.platforms[plat_id]
        rack = catalog.racks.get(r.rack)
        units = rack.rack_units if rack is not None else 42
        limit = c.max_liquid_rack_kw if plat.cooling == "liquid" else c.max_rack_kw
        if rack is not None:
            if not plat.racks_per_node:   # rack-scale systems bring their own power shelves
                limit = min(limit, rack.max_kw)
            if rack.cooling != plat.cooling:
                out.append(f"{sku} is {plat.cooling}-cooled but racked in {rack.id} ({rack.cooling}-cooled)")
        spread = plat.racks_per_node or 1
        if plat.racks_per_node:   # rack-scale: its own racks, an equal share of its draw in each
            per_rack = 1 if watts <= limit * 1000 * spread and plat.rack_units <= units else 0
        else:
            per_rack = min(units // plat.rack_units, int(limit * 1000 // watts)) if watts else units // plat.rack_units
        if per_rack < 1:
            out.append(f"one {sku} ({watts / 1000:,.1f} kW, {plat.rack_units}U) fits no {limit:g} kW, {units}U rack")
        elif r.racks * per_rack < n * spread:
            out.append(f"{n} × {sku} need {-(-n * spread // per_rack)} racks at {per_rack} per rack ({limit:g} kW, "
                       f"{units}U); the plan has {r.racks}")
        if r.nodes != n:
            out.append(f"racks of {sku} hold {r.nodes} nodes, the lines have {n}")
    racks = sum(r.racks for r in plan.racks)
    if c.max_racks is not None and racks > c.max_racks:
        out.append(f"the plan fills {racks} racks, more than the limit of {c.max_racks}")
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        if p.item in catalog.racks:
            bought[p.item] += p.quantity
    listed: dict[str, int] = defaultdict(int)
    for r in plan.racks:
        if r.cost:
            listed[r.rack] += r.racks
    if dict(bought) != dict(listed):
        out.append(f"racks bought {dict(bought)}, racks listed {dict(listed)}")
    if c.max_site_kw is not None:
        it_w = sum(l.node_power_w * l.nodes for l in plan.lines) + sum(n.power_w for n in plan.network)
        if it_w * exact(problem.tco.pue) > exact(c.max_site_kw) * 1000:
            out.append(f"the facility draws {it_w * problem.tco.pue / 1000:,.1f} kW (PUE {problem.tco.pue:g}), "
                       f"more than the site cap of {c.max_site_kw:g} kW")
    return out


def _check_node_power(catalog: Catalog, plan: Plan) -> list[str]:
    """Each node's maximum draw covers its accelerators' TDP and stays within its server's power supplies."""
    out: list[str] = []
    for line in plan.lines:
        tdp = line.gpus_per_node * catalog.accelerators[line.accelerator].tdp_w
        if line.node_power_w < tdp:
            out.append(f"{line.unit}: a node draws {line.node_power_w} W, less than its accelerators' {tdp} W TDP")
        cap = catalog.platforms[line.platform].max_system_power_w
        if line.system is None and cap is not None and line.node_power_w > cap:
            out.append(f"{line.unit}: a node draws {line.node_power_w} W, more than its {cap} W power supplies")
    return out


def check_plan(plan: Plan, catalog: Catalog, problem: Problem) -> list[str]:
    """Every way `plan` breaks the catalog's facts or the problem's limits, in words."""
    currency = plan.totals.currency
    out: list[str] = []
    for line in plan.lines:
        out += _check_line(catalog, problem, line, currency)
    if not plan.lines:
        out.append("the plan buys nothing")
    out += _check_purchases(catalog, problem, plan)
    out += _check_fabric(catalog, plan)
    out += _check_node_power(catalog, plan)
    out += _check_racks(catalog, problem, plan)
    infra = [p for p in plan.purchases if p.item in catalog.network_items or p.item in catalog.racks]
    cost = sum((l.cost for l in plan.lines), Fraction(0)) + sum((p.unit_price * p.quantity for p in infra), Fraction(0))
    power = sum(l.node_power_w * l.nodes for l in plan.lines) + \
        sum((catalog.network_items[p.item].power_w or 0) * p.quantity for p in infra if p.item in catalog.network_items)
    nodes = sum(l.nodes for l in plan.lines)
    gpus = sum(l.gpus_per_node * l.nodes for l in plan.lines)
    users = sum(l.users_per_replica * l.replicas for l in plan.lines)
    t = plan.totals
    for label, mine, theirs in (("cost", cost, t.cost), ("power", power, t.power_w), ("nodes", nodes, t.nodes),
                                ("accelerators", gpus, t.gpus), ("users", users, t.users)):
        if mine != theirs:
            out.append(f"total {label} is {mine}, plan says {theirs}")

    w, c = problem.workload, problem.constraints
    demand = w.demand if w.demand is not None else 1   # users, or requests per hour (request_rate)
    if problem.objective != "users" and users < demand:
        out.append(f"the plan serves {users} users; {demand} are needed")
    if c.max_nodes is not None and nodes > c.max_nodes:
        out.append(f"the plan uses {nodes} nodes, more than the limit of {c.max_nodes}")
    if c.budget is not None and cost > exact(c.budget):
        out.append(f"cost {_fmt_money(cost, currency)} exceeds the budget of {_fmt_money(exact(c.budget), currency)}")
    if c.max_power_w is not None and power > c.max_power_w:
        out.append(f"power {power / 1000:,.1f} kW exceeds the cap of {c.max_power_w / 1000:,.1f} kW")
    for acc, limit in c.stock.items():
        used = sum(l.gpus for l in plan.lines if l.accelerator == acc)
        if used > limit:
            out.append(f"the plan uses {used} × {acc}; only {limit} are in stock")
    if c.spare_nodes and problem.objective != "users":
        # Losing any one node takes down the whole replica it belongs to.
        worst = max((l.users_per_replica * l.replicas_per_node for l in plan.lines), default=0)
        if users - worst < demand:
            out.append(f"with one node down the plan serves {users - worst} users; {demand} are needed "
                       f"(constraints.spare_nodes = 1)")
    if c.max_skus is not None:
        skus = {l.system or f"{l.platform}+{l.gpus_per_node}x{l.accelerator}" for l in plan.lines}
        if len(skus) > c.max_skus:
            out.append(f"the plan buys {len(skus)} kinds of node; at most {c.max_skus} are allowed")
    return out


def assert_plan_ok(plan: Plan, catalog: Catalog, problem: Problem) -> Plan:
    """Return `plan` if the checker finds nothing, else raise RuntimeError listing the violations."""
    problems = check_plan(plan, catalog, problem)
    if problems:
        raise RuntimeError("the plan failed the independent check (a bug in hwplan; please report it): "
                           + "; ".join(problems))
    return plan

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
    if pl_id not in problem.price_lists or not pos.isdigit():
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
    if line.system is not None and catalog.systems[line.system].power_w is not None:
        return catalog.systems[line.system].power_w  # type: ignore[return-value]
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
    dep = Deployment(model=model, variant=variant, accelerator=acc, platform=plat, engine=engine,
                     gpus_per_node=line.gpus_per_node, nodes=line.nodes_per_replica,
                     kv_dtype=line.kv_dtype, dp_attention=line.dp_attention,
                     settings=problem.engine_settings)
    cap = replica_capacity(dep, problem.workload)
    if not cap.fits:
        out.append(f"{name}: one replica does not fit ({cap.limit})")
    elif cap.users < line.users_per_replica:
        out.append(f"{name}: a replica serves {cap.users} users, plan says {line.users_per_replica}")
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
    cost = sum((l.cost for l in plan.lines), Fraction(0))
    power = sum(l.node_power_w * l.nodes_per_replica * l.replicas for l in plan.lines)
    nodes = sum(l.nodes_per_replica * l.replicas for l in plan.lines)
    gpus = sum(l.gpus_per_node * l.nodes_per_replica * l.replicas for l in plan.lines)
    users = sum(l.users_per_replica * l.replicas for l in plan.lines)
    t = plan.totals
    for label, mine, theirs in (("cost", cost, t.cost), ("power", power, t.power_w), ("nodes", nodes, t.nodes),
                                ("accelerators", gpus, t.gpus), ("users", users, t.users)):
        if mine != theirs:
            out.append(f"total {label} is {mine}, plan says {theirs}")

    w, c = problem.workload, problem.constraints
    demand = w.concurrent_users if w.concurrent_users is not None else 1
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
        worst = max((l.users_per_replica for l in plan.lines), default=0)
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

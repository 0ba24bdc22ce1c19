"""`optimize(catalog, problem)`: the optimal plan, checked.

prepare (units.py) → limits → prune dominated units (prune.py) → CP-SAT
(model.py) → plan (plan.py) → independent check (check.py). Pure: reads no
files, prints nothing, never mutates its inputs. The search modes (search.py)
reuse `prepare_problem` and `plan_from_solution`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

from catalog import Catalog
from catalog.errors import InfeasibleError, NoPlanError

from .check import assert_plan_ok
from .explain import explain_infeasible
from .fabric import FabricNeed, FabricPrices, build_fabric, fabric_model, fabric_need, fabric_prices, nic_cards
from .limits import limits_for
from . import disagg
from .model import Fabric, Limits, NetworkRack, Offers, RackGroup, Racks, Roles, SolveOptions, Solution, solve_units
from .racks import NetworkRackKind, RackKind, network_rack, rack_kinds
from .offers import PricedOffer
from .launch import PLAN_ROUTER_NOTE, ROUTER_NOTE, launch_commands, pool_addresses, router_command
from .plan import InDomainPrefillLine, NetworkLine, Plan, PlanLine, Purchase, RackLine, ServingComparison, SizingClaim, SolverInfo, \
    TcoBreakdown, \
    stale_price_notes
from .problem import Problem
from .prune import prune_dominated
from .scaling import money_from_int, money_to_int
from .tco import TcoRates, tco_rates
from .units import Candidates, Unit, offer_model, prepare

__all__ = ["optimize", "try_optimize", "explain_no_plan", "limits_for", "plan_from_solution", "Prepared",
           "prepare_problem", "plan_tco"]

# Each re-solve behind an explanation gets this long, and all of them together this long: an
# explanation may try a dozen changes (precisions, node counts, filters, limit pairs).
_ATTEMPT_OPTIONS = SolveOptions(time_limit_s=5.0)
_SUGGEST_BUDGET_S = 12.0


@dataclass(frozen=True)
class Prepared:
    """Everything the search modes share: candidates, limits, pruned units, TCO coefficients."""

    problem: Problem
    candidates: Candidates
    limits: Limits
    units: list[Unit]
    rates: TcoRates | None = None
    tco: dict[str, int] = field(default_factory=dict)   # unit id -> energy + hosting, solver money units
    offers: Offers | None = None                         # purchases modelled offer by offer (stock, sellers)
    fabric: Fabric | None = None                         # scale-out network of multi-node replicas
    fabric_needs: dict[str, FabricNeed] = field(default_factory=dict)
    fabric_prices: dict[str, FabricPrices] = field(default_factory=dict)
    racks: Racks | None = None                           # racks per node type
    rack_kinds: dict[str, RackKind] = field(default_factory=dict)
    network_rack: NetworkRackKind | None = None          # the racks switches go in
    network_rates: dict[str, object] = field(default_factory=dict)  # price list -> rate into the plan's currency
    roles: Roles | None = None                           # disaggregated: prefill and decode pools

    @property
    def explain_args(self) -> dict:
        """What explain_infeasible needs to price and count the network and racks as the solve did."""
        return {"fabric": self.fabric, "racks": self.racks, "needs": self.prune_needs, "same_sku": self.rack_sensitive}

    @property
    def rack_sensitive(self) -> bool:
        return _rack_sensitive(self.racks, self.limits)

    @property
    def prune_needs(self) -> dict[str, tuple[str, int, int, int, int]]:
        """Fabric needs in the form dominance pruning compares (class, ports, nodes, direct cables, NIC ports)."""
        return {u: _prune_need(n, self.fabric_prices) for u, n in self.fabric_needs.items()}

    def by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.candidates.units}


def explain_no_plan(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits,
                    offers: Offers | None = None, *, suggest: bool = True, **cluster) -> InfeasibleError:
    """`explain_infeasible` with every suggested change re-solved by `try_optimize` (`suggest=False`: none);
    `cluster` is `Prepared.explain_args` (the network and racks the solve priced). Prefill and decode units
    (a disaggregated search) get `_no_pools`: the explanation re-solves aggregated replicas only."""
    if any(u.role != "aggregated" for u in candidates.units):
        return _no_pools(problem, candidates.units)
    if not suggest:
        return explain_infeasible(catalog, problem, candidates, limits, offers, **cluster)
    deadline = time.monotonic() + _SUGGEST_BUDGET_S
    skipped: list[Problem] = []

    def attempt(changed: Problem) -> Plan | None:
        if time.monotonic() > deadline:   # an answer in seconds beats every possible change in minutes
            skipped.append(changed)
            return None
        # Each change is re-solved as aggregated replicas (the explanation's own model), unless the problem asks
        # for pools: a disaggregated solve per change would spend the whole budget on a few changes.
        if changed.serving == "auto":
            changed = changed.model_copy(update={"serving": "aggregated"})
        return try_optimize(catalog, changed, _ATTEMPT_OPTIONS)

    err = explain_infeasible(catalog, problem, candidates, limits, offers, attempt=attempt, **cluster)
    if not skipped:
        return err
    summary = err.explanation["summary"] + (f" ({len(skipped)} further change{'s' if len(skipped) > 1 else ''} "
                                            f"not tried: the explanation stops re-solving after "
                                            f"{_SUGGEST_BUDGET_S:g} s.)")
    return InfeasibleError(summary, {**err.explanation, "summary": summary, "changes_not_tried": len(skipped)})


def prepare_problem(catalog: Catalog, problem: Problem, *, prune: bool = True, same_sku: bool = False,
                    explain: bool = True, serving: str = "aggregated", demand_cap: bool = False) -> Prepared:
    """Candidates, limits and (pruned) units; raises InfeasibleError when no unit fits (`explain`: with reasons).

    `serving` 'disaggregated': prefill and decode units with the pool constraint (optimizer/disagg.py; pruned
    within each pool by `disagg.prune_roles`). `demand_cap`: the units are solved for this problem's demand
    alone (no sweep re-uses them for another), so pruning may count a replica's users only up to the demand
    (`prune_dominated`)."""
    pooled = serving == "disaggregated"
    candidates = disagg.prepare_roles(catalog, problem) if pooled else prepare(catalog, problem)
    limits = limits_for(problem, candidates.money_scale)
    kinds = rack_kinds(catalog, problem, candidates.currency,
                       {u.sku: (u.node.platform, u.node.power_w) for u in candidates.units})
    unracked = {k: kind.why_not() for k, kind in kinds.items() if kind.per_rack == 0}
    if unracked:  # a node that fits no rack cannot be bought
        candidates = dataclasses.replace(
            candidates, units=[u for u in candidates.units if u.sku not in unracked],
            filtered={**candidates.filtered, **{k: why for k, why in unracked.items()}})
    if pooled and not any(u.role == "prefill" or u.in_domain is not None for u in candidates.units):
        candidates = dataclasses.replace(candidates, units=[])
    if not candidates.units:
        if pooled:
            summary = (f"no disaggregated plan of {problem.model}: no prefill replica meets the TTFT target "
                       f"with its KV transfer, or no decode replica meets the per-user speed.")
            raise InfeasibleError(summary, {"summary": summary, "serving": "disaggregated"})
        if not explain:
            raise InfeasibleError(f"no replica of {problem.model} fits")
        raise explain_no_plan(catalog, problem, candidates, limits)
    offers = offer_model(candidates, problem)
    # a rack-scale unit whose own prefill replicas keep up with its decode sends no KV cache over the fabric
    needs = {u.id: n for u in candidates.units
             if (n := fabric_need(u.node.platform, u.nodes, pooled and not disagg.self_contained(u))) is not None}
    prices = fabric_prices(catalog, problem, candidates.currency, {n.key for n in needs.values()}) if needs else {}
    rates = tco_rates(problem, candidates.currency)
    scale = candidates.money_scale
    net_rack = network_rack(catalog, problem, candidates.currency) if needs else None
    net_rates = _network_rates(catalog, problem, candidates.currency) if needs else {}
    fabric = fabric_model(needs, prices, scale, None if net_rack is None else NetworkRack(
        rack_units=net_rack.rack.rack_units, limit_w=int(net_rack.limit_kw * 1000),
        price=money_to_int(net_rack.price, scale, rounding="ceil"),
        hosting=money_to_int(rates.hosting(0, 1), scale, rounding="ceil") if rates else 0))
    prune_needs = {u: _prune_need(n, prices) for u, n in needs.items()}
    racks = Racks(groups=tuple(RackGroup(key=k, per_rack=kind.per_rack, racks_per_node=kind.racks_per_node,
                                         price=money_to_int(kind.price, scale, rounding="ceil"),
                                         hosting=money_to_int(rates.hosting(0, 1), scale, rounding="ceil") if rates else 0)
                               for k, kind in sorted(kinds.items()) if kind.per_rack > 0),
                  units={u.id: (u.sku, u.nodes) for u in candidates.units})
    # With offers modelled, two node types may compete for the same scarce offer; with racks that cost or
    # count, moving nodes to another node type's racks can add a rack (rounding up): prune within a node type.
    same_sku = same_sku or offers is not None or _rack_sensitive(racks, limits)
    if pooled:
        units = disagg.prune_roles(candidates.units, limits, prune_needs, same_sku) if prune else list(candidates.units)
    else:
        units = prune_dominated(candidates.units, limits, same_sku=same_sku, needs=prune_needs,
                                demand_cap=demand_cap and problem.objective != "users") if prune \
            else list(candidates.units)
    tco = _tco_by_unit(candidates.units, rates, scale) if rates else {}
    return Prepared(problem=problem, candidates=candidates, limits=limits, units=units, rates=rates, tco=tco,
                    offers=offers, fabric=fabric, fabric_needs=needs, fabric_prices=prices, racks=racks,
                    rack_kinds=kinds, network_rack=net_rack, network_rates=net_rates,
                    roles=disagg.roles_of(candidates.units, problem) if pooled else None)


def _network_rates(catalog: Catalog, problem: Problem, currency: str) -> dict[str, object]:
    """The exchange rate each network price list in another currency is converted at (fabric.network_offers),
    by price list, so the plan states it beside the hardware offers' rates."""
    out = {}
    for pl_id in problem.network_price_lists:
        plist = catalog.price_lists.get(pl_id)
        if plist is not None and plist.currency != currency:
            rate = catalog.exchange_rate(plist.currency, currency)
            if rate is not None:
                out[pl_id] = rate
    return out


def _tco_by_unit(units: list[Unit], rates: TcoRates, scale: int) -> dict[str, int]:
    """Energy and hosting of one replica of each unit over the TCO horizon, in solver money units
    (rounded up); units with the same draw and node count share one exact computation."""
    memo: dict[tuple, int] = {}
    out: dict[str, int] = {}
    for u in units:
        key = (u.power_w, _typical(u), u.nodes)
        if key not in memo:
            memo[key] = money_to_int(rates.energy(u.power_w, _typical(u)) + rates.hosting(u.nodes), scale,
                                     rounding="ceil")
        out[u.id] = memo[key]
    return out


def _prune_need(n: FabricNeed, prices: dict[str, FabricPrices]) -> tuple[str, int, int, int, int]:
    """A fabric need as dominance pruning compares it: class, node ports, nodes, direct cables, NIC cards."""
    fp = prices.get(n.key)
    return (n.key, n.ports, n.nodes, n.direct_links, nic_cards(n, (fp.nic.item.ports or 1) if fp and fp.nic else 1))


def _rack_sensitive(racks: Racks | None, limits: Limits) -> bool:
    """Racks take part in the objective or the limits (a price, a hosting rate, or max_racks)."""
    return racks is not None and (limits.max_racks is not None or any(g.price or g.hosting for g in racks.groups))


def _typical(u: Unit) -> int | None:
    """Typical draw of one replica where its node's source states one."""
    return None if u.node.typical_power_w is None else u.node.typical_power_w * u.nodes


def _left_out(c: Candidates) -> tuple[str, ...]:
    out = []
    set_aside = {name.split(" from ")[0] for name in c.rejected_offers}
    unpriced = [a for a in c.unpriced if a not in set_aside]
    if unpriced:
        out.append(f"not in price list {c.price_list}: " + ", ".join(unpriced))
    if c.rejected_offers:
        shown = sorted(c.rejected_offers.items())[:12]
        more = len(c.rejected_offers) - len(shown)
        out.append("offers set aside: " + "; ".join(f"{name} ({why})" for name, why in shown)
                   + (f"; and {more} more" if more > 0 else ""))
    by_reason: dict[str, list[str]] = {}
    for acc, reason in sorted(c.filtered.items()):
        by_reason.setdefault(reason, []).append(acc)
    for reason, accs in by_reason.items():
        out.append(f"{reason}: " + ", ".join(accs))
    return tuple(out)


def plan_tco(plan: Plan, rates: TcoRates | None) -> TcoBreakdown | None:
    if rates is None:
        return None
    energy = sum((rates.energy(l.power_w, None if l.node_typical_power_w is None else l.node_typical_power_w * l.nodes)
                  for l in plan.lines), Fraction(0)) + \
        rates.energy(sum(n.power_w for n in plan.network), sum(n.typical_power_w for n in plan.network))
    hosting = rates.hosting(plan.totals.nodes, sum(r.racks for r in plan.racks))
    return TcoBreakdown(capex=plan.totals.cost, energy=energy, hosting=hosting,
                        total=plan.totals.cost + energy + hosting, years=rates.years,
                        price_per_kwh=rates.price_per_kwh, pue=rates.pue)


def _purchases(prep: Prepared, solution: Solution) -> list[tuple[PricedOffer, int]]:
    """What is bought from which offer: the solver's choice, or the cheapest offer of each item."""
    c = prep.candidates
    if solution.purchases:
        by_key = {o.key: o for offers in c.offers.values() for o in offers}
        return [(by_key[k], q) for k, q in sorted(solution.purchases.items())]
    units = prep.by_id()
    need: dict[str, int] = {}
    for uid, replicas in solution.replicas.items():
        for item, qty in units[uid].node.items:
            need[item] = need.get(item, 0) + qty * units[uid].nodes * replicas
    return [(c.offers[item][0], q) for item, q in sorted(need.items())]


def _allocate(lines_needs: list[tuple[str, list[tuple[str, int]]]],
              bought: list[tuple[PricedOffer, int]]) -> tuple[dict[str, Fraction], dict[str, tuple[str, ...]]]:
    """Each line's cost and sellers: its items taken from the purchases, cheapest first (exact; sums to the total)."""
    pool: dict[str, list[list]] = {}
    for offer, qty in sorted(bought, key=lambda b: (b[0].price, b[0].key)):
        pool.setdefault(offer.item, []).append([offer, qty])
    costs: dict[str, Fraction] = {}
    sellers: dict[str, tuple[str, ...]] = {}
    for line_id, needs in lines_needs:
        total = Fraction(0)
        names: set[str] = set()
        for item, qty in needs:
            for entry in pool.get(item, []):
                take = min(qty, entry[1])
                if take:
                    total += entry[0].price * take
                    names.add(entry[0].seller)
                entry[1] -= take
                qty -= take
                if qty == 0:
                    break
        costs[line_id] = total
        sellers[line_id] = tuple(sorted(names))
    return costs, sellers


def _sizing_claim(u: Unit) -> SizingClaim:
    fit = u.capacity.fit
    return SizingClaim(tp=fit.layout.tp, pp=fit.layout.pp, dp=fit.layout.dp, dp_attention=fit.layout.dp_attention,
                       weights_gb_per_gpu=fit.weights_per_gpu / 1e9, kv_budget_gb_per_gpu=fit.kv_budget_per_gpu / 1e9,
                       memory_users=u.capacity.memory_users)


def _racks(prep: Prepared, solution: Solution, lines: list[PlanLine]) -> tuple[list[RackLine], tuple[Purchase, ...]]:
    """The racks of each node type the plan buys (the solver's counts) and their bill-of-materials rows."""
    units = prep.by_id()
    nodes: dict[str, int] = {}
    for uid, r in solution.replicas.items():
        nodes[units[uid].sku] = nodes.get(units[uid].sku, 0) + units[uid].nodes * r
    out, buys = [], []
    for sku, n in sorted(nodes.items()):
        kind = prep.rack_kinds[sku]
        least = -(-n * kind.racks_per_node // kind.per_rack)
        # The solver's count, or fewer: unpriced racks leave it free to report more than the nodes fill.
        count = min(solution.racks.get(sku, least), least)
        out.append(RackLine(node_type=sku, rack=kind.rack.id, cooling=kind.rack.cooling, racks=count, nodes=n,
                            nodes_per_rack=kind.per_rack, node_power_w=kind.node_power_w, limit_kw=kind.limit_kw,
                            cost=kind.price * count, racks_per_node=kind.racks_per_node))
        if kind.offer is not None and count:
            o = kind.offer
            buys.append(Purchase(item=kind.rack.id, kind="rack", description=kind.rack.name, seller=o.seller,
                                 quantity=count, unit_price=o.price, condition=o.offer.condition,
                                 warranty_months=o.offer.warranty_months, lead_time_weeks=o.offer.lead_time_weeks,
                                 offer=o.key, source=o.offer.source, date=o.offer.price_date, estimate=o.offer.estimate))
    return out, tuple(buys)


def _with_power(item) -> str:
    """A network item's name with its draw: 'NVIDIA Quantum-2 QM9700 … (1,484 W max, 940 W typical)'."""
    if not item.power_w:
        return item.name
    typical = f", {item.typical_power_w:,} W typical" if item.typical_power_w else ""
    return f"{item.name} ({item.power_w:,} W max{typical})"


def _network_racks(prep: Prepared, solution: Solution, network: list[NetworkLine]) -> tuple[list[RackLine],
                                                                                           tuple[Purchase, ...]]:
    """The racks the plan's switches go in: racks.NetworkRackKind.racks_for (the solver's count when lower)."""
    kind = prep.network_rack
    units = sum(n.rack_units for n in network)
    watts = sum(n.switch_power_w for n in network)
    if kind is None or not units:
        return [], ()
    # The fewest that hold the switches: with unpriced racks the solver's count is free above that bound.
    needed = kind.racks_for(units, watts)
    count = min(solution.racks.get("@network", needed), needed)
    line = RackLine(node_type="network switches", rack=kind.rack.id, cooling=kind.rack.cooling, racks=count,
                    nodes=0, nodes_per_rack=0, node_power_w=0, limit_kw=kind.limit_kw, cost=kind.price * count,
                    load_w=watts, load_units=units)
    buys: tuple[Purchase, ...] = ()
    if kind.offer is not None and count:
        o = kind.offer
        buys = (Purchase(item=kind.rack.id, kind="rack", description=f"{kind.rack.name} (network switches)",
                         seller=o.seller, quantity=count, unit_price=o.price, condition=o.offer.condition,
                         warranty_months=o.offer.warranty_months, lead_time_weeks=o.offer.lead_time_weeks,
                         offer=o.key, source=o.offer.source, date=o.offer.price_date, estimate=o.offer.estimate),)
    return [line], buys


def _network(prep: Prepared, solution: Solution) -> tuple[list[NetworkLine], tuple[Purchase, ...]]:
    """The plan's fabric per class (the solver's switch counts) and its bill-of-materials rows."""
    builds = build_fabric(prep.fabric_needs, solution.replicas, prep.fabric_prices,
                          solution.fabric if prep.fabric is not None else None)
    lines, buys = [], []
    for b in builds:
        rows = [(p, n) for p, n in b.switches]
        if b.cable is not None and b.links:
            rows.append((b.cable, b.links))
        if b.transceiver is not None and b.transceivers:
            rows.append((b.transceiver, b.transceivers))
        if b.nic is not None and b.nics:
            rows.append((b.nic, b.nics))
        lines.append(NetworkLine(
            fabric=b.key, nodes=b.nodes, node_ports=b.node_ports, direct_links=b.direct_links, uplinks=b.uplinks,
            switches=tuple((p.item.id, n, p.item.ports or 0) for p, n in b.switches), links=b.links,
            transceivers=b.transceivers, nics=b.nics, cost=b.cost, power_w=b.power_w,
            typical_power_w=b.typical_power_w, rack_units=b.rack_units, switch_power_w=b.switch_power_w,
            priced=b.priced, items=tuple(dict.fromkeys(p.item.id for p, _ in rows))))
        for p, n in rows:
            o = p.offer
            buys.append(Purchase(item=p.item.id, kind=p.item.kind, description=_with_power(p.item), seller=o.seller,
                                 quantity=n, unit_price=o.price, condition=o.offer.condition,
                                 warranty_months=o.offer.warranty_months, lead_time_weeks=o.offer.lead_time_weeks,
                                 offer=o.key, source=o.offer.source, date=o.offer.price_date, estimate=o.offer.estimate))
    return lines, tuple(buys)


def _class_notes(units: list[Unit], purchases: tuple[Purchase, ...]) -> list[str]:
    """What a data-centre buyer must be told: consumer, workstation or edge hardware, barebone
    ("starting at") servers, used or refurbished items."""
    notes = []
    by_class: dict[str, set[str]] = {}
    for u in units:
        for rec in (u.node.accelerator, u.node.platform):
            if rec.hardware_class != "datacenter":
                by_class.setdefault(rec.hardware_class, set()).add(rec.id)
    for cls, ids in sorted(by_class.items()):
        notes.append(f"buys {cls}-class hardware (not data-centre parts): {', '.join(sorted(ids))}")
    barebone = sorted({u.node.platform.id for u in units if u.node.system is None
                       and u.node.platform.server_class == "barebone"})
    if barebone:
        notes.append(f"barebone servers (a chassis or 'starting at' base configuration; CPUs, memory and NICs may "
                     f"cost extra): {', '.join(barebone)}")
    second_hand = sorted({f"{p.item} ({p.condition}, {p.seller})" for p in purchases if p.condition != "new"})
    if second_hand:
        notes.append(f"buys second-hand items: {', '.join(second_hand)}")
    return notes


def plan_from_solution(prep: Prepared, solution: Solution, objective: str) -> Plan:
    """The plan a solver solution describes: its lines, purchases (offers, network, racks), notes and
    totals, with the objective's value and the TCO breakdown."""
    units = prep.by_id()
    c = prep.candidates
    bought = _purchases(prep, solution)
    needs = [(uid, [(item, qty * units[uid].nodes * r) for item, qty in units[uid].node.items])
             for uid, r in sorted(solution.replicas.items())]
    line_cost, line_sellers = _allocate(needs, bought)
    lines = _with_router(_retime_prefill(prep, units, [_plan_line(prep, units[uid], replicas, line_cost[uid],
                                                                  line_sellers[uid])
                                                       for uid, replicas in sorted(solution.replicas.items())]))
    purchases = _purchase_rows(c, bought)
    network, network_buys = _network(prep, solution)
    racks, rack_buys = _racks(prep, solution, lines)
    net_racks, net_rack_buys = _network_racks(prep, solution, network)
    racks += net_racks
    rack_buys = tuple(rack_buys) + tuple(net_rack_buys)
    pool_fabrics: dict[str, set[str]] = {}
    for uid in solution.replicas:
        if units[uid].role in ("prefill", "decode") and uid in prep.fabric_needs:
            pool_fabrics.setdefault(units[uid].role, set()).add(prep.fabric_needs[uid].key)
    notes = _plan_notes(prep, solution, objective, purchases) + \
        _cluster_notes(prep.problem, network, racks, purchases + network_buys + rack_buys) + \
        pool_fabric_notes(pool_fabrics)
    purchases += network_buys + rack_buys
    problem = prep.problem
    used = list(c.rates_used) + [r for pl, r in prep.network_rates.items()
                                 if any(p.offer.startswith(f"{pl}#") for p in network_buys + rack_buys if p.offer)]
    rates = tuple(dict.fromkeys(f"1 {r.base} = {r.rate} {r.quote} ({r.source}, {r.date})" for r in used))
    bound = None
    if solution.bound is not None:
        bound = float(money_from_int(solution.bound, c.money_scale)) if objective in ("cost", "tco") \
            else float(solution.bound)
    plan = Plan.from_lines(
        lines, c.currency, network=tuple(network), racks=tuple(racks), pue=problem.tco.pue, status=solution.status, objective=objective, objective_value=Fraction(0),
        problem=problem.name, model=problem.model, users_demanded=problem.workload.concurrent_users,
        request_rate=problem.workload.request_rate, workload=_workload_summary(problem.workload),
        price_list=c.price_list,
        solver=SolverInfo(seconds=solution.seconds, gap=solution.gap, bound=bound,
                          units_considered=len(c.units), units_after_pruning=len(prep.units)),
        left_out=_left_out(c), notes=tuple(notes), exchange_rates=rates, purchases=purchases,
        serving="disaggregated" if prep.roles is not None else "aggregated")
    tco = plan_tco(plan, prep.rates)
    value = {"cost": plan.totals.cost, "power": Fraction(plan.totals.power_w), "users": Fraction(plan.totals.users),
             "nodes": Fraction(plan.totals.nodes), "tco": tco.total if tco else Fraction(0)}[objective]
    return plan.model_copy(update={"objective_value": value, "tco": tco})


def _with_router(lines: list[PlanLine]) -> list[PlanLine]:
    """A disaggregated plan's lines with one router over every replica of both pools (launch.pool_addresses,
    launch.router_command), at the end of the first decode line's commands, in place of the one-replica router
    each decode line's commands carry; a rack-scale decode line with its prefill beside it keeps its own
    server's router. Other plans unchanged."""
    pooled = [l for l in lines if l.role in ("prefill", "decode") and l.in_domain_prefill is None]
    decoders = [l for l in pooled if l.role == "decode"]
    if not decoders:
        return lines
    prefill, decode = pool_addresses([(l.role, l.replicas, l.replicas_per_node, l.nodes_per_replica) for l in pooled])
    router = PLAN_ROUTER_NOTE + router_command(decoders[0].engine, prefill or None, decode)
    out = []
    for line in lines:
        if any(line is p for p in pooled):
            launch = [c for c in line.launch if not c.startswith(ROUTER_NOTE)]
            if line is decoders[0]:
                launch.append(router)
            line = line.model_copy(update={"launch": tuple(launch)})
        out.append(line)
    return out


def _retime_prefill(prep: Prepared, units: dict[str, Unit], lines: list[PlanLine]) -> list[PlanLine]:
    """Prefill lines of units sized for a slower decode link than the plan's slowest decode node has, re-timed over
    the link the plan bought (disagg.retimed_prefill): the solver may keep the slower-link copy at equal rate,
    which reported a longer KV transfer and TTFT than the plan gives."""
    decode = [units[l.unit].node.platform.network_gbs for l in lines if l.role == "decode"]
    if not decode:
        return lines
    out = []
    for line in lines:
        u = units[line.unit]
        link = min(u.node.platform.network_gbs, min(decode))
        if line.role == "prefill" and link > u.link_gbs:
            transfer, ttft, p90 = disagg.retimed_prefill(prep.candidates.model, u, link,
                                                          prep.problem.workload.input_tokens)
            line = line.model_copy(update={"kv_transfer_s": transfer, "ttft_s": ttft, "ttft_p90_s": p90})
        out.append(line)
    return out


def _plan_line(prep: Prepared, u: Unit, replicas: int, cost: Fraction, sellers: tuple[str, ...]) -> PlanLine:
    """One plan line: `replicas` units of `u` (replicas of the model: × replicas per node)."""
    return PlanLine(
        unit=u.id, accelerator=u.node.accelerator.id, maker=u.node.maker, platform=u.node.platform.id,
        system=u.node.system.id if u.node.system else None, gpus_per_node=u.node.count,
        nodes_per_replica=u.nodes, replicas=replicas * u.replicas_per_node, precision=u.variant.id,
        engine=u.engine.id, kv_dtype=u.kv_dtype, dp_attention=u.dp_attention,
        tp=u.layout.tp, pp=u.layout.pp, dp=u.layout.dp, ep=u.layout.ep, replicas_per_node=u.replicas_per_node,
        launch=tuple(launch_commands(prep.candidates.model, u, prep.problem.workload.context_tokens,
                                    prep.problem.workload)),
        engine_settings=u.capacity.fit.settings.to_json() if u.capacity.fit.settings else {},
        users_per_replica=u.capacity.users,
        tokens_per_s_per_user=u.capacity.tokens_per_s_per_user,
        output_tokens_per_s_per_replica=u.capacity.output_tokens_per_s,
        ttft_s=u.capacity.ttft_s, ttft_p90_s=u.capacity.ttft_p90_s, cost=cost, sellers=sellers,
        node_power_w=u.node.power_w, node_typical_power_w=u.node.typical_power_w,
        memory_gb_per_node=u.node.memory_gb, note=u.note, sizing=_sizing_claim(u), role=u.role,
        requests_per_hour_per_replica=u.rate // u.replicas_per_node if u.role != "aggregated" else None,
        kv_transfer_s=u.kv_transfer_s if u.role == "prefill" else None,
        prefill_s=u.prefill_s if u.role == "prefill" else None,
        prefill_prompts=u.prefill_prompts if u.role == "prefill" else None,
        layout=u.layout.label + (_in_domain_label(u.in_domain) if u.in_domain is not None else ""),
        in_domain_prefill=_in_domain_line(u.in_domain) if u.in_domain is not None else None)


def _workload_summary(w) -> dict:
    """What the plan assumed each request is (the problem's workload), for plans and their documents: lengths in
    tokens, the speed and TTFT targets, arrivals, the demand (users or requests/s) and speculative decoding (with
    the tokens per step it gives, serving.Speculative)."""
    from .serving import Speculative

    spec = None
    if w.speculative is not None:
        sp = Speculative(w.speculative.method, w.speculative.tokens, w.speculative.acceptance)
        spec = {"method": sp.method, "tokens": sp.tokens, "acceptance": round(sp.rate, 3),
                "tokens_per_step": round(sp.tokens_per_step(), 3), "acceptance_of": sp.acceptance_of}
    return {"input_tokens": w.input_tokens, "input_tokens_spread": w.input_tokens_spread,
            "output_tokens": w.output_tokens, "min_tokens_per_s": w.min_tokens_per_s,
            "max_ttft_s": w.max_ttft_s, "ttft_percentile": w.ttft_percentile, "arrivals": w.arrivals,
            "concurrent_users": w.concurrent_users, "request_rate": w.request_rate, "speculative": spec}


def _in_domain_label(side) -> str:
    """' + prefill 5 × DP8 attention + EP8 (40 GPUs)': the in-domain prefill replicas of a rack-scale line."""
    return f" + prefill {side.replicas} × {side.layout.label.split(' ×')[0]} ({side.gpus} GPUs)"


def _in_domain_line(side) -> InDomainPrefillLine:
    lay = side.layout
    return InDomainPrefillLine(gpus=side.gpus, replica_gpus=lay.ranks, tp=lay.tp, dp=lay.dp, ep=lay.ep, pp=lay.pp,
                               layout=lay.label, requests_per_hour=side.rate, prefill_s=side.prefill_s,
                               prompts=side.prompts, kv_transfer_s=side.kv_transfer_s, ttft_s=side.ttft_s,
                               ttft_p90_s=side.ttft_p90_s)


def _purchase_rows(c: Candidates, bought: list[tuple[PricedOffer, int]]) -> tuple[Purchase, ...]:
    """Bill-of-materials rows of the servers and accelerators bought, with each offer's terms."""
    names: dict[str, tuple[str, str]] = {}
    for u in c.units:
        n = u.node
        if n.system:
            names[n.system.id] = ("system", n.system.name)
        else:
            names[n.platform.id] = ("platform", n.platform.name)
            names[n.accelerator.id] = ("accelerator", n.accelerator.name)
    return tuple(Purchase(item=o.item, kind=names[o.item][0], description=names[o.item][1], seller=o.seller,
                          quantity=q, unit_price=o.price, condition=o.offer.condition,
                          warranty_months=o.offer.warranty_months, lead_time_weeks=o.offer.lead_time_weeks,
                          offer=o.key, source=o.offer.source, date=o.offer.price_date,
                          estimate=o.offer.estimate) for o, q in bought)


def _plan_notes(prep: Prepared, solution: Solution, objective: str, purchases: tuple[Purchase, ...]) -> list[str]:
    """What the plan's reader must know about how it was sized and bought (rule-of-thumb KV, precision
    auto, spare nodes, split purchases, hardware classes)."""
    units = prep.by_id()
    problem = prep.problem
    notes = []
    if problem.workload.kv_reserve_gb is not None:
        notes.append(f"rule-of-thumb mode: each replica keeps {problem.workload.kv_reserve_gb:g} GB for the KV "
                     f"cache (doubled where an fp8 model runs in bf16)")
    if problem.precision == "auto":
        tried = sorted({u.variant.id for u in prep.candidates.units})
        if len(tried) > 1:
            used = sorted({units[uid].variant.id for uid in solution.replicas})
            notes.append(f"precision auto compared {', '.join(tried)} across the node types (the native precision, "
                         f"its bf16 fallback where native fp8/fp4 units are missing, and the builds the model's "
                         f"publisher ships in datatypes the hardware runs natively; other quantized builds only "
                         f"with --precision): this plan uses {', '.join(used)}, the best for the {objective} objective")
    if problem.constraints.spare_nodes:
        notes.append("spare capacity: every user is still served with any one node down")
    if len({p.seller for p in purchases}) > 1 and len({p.item for p in purchases}) < len(purchases):
        notes.append("an item is split across sellers (one seller's stock was short or dearer past a point)")
    return notes + _class_notes([units[uid] for uid in sorted(solution.replicas)], purchases)


def _cluster_notes(problem: Problem, network: list[NetworkLine], racks: list[RackLine],
                   purchases: tuple[Purchase, ...]) -> list[str]:
    """Notes on racks and the scale-out network (counted, priced or not), then stale prices."""
    notes = []
    if any(r.cost == 0 for r in racks) and not problem.tco.hosting_per_rack_year:
        notes.append(f"racks counted, not priced: {sum(r.racks for r in racks)} (name racks-usd-2026 in "
                     f"network_prices to buy them, or give tco.hosting_per_rack_year)")
    if any(not n.priced for n in network):
        notes.append("scale-out network not fully priced (no switch or cable offer for "
                     + ", ".join(n.fabric for n in network if not n.priced)
                     + f" in network price lists {', '.join(problem.network_price_lists) or '(none)'})")
    if network and all(n.priced for n in network):
        notes.append("network: the scale-out fabric of multi-node replicas is bought; front-end and management "
                     "Ethernet are not")
    return notes + stale_price_notes(purchases, problem.constraints.as_of)


def pool_fabric_notes(pool_fabrics: dict[str, set[str]]) -> list[str]:
    """A note when a disaggregated plan's pools sit on more than one scale-out fabric class.

    `pool_fabrics`: role ('prefill', 'decode') → the fabric classes ('<infiniband|ethernet>-<Gb/s>',
    optimizer/fabric.py) of its replicas on the fabric. Every prompt's KV cache goes from a prefill node to a
    decode node, but the fabric is bought per class, each class on its own switches: nothing joins two classes.
    Two Ethernet classes need a link between their switches; InfiniBand and Ethernet do not bridge (RDMA stays
    within one InfiniBand subnet or one RoCE network; NVIDIA, "InfiniBand to Ethernet gateway" Skyway,
    https://www.nvidia.com/en-us/networking/infiniband/skyway/), so the pools then need a gateway or NICs of one
    protocol. Neither is in the plan's purchases: the note says so. [] when the pools share one class."""
    classes = sorted(set().union(*pool_fabrics.values())) if pool_fabrics else []
    if len(classes) < 2:
        return []
    where = "; ".join(f"{role} on {', '.join(sorted(keys))}" for role, keys in sorted(pool_fabrics.items(),
                                                                                     reverse=True))
    protocols = {key.split("-", 1)[0] for key in classes}
    join = ("InfiniBand and Ethernet do not bridge: the KV transfer needs a gateway between them or NICs of one "
            "protocol in both pools" if len(protocols) > 1 else
            "their switches must be linked (uplinks as fast as the slower pool's node ports together)")
    return [f"the pools sit on {len(classes)} separate scale-out fabrics ({where}); each prompt's KV cache "
            f"crosses from prefill to decode, so {join} — not in this plan's purchases or cost"]


def _solve_prepared(prep: Prepared, problem: Problem, options: SolveOptions) -> Solution | None:
    return solve_units(prep.units, prep.limits, problem.objective, options,
                       tco=prep.tco if problem.objective == "tco" else None, offers=prep.offers, fabric=prep.fabric,
                       racks=prep.racks, roles=prep.roles)


def _try_mode(catalog: Catalog, problem: Problem, options: SolveOptions, serving: str) -> Plan | None:
    try:
        prep = prepare_problem(catalog, problem, explain=False, serving=serving, demand_cap=True)
        solution = _solve_prepared(prep, problem, options)
    except NoPlanError:
        return None
    if solution is None:
        return None
    return assert_plan_ok(plan_from_solution(prep, solution, problem.objective), catalog, problem)


def try_optimize(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> Plan | None:
    """The optimal plan for `problem`, checked, or None when none exists (no explanation is built);
    `serving: auto` tries both modes and keeps the better (`optimize`)."""
    def attempt(mode: str) -> Plan:
        plan = _try_mode(catalog, problem, options, mode)
        if plan is None:
            raise InfeasibleError(f"no {mode} plan")
        return plan

    modes, found, reasons, bounds, _ = _each_mode(catalog, problem, attempt)
    return _choose(problem, found, modes, reasons, bounds) if found else None


def _cannot_win(catalog: Catalog, problem: Problem, found: list[tuple[str, Plan]]) -> tuple[Fraction, str] | None:
    """Under a default auto (the problem does not name `serving`), a lower bound of the disaggregated plan's
    objective and what it counts, when it already shows that plan cannot beat the aggregated one: two of the
    cheapest blocks that hold the weights (disagg.lower_bound), else the pools' linear relaxation
    (disagg.pools_floor, which sizes the blocks but builds no unit); else None. A problem that names `serving: auto` is solved both ways."""
    if problem.serving != "auto" or not found or "serving" in problem.model_fields_set:
        return None
    best = found[0][1].objective_value
    bound = disagg.lower_bound(catalog, problem)
    if bound is not None and best <= bound:
        return bound, "it buys at least a prefill node and a decode node that each hold the weights"
    bound = disagg.pools_floor(catalog, problem)
    if bound is not None and best <= bound:
        return bound, ("its decode pool serves every user and its prefill pool takes their prompts, at best at "
                       "the lowest " + ("draw" if problem.objective == "power" else "price")
                       + " per user and per prompt of any replica")
    return None


def _modes(problem: Problem) -> list[str]:
    """The serving modes to solve: the one asked, or both under auto (aggregated alone where the pools
    are not modelled)."""
    if problem.serving == "disaggregated":
        disagg.check_applicable(problem)
        return ["disaggregated"]
    if problem.serving == "auto" and disagg.not_applicable(problem) is None:
        return ["aggregated", "disaggregated"]
    return ["aggregated"]


def _better(objective: str, a: Plan, b: Plan) -> bool:
    """a is strictly better than b for the objective (users: more users; else a smaller value)."""
    if objective == "users":
        return a.totals.users > b.totals.users
    return a.objective_value < b.objective_value


def _choose(problem: Problem, found: list[tuple[str, Plan]], modes: list[str],
            reasons: dict[str, str] | None = None, bounds: dict[str, tuple[Fraction, str]] | None = None) -> Plan:
    """The better plan of the modes solved (aggregated on a tie), carrying the other mode's figures."""
    if problem.serving != "auto":
        return found[0][1]
    best_mode, best = found[0]
    for mode, plan in found[1:]:
        if _better(problem.objective, plan, best):
            best_mode, best = mode, plan
    other = "disaggregated" if best_mode == "aggregated" else "aggregated"
    other_plan = next((p for m, p in found if m == other), None)
    if other in (bounds or {}):
        at_least, why = bounds[other]
        cmp = ServingComparison(other=other, at_least=at_least, reason=f"not solved: {why}")
    elif other_plan is not None:
        cmp = ServingComparison(other=other, objective_value=other_plan.objective_value, cost=other_plan.totals.cost,
                                nodes=other_plan.totals.nodes)
    else:
        why = (reasons or {}).get(other) or (f"not modelled with {disagg.not_applicable(problem)}"
                                            if other not in modes else "no plan meets the targets and limits")
        cmp = ServingComparison(other=other, reason=why)
    return best.model_copy(update={"serving_comparison": cmp, "notes": best.notes + (_comparison_note(best, cmp),)})


def _comparison_note(plan: Plan, cmp: ServingComparison) -> str:
    """One sentence: which serving mode the plan uses and what the other one would cost (or why none)."""
    mode = plan.serving
    unit = plan.totals.currency if plan.objective in ("cost", "tco") else ("W" if plan.objective == "power" else "")
    if cmp.at_least is not None:
        diff = cmp.at_least - plan.objective_value
        return (f"serving auto: {mode}; {cmp.other} would be at least {float(cmp.at_least):,.0f} {unit} "
                f"({float(diff):,.0f} {unit} more) — {cmp.reason.removeprefix('not solved: ')} — so it was not "
                f"solved (serving: {cmp.other} solves it)")
    if cmp.objective_value is None:
        return f"serving auto: {mode} (no {cmp.other} plan: {cmp.reason})"
    if plan.objective == "users":
        return (f"serving auto: {mode} serves {plan.totals.users:,} users; {cmp.other} serves "
                f"{int(cmp.objective_value):,} under the same limits")
    diff = cmp.objective_value - plan.objective_value
    pct = f" ({float(diff / plan.objective_value) * 100:.1f}% more)" if plan.objective_value else ""
    return (f"serving auto: {mode} is the better plan for the {plan.objective} objective; {cmp.other} "
            f"would be {float(cmp.objective_value):,.0f} {unit}, {float(diff):,.0f} {unit} more{pct}").replace("  ", " ")


def optimize(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> Plan:
    """The optimal plan for `problem`; raises InfeasibleError (with an explanation) if none exists.

    `problem.serving`: aggregated, disaggregated (prefill and decode pools, optimizer/disagg.py), or auto:
    both, the better for the objective (aggregated on a tie), with the other's value in
    `Plan.serving_comparison` and a note."""
    modes, found, reasons, bounds, failure = _each_mode(
        catalog, problem, lambda mode: _optimize_mode(catalog, problem, options, mode))
    if not found:
        raise failure
    return _choose(problem, found, modes, reasons, bounds)


def _each_mode(catalog: Catalog, problem: Problem, solve_mode):
    """Solve each serving mode of `problem` (`_modes`) with `solve_mode(mode)` → Plan (raises InfeasibleError
    when there is none), skipping a disaggregated solve that a lower bound shows cannot win (`_cannot_win`) or
    that two nodes already put out of the limits (`disagg.out_of_limits`). Returns (modes, [(mode, plan)],
    {mode: why it has no plan}, {mode: (lower bound, what it counts)}, the error to raise when no mode has a
    plan: the aggregated one's, else the first)."""
    modes = _modes(problem)
    found: list[tuple[str, Plan]] = []
    failure: InfeasibleError | None = None
    reasons: dict[str, str] = {}
    bounds: dict[str, tuple[Fraction, str]] = {}
    for mode in modes:
        skip = _cannot_win(catalog, problem, found) if mode == "disaggregated" else None
        if skip is not None:
            bounds[mode] = skip
            continue
        why = disagg.out_of_limits(catalog, problem) if mode == "disaggregated" else None
        if why:   # no need to size the pools: two nodes already break a limit
            reasons[mode] = why
            if failure is None:
                summary = f"no disaggregated plan of {problem.model}: {why}."
                failure = InfeasibleError(summary, {"summary": summary, "serving": "disaggregated"})
            continue
        try:
            found.append((mode, solve_mode(mode)))
        except InfeasibleError as err:
            if failure is None or mode == "aggregated":
                failure = err
            reasons[mode] = "no plan meets the targets and limits"
    return modes, found, reasons, bounds, failure


def _optimize_mode(catalog: Catalog, problem: Problem, options: SolveOptions, serving: str) -> Plan:
    prep = prepare_problem(catalog, problem, serving=serving, demand_cap=True)
    solution = _solve_prepared(prep, problem, options)
    if solution is None:
        if prep.roles is not None:
            raise _no_pools(problem, prep.units)
        raise explain_no_plan(catalog, problem, prep.candidates, prep.limits, prep.offers,
                              **prep.explain_args)
    plan = plan_from_solution(prep, solution, problem.objective)
    return assert_plan_ok(plan, catalog, problem)


def _no_pools(problem: Problem, units: list[Unit]) -> InfeasibleError:
    """No disaggregated plan meets the limits: how many prefill and decode units there were."""
    pre = sum(1 for u in units if u.role == "prefill")
    dec = sum(1 for u in units if u.role == "decode")
    summary = (f"no disaggregated plan of {problem.model} meets the limits: {pre} prefill and {dec} decode "
               f"candidate units, but no prefill pool and decode pool together fit the budget, power, node, "
               f"rack and stock limits (try serving: aggregated or auto, or loosen a limit).")
    return InfeasibleError(summary, {"summary": summary, "serving": "disaggregated"})

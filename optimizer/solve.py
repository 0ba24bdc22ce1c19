"""`optimize(catalog, problem)`: the optimal plan, checked.

prepare (units.py) → limits → prune dominated units (prune.py) → CP-SAT
(model.py) → plan (plan.py) → independent check (check.py). Pure: reads no
files, prints nothing, never mutates its inputs. The search modes (search.py)
reuse `prepare_problem` and `plan_from_solution`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from catalog import Catalog
from catalog.errors import InfeasibleError, NoPlanError

from .check import assert_plan_ok
from .explain import explain_infeasible
from .model import Limits, Offers, SolveOptions, Solution, solve_units
from .offers import PricedOffer
from .plan import Plan, PlanLine, Purchase, SizingClaim, SolverInfo, TcoBreakdown
from .problem import Problem
from .prune import prune_dominated
from .scaling import exact, money_from_int, money_to_int
from .tco import TcoRates, tco_rates
from .units import Candidates, Unit, offer_model, prepare

__all__ = ["optimize", "try_optimize", "explain_no_plan", "limits_for", "plan_from_solution", "Prepared",
           "prepare_problem", "plan_tco"]

# Each re-solve behind an explanation gets this long (an explanation may re-solve a dozen changes).
_ATTEMPT_OPTIONS = SolveOptions(time_limit_s=10.0)


def limits_for(problem: Problem, scale: int) -> Limits:
    """The problem's limits as solver integers (caps floored, so rounding never lets a plan through)."""
    c, w = problem.constraints, problem.workload
    # Maximizing users still needs at least one user served: an empty plan is no answer.
    demand = 1 if problem.objective == "users" else (w.concurrent_users if w.concurrent_users is not None else 1)
    return Limits(
        demand=demand,
        max_nodes=c.max_nodes,
        budget=None if c.budget is None else money_to_int(exact(c.budget), scale, rounding="floor"),
        max_power_w=c.max_power_w,
        stock=dict(c.stock),
        max_skus=c.max_skus,
        spare=c.spare_nodes > 0,
    )


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

    def by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.candidates.units}


def explain_no_plan(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits,
                    offers: Offers | None = None, *, suggest: bool = True) -> InfeasibleError:
    """`explain_infeasible` with every suggested change re-solved by `try_optimize` (`suggest=False`: none)."""
    attempt = (lambda changed: try_optimize(catalog, changed, _ATTEMPT_OPTIONS)) if suggest else None
    return explain_infeasible(catalog, problem, candidates, limits, offers, attempt=attempt)


def prepare_problem(catalog: Catalog, problem: Problem, *, prune: bool = True, same_sku: bool = False,
                    explain: bool = True) -> Prepared:
    """Candidates, limits and (pruned) units; raises InfeasibleError when no unit fits (`explain`: with reasons)."""
    candidates = prepare(catalog, problem)
    limits = limits_for(problem, candidates.money_scale)
    if not candidates.units:
        if not explain:
            raise InfeasibleError(f"no replica of {problem.model} fits")
        raise explain_no_plan(catalog, problem, candidates, limits)
    offers = offer_model(candidates, problem)
    # With offers modelled, two node types may compete for the same scarce offer: prune within a node type only.
    same_sku = same_sku or offers is not None
    units = prune_dominated(candidates.units, limits, same_sku=same_sku) if prune else list(candidates.units)
    rates = tco_rates(problem, candidates.currency)
    scale = candidates.money_scale
    tco = {u.id: money_to_int(rates.energy(u.power_w) + rates.hosting(u.nodes), scale, rounding="ceil")
           for u in candidates.units} if rates else {}
    return Prepared(problem=problem, candidates=candidates, limits=limits, units=units, rates=rates, tco=tco,
                    offers=offers)


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
    energy = rates.energy(plan.totals.power_w)
    hosting = rates.hosting(plan.totals.nodes)
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
    return SizingClaim(tp=fit.layout.tp, pp=fit.layout.pp, dp_attention=fit.layout.dp_attention,
                       weights_gb_per_gpu=fit.weights_per_gpu / 1e9, kv_budget_gb_per_gpu=fit.kv_budget_per_gpu / 1e9,
                       memory_users=u.capacity.memory_users)


def plan_from_solution(prep: Prepared, solution: Solution, objective: str) -> Plan:
    units = prep.by_id()
    c = prep.candidates
    bought = _purchases(prep, solution)
    needs = [(uid, [(item, qty * units[uid].nodes * r) for item, qty in units[uid].node.items])
             for uid, r in sorted(solution.replicas.items())]
    line_cost, line_sellers = _allocate(needs, bought)
    lines = []
    for uid, replicas in sorted(solution.replicas.items()):
        u = units[uid]
        lines.append(PlanLine(
            unit=u.id, accelerator=u.node.accelerator.id, maker=u.node.maker, platform=u.node.platform.id,
            system=u.node.system.id if u.node.system else None, gpus_per_node=u.node.count,
            nodes_per_replica=u.nodes, replicas=replicas, precision=u.variant.id, engine=u.engine.id,
            kv_dtype=u.kv_dtype, dp_attention=u.dp_attention,
            engine_settings=u.capacity.fit.settings.to_json() if u.capacity.fit.settings else {},
            users_per_replica=u.users,
            tokens_per_s_per_user=u.capacity.tokens_per_s_per_user,
            output_tokens_per_s_per_replica=u.capacity.output_tokens_per_s,
            ttft_s=u.capacity.ttft_s, cost=line_cost[uid], sellers=line_sellers[uid], node_power_w=u.node.power_w,
            memory_gb_per_node=u.node.memory_gb, note=u.note, sizing=_sizing_claim(u)))
    names: dict[str, tuple[str, str]] = {}
    for u in c.units:
        n = u.node
        if n.system:
            names[n.system.id] = ("system", n.system.name)
        else:
            names[n.platform.id] = ("platform", n.platform.name)
            names[n.accelerator.id] = ("accelerator", n.accelerator.name)
    purchases = tuple(Purchase(item=o.item, kind=names[o.item][0], description=names[o.item][1], seller=o.seller,
                               quantity=q, unit_price=o.price, condition=o.offer.condition,
                               warranty_months=o.offer.warranty_months, lead_time_weeks=o.offer.lead_time_weeks,
                               offer=o.key, source=o.offer.source, date=o.offer.price_date) for o, q in bought)
    notes = []
    problem = prep.problem
    if problem.workload.kv_reserve_gb is not None:
        notes.append(f"rule-of-thumb mode: each replica keeps {problem.workload.kv_reserve_gb:g} GB for the KV "
                     f"cache (doubled where an fp8 model runs in bf16)")
    if problem.precision == "auto":
        tried = sorted({u.variant.id for u in c.units})
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
    rates = tuple(f"1 {r.base} = {r.rate} {r.quote} ({r.source}, {r.date})" for r in c.rates_used)
    bound = None
    if solution.bound is not None:
        bound = float(money_from_int(solution.bound, c.money_scale)) if objective in ("cost", "tco") \
            else float(solution.bound)
    plan = Plan.from_lines(
        lines, c.currency, status=solution.status, objective=objective, objective_value=Fraction(0),
        problem=problem.name, model=problem.model, users_demanded=problem.workload.concurrent_users,
        price_list=c.price_list,
        solver=SolverInfo(seconds=solution.seconds, gap=solution.gap, bound=bound,
                          units_considered=len(c.units), units_after_pruning=len(prep.units)),
        left_out=_left_out(c), notes=tuple(notes), exchange_rates=rates, purchases=purchases)
    tco = plan_tco(plan, prep.rates)
    value = {"cost": plan.totals.cost, "power": Fraction(plan.totals.power_w), "users": Fraction(plan.totals.users),
             "nodes": Fraction(plan.totals.nodes), "tco": tco.total if tco else Fraction(0)}[objective]
    return plan.model_copy(update={"objective_value": value, "tco": tco})


def _solve_prepared(prep: Prepared, problem: Problem, options: SolveOptions) -> Solution | None:
    return solve_units(prep.units, prep.limits, problem.objective, options,
                       tco=prep.tco if problem.objective == "tco" else None, offers=prep.offers)


def try_optimize(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> Plan | None:
    """The optimal plan for `problem`, checked, or None when none exists (no explanation is built)."""
    try:
        prep = prepare_problem(catalog, problem, explain=False)
        solution = _solve_prepared(prep, problem, options)
    except NoPlanError:
        return None
    if solution is None:
        return None
    return assert_plan_ok(plan_from_solution(prep, solution, problem.objective), catalog, problem)


def optimize(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> Plan:
    """The optimal plan for `problem`; raises InfeasibleError (with an explanation) if none exists."""
    prep = prepare_problem(catalog, problem)
    solution = _solve_prepared(prep, problem, options)
    if solution is None:
        raise explain_no_plan(catalog, problem, prep.candidates, prep.limits, prep.offers)
    plan = plan_from_solution(prep, solution, problem.objective)
    return assert_plan_ok(plan, catalog, problem)

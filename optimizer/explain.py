"""Why no plan exists, with numbers, and the smallest change that would give one.

Two cases:
- no replica of any node type fits the model (or the price list sells nothing the
  filters allow): say, per node type, how much memory it offers and how much the
  model needs;
- replicas fit, but the limits conflict: find a minimal set of the user's limits
  that cannot hold together (a deletion filter over the limit groups: drop a limit
  and keep it dropped while the rest stays infeasible), the most users the limits
  allow, and for each limit in the set its smallest feasible value with the others
  kept (re-solving without it, minimizing what it caps).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from catalog import Catalog
from catalog.errors import InfeasibleError

from . import sizing
from .model import Limits, Offers, PlanModel, SolveOptions
from .problem import Problem
from .prune import prune_dominated
from .scaling import money_from_int
from .units import Candidates, Unit

__all__ = ["explain_infeasible"]

_EXPLAIN_OPTIONS = SolveOptions(time_limit_s=10.0)


def _groups(limits: Limits) -> list[str]:
    groups = []
    for name, value in (("max_nodes", limits.max_nodes), ("budget", limits.budget),
                        ("max_power", limits.max_power_w), ("max_skus", limits.max_skus),
                        ("max_racks", limits.max_racks)):
        if value is not None:
            groups.append(name)
    groups += [f"stock:{acc}" for acc in sorted(limits.stock)]
    if limits.spare:
        groups.append("spare")
    return groups


def _keep_only(limits: Limits, keep: set[str], demand: bool = True) -> Limits:
    return dataclasses.replace(
        limits,
        demand=limits.demand if demand else None,
        max_nodes=limits.max_nodes if "max_nodes" in keep else None,
        budget=limits.budget if "budget" in keep else None,
        max_power_w=limits.max_power_w if "max_power" in keep else None,
        max_skus=limits.max_skus if "max_skus" in keep else None,
        max_racks=limits.max_racks if "max_racks" in keep else None,
        stock={a: n for a, n in limits.stock.items() if f"stock:{a}" in keep},
        spare=limits.spare and "spare" in keep,
    )


def _feasible(units: Sequence[Unit], limits: Limits, offers: Offers | None, cluster: dict | None = None) -> bool:
    """`cluster`: the fabric and racks of the problem (PlanModel keywords), priced and counted as the solve did."""
    return PlanModel(units, limits, offers=offers, **(cluster or {})).feasible(_EXPLAIN_OPTIONS) is not False


def _describe(group: str, limits: Limits, problem: Problem, currency: str) -> str:
    c = problem.constraints
    if group == "budget":
        return f"budget {c.budget:,.0f} {currency}"
    if group == "max_nodes":
        return f"max_nodes {c.max_nodes}"
    if group == "max_power":
        if c.max_power_w is None or (limits.max_power_w is not None and limits.max_power_w < c.max_power_w):
            return f"max_site_kw {c.max_site_kw:g} kW (IT draw ≤ {limits.max_power_w:,} W at PUE {problem.tco.pue:g})"
        return f"max_power_w {c.max_power_w:,} W"
    if group == "max_skus":
        return f"max_skus {c.max_skus}"
    if group == "max_racks":
        return f"max_racks {c.max_racks}"
    if group.startswith("stock:"):
        acc = group.split(":", 1)[1]
        return f"stock of {acc} ({c.stock[acc]})"
    if group == "spare":
        return "spare capacity for a failed node"
    return group


def _smallest_value(group: str, units: Sequence[Unit], limits: Limits, others: set[str], scale: int,
                    currency: str, offers: Offers | None, cluster: dict | None = None) -> str | None:
    """The least value of `group`'s limit that lets a plan exist with the `others` kept."""
    term = {"budget": "cost", "max_nodes": "nodes", "max_power": "power", "max_racks": "racks"}.get(group)
    if group.startswith("stock:"):
        term = "gpus:" + group.split(":", 1)[1]
    model = PlanModel(units, _keep_only(limits, others), offers=offers, **(cluster or {}))
    if term == "racks" and "racks" not in model.coefs:
        term = None
    if term is None:
        return None if model.feasible(_EXPLAIN_OPTIONS) is False else f"without {group}, a plan exists"
    sol = model.solve(((term, 1), ("cost", 1)), _EXPLAIN_OPTIONS)
    if sol is None:
        return None
    value = sol.values[term]
    if term == "cost":
        return f"budget ≥ {float(money_from_int(value, scale)):,.2f} {currency}".replace(".00 ", " ")
    if term == "nodes":
        return f"max_nodes ≥ {value}"
    if term == "power":
        return f"max_power_w ≥ {value:,} W"
    if term == "racks":
        return f"max_racks ≥ {value}"
    return f"stock of {group.split(':', 1)[1]} ≥ {value}"


def _miss_sentence(miss, model, problem: Problem) -> str:
    w = problem.workload
    cap = miss.capacity
    fit = cap.fit
    what = f"{miss.nodes} × {miss.node.id} ({fit.gpus} × {miss.node.accelerator.id}) under {miss.engine.id}"
    if cap.limit == "speed":
        return (f"{what} reach at most {cap.tokens_per_s_per_user:,.1f} tok/s per user even serving one user; "
                f"{w.min_tokens_per_s:g} tok/s are asked")
    if cap.limit == "ttft":
        p90 = w.ttft_percentile == 90 and cap.ttft_p90_s is not None
        ttft, which = (cap.ttft_p90_s, "at the 90th percentile") if p90 else (cap.ttft_s, "on average")
        return (f"{what} answer the first token after {ttft:,.2f} s {which} at best; "
                f"{w.max_ttft_s:g} s are allowed")
    if cap.limit == "speculative" and w.speculative is not None:
        return f"{what}: {miss.engine.id} does not run {w.speculative.method} speculative decoding"
    if cap.limit == "prefill":
        return f"{what} prefill {w.input_tokens:,}-token prompts slower than one request per hour arrives"
    if cap.limit == "start" and fit.why_not:
        return f"{what} would not start: {fit.why_not}"
    usable = fit.gpus * (fit.kv_budget_per_gpu + fit.weights_per_gpu)
    need = fit.weights_bytes
    if w.kv_reserve_gb is not None:
        need += w.kv_reserve_gb * sizing.GB * sizing.kv_reserve_factor(model, miss.variant)
        part = "weights plus the KV reserve"
    else:
        need += sizing.kv_bytes_per_request(model, problem.kv_dtype, w.context_tokens)
        part = "weights plus one request's KV cache"
    return (f"{what} hold {usable / sizing.GB:,.0f} GB usable; {model.id} in {miss.variant.id} needs "
            f"{need / sizing.GB:,.0f} GB ({part})")


def _no_unit_fits(catalog: Catalog, problem: Problem, c: Candidates) -> InfeasibleError:
    model = catalog.models[problem.model]
    misses = sorted(c.near_misses, key=lambda m: m.closeness, reverse=True)[:6]
    parts = [_miss_sentence(m, model, problem) for m in misses]
    if parts:
        span = problem.constraints.max_nodes_per_replica
        if problem.constraints.max_nodes is not None:
            span = min(span, problem.constraints.max_nodes)
        summary = (f"No replica of {model.id} serves this workload on any node the price list {c.price_list} sells "
                   f"(up to {span} node{'s' if span > 1 else ''} per replica): " + "; ".join(parts) + ".")
    else:
        filtered = sorted(c.filtered.items())
        shown = ", ".join(f"{a} ({r})" for a, r in filtered[:8]) + (f" and {len(filtered) - 8} more" if len(filtered) > 8 else "")
        summary = (f"The price list {c.price_list} sells no node that the problem's filters allow"
                   + (f"; filtered out: {shown}" if filtered else "") + ".")
    if c.unpriced:
        more = f" and {len(c.unpriced) - 8} more" if len(c.unpriced) > 8 else ""
        summary += f" Not priced in {c.price_list}: {', '.join(c.unpriced[:8])}{more}."
    return InfeasibleError(summary, {"summary": summary, "kind": "no_unit_fits", "conflicting": [],
                                     "near_misses": parts})


_OFFER_FILTERS = (("sellers", "constraints.sellers"), ("conditions", "constraints.conditions"),
                  ("min_warranty_months", "constraints.min_warranty_months"),
                  ("max_lead_time_weeks", "constraints.max_lead_time_weeks"), ("max_sellers", "constraints.max_sellers"))


def _offer_filter_fixes(catalog: Catalog, problem: Problem) -> dict[str, str]:
    """For each offer filter the problem sets: the cheapest plan once that filter alone is dropped."""
    from .limits import limits_for
    from .units import offer_model, prepare

    fixes = {}
    for field, label in _OFFER_FILTERS:
        if getattr(problem.constraints, field) is None:
            continue
        relaxed = problem.model_copy(update={"constraints": problem.constraints.model_copy(update={field: None})})
        cands = prepare(catalog, relaxed)
        if not cands.units:
            continue
        sol = PlanModel(cands.units, limits_for(relaxed, cands.money_scale), offers=offer_model(cands, relaxed)).solve(
            "cost", _EXPLAIN_OPTIONS)
        if sol is not None:
            fixes[field] = (f"without {label} a plan exists from "
                            f"{float(money_from_int(sol.values['cost'], cands.money_scale)):,.0f} {cands.currency}")
    return fixes


def explain_infeasible(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits,
                       offers: Offers | None = None, *, fabric=None, racks=None,
                       needs: dict | None = None, same_sku: bool = False) -> InfeasibleError:
    """An InfeasibleError whose message and `explanation` say what conflicts, by how much.

    `fabric`, `racks` and `needs` (model.Fabric, model.Racks, fabric needs for pruning) make every
    trial model buy the network and racks the solve bought."""
    if not candidates.units:
        return _no_unit_fits(catalog, problem, candidates)
    cluster = {k: v for k, v in (("fabric", fabric), ("racks", racks)) if v is not None}
    return _explain(catalog, problem, candidates, limits, offers, needs, same_sku, cluster)


def _explain(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits, offers: Offers | None,
             needs: dict | None, same_sku: bool, cluster: dict) -> InfeasibleError:
    # Prune without the caps: a unit that breaks the budget alone must still count when the budget is relaxed.
    uncapped = dataclasses.replace(limits, max_nodes=None, budget=None, max_power_w=None, max_racks=None)
    units = prune_dominated(candidates.units, uncapped, same_sku=same_sku or offers is not None, needs=needs)
    groups = _groups(limits) + (["max_sellers"] if offers is not None and offers.max_sellers else [])
    core = list(groups)
    for g in groups:
        trial = set(core) - {g}
        if not _feasible(units, _keep_only(limits, trial), _keep_offers(offers, trial), cluster):
            core.remove(g)
    currency, scale = candidates.currency, candidates.money_scale
    demand = limits.demand or 1
    best = PlanModel(units, _keep_only(limits, set(groups), demand=False), maximize_users=True,
                     offers=offers, **cluster).solve("users", _EXPLAIN_OPTIONS)
    max_users = best.values["users"] if best else 0
    unbounded = max_users >= 10**6
    fixes = {g: _smallest_value(g, units, limits, set(core) - {g}, scale, currency, _keep_offers(offers, set(core) - {g}),
                                cluster)
             for g in core if g != "max_sellers"}
    fixes.update(_offer_filter_fixes(catalog, problem))
    named = [_describe(g, limits, problem, currency) for g in core]
    supply = offers is not None and any(o.stock is not None for o in offers.offers)
    conflict = " and ".join(named) if named else ("the stock of the offers allowed" if supply else "the demand alone")
    if problem.workload.concurrent_users is None:
        summary = (f"No plan holds one replica of {problem.model} under these limits. Conflicting: {conflict}.")
    else:
        summary = (f"No plan serves {demand:,} user{'' if demand == 1 else 's'} of {problem.model} under these "
                   f"limits. Conflicting: {conflict}"
                   + ("." if unbounded else f"; within all the limits at most {max_users:,} users can be served."))
    shown = [f for f in fixes.values() if f]
    if shown:
        summary += " Smallest change to each (the others kept): " + "; or ".join(shown) + "."
    explanation = {"summary": summary, "kind": "limits_conflict", "conflicting": core,
                   "max_users_within_limits": None if unbounded else max_users, "relaxations": fixes}
    return InfeasibleError(summary, explanation)


def _keep_offers(offers: Offers | None, keep: set[str]) -> Offers | None:
    if offers is None or "max_sellers" in keep:
        return offers
    return dataclasses.replace(offers, max_sellers=None)

"""Why no plan exists, with numbers, and changes that would give one — each one re-solved.

Two cases:
- no replica of any node type fits the model (or the price list sells nothing the
  filters allow): say, per accelerator, how much memory its largest replica offers and
  how much the model needs (by name, never by internal unit id);
- replicas fit, but the limits conflict: find a minimal set of the user's limits
  that cannot hold together (a deletion filter over the limit groups: drop a limit
  and keep it dropped while the rest stays infeasible), the most users the limits
  allow, and for each limit in the set its smallest feasible value with EVERY other
  limit kept (re-solving, minimizing what it caps). When no single limit suffices,
  the smallest pair of changes that does (one term minimized, then the other).

Then, when the caller passes `attempt` (a function that solves a modified problem and
returns its plan or None), suggestions a buyer can act on: another precision or
quantized build, a node cap, dropping a hardware filter or an offer filter. Every
suggestion printed is the answer of `attempt` on the problem with that change, so it
is known to give a plan (the numbers are that plan's). The search modes pass no
`attempt` in sweeps, where an explanation per point would cost a solve per change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from catalog import Catalog
from catalog.errors import InfeasibleError

from . import sizing
from .serving import spec_engine_error, spec_layout_error
from .model import Limits, Offers, PlanModel, SolveOptions
from .plan import Plan
from .problem import Problem
from .prune import prune_dominated
from .scaling import money_from_int
from .units import Candidates, NearMiss, NodeType, Unit

__all__ = ["explain_infeasible", "Attempt"]

Attempt = Callable[[Problem], "Plan | None"]
_EXPLAIN_OPTIONS = SolveOptions(time_limit_s=10.0)
_MAX_PRECISION_SUGGESTIONS = 3


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


_TERMS = {"budget": "cost", "max_nodes": "nodes", "max_power": "power", "max_racks": "racks"}


def _term(group: str) -> str | None:
    if group.startswith("stock:"):
        return "gpus:" + group.split(":", 1)[1]
    return _TERMS.get(group)


def _change(group: str, value: int | None, problem: Problem, scale: int, currency: str) -> tuple[str, dict]:
    """A limit's new value in words and as problem overrides (value None: the limit dropped)."""
    c = problem.constraints
    if group == "budget":
        amount = math.ceil(float(money_from_int(value, scale)) * 100) / 100  # cents up: the budget is floored
        return (f"budget ≥ {amount:,.2f} {currency}".replace(".00 ", " "),
                {("constraints", "budget"): ("--budget", amount)})
    if group == "max_nodes":
        return f"max_nodes ≥ {value}", {("constraints", "max_nodes"): ("--max-nodes", value)}
    if group == "max_power":
        return f"max_power_w ≥ {value:,} W", {("constraints", "max_power_w"): ("--max-power-kw", value)}
    if group.startswith("stock:"):
        acc = group.split(":", 1)[1]
        return f"stock of {acc} ≥ {value}", {("constraints", "stock"): ("constraints.stock", {**c.stock, acc: value})}
    if group == "max_racks":
        return f"max_racks ≥ {value}", {("constraints", "max_racks"): ("constraints.max_racks", value)}
    if group == "max_skus":
        return "without max_skus", {("constraints", "max_skus"): ("constraints.max_skus", None)}
    if group == "spare":
        return "without spare capacity", {("constraints", "spare_nodes"): ("--spare-nodes", 0)}
    return f"without {group}", {("constraints", group): (f"constraints.{group}", None)}


def _relaxed(problem: Problem, overrides: dict) -> Problem | None:
    """`problem` with the overrides applied (None values drop the field); None if that is not a valid problem."""
    data = problem.model_dump(exclude_unset=True)
    for loc, (_, value) in overrides.items():
        d = data
        for key in loc[:-1]:
            d = d.setdefault(key, {})
        if value is None:
            d.pop(loc[-1], None)
        else:
            d[loc[-1]] = value
    try:
        return Problem.model_validate(data)
    except ValueError:
        return None


def _verified(attempt: Attempt | None, problem: Problem, overrides: dict) -> Plan | None | bool:
    """The plan `attempt` finds for the changed problem; True when there is no `attempt` to ask."""
    if attempt is None:
        return True
    changed = _relaxed(problem, overrides)
    return None if changed is None else attempt(changed)


def _plan_value(group: str, plan: Plan) -> Any:
    """What `plan` uses of the quantity `group` caps, as solver-free numbers."""
    if group == "budget":
        return plan.totals.cost
    if group == "max_nodes":
        return plan.totals.nodes
    if group == "max_power":
        return plan.totals.power_w
    if group.startswith("stock:"):
        acc = group.split(":", 1)[1]
        return sum(l.gpus for l in plan.lines if l.accelerator == acc)
    if group == "max_racks" and getattr(plan, "racks", None):
        return sum(r.racks for r in plan.racks)
    return None


def _confirmed(found: tuple[str, dict] | None, groups: Sequence[str], attempt: Attempt | None, problem: Problem,
               currency: str) -> tuple[str, dict] | None:
    """Re-solve the change; then state it at what the re-solved plan actually uses, and re-solve that too.

    The unit-level arithmetic sees only the replicas the original limits allowed (a looser node
    cap allows longer pipelines), so the plan of the changed problem may need less than it found.
    """
    if found is None or attempt is None:
        return found
    plan = _verified(attempt, problem, found[1])
    if not plan:
        return None
    words, overrides = [], dict(found[1])
    for g in groups:
        used = _plan_value(g, plan)
        if used is None:
            words.append(_change(g, None, problem, 1, currency)[0])
            continue
        if g == "budget":
            amount = math.ceil(float(used) * 100) / 100
            words.append(f"budget ≥ {amount:,.2f} {currency}".replace(".00 ", " "))
            overrides[("constraints", "budget")] = ("--budget", amount)
        else:
            text, o = _change(g, used, problem, 1, currency)
            words.append(text)
            overrides.update(o)
    if not _verified(attempt, problem, overrides):
        return found
    return " and ".join(words), overrides


def _smallest_value(group: str, units: Sequence[Unit], limits: Limits, others: set[str], scale: int,
                    problem: Problem, currency: str, offers: Offers | None,
                    cluster: dict | None = None) -> tuple[str, dict] | None:
    """The least value of `group`'s limit that lets a plan exist with the `others` kept."""
    term = _term(group)
    model = PlanModel(units, _keep_only(limits, others), offers=offers, **(cluster or {}))
    if term == "racks" and "racks" not in model.coefs:
        term = None
    if term is None:
        return None if model.feasible(_EXPLAIN_OPTIONS) is False else _change(group, None, problem, scale, currency)
    sol = model.solve(((term, 1), ("cost", 1)), _EXPLAIN_OPTIONS)
    if sol is None:
        return None
    return _change(group, sol.values[term], problem, scale, currency)


def _smallest_pair(pair: tuple[str, str], units: Sequence[Unit], limits: Limits, others: set[str], scale: int,
                   problem: Problem, currency: str, offers: Offers | None,
                   cluster: dict | None = None) -> tuple[str, dict] | None:
    """Both limits of `pair` changed: the first term as small as it can be, then the second."""
    model = PlanModel(units, _keep_only(limits, others), offers=offers, **(cluster or {}))
    terms = [_term(g) for g in pair]
    terms = [None if t == "racks" and "racks" not in model.coefs else t for t in terms]
    objective = tuple((t, 1) for t in terms if t is not None) + (("cost", 1),)
    sol = model.solve(objective, _EXPLAIN_OPTIONS)
    if sol is None:
        return None
    words, overrides = [], {}
    for g, t in zip(pair, terms):
        text, o = _change(g, None if t is None else sol.values[t], problem, scale, currency)
        words.append(text)
        overrides.update(o)
    return " and ".join(words), overrides


def _node_name(node: NodeType) -> str:
    """A node as a buyer names it: 'Dell PowerEdge XE9680 (8 × NVIDIA H200)'."""
    if node.system is not None:
        return f"{node.system.name} ({node.count} × {node.accelerator.name})"
    return f"{node.platform.name} with {node.count} × {node.accelerator.name}"


def _plan_words(plan: Plan) -> str:
    """What a plan buys and what it costs, in a buyer's words."""
    buys = " + ".join(f"{l.nodes} node{'s' if l.nodes > 1 else ''} of {l.gpus_per_node} × {l.accelerator}"
                      f" ({l.precision}, {l.engine})" for l in plan.lines)
    speed = plan.slowest_tokens_per_s_per_user
    cost = float(plan.totals.cost)
    return (f"{buys}, {cost:,.0f} {plan.totals.currency}, {plan.totals.users:,} users"
            + (f" at ≥ {speed:,.1f} tok/s each" if speed is not None else ""))


def _miss_sentence(miss: NearMiss, model, problem: Problem) -> str:
    w = problem.workload
    cap = miss.capacity
    fit = cap.fit
    what = f"{miss.nodes} × {_node_name(miss.node)} under {miss.engine.id}"
    if cap.limit == "speed":
        return (f"{what} reach at most {cap.tokens_per_s_per_user:,.1f} tok/s per user even serving one user; "
                f"{w.min_tokens_per_s:g} tok/s are asked")
    if cap.limit == "ttft":
        p90 = w.ttft_percentile == 90 and cap.ttft_p90_s is not None
        ttft, which = (cap.ttft_p90_s, "at the 90th percentile") if p90 else (cap.ttft_s, "on average")
        return (f"{what} answer the first token after {ttft:,.2f} s {which} at best; "
                f"{w.max_ttft_s:g} s are allowed")
    if cap.limit == "speculative" and w.speculative is not None:
        # capacity sets this limit for exactly these two reasons
        why = spec_engine_error(miss.engine.id, w.speculative.method, model) or spec_layout_error(
            miss.engine.id, w.speculative.method, fit.layout.pp, fit.layout.dp_attention)
        return f"{what}: {why}"
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
    # The closest miss per accelerator: one sentence each, not one per node size.
    closest: dict[str, NearMiss] = {}
    for m in sorted(c.near_misses, key=lambda m: m.closeness, reverse=True):
        closest.setdefault(m.node.accelerator.id, m)
    parts = [_miss_sentence(m, model, problem) for m in list(closest.values())[:6]]
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


def _offer_filter_fixes(problem: Problem, attempt: Attempt | None) -> dict[str, str]:
    """For each offer filter the problem sets: the best plan once that filter alone is dropped."""
    fixes = {}
    if attempt is None:
        return fixes
    for field, label in _OFFER_FILTERS:
        if getattr(problem.constraints, field) is None:
            continue
        plan = _verified(attempt, problem, {("constraints", field): (label, None)})
        if plan:
            fixes[field] = f"without {label} a plan exists: {_plan_words(plan)}"
    return fixes


_ALL_CLASSES = ("datacenter", "workstation", "consumer", "edge")
# Hardware filters a buyer may widen: (field, flag or field name shown).
_HARDWARE_FILTERS = (("accelerators", "--accelerator"), ("vendors", "--vendor"),
                     ("hardware_classes", "--class"), ("form_factors", "constraints.form_factors"),
                     ("exclude_accelerators", "constraints.exclude_accelerators"),
                     ("require_native_fp8", "constraints.require_native_fp8"))


def _weight_bytes(model, variant) -> float:
    return variant.size_gb * 1e9 if variant.size_gb is not None else model.params_b * 1e9 * variant.bits_per_weight / 8


def _settings(overrides: dict) -> dict[str, Any]:
    """Overrides as {'constraints.max_nodes': 3, ...} (None: the field dropped), for JSON readers and tests."""
    return {".".join(loc): value for loc, (_, value) in overrides.items()}


def _suggestions(catalog: Catalog, problem: Problem, attempt: Attempt | None, no_fit: bool) -> list[dict[str, Any]]:
    """Changes of precision, node count or hardware filter that give a plan, each re-solved."""
    if attempt is None:
        return []
    out = _precision_suggestions(catalog, problem, attempt)
    if no_fit:
        out += _node_suggestions(problem, attempt)
    return out + _filter_suggestions(problem, attempt)


def _precision_suggestions(catalog: Catalog, problem: Problem, attempt: Attempt) -> list[dict[str, Any]]:
    """The best few builds smaller than every precision asked (only those can fit where the asked ones did
    not, or fit more users), best plan first."""
    model = catalog.models[problem.model]
    asked = set(problem.precisions) | ({model.native_precision} if "auto" in problem.precisions else set())
    smallest = min(_weight_bytes(model, model.variant(p)) for p in asked if p != "auto")
    found = []
    for v in model.variants:
        if v.id in asked or _weight_bytes(model, v) >= smallest:
            continue
        plan = _verified(attempt, problem, {("precision",): ("--precision", v.id)})
        if plan:
            found.append((v, plan))
    found.sort(key=lambda vp: (vp[1].objective_value if problem.objective != "users" else -vp[1].totals.users,
                               vp[0].id))
    out = []
    for v, plan in found[:_MAX_PRECISION_SUGGESTIONS]:
        lossy = " (a lossy quantized build: check its accuracy for your use)" if v.quantized else ""
        out.append({"change": f"--precision {v.id}", "plan": _plan_words(plan) + lossy,
                    "set": {"precision": v.id}})
    return out


def _node_suggestions(problem: Problem, attempt: Attempt) -> list[dict[str, Any]]:
    """Longer pipelines or more nodes: the fewest nodes any plan needs, then that cap re-solved."""
    c = problem.constraints
    wide = {("constraints", "max_nodes"): ("--max-nodes", None),
            ("constraints", "max_nodes_per_replica"): ("constraints.max_nodes_per_replica",
                                                       max(8, c.max_nodes_per_replica))}
    plan = _verified(attempt, problem, wide)
    if not plan:
        return []
    overrides = dict(wide)
    overrides[("constraints", "max_nodes")] = ("--max-nodes", plan.totals.nodes)
    overrides[("constraints", "max_nodes_per_replica")] = (
        "constraints.max_nodes_per_replica",
        max(c.max_nodes_per_replica, max(l.nodes_per_replica for l in plan.lines)))
    again = _verified(attempt, problem, overrides)
    if not again:
        return []
    span = overrides[("constraints", "max_nodes_per_replica")][1]
    change = f"--max-nodes {plan.totals.nodes}" + (
        f" with constraints.max_nodes_per_replica = {span}" if span != c.max_nodes_per_replica else "")
    return [{"change": change, "plan": _plan_words(again), "set": _settings(overrides)}]


def _filter_suggestions(problem: Problem, attempt: Attempt) -> list[dict[str, Any]]:
    """Each hardware filter the problem sets, dropped (hardware classes: widened to every class), re-solved."""
    c = problem.constraints
    out = []
    for field, flag in _HARDWARE_FILTERS:
        if not getattr(c, field, None):
            continue
        drop = {("constraints", field): (flag, None)}
        if field == "hardware_classes":   # a default list, not an optional filter: widen it to every class
            if set(c.hardware_classes) >= set(_ALL_CLASSES):
                continue
            drop = {("constraints", field): (flag, list(_ALL_CLASSES))}
        plan = _verified(attempt, problem, drop)
        if plan:
            change = (f"--class {' --class '.join(_ALL_CLASSES)} (every hardware class)" if field == "hardware_classes"
                      else f"without {flag} (constraints.{field})")
            out.append({"change": change, "plan": _plan_words(plan), "set": _settings(drop)})
    return out


def _with_suggestions(err: InfeasibleError, suggestions: list[dict[str, Any]]) -> InfeasibleError:
    if not suggestions:
        return err
    summary = err.explanation["summary"] + " Changes that give a plan (each re-solved): " + "; ".join(
        f"{s['change']}: {s['plan']}" for s in suggestions) + "."
    return InfeasibleError(summary, {**err.explanation, "summary": summary, "suggestions": suggestions})


def explain_infeasible(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits,
                       offers: Offers | None = None, *, attempt: Attempt | None = None, fabric=None, racks=None,
                       needs: dict | None = None, same_sku: bool = False) -> InfeasibleError:
    """An InfeasibleError whose message and `explanation` say what conflicts, by how much, and what would work.

    `attempt(changed_problem) -> Plan | None` solves a changed problem; with it every
    suggested change is re-solved before it is given (without it, none is suggested
    beyond the limit arithmetic, which is solved on the same units). `fabric`, `racks` and
    `needs` (model.Fabric, model.Racks, fabric needs for pruning) make every trial model buy
    the network and racks the solve bought.
    """
    if not candidates.units:
        return _with_suggestions(_no_unit_fits(catalog, problem, candidates),
                                 _suggestions(catalog, problem, attempt, no_fit=True))
    cluster = {k: v for k, v in (("fabric", fabric), ("racks", racks)) if v is not None}
    return _explain(catalog, problem, candidates, limits, offers, attempt, needs, same_sku, cluster)


def _explain(catalog: Catalog, problem: Problem, candidates: Candidates, limits: Limits, offers: Offers | None,
             attempt: Attempt | None, needs: dict | None, same_sku: bool, cluster: dict) -> InfeasibleError:
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
    fixes: dict[str, str | None] = {}
    for g in core:
        others = set(groups) - {g}   # every other limit kept, not only the conflicting ones
        found = None if g == "max_sellers" else _smallest_value(g, units, limits, others, scale, problem, currency,
                                                                _keep_offers(offers, others), cluster)
        found = _confirmed(found, [g], attempt, problem, currency)
        fixes[g] = found[0] if found else None
    together, together_set = None, None
    if not any(fixes.values()):
        pairs = [(a, b) for a in core for b in groups if a != b and "max_sellers" not in (a, b)]
        for pair in pairs:
            others = set(groups) - set(pair)
            found = _confirmed(_smallest_pair(pair, units, limits, others, scale, problem, currency,
                                              _keep_offers(offers, others), cluster), pair, attempt, problem, currency)
            if found:
                together = found[0]
                together_set = _settings(found[1])
                break
    fixes.update(_offer_filter_fixes(problem, attempt))
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
        summary += " Smallest change to each (every other limit kept): " + "; or ".join(shown) + "."
    elif together:
        summary += (f" No single limit change is enough (each binds with the others kept); together: "
                    f"{together}.")
    explanation = {"summary": summary, "kind": "limits_conflict", "conflicting": core,
                   "max_users_within_limits": None if unbounded else max_users, "relaxations": fixes,
                   "together": together, "together_set": together_set}
    return _with_suggestions(InfeasibleError(summary, explanation),
                             _suggestions(catalog, problem, attempt, no_fit=False))


def _keep_offers(offers: Offers | None, keep: set[str]) -> Offers | None:
    if offers is None or "max_sellers" in keep:
        return offers
    return dataclasses.replace(offers, max_sellers=None)

"""`optimize(catalog, problem)`: the cheapest (or lowest-power) plan, checked.

prepare (units.py) → limits → prune dominated units (prune.py) → CP-SAT
(model.py) → plan (plan.py) → independent check (check.py). Pure: reads no
files, prints nothing, never mutates its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from catalog import Catalog

from .check import assert_plan_ok
from .explain import explain_infeasible
from .model import Limits, SolveOptions, Solution, solve_units
from .plan import Plan, PlanLine, SolverInfo
from .problem import Problem
from .prune import prune_dominated
from .scaling import exact, money_from_int, money_to_int
from .units import Candidates, Unit, prepare

__all__ = ["optimize", "limits_for", "plan_from_solution", "Prepared", "prepare_problem"]


def limits_for(problem: Problem, scale: int) -> Limits:
    """The problem's limits as solver integers (caps floored, so rounding never lets a plan through)."""
    c, w = problem.constraints, problem.workload
    return Limits(
        demand=w.concurrent_users if w.concurrent_users is not None else 1,
        max_nodes=c.max_nodes,
        budget=None if c.budget is None else money_to_int(exact(c.budget), scale, rounding="floor"),
        max_power_w=c.max_power_w,
        stock=dict(c.stock),
        max_skus=c.max_skus,
    )


@dataclass(frozen=True)
class Prepared:
    """Everything the search modes share: the candidates, the limits, the pruned units."""

    problem: Problem
    candidates: Candidates
    limits: Limits
    units: list[Unit]

    def by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.candidates.units}


def prepare_problem(catalog: Catalog, problem: Problem, *, prune: bool = True, same_sku: bool = False) -> Prepared:
    candidates = prepare(catalog, problem)
    limits = limits_for(problem, candidates.money_scale)
    if not candidates.units:
        raise explain_infeasible(catalog, problem, candidates, limits)
    units = prune_dominated(candidates.units, limits, same_sku=same_sku) if prune else list(candidates.units)
    return Prepared(problem=problem, candidates=candidates, limits=limits, units=units)


def _left_out(c: Candidates) -> tuple[str, ...]:
    out = []
    if c.unpriced:
        out.append(f"not in price list {c.price_list}: " + ", ".join(c.unpriced))
    by_reason: dict[str, list[str]] = {}
    for acc, reason in sorted(c.filtered.items()):
        by_reason.setdefault(reason, []).append(acc)
    for reason, accs in by_reason.items():
        out.append(f"{reason}: " + ", ".join(accs))
    return tuple(out)


def plan_from_solution(prep: Prepared, solution: Solution, objective: str) -> Plan:
    units = prep.by_id()
    c = prep.candidates
    lines = []
    for uid, replicas in sorted(solution.replicas.items()):
        u = units[uid]
        lines.append(PlanLine(
            unit=u.id, accelerator=u.node.accelerator.id, vendor=u.node.vendor, platform=u.node.platform.id,
            system=u.node.system.id if u.node.system else None, gpus_per_node=u.node.count,
            nodes_per_replica=u.nodes, replicas=replicas, precision=u.variant.id, engine=u.engine.id,
            kv_dtype=u.kv_dtype, dp_attention=u.dp_attention, users_per_replica=u.users,
            tokens_per_s_per_user=u.capacity.tokens_per_s_per_user,
            output_tokens_per_s_per_replica=u.capacity.output_tokens_per_s,
            ttft_s=u.capacity.ttft_s, node_price=u.node.price, node_power_w=u.node.power_w,
            memory_gb_per_node=u.node.memory_gb, note=u.note))
    notes = []
    if prep.problem.workload.kv_reserve_gb is not None:
        notes.append(f"rule-of-thumb mode: each replica keeps {prep.problem.workload.kv_reserve_gb:g} GB for the KV "
                     f"cache (doubled where an fp8 model runs in bf16)")
    rates = tuple(f"1 {r.base} = {r.rate} {r.quote} ({r.source}, {r.date})" for r in c.rates_used)
    plan = Plan.from_lines(
        lines, c.currency, status=solution.status, objective=objective, objective_value=Fraction(0),
        problem=prep.problem.name, model=prep.problem.model, users_demanded=prep.problem.workload.concurrent_users,
        price_list=c.price_list,
        solver=SolverInfo(seconds=solution.seconds, gap=solution.gap,
                          bound=None if solution.bound is None else _bound_in_units(solution, objective, c.money_scale),
                          units_considered=len(c.units), units_after_pruning=len(prep.units)),
        left_out=_left_out(c), notes=tuple(notes), exchange_rates=rates)
    value = {"cost": plan.totals.cost, "power": Fraction(plan.totals.power_w),
             "users": Fraction(plan.totals.users), "tco": Fraction(0)}[objective]
    return plan.model_copy(update={"objective_value": value})


def _bound_in_units(solution: Solution, objective: str, scale: int) -> float:
    if objective in ("cost", "tco"):
        return float(money_from_int(solution.bound, scale))  # type: ignore[arg-type]
    return float(solution.bound)  # type: ignore[arg-type]


def optimize(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> Plan:
    """The optimal plan for `problem`; raises InfeasibleError (with an explanation) if none exists."""
    prep = prepare_problem(catalog, problem)
    solution = solve_units(prep.units, prep.limits, problem.objective, options)
    if solution is None:
        raise explain_infeasible(catalog, problem, prep.candidates, prep.limits, prep.units)
    plan = plan_from_solution(prep, solution, problem.objective)
    return assert_plan_ok(plan, catalog, problem)


"""Search modes on the same CP-SAT model: shortlists, per-vendor plans, Pareto fronts, sweeps.

- shortlist: alternatives a buyer would ask quotes for, at the level of node types
  (default), accelerators, vendors or platforms. Plan 1 is the optimum; plan i+1 is the
  best plan that uses none of the groups plans 1..i use (no two plans share a node
  type / accelerator / vendor / platform), so each is the best under its own
  distinction. Every plan is irredundant: dropping any of its lines breaks the demand
  (or the spare-node rule); a plan with a line it does not need is re-solved without
  that line's unit (with positive costs an optimum never has one, but ties in power
  or TCO could). Each plan's units are pruned anew from those of the groups still allowed
  (a unit that could replace a pruned one is among them), so no alternative is lost.
- per_vendor / per_seller: for each accelerator maker (seller), `optimize` of the problem
  restricted to it, so each is exactly what `solve --vendor` (`--seller`) answers.
- pareto: the exact non-dominated plans on two objectives (cost, power, nodes, tco)
  by ε-constraints: min x (then y), then require y below the last point's y, repeat.
- sweep: the optimum for each user count (or each budget, maximizing users); points
  run in worker processes in contiguous chunks, each chunk reusing the previous
  point's solution as a hint.

Every plan returned has passed the independent checker.
"""

from __future__ import annotations

import math
import os
import signal
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from catalog import Catalog
from catalog.errors import InfeasibleError, InputError, NoPlanError, SolverTimeoutError, shorten

from .check import assert_plan_ok
from .model import Limits, PlanModel, Solution, SolveOptions
from .plan import Plan
from .problem import Problem, with_overrides
from . import disagg
from .prune import prune_dominated
from .solve import Prepared, explain_no_plan, limits_for, plan_from_solution, prepare_problem
from .units import Unit

__all__ = ["shortlist", "per_vendor", "per_seller", "pareto", "sweep", "k_best", "k_disjoint", "redundant_line",
           "pareto_front", "SweepPoint",
           "DISTINCT_LEVELS", "PARETO_TERMS", "parse_range"]

DISTINCT_LEVELS = ("sku", "accelerator", "vendor", "platform")
SWEEP_CHUNK = 25
PARETO_TERMS = ("cost", "power", "nodes", "tco")


def _group_of(unit: Unit, level: str) -> str:
    if level == "sku":
        return unit.sku
    if level == "accelerator":
        return unit.node.accelerator.id
    if level == "vendor":
        return unit.node.maker
    if level == "platform":
        return unit.node.system.id if unit.node.system else unit.node.platform.id
    raise InputError(f"--distinct = '{level}': choose one of {', '.join(DISTINCT_LEVELS)}.")


def _pruner(prep: Prepared) -> Callable[[Sequence[Unit]], list[Unit]]:
    """Dominance pruning of the units a shortlist plan may still use (those of no group an earlier plan
    used): every unit that could replace a pruned one is among them, so each plan stays exact."""
    def prune(units: Sequence[Unit]) -> list[Unit]:
        # With offers modelled, node types compete for scarce offers: only a unit of the same node type may replace one.
        same = prep.offers is not None or prep.rack_sensitive
        if prep.roles is not None:   # disaggregated: prefill and decode units prune within their own pool
            return disagg.prune_roles(list(units), prep.limits, prep.prune_needs, same)
        return prune_dominated(units, prep.limits, same_sku=same,
                               needs=prep.prune_needs, demand_cap=prep.problem.objective != "users")
    return prune


def _rank(plan: Plan, objective: str) -> tuple:
    """Best first: the objective's value (most users first when maximizing users), then cost."""
    primary = -plan.totals.users if objective == "users" else plan.objective_value
    return primary, plan.totals.cost


def _model(prep: Prepared, units: Sequence[Unit], objective: str, *, need_used: bool = False) -> PlanModel:
    return PlanModel(units, prep.limits, maximize_users=objective == "users", need_used=need_used,
                     tco=prep.tco or None, offers=prep.offers, fabric=prep.fabric, racks=prep.racks, roles=prep.roles)


def _serving(problem: Problem) -> str:
    """The serving mode the shortlist, Pareto and sweep searches plan: disaggregated when asked, else aggregated
    (`serving: auto` compares the two in `solve`, per-vendor and per-seller, which solve each plan in full)."""
    return "disaggregated" if problem.serving == "disaggregated" else "aggregated"


def _auto_note(plans: list[Plan], problem: Problem) -> list[Plan]:
    """Under an explicit `serving: auto`, say that this search planned aggregated replicas only."""
    if problem.serving != "auto" or "serving" not in problem.model_fields_set:
        return plans
    note = ("serving auto: this search plans aggregated replicas; --serving disaggregated searches prefill and "
            "decode pools (solve, --per-vendor and --per-seller compare both)")
    return [p.model_copy(update={"notes": (*p.notes, note)}) for p in plans]


def _checked(catalog: Catalog, prep: Prepared, solution, objective: str, problem: Problem | None = None) -> Plan:
    plan = plan_from_solution(prep, solution, objective)
    return assert_plan_ok(plan, catalog, problem or prep.problem)


def k_best(model: PlanModel, objective: str, k: int, group_of: Callable[[str], str],
           options: SolveOptions = SolveOptions()) -> list[Solution]:
    """Up to `k` optimal solutions in objective order whose sets of groups all differ (model level)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for u in model.units:
        groups[group_of(u.id)].append(u.id)
    found: list[Solution] = []
    while len(found) < k:
        try:
            solution = model.solve(objective, options)
        except SolverTimeoutError:
            if not found:
                raise
            model.front_timed_out = True  # the plans found so far stand; time ran out before the next one
            break
        if solution is None:
            break
        found.append(solution)
        model.forbid_group_set(groups, {group_of(uid) for uid in solution.replicas})
        model.hint(solution.replicas)  # now infeasible, but a near start for the next plan
    return found


def redundant_line(units: Sequence[Unit], replicas: dict[str, int], limits: Limits) -> str | None:
    """A unit id whose whole line the plan can drop and still serve the demand (and the spare rule); else None."""
    by_id = {u.id: u for u in units}
    demand = limits.demand or 1
    for uid in sorted(replicas):
        rest = {k: r for k, r in replicas.items() if k != uid and r > 0}
        if not rest:
            continue
        users = sum(by_id[k].users * r for k, r in rest.items())
        if users < demand:
            continue
        if limits.spare and users - max(by_id[k].users for k in rest) < demand:
            continue
        return uid
    return None


def k_disjoint(units: Sequence[Unit], limits: Limits, objective: str, k: int, group_of: Callable[[str], str],
               options: SolveOptions = SolveOptions(), *, tco: dict[str, int] | None = None,
               offers=None, timed_out: list | None = None,
               prune: Callable[[Sequence[Unit]], list[Unit]] | None = None, **model_args) -> list[Solution]:
    """Up to `k` plans, each the best that uses no group an earlier one uses, each irredundant (model level).

    `prune`, when given, shrinks the units each plan may use before its model is built (exact
    dominance pruning over those units). `model_args` go to every PlanModel (the fabric and racks of
    the problem). When the time limit runs out after the first plan, the plans found stand and
    `timed_out` (a list) gets an entry."""
    left = list(units)
    found: list[Solution] = []
    while len(found) < k and left:
        pool = prune(left) if prune is not None else list(left)
        while True:
            try:
                solution = PlanModel(pool, limits, maximize_users=objective == "users", tco=tco,
                                     offers=offers, **model_args).solve(objective, options)
            except SolverTimeoutError:
                if not found:
                    raise
                if timed_out is not None:
                    timed_out.append(True)   # the plans found so far stand; time ran out before the next one
                return found
            # Maximizing users, every line adds users: none is redundant; nor, with prefill and decode pools,
            # is a line the pool constraint may need (redundant_line counts users only).
            extra = None if solution is None or objective == "users" or model_args.get("roles") is not None \
                else redundant_line(pool, solution.replicas, limits)
            if extra is None:
                break
            pool = [u for u in pool if u.id != extra]
        if solution is None:
            break
        found.append(solution)
        used = {group_of(uid) for uid in solution.replicas}
        left = [u for u in left if group_of(u.id) not in used]
    return found


def pareto_front(model: PlanModel, x: str, y: str, max_points: int = 50,
                 options: SolveOptions = SolveOptions()) -> list[Solution]:
    """Non-dominated solutions on (x, y) by ε-constraints, lowest x first (model level)."""
    tie = "nodes" if "nodes" not in (x, y) else "cost"
    found: list[Solution] = []
    while len(found) < max_points:
        try:
            solution = model.solve(((x, 1), (y, 1), (tie, 1)), options)
        except SolverTimeoutError:
            if not found:
                raise
            model.front_timed_out = True  # a partial front: every point is non-dominated, more may lie beyond
            break
        if solution is None:
            break
        found.append(solution)
        model.cap_term(y, solution.values[y] - 1)
        model.hint(solution.replicas)
    return found


def shortlist(catalog: Catalog, problem: Problem, k: int = 5, distinct: str = "sku",
              options: SolveOptions = SolveOptions()) -> list[Plan]:
    """Up to `k` plans, best first, no two sharing a `distinct` group; each the best without the earlier groups."""
    if k < 1:
        raise InputError(f"-k = {k}: ask for at least one plan.")
    prep = prepare_problem(catalog, problem, prune=False, serving=_serving(problem))
    units = prep.candidates.units
    prune = _pruner(prep)
    prep = replace(prep, units=prune(units))   # what plan 1 is solved over
    by_id = {u.id: u for u in units}
    timed_out: list = []
    found = k_disjoint(units, prep.limits, problem.objective, k, lambda uid: _group_of(by_id[uid], distinct), options,
                       tco=prep.tco if problem.objective == "tco" else None, offers=prep.offers,
                       fabric=prep.fabric, racks=prep.racks, timed_out=timed_out, roles=prep.roles, prune=prune)
    plans = [_checked(catalog, prep, solution, problem.objective) for solution in found]
    if not plans:
        raise explain_no_plan(catalog, problem, prep.candidates, prep.limits, prep.offers, **prep.explain_args)
    if timed_out:
        note = (f"the time limit ran out before plan {len(plans) + 1} was found: the shortlist may be shorter "
                f"than -k {k} (raise --time-limit)")
        plans[-1] = plans[-1].model_copy(update={"notes": (*plans[-1].notes, note)})
    return _auto_note(plans, problem)


def _restricted(problem: Problem, field: str, flag: str, value: str) -> Problem:
    """`problem` allowed only `value` for constraints.`field` (as `--vendor value` / `--seller value` would)."""
    return with_overrides(problem, {("constraints", field): (flag, [value])})


def _best_each(catalog: Catalog, problem: Problem, field: str, flag: str, values: Sequence[str],
               options: SolveOptions) -> list[tuple[str, Plan]]:
    """For each value: `optimize` on the problem restricted to it (its own preparation and pruning)."""
    from .solve import optimize

    found = []
    for value in values:
        try:
            found.append((value, optimize(catalog, _restricted(problem, field, flag, value), options)))
        except NoPlanError:
            continue
    if not found:
        prep = prepare_problem(catalog, problem)
        raise explain_no_plan(catalog, problem, prep.candidates, prep.limits, prep.offers, **prep.explain_args)
    return sorted(found, key=lambda vp: (*_rank(vp[1], problem.objective), vp[0]))


def per_vendor(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> list[Plan]:
    """The best plan for each accelerator maker that can serve the problem, best first.

    Each plan is exactly `optimize` of the problem restricted to that maker (`--vendor`): the
    candidates are pruned per restriction, since a unit dominated by another maker's unit can
    be that maker's best.
    """
    prep = prepare_problem(catalog, problem, prune=False)
    makers = sorted({u.node.maker for u in prep.units})
    return [plan for _, plan in _best_each(catalog, problem, "vendors", "--per-vendor", makers, options)]


def pareto(catalog: Catalog, problem: Problem, x: str = "cost", y: str = "power", max_points: int = 50,
           options: SolveOptions = SolveOptions()) -> list[Plan]:
    """Every non-dominated plan on (x, y), lowest x first, up to `max_points`."""
    for name, term in (("--x", x), ("--y", y)):
        if term not in PARETO_TERMS:
            raise InputError(f"{name} = '{term}': choose one of {', '.join(PARETO_TERMS)}.")
    if x == y:
        raise InputError(f"--x and --y are both '{x}'; a front needs two different objectives.")
    if problem.objective == "users":
        raise InputError("a Pareto front minimizes two objectives for a fixed demand; objective 'users' has none.")
    prep = prepare_problem(catalog, problem, serving=_serving(problem), demand_cap=True)
    if "tco" in (x, y) and not prep.tco:
        raise InputError(f"a TCO front needs an electricity price in {prep.candidates.currency} (tco.electricity_per_kwh).")
    model = _model(prep, prep.units, "cost")
    plans = [_checked(catalog, prep, solution, "cost").model_copy(update={"objective": f"{x}/{y}"})
             for solution in pareto_front(model, x, y, max_points, options)]
    if getattr(model, "front_timed_out", False) and plans:
        note = (f"the time limit ran out before the point after this one was found: the front may go on "
                f"beyond {len(plans)} points (raise --time-limit)")
        plans[-1] = plans[-1].model_copy(update={"notes": (*plans[-1].notes, note)})
    if not plans:
        raise explain_no_plan(catalog, problem, prep.candidates, prep.limits, prep.offers,
                              **prep.explain_args)
    return _auto_note(plans, problem)


def per_seller(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions()) -> list[tuple[str, Plan]]:
    """The best plan buying everything from one seller, for each seller that can serve the problem.

    Each plan is exactly `optimize` of the problem restricted to that seller (`--seller`).
    """
    from .offers import eligible_offers

    offers, _, _ = eligible_offers(catalog, problem)
    sellers = sorted({o.seller for item_offers in offers.values() for o in item_offers})
    return _best_each(catalog, problem, "sellers", "--per-seller", sellers, options)


@dataclass(frozen=True)
class SweepPoint:
    value: int | float          # the user count or budget of this point
    plan: Plan | None
    explanation: dict | None    # why no plan exists at this point


MAX_SWEEP_POINTS = 10_000


def parse_range(text: str, flag: str) -> list[float]:
    """'16:256:16' → [16, 32, …, 256]; 'a,b,c' → [a, b, c]; at most MAX_SWEEP_POINTS values.

    The number of points is computed before any list is built, so '1:2:1e-9' is refused at once
    instead of filling memory. Raises InputError naming `flag` for anything else.
    """
    usage = (f"{flag} = '{shorten(text)}': give START:STOP:STEP with STEP > 0 and STOP ≥ START, "
             f"or a comma-separated list of at most {MAX_SWEEP_POINTS:,} numbers.")
    values = _parse_steps(text, flag, usage) if ":" in text else _parse_list(text, flag, usage)
    if not values or any(v <= 0 for v in values):
        raise InputError(f"{flag} = '{shorten(text)}': every value must be positive.")
    return values


def _parse_steps(text: str, flag: str, usage: str) -> list[float]:
    """START:STOP:STEP, counted before it is built."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise InputError(usage) from None
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise InputError(f"{flag} = '{shorten(text)}': START, STOP and STEP must be finite numbers.")
    if step <= 0 or stop < start:
        raise InputError(usage)
    ratio = (stop - start) / step  # may be inf for a tiny step: compare before converting
    count = ratio + 1 if ratio >= MAX_SWEEP_POINTS else math.floor(ratio) + 1
    if count > MAX_SWEEP_POINTS:
        raise InputError(f"{flag} = '{shorten(text)}': {f'{count:,.0f}' if math.isfinite(count) else 'too many'} "
                         f"points; sweep at most {MAX_SWEEP_POINTS:,} (raise STEP).")
    return [start + i * step for i in range(int(count))]


def _parse_list(text: str, flag: str, usage: str) -> list[float]:
    """a,b,c: at most MAX_SWEEP_POINTS finite numbers."""
    if text.count(",") + 1 > MAX_SWEEP_POINTS:
        raise InputError(f"{flag} = '{shorten(text)}': {text.count(',') + 1:,} points; sweep at most "
                         f"{MAX_SWEEP_POINTS:,}.")
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        raise InputError(usage) from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{flag} = '{shorten(text)}': every value must be a finite number.")
    return values


def _point_problem(problem: Problem, kind: str, value: float) -> Problem:
    if kind == "users":
        return with_overrides(problem, {("workload", "concurrent_users"): ("--users", int(value))})
    return with_overrides(problem, {("constraints", "budget"): ("--budget", value), ("objective",): ("--budget", "users")})


def _solve_chunk(catalog: Catalog, problem: Problem, kind: str, values: list[float],
                 options: SolveOptions) -> list[SweepPoint]:
    """Points in order, one preparation, each solve hinted with the previous answer."""
    # Pruning drops units that break a cap, so prepare under the loosest point: the largest budget.
    loosest = _point_problem(problem, kind, max(values) if kind == "budget" else values[0])
    try:
        prep = prepare_problem(catalog, loosest, serving=_serving(problem))
    except InfeasibleError as exc:
        return [SweepPoint(v, None, exc.explanation) for v in values]
    out: list[SweepPoint] = []
    hint: dict[str, int] | None = None
    for v in values:
        point = _point_problem(problem, kind, v)
        p = replace(prep, problem=point, limits=limits_for(point, prep.candidates.money_scale),
                    roles=None if prep.roles is None else disagg.roles_of(prep.units, point))
        model = _model(p, p.units, point.objective)
        if hint:
            model.hint(hint)
        try:
            solution = model.solve(point.objective, options)
        except NoPlanError as exc:
            out.append(SweepPoint(v, None, {"summary": str(exc)}))
            continue
        if solution is None:
            out.append(SweepPoint(v, None, explain_no_plan(catalog, point, p.candidates, p.limits, p.offers,
                                                           suggest=False, **p.explain_args).explanation))
            continue
        hint = solution.replicas
        out.append(SweepPoint(v, _auto_note([_checked(catalog, p, solution, point.objective, point)], problem)[0],
                              None))
    return out


def sweep(catalog: Catalog, problem: Problem, *, users: list[float] | None = None, budgets: list[float] | None = None,
          options: SolveOptions = SolveOptions(), workers: int | None = None,
          progress: Callable[[int], None] | None = None) -> list[SweepPoint]:
    """The optimum at each user count (min objective) or each budget (max users), in order."""
    if (users is None) == (budgets is None):
        raise InputError("give either --users START:STOP:STEP or --budget START:STOP:STEP to sweep.")
    kind, values = ("users", users) if users is not None else ("budget", budgets)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(values) >= 40 else 1
    # Fixed-size chunks: each chunk's first point is solved without a hint, so the answers
    # (and the choice among equal optima) do not depend on how many processes run.
    chunks = [values[i:i + SWEEP_CHUNK] for i in range(0, len(values), SWEEP_CHUNK)]
    # More processes than chunks (or than a few per core) only costs memory: `--workers 1000000` must not fork-bomb.
    workers = max(1, min(workers, len(chunks), 4 * (os.cpu_count() or 1)))
    results: list[SweepPoint] = []
    if workers <= 1:
        for chunk in chunks:
            part = _solve_chunk(catalog, problem, kind, chunk, options)
            results += part
            if progress:
                progress(len(part))
        return results
    # Workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and the parent alone
    # decides — on KeyboardInterrupt (or any error) it stops the workers and re-raises, so no worker
    # prints a traceback and no BrokenProcessPool reaches the user.
    # The catalog goes to each worker once, at its start: the chunks sent through the pool's pipe stay
    # small, so stopping the workers never leaves the pool's feeder thread blocked on a full pipe.
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(catalog,))
    try:
        futures = [pool.submit(_solve_worker_chunk, problem, kind, chunk, options) for chunk in chunks]
        for fut in futures:  # in order: chunks are contiguous
            part = _result(fut)
            results += part
            if progress:
                progress(len(part))
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown()
    return results


_WORKER_CATALOG: Catalog | None = None


def _result(future):
    """`future.result()`, waiting in short steps: a blocked wait would hold Ctrl-C until the chunk ends."""
    while True:
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            continue


def _start_worker(catalog: Catalog) -> None:
    """A sweep worker: keeps the catalog and leaves Ctrl-C to the parent process."""
    global _WORKER_CATALOG
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_CATALOG = catalog


def _solve_worker_chunk(problem: Problem, kind: str, values: list[float], options: SolveOptions) -> list[SweepPoint]:
    return _solve_chunk(_WORKER_CATALOG, problem, kind, values, options)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the worker processes now (a solve may run for its time limit)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them: take them first
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
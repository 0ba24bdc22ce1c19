"""The CP-SAT model: how many replicas of each candidate unit to buy.

Formulation
-----------
Sets
    U   candidate units: one replica of the model on `nodes_u` nodes of one node
        type, with a precision and an engine (optimizer/units.py)
    A   accelerators with a stock limit
    S   node types (SKUs)
Parameters (integers, scaled once in optimizer/scaling.py)
    users_u   users one replica serves           cost_u    price of one replica
    power_u   watts one replica draws             nodes_u   nodes in one replica
    gpus_u    accelerators in one replica         sku_u     its node type
    N demand (users), Nmax node cap, B budget, P power cap, stock_a, K max SKUs,
    s spare nodes
Variables
    r_u ∈ {0, …, R_u}   replicas of u, R_u its tightest valid upper bound
    y_u ∈ {0, 1}        u is used (only when SKUs are limited or plans must differ)
    z_s ∈ {0, 1}        SKU s is used (only when SKUs are limited)
Constraints
    demand    Σ users_u·r_u ≥ N
    spare     Σ users_u·r_u − users_v ≥ N for every unit v that may be used,
              when any one replica (with s = 1 spare node: any one node) may fail:
              written as  Σ users_u·r_u − m ≥ N,  m ≥ users_v·y_v
    nodes     Σ nodes_u·r_u ≤ Nmax
    budget    Σ cost_u·r_u ≤ B
    power     Σ power_u·r_u ≤ P
    stock     Σ_{u on a} gpus_u·r_u ≤ stock_a             ∀ a ∈ A
    skus      r_u ≤ R_u·y_u,  y_u ≤ z_{sku_u},  Σ_s z_s ≤ K
Objectives (lexicographic; one weighted sum when it fits in 62 bits, else stages)
    cost    min (Σ cost_u·r_u, Σ power_u·r_u, Σ nodes_u·r_u)
    power   min (power, cost, nodes)
    tco     min (Σ tco_u·r_u, cost, power) with tco_u = cost_u + energy and hosting
    users   max Σ users_u·r_u, then min cost, power (budget-capped search; demand N = 1:
            a plan must serve someone)

Solver settings come from ../shared/SOLVER-NOTES.md and benchmarks/scaling.py:
one worker with linearization level 2 proves these covering knapsacks by their LP
bound in well under a second, and gives the same answer on every run.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from catalog.errors import SolverTimeoutError

from .scaling import INT_LIMIT, check_range

__all__ = ["UnitLike", "Limits", "OfferVar", "Offers", "SolveOptions", "Solution", "PlanModel", "solve_units",
           "replica_bounds", "OBJECTIVE_TERMS"]


class UnitLike(Protocol):
    """What the model needs to know about a candidate unit."""

    @property
    def id(self) -> str: ...
    @property
    def users(self) -> int: ...
    @property
    def cost(self) -> int: ...
    @property
    def power_w(self) -> int: ...
    @property
    def nodes(self) -> int: ...
    @property
    def gpus(self) -> int: ...
    @property
    def accelerator_id(self) -> str: ...
    @property
    def sku(self) -> str: ...


@dataclass(frozen=True)
class Limits:
    """The problem's limits in solver integers; None means unlimited."""

    demand: int | None = None
    max_nodes: int | None = None
    budget: int | None = None
    max_power_w: int | None = None
    stock: dict[str, int] = field(default_factory=dict)
    max_skus: int | None = None
    spare: bool = False          # the plan must survive the loss of any one replica


@dataclass(frozen=True)
class OfferVar:
    """One offer as the solver sees it: price in solver money units, stock (None: unlimited)."""

    key: str
    item: str
    seller: str
    price: int
    stock: int | None


@dataclass(frozen=True)
class Offers:
    """Purchase side of the model: every eligible offer, what one replica of each unit buys."""

    offers: tuple[OfferVar, ...]
    needs: dict[str, tuple[tuple[str, int], ...]]   # unit id -> ((item, quantity per replica), ...)
    max_sellers: int | None = None


PRESOLVE_MIN_VARIABLES = 300


@dataclass(frozen=True)
class SolveOptions:
    time_limit_s: float = 30.0
    workers: int = 1
    seed: int = 0
    linearization_level: int = 2
    presolve: bool | None = None   # None: only for models above PRESOLVE_MIN_VARIABLES (measured faster)


# The lexicographic order of each objective: (term, sense) pairs.
OBJECTIVE_TERMS: dict[str, tuple[tuple[str, int], ...]] = {
    "cost": (("cost", 1), ("power", 1), ("nodes", 1)),
    "power": (("power", 1), ("cost", 1), ("nodes", 1)),
    "tco": (("tco", 1), ("power", 1), ("nodes", 1)),
    "users": (("users", -1), ("cost", 1), ("power", 1)),
    "nodes": (("nodes", 1), ("cost", 1), ("power", 1)),
}


@dataclass(frozen=True)
class Solution:
    status: str                      # optimal | feasible
    replicas: dict[str, int]         # unit id -> replicas (only > 0)
    values: dict[str, int]           # term -> value (cost, power, nodes, users)
    bound: int | None                # proven bound on the primary term
    gap: float                       # relative gap of the stage that stopped early (0 when optimal)
    seconds: float
    purchases: dict[str, int] = field(default_factory=dict)   # offer key -> quantity (when offers are modelled)
    stages: int = 1                  # weighted solves the lexicographic objective took


def replica_bounds(units: Sequence[UnitLike], limits: Limits, maximize_users: bool = False) -> dict[str, int]:
    """Tightest valid upper bound on each unit's replicas; a unit with bound 0 can be dropped.

    ceil(N / users_u) is valid when minimizing (a unit alone never needs more), not
    when maximizing users; the caps divide each limit by the unit's share of it.
    """
    bounds: dict[str, int] = {}
    for u in units:
        caps = []
        if limits.demand is not None and not maximize_users:
            extra = 1 if limits.spare else 0
            caps.append(math.ceil(limits.demand / u.users) + extra)
        if limits.max_nodes is not None:
            caps.append(limits.max_nodes // u.nodes)
        if limits.budget is not None and u.cost > 0:
            caps.append(limits.budget // u.cost)
        if limits.max_power_w is not None and u.power_w > 0:
            caps.append(limits.max_power_w // u.power_w)
        if u.accelerator_id in limits.stock:
            caps.append(limits.stock[u.accelerator_id] // u.gpus)
        if not caps:
            caps.append(10**6)
        bounds[u.id] = max(0, min(min(caps), 10**6))
    return bounds


class PlanModel:
    """CP-SAT variables and constraints for one set of units and limits.

    Each constraint group has its own method, named after the formulation; explain.py
    names conflicting groups by solving with some of them left out.
    """

    def __init__(self, units: Sequence[UnitLike], limits: Limits, *, maximize_users: bool = False,
                 need_used: bool = False, tco: dict[str, int] | None = None,
                 offers: Offers | None = None):
        from ortools.sat.python import cp_model  # lazy: ortools imports pandas (~0.4 s)

        self.cp = cp_model
        self.model = cp_model.CpModel()
        self.limits = limits
        self.maximize_users = maximize_users
        self._groups: dict[str, object] = {}
        self._extra_constraints = False  # no-goods or caps added after building: limits alone no longer describe the model
        self.bounds = replica_bounds(units, limits, maximize_users)
        self.units = [u for u in units if self.bounds[u.id] > 0]
        self.replicas = {u.id: self.model.new_int_var(0, self.bounds[u.id], f"replicas[{u.id}]") for u in self.units}
        self.used: dict[str, object] = {}
        if need_used or limits.max_skus is not None or limits.spare:
            for u in self.units:
                y = self.model.new_bool_var(f"used[{u.id}]")
                self.model.add(self.replicas[u.id] <= self.bounds[u.id] * y)
                self.model.add(self.replicas[u.id] >= y)
                self.used[u.id] = y
        # Every decision variable by key: replica counts by unit id, offer purchases by "offer:<key>".
        self.vars: dict[str, object] = dict(self.replicas)
        self.coefs: dict[str, dict[str, int]] = {
            "cost": {u.id: u.cost for u in self.units},
            "power": {u.id: u.power_w for u in self.units},
            "nodes": {u.id: u.nodes for u in self.units},
            "users": {u.id: u.users for u in self.units},
        }
        self.offers = offers
        if offers is not None:
            self._add_purchases(offers)
        if tco is not None:  # tco[u] is the energy and hosting of one replica; capital cost is the cost term
            self.coefs["tco"] = {**self.coefs["cost"], **{u.id: self.coefs["cost"].get(u.id, 0) + tco[u.id]
                                                           for u in self.units}}
        for acc in limits.stock:
            self._add_gpu_term(acc)
        for term, coefs in self.coefs.items():  # before CP-SAT sees a sum that may overflow 64 bits
            check_range(term, coefs, self.bounds)
        self.terms = {t: sum(c * self.vars[k] for k, c in coefs.items()) for t, coefs in self.coefs.items()}
        if offers is not None:
            self._add_item_balance(offers)
            self._add_seller_limit(offers)
        self._add_demand()
        self._add_node_cap()
        self._add_budget()
        self._add_power_cap()
        self._add_stock()
        self._add_sku_limit()

    # -- helpers -----------------------------------------------------------------
    def _add_gpu_term(self, acc: str) -> str:
        """Accelerators of kind `acc` bought, as a term (for stock limits and their explanation)."""
        name = f"gpus:{acc}"
        if name not in self.coefs:
            self.coefs[name] = {u.id: u.gpus for u in self.units if u.accelerator_id == acc}
            if hasattr(self, "terms"):
                self.terms[name] = sum(c * self.vars[k] for k, c in self.coefs[name].items())
        return name

    def upper(self, term: str, bounds: dict[str, int] | None = None) -> int:
        """Largest absolute value `term` can take, from the variables' bounds."""
        bounds = bounds or self.bounds
        return sum(abs(c) * bounds[k] for k, c in self.coefs[term].items())

    def _tighten(self, bounds: dict[str, int], term: str, value: int) -> dict[str, int]:
        """Shrink the domains of `self.model` (a clone) to what term ≤ value allows.

        CP-SAT checks an objective for overflow over the variables' domains, so a held
        term must narrow the domains before its ratio bounds can buy smaller weights.
        """
        tight = dict(bounds)
        for k, c in self.coefs[term].items():
            if c > 0 and value // c < tight[k]:
                tight[k] = max(0, value // c)
                self.model.proto.variables[self.vars[k].index].domain[1] = tight[k]
        return tight

    # -- purchases from offers -------------------------------------------------------
    def _add_purchases(self, offers: Offers) -> None:
        """Integer quantities bought from each offer; the cost term becomes what the offers charge."""
        demand: dict[str, int] = defaultdict(int)  # most of each item any plan could need
        for u in self.units:
            for item, qty in offers.needs[u.id]:
                demand[item] += qty * self.bounds[u.id]
        cost: dict[str, int] = {}
        for o in offers.offers:
            if o.item not in demand:
                continue
            key = f"offer:{o.key}"
            top = demand[o.item] if o.stock is None else min(o.stock, demand[o.item])
            self.vars[key] = self.model.new_int_var(0, top, f"buy[{o.key}]")
            self.bounds[key] = top
            cost[key] = o.price
        self.coefs["cost"] = cost

    def _add_item_balance(self, offers: Offers) -> None:
        by_item: dict[str, list[str]] = defaultdict(list)
        for o in offers.offers:
            if f"offer:{o.key}" in self.vars:
                by_item[o.item].append(f"offer:{o.key}")
        need: dict[str, list] = defaultdict(list)
        for u in self.units:
            for item, qty in offers.needs[u.id]:
                need[item].append(qty * self.replicas[u.id])
        for item in sorted(need):
            bought = sum(self.vars[k] for k in by_item.get(item, []))
            self.model.add(bought == sum(need[item]))

    def _add_seller_limit(self, offers: Offers) -> None:
        if offers.max_sellers is None:
            return
        by_seller: dict[str, list[str]] = defaultdict(list)
        for o in offers.offers:
            if f"offer:{o.key}" in self.vars:
                by_seller[o.seller].append(f"offer:{o.key}")
        chosen = []
        for seller, keys in sorted(by_seller.items()):
            s_used = self.model.new_bool_var(f"seller[{seller}]")
            for k in keys:
                self.model.add(self.vars[k] <= self.bounds[k] * s_used)
            chosen.append(s_used)
        self.model.add(sum(chosen) <= offers.max_sellers)

    # -- constraints, one per group --------------------------------------------
    def _add_demand(self) -> None:
        n = self.limits.demand
        if n is None:
            return
        self.model.add(self.terms["users"] >= n)
        if self.limits.spare and self.units:
            # Any one used replica may fail: capacity minus the largest used replica still covers N.
            largest = self.model.new_int_var(0, max(u.users for u in self.units), "largest_used_replica")
            for u in self.units:
                self.model.add(largest >= u.users * self.used[u.id])
            self.model.add(self.terms["users"] - largest >= n)

    def _add_node_cap(self) -> None:
        if self.limits.max_nodes is not None:
            self.model.add(self.terms["nodes"] <= self.limits.max_nodes)

    def _add_budget(self) -> None:
        if self.limits.budget is not None:
            self.model.add(self.terms["cost"] <= self.limits.budget)

    def _add_power_cap(self) -> None:
        if self.limits.max_power_w is not None:
            self.model.add(self.terms["power"] <= self.limits.max_power_w)

    def _add_stock(self) -> None:
        by_acc: dict[str, list[UnitLike]] = defaultdict(list)
        for u in self.units:
            if u.accelerator_id in self.limits.stock:
                by_acc[u.accelerator_id].append(u)
        for acc, units in sorted(by_acc.items()):
            total = sum(u.gpus * self.replicas[u.id] for u in units)
            self.model.add(total <= self.limits.stock[acc])

    def _add_sku_limit(self) -> None:
        if self.limits.max_skus is None:
            return
        by_sku: dict[str, list[UnitLike]] = defaultdict(list)
        for u in self.units:
            by_sku[u.sku].append(u)
        chosen = []
        for sku, units in sorted(by_sku.items()):
            z = self.model.new_bool_var(f"sku_used[{sku}]")
            for u in units:
                self.model.add_implication(self.used[u.id], z)
            chosen.append(z)
        self.model.add(sum(chosen) <= self.limits.max_skus)

    # -- distinct plans ------------------------------------------------------------
    def group_used(self, group: str, unit_ids: list[str]):
        """A literal that is true exactly when some unit of `group` is used (needs `used`)."""
        key = f"group[{group}]"
        lit = self._groups.get(key)
        if lit is None:
            lit = self.model.new_bool_var(key)
            members = [self.used[uid] for uid in unit_ids if uid in self.used]
            for y in members:
                self.model.add_implication(y, lit)
            self.model.add_bool_or([lit.Not(), *members])
            self._groups[key] = lit
        return lit

    def forbid_group_set(self, groups: dict[str, list[str]], chosen: set[str]) -> None:
        """No-good: the next plan must not use exactly the groups in `chosen` (supersets stay allowed)."""
        lits = [self.group_used(g, uids).Not() if g in chosen else self.group_used(g, uids)
                for g, uids in sorted(groups.items())]
        self.model.add_bool_or(lits)
        self._extra_constraints = True

    def cap_term(self, term: str, value: int) -> None:
        """term ≤ value from now on (ε-constraints of a Pareto sweep)."""
        self.model.add(self.terms[term] <= value)
        self._extra_constraints = True

    # -- solving -----------------------------------------------------------------
    def hint(self, replicas: dict[str, int]) -> None:
        self.model.clear_hints()
        for uid, var in self.replicas.items():
            self.model.add_hint(var, min(replicas.get(uid, 0), self.bounds[uid]))

    def solver(self, options: SolveOptions, time_left: float):
        solver = self.cp.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(time_left, 0.01)
        p.num_workers = options.workers
        p.random_seed = options.seed
        p.linearization_level = options.linearization_level
        # On small models presolve costs more than it saves (a 52-unit shortlist of ten solves:
        # 64 ms with, 34 ms without); large ones need it (benchmarks/scaling.py).
        p.cp_model_presolve = options.presolve if options.presolve is not None else \
            len(self.vars) > PRESOLVE_MIN_VARIABLES
        return solver

    def _split(self, chosen: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
        """Decision values → (replicas by unit id, purchases by offer key), nonzero only."""
        replicas = {uid: chosen[uid] for uid in self.replicas if chosen[uid] > 0}
        purchases = {k[len("offer:"):]: q for k, q in chosen.items() if k.startswith("offer:") and q > 0}
        return replicas, purchases

    def _canonical(self, values: dict[str, int], terms: list[str], options: SolveOptions) -> dict[str, int] | None:
        """The optimum with the smallest vector of decisions in key order (replicas, then purchases).

        Several workers may return different solutions among equal optima; minimizing
        each variable in turn (each a unique value) gives one answer whatever the
        number of workers.
        """
        model = self.model.clone()
        for t in terms:
            model.add(self.terms[t] == values[t])
        chosen: dict[str, int] = {}
        for key in sorted(self.replicas) + sorted(k for k in self.vars if k not in self.replicas):
            var = self.vars[key]
            model.minimize(var)
            solver = self.solver(options, options.time_limit_s)
            if solver.solve(model) != self.cp.OPTIMAL:
                return None
            chosen[key] = int(solver.value(var))
            model.add(var == chosen[key])
        return chosen

    def feasible(self, options: SolveOptions = SolveOptions()) -> bool | None:
        """True or False when decided, None when the time limit ran out first."""
        self.model.clear_objective()
        status = self.solver(options, options.time_limit_s).solve(self.model)
        if status == self.cp.INFEASIBLE:
            return False
        return True if status in (self.cp.OPTIMAL, self.cp.FEASIBLE) else None

    def _bound(self, term: str, known: dict[str, int], bounds: dict[str, int] | None = None) -> int:
        """Largest value `term` can take, tightened by terms already fixed at their optimum.

        If every variable of `term` also carries a positive coefficient in a fixed term f,
        then term ≤ f* × max(coef_term / coef_f) — far tighter than the variables' bounds.
        """
        best = self.upper(term, bounds)
        coefs = self.coefs[term]
        for f, value in known.items():
            other = self.coefs[f]
            if value >= 0 and coefs and all(other.get(k, 0) > 0 for k in coefs):
                ratio = max(Fraction(abs(c), other[k]) for k, c in coefs.items())
                best = min(best, math.floor(value * ratio))
        return best

    def _single_unit_bound(self, term: str) -> int | None:
        """`term` of the best plan made of one unit alone, if such a plan meets every limit; else None."""
        lim = self.limits
        if self.offers is not None or lim.demand is None or self.maximize_users or self._extra_constraints:
            return None
        best = None
        for u in self.units:
            r = math.ceil(lim.demand / u.users) + (1 if lim.spare else 0)
            if r > self.bounds[u.id]:
                continue  # breaks a cap (the bounds already hold nodes, budget, power and stock)
            value = self.coefs[term].get(u.id, 0) * r
            best = value if best is None else min(best, value)
        return best

    def _next_stage(self, remaining: list[tuple[str, int]], known: dict[str, int],
                    bounds: dict[str, int]) -> list[tuple[str, int, int]]:
        """The longest run of terms, in order, whose weighted sum stays inside 62-bit integers —
        both on the plans still allowed (lexicographic exactness) and over the variables'
        domains (CP-SAT's overflow check)."""
        for n in range(len(remaining), 0, -1):
            group = remaining[:n]
            weights, w = [], 1
            for t, _ in reversed(group):
                weights.append(w)
                w *= self._bound(t, known, bounds) + 1
            weights.reverse()
            reach = sum(wt * self.upper(t, bounds) for (t, _), wt in zip(group, weights))
            if n == 1 or (w < INT_LIMIT and reach < INT_LIMIT):
                return [(t, sense, wt) for (t, sense), wt in zip(group, weights)]
        raise AssertionError("unreachable")

    def solve(self, objective: str | tuple[tuple[str, int], ...],
              options: SolveOptions = SolveOptions()) -> Solution | None:
        """Optimize lexicographically; None if infeasible. Raises SolverTimeoutError if time ran out empty.

        `objective` names an entry of OBJECTIVE_TERMS or gives the (term, sense) pairs itself.
        Terms are solved in as few weighted stages as 62-bit weights allow; after a stage its
        terms are held at their optimum (one-sided), which also tightens the next weights.
        """
        start = time.perf_counter()
        terms = list(OBJECTIVE_TERMS[objective] if isinstance(objective, str) else objective)
        for t, _ in terms:
            if t.startswith("gpus:"):
                self._add_gpu_term(t.split(":", 1)[1])
        base = self.model
        status_all = "optimal"
        known: dict[str, int] = {}
        values: dict[str, int] = {}
        bound = None
        gap = 0.0
        replicas: dict[str, int] = {}
        purchases: dict[str, int] = {}
        remaining = terms
        stages = 0
        primary, sense = terms[0]
        bounds = dict(self.bounds)
        start_bound = self._single_unit_bound(primary) if sense > 0 else None
        if start_bound is not None and len(terms) > 1:
            # Any feasible plan bounds the optimum: holding the primary term under it narrows the
            # domains and the ratio bounds of the other terms, often enough for one weighted solve.
            self.model = base.clone()
            self.model.add(self.terms[primary] <= start_bound)
            bounds = self._tighten(bounds, primary, start_bound)
            known[primary] = start_bound
        try:
            while remaining:
                stage = self._next_stage(remaining, known, bounds)
                remaining = remaining[len(stage):]
                stages += 1
                self.model.minimize(sum(s * wt * self.terms[t] for t, s, wt in stage))
                solver = self.solver(options, options.time_limit_s - (time.perf_counter() - start))
                status = solver.solve(self.model)
                if status == self.cp.INFEASIBLE:
                    return None
                if status not in (self.cp.OPTIMAL, self.cp.FEASIBLE):
                    if stages == 1:
                        if status == self.cp.MODEL_INVALID:
                            raise RuntimeError(f"CP-SAT rejected the model: {self.model.validate()}")
                        raise SolverTimeoutError(
                            f"the time limit of {options.time_limit_s:g} s ran out before any plan was found; "
                            f"raise --time-limit or narrow the problem.")
                    status_all = "feasible"
                    break
                chosen = {k: int(solver.value(v)) for k, v in self.vars.items()}
                replicas, purchases = self._split(chosen)
                values = {t: sum(c * chosen[k] for k, c in coefs.items()) for t, coefs in self.coefs.items()}
                lead, lead_sense, wt = stage[0]
                bnd = math.floor(solver.best_objective_bound + 1e-9)
                # The bound of the weighted sum gives a bound of its lead term.
                stage_bound = bnd // wt if lead_sense > 0 else -(bnd // wt)
                if stages == 1:
                    bound = stage_bound
                if status != self.cp.OPTIMAL:
                    # The gap of the stage that did not finish (a later stage: its own term's gap, not 0).
                    gap = abs(values[lead] - stage_bound) / max(1, abs(values[lead]))
                    status_all = "feasible"
                    break
                if remaining:  # hold each solved term at its optimum, on a copy of the caller's model
                    if self.model is base:
                        self.model = base.clone()
                    for t, s, _ in stage:
                        known[t] = values[t]
                        self.model.add(s * self.terms[t] <= s * values[t])
                        if s > 0:
                            bounds = self._tighten(bounds, t, values[t])
                    self.hint(replicas)
        finally:
            self.model = base
        values = {t: int(v) for t, v in values.items()}
        if options.workers > 1 and status_all == "optimal":
            canonical = self._canonical(values, [t for t, _ in terms], options)
            if canonical is not None:
                replicas, purchases = self._split(canonical)
        return Solution(status=status_all, replicas=replicas, values=values, bound=bound, gap=gap,
                        seconds=time.perf_counter() - start, purchases=purchases, stages=stages)


def solve_units(units: Sequence[UnitLike], limits: Limits, objective: str = "cost",
                options: SolveOptions = SolveOptions(), *, tco: dict[str, int] | None = None,
                hint: dict[str, int] | None = None, offers: Offers | None = None) -> Solution | None:
    """Build and solve the model; None if no plan satisfies the limits."""
    model = PlanModel(units, limits, maximize_users=objective == "users", tco=tco, offers=offers)
    if hint:
        model.hint(hint)
    return model.solve(objective, options)

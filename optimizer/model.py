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
    t_k ∈ ℤ             t_k = the value of objective term k (cost, power, ...); a solve narrows
                        its domain to hold a solved term at its optimum, then restores it
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
Scale-out fabric (optimizer/fabric.py; only when some unit spans nodes), per fabric class f
(protocol × speed), with switch types k of P_k ports, price c_k, draw w_k (fabric.py offers one type per
class, so a rail that fits max_k P_k fits one switch), and link price ℓ_f:
    T_f = Σ_u ports_u·r_u      node ports on switches (units of class f needing switches)
    N_f = Σ_u nodes_u·r_u      nodes on switches
    D_f = Σ_u direct_u·r_u     port-to-port cables of two-node replicas (no switch)
    W_{f,k} ∈ ℤ≥0              switches of type k bought         t_f ∈ {0, 1}: two tiers
    U_f ∈ ℤ≥0                  leaf-to-spine uplinks              L_f ∈ ℤ≥0: links (cables)
    tiers     N_f ≤ max_k P_k + M·t_f          (one tier while every rail fits one switch)
              U_f ≥ T_f − M·(1 − t_f)          (two tiers: non-blocking, an uplink per node port)
              N_f ≤ (max_k P_k)²/2             (two tiers at most; M: the largest T_f or N_f the
                                                replica bounds allow; topology per the NVIDIA DGX
                                                SuperPOD reference architecture, see fabric.py)
    ports     Σ_k P_k·W_{f,k} ≥ T_f + 2·U_f    (leaves hold node ports and uplinks, spines the uplinks)
    links     L_f = T_f + U_f + D_f
    NICs      C_f = Σ_u cards_u·r_u     (cards for nodes sold without NICs, at price n_f)
    terms     cost += Σ_k c_k·W_{f,k} + ℓ_f·L_f + n_f·C_f,   power += Σ_k w_k·W_{f,k} + v_f·C_f
              (w_k, v_f: maximum draw of a switch and a NIC card, transceivers in their ports)
Network racks: the switches of every class in racks of height H and power limit K (the air-cooled
rack of the site, constraints.max_rack_kw), price c_n, hosting h_n:
    R_n ∈ ℤ≥0      H·R_n ≥ Σ_{f,k} u_k·W_{f,k}  (u_k: rack units of a switch)
                   K·R_n ≥ Σ_{f,k} w_k·W_{f,k}
    terms          cost += c_n·R_n,   tco += (c_n + h_n)·R_n,   racks += R_n
Racks (optimizer/racks.py), per node type s with q_s nodes per rack (space and kW per rack), rack
price c_s and hosting h_s over the TCO horizon:
    R_s ∈ ℤ≥0                  racks of node type s
    racks     q_s·R_s ≥ k_s·Σ_{u of s} nodes_u·r_u   (k_s racks per node of a rack-scale system, else 1)
    max racks Σ_s R_s ≤ Rmax
    terms     cost += Σ_s c_s·R_s,   tco += Σ_s (c_s + h_s)·R_s,   racks = Σ_s R_s
Objectives (lexicographic; one weighted sum Σ w_k·t_k when it fits in 62 bits, else stages, each
stage's terms then held at their optimum)
    cost    min (Σ cost_u·r_u, Σ power_u·r_u, Σ nodes_u·r_u)
    power   min (power, cost, nodes)
    tco     min (Σ tco_u·r_u, cost, power) with tco_u = cost_u + energy and hosting
    users   max Σ users_u·r_u, then min cost, power (budget-capped search; demand N = 1:
            a plan must serve someone)

Solver settings are measured by benchmarks/scaling.py (against HiGHS on the same units):
one worker with linearization level 2 proves these covering knapsacks by their LP
bound in well under a second, and gives the same answer on every run.
"""

from __future__ import annotations

import functools
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from catalog.errors import SolverTimeoutError

from .scaling import INT_LIMIT, check_range

__all__ = ["UnitLike", "Limits", "OfferVar", "Offers", "SolveOptions", "Solution", "PlanModel", "solve_units",
           "replica_bounds", "OBJECTIVE_TERMS", "Roles", "Fabric", "FabricClass", "FabricSwitch", "NetworkRack", "Racks",
           "RackGroup"]


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
    max_racks: int | None = None


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


@dataclass(frozen=True)
class FabricSwitch:
    """One switch type a fabric class can use: ports at the class's speed or faster, price (solver money), draw (W)."""

    key: str
    ports: int
    price: int
    power_w: int = 0
    rack_units: int = 0


@dataclass(frozen=True)
class FabricClass:
    """One fabric class (protocol × speed): its switch types and the price of one link (cable + transceivers)."""

    key: str
    switches: tuple[FabricSwitch, ...]
    link_price: int
    nic_price: int = 0
    nic_power_w: int = 0     # maximum draw of one NIC card bought (W)


@dataclass(frozen=True)
class Fabric:
    """Network side of the model: fabric classes and what one replica of each unit asks of them."""

    classes: tuple[FabricClass, ...]
    switched: dict[str, tuple[str, int, int]]   # unit id -> (class key, node ports, nodes) per replica
    direct: dict[str, tuple[str, int]]          # unit id -> (class key, port-to-port cables) per replica
    nics: dict[str, tuple[str, int]] = field(default_factory=dict)  # unit id -> (class key, NIC cards) per replica
    rack: NetworkRack | None = None   # where the switches are racked (None: their racks are not counted)


@dataclass(frozen=True)
class NetworkRack:
    """The racks switches go in (network racks of the rows, as in NVIDIA's DGX SuperPOD reference design):
    height and power limit of one rack, its price and hosting over the TCO horizon (solver money)."""

    rack_units: int
    limit_w: int
    price: int = 0
    hosting: int = 0


@dataclass(frozen=True)
class RackGroup:
    """Racks of one node type: nodes per rack, price of one rack and its hosting over the TCO horizon (solver money)."""

    key: str
    per_rack: int
    price: int = 0
    hosting: int = 0
    racks_per_node: int = 1


@dataclass(frozen=True)
class Racks:
    groups: tuple[RackGroup, ...]
    units: dict[str, tuple[str, int]]   # unit id -> (rack group, nodes per replica)


@dataclass(frozen=True)
class Roles:
    """Disaggregated serving (optimizer/disagg.py): requests per hour each prefill unit takes within the
    TTFT target, and each decode unit completes with its batch full. The prefill pool must take what the
    decode pool completes (closed loop), or `rate_demand` requests per hour (open loop):
        Σ_p prefill_p · r_p ≥ Σ_d decode_d · r_d      or      Σ_p prefill_p · r_p ≥ rate_demand
    Prefill units serve no users themselves (users_u = 0): the demand constraint counts decode units.
    Both pools run one engine, checkpoint and KV datatype (a KV cache crosses between them): with g_u the
    unit's group, r_u ≤ R_u·z_{g_u} and Σ_g z_g ≤ 1. A prefill unit sized for decode links of at least f
    (its KV transfer time) is bought only without slower decode nodes: y_f ≥ [such a unit is bought],
    Σ_{decode d: link_d < f} r_d ≤ (Σ R_d)·(1 − y_f)."""

    prefill: dict[str, int]
    decode: dict[str, int]
    rate_demand: int | None = None
    group: dict[str, str] = field(default_factory=dict)   # unit id -> engine/precision/KV datatype/maker: one per plan
    links: dict[str, int] = field(default_factory=dict)   # prefill: decode link it was sized for; decode: its own


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
    fabric: dict[str, dict[str, int]] = field(default_factory=dict)  # fabric class -> switch type -> count
    racks: dict[str, int] = field(default_factory=dict)              # rack group (node type) -> racks


def replica_bounds(units: Sequence[UnitLike], limits: Limits, maximize_users: bool = False) -> dict[str, int]:
    """Tightest valid upper bound on each unit's replicas; a unit with bound 0 can be dropped.

    ceil(N / users_u) is valid when minimizing (a unit alone never needs more), not
    when maximizing users; the caps divide each limit by the unit's share of it.
    """
    bounds: dict[str, int] = {}
    for u in units:
        caps = []
        if limits.demand is not None and not maximize_users and u.users > 0:   # a prefill unit serves no one
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


def _role_bounds(units: Sequence[UnitLike], bounds: dict[str, int], roles: Roles,
                 maximize_users: bool, limits_demand: int | None = None) -> dict[str, int]:
    """Bounds of prefill units: ceil(need / prefill_p), need = the open-loop demand, else the most the decode
    pool can complete. Minimizing (every term grows with each replica bought), an optimal decode pool drops
    no replica and still serves N, so Σ_d users_d·r_d < N + max_d users_d and it completes at most
    max_d(decode_d / users_d) · (N + max_d users_d − 1); maximizing users, Σ_d decode_d · R_d."""
    users = {u.id: u.users for u in units if u.id in roles.decode and u.users > 0}
    if roles.rate_demand is not None:
        need = roles.rate_demand
    elif not maximize_users and limits_demand is not None and users:
        most = max(users.values())
        need = max(-(-roles.decode[k] * (limits_demand + most - 1) // n) for k, n in users.items())
    else:
        need = sum(c * bounds.get(k, 0) for k, c in roles.decode.items())
    out = dict(bounds)
    for u in units:
        take = roles.prefill.get(u.id)
        if take:
            out[u.id] = min(out[u.id], -(-need // take))
    return out


@functools.cache
def _lean_cp_model_class():
    """`cp_model.CpModel` without its pre-PEP 8 aliases.

    Every `CpModel()` binds about 90 deprecated camelCase aliases to itself (ortools 9.x
    `CpModel._add_pre_pep8_methods`, a `dir()` walk): about 0.3 ms, a third of a whole small solve.
    hwplan calls only the snake_case API, so the aliases are not made. If a later ortools drops the
    method, the override is simply never called."""
    from ortools.sat.python import cp_model

    class LeanCpModel(cp_model.CpModel):
        def _add_pre_pep8_methods(self) -> None:
            pass

    return LeanCpModel


class PlanModel:
    """CP-SAT variables and constraints for one set of units and limits.

    Each constraint group has its own method, named after the formulation; explain.py
    names conflicting groups by solving with some of them left out.
    """

    def __init__(self, units: Sequence[UnitLike], limits: Limits, *, maximize_users: bool = False,
                 need_used: bool = False, tco: dict[str, int] | None = None,
                 offers: Offers | None = None, fabric: Fabric | None = None, racks: Racks | None = None,
                 roles: Roles | None = None):
        from ortools.sat.python import cp_model  # lazy: ortools imports pandas (~0.4 s)

        self.cp = cp_model
        self.model = _lean_cp_model_class()()
        self.limits = limits
        self.maximize_users = maximize_users
        self._groups: dict[str, object] = {}
        self._term_vars: dict[str, object] = {}   # term -> integer variable equal to it (objectives, held optima)
        self._extra_constraints = False  # no-goods or caps added after building: limits alone no longer describe the model
        self.bounds = replica_bounds(units, limits, maximize_users)
        self.roles = roles
        if roles is not None:
            self.bounds = _role_bounds(units, self.bounds, roles, maximize_users, limits.demand)
        self.units = [u for u in units if self.bounds[u.id] > 0]
        self.replicas = {u.id: self.model.new_int_var(0, self.bounds[u.id], f"replicas[{u.id}]") for u in self.units}
        self.used: dict[str, object] = {}
        if need_used or limits.max_skus is not None or limits.spare:
            self._add_used()
        # Every decision variable by key: replica counts by unit id, offer purchases by "offer:<key>".
        self.vars: dict[str, object] = dict(self.replicas)
        self.coefs: dict[str, dict[str, int]] = {
            "cost": {u.id: u.cost for u in self.units},
            "power": {u.id: u.power_w for u in self.units},
            "nodes": {u.id: u.nodes for u in self.units},
            "users": {u.id: u.users for u in self.units},
        }
        self.offers, self.fabric, self.racks = offers, fabric, racks
        if offers is not None:
            self._add_purchases(offers)
        if fabric is not None:
            self._add_fabric(fabric)
        if racks is not None:
            self._add_racks(racks)
        if fabric is not None:
            self._add_network_racks(fabric)
        if tco is not None:
            self._add_tco_term(tco, racks, fabric)
        for acc in limits.stock:
            self._add_gpu_term(acc)
        for term, coefs in self.coefs.items():  # before CP-SAT sees a sum that may overflow 64 bits
            check_range(term, coefs, self.bounds)
        self.terms = {t: sum(c * self.vars[k] for k, c in coefs.items()) for t, coefs in self.coefs.items()}
        self._add_constraints(offers, roles)

    def _add_used(self) -> None:
        """y_u with r_u ≤ R_u·y_u and r_u ≥ y_u, so y_u = 1 exactly when u is bought."""
        for u in self.units:
            y = self.model.new_bool_var(f"used[{u.id}]")
            self.model.add(self.replicas[u.id] <= self.bounds[u.id] * y)
            self.model.add(self.replicas[u.id] >= y)
            self.used[u.id] = y

    def _add_tco_term(self, tco: dict[str, int], racks: Racks | None, fabric: Fabric | None) -> None:
        """tco[u] is the energy and hosting of one replica; capital cost is the cost term (racks, the
        switches' racks included: plus hosting)."""
        self.coefs["tco"] = {**self.coefs["cost"], **{u.id: self.coefs["cost"].get(u.id, 0) + tco[u.id]
                                                       for u in self.units}}
        for g in racks.groups if racks is not None else ():
            if f"racks:{g.key}" in self.vars:
                self.coefs["tco"][f"racks:{g.key}"] += g.hosting
        if self.NETWORK_RACKS in self.vars and fabric is not None and fabric.rack is not None:
            self.coefs["tco"][self.NETWORK_RACKS] += fabric.rack.hosting

    def _add_constraints(self, offers: Offers | None, roles: Roles | None) -> None:
        if offers is not None:
            self._add_item_balance(offers)
            self._add_seller_limit(offers)
        self._add_demand()
        if roles is not None:
            self._add_pools(roles)
        self._add_node_cap()
        self._add_budget()
        self._add_power_cap()
        self._add_stock()
        self._add_sku_limit()
        self._add_rack_limit()

    # -- disaggregated pools ---------------------------------------------------------
    def _add_pools(self, roles: Roles) -> None:
        """prefill ≥ decode throughput (or the open-loop demand); see `Roles`."""
        pre = {k: c for k, c in roles.prefill.items() if k in self.replicas}
        dec = {k: c for k, c in roles.decode.items() if k in self.replicas}
        check_range("prefill requests per hour", pre, self.bounds)
        check_range("decode requests per hour", dec, self.bounds)
        take = sum(c * self.replicas[k] for k, c in pre.items())
        if roles.rate_demand is not None:
            self.model.add(take >= roles.rate_demand)
        else:
            self.model.add(take >= sum(c * self.replicas[k] for k, c in dec.items()))
        groups = sorted({g for k, g in roles.group.items() if k in self.replicas})
        if len(groups) > 1:
            chosen = {g: self.model.new_bool_var(f"pool_group[{g}]") for g in groups}
            for k, g in roles.group.items():
                if k in self.replicas:
                    self.model.add(self.replicas[k] <= self.bounds[k] * chosen[g])
            self.model.add(sum(chosen.values()) <= 1)
        self._add_link_floors(roles, pre, dec)

    def _add_link_floors(self, roles: Roles, pre: dict[str, int], dec: dict[str, int]) -> None:
        """Prefill units sized for a decode link f exclude decode units on slower links (see `Roles`)."""
        floors = sorted({roles.links[k] for k in pre if k in roles.links})
        for f in floors:
            slower = [k for k in dec if roles.links.get(k, f) < f]
            if not slower:
                continue
            y = self.model.new_bool_var(f"link_floor[{f}]")
            for k in pre:
                if roles.links.get(k) == f:
                    self.model.add(self.replicas[k] <= self.bounds[k] * y)
            self.model.add(sum(self.replicas[k] for k in slower) <= sum(self.bounds[k] for k in slower) * (1 - y))

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

    def _tightened(self, bounds: dict[str, int], term: str, value: int) -> dict[str, int]:
        """`bounds` shrunk to what term ≤ value allows (each variable alone: value // its coefficient).

        Computed here, not written into the model: the ratio bounds of `_bound` then buy smaller weights.
        """
        tight = dict(bounds)
        for k, c in self.coefs[term].items():
            if c > 0 and value // c < tight[k]:
                tight[k] = max(0, value // c)
        return tight

    def term_var(self, term: str):
        """An integer variable equal to `term` (made once, over the term's whole range).

        Objectives are written over these variables; `solve` holds a solved term at its optimum, and
        keeps each weighted objective inside 64 bits, by narrowing this variable's domain for the
        duration of one solve (`IntVar.with_domain`), then restoring it.
        """
        var = self._term_vars.get(term)
        if var is None:
            var = self.model.new_int_var(*self._term_range(term), f"term[{term}]")
            self.model.add(var == self.terms[term])
            self._term_vars[term] = var
        return var

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

    # -- scale-out fabric ---------------------------------------------------------------
    def _add_fabric(self, fabric: Fabric) -> None:
        """Switches (integer, per type), uplinks and links of each fabric class, tied to the replicas
        bought (formulation above); their price joins the cost term and their draw the power term."""
        for fc in fabric.classes:
            cards = [(uid, c) for uid, (k, c) in fabric.nics.items() if k == fc.key and uid in self.replicas]
            if cards:
                top = sum(c * self.bounds[uid] for uid, c in cards)
                nics = self.model.new_int_var(0, top, f"nics[{fc.key}]")
                self.model.add(nics == sum(c * self.replicas[uid] for uid, c in cards))
                key_nics = f"fabric:{fc.key}:nics"
                self.vars[key_nics], self.bounds[key_nics] = nics, top
                self.coefs["cost"][key_nics] = fc.nic_price
                if fc.nic_power_w:
                    self.coefs["power"][key_nics] = fc.nic_power_w
            switched = [(uid, p, n) for uid, (k, p, n) in fabric.switched.items() if k == fc.key and uid in self.replicas]
            direct = [(uid, d) for uid, (k, d) in fabric.direct.items() if k == fc.key and uid in self.replicas]
            if not switched and not direct:
                continue
            t_max = sum(p * self.bounds[uid] for uid, p, _ in switched)
            n_max = sum(n * self.bounds[uid] for uid, _, n in switched)
            d_max = sum(d * self.bounds[uid] for uid, d in direct)
            ports = sum(p * self.replicas[uid] for uid, p, _ in switched)
            nodes = sum(n * self.replicas[uid] for uid, _, n in switched)
            links_expr = ports + sum(d * self.replicas[uid] for uid, d in direct)
            uplinks = self.model.new_int_var(0, t_max, f"uplinks[{fc.key}]")
            links = self.model.new_int_var(0, 2 * t_max + d_max, f"links[{fc.key}]")
            self.model.add(links == links_expr + uplinks)
            key_links = f"fabric:{fc.key}:links"
            self.vars[key_links], self.bounds[key_links] = links, 2 * t_max + d_max
            self.coefs["cost"][key_links] = fc.link_price
            if not switched:
                self.model.add(uplinks == 0)
                continue
            if not fc.switches:  # no switch offered: the fabric stays unpriced (the plan says so)
                self.model.add(uplinks == 0)
                continue
            largest = max(s.ports for s in fc.switches)
            two_tier = self.model.new_bool_var(f"two_tier[{fc.key}]")
            self.model.add(nodes <= largest + n_max * two_tier)
            self.model.add(uplinks >= ports - t_max * (1 - two_tier))
            self.model.add(nodes <= largest * largest // 2)
            capacity = []
            for sw in fc.switches:
                top = -(-3 * t_max // sw.ports)
                w = self.model.new_int_var(0, top, f"switches[{fc.key}/{sw.key}]")
                key = f"fabric:{fc.key}:switch:{sw.key}"
                self.vars[key], self.bounds[key] = w, top
                self.coefs["cost"][key] = sw.price
                if sw.power_w:
                    self.coefs["power"][key] = sw.power_w
                capacity.append(sw.ports * w)
            self.model.add(sum(capacity) >= ports + 2 * uplinks)

    NETWORK_RACKS = "racks:@network"

    def _add_network_racks(self, fabric: Fabric) -> None:
        """Racks for the switches: R · rack units ≥ Σ units · switches and R · rack limit ≥ Σ maximum draw ·
        switches (integer R); their price joins the cost, `racks` counts them for max_racks."""
        rack = fabric.rack
        keys = [(k, sw) for fc in fabric.classes for sw in fc.switches
                if (k := f"fabric:{fc.key}:switch:{sw.key}") in self.vars]
        if rack is None or not keys or not (rack.rack_units > 0 and rack.limit_w > 0):
            return
        units = [(k, sw.rack_units) for k, sw in keys if sw.rack_units]
        watts = [(k, sw.power_w) for k, sw in keys if sw.power_w]
        if not units and not watts:
            return
        top = max(-(-sum(u * self.bounds[k] for k, u in units) // rack.rack_units),
                  -(-sum(w * self.bounds[k] for k, w in watts) // rack.limit_w))
        r = self.model.new_int_var(0, top, "racks[@network]")
        self.vars[self.NETWORK_RACKS], self.bounds[self.NETWORK_RACKS] = r, top
        if units:
            self.model.add(rack.rack_units * r >= sum(u * self.vars[k] for k, u in units))
        if watts:
            self.model.add(rack.limit_w * r >= sum(w * self.vars[k] for k, w in watts))
        self.coefs["cost"][self.NETWORK_RACKS] = rack.price
        self.coefs.setdefault("racks", {})[self.NETWORK_RACKS] = 1

    # -- racks ----------------------------------------------------------------------------
    def _add_racks(self, racks: Racks) -> None:
        """Racks per node type (integer), enough for its nodes; their price joins the cost term, and
        `racks` counts them for the max-racks limit (formulation above)."""
        self.coefs["racks"] = {}
        by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)   # one pass: thousands of node types
        for uid, (k, n) in racks.units.items():
            if uid in self.replicas:
                by_group[k].append((uid, n))
        for g in racks.groups:
            members = by_group.get(g.key, [])
            if not members or g.per_rack <= 0:
                continue
            top = -(-g.racks_per_node * sum(n * self.bounds[uid] for uid, n in members) // g.per_rack)
            key = f"racks:{g.key}"
            r = self.model.new_int_var(0, top, f"racks[{g.key}]")
            self.vars[key], self.bounds[key] = r, top
            self.model.add(g.per_rack * r >= g.racks_per_node * sum(n * self.replicas[uid] for uid, n in members))
            self.coefs["cost"][key] = g.price
            self.coefs["racks"][key] = 1

    def _add_rack_limit(self) -> None:
        if self.limits.max_racks is not None and "racks" in self.terms:
            self.model.add(self.terms["racks"] <= self.limits.max_racks)

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

    @staticmethod
    def _rack_counts(chosen: dict[str, int]) -> dict[str, int]:
        return {k[len("racks:"):]: q for k, q in chosen.items() if k.startswith("racks:") and q > 0}

    @staticmethod
    def _fabric_counts(chosen: dict[str, int]) -> dict[str, dict[str, int]]:
        """Switches bought per fabric class and switch type, from the decision values."""
        out: dict[str, dict[str, int]] = {}
        for k, q in chosen.items():
            if k.startswith("fabric:") and ":switch:" in k and q > 0:
                cls, sw = k[len("fabric:"):].split(":switch:")
                out.setdefault(cls, {})[sw] = q
        return out

    def _canonical(self, values: dict[str, int], terms: list[str], options: SolveOptions) -> dict[str, int] | None:
        """The optimum with the smallest vector of decisions in key order (replicas, then purchases).

        Several workers may return different solutions among equal optima; minimizing
        each variable in turn (each a unique value) gives one answer whatever the
        number of workers. Each term is held at its optimum and each decision, once
        minimized, at its value by narrowing variable domains; every domain is restored
        before returning.
        """
        saved: dict[str, object] = {}
        try:
            for t in terms:
                self._hold_term(t, values[t], values[t])
            chosen: dict[str, int] = {}
            for key in sorted(self.replicas) + sorted(k for k in self.vars if k not in self.replicas):
                var = self.vars[key]
                self.model.minimize(var)
                solver = self.solver(options, options.time_limit_s)
                if solver.solve(self.model) != self.cp.OPTIMAL:
                    return None
                chosen[key] = int(solver.value(var))
                saved[key] = var.domain
                var.with_domain(self.cp.Domain(chosen[key], chosen[key]))
            return chosen
        finally:
            for key, domain in saved.items():
                self.vars[key].with_domain(domain)

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
                # floor is monotone, so max_k ⌊value·c_k/f_k⌋ = ⌊value · max_k c_k/f_k⌋ (integers only)
                best = min(best, max(value * abs(c) // other[k] for k, c in coefs.items()))
        return best

    def _single_unit_bound(self, term: str) -> int | None:
        """`term` of the best plan made of one unit alone (with its racks), if such a plan meets every
        limit; else None. Units that need a scale-out fabric are skipped (their plans buy more)."""
        lim = self.limits
        if self.offers is not None or lim.demand is None or self.maximize_users or self._extra_constraints \
                or self.roles is not None:   # a disaggregated plan needs two units
            return None
        groups = {g.key: g for g in self.racks.groups} if self.racks is not None else {}
        best = None
        fabric_units = set(self.fabric.switched) | set(self.fabric.direct) if self.fabric is not None else set()
        for u in self.units:
            if u.id in fabric_units:
                continue  # its plan also buys a fabric, which the unit's own coefficients leave out
            r = math.ceil(lim.demand / u.users) + (1 if lim.spare else 0)
            if r > self.bounds[u.id]:
                continue  # breaks a cap (the bounds already hold nodes, budget, power and stock)
            value = self.coefs[term].get(u.id, 0) * r
            rack_key = self.racks.units.get(u.id) if self.racks is not None else None
            if rack_key is not None:
                g = groups[rack_key[0]]
                if g.per_rack <= 0:
                    continue
                n_racks = -(-g.racks_per_node * rack_key[1] * r // g.per_rack)
                cost = self.coefs["cost"].get(u.id, 0) * r + g.price * n_racks
                if (lim.max_racks is not None and n_racks > lim.max_racks) or \
                        (lim.budget is not None and cost > lim.budget):
                    continue
                value += {"cost": g.price, "tco": g.price + g.hosting, "racks": 1}.get(term, 0) * n_racks
            best = value if best is None else min(best, value)
        return best

    def _next_stage(self, remaining: list[tuple[str, int]], known: dict[str, int],
                    bounds: dict[str, int]) -> list[tuple[str, int, int, int]]:
        """The longest run of terms, in order, whose weighted sum stays inside 62-bit integers on the
        plans still allowed: (term, sense, weight, bound) with weight_i = Π_{j>i} (bound_j + 1), which
        makes the weighted sum order plans exactly as the terms do lexicographically. Each bound also
        becomes the top of the term's variable for the stage, so CP-SAT's overflow check (over the
        objective's domains) sees the same sum."""
        tops = {t: self._bound(t, known, bounds) for t, _ in remaining}
        for n in range(len(remaining), 0, -1):
            group = remaining[:n]
            weights, w = [], 1
            for t, _ in reversed(group):
                weights.append(w)
                w *= tops[t] + 1
            weights.reverse()
            if n == 1 or w < INT_LIMIT:
                return [(t, sense, wt, tops[t]) for (t, sense), wt in zip(group, weights)]
        raise AssertionError("unreachable")

    def _hold_term(self, term: str, low: int, high: int) -> None:
        """Keep `term` within [low, high] (clipped to its range) until `_release_terms`."""
        lo, hi = self._term_range(term)
        self.term_var(term).with_domain(self.cp.Domain(max(lo, low), min(hi, high)))

    def _term_range(self, term: str) -> tuple[int, int]:
        coefs = self.coefs[term]
        return (sum(min(0, c) * self.bounds[k] for k, c in coefs.items()),
                sum(max(0, c) * self.bounds[k] for k, c in coefs.items()))

    def _release_terms(self, terms: list[str]) -> None:
        for t in terms:
            self._hold_term(t, *self._term_range(t))

    def _objective_terms(self, objective: str | tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
        terms = list(OBJECTIVE_TERMS[objective] if isinstance(objective, str) else objective)
        for t, _ in terms:
            if t.startswith("gpus:"):
                self._add_gpu_term(t.split(":", 1)[1])
        return terms

    def solve(self, objective: str | tuple[tuple[str, int], ...],
              options: SolveOptions = SolveOptions()) -> Solution | None:
        """Optimize lexicographically; None if infeasible. Raises SolverTimeoutError if time ran out empty.

        `objective` names an entry of OBJECTIVE_TERMS or gives the (term, sense) pairs itself.
        Terms are solved in as few weighted stages as 62-bit weights allow (`_next_stage`); after a
        stage its terms are held at their optimum, which also tightens the next weights. Terms are
        held by narrowing the domains of their `term_var`s, restored before returning, so the model
        keeps only the constraints its caller added (no-goods, caps) from one solve to the next.
        """
        start = time.perf_counter()
        if self._demand_out_of_reach():
            return None
        terms = self._objective_terms(objective)
        try:
            run = self._stages(terms, options, start)
            if run is not None and options.workers > 1 and run.status == "optimal":
                run.chosen = self._canonical(run.values, [t for t, _ in terms], options) or run.chosen
        finally:
            self._release_terms([t for t, _ in terms])
        if run is None:
            return None
        replicas, purchases = self._split(run.chosen)
        return Solution(status=run.status, replicas=replicas, values=run.values, bound=run.bound, gap=run.gap,
                        seconds=time.perf_counter() - start, purchases=purchases, stages=run.stages,
                        fabric=self._fabric_counts(run.chosen), racks=self._rack_counts(run.chosen))

    def _demand_out_of_reach(self) -> bool:
        """True when a relaxation proves that no plan serves the demand, so CP-SAT need not be asked.

        Each relaxation keeps one limit and the replica bounds and drops integrality; its most users
        bound every plan's (the spare rule, offers, fabric and racks only add constraints, and every
        cost, power and node coefficient is ≥ 0, so a unit's share of a capped term is at most the
        term). With only Σ_u a_u·r_u ≤ A, at most A · max_u users_u / a_u users are served (the
        fractional knapsack's optimum, Dantzig 1957, "Discrete-variable extremum problems", Operations
        Research 5(2)); with only the replica bounds, Σ_u users_u·R_u; with stock, per stock-limited
        accelerator the smaller of the two and the other units' Σ users_u·R_u. Exact rationals."""
        from fractions import Fraction

        n = self.limits.demand
        if n is None or self.maximize_users:
            return False
        if not self.units:
            return n > 0
        if self.roles is not None:   # prefill units serve no users: the pools' own constraints decide
            return False
        users = {u.id: u.users for u in self.units}
        reach = {u.id: u.users * self.bounds[u.id] for u in self.units}
        if sum(reach.values()) < n:
            return True
        for term, limit in (("cost", self.limits.budget), ("power", self.limits.max_power_w),
                            ("nodes", self.limits.max_nodes)):
            coefs = self.coefs[term]
            if limit is not None and all(coefs.get(k, 0) > 0 for k in users):
                if limit * max(Fraction(users[k], coefs[k]) for k in users) < n:
                    return True
        return bool(self.limits.stock) and self._stock_reach(reach) < n

    def _stock_reach(self, reach: dict[str, int]):
        """Most users the units can serve under the stock limits alone (`_demand_out_of_reach`): per
        accelerator, Σ users_u·R_u, or for a stock-limited one the smaller of that and stock × its best
        users per accelerator; an exact Fraction."""
        from fractions import Fraction

        total = Fraction(0)
        for acc in {u.accelerator_id for u in self.units}:
            on = [u for u in self.units if u.accelerator_id == acc]
            most = sum(reach[u.id] for u in on)
            if acc in self.limits.stock and all(u.gpus > 0 for u in on):
                most = min(most, self.limits.stock[acc] * max(Fraction(u.users, u.gpus) for u in on))
            total += most
        return total

    def _stages(self, terms: list[tuple[str, int]], options: SolveOptions, start: float) -> _Run | None:
        """The lexicographic stages of `solve`; None when the first proves that no plan exists."""
        run = _Run()
        known: dict[str, int] = {}
        bounds = dict(self.bounds)
        primary, sense = terms[0]
        start_bound = self._single_unit_bound(primary) if sense > 0 and len(terms) > 1 else None
        if start_bound is not None:
            # Any feasible plan bounds the optimum: holding the primary term under it narrows the
            # ratio bounds of the other terms, often enough for one weighted solve.
            known[primary] = start_bound
            bounds = self._tightened(bounds, primary, start_bound)
        remaining = terms
        while remaining:
            stage = self._next_stage(remaining, known, bounds)
            remaining = remaining[len(stage):]
            run.stages += 1
            for t, _, _, top in stage:
                self._hold_term(t, -INT_LIMIT, top)   # valid on every plan left; keeps the objective in 64 bits
            self.model.minimize(sum(s * wt * self.term_var(t) for t, s, wt, _ in stage))
            solver = self.solver(options, options.time_limit_s - (time.perf_counter() - start))
            status = solver.solve(self.model)
            if status == self.cp.INFEASIBLE:
                return None
            if not self._record(run, stage, solver, status, options):
                break
            for t, _, _, _ in stage:   # hold each solved term at its optimum (the optimum of every plan left)
                known[t] = run.values[t]
                bounds = self._tightened(bounds, t, run.values[t])
                self._hold_term(t, run.values[t], run.values[t])
            if remaining:
                self.hint(self._split(run.chosen)[0])
        return run

    def _record(self, run: _Run, stage: list[tuple[str, int, int, int]], solver, status, options: SolveOptions) -> bool:
        """Take a stage's answer into `run`; True when it is optimal (the next stage may start).

        Raises SolverTimeoutError (RuntimeError for a model CP-SAT rejects) when the first stage
        ends without a plan; a later stage that does keeps the previous stage's plan, as feasible.
        """
        if status not in (self.cp.OPTIMAL, self.cp.FEASIBLE):
            if run.stages == 1:
                if status == self.cp.MODEL_INVALID:
                    raise RuntimeError(f"CP-SAT rejected the model: {self.model.validate()}")
                raise SolverTimeoutError(
                    f"the time limit of {options.time_limit_s:g} s ran out before any plan was found; "
                    f"raise --time-limit or narrow the problem.")
            run.status = "feasible"
            return False
        run.chosen = {k: int(solver.value(v)) for k, v in self.vars.items()}
        run.values = {t: sum(c * run.chosen[k] for k, c in coefs.items()) for t, coefs in self.coefs.items()}
        lead, lead_sense, wt, _ = stage[0]
        bnd = math.floor(solver.best_objective_bound + 1e-9)
        # The bound of the weighted sum gives a bound of its lead term.
        stage_bound = bnd // wt if lead_sense > 0 else -(bnd // wt)
        if run.stages == 1:
            run.bound = stage_bound
        if status != self.cp.OPTIMAL:
            # The gap of the stage that did not finish (a later stage: its own term's gap, not 0).
            run.gap = abs(run.values[lead] - stage_bound) / max(1, abs(run.values[lead]))
            run.status = "feasible"
            return False
        return True


@dataclass
class _Run:
    """What the lexicographic stages of one `PlanModel.solve` found: the last stage's decision values
    (by variable key) and term values, the bound on the primary term, the gap of a stage that stopped."""

    status: str = "optimal"
    chosen: dict[str, int] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)
    bound: int | None = None
    gap: float = 0.0
    stages: int = 0


def solve_units(units: Sequence[UnitLike], limits: Limits, objective: str = "cost",
                options: SolveOptions = SolveOptions(), *, tco: dict[str, int] | None = None,
                hint: dict[str, int] | None = None, offers: Offers | None = None,
                fabric: Fabric | None = None, racks: Racks | None = None, roles: Roles | None = None) -> Solution | None:
    """Build and solve the model; None if no plan satisfies the limits."""
    model = PlanModel(units, limits, maximize_users=objective == "users", tco=tco, offers=offers, fabric=fabric,
                      racks=racks, roles=roles)
    if hint:
        model.hint(hint)
    return model.solve(objective, options)

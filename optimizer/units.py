"""Candidate deployment units: what could be bought, priced, and whether it serves.

A *node type* is something a price list lets you buy as one server: a system
(DGX H200) at its price, or a platform plus `count` accelerators at the sum of
their prices. A *unit* is the smallest block the solver buys: one replica of the
model on `nodes` such nodes, or one node running `replicas_per_node` replicas smaller
than it, with a layout (optimizer/layouts.py), a precision and an engine; it carries
the integers the solver needs (users of the whole block, cost, power, nodes,
accelerators). Of the layouts that fit the same block, only the one serving the most
users is kept: they cost, draw and occupy the same, so the others are dominated.

`prepare(catalog, problem)` builds every unit that fits, after the problem's
filters, and says what it left out and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from fractions import Fraction

from catalog import Catalog
from catalog.schema import Accelerator, Engine, ExchangeRate, Model, Platform, System, Variant

from . import sizing, speed
from .capacity import ReplicaCapacity, replica_capacity
from .deployment import Deployment
from .layouts import Layout, candidate_layouts
from .model import Offers, OfferVar
from .problem import Problem, check_ids
from .offers import PricedOffer, cheapest, currency_of, eligible_offers
from .scaling import money_scale, money_to_int

# Engines in the order a tie between otherwise equal units is broken (most widely deployed first).
ENGINE_PREFERENCE = ("vllm", "sglang", "trtllm", "llama.cpp")

__all__ = ["ENGINE_PREFERENCE", "offer_model", "NodeType", "InDomainPrefill", "Unit", "Candidates", "NearMiss", "prepare", "node_types", "platform_accepts",
           "node_power_w", "node_typical_power_w"]


@dataclass(frozen=True)
class NodeType:
    """One server as a price list sells it."""

    id: str
    accelerator: Accelerator
    platform: Platform
    count: int
    system: System | None
    price: Fraction              # in the problem's currency, exact, from the cheapest eligible offers
    items: tuple[tuple[str, int], ...]   # what one node is bought as: (item id, quantity)
    power_w: int                          # maximum draw, W
    typical_power_w: int | None = None    # typical draw under load where a source states it, W

    @property
    def maker(self) -> str:
        return self.accelerator.maker

    @property
    def memory_gb(self) -> float:
        return self.accelerator.memory_gb * self.count


@dataclass(frozen=True)
class InDomainPrefill:
    """The prefill pool a rack-scale unit runs on part of its own scale-up domain (optimizer/disagg.py): `gpus`
    accelerators as `gpus // layout.ranks` prefill replicas of `layout`, taking `rate` requests per hour
    together within the TTFT target; each forward pass of `prompts` prompts lasts `prefill_s`, and a prompt's KV
    cache reaches the decode ranks over the domain's own links in `kv_transfer_s`."""

    layout: Layout
    gpus: int
    rate: int
    prefill_s: float
    prompts: int
    kv_transfer_s: float
    ttft_s: float
    ttft_p90_s: float

    @property
    def replicas(self) -> int:
        return self.gpus // self.layout.ranks


@dataclass(frozen=True)
class Unit:
    """One replica on `nodes` nodes of one node type, or one node running `layout.replicas_per_node` replicas."""

    node: NodeType
    nodes: int
    variant: Variant
    engine: Engine
    kv_dtype: str
    dp_attention: bool
    capacity: ReplicaCapacity      # of ONE replica
    cost: int                # solver money units (see scaling.py), per unit
    power_w: int             # maximum draw per unit, W
    note: str = ""
    layout: Layout = Layout()
    # Disaggregated serving (optimizer/disagg.py): 'prefill' or 'decode' pool, else 'aggregated'; `rate` is
    # requests per hour the unit prefills within the TTFT target (prefill) or completes with its batch full
    # (decode); `kv_transfer_s` the time the unit's prompts' KV cache takes to reach a decode node.
    role: str = "aggregated"
    rate: int = 0
    kv_transfer_s: float = 0.0
    prefill_s: float = 0.0           # prefill: one forward pass of `prefill_prompts` prompts, s
    prefill_prompts: int = 1         # prefill: prompts one forward pass takes (one per attention DP group)
    prefill_scv: float = 0.0         # prefill: the pass's c² over the prompts' lengths (M/G/1 queue)
    prefill_fill_s: float = 0.0      # prefill: what pipeline stages add to a prompt's own pass (TTFT only)
    in_domain: InDomainPrefill | None = None   # decode on a rack-scale node: the prefill pool beside it
    link_gbs: float = 0.0            # prefill: the decode nodes' slowest link it was sized for (GB/s)

    @cached_property   # read in every dict of the solver path; the fields it reads never change
    def id(self) -> str:
        base = f"{self.node.id}/{self.nodes}n/{self.variant.id}/{self.engine.id}/{self.layout.key}"
        if self.role == "decode" and self.in_domain is not None:   # decode beside its own prefill replicas
            return f"{base}/decode-b{self.capacity.users}-p{self.in_domain.gpus}"
        if self.role == "decode":   # one decode unit per operating batch (optimizer/disagg.py)
            return f"{base}/decode-b{self.capacity.users}"
        if self.role == "prefill" and self.link_gbs < self.node.platform.network_gbs:
            return f"{base}/prefill-{self.link_gbs:g}gbs"   # sized for decode nodes with slower links
        return base if self.role == "aggregated" else f"{base}/{self.role}"

    @property
    def replicas_per_node(self) -> int:
        return self.layout.replicas_per_node

    @property
    def users(self) -> int:
        """Users the whole unit serves (every replica on it)."""
        return self.capacity.users * self.layout.replicas_per_node

    @property
    def gpus(self) -> int:
        return self.nodes * self.node.count

    @property
    def accelerator_id(self) -> str:
        return self.node.accelerator.id

    @property
    def sku(self) -> str:
        return self.node.id

    @property
    def tie_key(self) -> tuple:
        """Among units equal in every number, prefer the most common engine, then the id."""
        order = ENGINE_PREFERENCE.index(self.engine.id) if self.engine.id in ENGINE_PREFERENCE else len(ENGINE_PREFERENCE)
        return (order, self.id)


@dataclass(frozen=True)
class NearMiss:
    """The largest replica of a node type that still did not fit, for explanations."""

    node: NodeType
    nodes: int
    variant: Variant
    engine: Engine
    capacity: ReplicaCapacity

    @property
    def closeness(self) -> tuple:
        """Orders misses: replicas that hold the model but are too slow beat ones that do not fit."""
        c = self.capacity
        if c.limit in ("speed", "ttft"):
            return (1, c.tokens_per_s_per_user or 0.0, -(c.ttft_s or 0.0))
        return (0, c.fit.kv_budget_total - c.kv_needed_bytes, 0.0)


@dataclass(frozen=True)
class Candidates:
    units: list[Unit]
    currency: str
    money_scale: int
    price_list: str
    offers: dict[str, list[PricedOffer]] = field(default_factory=dict)   # item -> eligible offers, cheapest first
    rejected_offers: dict[str, str] = field(default_factory=dict)
    rates_used: list[ExchangeRate] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)        # accelerators the price list cannot sell
    filtered: dict[str, str] = field(default_factory=dict)   # accelerator -> why the problem's filters removed it
    near_misses: list[NearMiss] = field(default_factory=list)
    model: Model | None = None                               # the model the units serve


def platform_accepts(platform: Platform, acc: Accelerator) -> bool:
    if platform.accepts:
        return acc.id in platform.accepts
    return platform.form_factor == acc.form_factor


def node_power_w(platform: Platform, acc: Accelerator, count: int, system: System | None = None) -> int:
    """A node's maximum draw, W (power caps, racks, facility): a system's stated maximum, else the
    platform's maximum non-accelerator draw plus the accelerators' TDP."""
    if system is not None and system.max_power_w is not None:
        return system.max_power_w
    return platform.base_power_w + count * acc.tdp_w


def node_typical_power_w(system: System | None) -> int | None:
    """A node's typical draw under load, W, where its source states one (energy in TCO); else None
    (TCO then takes the maximum × tco.load_factor)."""
    return system.typical_power_w if system is not None else None


def node_types(catalog: Catalog, offers: dict[str, list[PricedOffer]]) -> list[NodeType]:
    """Every server the offers can make up: a system, or a platform with `count` accelerators,
    priced at the cheapest eligible offers."""
    nodes: list[NodeType] = []
    for item in sorted(offers):
        if item in catalog.systems:
            s = catalog.systems[item]
            plat, acc = catalog.platforms[s.platform], catalog.accelerators[s.accelerator]
            nodes.append(NodeType(id=s.id, accelerator=acc, platform=plat, count=s.count, system=s,
                                  price=cheapest(offers[item]).price, items=((s.id, 1),),
                                  power_w=node_power_w(plat, acc, s.count, s),
                                  typical_power_w=node_typical_power_w(s)))
    for plat_id in sorted(offers):
        plat = catalog.platforms.get(plat_id)
        if plat is None:
            continue
        for acc_id in sorted(offers):
            acc = catalog.accelerators.get(acc_id)
            if acc is None or not platform_accepts(plat, acc):
                continue
            for count in plat.gpu_counts:
                if count > acc.max_per_node and plat.form_factor != "cpu":
                    continue
                price = cheapest(offers[plat_id]).price + count * cheapest(offers[acc_id]).price
                nodes.append(NodeType(id=f"{plat.id}+{count}x{acc.id}", accelerator=acc, platform=plat,
                                      count=count, system=None, price=price, items=((plat.id, 1), (acc.id, count)),
                                      power_w=node_power_w(plat, acc, count)))
    return nodes


def _filter_reason(problem: Problem, acc: Accelerator) -> str | None:
    c = problem.constraints
    if c.vendors and acc.maker not in c.vendors:
        return f"vendor {acc.maker} is not in constraints.vendors"
    if c.accelerators and acc.id not in c.accelerators:
        return "not in constraints.accelerators"
    if acc.id in c.exclude_accelerators:
        return "in constraints.exclude_accelerators"
    if c.form_factors and acc.form_factor not in c.form_factors:
        return f"form factor {acc.form_factor} is not in constraints.form_factors"
    if c.require_native_fp8 and not acc.has_native("fp8"):
        return "no native fp8 units (constraints.require_native_fp8)"
    if c.stock.get(acc.id) == 0:
        return "stock is 0"
    if acc.hardware_class not in c.hardware_classes:
        return f"hardware class {acc.hardware_class} is not in constraints.hardware_classes"
    return None


def _platform_filter_reason(problem: Problem, platform: Platform) -> str | None:
    """Why the problem's hardware classes rule out a server (a workstation tower in a data-centre plan)."""
    if platform.hardware_class not in problem.constraints.hardware_classes:
        return f"server class {platform.hardware_class} is not in constraints.hardware_classes"
    return None


def _engines(catalog: Catalog, problem: Problem) -> list[Engine]:
    if "auto" in problem.engines:
        return [catalog.engines[e] for e in sorted(catalog.engines)]
    return [catalog.engines[e] for e in problem.engines]


def prepare(catalog: Catalog, problem: Problem, sizer=None) -> Candidates:
    """Every deployment unit that serves at least one user, priced in the problem's currency.

    `sizer` replaces `_node_units` (same arguments, returns the units of one node type): the
    disaggregated pools size prefill and decode units their own way (optimizer/disagg.py)."""
    check_ids(problem, catalog)
    model = catalog.models[problem.model]
    currency = currency_of(catalog, problem)
    offers, rates, rejected = eligible_offers(catalog, problem)
    types = node_types(catalog, offers)
    scale = money_scale([o.price for item_offers in offers.values() for o in item_offers])
    engines = _engines(catalog, problem)
    max_k = problem.constraints.max_nodes_per_replica
    if problem.constraints.max_nodes is not None:
        max_k = min(max_k, problem.constraints.max_nodes)

    units: list[Unit] = []
    filtered: dict[str, str] = {}
    near: dict[str, NearMiss] = {}
    searched: dict[tuple, tuple] = {}   # node types that differ only in price share their sizing
    for node in types:
        reason = _filter_reason(problem, node.accelerator)
        where = node.accelerator.id
        if not reason:
            reason, where = _platform_filter_reason(problem, node.platform), node.platform.id
        if reason:
            filtered[where] = reason
            continue
        units += (sizer or _node_units)(model, node, engines, max_k, problem, scale, searched, near)
    priced = {t.accelerator.id for t in types}
    unpriced = sorted(a for a in catalog.accelerators if a not in priced and _filter_reason(problem, catalog.accelerators[a]) is None)
    served = {u.node.id for u in units}
    misses = [m for nid, m in sorted(near.items()) if nid not in served]
    units.sort(key=lambda u: u.id)
    return Candidates(units=units, currency=currency, money_scale=scale, price_list=", ".join(problem.price_lists),
                      offers=offers, rejected_offers=rejected, rates_used=rates, unpriced=unpriced,
                      filtered=filtered, near_misses=misses, model=model)


def _node_units(model: Model, node: NodeType, engines: list[Engine], max_k: int, problem: Problem, scale: int,
                searched: dict[tuple, tuple], near: dict[str, NearMiss]) -> list[Unit]:
    """The units of one node type: per variant, engine and node count, the best layout (`near` keeps
    the closest miss of a node type that serves no one)."""
    acc = node.accelerator
    units = []
    # money_to_int(price × k, scale, "ceil") in integers: ⌈num·scale·k / den⌉ (no Fraction per unit)
    num, den = node.price.numerator * scale, node.price.denominator
    for variant, note in sizing.candidate_variants(model, acc, problem.precision):
        for engine in (e for e in engines if sizing.engine_runs(e, acc, variant)):
            for k in range(1, max_k + 1):
                key = (acc.id, node.platform.id, node.count, variant.id, engine.id, k)
                if key not in searched:
                    searched[key] = _best_layout(model, variant, engine, node, k, problem)
                best, miss = searched[key]
                if best is None:
                    if miss is not None:
                        miss = NearMiss(node=node, nodes=k, variant=variant, engine=engine, capacity=miss.capacity)
                        if node.id not in near or miss.closeness > near[node.id].closeness:
                            near[node.id] = miss
                    continue
                dep, cap = best
                units.append(Unit(node=node, nodes=k, variant=variant, engine=engine,
                                  kv_dtype=dep.kv_dtype, dp_attention=cap.fit.layout.dp_attention,
                                  capacity=cap, cost=-(-num * k // den),
                                  power_w=node.power_w * k, note=note, layout=cap.fit.layout))
    return units


def unit_layouts(model, engine: Engine, node: NodeType, nodes: int, problem: Problem) -> list[Layout]:
    """Layouts to try for a block of `nodes` servers of `node` (CPU sockets: one replica over the sockets)."""
    if node.accelerator.family == "cpu":
        return [sizing.choose_layout(model, node.count, nodes, False, "tensor")]
    layouts = candidate_layouts(model, engine, node.count, nodes, problem.constraints.max_replicas_per_node)
    if problem.dp_attention:  # the problem asks for attention DP: try those layouts first
        layouts.sort(key=lambda lay: not lay.dp_attention)
    return layouts


def _reserve_users(model: Model, variant: Variant, problem: Problem) -> int | None:
    """Users of one replica in the rule-of-thumb mode (the same for every layout that fits), else None."""
    w = problem.workload
    if w.kv_reserve_gb is None:
        return None
    if w.concurrent_users is None:
        return 1
    factor = sizing.kv_reserve_factor(model, variant)
    per_request = sizing.kv_bytes_per_request(model, problem.kv_dtype, w.context_tokens) * factor
    return int(w.kv_reserve_gb * sizing.GB * factor // per_request)


def _with_bounds(model: Model, variant: Variant, engine: Engine, node: NodeType, nodes: int,
                 problem: Problem) -> list[tuple[Layout, Deployment, sizing.MemoryFit | None, int | None]]:
    """Each layout worth sizing with its deployment, its memory fit (None: fitted later, when the bound
    alone can set it aside) and an upper bound on the users of the block, most promising first."""
    weights = sizing.weight_parts(model, variant, draft=problem.workload.draft).total
    reserve_users = _reserve_users(model, variant, problem)
    settings = sizing.whole_prompt_settings(engine, node.accelerator, problem.engine_settings,
                                            problem.workload.longest_prompt)
    if settings is None:
        return []   # the engine would reject the prompts at the given max_batched_tokens
    out = []
    for layout in unit_layouts(model, engine, node, nodes, problem):
        if layout.replicas_per_node > 1 and weights / layout.ranks >= node.accelerator.memory_bytes:
            continue  # no rank holds less than an equal share of the weights: a smaller replica cannot fit
        per_node = node.count // layout.replicas_per_node if nodes == 1 else node.count
        dep = Deployment(model=model, variant=variant, accelerator=node.accelerator, platform=node.platform,
                         engine=engine, gpus_per_node=per_node, nodes=nodes, kv_dtype=problem.kv_dtype,
                         settings=settings, layout=layout, draft=problem.workload.draft)
        if reserve_users is not None:
            out.append((layout, dep, None, reserve_users * layout.replicas_per_node))
            continue
        fit = dep.memory()
        bound = None
        if fit.weights_fit:  # what memory and the engine's batch cap allow, without the speed search
            held = sizing.max_concurrency(model, fit, dep.kv_dtype, problem.workload.context_tokens)
            limit = speed.batch_cap(dep, fit)
            bound = (held if limit is None else min(held, limit)) * layout.replicas_per_node
        out.append((layout, dep, fit, bound))
    out.sort(key=lambda item: -(item[3] or 0))
    return out


def _best_layout(model, variant: Variant, engine: Engine, node: NodeType, nodes: int,
                 problem: Problem) -> tuple[tuple[Deployment, ReplicaCapacity] | None, NearMiss | None]:
    """The layout serving the most users on `nodes` servers, or the closest miss. Layouts are tried in
    order of the requests their memory holds (ties: the first listed); the first with the most users wins,
    and one whose bound cannot beat it is set aside without a speed search."""
    best: tuple[Deployment, ReplicaCapacity] | None = None
    best_users = 0
    miss: NearMiss | None = None
    for layout, dep, fit, bound in _with_bounds(model, variant, engine, node, nodes, problem):
        if bound is not None and bound <= best_users:
            continue
        fit = fit or dep.memory()
        cap = replica_capacity(dep, problem.workload, fit) if fit.weights_fit else \
            ReplicaCapacity(users=0, memory_users=0, limit="weights", fit=fit)
        if cap.fits and cap.users * layout.replicas_per_node > best_users:
            best, best_users = (dep, cap), cap.users * layout.replicas_per_node
        elif not cap.fits and best is None:
            candidate = NearMiss(node=node, nodes=nodes, variant=variant, engine=engine, capacity=cap)
            if miss is None or candidate.closeness > miss.closeness:
                miss = candidate
    return best, miss


def offer_model(candidates: Candidates, problem: Problem) -> Offers | None:
    """Offers as decision variables — needed only when a stock or a seller limit can bind.

    Without them the cheapest eligible offer always wins, so a unit's cost is exact
    and the smaller replica-only model is solved.
    """
    items = sorted({item for u in candidates.units for item, _ in u.node.items})
    limited = any(o.stock is not None for item in items for o in candidates.offers.get(item, []))
    if not limited and problem.constraints.max_sellers is None:
        return None
    scale = candidates.money_scale
    offers = tuple(OfferVar(key=o.key, item=o.item, seller=o.seller, stock=o.stock,
                            price=money_to_int(o.price, scale, rounding="ceil"))
                   for item in items for o in candidates.offers.get(item, []))
    needs = {u.id: tuple((item, qty * u.nodes) for item, qty in u.node.items) for u in candidates.units}
    return Offers(offers=offers, needs=needs, max_sellers=problem.constraints.max_sellers)

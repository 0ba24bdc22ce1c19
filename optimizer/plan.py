"""A plan: what to buy, how it is deployed, whom it serves, and how sure we are.

The JSON shape (what `--format json` prints; scripts rely on it) is `Plan.to_json()`:
`status`, `objective`, `plan.lines[]`, `plan.totals`, `solver`, and notes on
what the price list could not sell. Money is exact (`Fraction`) inside the
library and rounded to cents only when rendered.
"""

from __future__ import annotations

import datetime
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SizingClaim", "ServingComparison", "InDomainPrefillLine", "PlanLine", "NetworkLine", "RackLine", "Totals", "SolverInfo", "TcoBreakdown", "Purchase", "Plan", "money_json",
           "stale_price_notes", "STALE_PRICE_MONTHS"]

# A price older than this, measured from the plan's purchase date, gets a warning in the plan.
STALE_PRICE_MONTHS = 12


def money_json(value: Fraction | float | int) -> int | float:
    """Whole units as int, else rounded to cents."""
    value = Fraction(value)
    cents = round(value * 100)
    return int(cents // 100) if cents % 100 == 0 else cents / 100


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class SizingClaim(_Record):
    """What the sizing model claims about one replica, so the independent checker can test it."""

    tp: int = Field(description="Tensor-parallel ranks of one attention group.")
    pp: int = Field(description="Pipeline stages.")
    dp: int = Field(1, ge=1, description="Attention data-parallel groups; each holds its own sequences' KV.")
    dp_attention: bool = False
    weights_gb_per_gpu: float = Field(description="Weights on the most loaded accelerator, GB.")
    kv_budget_gb_per_gpu: float = Field(description="KV-cache memory left on each accelerator, GB.")
    memory_users: int = Field(description="Concurrent requests the KV cache holds (before engine and speed caps).")


class InDomainPrefillLine(BaseModel):
    """Prefill replicas on part of a rack-scale node, beside its decode instance (optimizer/disagg.py)."""

    gpus: int = Field(description="Accelerators of each node that prefill (replicas × replica_gpus).")
    replica_gpus: int = Field(description="Accelerators of one prefill replica (tp × dp × pp).")
    tp: int = 1
    dp: int = 1
    ep: int = 1
    pp: int = 1
    layout: str = ""
    requests_per_hour: int = Field(description="Requests per hour all of a node's prefill replicas take.")
    prefill_s: float = Field(description="Seconds one forward pass of `prompts` prompts takes.")
    prompts: int = 1
    kv_transfer_s: float = Field(description="Seconds a prompt's KV cache takes over the domain's own links.")
    ttft_s: float | None = None
    ttft_p90_s: float | None = None


class PlanLine(_Record):
    """Replicas of one deployment unit: `replicas` model replicas in one layout, on
    `nodes` = replicas × nodes_per_replica / replicas_per_node servers."""

    unit: str
    accelerator: str
    maker: str = Field(description="Accelerator maker (nvidia, amd, huawei, intel).")
    platform: str
    system: str | None = None
    gpus_per_node: int
    nodes_per_replica: int
    replicas: int
    precision: str
    engine: str
    kv_dtype: str
    dp_attention: bool = False
    tp: int = Field(1, description="Attention tensor-parallel ranks per attention group.")
    pp: int = Field(1, description="Pipeline stages.")
    dp: int = Field(1, description="Attention data-parallel groups in one replica.")
    ep: int = Field(1, description="Expert-parallel ranks of the MoE layers.")
    replicas_per_node: int = Field(1, description="Replicas sharing one server (a replica smaller than the server).")
    layout: str = Field("", description="The layout in words, e.g. 'TP2 ×4 per node'.")
    launch: tuple[str, ...] = Field((), description="Engine command lines that start this line's replicas, "
                                    "one per node role.")
    engine_settings: dict[str, float | int | bool | str | None] = Field(default_factory=dict, description="Engine "
                                                                  "settings the sizing assumed (memory_utilization, "
                                                                  "max_batch, max_batched_tokens, max_model_len, eager).")
    users_per_replica: int
    tokens_per_s_per_user: float | None = None
    output_tokens_per_s_per_replica: float | None = None
    ttft_s: float | None = None          # mean time to first token
    ttft_p90_s: float | None = None      # 90th percentile (optimizer/serving.py)
    cost: Fraction = Field(description="What this line's nodes cost, from the purchases allocated to it.")
    sellers: tuple[str, ...] = Field((), description="Whom this line's items are bought from.")
    node_power_w: int = Field(description="Maximum draw of one node, W (caps, racks, facility).")
    node_typical_power_w: int | None = Field(None, description="Typical draw of one node where its source states "
                                             "one, W (energy in TCO).")
    memory_gb_per_node: float
    note: str = ""
    sizing: SizingClaim | None = None
    role: Literal["aggregated", "prefill", "decode"] = Field("aggregated", description=(
        "aggregated: its replicas prefill and decode; prefill or decode: its pool in a disaggregated plan."))
    requests_per_hour_per_replica: int | None = Field(None, description=(
        "Disaggregated: requests per hour one prefill replica takes within the TTFT target, or one decode "
        "replica completes with its batch full."))
    kv_transfer_s: float | None = Field(None, description="Prefill: seconds one prompt's KV cache takes to "
                                        "reach a decode node over the scale-out network (in its TTFT).")
    prefill_s: float | None = Field(None, description="Prefill: seconds one forward pass of `prefill_prompts` "
                                    "prompts takes (the queue's service time).")
    prefill_prompts: int | None = Field(None, description="Prefill: prompts one forward pass takes at once (one "
                                        "per attention DP group, or 1).")
    in_domain_prefill: InDomainPrefillLine | None = Field(None, description=(
        "Decode on a rack-scale node: the prefill replicas on the rest of its scale-up domain (tp, dp, ep, pp "
        "and the memory sizing above are the decode instance's)."))

    @property
    def nodes(self) -> int:
        return self.nodes_per_replica * self.replicas // self.replicas_per_node

    @property
    def users_per_node_group(self) -> int:
        """Users lost when one server of this line is down (its replica, or every replica it hosts)."""
        return self.users_per_replica * self.replicas_per_node

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def users(self) -> int:
        return self.users_per_replica * self.replicas

    @property
    def node_price(self) -> Fraction:
        """Average price of one node of this line."""
        return self.cost / self.nodes

    @property
    def power_w(self) -> int:
        return self.node_power_w * self.nodes

    @property
    def memory_gb(self) -> float:
        return self.memory_gb_per_node * self.nodes

    @property
    def item(self) -> str:
        """What is bought, in words: '8 × h200-sxm in dgx-h200'."""
        return f"{self.system or self.platform} ({self.gpus_per_node} × {self.accelerator})"

    def to_json(self) -> dict[str, Any]:
        return {
            "accelerator": self.accelerator, "maker": self.maker, "platform": self.platform,
            "system": self.system, "gpus_per_node": self.gpus_per_node, "nodes": self.nodes,
            "nodes_per_replica": self.nodes_per_replica, "replicas": self.replicas, "precision": self.precision,
            "engine": self.engine, "kv_dtype": self.kv_dtype, "dp_attention": self.dp_attention,
            "tp": self.tp, "pp": self.pp, "dp": self.dp, "ep": self.ep, "replicas_per_node": self.replicas_per_node,
            "layout": self.layout, "launch": list(self.launch),
            "engine_settings": dict(self.engine_settings), "users": self.users, "users_per_replica": self.users_per_replica,
            "tokens_per_s_per_user": _round(self.tokens_per_s_per_user),
            "output_tokens_per_s": _round(None if self.output_tokens_per_s_per_replica is None
                                          else self.output_tokens_per_s_per_replica * self.replicas),
            "ttft_s": _round(self.ttft_s, 3), "ttft_p90_s": _round(self.ttft_p90_s, 3),
            "node_price": money_json(self.node_price), "cost": money_json(self.cost),
            "power_w": self.power_w, "memory_gb": round(self.memory_gb, 1), "sellers": list(self.sellers),
            "unit": self.unit,
            "role": self.role,
            "requests_per_hour_per_replica": self.requests_per_hour_per_replica,
            "kv_transfer_s": _round(self.kv_transfer_s, 4),
            "prefill_s": _round(self.prefill_s, 4),
            "prefill_prompts": self.prefill_prompts,
            "in_domain_prefill": None if self.in_domain_prefill is None else self.in_domain_prefill.model_dump(),
            "note": self.note,
            "sizing": None if self.sizing is None else self.sizing.model_dump(),
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class Totals(_Record):
    cost: Fraction
    currency: str
    power_w: int
    nodes: int
    gpus: int
    memory_gb: float
    users: int

    def to_json(self) -> dict[str, Any]:
        return {"cost": money_json(self.cost), "currency": self.currency, "power_w": self.power_w,
                "nodes": self.nodes, "gpus": self.gpus, "memory_gb": round(self.memory_gb, 1), "users": self.users}


class NetworkLine(_Record):
    """The scale-out fabric of one class (protocol × speed): switches, uplinks, cables, transceivers."""

    fabric: str = Field(description="'<infiniband|ethernet>-<Gb/s>'.")
    nodes: int = Field(description="Nodes on switches.")
    node_ports: int = Field(description="Node NIC ports on switches.")
    direct_links: int = Field(0, description="Port-to-port cables of two-node replicas (no switch).")
    uplinks: int = Field(0, description="Leaf-to-spine links (two tiers).")
    switches: tuple[tuple[str, int, int], ...] = Field((), description="(switch id, count, ports each).")
    links: int = Field(description="Cables: node-to-leaf + leaf-to-spine + direct.")
    transceivers: int = 0
    nics: int = Field(0, description="NIC cards bought for nodes whose price leaves them out.")
    cost: Fraction
    power_w: int = Field(0, description="Maximum draw of its switches and NIC cards, W (caps, facility).")
    typical_power_w: int = Field(0, description="Their typical draw, W (energy in TCO).")
    rack_units: int = Field(0, description="Rack units its switches take (in the network racks).")
    switch_power_w: int = Field(0, description="Maximum draw of its switches alone, W (what the network racks carry).")
    priced: bool = True
    items: tuple[str, ...] = Field((), description="Catalog ids of the switches, cable, transceiver and NIC "
                                   "bought for this fabric (their purchases carry the sources).")

    @property
    def switch_ports(self) -> int:
        return sum(n * p for _, n, p in self.switches)

    def to_json(self) -> dict[str, Any]:
        return {"fabric": self.fabric, "nodes": self.nodes, "node_ports": self.node_ports,
                "direct_links": self.direct_links, "uplinks": self.uplinks,
                "switches": [{"item": i, "count": n, "ports": p} for i, n, p in self.switches],
                "links": self.links, "transceivers": self.transceivers, "nics": self.nics,
                "cost": money_json(self.cost),
                "power_w": self.power_w, "typical_power_w": self.typical_power_w, "rack_units": self.rack_units,
                "priced": self.priced}


class RackLine(_Record):
    """The racks of one node type: how many, what each holds and draws, and what they cost."""

    node_type: str
    rack: str = Field(description="Rack id (catalog racks), e.g. rack-42u-air.")
    cooling: str
    racks: int
    nodes: int
    nodes_per_rack: int = Field(description="Most nodes one rack holds (space and kW limit).")
    node_power_w: int
    limit_kw: float = Field(description="The kW one rack may take (constraints.max_rack_kw or max_liquid_rack_kw).")
    cost: Fraction
    racks_per_node: int = Field(1, description="Racks one node fills (rack-scale systems such as CloudMatrix 384).")
    load_w: int | None = Field(None, description="Network racks: the switches' maximum draw in all, W.")
    load_units: int | None = Field(None, description="Network racks: the switches' rack units in all.")

    @property
    def fullest_rack_kw(self) -> float:
        """Load of the fullest rack, kW (maximum draw of the nodes in it, or a rack-scale node's share; network
        racks: the switches' draw spread evenly over them)."""
        if self.load_w is not None:
            return self.load_w / max(1, self.racks) / 1000
        return min(self.nodes, self.nodes_per_rack) * self.node_power_w / self.racks_per_node / 1000

    def to_json(self) -> dict[str, Any]:
        return {"node_type": self.node_type, "rack": self.rack, "cooling": self.cooling, "racks": self.racks,
                "nodes": self.nodes, "nodes_per_rack": self.nodes_per_rack,
                "fullest_rack_kw": round(self.fullest_rack_kw, 2), "limit_kw": self.limit_kw,
                "cost": money_json(self.cost)}


class Purchase(_Record):
    """One row of the bill of materials: a quantity of one item from one offer."""

    item: str
    kind: Literal["system", "platform", "accelerator", "switch", "cable", "transceiver", "nic", "rack"]
    description: str
    seller: str
    quantity: int
    unit_price: Fraction
    condition: str
    warranty_months: int | None = None
    lead_time_weeks: float | None = None
    offer: str = Field(description="The offer's key: <price list>#<position>.")
    source: str = ""
    date: str = Field("", description="The offer's price_date: when the price was quoted (YYYY[-MM[-DD]]).")
    estimate: bool = Field(False, description="The price is a market estimate, not a seller's quote.")

    @property
    def extended(self) -> Fraction:
        return self.unit_price * self.quantity

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "kind": self.kind, "description": self.description, "seller": self.seller,
                "quantity": self.quantity, "unit_price": money_json(self.unit_price),
                "extended_price": money_json(self.extended), "condition": self.condition,
                "warranty_months": self.warranty_months, "lead_time_weeks": self.lead_time_weeks,
                "offer": self.offer, "source": self.source, "date": self.date, "price_date": self.date,
                "estimate": self.estimate}


def _months(date_text: str) -> int:
    """Months since year 0 of a YYYY[-MM[-DD]] date; a shorter date is its period's start (as offers.py reads it)."""
    parts = date_text.split("-")
    return int(parts[0]) * 12 + (int(parts[1]) - 1 if len(parts) > 1 else 0)


def stale_price_notes(purchases: tuple[Purchase, ...] | list[Purchase], as_of: str | None,
                      today: datetime.date | None = None) -> list[str]:
    """One warning per purchase whose price is more than STALE_PRICE_MONTHS older than the purchase date.

    The purchase date is `as_of` (the problem's constraints.as_of) or else `today`. Ages are whole calendar
    months between the two dates' months (a '2025' price counts from January 2025), so a price of 2025-10
    is 13 months old on 2026-11-30. Returns human-readable notes; nothing when every price is recent.
    """
    reference = as_of or (today or datetime.date.today()).isoformat()
    notes = []
    for p in purchases:
        if not p.date:
            continue
        age = _months(reference) - _months(p.date)
        if age > STALE_PRICE_MONTHS:
            notes.append(f"price of {p.item} from {p.seller} is dated {p.date}, {age} months before "
                         f"{'constraints.as_of ' if as_of else 'today, '}{reference}: older than "
                         f"{STALE_PRICE_MONTHS} months, ask for a current quote")
    return notes


class TcoBreakdown(_Record):
    capex: Fraction
    energy: Fraction
    hosting: Fraction
    total: Fraction
    years: float
    price_per_kwh: float
    pue: float

    def to_json(self) -> dict[str, Any]:
        return {"capex": money_json(self.capex), "energy": money_json(self.energy),
                "hosting": money_json(self.hosting), "total": money_json(self.total), "years": self.years,
                "price_per_kwh": self.price_per_kwh, "pue": self.pue}


class SolverInfo(_Record):
    seconds: float
    gap: float
    bound: float | None = None
    units_considered: int = 0
    units_after_pruning: int = 0


class ServingComparison(_Record):
    """`serving: auto`: the other mode's best plan for the same objective, or why there is none."""

    other: Literal["aggregated", "disaggregated"]
    objective_value: Fraction | None = Field(None, description="The other plan's objective value (None: no plan).")
    cost: Fraction | None = None
    nodes: int | None = None
    reason: str = Field("", description="Why the other mode has no plan (infeasible, not modelled, not solved).")
    at_least: Fraction | None = Field(None, description="Not solved: a lower bound of its objective value.")

    def difference(self, chosen: Fraction) -> Fraction | None:
        """How much the other plan's objective exceeds the chosen one's (positive: the chosen is better)."""
        return None if self.objective_value is None else self.objective_value - chosen

    def to_json(self, chosen: Fraction) -> dict[str, Any]:
        diff = self.difference(chosen)
        return {"other": self.other, "objective": None if self.objective_value is None else money_json(self.objective_value),
                "cost": None if self.cost is None else money_json(self.cost), "nodes": self.nodes,
                "difference": None if diff is None else money_json(diff),
                "percent": None if diff is None or not chosen else round(float(diff / chosen) * 100, 1),
                "at_least": None if self.at_least is None else money_json(self.at_least), "reason": self.reason}


class Plan(_Record):
    status: Literal["optimal", "feasible"]
    objective: str
    objective_value: Fraction
    problem: str
    model: str
    users_demanded: int | None
    price_list: str
    lines: tuple[PlanLine, ...]
    totals: Totals
    solver: SolverInfo
    left_out: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    exchange_rates: tuple[str, ...] = ()
    tco: TcoBreakdown | None = None
    purchases: tuple[Purchase, ...] = ()
    network: tuple[NetworkLine, ...] = ()
    racks: tuple[RackLine, ...] = ()
    pue: float | None = None
    serving: Literal["aggregated", "disaggregated"] = "aggregated"
    serving_comparison: ServingComparison | None = None
    request_rate: float | None = None            # requests/s demanded (open loop), instead of users_demanded
    workload: dict[str, Any] = {}                # what each request was assumed to be (solve._workload_summary)

    @classmethod
    def from_lines(cls, lines: list[PlanLine], currency: str, network: tuple[NetworkLine, ...] = (),
                   racks: tuple[RackLine, ...] = (), **fields: Any) -> Plan:
        """Totals add the nodes' lines, the network's cost and draw, and the racks' cost."""
        lines = sorted(lines, key=lambda l: l.unit)
        totals = Totals(cost=sum((l.cost for l in lines), Fraction(0)) + sum((n.cost for n in network), Fraction(0))
                        + sum((r.cost for r in racks), Fraction(0)),
                        currency=currency,
                        power_w=sum(l.power_w for l in lines) + sum(n.power_w for n in network),
                        nodes=sum(l.nodes for l in lines),
                        gpus=sum(l.gpus for l in lines), memory_gb=sum(l.memory_gb for l in lines),
                        users=sum(l.users for l in lines))
        return cls(lines=tuple(lines), totals=totals, network=tuple(network), racks=tuple(racks), **fields)

    @property
    def facility_power_w(self) -> int | None:
        """The site's draw: the IT equipment's maximum × PUE (None when no PUE is stated)."""
        return None if self.pue is None else round(self.totals.power_w * self.pue)

    @property
    def slowest_tokens_per_s_per_user(self) -> float | None:
        """The decode speed every user gets at least: that of the slowest line."""
        return min((l.tokens_per_s_per_user for l in self.lines if l.tokens_per_s_per_user is not None), default=None)

    def to_frame(self):
        """One row per plan line as a pandas DataFrame (see optimizer/frames.py for the columns)."""
        from .frames import plan_frame

        return plan_frame(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "objective": money_json(self.objective_value),
            "objective_kind": self.objective,
            "problem": self.problem,
            "model": self.model,
            "users_demanded": self.users_demanded,
            "request_rate": self.request_rate,
            "workload": dict(self.workload),
            "price_list": self.price_list,
            "plan": {"lines": [l.to_json() for l in self.lines], "totals": self.totals.to_json(),
                     "purchases": [p.to_json() for p in self.purchases],
                     "network": [n.to_json() for n in self.network],
                     "racks": [r.to_json() for r in self.racks],
                     "facility": {"pue": self.pue, "power_w": self.facility_power_w}},
            "solver": {"seconds": round(self.solver.seconds, 3), "gap": round(self.solver.gap, 6),
                       "bound": self.solver.bound, "units_considered": self.solver.units_considered,
                       "units_after_pruning": self.solver.units_after_pruning},
            "tco": self.tco.to_json() if self.tco else None,
            "left_out": list(self.left_out),
            "exchange_rates": list(self.exchange_rates),
            "notes": list(self.notes),
            "serving": self.serving,
            "serving_comparison": None if self.serving_comparison is None
            else self.serving_comparison.to_json(self.objective_value),
        }

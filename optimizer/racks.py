"""Racks a plan needs: space, power per rack and cooling, per node type.

Nodes of one node type share racks of one kind, chosen by the node's cooling: air-cooled
nodes go into air-cooled racks limited to `constraints.max_rack_kw` (default 40 kW: about
what air cooling removes from one rack), liquid-cooled nodes (GB200/GB300 NVL72, MI355X)
into liquid-cooled racks limited to `constraints.max_liquid_rack_kw` (default 132 kW, the
GB200 NVL72 power shelves). Each limit is also capped by the rack's own rating, except for
rack-scale systems, which bring their own power shelves (a 196 kW Vera Rubin NVL72 rack needs
`max_liquid_rack_kw` raised, as the sites built for it do).

    nodes per rack = min(⌊rack units / node units⌋, ⌊rack kW limit / node maximum draw⌋)
    racks          = ⌈nodes / nodes per rack⌉   (the solver's integer R_s, model.py)

A rack-scale system (`Platform.racks_per_node`: GB200/GB300 NVL72 one, CloudMatrix 384
sixteen) fills its own racks: racks = nodes × racks per node, each carrying an equal share
of the node's draw.

A node type that fits no rack (one node draws more than the limit) cannot be bought. Racks
are priced from the network price lists (`rack` items: enclosure and PDUs, or a liquid
cooling share); space and power over time are `tco.hosting_per_rack_year`.

Switches go in network racks of their own (the network racks of NVIDIA's DGX SuperPOD rows,
https://docs.nvidia.com/dgx-superpod/reference-architecture/latest/): air-cooled racks (`network_rack`),
each within `constraints.max_rack_kw` and the rack's rating:

    network racks = max(⌈switch rack units / rack units⌉, ⌈switches' maximum draw / rack kW limit⌉)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from catalog import Catalog
from catalog.schema import Platform, Rack

from .fabric import network_offers
from .offers import PricedOffer
from .problem import Problem

__all__ = ["RackKind", "rack_kinds", "DEFAULT_RACK", "NetworkRackKind", "network_rack"]

# The rack assumed when the catalog has none of the node's cooling.
DEFAULT_RACK = Rack(id="rack-default", name="42U rack (assumed)", rack_units=42, max_kw=40, cooling="air",
                    source="assumption: a standard 42U rack when the catalog lists none", date="2026-11")


@dataclass(frozen=True)
class RackKind:
    """How one node type is racked: the rack, its kW limit, nodes per rack and the rack's price."""

    node_type: str
    rack: Rack
    limit_kw: float
    node_units: int
    node_power_w: int
    per_rack: int                 # 0: one node does not fit
    offer: PricedOffer | None     # the rack's cheapest offer; None = unpriced
    racks_per_node: int = 1       # a rack-scale system's own racks (per_rack is then 1)

    @property
    def price(self) -> Fraction:
        return self.offer.price if self.offer is not None else Fraction(0)

    def why_not(self) -> str | None:
        """Why no node of this type fits a rack, or None."""
        if self.per_rack > 0:
            return None
        if self.racks_per_node > 1:
            return (f"each of its {self.racks_per_node} racks draws {self.node_power_w / self.racks_per_node / 1000:,.1f} "
                    f"kW, more than the {self.limit_kw:g} kW per {self.rack.cooling}-cooled rack")
        if self.node_units > self.rack.rack_units:
            return f"{self.node_units}U node is taller than the {self.rack.rack_units}U rack {self.rack.id}"
        return (f"one node draws {self.node_power_w / 1000:,.1f} kW, more than the {self.limit_kw:g} kW per "
                f"{self.rack.cooling}-cooled rack (constraints.max_{'liquid_' if self.rack.cooling == 'liquid' else ''}"
                f"rack_kw)")


def rack_kinds(catalog: Catalog, problem: Problem, currency: str,
               nodes: dict[str, tuple[Platform, int]]) -> dict[str, RackKind]:
    """The rack of each node type in `nodes` (node type id -> (platform, maximum draw W))."""
    offers = network_offers(catalog, problem, currency)
    c = problem.constraints
    out: dict[str, RackKind] = {}
    for node_id, (plat, power_w) in sorted(nodes.items()):
        cooling = plat.cooling
        fits = [r for r in catalog.racks.values() if r.cooling == cooling and r.rack_units >= plat.rack_units]
        priced = [r for r in fits if r.id in offers]
        pool = priced or fits
        rack = min(pool, key=lambda r: (offers[r.id].price if r.id in offers else 0, r.id)) if pool else DEFAULT_RACK
        limit = c.max_liquid_rack_kw if cooling == "liquid" else c.max_rack_kw
        if not plat.racks_per_node:   # a rack-scale system brings its own power shelves; others live within the rack's rating
            limit = min(limit, rack.max_kw)
        spread = plat.racks_per_node or 1
        if plat.racks_per_node:   # a rack-scale system: its own racks, each with an equal share of its draw
            per_rack = 1 if power_w / spread <= limit * 1000 and plat.rack_units <= rack.rack_units else 0
        else:
            per_rack = min(rack.rack_units // plat.rack_units, int(limit * 1000 // power_w)) if power_w > 0 else \
                rack.rack_units // plat.rack_units
        out[node_id] = RackKind(node_type=node_id, rack=rack, limit_kw=limit, node_units=plat.rack_units,
                                node_power_w=power_w, per_rack=max(per_rack, 0), offer=offers.get(rack.id),
                                racks_per_node=spread)
    return out


@dataclass(frozen=True)
class NetworkRackKind:
    """The rack the switches go in: the rack, its kW limit and its cheapest offer (None = unpriced)."""

    rack: Rack
    limit_kw: float
    offer: PricedOffer | None

    @property
    def price(self) -> Fraction:
        return self.offer.price if self.offer is not None else Fraction(0)

    def racks_for(self, rack_units: int, power_w: int) -> int:
        """Racks that hold switches of `rack_units` in all drawing `power_w` at most (module docstring)."""
        if rack_units <= 0 and power_w <= 0:
            return 0
        return max(-(-rack_units // self.rack.rack_units), -(-power_w // int(self.limit_kw * 1000)))


def network_rack(catalog: Catalog, problem: Problem, currency: str) -> NetworkRackKind:
    """The air-cooled rack switches go in: the cheapest priced one in the network price lists (else the
    catalog's tallest air rack, else DEFAULT_RACK), limited to constraints.max_rack_kw and its rating."""
    offers = network_offers(catalog, problem, currency)
    air = [r for r in catalog.racks.values() if r.cooling == "air"]
    priced = [r for r in air if r.id in offers]
    if priced:
        rack = min(priced, key=lambda r: (offers[r.id].price, r.id))
    else:
        rack = max(air, key=lambda r: (r.rack_units, r.id)) if air else DEFAULT_RACK
    return NetworkRackKind(rack=rack, limit_kw=min(problem.constraints.max_rack_kw, rack.max_kw),
                           offer=offers.get(rack.id))

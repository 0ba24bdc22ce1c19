"""The scale-out network a plan buys: switches, cables and transceivers between its nodes.

Which nodes need a fabric
    A replica spread over k > 1 nodes sends pipeline (and expert-parallel) traffic between
    them over its platform's scale-out NICs (`Platform.nics[0]`: ports per node × speed,
    InfiniBand or Ethernet/RoCE). Replicas on one node need none: their traffic stays on the
    node's scale-up mesh (NVLink, xGMI, HCCS, or a rack-scale NVL72 domain). The front-end
    and management networks every node also needs are not modelled.

Topology (NVIDIA DGX SuperPOD reference architecture: rail-optimised leaves, non-blocking
two-tier fat tree; https://docs.nvidia.com/dgx-superpod/reference-architecture/latest/)
    two nodes, platform allows a direct connection: one cable per NIC port, port to port
        (rail i of node A to rail i of node B), no switch;
    otherwise, per fabric class (protocol, speed), T node ports and N nodes:
        one tier (N ≤ P, the ports of the largest leaf: every rail of every node fits one
        switch per rail):   switch ports ≥ T,              links = T
        two tiers (N > P):  leaves give half their ports to uplinks, spines take them:
                            switch ports ≥ T + 2·T,        links = T + T (node-leaf, leaf-spine)
        up to P²/2 nodes per rail (two tiers; beyond needs a third tier, not modelled).
    A link is the cheaper of a direct-attach copper cable of that protocol and speed, or a
    fiber cable with a transceiver of that protocol and speed at each end. Nodes whose price
    leaves out their NICs (`Platform.nics_included: false`) also buy ⌈ports / ports per card⌉
    NIC cards each.

Power: every switch and every NIC card bought draws its maximum (`NetworkItem.power_w`: the
datasheet's typical draw plus a transceiver in each port) in the power cap, the plan's total and the
facility draw, and its typical draw (`typical_power_w`) in the energy of the TCO. Switches go in
network racks (racks.py `network_rack`): as many air-cooled racks as their height and maximum draw need.

Prices come from the problem's `network_prices` lists (default `network-usd-2026`),
converted into the problem's currency at the catalog's exchange rate; the sellers and
conditions of `constraints` do not apply to them (they are quoted separately).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from catalog import Catalog
from catalog.errors import CatalogError
from catalog.schema import NetworkItem, Platform

from .model import Fabric, FabricClass, FabricSwitch, NetworkRack
from .offers import PricedOffer
from .problem import Problem
from .scaling import exact, money_to_int

__all__ = ["network_offers", "nic_cards", "FabricNeed", "FabricPrices", "fabric_need", "fabric_prices", "fabric_model",
           "FabricBuild", "build_fabric", "switch_units"]


@dataclass(frozen=True)
class FabricNeed:
    """What one replica asks of the network: its fabric class and ports (switched) or cables (direct)."""

    key: str               # fabric class: "<infiniband|ethernet>-<gbps>"
    ports: int = 0         # node ports that plug into switches
    nodes: int = 0         # nodes on switches
    direct_links: int = 0  # cables between two nodes, port to port
    nic_nodes: int = 0     # nodes whose price leaves out their NICs (Platform.nics_included false)
    nic_ports: int = 0     # NIC ports each of those nodes needs


def fabric_need(platform: Platform, nodes: int, pooled: bool = False) -> FabricNeed | None:
    """The network one replica on `nodes` nodes of `platform` needs; None on one node or without NICs.
    `pooled`: a replica of a disaggregated pool (optimizer/disagg.py), whose KV caches cross the fabric,
    has every node on the switches, even alone."""
    if (nodes <= 1 and not pooled) or not platform.nics:
        return None
    nic = platform.nics[0]
    key = f"{nic.fabric}-{nic.gbps}"
    buy = {} if platform.nics_included else {"nic_nodes": nodes, "nic_ports": nic.count}
    if nodes == 2 and platform.direct_connect and not pooled:
        return FabricNeed(key=key, direct_links=nic.count, **buy)
    return FabricNeed(key=key, ports=nodes * nic.count, nodes=nodes, **buy)


def nic_cards(need: FabricNeed, card_ports: int) -> int:
    """NIC cards one replica buys: ⌈ports per node / ports per card⌉ on each node without NICs."""
    return need.nic_nodes * -(-need.nic_ports // card_ports) if need.nic_nodes else 0


@dataclass(frozen=True)
class Priced:
    item: NetworkItem
    offer: PricedOffer


@dataclass(frozen=True)
class FabricPrices:
    """The parts one fabric class can be built from, cheapest offer of each, in the problem's currency."""

    key: str
    switches: tuple[Priced, ...]     # the switch used: of the protocol, ports at least this fast, cheapest per port
    cable: Priced | None
    transceiver: Priced | None
    nic: Priced | None = None        # the NIC bought for nodes sold without one (cheapest per port, this speed)

    @property
    def link_price(self) -> Fraction | None:
        if self.cable is None:
            return None
        return self.cable.offer.price + (2 * self.transceiver.offer.price if self.transceiver else 0)


def network_offers(catalog: Catalog, problem: Problem, currency: str) -> dict[str, PricedOffer]:
    """Cheapest offer of each network item and rack in the problem's network price lists, by item id."""
    best: dict[str, PricedOffer] = {}
    for pl_id in problem.network_price_lists:
        plist = catalog.price_lists.get(pl_id)
        if plist is None:  # the default list, in a catalog without it (check_ids vets lists the problem names)
            continue
        factor = Fraction(1)
        if plist.currency != currency:
            rate = catalog.exchange_rate(plist.currency, currency)
            if rate is None:
                raise CatalogError(f"{problem.where('network_prices')}: network price list {pl_id} is in "
                                   f"{plist.currency} but costs are asked in {currency}, and the catalog has no "
                                   f"{plist.currency}→{currency} exchange rate; add one under exchange_rates.")
            factor = exact(rate.rate)
        for i, o in enumerate(plist.offers):
            if o.item not in catalog.network_items and o.item not in catalog.racks:
                continue
            p = PricedOffer(key=f"{pl_id}#{i}", price_list=pl_id, offer=o, price=exact(o.price) * factor)
            if o.item not in best or (p.price, p.key) < (best[o.item].price, best[o.item].key):
                best[o.item] = p
    return best


def fabric_prices(catalog: Catalog, problem: Problem, currency: str, keys: set[str]) -> dict[str, FabricPrices]:
    """The parts of each fabric class in `keys` the network price lists offer."""
    offers = network_offers(catalog, problem, currency)
    priced = [Priced(catalog.network_items[i], o) for i, o in sorted(offers.items()) if i in catalog.network_items]
    out: dict[str, FabricPrices] = {}
    for key in sorted(keys):
        protocol, gbps = key.rsplit("-", 1)
        speed = int(gbps)
        same = [p for p in priced if p.item.protocol == protocol]
        fits = [p for p in same if p.item.kind == "switch" and p.item.gbps >= speed]
        # One switch type per class, the cheapest per port: every rail then sits on switches of one
        # size, so "the nodes fit one switch" (one tier) is exact.
        switches = tuple(sorted(fits, key=lambda p: (p.offer.price / p.item.ports, p.item.id))[:1])

        def cheapest(kind: str, media: str | None = None, exact_speed: bool = False) -> Priced | None:
            fits = [p for p in same if p.item.kind == kind and (media is None or p.item.media == media)
                    and (p.item.gbps == speed if exact_speed else p.item.gbps >= speed)]
            return min(fits, key=lambda p: (p.offer.price, p.item.gbps, p.item.id), default=None)

        nic_fits = [p for p in same if p.item.kind == "nic" and p.item.gbps == speed]
        nic = min(nic_fits, key=lambda p: (p.offer.price / (p.item.ports or 1), p.item.id), default=None)
        copper = cheapest("cable", "copper", exact_speed=True)
        fiber, xcvr = cheapest("cable", "fiber"), cheapest("transceiver", exact_speed=True)
        optical = fiber.offer.price + 2 * xcvr.offer.price if fiber and xcvr else None
        if copper is not None and (optical is None or copper.offer.price <= optical):
            out[key] = FabricPrices(key=key, switches=switches, cable=copper, transceiver=None, nic=nic)
        else:
            out[key] = FabricPrices(key=key, switches=switches, cable=fiber if xcvr else None, transceiver=xcvr,
                                    nic=nic)
    return out


def switch_units(item: NetworkItem) -> int:
    """Rack units one switch takes (1 when the catalog states none: the smallest switch there is)."""
    return item.rack_units or 1


def fabric_model(needs: dict[str, FabricNeed], prices: dict[str, FabricPrices], scale: int,
                 rack: NetworkRack | None = None) -> Fabric | None:
    """The solver's view: switch types (price, maximum draw, height) and link price per class, the NIC
    cards' price and draw, each unit's need (solver integers), and the racks switches go in."""
    if not needs:
        return None
    classes = []
    for key, fp in sorted(prices.items()):
        switches = tuple(FabricSwitch(key=p.item.id, ports=p.item.ports or 0,
                                      price=money_to_int(p.offer.price, scale, rounding="ceil"),
                                      power_w=p.item.power_w or 0, rack_units=switch_units(p.item))
                         for p in fp.switches)
        link = fp.link_price
        classes.append(FabricClass(key=key, switches=switches,
                                   link_price=0 if link is None else money_to_int(link, scale, rounding="ceil"),
                                   nic_price=0 if fp.nic is None else money_to_int(fp.nic.offer.price, scale,
                                                                                   rounding="ceil"),
                                   nic_power_w=0 if fp.nic is None else fp.nic.item.power_w or 0))
    card_ports = {key: (fp.nic.item.ports or 1) if fp.nic else 1 for key, fp in prices.items()}
    return Fabric(classes=tuple(classes),
                  switched={u: (n.key, n.ports, n.nodes) for u, n in needs.items() if n.ports},
                  direct={u: (n.key, n.direct_links) for u, n in needs.items() if n.direct_links},
                  nics={u: (n.key, nic_cards(n, card_ports.get(n.key, 1))) for u, n in needs.items() if n.nic_nodes},
                  rack=rack)


@dataclass(frozen=True)
class FabricBuild:
    """The fabric of one plan, per class: what is bought and what it costs (exact)."""

    key: str
    node_ports: int
    nodes: int
    direct_links: int
    switches: tuple[tuple[Priced, int], ...]   # (switch, count)
    uplinks: int
    links: int
    cable: Priced | None
    transceiver: Priced | None
    nic: Priced | None = None
    nics: int = 0                    # NIC cards bought for nodes sold without them

    @property
    def transceivers(self) -> int:
        return 2 * self.links if self.transceiver is not None else 0

    @property
    def cost(self) -> Fraction:
        total = sum((p.offer.price * n for p, n in self.switches), Fraction(0))
        if self.cable is not None:
            total += self.cable.offer.price * self.links
        if self.transceiver is not None:
            total += self.transceiver.offer.price * self.transceivers
        if self.nic is not None:
            total += self.nic.offer.price * self.nics
        return total

    @property
    def power_w(self) -> int:
        """Maximum draw, W: the switches and the NIC cards bought, with transceivers in their ports."""
        nic = (self.nic.item.power_w or 0) * self.nics if self.nic is not None else 0
        return sum((p.item.power_w or 0) * n for p, n in self.switches) + nic

    @property
    def typical_power_w(self) -> int:
        """Typical draw, W (each item's typical_power_w, its maximum where the catalog states none)."""
        def typical(item: NetworkItem) -> int:
            return item.typical_power_w or item.power_w or 0

        nic = typical(self.nic.item) * self.nics if self.nic is not None else 0
        return sum(typical(p.item) * n for p, n in self.switches) + nic

    @property
    def rack_units(self) -> int:
        """Rack units its switches take."""
        return sum(switch_units(p.item) * n for p, n in self.switches)

    @property
    def switch_power_w(self) -> int:
        """Maximum draw of its switches alone (what the network racks carry), W."""
        return sum((p.item.power_w or 0) * n for p, n in self.switches)

    @property
    def priced(self) -> bool:
        return (self.node_ports == 0 or bool(self.switches)) and (self.links == 0 or self.cable is not None) \
            and (self.nics == 0 or self.nic is not None)


def build_fabric(needs: dict[str, FabricNeed], replicas: dict[str, int], prices: dict[str, FabricPrices],
                 switch_counts: dict[str, dict[str, int]] | None = None) -> list[FabricBuild]:
    """The fabric each class of a plan needs. `switch_counts` (class -> switch id -> count) is the
    solver's choice; without it the cheapest switch per port that covers the ports is taken."""
    out = []
    for key in sorted({n.key for u, n in needs.items() if replicas.get(u)}):
        mine = [(needs[u], r) for u, r in replicas.items() if u in needs and needs[u].key == key and r]
        ports = sum(n.ports * r for n, r in mine)
        nodes = sum(n.nodes * r for n, r in mine)
        direct = sum(n.direct_links * r for n, r in mine)
        fp = prices.get(key) or FabricPrices(key=key, switches=(), cable=None, transceiver=None)
        cards = sum(nic_cards(n, (fp.nic.item.ports or 1) if fp.nic else 1) * r for n, r in mine)
        largest = max((p.item.ports or 0 for p in fp.switches), default=0)
        uplinks = ports if ports and nodes > largest else 0
        if switch_counts is not None:
            chosen = tuple((p, switch_counts.get(key, {}).get(p.item.id, 0)) for p in fp.switches)
            chosen = tuple((p, n) for p, n in chosen if n)
        elif ports and fp.switches:
            best = min(fp.switches, key=lambda p: (p.offer.price / p.item.ports, p.item.id))
            need = ports + 2 * uplinks
            chosen = ((best, -(-need // best.item.ports)),)
        else:
            chosen = ()
        out.append(FabricBuild(key=key, node_ports=ports, nodes=nodes, direct_links=direct, switches=chosen,
                               uplinks=uplinks, links=ports + uplinks + direct, cable=fp.cable,
                               transceiver=fp.transceiver, nic=fp.nic, nics=cards))
    return out

"""Offers a problem may buy from: its price lists, converted to its currency, filtered by its limits.

Each offer keeps a stable key (`<price list>#<position>`), its seller, condition,
warranty, lead time and stock, and its price in the problem's currency (exact, using
the most recent exchange rate in the catalog). Offers that break a seller, condition,
warranty or lead-time limit are set aside with the reason; an offer that does not
state its warranty or lead time is set aside when the problem limits it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from catalog import Catalog
from catalog.errors import CatalogError
from catalog.schema import ExchangeRate, Offer

from .problem import Problem
from .scaling import exact

__all__ = ["PricedOffer", "eligible_offers", "cheapest"]


@dataclass(frozen=True)
class PricedOffer:
    key: str                 # "<price list>#<position>", stable across runs
    price_list: str
    offer: Offer
    price: Fraction          # one item, in the problem's currency

    @property
    def item(self) -> str:
        return self.offer.item

    @property
    def seller(self) -> str:
        return self.offer.seller

    @property
    def stock(self) -> int | None:
        return self.offer.stock


def _rate(catalog: Catalog, base: str, quote: str, where: str) -> ExchangeRate | None:
    if base == quote:
        return None
    rate = catalog.exchange_rate(base, quote)
    if rate is None:
        raise CatalogError(f"{where}: the price list is in {base} but costs are asked in {quote}, and the catalog "
                           f"has no {base}→{quote} exchange rate; add one under exchange_rates "
                           f"(base: {base}, quote: {quote}, rate, source, date) or drop constraints.currency.")
    return rate


def _reject(problem: Problem, o: Offer) -> str | None:
    c = problem.constraints
    if c.sellers and o.seller not in c.sellers:
        return f"seller {o.seller} is not in constraints.sellers"
    if c.conditions and o.condition not in c.conditions:
        return f"condition {o.condition} is not in constraints.conditions"
    if c.min_warranty_months is not None and (o.warranty_months or 0) < c.min_warranty_months:
        return f"warranty {o.warranty_months if o.warranty_months is not None else 'not stated'} < " \
               f"{c.min_warranty_months} months"
    if c.max_lead_time_weeks is not None and (o.lead_time_weeks is None or o.lead_time_weeks > c.max_lead_time_weeks):
        return f"lead time {o.lead_time_weeks if o.lead_time_weeks is not None else 'not stated'} > " \
               f"{c.max_lead_time_weeks:g} weeks"
    if o.stock == 0:
        return "out of stock"
    if c.as_of is not None:  # dates compare as text: YYYY[-MM[-DD]], a shorter date is its period's start
        start = o.valid_from or o.price_date
        if start[:len(c.as_of)] > c.as_of:
            return f"not valid before {start} (constraints.as_of {c.as_of})"
        if o.valid_until is not None and o.valid_until < c.as_of[:len(o.valid_until)]:
            return f"expired on {o.valid_until} (constraints.as_of {c.as_of})"
    return None


def currency_of(catalog: Catalog, problem: Problem) -> str:
    return problem.constraints.currency or catalog.price_lists[problem.price_lists[0]].currency


def eligible_offers(catalog: Catalog, problem: Problem) -> tuple[dict[str, list[PricedOffer]], list[ExchangeRate],
                                                                  dict[str, str]]:
    """Offers by item (cheapest first), the exchange rates used, and why others were set aside."""
    currency = currency_of(catalog, problem)
    by_item: dict[str, list[PricedOffer]] = defaultdict(list)
    rates: list[ExchangeRate] = []
    rejected: dict[str, str] = {}
    for pl_id in problem.price_lists:
        plist = catalog.price_lists[pl_id]
        rate = _rate(catalog, plist.currency, currency, problem.where("constraints", "currency")
                     if problem.constraints.currency else problem.where("prices"))
        if rate is not None and rate not in rates:
            rates.append(rate)
        factor = exact(rate.rate) if rate else Fraction(1)
        for i, o in enumerate(plist.offers):
            key = f"{pl_id}#{i}"
            why = _reject(problem, o)
            if why:
                rejected[f"{o.item} from {o.seller}"] = why
                continue
            by_item[o.item].append(PricedOffer(key=key, price_list=pl_id, offer=o, price=exact(o.price) * factor))
    for offers in by_item.values():
        offers.sort(key=lambda p: (p.price, p.seller, p.key))
    return dict(by_item), rates, rejected


def cheapest(offers: list[PricedOffer]) -> PricedOffer:
    return offers[0]

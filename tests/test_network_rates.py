"""A plan whose network items are priced in another currency states the exchange rate it used
(a new-user review found USD switch and cable prices silently converted to CNY)."""

from __future__ import annotations

from fractions import Fraction

from catalog import load_catalog
from optimizer import load_problem, optimize
from problems import bundled_problems


def test_network_items_in_another_currency_state_their_rate():
    catalog = load_catalog()
    [path] = [p for p in bundled_problems() if p.stem == "deepseek-r1-seed-nvidia"]
    plan = optimize(catalog, load_problem(path))
    rate = catalog.exchange_rate("USD", "CNY")
    assert plan.totals.currency == "CNY" and rate is not None
    network = [p for p in plan.purchases if p.item in catalog.network_items]
    assert network, "the two-node H20 plan buys its InfiniBand fabric"
    for p in network:
        list_id, pos = p.offer.rsplit("#", 1)
        plist = catalog.price_lists[list_id]
        assert plist.currency == "USD"
        usd = Fraction(str(plist.offers[int(pos)].price))
        assert abs(Fraction(p.unit_price) - usd * Fraction(str(rate.rate))) < Fraction(1, 100)
    assert any(r.startswith(f"1 USD = {rate.rate} CNY") for r in plan.exchange_rates)

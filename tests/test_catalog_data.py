"""Rules the bundled hardware and price data must keep: public sources, dated prices from real sellers,
and a priced server (or a stated reason) for every accelerator."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from catalog import load_catalog

LOCAL_PATH_MARKERS = ("/work/", "shared/", "../")
# Words that describe where a figure came from rather than who sells the item.
DESCRIPTION_WORDS = re.compile(r"\b(statement|field|msrp|estimate|estimated|press|quote|seed|remark|launch)\b", re.I)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _sources(obj, where: str):
    """Every `source` string in a record tree, with where it sits."""
    if isinstance(obj, BaseModel):
        for name, value in obj:
            if name == "source" and isinstance(value, str):
                yield where, value
            else:
                yield from _sources(value, f"{where}.{name}")
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _sources(item, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from _sources(item, f"{where}.{key}")


def test_no_catalog_source_is_a_local_path(cat):
    records = {s: getattr(cat, s) for s in ("accelerators", "platforms", "systems", "models", "engines", "price_lists")}
    records["exchange_rates"] = list(cat.exchange_rates)
    found = [(where, text) for section, table in records.items() for where, text in _sources(table, section)
             if any(marker in text for marker in LOCAL_PATH_MARKERS)]
    assert found == []
    assert sum(1 for _ in _sources(records["price_lists"], "p")) > 100  # the walk does reach the offers


def test_the_local_path_check_would_catch_one(cat):
    offer = cat.price_lists["seed-2025-02"].offers[0].model_copy(update={"source": "/work/shared/reference/x.md"})
    assert [w for w, t in _sources([offer], "o") if any(m in t for m in LOCAL_PATH_MARKERS)] == ["o[0]"]


def test_every_offer_has_a_price_date_and_a_seller_not_a_description(cat):
    bad = []
    for pl in cat.price_lists.values():
        for i, o in enumerate(pl.offers):
            where = f"{pl.id}.offers[{i}] ({o.item}, seller {o.seller!r})"
            if not o.price_date:
                bad.append(f"{where}: no price_date")
            if o.seller == "market estimate":
                if not (o.estimate and o.notes):
                    bad.append(f"{where}: a market estimate must say estimate: true and its basis in notes")
            elif o.seller == "unspecified" or DESCRIPTION_WORDS.search(o.seller):
                bad.append(f"{where}: seller describes a figure instead of naming who sells it")
            if o.estimate and o.seller != "market estimate":
                bad.append(f"{where}: an estimate names a seller")
            if o.retrieved is not None and o.retrieved < o.price_date[:len(o.retrieved)]:
                bad.append(f"{where}: read ({o.retrieved}) before its price date ({o.price_date})")
    assert bad == []


def test_the_seller_rule_rejects_the_old_descriptions():
    for old in ("NVIDIA CEO statement (range midpoint)", "huggingface.co/hardware (MSRP field)", "OEM (estimate)",
                "xianyu quote", "seed estimate", "NVIDIA launch MSRP", "press estimate"):
        assert DESCRIPTION_WORDS.search(old), old
    for seller in ("Supermicro eStore", "NVIDIA Marketplace", "Intel (list price)", "eBay", "Xianyu (闲鱼) second-hand listing"):
        assert not DESCRIPTION_WORDS.search(seller), seller


def _lists_with_a_priced_server(cat, acc) -> list[str]:
    """Price lists that sell a whole system with `acc`, or `acc` itself plus a platform that takes it."""
    found = []
    for pl in cat.price_lists.values():
        items = {o.item for o in pl.offers}
        system = any(s.accelerator == acc.id and s.id in items for s in cat.systems.values())
        parts = acc.id in items and any(p.id in items and p.form_factor == acc.form_factor
                                         and (not p.accepts or acc.id in p.accepts) for p in cat.platforms.values())
        if system or parts:
            found.append(pl.id)
    return found


def test_every_accelerator_has_a_priced_server_or_says_why_not(cat):
    silent = [a.id for a in cat.accelerators.values() if not _lists_with_a_priced_server(cat, a) and not a.unpriced_reason]
    stale = [a.id for a in cat.accelerators.values() if _lists_with_a_priced_server(cat, a) and a.unpriced_reason]
    assert silent == [], "accelerators without a priced server and without unpriced_reason"
    assert stale == [], "accelerators priced in a list but still saying why they are not"


def test_the_new_accelerators_have_a_priced_server_in_the_2026_lists(cat):
    for acc in ("b200", "b300", "gb200", "gb300", "rubin", "mi325x", "mi355x", "gaudi3", "rtx-5090", "rtx-4090",
                "rtx-pro-6000", "rtx-pro-6000-server", "l4", "a30"):
        assert "street-usd-2026" in _lists_with_a_priced_server(cat, cat.accelerators[acc]), acc
    for acc in ("ascend-910b", "ascend-910c"):
        assert "china-market-cny-2025" in _lists_with_a_priced_server(cat, cat.accelerators[acc]), acc


def test_2026_prices_replace_launch_prices(cat):
    street = {(o.item, o.seller): o for o in cat.price_lists["street-usd-2026"].offers}
    pro = street[("rtx-pro-6000", "NVIDIA Marketplace")]
    assert pro.price == 16_000 and pro.price_date >= "2026"
    assert street[("rtx-5090", "market estimate")].price > 1999          # street, not the launch MSRP
    assert street[("b200", "market estimate")].price_date >= "2026"      # not the 2024 remark
    assert all(o.price_date >= "2024" for o in street.values())


def test_dense_figures_are_half_the_sparse_datasheet_figures(cat):
    l4, a30, gb300 = cat.accelerators["l4"], cat.accelerators["a30"], cat.accelerators["gb300"]
    assert l4.tflops["fp8"] == 485 / 2 and l4.tflops["bf16"] == pytest.approx(242 / 2)
    assert a30.tflops["bf16"] == 330 / 2 and a30.tflops["int8"] == pytest.approx(661 / 2, abs=0.5)
    assert gb300.tflops["fp4"] == 1_080_000 / 72 and gb300.tflops["fp8"] == 720_000 / 72 / 2
    assert l4.memory_bytes == pytest.approx(23034 * 2**20, rel=1e-4)     # nvidia-smi 23034 MiB
    server = cat.accelerators["rtx-pro-6000-server"]
    assert server.hardware_class == "datacenter" and server.tdp_w == 600 and server.memory_bandwidth_gbs == 1597


def test_exchange_rates_are_dated_and_current(cat):
    usd_cny = cat.exchange_rate("USD", "CNY")
    assert usd_cny.date >= "2026" and usd_cny.rate == 7.0197
    eur_usd = cat.exchange_rate("EUR", "USD")
    assert eur_usd is not None and eur_usd.date >= "2026"
    assert cat.exchange_rate("USD", "EUR").rate == pytest.approx(1 / 1.1739)

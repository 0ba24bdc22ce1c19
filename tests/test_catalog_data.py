"""Rules the bundled hardware and price data must keep: public sources, dated prices from real sellers,
and a priced server (or a stated reason) for every accelerator."""

from __future__ import annotations

import os
import re

import pytest
from pydantic import BaseModel

from catalog import load_catalog

URL = re.compile(r"https?://\S+")
# After its URLs are removed, a source must not name a file on some machine: an absolute, home or
# relative path (a source is a public URL or a document title).
FILE_REFERENCE = re.compile(r"(?:^|[\s(;,])(?:\.{1,2}/|~/|/)\S+")


def _names_a_file(text: str) -> bool:
    return FILE_REFERENCE.search(URL.sub("", text)) is not None
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
             if _names_a_file(text)]
    assert found == []
    assert sum(1 for _ in _sources(records["price_lists"], "p")) > 100  # the walk does reach the offers


def test_the_local_path_check_would_catch_one(cat):
    offer = cat.price_lists["seed-2025-02"].offers[0].model_copy(update={"source": "team notes, " + os.path.join(".", "notes", "prices-x.md")})
    assert [w for w, t in _sources([offer], "o") if _names_a_file(t)] == ["o[0]"]
    assert not _names_a_file("NVIDIA H100/H200 datasheet; https://example.com/a/b.md")


def test_every_offer_has_a_price_date_and_a_seller_not_a_description(cat):
    """A named seller may carry an estimated price (its notes say the basis); a description may not be a seller."""
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
    assert gb300.memory_bytes == pytest.approx(284208 * 2**20, rel=1e-5)  # nvidia-smi 284208 MiB
    server = cat.accelerators["rtx-pro-6000-server"]
    assert server.hardware_class == "datacenter" and server.tdp_w == 600 and server.memory_bandwidth_gbs == 1597
    assert server.memory_bytes == pytest.approx(97887 * 2**20, rel=1e-5)  # nvidia-smi 97887 MiB


def test_exchange_rates_are_dated_and_current(cat):
    usd_cny = cat.exchange_rate("USD", "CNY")
    assert usd_cny.date >= "2026" and usd_cny.rate == 7.0197
    eur_usd = cat.exchange_rate("EUR", "USD")
    assert eur_usd is not None and eur_usd.date >= "2026"
    assert cat.exchange_rate("USD", "EUR").rate == pytest.approx(1 / 1.1739)


# ---------------------------------------------------------------- `hwplan catalog prices` and price age in plans

def test_catalog_prices_table_fits_80_columns_and_shows_dates_and_sellers(cat):
    from rich.cells import cell_len

    from optimizer.render import render_catalog

    text = render_catalog(cat, "prices", "table")
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    for header in ("Item", "Price", "Seller", "Cond", "Date", "Source"):
        assert header in text
    assert "street-usd-2026 (USD)" in text and "2026-09" in text and "NVIDIA" in text
    offers = sum(len(pl.offers) for pl in cat.price_lists.values())
    assert sum(1 for line in text.splitlines() if line[1:2].strip() and line[:1] == " "
               and not line.startswith(" Item") and "─" not in line) >= offers - 5  # one row per offer (a few wrap)


def test_catalog_prices_json_has_every_field(cat):
    import json

    from optimizer.render import render_catalog

    rows = json.loads(render_catalog(cat, "prices", "json"))
    assert len(rows) == sum(len(pl.offers) for pl in cat.price_lists.values())
    b200 = next(r for r in rows if r["price_list"] == "street-usd-2026" and r["item"] == "b200")
    assert b200["price_date"] == "2026-03" and b200["estimate"] is True and b200["seller"] == "market estimate"
    assert b200["source"].startswith("https://") and "notes" in b200 and "retrieved" in b200
    pro = next(r for r in rows if r["price_list"] == "street-usd-2026" and r["item"] == "rtx-pro-6000")
    assert (pro["price_date"], pro["retrieved"]) == ("2026-09", "2026-09-26")


def _purchase(date: str, seller: str = "Acme"):
    from fractions import Fraction

    from optimizer.plan import Purchase

    return Purchase(item="h200-sxm", kind="accelerator", description="H200", seller=seller, quantity=8,
                    unit_price=Fraction(30000), condition="new", offer="x#0", date=date)


def test_a_price_older_than_twelve_months_is_flagged():
    import datetime

    from optimizer.plan import stale_price_notes

    # 2025-10 -> 2026-11 is 13 months (> 12); 2025-11 -> 2026-11 is 12 months (not older than 12).
    assert len(stale_price_notes([_purchase("2025-10")], "2026-11-30")) == 1
    assert stale_price_notes([_purchase("2025-11-15")], "2026-11-30") == []
    # A year-only date counts from its January: '2025' is 22 months before 2026-11.
    note = stale_price_notes([_purchase("2025", "Intel")], "2026-11")[0]
    assert "22 months" in note and "Intel" in note and "constraints.as_of 2026-11" in note
    # Without as_of the reference is today.
    today = datetime.date(2027, 3, 1)
    assert "today, 2027-03-01" in stale_price_notes([_purchase("2026-01")], None, today)[0]
    assert stale_price_notes([_purchase("2026-06")], None, today) == []


def test_plans_show_each_purchase_price_date_and_warn_when_stale(cat):
    from optimizer import load_problem, optimize, with_overrides
    from optimizer.render import render_plan
    from problems import bundled_problem_path

    problem = load_problem(bundled_problem_path("deepseek-r1-seed-nvidia"))
    recent = optimize(cat, with_overrides(problem, {("constraints", "as_of"): ("--as-of", "2025-06-01")}))
    later = optimize(cat, with_overrides(problem, {("constraints", "as_of"): ("--as-of", "2026-11-30")}))
    text = render_plan(later)
    assert "price of 2025-02-11" in text
    # The seed's prices date from 2025-02-11: 4 months before 2025-06, 21 months before 2026-11. Network
    # items a two-node plan buys carry their own dates (2024-08: 10 and 27 months).
    assert not any("older than 12 months" in n for n in recent.notes)
    stale = [n for n in later.notes if "older than 12 months" in n]
    assert len(stale) == len(later.purchases)
    for p in later.purchases:
        y, m = map(int, p.date.split("-")[:2])
        months = (2026 * 12 + 11) - (y * 12 + m)
        assert any(f"{p.item} from {p.seller} is dated {p.date}, {months} months" in n for n in stale), p.item
    servers = [p for p in later.to_json()["plan"]["purchases"] if p["kind"] in ("system", "platform", "accelerator")]
    assert servers and all(p["price_date"] == "2025-02-11" for p in servers)


def test_a_market_estimate_is_shown_as_one_in_the_plan(cat, tmp_path):
    from optimizer import load_problem, optimize
    from optimizer.render import render_plan

    path = tmp_path / "amd-2026.yaml"
    path.write_text("name: amd-2026\ndescription: DeepSeek-R1 for 30 users on AMD at 2026 prices\n"
                    "model: deepseek-r1\nworkload: {concurrent_users: 30}\n"
                    "constraints: {vendors: [amd], as_of: 2026-11-30}\nprices: street-usd-2026\n")
    plan = optimize(cat, load_problem(path))
    # The only AMD servers priced in street-usd-2026 are the MI355X and MI325X node estimates and
    # Supermicro's MI300X node; one MI355X node (8 x 288 GB) at 8 x $14,000 + $70,000 = $182,000 is cheapest.
    assert [(p.item, p.quantity, p.unit_price) for p in plan.purchases] == [("mi355x-8x", 1, 8 * 14_000 + 70_000)]
    text = " ".join(render_plan(plan).split())   # the terminal text wraps at 80 columns; read it as prose
    assert "Buy: 1 × mi355x-8x at 182,000 = 182,000, price of 2026 (market estimate, not a quote)" in text
    assert not any("older than 12 months" in n for n in plan.notes)   # '2026' is 10 months before 2026-11


def test_catalog_prices_filters_by_price_list_and_rejects_an_unknown_one():
    from click.testing import CliRunner

    import cli

    ok = CliRunner().invoke(cli.main, ["catalog", "prices", "--price-list", "street-usd-2026"])
    assert ok.exit_code == 0, ok.output
    assert "street-usd-2026 (USD)" in ok.output and "seed-2025-02" not in ok.output
    bad = CliRunner().invoke(cli.main, ["catalog", "prices", "--price-list", "street-usd-2027"])
    assert bad.exit_code == 2 and "unknown price list 'street-usd-2027'" in bad.output
    assert "did you mean" in bad.output and "hwplan catalog prices" in bad.output and "Traceback" not in bad.output

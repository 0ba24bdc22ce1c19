"""Offers, stock and exports: split purchases, brute-force cheapest mix, bills that add up, imports."""

from __future__ import annotations

import csv
import io
import itertools
import random
import textwrap
from fractions import Fraction

import pytest
from click.testing import CliRunner

import cli
from catalog import InfeasibleError, load_catalog
from catalog.tools import import_sheet
from optimizer import check_plan, load_problem, optimize, with_overrides
from optimizer.export import export_bom
from optimizer.model import Limits, Offers, OfferVar, solve_units
from optimizer.search import per_seller
from optimizer.units import prepare
from problems import bundled_problem_path

from .synthetic import FakeUnit

OFFERS = """\
schema_version: 1
price_lists:
  - id: test-offers
    name: Three sellers
    currency: USD
    source: "assumption: offers made up to exercise stock limits"
    date: 2025-06
    offers:
      - {item: h200-sxm, seller: Alpha, price: 28000, stock: 8, warranty_months: 36, lead_time_weeks: 2, source: quote, price_date: 2025-06}
      - {item: h200-sxm, seller: Beta, price: 31000, stock: 40, warranty_months: 12, lead_time_weeks: 6, source: quote, price_date: 2025-06}
      - {item: h200-sxm, seller: Gamma, price: 24000, condition: used, stock: 8, warranty_months: 3, lead_time_weeks: 1, source: quote, price_date: 2025-06}
      - {item: hgx-8gpu-hopper, seller: Alpha, price: 75000, stock: 1, warranty_months: 36, lead_time_weeks: 2, source: quote, price_date: 2025-06}
      - {item: hgx-8gpu-hopper, seller: Beta, price: 80000, warranty_months: 12, lead_time_weeks: 6, source: quote, price_date: 2025-06}
"""


@pytest.fixture(scope="module")
def offer_catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("offers") / "offers.yaml"
    path.write_text(OFFERS)
    return load_catalog([path]), path


def _problem(users=200, **constraints):
    base = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    over = {("prices",): ("--prices", "test-offers"), ("workload", "concurrent_users"): ("--users", users)}
    for k, v in constraints.items():
        over[("constraints", k)] = (f"--{k}", v)
    return with_overrides(base, over)


def test_purchase_splits_when_the_cheapest_stock_is_short(offer_catalog):
    cat, _ = offer_catalog
    plan = optimize(cat, _problem(users=400, conditions=["new"]))
    assert check_plan(plan, cat, _problem(users=400, conditions=["new"])) == []
    by_seller = {(p.item, p.seller): p.quantity for p in plan.purchases}
    # Alpha has one server and 8 GPUs in stock; more nodes must come partly from Beta.
    assert plan.totals.nodes >= 2
    assert by_seller[("hgx-8gpu-hopper", "Alpha")] == 1 and by_seller[("h200-sxm", "Alpha")] == 8
    assert by_seller[("hgx-8gpu-hopper", "Beta")] == plan.totals.nodes - 1
    for p in plan.purchases:  # stock is never exceeded
        stock = {("h200-sxm", "Alpha"): 8, ("h200-sxm", "Gamma"): 8, ("hgx-8gpu-hopper", "Alpha"): 1}
        assert p.quantity <= stock.get((p.item, p.seller), 10**9)
    assert sum(p.extended for p in plan.purchases) == plan.totals.cost
    assert "Gamma" not in {p.seller for p in plan.purchases}  # used cards were not allowed


def test_warranty_lead_time_and_seller_limits(offer_catalog):
    cat, _ = offer_catalog
    plan = optimize(cat, _problem(users=200, min_warranty_months=24, max_lead_time_weeks=4))
    assert {p.seller for p in plan.purchases} == {"Alpha"}  # only Alpha gives 24+ months within 4 weeks
    with pytest.raises(InfeasibleError) as err:  # Alpha's stock holds one node: fewer than 400 users
        optimize(cat, _problem(users=400, min_warranty_months=24))
    most = max(u.users for u in prepare(cat, _problem(users=400, min_warranty_months=24)).units if u.nodes == 1)
    assert most < 400
    assert f"at most {most} users" in str(err.value) and "without constraints.min_warranty_months" in str(err.value)
    one = optimize(cat, _problem(users=400, max_sellers=1, conditions=["new"]))
    assert len({p.seller for p in one.purchases}) == 1
    assert check_plan(one, cat, _problem(users=400, max_sellers=1, conditions=["new"])) == []


def test_per_seller_gives_each_sellers_best_plan(offer_catalog):
    cat, _ = offer_catalog
    found = per_seller(cat, _problem(users=60))
    sellers = [s for s, _ in found]
    assert set(sellers) <= {"Alpha", "Beta", "Gamma"} and "Beta" in sellers
    for seller, plan in found:
        assert {p.seller for p in plan.purchases} == {seller}


def _greedy_cost(offers, needs, allowed):
    total = 0
    for item, qty in needs.items():
        for o in sorted((o for o in offers if o.item == item and o.seller in allowed), key=lambda o: o.price):
            take = min(qty, o.stock if o.stock is not None else qty)
            total += take * o.price
            qty -= take
        if qty:
            return None
    return total


def _brute_force_cheapest(units, items, offers, demand: int, max_sellers: int | None):
    """The cheapest purchase over every replica count 0..4 per unit that serves `demand` users and every
    set of at most `max_sellers` sellers (each bought greedily, cheapest offer first); None if none does."""
    best = None
    sellers = sorted({o.seller for o in offers})
    subsets = [set(c) for k in range(1, len(sellers) + 1) for c in itertools.combinations(sellers, k)
               if max_sellers is None or k <= max_sellers]
    for combo in itertools.product(range(5), repeat=len(units)):
        if sum(u.users * r for u, r in zip(units, combo)) < demand:
            continue
        needs: dict[str, int] = {}
        for u, r in zip(units, combo):
            for item, q in items[u.id]:
                needs[item] = needs.get(item, 0) + q * r
        costs = [c for c in (_greedy_cost(offers, needs, allowed) for allowed in subsets) if c is not None]
        if costs and (best is None or min(costs) < best):
            best = min(costs)
    return best


@pytest.mark.parametrize("seed", range(20))
def test_cheapest_mix_across_offers_equals_brute_force(seed):
    rng = random.Random(seed)
    units = [FakeUnit(f"u{i}", users=rng.randint(10, 40), cost=0, power_w=100, nodes=1, gpus=8,
                      accelerator_id="a", sku=f"s{i}") for i in range(3)]
    items = {u.id: (("box", 1), (f"gpu{i % 2}", 8)) for i, u in enumerate(units)}
    offers = []
    for item in ("box", "gpu0", "gpu1"):
        for seller in ("A", "B", "C"):
            if rng.random() < 0.8:
                offers.append(OfferVar(key=f"{item}-{seller}", item=item, seller=seller,
                                       price=rng.randint(5, 50) * (10 if item == "box" else 1),
                                       stock=rng.choice([None, rng.randint(0, 24)])))
    cheapest = {item: min((o.price for o in offers if o.item == item), default=0) for item in ("box", "gpu0", "gpu1")}
    units = [u.__class__(**{**u.__dict__, "cost": sum(cheapest[i] * q for i, q in items[u.id])}) for u in units]
    demand = rng.randint(20, 90)
    max_sellers = rng.choice([None, 1, 2])
    model_offers = Offers(offers=tuple(offers), needs=items, max_sellers=max_sellers)
    sol = solve_units(units, Limits(demand=demand), "cost", offers=model_offers)
    best = _brute_force_cheapest(units, items, offers, demand, max_sellers)
    if best is None:
        assert sol is None
    else:
        assert sol is not None and sol.values["cost"] == best
        for key, q in sol.purchases.items():
            stock = next(o.stock for o in offers if o.key == key)
            assert stock is None or q <= stock


@pytest.mark.parametrize("ext", [".csv", ".md", ".xlsx"])
def test_each_export_adds_up_to_the_plan_total(offer_catalog, tmp_path, ext):
    cat, _ = offer_catalog
    problem = _problem(users=400, conditions=["new"])
    plan = optimize(cat, problem)
    content = export_bom(str(tmp_path / f"bom{ext}"), [plan], problem, cat)
    if ext == ".csv":
        rows = list(csv.DictReader(io.StringIO(content)))
        items = [r for r in rows if r["seller"] != "TOTAL" and r["kind"] != "launch"]
        assert sum(Fraction(r["extended_price"]) for r in items) == plan.totals.cost
        assert all(Fraction(r["extended_price"]) == int(r["quantity"]) * Fraction(r["unit_price"]) for r in items)
        assert Fraction(next(r for r in rows if r["seller"] == "TOTAL")["extended_price"]) == plan.totals.cost
        # After the bill, one row per engine command of each line: how to run what is bought.
        launches = [r["description"] for r in rows if r["kind"] == "launch"]
        assert launches and len(launches) == sum(len(line.launch) for line in plan.lines)
    elif ext == ".md":
        assert "| TOTAL |" in content and f"{int(plan.totals.cost):,}" in content
    else:
        from openpyxl import load_workbook

        (tmp_path / "bom.xlsx").write_bytes(content)
        wb = load_workbook(tmp_path / "bom.xlsx")
        assert wb.sheetnames == ["Summary", "Plan 1", "Assumptions", "Caveats"]
        ws = wb["Plan 1"]
        header = [c.value for c in ws[1]]
        rows = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
        items = [r for r in rows if r["seller"] != "TOTAL" and r["kind"] != "launch"]
        assert sum(Fraction(str(r["extended_price"])) for r in items) == plan.totals.cost


def test_per_seller_workbook_has_a_sheet_per_seller(offer_catalog, tmp_path):
    _, path = offer_catalog
    out = tmp_path / "quotes.xlsx"
    result = CliRunner().invoke(cli.main, ["shortlist", "llama-3.1-70b-100-users", "--catalog", str(path), "--prices",
                                           "test-offers", "--users", "60", "--per-seller", "--export", str(out)])
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    names = load_workbook(out).sheetnames
    assert names[0] == "Summary" and names[-2:] == ["Assumptions", "Caveats"] and "Beta" in names


def test_import_rejects_rows_it_cannot_map_with_reasons(tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(textwrap.dedent("""\
        Part,Price,Qty,State
        H200 SXM,"$31,000",4,new
        Z9000,100,1,new
        rtx-4090,call us,2,new
        l40s,8000,-3,new
        h100-sxm,29000,2,broken
    """))
    result = import_sheet(sheet, seller="Acme", mapping={"Part": "item", "Price": "price", "Qty": "stock",
                                                         "State": "condition"},
                          price_list_id="acme", currency="USD", price_date="2025-06-01")
    assert result.accepted == 1 and result.price_list.offers[0].item == "h200-sxm"
    reasons = dict(result.rejected)
    assert "Z9000" in reasons[3] and "not an accelerator" in reasons[3]
    assert "number" in reasons[4]
    assert "stock" in reasons[5] and "greater than or equal to 0" in reasons[5]
    assert "condition" in reasons[6]


def test_offers_outside_their_validity_are_set_aside(tmp_path):
    path = tmp_path / "dated.yaml"
    path.write_text(OFFERS.replace("{item: h200-sxm, seller: Gamma, price: 24000,",
                                   "{item: h200-sxm, seller: Gamma, price: 24000, valid_until: 2025-06-30,"))
    cat = load_catalog([path])
    later = optimize(cat, _problem(users=60, as_of="2025-09-01"))
    assert "Gamma" not in {p.seller for p in later.purchases}
    during = optimize(cat, _problem(users=60, as_of="2025-06-15"))
    assert "Gamma" in {p.seller for p in during.purchases}  # the cheap used cards, while the offer holds

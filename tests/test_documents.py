"""Documents fit to send: titles, formats, links, sellers and the speed model's error band next to each line."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from fractions import Fraction

import pytest
from click.testing import CliRunner

import cli
from optimizer import load_problem, optimize
from optimizer.documents import source_url
from optimizer.export import export_bom
from optimizer.report import html_report
from optimizer.validate import FAMILY_GROUPS, SPEED_METRICS, validate
from problems import bundled_problem_path

OFFERS = "llama-3.1-70b-h100-pcie-offers"


@pytest.fixture(scope="module")
def medians(catalog):
    """Median |error| of each family group's speed rows straight from the validation report: the rows
    never fitted on (test files) where the family has any, else the fit rows."""
    report = validate(catalog)
    out = {}
    for group in set(FAMILY_GROUPS.values()):
        for role in ("test", "fit"):
            errs = [abs(r.error) for r in report.results if r.error is not None and r.role == role
                    and r.case.metric in SPEED_METRICS and r.case.family_group == group]
            if errs:
                out[group] = (statistics.median(errs), len(errs))
                break
    return out


def _band(catalog, medians, accelerator):
    median, rows = medians[FAMILY_GROUPS[catalog.accelerators[accelerator].family]]
    return f"±{median:.0%} (median error on {rows} "


@pytest.fixture(scope="module")
def offers_plan(catalog):
    problem = load_problem(bundled_problem_path(OFFERS))
    return problem, optimize(catalog, problem)


def test_source_url_takes_the_first_url_without_trailing_punctuation():
    assert source_url("Vendor page https://example.com/a?b=1; read 2025-01.") == "https://example.com/a?b=1"
    assert source_url("seed post 'Deepseek R1', 2025-02-11") is None


def test_workbook_is_formatted_linked_and_carries_caveats(catalog, medians, offers_plan, tmp_path):
    from openpyxl import load_workbook

    problem, plan = offers_plan
    path = tmp_path / "bom.xlsx"
    path.write_bytes(export_bom(str(path), [plan], problem, catalog, title="H100 PCIe quote request"))
    wb = load_workbook(path)
    summary = [[c.value for c in row] for row in wb["Summary"].iter_rows()]
    assert summary[0][0] == "H100 PCIe quote request"
    labels = [r[0] for r in summary if r[0]]
    assert "Plan 1" in labels and not any(re.search(r"Plan 1 \(Plan 1\)", str(l)) for l in labels)
    for row in wb["Summary"].iter_rows():
        for cell in row:   # every number rounded to what it means: cents at most
            if isinstance(cell.value, float):
                assert round(cell.value, 2) == cell.value
    ws = wb["Plan 1"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
    total = [r for r in rows if r["kind"] != "launch"][-1]   # the engine commands follow the purchases
    assert total["seller"] == "TOTAL" and total["quantity"] is None   # servers and GPUs do not add up
    assert Fraction(str(total["extended_price"])) == plan.totals.cost
    assert "currency" in header and "price_date" in header and "source_url" in header
    money_col = header.index("unit_price") + 1
    bom_end = next(i for i, r in enumerate(rows, 2) if r["seller"] == "TOTAL")   # launch rows carry no money
    assert all("#,##0" in ws.cell(row=r, column=money_col).number_format for r in range(2, bom_end + 1))
    url_col = header.index("source_url") + 1
    for r in range(2, ws.max_row):
        cell = ws.cell(row=r, column=url_col)
        if cell.value:
            assert cell.value.startswith("http") and cell.hyperlink.target == cell.value
    for p in plan.purchases:
        assert any(r["seller"] == p.seller and r["price_date"] == p.date for r in rows)
    what = [c.value for c in wb["Assumptions"]["A"]][1:]
    assert len(what) == len(set(what))                       # each figure once
    caveats = [[c.value for c in r] for r in wb["Caveats"].iter_rows(min_row=2)]
    assert len(caveats) == len(plan.lines)
    for line, row in zip(plan.lines, caveats):
        assert row[3].startswith(_band(catalog, medians, line.accelerator))


def test_markdown_and_csv_carry_currency_thousands_and_caveats(catalog, medians, offers_plan, tmp_path):
    problem, plan = offers_plan
    md = export_bom(str(tmp_path / "bom.md"), [plan], problem, catalog)
    cost = int(plan.totals.cost) if plan.totals.cost.denominator == 1 else float(plan.totals.cost)
    assert (f"{cost:,}" if isinstance(cost, int) else f"{cost:,.2f}") in md
    assert "## Caveats" in md and "| currency |" in md
    for line in plan.lines:
        assert _band(catalog, medians, line.accelerator) in md
    assert not re.search(r"\d\.\d{3,}", md.split("## Caveats")[0].replace("https://", ""))  # no raw floats
    rows = list(csv.DictReader(io.StringIO(export_bom(str(tmp_path / "bom.csv"), [plan], problem, catalog))))
    rows = [r for r in rows if r["kind"] != "launch"]   # the engine commands follow the purchases
    assert all(r["currency"] == plan.totals.currency for r in rows)
    assert rows[-1]["seller"] == "TOTAL" and rows[-1]["quantity"] == ""
    accs = [r for r in rows if r["kind"] == "accelerator"]
    assert accs and all(r["speed_model_error"].startswith(_band(catalog, medians, r["item"])) for r in accs)


def test_html_report_title_links_and_caveats(catalog, medians):
    problem = load_problem(bundled_problem_path(OFFERS))
    page = html_report(catalog, problem, title="Cluster for 100 users")
    assert "<title>Cluster for 100 users — hwplan report</title>" in page and "ad-hoc" not in page
    plan = optimize(catalog, problem)
    for p in plan.purchases:
        url = source_url(p.source)
        if url:
            assert f'<a href="{url}">' in page
    caveats = page.split("<h2>Caveats</h2>", 1)[1].split("<h2>", 1)[0]
    for line in plan.lines:
        assert _band(catalog, medians, line.accelerator) in caveats


def test_flags_only_report_is_not_titled_ad_hoc(catalog):
    from optimizer import problem_from_fields

    problem = problem_from_fields({"model": "llama-3.1-70b", "prices": "street-usd-2025",
                                   "workload": {"concurrent_users": 20}})
    page = html_report(catalog, problem)
    assert "<h1>llama-3.1-70b for 20 users</h1>" in page and "ad-hoc" not in page


def test_json_and_table_put_the_error_band_next_to_each_line(catalog, medians):
    result = CliRunner().invoke(cli.main, ["solve", "deepseek-r1-30-users", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    for line in data["plan"]["lines"]:
        median, rows = medians[FAMILY_GROUPS[catalog.accelerators[line["accelerator"]].family]]
        assert line["speed_error_band"]["median_abs_error"] == round(median, 3)
        assert line["speed_error_band"]["measurements"] == rows
    table = CliRunner().invoke(cli.main, ["solve", "deepseek-r1-30-users"]).stdout
    line = data["plan"]["lines"][0]
    median, _ = medians[FAMILY_GROUPS[catalog.accelerators[line["accelerator"]].family]]
    assert f"{line['tokens_per_s_per_user']:,.1f} ±{median:.0%}" in table


def _spec_medians(catalog) -> dict[str, float]:
    """Median |error| of the bundled speed rows that ran speculative decoding, per family and over all of them."""
    rows = [r for r in validate(catalog).results if r.case.speculative is not None and r.error is not None
            and r.case.metric in SPEED_METRICS + ("decode_tok_s_per_gpu",)]
    out = {f: statistics.median(abs(r.error) for r in rows if r.case.family_group == f)
           for f in {r.case.family_group for r in rows}}
    out["all"] = statistics.median(abs(r.error) for r in rows)
    return out


def test_a_speculative_plan_states_the_wider_of_its_bands(catalog):
    from optimizer.documents import ALL_FAMILIES, band_text, line_band

    spec = _spec_medians(catalog)
    mtp = {"method": "mtp", "tokens": 3}
    hopper = line_band(catalog, "h200-sxm", mtp)
    assert hopper.speculative and hopper.median_abs_error == pytest.approx(spec["NVIDIA Hopper"])
    assert hopper.median_abs_error > line_band(catalog, "h200-sxm").median_abs_error
    assert "with speculative decoding" in band_text(hopper)
    # A family without speculative rows takes every family's speculative rows, unless its plain band is wider.
    for acc in ("mi300x", "xeon-6980p"):
        plain = line_band(catalog, acc)
        got = line_band(catalog, acc, mtp)
        if plain.median_abs_error >= spec["all"]:
            assert got == plain
        else:
            assert got.family == ALL_FAMILIES and got.median_abs_error == pytest.approx(spec["all"])
            assert "any hardware family" in band_text(got)
    # Without speculative decoding nothing changes.
    assert line_band(catalog, "h200-sxm", None) == line_band(catalog, "h200-sxm")


def test_solve_json_reports_the_speculative_band(catalog):
    got = CliRunner().invoke(cli.main, ["solve", "deepseek-r1-30-users", "--accelerator", "h200-sxm",
                                        "--speculative", "mtp", "--format", "json"])
    assert got.exit_code == 0, got.output
    band = json.loads(got.output)["plan"]["lines"][0]["speed_error_band"]
    assert band["speculative"] is True
    assert band["median_abs_error"] == pytest.approx(_spec_medians(catalog)["NVIDIA Hopper"], abs=1e-3)

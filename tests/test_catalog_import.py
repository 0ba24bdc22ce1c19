"""`hwplan catalog import` and `catalog validate`: dates, stock, rejected rows, error locations."""

from __future__ import annotations

import datetime

import pytest
import yaml
from click.testing import CliRunner

import cli
from catalog.errors import InputError
from catalog.tools import import_sheet

MAP = ["--map", "Part=item", "--map", "Price=price", "--map", "Qty=stock"]


def run(*args):
    result = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def _sheet(tmp_path, text="Part,Price,Qty\nh100-sxm,25000,4\nh200-sxm,\"$31,000\",7\n"):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text)
    return sheet


def test_the_price_date_is_required_and_the_import_day_is_retrieved(tmp_path):
    sheet = _sheet(tmp_path)
    with pytest.raises(InputError, match="--price-date"):
        import_sheet(sheet, seller="Acme", mapping={"Part": "item", "Price": "price"})
    result = import_sheet(sheet, seller="Acme", mapping={"Part": "item", "Price": "price"}, price_date="2026-03-02",
                          today=datetime.date(2026, 6, 30))
    assert [str(o.price_date) for o in result.price_list.offers] == ["2026-03-02"] * 2
    assert [str(o.retrieved) for o in result.price_list.offers] == ["2026-06-30"] * 2


def test_a_mapped_price_date_column_needs_no_flag(tmp_path):
    sheet = _sheet(tmp_path, "Part,Price,Quoted\nh100-sxm,25000,2026-01-15\nh200-sxm,31000,\n")
    mapping = {"Part": "item", "Price": "price", "Quoted": "price_date"}
    result = import_sheet(sheet, seller="Acme", mapping=mapping, today=datetime.date(2026, 6, 30))
    assert [str(o.price_date) for o in result.price_list.offers] == ["2026-01-15"]
    assert result.rejected[0][0] == 3 and "'Quoted'" in result.rejected[0][1]  # an empty date cell, no flag
    result = import_sheet(sheet, seller="Acme", mapping=mapping, price_date="2026-02")
    assert [str(o.price_date) for o in result.price_list.offers] == ["2026-01-15", "2026-02"]


def test_cli_without_a_price_date_writes_nothing(tmp_path):
    out = tmp_path / "out.yaml"
    result = run("catalog", "import", _sheet(tmp_path), "--seller", "Acme", *MAP, "-o", out)
    assert result.exit_code == 2 and "--price-date" in result.output and not out.exists()


@pytest.mark.parametrize("flag", ["--price-date", "--date"])
def test_a_mapped_qty_column_becomes_the_offers_stock(tmp_path, flag):
    out = tmp_path / "out.yaml"
    result = run("catalog", "import", _sheet(tmp_path), "--seller", "Acme", flag, "2026-03-02", *MAP, "-o", out)
    assert result.exit_code == 0, result.output
    assert "2 offers imported (stock from column 'Qty')" in result.output   # the summary says where stock came from
    offers = yaml.safe_load(out.read_text())["price_lists"][0]["offers"]
    assert [(o["item"], o["stock"], o["price"], o["price_date"]) for o in offers] == [
        ("h100-sxm", 4, 25000, "2026-03-02"), ("h200-sxm", 7, 31000, "2026-03-02")]
    assert offers[0]["retrieved"] == datetime.date.today().isoformat()


def test_rejected_rows_are_named_in_sheet_terms_and_exit_2(tmp_path):
    sheet = _sheet(tmp_path, "Part,Price,Qty\nhgx-h100-8x,abc,1\nh100-sxm,25000,-3\nh200-sxm,31000,2\n")
    out = tmp_path / "out.yaml"
    result = run("catalog", "import", sheet, "--seller", "Acme", "--price-date", "2026-03-02", *MAP, "-o", out)
    assert result.exit_code == 2
    assert "row 2: column 'Price' = 'abc': not a number" in result.output
    assert "row 3: column 'Qty' = '-3':" in result.output and "{" not in result.output
    assert "--allow-rejects" in result.output
    # The accepted offer is still written.
    assert [o["item"] for o in yaml.safe_load(out.read_text())["price_lists"][0]["offers"]] == ["h200-sxm"]
    out.unlink()
    result = run("catalog", "import", sheet, "--seller", "Acme", "--price-date", "2026-03-02", *MAP, "-o", out,
                 "--allow-rejects")
    assert result.exit_code == 0 and out.exists()


def test_validate_locates_an_unknown_offer_item(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nprice_lists:\n- id: mine\n  name: mine\n  currency: USD\n"
                   "  source: test sheet\n  date: '2026-02-11'\n  offers:\n"
                   "  - {item: h100-sxm, seller: Acme, price: 25000, source: test sheet, price_date: '2026-02-11'}\n"
                   "  - {item: h100-sxmm, seller: Acme, price: 25000, source: test sheet, price_date: '2026-02-11'}\n")
    result = run("catalog", "validate", bad)
    # line 10, column 12: the second offer's item value ("  - {item: " is eleven characters)
    assert result.exit_code == 2 and f"{bad}:10:12" in result.output, result.output
    assert "'h100-sxmm'" in result.output and "?." not in result.output and "'h100-sxm'" in result.output

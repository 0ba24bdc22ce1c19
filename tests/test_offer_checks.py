"""Offers name their seller, and a price cannot be dated after the page it was read on, nor in the future."""

from __future__ import annotations

import datetime

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from catalog.schema import Offer
from cli import main

BASE = {"item": "h200-sxm", "price": 30000, "source": "quote"}


def _list(tmp_path, offer: str) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text("schema_version: 1\nprice_lists:\n  - id: mine\n    name: Mine\n    currency: USD\n"
                    "    source: \"assumption: quotes made up for a test\"\n    date: 2025-06\n    offers:\n"
                    f"      - {{item: h200-sxm, price: 30000, source: quote, {offer}}}\n")
    return str(path)


def test_an_offer_without_a_seller_is_rejected():
    with pytest.raises(ValidationError, match="seller"):
        Offer(**BASE, price_date="2025-06")
    with pytest.raises(ValidationError, match="seller = 'unspecified'"):
        Offer(**BASE, seller="unspecified", price_date="2025-06")
    assert Offer(**BASE, seller="Example Distributor", price_date="2025-06").seller == "Example Distributor"


def test_a_price_dated_after_its_retrieval_or_in_the_future_is_rejected():
    with pytest.raises(ValidationError, match="price_date = 2026-05 is after retrieved = 2026-03"):
        Offer(**BASE, seller="X", price_date="2026-05", retrieved="2026-03")
    # Same month at two precisions is not "after": 2026-03 may be any day of March.
    assert Offer(**BASE, seller="X", price_date="2026-03", retrieved="2026-03-02").retrieved == "2026-03-02"
    next_year = str(datetime.date.today().year + 1)
    with pytest.raises(ValidationError, match=f"price_date = {next_year}-01 is in the future"):
        Offer(**BASE, seller="X", price_date=f"{next_year}-01")


@pytest.mark.parametrize("offer,words", [
    ("price_date: 2025-06", ["mine.yaml:9", "seller", "missing"]),
    ("seller: unspecified, price_date: 2025-06", ["mine.yaml:9", "seller = 'unspecified'"]),
    ("seller: X Co, price_date: 2026-05, retrieved: 2026-03", ["mine.yaml:9", "price_date = 2026-05",
                                                               "retrieved = 2026-03"]),
    ("seller: X Co, price_date: 2999-01", ["mine.yaml:9", "price_date = 2999-01", "in the future"]),
])
def test_catalog_validate_names_file_line_field_and_value(tmp_path, offer, words):
    res = CliRunner().invoke(main, ["catalog", "validate", _list(tmp_path, offer)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    for w in words:
        assert w in res.output

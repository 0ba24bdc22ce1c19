"""Catalog tools: check a catalog or price-list file, turn a vendor's price sheet into a price list.

`check_file` reports every problem of a file with its location (not only the first),
including ids that the rest of the catalog does not know. `import_sheet` reads a CSV
price sheet, maps its columns to offer fields, and returns the price-list YAML with
the rows it could not map set aside, each with its reason.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import CatalogError, InputError, did_you_mean, shorten
from .loader import Catalog, load_catalog
from .schema import CatalogFile, Offer, PriceList, _date_text
from .validation import error_lines
from .yamlio import read_csv, read_yaml

_ID = re.compile(r"[a-z0-9][a-z0-9._+-]*")  # catalog.schema.Slug, checked here to name the flag

__all__ = ["check_file", "import_sheet", "ImportResult", "OFFER_FIELDS"]

OFFER_FIELDS = ("item", "price", "condition", "warranty_months", "lead_time_weeks", "stock", "source", "price_date",
                "retrieved", "notes", "seller")
# Older sheet mappings say "date" for the price's date and "vendor" for the seller.
FIELD_ALIASES = {"date": "price_date", "vendor": "seller"}


def check_file(path: str | Path) -> list[str]:
    """Every problem of one catalog file, each with its location; [] when it is sound."""
    try:
        doc = read_yaml(path, error=CatalogError, what="catalog file")
    except CatalogError as exc:
        return [str(exc)]
    if "schema_version" not in doc.data:
        return [f"{doc.origin}: missing 'schema_version: 1' at the top of the catalog file."]
    try:
        CatalogFile.model_validate(doc.data)
    except ValidationError as exc:
        return error_lines(exc, CatalogFile, doc, doc.origin)
    try:
        load_catalog([path])
    except CatalogError as exc:
        return [str(exc)]
    return []


@dataclass
class ImportResult:
    price_list: PriceList | None
    yaml_text: str
    rejected: list[tuple[int, str]] = field(default_factory=list)   # (sheet row number, reason)
    accepted: int = 0


def _match_item(text: str, ids: dict) -> str | None:
    """A catalog id from a sheet's item text: the id itself, or an item whose name matches."""
    t = text.strip()
    slug = re.sub(r"[^a-z0-9.+]+", "-", t.lower()).strip("-")
    for candidate in (t.lower(), slug):
        if candidate in ids:
            return candidate
    names = {r.name.lower(): i for i, r in ids.items()}
    if t.lower() in names:
        return names[t.lower()]
    close = difflib.get_close_matches(t.lower(), list(names), n=1, cutoff=0.9)
    return names[close[0]] if close else None


# Largest number a sheet cell may hold: a price is capped by the schema (Offer.price ≤ 10^12); a
# stock, warranty or lead time beyond 10^9 is a typo, and every integer the solver builds from
# it must stay far inside 64 bits (optimizer/scaling.py).
MAX_CELL = 1e12


def _number(text: str, column: str, fld: str, whole: bool = False) -> float | int:
    """A sheet cell as a finite number (an int when `whole`); ValueError names the column and the cell."""
    cleaned = re.sub(r"[^\d.\-eE]", "", text.replace(",", ""))
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"column '{shorten(column)}' ({fld}) = '{shorten(text)}' is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_CELL:
        raise ValueError(f"column '{shorten(column)}' ({fld}) = '{shorten(text)}' is not a finite number "
                         f"of at most {MAX_CELL:.0e}")
    if whole:
        if value != int(value):
            raise ValueError(f"column '{shorten(column)}' ({fld}) = '{shorten(text)}' is not a whole number")
        return int(value)
    return value


def import_sheet(path: str | Path, *, seller: str, mapping: dict[str, str], price_list_id: str | None = None,
                 currency: str = "USD", date: str | None = None, catalog: Catalog | None = None) -> ImportResult:
    """A price list from a seller's CSV sheet; `mapping` maps sheet column → offer field.

    The price list's id defaults to the seller's name as a slug plus '-offers'.
    """
    catalog = catalog or load_catalog()
    if price_list_id is not None and (len(price_list_id) > 80 or not _ID.fullmatch(price_list_id)):
        raise InputError(f"--id = '{shorten(price_list_id)}': a price-list id is lower-case letters, digits and "
                         f". _ + - (starting with a letter or digit, at most 80 characters), e.g. acme-offers.")
    if price_list_id is None:
        slug = re.sub(r"[^a-z0-9]+", "-", seller.lower()).strip("-")[:73].strip("-")
        if not slug:
            raise InputError(f"--seller = '{shorten(seller)}' gives no usable price-list id (it has no letters or "
                             f"digits); pass --id, e.g. --id acme-offers.")
        price_list_id = slug + "-offers"
    items = {**catalog.accelerators, **catalog.platforms, **catalog.systems, **catalog.network_items, **catalog.racks}
    mapping = {column: FIELD_ALIASES.get(fld, fld) for column, fld in mapping.items()}
    for column, fld in mapping.items():
        if fld not in OFFER_FIELDS:
            raise InputError(f"--map {column}={fld}: unknown offer field '{fld}'{did_you_mean(fld, OFFER_FIELDS)} "
                             f"(fields: {', '.join(OFFER_FIELDS)}).")
    if "item" not in mapping.values() or "price" not in mapping.values():
        raise InputError("--map must name the sheet's item column and its price column (e.g. --map 'SKU=item' "
                         "--map 'Unit price=price').")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InputError(f"--currency = '{currency}': give an ISO code such as USD or CNY.")
    if date is not None:
        try:
            checked = _date_text(date)
        except ValueError as exc:
            raise InputError(f"--date = '{shorten(date)}': {exc}; write YYYY-MM-DD.") from None
        if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", str(checked)):
            raise InputError(f"--date = '{shorten(date)}': write YYYY, YYYY-MM or YYYY-MM-DD.")
    date = date or datetime.date.today().isoformat()
    _, rows = read_csv(path, what="price sheet", required=list(mapping))
    column_of = {fld: column for column, fld in mapping.items()}
    offers, rejected = [], []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        values = {fld: (row.get(col) or "").strip() for col, fld in mapping.items()}
        if not values.get("item"):
            rejected.append((number, "no item"))
            continue
        item = _match_item(values["item"], items)
        if item is None:
            rejected.append((number, f"item '{shorten(values['item'])}' is not an accelerator, platform, system, "
                                     f"network item or rack in the catalog"
                                     f"{did_you_mean(shorten(values['item'].lower()), items)}"))
            continue
        data: dict = {"item": item, "seller": values.get("seller") or seller,
                      "source": values.get("source") or f"{seller} price sheet {Path(path).name}",
                      "price_date": values.get("price_date") or date}
        if values.get("retrieved"):
            data["retrieved"] = values["retrieved"]
        try:
            data["price"] = _number(values.get("price", ""), column_of["price"], "price")
            for fld in ("warranty_months", "stock"):
                if values.get(fld):
                    data[fld] = _number(values[fld], column_of[fld], fld, whole=True)
            if values.get("lead_time_weeks"):
                data["lead_time_weeks"] = _number(values["lead_time_weeks"], column_of["lead_time_weeks"],
                                                  "lead_time_weeks")
        except ValueError as exc:
            rejected.append((number, str(exc)))
            continue
        if values.get("condition"):
            data["condition"] = values["condition"].lower()
        if values.get("notes"):
            data["notes"] = values["notes"]
        try:
            offers.append(Offer.model_validate(data))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            rejected.append((number, f"{'.'.join(map(str, err['loc']))} = {shorten(repr(err.get('input')))}: "
                                     f"{err['msg']}"))
    if not offers:
        return ImportResult(None, "", rejected, 0)
    try:
        plist = PriceList(id=price_list_id, name=f"{seller} offers", currency=currency, offers=offers,
                          source=f"{seller} price sheet {Path(path).name}", date=date)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        flag = {"date": "--date", "id": "--id", "name": "--seller", "source": "--seller"}.get(str(err["loc"][0]), "")
        raise InputError(f"{flag or 'price list'} = {shorten(repr(err.get('input')))}: {err['msg']}.") from None
    dumped = plist.model_dump(exclude_defaults=True)
    ordered = {k: dumped[k] for k in ("id", "name", "currency", "source", "date", "notes", "offers") if k in dumped}
    doc = {"schema_version": 1, "price_lists": [ordered]}
    text = "# Imported by `hwplan catalog import`; review before use.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True)
    return ImportResult(plist, text, rejected, len(offers))

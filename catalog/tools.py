"""Catalog tools: check a catalog or price-list file, turn a vendor's price sheet into a price list.

`check_file` reports every problem of a file with its location (not only the first),
including ids that the rest of the catalog does not know. `import_sheet` reads a CSV
price sheet, maps its columns to offer fields, and returns the price-list YAML with
the rows it could not map set aside, each with its reason.
"""

from __future__ import annotations

import datetime
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import CatalogError, InputError, did_you_mean
from .loader import Catalog, load_catalog
from .schema import CatalogFile, Offer, PriceList
from .validation import error_lines
from .yamlio import read_csv, read_yaml

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


def _number(text: str) -> float:
    cleaned = re.sub(r"[^\d.\-eE]", "", text.replace(",", ""))
    return float(cleaned)


def import_sheet(path: str | Path, *, seller: str, mapping: dict[str, str], price_list_id: str | None = None,
                 currency: str = "USD", date: str | None = None, catalog: Catalog | None = None) -> ImportResult:
    """A price list from a seller's CSV sheet; `mapping` maps sheet column → offer field.

    The price list's id defaults to the seller's name as a slug plus '-offers'.
    """
    catalog = catalog or load_catalog()
    price_list_id = price_list_id or re.sub(r"[^a-z0-9]+", "-", seller.lower()).strip("-") + "-offers"
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
    date = date or datetime.date.today().isoformat()
    _, rows = read_csv(path, what="price sheet", required=list(mapping))
    offers, rejected = [], []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        values = {fld: (row.get(col) or "").strip() for col, fld in mapping.items()}
        if not values.get("item"):
            rejected.append((number, "no item"))
            continue
        item = _match_item(values["item"], items)
        if item is None:
            rejected.append((number, f"item '{values['item']}' is not an accelerator, platform, system, network item or rack in the "
                                     f"catalog{did_you_mean(values['item'].lower(), items)}"))
            continue
        data: dict = {"item": item, "seller": values.get("seller") or seller,
                      "source": values.get("source") or f"{seller} price sheet {Path(path).name}",
                      "price_date": values.get("price_date") or date}
        if values.get("retrieved"):
            data["retrieved"] = values["retrieved"]
        try:
            data["price"] = _number(values.get("price", ""))
            for fld in ("warranty_months", "stock"):
                if values.get(fld):
                    data[fld] = int(_number(values[fld]))
            if values.get("lead_time_weeks"):
                data["lead_time_weeks"] = _number(values["lead_time_weeks"])
        except ValueError:
            rejected.append((number, f"a number cannot be read: {values}"))
            continue
        if values.get("condition"):
            data["condition"] = values["condition"].lower()
        if values.get("notes"):
            data["notes"] = values["notes"]
        try:
            offers.append(Offer.model_validate(data))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            rejected.append((number, f"{'.'.join(map(str, err['loc']))} = {err.get('input')!r}: {err['msg']}"))
    if not offers:
        return ImportResult(None, "", rejected, 0)
    plist = PriceList(id=price_list_id, name=f"{seller} offers", currency=currency, offers=offers,
                      source=f"{seller} price sheet {Path(path).name}", date=date)
    dumped = plist.model_dump(exclude_defaults=True)
    ordered = {k: dumped[k] for k in ("id", "name", "currency", "source", "date", "notes", "offers") if k in dumped}
    doc = {"schema_version": 1, "price_lists": [ordered]}
    text = "# Imported by `hwplan catalog import`; review before use.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True)
    return ImportResult(plist, text, rejected, len(offers))

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

__all__ = ["check_file", "import_sheet", "parse_map", "ImportResult", "OFFER_FIELDS"]

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
        raise ValueError(f"column '{shorten(column)}' = '{shorten(text)}': not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_CELL:
        raise ValueError(f"column '{shorten(column)}' = '{shorten(text)}': not a finite number "
                         f"of at most {MAX_CELL:.0e}")
    if whole:
        if value != int(value):
            raise ValueError(f"column '{shorten(column)}' = '{shorten(text)}': not a whole number")
        return int(value)
    return value


def _row_problem(exc: ValidationError, column_of: dict[str, str], values: dict[str, str]) -> str:
    """One rejected row's reason in the sheet's terms: "column 'Qty' = '-3': input should be ... (offer field stock)"."""
    err = exc.errors(include_url=False)[0]
    fld = str(err["loc"][0]) if err["loc"] else ""
    msg = err["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if fld in column_of:
        return f"column '{shorten(column_of[fld])}' = '{shorten(values.get(fld, ''))}': {msg} (offer field {fld})"
    if fld:
        return f"{fld} = {shorten(repr(err.get('input')))}: {msg}"
    return msg  # a rule across fields (e.g. valid_until before valid_from): its message names them


def parse_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--map COLUMN=FIELD` flags as {sheet column: offer field} (the last '=' splits, so a column name may
    hold one); InputError for a pair without '='."""
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--map {pair}: write COLUMN=FIELD, e.g. --map 'Unit price=price'.")
        column, fld = pair.rsplit("=", 1)
        mapping[column.strip()] = fld.strip()
    return mapping


def import_sheet(path: str | Path, *, seller: str, mapping: dict[str, str], price_list_id: str | None = None,
                 currency: str = "USD", price_date: str | None = None, catalog: Catalog | None = None,
                 today: datetime.date | None = None) -> ImportResult:
    """A price list from a seller's CSV sheet; `mapping` maps sheet column → offer field.

    The price list's id defaults to the seller's name as a slug plus '-offers'. Each offer's
    `price_date` (when the price was quoted) comes from the sheet's mapped price_date column or
    else from `price_date` (the `--price-date` flag); one of them is required, since the day a
    sheet is read is not the day its prices were quoted. `retrieved` is `today` (default: the
    current date) unless a retrieved column is mapped. Raises `InputError` on a bad flag or
    mapping; rows it cannot turn into offers come back in `ImportResult.rejected` as
    (sheet row, "column 'Price' = 'abc': not a number").
    """
    catalog = catalog or load_catalog()
    price_list_id = _list_id(price_list_id, seller)
    items = {**catalog.accelerators, **catalog.platforms, **catalog.systems, **catalog.network_items, **catalog.racks}
    mapping = _checked_mapping(mapping)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InputError(f"--currency = '{currency}': give an ISO code such as USD or CNY.")
    _check_price_date(path, price_date, mapping)
    retrieved = (today or datetime.date.today()).isoformat()
    sheet = _Sheet(path, seller, mapping, {fld: column for column, fld in mapping.items()}, items, price_date,
                   retrieved)
    _, rows = read_csv(path, what="price sheet", required=list(mapping))
    offers, rejected = [], []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            offers.append(sheet.offer(row))
        except _Rejected as why:
            rejected.append((number, str(why)))
    if not offers:
        return ImportResult(None, "", rejected, 0)
    plist = _price_list(price_list_id, seller, currency, offers, path, price_date or retrieved)
    dumped = plist.model_dump(exclude_defaults=True)
    ordered = {k: dumped[k] for k in ("id", "name", "currency", "source", "date", "notes", "offers") if k in dumped}
    doc = {"schema_version": 1, "price_lists": [ordered]}
    text = "# Imported by `hwplan catalog import`; review before use.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True)
    return ImportResult(plist, text, rejected, len(offers))


def _list_id(price_list_id: str | None, seller: str) -> str:
    """The --id given (checked), else the seller's name as a slug plus '-offers'."""
    if price_list_id is not None and (len(price_list_id) > 80 or not _ID.fullmatch(price_list_id)):
        raise InputError(f"--id = '{shorten(price_list_id)}': a price-list id is lower-case letters, digits and "
                         f". _ + - (starting with a letter or digit, at most 80 characters), e.g. acme-offers.")
    if price_list_id is not None:
        return price_list_id
    slug = re.sub(r"[^a-z0-9]+", "-", seller.lower()).strip("-")[:73].strip("-")
    if not slug:
        raise InputError(f"--seller = '{shorten(seller)}' gives no usable price-list id (it has no letters or "
                         f"digits); pass --id, e.g. --id acme-offers.")
    return slug + "-offers"


def _checked_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """The mapping with old field names replaced; InputError for an unknown field or no item/price column."""
    mapping = {column: FIELD_ALIASES.get(fld, fld) for column, fld in mapping.items()}
    for column, fld in mapping.items():
        if fld not in OFFER_FIELDS:
            raise InputError(f"--map {column}={fld}: unknown offer field '{fld}'{did_you_mean(fld, OFFER_FIELDS)} "
                             f"(fields: {', '.join(OFFER_FIELDS)}).")
    if "item" not in mapping.values() or "price" not in mapping.values():
        raise InputError("--map must name the sheet's item column and its price column (e.g. --map 'SKU=item' "
                         "--map 'Unit price=price').")
    return mapping


def _check_price_date(path: str | Path, price_date: str | None, mapping: dict[str, str]) -> None:
    """--price-date is a YYYY[-MM[-DD]] date, or a price_date column is mapped (one is required)."""
    if price_date is not None:
        try:
            checked = _date_text(price_date)
        except ValueError as exc:
            raise InputError(f"--price-date = '{shorten(price_date)}': {exc}; write YYYY-MM-DD.") from None
        if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", str(checked)):
            raise InputError(f"--price-date = '{shorten(price_date)}': write YYYY, YYYY-MM or YYYY-MM-DD.")
    elif "price_date" not in mapping.values():
        raise InputError(f"{path}: say when the prices were quoted: pass --price-date YYYY-MM-DD, or map the "
                         f"sheet's date column with --map 'Date=price_date' (the import date is recorded as "
                         f"'retrieved', not as the price's date).")


class _Rejected(Exception):
    """A sheet row that is not an offer; the message says why in the sheet's terms."""


@dataclass(frozen=True)
class _Sheet:
    """What turns one sheet row into an offer: the flags, the column mapping both ways, the catalog's items."""

    path: str | Path
    seller: str
    mapping: dict[str, str]        # column → offer field
    column_of: dict[str, str]      # offer field → column
    items: dict
    price_date: str | None
    retrieved: str

    def offer(self, row: dict) -> Offer:
        """The row as a validated offer; _Rejected (naming the column and cell) if it is not one."""
        values = {fld: (row.get(col) or "").strip() for col, fld in self.mapping.items()}
        item_column = shorten(self.column_of["item"])
        if not values.get("item"):
            raise _Rejected(f"column '{item_column}' is empty: no item")
        item = _match_item(values["item"], self.items)
        if item is None:
            raise _Rejected(f"column '{item_column}' = '{shorten(values['item'])}': not an accelerator, platform, "
                            f"system, network item or rack in the catalog"
                            f"{did_you_mean(shorten(values['item'].lower()), self.items)}")
        data: dict = {"item": item, "seller": values.get("seller") or self.seller,
                      "source": values.get("source") or f"{self.seller} price sheet {Path(self.path).name}",
                      "price_date": values.get("price_date") or self.price_date,
                      "retrieved": values.get("retrieved") or self.retrieved}
        if not data["price_date"]:
            raise _Rejected(f"column '{shorten(self.column_of['price_date'])}' is empty: the row has no "
                            f"price date (pass --price-date for rows without one)")
        try:
            data |= self._numbers(values)
        except ValueError as exc:
            raise _Rejected(str(exc)) from None
        data |= {k: v for k, v in (("condition", values.get("condition", "").lower()),
                                   ("notes", values.get("notes"))) if v}
        try:
            return Offer.model_validate(data)
        except ValidationError as exc:
            raise _Rejected(_row_problem(exc, self.column_of, values)) from None

    def _numbers(self, values: dict[str, str]) -> dict[str, float | int]:
        """price, and where given warranty_months, stock (whole) and lead_time_weeks; ValueError names the cell."""
        out = {"price": _number(values.get("price", ""), self.column_of["price"], "price")}
        for fld, whole in (("warranty_months", True), ("stock", True), ("lead_time_weeks", False)):
            if values.get(fld):
                out[fld] = _number(values[fld], self.column_of[fld], fld, whole=whole)
        return out


def _price_list(list_id: str, seller: str, currency: str, offers: list[Offer], path: str | Path,
                date: str) -> PriceList:
    """The imported price list; InputError naming the flag whose value the schema refuses."""
    try:
        return PriceList(id=list_id, name=f"{seller} offers", currency=currency, offers=offers,
                         source=f"{seller} price sheet {Path(path).name}", date=date)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        flag = {"date": "--price-date", "id": "--id", "name": "--seller", "source": "--seller"}.get(str(err["loc"][0]), "")
        raise InputError(f"{flag or 'price list'} = {shorten(repr(err.get('input')))}: {err['msg']}.") from None

"""Load the bundled catalog and any user catalog files into one validated `Catalog`.

Bundled YAML lives in `catalog/data/` (package data, read with importlib.resources).
User files add entries or override bundled ones with the same id, whole record
for whole record, in the order given. Nothing is read at import time; the bundled
files are parsed once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import CatalogError, did_you_mean
from .schema import (Accelerator, CatalogFile, Engine, ExchangeRate, Model, NetworkItem, Platform, PriceList, Rack,
                     System)
from .validation import validate_doc
from .yamlio import read_yaml

__all__ = ["Catalog", "load_catalog", "load_catalog_file", "bundled_files"]

_SECTIONS = ("accelerators", "platforms", "systems", "models", "engines", "price_lists", "network_items", "racks")

# The `hwplan catalog <command>` that lists each section (systems are listed with platforms,
# racks with network items).
LIST_COMMANDS = {"accelerators": "accelerators", "platforms": "platforms", "systems": "platforms",
                 "models": "models", "engines": "engines", "price_lists": "prices", "network_items": "network",
                 "racks": "network"}


@dataclass(frozen=True)
class Catalog:
    """Every entry by id. Build it with `load_catalog`; treat it as read-only."""

    accelerators: dict[str, Accelerator] = field(default_factory=dict)
    platforms: dict[str, Platform] = field(default_factory=dict)
    systems: dict[str, System] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    engines: dict[str, Engine] = field(default_factory=dict)
    price_lists: dict[str, PriceList] = field(default_factory=dict)
    exchange_rates: tuple[ExchangeRate, ...] = ()
    network_items: dict[str, NetworkItem] = field(default_factory=dict)
    racks: dict[str, Rack] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    def _get(self, section: str, item_id: str, what: str, where: str):
        table = getattr(self, section)
        try:
            return table[item_id]
        except KeyError:
            prefix = f"{where}: " if where else ""
            raise CatalogError(
                f"{prefix}unknown {what} '{item_id}'{did_you_mean(item_id, table)} "
                f"(`hwplan catalog {LIST_COMMANDS[section]}` lists them)."
            ) from None

    def accelerator(self, item_id: str, where: str = "") -> Accelerator:
        return self._get("accelerators", item_id, "accelerator", where)

    def model(self, item_id: str, where: str = "") -> Model:
        return self._get("models", item_id, "model", where)

    def engine(self, item_id: str, where: str = "") -> Engine:
        return self._get("engines", item_id, "engine", where)

    def platform(self, item_id: str, where: str = "") -> Platform:
        return self._get("platforms", item_id, "platform", where)

    def price_list(self, item_id: str, where: str = "") -> PriceList:
        return self._get("price_lists", item_id, "price list", where)

    def system(self, item_id: str, where: str = "") -> System:
        return self._get("systems", item_id, "system", where)

    def vendors(self) -> set[str]:
        return {a.maker for a in self.accelerators.values()}

    def exchange_rate(self, base: str, quote: str) -> ExchangeRate | None:
        """The most recent rate that converts `base` into `quote` (a reverse rate is inverted)."""
        best: ExchangeRate | None = None
        for rate in self.exchange_rates:
            if (rate.base, rate.quote) == (base, quote):
                candidate = rate
            elif (rate.base, rate.quote) == (quote, base):
                candidate = rate.model_copy(update={"base": base, "quote": quote, "rate": 1 / rate.rate})
            else:
                continue
            if best is None or candidate.date > best.date:
                best = candidate
        return best


def bundled_files() -> list[Path]:
    root = resources.files("catalog.data")
    files = sorted(p for p in root.iterdir() if p.name.endswith(".yaml"))
    files += sorted(p for p in root.joinpath("prices").iterdir() if p.name.endswith(".yaml"))
    return [Path(str(p)) for p in files]


def load_catalog_file(path: str | Path) -> CatalogFile:
    """Parse and validate one catalog file; errors name the file, line, field and value."""
    doc = read_yaml(path, error=CatalogError, what="catalog file")
    if "schema_version" not in doc.data:
        raise CatalogError(f"{doc.origin}: missing 'schema_version: 1' at the top of the catalog file.")
    return validate_doc(CatalogFile, doc, CatalogError)


def _merge(files: list[tuple[str, CatalogFile]]) -> Catalog:
    tables: dict[str, dict] = {s: {} for s in _SECTIONS}
    origins: dict[str, str] = {}
    rates: list[ExchangeRate] = []
    for origin, content in files:
        for section in _SECTIONS:
            seen_here: set[str] = set()
            for record in getattr(content, section):
                if record.id in seen_here:
                    raise CatalogError(f"{origin}: {section} id '{record.id}' is defined twice in the same file; "
                                       f"ids must be unique (a later file may override an earlier one).")
                seen_here.add(record.id)
                tables[section][record.id] = record
                origins[f"{section}:{record.id}"] = origin
        rates.extend(content.exchange_rates)
    catalog = Catalog(**tables, exchange_rates=tuple(rates), origins=origins)
    _cross_check(catalog)
    return catalog


def _cross_check(cat: Catalog) -> None:
    """Ids unique across item sections, and every reference (accepted accelerators, a system's
    platform and accelerator, an offer's item) names a record of the catalog; raises CatalogError
    naming the file, the record and the unknown id (with a suggestion)."""
    _check_unique_ids(cat)
    _check_references(cat)
    _check_offer_items(cat)


def _where(cat: Catalog, section: str, item_id: str) -> str:
    return cat.origins.get(f"{section}:{item_id}", "catalog")


def _check_unique_ids(cat: Catalog) -> None:
    items = {"accelerator": cat.accelerators, "platform": cat.platforms, "system": cat.systems,
             "network item": cat.network_items, "rack": cat.racks}
    for kind_a, table_a in items.items():
        for kind_b, table_b in items.items():
            clashes = sorted(set(table_a) & set(table_b)) if kind_a < kind_b else []
            if clashes:
                raise CatalogError(f"id '{clashes[0]}' is both an {kind_a} and a {kind_b}; "
                                   f"offers refer to items by id, so ids must differ across sections.")


def _check_references(cat: Catalog) -> None:
    for p in cat.platforms.values():
        for acc in p.accepts:
            if acc not in cat.accelerators:
                raise CatalogError(f"{_where(cat, 'platforms', p.id)}: platform '{p.id}' accepts unknown accelerator "
                                   f"'{acc}'{did_you_mean(acc, cat.accelerators)}.")
    for s in cat.systems.values():
        if s.platform not in cat.platforms:
            raise CatalogError(f"{_where(cat, 'systems', s.id)}: system '{s.id}' uses unknown platform "
                               f"'{s.platform}'{did_you_mean(s.platform, cat.platforms)}.")
        if s.accelerator not in cat.accelerators:
            raise CatalogError(f"{_where(cat, 'systems', s.id)}: system '{s.id}' uses unknown accelerator "
                               f"'{s.accelerator}'{did_you_mean(s.accelerator, cat.accelerators)}.")


def _check_offer_items(cat: Catalog) -> None:
    known_items = set(cat.accelerators) | set(cat.platforms) | set(cat.systems) | set(cat.network_items) | set(cat.racks)
    for pl in cat.price_lists.values():
        for i, offer in enumerate(pl.offers):
            if offer.item not in known_items:
                hint = did_you_mean(offer.item, known_items).replace(" — did you mean", "; did you mean")
                raise CatalogError(f"{_offer_item_at(_where(cat, 'price_lists', pl.id), pl.id, i)}: price list "
                                   f"'{pl.id}' offers[{i}].item = '{offer.item}' is not an accelerator, platform, "
                                   f"system, network item or rack in the catalog{hint or '.'}")


def _offer_item_at(origin: str, list_id: str, index: int) -> str:
    """`file:line:col` of offer `index`'s item in price list `list_id` of the file `origin`, or `origin`.

    Only called on an error path: the file is read again for its node tree."""
    try:
        doc = read_yaml(origin, error=CatalogError, what="catalog file")
        lists = doc.data.get("price_lists") or []
        k = next(k for k, pl in enumerate(lists) if isinstance(pl, dict) and pl.get("id") == list_id)
    except (CatalogError, StopIteration, AttributeError):
        return origin
    return doc.where(("price_lists", k, "offers", index, "item"))


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[tuple[str, CatalogFile], ...]:
    return tuple((f"catalog/data/{p.parent.name + '/' if p.parent.name == 'prices' else ''}{p.name}",
                  load_catalog_file(p)) for p in bundled_files())


def load_catalog(extra_files: tuple[str | Path, ...] | list[str | Path] = (), *, bundled: bool = True) -> Catalog:
    """The bundled catalog plus `extra_files` (later entries override earlier ones by id)."""
    files = list(_bundled()) if bundled else []
    for path in extra_files:
        files.append((str(path), load_catalog_file(path)))
    return _merge(files)

"""What every document hwplan writes shares: a title, source links and the speed model's error band.

- `document_title(problem, title)`: the title a buyer gives (`--title`), else the problem's
  name, else (for a flags-only problem named 'ad-hoc') the question in words.
- `source_url(text)`: the first public URL in a catalog `source` field (the rest of the
  text is a document title or a note); None when the source names no URL.
- `speed_error_bands(catalog)`: the speed model's validated error per hardware family —
  the median absolute error of `hwplan validate` over the bundled measurements
  (optimizer/validate.py), out of sample (the `*-test.csv` rows the speed factors were never
  fitted on) where the family has such rows, else in sample (`*-fit.csv`), and it says which;
  computed once per catalog per run.
- `line_band(catalog, accelerator_id, speculative)`: the band of the family an accelerator belongs
  to, or None when that family has no measurements; `band_text` says it in words. A plan that
  speculates (its workload's `speculative`) takes the band of the bundled speculative-decoding rows
  (`speculative_error_bands`: the family's, else all families') where it is the wider: a speculative
  step's speed rests on the plain step's model and on the draft's cost and acceptance as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog import Catalog

from .problem import Problem

__all__ = ["ErrorBand", "document_title", "source_url", "speed_error_bands", "speculative_error_bands", "line_band",
           "plan_line_band", "plan_bands", "band_text", "band_short", "band_json", "ALL_FAMILIES", "speculative_words"]

_URL = re.compile(r"https?://[^\s;,<>\"')]+")
# Per catalog (by identity, with the catalog kept to check it): the validation report and the bands drawn from it.
_REPORTS: dict[int, tuple[Catalog, object]] = {}
_BANDS: dict[int, tuple[Catalog, dict[str, "ErrorBand"]]] = {}
_SPEC_BANDS: dict[int, tuple[Catalog, dict[str, "ErrorBand"]]] = {}
ALL_FAMILIES = "all families"   # speculative_error_bands' key for the rows of every family together


@dataclass(frozen=True)
class ErrorBand:
    """The speed model's median absolute error on one family's measured rows."""

    family: str                # the family group validate reports ("NVIDIA Hopper")
    median_abs_error: float    # 0.15 = 15 %
    measurements: int
    role: str = "test"         # the file role the rows come from: test (out of sample), fit (in sample), other;
    #                            mixed: some rows fitted on, some not (`fitted` of them)
    speculative: bool = False  # measured with speculative decoding (MTP, EAGLE, n-gram)
    fitted: int | None = None  # how many of the rows the speed factors were fitted on (speculative bands)


def document_title(problem: Problem, title: str | None = None) -> str:
    """`title` if given, else the problem's name, else '<model> for <N> users'."""
    if title:
        return title
    if problem.name and problem.name != "ad-hoc":
        return problem.name
    users = problem.workload.concurrent_users
    return f"{problem.model} for {users:,} users" if users else f"{problem.model}, one replica"


def source_url(text: str | None) -> str | None:
    """The first http(s) URL in a source text, without trailing punctuation; None if there is none."""
    if not text:
        return None
    found = _URL.search(text)
    return found.group(0).rstrip(".") if found else None


def _validation(catalog: Catalog):
    """`hwplan validate`'s report on the bundled measurements, run once per catalog (reads and predicts ~200 rows:
    only when a document needs it); None when the catalog cannot run them (a catalog without the measured hardware
    has no bands, not a failure)."""
    cached = _REPORTS.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    from .validate import validate

    try:
        report = validate(catalog)
    except Exception:  # noqa: BLE001 — see above
        report = None
    _REPORTS[id(catalog)] = (catalog, report)
    return report


def speed_error_bands(catalog: Catalog) -> dict[str, ErrorBand]:
    """Family group → the speed model's median |error| on the bundled measurements (cached per catalog)."""
    cached = _BANDS.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    report = _validation(catalog)
    summary = report.summary() if report is not None else []
    preference = {"test": 0, "fit": 1, "other": 2}
    bands: dict[str, ErrorBand] = {}
    for row in summary:
        if row["kind"] != "speed by family":
            continue
        role = row.get("set", "other")
        known = bands.get(row["group"])
        if known is None or preference.get(role, 3) < preference.get(known.role, 3):
            bands[row["group"]] = ErrorBand(row["group"], row["median_abs_error"], row["rows"], role)
    _BANDS[id(catalog)] = (catalog, bands)
    return bands


def speculative_error_bands(catalog: Catalog) -> dict[str, ErrorBand]:
    """Family group (and ALL_FAMILIES) → the speed model's median |error| on the bundled speed rows (and
    disaggregated decode-pool rows) that ran speculative decoding, whatever their file role; cached per catalog. A row
    was fitted on when benchmarks/calibrate.py fits it: a speed row of a fit file, never a pool row (`speed_cases`);
    role: fit (all fitted on), test (none), mixed."""
    cached = _SPEC_BANDS.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    import statistics

    from .validate import RATE_METRICS, SPEED_METRICS

    report = _validation(catalog)
    rows = [r for r in (report.results if report is not None else []) if r.case.speculative is not None
            and r.error is not None and r.case.metric in RATE_METRICS]
    bands: dict[str, ErrorBand] = {}
    for family in sorted({r.case.family_group for r in rows}) + [ALL_FAMILIES]:
        mine = [r for r in rows if family in (ALL_FAMILIES, r.case.family_group)]
        if mine:
            fitted = sum(r.role == "fit" and r.case.metric in SPEED_METRICS for r in mine)
            role = "fit" if fitted == len(mine) else "test" if fitted == 0 else "mixed"
            bands[family] = ErrorBand(family, statistics.median(abs(r.error) for r in mine), len(mine), role,
                                      speculative=True, fitted=fitted)
    _SPEC_BANDS[id(catalog)] = (catalog, bands)
    return bands


def line_band(catalog: Catalog, accelerator_id: str, speculative: dict | None = None) -> ErrorBand | None:
    """The error band of `accelerator_id`'s family; None when the family has no measurements. With `speculative`
    (a plan's `workload["speculative"]`), the band of the speculative-decoding rows of that family, else of
    all families (`speculative_error_bands`), when it is wider than the plain band; None still for a family without
    plain measurements (the speculative step rests on the plain step's model, not validated there)."""
    from .validate import FAMILY_GROUPS

    acc = catalog.accelerators.get(accelerator_id)
    if acc is None:
        return None
    family = FAMILY_GROUPS.get(acc.family, "")
    plain = speed_error_bands(catalog).get(family)
    if speculative and plain is not None:   # a family never measured stays unvalidated, speculating or not
        spec = speculative_error_bands(catalog)
        band = spec.get(family) or spec.get(ALL_FAMILIES)
        # A speculative step rests on the plain step's model too: never a narrower band than the plain one.
        if band is not None and band.median_abs_error > plain.median_abs_error:
            return band
    return plain


def plan_line_band(catalog: Catalog, plan, accelerator_id: str) -> ErrorBand | None:
    """`line_band` of an accelerator in `plan`, with the speculative decoding its workload assumed."""
    return line_band(catalog, accelerator_id, plan.workload.get("speculative"))


def plan_bands(catalog: Catalog, plans) -> dict[str, ErrorBand | None]:
    """Accelerator id → its family's error band, for every accelerator the plans use (the plans of one problem:
    one workload, speculative or not)."""
    return {l.accelerator: plan_line_band(catalog, p, l.accelerator) for p in plans for l in p.lines}


def speculative_words(plans) -> str:
    """What the caveats' introduction adds where a plan speculates (`line_band`): '' otherwise."""
    if not any(p.workload.get("speculative") for p in plans):
        return ""
    return ("; with speculative decoding, of the published speculative runs (that family's, else any family's) "
            "where wider")


def band_short(band: ErrorBand | None) -> str:
    """'±15%' for a table cell; '±?' when the family has no measurements."""
    return "±?" if band is None else f"±{band.median_abs_error:.0%}"


def band_text(band: ErrorBand | None) -> str:
    """'±15% (median error on 37 NVIDIA Hopper measurements)', or that there are none."""
    if band is None:
        return "not validated: no measurements of this hardware family"
    sample = {"test": " not used in fitting", "fit": " the model was fitted on",
              "mixed": f", {band.fitted} of them fitted on"}.get(band.role, "")
    family = "" if band.family == ALL_FAMILIES else f"{band.family} "
    spec = (", with speculative decoding" + (", any hardware family" if not family else "")) if band.speculative \
        else ""
    return (f"±{band.median_abs_error:.0%} (median error on {band.measurements} {family}"
            f"measurement{'s' if band.measurements != 1 else ''}{sample}{spec})")


def band_json(band: ErrorBand | None) -> dict | None:
    if band is None:
        return None
    return {"family": band.family, "median_abs_error": round(band.median_abs_error, 3),
            "measurements": band.measurements, "set": band.role, "speculative": band.speculative,
            **({"fitted": band.fitted} if band.fitted is not None else {})}

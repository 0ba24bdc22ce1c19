"""Bills of materials a purchaser can send to vendors for quotes: CSV, Markdown or an Excel workbook.

One row per purchased item (seller, item id and description, quantity, unit price,
extended price = quantity × unit price, currency, price date, lead time, warranty,
condition, the offer's public source URL and source text, and for accelerators and
systems the speed model's validated error band for that hardware family). The rows
add up exactly to the plan's total; a last row gives the total cost (not a quantity:
servers and GPUs do not add up). The workbook holds a summary sheet (the title, the
question, each plan and its totals), one sheet per plan (or per seller), an
assumptions sheet (each figure once, with its source as a link) and a caveats sheet
(the error band next to each plan line). Money cells carry a number format with
thousands separators; every other number is rounded to what it means.
"""

from __future__ import annotations

import io
import re
from fractions import Fraction
from pathlib import Path

from catalog import Catalog
from catalog.errors import InputError

from .documents import band_text, document_title, plan_line_band, source_url, speculative_words
from .frames import csv_text
from .plan import Plan, Purchase, money_json
from .problem import Problem
from .render import md_table

__all__ = ["bom_rows", "export_bom", "caveat_rows", "neutralise", "EXPORT_FORMATS", "COLUMNS"]

# A cell a spreadsheet would read as a formula (or a DDE command) starts with one of these
# (OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

EXPORT_FORMATS = (".csv", ".md", ".xlsx")
COLUMNS = ["plan", "seller", "item", "kind", "description", "quantity", "unit_price", "extended_price", "currency",
           "price_date", "price_estimate", "lead_time_weeks", "warranty_months", "condition", "source_url", "source",
           "speed_model_error"]
_MONEY_COLUMNS = ("unit_price", "extended_price")


def _accelerator_of(p: Purchase, catalog: Catalog | None) -> str | None:
    if catalog is None:
        return None
    if p.kind == "accelerator":
        return p.item
    if p.kind == "system" and p.item in catalog.systems:
        return catalog.systems[p.item].accelerator
    return None


def bom_rows(plan: Plan, label: str = "1", catalog: Catalog | None = None) -> list[dict]:
    """One row per purchase, then a TOTAL row with the total cost (`catalog`: adds the error bands)."""
    rows = []
    for p in sorted(plan.purchases, key=lambda p: (p.seller, p.kind, p.item, p.offer)):
        acc = _accelerator_of(p, catalog)
        rows.append({"plan": label, "seller": p.seller, "item": p.item, "kind": p.kind, "description": p.description,
                     "quantity": p.quantity, "unit_price": money_json(p.unit_price),
                     "extended_price": money_json(p.extended), "currency": plan.totals.currency,
                     "price_date": p.date, "price_estimate": "estimate" if p.estimate else "",
                     "lead_time_weeks": p.lead_time_weeks,
                     "warranty_months": p.warranty_months, "condition": p.condition,
                     "source_url": source_url(p.source) or "", "source": p.source,
                     "speed_model_error": band_text(plan_line_band(catalog, plan, acc)) if acc else ""})
    total = sum((p.extended for p in plan.purchases), Fraction(0))
    if total != plan.totals.cost:  # the checker already guarantees this; never export a bill that does not add up
        raise RuntimeError(f"bill of materials adds up to {total}, the plan to {plan.totals.cost}")
    rows.append({k: "" for k in COLUMNS} | {"plan": label, "seller": "TOTAL", "extended_price": money_json(total),
                                            "currency": plan.totals.currency})
    return rows


def caveat_rows(plans: list[Plan], catalog: Catalog, labels: list[str]) -> list[dict]:
    """Per plan line: what it is and the speed model's validated error band for its hardware family."""
    rows = []
    for plan, label in zip(plans, labels):
        for line in plan.lines:
            speed = line.tokens_per_s_per_user
            rows.append({"plan": label, "line": f"{line.nodes} × {line.item}, {line.precision}/{line.engine}",
                         "tokens_per_s_per_user": None if speed is None else round(speed, 1),
                         "speed_model_error": band_text(plan_line_band(catalog, plan, line.accelerator))})
    return rows


def neutralise(value):
    """A cell value that no spreadsheet runs: text starting with =, +, -, @, tab or CR gets a leading
    single quote (OWASP's CSV-injection advice); numbers, and text that is a plain number such as
    '-5', are kept as they are. The quote shows in the cell, so the text stays readable."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def launch_rows(plan: Plan, label: str = "1") -> list[dict]:
    """One row per engine command of each line (kind 'launch'), after the purchases: how to run what is bought."""
    return [{k: "" for k in COLUMNS} | {"plan": label, "item": line.item, "kind": "launch",
                                        "description": f"{line.layout}: {cmd}", "quantity": line.replicas}
            for line in plan.lines for cmd in line.launch]


def _csv(plans: list[Plan], catalog: Catalog, labels: list[str]) -> str:
    return csv_text([{k: neutralise(v) for k, v in row.items()}
                     for plan, label in zip(plans, labels)
                     for row in bom_rows(plan, label, catalog) + launch_rows(plan, label)], list(COLUMNS))


def _infrastructure_rows(plan: Plan) -> list[tuple[str, object, None]]:
    """Summary rows for the network, the racks and the facility (their items are BOM rows too)."""
    rows: list[tuple[str, object, None]] = []
    for n in plan.network:
        rows.append((f"  network {n.fabric}", f"{n.node_ports} node ports, {n.direct_links} direct cables, "
                     + ", ".join(f"{c} × {i}" for i, c, _ in n.switches) + f"; {n.links} links, "
                     f"{n.transceivers} transceivers; {float(n.cost):,.2f}" + ("" if n.priced else " (not priced)")
                     + (f"; {n.power_w:,} W max, {n.typical_power_w:,} W typical" if n.power_w else ""),
                     None))
    for r in plan.racks:
        rows.append((f"  racks {r.node_type}", f"{r.racks} × {r.rack} ({r.cooling}), fullest rack "
                     f"{r.fullest_rack_kw:,.1f} of {r.limit_kw:g} kW; {float(r.cost):,.2f}", None))
    if plan.facility_power_w is not None:
        rows.append(("  facility kW (IT maximum × PUE)", f"{plan.facility_power_w / 1000:,.1f} (PUE {plan.pue:g})",
                     None))
    return rows


def _md_cell(key: str, value) -> str:
    if value is None or value == "":
        return ""
    if key in _MONEY_COLUMNS or key == "quantity":
        return f"{value:,.2f}".replace(".00", "") if isinstance(value, float) else f"{value:,}"
    if key == "source_url":
        return f"[link]({value})"
    return str(value).replace("|", "\\|")


def _plan_heading(plan: Plan, label: str) -> str:
    t = plan.totals
    return f"{label}: {t.users:,} users, {_money_text(t.cost)} {t.currency}, {t.power_w / 1000:,.1f} kW"


def _money_text(value: Fraction) -> str:
    v = money_json(value)
    return f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"


def _md(plans: list[Plan], problem: Problem, catalog: Catalog, labels: list[str], title: str) -> str:
    out = [f"# Bill of materials — {title}", ""]
    shown = ["seller", "item", "description", "quantity", "unit_price", "extended_price", "currency", "price_date",
             "lead_time_weeks", "warranty_months", "condition", "source_url"]
    for plan, label in zip(plans, labels):
        out += [f"## {_plan_heading(plan, label)}", ""]
        out += md_table(shown, [[_md_cell(k, r[k]) for k in shown] for r in bom_rows(plan, label, catalog)])
        commands = launch_rows(plan, label)
        if commands:
            out += ["", "How to run it:", ""] + [f"- {r['item']}, {r['description'].split(': ', 1)[0]}: "
                                                  f"`{r['description'].split(': ', 1)[1]}`" for r in commands]
        out.append("")
    out += ["## Caveats", "", "The speed model's validated error (median |error| of `hwplan validate` on the bundled "
            f"measurements of that hardware family{speculative_words(plans)}), next to each plan line:", ""]
    out += md_table(["plan", "line", "tok/s per user", "speed model error"],
                    [[r["plan"], r["line"], "—" if r["tokens_per_s_per_user"] is None else
                      f"{r['tokens_per_s_per_user']:,.1f}", r["speed_model_error"]]
                     for r in caveat_rows(plans, catalog, labels)])
    return "\n".join(out) + "\n"


class _NeutralSheet:
    """A worksheet whose appended rows are neutralised (the rest passes through)."""

    def __init__(self, ws):
        self._ws = ws

    def append(self, row):
        self._ws.append([neutralise(v) for v in row])

    def __getattr__(self, name):
        return getattr(self._ws, name)

    def __getitem__(self, key):
        return self._ws[key]


def _labels(plans: list[Plan], sheet_names: list[str] | None) -> list[str]:
    """'Plan 1', or 'Plan 1 — Arc Compute' when a sheet is named after a seller or maker."""
    out = []
    for i in range(1, len(plans) + 1):
        name = sheet_names[i - 1] if sheet_names and i <= len(sheet_names) else ""
        out.append(f"Plan {i}" + (f" — {name}" if name and name != f"Plan {i}" else ""))
    return out


_MONEY_FMT, _INT_FMT, _ONE_FMT = "#,##0.00", "#,##0", "#,##0.0"   # Excel number formats


def _fonts():
    """(bold, link) fonts of the workbook."""
    from openpyxl.styles import Font

    return Font(bold=True), Font(color="0563C1", underline="single")


def _xlsx(plans: list[Plan], problem: Problem, catalog: Catalog, labels: list[str], sheet_names: list[str],
          title: str) -> bytes:
    """The workbook: a summary sheet, one sheet per plan, the assumptions with their sources, the caveats."""
    from openpyxl import Workbook   # a dependency; imported only for an .xlsx export

    wb = Workbook()
    _summary_sheet(wb.active, _summary_rows(plans, problem, labels, title))
    for plan, label, name in zip(plans, labels, sheet_names):
        _plan_sheet(wb, plan, label, name, catalog)
    _assumptions_sheet(wb, _assumptions(plans, problem, catalog))
    _caveats_sheet(wb, plans, catalog, labels)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _summary_rows(plans: list[Plan], problem: Problem, labels: list[str], title: str) -> list[tuple]:
    """(label, value, number format) rows: the question, then each plan's totals and infrastructure."""
    best = plans[0]
    currency = best.totals.currency
    w, c = problem.workload, problem.constraints
    rows: list[tuple] = [
        (title, None, None), ("Question", problem.name, None), ("Description", problem.description, None),
        ("Model", problem.model, None),
        ("Precision asked", str(problem.precision), None),
        ("Concurrent users", w.concurrent_users or "one replica", _INT_FMT),
        ("Tokens in / out", f"{w.input_tokens:,} / {w.output_tokens:,}", None),
        ("Min tokens/s per user", w.min_tokens_per_s, _ONE_FMT),
        ("Price lists", ", ".join(problem.price_lists), None), ("Currency", currency, None),
    ]
    if c.budget:
        rows.append((f"Budget ({currency})", c.budget, _MONEY_FMT))
    if c.max_nodes:
        rows.append(("Max nodes", c.max_nodes, _INT_FMT))
    rows.append(("", None, None))
    for plan, label in zip(plans, labels):
        t = plan.totals
        speed = plan.slowest_tokens_per_s_per_user
        rows += [(label, plan.status, None),
                 ("  buys", "; ".join(f"{l.nodes} × {l.item} [{l.precision}/{l.engine}]" for l in plan.lines), None),
                 (f"  cost ({currency})", float(money_json(t.cost)), _MONEY_FMT),
                 ("  power (kW)", round(t.power_w / 1000, 1), _ONE_FMT), ("  nodes", t.nodes, _INT_FMT),
                 ("  accelerators", t.gpus, _INT_FMT), ("  users served", t.users, _INT_FMT),
                 ("  tokens/s per user (slowest line)", None if speed is None else round(speed, 1), _ONE_FMT)]
        rows += _infrastructure_rows(plan)
        if plan.tco:
            rows += [(f"  TCO total ({currency})", float(money_json(plan.tco.total)), _MONEY_FMT),
                     (f"  TCO energy ({currency})", float(money_json(plan.tco.energy)), _MONEY_FMT),
                     ("  TCO years", plan.tco.years, None)]
    return rows + [("", None, None)] + [("Exchange rate", r, None) for r in best.exchange_rates]


def _summary_sheet(summary, rows: list[tuple]) -> None:
    from openpyxl.styles import Font

    bold, _ = _fonts()
    summary.title = "Summary"
    for key, value, fmt in rows:
        summary.append([neutralise(key), neutralise(value)])
        if fmt and isinstance(value, (int, float)):
            summary.cell(row=summary.max_row, column=2).number_format = fmt
    for cell in summary["A"]:
        cell.font = bold
    summary["A1"].font = Font(bold=True, size=14)
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 100


def _plan_sheet(wb, plan: Plan, label: str, name: str, catalog: Catalog) -> None:
    """One plan's bill of materials (money formatted, sources as links), then its launch commands."""
    bold, link = _fonts()
    # Excel sheet names: at most 31 characters, none of \\ / ? * [ ] : (openpyxl refuses them).
    ws = wb.create_sheet(re.sub(r"[\\/?*\[\]:]", "-", name)[:31].strip("'") or "Plan")
    ws.append(COLUMNS)
    for cell in ws[1]:
        cell.font = bold
    for r in bom_rows(plan, label, catalog):
        ws.append([None if r[k] == "" else neutralise(r[k]) for k in COLUMNS])
        row = ws.max_row
        for k in _MONEY_COLUMNS:
            ws.cell(row=row, column=COLUMNS.index(k) + 1).number_format = _MONEY_FMT
        url = r["source_url"]
        if url:
            cell = ws.cell(row=row, column=COLUMNS.index("source_url") + 1)
            cell.hyperlink, cell.font = url, link
    for r in launch_rows(plan, label):
        ws.append([None if r[k] == "" else neutralise(r[k]) for k in COLUMNS])
    for col, width in zip("ABCDEFGHIJKLMNOPQ", (16, 22, 18, 11, 40, 9, 14, 16, 9, 11, 9, 10, 10, 11, 40, 50, 50)):
        ws.column_dimensions[col].width = width


def _assumptions(plans: list[Plan], problem: Problem, catalog: Catalog) -> dict[str, list]:
    """Each figure the plans rest on, once: what → [value, source, date] (model, accelerators, engines, offers)."""
    currency = plans[0].totals.currency
    facts: dict[str, list] = {}
    m = catalog.models[problem.model]
    facts[f"model {m.id}"] = [f"{m.params_b:g}B params, {m.active_params_b:g}B active, {m.layers} layers, "
                              f"{m.attention.kind.upper()} attention", m.source, m.date]
    for acc in sorted({l.accelerator for p in plans for l in p.lines}):
        r = catalog.accelerators[acc]
        facts[f"accelerator {acc}"] = [f"{r.memory_gb:g} GB, {r.memory_bandwidth_gbs:,.0f} GB/s, {r.tdp_w:,} W",
                                       r.source, r.date]
    for eng in sorted({l.engine for p in plans for l in p.lines}):
        e = catalog.engines[eng]
        settings = sorted({tuple(sorted(l.engine_settings.items())) for p in plans for l in p.lines
                           if l.engine == eng and l.engine_settings})
        assumed = "; ".join(", ".join(f"{k} {v}" for k, v in s) for s in settings)
        facts[f"engine {eng}"] = [f"{e.name}: {e.memory.defaults_version} memory rule ({e.memory_model})"
                                  + (f"; settings assumed: {assumed}" if assumed else ""), e.memory.source, e.date]
    for p in sorted({p.offer: p for plan in plans for p in plan.purchases}.values(), key=lambda p: p.offer):
        facts[f"offer {p.offer}"] = [f"{p.item} from {p.seller} at {_money_text(p.unit_price)} {currency}",
                                     p.source, p.date]
    return facts


def _assumptions_sheet(wb, facts: dict[str, list]) -> None:
    bold, link = _fonts()
    a = _NeutralSheet(wb.create_sheet("Assumptions"))
    a.append(["What", "Value", "Source", "Link", "Date"])
    for cell in a[1]:
        cell.font = bold
    for what, (value, source, date) in facts.items():
        a.append([what, value, source, source_url(source), date])
        url = source_url(source)
        if url:
            cell = a.cell(row=a.max_row, column=4)
            cell.hyperlink, cell.font = url, link
    for col, width in zip("ABCDE", (30, 60, 70, 50, 12)):
        a.column_dimensions[col].width = width


def _caveats_sheet(wb, plans: list[Plan], catalog: Catalog, labels: list[str]) -> None:
    bold, _ = _fonts()
    cav = _NeutralSheet(wb.create_sheet("Caveats"))
    cav.append(["Plan", "Line", "tok/s per user", "Speed model error (median |error| of hwplan validate, "
                f"bundled measurements of the family{speculative_words(plans)})"])
    for cell in cav[1]:
        cell.font = bold
    for r in caveat_rows(plans, catalog, labels):
        cav.append([r["plan"], r["line"], r["tokens_per_s_per_user"], r["speed_model_error"]])
        cav.cell(row=cav.max_row, column=3).number_format = _ONE_FMT
    for col, width in zip("ABCD", (24, 60, 14, 70)):
        cav.column_dimensions[col].width = width


def export_bom(path: str, plans: list[Plan], problem: Problem, catalog: Catalog,
               sheet_names: list[str] | None = None, title: str | None = None) -> str | bytes:
    """The bill(s) of materials in the format `path`'s extension names; `title` heads the document."""
    ext = Path(path).suffix.lower()
    if ext not in EXPORT_FORMATS:
        raise InputError(f"--export {path}: the bill of materials is written as {', '.join(EXPORT_FORMATS)}.")
    labels = _labels(plans, sheet_names)
    if ext == ".csv":
        return _csv(plans, catalog, labels)
    if ext == ".md":
        return _md(plans, problem, catalog, labels, document_title(problem, title))
    return _xlsx(plans, problem, catalog, labels, sheet_names or [f"Plan {i}" for i in range(1, len(plans) + 1)],
                 document_title(problem, title))

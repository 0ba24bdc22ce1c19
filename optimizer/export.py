"""Bills of materials a purchaser can send to vendors for quotes: CSV, Markdown or an Excel workbook.

One row per purchased item (seller, item id and description, quantity, unit price,
extended price = quantity × unit price, currency, lead time, warranty, condition,
offer source). The rows add up exactly to the plan's total; a last row says so.
The workbook holds a summary sheet (the question, the plan, totals, TCO, the sizing
assumptions and sources), one sheet per plan (or per seller), and an assumptions sheet.
"""

from __future__ import annotations

import io
import re
from fractions import Fraction
from pathlib import Path

from catalog import Catalog
from catalog.errors import InputError

from .frames import csv_text
from .plan import Plan, money_json
from .problem import Problem
from .render import md_table

__all__ = ["bom_rows", "export_bom", "neutralise", "EXPORT_FORMATS"]

# A cell a spreadsheet would read as a formula (or a DDE command) starts with one of these
# (OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

EXPORT_FORMATS = (".csv", ".md", ".xlsx")
COLUMNS = ["plan", "seller", "item", "kind", "description", "quantity", "unit_price", "extended_price", "currency",
           "lead_time_weeks", "warranty_months", "condition", "offer", "source"]


def _infrastructure_rows(plan: Plan) -> list[tuple[str, object]]:
    """Summary rows for the network, the racks and the facility (their items are BOM rows too)."""
    rows: list[tuple[str, object]] = []
    for n in plan.network:
        rows.append((f"  network {n.fabric}", f"{n.node_ports} node ports, {n.direct_links} direct cables, "
                     + ", ".join(f"{c} × {i}" for i, c, _ in n.switches) + f"; {n.links} links, "
                     f"{n.transceivers} transceivers; {float(n.cost):,.2f}" + ("" if n.priced else " (not priced)")))
    for r in plan.racks:
        rows.append((f"  racks {r.node_type}", f"{r.racks} × {r.rack} ({r.cooling}), fullest rack "
                     f"{r.fullest_rack_kw:,.1f} of {r.limit_kw:g} kW; {float(r.cost):,.2f}"))
    if plan.facility_power_w is not None:
        rows.append(("  facility kW (IT maximum × PUE)", f"{plan.facility_power_w / 1000:,.1f} (PUE {plan.pue:g})"))
    return rows


def bom_rows(plan: Plan, label: str = "1") -> list[dict]:
    rows = []
    for p in sorted(plan.purchases, key=lambda p: (p.seller, p.kind, p.item, p.offer)):
        rows.append({"plan": label, "seller": p.seller, "item": p.item, "kind": p.kind, "description": p.description,
                     "quantity": p.quantity, "unit_price": money_json(p.unit_price),
                     "extended_price": money_json(p.extended), "currency": plan.totals.currency,
                     "lead_time_weeks": p.lead_time_weeks, "warranty_months": p.warranty_months,
                     "condition": p.condition, "offer": p.offer, "source": p.source})
    total = sum((p.extended for p in plan.purchases), Fraction(0))
    if total != plan.totals.cost:  # the checker already guarantees this; never export a bill that does not add up
        raise RuntimeError(f"bill of materials adds up to {total}, the plan to {plan.totals.cost}")
    rows.append({"plan": label, "seller": "TOTAL", "item": "", "kind": "", "description": "",
                 "quantity": sum(p.quantity for p in plan.purchases), "unit_price": "",
                 "extended_price": money_json(total), "currency": plan.totals.currency, "lead_time_weeks": "",
                 "warranty_months": "", "condition": "", "offer": "", "source": ""})
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


def _csv(plans: list[Plan]) -> str:
    return csv_text([{k: neutralise(v) for k, v in row.items()}
                     for i, plan in enumerate(plans, 1) for row in bom_rows(plan, str(i)) + launch_rows(plan, str(i))],
                    list(COLUMNS))


def _md(plans: list[Plan], problem: Problem) -> str:
    out = [f"# Bill of materials — {problem.name}", ""]
    shown = ["seller", "item", "description", "quantity", "unit_price", "extended_price", "currency",
             "lead_time_weeks", "warranty_months", "condition"]
    for i, plan in enumerate(plans, 1):
        if len(plans) > 1:
            out += [f"## Plan {i}: {plan.totals.users:,} users, {money_json(plan.totals.cost):,} {plan.totals.currency}", ""]
        out += md_table(shown, [["" if r[k] is None else str(r[k]) for k in shown] for r in bom_rows(plan, str(i))])
        out += ["", "How to run it:", ""] + [f"- {r['item']}, {r['description'].split(': ', 1)[0]}: "
                                              f"`{r['description'].split(': ', 1)[1]}`" for r in launch_rows(plan, str(i))]
        out.append("")
    return "\n".join(out)


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


def _xlsx(plans: list[Plan], problem: Problem, catalog: Catalog, sheet_names: list[str]) -> bytes:
    from openpyxl import Workbook   # a dependency; imported only for an .xlsx export
    from openpyxl.styles import Font
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    bold = Font(bold=True)
    best = plans[0]
    w, c = problem.workload, problem.constraints
    rows = [
        ("Question", problem.name), ("Description", problem.description), ("Model", problem.model),
        ("Precision", str(problem.precision)), ("Concurrent users", w.concurrent_users or "one replica"),
        ("Tokens in / out", f"{w.input_tokens} / {w.output_tokens}"), ("Min tokens/s per user", w.min_tokens_per_s),
        ("Price lists", ", ".join(problem.price_lists)), ("Currency", best.totals.currency),
        ("Budget", c.budget or ""), ("Max nodes", c.max_nodes or ""), ("", ""),
    ]
    for i, plan in enumerate(plans, 1):
        t = plan.totals
        rows += [(f"Plan {i} ({sheet_names[i - 1]})", plan.status),
                 ("  buys", "; ".join(f"{l.nodes} × {l.item} [{l.precision}/{l.engine}]" for l in plan.lines)),
                 ("  cost", float(t.cost)), ("  power kW", t.power_w / 1000), ("  nodes", t.nodes),
                 ("  accelerators", t.gpus), ("  users served", t.users),
                 ("  tokens/s per user (slowest line)", plan.slowest_tokens_per_s_per_user or "")]
        rows += _infrastructure_rows(plan)
        if plan.tco:
            rows += [("  TCO total", float(plan.tco.total)), ("  TCO energy", float(plan.tco.energy)),
                     ("  TCO years", plan.tco.years)]
    rows += [("", "")] + [("Exchange rate", r) for r in best.exchange_rates]
    for r in rows:
        summary.append([neutralise(v) for v in r])
    for cell in summary["A"]:
        cell.font = bold
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 100
    for plan, name in zip(plans, sheet_names):
        # Excel sheet names: at most 31 characters, none of \\ / ? * [ ] : (openpyxl refuses them).
        ws = wb.create_sheet(re.sub(r"[\\/?*\[\]:]", "-", name)[:31].strip("'") or "Plan")
        ws.append(COLUMNS)
        for cell in ws[1]:
            cell.font = bold
        for r in bom_rows(plan, name) + launch_rows(plan, name):
            ws.append([neutralise(r[k]) for k in COLUMNS])
    a = _NeutralSheet(wb.create_sheet("Assumptions"))
    a.append(["What", "Value", "Source", "Date"])
    for cell in a[1]:
        cell.font = bold
    m = catalog.models[problem.model]
    a.append([f"model {m.id}", f"{m.params_b}B params, {m.active_params_b}B active, {m.layers} layers, "
              f"{m.attention.kind.upper()} attention", m.source, m.date])
    for acc in sorted({l.accelerator for p in plans for l in p.lines}):
        r = catalog.accelerators[acc]
        a.append([f"accelerator {acc}", f"{r.memory_gb} GB, {r.memory_bandwidth_gbs} GB/s, {r.tdp_w} W", r.source,
                  r.date])
    for eng in sorted({l.engine for p in plans for l in p.lines}):
        e = catalog.engines[eng]
        settings = sorted({tuple(sorted(l.engine_settings.items())) for p in plans for l in p.lines
                           if l.engine == eng and l.engine_settings})
        assumed = "; ".join(", ".join(f"{k} {v}" for k, v in s) for s in settings)
        a.append([f"engine {eng}", f"{e.memory.defaults_version} memory rule ({e.memory_model})"
                  + (f"; settings assumed: {assumed}" if assumed else ""), e.memory.source, e.date])
    for p in sorted({p for plan in plans for p in plan.purchases}, key=lambda p: p.offer):
        a.append([f"offer {p.offer}", f"{p.item} from {p.seller} at {money_json(p.unit_price)}", p.source, p.date])
    a.append(["sizing", "users per replica = largest concurrency the KV cache holds that keeps every user at the "
                        "speed target; see hwplan's optimizer/sizing.py and optimizer/speed.py", "hwplan", ""])
    for col, width in zip("ABCD", (30, 70, 80, 12)):
        a.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_bom(path: str, plans: list[Plan], problem: Problem, catalog: Catalog,
               sheet_names: list[str] | None = None) -> str | bytes:
    """The bill(s) of materials in the format `path`'s extension names."""
    ext = Path(path).suffix.lower()
    if ext not in EXPORT_FORMATS:
        raise InputError(f"--export {path}: the bill of materials is written as {', '.join(EXPORT_FORMATS)}.")
    if ext == ".csv":
        return _csv(plans)
    if ext == ".md":
        return _md(plans, problem)
    return _xlsx(plans, problem, catalog, sheet_names or [f"Plan {i}" for i in range(1, len(plans) + 1)])

"""`hwplan report`: one self-contained HTML file a purchaser can read and forward.

It holds the optimal plan (with its TCO), the shortlist of alternatives, the best
plan per vendor, the cost/power Pareto front, a sweep of the user count, the caveats
(the speed model's validated error for each hardware family, next to each plan line)
and the sources and dates of every figure used, as links. It is titled by `title`
(`--title`), else the problem's name. Styles and charts are inline: nothing is
fetched when the file is opened.
"""

from __future__ import annotations

import datetime
import html
from fractions import Fraction

from catalog import Catalog
from catalog.errors import NoPlanError

from .documents import band_short, band_text, document_title, plan_line_band, source_url, speculative_words
from .model import SolveOptions
from .plan import Plan, money_json
from .plot import front_series, svg_chart, sweep_series
from .problem import Problem
from .render import workload_text
from .search import pareto, per_vendor, shortlist, sweep
from .solve import optimize

__all__ = ["html_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f4f6f8}td.n{text-align:right}.muted{color:#666;font-size:.85rem}.ok{color:#1a7f37}
a{color:#0b5cad}
"""


def _money(x: Fraction | float, currency: str = "") -> str:
    v = money_json(x)
    return (f"{v:,}" if isinstance(v, int) else f"{v:,.2f}") + (f" {currency}" if currency else "")


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _source_cell(text: str) -> str:
    """The source as a link when it holds a URL (its text kept as the link's words), else plain text."""
    url = source_url(text)
    if url is None:
        return html.escape(text)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


def _plan_table(plan: Plan, catalog: Catalog) -> str:
    rows = []
    currency = plan.totals.currency
    for l in plan.lines:
        speed = "—" if l.tokens_per_s_per_user is None else \
            f"{l.tokens_per_s_per_user:,.1f} {band_short(plan_line_band(catalog, plan, l.accelerator))}"
        rows.append([html.escape(l.item), str(l.nodes), str(l.gpus), f"{l.precision} / {l.engine}",
                     f"{l.users:,}", speed, "—" if l.ttft_s is None else f"{l.ttft_s:,.2f}", _money(l.node_price),
                     _money(l.cost), f"{l.power_w / 1000:,.1f}"])
    t = plan.totals
    rows.append(["<b>Total</b>", f"<b>{t.nodes}</b>", f"<b>{t.gpus}</b>", f"{t.memory_gb:,.0f} GB", f"<b>{t.users:,}</b>",
                 "", "", "", f"<b>{_money(t.cost)}</b>", f"<b>{t.power_w / 1000:,.1f}</b>"])
    out = _table(["Buy", "Nodes", "GPUs", "Precision / engine", "Users", "tok/s per user (± speed model error)",
                  "TTFT s", f"Node price ({currency})", f"Cost ({currency})", "Power kW"], rows,
                 numeric={1, 2, 4, 5, 6, 7, 8, 9})
    if plan.tco:
        c = plan.tco
        out += (f'<p>Total cost of ownership over {c.years:g} years: <b>{_money(c.total, t.currency)}</b> = capital '
                f'{_money(c.capex)} + energy {_money(c.energy)} (at {c.price_per_kwh:g} {t.currency}/kWh, PUE '
                f'{c.pue:g}) + hosting {_money(c.hosting)}.</p>')
    if plan.purchases:
        buys = [[html.escape(p.seller), html.escape(p.description or p.item), f"{p.quantity:,}", _money(p.unit_price),
                 _money(p.extended), html.escape(p.date), _source_cell(p.source)] for p in plan.purchases]
        out += "<h3>What to buy, from whom</h3>" + _table(
            ["Seller", "Item", "Quantity", f"Unit price ({currency})", f"Extended ({currency})", "Price date", "Source"],
            buys, numeric={2, 3, 4})
    out += (f'<p class="muted">Status: <span class="ok">{plan.status}</span>; solved in {plan.solver.seconds:.2f} s; '
            f'checked by the independent plan checker.</p>')
    return out


def _plans_table(plans: list[Plan], catalog: Catalog) -> str:
    rows = []
    for i, p in enumerate(plans, 1):
        what = "<br>".join(html.escape(f"{l.nodes} × {l.item}, {l.precision}/{l.engine}") for l in p.lines)
        slowest = min((l for l in p.lines if l.tokens_per_s_per_user is not None),
                      key=lambda l: l.tokens_per_s_per_user, default=None)
        speed = "—" if slowest is None else \
            f"{slowest.tokens_per_s_per_user:,.1f} {band_short(plan_line_band(catalog, p, slowest.accelerator))}"
        rows.append([str(i), what, str(p.totals.nodes), f"{p.totals.users:,}", speed,
                     _money(p.totals.cost, p.totals.currency), f"{p.totals.power_w / 1000:,.1f}"])
    return _table(["#", "Buy", "Nodes", "Users", "tok/s per user (± error)", "Cost", "Power kW"], rows,
                  numeric={0, 2, 3, 4, 5, 6})


def _caveats(catalog: Catalog, plans: list[Plan]) -> str:
    """Each distinct plan line with the speed model's validated error band for its hardware family."""
    rows, seen = [], set()
    for p in plans:
        for l in p.lines:
            key = (l.item, l.precision, l.engine)
            if key in seen:
                continue
            seen.add(key)
            rows.append([html.escape(f"{l.item}, {l.precision}/{l.engine}"),
                         "—" if l.tokens_per_s_per_user is None else f"{l.tokens_per_s_per_user:,.1f}",
                         html.escape(band_text(plan_line_band(catalog, p, l.accelerator)))])
    intro = ('<p>Speeds are predictions of a calibrated roofline model. Next to each line: the median absolute '
             'error of <code>hwplan validate</code> on the bundled published measurements of that hardware family '
             f'{html.escape(speculative_words(plans))} '
             '(half of the measured rows lie within it). Prices are quotes and listings as of their price '
             'date; ask the seller to confirm them.</p>')
    return intro + _table(["Line", "tok/s per user", "Speed model error"], rows, numeric={1})


def _sources(catalog: Catalog, problem: Problem, plans: list[Plan]) -> str:
    used_acc = sorted({l.accelerator for p in plans for l in p.lines})
    rows = []
    for a in used_acc:
        r = catalog.accelerators[a]
        rows.append([html.escape(a), f"{r.memory_gb:g} GB, {r.memory_bandwidth_gbs:,.0f} GB/s, {r.tdp_w:,} W",
                     _source_cell(r.source), html.escape(r.date)])
    m = catalog.models[problem.model]
    rows.append([html.escape(m.id), f"{m.params_b:g}B params, {m.active_params_b:g}B active",
                 _source_cell(m.source), html.escape(m.date)])
    bought = {p.offer: p for plan in plans for p in plan.purchases}
    for key, p in sorted(bought.items()):
        rows.append([html.escape(p.item), html.escape(f"{_money(p.unit_price)} each from {p.seller} ({p.condition})"),
                     _source_cell(p.source), html.escape(p.date)])
    return _table(["Item", "Figure", "Source", "Date"], rows)


def html_report(catalog: Catalog, problem: Problem, options: SolveOptions = SolveOptions(),
                title: str | None = None) -> str:
    """The whole report as one HTML string, titled `title` (default: the problem's name)."""
    best = optimize(catalog, problem, options)
    sections = [f"<h2>Optimal plan</h2>{_plan_table(best, catalog)}"]
    plans = [best]
    try:
        alts = shortlist(catalog, problem, k=5, options=options)
        plans += alts
        sections.append(f"<h2>Alternatives (no two share a node type)</h2>{_plans_table(alts, catalog)}")
    except NoPlanError:
        pass
    try:
        vendors = per_vendor(catalog, problem, options)
        plans += vendors
        sections.append(f"<h2>Best plan per vendor</h2>{_plans_table(vendors, catalog)}")
    except NoPlanError:
        pass
    if problem.objective != "users":
        try:
            front = pareto(catalog, problem, "cost", "power", max_points=20, options=options)
            plans += front
            chart = svg_chart(title="Cost vs power: every plan not beaten on both",
                              **front_series(front, "cost", "power"))
            sections.append(f"<h2>Cost vs power</h2>{chart}{_plans_table(front, catalog)}")
        except NoPlanError:
            pass
    n = problem.workload.concurrent_users
    if n and problem.objective != "users":
        values = sorted({max(1, round(n * f)) for f in (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4)})
        points = sweep(catalog, problem, users=values, options=options)
        chart = svg_chart(title="Cost as the number of users grows", **sweep_series(points, "users"))
        rows = [[f"{pt.value:,.0f}", _money(pt.plan.totals.cost, pt.plan.totals.currency) if pt.plan else "no plan",
                 ", ".join(f"{l.nodes} × {l.item}" for l in pt.plan.lines) if pt.plan else
                 html.escape((pt.explanation or {}).get("summary", ""))] for pt in points]
        sections.append(f"<h2>Growth</h2>{chart}{_table(['Users', 'Cost', 'Buy'], rows, numeric={0, 1})}")
    sections.append(f"<h2>Caveats</h2>{_caveats(catalog, plans)}")
    sections.append(f"<h2>Sources of the figures used</h2>{_sources(catalog, problem, plans)}")
    w, c = problem.workload, problem.constraints
    facts = [f"Model: <b>{html.escape(problem.model)}</b>, precision {html.escape(str(problem.precision))}",
             # The plan's own account of the workload (as the table and markdown give it: TTFT percentile,
             # arrivals or request rate, speculative decoding), after who is served.
             (f"Workload: {w.concurrent_users or 'one replica'} concurrent users" if w.request_rate is None else
              f"Workload: {w.request_rate:g} requests/s") + "; "
             + html.escape(workload_text(best.workload) if best.workload else
                           f"{w.input_tokens:,} tokens in, {w.output_tokens:,} out, at least "
                           f"{w.min_tokens_per_s:g} tok/s each"),
             f"Prices: {html.escape(', '.join(problem.price_lists))} in {best.totals.currency}"
             + (f"; budget {c.budget:,.0f}" if c.budget else "") + (f"; at most {c.max_nodes} nodes" if c.max_nodes else "")
             + (f"; vendors {', '.join(c.vendors)}" if c.vendors else "")]
    facts += [html.escape(r) for r in best.exchange_rates]
    name = document_title(problem, title)
    head = (f"<h1>{html.escape(name)}</h1><p>{html.escape(problem.description)}</p>"
            f"<ul>{''.join(f'<li>{f}</li>' for f in facts)}</ul>")
    stamp = f'<p class="muted">Generated by hwplan on {datetime.date.today().isoformat()}.</p>'
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(name)} — "
            f"hwplan report</title><style>{_CSS}</style></head><body>{head}{''.join(sections)}{stamp}</body></html>\n")

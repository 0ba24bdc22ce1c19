"""Charts of Pareto fronts and sweeps, drawn by matplotlib (SVG and PNG alike).

`front_series` and `sweep_series` turn plans into chart arguments; `save_chart` draws them
for a file (`.svg` or `.png`) and `svg_chart` gives the SVG text the HTML report embeds inline
(self-contained: nothing is fetched at view time). matplotlib is imported only when a chart is
drawn, so `hwplan --help` stays fast.

A sweep is drawn as steps, not slanted lines: between two user counts u₁ < u₂ the plan for u₂
serves every count in (u₁, u₂], so the cost curve steps up at u₂ (`where="pre"`); between two
budgets b₁ < b₂ only b₁'s plan is known to fit, so users served step up at b₂ (`where="post"`).
"""

from __future__ import annotations

import io
from pathlib import Path

from catalog.errors import InputError

__all__ = ["svg_chart", "png_chart", "save_chart", "front_series", "sweep_series"]

SIZE_IN, DPI = (7.2, 4.2), 100
COLOR, GAP_COLOR = "#1f6fb2", "#c0392b"


def _term(plan, term: str) -> float:
    t = plan.totals
    return {"cost": float(t.cost), "power": t.power_w / 1000, "nodes": t.nodes,
            "tco": float(plan.tco.total) if plan.tco else 0.0}[term]


def _axis_label(term: str, currency: str) -> str:
    """'cost (USD)', 'power (kW)', 'nodes' — a count needs no unit."""
    unit = {"cost": currency, "power": "kW", "tco": currency}.get(term)
    name = "TCO" if term == "tco" else term
    return f"{name} ({unit})" if unit else name


def front_series(plans: list, x: str, y: str) -> dict:
    """Chart arguments for a Pareto front on terms x and y (cost, power, nodes, tco): one dot per plan."""
    currency = plans[0].totals.currency if plans else ""
    return {"points": [(_term(p, x), _term(p, y)) for p in plans], "step": None,
            "xlabel": _axis_label(x, currency), "ylabel": _axis_label(y, currency)}


def sweep_series(points: list, kind: str) -> dict:
    """Chart arguments for a sweep: cost by user count, or users served by budget, as steps;
    points without a plan are gaps (marked on the x axis)."""
    solved = [pt for pt in points if pt.plan]
    currency = solved[0].plan.totals.currency if solved else ""
    by_users = kind == "users"
    return {"points": [(pt.value, float(pt.plan.totals.cost) if by_users else pt.plan.totals.users) for pt in solved],
            "gaps": [pt.value for pt in points if pt.plan is None],
            "step": "pre" if by_users else "post",
            "xlabel": "concurrent users" if by_users else f"budget ({currency})",
            "ylabel": f"cost ({currency})" if by_users else "users served"}


def _number(value: float, _pos: object = None) -> str:
    """Tick text: thousands separated, no offset or scientific notation, no needless decimals."""
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def _figure(points: list[tuple[float, float]], *, title: str, xlabel: str, ylabel: str,
            step: str | None = None, gaps: list[float] | None = None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig, ax = plt.subplots(figsize=SIZE_IN, dpi=DPI)
    pts = sorted(points)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if step and len(pts) > 1:
        ax.step(xs, ys, where=step, color=COLOR, linewidth=2)
    ax.plot(xs, ys, "o", color=COLOR, markersize=5)
    for g in gaps or []:
        ax.plot([g], [0], "x", color=GAP_COLOR, markersize=8, clip_on=False)
    values = xs + list(gaps or [])
    if values and min(values) == max(values):      # one x value: a readable window around it
        v = values[0]
        ax.set_xlim(v - max(abs(v) * 0.1, 1), v + max(abs(v) * 0.1, 1))
    ax.set_ylim(bottom=0, top=max(ys) * 1.1 if ys and max(ys) > 0 else 1)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=6, min_n_ticks=2))
        axis.set_major_formatter(FuncFormatter(_number))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig, plt


def _render(fmt: str, points: list[tuple[float, float]], **kw) -> bytes:
    import matplotlib

    fig, plt = _figure(points, **kw)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hwplan"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else {"Software": None})
    plt.close(fig)
    return buf.getvalue()


def svg_chart(points: list[tuple[float, float]], **kw) -> str:
    """The chart as an inline `<svg>` element (no XML prolog), for HTML. Keywords: title, xlabel,
    ylabel, step ('pre', 'post' or None for dots only), gaps (x values without a plan)."""
    text = _render("svg", points, **kw).decode("utf-8")
    return text[text.index("<svg"):]


def png_chart(points: list[tuple[float, float]], **kw) -> bytes:
    """The chart as PNG bytes (same keywords as `svg_chart`)."""
    return _render("png", points, **kw)


def save_chart(path: str, points: list[tuple[float, float]], **kw) -> bytes | str:
    """Chart content for `path`'s extension: SVG text or PNG bytes. Raises InputError for another extension."""
    ext = Path(path).suffix.lower()
    if ext == ".svg":
        return svg_chart(points, **kw)
    if ext == ".png":
        return png_chart(points, **kw)
    raise InputError(f"--plot {path}: the chart is written as .svg or .png.")

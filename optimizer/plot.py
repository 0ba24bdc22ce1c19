"""Small charts: SVG written by hand, PNG through matplotlib (imported only for a PNG).

A sweep's cost curve and a Pareto front are a handful of points; an SVG written by
hand is self-contained (the HTML report embeds it inline, nothing is fetched at view
time) and keeps plotting libraries out of the install.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from catalog.errors import InputError

__all__ = ["svg_chart", "save_chart", "front_series", "sweep_series"]

W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 420, 90, 30, 40, 60


def _term(plan, term: str) -> float:
    t = plan.totals
    return {"cost": float(t.cost), "power": t.power_w / 1000, "nodes": t.nodes,
            "tco": float(plan.tco.total) if plan.tco else 0.0}[term]


def front_series(plans: list, x: str, y: str) -> dict:
    """Chart arguments for a Pareto front on terms x and y (cost, power, nodes, tco): one dot per plan."""
    currency = plans[0].totals.currency if plans else ""
    unit = {"cost": currency, "power": "kW", "nodes": "nodes", "tco": currency}
    return {"points": [(_term(p, x), _term(p, y)) for p in plans], "line": False,
            "labels": [", ".join(l.item for l in p.lines) for p in plans],
            "xlabel": f"{x} ({unit[x]})", "ylabel": f"{y} ({unit[y]})"}


def sweep_series(points: list, kind: str) -> dict:
    """Chart arguments for a sweep: cost by user count, or users served by budget; points without a plan are gaps."""
    solved = [pt for pt in points if pt.plan]
    currency = solved[0].plan.totals.currency if solved else ""
    by_users = kind == "users"
    return {"points": [(pt.value, float(pt.plan.totals.cost) if by_users else pt.plan.totals.users) for pt in solved],
            "gaps": [pt.value for pt in points if pt.plan is None],
            "xlabel": "concurrent users" if by_users else f"budget ({currency})",
            "ylabel": f"cost ({currency})" if by_users else "users served"}


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2) if start + i * step <= hi + step * 0.01]


def _fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def svg_chart(points: list[tuple[float, float]], *, title: str, xlabel: str, ylabel: str, line: bool = True,
              labels: list[str] | None = None, gaps: list[float] | None = None) -> str:
    """An SVG chart of `points` (x, y); `gaps` are x values where no plan exists (drawn as marks on the axis)."""
    xs = [p[0] for p in points] + list(gaps or [])
    ys = [p[1] for p in points] or [0.0]
    xlo, xhi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    ylo, yhi = 0.0, max(ys) * 1.08 if ys and max(ys) > 0 else 1.0
    if xhi == xlo:
        xlo, xhi = xlo - 1, xhi + 1

    def sx(x: float) -> float:
        return LEFT + (x - xlo) / (xhi - xlo) * (W - LEFT - RIGHT)

    def sy(y: float) -> float:
        return H - BOTTOM - (y - ylo) / (yhi - ylo) * (H - TOP - BOTTOM)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{html.escape(title)}</text>']
    for t in _ticks(ylo, yhi):
        if t > yhi:
            continue
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(xlo, xhi):
        if xlo <= t <= xhi:
            out.append(f'<text x="{sx(t):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}" stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#333"/>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 15}" text-anchor="middle">{html.escape(xlabel)}</text>')
    out.append(f'<text transform="translate(20 {(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">'
               f'{html.escape(ylabel)}</text>')
    pts = sorted(points)
    if line and len(pts) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="#1f6fb2" stroke-width="2"/>')
    for i, (x, y) in enumerate(points):
        tip = f"<title>{html.escape(labels[i])}</title>" if labels else ""
        out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#1f6fb2">{tip}</circle>')
    for g in gaps or []:
        out.append(f'<text x="{sx(g):.1f}" y="{H - BOTTOM - 4}" text-anchor="middle" fill="#c0392b">×</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def save_chart(path: str, points: list[tuple[float, float]], **kw) -> bytes | str:
    """Chart content for `path`'s extension: SVG text, or PNG bytes via matplotlib."""
    ext = Path(path).suffix.lower()
    if ext == ".svg":
        return svg_chart(points, **kw)
    if ext != ".png":
        raise InputError(f"--plot {path}: the chart is written as .svg or .png.")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import io

        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"--plot {path}: PNG charts need matplotlib (pip install matplotlib); "
                         f"or write an .svg instead.") from None
    fig, ax = plt.subplots(figsize=(7.2, 4.2), dpi=100)
    pts = sorted(points)
    if kw.get("line", True):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
    else:
        ax.scatter([p[0] for p in pts], [p[1] for p in pts])
    for g in kw.get("gaps") or []:
        ax.axvline(g, color="#c0392b", alpha=0.2)
    ax.set_title(kw["title"])
    ax.set_xlabel(kw["xlabel"])
    ax.set_ylabel(kw["ylabel"])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()

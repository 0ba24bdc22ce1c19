"""Charts: one matplotlib path for SVG and PNG, steps for sweeps, readable ticks and labels."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from catalog.errors import InputError
from optimizer import plot


def _plan(cost, power_w, nodes):
    totals = SimpleNamespace(cost=cost, power_w=power_w, nodes=nodes, currency="USD", users=10)
    return SimpleNamespace(totals=totals, tco=None)


def _tick_texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_one_point_front_has_distinct_plain_ticks_and_no_doubled_units():
    series = plot.front_series([_plan(370_000, 12_000, 2)], "cost", "nodes")
    assert series["xlabel"] == "cost (USD)" and series["ylabel"] == "nodes"
    svg = plot.svg_chart(title="front", **series)
    assert svg.startswith("<svg")
    texts = _tick_texts(svg)
    numbers = [t for t in texts if re.fullmatch(r"[\d,.]+", t)]
    x_ticks = [t for t in numbers if "," in t]                      # the cost axis: 6-digit values
    assert len(x_ticks) >= 2 and len(set(x_ticks)) == len(x_ticks)  # no "370k 370k"
    values = [int(t.replace(",", "")) for t in x_ticks]             # written plainly, around the point
    assert min(values) <= 370_000 <= max(values) and max(values) - min(values) >= 10_000
    assert "nodes (nodes)" not in svg


def test_sweep_by_users_steps_up_at_the_larger_count_and_by_budget_at_the_larger_budget():
    pts = [SimpleNamespace(value=v, plan=_plan(c, 1000, 1)) for v, c in ((10, 100.0), (20, 300.0))]
    pts.append(SimpleNamespace(value=30, plan=None))
    users = plot.sweep_series(pts, "users")
    assert users["step"] == "pre" and users["gaps"] == [30]
    fig, plt = plot._figure(users["points"], title="t", xlabel=users["xlabel"], ylabel=users["ylabel"],
                            step=users["step"], gaps=users["gaps"])
    styles = [line.get_drawstyle() for line in fig.axes[0].get_lines()]
    plt.close(fig)
    assert "steps-pre" in styles
    assert plot.sweep_series(pts, "budget")["step"] == "post"


def test_png_and_svg_come_from_the_same_drawing():
    series = plot.front_series([_plan(100, 2000, 1), _plan(50, 4000, 2)], "cost", "power")
    assert plot.save_chart("a.png", title="t", **series)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "power (kW)" in plot.save_chart("a.svg", title="t", **series)
    with pytest.raises(InputError, match="svg or .png"):
        plot.save_chart("a.pdf", title="t", **series)

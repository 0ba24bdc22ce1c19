"""pandas frames of plans and sweeps, and CSV text through pandas."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

from optimizer.frames import csv_text, plans_frame, sweep_frame
from optimizer.problem import load_problem
from optimizer.solve import optimize
from problems import bundled_problem_path


def test_plan_frame_adds_up_to_the_plan(catalog):
    plan = optimize(catalog, load_problem(bundled_problem_path("llama-3.1-70b-100-users")))
    frame = plan.to_frame()
    assert len(frame) == len(plan.lines)
    assert frame["users"].sum() == plan.totals.users
    assert frame["power_w"].sum() == plan.totals.power_w
    assert abs(frame["cost"].sum() - float(plan.totals.cost)) < 0.01 * len(plan.lines)
    stacked = plans_frame([plan, plan])
    assert list(stacked.columns[:2]) == ["rank", "item"] and stacked["rank"].tolist() == [1] * len(plan.lines) + [2] * len(plan.lines)


def test_sweep_frame_keeps_infeasible_points_with_their_reason():
    totals = SimpleNamespace(cost=1500, currency="USD", users=12, nodes=2, power_w=3000)
    line = SimpleNamespace(nodes=2, item="hgx")
    points = [SimpleNamespace(value=10, plan=SimpleNamespace(status="optimal", totals=totals, lines=[line]),
                              explanation=None),
              SimpleNamespace(value=99, plan=None, explanation={"summary": "too few nodes"})]
    frame = sweep_frame(points, "users")
    assert frame["users"].tolist() == [10, 99]
    assert frame["buy"][0] == "2 × hgx" and frame["status"][1] == "infeasible" and frame["why"][1] == "too few nodes"


def test_csv_text_writes_what_the_csv_module_writes():
    rows = [{"a": 1, "b": None, "c": "x, \"quoted\""}, {"a": None, "b": 2.5, "c": ""}]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["a", "b", "c"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    assert csv_text(rows, ["a", "b", "c"]) == buf.getvalue()   # 1 stays "1", not "1.0"

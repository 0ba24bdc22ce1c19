"""pandas DataFrames of plans, sweeps and CSV text, for Python users and for CSV output.

    from optimizer.frames import plans_frame, sweep_frame
    plan.to_frame()            # one row per plan line (Plan.to_frame calls plan_frame)
    plans_frame(shortlist)     # the same with a `rank` column, best plan first
    sweep_frame(points, "users")

pandas is imported when a frame is made, never at import time (`hwplan --help` stays fast).
Money is in the plan's currency as float (exact amounts stay in Plan.totals.cost, a Fraction).
"""

from __future__ import annotations

from typing import Any

__all__ = ["plan_frame", "plans_frame", "sweep_frame", "csv_text"]

LINE_COLUMNS = ("item", "accelerator", "maker", "platform", "system", "gpus_per_node", "nodes", "nodes_per_replica",
                "replicas", "gpus", "precision", "engine", "users", "users_per_replica", "tokens_per_s_per_user",
                "cost", "power_w")


def _line_row(line) -> dict[str, Any]:
    j = line.to_json()
    return {"item": line.item, **{k: j.get(k) for k in LINE_COLUMNS[1:] if k in j}}


def plan_frame(plan):
    """One row per plan line: what to buy, how many, what it serves, costs (plan currency) and draws (W)."""
    import pandas as pd

    return pd.DataFrame([_line_row(line) for line in plan.lines])


def plans_frame(plans: list):
    """`plan_frame` of each plan, stacked, with `rank` (1 = best) first."""
    import pandas as pd

    frames = [plan_frame(p).assign(rank=i) for i, p in enumerate(plans, 1)]
    if not frames:
        return pd.DataFrame(columns=["rank"])
    out = pd.concat(frames, ignore_index=True)
    return out[["rank", *[c for c in out.columns if c != "rank"]]]


def sweep_frame(points: list, kind: str):
    """One row per sweep point: the swept value (`users` or `budget`), status (optimal, feasible or
    infeasible), cost (plan currency), currency, users served, nodes, power (W), what to buy, and why
    no plan exists where none does."""
    import pandas as pd

    rows = []
    for pt in points:
        if pt.plan is None:
            rows.append({kind: pt.value, "status": "infeasible", "cost": None, "currency": None, "users_served": None,
                         "nodes": None, "power_w": None, "buy": None,
                         "why": (pt.explanation or {}).get("summary", "")})
            continue
        t = pt.plan.totals
        rows.append({kind: pt.value, "status": pt.plan.status, "cost": float(t.cost), "currency": t.currency,
                     "users_served": t.users, "nodes": t.nodes, "power_w": t.power_w,
                     "buy": " + ".join(f"{line.nodes} × {line.item}" for line in pt.plan.lines), "why": ""})
    return pd.DataFrame(rows, columns=[kind, "status", "cost", "currency", "users_served", "nodes", "power_w",
                                       "buy", "why"])


def csv_text(rows: list[dict[str, Any]] | list[list[Any]], columns: list[str]) -> str:
    """CSV text of `rows` (dicts by column name, or lists in column order) through pandas; values are
    written as they are (object dtype: no int → float promotion), None as an empty cell."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns, dtype=object).to_csv(index=False, lineterminator="\n")

"""Is prefill/decode disaggregation cheaper for DeepSeek-R1 with long prompts? (issue 12's question)

    python -m benchmarks.disagg_r1             # table
    python -m benchmarks.disagg_r1 --json      # for scripts

The bundled problem `deepseek-r1-8k-disaggregated`: DeepSeek-R1 in fp8, 100 concurrent users,
8,192-token prompts, 1,024-token answers, ≥ 20 tok/s per user, TTFT ≤ 2 s at the 90th percentile
(answer length and speed are the problem file's stated assumptions). For the whole catalog and for
each node type alone it solves the plan both ways — aggregated replicas, and a prefill pool plus a
decode pool (optimizer/disagg.py; the pools may differ in node type) — priced with the network and
racks, and prints each plan's cost, nodes and which is cheaper by how much. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from catalog.errors import NoPlanError  # noqa: E402
from optimizer.problem import load_problem  # noqa: E402
from optimizer.solve import optimize  # noqa: E402
from problems import bundled_problem_path  # noqa: E402

ALONE = ("h200-sxm", "b200", "h100-sxm", "mi300x", "mi355x")


def _solve(catalog, problem, serving: str) -> dict:
    start = time.perf_counter()
    try:
        plan = optimize(catalog, problem.model_copy(update={"serving": serving}))
    except NoPlanError as err:
        return {"cost": None, "nodes": None, "lines": [], "why": str(err).split(":")[0],
                "seconds": round(time.perf_counter() - start, 1)}
    return {"cost": float(plan.totals.cost), "nodes": plan.totals.nodes, "seconds": round(time.perf_counter() - start, 1),
            "lines": [f"{l.role} {l.replicas}× {l.item} {l.layout}" for l in plan.lines]}


def rows() -> list[dict]:
    catalog = load_catalog()
    base = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated"))
    out = []
    for acc in (None, *ALONE):
        problem = base if acc is None else base.model_copy(
            update={"constraints": base.constraints.model_copy(update={"accelerators": [acc]})})
        agg, dis = _solve(catalog, problem, "aggregated"), _solve(catalog, problem, "disaggregated")
        cheaper = None
        if agg["cost"] is not None or dis["cost"] is not None:
            cheaper = "disaggregated" if agg["cost"] is None or (dis["cost"] is not None and dis["cost"] < agg["cost"]) \
                else "aggregated"
        out.append({"node types": acc or "all", "aggregated": agg, "disaggregated": dis, "cheaper": cheaper})
    return out


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = rows()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print("DeepSeek-R1 fp8, 100 users, 8,192 in / 1,024 out, ≥ 20 tok/s, TTFT p90 ≤ 2 s (USD)")
    print(f"{'node types':<10} {'aggregated':>11} {'nodes':>5} {'disaggregated':>13} {'nodes':>5} {'cheaper':>14}")
    for r in data:
        a, d = r["aggregated"], r["disaggregated"]
        print(f"{r['node types']:<10} {_money(a['cost']):>11} {a['nodes'] or '—':>5} {_money(d['cost']):>13} "
              f"{d['nodes'] or '—':>5} {r['cheaper'] or '—':>14}")
    for r in data:
        for mode in ("aggregated", "disaggregated"):
            for line in r[mode]["lines"]:
                print(f"  {r['node types']}, {mode}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

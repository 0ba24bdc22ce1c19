"""Solve time of every bundled problem, in-process (import time excluded): the best of three runs each.

    python -m benchmarks.bundled_solve_times

Run it on two checkouts to compare a change's cost (the layout search of issue 11 was kept within
about 2× of the solve time before it). It prints figures and never asserts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> int:
    from catalog import load_catalog
    from optimizer.problem import load_problem
    from optimizer.solve import optimize

    catalog = load_catalog()
    total = 0.0
    for path in sorted((Path(__file__).resolve().parent.parent / "problems").glob("*.yaml")):
        problem = load_problem(path)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            optimize(catalog, problem)
            best = min(best, time.perf_counter() - start)
        total += best
        print(f"{path.stem:<40} {best:7.3f} s")
    print(f"{'total (best of 3 each)':<40} {total:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Interactive-speed figures: CLI start-up, one bundled solve, a shortlist, a sweep.

    python -m benchmarks.startup [--repeat 5]

Measures (median of --repeat runs, wall clock, on this machine):
- `hwplan --help` against `python -c "import click"` (target: within 2×);
- `hwplan catalog` (must not import ortools or pandas);
- `hwplan solve deepseek-r1-30-users` against `python -c "import ortools...cp_model, pydantic"`
  (target: under 1 s beyond those imports);
- a 10-plan shortlist of llama-3.1-70b-100-users against one solve of it, in process (target: within 3×);
- a 100-point sweep of llama-3.1-70b-100-users over users, in process (target: under 10 s).
It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    py = sys.executable
    hwplan = shutil.which("hwplan")
    cli = [hwplan] if hwplan else [py, "-m", "cli"]
    r = args.repeat

    click_import = _wall([py, "-c", "import click"], r)
    help_time = _wall([*cli, "--help"], r)
    catalog_time = _wall([*cli, "catalog"], r)
    heavy_import = _wall([py, "-c", "import ortools.sat.python.cp_model, pydantic"], r)
    solve_time = _wall([*cli, "solve", "deepseek-r1-30-users"], r)
    label = "python -c 'import click'"
    print(f"{label:<44} {click_import:7.3f} s")
    print(f"{'hwplan --help':<44} {help_time:7.3f} s   ({help_time / click_import:.2f}× import click; target ≤ 2×)")
    print(f"{'hwplan catalog':<44} {catalog_time:7.3f} s")
    label = "python -c 'import ortools…cp_model, pydantic'"
    print(f"{label:<44} {heavy_import:7.3f} s")
    print(f"{'hwplan solve deepseek-r1-30-users':<44} {solve_time:7.3f} s   "
          f"({solve_time - heavy_import:+.3f} s beyond those imports; target < 1 s)")

    from catalog import load_catalog
    from optimizer import load_problem, optimize
    from optimizer.search import shortlist, sweep
    from problems import bundled_problem_path

    catalog = load_catalog()
    # The street-price list has dozens of node types: a shortlist there has ten real alternatives.
    problem = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    optimize(catalog, problem)  # warm imports
    one = _timed(lambda: optimize(catalog, problem), r)
    ten = _timed(lambda: shortlist(catalog, problem, k=10), r)
    plans = len(shortlist(catalog, problem, k=10))
    print(f"{'one solve of llama-3.1-70b-100-users':<44} {one:7.3f} s")
    print(f"{f'{plans}-plan shortlist of the same':<44} {ten:7.3f} s   ({ten / one:.1f}× one solve; target ≤ 3×)")
    llama = load_problem(bundled_problem_path("llama-3.1-70b-100-users"))
    users = [float(u) for u in range(10, 1010, 10)]
    hundred = _timed(lambda: sweep(catalog, llama, users=users, workers=1), max(1, r // 2))
    print(f"{'100-point sweep (in process, 1 worker)':<44} {hundred:7.3f} s   (target < 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Catalog-scale benchmark: solve, shortlist and Pareto front on a synthetic catalog of
2,000 node types and 6,000 offers (tens of thousands of candidate units).

    python -m benchmarks.catalog_scale                 # 2,000 node types × 3 offers: solve, shortlist -k 3, pareto (10 points)
    python benchmarks/catalog_scale.py --stock         # 200 node types, offers with stock, at most 3 sellers
    python -m benchmarks.catalog_scale --profile       # in process: where the time of one solve goes

The catalog is generated from a seed (nothing in it is a real price): each node type clones one
of the bundled 8-/10-accelerator servers (so sizing is real: Llama 3.1 70B on H100, H200, B200,
MI300X, A100 ...), with its stated power varied by ±10%, and is offered by `--offers` sellers at
prices drawn around 25,000 USD per accelerator. `--stock` gives every offer a stock of 1–4 nodes
and caps the plan at 3 sellers, so offers become decision variables.

Each command runs as `hwplan ... --catalog GENERATED.yaml` in a subprocess; it prints wall time
and peak resident memory (ru_maxrss of the child), and the ratios shortlist/solve and
pareto/solve. Targets (issue 16): solve ≤ 5 s and ≤ 300 MB; shortlist ≤ 3×, a 10-point Pareto
front ≤ 10× one solve, on 2 cores. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from catalog import load_catalog  # noqa: E402
from optimizer.units import node_power_w  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("hgx-h200-8x", "dgx-h200", "hgx-h100-8x", "hgx-h800-8x", "xe9680-h20-8x", "mi300x-8x",
             "a100-pcie-10x", "a800-pcie-10x", "dgx-h100", "dgx-b200")
SOURCE = "assumption: synthetic benchmark catalog (benchmarks/catalog_scale.py), not real prices"


def make_catalog(n_types: int, offers_per_type: int, stock: bool, seed: int) -> dict:
    """A catalog file (as a dict) with `n_types` systems and one price list of
    `n_types × offers_per_type` offers from 50 sellers."""
    rng = random.Random(seed)
    base = load_catalog()
    systems, offers = [], []
    for i in range(n_types):
        t = base.systems[TEMPLATES[i % len(TEMPLATES)]]
        power = node_power_w(base.platforms[t.platform], base.accelerators[t.accelerator], t.count, t)
        sid = f"scale-{i:04d}-{t.id}"
        systems.append({"id": sid, "name": f"Synthetic {t.name} #{i}", "maker": "synthetic", "platform": t.platform,
                        "accelerator": t.accelerator, "count": t.count,
                        "max_power_w": round(power * rng.uniform(0.9, 1.1)), "source": SOURCE, "date": "2026-11"})
        for j in range(offers_per_type):
            offer = {"item": sid, "price": round(25_000 * t.count * rng.lognormvariate(0, 0.3), 2),
                     "seller": f"seller-{rng.randrange(50):02d}", "source": SOURCE, "price_date": "2026-11"}
            if stock:
                offer["stock"] = rng.randint(1, 4)
            offers.append(offer)
    return {"schema_version": 1, "systems": systems,
            "price_lists": [{"id": "scale-bench", "name": "Synthetic benchmark prices", "currency": "USD",
                             "source": SOURCE, "date": "2026-11", "offers": offers}]}


def make_problem(users: int, stock: bool, serving: str | None = None) -> dict:
    """The question asked of the generated catalog; `serving` None leaves hwplan's default (auto: an aggregated
    and a disaggregated plan, the better one kept)."""
    constraints: dict = {"form_factors": ["sxm", "oam", "pcie"], "max_nodes_per_replica": 6}
    if stock:
        constraints["max_sellers"] = 3
    return {"name": "catalog-scale", "description": "Catalog-scale benchmark (synthetic prices).",
            "model": "llama-3.1-70b", "precision": "auto",
            "workload": {"concurrent_users": users, "input_tokens": 1000, "output_tokens": 500,
                         "min_tokens_per_s": 20},
            "constraints": constraints, "prices": "scale-bench", "objective": "cost",
            **({"serving": serving} if serving else {})}


def run(cmd: list[str]) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MB) and exit code of `cmd`, and its
    stderr's last line. CPU seconds tell a slow program from a busy machine."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read().strip().splitlines() if proc.stderr else []   # before waiting: a full pipe blocks
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
            (err[-1] if err else ""))


def profile(cat_path: Path, prob_path: Path, top: int) -> None:
    """cProfile one in-process solve (catalog loading included) and print the top functions."""
    import cProfile
    import pstats

    from optimizer.problem import load_problem
    from optimizer.solve import optimize

    catalog = load_catalog([str(cat_path)])
    problem = load_problem(str(prob_path))
    prof = cProfile.Profile()
    prof.enable()
    optimize(catalog, problem)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.catalog_scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--types", type=int, default=None, help="node types (default 2,000; 200 with --stock)")
    ap.add_argument("--offers", type=int, default=3, help="offers per node type (default 3)")
    ap.add_argument("--users", type=int, default=2000, help="concurrent users to serve (default 2,000)")
    ap.add_argument("--stock", action="store_true", help="offers with stock and at most 3 sellers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=600.0, help="hwplan --time-limit (default 600 s)")
    ap.add_argument("--only", choices=("solve", "shortlist", "pareto"), action="append",
                    help="run only these commands (repeatable)")
    ap.add_argument("--profile", action="store_true", help="profile one solve in process instead")
    ap.add_argument("--serving", choices=("aggregated", "disaggregated", "auto"),
                    help="the problem's serving mode (default: unset, hwplan's default auto)")
    args = ap.parse_args(argv)
    types = args.types or (200 if args.stock else 2000)
    with tempfile.TemporaryDirectory(prefix="hwplan-scale-") as tmp:
        cat_path, prob_path = Path(tmp) / "catalog.yaml", Path(tmp) / "problem.yaml"
        cat_path.write_text(yaml.safe_dump(make_catalog(types, args.offers, args.stock, args.seed), sort_keys=False))
        prob_path.write_text(yaml.safe_dump(make_problem(args.users, args.stock, args.serving), sort_keys=False))
        if args.profile:
            profile(cat_path, prob_path, 30)
            return
        hw = [sys.executable, "-c", "import cli; cli.main()"]
        common = [str(prob_path), "--catalog", str(cat_path), "--time-limit", str(args.time_limit), "--format", "json"]
        commands = {"solve": ["solve"], "shortlist": ["shortlist", "-k", "3"],
                    "pareto": ["pareto", "--max-points", "10"]}
        print(f"{types:,} node types, {types * args.offers:,} offers"
              f"{' with stock, at most 3 sellers' if args.stock else ''}; {args.users:,} users of llama-3.1-70b; "
              f"serving: {args.serving or 'unset (auto)'}")
        times: dict[str, float] = {}
        for name, sub in commands.items():
            if args.only and name not in args.only:
                continue
            seconds, cpu, mb, code, err = run(hw + sub + common)
            times[name] = seconds
            ratio = f"  {seconds / times['solve']:.1f}× solve" if name != "solve" and "solve" in times else ""
            print(f"  {name:<10} {seconds:8.1f} s ({cpu:.1f} s CPU) {mb:6.0f} MB peak  exit {code}{ratio}"
                  + (f"  [{err}]" if code else ""))


if __name__ == "__main__":
    main()

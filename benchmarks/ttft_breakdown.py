"""Why are the TTFT rows off? Each published TTFT row split into what the serving model adds up.

    python -m benchmarks.ttft_breakdown            # table
    python -m benchmarks.ttft_breakdown --json     # for scripts
    python -m benchmarks.ttft_breakdown --fit benchmarks/ttft-fit.csv   # best cold stall on a file's rows

For every TTFT row of the files `hwplan validate` reads (`ttft_ms`, the mean, and `ttft_median_ms`, the
median: column stat), on the layout and settings the row states (optimizer/validate.py), it prints, in
milliseconds, each figure as the row's statistic:

- prefill: P(I), one prompt alone (optimizer/speed.py `prefill_time`);
- wave: the mean TTFT if every request started in a wave of C (`arrivals: synchronized`,
  optimizer/serving.py) and steady: the mean TTFT of C independent users (`arrivals: random`,
  Mean Value Analysis), both with the engine's fixed overhead;
- model: what `hwplan validate` predicts for the row: for InferenceX rows the row's own benchmark run
  replayed step by step (`serving.benchmark_run`): 10·C prompts at `--max-concurrency C` with lengths
  uniform in [0.8, 1] × the nominal ones, the engine's queued steps and cold-shape stall
  (https://github.com/SemiAnalysisAI/InferenceX/blob/ed5867f9e/benchmarks/benchmark_lib.sh), the
  engine's chunk budget and intake interval as the row's launch settings state them; for other rows
  the wave or the steady figure, as the row's arrivals;
- k: how many times slower than modelled prefill would have to be for `replay` to equal the
  measurement (P(I) scaled inside the model, so queueing follows);
- rho_max: the largest share of the replica's time prefill can take and still leave the measured
  TPOT, 1 − τ(C)/TPOT (decodes wait while prompts run), when the row's notes give the mean TPOT.
  A k far above 1 at C = 1-4 (no queueing) says one prompt's prefill (or the engine's fixed per-request
  latency) is slower than the speed model's P(I); τ(C) is the decode model's, whose factors were fitted
  on these runs' tok/s rows (measurements-fit.csv), so rho_max leans on that fit;
- TPOT model / measured: the replay's mean TPOT as the client measures it, (end − first token)/(output − 1),
  against the mean TPOT the row's notes give. τ(C) is fitted as above; what the replay adds to it, the decodes
  held up by prefill steps, is not.

`--fit FILE` searches the cold-shape stall of each engine in FILE (serving.COLD_STALL_S) instead: for every
stall on a grid of 0-3 s in 0.05 s steps it replays the file's InferenceX TTFT rows and prints the stall
with the smallest mean |log(predicted / measured)| (ties: the smaller stall; the log scale weighs an
over- and an under-prediction by the same factor alike, as benchmarks/calibrate.py does), with each row's error.
benchmarks/ttft-fit.csv (InferenceX issue 870's SGLang runs) was the stall's fit file until the replay went step
by step (2026-12); no stall fits it since, and COLD_STALL_S is the stall measured directly (serving.py).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from catalog.yamlio import read_csv  # noqa: E402
from optimizer import serving, speed, validate  # noqa: E402



def _times(case: validate.Case, catalog) -> tuple[serving.Times, int, int, int, str | serving.Benchmark]:
    """The replica's serving times for one row, captured from the estimator's own call."""
    seen: dict = {}
    real = serving.closed_loop

    def spy(times, users, i, o, arrivals="random", spec=None):
        if not seen:     # the estimator's call (a replay calls closed_loop again for its steady state)
            seen.update(times=times, users=users, i=i, o=o, arrivals=arrivals)
        return real(times, users, i, o, arrivals=arrivals, spec=spec)

    serving.closed_loop = spy
    try:
        validate.predict(case, catalog)
    finally:
        serving.closed_loop = real
    return seen["times"], seen["users"], seen["i"], seen["o"], seen["arrivals"]


def _measured_tpot_s(notes: str) -> float | None:
    found = re.search(r"mean TPOT ([\d.]+) ms", notes)
    return float(found.group(1)) / 1000 if found else None


def _scaled(times: serving.Times, k: float) -> serving.Times:
    """`times` with every prefill k times slower: one prompt alone and prompts packed in one step alike."""
    packed = times.prefill_packed
    return dataclasses.replace(times, prefill_time=lambda tokens: k * times.prefill_time(tokens),
                               prefill_packed=None if packed is None else lambda tokens, n: k * packed(tokens, n))


def _statistic(result: serving.ServingResult, metric: str) -> float:
    """The TTFT a row's metric reads: the median for `ttft_median_ms`, else the mean (seconds)."""
    return result.ttft_median_s if metric == "ttft_median_ms" else result.ttft_s


def _prefill_multiple(times, c, i, o, arrivals, measured_s: float, metric: str = "ttft_ms") -> float:
    """k with the row's TTFT (replayed, or steady; the mean or the median as `metric`) at k × P(I) equal to
    `measured_s` (bisection on a log scale over 1/4 … 64, 16 steps: within 0.01%)."""
    lo, hi = 0.25, 64.0
    for _ in range(16):
        mid = math.sqrt(lo * hi)
        if _statistic(serving.closed_loop(_scaled(times, mid), c, i, o, arrivals=arrivals), metric) < measured_s:
            lo = mid
        else:
            hi = mid
    return lo


def fit_cold_stall(path: Path, grid: int = 60, step_s: float = 0.05) -> dict[str, tuple[float, list]]:
    """Per engine of `path`'s InferenceX TTFT rows: (stall s, [(row id, predicted / measured − 1)]) with the
    smallest mean |log(predicted / measured)| over stalls 0, step_s, …, grid·step_s (ties: the smaller stall)."""
    catalog = load_catalog()
    cases, _ = validate.read_cases(path, catalog)
    cases = [c for c in cases if c.metric == "ttft_ms" and c.benchmark is not None]
    best: dict[str, tuple[float, float, list]] = {}
    for engine in sorted({c.engine for c in cases}):
        mine = [c for c in cases if c.engine == engine]
        for n in range(grid + 1):
            stall = n * step_s
            errors = [(c.id, validate.predict(dataclasses.replace(
                c, benchmark=dataclasses.replace(c.benchmark, cold_stall_s=stall)), catalog)[0] / c.measured - 1)
                for c in mine]
            score = statistics.fmean(abs(math.log1p(e)) for _, e in errors)
            if engine not in best or score < best[engine][1] - 1e-12:
                best[engine] = (stall, score, errors)
    return {e: (stall, errors) for e, (stall, _, errors) in best.items()}


def rows() -> list[dict]:
    catalog = load_catalog()
    out = []
    for path in validate.measurement_files():
        cases, _ = validate.read_cases(path, catalog)
        _, raw = read_csv(path, what="measurements file", required=validate.COLUMNS)
        notes = {r["id"]: r.get("notes") or "" for r in raw}
        for case in cases:
            if case.metric not in validate.TTFT_METRICS:
                continue
            times, c, i, o, arrivals = _times(case, catalog)
            wave = serving.closed_loop(times, c, i, o, arrivals="synchronized")
            steady = serving.closed_loop(times, c, i, o, arrivals="random")
            replay = serving.closed_loop(times, c, i, o, arrivals=arrivals)
            k = _prefill_multiple(times, c, i, o, arrivals, case.measured / 1000, case.metric)
            stat = "p50" if case.metric == "ttft_median_ms" else "mean"
            tpot = _measured_tpot_s(notes.get(case.id, ""))
            rho_max = None if tpot is None else max(0.0, 1 - steady.step_s / tpot)
            out.append({"tpot_ms": round(replay.tpot_s * 1000, 1),
                        "measured_tpot_ms": None if tpot is None else round(tpot * 1000, 1),
                        "id": case.id, "statistic": stat, "file": Path(path).name, "engine": case.engine,
                        "accelerator": case.accelerator, "users": c, "input": i, "output": o,
                        "budget": times.budget,
                        "intake_steps": arrivals.intake_steps if isinstance(arrivals, serving.Benchmark) else 1,
                        "prefill_ms": round(steady.prefill_s * 1000, 1),
                        "wave_ms": round(_statistic(wave, case.metric) * 1000),
                        "steady_ms": round(_statistic(steady, case.metric) * 1000),
                        "replay_ms": round(_statistic(replay, case.metric) * 1000),
                        "measured_ms": case.measured, "k": round(k, 2),
                        "rho_max": None if rho_max is None else round(rho_max, 2)})
    return out


def _tpot_pair(row: dict) -> str:
    """'model/measured' TPOT in ms, '—' where the notes give none."""
    if row["measured_tpot_ms"] is None:
        return "—"
    return f"{row['tpot_ms']:.0f}/{row['measured_tpot_ms']:.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--fit", metavar="FILE", help="fit each engine's cold-shape stall on FILE's TTFT rows")
    args = parser.parse_args(argv)
    if args.fit:
        if not Path(args.fit).is_file():
            print(f"Error: --fit = {args.fit}: no such file (give a measurements CSV such as "
                  f"benchmarks/ttft-fit.csv).", file=sys.stderr)
            raise SystemExit(2)
        for engine, (stall, errors) in fit_cold_stall(Path(args.fit)).items():
            shown = ", ".join(f"{i} {e:+.0%}" for i, e in errors)
            print(f"{engine}: COLD_STALL_S = {stall:.2f} s, median |error| "
                  f"{statistics.median(abs(e) for _, e in errors):.1%} ({shown})")
        return
    data = rows()
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print(f"{'row':9} {'stat':4} {'engine':7} {'C':>4} {'I':>5} {'P(I)':>5} {'wave':>6} {'steady':>6} {'model':>6} "
          f"{'meas':>6} {'k':>5} {'rho':>4} {'TPOT':>10}")
    for r in data:
        rho = "—" if r["rho_max"] is None else f"{r['rho_max']:.2f}"
        print(f"{r['id']:9} {r['statistic']:4} {r['engine']:7} {r['users']:>4} {r['input']:>5} {r['prefill_ms']:>5.0f} "
              f"{r['wave_ms']:>6} {r['steady_ms']:>6} {r['replay_ms']:>6} {r['measured_ms']:>6.0f} {r['k']:>5.1f} "
              f"{rho:>4} {_tpot_pair(r):>10}")

if __name__ == "__main__":
    main()

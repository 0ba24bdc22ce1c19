"""Fit the speed model's efficiency factors to published measurements, and check they generalize.

    python -m benchmarks.calibrate                     # fit on the fit set, 5-fold CV, error on the test set
    python benchmarks/calibrate.py --folds 0           # the fit only (as a script too)
    python -m benchmarks.calibrate --yaml              # print the fitted factors as engines.yaml entries
    python -m benchmarks.calibrate --write-summary     # record the figures in catalog/data/calibration-summary.json

Data: every measurement file whose name ends in `-fit.csv` (catalog/data/measurements-fit.csv)
is fitted on; files ending in `-test.csv` are only scored, never fitted on (giving one is an
error), and share no publisher with the fit files (optimizer/validate.py `source_publisher`).

Parameters (few, each with a physical reason):
- per engine: decode bandwidth efficiency, batched-decode compute efficiency, prefill
  efficiency, fixed step overhead, per-layer overhead, and the extra overhead of an MoE layer
  (router, top-k, permutation and grouped-GEMM kernels) (kernel quality and scheduler cost);
- per hardware family: one scale on the three efficiencies (software maturity of the
  vendor stack: ROCm, CANN, CPU kernels) and an added per-layer overhead (eager-mode
  dispatch on stacks without graph capture);
- per engine on a family (where that pair has at least `--min-rows` speed rows): a further
  scale on the efficiencies and an added time per MoE layer, because one engine's kernels
  for a family can differ from another's on the same family: on CPU sockets, SGLang's AMX
  MoE kernels read weights at 85% of peak bandwidth while llama.cpp computes a token's
  experts one after another, each split over every core
  (https://github.com/lm-sys/lm-sys.github.io/blob/429fb171de3718b34ac0739003d09e927d59a910/blog/2025-07-14-intel-xeon-optimization.md);
- per engine release rule (engines.yaml `early_releases`): the slowdown of releases from
  before a model architecture's kernels matured, moved only by the rows that ran such a
  release (searched over EARLY_GRID, no prior).
Family terms are fitted only where the family has at least `--min-rows` speed rows;
elsewhere the engine default applies. The loss is a Huber loss on |log(predicted /
measured)| so that a few rows from early software (which ran several times slower)
cannot drag every factor down. k-fold cross-validation (rows shuffled with a fixed
seed) reports the error on rows the fit did not see. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import json
from datetime import date

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from catalog.schema import EngineEfficiency  # noqa: E402
from optimizer.validate import SPEED_METRICS, Case, file_role, measurement_files, predict, read_cases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "catalog" / "data" / "calibration-summary.json"
FIELDS = ("bandwidth", "compute", "prefill", "step_overhead_ms", "layer_overhead_us", "moe_layer_overhead_us")
BOUNDS = {"bandwidth": (0.2, 0.95), "compute": (0.1, 0.9), "prefill": (0.1, 0.9), "step_overhead_ms": (0.0, 50.0),
          "layer_overhead_us": (0.0, 5000.0), "moe_layer_overhead_us": (0.0, 5000.0),
          "scale": (0.2, 1.5), "extra_layer_us": (0.0, 5000.0),
          "slowdown": (1.0, 20.0)}


@dataclasses.dataclass
class Params:
    engine: dict[str, dict[str, float]]
    family_scale: dict[str, float]
    family_layer_us: dict[str, float]
    # engine id -> {`before` release -> slowdown} of engines.yaml `early_releases`
    early: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    # (engine id, family) -> a scale on top of the family's, and an added time per MoE layer (µs)
    pair_scale: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)
    pair_moe_us: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)

    def copy(self) -> Params:
        return Params({e: dict(v) for e, v in self.engine.items()}, dict(self.family_scale), dict(self.family_layer_us),
                      {e: dict(v) for e, v in self.early.items()}, dict(self.pair_scale), dict(self.pair_moe_us))

    def families(self) -> list[str]:
        """Every family with terms of its own (for the family or for one engine on it)."""
        return sorted(set(self.family_scale) | set(self.family_layer_us) | {f for _, f in self.pair_scale})


def _efficiency(p: Params, engine: str, family: str) -> EngineEfficiency:
    base = p.engine[engine]
    s = p.family_scale.get(family, 1.0) * p.pair_scale.get((engine, family), 1.0)
    return EngineEfficiency(bandwidth=min(0.98, base["bandwidth"] * s), compute=min(0.98, base["compute"] * s),
                            prefill=min(0.98, base["prefill"] * s), step_overhead_ms=base["step_overhead_ms"],
                            layer_overhead_us=base["layer_overhead_us"] + p.family_layer_us.get(family, 0.0),
                            moe_layer_overhead_us=base["moe_layer_overhead_us"] + p.pair_moe_us.get((engine, family), 0.0),
                            source="fitted by benchmarks/calibrate.py")


def apply(catalog, p: Params):
    engines = {}
    for eid, eng in catalog.engines.items():
        eff = {"default": _efficiency(p, eid, "default")}
        for fam in p.families():
            eff[fam] = _efficiency(p, eid, fam)
        early = [r.model_copy(update={"slowdown": p.early.get(eid, {}).get(r.before, r.slowdown)})
                 for r in eng.early_releases]
        engines[eid] = eng.model_copy(update={"efficiency": eff, "early_releases": early})
    return dataclasses.replace(catalog, engines=engines)


def start_params(catalog) -> Params:
    engine = {}
    for eid, eng in catalog.engines.items():
        d = eng.efficiency["default"]
        engine[eid] = {f: float(getattr(d, f)) for f in FIELDS}
    early = {eid: {r.before: r.slowdown for r in eng.early_releases} for eid, eng in catalog.engines.items()
             if eng.early_releases}
    return Params(engine=engine, family_scale={}, family_layer_us={}, early=early)


def early_row(case: Case, engine: str, before: str, catalog) -> bool:
    """Whether `case` ran a release the `early_releases` rule (engine, before) covers: only such rows
    move that rule's slowdown."""
    if case.engine != engine:
        return False
    kind = catalog.models[case.model].attention.kind
    return any(r.before == before and r.applies(case.engine_version, kind, case.precision)
               for r in catalog.engines[engine].early_releases)


def family_of(case: Case, catalog) -> str:
    return catalog.accelerators[case.accelerator].family


def loss_terms(cases: list[Case], catalog) -> list[float]:
    out = []
    for case in cases:
        try:
            value, est = predict(case, catalog)
        except Exception:
            value = None
        if not value or value <= 0:
            out.append(3.0)
            continue
        out.append(abs(math.log(value / case.measured)))
    return out


def huber(xs: list[float], delta: float = 0.3) -> float:
    return sum(x * x / 2 if x <= delta else delta * (x - delta / 2) for x in xs) / max(1, len(xs))


# Priors: the values a reader would guess before seeing data (published kernel efficiencies of
# 60–80% of peak bandwidth and ~50% of peak FLOPS), and two measured overheads. The fit may move away
# from them only as far as the data pays for.
# - step_overhead_ms 1.0: the fixed time of one CUDA-graph decode step, from a model whose weights take no
#   time to read: GPT-2 (12 layers) on H200 at batch 1, 1.3 ms per token under vLLM and 1.04 ms under SGLang
#   with CUDA graphs (https://github.com/deepspeedai/DeepSpeed/pull/8352), less 12 layers × 20 µs.
# - moe_layer_overhead_us 50: the fixed time of one MoE layer's kernels beyond its weight reads: SGLang 0.5.9's
#   fused MoE for DeepSeek-V3's shape (hidden 7168, 256 experts, top 8, fp8 block, TP8) on H200 takes 51.9 µs
#   for one token, whose 8 experts' weights (5.5 MB per rank) read in 1.2 µs (AIConfigurator's database,
#   https://github.com/ai-dynamo/aiconfigurator, commit 095f58a,
#   aic-core/src/aiconfigurator_core/systems/data/h200_sxm/moe/sglang/0.5.9/moe_perf.parquet).
PRIOR = {"bandwidth": 0.7, "compute": 0.5, "prefill": 0.5, "step_overhead_ms": 1.0, "layer_overhead_us": 20.0,
         "moe_layer_overhead_us": 50.0}
PRIOR_WEIGHT = 0.01


def prior_penalty(p: Params) -> float:
    total = 0.0
    for values in p.engine.values():
        for f, v in values.items():
            total += math.log(max(v, 0.05) / max(PRIOR[f], 0.05)) ** 2
    total += sum(math.log(s) ** 2 for s in p.family_scale.values())
    total += sum(math.log(s) ** 2 for s in p.pair_scale.values())
    # No prior on an early release's slowdown: nobody has a guess for how much slower a release ran before
    # a model's kernels matured; only the rows of that release set it.
    return PRIOR_WEIGHT * total


def _start(cases: list[Case], catalog, min_rows: int, warm: bool = True) -> Params:
    """The catalog's factors, plus a scale and an extra per-layer time for every family other than Hopper
    (the reference family, most rows) with at least `min_rows` rows, and a scale and an extra MoE-layer
    time for every engine on such a family that itself has `min_rows` rows there, when the family's rows
    come from more than one engine (else the family's own terms are that engine's). `warm`: those terms start
    where engines.yaml has them (`_warm`), else at scale 1 and no added time."""
    p = start_params(catalog)
    fam_rows, pair_rows = defaultdict(int), defaultdict(int)
    for c in cases:
        fam_rows[family_of(c, catalog)] += 1
        pair_rows[(c.engine, family_of(c, catalog))] += 1
    for fam, n in fam_rows.items():
        if fam != "hopper" and n >= min_rows:
            p.family_scale[fam] = 1.0
            p.family_layer_us[fam] = 0.0
    for (engine, fam), n in pair_rows.items():
        if fam in p.family_scale and n >= min_rows and n < fam_rows[fam] and fam in PAIR_FAMILIES:
            p.pair_scale[(engine, fam)] = 1.0
            p.pair_moe_us[(engine, fam)] = 0.0
    if warm:
        _warm(p, catalog)
    return p


def _warm(p: Params, catalog) -> None:
    """Start every family and pair term where engines.yaml stands (the last fit), so that a refit moves on from
    it instead of from scratch: a family's scale and extra per-layer time from the first engine (by id) without
    pair terms on it; a pair's scale and extra MoE-layer time from its engine's map over the family's terms."""
    for fam in p.family_scale:
        for eid in sorted(catalog.engines):
            eff, base = catalog.engines[eid].efficiency.get(fam), catalog.engines[eid].efficiency["default"]
            if eff is not None and (eid, fam) not in p.pair_scale and eff.bandwidth < 0.98:
                p.family_scale[fam] = min(BOUNDS["scale"][1], max(BOUNDS["scale"][0], eff.bandwidth / base.bandwidth))
                p.family_layer_us[fam] = max(0.0, eff.layer_overhead_us - base.layer_overhead_us)
                break
    for eid, fam in p.pair_scale:
        eff, base = catalog.engines[eid].efficiency.get(fam), catalog.engines[eid].efficiency["default"]
        if eff is not None:
            scale = eff.bandwidth / (base.bandwidth * p.family_scale[fam])
            p.pair_scale[(eid, fam)] = min(BOUNDS["scale"][1], max(BOUNDS["scale"][0], scale))
            p.pair_moe_us[(eid, fam)] = max(0.0, eff.moe_layer_overhead_us - base.moe_layer_overhead_us)


# Families whose engines get terms of their own (`_start`): CPU sockets, where each engine brings its own kernels
# (SGLang's AMX backend, llama.cpp's ggml) rather than sharing the vendor's GEMM, attention and MoE libraries.
PAIR_FAMILIES = ("cpu",)


def fit(cases: list[Case], catalog, min_rows: int, rounds: int = 8, warm: bool = True) -> Params:
    """Coordinate descent on the Huber loss plus priors: each round moves every knob by STEPS (early
    releases over EARLY_GRID) and keeps any move that lowers the objective. `warm`: start the family and
    pair terms from engines.yaml (a refit); cross-validation starts them cold, since engines.yaml was
    fitted on the rows a fold holds out."""
    p = _start(cases, catalog, min_rows, warm)
    engines_used = {c.engine for c in cases}

    # A knob moves only its own rows (an engine's factors and early releases: that engine's rows; a family's
    # scale and overhead: that family's rows), so each try re-predicts those rows and keeps the others' terms.
    by_engine, by_family, by_pair = defaultdict(list), defaultdict(list), defaultdict(list)
    for i, c in enumerate(cases):
        by_engine[c.engine].append(i)
        by_family[family_of(c, catalog)].append(i)
        by_pair[(c.engine, family_of(c, catalog))].append(i)
    terms = loss_terms(cases, apply(catalog, p))
    best = huber(terms) + prior_penalty(p)
    for _ in range(rounds):
        improved = False
        knobs = [("engine", e, f) for e in sorted(engines_used) for f in FIELDS]
        knobs += [("scale", fam, None) for fam in sorted(p.family_scale)]
        knobs += [("layer", fam, None) for fam in sorted(p.family_layer_us)]
        knobs += [(kind, pair, None) for pair in sorted(p.pair_scale) for kind in ("pair_scale", "pair_moe")]
        knobs += [("early", e, before) for e in sorted(p.early) for before in sorted(p.early[e])
                  if any(early_row(c, e, before, catalog) for c in cases)]
        for kind, key, fld in knobs:
            # An early release's slowdown only moves the few rows of that release: search it over a grid
            # of absolute values (EARLY_GRID) instead of small steps from where it stands.
            steps = [v / p.early[key][fld] for v in EARLY_GRID] if kind == "early" else STEPS
            rows = by_engine[key] if kind in ("engine", "early") else by_pair[key] if kind.startswith("pair") \
                else by_family[key]
            for step in steps:
                q = nudged(p, kind, key, fld, step)
                tried = list(terms)
                for i, t in zip(rows, loss_terms([cases[i] for i in rows], apply(catalog, q))):
                    tried[i] = t
                val = huber(tried) + prior_penalty(q)
                if val < best - 1e-9:
                    best, p, terms, improved = val, q, tried, True
        if not improved:
            break
    return p


STEPS = (0.5, 0.8, 0.9, 1.1, 1.25, 2.0)   # multiplicative moves of one knob per try
EARLY_GRID = tuple(round(1 + 0.1 * i, 1) for i in range(51))   # slowdowns 1.0, 1.1, … 6.0


def nudged(p: Params, kind: str, key: str, fld: str | None, step: float) -> Params:
    """A copy of `p` with one knob multiplied by `step`, kept within BOUNDS: an engine's field
    (kind 'engine'), a family's scale ('scale'), a family's extra per-layer time ('layer'), an engine's
    scale or extra MoE-layer time on a family ('pair_scale', 'pair_moe': key (engine, family)) or the
    slowdown of an engine's early releases ('early': key the engine, fld the rule's `before`)."""
    q = p.copy()
    if kind == "engine":
        lo, hi = BOUNDS[fld]
        cur = q.engine[key][fld]
        q.engine[key][fld] = min(hi, max(lo, (cur if cur > 0 else PRIOR.get(fld, 1.0)) * step))
    elif kind == "early":
        lo, hi = BOUNDS["slowdown"]
        q.early[key][fld] = min(hi, max(lo, q.early[key][fld] * step))
    elif kind == "scale":
        lo, hi = BOUNDS["scale"]
        q.family_scale[key] = min(hi, max(lo, q.family_scale[key] * step))
    elif kind == "pair_scale":
        lo, hi = BOUNDS["scale"]
        q.pair_scale[key] = min(hi, max(lo, q.pair_scale[key] * step))
    elif kind == "pair_moe":
        cur = q.pair_moe_us[key]
        q.pair_moe_us[key] = min(BOUNDS["extra_layer_us"][1], (cur if cur > 0 else 50.0) * step)
    else:
        cur = q.family_layer_us[key]
        q.family_layer_us[key] = min(BOUNDS["extra_layer_us"][1], (cur if cur > 0 else 50.0) * step)
    return q


def summarize(label: str, terms: list[float], cases: list[Case], catalog) -> None:
    errs = [math.exp(t) - 1 if t < 3 else float("inf") for t in terms]
    med = statistics.median(errs) if errs else float("nan")
    within = sum(e <= 0.25 for e in errs) / max(1, len(errs))
    print(f"{label:<44} rows {len(errs):>4}  median |error| {med:6.1%}  within ±25% {within:5.0%}")
    groups = defaultdict(list)
    for c, e in zip(cases, errs):
        groups[c.family_group].append(e)
    for g, es in sorted(groups.items()):
        print(f"    {g:<40} rows {len(es):>4}  median |error| {statistics.median(es):6.1%}")


ENGINES_YAML = ROOT / "catalog" / "data" / "engines.yaml"


def _source(files: list[str], rows: int) -> str:
    return (f"fitted by benchmarks/calibrate.py (Huber loss on log error, priors 0.7/0.5/0.5/1 ms/20 us/50 us) on {rows} "
            f"speed rows of {' and '.join(files)}; the test set (measurements-test.csv) is not fitted on")


def write_engines(params: Params, files: list[str], rows: int) -> None:
    """Replace each engine's `efficiency:` map in engines.yaml by the fit: `default`, plus every family
    the fit gave its own terms (one that equals default is left out). A family keeps the reason written
    after the first '; ' of its old source; families the fit no longer supports are dropped."""
    import re

    lines = ENGINES_YAML.read_text().splitlines()
    out, engine, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"  - id: (\S+)", line)
        if m:
            engine = m.group(1)
        early = re.match(r'(\s+- \{before: "([^"]+)", attention: \w+, (?:precisions: \[[^]]*\], )?slowdown: )[0-9.]+(,.*)', line)
        if early and early.group(2) in params.early.get(engine, {}):
            out.append(f"{early.group(1)}{params.early[engine][early.group(2)]:.2f}{early.group(3)}")
            i += 1
            continue
        if line.strip() == "efficiency:" and engine in params.engine:
            old, i = {}, i + 1
            while i < len(lines) and lines[i].startswith("      "):
                fam_m = re.match(r'      (\w+): .*source: "([^"]*)"', lines[i])
                # The family's own reason: what follows the fit's text (whose "; the test set ..." clause
                # is the fit's, not a reason, and would pile up over repeated writes).
                reasons = [r for r in fam_m.group(2).split("; ")[1:] if not r.startswith("the test set (")] \
                    if fam_m else []
                if reasons:
                    old[fam_m.group(1)] = "; ".join(reasons)
                i += 1
            out.append(line)
            default = _efficiency(params, engine, "default")
            for fam in ["default", *params.families()]:
                eff = _efficiency(params, engine, fam)
                if fam != "default" and (eff.bandwidth, eff.compute, eff.prefill, eff.layer_overhead_us,
                                         eff.moe_layer_overhead_us) == \
                        (default.bandwidth, default.compute, default.prefill, default.layer_overhead_us,
                         default.moe_layer_overhead_us):
                    continue
                reason = f"; {old[fam]}" if fam in old else ""
                out.append(f"      {fam}: {{bandwidth: {eff.bandwidth:.2f}, compute: {eff.compute:.2f}, prefill: "
                           f"{eff.prefill:.2f}, step_overhead_ms: {eff.step_overhead_ms:.1f}, layer_overhead_us: "
                           f"{eff.layer_overhead_us:.0f}, moe_layer_overhead_us: {eff.moe_layer_overhead_us:.0f}, "
                           f"source: \"{_source(files, rows)}{reason}\"}}")
            continue
        out.append(line)
        i += 1
    ENGINES_YAML.write_text("\n".join(out) + "\n")


def speed_cases(files: list[str], catalog) -> list[Case]:
    cases: list[Case] = []
    for f in files:
        got, _ = read_cases(f, catalog)
        cases += [c for c in got if c.metric in SPEED_METRICS]
    return cases


def cross_validate(cases: list[Case], catalog, folds: int, min_rows: int, seed: int) -> list[float]:
    """Each row's |log error| under a fit that did not see it (rows shuffled with `seed`)."""
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)
    held_terms: list[float] = [0.0] * len(cases)
    for k in range(folds):
        test = set(order[k::folds])
        train = [c for i, c in enumerate(cases) if i not in test]
        q = fit(train, catalog, min_rows, warm=False)
        test_idx = sorted(test)
        for i, t in zip(test_idx, loss_terms([cases[i] for i in test_idx], apply(catalog, q))):
            held_terms[i] = t
    return held_terms


def figures(terms: list[float]) -> dict:
    errs = [math.exp(t) - 1 if t < 3 else float("inf") for t in terms]
    return {"rows": len(errs), "median_abs_error": round(statistics.median(errs), 4) if errs else None,
            "within_25pct": round(sum(e <= 0.25 for e in errs) / max(1, len(errs)), 4)}


def print_fit(params: Params, cases: list[Case], fitted, as_yaml: bool, files: list[str]) -> None:
    """The largest errors after the fit, the fitted factors, and (as_yaml) engines.yaml lines."""
    print("\nlargest errors after the fit:")
    terms = loss_terms(cases, fitted)
    for t, c in sorted(zip(terms, cases), key=lambda x: -x[0])[:25]:
        value, _ = predict(c, fitted)
        print(f"  {c.id:<10} {c.metric:<18} {c.gpus}x{c.accelerator:<12} {c.model:<16} {c.engine:<9} "
              f"{c.input_tokens}/{c.output_tokens} c={c.concurrency} pred={value or 0:,.1f} meas={c.measured:,.1f}")
    print("\nfitted factors:")
    for e, v in sorted(params.engine.items()):
        print(f"  {e:<10} " + "  ".join(f"{k}={v[k]:.3g}" for k in FIELDS))
    for fam in sorted(params.family_scale):
        print(f"  family {fam:<10} scale={params.family_scale[fam]:.3g}  "
              f"extra layer overhead={params.family_layer_us[fam]:.3g} us")
    for (e, fam), s in sorted(params.pair_scale.items()):
        print(f"  {e} on {fam:<10} scale={s:.3g}  extra MoE-layer overhead={params.pair_moe_us[(e, fam)]:.3g} us")
    for e, rules in sorted(params.early.items()):
        for before, slowdown in sorted(rules.items()):
            print(f"  {e:<10} releases before {before}: slowdown={slowdown:.3g}")
    if as_yaml:
        for e in sorted(params.engine):
            print(f"\n  {e}:")
            for fam in ["default", *params.families()]:
                eff = _efficiency(params, e, fam)
                print(f"      {fam}: {{bandwidth: {eff.bandwidth:.2f}, compute: {eff.compute:.2f}, prefill: "
                      f"{eff.prefill:.2f}, step_overhead_ms: {eff.step_overhead_ms:.1f}, layer_overhead_us: "
                      f"{eff.layer_overhead_us:.0f}, moe_layer_overhead_us: {eff.moe_layer_overhead_us:.0f}, "
                      f"source: \"fitted by benchmarks/calibrate.py (Huber loss on "
                      f"log error, priors 0.7/0.5/0.5/1 ms/20 us/50 us) on {len(cases)} speed rows of "
                      f"{' and '.join(Path(f).name for f in files)} (test files not fitted on)\"}}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", nargs="*", default=[str(f) for f in measurement_files() if file_role(f) == "fit"],
                    help="files to fit on (default: every *-fit.csv)")
    ap.add_argument("--test-files", nargs="*", default=[str(f) for f in measurement_files() if file_role(f) == "test"],
                    help="files only scored (default: every *-test.csv)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--min-rows", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--yaml", action="store_true", help="print the fitted factors as engines.yaml efficiency maps")
    ap.add_argument("--write-engines", action="store_true",
                    help="write the fitted factors into catalog/data/engines.yaml (each family keeps its reason)")
    ap.add_argument("--write-summary", action="store_true",
                    help=f"write the figures to {SUMMARY.relative_to(ROOT)} (hwplan validate prints them)")
    args = ap.parse_args(argv)
    tests = [f for f in args.files if file_role(f) == "test"]
    if tests:
        print(f"calibrate: {', '.join(tests)} is a test set (its name ends in -test.csv); it is scored, "
              f"never fitted on. Pass it with --test-files.", file=sys.stderr)
        return 2

    catalog = load_catalog()
    cases = speed_cases(args.files, catalog)
    test_cases = speed_cases(args.test_files, catalog)
    print(f"{len(cases)} speed rows to fit from {', '.join(Path(f).name for f in args.files)}; "
          f"{len(test_cases)} test rows from {', '.join(Path(f).name for f in args.test_files) or 'none'}")
    summarize("current catalog, fit set", loss_terms(cases, catalog), cases, catalog)
    if test_cases:
        summarize("current catalog, test set", loss_terms(test_cases, catalog), test_cases, catalog)

    params = fit(cases, catalog, args.min_rows)
    fitted = apply(catalog, params)
    result = {"fitted_on": [Path(f).name for f in args.files], "date": date.today().isoformat(),
              "in_sample": figures(loss_terms(cases, fitted))}
    summarize("fitted, fit set (in-sample)", loss_terms(cases, fitted), cases, catalog)
    if test_cases:
        result["test_files"] = [Path(f).name for f in args.test_files]
        result["out_of_sample"] = figures(loss_terms(test_cases, fitted))
        summarize("fitted, test set (out-of-sample)", loss_terms(test_cases, fitted), test_cases, catalog)
    if args.folds > 1:
        held = cross_validate(cases, catalog, args.folds, args.min_rows, args.seed)
        result["cross_validated"] = {"folds": args.folds, "seed": args.seed, **figures(held)}
        summarize(f"{args.folds}-fold cross-validation on the fit set (unseen rows)", held, cases, catalog)
    if args.write_engines:
        write_engines(params, [Path(f).name for f in args.files], len(cases))
        print("wrote catalog/data/engines.yaml efficiency maps")
    if args.write_summary:
        SUMMARY.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {SUMMARY.relative_to(ROOT)}")

    print_fit(params, cases, fitted, args.yaml, args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())

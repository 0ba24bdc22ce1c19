"""Fuzz every hwplan command with hostile problem files, catalogs, CSV sheets, flags and output paths.

Each case is made from a seed (`random.Random(seed)`): a command (solve, shortlist, pareto, sweep,
estimate, report, validate, catalog lists, catalog validate, catalog import), its flags, the files
it reads (mutated bundled problems, price lists, sheets, YAML attacks) and the outputs it is asked
to write (new files, existing files, folders, symbolic links, FIFOs, missing folders). The case
runs in-process through click's CliRunner, in a fresh temporary folder, and is checked:

- the exit code is 0, 1 (no plan), 2 (bad input), 3 (time limit ran out) or 130 (interrupted);
- no traceback and no exception other than SystemExit;
- on failure no output file was created, and an existing one is unchanged;
- no file other than the named outputs appeared or changed in the folder;
- every plan printed with exit 0 keeps the problem's own limits (users, budget, nodes, power,
  tokens/s per user), recomputed here from the JSON and the problem;
- CPU time per case (a hang is a case over 30 CPU seconds; a wall-clock alarm at 10× stops a
  blocked case) and peak memory (ru_maxrss, this process and
  its sweep workers).

Run:  python -m benchmarks.fuzz [--cases 10000] [--seed 0] [--report fuzz.json]
      python benchmarks/fuzz.py --cases 200
tests/test_fuzz.py runs the same generator on a few dozen seeds under hypothesis.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OK_EXIT_CODES = {0, 1, 2, 3, 130}
HANG_SECONDS = 30.0  # CPU seconds of the hwplan run (solver threads included)
WALL_ALARM_FACTOR = 10  # a case blocked this many times HANG_SECONDS of wall time is stopped

HOSTILE_NUMBERS = ["nan", "inf", "-inf", "1e400", "-1", "0", "1e-300", "1e18", "999999999999.99", "9" * 40,
                   "0x10", "", " ", "1_000", "½", "٣", "1e308", "-0", "2.5", "3", "30", "100000000"]
HOSTILE_TEXT = ["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\t=x", "\r=x", "x" * 5000, "../../etc/passwd",
                "é", "🙂", "!!!", "a/b:c", "", " ", "null", "~", "yes", "- a", "{a: 1}", "&a", "*a", "'", '"',
                "\\", "%s", "{0}", "<script>", "a" * 100_000]
YAML_VALUES = [float("nan"), float("inf"), -1, 0, 10**30, 1e-300, True, None, [], {}, ["auto"], "auto", "", "x" * 3000,
               "=HYPERLINK(\"http://e\")", 1.5, 3, 100, 10**6, 10**12, [1, 2], {"a": 1}, "2025-13-45",
               ["fp8", "fp8"], "fp8", "bf16", "nvidia", ["nvidia", "nvidia"]]


@dataclass
class Case:
    seed: int
    kind: str
    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    special: dict[str, str] = field(default_factory=dict)   # name -> 'dir' | 'fifo' | 'symlink' | 'existing'
    problem_file: str | None = None                          # for the limit check
    overrides: dict[tuple, object] = field(default_factory=dict)


@dataclass
class Outcome:
    seed: int
    kind: str
    args: list[str]
    exit_code: int | None
    seconds: float
    problems: list[str]


# -- generators ------------------------------------------------------------------------------------------
def _catalog_ids():
    from catalog import load_catalog

    cat = load_catalog()
    return {"models": sorted(cat.models), "accelerators": sorted(cat.accelerators), "prices": sorted(cat.price_lists),
            "items": sorted([*cat.accelerators, *cat.platforms, *cat.systems]),
            "makers": sorted({a.maker for a in cat.accelerators.values()})}


_IDS: dict | None = None


def ids() -> dict:
    global _IDS
    if _IDS is None:
        _IDS = _catalog_ids()
    return _IDS


def _bundled_problems() -> list[Path]:
    return sorted((ROOT / "problems").glob("*.yaml"))


def _hostile(rng: random.Random) -> bool:
    """Whether this value is hostile: each case draws how hostile it is (clean cases must solve too)."""
    return rng.random() < getattr(rng, "hostility", 0.2)


def _number(rng: random.Random, sane: list[str]) -> str:
    return rng.choice(HOSTILE_NUMBERS) if _hostile(rng) else rng.choice(sane)


def _text(rng: random.Random, sane: list[str]) -> str:
    return rng.choice(HOSTILE_TEXT) if _hostile(rng) else rng.choice(sane)


def _mutate(rng: random.Random, data: dict) -> dict:
    """Set, delete or add a random field anywhere in a problem's nested dict."""
    paths: list[tuple] = []

    def walk(d, prefix):
        if isinstance(d, dict):
            for k, v in d.items():
                paths.append(prefix + (k,))
                walk(v, prefix + (k,))

    walk(data, ())
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3]) if _hostile(rng) or rng.random() < 0.3 else 0):
        if not paths:
            break
        path = rng.choice(paths)
        target = data
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        op = rng.random()
        if op < 0.6:
            target[path[-1]] = rng.choice(YAML_VALUES)
        elif op < 0.8:
            target.pop(path[-1], None)
        else:
            target[rng.choice(["extra", "constraints", "workload", "zz" * 40])] = rng.choice(YAML_VALUES)
    return data


def _problem_text(rng: random.Random) -> tuple[str | bytes, dict | None]:
    base = yaml.safe_load(rng.choice(_bundled_problems()).read_text())
    r = rng.random()
    if r < 0.08 and _hostile(rng):
        return _yaml_attack(rng), None
    data = _mutate(rng, base)
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except Exception:  # noqa: BLE001 - a value PyYAML cannot dump: fall back to the base
        data, text = base, yaml.safe_dump(base, sort_keys=False)
    if rng.random() < 0.03:  # truncate or flip bytes
        raw = bytearray(text.encode())
        if raw:
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        return bytes(raw[: rng.randint(0, len(raw))]), None
    return text, data


def _yaml_attack(rng: random.Random) -> str | bytes:
    kind = rng.choice(["bomb", "recursive", "deep", "binary", "bom", "bigkey", "tags", "dupe", "date", "tabs"])
    if kind == "bomb":
        levels = rng.randint(4, 12)
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
        return "\n".join(lines) + "\nmodel: deepseek-r1\n"
    if kind == "recursive":
        return "model: deepseek-r1\nworkload: &w {concurrent_users: 3, more: *w}\n"
    if kind == "deep":
        n = rng.choice([50, 70, 500, 5000])
        return "a: " + "[" * n + "]" * n + "\n"
    if kind == "binary":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if kind == "bom":
        return "\ufeffmodel: deepseek-r1\nworkload: {concurrent_users: 3}\n"
    if kind == "bigkey":
        return f"{'k' * 100_000}: 1\nmodel: deepseek-r1\nworkload: {{concurrent_users: 3}}\n"
    if kind == "tags":
        return "model: !!python/object/apply:os.system ['echo pwned']\nworkload: {concurrent_users: 3}\n"
    if kind == "dupe":
        return "model: deepseek-r1\nmodel: llama-3.1-70b\nworkload: {concurrent_users: 3}\n"
    if kind == "date":
        return "model: deepseek-r1\nworkload: {concurrent_users: 3}\nconstraints: {as_of: 2025-13-45}\n"
    return "model: deepseek-r1\nworkload:\n\tconcurrent_users: 3\n"


def _price_list(rng: random.Random) -> tuple[str | bytes, str]:
    if rng.random() < 0.1:
        return _yaml_attack(rng), "fuzz-list"
    pid = rng.choice(["!!!", "seed-2025-02", "x" * 100]) if _hostile(rng) else "fuzz-list"
    offers = []
    for _ in range(rng.randint(0, 6)):
        offer = {"item": _text(rng, ids()["items"]),
                 "price": rng.choice([999999999999.99, 1e12, 0, -5, float("nan"), float("inf"), "12,000", 1e-9])
                 if _hostile(rng) else rng.choice([round(rng.uniform(1, 5e6), 2), 100, 25000]),
                 "seller": _text(rng, ["Acme", "Beta GmbH", "shop"]),
                 "source": rng.choice(["fuzz sheet", "=cmd()", "", "https://example.com/x"]),
                 "price_date": rng.choice(["2025-13-45", "2025", "soon", 2025]) if _hostile(rng) else "2025-02-11"}
        for key, values in (("stock", [0, 1, 5, -1, 10**30, float("inf")]),
                            ("warranty_months", [0, 12, -3, 1e400]),
                            ("lead_time_weeks", [0, 2.5, -1, float("nan")]),
                            ("condition", ["new", "used", "refurbished", "broken"])):
            if rng.random() < 0.3:
                offer[key] = rng.choice(values) if _hostile(rng) else values[1]
        offers.append(offer)
    doc = {"schema_version": rng.choice([2, "1"]) if _hostile(rng) else 1,
           "price_lists": [{"id": pid, "name": "fuzz list",
                            "currency": rng.choice(["usd", "XXX"]) if _hostile(rng) else rng.choice(["USD", "CNY"]),
                            "source": "fuzz sheet", "date": "2025-02-11", "offers": offers}]}
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), pid
    except Exception:  # noqa: BLE001
        return "schema_version: 1\n", pid


def _sheet(rng: random.Random) -> str:
    cols = ["SKU", "Price", "Qty", "Warranty", "Lead", "Cond", "Seller", "Date"]
    rows = [",".join(cols)]
    for _ in range(rng.randint(0, 8)):
        cells = [_text(rng, ids()["items"][:20] + ["H100 PCIe", "unknown gpu"]),
                 _number(rng, ["25000", "1,250.50", "$30000", "-5", "0"]),
                 _number(rng, ["1", "8", "0", ""]), _number(rng, ["12", "36", ""]), _number(rng, ["2", "0.5", ""]),
                 _text(rng, ["new", "used", "Refurbished", ""]), _text(rng, ["Acme", ""]),
                 rng.choice(["2025-02-11", "2025-13-45", "", "yesterday"])]
        rows.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    return "\n".join(rows) + "\n"


def _measurements(rng: random.Random) -> str:
    """A few rows of a bundled measurements CSV, some cells replaced by hostile values."""
    import csv
    import io

    from optimizer.validate import bundled_measurements

    text = rng.choice(bundled_measurements()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    picked = rng.sample(body, min(len(body), rng.randint(1, 6)))
    for row in picked:
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(row))
            row[i] = rng.choice(HOSTILE_NUMBERS + HOSTILE_TEXT[:-1]) if _hostile(rng) or rng.random() < 0.5 \
                else row[i]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *picked])
    return buf.getvalue()


def _outputs(rng: random.Random, case: Case, flags: list[str], ext: dict[str, list[str]]) -> None:
    """Add output flags: new files mostly, sometimes hostile targets."""
    for flag in flags:
        if rng.random() < 0.55:
            continue
        exts = ext.get(flag, [".txt"])
        name = f"out-{flag.strip('-')}" + (rng.choice(exts) if _hostile(rng) else rng.choice(exts[:-1] or exts))
        name = _output_target(rng.random() if _hostile(rng) else 1.0, case, name)
        case.args += [flag, name]
        case.outputs.append(name)
    if case.outputs and rng.random() < 0.3:
        case.args.append("--force")


def _output_target(r: float, case: Case, name: str) -> str:
    """The output `name`, or by the draw `r` a hostile target: a folder, FIFO, symlink or existing file
    (kept in case.special), a missing folder, a 300-character name, or an output already given."""
    specials = ((0.08, "dir"), (0.14, "fifo"), (0.2, "symlink"), (0.3, "existing"))
    kind = next((k for top, k in specials if r < top), None)
    if kind is not None:
        case.special[name] = kind
    elif r < 0.34:
        name = "missing-folder/" + name
    elif r < 0.37:
        name = "n" * 300 + ".txt"
    elif r < 0.4 and case.outputs:
        name = case.outputs[0]  # the same file for two outputs
    return name


# Numeric problem flags a case may add: (flag, chance, sane values, the problem field it overrides).
_NUMBER_FLAGS = (("--budget", 0.3, ["1000000", "3000000", "100", "1e12"], ("constraints", "budget")),
                 ("--max-nodes", 0.2, ["1", "2", "4"], ("constraints", "max_nodes")),
                 ("--max-power-kw", 0.2, ["5", "20", "100"], ("constraints", "max_power_kw")),
                 ("--min-tokens-per-s", 0.2, ["5", "15", "30"], ("workload", "min_tokens_per_s")))


def _problem_flags(rng: random.Random, case: Case, sweep: bool = False) -> None:
    """Add problem flags (users, limits, ids, choices, time limit), noting the overrides the limit check uses."""
    if sweep or case.kind == "flags" or rng.random() < 0.5:
        users = _number(rng, ["1", "30", "100", "1000", "1000000"])
        if sweep:
            users = rng.choice(["16:64:16", "1:2:1e-9", "10,20,30", "1:inf:1", "5", "0:10:0", "a:b:c", "1:10001:1",
                                "1e400:1e401:1"]) if _hostile(rng) else rng.choice(["16:64:16", "10,20,30", "10:30:10"])
        case.args += ["--users", users]
        case.overrides[("workload", "concurrent_users")] = users
    for flag, chance, values, loc in _NUMBER_FLAGS:
        if rng.random() < chance:
            v = _number(rng, values)
            case.args += [flag, v]
            case.overrides[loc] = v
    for flag, values in (("--prices", ids()["prices"]), ("--vendor", ids()["makers"]),
                         ("--accelerator", ids()["accelerators"])):
        if rng.random() < 0.15:
            v = _text(rng, values)
            case.args += [flag, v] * rng.choice([1, 1, 2])
    for flag, values in (("--precision", ["auto", "fp8", "bf16", "int4"]), ("--engine", ["auto", "vllm", "sglang"]),
                         ("--objective", ["cost", "power", "tco", "users"]), ("--currency", ["USD", "CNY", "EUR"]),
                         ("--spare-nodes", ["0", "1", "2"])):
        if rng.random() < 0.1:
            value = _text(rng, values)
            case.args += [flag, value]
            if flag == "--objective":
                case.overrides[("objective",)] = value
    case.args += ["--time-limit", rng.choice(["0.01", "0.3", "1", "2", "nan", "0", "-1", "1e400"]
                                             if _hostile(rng) else ["0.3", "1", "2"])]


KINDS = ("problem", "flags", "catalog", "sheet", "estimate", "validate", "list", "yaml", "report")


def make_case(seed: int, kind: str | None = None) -> Case:
    """The fuzz case of `seed` (the same seed gives the same case); `kind` forces one of KINDS."""
    rng = random.Random(seed)
    rng.hostility = rng.choice([0.0, 0.0, 0.03, 0.1, 0.3])
    drawn = rng.choices(KINDS, weights=[30, 16, 14, 10, 10, 4, 4, 8, 1])[0]
    kind = kind or drawn
    case = Case(seed=seed, kind=kind, args=[])
    command = rng.choices(["solve", "shortlist", "pareto", "sweep"], weights=[6, 2, 1, 1])[0]
    _CASE_BUILDERS.get(kind, _list_case)(rng, case, command)
    if rng.random() < 0.4 and case.args[:2] not in (["catalog", "validate"], ["catalog", "import"]):
        case.args += ["--format", rng.choice(["table", "json", "csv", "md"])]
    _add_outputs(rng, case)
    return case


def _problem_case(rng: random.Random, case: Case, command: str) -> None:
    """A problem file (sane, mutated or a YAML attack) given to a search command or `report`."""
    text, data = (_yaml_attack(rng), None) if case.kind == "yaml" else _problem_text(rng)
    case.files["problem.yaml"] = text
    command = "report" if case.kind == "report" else command
    case.args = [command, "problem.yaml"]
    case.problem_file = "problem.yaml" if data is not None else None
    _problem_flags(rng, case, sweep=command == "sweep")
    if command == "sweep" and "--users" not in case.args and "--budget" not in case.args:
        case.args += ["--users", rng.choice(["10:30:10", "1,2"])]


def _flags_case(rng: random.Random, case: Case, command: str) -> None:
    """A problem made of flags alone."""
    model = _text(rng, ids()["models"][:8] + ["deepseek-r1", "llama-3.1-70b"])
    case.args = [command, "--model", model]
    _problem_flags(rng, case, sweep=command == "sweep")
    if command == "sweep" and "--users" not in case.args:
        case.args += ["--users", "10:30:10"]


def _catalog_case(rng: random.Random, case: Case, command: str) -> None:
    """A user price list: validated, listed, or used by a search on a bundled problem."""
    text, pid = _price_list(rng)
    case.files["prices.yaml"] = text
    r = rng.random()
    if r < 0.35:
        case.args = ["catalog", "validate", "prices.yaml"] + (["prices.yaml"] if rng.random() < 0.2 else [])
    elif r < 0.45:
        case.args = ["catalog", "prices", "--catalog", "prices.yaml"]
    else:
        problem = rng.choice(_bundled_problems())
        case.args = [command, str(problem), "--catalog", "prices.yaml", "--prices", pid]
        case.problem_file = str(problem)
        _problem_flags(rng, case, sweep=command == "sweep")
        if command == "sweep" and "--users" not in case.args and "--budget" not in case.args:
            case.args += ["--users", "10,20"]


def _sheet_case(rng: random.Random, case: Case, command: str) -> None:
    """A seller's CSV sheet (or a YAML attack) through `catalog import` with column mappings and flags."""
    case.files["sheet.csv"] = _sheet(rng) if rng.random() < 0.9 else _yaml_attack(rng)
    extra = ["Qty=stock", "Warranty=warranty_months", "Lead=lead_time_weeks", "Cond=condition",
             "Seller=seller", "Date=price_date"] + (["Nope=stock", "Qty=bogus", "noequals"] if _hostile(rng) else [])
    maps = ["SKU=item", "Price=price"] + rng.sample(extra, rng.randint(0, 4))
    case.args = ["catalog", "import", "sheet.csv", "--seller", _text(rng, ["Acme", "Beta GmbH"])]
    for m in maps:
        case.args += ["--map", m]
    for flag, values in (("--id", ["acme-offers", "x"]), ("--date", ["2025-02-11", "2025-13-45", "2025"]),
                         ("--currency", ["USD", "CNY", "usd"])):
        if rng.random() < 0.2:
            case.args += [flag, _text(rng, values)]


def _estimate_case(rng: random.Random, case: Case, command: str) -> None:
    """`estimate` with ids, counts and options, sane or hostile."""
    case.args = ["estimate", "--model", _text(rng, ids()["models"]), "--accelerator",
                 _text(rng, ids()["accelerators"]), "--gpus", _number(rng, ["1", "2", "8", "16"])]
    for flag, values in (("--nodes", ["1", "2"]), ("--concurrency", ["1", "30", "max", "0"]),
                         ("--input-tokens", ["1000", "0"]), ("--output-tokens", ["500"]),
                         ("--precision", ["auto", "fp8", "bf16"]), ("--engine", ["auto", "vllm"]),
                         ("--kv-dtype", ["auto", "fp8"])):
        if rng.random() < 0.3:
            case.args += [flag, _number(rng, values) if values[0][0].isdigit() else _text(rng, values)]
    if rng.random() < 0.2:
        case.args.append("--dp-attention")


def _validate_case(rng: random.Random, case: Case, command: str) -> None:
    """`validate`, sometimes on a generated measurements file (or a price sheet in its place)."""
    case.args = ["validate", "--summary-only"] if rng.random() < 0.5 else ["validate"]
    if rng.random() < 0.7:
        case.files["m.csv"] = _measurements(rng) if rng.random() < 0.8 else _sheet(rng)
        case.args += ["--file", "m.csv"]


def _list_case(rng: random.Random, case: Case, command: str) -> None:
    """A catalog listing."""
    case.args = ["catalog", rng.choice(["accelerators", "platforms", "models", "prices", "engines"])]


_CASE_BUILDERS = {"problem": _problem_case, "yaml": _problem_case, "report": _problem_case, "flags": _flags_case,
                  "catalog": _catalog_case, "sheet": _sheet_case, "estimate": _estimate_case,
                  "validate": _validate_case}


def _add_outputs(rng: random.Random, case: Case) -> None:
    """The output flags the case's command takes (-o, --export, --plot), and pareto's and shortlist's counts."""
    out_flags = []
    if case.args[0] in ("solve", "shortlist", "pareto", "sweep", "report", "estimate", "validate") or \
            case.args[:2] in (["catalog", "import"], ["catalog", "prices"]) or case.kind == "list":
        out_flags.append("-o")
    if case.args[0] in ("solve", "shortlist"):
        out_flags.append("--export")
    if case.args[0] in ("pareto", "sweep"):
        out_flags.append("--plot")
        case.args += ["--max-points", rng.choice(["3", "5"])] if case.args[0] == "pareto" else []
    if case.args[0] == "shortlist":
        case.args += ["-k", rng.choice(["0", "-1", "1e9"]) if _hostile(rng) else rng.choice(["2", "3"])]
    _outputs(rng, case, out_flags, {"--export": [".csv", ".xlsx", ".md", ".pdf"], "--plot": [".svg", ".png", ".gif"],
                                    "-o": [".txt", ".json", ".html"]})


# -- running and checking --------------------------------------------------------------------------------
class Hang(Exception):
    """A case ran past the hang limit."""


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if p.is_symlink() or not p.is_file():
                out[rel] = f"special:{st.st_mode:o}"
            else:
                out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def _prepare(case: Case, folder: Path) -> None:
    for name, content in case.files.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    for name, what in case.special.items():
        path = folder / name
        if what == "dir":
            path.mkdir()
        elif what == "fifo":
            os.mkfifo(path)
        elif what == "symlink":
            (folder / "link-target.txt").write_text("keep me")
            path.symlink_to(folder / "link-target.txt")
        elif what == "existing":
            path.write_text("an existing file")


def _plans(stdout: str) -> list[dict]:
    try:
        data = json.loads(stdout)
    except ValueError:
        return []
    if isinstance(data, dict) and "plans" in data:
        return [p for p in data["plans"] if isinstance(p, dict) and "plan" in p]
    return [data] if isinstance(data, dict) and "plan" in data else []


def _limit_problems(case: Case, folder: Path, stdout: str) -> list[str]:
    """Recompute each printed plan's totals against the problem's own limits."""
    plans = _plans(stdout)
    if not plans or case.problem_file is None:
        return []
    problem = _case_problem(case, folder)
    if problem is None:
        return []
    found = []
    for p in plans:
        found += _plan_violations(p, problem, sweeping=case.args[0] == "sweep")
    return found


def _case_problem(case: Case, folder: Path):
    """The case's problem file with its flags applied as the CLI applies them; None when the CLI parsed
    them differently (e.g. a sweep range) and the check is skipped."""
    from optimizer import load_problem, with_overrides

    try:
        problem = load_problem(folder / case.problem_file if not os.path.isabs(case.problem_file)
                               else case.problem_file)
        overrides = {}
        for loc, value in case.overrides.items():
            if loc == ("constraints", "max_power_kw"):
                overrides[("constraints", "max_power_w")] = ("--max-power-kw", round(float(value) * 1000))
            elif loc == ("workload", "concurrent_users"):
                overrides[loc] = ("--users", int(value))
            elif loc == ("objective",):
                overrides[loc] = ("--objective", value)
            else:
                overrides[loc] = ("flag", float(value))
        return with_overrides(problem, overrides)
    except Exception:  # noqa: BLE001 - the CLI parsed it differently (e.g. a sweep range): skip the check
        return None


def _plan_violations(p: dict, problem, sweeping: bool) -> list[str]:
    """Limits one printed plan (JSON) breaks: budget (not checked across a sweep), nodes, power, users, speed."""
    found = []
    c, w = problem.constraints, problem.workload
    t = p["plan"]["totals"]
    if c.budget is not None and not sweeping and t["cost"] > c.budget * (1 + 1e-9) and \
            (c.currency is None or t["currency"] == c.currency):
        found.append(f"cost {t['cost']} > budget {c.budget}")
    if c.max_nodes is not None and t["nodes"] > c.max_nodes:
        found.append(f"nodes {t['nodes']} > max_nodes {c.max_nodes}")
    if c.max_power_w is not None and t["power_w"] > c.max_power_w:
        found.append(f"power {t['power_w']} W > max_power_w {c.max_power_w}")
    demanded = p.get("users_demanded")
    if demanded and problem.objective != "users" and t["users"] < demanded:
        found.append(f"users {t['users']} < demanded {demanded}")
    for line in p["plan"]["lines"]:
        speed = line.get("tokens_per_s_per_user")
        if speed is not None and speed + 0.01 < w.min_tokens_per_s:
            found.append(f"{line.get('accelerator')}: {speed} tok/s < min_tokens_per_s {w.min_tokens_per_s}")
    return found


def run_case(case: Case, hang_seconds: float = HANG_SECONDS) -> Outcome:
    """Run one case in a fresh folder and return what went wrong (nothing, ideally)."""
    from click.testing import CliRunner

    import cli

    problems: list[str] = []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="hwplan-fuzz-") as tmp:
        folder = Path(tmp)
        _prepare(case, folder)
        before = _snapshot(folder)
        os.chdir(folder)

        def on_alarm(signum, frame):
            raise Hang(f"over {hang_seconds:g} s")

        old = signal.signal(signal.SIGALRM, on_alarm)
        # The verdict counts CPU seconds (all threads of this process), so a loaded machine does
        # not turn a slow case into a "hang"; the wall-clock alarm only stops a case that blocks.
        signal.setitimer(signal.ITIMER_REAL, hang_seconds * WALL_ALARM_FACTOR)
        start = time.process_time()
        try:
            result = CliRunner().invoke(cli.main, case.args, catch_exceptions=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            seconds = time.process_time() - start
            os.chdir(cwd)
        code = result.exit_code
        output = result.output
        if seconds > hang_seconds:
            problems.append(f"hang: {seconds:.1f} s")
        if code not in OK_EXIT_CODES:
            problems.append(f"exit code {code}")
        if "Traceback" in output:
            problems.append("traceback in the output")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
            problems.append(f"exception {type(exc).__name__}: {str(exc)[:300]}\n{tb[-1500:]}")
        problems += _file_problems(case, before, _snapshot(folder), code)
        if code == 0:
            problems += [f"limit violated: {p}" for p in _limit_problems(case, folder, result.stdout)]
    return Outcome(case.seed, case.kind, case.args, code, seconds, problems)


def _file_problems(case: Case, before: dict[str, str], after: dict[str, str], code: int | None) -> list[str]:
    """Files the command changed that it should not have: temporary files left, files it was not told to
    write, outputs written by a failed command (an infeasible JSON answer excepted)."""
    problems = []
    named = set(case.outputs)
    for name in sorted(set(after) | set(before)):
        if before.get(name) == after.get(name):
            continue
        if name.startswith(".") and name.endswith(".tmp"):
            problems.append(f"temporary file left: {name}")
        elif name not in named:
            problems.append(f"touched a file that is no named output: {name}")
        elif code != 0 and not (code == 1 and "--format" in case.args and "json" in case.args) \
                and not (code == 2 and case.args[:2] == ["catalog", "import"]):
            # (`catalog import` writes the accepted offers, then exits 2 when rows were rejected: a complete,
            # wanted file, cli.CompleteOutputExit; its --help says so.)
            problems.append(f"output {name} written although the command failed (exit {code})")
    return problems


def _repo_snapshot() -> dict[str, str]:
    """Hashes of the repository's data, problems, benchmarks and tests (edit none of them during a run)."""
    out = {}
    for sub in ("catalog/data", "problems", "benchmarks", "tests"):
        folder = ROOT / sub
        for p in sorted(folder.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                out[str(p.relative_to(ROOT))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="How many cases (default 10,000).")
    parser.add_argument("--seed", type=int, default=0, help="First seed; case i uses seed + i.")
    parser.add_argument("--report", help="Also write every failing case to this JSON file.")
    parser.add_argument("--progress", type=int, default=500, help="Print a line every N cases.")
    args = parser.parse_args(argv)
    repo_before = _repo_snapshot()
    failures: list[Outcome] = []
    by_code: dict[int | None, int] = {}
    slowest: list[tuple[float, int]] = []
    start = time.perf_counter()
    for i in range(args.cases):
        seed = args.seed + i
        outcome = run_case(make_case(seed))
        by_code[outcome.exit_code] = by_code.get(outcome.exit_code, 0) + 1
        slowest = sorted(slowest + [(outcome.seconds, seed)], reverse=True)[:5]
        if outcome.problems:
            failures.append(outcome)
            print(f"seed {seed} ({outcome.kind}) {' '.join(a[:60] for a in outcome.args)[:300]}\n  - "
                  + "\n  - ".join(p[:2000] for p in outcome.problems), flush=True)
        if args.progress and (i + 1) % args.progress == 0:
            print(f"... {i + 1} cases, {len(failures)} failing, {time.perf_counter() - start:.0f} s", flush=True)
    repo_after = _repo_snapshot()
    repo_changed = sorted(k for k in set(repo_after) | set(repo_before) if repo_after.get(k) != repo_before.get(k))
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    kinds = ("traceback", "exception", "hang", "limit violated", "touched", "written although", "exit code",
             "temporary")
    counts = {k: sum(any(p.startswith(k) or k in p for p in f.problems) for f in failures) for k in kinds}
    summary = {"cases": args.cases, "seed": args.seed, "seconds": round(time.perf_counter() - start, 1),
               "exit_codes": {str(k): v for k, v in sorted(by_code.items(), key=lambda kv: str(kv[0]))},
               "failing_cases": len(failures), "by_kind": counts,
               "slowest_cases_s": [[round(s, 1), seed] for s, seed in slowest],
               "peak_memory_mb": {"this_process": round(peak_self), "sweep_workers": round(peak_children)},
               "repository_files_changed": repo_changed}
    print(json.dumps(summary, indent=2))
    if args.report:
        Path(args.report).write_text(json.dumps(
            {"summary": summary, "failures": [f.__dict__ for f in failures]}, indent=2, default=str))
    return 1 if failures or repo_changed else 0


if __name__ == "__main__":
    sys.exit(main())

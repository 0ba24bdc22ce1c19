"""Mutation testing of the checker and the model: how many small code changes the test suite catches.

Runs mutmut (https://mutmut.readthedocs.io, `pip install -e ".[mutation]"`) on a copy of the
repository in a temporary folder (so no `mutants/` folder lands in the work tree), on the
modules named (default: the checker), against the tests that exercise them, then prints
each surviving mutant and the score = killed / (killed + survived) (timeouts count as
killed: the suite noticed; mutants no test reaches count as survived).

    python -m benchmarks.mutation                      # optimizer/check.py
    python -m benchmarks.mutation check model sizing speed --max-children 2
    python benchmarks/mutation.py check --tests tests/test_check.py tests/test_checker_independent.py

This is a benchmark, not a CI job: on a 2-core machine check.py takes about ten minutes.
Survivors are killed by new tests or justified one by one in benchmarks/mutation-survivors.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tests that exercise each module; the whole suite would also do, at many times the cost.
TESTS = {
    "check": ["tests/test_check.py", "tests/test_checker_independent.py", "tests/test_checker_tampering.py"],
    "model": ["tests/test_optimizer_bruteforce.py", "tests/test_search.py", "tests/test_shortlist_alternatives.py",
              "tests/test_offers.py", "tests/test_properties.py"],
    "sizing": ["tests/test_sizing.py", "tests/test_layers.py", "tests/test_problems.py",
               "tests/test_checker_independent.py"],
    "speed": ["tests/test_speed.py", "tests/test_problems.py"],
}
COPY = ["catalog", "optimizer", "problems", "tests", "benchmarks", "cli.py", "pyproject.toml", "README.md"]


def _config(modules: list[str], tests: list[str]) -> str:
    only = ", ".join(f'"optimizer/{m}.py"' for m in modules)
    selection = ", ".join(f'"{t}"' for t in tests)
    return ("\n[tool.mutmut]\n"
            'source_paths = ["optimizer"]\n'
            f"only_mutate = [{only}]\n"
            'also_copy = ["catalog", "problems", "cli.py"]\n'
            f"pytest_add_cli_args_test_selection = [{selection}]\n"
            'pytest_add_cli_args = ["-x", "-q", "-p", "no:cacheprovider"]\n'
            "use_git_change_detection = false\n")


def _score(results: str) -> tuple[int, int, list[str]]:
    """(killed, survived, survivor names) from `mutmut results --all true`."""
    killed = survived = 0
    survivors = []
    for line in results.splitlines():
        m = re.match(r"\s*(\S+): (\w[\w ]*)$", line)
        if not m:
            continue
        name, status = m.group(1), m.group(2).strip()
        if status in ("killed", "timeout", "segfault", "caught by type check"):
            killed += 1
        elif status in ("survived", "no tests"):
            survived += 1
            survivors.append(f"{name}: {status}")
    return killed, survived, survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=["check"], help="optimizer modules (check, model, sizing, speed)")
    parser.add_argument("--tests", nargs="*", help="test files to run (default: those listed for the modules)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print its path")
    args = parser.parse_args(argv)
    if shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    tests = args.tests or sorted({t for m in args.modules for t in TESTS.get(m, ["tests"])})
    work = Path(tempfile.mkdtemp(prefix="hwplan-mutation-"))
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, work / name)
    with open(work / "pyproject.toml", "a") as f:
        f.write(_config(args.modules, tests))
    with open(work / "mutmut-run.log", "w") as log:   # mutmut's progress bar, out of the way
        run = subprocess.run(["mutmut", "run", "--max-children", str(args.max_children)], cwd=work, stdout=log,
                             stderr=subprocess.STDOUT)
    results = subprocess.run(["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True)
    killed, survived, survivors = _score(results.stdout)
    for s in survivors:
        print(s)
    total = killed + survived
    print(f"modules: {', '.join(args.modules)}; tests: {' '.join(tests)}")
    print(f"mutants: {total}, killed: {killed}, survived: {survived}, "
          f"score: {killed / total:.1%}" if total else "no mutants were tested")
    if args.keep:
        print(f"kept: {work}  (mutmut show <name> there shows a mutant's diff)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return run.returncode if total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

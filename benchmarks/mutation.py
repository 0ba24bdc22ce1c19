"""Mutation testing of the checker and the model: how many small code changes the test suite catches.

Runs mutmut (https://mutmut.readthedocs.io, `pip install -e ".[mutation]"`) on a copy of the
repository in a temporary folder (so no `mutants/` folder lands in the work tree), on the
modules named (default: the checker), against the tests that exercise them, then prints
each surviving mutant and the score = killed / (killed + survived) (timeouts count as
killed: the suite noticed; mutants no test reaches count as survived).

    python -m benchmarks.mutation                      # optimizer/check.py
    python -m benchmarks.mutation check model sizing speed --max-children 2
    python benchmarks/mutation.py check --tests tests/test_check.py tests/test_checker_independent.py
    python -m benchmarks.mutation sizing --sample 200 --seed 1   # a seeded random sample of sizing's mutants
    python -m benchmarks.mutation sizing --resume /tmp/hwplan-mutation-XXXX   # re-test a kept sample's survivors

This is a benchmark, not a CI job: a whole module is 750-1,400 mutants, about 5-25 s each on a
2-core machine, so a full run takes one to several hours. `--sample N` tests N of the module's
mutants drawn uniformly with a fixed seed (`random.Random(seed).sample` over the sorted mutant
names, passed to `mutmut run NAME...`), and prints the score with its 95% Wilson interval.
`--resume DIR` takes a copy kept by `--keep` after tests were added: it refreshes its tests/ from the
repository, makes mutmut record again which tests reach which function, re-tests only the sample's
survivors and prints the sample's score; the mutated modules must be unchanged since (it checks).
Survivors are killed by new tests or justified one by one in benchmarks/mutation-survivors.md.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tests that exercise each module (test files, or pytest node ids). mutmut runs, for each mutant,
# only the selected tests that reach the mutated function; slow end-to-end files (test_problems,
# test_search, test_properties: 35-150 s each) are left out so that a 150-mutant sample runs in
# about half an hour on a shared 2-core machine; tests/test_mutation_<module>.py work the formulas by hand.
TESTS = {
    "check": ["tests/test_check.py", "tests/test_checker_independent.py", "tests/test_checker_tampering.py",
              "tests/test_mutation_check.py", "tests/test_module_precision.py",
              "tests/test_disagg.py::test_checker_passes_the_pools_and_catches_each_broken_one",
              "tests/test_rack_scale.py::test_checker_holds_a_prefill_line_to_its_prompts_per_pass",
              "tests/test_rack_scale.py::test_one_gb200_rack_runs_both_pools_derived_by_hand",
              "tests/test_rack_scale.py::test_checker_holds_in_domain_prefill_to_its_rules",
              "tests/test_serving.py::test_a_rate_problem_solves_and_passes_the_checker"],
    "model": ["tests/test_optimizer_bruteforce.py", "tests/test_shortlist_alternatives.py", "tests/test_offers.py",
              "tests/test_mutation_model.py", "tests/test_model_relaxation.py",
              "tests/test_disagg.py::test_two_pool_model_equals_brute_force",
              "tests/test_cluster.py::test_the_solver_prices_a_two_tier_fabric_as_worked_by_hand",
              "tests/test_cluster.py::test_racks_are_counted_and_their_price_and_limit_move_the_optimum",
              "tests/test_cluster.py::test_fabric_and_racks_match_brute_force"],
    "sizing": ["tests/test_sizing.py", "tests/test_layers.py", "tests/test_engine_memory.py",
               "tests/test_engine_versions.py", "tests/test_mutation_sizing.py", "tests/test_module_precision.py",
               "tests/test_mtp_weights.py", "tests/test_whole_prompts.py",
               "tests/test_layouts.py::test_nvl72_rack_is_one_scale_up_domain_with_wide_ep_and_replicas_inside"],
    "speed": ["tests/test_speed.py", "tests/test_layouts.py", "tests/test_mutation_speed.py",
              "tests/test_speed_releases.py", "tests/test_queued_steps.py", "tests/test_prefill_launch_floor.py",
              "tests/test_mtp_weights.py", "tests/test_prompt_chunks.py",
              "tests/test_disagg_pools.py::test_prefill_all_to_all_crosses_the_network_once_per_remote_server",
              "tests/test_disagg_pools.py::test_prefill_forwards_and_decode_does_not",
              "tests/test_disagg_pools.py::test_verification_attends_every_draft_token_to_the_whole_cache",
              "tests/test_packed_prefill.py::test_serving_times_time_a_packed_step_by_its_prompts"],
}
COPY = ["catalog", "optimizer", "problems", "tests", "benchmarks", "cli.py", "pyproject.toml", "README.md"]


def _config(modules: list[str], tests: list[str]) -> str:
    only = ", ".join(f'"optimizer/{m}.py"' for m in modules)
    selection = ", ".join(f'"{t}"' for t in tests)
    return ("\n[tool.mutmut]\n"
            'source_paths = ["optimizer"]\n'
            f"only_mutate = [{only}]\n"
            'also_copy = ["catalog", "problems", "benchmarks", "cli.py"]\n'
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


def _names(results: str) -> list[str]:
    """Every mutant name in `mutmut results --all true`, sorted."""
    return sorted(m.group(1) for m in (re.match(r"\s*(\S+): ", line) for line in results.splitlines()) if m)


def wilson(killed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion killed/total (Wilson 1927, JASA 22:209-212)."""
    if total == 0:
        return 0.0, 1.0
    p = killed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def _results(work: Path, chosen: list[str]) -> str:
    """`mutmut results --all true` in `work`, only the lines of the `chosen` mutants when there is a sample."""
    lines = subprocess.run(["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    if chosen:
        wanted = set(chosen)
        lines = "\n".join(line for line in lines.splitlines() if line.strip().split(": ")[0] in wanted)
    return lines


def _report(work: Path, chosen: list[str], modules: list[str], tests: list[str]) -> int:
    """Print the survivors and the score; return the number of mutants tested."""
    killed, survived, survivors = _score(_results(work, chosen))
    for s in survivors:
        print(s)
    total = killed + survived
    print(f"modules: {', '.join(modules)}; tests: {' '.join(tests)}")
    if total:
        low, high = wilson(killed, total)
        band = f" (95% interval {low:.1%}-{high:.1%})" if chosen else ""
        print(f"mutants: {total}, killed: {killed}, survived: {survived}, score: {killed / total:.1%}{band}")
    else:
        print("no mutants were tested")
    return total


def _resume(work: Path, modules: list[str], max_children: int) -> int:
    """Re-test the survivors of the sample kept in `work` against the repository's current tests. `modules`:
    the sampled modules, by default those its mutants' names give (optimizer.MODULE.x_…)."""
    sample = work / "sample.txt"
    chosen = sample.read_text().split() if sample.exists() else []
    modules = modules or sorted({name.split(".")[1] for name in chosen if name.count(".") >= 2})
    for m in modules:
        if (work / "optimizer" / f"{m}.py").read_bytes() != (ROOT / "optimizer" / f"{m}.py").read_bytes():
            print(f"{work}: optimizer/{m}.py has changed since this sample was drawn; draw a new one "
                  f"(--sample) instead.", file=sys.stderr)
            return 2
    before = _score(_results(work, chosen))[2]
    shutil.copytree(ROOT / "tests", work / "tests", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)   # which tests reach what: record again
    names = [s.split(": ")[0] for s in before]
    print(f"re-testing {len(names)} survivors of {len(chosen) or 'all'} mutants in {work}")
    if names:
        with open(work / "mutmut-run.log", "a") as log:
            subprocess.run(["mutmut", "run", "--max-children", str(max_children), *names], cwd=work, stdout=log,
                           stderr=subprocess.STDOUT)
    selection = re.search(r"pytest_add_cli_args_test_selection = \[(.*)\]", (work / "pyproject.toml").read_text())
    tests = [t.strip(' "') for t in selection.group(1).split(",")] if selection else []
    _report(work, chosen, modules, tests)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="optimizer modules (check, model, sizing, speed; default: check, "
                        "or with --resume the kept sample's)")
    parser.add_argument("--tests", nargs="*", help="test files to run (default: those listed for the modules)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--sample", type=int, help="test this many mutants drawn at random (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the --sample draw")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print its path")
    parser.add_argument("--resume", type=Path, help="a kept copy: re-test its sample's survivors with today's tests")
    args = parser.parse_args(argv)
    if shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    if args.resume is not None:
        return _resume(args.resume, args.modules, args.max_children)
    args.modules = args.modules or ["check"]
    tests = args.tests or sorted({t for m in args.modules for t in TESTS.get(m, ["tests"])
                                  if (ROOT / t.split("::")[0]).exists()})
    work = Path(tempfile.mkdtemp(prefix="hwplan-mutation-"))
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, work / name)
    with open(work / "pyproject.toml", "a") as f:
        f.write(_config(args.modules, tests))
    chosen: list[str] = []
    with open(work / "mutmut-run.log", "w") as log:   # mutmut's progress bar, out of the way
        if args.sample:
            # A name no mutant has: mutmut generates every mutant, records which tests reach which
            # function, then stops ("nothing matches"); the names are then listed and sampled.
            subprocess.run(["mutmut", "run", "hwplan-list-mutants-only"], cwd=work, stdout=log, stderr=subprocess.STDOUT)
            listed = subprocess.run(["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True)
            names = _names(listed.stdout)
            chosen = random.Random(args.seed).sample(names, min(args.sample, len(names)))
            (work / "sample.txt").write_text("\n".join(chosen) + "\n")
            print(f"sample: {len(chosen)} of {len(names)} mutants (seed {args.seed})")
        run = subprocess.run(["mutmut", "run", "--max-children", str(args.max_children), *chosen], cwd=work,
                             stdout=log, stderr=subprocess.STDOUT)
    total = _report(work, chosen, args.modules, tests)
    if args.keep:
        print(f"kept: {work}  (mutmut show <name> there shows a mutant's diff)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return run.returncode if total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

"""`hwplan solve` (and the other problem commands) take speculative decoding from flags as `hwplan estimate` does:
--speculative METHOD, --spec-tokens k, --spec-acceptance a, over a problem file or with flags alone."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from catalog.errors import HwplanError
from cli import main
from optimizer.flags import build_problem
from problems import bundled_problem_path

METHOD, TOKENS = ("workload", "speculative", "method"), ("workload", "speculative", "tokens")
BASE = [("--model", ("model",), "deepseek-r1"), ("--users", ("workload", "concurrent_users"), 30)]


def test_flags_alone_make_the_workload_speculate():
    p = build_problem(None, [*BASE, ("--speculative", METHOD, "mtp"), ("--spec-tokens", TOKENS, 3)])
    assert (p.workload.speculative.method, p.workload.speculative.tokens) == ("mtp", 3)


def test_a_flag_tunes_the_files_speculative_decoding_and_starts_it_over_a_null(tmp_path):
    text = bundled_problem_path("deepseek-r1-30-users").read_text()
    with_spec = tmp_path / "spec.yaml"
    with_spec.write_text(text.replace("workload:\n", "workload:\n  speculative: {method: mtp, tokens: 3}\n", 1))
    p = build_problem(str(with_spec), [("--spec-tokens", TOKENS, 2)])
    assert (p.workload.speculative.method, p.workload.speculative.tokens) == ("mtp", 2)   # the file's method kept
    null = tmp_path / "null.yaml"
    null.write_text(text.replace("workload:\n", "workload:\n  speculative: null\n", 1))
    assert build_problem(str(null), [("--speculative", METHOD, "eagle")]).workload.speculative.method == "eagle"


@pytest.mark.parametrize("problem", [None, "deepseek-r1-30-users"])
def test_a_draft_length_without_a_method_is_refused_naming_the_flag(problem):
    with pytest.raises(HwplanError, match=r"^--spec-tokens = 3: it sets speculative decoding; give --speculative"):
        build_problem(problem, [*(BASE if problem is None else []), ("--spec-tokens", TOKENS, 3)])


def test_solve_plans_and_launches_with_the_flags():
    result = CliRunner().invoke(main, ["solve", "deepseek-r1-30-users", "--speculative", "mtp", "--spec-tokens", "3",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["workload"]["speculative"]["method"] == "mtp" and out["workload"]["speculative"]["tokens"] == 3
    assert all('"num_speculative_tokens": 3' in cmd or "--speculative-num-steps 3" in cmd or "max_draft_len: 3" in cmd
               or "num_nextn_predict_layers: 3" in cmd
               for line in out["plan"]["lines"] for cmd in line["launch"] if not cmd.startswith("#"))
    bad = CliRunner().invoke(main, ["solve", "deepseek-r1-30-users", "--speculative", "mtp", "--spec-tokens", "17"])
    assert bad.exit_code == 2 and bad.output.startswith("Error: --spec-tokens:") and "Traceback" not in bad.output


def _commands(group, path=()):
    import click

    yield path
    if isinstance(group, click.Group):
        for name, cmd in group.commands.items():
            yield from _commands(cmd, (*path, name))


def test_every_help_fits_an_80_column_terminal():
    """The examples in the help texts are not rewrapped by click (\\b blocks): each must fit by itself."""
    for path in _commands(main):
        out = CliRunner().invoke(main, [*path, "--help"], terminal_width=80).output
        long = [line for line in out.splitlines() if len(line) > 80]
        assert not long, (path, long)

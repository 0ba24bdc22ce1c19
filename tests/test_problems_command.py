"""`hwplan problems`: every bundled problem by the name `hwplan solve` takes, with its description, at 80
columns or as JSON; the names solve."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main

PROBLEMS = sorted(p.stem for p in (Path(__file__).parent.parent / "problems").glob("*.yaml"))


def test_the_list_names_every_bundled_problem_with_its_description():
    data = json.loads(CliRunner().invoke(main, ["problems", "--format", "json"]).output)["problems"]
    assert [p["name"] for p in data] == PROBLEMS
    assert all(p["description"] and "\n" not in p["description"] for p in data)
    table = CliRunner().invoke(main, ["problems"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert [line for line in lines if line and not line.startswith(" ")][:len(PROBLEMS)] == PROBLEMS


def test_a_listed_name_is_what_solve_takes(tmp_path):
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(main, ["solve", PROBLEMS[0], "--format", "json", "-o", str(out)])
    assert result.exit_code in (0, 1), result.output      # a plan, or none within the limits: never "unknown"
    assert "no such" not in result.output.lower()


def test_an_existing_output_file_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "list.json"
    out.write_text("keep")
    result = CliRunner().invoke(main, ["problems", "--format", "json", "-o", str(out)])
    assert result.exit_code == 2 and out.read_text() == "keep"

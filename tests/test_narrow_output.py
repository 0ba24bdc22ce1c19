"""Terminal output fits an 80-column terminal: every line of the plan, shortlist, sweep, validate and
catalog tables (and estimate) is at most 80 characters, ids are never broken across lines, and the
values a reader looks for are still there."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

import cli

WIDTH = 80


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli.main, list(args), env={"COLUMNS": str(WIDTH)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _assert_narrow(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not wide, f"{len(wide)} lines over {WIDTH} characters, e.g. {wide[0]!r}"


def _words(text: str) -> set[str]:
    """Every whitespace-separated token, and each with trailing punctuation removed."""
    tokens = text.split()
    return set(tokens) | {t.strip(",;:()") for t in tokens}


def _money(value: float) -> str:
    return f"{value:,.2f}".removesuffix(".00")


@pytest.mark.parametrize("problem", ["deepseek-r1-30-users", "deepseek-r1-seed-nvidia",
                                     "llama-3.1-70b-h100-pcie-offers", "deepseek-r1-1.58bit"])
def test_solve_table_fits_and_keeps_the_figures(problem):
    text = _run("solve", problem)
    _assert_narrow(text)
    plan = json.loads(_run("solve", problem, "--format", "json"))["plan"]
    words = _words(text)
    assert _money(plan["totals"]["cost"]) in words
    for line in plan["lines"]:
        assert (line["system"] or line["platform"]) in words          # the node type id, whole
        assert f"{line['gpus_per_node']} × {line['accelerator']} per node" in text
        assert _money(line["cost"]) in words
    for n in plan["network"]:
        assert n["fabric"] in words and _money(n["cost"]) in words    # the network is a row of the table
    for r in plan["racks"]:
        assert r["rack"] in words
    # The rows' costs add up to the total printed under them.
    costs = [line["cost"] for line in plan["lines"]] + [n["cost"] for n in plan["network"]] + \
        [r["cost"] for r in plan["racks"]]
    assert sum(costs) == pytest.approx(plan["totals"]["cost"])
    # Launch commands stay whole shell lines: continued with ' \' and never cut inside an option.
    assert "$ " in text and all(not l.endswith("-") for l in text.splitlines())


def test_shortlist_table_fits_and_keeps_the_figures():
    text = _run("shortlist", "deepseek-r1-30-users", "-k", "3")
    _assert_narrow(text)
    plans = json.loads(_run("shortlist", "deepseek-r1-30-users", "-k", "3", "--format", "json"))["plans"]
    words = _words(text)
    first = plans[0]["plan"]["totals"]["cost"]
    for i, p in enumerate(plans, 1):
        t = p["plan"]["totals"]
        row = next(l for l in text.splitlines() if l.startswith(f"{i} "))
        assert _money(t["cost"]) in row.split() and str(t["nodes"]) in row.split()
        if i > 1:
            assert f"+{t['cost'] - first:,.0f}" in row.split()
        for line in p["plan"]["lines"]:
            assert (line["system"] or line["platform"]) in words


def test_sweep_table_fits_and_keeps_the_figures():
    text = _run("sweep", "deepseek-r1-30-users", "--budget", "1000000,2000000,2500000")
    _assert_narrow(text)
    points = json.loads(_run("sweep", "deepseek-r1-30-users", "--budget", "1000000,2000000,2500000",
                             "--format", "json"))["plans"]
    lines = text.splitlines()
    for pt in points:
        row = next(l for l in lines if l.split() and l.split()[0] == f"{pt['sweep_value']:,.0f}")
        if pt["plan"] is None:
            assert "infeasible" in row
            assert lines[lines.index(row) + 1].startswith("     No plan")   # why, on the line under it
        else:
            assert _money(pt["plan"]["totals"]["cost"]) in row.split()


def test_validate_rows_and_summary_fit():
    text = _run("validate")
    _assert_narrow(text)
    data = json.loads(_run("validate", "--format", "json"))
    rows = {l.split()[0]: l for l in text.splitlines() if l.startswith("  ") and l.split()}
    for r in data["rows"]:
        assert r["id"] in rows, r["id"]                                   # every row, its id whole
        assert f"{r['gpus']}×{r['accelerator']}" in rows[r["id"]].split()
    for model in {r["model"] for r in data["rows"]}:
        assert f"{model}:" in text.splitlines()                          # rows grouped under their model
    summary = _run("validate", "--summary-only")
    _assert_narrow(summary)
    assert "median |error|" in summary and "test set (out-of-sample)" in summary


@pytest.mark.parametrize("section", cli.CATALOG_SECTIONS)
def test_catalog_listing_fits_and_keeps_every_id(section):
    text = _run("catalog", section)
    _assert_narrow(text)
    rows = json.loads(_run("catalog", section, "--format", "json"))
    key = "item" if section == "prices" else "id"
    starts = {l.split()[0] for l in text.splitlines() if l.split()}
    for r in rows:
        assert r[key] in starts, r[key]                                   # each id starts its own row, whole


def test_estimate_fits():
    text = _run("estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8",
                "--concurrency", "30")
    _assert_narrow(text)
    assert re.search(r"KV capacity\s+[\d,]+ tokens", text)

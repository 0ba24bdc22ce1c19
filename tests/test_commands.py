"""The library side of the commands (optimizer/commands.py, catalog.tools.parse_map): what flags mean is
decided there, so the CLI only parses, calls and renders; errors name the flag and exit 2."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

import cli
from catalog.errors import HwplanError, InputError
from catalog.tools import parse_map
from optimizer.commands import (alternatives, check_workers, estimate_from_flags, parse_concurrency, solve_options,
                                sweep_values)


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf])
def test_a_time_limit_must_be_a_positive_number(seconds):
    with pytest.raises(HwplanError, match="--time-limit"):
        solve_options(seconds)
    assert solve_options(2.5).time_limit_s == 2.5


def test_a_sweep_takes_a_range_on_exactly_one_flag():
    users, budgets, fixed_users, fixed_budget = sweep_values("16:64:16", "1000000")
    assert users == [16, 32, 48, 64] and budgets is None       # 16 + 16 i up to 64: 4 points
    assert fixed_users is None and fixed_budget == 1_000_000.0
    users, budgets, _, _ = sweep_values(None, "1,2,3")
    assert users is None and budgets == [1.0, 2.0, 3.0]
    for both_or_neither in (("10:30:10", "1,2"), ("30", "1000"), (None, None)):
        with pytest.raises(HwplanError, match="exactly one of --users or --budget"):
            sweep_values(*both_or_neither)
    with pytest.raises(HwplanError, match="--budget = 'lots'"):
        sweep_values("10,20", "lots")


def test_workers_must_be_at_least_one():
    check_workers(None)
    check_workers(1)
    with pytest.raises(HwplanError, match="--workers = 0"):
        check_workers(0)


@pytest.mark.parametrize("text, value", [(None, None), ("max", "max"), ("1", 1), ("64", 64)])
def test_concurrency_is_a_whole_number_or_max(text, value):
    assert parse_concurrency(text) == value


@pytest.mark.parametrize("text, message", [("0", "give at least 1"), ("-3", "give at least 1"),
                                           ("2.5", "whole number or 'max'"), ("lots", "whole number or 'max'")])
def test_concurrency_refuses_anything_else(text, message):
    with pytest.raises(HwplanError, match=message):
        parse_concurrency(text)


def test_estimate_from_flags_checks_its_flags_and_sizes_the_replica(catalog):
    with pytest.raises(HwplanError, match="give --model"):
        estimate_from_flags(catalog, model=None, accelerator="h200-sxm", gpus=8)
    with pytest.raises(HwplanError, match="--output-tokens = 0"):
        estimate_from_flags(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, output_tokens=0)
    est = estimate_from_flags(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, concurrency="30",
                              speculative="mtp", spec_tokens=3)
    assert est.concurrency == 30 and est.speculative["method"] == "mtp" and est.speculative["tokens"] == 3


def test_a_shortlist_is_per_vendor_or_per_seller_not_both(catalog):
    from optimizer import load_problem
    from problems import bundled_problem_path

    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    with pytest.raises(HwplanError, match="not both"):
        alternatives(catalog, problem, solve_options(10), per_vendor=True, per_seller=True)


def test_map_flags_become_a_column_mapping():
    # The last '=' splits, so a column name may hold one; spaces around either side are dropped.
    assert parse_map(["SKU=item", " Unit price = price", "a=b=stock"]) == {"SKU": "item", "Unit price": "price",
                                                                          "a=b": "stock"}
    with pytest.raises(InputError, match="--map noequals: write COLUMN=FIELD"):
        parse_map(["SKU=item", "noequals"])


@pytest.mark.parametrize("args, message", [
    (["solve", "deepseek-r1-30-users", "--time-limit", "0"], "--time-limit = 0.0"),
    (["sweep", "deepseek-r1-30-users", "--users", "10", "--budget", "5"], "exactly one of --users or --budget"),
    (["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8", "--concurrency", "x"],
     "--concurrency = 'x'"),
    (["catalog", "import", "sheet.csv", "--seller", "Acme", "--map", "noequals"], "--map noequals"),
])
def test_the_cli_reports_these_as_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sheet.csv").write_text("SKU,Price\nh100-sxm,1\n")
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output

"""The plan CSV (`solve --format csv`, `shortlist --format csv`) is a bill whose rows add up: node lines,
then the network fabric and the racks, each with the sources of its offers."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

import cli

# Bundled problems whose optimal plan buys a network (two-node replicas cabled node to node).
WITH_NETWORK = ("deepseek-r1-seed-nvidia", "deepseek-r1-1.58bit")


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("problem", WITH_NETWORK)
def test_plan_csv_rows_add_up_to_the_plan_total(problem):
    plan = json.loads(_run("solve", problem, "--format", "json"))["plan"]
    rows = list(csv.DictReader(io.StringIO(_run("solve", problem, "--format", "csv"))))
    kinds = [r["kind"] for r in rows]
    assert kinds == ["node"] * len(plan["lines"]) + ["network"] * len(plan["network"]) + ["rack"] * len(plan["racks"])
    network_cost = sum(Fraction(str(n["cost"])) for n in plan["network"])
    assert network_cost > 0  # the case this test is about: without the network rows the sum falls short by this
    assert sum(Fraction(r["cost"]) for r in rows) == Fraction(str(plan["totals"]["cost"]))
    assert sum(int(r["power_w"]) for r in rows) == plan["totals"]["power_w"]
    for r in rows:
        assert r["currency"] == plan["totals"]["currency"]
        if Fraction(r["cost"]) > 0:
            assert r["source"], r  # every priced row says where its price comes from
    network_sources = {p["source"] for p in plan["purchases"] if p["kind"] in ("switch", "cable", "transceiver", "nic")}
    assert network_sources
    shown = " ".join(r["source"] for r in rows if r["kind"] == "network")
    assert all(source in shown for source in network_sources)
    assert [r["item"] for r in rows if r["kind"] == "network"] == [n["fabric"] for n in plan["network"]]

def test_shortlist_csv_adds_up_per_rank():
    data = json.loads(_run("shortlist", "deepseek-r1-seed-nvidia", "-k", "2", "--format", "json"))["plans"]
    rows = list(csv.DictReader(io.StringIO(_run("shortlist", "deepseek-r1-seed-nvidia", "-k", "2", "--format", "csv"))))
    for rank, plan in enumerate(data, 1):
        mine = [r for r in rows if r["rank"] == str(rank)]
        assert sum(Fraction(r["cost"]) for r in mine) == Fraction(str(plan["plan"]["totals"]["cost"]))

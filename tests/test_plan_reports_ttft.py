"""A plan says what it assumed of each request and the time to first token it gives: every line's TTFT (mean and
p90) in the terminal table's detail line, the markdown's line text and the CSV; the workload (lengths, speed and
TTFT targets, arrivals or request rate, speculative decoding) in a note; a plan sized for a request rate titles its
demand in requests/s and counts requests per hour."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli

BUNDLED = Path(__file__).resolve().parent.parent / "problems" / "deepseek-r1-30-users.yaml"


def _problem(tmp_path, **workload) -> Path:
    data = yaml.safe_load(BUNDLED.read_text())
    data["name"] = "ttft-report"
    data["workload"].update(workload)
    if "request_rate" in workload:
        del data["workload"]["concurrent_users"]
    path = tmp_path / "problem.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(*args) -> str:
    res = CliRunner().invoke(cli.main, ["solve", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.output


def test_every_format_reports_each_lines_ttft_and_the_workload(tmp_path):
    path = _problem(tmp_path, max_ttft_s=2, speculative={"method": "mtp", "tokens": 2})
    plan = json.loads(_run(path, "--format", "json"))
    line = plan["plan"]["lines"][0]
    assert line["ttft_s"] is not None and line["ttft_p90_s"] is not None
    mean, p90 = f"{line['ttft_s']:,.2f}", f"{line['ttft_p90_s']:,.2f}"
    table = " ".join(_run(path).split())       # the detail line wraps at 80 columns
    assert f"TTFT {mean} s mean, {p90} s p90" in table
    assert f"TTFT {mean} s mean, {p90} s p90" in _run(path, "--format", "md")
    row = next(csv.DictReader(io.StringIO(_run(path, "--format", "csv"))))
    assert float(row["ttft_s"]) == line["ttft_s"] and float(row["ttft_p90_s"]) == line["ttft_p90_s"]
    # DeepSeek-R1 MTP with 2 drafts and no stated acceptance: 2.58 tokens per step (TensorRT-LLM's published table).
    w = plan["workload"]
    assert (w["input_tokens"], w["output_tokens"], w["max_ttft_s"], w["ttft_percentile"]) == (2000, 6000, 2, 90)
    assert w["speculative"]["tokens_per_step"] == pytest.approx(2.58)
    assert "Workload assumed: 2,000 in / 6,000 out tokens per request, ≥ 15 tok/s per user, TTFT p90 ≤ 2 s" in table
    assert "speculative decoding mtp, 2 draft tokens" in table and "2.58 tokens per step" in table


def test_a_request_rate_plan_titles_its_rate_and_counts_requests_per_hour(tmp_path):
    path = _problem(tmp_path, request_rate=1)
    plan = json.loads(_run(path, "--format", "json"))
    assert plan["request_rate"] == 1 and plan["users_demanded"] is None
    per_hour = plan["plan"]["lines"][0]["users_per_replica"]
    table = " ".join(_run(path).split())
    assert "deepseek-r1 for 1 request/s" in table
    assert f"of {per_hour:,} requests/h" in table and "Users: requests per hour the plan takes" in table

"""optimizer.flags: a problem from flags, with units converted in the library (not in the CLI)."""

from __future__ import annotations

import pytest

from catalog.errors import HwplanError
from optimizer.flags import build_problem, flag_value

MODEL = ("--model", ("model",), "llama-3.1-70b")
USERS = ("--users", ("workload", "concurrent_users"), 40)


def test_values_take_the_field_unit():
    assert flag_value("--max-power-kw", 12.5) == 12_500          # 12.5 kW × 1000 W/kW
    assert flag_value("--max-power-kw", 0.0004) == 0             # rounded to the watt
    assert flag_value("--network-prices", ("none",)) == []        # leave the network unpriced
    assert flag_value("--vendor", ()) is None and flag_value("--vendor", ("amd",)) == ["amd"]
    assert flag_value("--eager", False) is None and flag_value("--eager", True) is True


def test_a_problem_of_flags_alone():
    p = build_problem(None, [MODEL, USERS, ("--max-power-kw", ("constraints", "max_power_w"), 3.2)])
    assert p.model == "llama-3.1-70b" and p.workload.concurrent_users == 40
    assert p.constraints.max_power_w == 3200


def test_flags_override_a_bundled_problem_by_name():
    p = build_problem("llama-3.1-70b-100-users", [USERS, ("--model", ("model",), None)])
    assert p.workload.concurrent_users == 40 and p.model == "llama-3.1-70b"


def test_no_file_and_no_model_is_a_clear_error():
    with pytest.raises(HwplanError, match="at least --model"):
        build_problem(None, [USERS])
    with pytest.raises(HwplanError, match="no bundled problem of that name"):
        build_problem("no-such-problem", [])


RATE = ("--request-rate", ("workload", "request_rate"), 0.5)


def test_request_rate_is_a_problem_flag_and_replaces_the_files_users(tmp_path):
    p = build_problem(None, [MODEL, RATE])
    assert p.workload.request_rate == 0.5 and p.workload.concurrent_users is None
    assert p.workload.demand == 1800                                  # 0.5 requests/s × 3,600 s/h
    # The bundled file gives 100 concurrent users: --request-rate replaces them, the rest of the file stays.
    p = build_problem("llama-3.1-70b-100-users", [RATE])
    assert (p.workload.request_rate, p.workload.concurrent_users, p.workload.demand) == (0.5, None, 1800)
    assert p.model == "llama-3.1-70b" and p.workload.min_tokens_per_s == 20
    # ...and --users replaces a file's request rate.
    f = tmp_path / "rate.yaml"
    f.write_text("model: llama-3.1-8b\nworkload: {request_rate: 3, input_tokens: 500}\n")
    p = build_problem(str(f), [USERS])
    assert (p.workload.concurrent_users, p.workload.request_rate, p.workload.input_tokens) == (40, None, 500)


def test_both_demand_flags_are_one_clear_error():
    with pytest.raises(HwplanError, match=r"--users = 40 and --request-rate = 0.5: give one demand"):
        build_problem(None, [MODEL, USERS, RATE])
    with pytest.raises(HwplanError, match="give one demand"):
        build_problem("llama-3.1-70b-100-users", [USERS, RATE])


def test_solve_takes_request_rate_on_the_command_line():
    import json

    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["solve", "--model", "llama-3.1-8b", "--request-rate", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["request_rate"] == 2 and data["workload"]["concurrent_users"] is None
    # The plan's users are requests per hour: at least 2 × 3,600.
    assert data["plan"]["totals"]["users"] >= 7200


def test_a_request_rate_sweep_says_its_plans_serve_requests_per_hour():
    """A budget sweep of a request-rate workload: 'Served' counts requests per hour (the solver's demand unit for
    a rate), so the legend and the markdown header say so (they said users)."""
    from click.testing import CliRunner

    from cli import main

    args = ["sweep", "llama-3.1-70b-100-users", "--request-rate", "2", "--budget", "200000,400000"]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "Served: requests per hour the plan serves" in " ".join(text.output.split())
    md = CliRunner().invoke(main, args + ["--format", "md"]).output
    assert "Requests/h served" in md and "Users served" not in md
    users = CliRunner().invoke(main, ["sweep", "llama-3.1-70b-100-users", "--budget", "200000,400000"]).output
    assert "Served: users the plan serves" in " ".join(users.split())

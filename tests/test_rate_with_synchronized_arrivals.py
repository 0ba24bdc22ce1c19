"""A request rate (Poisson arrivals) with `arrivals: synchronized` (users who all start together) asks for two
arrival processes at once; the rate used to win silently (found by tester6). Both the estimate flags and a
problem's workload refuse the pair with a message naming both."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from cli import main
from optimizer.problem import Workload


def test_estimate_refuses_a_rate_with_synchronized_arrivals():
    got = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
                                    "--request-rate", "2", "--arrivals", "synchronized"])
    assert got.exit_code == 2
    assert "--arrivals synchronized" in got.output and "--request-rate" in got.output
    assert "Traceback" not in got.output
    # Each alone is fine.
    for flags in (["--request-rate", "2"], ["--concurrency", "4", "--arrivals", "synchronized"]):
        ok = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus",
                                       "1", *flags])
        assert ok.exit_code == 0, ok.output


def test_a_workload_refuses_a_rate_with_synchronized_arrivals():
    with pytest.raises(ValidationError, match="arrivals = synchronized"):
        Workload(request_rate=2.0, arrivals="synchronized")
    assert Workload(request_rate=2.0).arrivals == "random"
    assert Workload(concurrent_users=4, arrivals="synchronized").arrivals == "synchronized"

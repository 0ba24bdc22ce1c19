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

"""A cluster that can be built: hardware classes, one power basis, fabric, racks."""

from __future__ import annotations

import pytest

from catalog.errors import InfeasibleError
from optimizer import load_problem, optimize, problem_from_fields
from optimizer.problem import DEFAULT_HARDWARE_CLASSES
from problems import bundled_problems

PROBLEMS = bundled_problems()


# -- hardware classes -------------------------------------------------------------------
@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_no_bundled_plan_buys_a_class_its_problem_does_not_allow(path, catalog):
    problem = load_problem(path)
    allowed = set(problem.constraints.hardware_classes)
    plan = optimize(catalog, problem)
    for line in plan.lines:
        assert catalog.accelerators[line.accelerator].hardware_class in allowed
        assert catalog.platforms[line.platform].hardware_class in allowed
    if "consumer" not in allowed:
        assert not any(catalog.accelerators[line.accelerator].hardware_class == "consumer" for line in plan.lines)


def test_default_classes_are_datacenter_and_workstation():
    problem = problem_from_fields({"model": "llama-3.1-70b", "workload": {"concurrent_users": 10}})
    assert problem.constraints.hardware_classes == list(DEFAULT_HARDWARE_CLASSES) == ["datacenter", "workstation"]


def _rtx_problem(classes):
    fields = {"model": "llama-3.1-70b", "precision": "bf16", "workload": {"concurrent_users": 50},
              "constraints": {"accelerators": ["rtx-5090"]}}
    if classes is not None:
        fields["constraints"]["hardware_classes"] = classes
    return problem_from_fields(fields)


def test_consumer_cards_are_filtered_by_default_with_the_reason(catalog):
    from optimizer.units import prepare

    problem = _rtx_problem(None)
    assert prepare(catalog, problem).filtered["rtx-5090"] == \
        "hardware class consumer is not in constraints.hardware_classes"
    with pytest.raises(InfeasibleError):
        optimize(catalog, problem)


def test_a_plan_that_buys_consumer_cards_says_so(catalog):
    plan = optimize(catalog, _rtx_problem(["datacenter", "consumer"]))
    assert {line.accelerator for line in plan.lines} == {"rtx-5090"}
    assert any("consumer-class hardware" in n and "rtx-5090" in n for n in plan.notes)
    # the only host for an 8-card RTX 5090 node in street-usd-2025 is the barebone PCIe Gen5 server
    assert any(n.startswith("barebone servers") and "pcie-gen5-8gpu" in n for n in plan.notes)


def test_workstation_servers_leave_with_the_workstation_class(catalog):
    """deepseek-r1-1.58bit's answer is two DGX Spark boxes (workstation class); without that class it changes."""
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-1.58bit")
    from optimizer import with_overrides
    problem = with_overrides(load_problem(path), {("constraints", "hardware_classes"): ("--class", ["datacenter"])})
    plan = optimize(catalog, problem)
    assert all(catalog.platforms[line.platform].hardware_class == "datacenter" for line in plan.lines)
    assert "dgx-spark" not in {line.platform for line in plan.lines}

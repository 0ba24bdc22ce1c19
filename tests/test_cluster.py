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


# -- one power basis ----------------------------------------------------------------------
def _every_node(catalog):
    """(name, platform, accelerator, count, system) for every system and every platform build."""
    from optimizer.units import platform_accepts

    for s in catalog.systems.values():
        yield s.id, catalog.platforms[s.platform], catalog.accelerators[s.accelerator], s.count, s
    for p in catalog.platforms.values():
        for a in catalog.accelerators.values():
            if platform_accepts(p, a):
                for n in p.gpu_counts:
                    yield f"{p.id}+{n}x{a.id}", p, a, n, None


def test_every_node_draws_at_least_its_accelerators_tdp(catalog):
    from optimizer.units import node_power_w

    for name, plat, acc, count, system in _every_node(catalog):
        assert node_power_w(plat, acc, count, system) >= count * acc.tdp_w, name


def test_platform_builds_stay_within_their_power_supplies(catalog):
    from optimizer.units import node_power_w

    for name, plat, acc, count, system in _every_node(catalog):
        if system is None and plat.max_system_power_w is not None:
            assert node_power_w(plat, acc, count) <= plat.max_system_power_w, name


def test_the_figures_the_issue_names_are_on_one_basis(catalog):
    s = catalog.systems
    # HGX H100/H800 and H200 nodes: maximum = DGX H100/H200's 10.2 kW; the seed's figures are typical draw
    for sid, typical in (("hgx-h100-8x", 5000), ("hgx-h800-8x", 5000), ("hgx-h200-8x", 8000), ("dgx-h200", 8000)):
        assert (s[sid].max_power_w, s[sid].typical_power_w) == (10200, typical), sid
    assert 8 * catalog.accelerators["h100-sxm"].tdp_w == 5600 < s["hgx-h100-8x"].max_power_w
    assert catalog.accelerators["h20-96g"].tdp_w == 400 and catalog.accelerators["l20"].tdp_w == 275


def test_tco_energy_uses_typical_draw_where_stated(catalog):
    """One self-built 8×H200: typical 8 kW for energy, 10.2 kW maximum for the power total."""
    path = next(p for p in PROBLEMS if p.stem == "deepseek-r1-seed-nvidia-one-node")
    plan = optimize(catalog, load_problem(path))
    assert plan.totals.power_w == 10_200
    # energy = 8,000 W × PUE 1.4 × 4 years × 8,760 h / 1,000 × 0.70 CNY/kWh (the problem's defaults)
    assert float(plan.tco.energy) == pytest.approx(8000 * 1.4 * 4 * 8760 / 1000 * 0.70)

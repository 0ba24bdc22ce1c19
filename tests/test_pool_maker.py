"""Both pools of a disaggregated plan run on accelerators of one maker: the KV cache crosses between them in
the engine's own transfer protocol and block layout, which differ between makers' builds (optimizer/disagg.py
`pool_group`). Before, the bundled question's best disaggregated plan paired AMD MI355X decode with NVIDIA
RTX PRO 6000 prefill."""

from __future__ import annotations

from catalog import load_catalog
from optimizer.check import check_plan
from optimizer.problem import Problem, load_problem
from optimizer.solve import optimize
from problems import bundled_problem_path


def _problem(accelerators: list[str]) -> Problem:
    data = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated")).model_dump()
    data["serving"] = "disaggregated"
    data["constraints"].update(accelerators=accelerators)
    return Problem.model_validate(data)


def test_pools_of_two_makers_are_never_bought():
    catalog = load_catalog()
    # MI355X (AMD) and RTX PRO 6000 (NVIDIA) are both on offer; each maker alone can hold both pools.
    plan = optimize(catalog, _problem(["mi355x", "rtx-pro-6000"]))
    assert {line.role for line in plan.lines} == {"prefill", "decode"}
    assert len({line.maker for line in plan.lines}) == 1


def test_the_checker_refuses_pools_of_two_makers():
    catalog = load_catalog()
    problem = _problem(["mi355x"])
    plan = optimize(catalog, problem)
    assert check_plan(plan, catalog, problem) == []
    prefill = next(i for i, line in enumerate(plan.lines) if line.role == "prefill")
    lines = list(plan.lines)
    lines[prefill] = lines[prefill].model_copy(update={"maker": "nvidia"})
    tampered = plan.model_copy(update={"lines": tuple(lines)})
    assert any("one accelerator maker" in p for p in check_plan(tampered, catalog, problem))

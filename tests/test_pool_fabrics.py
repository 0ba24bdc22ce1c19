"""A disaggregated plan whose prefill and decode pools sit on different scale-out fabric classes says that the
KV transfer between them needs a connection the plan does not buy (the fabric is bought per class, each class
on its own switches)."""

from __future__ import annotations

from catalog import load_catalog
from optimizer.problem import Problem, load_problem
from optimizer.solve import optimize, pool_fabric_notes
from problems import bundled_problem_path


def test_one_class_for_both_pools_needs_no_note():
    assert pool_fabric_notes({}) == []
    assert pool_fabric_notes({"decode": {"ethernet-400"}}) == []
    assert pool_fabric_notes({"prefill": {"infiniband-400"}, "decode": {"infiniband-400"}}) == []


def test_two_ethernet_speeds_need_their_switches_linked():
    (note,) = pool_fabric_notes({"prefill": {"ethernet-10"}, "decode": {"ethernet-400"}})
    assert "2 separate scale-out fabrics (prefill on ethernet-10; decode on ethernet-400)" in note
    assert "switches must be linked" in note and "not in this plan's purchases" in note
    assert "gateway" not in note


def test_infiniband_beside_ethernet_needs_a_gateway():
    (note,) = pool_fabric_notes({"prefill": {"ethernet-400"}, "decode": {"ethernet-400", "infiniband-400"}})
    assert "2 separate scale-out fabrics (prefill on ethernet-400; decode on ethernet-400, infiniband-400)" in note
    assert "InfiniBand and Ethernet do not bridge" in note and "gateway" in note


def test_a_solved_plan_notes_its_pools_fabrics_exactly_when_they_differ():
    catalog = load_catalog()
    data = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated")).model_dump()
    data["serving"] = "disaggregated"
    # H200 servers come with 400 Gb/s InfiniBand, the RTX PRO 6000 workstations with 10 Gb/s Ethernet.
    data["constraints"].update(accelerators=["h200-sxm", "rtx-pro-6000"])
    plan = optimize(catalog, Problem.model_validate(data))
    classes = sorted({n.fabric for n in plan.network})
    notes = [n for n in plan.notes if "separate scale-out fabrics" in n]
    assert len(notes) == (1 if len(classes) > 1 else 0)
    for note in notes:
        assert all(c in note for c in classes)
        protocols = {c.split("-")[0] for c in classes}
        assert ("do not bridge" in note) == (protocols == {"ethernet", "infiniband"})

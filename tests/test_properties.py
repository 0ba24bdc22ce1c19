"""Properties over random catalogs and problems: every plan passes the checker and equals brute force."""

from __future__ import annotations

import dataclasses
import itertools
import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from catalog.errors import InfeasibleError
from catalog.schema import Accelerator, Offer, Platform, PriceList
from optimizer import check_plan, optimize
from optimizer.problem import Problem
from optimizer.solve import limits_for
from optimizer.units import prepare

from .synthetic import satisfies, totals

SRC = {"source": "assumption: random test fixture", "date": "2025"}
OFFER_SRC = {"source": "assumption: random test fixture", "price_date": "2025", "seller": "Test Seller"}


@st.composite
def random_world(draw, base):
    accs = {}
    for i in range(draw(st.integers(1, 2))):
        mem = draw(st.sampled_from([24, 48, 80, 96, 141]))
        accs[f"acc{i}"] = Accelerator(
            id=f"acc{i}", name=f"Accelerator {i}", maker=draw(st.sampled_from(["nvidia", "amd"])), hardware_class="datacenter", family="hopper",
            form_factor="pcie", memory_gb=mem, memory_bandwidth_gbs=draw(st.integers(500, 5000)),
            tflops={"bf16": draw(st.integers(100, 1000))}, native_dtypes=["bf16"], tdp_w=draw(st.integers(200, 800)),
            interconnect_gbs=64, max_per_node=8, **SRC)
    plats = {"box": Platform(id="box", name="Box", maker="oem", hardware_class="datacenter", form_factor="pcie", gpu_counts=[1, 2, 4, 8],
                             base_power_w=draw(st.integers(0, 2000)), rack_units=4, link="pcie", **SRC)}
    offers = [Offer(item="box", price=draw(st.integers(1000, 50000)), **OFFER_SRC)]
    offers += [Offer(item=a, price=draw(st.integers(1000, 40000)), **OFFER_SRC) for a in accs]
    prices = {"rand": PriceList(id="rand", name="Random", currency="USD", offers=offers, **SRC)}
    catalog = dataclasses.replace(base, accelerators={**accs}, platforms=plats, systems={}, price_lists=prices)
    problem = Problem.model_validate({
        "model": draw(st.sampled_from(["llama-3.1-8b", "qwen3-8b", "mixtral-8x7b"])),
        "precision": "bf16",
        "engine": draw(st.sampled_from(["vllm", "sglang", "trtllm"])),
        "workload": {"concurrent_users": draw(st.integers(1, 200)), "input_tokens": draw(st.integers(100, 4000)),
                     "output_tokens": draw(st.integers(50, 2000)),
                     "min_tokens_per_s": draw(st.sampled_from([0, 5, 20, 40]))},
        "constraints": {"max_nodes": draw(st.sampled_from([None, 2, 6])),
                        "budget": draw(st.sampled_from([None, 60_000, 300_000])),
                        "max_power_w": draw(st.sampled_from([None, 4000, 20000])),
                        "max_nodes_per_replica": draw(st.sampled_from([1, 2]))},
        "prices": "rand",
        "serving": "aggregated",   # the brute force below enumerates aggregated replicas (pools: tests/test_disagg.py)
    })
    return catalog, problem


@settings(max_examples=40, deadline=None, derandomize=True,  # the same examples on every run, on every machine
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(data=st.data())
def test_random_problems_solve_to_the_brute_force_optimum(catalog, data):
    world, problem = data.draw(random_world(catalog))
    try:
        cands = prepare(world, problem)
    except InfeasibleError:
        return
    units = cands.units
    limits = limits_for(problem, cands.money_scale)
    bounds = [math.ceil(limits.demand / u.users) for u in units]
    assume(units and math.prod(b + 1 for b in bounds) <= 20_000)
    best = None
    for combo in itertools.product(*(range(b + 1) for b in bounds)):
        replicas = {u.id: r for u, r in zip(units, combo) if r}
        if replicas and satisfies(units, replicas, limits):
            t = totals(units, replicas)
            key = (t["cost"], t["power"], t["nodes"])
            best = key if best is None or key < best else best
    try:
        plan = optimize(world, problem)
    except InfeasibleError:
        assert best is None
        return
    assert check_plan(plan, world, problem) == []
    assert best is not None
    assert (plan.totals.cost * cands.money_scale, plan.totals.power_w, plan.totals.nodes) == best

"""Disaggregated prefill/decode as a plan: the pool formulas by hand, the joint two-pool choice against
brute force, the independent checker on each pool, launch commands per role, and the problem/CLI field."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random

import pytest
from click.testing import CliRunner

from cli import main
from optimizer import disagg, serving, sizing, speed
from optimizer.check import check_plan
from optimizer.deployment import Deployment
from optimizer.model import Limits, Roles, solve_units
from optimizer.problem import Problem, load_problem
from optimizer.solve import optimize, prepare_problem
from problems import bundled_problem_path

from .synthetic import FakeUnit

# --------------------------------------------------------------------------- pool formulas


def _times(alpha: float = 0.02, beta: float = 0.0005, prefill_s: float = 0.4, overhead: float = 0.015):
    """A replica whose decode step is α + β·B seconds and whose prompt takes `prefill_s` alone."""
    return serving.Times(token_time=lambda b, ctx: (alpha + beta * b, "memory"), prefill_time=lambda tokens: prefill_s,
                         layers=61, budget=8192, overhead_s=overhead)


def test_decode_batch_and_its_ladder_by_hand():
    # 20 tok/s per user: τ(B) = 0.02 + 0.0005·B ≤ 0.05 s → B ≤ 60.
    points = disagg.decode_size(_times(), 500, 8192, 1024, 20.0, users=100)
    assert points[0].batch == 60 and points[0].limit == "speed"
    # Below 60 the batches a pool of k replicas would run for 100 users: ceil(100 / k), k = 2 … 4.
    assert [p.batch for p in points[1:]] == [50, 34, 25]
    # A replica of 50 sequences completes 50 / (1,023 tokens × 0.045 s) requests per second.
    b50 = points[1]
    assert b50.tpot_s == pytest.approx(0.02 + 0.0005 * 50)
    assert b50.requests_per_s == pytest.approx(50 / (1023 * 0.045))
    # Memory for only 40 requests: B = 40, bound by memory; no user at 20 tok/s if τ(1) > 0.05 s.
    capped = disagg.decode_size(_times(), 40, 8192, 1024, 20.0)
    assert [(p.batch, p.limit) for p in capped] == [(40, "memory")]
    assert disagg.decode_size(_times(alpha=0.06), 500, 8192, 1024, 20.0) == []


def test_prefill_rate_mean_ttft_closed_form():
    # TTFT = S + transfer + overhead + ρ·S / (2(1 − ρ)) (M/D/1, Pollaczek–Khinchine) = 2 s:
    # budget b = 2 − (0.4 + 0.05 + 0.015) = 1.535 s, ρ = 2b / (S + 2b) = 3.07 / 3.47.
    size = disagg.prefill_rate(0.4, 0.05, 0.015, 2.0, percentile=50)
    rho = 3.07 / 3.47
    assert size.utilization == pytest.approx(rho, rel=1e-9)
    assert size.requests_per_s == pytest.approx(rho / 0.4, rel=1e-9)
    assert size.ttft_s == pytest.approx(2.0, rel=1e-9)


def test_prefill_rate_p90_by_kingman_tail():
    # p90 wait = (W̄/ρ)·ln(ρ / 0.1) = S / (2(1 − ρ)) · ln(10ρ) for ρ > 0.1: bisect by hand.
    s, fixed = 0.4, 0.4 + 0.05 + 0.015

    def p90(rho: float) -> float:
        return fixed + s / (2 * (1 - rho)) * math.log(10 * rho)

    lo, hi = 0.1, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p90(mid) <= 2.0 else (lo, mid)
    size = disagg.prefill_rate(0.4, 0.05, 0.015, 2.0, percentile=90)
    assert size.utilization == pytest.approx(lo, rel=1e-9)
    assert size.ttft_p90_s == pytest.approx(2.0, rel=1e-9)
    # Without a target the queue is kept at 90 % busy; a prompt longer than the target alone: no rate.
    assert disagg.prefill_rate(0.4, 0.05, 0.015, None).utilization == pytest.approx(0.9)
    assert disagg.prefill_rate(0.4, 0.05, 0.015, 0.4) is None


def test_kv_transfer_time_by_hand():
    # DeepSeek-R1's MLA cache at bf16: 61 layers × (512 + 64) × 2 B = 70,272 B per token; 8,192 tokens over
    # 50 GB/s plus one 30 µs hop.
    assert disagg.kv_transfer_s(8192 * 70272, 50) == pytest.approx(8192 * 70272 / 50e9 + 30e-6)


# --------------------------------------------------------------------------- the model against brute force


def _role_instance(seed: int):
    rng = random.Random(seed)
    units, prefill, decode, group = [], {}, {}, {}
    for i in range(3):   # decode units: users and requests per hour they send back
        users = rng.randint(30, 60)
        u = FakeUnit(id=f"d{i}", users=users, cost=rng.randint(20, 90), power_w=rng.randint(3, 9) * 100, nodes=1,
                     gpus=8, accelerator_id=rng.choice("ab"), sku=f"s{rng.randint(0, 2)}")
        units.append(u)
        decode[u.id] = users * rng.randint(20, 60)
    for i in range(2):   # prefill units: no users, requests per hour they take
        u = FakeUnit(id=f"p{i}", users=0, cost=rng.randint(20, 90), power_w=rng.randint(3, 9) * 100, nodes=1,
                     gpus=8, accelerator_id=rng.choice("ab"), sku=f"s{rng.randint(0, 2)}")
        units.append(u)
        prefill[u.id] = rng.randint(2700, 6000)
    links = {}
    for u in units:
        group[u.id] = rng.choice(["vllm", "sglang"]) if seed % 3 == 0 else "sglang"
        # decode: its own link; prefill: the slowest decode link it was sized for (MB/s)
        links[u.id] = rng.choice([12_500, 50_000, 100_000]) if seed % 2 else 50_000
    limits = Limits(demand=rng.randint(40, 120), max_nodes=rng.choice([None, 8]), budget=rng.choice([None, 400]),
                    max_skus=rng.choice([None, 2]))
    return units, Roles(prefill=prefill, decode=decode, group=group, links=links), limits


def _brute(units, roles: Roles, limits: Limits, most: int = 4):
    """Lexicographic (cost, power, nodes) optimum over every replica vector up to `most` each."""
    best = None
    for combo in itertools.product(range(most + 1), repeat=len(units)):
        r = {u.id: n for u, n in zip(units, combo) if n}
        used = [u for u in units if r.get(u.id)]
        users = sum(u.users * r[u.id] for u in used)
        take = sum(roles.prefill.get(u.id, 0) * r[u.id] for u in used)
        send = sum(roles.decode.get(u.id, 0) * r[u.id] for u in used)
        cost = sum(u.cost * r[u.id] for u in used)
        if users < limits.demand or take < send or len({roles.group[u.id] for u in used}) > 1:
            continue
        slowest = min((roles.links[u.id] for u in used if u.id in roles.decode), default=0)
        if any(roles.links[u.id] > slowest for u in used if u.id in roles.prefill):
            continue   # a prefill unit sized for faster decode links than some decode node bought
        if limits.budget is not None and cost > limits.budget:
            continue
        if limits.max_nodes is not None and sum(u.nodes * r[u.id] for u in used) > limits.max_nodes:
            continue
        if limits.max_skus is not None and len({u.sku for u in used}) > limits.max_skus:
            continue
        key = (cost, sum(u.power_w * r[u.id] for u in used), sum(u.nodes * r[u.id] for u in used))
        best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("seed", range(30))
def test_two_pool_model_equals_brute_force(seed):
    units, roles, limits = _role_instance(seed)
    # The range holds the optimum: a decode unit serves ≥ 30 of ≤ 120 users, so an optimal plan (which drops
    # no replica it can spare) runs ≤ 4 of it and < 120 + 60 users, sending ≤ 60 × 179 = 10,740 requests per
    # hour; a prefill unit takes ≥ 2,700, so ≤ 4 of it are ever needed.
    expected = _brute(units, roles, limits, most=4)
    sol = solve_units(units, limits, "cost", roles=roles)
    if expected is None:
        assert sol is None
        return
    assert sol is not None and (sol.values["cost"], sol.values["power"], sol.values["nodes"]) == expected
    # The pools the solver bought meet the pool constraint and one group.
    take = sum(roles.prefill.get(k, 0) * r for k, r in sol.replicas.items())
    send = sum(roles.decode.get(k, 0) * r for k, r in sol.replicas.items())
    assert take >= send and len({roles.group[k] for k in sol.replicas}) == 1
    slowest = min(roles.links[k] for k in sol.replicas if k in roles.decode)
    assert all(roles.links[k] <= slowest for k in sol.replicas if k in roles.prefill)


def _small_problem(**over) -> Problem:
    """The issue's question on two node types and one engine, the network and racks unpriced (cost = nodes)."""
    data = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated")).model_dump()
    data["engine"] = "sglang"
    data["constraints"].update(accelerators=["h200-sxm", "mi355x"], max_nodes_per_replica=1, max_replicas_per_node=1)
    data["network_prices"] = []
    data.update(over)
    return Problem.model_validate(data)


def test_joint_two_pool_choice_is_optimal_on_a_small_catalog(catalog):
    """Every combination of the candidate prefill and decode units (before pruning) costing no more than the
    best found, enumerated depth first: none beats the optimizer's plan."""
    problem = _small_problem(serving="disaggregated", workload={**_small_problem().workload.model_dump(),
                                                                "concurrent_users": 1200})
    prep = prepare_problem(catalog, problem, prune=False, serving="disaggregated")
    units = sorted(prep.candidates.units, key=lambda u: u.cost)
    plan = optimize(catalog, problem)
    scale = prep.candidates.money_scale
    best = [int(plan.totals.cost * scale)]   # the optimizer's cost in solver money: the incumbent
    seen = {"feasible": 0}

    def feasible(chosen: dict[int, int]) -> bool:
        picked = [(units[i], n) for i, n in chosen.items()]
        users = sum(u.users * n for u, n in picked if u.role == "decode")
        take = sum(u.rate * n for u, n in picked if u.role == "prefill")
        send = sum(u.rate * n for u, n in picked if u.role == "decode")
        groups = {(u.engine.id, u.variant.id, u.kv_dtype) for u, _ in picked}
        return users >= 1200 and take >= send and len(groups) == 1

    def walk(i: int, chosen: dict[int, int], cost: int) -> None:
        if chosen and feasible(chosen):
            seen["feasible"] += 1
            assert cost >= best[0], f"{[(units[k].id, n) for k, n in chosen.items()]} costs {cost} < {best[0]}"
            return   # adding more only costs more
        for j in range(i, len(units)):
            if cost + units[j].cost > best[0]:
                break    # sorted by cost: every later unit costs more
            chosen[j] = chosen.get(j, 0) + 1
            walk(j, chosen, cost + units[j].cost)
            chosen[j] -= 1
            if not chosen[j]:
                del chosen[j]

    walk(0, {}, 0)
    assert seen["feasible"] >= 1   # the optimizer's own plan (or one as cheap) is among them
    assert {l.role for l in plan.lines} == {"prefill", "decode"}


# --------------------------------------------------------------------------- the question


def _hand_decode(catalog, unit, users: int, min_tps: float, ctx: float):
    """(largest batch at ≥ min_tps per user, τ of a batch) of a decode replica, from the speed model alone."""
    dep = Deployment(model=catalog.models["deepseek-r1"], variant=unit.variant, accelerator=unit.node.accelerator,
                     platform=unit.node.platform, engine=unit.engine, gpus_per_node=unit.node.count,
                     layout=unit.layout)
    fit = dep.memory()
    held = sizing.max_concurrency(dep.model, fit, dep.kv_dtype, 8192 + 1024)
    cap = min(held, speed.batch_cap(dep, fit) or held)
    tau = {b: speed.decode_token_time(dep, fit, b, ctx)[0] for b in range(1, cap + 1)}
    biggest = max(b for b in tau if 1 / tau[b] >= min_tps)
    return biggest, tau, dep, fit


def test_deepseek_r1_8k_pools_derived_by_hand(catalog):
    """The issue's target: DeepSeek-R1 fp8, 100 users, 8,192 in / 1,024 out, ≥ 20 tok/s, TTFT p90 ≤ 2 s, on 8×H200
    nodes with SGLang. Each pool is re-derived here from the speed model's step and prompt times."""
    problem = _small_problem(serving="disaggregated")
    problem = problem.model_copy(update={"constraints": problem.constraints.model_copy(
        update={"accelerators": ["h200-sxm"]})})
    plan = optimize(catalog, problem)
    units = {u.id: u for u in prepare_problem(catalog, problem, serving="disaggregated").candidates.units}
    dec = next(l for l in plan.lines if l.role == "decode")
    pre = next(l for l in plan.lines if l.role == "prefill")

    # Decode: the largest batch B at 20 tok/s (τ at the mean context 8,192 + 512), or a batch ceil(100 / k) below
    # it; ceil(100 / batch) replicas; each completes ceil(3,600 × batch / (1,023 × τ)) requests per hour.
    biggest, tau, _, _ = _hand_decode(catalog, units[dec.unit], 100, 20.0, 8192 + 512)
    b = dec.users_per_replica
    assert b == biggest or b in {math.ceil(100 / k) for k in range(1, 5) if math.ceil(100 / k) < biggest}
    assert dec.replicas == math.ceil(100 / b)
    assert dec.tokens_per_s_per_user == pytest.approx(1 / tau[b])
    mu = math.ceil(3600 * b / (1023 * tau[b]) - 1e-9)
    assert dec.requests_per_hour_per_replica == mu

    # Prefill: KV of 8,192 tokens (bf16 MLA latent, 70,272 B per token) leaves from one rank over its own NIC,
    # 1/8 of the node's 400 GB/s network_gbs; S the prompt alone, 15 ms engine overhead; ρ by bisection on the
    # p90 TTFT = 2 s; replicas = ceil(decode requests per hour / floor(3,600 ρ / S)).
    u = units[pre.unit]
    assert pre.kv_dtype == "bf16"
    gbs = u.node.platform.network_gbs / u.node.count
    transfer = 8192 * 61 * (512 + 64) * 2 / (gbs * 1e9) + 30e-6
    assert pre.kv_transfer_s == pytest.approx(transfer)
    dep = Deployment(model=catalog.models["deepseek-r1"], variant=u.variant, accelerator=u.node.accelerator,
                     platform=u.node.platform, engine=u.engine, gpus_per_node=u.node.count, layout=u.layout)
    s = speed.prefill_time(dep, dep.memory(), 8192)
    assert pre.prefill_s == pytest.approx(s)
    fixed = s + transfer + 0.015
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        wait = mid * s / (2 * (1 - mid))
        p90 = wait / mid * math.log(mid / 0.1) if mid > 0.1 else 0.0
        lo, hi = (mid, hi) if fixed + p90 <= 2.0 else (lo, mid)
    per_hour = math.floor(3600 * lo / s)
    assert abs(pre.requests_per_hour_per_replica - per_hour) <= 1
    assert pre.replicas == math.ceil(mu * dec.replicas / pre.requests_per_hour_per_replica)
    assert pre.ttft_p90_s == pytest.approx(2.0, abs=2e-3)
    assert check_plan(plan, catalog, problem) == []


def test_auto_says_whether_disaggregation_is_cheaper_and_by_how_much(catalog):
    base = _small_problem()
    agg = optimize(catalog, base.model_copy(update={"serving": "aggregated"}))
    dis = optimize(catalog, base.model_copy(update={"serving": "disaggregated"}))
    auto = optimize(catalog, base)   # the bundled problem names serving: auto: both are solved
    better, other = (agg, dis) if agg.objective_value <= dis.objective_value else (dis, agg)
    assert auto.serving == better.serving and auto.totals.cost == better.totals.cost
    cmp = auto.serving_comparison
    assert cmp.other == other.serving and cmp.objective_value == other.objective_value
    assert cmp.difference(auto.objective_value) == other.totals.cost - better.totals.cost
    data = json.loads(json.dumps(auto.to_json()))
    assert data["serving_comparison"]["difference"] == pytest.approx(float(other.totals.cost - better.totals.cost))
    assert any(n.startswith(f"serving auto: {better.serving}") for n in auto.notes)


def test_default_auto_skips_a_disaggregated_solve_that_cannot_win(catalog):
    # The problem does not name serving: auto solves aggregated, and two of the cheapest nodes that hold the
    # weights already cost at least as much as its plan, so the disaggregated plan is only bounded.
    data = _small_problem().model_dump()
    del data["serving"]
    data["constraints"]["accelerators"] = ["h200-sxm"]
    problem = Problem.model_validate(data)
    plan = optimize(catalog, problem)
    cmp = plan.serving_comparison
    assert plan.serving == "aggregated" and cmp.objective_value is None
    cheapest = min(l.node_price for l in plan.lines)
    assert cmp.at_least == 2 * cheapest and cmp.at_least >= plan.objective_value


def test_kv_transfer_is_timed_over_the_slower_end_of_the_path(catalog):
    """8×B300 servers (800 GB/s of scale-out links) and 8×H200 servers (400 GB/s): a B300 prefill unit comes once
    for its own link and once for 400 GB/s decode nodes, and the prompt's KV cache (0.58 GB) is timed over the
    slower end of the path."""
    data = _small_problem(serving="disaggregated").model_dump()
    data["constraints"]["accelerators"] = ["h200-sxm", "b300"]
    problem = Problem.model_validate(data)
    units = prepare_problem(catalog, problem, serving="disaggregated").candidates.units
    links = {u.node.platform.network_gbs for u in units if u.role == "decode"}
    assert {400, 800} <= links
    assert any(u.role == "prefill" and u.link_gbs == 400 and u.node.platform.network_gbs == 800 for u in units)
    for u in (u for u in units if u.role == "prefill"):
        own = u.node.platform.network_gbs
        assert u.link_gbs in links | {own} and u.link_gbs <= own
        # MLA: one rank sends, over its own NIC (1/8 of an 8-accelerator node's link)
        expected = 8192 * 61 * (512 + 64) * 2 / (min(own, u.link_gbs) / u.node.count * 1e9) + 30e-6
        assert u.kv_transfer_s == pytest.approx(expected)
    plan = optimize(catalog, problem)
    slowest_decode = min(catalog.platforms[l.platform].network_gbs for l in plan.lines if l.role == "decode")
    for l in plan.lines:
        if l.role == "prefill":
            path = min(catalog.platforms[l.platform].network_gbs, slowest_decode)
            assert l.kv_transfer_s >= 8192 * 70272 / (path * 1e9)


# --------------------------------------------------------------------------- the checker on each pool


@pytest.fixture(scope="module")
def pooled(catalog):
    problem = _small_problem(serving="disaggregated")
    return optimize(catalog, problem), problem


def _tamper(plan, role: str, **fields):
    lines = tuple(l.model_copy(update=fields) if l.role == role else l for l in plan.lines)
    return plan.model_copy(update={"lines": lines})


def test_checker_passes_the_pools_and_catches_each_broken_one(catalog, pooled):
    plan, problem = pooled
    assert check_plan(plan, catalog, problem) == []
    pre = next(l for l in plan.lines if l.role == "prefill")
    dec = next(l for l in plan.lines if l.role == "decode")

    def found(bad, words: str) -> bool:
        return any(words in v for v in check_plan(bad, catalog, problem))

    need = dec.requests_per_hour_per_replica * dec.replicas
    assert found(_tamper(plan, "prefill", requests_per_hour_per_replica=need // pre.replicas - 1),
                 "the prefill pool takes")
    assert found(_tamper(plan, "prefill", kv_transfer_s=0.0), "KV cache")
    assert found(_tamper(plan, "prefill", ttft_p90_s=pre.prefill_s), "waits to a TTFT")
    speed_ = dec.tokens_per_s_per_user
    assert found(_tamper(plan, "decode", requests_per_hour_per_replica=int(
        dec.users_per_replica * speed_ * 3600 / 1023 * 0.9)), "requests per hour, the line says")
    assert found(_tamper(plan, "prefill", engine="vllm"), "one engine, precision and KV datatype")
    decode_only = plan.model_copy(update={"lines": tuple(l for l in plan.lines if l.role == "decode")})
    assert found(decode_only, "needs a prefill and a decode pool")
    assert found(_tamper(plan, "prefill", users_per_replica=5), "serves no users itself")


def test_a_pool_is_on_the_fabric_even_on_one_node(catalog, pooled):
    plan, problem = pooled
    # Single-node replicas: the aggregated plan would need no fabric, the pools need every node on it.
    assert all(l.nodes_per_replica == 1 for l in plan.lines)
    assert sum(n.nodes for n in plan.network) == plan.totals.nodes


# --------------------------------------------------------------------------- launch, render, CLI


def test_launch_commands_carry_each_role(pooled):
    plan, _ = pooled
    pre = next(l for l in plan.lines if l.role == "prefill")
    dec = next(l for l in plan.lines if l.role == "decode")
    assert all("--disaggregation-mode prefill --disaggregation-transfer-backend mooncake "
               "--disaggregation-bootstrap-port 8998" in c for c in pre.launch)
    assert "--disaggregation-mode decode --disaggregation-transfer-backend mooncake" in dec.launch[0]
    # One router for the plan, over every replica of both pools.
    routers = [c for l in plan.lines for c in l.launch if "sglang_router.launch_router" in c]
    assert len(routers) == 1 and routers[0].startswith("# router, once, in front of both pools")
    assert routers[0].count("--prefill http://$PREFILL_NODE_") == sum(l.replicas for l in plan.lines
                                                                      if l.role == "prefill")
    assert routers[0].count("--decode http://$DECODE_NODE_") == sum(l.replicas for l in plan.lines
                                                                     if l.role == "decode")


def test_vllm_pools_use_the_nixl_connector(catalog):
    from optimizer.launch import launch_commands

    problem = _small_problem(serving="disaggregated", engine="vllm")
    units = prepare_problem(catalog, problem, serving="disaggregated").candidates.units
    pre = next(u for u in units if u.role == "prefill")
    dec = next(u for u in units if u.role == "decode")
    connector = """--kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'"""
    assert connector in launch_commands(catalog.models["deepseek-r1"], pre, 9216)[0]
    cmds = launch_commands(catalog.models["deepseek-r1"], dec, 9216)
    assert connector in cmds[0] and "toy_proxy_server.py" in cmds[-1] and "--prefiller-hosts" in cmds[-1]


def _write(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


def test_cli_serving_flag_json_and_table(tmp_path):
    path = _write(tmp_path, """name: t
model: deepseek-r1
precision: fp8
engine: sglang
workload: {concurrent_users: 100, input_tokens: 8192, output_tokens: 1024, min_tokens_per_s: 20, max_ttft_s: 2.0}
constraints: {accelerators: [h200-sxm], max_nodes_per_replica: 1, max_replicas_per_node: 1}
network_prices: []
""")
    result = CliRunner().invoke(main, ["solve", path, "--serving", "disaggregated", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["serving"] == "disaggregated"
    assert sorted(l["role"] for l in data["plan"]["lines"]) == ["decode", "prefill"]
    table = CliRunner().invoke(main, ["solve", path, "--serving", "disaggregated"])
    assert "prefill: " in table.output and "decode: " in table.output and "KV transfer" in table.output


def test_bad_serving_values_exit_2_naming_the_field(tmp_path):
    bad = _write(tmp_path, "model: deepseek-r1\nserving: sometimes\nworkload: {concurrent_users: 10}\n")
    result = CliRunner().invoke(main, ["solve", bad])
    assert result.exit_code == 2 and "serving" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["solve", "--model", "deepseek-r1", "--users", "10", "--serving", "split"])
    assert result.exit_code == 2 and "--serving" in result.output
    reserve = _write(tmp_path, "model: deepseek-r1\nserving: disaggregated\n"
                               "workload: {concurrent_users: 10, kv_reserve_gb: 100}\n")
    result = CliRunner().invoke(main, ["solve", reserve])
    assert result.exit_code == 2 and "serving = disaggregated" in result.output and "kv_reserve_gb" in result.output


def test_the_bundled_question_states_its_targets():
    p = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated"))
    w = p.workload
    assert (p.model, w.concurrent_users, w.input_tokens, w.max_ttft_s, w.ttft_percentile, p.serving) == \
        ("deepseek-r1", 100, 8192, 2.0, 90, "auto")
    assert dataclasses.is_dataclass(disagg.DecodeSize)


def test_trtllm_pools_use_the_cache_transceiver_and_the_disaggregated_server(catalog):
    from optimizer.launch import launch_commands

    problem = _small_problem(serving="disaggregated", engine="trtllm")
    units = prepare_problem(catalog, problem, serving="disaggregated").candidates.units
    pre = launch_commands(catalog.models["deepseek-r1"], next(u for u in units if u.role == "prefill"), 9216)
    dec = launch_commands(catalog.models["deepseek-r1"], next(u for u in units if u.role == "decode"), 9216)
    assert "'cache_transceiver_config: {backend: UCX}' 'disable_overlap_scheduler: true'" in pre[0]
    assert "cache_transceiver_config: {backend: UCX}" in dec[0] and "disable_overlap_scheduler" not in dec[0]
    assert "--extra_llm_api_options extra-llm-api.yaml" in pre[0] and pre[0].count("--extra_llm_api_options") == 1
    assert "trtllm-serve disaggregated -c disagg.yaml" in dec[-1] and "context_servers" in dec[-1]


def _floor_from_units(units, problem: Problem, power: bool = False):
    """disagg.pools_floor recomputed from the built role units (prepare_roles), group by group: the pools'
    linear relaxation N · min_d (c_d + p* · net_d) / users_d (closed loop), N · (min_d c_d / users_d + p*) (open
    loop: N requests per hour), with p* = min_p c_p / rate_p over the prefill units sized at their own link."""
    from fractions import Fraction

    def c(u):
        return Fraction(u.power_w) if power else u.node.price * u.nodes

    n = problem.workload.demand
    best = None
    for g in {(u.engine.id, u.variant.id, u.kv_dtype) for u in units}:
        members = [u for u in units if (u.engine.id, u.variant.id, u.kv_dtype) == g]
        pre = [c(u) / u.rate for u in members if u.role == "prefill" and u.link_gbs == u.node.platform.network_gbs]
        p = min(pre) if pre else None
        decode = [u for u in members if u.role == "decode" and u.users > 0]
        if problem.workload.request_rate is not None:   # open loop: the prefill pool takes the demand itself
            value = n * (min(c(u) / u.users for u in decode) + p) if decode and p is not None else None
        else:
            ratios = [(c(u) + (p or 0) * disagg.net_rate(u)) / u.users for u in decode
                      if p is not None or disagg.net_rate(u) == 0]
            value = n * min(ratios) if ratios else None
        if value is not None and (best is None or value < best):
            best = value
    return best


@pytest.mark.parametrize("users", [100, 1200])
def test_pools_floor_is_the_relaxation_of_the_built_units_and_bounds_the_plan(catalog, users):
    problem = _small_problem(serving="disaggregated",
                             workload={**_small_problem().workload.model_dump(), "concurrent_users": users})
    units = disagg.prepare_roles(catalog, problem).units
    floor = disagg.pools_floor(catalog, problem)
    assert floor == _floor_from_units(units, problem)
    plan = optimize(catalog, problem)
    assert floor <= plan.totals.cost
    power = problem.model_copy(update={"objective": "power"})
    assert disagg.pools_floor(catalog, power) == _floor_from_units(units, power, power=True)
    assert disagg.pools_floor(catalog, problem.model_copy(update={"objective": "users"})) is None


def test_pools_floor_in_an_open_loop_prices_the_demand_in_both_pools(catalog):
    workload = {**_small_problem().workload.model_dump(), "concurrent_users": None, "request_rate": 2.0}
    problem = _small_problem(serving="disaggregated", workload=workload)
    floor = disagg.pools_floor(catalog, problem)
    assert floor == _floor_from_units(disagg.prepare_roles(catalog, problem).units, problem)
    assert floor <= optimize(catalog, problem).totals.cost


def test_default_auto_skips_the_disaggregated_solve_by_the_pools_floor(tmp_path):
    """On the catalog-scale benchmark's generator (10 synthetic node types), two nodes cost less than the
    aggregated plan, but a decode pool for every user with a prefill pool for their prompts cannot cost less:
    the disaggregated plan is bounded by the relaxation, not solved, and the note says which bound."""
    import yaml

    from benchmarks.catalog_scale import make_catalog, make_problem
    from catalog.loader import load_catalog

    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(make_catalog(10, 3, False, 0)))
    synthetic = load_catalog([str(tmp_path / "catalog.yaml")])
    problem = Problem.model_validate(make_problem(2000, False, None))
    plan = optimize(synthetic, problem)
    units = disagg.prepare_roles(synthetic, problem).units
    two, floor = disagg.lower_bound(synthetic, problem), disagg.pools_floor(synthetic, problem)
    solved = optimize(synthetic, problem.model_copy(update={"serving": "disaggregated"}))
    assert floor == _floor_from_units(units, problem)
    assert two < plan.objective_value <= floor <= solved.objective_value
    cmp = plan.serving_comparison
    assert plan.serving == "aggregated" and cmp.objective_value is None and cmp.at_least == floor
    assert "prefill pool takes their prompts" in cmp.reason
    assert any("so it was not solved" in n for n in plan.notes)


def test_a_prompts_kv_leaves_over_the_nics_of_the_ranks_that_hold_it(catalog):
    """GQA heads leave from each tensor-parallel rank of the prompt's attention group and each pipeline stage
    (tp × pp ranks), MLA's whole latent from one rank; on a rail-optimized 8-accelerator node (8 NIC ports) each
    rank has its own port, an eighth of the link; on a server with one port, any rank fills the whole link."""
    from optimizer.disagg import kv_transfer_s, prompt_link_share
    from optimizer.layouts import Layout

    llama, r1 = catalog.models["llama-3.1-70b"], catalog.models["deepseek-r1"]
    rail = catalog.platforms["dgx-h200-chassis"]
    assert [n.count for n in rail.nics] == [8]
    assert prompt_link_share(llama, Layout(tp=4), rail, 8) == 4 / 8
    assert prompt_link_share(llama, Layout(tp=2, pp=2), rail, 8) == 4 / 8
    assert prompt_link_share(llama, Layout(tp=8, pp=2), rail, 8) == 1.0
    assert prompt_link_share(r1, Layout(tp=8), rail, 8) == 1 / 8
    assert prompt_link_share(r1, Layout(tp=1, dp=8, ep=8), rail, 8) == 1 / 8
    one_port = rail.model_copy(update={"nics": [rail.nics[0].model_copy(update={"count": 1})]})
    assert prompt_link_share(r1, Layout(tp=8), one_port, 8) == 1.0
    two_ports = rail.model_copy(update={"nics": [rail.nics[0].model_copy(update={"count": 2})]})
    assert prompt_link_share(llama, Layout(tp=2), two_ports, 8) == 1 / 2   # 2 ranks of 8 reach ceil(0.5) = 1 port
    assert prompt_link_share(llama, Layout(tp=8), two_ports, 8) == 1.0
    # 1 GB over a quarter of 400 GB/s: 10 ms and one hop
    assert kv_transfer_s(1e9, 400, 0.25) == pytest.approx(0.01 + 30e-6)


def test_a_prefill_line_reports_the_link_its_plan_bought(catalog):
    """With MTP (k = 2) the cheapest pools pair an MI355X prefill unit sized for a slower decode link (its copy
    asks less of the decode nodes at the same rate) with MI355X decode nodes of 400 GB/s. The line reports the
    prompt's KV over the link the plan has: the slower of the two nodes' links, one rank's NIC port of eight for
    MLA, plus a hop; and its TTFT within the target at that transfer."""
    data = load_problem(bundled_problem_path("deepseek-r1-8k-disaggregated")).model_dump()
    data["workload"]["speculative"] = {"method": "mtp", "tokens": 2}
    data["serving"] = "disaggregated"
    problem = Problem.model_validate(data)
    plan = optimize(catalog, problem)
    decode = min(catalog.platforms[l.platform].network_gbs for l in plan.lines if l.role == "decode")
    for line in (l for l in plan.lines if l.role == "prefill"):
        link = min(catalog.platforms[line.platform].network_gbs, decode)
        assert line.kv_transfer_s == pytest.approx(8192 * 61 * (512 + 64) * 2 / (link / 8 * 1e9) + 30e-6)
        assert line.ttft_p90_s <= problem.workload.max_ttft_s
    assert check_plan(plan, catalog, problem) == []

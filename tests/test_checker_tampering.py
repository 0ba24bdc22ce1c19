"""Each of the checker's rules, one tampered plan (or problem) at a time, with the boundary where one exists."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest

from optimizer import check_plan, load_problem, optimize, problem_from_fields, with_overrides
from optimizer.check import assert_plan_ok
from problems import bundled_problem_path

GB = 1e9


def _solved(catalog, name, **overrides):
    problem = load_problem(bundled_problem_path(name))
    if overrides:
        problem = with_overrides(problem, {tuple(k.split("__")): (k, v) for k, v in overrides.items()})
    return problem, optimize(catalog, problem)


@pytest.fixture(scope="module")
def pcie(catalog):      # platform + cards, two lines, three sellers, USD
    return _solved(catalog, "llama-3.1-70b-h100-pcie-offers")


@pytest.fixture(scope="module")
def mla(catalog):       # one MI300X system, DeepSeek-R1 fp8, memory-sized users, CNY
    return _solved(catalog, "deepseek-r1-30-users")


@pytest.fixture(scope="module")
def a100(catalog):      # rule-of-thumb reserve, fp8 model run as bf16 on A100s: the reserve doubles
    return _solved(catalog, "deepseek-r1-seed-a100-bf16")


def _line(plan, i=0, **change):
    lines = list(plan.lines)
    lines[i] = lines[i].model_copy(update=change)
    return plan.model_copy(update={"lines": tuple(lines)})


def _claim(plan, i=0, **change):
    return _line(plan, i, sizing=plan.lines[i].sizing.model_copy(update=change))


def _has(words, plan, catalog, problem):
    return any(words in p for p in check_plan(plan, catalog, problem))


def _with(problem, **fields):
    return with_overrides(problem, {tuple(k.split("__")): (k, v) for k, v in fields.items()})


def test_honest_plans_pass(catalog, pcie, mla, a100):
    for problem, plan in (pcie, mla, a100):
        assert check_plan(plan, catalog, problem) == []
        assert assert_plan_ok(plan, catalog, problem) is plan


def test_assert_plan_ok_names_the_violations(catalog, mla):
    problem, plan = mla
    with pytest.raises(RuntimeError, match=r"independent check .*: .*node draws 9600 W, plan says 1 W"):
        assert_plan_ok(_line(plan, node_power_w=1), catalog, problem)


@pytest.mark.parametrize("change, words", [
    (dict(gpus_per_node=3), "platform pcie-gen5-8gpu does not take 3 × h100-pcie"),
    (dict(replicas=0), "replicas and nodes per replica must be positive"),
    (dict(nodes_per_replica=0), "replicas and nodes per replica must be positive"),
    (dict(maker="amd"), "made by nvidia, plan says amd"),
    (dict(node_power_w=1), "node draws"),
    (dict(memory_gb_per_node=1.0), "node memory is 320.0 GB, plan says 1.0"),
    (dict(accelerator="nope"), "unknown accelerator or platform"),
    (dict(platform="nope"), "unknown accelerator or platform"),
    (dict(precision="nope"), "llama-3.1-70b has no precision nope"),
    (dict(engine="nope"), "unknown engine nope"),
    (dict(engine="llama.cpp"), "llama.cpp does not load safetensors weights"),
    (dict(kv_dtype="nope"), "unknown KV datatype nope"),
])
def test_line_facts(catalog, pcie, change, words):
    problem, plan = pcie
    assert _has(words, _line(plan, **change), catalog, problem), check_plan(_line(plan, **change), catalog, problem)


def test_a_system_must_be_what_the_catalog_says(catalog, mla):
    problem, plan = mla
    assert _has("system mi300x-8x is not 4 × mi300x", _line(plan, gpus_per_node=4), catalog, problem)


@pytest.mark.parametrize("field, value, words", [
    ("accelerators", ["h100-sxm"], "h100-pcie is not in constraints.accelerators"),
    ("exclude_accelerators", ["h100-pcie"], "h100-pcie is excluded"),
    ("form_factors", ["sxm"], "form factor pcie is not allowed"),
    ("vendors", ["amd"], "vendor nvidia is not allowed"),
    ("sellers", ["Thomas-Krenn"], "not in constraints.sellers"),
    ("conditions", ["used"], "not in constraints.conditions"),
])
def test_problem_filters(catalog, pcie, field, value, words):
    problem, plan = pcie
    assert _has(words, plan, catalog, with_overrides(problem, {("constraints", field): (field, value)}))


def test_native_fp8_rules(catalog, a100):
    problem, plan = a100
    assert plan.lines[0].precision == "bf16" and not catalog.accelerators[plan.lines[0].accelerator].has_native("fp8")
    assert _has("has no native fp8 units but constraints.require_native_fp8",
                plan, catalog, _with(problem, constraints__require_native_fp8=True))
    assert _has("fp8 needs native fp8 units", _line(plan, precision="fp8"), catalog, problem)
    # Asking for fp8 allows its bf16 fallback on cards without fp8 units; asking for int4 does not.
    assert check_plan(plan, catalog, _with(problem, precision="fp8")) == []
    assert _has("precision bf16 is not one the problem allows", plan, catalog, _with(problem, precision="int4"))


def test_kv_dtype_rules(catalog, mla):
    problem, plan = mla
    assert _has("KV cache in bf16, the problem asks for fp8", plan, catalog, _with(problem, kv_dtype="fp8"))
    assert not _has("KV cache", _line(plan, kv_dtype="fp8"), catalog, _with(problem, kv_dtype="fp8"))


def test_quantized_fp8_build_may_keep_fp8_kv_on_tensorrt_llm(catalog):
    problem = problem_from_fields({"model": "llama-4-maverick", "precision": "fp8", "engine": "trtllm",
                                   "prices": "street-usd-2025", "workload": {"concurrent_users": 10}})
    plan = optimize(catalog, problem)
    assert catalog.models["llama-4-maverick"].variant("fp8").quantized
    assert not _has("KV cache", _line(plan, kv_dtype="fp8"), catalog, problem)
    assert _has("KV cache in fp16", _line(plan, kv_dtype="fp16"), catalog, problem)


def test_dp_attention_is_allowed_when_asked_and_possible(catalog, mla):
    problem, plan = mla
    asked = _with(problem, dp_attention=True)
    assert not _has("data-parallel attention", _line(plan, dp_attention=True), catalog, asked)
    assert _has("data-parallel attention", _line(plan, dp_attention=True, engine="llama.cpp"), catalog, asked)
    assert _has("data-parallel attention", _line(plan, dp_attention=True), catalog, problem)


@pytest.mark.parametrize("tp, pp", [(4, 1), (8, 2), (0, 8), (16, 0)])
def test_ranks_must_multiply_to_the_replica(catalog, mla, tp, pp):
    problem, plan = mla
    assert _has("is not the replica's 8 accelerators", _claim(plan, tp=tp, pp=pp), catalog, problem)


def test_heads_must_split_over_tp_unless_attention_is_data_parallel(catalog, mla):
    problem, plan = mla
    model = catalog.models["deepseek-r1"]
    odd = model.model_copy(update={"attention": model.attention.model_copy(update={"heads": 100})})
    cat = dataclasses.replace(catalog, models={**catalog.models, "deepseek-r1": odd})
    assert _has("100 attention heads do not split over tp 8", plan, cat, problem)
    assert not _has("attention heads", _claim(plan, dp_attention=True), cat, problem)
    assert not _has("attention heads", plan, catalog, problem)


def test_memory_left_for_kv_must_be_positive(catalog, mla):
    problem, plan = mla
    assert _has("no memory is left for the KV cache", _claim(plan, kv_budget_gb_per_gpu=0.0), catalog, problem)


def test_mla_capacity_boundary_and_data_parallel_attention(catalog, mla):
    problem, plan = mla
    s = plan.lines[0].sizing
    # (512 + 64) × 2 B × 61 layers × 8,000 tokens per request, whole on each of the 8 tensor-parallel ranks.
    per_request = 576 * 2 * 61 * 8000
    holds = math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    assert s.memory_users == holds
    assert not _has("users per replica, but", _claim(plan, memory_users=holds), catalog, problem)
    assert _has("users per replica, but", _claim(plan, memory_users=holds + 1), catalog, problem)
    # Data-parallel attention: each of the 8 ranks holds its own sequences, so 8 × as many.
    asked = _with(problem, dp_attention=True)
    assert not _has("users per replica, but", _claim(plan, memory_users=8 * holds, dp_attention=True), catalog, asked)
    assert _has("users per replica, but", _claim(plan, memory_users=8 * holds + 1, dp_attention=True), catalog, asked)


def test_gqa_data_parallel_attention_keeps_every_head(catalog, pcie):
    problem, plan = pcie
    s = plan.lines[1].sizing
    assert (s.tp, s.pp) == (8, 1)
    # 8 KV heads whole on each rank (not 8 / 8): 2 × 8 × 128 × 2 B × 80 layers × 3,000 tokens per request.
    tokens = problem.workload.context_tokens
    per_request = 2 * 8 * 128 * 2 * 80 * tokens
    holds = 8 * math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    asked = _with(problem, dp_attention=True)
    assert not _has("users per replica, but", _claim(plan, 1, memory_users=holds, dp_attention=True), catalog, asked)
    assert _has("users per replica, but", _claim(plan, 1, memory_users=holds + 1, dp_attention=True), catalog, asked)


def test_sliding_window_layers_keep_only_their_window(catalog):
    problem = problem_from_fields({"model": "llama-4-maverick", "precision": "fp8", "prices": "street-usd-2025",
                                   "workload": {"concurrent_users": 10, "input_tokens": 20000, "output_tokens": 4000}})
    plan = optimize(catalog, problem)
    s = plan.lines[0].sizing
    # 12 global layers hold 24,000 tokens, 36 chunked layers 8,192; 2 × ceil(8 / tp) heads × 128 × b; pp stages.
    b = {"bf16": 2, "fp8": 1}[plan.lines[0].kv_dtype]
    per_request = 2 * math.ceil(8 / s.tp) * 128 * b * (12 * 24000 + 36 * 8192) / s.pp
    holds = math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    assert not _has("users per replica, but", _claim(plan, memory_users=holds), catalog, problem)
    assert _has("users per replica, but", _claim(plan, memory_users=holds + 1), catalog, problem)


def test_reserve_mode_boundaries(catalog, a100):
    problem, plan = a100
    line = plan.lines[0]
    ranks = line.sizing.tp * line.sizing.pp
    # 250 GB for an fp8 model, doubled because it runs in bf16 (not a quantized build).
    reserve = 250 * GB * 2
    assert not _has("does not fit", _claim(plan, kv_budget_gb_per_gpu=reserve / ranks / GB), catalog, problem)
    assert _has("KV reserve of 500 GB does not fit",
                _claim(plan, kv_budget_gb_per_gpu=reserve / ranks / GB * 0.999), catalog, problem)
    # One replica when no user count is given.
    assert _has("holds 1 requests", _line(plan, users_per_replica=2), catalog, problem)
    # With users: reserve / (request bytes × 2); DeepSeek-R1 70,272 B per token at bf16.
    users = _with(problem, workload__concurrent_users=1)
    tokens = problem.workload.context_tokens
    most = math.floor(reserve / (70272 * tokens * 2))
    assert not _has("reserve holds", _line(plan, users_per_replica=most), catalog, users)
    assert _has(f"reserve holds {most} requests", _line(plan, users_per_replica=most + 1), catalog, users)


def test_speed_bounds(catalog, pcie):
    problem, plan = pcie
    line = plan.lines[0]
    acc = catalog.accelerators[line.accelerator]
    peak = max(acc.tflops.values()) * 1e12 * line.gpus_per_node * line.nodes_per_replica
    per_token = 2 * 70.6e9
    users = line.users_per_replica
    fastest = peak / per_token / users
    assert not _has("peak", _line(plan, tokens_per_s_per_user=fastest), catalog, problem)
    assert _has("peak", _line(plan, tokens_per_s_per_user=fastest * 1.001), catalog, problem)
    ttft = per_token * problem.workload.input_tokens / peak
    assert not _has("faster than prefilling", _line(plan, ttft_s=ttft), catalog, problem)
    assert _has("faster than prefilling", _line(plan, ttft_s=ttft * 0.999), catalog, problem)
    assert _has("states no speed", _line(plan, tokens_per_s_per_user=None), catalog, problem)
    assert not _has("states no speed", _line(plan, tokens_per_s_per_user=None), catalog,
                    _with(problem, workload__min_tokens_per_s=0.0))
    assert _has("more than the 5 s allowed", _line(plan, ttft_s=None), catalog, _with(problem, workload__max_ttft_s=5.0))


def test_purchases(catalog, pcie):
    problem, plan = pcie
    p0 = plan.purchases[0]
    for change, words in ((dict(offer="nowhere#0"), "no such offer"), (dict(offer=p0.offer.split("#")[0] + "#9999"),
                          "no such offer"), (dict(seller="Someone"), "no such offer"),
                          (dict(quantity=0), "quantity 0"), (dict(unit_price=p0.unit_price + 1), "each, plan says")):
        bad = plan.model_copy(update={"purchases": (p0.model_copy(update=change), *plan.purchases[1:])})
        assert _has(words, bad, catalog, problem), change


def test_prices_convert_at_the_catalogs_rate(catalog):
    problem, plan = _solved(catalog, "llama-3.1-70b-seller-quotes", constraints__currency="CNY")
    assert plan.totals.currency == "CNY" and check_plan(plan, catalog, problem) == []
    p0 = plan.purchases[0]
    bad = plan.model_copy(update={"purchases": (p0.model_copy(update={"unit_price": p0.unit_price + Fraction(1, 100)}),
                                                *plan.purchases[1:])})
    assert _has("each, plan says", bad, catalog, problem)


@pytest.mark.parametrize("field, words", [("cost", "total cost is"), ("power_w", "total power is"),
                                          ("nodes", "total nodes is"), ("gpus", "total accelerators is"),
                                          ("users", "total users is")])
def test_totals(catalog, pcie, field, words):
    problem, plan = pcie
    t = plan.totals
    bad = plan.model_copy(update={"totals": t.model_copy(update={field: getattr(t, field) + 1})})
    assert _has(words, bad, catalog, problem)


def test_currency_nobody_and_nothing(catalog, pcie, mla):
    problem, plan = pcie
    assert _has("the plan is in USD, the problem asks for EUR", plan, catalog, _with(problem, constraints__currency="EUR"))
    most = _with(problem, objective="users", constraints__budget=10**7)
    assert not _has("serves nobody", plan, catalog, most)
    assert _has("serves nobody", _line(_line(plan, 0, users_per_replica=0), 1, users_per_replica=0), catalog, most)
    assert _has("the plan buys nothing", plan.model_copy(update={"lines": ()}), catalog, problem)

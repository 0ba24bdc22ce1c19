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


def _layout(plan, i=0, *, tp, dp, **change):
    """The line re-stated with `tp` tensor-parallel ranks in each of `dp` attention groups."""
    sizing = plan.lines[i].sizing.model_copy(update={"tp": tp, "dp": dp, "dp_attention": dp > 1, **change})
    return _line(plan, i, dp_attention=dp > 1, sizing=sizing)


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


def test_dp_attention_needs_an_engine_that_runs_it_and_a_layout_with_groups(catalog, mla):
    # Layouts choose attention DP themselves (optimizer/layouts.py); the line must agree with its
    # layout's attention groups and run on an engine that has data-parallel attention.
    problem, plan = mla
    dp_line = plan.lines[0].dp_attention
    assert not _has("data-parallel attention", _line(plan, dp_attention=dp_line), catalog, problem)
    assert _has("data-parallel attention", _line(plan, dp_attention=not dp_line), catalog, problem)
    assert _has("cannot run data-parallel attention", _line(plan, dp_attention=True, engine="llama.cpp"),
                catalog, problem)


@pytest.mark.parametrize("tp, pp", [(4, 1), (8, 2), (0, 8), (16, 0)])
def test_ranks_must_multiply_to_the_replica(catalog, mla, tp, pp):
    problem, plan = mla
    assert _has("is not the replica's 8 accelerators", _claim(plan, tp=tp, pp=pp), catalog, problem)


def test_heads_must_split_over_tp_unless_attention_is_data_parallel(catalog, mla):
    problem, plan = mla
    model = catalog.models["deepseek-r1"]
    odd = model.model_copy(update={"attention": model.attention.model_copy(update={"heads": 99})})
    cat = dataclasses.replace(catalog, models={**catalog.models, "deepseek-r1": odd})
    tp8 = _layout(plan, tp=8, dp=1)
    assert _has("99 attention heads do not split over tp 8", tp8, cat, problem)
    assert not _has("attention heads", _layout(plan, tp=1, dp=8), cat, problem)
    assert not _has("attention heads", tp8, catalog, problem)


def test_memory_left_for_kv_must_be_positive(catalog, mla):
    problem, plan = mla
    assert _has("no memory is left for the KV cache", _claim(plan, kv_budget_gb_per_gpu=0.0), catalog, problem)


def test_mla_capacity_boundary_and_data_parallel_attention(catalog, mla):
    problem, plan = mla
    s = plan.lines[0].sizing
    # (512 + 64) × 2 B × 61 layers × 8,000 tokens per request, whole on each of the 8 tensor-parallel ranks.
    per_request = 576 * 2 * 61 * 8000
    holds = math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    tp8 = _line(_layout(plan, tp=8, dp=1, memory_users=holds), users_per_replica=holds)
    assert not _has("users per replica, but", tp8, catalog, problem)
    assert _has("users per replica, but", _claim(tp8, memory_users=holds + 1), catalog, problem)
    # Data-parallel attention: each of the 8 attention groups holds its own sequences, so 8 × as many.
    assert not _has("users per replica, but", _layout(plan, tp=1, dp=8, memory_users=8 * holds), catalog, problem)
    assert _has("users per replica, but", _layout(plan, tp=1, dp=8, memory_users=8 * holds + 1), catalog, problem)


def test_gqa_data_parallel_attention_keeps_every_head(catalog, pcie):
    problem, plan = pcie
    s = plan.lines[1].sizing
    assert (s.tp, s.pp) == (8, 1)
    # 8 KV heads whole on each rank (not 8 / 8): 2 × 8 × 128 × 2 B × 80 layers × 3,000 tokens per request.
    tokens = problem.workload.context_tokens
    per_request = 2 * 8 * 128 * 2 * 80 * tokens
    holds = 8 * math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    assert not _has("users per replica, but", _layout(plan, 1, tp=1, dp=8, memory_users=holds), catalog, problem)
    assert _has("users per replica, but", _layout(plan, 1, tp=1, dp=8, memory_users=holds + 1), catalog, problem)


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


# ---- messages and branches the first mutation run showed untested (python -m benchmarks.mutation) ----

def test_offer_keys_that_name_no_offer(catalog, pcie):
    problem, plan = pcie
    p0 = plan.purchases[0]
    list_id = p0.offer.split("#")[0]
    size = len(catalog.price_lists[list_id].offers)
    for key in (f"{list_id}#x", f"{list_id}#{size}", f"other#{0}"):
        bad = plan.model_copy(update={"purchases": (p0.model_copy(update={"offer": key}), *plan.purchases[1:])})
        found = check_plan(bad, catalog, problem)
        assert f"purchase of {p0.item} from {p0.seller}: no such offer ({key}) in {problem.price_lists}" in found
    # A bad purchase does not hide the next one's problems.
    p1 = plan.purchases[1]
    bad = plan.model_copy(update={"purchases": (p0.model_copy(update={"offer": f"{list_id}#x"}),
                                                p1.model_copy(update={"quantity": 0}), *plan.purchases[2:])})
    assert f"{p1.item} from {p1.seller}: quantity 0" in check_plan(bad, catalog, problem)


def test_a_missing_exchange_rate_and_messages_with_currency(catalog):
    problem, plan = _solved(catalog, "llama-3.1-70b-seller-quotes", constraints__currency="CNY")
    no_rates = dataclasses.replace(catalog, exchange_rates=())
    p0 = plan.purchases[0]
    assert (f"{p0.item} from {p0.seller} costs 0.00 CNY each, plan says {float(p0.unit_price):,.2f} CNY"
            in check_plan(plan, no_rates, problem))
    t = plan.totals
    cheaper = plan.model_copy(update={"purchases": (p0.model_copy(update={"unit_price": p0.unit_price - 1}),
                                                    *plan.purchases[1:])})
    spent = sum(p.unit_price * p.quantity for p in cheaper.purchases)
    assert (f"the purchases add up to {float(spent):,.2f} CNY, the plan's total says {float(t.cost):,.2f} CNY"
            in check_plan(cheaper, catalog, problem))
    under = _with(problem, constraints__budget=float(t.cost) - 1)
    assert (f"cost {float(t.cost):,.2f} CNY exceeds the budget of {float(t.cost) - 1:,.2f} CNY"
            in check_plan(plan, catalog, under))


def test_allowed_sellers_warranty_and_missing_purchases(catalog, pcie):
    problem, plan = pcie
    sellers = sorted({p.seller for p in plan.purchases})
    assert not _has("constraints.sellers", plan, catalog, _with(problem, constraints__sellers=sellers))
    assert all(p.warranty_months is None for p in plan.purchases)
    assert _has("has None months of warranty, less than 1", plan, catalog, _with(problem, constraints__min_warranty_months=1))
    dropped = plan.purchases[0]
    short = plan.model_copy(update={"purchases": plan.purchases[1:]})
    need = sum(q for l in plan.lines for item, q in ((l.platform, l.nodes), (l.accelerator, l.gpus))
               if item == dropped.item)
    have = need - dropped.quantity
    assert f"the lines need {need} × {dropped.item}, the purchases buy {have}" in check_plan(short, catalog, problem)


def test_measured_size_builds_have_a_weights_floor(catalog):
    problem, plan = _solved(catalog, "deepseek-r1-1.58bit")
    line = plan.lines[0]
    variant = catalog.models["deepseek-r1"].variant(line.precision)
    assert variant.size_gb is not None   # unsloth's measured 131 GB for the 1.58-bit build
    floor = variant.size_gb / (line.sizing.tp * line.sizing.pp)
    assert not _has("of weights per accelerator is less", _claim(plan, weights_gb_per_gpu=floor), catalog, problem)
    assert (f"{line.item}: {floor * 0.99:,.2f} GB of weights per accelerator is less than the {floor:,.2f} GB that "
            f"deepseek-r1 in {line.precision} spread over {line.sizing.tp * line.sizing.pp} takes"
            in check_plan(_claim(plan, weights_gb_per_gpu=floor * 0.99), catalog, problem))


def test_gqa_reserve_mode_boundary(catalog):
    # Llama 3.1 70B in bf16 (its native precision: the reserve is not doubled), GQA 8 KV heads × 128 dims.
    problem, plan = _solved(catalog, "llama-3.1-70b-100-users", workload__kv_reserve_gb=100.0)
    tokens = problem.workload.context_tokens
    most = math.floor(100 * GB / (2 * 8 * 128 * 2 * 80 * tokens))
    assert not _has("reserve holds", _line(plan, users_per_replica=most), catalog, problem)
    assert (f"{plan.lines[0].item}: {most + 1} users per replica, but the 100 GB reserve holds {most} requests of "
            f"{tokens:,} tokens" in check_plan(_line(plan, users_per_replica=most + 1), catalog, problem))
    ranks = plan.lines[0].sizing.tp * plan.lines[0].sizing.pp
    assert not _has("does not fit", _claim(plan, kv_budget_gb_per_gpu=100 / ranks), catalog, problem)
    assert (f"{plan.lines[0].item}: the KV reserve of 100 GB does not fit the 99 GB left after the weights"
            in check_plan(_claim(plan, kv_budget_gb_per_gpu=99 / ranks), catalog, problem))


def test_precision_auto_allows_native_fallback_and_publisher_builds_only(catalog, mla):
    problem, plan = mla
    # On fp8 hardware, auto means fp8: the bf16 fallback is for cards without fp8 units.
    assert catalog.accelerators[plan.lines[0].accelerator].has_native("fp8")
    assert _has("precision bf16 is not one the problem allows", _line(plan, precision="bf16"), catalog, problem)
    maverick = problem_from_fields({"model": "llama-4-maverick", "prices": "street-usd-2025",
                                    "workload": {"concurrent_users": 50, "min_tokens_per_s": 20}})
    plan_m = optimize(catalog, maverick)
    assert {l.precision for l in plan_m.lines} == {"fp8"} and check_plan(plan_m, catalog, maverick) == []
    llama = problem_from_fields({"model": "llama-3.1-70b", "prices": "street-usd-2025",
                                 "workload": {"concurrent_users": 10}, "constraints": {"vendors": ["nvidia"]}})
    plan_l = optimize(catalog, llama)
    assert catalog.accelerators[plan_l.lines[0].accelerator].has_native("fp8")
    # NVIDIA's FP8 Llama 3.1 70B is another party's build: not under auto.
    assert _has("precision fp8 is not one the problem allows", _line(plan_l, precision="fp8"), catalog, llama)


def test_engine_family_message_and_kv_scales(catalog, mla):
    problem, plan = mla
    line = plan.lines[0]
    acc = catalog.accelerators[line.accelerator]
    trt = catalog.engines["trtllm"]
    assert (f"{line.item}: {trt.name} does not run on {acc.id} ({acc.family}; it runs on "
            f"{', '.join(trt.families)})" in check_plan(_line(plan, engine="trtllm"), catalog, problem))
    # DeepSeek-R1's fp8 is its native checkpoint (no KV scales): auto means bf16 even on TensorRT-LLM.
    found = check_plan(_line(plan, engine="trtllm", kv_dtype="fp8"), catalog, problem)
    assert f"{line.item}: KV cache in fp8; 'auto' means bf16" in found
    # NVIDIA's FP4 build is quantized with KV scales: fp8 KV is what auto means there.
    fp4 = _line(plan, engine="trtllm", kv_dtype="fp8", precision="fp4")
    assert not _has("KV cache", fp4, catalog, _with(problem, precision="fp4"))
    wrong = check_plan(_line(plan, engine="trtllm", kv_dtype="fp16", precision="fp4"), catalog,
                       _with(problem, precision="fp4"))
    assert f"{line.item}: KV cache in fp16; 'auto' means bf16 or fp8 for this quantized build" in wrong


def test_exact_sizing_messages(catalog, pcie, mla):
    problem, plan = pcie
    line = plan.lines[1]
    s = line.sizing
    acc = catalog.accelerators[line.accelerator]
    memory = max(acc.memory_gb * GB, acc.memory_bytes)
    over = _claim(plan, 1, kv_budget_gb_per_gpu=memory / GB)
    assert (f"{line.item}: weights {s.weights_gb_per_gpu:,.2f} GB + KV budget {memory / GB:,.2f} GB exceed the "
            f"{memory / GB:,.2f} GB of one {acc.id}" in check_plan(over, catalog, problem))
    tokens = problem.workload.context_tokens
    per_request = 2 * 1 * 128 * 2 * 80 * tokens   # 8 KV heads over tp 8: one per rank
    holds = math.floor(s.kv_budget_gb_per_gpu * GB / per_request)
    msg = (f"{line.item}: {holds + 1:,} users per replica, but a KV budget of {s.kv_budget_gb_per_gpu:,.2f} GB per "
           f"accelerator holds at most {holds:,} requests of {tokens:,} tokens ({per_request / 1e6:,.1f} MB each per rank)")
    assert msg in check_plan(_claim(plan, 1, memory_users=holds + 1), catalog, problem)
    problem_m, plan_m = mla
    tp8 = _layout(plan_m, tp=8, dp=1)
    found = check_plan(_claim(tp8, memory_users=10**6), catalog, problem_m)
    assert any(f.endswith("562.2 MB each per rank, MLA's latent whole on every tensor-parallel rank)") for f in found)


def test_exact_speed_messages_and_the_min_speed_edge(catalog, pcie):
    problem, plan = pcie
    line = plan.lines[0]
    acc = catalog.accelerators[line.accelerator]
    active = 70.6e9 * 2
    bandwidth = acc.memory_bandwidth_gbs * 1e9 * line.gpus_per_node
    fast = _line(plan, tokens_per_s_per_user=bandwidth / active * 2, users_per_replica=1)
    assert (f"{line.item}: {bandwidth / active * 2:,.1f} tok/s per user is faster than reading {active / GB:,.1f} GB "
            f"of active weights per token at {bandwidth / 1e12:,.1f} TB/s allows ({bandwidth / active:,.1f})"
            in check_plan(fast, catalog, problem))
    peak = max(acc.tflops.values()) * 1e12 * line.gpus_per_node
    busy = _line(plan, users_per_replica=10**6)
    assert any(f.endswith(f"need more than the replica's peak {peak / 1e12:,.0f} TFLOPS")
               for f in check_plan(busy, catalog, problem))
    assert _has("states no speed", _line(plan, tokens_per_s_per_user=None), catalog,
                _with(problem, workload__min_tokens_per_s=1.0))


def test_platforms_without_an_accepts_list_take_cards_of_their_form_factor(catalog, pcie):
    problem, plan = pcie
    plat = catalog.platforms[plan.lines[0].platform]
    open_plat = plat.model_copy(update={"accepts": []})
    cat = dataclasses.replace(catalog, platforms={**catalog.platforms, plat.id: open_plat})
    assert not _has("does not take", plan, cat, problem)
    sxm = open_plat.model_copy(update={"form_factor": "sxm"})
    cat2 = dataclasses.replace(catalog, platforms={**catalog.platforms, plat.id: sxm})
    assert _has("does not take", plan, cat2, problem)


def test_hardware_classes_and_native_fp8(catalog, pcie):
    problem, plan = pcie
    assert not _has("class", plan, catalog, problem)
    assert not _has("native fp8", plan, catalog, _with(problem, constraints__require_native_fp8=True))
    consumer = catalog.accelerators["h100-pcie"].model_copy(update={"hardware_class": "consumer"})
    cat = dataclasses.replace(catalog, accelerators={**catalog.accelerators, "h100-pcie": consumer})
    assert _has("hardware class consumer is not in constraints.hardware_classes", plan, cat, problem)
    plat = catalog.platforms[plan.lines[0].platform].model_copy(update={"hardware_class": "edge"})
    cat2 = dataclasses.replace(catalog, platforms={**catalog.platforms, plat.id: plat})
    assert _has("server class edge is not in constraints.hardware_classes", plan, cat2, problem)


def test_objective_users_skips_the_demand_and_spare_rules(catalog, pcie):
    problem, plan = pcie
    t = plan.totals
    most = _with(problem, objective="users", constraints__budget=10**7, workload__concurrent_users=t.users + 50,
                 constraints__spare_nodes=1)
    found = check_plan(plan, catalog, most)
    assert not [f for f in found if "are needed" in f or "node down" in f or "serves nobody" in f]
    one = _line(_line(plan, 0, users_per_replica=1), 1, users_per_replica=0)
    one = one.model_copy(update={"totals": one.totals.model_copy(update={"users": 1})})
    assert not _has("serves nobody", one, catalog, most)
    assert "the plan buys nothing" in check_plan(plan.model_copy(update={"lines": ()}), catalog,
                                                 _with(problem, constraints__spare_nodes=1))


def test_spare_node_message(catalog, pcie):
    problem, plan = pcie
    worst = max(l.users_per_replica for l in plan.lines)
    need = plan.totals.users - worst + 1
    spare = _with(problem, constraints__spare_nodes=1, workload__concurrent_users=need)
    assert (f"with one node down the plan serves {plan.totals.users - worst} users; {need} are needed "
            f"(constraints.spare_nodes = 1)" in check_plan(plan, catalog, spare))


def test_assert_plan_ok_message_starts_plainly(catalog, mla):
    problem, plan = mla
    with pytest.raises(RuntimeError) as err:
        assert_plan_ok(plan.model_copy(update={"lines": ()}), catalog, problem)
    text = str(err.value)
    assert text.startswith("the plan failed the independent check (a bug in hwplan; please report it): the plan "
                           "buys nothing; ")


def test_the_weights_floor_leaves_out_mtp_modules_unless_mtp_runs(catalog, mla):
    """DeepSeek-R1's fp8 checkpoint (690 GB, measured) ships its 13.46B-parameter MTP module; engines load it only
    for MTP speculative decoding. Without MTP the floor takes the module off at 16 bits a weight (its widest), so a
    plan loading 690 GB less the module passes; with MTP the floor is the whole checkpoint again."""
    problem, plan = mla
    line = plan.lines[0]
    ranks = line.sizing.tp * line.sizing.dp * line.sizing.pp
    floor = (690 - 13.46 * 2) / ranks
    assert not _has("of weights per accelerator is less", _claim(plan, weights_gb_per_gpu=floor), catalog, problem)
    assert _has("of weights per accelerator is less", _claim(plan, weights_gb_per_gpu=floor * 0.99), catalog, problem)
    mtp = _with(problem, workload__speculative={"method": "mtp", "tokens": 1})
    assert _has("of weights per accelerator is less", _claim(plan, weights_gb_per_gpu=floor), catalog, mtp)
    assert not _has("of weights per accelerator is less", _claim(plan, weights_gb_per_gpu=690 / ranks), catalog, mtp)


def test_speculative_decoding_only_where_the_engine_starts_it(catalog, mla):
    """The mla plan runs vLLM with DP8 attention. With MTP asked it is sound; restated with two pipeline stages,
    vLLM would not start (vLLM issues 52069, 57755); on SGLang, ngram with attention DP would not either; a
    model without MTP modules cannot run MTP; llama.cpp runs no speculative decoding."""
    problem, plan = mla
    mtp = _with(problem, workload__speculative={"method": "mtp", "tokens": 1})
    ngram = _with(problem, workload__speculative={"method": "ngram", "tokens": 3})
    assert not any("speculative" in v for v in check_plan(plan, catalog, mtp))
    piped = _layout(plan, tp=4, dp=1, pp=2)
    assert _has("vLLM does not start speculative decoding with 2 pipeline stages", piped, catalog, mtp)
    assert not _has("pipeline stages", piped, catalog, problem)          # without speculation PP is fine
    on_sglang = _line(plan, engine="sglang")
    assert _has("SGLang does not start ngram speculative decoding with data-parallel attention",
                on_sglang, catalog, ngram)
    assert not _has("SGLang does not start", on_sglang, catalog, mtp)
    assert _has("llama.cpp does not run mtp speculative decoding", _line(plan, engine="llama.cpp"), catalog, mtp)
    llama = _with(mtp, model="llama-3.1-70b")
    assert _has("llama-3.1-70b has no MTP modules", plan, catalog, llama)


def test_speculative_plans_keep_their_physical_bounds(catalog, mla):
    """With MTP (k = 1) one verification pass yields at most two tokens per read of the weights: the bandwidth
    ceiling doubles but no more; the drafts add work, so the FLOPS bounds (all users' tokens, the first token's
    prefill) hold as without speculation."""
    problem, plan = mla
    mtp = _with(problem, workload__speculative={"method": "mtp", "tokens": 1})
    line = plan.lines[0]
    model, acc = catalog.models["deepseek-r1"], catalog.accelerators[line.accelerator]
    variant = model.variant(line.precision)
    active = (variant.size_gb - 13.46 * 2) * GB * model.active_params_b / model.params_b   # the checker's floor
    ceiling = acc.memory_bandwidth_gbs * 1e9 * line.sizing.tp * line.sizing.dp / active
    words = "active weights per token"
    assert not _has(words, _line(plan, tokens_per_s_per_user=ceiling * 1.9, users_per_replica=1), catalog, mtp)
    assert _has(words, _line(plan, tokens_per_s_per_user=ceiling * 2.1, users_per_replica=1), catalog, mtp)
    assert _has("need more than the replica's peak", _line(plan, tokens_per_s_per_user=ceiling * 1.9), catalog, mtp)
    assert _has("faster than prefilling", _line(plan, ttft_s=1e-6), catalog, mtp)

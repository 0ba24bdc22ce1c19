"""The checker stands on its own: its own formulas, every limit at its boundary, compatibility, offer dates."""

from __future__ import annotations

import ast
import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

import optimizer
from optimizer import check_plan, load_problem, optimize, with_overrides
from optimizer import sizing
from problems import bundled_problem_path

FORBIDDEN = {"sizing", "speed", "capacity", "units", "deployment", "offers", "model", "layouts", "estimator"}
OFFERS = "llama-3.1-70b-h100-pcie-offers"


def _imports(path: Path) -> set[str]:
    """Optimizer modules a file imports, anywhere in it (relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1:
                found |= {mod.split(".")[0]} if mod else {a.name for a in node.names}
            elif mod.startswith("optimizer"):
                found |= {mod.split(".")[1]} if "." in mod else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("optimizer.")}
    return found


def test_check_imports_nothing_of_what_it_checks():
    root = Path(optimizer.__file__).parent
    seen, todo = set(), ["check"]
    while todo:   # the whole import graph below check.py, not only its own lines
        mod = todo.pop()
        if mod in seen or not (root / f"{mod}.py").exists():
            continue
        seen.add(mod)
        todo += sorted(_imports(root / f"{mod}.py"))
    assert seen & FORBIDDEN == set(), seen


@pytest.fixture(scope="module")
def offers_case(catalog):
    problem = load_problem(bundled_problem_path(OFFERS))
    return problem, optimize(catalog, problem)


def test_a_sizing_that_drops_mla_replication_is_rejected(catalog, monkeypatch):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    honest = optimize(catalog, problem)
    per_token, per_request = sizing.kv_rank_bytes_per_token, sizing.kv_bytes_per_request

    def mla(model) -> bool:
        return model.attention.kind == "mla"

    # The bug: MLA's latent split over tensor-parallel ranks, as if it were GQA heads.
    def dropped_token(model, kv_dtype, layout):
        whole = per_token(model, kv_dtype, layout)
        return whole / layout.tp if mla(model) and not layout.dp_attention else whole

    def dropped_request(model, kv_dtype, tokens, tp=1):
        return per_request(model, kv_dtype, tokens, tp=tp) / (tp if mla(model) else 1)

    monkeypatch.setattr(sizing, "kv_rank_bytes_per_token", dropped_token)
    monkeypatch.setattr(sizing, "kv_bytes_per_request", dropped_request)
    with pytest.raises(RuntimeError) as err:
        optimize(catalog, problem)
    # DeepSeek-R1: (kv_lora_rank 512 + rope 64) × 2 B × 61 layers = 70,272 B per token, whole on each rank;
    # 2,000 + 6,000 tokens → 562.2 MB per request per rank.
    m = catalog.models["deepseek-r1"].attention
    per_request = (m.kv_lora_rank + m.qk_rope_head_dim) * 2 * 61 * 8000
    assert per_request == 562_176_000
    assert "562.2 MB each per rank, MLA's latent whole on every tensor-parallel rank" in str(err.value)
    monkeypatch.undo()
    assert check_plan(honest, catalog, problem) == []


def test_tensorrt_llm_on_mi300x_is_rejected(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    plan = optimize(catalog, problem)
    assert plan.lines[0].accelerator == "mi300x"
    assert "cdna3" not in catalog.engines["trtllm"].families
    bad = plan.model_copy(update={"lines": (plan.lines[0].model_copy(update={"engine": "trtllm"}),)})
    assert any("TensorRT-LLM does not run on mi300x" in p or "does not run on mi300x" in p
               for p in check_plan(bad, catalog, problem))


def test_precision_engine_and_kv_dtype_must_be_allowed(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-30-users"))
    plan = optimize(catalog, problem)
    line = plan.lines[0]
    for change, words in (({"precision": "q4_k_m"}, "precision q4_k_m is not one the problem allows"),
                          ({"kv_dtype": "fp8"}, "KV cache in fp8; 'auto' means bf16"),
                          ({"dp_attention": not line.dp_attention}, "data-parallel attention is")):
        bad = plan.model_copy(update={"lines": (line.model_copy(update=change),)})
        assert any(words in p for p in check_plan(bad, catalog, problem)), change
    other = "llama.cpp" if line.engine != "llama.cpp" else "vllm"
    only_other = with_overrides(problem, {("engine",): ("--engine", other)})
    assert any(f"engine {line.engine} is not one the problem allows" in p for p in check_plan(plan, catalog, only_other))


def _dated(catalog, plan, **fields):
    """The catalog with every offer the plan buys given `fields` (stock, warranty, lead time, validity)."""
    keys = {p.offer for p in plan.purchases}
    lists = {}
    for pl_id, plist in catalog.price_lists.items():
        offers = [o.model_copy(update={k: (v(o, i, pl_id) if callable(v) else v) for k, v in fields.items()})
                  if f"{pl_id}#{i}" in keys else o for i, o in enumerate(plist.offers)]
        lists[pl_id] = plist.model_copy(update={"offers": offers})
    return dataclasses.replace(catalog, price_lists=lists)


def _bought(plan):
    return {p.offer: p.quantity for p in plan.purchases}


def _limit_cases(plan):
    """(name, problem overrides at the boundary, overrides one unit beyond, words of the violation)."""
    t = plan.totals
    worst = max(l.users_per_replica for l in plan.lines)
    skus = len({(l.system or l.platform, l.gpus_per_node, l.accelerator) for l in plan.lines})
    sellers = len({p.seller for p in plan.purchases})
    speed = min(l.tokens_per_s_per_user for l in plan.lines)
    ttft = max(l.ttft_s for l in plan.lines)
    span = max(l.nodes_per_replica for l in plan.lines)
    c = ("constraints",)
    w = ("workload",)
    return [
        ("max_nodes", {c + ("max_nodes",): t.nodes}, {c + ("max_nodes",): t.nodes - 1}, "nodes, more than the limit"),
        ("budget", {c + ("budget",): float(t.cost)}, {c + ("budget",): float(t.cost - Fraction(1, 100))},
         "exceeds the budget"),
        ("max_power_w", {c + ("max_power_w",): t.power_w}, {c + ("max_power_w",): t.power_w - 1}, "exceeds the cap"),
        ("stock", {c + ("stock",): {"h100-pcie": t.gpus}}, {c + ("stock",): {"h100-pcie": t.gpus - 1}}, "in stock"),
        ("max_skus", {c + ("max_skus",): skus}, {c + ("max_skus",): skus - 1}, "kinds of node"),
        ("demand", {w + ("concurrent_users",): t.users}, {w + ("concurrent_users",): t.users + 1}, "are needed"),
        ("spare", {c + ("spare_nodes",): 1, w + ("concurrent_users",): t.users - worst},
         {c + ("spare_nodes",): 1, w + ("concurrent_users",): t.users - worst + 1}, "with one node down"),
        ("max_sellers", {c + ("max_sellers",): sellers}, {c + ("max_sellers",): sellers - 1}, "sellers; at most"),
        ("min_tokens_per_s", {w + ("min_tokens_per_s",): speed}, {w + ("min_tokens_per_s",): speed + 0.01}, "below the"),
        ("max_ttft_s", {w + ("max_ttft_s",): ttft}, {w + ("max_ttft_s",): ttft - 0.001}, "s allowed"),
        ("max_nodes_per_replica", {c + ("max_nodes_per_replica",): span}, {c + ("max_nodes_per_replica",): span - 1},
         "nodes, more than constraints.max_nodes_per_replica") if span > 1 else None,
        ("min_warranty_months", {c + ("min_warranty_months",): 24}, {c + ("min_warranty_months",): 25}, "warranty"),
        ("max_lead_time_weeks", {c + ("max_lead_time_weeks",): 4}, {c + ("max_lead_time_weeks",): 3}, "weeks, more"),
        ("valid_until", {c + ("as_of",): "2025-06-30"}, {c + ("as_of",): "2025-07-01"}, "expired on 2025-06-30"),
        ("valid_from", {c + ("as_of",): "2025-03-01"}, {c + ("as_of",): "2025-02-28"}, "not valid before 2025-03-01"),
    ]


LIMITS = ["max_nodes", "budget", "max_power_w", "stock", "max_skus", "demand", "spare", "max_sellers",
          "min_tokens_per_s", "max_ttft_s", "min_warranty_months", "max_lead_time_weeks", "valid_until", "valid_from"]


def _with(problem, overrides):
    return with_overrides(problem, {loc: (".".join(loc), value) for loc, value in overrides.items()})


@pytest.mark.parametrize("limit", LIMITS)
def test_every_limit_holds_at_its_boundary_and_fails_one_unit_beyond(catalog, offers_case, limit):
    problem, plan = offers_case
    dated = _dated(catalog, plan, warranty_months=24, lead_time_weeks=4, valid_from="2025-03-01",
                   valid_until="2025-06-30", price_date="2025-02")
    name, at, beyond, words = next(case for case in _limit_cases(plan) if case and case[0] == limit)
    assert not [p for p in check_plan(plan, dated, _with(problem, at)) if words in p]
    assert any(words in p for p in check_plan(plan, dated, _with(problem, beyond))), limit


def test_max_nodes_per_replica_at_its_boundary(catalog):
    problem = load_problem(bundled_problem_path("deepseek-r1-seed-nvidia"))
    plan = optimize(catalog, problem)
    span = max(l.nodes_per_replica for l in plan.lines)
    assert span == 2  # 2 × 8×H20 in one pipeline: 1.5 TB for 671 GB of weights plus a 250 GB reserve
    _, at, beyond, words = next(c for c in _limit_cases(plan) if c and c[0] == "max_nodes_per_replica")
    assert not [p for p in check_plan(plan, catalog, _with(problem, at)) if words in p]
    assert any(words in p for p in check_plan(plan, catalog, _with(problem, beyond)))


@pytest.mark.parametrize("short", [0, 1])
def test_offer_stock_at_its_boundary(catalog, offers_case, short):
    problem, plan = offers_case
    bought = _bought(plan)
    limited = _dated(catalog, plan, stock=lambda o, i, pl: bought[f"{pl}#{i}"] - short)
    found = [p for p in check_plan(plan, limited, problem) if "in stock" in p]
    assert bool(found) == bool(short)


def test_sizing_claims_at_their_boundaries(catalog, offers_case):
    problem, plan = offers_case
    line = plan.lines[0]
    acc = catalog.accelerators[line.accelerator]
    memory_gb = max(acc.memory_gb * 1e9, acc.memory_bytes) / 1e9

    def claim(**change):
        bad_line = line.model_copy(update={"sizing": line.sizing.model_copy(update=change)})
        return check_plan(plan.model_copy(update={"lines": (bad_line, *plan.lines[1:])}), catalog, problem)

    # Llama 3.1 70B bf16: 70.6B params × 2 B over the replica's ranks is the least a rank holds.
    model = catalog.models["llama-3.1-70b"]
    floor = model.params_b * 1e9 * 2 / (line.sizing.tp * line.sizing.pp) / 1e9
    assert not [p for p in claim(weights_gb_per_gpu=floor) if "GB of weights per accelerator is less" in p]
    assert any("GB of weights per accelerator is less" in p for p in claim(weights_gb_per_gpu=floor * 0.999))
    room = memory_gb - line.sizing.weights_gb_per_gpu
    assert not [p for p in claim(kv_budget_gb_per_gpu=room) if "exceed the" in p]
    assert any("exceed the" in p for p in claim(kv_budget_gb_per_gpu=room * 1.001))
    # GQA: 8 KV heads over tp ranks, 128 dims, 2 B, 80 layers; a request of input + output tokens.
    att = model.attention
    tokens = problem.workload.context_tokens
    per_request = 2 * -(-att.kv_heads // line.sizing.tp) * att.head_dim * 2 * model.layers * tokens / line.sizing.pp
    holds = int(line.sizing.kv_budget_gb_per_gpu * 1e9 // per_request)
    assert line.users_per_replica <= holds
    assert not [p for p in claim(memory_users=holds) if "users per replica, but" in p]
    assert any("users per replica, but" in p for p in claim(memory_users=holds + 1))


def test_speed_beyond_the_bandwidth_roofline_is_rejected(catalog, offers_case):
    problem, plan = offers_case
    line = plan.lines[0]
    acc = catalog.accelerators[line.accelerator]
    model = catalog.models[problem.model]
    # bf16: 2 B per active parameter read per token through the node's aggregate bandwidth.
    ceiling = acc.memory_bandwidth_gbs * 1e9 * line.gpus_per_node / (model.active_params_b * 1e9 * 2)

    def at(speed):
        fast = line.model_copy(update={"tokens_per_s_per_user": speed, "users_per_replica": 1})
        return [p for p in check_plan(plan.model_copy(update={"lines": (fast, *plan.lines[1:])}), catalog, problem)
                if "active weights per token" in p]

    assert not at(ceiling) and at(ceiling * 1.001)

"""The independent plan checker: recompute what a plan claims, without the optimizer's code.

From the catalog and the problem alone — no import from the optimizer's sizing,
speed, capacity, units, deployment, offers or model modules (a test enforces it) —
it checks, and returns the violations as sentences with numbers (an empty list
means the plan is sound; every plan hwplan returns or prints has passed it):

- purchases: each names a real offer of an allowed price list, at its price (converted
  at the catalog's rate), within its stock, from an allowed seller, in an allowed
  condition, with enough warranty and a short enough lead time, valid on
  `constraints.as_of` (from `valid_from`, else its price date, to `valid_until`); the
  purchases buy exactly what the lines need and add up to the total cost;
- lines: the node is what the catalog sells (system, or platform with that many of the
  accelerator), its power and memory; the problem's filters (vendors, accelerators,
  exclusions, form factors, hardware classes, native fp8); compatibility: the engine runs
  on the accelerator's family and the variant's file format, the variant's datatype has
  native units (fp8/fp4 rule), the precision, engine and KV datatype are ones the
  problem allows, data-parallel attention only where asked and possible; speculative decoding only with a
  model that has the method's modules, on an engine and layout that start it;
- sizing, from its own formulas (a small implementation of the physics, public sources
  below), against the plan's stated sizing claim (tensor and pipeline ranks, weights and
  KV budget per accelerator):
  * ranks: tp × pp = the replica's accelerators; attention heads divisible by tp;
  * weights: the checkpoint (measured size, else params × bits / 8, with the modules a checkpoint keeps
    unquantized at their own bits; less its MTP modules unless the plan runs MTP speculative decoding)
    spread over all ranks is a lower bound of the most loaded rank's weights; weights + KV budget ≤ memory;
  * KV per token and rank: MLA keeps its compressed latent (kv_lora_rank + rope dims)
    whole on every tensor-parallel rank (DeepSeek-V2 paper, https://arxiv.org/abs/2405.04434;
    vLLM/SGLang replicate it unless attention runs data-parallel); GQA/MHA keep
    2 × ceil(kv_heads / tp) × head_dim values per layer; sliding-window layers keep at
    most their window; a pipeline stage holds at least layers / pp of them;
  * users: a replica serves no more users than its KV budget holds requests of
    input + output tokens (× tp under data-parallel attention: each rank holds its own
    sequences); in the rule-of-thumb mode, the fixed reserve (doubled for a 16-bit run of
    an fp8 model) must fit and bounds the users;
- speed, by physical bounds: decode reads at least the active weights once per token
  through at most the node's aggregate memory bandwidth (tokens/s per user ≤
  node bandwidth / active weight bytes); all users' tokens need at least 2 × active
  parameters FLOPs each (≤ the replica's peak FLOPs); the first token needs at least
  2 × active parameters × input tokens FLOPs (roofline: Williams et al., CACM 2009,
  https://doi.org/10.1145/1498765.1498785) — under speculative decoding with k drafts the bandwidth bound
  allows k + 1 tokens per read, the FLOPS bounds are skipped on CPUs (their catalog FLOPS are estimates);
  and the stated speed meets
  `min_tokens_per_s` and `max_ttft_s`;
- totals in exact arithmetic, and every limit: demand, spare node, nodes, budget,
  power, stock, distinct node types, nodes per replica, sellers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction

from catalog import Catalog
from catalog.schema import KV_DTYPE_BYTES

from .plan import Plan, PlanLine
from .problem import Problem

__all__ = ["check_plan", "assert_plan_ok"]

GB = 1e9
_REL = 1e-9   # float slack for recomputed bytes (the optimizer sums the same terms in another order)


def _exact(value) -> Fraction:
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _fmt_money(x: Fraction, currency: str) -> str:
    return f"{float(x):,.2f} {currency}"


def _items_of(line: PlanLine) -> list[tuple[str, int]]:
    """What the line's nodes are bought as, recomputed: the system, or the platform and its accelerators."""
    if line.system is not None:
        return [(line.system, line.nodes)]
    return [(line.platform, line.nodes), (line.accelerator, line.nodes * line.gpus_per_node)]


def _offer(catalog: Catalog, problem: Problem, key: str):
    pl_id, _, pos = key.rpartition("#")
    if (pl_id not in problem.price_lists and pl_id not in problem.network_price_lists) or not pos.isdigit():
        return None, None
    plist = catalog.price_lists.get(pl_id)
    if plist is None or int(pos) >= len(plist.offers):
        return None, None
    return plist, plist.offers[int(pos)]


def _offer_dates(offer, as_of: str) -> str | None:
    """Why the offer is not valid on `as_of` (dates compare as text, a shorter date is its period's start)."""
    start = offer.valid_from or offer.price_date
    if start[:len(as_of)] > as_of:
        return f"is not valid before {start} (constraints.as_of {as_of})"
    if offer.valid_until is not None and offer.valid_until < as_of[:len(offer.valid_until)]:
        return f"expired on {offer.valid_until} (constraints.as_of {as_of})"
    return None


def _check_purchases(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:  # noqa: C901 — one flat rule per purchase fact (offer, seller, stock, date, price), each reported on its own
    out: list[str] = []
    currency = plan.totals.currency
    c = problem.constraints
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        plist, offer = _offer(catalog, problem, p.offer)
        if offer is None or offer.item != p.item or offer.seller != p.seller:
            out.append(f"purchase of {p.item} from {p.seller}: no such offer ({p.offer}) in {problem.price_lists}")
            continue
        price = _exact(offer.price)
        if plist.currency != currency:
            rate = catalog.exchange_rate(plist.currency, currency)
            price = price * _exact(rate.rate) if rate else None
        if price != p.unit_price:
            out.append(f"{p.item} from {p.seller} costs {_fmt_money(price or 0, currency)} each, plan says "
                       f"{_fmt_money(p.unit_price, currency)}")
        if p.quantity < 1:
            out.append(f"{p.item} from {p.seller}: quantity {p.quantity}")
        if offer.stock is not None and p.quantity > offer.stock:
            out.append(f"{p.quantity} × {p.item} bought from {p.seller}, who has {offer.stock} in stock")
        if p.item in catalog.network_items or p.item in catalog.racks:
            continue  # network and racks: checked by _check_fabric; the node sellers' limits do not apply
        if c.sellers and offer.seller not in c.sellers:
            out.append(f"{p.item} bought from {offer.seller}, not in constraints.sellers")
        if c.conditions and offer.condition not in c.conditions:
            out.append(f"{p.item} from {offer.seller} is {offer.condition}, not in constraints.conditions")
        if c.min_warranty_months is not None and (offer.warranty_months or 0) < c.min_warranty_months:
            out.append(f"{p.item} from {offer.seller} has {offer.warranty_months} months of warranty, "
                       f"less than {c.min_warranty_months}")
        if c.max_lead_time_weeks is not None and (offer.lead_time_weeks is None
                                                  or offer.lead_time_weeks > c.max_lead_time_weeks):
            out.append(f"{p.item} from {offer.seller} arrives in {offer.lead_time_weeks} weeks, more than "
                       f"{c.max_lead_time_weeks:g}")
        if c.as_of is not None:
            why = _offer_dates(offer, c.as_of)
            if why:
                out.append(f"the offer of {p.item} from {offer.seller} {why}")
        bought[p.item] += p.quantity
    needed: dict[str, int] = defaultdict(int)
    for line in plan.lines:
        for item, qty in _items_of(line):
            needed[item] += qty
    bought = {i: q for i, q in bought.items() if i not in catalog.network_items and i not in catalog.racks}
    bought = defaultdict(int, bought)
    for item in sorted(set(needed) | set(bought)):
        if needed[item] != bought[item]:
            out.append(f"the lines need {needed[item]} × {item}, the purchases buy {bought[item]}")
    sellers = {p.seller for p in plan.purchases}
    if c.max_sellers is not None and len(sellers) > c.max_sellers:
        out.append(f"the plan buys from {len(sellers)} sellers; at most {c.max_sellers} are allowed")
    spent = sum((p.unit_price * p.quantity for p in plan.purchases), Fraction(0))
    if spent != plan.totals.cost:
        out.append(f"the purchases add up to {_fmt_money(spent, currency)}, the plan's total says "
                   f"{_fmt_money(plan.totals.cost, currency)}")
    return out


def _node_power(catalog: Catalog, line: PlanLine) -> int:
    if line.system is not None and catalog.systems[line.system].max_power_w is not None:
        return catalog.systems[line.system].max_power_w  # type: ignore[return-value]
    return catalog.platforms[line.platform].base_power_w + line.gpus_per_node * catalog.accelerators[line.accelerator].tdp_w


# ----------------------------------------------------------------------------- the checker's own formulas

def _weights_bytes(model, variant) -> float:
    """The checkpoint's bytes: a measured size, else params × bits / 8. A checkpoint that keeps some modules at
    other bits (`module_bits`, `unquantized_layers`: its config's modules_to_not_convert / ignore /
    exclude_modules) gives a lower bound from the modules the checker counts exactly: input embedding and
    output head (vocab × hidden each; 16 bits in safetensors unless stated), GQA/MHA projections
    (2 × heads + 2 × kv_heads) × head_dim × hidden per layer, routed experts; the rest at the smallest bits the
    checkpoint uses; a listed layer of a dense model holds its attention and its 1/layers of the rest in 16 bits.
    Shapes: Hugging Face transformers modeling_llama.py (LlamaAttention, LlamaMLP)."""
    if variant.size_gb is not None:
        return variant.size_gb * GB
    base = variant.bits_per_weight
    own = variant.module_bits.model_dump() if variant.module_bits is not None else {}
    if not own and not variant.unquantized_layers:
        return model.params_b * 1e9 * base / 8
    edge = 16.0 if variant.format == "safetensors" else base
    h, att = model.hidden_size, model.attention
    counted = {"embeddings": model.vocab_size * h, "lm_head": 0 if model.tie_word_embeddings else model.vocab_size * h,
               "attention": 0 if att.kind == "mla" else model.layers * (2 * att.heads + 2 * att.kv_heads) * att.head_dim * h,
               "experts": model.moe.expert_params_b * 1e9 if model.moe else 0.0}
    bits = {"embeddings": own.get("embeddings") or edge, "lm_head": own.get("lm_head") or edge,
            "attention": own.get("attention") or base, "experts": own.get("experts") or base}
    rest = model.params_b * 1e9 - sum(counted.values())
    low = min([base, *(b for b in own.values() if b)])
    total = sum(counted[k] * bits[k] / 8 for k in counted) + max(rest, 0.0) * low / 8
    for _ in variant.unquantized_layers:
        total += counted["attention"] / model.layers * (16 - bits["attention"]) / 8
        if model.moe is None:
            total += max(rest, 0.0) / model.layers * (16 - low) / 8
    return total


def _loaded_weights_floor(model, variant, mtp_runs: bool) -> float:
    """A lower bound of the weights an engine loads: the checkpoint's bytes (`_weights_bytes`), less its
    multi-token-prediction modules when the plan does not run MTP speculative decoding (engines load them only
    then: vLLM's DeepSeek-V3 `load_weights` skips the spec-decode layers). A measured safetensors size includes
    them (DeepSeek-V3 README_WEIGHTS.md: 685B = 671B main model + 14B MTP); they are taken off at the most bits
    any of their weights is stored in (16, or the variant's own when wider), so the bound stays below."""
    checkpoint = _weights_bytes(model, variant)
    if mtp_runs or model.mtp is None or variant.size_gb is None or variant.format != "safetensors":
        return checkpoint
    widest = max(16.0, variant.bits_per_weight or 16.0)
    return max(checkpoint - model.mtp.params_b * 1e9 * widest / 8, 0.0)


def _runs_mtp(problem: Problem) -> bool:
    spec = problem.workload.speculative
    return spec is not None and spec.method == "mtp"


def _entry_bytes(model, kv_dtype: str, tp: int, whole: bool, window: bool) -> float:
    """KV bytes one rank keeps per token in one full (or sliding-window) layer: a fixed cache format's
    entry; MLA's latent whole; GQA/MHA 2 × its share of the heads (all if `whole`) × head dims."""
    att = model.attention
    if att.entry_bytes is not None:
        return att.entry_bytes
    b = KV_DTYPE_BYTES[kv_dtype]
    if att.kind == "mla":
        return (att.kv_lora_rank + att.qk_rope_head_dim) * b
    heads = (att.window_kv_heads or att.kv_heads) if window else att.kv_heads
    dims = (att.window_head_dim or att.head_dim) if window else att.head_dim
    return 2 * (heads if whole else math.ceil(heads / tp)) * dims * b


def _request_rank_bytes(model, kv_dtype: str, tp: int, pp: int, whole: bool, tokens: int) -> float:
    """At least what one rank keeps for one request of `tokens` tokens: full softmax layers every token,
    sliding-window layers at most their window; a stage holds at least 1 / pp of it. Compressed caches,
    indexer keys and linear layers' state only add to it, so they are left out of this lower bound."""
    att = model.attention
    softmax = att.kv_layers or (model.layers - att.linear_layers)
    full = (softmax - att.window_layers) * _entry_bytes(model, kv_dtype, tp, whole, False) * tokens
    windowed = att.window_layers * _entry_bytes(model, kv_dtype, tp, whole, True) * \
        min(tokens, att.window_tokens or tokens)
    return (full + windowed) / pp


def _request_bytes(model, kv_dtype: str, tokens: int) -> float:
    """One request's KV bytes over the whole model, unsharded."""
    return _request_rank_bytes(model, kv_dtype, 1, 1, True, tokens)


def _allowed_precisions(model, acc, asked: list[str]) -> set[str]:
    """Variants a line may run: those asked (or their fallback where native units are missing); for 'auto',
    the native one (or its fallback) and the publisher's own builds in a datatype the hardware runs natively."""
    org = model.hf_repo.split("/")[0] if "/" in model.hf_repo else None
    by_id = {v.id: v for v in model.variants}
    out: set[str] = set()
    for p in asked:
        if p == "auto":
            names = [model.native_precision] + [
                v.id for v in model.variants if org and v.requires_native and acc.has_native(v.requires_native)
                and f"huggingface.co/{org}/" in v.source]
        else:
            names = [p]
        for name in names:
            v = by_id.get(name)
            if v is None:
                continue
            out.add(name)
            if v.requires_native and not acc.has_native(v.requires_native) and v.fallback:
                out.add(v.fallback)
    return out


def _check_compatibility(problem: Problem, line: PlanLine, model, variant, acc, engine) -> list[str]:  # noqa: C901 — one flat rule per compatibility (engine × family, precision × units, KV datatype, class)
    out: list[str] = []
    name = line.item
    if acc.family not in engine.families:
        out.append(f"{name}: {engine.name} does not run on {acc.id} ({acc.family}; it runs on "
                   f"{', '.join(engine.families)})")
    if variant.format not in engine.formats:
        out.append(f"{name}: {engine.name} does not load {variant.format} weights ({line.precision})")
    if variant.requires_native and not acc.has_native(variant.requires_native):
        out.append(f"{name}: {line.precision} needs native {variant.requires_native} units, which {acc.id} lacks")
    if line.precision not in _allowed_precisions(model, acc, problem.precisions):
        out.append(f"{name}: precision {line.precision} is not one the problem allows ({problem.precision})")
    if "auto" not in problem.engines and line.engine not in problem.engines:
        out.append(f"{name}: engine {line.engine} is not one the problem allows ({problem.engine})")
    if line.kv_dtype not in KV_DTYPE_BYTES:
        out.append(f"{name}: unknown KV datatype {line.kv_dtype}")
    elif problem.kv_dtype != "auto":
        if line.kv_dtype != problem.kv_dtype:
            out.append(f"{name}: KV cache in {line.kv_dtype}, the problem asks for {problem.kv_dtype}")
    else:
        scaled = engine.quantized_kv_dtype if (variant.quantized and variant.compute_dtype in ("fp8", "fp4")) else None
        if line.kv_dtype not in {"bf16", scaled}:
            out.append(f"{name}: KV cache in {line.kv_dtype}; 'auto' means bf16"
                       + (f" or {scaled} for this quantized build" if scaled else ""))
    if line.dp_attention and not engine.dp_attention:
        out.append(f"{name}: {engine.name} cannot run data-parallel attention")
    return out


# Engines that document speculative decoding (https://docs.vllm.ai/en/latest/features/spec_decode.html,
# https://docs.sglang.ai/advanced_features/speculative_decoding.html,
# https://nvidia.github.io/TensorRT-LLM/advanced/speculative-decoding.html), and what they refuse at start-up:
# vLLM with pipeline parallelism (https://github.com/vllm-project/vllm/issues/52069 and /57755, 2026), SGLang's
# NGRAM with --enable-dp-attention (`_handle_ngram`, python/sglang/srt/arg_groups/speculative_hook.py).
_SPECULATING_ENGINES = ("vllm", "sglang", "trtllm")


def _check_speculative(problem: Problem, line: PlanLine, model) -> list[str]:
    """A line of a plan with speculative decoding runs it: the model has MTP modules for MTP, the engine runs
    speculative decoding, and not on a layout it refuses it on."""
    spec = problem.workload.speculative
    if spec is None:
        return []
    name, out = line.item, []
    if spec.method == "mtp" and model.mtp is None:
        out.append(f"{name}: {model.id} has no MTP modules to run MTP speculative decoding with")
    if line.engine not in _SPECULATING_ENGINES:
        out.append(f"{name}: {line.engine} does not run {spec.method} speculative decoding")
    stages = line.sizing.pp if line.sizing is not None else 1
    if line.engine == "vllm" and stages > 1:
        out.append(f"{name}: vLLM does not start speculative decoding with {stages} pipeline stages")
    if line.engine == "sglang" and spec.method == "ngram" and line.dp_attention:
        out.append(f"{name}: SGLang does not start ngram speculative decoding with data-parallel attention")
    return out


def _check_sizing(problem: Problem, line: PlanLine, model, variant, acc) -> list[str]:  # noqa: C901 — the independent sizing re-derivation reads top to bottom as its formula
    s = line.sizing
    name = line.item
    if s is None:
        return [f"{name}: the plan states no sizing to check"]
    out: list[str] = []
    # A replica's ranks: its share of a server (several replicas per server) or its servers.
    if line.replicas_per_node > 1 and (line.nodes_per_replica != 1 or line.gpus_per_node % line.replicas_per_node
                                       or line.replicas % line.replicas_per_node):
        return [f"{name}: {line.replicas} replicas, {line.replicas_per_node} per node, do not fill whole "
                f"{line.gpus_per_node}-accelerator nodes"]
    ranks = line.gpus_per_node * line.nodes_per_replica // line.replicas_per_node
    if line.in_domain_prefill is not None:   # decode on the accelerators its node's prefill replicas leave
        ranks -= line.in_domain_prefill.gpus
    if s.tp < 1 or s.pp < 1 or s.dp < 1 or s.tp * s.dp * s.pp != ranks:
        return [f"{name}: tp {s.tp} × dp {s.dp} × pp {s.pp} is not the replica's {ranks} accelerators"]
    if line.dp_attention != (s.dp > 1):
        out.append(f"{name}: data-parallel attention is {'on' if line.dp_attention else 'off'} but the layout has "
                   f"{s.dp} attention group{'s' * (s.dp != 1)}")
    attention_tp = s.tp  # heads split over the tensor-parallel ranks of one attention group
    if model.attention.heads % attention_tp:
        out.append(f"{name}: {model.attention.heads} attention heads do not split over tp {s.tp}")
    memory = max(acc.memory_gb * GB, acc.memory_bytes)
    weights_floor = _loaded_weights_floor(model, variant, _runs_mtp(problem)) / ranks
    weights = s.weights_gb_per_gpu * GB
    kv_budget = s.kv_budget_gb_per_gpu * GB
    if weights < weights_floor * (1 - _REL) - 1:
        out.append(f"{name}: {s.weights_gb_per_gpu:,.2f} GB of weights per accelerator is less than the "
                   f"{weights_floor / GB:,.2f} GB that {model.id} in {line.precision} spread over {ranks} takes")
    if weights + kv_budget > memory * (1 + _REL):
        out.append(f"{name}: weights {weights / GB:,.2f} GB + KV budget {kv_budget / GB:,.2f} GB exceed the "
                   f"{memory / GB:,.2f} GB of one {acc.id}")
    if kv_budget <= 0:
        return out + [f"{name}: no memory is left for the KV cache"]
    w = problem.workload
    users = line.users_per_replica
    if w.kv_reserve_gb is not None:
        native = model.variant(model.native_precision)
        factor = 2.0 if (native.compute_dtype == "fp8" and variant.compute_dtype in ("bf16", "fp16")
                         and not variant.quantized) else 1.0
        reserve = w.kv_reserve_gb * GB * factor
        if kv_budget * ranks < reserve * (1 - _REL):
            out.append(f"{name}: the KV reserve of {reserve / GB:,.0f} GB does not fit the "
                       f"{kv_budget * ranks / GB:,.0f} GB left after the weights")
        most = 1 if w.concurrent_users is None else \
            math.floor(reserve / (_request_bytes(model, line.kv_dtype, w.context_tokens) * factor) * (1 + _REL))
        if users > most:
            out.append(f"{name}: {users} users per replica, but the {reserve / GB:,.0f} GB reserve holds {most} "
                       f"requests of {w.context_tokens:,} tokens")
        return out
    per_request = _request_rank_bytes(model, line.kv_dtype, s.tp, s.pp, False, w.context_tokens)
    holders = s.dp  # each attention data-parallel group holds its own sequences
    if acc.family == "cpu":  # one llama.cpp process spread over the sockets (--numa distribute): KV split evenly
        per_request = _request_bytes(model, line.kv_dtype, w.context_tokens) / ranks
    most = math.floor(kv_budget / per_request * (1 + _REL)) * holders
    # With a request rate, users_per_replica counts requests per hour: only the concurrent ones hold KV.
    claimed = s.memory_users if w.request_rate is not None else max(users, s.memory_users)
    if claimed > most:
        out.append(f"{name}: {claimed:,} users per replica, but a KV budget of "
                   f"{kv_budget / GB:,.2f} GB per accelerator holds at most {most:,} requests of "
                   f"{w.context_tokens:,} tokens ({per_request / 1e6:,.1f} MB each per rank"
                   + (", MLA's latent whole on every tensor-parallel rank" if model.attention.kind == "mla"
                      and not s.dp_attention else "") + ")")
    return out


def _check_speed(problem: Problem, line: PlanLine, model, variant, acc) -> list[str]:
    out: list[str] = []
    name = line.item
    w = problem.workload
    speed = line.tokens_per_s_per_user
    if line.role == "prefill":   # a prefill pool emits first tokens only: its TTFT is checked in _check_pools
        return out
    if speed is None:
        return [f"{name}: the plan states no speed"] if w.min_tokens_per_s > 0 else []
    if speed < w.min_tokens_per_s:
        out.append(f"{name}: {speed:,.2f} tok/s per user, below the {w.min_tokens_per_s:g} asked")
    if line.role == "aggregated" and w.max_ttft_s is not None and (line.ttft_s is None or line.ttft_s > w.max_ttft_s):
        out.append(f"{name}: first token after {line.ttft_s} s, more than the {w.max_ttft_s:g} s allowed")
    active_bytes = _loaded_weights_floor(model, variant, mtp_runs=False) * model.active_params_b / model.params_b
    # A token passes every pipeline stage; a stage's tp × dp ranks read their share of the weights together
    # (tensor parallel may span servers), so no more than those ranks' bandwidth serves one user. Speculative
    # decoding verifies k drafted tokens in one pass: at most k + 1 tokens per read of the weights (Leviathan et
    # al., ICML 2023); the drafts add work, so the FLOPS bounds below hold as they are.
    per_read = w.speculative.tokens + 1 if w.speculative is not None else 1
    stage_ranks = line.sizing.tp * line.sizing.dp if line.sizing is not None else line.gpus_per_node
    bandwidth = acc.memory_bandwidth_gbs * 1e9 * stage_ranks
    ceiling = bandwidth / active_bytes * per_read
    if speed > ceiling * (1 + _REL):
        out.append(f"{name}: {speed:,.1f} tok/s per user is faster than reading {active_bytes / GB:,.1f} GB of "
                   f"active weights per token at {bandwidth / 1e12:,.1f} TB/s allows ({ceiling:,.1f}"
                   + (f", {per_read} tokens per read with speculative decoding" if per_read > 1 else "") + ")")
    if acc.family == "cpu":   # CPU FLOPS figures are per-socket vector-unit estimates: no compute bound
        return out
    decoding = line.gpus_per_node * line.nodes_per_replica - (
        line.in_domain_prefill.gpus if line.in_domain_prefill is not None else 0)   # its prefill replicas emit none
    peak = max(acc.tflops.values()) * 1e12 * decoding
    flops_per_token = 2 * model.active_params_b * 1e9
    # Output tokens per second the line claims: users × their speed, or requests per hour × output tokens.
    rate = line.users_per_replica * w.output_tokens / 3600 if w.request_rate is not None \
        else speed * line.users_per_replica
    if rate > peak / flops_per_token * (1 + _REL):
        out.append(f"{name}: {rate:,.0f} output tok/s need more than the replica's peak {peak / 1e12:,.0f} TFLOPS")
    if line.ttft_s is not None and line.ttft_s < flops_per_token * w.input_tokens / peak * (1 - _REL):
        out.append(f"{name}: a first token after {line.ttft_s:.3f} s is faster than prefilling "
                   f"{w.input_tokens:,} tokens at peak FLOPS allows")
    return out


def _check_line(catalog: Catalog, problem: Problem, line: PlanLine) -> list[str]:  # noqa: C901 — one flat rule per plan-line claim; splitting would scatter the checker's list of rules
    out: list[str] = []
    name = line.item
    if line.accelerator not in catalog.accelerators or line.platform not in catalog.platforms:
        return [f"{name}: unknown accelerator or platform"]
    acc = catalog.accelerators[line.accelerator]
    plat = catalog.platforms[line.platform]
    if line.system is not None:
        sysrec = catalog.systems.get(line.system)
        if sysrec is None or (sysrec.accelerator, sysrec.platform, sysrec.count) != \
                (line.accelerator, line.platform, line.gpus_per_node):
            out.append(f"{name}: system {line.system} is not {line.gpus_per_node} × {line.accelerator} in {line.platform}")
    else:
        takes = acc.id in plat.accepts if plat.accepts else plat.form_factor == acc.form_factor
        if not takes or line.gpus_per_node not in plat.gpu_counts:
            out.append(f"{name}: platform {plat.id} does not take {line.gpus_per_node} × {acc.id}")
    if line.replicas < 1 or line.nodes_per_replica < 1:
        out.append(f"{name}: replicas and nodes per replica must be positive")
    if line.maker != acc.maker:
        out.append(f"{name}: made by {acc.maker}, plan says {line.maker}")
    power = _node_power(catalog, line)
    if power != line.node_power_w:
        out.append(f"{name}: node draws {power} W, plan says {line.node_power_w} W")
    if abs(acc.memory_gb * line.gpus_per_node - line.memory_gb_per_node) > 1e-6:
        out.append(f"{name}: node memory is {acc.memory_gb * line.gpus_per_node} GB, plan says {line.memory_gb_per_node}")

    c = problem.constraints
    if c.vendors and acc.maker not in c.vendors:
        out.append(f"{name}: vendor {acc.maker} is not allowed (constraints.vendors = {c.vendors})")
    if c.accelerators and acc.id not in c.accelerators:
        out.append(f"{name}: {acc.id} is not in constraints.accelerators")
    if acc.id in c.exclude_accelerators:
        out.append(f"{name}: {acc.id} is excluded")
    if c.form_factors and acc.form_factor not in c.form_factors:
        out.append(f"{name}: form factor {acc.form_factor} is not allowed")
    if acc.hardware_class not in c.hardware_classes:
        out.append(f"{name}: hardware class {acc.hardware_class} is not in constraints.hardware_classes")
    if plat.hardware_class not in c.hardware_classes:
        out.append(f"{name}: server class {plat.hardware_class} is not in constraints.hardware_classes")
    if c.require_native_fp8 and not acc.has_native("fp8"):
        out.append(f"{name}: {acc.id} has no native fp8 units but constraints.require_native_fp8 is set")
    if line.nodes_per_replica > c.max_nodes_per_replica:
        out.append(f"{name}: a replica spans {line.nodes_per_replica} nodes, more than "
                   f"constraints.max_nodes_per_replica = {c.max_nodes_per_replica}")

    model = catalog.models[problem.model]
    variant = next((v for v in model.variants if v.id == line.precision), None)
    if variant is None:
        return out + [f"{name}: {model.id} has no precision {line.precision}"]
    engine = catalog.engines.get(line.engine)
    if engine is None:
        return out + [f"{name}: unknown engine {line.engine}"]
    out += _check_compatibility(problem, line, model, variant, acc, engine)
    out += _check_speculative(problem, line, model)
    if line.replicas < 1 or line.nodes_per_replica < 1:
        return out
    if line.kv_dtype in KV_DTYPE_BYTES:
        out += _check_sizing(problem, line, model, variant, acc)
    out += _check_speed(problem, line, model, variant, acc)
    return out


def _fabric_needs(catalog: Catalog, plan: Plan) -> tuple[dict[str, list[int]], dict[str, list[tuple[int, int]]]]:
    """Per fabric class, from the lines and the catalog alone: [node ports on switches, nodes on switches,
    direct cables], and (nodes, NIC ports each) of nodes sold without their NICs."""
    need: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    nic_ports: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in plan.lines:
        plat = catalog.platforms[line.platform]
        side = line.in_domain_prefill   # prefill beside decode that keeps up with it: no KV cache crosses the fabric
        pooled = line.role != "aggregated" and not (
            side is not None and side.requests_per_hour >= (line.requests_per_hour_per_replica or 0))
        if (line.nodes_per_replica < 2 and not pooled) or not plat.nics:
            continue
        nic = plat.nics[0]
        key = f"{'infiniband' if nic.protocol == 'infiniband' else 'ethernet'}-{nic.gbps}"
        if not plat.nics_included:
            nic_ports[key].append((line.nodes, nic.count))
        if line.nodes_per_replica == 2 and plat.direct_connect and not pooled:
            need[key][2] += nic.count * line.replicas
        else:
            need[key][0] += nic.count * line.nodes
            need[key][1] += line.nodes
    return need, nic_ports


def _check_switches(catalog: Catalog, key: str, n, ports: int, nodes: int) -> list[str]:
    """The switches of one fabric class: right protocol and speed, enough ports for the node ports
    and (when the nodes outnumber one switch's ports) as many uplinks, on two tiers at most."""
    out: list[str] = []
    protocol, speed = key.rsplit("-", 1)
    capacity, largest = 0, 0
    for item, count, _ in n.switches:
        sw = catalog.network_items.get(item)
        if sw is None or sw.kind != "switch" or sw.protocol != protocol or sw.gbps < int(speed):
            out.append(f"{key} fabric: {item} is not a {protocol} switch of {speed} Gb/s or faster")
            continue
        capacity += (sw.ports or 0) * count
        largest = max(largest, sw.ports or 0)
    uplinks = ports if nodes > largest else 0   # a rail's nodes outnumber one switch's ports: two tiers
    if ports and n.uplinks < uplinks:
        out.append(f"{key} fabric: {nodes} nodes exceed the {largest} ports of one switch, so {ports} uplinks "
                   f"are needed; the plan has {n.uplinks}")
    if capacity < ports + 2 * n.uplinks:
        out.append(f"{key} fabric: switches give {capacity} ports, {ports} node ports and {n.uplinks} uplinks "
                   f"need {ports + 2 * n.uplinks}")
    if ports and nodes > largest * largest // 2:
        out.append(f"{key} fabric: {nodes} nodes exceed a two-tier fat tree of {largest}-port switches")
    return out


def _check_nics(catalog: Catalog, plan: Plan, key: str, n, nic_ports: list[tuple[int, int]]) -> list[str]:
    """NIC cards of one fabric class: ⌈ports per node / ports per card⌉ for every node sold without them."""
    protocol, speed = key.rsplit("-", 1)
    items = [p for p in plan.purchases if p.item in catalog.network_items
             and catalog.network_items[p.item].kind == "nic" and catalog.network_items[p.item].protocol == protocol
             and catalog.network_items[p.item].gbps == int(speed)]
    card_ports = (catalog.network_items[items[0].item].ports or 1) if items else 1
    cards = sum(nodes * -(-each // card_ports) for nodes, each in nic_ports)
    bought = sum(p.quantity for p in items)
    if n.nics != cards or (cards and bought != cards):
        return [f"{key} fabric: nodes sold without NICs need {cards} NIC cards; the plan lists {n.nics} and "
                f"buys {bought}"]
    return []


def _check_network_purchases(catalog: Catalog, plan: Plan) -> list[str]:
    """Switches, cables and transceivers bought match the fabric the plan lists."""
    out: list[str] = []
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        if p.item in catalog.network_items:
            bought[p.item] += p.quantity
    listed: dict[str, int] = defaultdict(int)
    for n in plan.network:
        for item, count, _ in n.switches:
            listed[item] += count
    for item in sorted(set(bought) | set(listed)):
        if item not in catalog.network_items:
            out.append(f"the fabric lists {listed[item]} × {item}, which is not a network item of the catalog")
            continue
        if catalog.network_items[item].kind == "switch" and bought.get(item, 0) != listed[item]:
            out.append(f"the fabric lists {listed[item]} × {item}, the purchases buy {bought.get(item, 0)}")
    cables = sum(q for i, q in bought.items() if catalog.network_items[i].kind == "cable")
    xcvrs = sum(q for i, q in bought.items() if catalog.network_items[i].kind == "transceiver")
    links = sum(n.links for n in plan.network if n.priced)
    if cables != links:
        out.append(f"{cables} cables bought for {links} links")
    if xcvrs != sum(n.transceivers for n in plan.network if n.priced):
        out.append(f"{xcvrs} transceivers bought, the fabric lists {sum(n.transceivers for n in plan.network)}")
    return out


def _check_fabric(catalog: Catalog, plan: Plan) -> list[str]:
    """The scale-out network, re-derived from the lines and the catalog: every multi-node replica's
    NIC ports (or port-to-port cables of a directly connected pair) are counted per fabric class; the
    switches bought must offer enough ports of the right protocol and speed (twice the node ports
    when the nodes outnumber a switch's ports: leaves and spines), and cables, transceivers and NICs
    must match. Non-blocking two-tier fat tree, as the NVIDIA DGX SuperPOD reference design
    (https://docs.nvidia.com/dgx-superpod/reference-architecture/latest/)."""
    out: list[str] = []
    need, nic_ports = _fabric_needs(catalog, plan)
    shown = {n.fabric: n for n in plan.network}
    for key in sorted(set(need) | set(shown)):
        ports, nodes, direct = need.get(key, [0, 0, 0])
        n = shown.get(key)
        if n is None:
            out.append(f"the multi-node replicas need a {key} fabric ({ports} switch ports, {direct} direct cables); "
                       f"the plan buys none")
            continue
        if (n.node_ports, n.nodes, n.direct_links) != (ports, nodes, direct):
            out.append(f"{key} fabric: the lines need {ports} node ports on {nodes} nodes and {direct} direct cables, "
                       f"the plan says {n.node_ports} on {n.nodes} and {n.direct_links}")
        if not n.priced:
            continue
        out += _check_switches(catalog, key, n, ports, nodes)
        if n.links != ports + n.uplinks + direct:
            out.append(f"{key} fabric: {n.links} cables for {ports + n.uplinks + direct} links")
        out += _check_nics(catalog, plan, key, n, nic_ports.get(key, []))
    return out + _check_network_purchases(catalog, plan)


def _check_racks(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:  # noqa: C901 — one flat rule per rack limit (count, kW, cooling, max racks, site cap)
    """Racks, re-derived per node type from the catalog: enough rack space and power for every node
    (a rack's load = its nodes' maximum draw ≤ the cooling's kW limit and the rack's rating), the
    max-racks limit, rack purchases matching the racks listed, and the facility draw (IT maximum × PUE)
    under the site cap."""
    out: list[str] = []
    c = problem.constraints
    nodes: dict[str, tuple[int, int, str]] = {}   # node type -> (nodes, node draw W, platform)
    for line in plan.lines:
        sku = line.system or f"{line.platform}+{line.gpus_per_node}x{line.accelerator}"
        n, w, p = nodes.get(sku, (0, line.node_power_w, line.platform))
        nodes[sku] = (n + line.nodes, w, p)
    shown = {r.node_type: r for r in plan.racks}
    for sku, (n, watts, plat_id) in sorted(nodes.items()):
        r = shown.get(sku)
        if r is None:
            out.append(f"{n} × {sku} have no racks")
            continue
        plat = catalog.platforms[plat_id]
        rack = catalog.racks.get(r.rack)
        units = rack.rack_units if rack is not None else 42
        limit = c.max_liquid_rack_kw if plat.cooling == "liquid" else c.max_rack_kw
        if rack is not None:
            if not plat.racks_per_node:   # rack-scale systems bring their own power shelves
                limit = min(limit, rack.max_kw)
            if rack.cooling != plat.cooling:
                out.append(f"{sku} is {plat.cooling}-cooled but racked in {rack.id} ({rack.cooling}-cooled)")
        spread = plat.racks_per_node or 1
        if plat.racks_per_node:   # rack-scale: its own racks, an equal share of its draw in each
            per_rack = 1 if watts <= limit * 1000 * spread and plat.rack_units <= units else 0
        else:
            per_rack = min(units // plat.rack_units, int(limit * 1000 // watts)) if watts else units // plat.rack_units
        if per_rack < 1:
            out.append(f"one {sku} ({watts / 1000:,.1f} kW, {plat.rack_units}U) fits no {limit:g} kW, {units}U rack")
        elif r.racks * per_rack < n * spread:
            out.append(f"{n} × {sku} need {-(-n * spread // per_rack)} racks at {per_rack} per rack ({limit:g} kW, "
                       f"{units}U); the plan has {r.racks}")
        if r.nodes != n:
            out.append(f"racks of {sku} hold {r.nodes} nodes, the lines have {n}")
    racks = sum(r.racks for r in plan.racks)
    if c.max_racks is not None and racks > c.max_racks:
        out.append(f"the plan fills {racks} racks, more than the limit of {c.max_racks}")
    bought: dict[str, int] = defaultdict(int)
    for p in plan.purchases:
        if p.item in catalog.racks:
            bought[p.item] += p.quantity
    listed: dict[str, int] = defaultdict(int)
    for r in plan.racks:
        if r.cost:
            listed[r.rack] += r.racks
    if dict(bought) != dict(listed):
        out.append(f"racks bought {dict(bought)}, racks listed {dict(listed)}")
    if c.max_site_kw is not None:
        it_w = sum(l.node_power_w * l.nodes for l in plan.lines) + sum(n.power_w for n in plan.network)
        if it_w * _exact(problem.tco.pue) > _exact(c.max_site_kw) * 1000:
            out.append(f"the facility draws {it_w * problem.tco.pue / 1000:,.1f} kW (PUE {problem.tco.pue:g}), "
                       f"more than the site cap of {c.max_site_kw:g} kW")
    return out


def _check_network_racks(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:
    """The switches' racks, re-derived from the catalog: their rack units (1 where none is stated) and
    maximum draw fit the network racks listed, each within constraints.max_rack_kw and the rack's rating:
    racks ≥ max(⌈units / rack height⌉, ⌈watts / kW limit⌉). Each fabric's stated draw is its switches'
    and NIC cards' maximum draw from the catalog."""
    out: list[str] = []
    units = watts = 0
    for n in plan.network:
        items = [(catalog.network_items.get(i), c) for i, c, _ in n.switches]
        sw_w = sum((it.power_w or 0) * c for it, c in items if it is not None)
        units += sum((it.rack_units or 1) * c for it, c in items if it is not None)
        watts += sw_w
        protocol, _, gbps = n.fabric.rpartition("-")
        nics = [(catalog.network_items[p.item], p.quantity) for p in plan.purchases if p.item in catalog.network_items]
        nic_w = sum((it.power_w or 0) * q for it, q in nics
                    if it.kind == "nic" and it.protocol == protocol and str(it.gbps) == gbps)
        if n.power_w != sw_w + nic_w:
            out.append(f"network power of {n.fabric}: its switches and NICs draw {sw_w + nic_w:,} W at most, the "
                       f"plan says {n.power_w:,} W")
    if not units:
        return out
    shown = [r for r in plan.racks if r.load_w is not None]
    if not shown:
        return out + [f"{units}U of switches drawing {watts:,} W have no network racks"]
    listed = sum(r.racks for r in shown)
    rack = catalog.racks.get(shown[0].rack)
    height = rack.rack_units if rack is not None else 42
    limit = problem.constraints.max_rack_kw if rack is None else min(problem.constraints.max_rack_kw, rack.max_kw)
    need = max(-(-units // height), math.ceil(watts / (limit * 1000)))
    if listed < need:
        out.append(f"{units}U of switches drawing {watts:,} W need {need} network racks ({height}U, {limit:g} kW); "
                   f"the plan has {listed}")
    if sum(r.load_w or 0 for r in shown) != watts:
        out.append(f"network racks carry {sum(r.load_w or 0 for r in shown):,} W, the switches draw {watts:,} W")
    return out


def _check_node_power(catalog: Catalog, plan: Plan) -> list[str]:
    """Each node's maximum draw covers its accelerators' TDP and stays within its server's power supplies."""
    out: list[str] = []
    for line in plan.lines:
        tdp = line.gpus_per_node * catalog.accelerators[line.accelerator].tdp_w
        if line.node_power_w < tdp:
            out.append(f"{line.unit}: a node draws {line.node_power_w} W, less than its accelerators' {tdp} W TDP")
        cap = catalog.platforms[line.platform].max_system_power_w
        if line.system is None and cap is not None and line.node_power_w > cap:
            out.append(f"{line.unit}: a node draws {line.node_power_w} W, more than its {cap} W power supplies")
    return out


def _md1_ttft(rate: float, service: float, fixed: float, percentile: int) -> float:
    """TTFT of one FIFO prefill server with Poisson arrivals at `rate` (1/s) and a fixed service time:
    mean wait ρ·S / (2(1 − ρ)) (Pollaczek–Khinchine formula for M/D/1, L. Kleinrock, Queueing Systems
    Vol. 1, 1975, eq. 5.73), 90th percentile by the exponential tail P(W > t) = ρ·exp(−t·ρ/W̄)
    (J. F. C. Kingman, "The single server queue in heavy traffic", 1961); plus `fixed` seconds."""
    rho = rate * service
    if rho >= 1:
        return math.inf
    wait = rho * service / (2 * (1 - rho))
    if percentile == 90:
        wait = wait / rho * math.log(rho / 0.1) if rho > 0.1 else 0.0
    return fixed + wait


def _prefill_ttft(rate_per_hour: float, prompts: int, prefill_s: float, min_pass_s: float, transfer_s: float,
                  percentile: int) -> float:
    """TTFT of one prefill replica taking `rate_per_hour` requests: a forward pass of `prompts` prompts lasts at
    least `min_pass_s` (their FLOPs at peak) and the stated `prefill_s`; an M/D/1 queue at a prompt's share of the
    pass, plus the rest of the pass under way, its own pass and the KV transfer."""
    passes = max(min_pass_s, prefill_s)
    service = passes / prompts
    return _md1_ttft(rate_per_hour / 3600, service, 2 * passes - service + transfer_s, percentile)


def _check_in_domain(catalog: Catalog, problem: Problem, model, l: PlanLine) -> list[str]:
    """A decode line's in-domain prefill replicas: whole replicas of a layout the engine could run beside the decode
    ranks on one node; its KV cache timed over the accelerator's own scale-up link; its TTFT as a prefill line's."""
    side, w = l.in_domain_prefill, problem.workload
    name = f"{l.item} (prefill beside decode)"
    out: list[str] = []
    if l.nodes_per_replica != 1 or l.replicas_per_node != 1:
        out.append(f"{name}: prefill beside decode needs one decode instance per node")
    if side.replica_gpus != side.tp * side.dp * side.pp or side.gpus < side.replica_gpus \
            or side.gpus % side.replica_gpus:
        return out + [f"{name}: {side.gpus} accelerators are not whole prefill replicas of tp {side.tp} × dp "
                      f"{side.dp} × pp {side.pp}"]
    if l.sizing is not None and l.sizing.tp * l.sizing.dp * l.sizing.pp + side.gpus != l.gpus_per_node:
        out.append(f"{name}: {side.gpus} prefill and {l.sizing.tp * l.sizing.dp * l.sizing.pp} decode accelerators "
                   f"are not the node's {l.gpus_per_node}")
    if side.prompts > max(1, side.dp):
        out.append(f"{name}: a forward pass takes at most one prompt per attention DP group ({side.dp}); "
                   f"the line says {side.prompts}")
        return out
    acc = catalog.accelerators[l.accelerator]
    entry = _request_bytes(model, l.kv_dtype, w.input_tokens)
    if side.kv_transfer_s < entry / (acc.interconnect_gbs * 1e9) * (1 - 1e-6):
        out.append(f"{name}: one prompt's KV cache, {entry / GB:,.2f} GB over {acc.interconnect_gbs:g} GB/s, takes "
                   f"longer than the {side.kv_transfer_s} s the line says")
    peak = max(acc.tflops.values()) * 1e12 * side.replica_gpus
    floor = side.prompts * 2 * model.active_params_b * 1e9 * w.input_tokens / peak
    replicas = side.gpus // side.replica_gpus
    ttft = _prefill_ttft(side.requests_per_hour / replicas, side.prompts, side.prefill_s, floor, side.kv_transfer_s,
                         w.ttft_percentile)
    stated = side.ttft_p90_s if w.ttft_percentile == 90 else side.ttft_s
    if stated is None or stated < ttft * (1 - 1e-6):
        out.append(f"{name}: at {side.requests_per_hour / replicas:,.0f} requests per hour per replica the TTFT is "
                   f"{ttft:.3f} s (p{w.ttft_percentile}); the line says {stated}")
    elif w.max_ttft_s is not None and stated > w.max_ttft_s * (1 + 1e-9):
        out.append(f"{name}: TTFT {stated:.3f} s (p{w.ttft_percentile}) exceeds the {w.max_ttft_s:g} s allowed")
    return out


def _check_pools(catalog: Catalog, problem: Problem, plan: Plan) -> list[str]:  # noqa: C901 — one flat rule per pool fact of a disaggregated plan
    """A disaggregated plan, pool by pool (DistServe, Zhong et al., OSDI 2024, https://arxiv.org/abs/2401.09670):
    - both pools are bought and prefill lines serve no users themselves, all on one engine, precision, KV
      datatype and accelerator maker;
    - decode: each line's requests per hour with its batch full is at least users × tok/s × 3600 / (O − 1)
      (a user finishes a request every (O − 1) tokens);
    - prefill capacity: Σ prefill requests per hour ≥ Σ decode requests per hour (closed loop: the most the
      decode pool can send back), or ≥ 3600 × request_rate (open loop);
    - KV transfer: one prompt's KV cache (its own formula: layers × per-token entry × input tokens) over the
      slower of the prefill line's link and the slowest decode node's (platform network_gbs) takes no longer
      than the line says;
    - TTFT: each prefill replica at its stated rate, a forward pass of its stated prompts (at most one per
      attention DP group) lasting at least their FLOPs at peak (prompts × 2 × active parameters × input
      tokens, roofline) and at least the stated pass time, is an M/D/1 queue at a prompt's share of the
      pass; a prompt also waits for the rest of the pass under way and then its own pass. Its TTFT
      (ttft_percentile; plus the KV transfer) is within max_ttft_s and no lower than the line says."""
    out: list[str] = []
    w = problem.workload
    pre = [l for l in plan.lines if l.role == "prefill"]
    dec = [l for l in plan.lines if l.role == "decode"]
    if any(l.role == "aggregated" for l in plan.lines):
        out.append("a disaggregated plan has an aggregated line")
    beside = [l for l in dec if l.in_domain_prefill is not None]
    if (not pre and not beside) or not dec:
        return out + [f"a disaggregated plan needs a prefill and a decode pool; it has {len(pre)} prefill and "
                      f"{len(dec)} decode lines"]
    kinds = {(l.engine, l.precision, l.kv_dtype, l.maker) for l in pre + dec}
    if len(kinds) > 1:
        out.append(f"the pools must run one engine, precision and KV datatype on one accelerator maker (the KV "
                   f"cache crosses between them in the engine's block layout); the plan mixes {sorted(kinds)}")
    model = catalog.models[problem.model]
    o1 = max(1, w.output_tokens - 1)
    decode_rate = 0.0
    for l in dec:
        mu = l.requests_per_hour_per_replica or 0
        speed = l.tokens_per_s_per_user or 0.0
        batch = l.users_per_replica if w.request_rate is None else None
        if batch is not None and mu < batch * speed * 3600 / o1 * (1 - 1e-6) - 1:
            out.append(f"{l.item} (decode): {batch} users at {speed:,.2f} tok/s finish "
                       f"{batch * speed * 3600 / o1:,.0f} requests per hour, the line says {mu:,}")
        decode_rate += mu * l.replicas
    for l in pre:
        if l.users_per_replica != 0:
            out.append(f"{l.item} (prefill): a prefill line serves no users itself, it says {l.users_per_replica}")
    take = sum((l.requests_per_hour_per_replica or 0) * l.replicas for l in pre)
    for l in beside:   # in-domain prefill feeds only its own decode instance
        take += min(l.in_domain_prefill.requests_per_hour, l.requests_per_hour_per_replica or 0) * l.replicas
        out += _check_in_domain(catalog, problem, model, l)
    need = math.ceil(w.request_rate * 3600 - 1e-9) if w.request_rate is not None and problem.objective != "users" \
        else decode_rate
    if take < need:
        out.append(f"the prefill pool takes {take:,} requests per hour, the decode pool sends {need:,.0f}")
    decode_link = min(catalog.platforms[l.platform].network_gbs for l in dec)
    for l in pre:
        acc = catalog.accelerators[l.accelerator]
        slowest = min(catalog.platforms[l.platform].network_gbs, decode_link)   # the path's slower end
        entry = _request_bytes(model, l.kv_dtype, w.input_tokens)
        transfer = entry / (slowest * 1e9)
        if l.kv_transfer_s is None or l.kv_transfer_s < transfer * (1 - 1e-6):
            out.append(f"{l.item} (prefill): one prompt's KV cache, {entry / GB:,.2f} GB over {slowest:g} GB/s, "
                       f"takes {transfer * 1000:,.1f} ms; the line says {l.kv_transfer_s}")
            continue
        n = l.prefill_prompts or 1
        if n > max(1, l.dp):
            out.append(f"{l.item} (prefill): a forward pass takes at most one prompt per attention DP group "
                       f"({l.dp}); the line says {n}")
            continue
        peak = max(acc.tflops.values()) * 1e12 * l.gpus_per_node * l.nodes_per_replica / l.replicas_per_node
        # one forward pass of n prompts, at least their linear FLOPs at peak; a prompt's share of it is pass / n,
        # and it also waits for the rest of the pass under way before its own pass
        passes = max(n * 2 * model.active_params_b * 1e9 * w.input_tokens / peak, l.prefill_s or 0.0)
        service = passes / n
        rate = (l.requests_per_hour_per_replica or 0) / 3600
        ttft = _md1_ttft(rate, service, 2 * passes - service + l.kv_transfer_s, w.ttft_percentile)
        stated = l.ttft_p90_s if w.ttft_percentile == 90 else l.ttft_s
        if stated is None or stated < ttft * (1 - 1e-6):
            out.append(f"{l.item} (prefill): at {rate * 3600:,.0f} requests per hour a prompt of {service:.3f} s "
                       f"waits to a TTFT of {ttft:.3f} s (p{w.ttft_percentile}); the line says {stated}")
        elif w.max_ttft_s is not None and stated > w.max_ttft_s * (1 + 1e-9):
            out.append(f"{l.item} (prefill): TTFT {stated:.3f} s (p{w.ttft_percentile}) exceeds the "
                       f"{w.max_ttft_s:g} s allowed")
    return out


def check_plan(plan: Plan, catalog: Catalog, problem: Problem) -> list[str]:  # noqa: C901 — the checker's table of contents: one call per rule group, each guarded by what the plan has
    """Every way `plan` breaks the catalog's facts, the physics or the problem's limits, in words."""
    currency = plan.totals.currency
    out: list[str] = []
    for line in plan.lines:
        out += _check_line(catalog, problem, line)
    if not plan.lines:
        out.append("the plan buys nothing")
    out += _check_purchases(catalog, problem, plan)
    if all(l.accelerator in catalog.accelerators and l.platform in catalog.platforms for l in plan.lines):
        out += _check_fabric(catalog, plan)
        out += _check_node_power(catalog, plan)
        out += _check_racks(catalog, problem, plan)
        out += _check_network_racks(catalog, problem, plan)
        if plan.serving == "disaggregated" or any(l.role != "aggregated" for l in plan.lines):
            out += _check_pools(catalog, problem, plan)
    infra = [p for p in plan.purchases if p.item in catalog.network_items or p.item in catalog.racks]
    cost = sum((l.cost for l in plan.lines), Fraction(0)) + sum((p.unit_price * p.quantity for p in infra), Fraction(0))
    power = sum(l.node_power_w * l.nodes for l in plan.lines) + \
        sum((catalog.network_items[p.item].power_w or 0) * p.quantity for p in infra if p.item in catalog.network_items)
    nodes = sum(l.nodes for l in plan.lines)
    gpus = sum(l.gpus_per_node * l.nodes for l in plan.lines)
    users = sum(l.users_per_replica * l.replicas for l in plan.lines)
    t = plan.totals
    for label, mine, theirs in (("cost", cost, t.cost), ("power", power, t.power_w), ("nodes", nodes, t.nodes),
                                ("accelerators", gpus, t.gpus), ("users", users, t.users)):
        if mine != theirs:
            out.append(f"total {label} is {mine}, plan says {theirs}")
    if t.currency != (problem.constraints.currency or t.currency):
        out.append(f"the plan is in {t.currency}, the problem asks for {problem.constraints.currency}")

    w, c = problem.workload, problem.constraints
    demand = w.demand if w.demand is not None else 1   # users, or requests per hour (request_rate)
    if problem.objective != "users" and users < demand:
        out.append(f"the plan serves {users} users; {demand} are needed")
    if problem.objective == "users" and users < 1:
        out.append("the plan serves nobody")
    if c.max_nodes is not None and nodes > c.max_nodes:
        out.append(f"the plan uses {nodes} nodes, more than the limit of {c.max_nodes}")
    if c.budget is not None and cost > _exact(c.budget):
        out.append(f"cost {_fmt_money(cost, currency)} exceeds the budget of {_fmt_money(_exact(c.budget), currency)}")
    if c.max_power_w is not None and power > c.max_power_w:
        out.append(f"power {power:,} W exceeds the cap of {c.max_power_w:,} W")
    for acc, limit in c.stock.items():
        used = sum(l.gpus for l in plan.lines if l.accelerator == acc)
        if used > limit:
            out.append(f"the plan uses {used} × {acc}; only {limit} are in stock")
    if c.spare_nodes and problem.objective != "users":
        # Losing any one node takes down the whole replica it belongs to.
        worst = max((l.users_per_replica * l.replicas_per_node for l in plan.lines), default=0)
        if users - worst < demand:
            out.append(f"with one node down the plan serves {users - worst} users; {demand} are needed "
                       f"(constraints.spare_nodes = 1)")
    if c.max_skus is not None:
        skus = {l.system or f"{l.platform}+{l.gpus_per_node}x{l.accelerator}" for l in plan.lines}
        if len(skus) > c.max_skus:
            out.append(f"the plan buys {len(skus)} kinds of node; at most {c.max_skus} are allowed")
    return out


def assert_plan_ok(plan: Plan, catalog: Catalog, problem: Problem) -> Plan:
    """Return `plan` if the checker finds nothing, else raise RuntimeError listing the violations."""
    problems = check_plan(plan, catalog, problem)
    if problems:
        raise RuntimeError("the plan failed the independent check (a bug in hwplan; please report it): "
                           + "; ".join(problems))
    return plan

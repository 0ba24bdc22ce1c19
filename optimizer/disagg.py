"""Disaggregated prefill/decode serving: a prefill pool and a decode pool, bought and sized together.

Prompts run on prefill replicas, generation on decode replicas, and each prompt's KV cache is sent
from one to the other over the scale-out network (DistServe: Zhong et al., OSDI 2024,
https://arxiv.org/abs/2401.09670; Splitwise: Patel et al., ISCA 2024, https://arxiv.org/abs/2311.18677;
as SGLang's `--disaggregation-mode prefill|decode` and vLLM's `--kv-transfer-config` run it). The two
pools may be different node types. Every block the aggregated plan could buy (node type × nodes ×
precision × engine × layout, optimizer/units.py) becomes two *role units*, each with its best layout:

Decode unit (its replicas only decode: no prefill chunk ever shares a step):
    B_d = the largest batch ≤ min(requests of I + O tokens its KV cache holds, the engine's batch cap)
          with E/τ(B) ≥ min_tokens_per_s        (τ: decode step, speed.decode_token_time; E tokens per
                                                 step, 1 or the speculative-decoding mean)
    μ_d = 3600 · B_d · E / ((O − 1) · τ(B_d))   requests per hour it completes with its batch full
                                                 (rounded up)
Prefill unit (its replicas only prefill; a forward pass takes n prompts, n = 1 or one per attention DP
group (`prefill_batches`: SGLang's prefill servers run every DP rank's own batch at once), and lasts
S_n = speed.prompt_prefill_time(I, prompts=n) (each prompt in its group's chunk steps), at least the host's launch floor of an eager prefill
(speed.prefill_launch_floor); a prompt's share of it is s = S_n / n):
    T_kv = KV bytes of I tokens / (min(its link, f) · share) + one hop's latency (links: platform
           `network_gbs`; share: the prompt's sending ranks' NICs, one for MLA, `prompt_link_share`),
           one prefill unit per decode link speed f below its own and one at its own link; a unit sized
           for f may only be bought with decode nodes whose link is at least f
    λ_p  = the largest request rate with TTFT(λ) = W(λ) + (S_n − s) + S_n + T_kv + overhead ≤ max_ttft_s,
           W the M/D/1 wait at the prompt's share s (M/G/1 over the prompts' lengths when they spread,
           `workload.input_tokens_spread`: S_n their mean pass, c² its variation) (Pollaczek–Khinchine mean, Kingman's exponential tail
           for the 90th percentile: the same formulas as optimizer/serving.py), S_n − s the rest of the pass
           under way, at utilization ρ = λ·s; the better n; in requests per hour, rounded down.
           Without a TTFT target λ_p = ρ_max / s with ρ_max = 0.9 (assumption: a queue kept below 90 %
           busy stays short).
Decode unit with prefill beside it (rack-scale nodes only, `rack_scale`: one node is one scale-up domain, as
the published GB200 NVL72 runs split a rack into prefill instances and one decode instance): p = k · s_p
accelerators run k replicas of the best prefill layout (s_p accelerators each), the other d = G − p one
decode instance (the decode layout serving the most users on d accelerators, at B_d, the ladder below it,
and the largest batch its own prefill keeps up with); its KV cache crosses the domain's own links
(accelerator `interconnect_gbs`), and it asks the prefill pool only for μ_d − k·λ_p (≥ 0, `net_rate`). One
with nothing to ask is not on the scale-out fabric (`self_contained`).
Pool constraints (optimizer/model.py `Roles`), r the replicas bought:
    decode   Σ_d users_d · r_d ≥ N                 (only decode units serve users)
    links    y_f ≥ [a prefill unit sized for link f is bought], Σ_{d: link_d < f} r_d ≤ M·(1 − y_f)
    prefill  Σ_p λ_p · r_p ≥ Σ_d net_d · r_d        (closed loop: the requests the decode pool finishes,
                                                     an upper bound of the arrival rate — a replica's
                                                     throughput B/τ(B) grows with B, so fewer users per
                                                     replica never send more)
             Σ_p λ_p · r_p ≥ 3600 · request_rate     (open loop; decode units then count requests per
                                                     hour μ_d as their users)
Arrivals are split over the prefill replicas in proportion to λ_p, so each stays within its TTFT. Both
pools run one engine, checkpoint (precision) and KV datatype on accelerators of one maker: the KV cache
crosses between them in the engine's own transfer protocol and block layout (`pool_group`).
Node, budget, power, stock, rack and node-type limits cover both pools; every node of a pool is on the
switched scale-out fabric (optimizer/fabric.py), since prompts' KV caches cross it (net_d = μ_d, or
μ_d − k·λ_p with prefill beside the decode).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

from catalog.errors import ProblemError
from catalog.schema import Model, Platform

from . import serving, sizing, speed
from .capacity import ReplicaCapacity, _speculative
from .deployment import Deployment
from .launch import DISAGG_ENGINES
from .model import Roles
from .problem import Problem
from .scaling import money_to_int
from .layouts import Layout, candidate_layouts
from .units import Candidates, InDomainPrefill, NodeType, Unit, prepare, unit_layouts

__all__ = ["SERVING_MODES", "NO_TARGET_UTILIZATION", "DecodeSize", "PrefillSize", "decode_size", "prefill_rate", "prompt_link_share",
           "kv_transfer_s", "prefill_batches", "rack_scale", "net_rate", "self_contained", "not_applicable", "check_applicable", "prepare_roles", "roles_of", "lower_bound", "pools_floor",
           "out_of_limits",
           "prune_roles", "pool_group", "ServingModes", "compare_serving"]

SERVING_MODES = ("aggregated", "disaggregated", "auto")
NO_TARGET_UTILIZATION = 0.9
DECODE_LADDER = 4   # decode operating points ceil(N / k) tried below the largest batch, k = 1 … 4
_P90 = 0.9


@dataclass(frozen=True)
class DecodeSize:
    """One decode replica: `batch` sequences at `tpot_s` seconds per output token each; `requests_per_s`
    it completes with that batch (B · E / ((O − 1) · τ))."""

    batch: int
    tpot_s: float
    requests_per_s: float
    limit: str                 # what bounds the batch: memory, engine or speed


@dataclass(frozen=True)
class PrefillSize:
    """One prefill replica at its largest rate: `requests_per_s` λ, prompt time `prefill_s` S,
    utilization ρ = λ·S, and TTFT (mean, p90) at that rate including `kv_transfer_s` and the overhead."""

    requests_per_s: float
    prefill_s: float
    utilization: float
    ttft_s: float
    ttft_p90_s: float
    kv_transfer_s: float
    prompts: int = 1           # prompts one forward pass takes at once (prefill_s is that pass)


def decode_size(times: serving.Times, cap: int, input_tokens: int, output_tokens: int, min_tokens_per_s: float,
                spec: serving.Speculative | None = None, cap_limit: str = "memory",
                users: int | None = None) -> list[DecodeSize]:
    """Operating points of one decode replica: the largest batch B ≤ `cap` whose decode step keeps each user
    at ≥ min_tokens_per_s (E/τ(B), τ at the mean context I + O/2, as optimizer/serving.py), and, for `users`
    concurrent users, the smaller batches ceil(users / k), k = 2 … DECODE_LADDER, below B (a replica capped at
    b sequences, its engine's batch limit set to b, sends at most b·E / ((O − 1)·τ(b)) requests per second:
    the prefill pool need not take what a full batch of B would send). Largest batch first; [] when even
    B = 1 is too slow or cap < 1."""
    if cap < 1:
        return []
    i, o = max(1, input_tokens), max(1, output_tokens)
    step = serving._Step(times, i + o / 2, spec)
    e = step.per_step
    lo = serving.largest_batch(step, cap, min_tokens_per_s)
    if lo is None:
        return []
    batches = [lo] + sorted({-(-users // k) for k in range(1, DECODE_LADDER + 1) if -(-users // k) < lo}
                            if users else (), reverse=True)
    out = []
    for b in batches:
        tpot = step(b)[0] / e
        limit = (cap_limit if lo == cap else "speed") if b == lo else "batch"
        out.append(DecodeSize(batch=b, tpot_s=tpot, requests_per_s=b / (max(1, o - 1) * tpot), limit=limit))
    return out


def _ttft(rho: float, s: float, fixed: float, percentile: int, scv: float = 0.0) -> float:
    """TTFT of an M/G/1 prefill queue at utilization ρ and per-prompt service `s` (mean) of squared coefficient of
    variation `scv` (0: M/D/1): mean wait ρ·s·(1 + c²) / (2(1 − ρ)) (Pollaczek–Khinchine), p90 by
    serving.wait_percentile; plus `fixed` (pass + transfer + overhead)."""
    wait = serving.mg1_wait(rho / s, s, scv)
    return fixed + (wait if percentile == 50 else serving.wait_percentile(wait, rho, _P90))


def prefill_rate(prefill_s: float, transfer_s: float, overhead_s: float, max_ttft_s: float | None,
                 percentile: int = 90, prompts: int = 1, scv: float = 0.0, fill_s: float = 0.0) -> PrefillSize | None:
    """The largest rate one prefill replica takes (module docstring): bisection on ρ in (0, 1), the TTFT
    rising with ρ. `prefill_s` is one forward pass of `prompts` prompts (one per attention DP group, as
    SGLang's prefill servers schedule each DP rank's own batch), so a prompt's service share is
    s = prefill_s / prompts and λ = ρ / s. A prompt waits for the prompts ahead of it (M/D/1 at s), for the
    rest of the pass under way (prefill_s − s: the M/D/1 wait counts only s of it), then its own pass:
        TTFT = W(ρ, s) + (prefill_s − s) + prefill_s + transfer + overhead
    (with one prompt per pass, the plain M/D/1 of the module docstring). With prompts of several lengths
    `prefill_s` is the mean pass and `scv` its c² over them: the wait is M/G/1's (`_ttft`). None when the fixed
    part alone exceeds `max_ttft_s`. `fill_s`: what pipeline stages add to a prompt's own pass (its steps pass
    them one after another, serving.Times.pipeline_fill), added to the TTFT, not to the pass."""
    n = max(1, prompts)
    s = prefill_s / n
    fixed = 2 * prefill_s - s + transfer_s + overhead_s + fill_s
    if max_ttft_s is None:
        rho = NO_TARGET_UTILIZATION
    elif fixed > max_ttft_s:
        return None
    else:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if _ttft(mid, s, fixed, percentile, scv) <= max_ttft_s:
                lo = mid
            else:
                hi = mid
        rho = lo
    return PrefillSize(requests_per_s=rho / s, prefill_s=prefill_s, utilization=rho,
                       ttft_s=_ttft(rho, s, fixed, 50, scv), ttft_p90_s=_ttft(rho, s, fixed, 90, scv),
                       kv_transfer_s=transfer_s, prompts=n)


def kv_transfer_s(kv_bytes: float, link_gbs: float, share: float = 1.0) -> float:
    """Seconds to send one prompt's KV cache (`kv_bytes`, all layers) over `share` of a `link_gbs` GB/s
    scale-out link (a node's; `prompt_link_share`), plus one network hop (speed.NETWORK_HOP_LATENCY_S)."""
    return kv_bytes / (link_gbs * share * 1e9) + speed.NETWORK_HOP_LATENCY_S


def prompt_link_share(model: Model, layout: Layout, platform: Platform, gpus_per_node: int) -> float:
    """The share of its node's scale-out link (`platform.network_gbs`) one prompt's KV cache leaves over, in
    (0, 1]. A prompt's KV leaves from the ranks that hold it: for MLA one rank (the latent is whole on every
    tensor-parallel rank, and SGLang reads it "from only one prefill rank", disaggregation/common/conn.py
    `_resolve_rank_mapping`, https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/disaggregation/common/conn.py;
    assumption: other engines' transfer connectors likewise), else each tensor-parallel rank of its attention
    group its heads and each pipeline stage its layers: tp × pp ranks (a data-parallel attention replica holds a
    prompt in one group). The node's link is split over its NIC ports (`platform.nics`; none stated: one per
    accelerator, rail-optimized), each serving gpus / ports accelerators: the senders reach
    ceil(senders × ports / gpus) of them. At most the whole node (a replica over several nodes is taken at one
    node's link; the receiving decode node is taken to have as many ports per accelerator)."""
    senders = 1 if model.attention.kind == "mla" else layout.tp * layout.pp
    gpus = max(1, gpus_per_node)
    ports = platform.nics[0].count if platform.nics else gpus
    return min(1.0, math.ceil(senders * ports / gpus) / ports)


def retimed_prefill(model: Model, u: Unit, link_gbs: float, input_tokens: int) -> tuple[float, float, float]:
    """(KV transfer, mean TTFT, p90 TTFT) of prefill unit `u` at its rate when its prompts leave over `link_gbs`
    (the slower of its node's link and the plan's slowest decode node's), in seconds: the queue of
    `prefill_rate` (M/D/1, or M/G/1 over spread prompt lengths, at a prompt's share of the pass, the rest of the pass under way, its own pass, the
    transfer and the engine overhead) at the unit's rate. A unit sized for a slower decode link (`link_gbs`) is
    re-timed so that a plan reports the link it bought."""
    transfer = kv_transfer_s(sizing.kv_bytes_per_request(model, u.kv_dtype, input_tokens), link_gbs,
                             prompt_link_share(model, u.layout, u.node.platform, u.node.count))
    n = max(1, u.prefill_prompts)
    s = u.prefill_s / n
    rho = (u.rate / u.replicas_per_node) / 3600 * s
    fixed = 2 * u.prefill_s - s + transfer + serving.ttft_overhead(u.engine.id) + u.prefill_fill_s
    return transfer, _ttft(rho, s, fixed, 50, u.prefill_scv), _ttft(rho, s, fixed, 90, u.prefill_scv)


def not_applicable(problem: Problem) -> str | None:
    """Why a disaggregated plan is not modelled for `problem` (None: it is)."""
    w, c = problem.workload, problem.constraints
    if w.kv_reserve_gb is not None:
        return "workload.kv_reserve_gb (the rule-of-thumb mode sizes one replica, not pools)"
    if c.spare_nodes:
        return "constraints.spare_nodes (a spare node for each pool is not modelled)"
    if c.max_sellers is not None:
        return "constraints.max_sellers (the pools' network is bought from its own sellers, which the limit would count)"
    if w.arrivals == "synchronized":
        return "workload.arrivals = synchronized (benchmark waves; pools are sized for random arrivals)"
    return None


def check_applicable(problem: Problem) -> None:
    """Raise ProblemError (naming the field) when `serving: disaggregated` is asked where it is not modelled."""
    why = not_applicable(problem)
    if why is not None:
        raise ProblemError(f"{problem.where('serving')}: serving = disaggregated cannot be planned with {why}; "
                           f"use serving: aggregated or auto.")


@dataclass(frozen=True)
class _Sized:
    dep: Deployment
    capacity: ReplicaCapacity
    rate: int                       # requests per hour, one replica
    transfer_s: float = 0.0
    prefill_s: float = 0.0
    prompts: int = 1                # prefill: prompts per forward pass (prefill_s is that pass, mean over lengths)
    prefill_scv: float = 0.0        # prefill: c² of the pass over the prompts' lengths (serving.service_moments)
    prefill_fill_s: float = 0.0     # prefill: what the pipeline stages add to a prompt's own pass (pipeline_fill)


def _role_sizes(model, variant, engine, node: NodeType, nodes: int,
                problem: Problem) -> tuple[list[_Sized], _Sized | None]:
    """(decode operating points, best prefill layout) of one block: the decode layout serving the most users at
    the speed target, at its largest batch and the smaller batches ceil(N/k) below it (`decode_size`), and the
    prefill layout taking the most requests per hour per node. Layouts whose memory cannot hold more sequences
    than the best decode batch so far are not searched for decode."""
    w = problem.workload
    spec = _speculative(w)
    if spec is not None and serving.spec_engine_error(engine.id, spec.method, model):
        return [], None
    best_pre: _Sized | None = None
    kv_bytes = sizing.kv_bytes_per_request(model, sizing.resolve_kv_dtype(problem.kv_dtype, engine, variant),
                                           w.input_tokens)
    fitted = []
    for layout in unit_layouts(model, engine, node, nodes, problem):
        if spec is not None and serving.spec_layout_error(engine.id, spec.method, layout.pp, layout.dp_attention):
            continue   # the engine would not start speculative decoding on this layout
        per_node = node.count // layout.replicas_per_node if nodes == 1 else node.count
        decoder = _fitted(model, variant, engine, node, per_node, nodes, layout, problem, "decode")
        if decoder is not None:
            fitted.append(decoder)
        sized = decoder if engine.id not in serving.WHOLE_PROMPTS else \
            _fitted(model, variant, engine, node, per_node, nodes, layout, problem, "prefill")
        if sized is None:
            continue
        _, dep, fit, times, held, _, _ = sized
        rpn = layout.replicas_per_node
        if sizing.max_concurrency(model, fit, dep.kv_dtype, w.input_tokens) < 1:
            continue
        transfer = kv_transfer_s(kv_bytes, node.platform.network_gbs,
                                 prompt_link_share(model, layout, node.platform, node.count))
        lengths = serving.prompt_lengths(w.input_tokens, w.input_tokens_spread)
        for n in prefill_batches(layout, sizing.max_concurrency(model, fit, dep.kv_dtype, w.input_tokens)):
            passes = speed.serving_times(dep, fit, prompts=n)   # a pass of n prompts, one per attention group

            def one_pass(tokens: int, passes=passes) -> float:
                # each chunk step of the pass lasts at least the launch floor
                return max(passes.prompt_time(tokens), passes.launch_floor_for(tokens))

            s, scv = serving.service_moments(one_pass, lengths)
            # a prompt's steps pass the pipeline stages one after another
            fill = sum(passes.pipeline_fill(t) for t in lengths) / len(lengths)
            pre = prefill_rate(s, transfer, times.overhead_s, w.max_ttft_s, w.ttft_percentile, prompts=n, scv=scv,
                               fill_s=fill)
            per_hour = 0 if pre is None else math.floor(pre.requests_per_s * 3600 + 1e-9)
            if per_hour >= 1 and (best_pre is None
                                  or per_hour * rpn > best_pre.rate * best_pre.dep.layout.replicas_per_node):
                cap_ = ReplicaCapacity(users=0, memory_users=held, limit="ttft" if w.max_ttft_s else "prefill",
                                       fit=fit, ttft_s=pre.ttft_s, ttft_p90_s=pre.ttft_p90_s)
                best_pre = _Sized(dep=dep, capacity=cap_, rate=per_hour, transfer_s=pre.kv_transfer_s, prefill_s=s,
                                  prompts=n, prefill_scv=scv, prefill_fill_s=fill)
    return _decode_points(fitted, w, spec), best_pre


def _fitted(model, variant, engine, node: NodeType, per_node: int, nodes: int, layout, problem: Problem,
            role: str):
    """(sequences per node its memory and engine hold, deployment, memory fit, times, requests of the context its
    KV cache holds, batch cap, what caps it) of one layout on `per_node` accelerators of `node` × `nodes` in
    `role` ('prefill' or 'decode'), or None when it does not start. A prefill replica's engine must accept the
    prompts (sizing.whole_prompt_settings: TensorRT-LLM's max_num_tokens covers them); a decode replica receives
    their KV cache and runs no prompt, so its settings stay as given (NVIDIA's DeepSeek-R1 Dynamo recipe:
    GEN_MAX_NUM_TOKENS "is generally set to be equal to GEN_MAX_BATCH_SIZE in the disaggregated setting",
    https://github.com/NVIDIA/dgxc-benchmarking/blob/db1b14c466609306d1ff740a5139eb778aaf940f/deepseek_r1/inference/dynamo/README.md)."""
    settings = problem.engine_settings if role == "decode" else \
        sizing.whole_prompt_settings(engine, node.accelerator, problem.engine_settings,
                                     problem.workload.longest_prompt)
    if settings is None:
        return None   # the engine would reject the prompts at the given max_batched_tokens
    dep = Deployment(model=model, variant=variant, accelerator=node.accelerator, platform=node.platform,
                     engine=engine, gpus_per_node=per_node, nodes=nodes, kv_dtype=problem.kv_dtype,
                     settings=settings, layout=layout, draft=problem.workload.draft)
    fit = dep.memory()
    if not fit.weights_fit or not fit.starts:
        return None
    times = speed.serving_times(dep, fit)
    held = sizing.max_concurrency(model, fit, dep.kv_dtype, problem.workload.context_tokens)
    limit = speed.batch_cap(dep, fit)
    cap, cap_limit = (held, "memory") if limit is None or held <= limit else (limit, "engine")
    return cap * layout.replicas_per_node, dep, fit, times, held, cap, cap_limit


def rack_scale(node: NodeType) -> bool:
    """A rack-scale system sold as one node: its platform states the racks one node fills and one scale-up
    domain holding all of the node's accelerators (GB200/GB300 NVL72, CloudMatrix 384; platforms.yaml)."""
    plat = node.platform
    return plat.racks_per_node is not None and plat.scale_up_domain is not None and plat.scale_up_domain >= node.count


def _balanced_batch(times: serving.Times, top: int, input_tokens: int, output_tokens: int, spec,
                    per_hour: float) -> int:
    """The largest batch b ≤ `top` whose decode completes no more than `per_hour` requests per hour,
    μ(b) = 3600 · b · E / ((O − 1) · τ(b)) (decode_size's formula, growing with b); 0 when even b = 1 does."""
    step = serving._Step(times, max(1, input_tokens) + max(1, output_tokens) / 2, spec)
    o1 = max(1, max(1, output_tokens) - 1)

    def mu(b: int) -> float:
        return 3600 * b * step.per_step / (o1 * step(b)[0])

    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mu(mid) <= per_hour:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _in_domain_units(model, variant, engine, node: NodeType, problem: Problem, pre: _Sized) -> list[tuple[_Sized, object]]:
    """Decode operating points on part of a rack-scale node with prefill replicas on the rest, as the published
    rack-scale runs split one NVLink domain (LMSYS 2025-09-25, https://lmsys.org/blog/2025-09-25-gb200-part-2/:
    4-GPU prefill instances beside one 48-GPU decode instance, sglang#10903): for every p = k · s (s the best
    prefill replica's accelerators, k ≥ 1, p < the node's count), the decode layout serving the most users on
    the d = count − p others (one instance, `_decode_points`), at its largest batch, the smaller batches
    ceil(N/k) below it, and the largest batch its own prefill replicas keep up with (`_balanced_batch`). The KV
    cache crosses the domain's own links (accelerator `interconnect_gbs`). Closed loop only (an open-loop
    demand counts prefill takes, which this unit does not export)."""
    w = problem.workload
    s = pre.dep.layout.ranks
    if w.request_rate is not None or s >= node.count:
        return []
    spec = _speculative(w)
    kv = sizing.kv_bytes_per_request(model, pre.dep.kv_dtype, w.input_tokens)
    transfer = kv_transfer_s(kv, node.accelerator.interconnect_gbs)
    one = prefill_rate(pre.prefill_s, transfer, serving.ttft_overhead(engine.id), w.max_ttft_s, w.ttft_percentile,
                       prompts=pre.prompts, scv=pre.prefill_scv, fill_s=pre.prefill_fill_s)
    if one is None:
        return []
    single = Layout(tp=pre.dep.layout.tp, pp=pre.dep.layout.pp, dp=pre.dep.layout.dp, ep=pre.dep.layout.ep)
    out = []
    for p in range(s, node.count, s):
        d = node.count - p
        fitted = [f for f in (_fitted(model, variant, engine, node, d, 1, lay, problem, "decode")
                              for lay in candidate_layouts(model, engine, d, 1) if lay.replicas_per_node == 1)
                  if f is not None]
        points = _decode_points(fitted, w, spec)
        if not points:
            continue
        take = math.floor((p // s) * one.requests_per_s * 3600 + 1e-9)
        side = InDomainPrefill(layout=dataclasses.replace(single, replicas_per_node=p // s), gpus=p, rate=take,
                               prefill_s=pre.prefill_s, prompts=pre.prompts, kv_transfer_s=transfer,
                               ttft_s=one.ttft_s, ttft_p90_s=one.ttft_p90_s)
        dep = points[0].dep
        times = speed.serving_times(dep, points[0].capacity.fit)
        balanced = _balanced_batch(times, points[0].capacity.users, w.input_tokens, w.output_tokens, spec, take)
        if balanced >= 1 and all(pt.capacity.users != balanced for pt in points):
            step = serving._Step(times, max(1, w.input_tokens) + max(1, w.output_tokens) / 2, spec)
            tpot = step(balanced)[0] / step.per_step
            cap = dataclasses.replace(points[0].capacity, users=balanced, limit="prefill",
                                      tokens_per_s_per_user=1 / tpot, output_tokens_per_s=balanced / tpot)
            points.append(_Sized(dep=dep, capacity=cap,
                                 rate=math.ceil(balanced / (max(1, w.output_tokens - 1) * tpot) * 3600 - 1e-9)))
        out += [(pt, side) for pt in points if pt.capacity.tokens_per_s_per_user >= w.min_tokens_per_s]
    return out


def prefill_batches(layout, prompts_held: int) -> list[int]:
    """Prompts one forward pass of a prefill replica may take: one, or one per attention DP group.

    SGLang's prefill servers run attention DP with each DP rank scheduling its own prompts
    (`--enable-dp-attention --dp-size N`); the published large-scale prefill commands give every rank
    16,384 prompt tokens per pass (`--chunked-prefill-size` = 131,072 per 8-GPU node, SGLang issue #6017,
    https://github.com/sgl-project/sglang/issues/6017, 2025-05), so all DP groups prefill at once. One prompt
    per group is what speed.prefill_time models (its weights read once, the groups' attention side by side);
    only as many prompts as the replica's KV memory holds (`prompts_held`, requests of I tokens)."""
    dp = min(layout.dp, max(1, prompts_held))
    return [1] if dp <= 1 else [1, dp]


def _decode_points(fitted: list[tuple], w, spec) -> list[_Sized]:
    """The decode operating points of the layout (of `fitted`: (sequences per node its memory holds, dep, fit,
    times, held, cap, cap limit)) serving the most users at the speed target."""
    best, most = None, 0
    for bound, dep, fit, times, held, cap, cap_limit in sorted(fitted, key=lambda f: -f[0]):
        if bound <= most:
            continue   # its memory holds no more sequences per node than the best batch found
        points = decode_size(times, cap, w.input_tokens, w.output_tokens, w.min_tokens_per_s, spec, cap_limit)
        if points and points[0].batch * dep.layout.replicas_per_node > most:
            best, most = (dep, fit, times, held, cap, cap_limit), points[0].batch * dep.layout.replicas_per_node
    if best is None:
        return []
    dep, fit, times, held, cap, cap_limit = best
    closed = w.request_rate is None
    decs = []
    for dec in decode_size(times, cap, w.input_tokens, w.output_tokens, w.min_tokens_per_s, spec, cap_limit,
                           users=w.concurrent_users if closed else None):
        per_hour = math.ceil(dec.requests_per_s * 3600 - 1e-9)
        cap_ = ReplicaCapacity(users=dec.batch if closed else per_hour, memory_users=held, limit=dec.limit, fit=fit,
                               tokens_per_s_per_user=1 / dec.tpot_s, output_tokens_per_s=dec.batch / dec.tpot_s)
        decs.append(_Sized(dep=dep, capacity=cap_, rate=per_hour))
    return decs


def _role_blocks(model, node: NodeType, engines, max_k: int, problem: Problem, searched: dict):
    """The sized prefill and decode blocks of one node type: (variant, precision note, engine, nodes, role,
    `_Sized`, the in-domain prefill beside a rack-scale decode block or None); `searched` keeps each sizing
    for node types that differ only in price."""
    acc = node.accelerator
    if acc.family == "cpu":
        return   # CPU hosts serve small loads; their KV transfer path is not modelled
    for variant, note in sizing.candidate_variants(model, acc, problem.precision):
        for engine in (e for e in engines if sizing.engine_runs(e, acc, variant) and e.id in DISAGG_ENGINES):
            for k in range(1, max_k + 1):
                key = ("roles", acc.id, node.platform.id, node.count, variant.id, engine.id, k)
                if key not in searched:
                    searched[key] = _role_sizes(model, variant, engine, node, k, problem)
                decs, pre = searched[key]
                if k == 1 and pre is not None and rack_scale(node):
                    split_key = ("in-domain",) + key
                    if split_key not in searched:
                        searched[split_key] = _in_domain_units(model, variant, engine, node, problem, pre)
                    for dec, side in searched[split_key]:
                        yield variant, note, engine, 1, "decode", dec, side
                for role, sized in [("decode", d) for d in decs] + ([("prefill", pre)] if pre else []):
                    yield variant, note, engine, k, role, sized, None


def _role_node_units(model, node: NodeType, engines, max_k: int, problem: Problem, scale: int,
                     searched: dict, near: dict) -> list[Unit]:
    """The prefill and decode units of one node type (a `units.prepare` sizer)."""
    out: list[Unit] = []
    num, den = node.price.numerator * scale, node.price.denominator   # ⌈price·k·scale⌉ in integers
    for variant, note, engine, k, role, sized, side in _role_blocks(model, node, engines, max_k, problem, searched):
        lay = sized.dep.layout
        cost = -(-num * k // den)
        if side is not None:
            out.append(Unit(node=node, nodes=1, variant=variant, engine=engine, kv_dtype=sized.dep.kv_dtype,
                            dp_attention=lay.dp_attention, capacity=sized.capacity, cost=cost,
                            power_w=node.power_w, note=note, layout=lay, role="decode", rate=sized.rate,
                            in_domain=side))
            continue
        out.append(Unit(node=node, nodes=k, variant=variant, engine=engine, kv_dtype=sized.dep.kv_dtype,
                        dp_attention=lay.dp_attention, capacity=sized.capacity, cost=cost,
                        power_w=node.power_w * k, note=note, layout=lay, role=role,
                        rate=sized.rate * lay.replicas_per_node, kv_transfer_s=sized.transfer_s,
                        prefill_s=sized.prefill_s, prefill_prompts=sized.prompts, prefill_scv=sized.prefill_scv,
                        prefill_fill_s=sized.prefill_fill_s))
    return out


def _with_link_floors(model, units: list[Unit], problem: Problem) -> list[Unit]:
    """Each prefill unit once per decode link speed below its own (its KV transfer over that slower link,
    `link_gbs`), and once at its own link; copies that no longer meet the TTFT target are dropped (all prefill
    units when no unit decodes). The model lets a copy be bought only with decode nodes at least that fast."""
    decode_links = sorted({u.node.platform.network_gbs for u in units if u.role == "decode"})
    if not decode_links:
        return []
    w = problem.workload
    out = []
    for u in units:
        own = u.node.platform.network_gbs
        if u.role != "prefill":
            out.append(u)
            continue
        out.append(dataclasses.replace(u, link_gbs=own))
        slower = [f for f in decode_links if f < own]
        if not slower:
            continue
        overhead_s = serving.ttft_overhead(u.engine.id)
        kv = sizing.kv_bytes_per_request(model, u.kv_dtype, w.input_tokens)
        for link in slower:   # the same forward pass (u.prefill_s, u.prefill_prompts), a slower transfer
            share = prompt_link_share(model, u.layout, u.node.platform, u.node.count)
            pre = prefill_rate(u.prefill_s, kv_transfer_s(kv, link, share), overhead_s, w.max_ttft_s,
                               w.ttft_percentile, prompts=u.prefill_prompts, scv=u.prefill_scv,
                               fill_s=u.prefill_fill_s)
            per_hour = 0 if pre is None else math.floor(pre.requests_per_s * 3600 + 1e-9)
            if per_hour < 1:
                continue
            cap = dataclasses.replace(u.capacity, ttft_s=pre.ttft_s, ttft_p90_s=pre.ttft_p90_s)
            out.append(dataclasses.replace(u, capacity=cap, rate=per_hour * u.replicas_per_node,
                                           kv_transfer_s=pre.kv_transfer_s, link_gbs=link))
    return out


def prepare_roles(catalog, problem: Problem) -> Candidates:
    """Every prefill and decode unit of `problem` (module docstring), as `units.prepare` returns
    aggregated ones; raises ProblemError when disaggregation is not modelled for the problem."""
    check_applicable(problem)
    candidates = prepare(catalog, problem, sizer=_role_node_units)
    units = _with_link_floors(candidates.model, candidates.units, problem)
    return dataclasses.replace(candidates, units=sorted(units, key=lambda u: u.id), near_misses=[])


@dataclass(frozen=True)
class _Proxy:
    """A role unit as dominance pruning sees it: `users` is its users (decode) or requests per hour (prefill)."""

    unit: Unit
    users: int

    @property
    def id(self) -> str:
        return self.unit.id

    @property
    def cost(self) -> int:
        return self.unit.cost

    @property
    def power_w(self) -> int:
        return self.unit.power_w

    @property
    def nodes(self) -> int:
        return self.unit.nodes

    @property
    def gpus(self) -> int:
        return self.unit.gpus

    @property
    def accelerator_id(self) -> str:
        return self.unit.accelerator_id

    @property
    def sku(self) -> str:
        return self.unit.sku

    @property
    def tie_key(self) -> tuple:
        return self.unit.tie_key


def pool_group(u: Unit) -> str:
    """What both pools of one plan share: engine, checkpoint (precision), KV datatype and accelerator maker.
    The KV cache crosses from a prefill to a decode replica in the engine's own transfer protocol and block
    layout. Same maker: assumption: no engine release documents a KV transfer between accelerators of different
    makers — each maker's build of the engine has its own attention kernels and KV-cache block layout (CUDA,
    ROCm, Gaudi, Ascend), and the published disaggregated runs (DeepSeek's inference system, SGLang's and vLLM's
    PD-disaggregation guides, NVIDIA Dynamo, llm-d) pair pools of one maker."""
    return f"{u.engine.id}/{u.variant.id}/{u.kv_dtype}/{u.node.maker}"


def prune_roles(units: list[Unit], limits, needs: dict, same_sku: bool) -> list[Unit]:
    """Exact dominance pruning within each pool and engine/precision/KV group (optimizer/prune.py): a decode
    unit v replaces u when it serves at least as many users, sends no more requests per hour to the prefill
    pool (an extra need, compared like the fabric's), and costs, draws, occupies and asks of the fabric no
    more; a prefill unit v replaces u when it takes at least as many requests per hour for no more. Under a
    node-type cap only units of one node type are compared (a pool's swap could add a node type)."""
    from .prune import prune_dominated

    same = same_sku or limits.max_skus is not None
    groups: dict[tuple[str, str], list[Unit]] = {}
    for u in units:
        groups.setdefault((u.role, pool_group(u)), []).append(u)
    kept: list[Unit] = []
    for (role, _), members in sorted(groups.items()):
        if role == "decode":   # fewer requests sent back and a faster link (more prefill copies allowed) win
            proxies = [_Proxy(u, u.users) for u in members]
            extra = {u.id: tuple(needs.get(u.id) or ("none", 0, 0, 0, 0)) + (net_rate(u), -_mbs(u.node.platform.network_gbs))
                     for u in members}
        else:                  # sized for a slower decode link: allowed with more decode nodes
            proxies = [_Proxy(u, u.rate) for u in members]
            extra = {u.id: tuple(needs.get(u.id) or ("none", 0, 0, 0, 0)) + (_mbs(u.link_gbs),) for u in members}
        kept += [p.unit for p in prune_dominated(proxies, limits, same_sku=same, needs=extra)]
    return sorted(kept, key=lambda u: u.id)


@dataclass(frozen=True)
class ServingModes:
    """`compare_serving`: replicas each mode needs on one node type (None: no replica meets the targets)."""

    users: int
    aggregated_replicas: int | None
    aggregated_users_per_replica: int
    aggregated_limit: str
    pools: serving.Pools | None
    kv_transfer_s: float

    @property
    def disaggregated_replicas(self) -> int | None:
        return None if self.pools is None else self.pools.prefill_replicas + self.pools.decode_replicas

    @property
    def cheaper(self) -> str | None:
        """'disaggregated', 'aggregated', 'same', or None when neither meets the targets."""
        a, d = self.aggregated_replicas, self.disaggregated_replicas
        if a is None and d is None:
            return None
        if a is None or (d is not None and d < a):
            return "disaggregated"
        if d is None or a < d:
            return "aggregated"
        return "same"


def compare_serving(dep: Deployment, workload) -> ServingModes:
    """Replicas each mode needs for `workload.concurrent_users` on one deployment `dep` (one node type, one
    layout, no prices): aggregated replicas (capacity.replica_capacity) against a prefill and a decode pool
    of the same replica (serving.size_pools, KV transfer over the node's own link). The plan-level answer,
    over every node type and priced, is `optimize` with `serving: auto`."""
    from .capacity import replica_capacity

    users = workload.concurrent_users or 1
    agg = replica_capacity(dep, workload)
    fit = dep.memory()
    times = speed.serving_times(dep, fit)
    held = sizing.max_concurrency(dep.model, fit, dep.kv_dtype, workload.context_tokens)
    limit = speed.batch_cap(dep, fit)
    cap = held if limit is None else min(held, limit)
    transfer = kv_transfer_s(sizing.kv_bytes_per_request(dep.model, dep.kv_dtype, workload.input_tokens),
                             dep.platform.network_gbs,
                             prompt_link_share(dep.model, fit.layout, dep.platform,
                                               dep.gpus_per_node * fit.layout.replicas_per_node))
    pools = None
    if fit.starts and cap >= 1:
        pools = serving.size_pools(times, times, cap, users, workload.input_tokens, workload.output_tokens,
                                   workload.min_tokens_per_s, workload.max_ttft_s, workload.ttft_percentile,
                                   transfer, _speculative(workload), spread=workload.input_tokens_spread)
    return ServingModes(users=users, aggregated_replicas=-(-users // agg.users) if agg.users else None,
                        aggregated_users_per_replica=agg.users, aggregated_limit=agg.limit, pools=pools,
                        kv_transfer_s=transfer)


def _two_nodes(catalog, problem: Problem) -> tuple[Fraction, int, int] | None:
    """(price, maximum draw, nodes) of the least a prefill and a decode pool take — each the least over the
    eligible node types: two of the cheapest block whose accelerators' memory holds the smallest weights its node
    type could run (a prefill and a decode replica are separate nodes), or one such block of a rack-scale node,
    whose scale-up domain holds both pools (`_in_domain_units`, closed loop) — or None when no node type
    qualifies."""
    from .offers import eligible_offers
    from .units import _filter_reason, _platform_filter_reason, node_types

    model = catalog.models[problem.model]
    offers, _, _ = eligible_offers(catalog, problem)
    max_k = problem.constraints.max_nodes_per_replica
    price, power, nodes = None, None, None
    for node in node_types(catalog, offers):
        if _filter_reason(problem, node.accelerator) or _platform_filter_reason(problem, node.platform) \
                or node.accelerator.family == "cpu":
            continue
        variants = sizing.candidate_variants(model, node.accelerator, problem.precision)
        if not variants:
            continue
        weights = min(sizing.weight_parts(model, v, draft=problem.workload.draft).total for v, _ in variants)
        k = max(1, math.ceil(weights / (node.accelerator.memory_bytes * node.count)))
        if k > max_k:
            continue
        blocks = 1 if k == 1 and rack_scale(node) and problem.workload.request_rate is None else 2
        price = node.price * k * blocks if price is None else min(price, node.price * k * blocks)
        power = node.power_w * k * blocks if power is None else min(power, node.power_w * k * blocks)
        nodes = k * blocks if nodes is None else min(nodes, k * blocks)
    return None if price is None else (price, power, nodes)


def lower_bound(catalog, problem: Problem) -> Fraction | None:
    """A value no disaggregated plan beats on the objective's primary term (cost, tco: capital cost, a lower
    bound of the TCO too; power: maximum draw): the least a prefill and a decode pool take (`_two_nodes`: two
    blocks, one of a rack-scale node). None for the users objective (or when no node type qualifies)."""
    least = _two_nodes(catalog, problem)
    if problem.objective == "users" or least is None:
        return None
    return Fraction(least[1]) if problem.objective == "power" else least[0]


def pools_floor(catalog, problem: Problem) -> Fraction | None:
    """A value no disaggregated plan beats on the objective's primary term (cost, tco: capital cost; power:
    maximum draw), from the linear relaxation of its two pool constraints. Over the blocks the pools could
    use (`_role_blocks`, sized as `prepare_roles` sizes them), within one engine, precision and KV group g
    (both pools run one): c_u a block's price or draw, users_d and net_d (`net_rate`) a decode block's users
    and requests per hour sent to prefill, λ_p a prefill block's requests per hour at its own link (a copy
    sized for a slower link takes fewer), p*_g = min_p c_p / λ_p. With the demand N (users, or requests per
    hour in an open loop), the pools take at least
        closed loop:  N · min_d (c_d + p*_g · net_d) / users_d      (Σ users_d·r_d ≥ N, Σ λ_p·r_p ≥ Σ net_d·r_d)
        open loop:    N · (min_d c_d / users_d + p*_g)              (Σ users_d·r_d ≥ N, Σ λ_p·r_p ≥ N)
    the least over g — the fractional knapsack's optimum (Dantzig 1957, "Discrete-variable extremum
    problems", Operations Research 5(2)) with the prefill need priced at its cheapest rate. Every other
    term of a plan (fabric, racks, energy) is ≥ 0. None for the users objective or when no group has both
    pools (or a decode block that sends nothing). Raises ProblemError when disaggregation is not modelled
    for the problem (`check_applicable`)."""
    if problem.objective == "users":
        return None
    demand = problem.workload.demand or 1
    closed = problem.workload.request_rate is None
    power = problem.objective == "power"
    # per group, the least price (or draw) of a node type for each distinct block: (nodes, users, net) of a
    # decode block, (nodes, requests per hour) of a prefill block; node types sharing a sizing collapse here
    decode: dict[tuple, dict[tuple[int, int, int], Fraction]] = {}
    prefill: dict[tuple, dict[tuple[int, int], Fraction]] = {}

    def keep(blocks: dict, key: tuple, c: Fraction) -> None:
        if key not in blocks or c < blocks[key]:
            blocks[key] = c

    def sizer(model, node, engines, max_k, problem, scale, searched, near):
        c = Fraction(node.power_w) if power else node.price
        for variant, _, engine, k, role, sized, side in _role_blocks(model, node, engines, max_k, problem, searched):
            group = (engine.id, variant.id, sized.dep.kv_dtype, node.maker)
            rpn = sized.dep.layout.replicas_per_node
            if role == "prefill":
                keep(prefill.setdefault(group, {}), (k, sized.rate * rpn), c)
            elif sized.capacity.users > 0:   # as Unit.users and net_rate
                net = max(0, sized.rate - side.rate) if side is not None else sized.rate * rpn
                keep(decode.setdefault(group, {}), (k, sized.capacity.users * rpn, net), c)
        return []

    check_applicable(problem)
    prepare(catalog, problem, sizer=sizer)
    return _relaxed_pools(decode, prefill, demand, closed)


def _relaxed_pools(decode: dict, prefill: dict, demand: int, closed: bool) -> Fraction | None:
    """`pools_floor`'s least over the groups, from each group's distinct decode blocks {(nodes, users, net):
    price} and prefill blocks {(nodes, requests per hour): price}."""
    least = None
    for group, blocks in decode.items():
        p = min((c * k / rate for (k, rate), c in prefill.get(group, {}).items()), default=None)
        if closed:
            ratios = [(c * k + (p * net if p is not None else 0)) / users
                      for (k, users, net), c in blocks.items() if p is not None or net == 0]
            value = demand * min(ratios) if ratios else None
        else:
            value = None if p is None else demand * (min(c * k / users for (k, users, _), c in blocks.items()) + p)
        if value is not None and (least is None or value < least):
            least = value
    return least


def out_of_limits(catalog, problem: Problem) -> str | None:
    """Why no disaggregated plan can meet the problem's budget, power cap or node cap (the least a prefill and a
    decode pool take, `_two_nodes`), else None."""
    c = problem.constraints
    least = _two_nodes(catalog, problem)
    if least is None:
        return "no GPU node type holds the weights"
    price, power, nodes = least
    if c.max_nodes is not None and c.max_nodes < nodes:
        return f"constraints.max_nodes = {c.max_nodes}: a prefill and a decode pool need {nodes} nodes"
    if c.budget is not None and price > Fraction(str(c.budget)):
        return f"a prefill and a decode pool that hold the weights cost at least {float(price):,.0f}, over the budget {c.budget:,.0f}"
    if c.max_power_w is not None and power > c.max_power_w:
        return f"a prefill and a decode pool that hold the weights draw at least {power:,} W, over the cap of {c.max_power_w:,} W"
    return None


def net_rate(u: Unit) -> int:
    """Requests per hour a unit asks of the prefill pool: a prefill unit's take, a decode unit's completions
    less what its own in-domain prefill replicas take (never below 0: their surplus stays in the domain)."""
    return max(0, u.rate - u.in_domain.rate) if u.in_domain is not None else u.rate


def self_contained(u: Unit) -> bool:
    """A decode unit whose in-domain prefill replicas take every request it completes: no prompt's KV cache
    reaches it over the scale-out fabric."""
    return u.in_domain is not None and net_rate(u) == 0


def _mbs(gbs: float) -> int:
    """A link speed in whole MB/s (the model's integers)."""
    return round(gbs * 1000)


def roles_of(units: list[Unit], problem: Problem) -> Roles:
    """The pool constraint's coefficients: requests per hour each prefill unit takes and each decode unit
    completes; open loop, the demand in requests per hour instead of the decode pool's throughput."""
    w = problem.workload
    return Roles(prefill={u.id: u.rate for u in units if u.role == "prefill"},
                 decode={u.id: net_rate(u) for u in units if u.role == "decode"},
                 group={u.id: pool_group(u) for u in units},
                 links={u.id: _mbs(u.link_gbs if u.role == "prefill" else u.node.platform.network_gbs)
                        for u in units},
                 rate_demand=w.demand if w.request_rate is not None and problem.objective != "users" else None)

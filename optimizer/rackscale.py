"""Capacity of one scale-up domain (an NVL72 rack, a CloudMatrix supernode) or of a group of servers
serving one model with prefill and decode on separate accelerators, as the published rack-scale runs do.

The published rack-scale DeepSeek figures (SGLang on GB200 NVL72, LMSYS 2025-06-16 and 2025-09-25,
https://lmsys.org/blog/2025-09-25-gb200-part-2/; Dynamo + TensorRT-LLM on InferenceX,
https://inferencex.semianalysis.com/) split the rack into prefill instances of a few GPUs and one
decode instance with wide expert parallelism (DP48 attention + EP48 on 48 of the 72 GPUs). This
module sizes the same arrangement with hwplan's own speed model, so that its figures can be set
next to the published ones:

- decode, per accelerator: of the layouts hwplan enumerates for `d` accelerators (optimizer/layouts.py
  `candidate_layouts`: attention DP with EP over all of them, TP, sub-domain replicas), the one with
  the most output tokens/s per accelerator at the largest batch its KV cache and the engine hold
  whose step still gives each user `min_tokens_per_s` (optimizer/serving.py `size_pools`, decode side:
  no prefill in its steps):  D = B / (τ(B) · d)   output tokens/s per accelerator;
- prefill, per accelerator: of the replicas of `s` accelerators (s a divisor of the domain the
  engine runs), the one with the most prompt tokens/s per accelerator, each of its `dp` attention
  groups prefilling one prompt at a time (speed.prefill_time with `prompts` = dp):
  P = dp · I / (prompt_prefill_time(I, dp prompts) · s)   input tokens/s per accelerator;
- the split: p prefill accelerators (whole prefill replicas) and d = G − p decode accelerators
  (whole decode replicas); requests/s = min(d · D / O, p · P / I), the best p. Output tokens/s of
  the domain = O · requests/s. With a continuous split this is G / (1/D + I/(O · P)).

Both pools stay inside the scale-up domain on a rack (the KV cache of each prompt moves over NVLink;
its transfer time is not counted), across servers over their network otherwise (transfer likewise not
counted: it adds to time to first token, not to throughput).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from catalog.schema import Accelerator, Engine, Model, Platform, Variant

from . import serving, sizing, speed
from .deployment import Deployment
from .layouts import Layout, candidate_layouts

__all__ = ["PoolSpeed", "SplitCapacity", "decode_speed", "prefill_speed", "best_decode", "best_prefill",
           "split_capacity", "continuous_split_per_gpu", "split_summary"]


@dataclass(frozen=True)
class PoolSpeed:
    """One pool's best layout and its speed per accelerator (tokens/s: output for decode, input for prefill)."""

    layout: Layout
    gpus: int                     # accelerators of one replica
    nodes: int                    # servers one replica spans (1 inside a scale-up domain)
    per_gpu: float
    batch: int = 0                # decode: sequences one replica runs
    tpot_s: float = 0.0           # decode: seconds per output token at that batch


@dataclass(frozen=True)
class SplitCapacity:
    """A domain (or group of servers) split into a prefill and a decode pool."""

    gpus: int
    prefill: PoolSpeed
    decode: PoolSpeed
    prefill_gpus: int
    decode_gpus: int
    requests_per_s: float
    output_tokens: int

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests_per_s * self.output_tokens

    @property
    def per_gpu(self) -> float:
        """Output tokens/s per accelerator of the whole domain (prefill ones included)."""
        return self.output_tokens_per_s / self.gpus


def _deployment(model: Model, variant: Variant, acc: Accelerator, platform: Platform, engine: Engine,
                layout: Layout, gpus_per_node: int, nodes: int, kv_dtype: str) -> Deployment:
    return Deployment(model=model, variant=variant, accelerator=acc, platform=platform, engine=engine,
                      gpus_per_node=gpus_per_node, nodes=nodes, kv_dtype=kv_dtype, layout=layout)


def decode_speed(dep: Deployment, min_tokens_per_s: float, input_tokens: int, output_tokens: int) -> PoolSpeed | None:
    """Output tokens/s per accelerator of one decode-only replica: the largest batch ≤ its KV memory
    (at input + output tokens of context) and the engine's cap whose step keeps each user at
    `min_tokens_per_s` (serving.size_pools, decode side); None if it does not start or is too slow."""
    fit = dep.memory()
    if not fit.weights_fit or not fit.starts:
        return None
    caps = [sizing.max_concurrency(dep.model, fit, dep.kv_dtype, input_tokens + output_tokens),
            speed.batch_cap(dep, fit)]
    cap = min(c for c in caps if c is not None)
    if cap < 1:
        return None
    times = speed.serving_times(dep, fit)
    pools = serving.size_pools(times, times, cap, 1, input_tokens, output_tokens, min_tokens_per_s)
    if pools is None:
        return None
    lay = fit.layout
    return PoolSpeed(layout=lay, gpus=lay.ranks, nodes=dep.nodes,
                     per_gpu=pools.decode_batch / pools.tpot_s / lay.ranks, batch=pools.decode_batch,
                     tpot_s=pools.tpot_s)


def prefill_speed(dep: Deployment, input_tokens: int) -> PoolSpeed | None:
    """Input tokens/s per accelerator of one prefill-only replica, one prompt per attention DP group at a
    time: dp · I / (speed.prompt_prefill_time(I, prompts=dp) · accelerators); None if it does not start."""
    fit = dep.memory()
    if not fit.weights_fit or not fit.starts:
        return None
    lay = fit.layout
    t = speed.prompt_prefill_time(dep, fit, input_tokens, prompts=lay.dp)
    return PoolSpeed(layout=lay, gpus=lay.ranks, nodes=dep.nodes, per_gpu=input_tokens * lay.dp / t / lay.ranks)


def _replicas(model: Model, engine: Engine, gpus_per_node: int, nodes: int) -> list[tuple[Layout, int]]:
    """Single-replica layouts on `nodes` servers of `gpus_per_node` (nodes = 1: also one replica of each
    sub-server size), with the accelerators per server of that replica's deployment."""
    out = []
    for lay in candidate_layouts(model, engine, gpus_per_node, nodes):
        if nodes == 1 and lay.replicas_per_node > 1:
            lay = Layout(tp=lay.tp, pp=lay.pp, dp=lay.dp, ep=lay.ep)  # one of the sub-server replicas
            out.append((lay, lay.ranks))
        else:
            out.append((lay, gpus_per_node))
    return out


def best_decode(model: Model, variant: Variant, acc: Accelerator, platform: Platform, engine: Engine,
                gpus_per_node: int, nodes: int, min_tokens_per_s: float, input_tokens: int, output_tokens: int,
                kv_dtype: str = "auto") -> PoolSpeed | None:
    """The decode replica on `nodes` servers of `gpus_per_node` (or a part of one server) with the most
    output tokens/s per accelerator (`decode_speed`), or None."""
    best = None
    for lay, per_node in _replicas(model, engine, gpus_per_node, nodes):
        dep = _deployment(model, variant, acc, platform, engine, lay, per_node, nodes, kv_dtype)
        s = decode_speed(dep, min_tokens_per_s, input_tokens, output_tokens)
        if s is not None and (best is None or s.per_gpu > best.per_gpu):
            best = s
    return best


def best_prefill(model: Model, variant: Variant, acc: Accelerator, platform: Platform, engine: Engine,
                 gpus_per_node: int, input_tokens: int, kv_dtype: str = "auto") -> PoolSpeed | None:
    """The prefill replica within one server (or scale-up domain) of `gpus_per_node` with the most input
    tokens/s per accelerator (`prefill_speed`), or None."""
    best = None
    for lay, per_node in _replicas(model, engine, gpus_per_node, 1):
        dep = _deployment(model, variant, acc, platform, engine, lay, per_node, 1, kv_dtype)
        s = prefill_speed(dep, input_tokens)
        if s is not None and (best is None or s.per_gpu > best.per_gpu):
            best = s
    return best


def _decode_pool(ctx: dict, seen: dict, per_node: int, d: int, decode_nodes: int) -> tuple[PoolSpeed | None, int]:
    """The best decode pool on `d` accelerators of one domain (decode_nodes = 0), or on `decode_nodes`
    whole servers of `per_node` as replicas of k servers each, as many as fit: (speed, accelerators it uses)."""
    if not decode_nodes:
        if (d, 1) not in seen:
            seen[(d, 1)] = best_decode(**ctx, gpus_per_node=d, nodes=1)
        return seen[(d, 1)], d
    best, used = None, 0
    for k in range(1, decode_nodes + 1):
        if (k, 0) not in seen:
            seen[(k, 0)] = best_decode(**ctx, gpus_per_node=per_node, nodes=k)
        s, n = seen[(k, 0)], (decode_nodes // k) * k * per_node
        if s is not None and (best is None or s.per_gpu * n > best.per_gpu * used):
            best, used = s, n
    return best, used


def split_capacity(model: Model, variant: Variant, acc: Accelerator, platform: Platform, engine: Engine, *,
                   gpus_per_node: int, nodes: int, min_tokens_per_s: float, input_tokens: int,
                   output_tokens: int, kv_dtype: str = "auto") -> SplitCapacity | None:
    """The best split of `nodes` servers of `gpus_per_node` (one rack-scale domain: nodes = 1) into a
    prefill and a decode pool (module docstring). On one domain the decode pool is one replica over the
    accelerators the prefill replicas leave (wide EP as the published runs); over several servers, whole
    servers go to each pool and decode replicas span up to all the decode servers. None when no split
    serves anyone."""
    total = gpus_per_node * nodes
    pre = best_prefill(model, variant, acc, platform, engine, gpus_per_node, input_tokens, kv_dtype)
    if pre is None:
        return None
    if nodes == 1:
        splits = [(p, total - p, 0) for p in range(pre.gpus, total, pre.gpus)]
    else:
        splits = [(k * gpus_per_node, (nodes - k) * gpus_per_node, nodes - k) for k in range(1, nodes)]
    ctx = {"model": model, "variant": variant, "acc": acc, "platform": platform, "engine": engine,
           "min_tokens_per_s": min_tokens_per_s, "input_tokens": input_tokens, "output_tokens": output_tokens,
           "kv_dtype": kv_dtype}
    seen: dict[tuple[int, int], PoolSpeed | None] = {}
    best: SplitCapacity | None = None
    for p, d, decode_nodes in splits:
        dec, usable = _decode_pool(ctx, seen, gpus_per_node, d, decode_nodes)
        if dec is None:
            continue
        # Whole replicas only: a prefill pool of p accelerators holds p // replica replicas.
        rate = min(usable * dec.per_gpu / output_tokens, (p // pre.gpus) * pre.gpus * pre.per_gpu / input_tokens)
        if best is None or rate > best.requests_per_s:
            best = SplitCapacity(gpus=total, prefill=pre, decode=dec, prefill_gpus=p, decode_gpus=usable,
                                 requests_per_s=rate, output_tokens=output_tokens)
    return best


def continuous_split_per_gpu(decode_per_gpu: float, prefill_per_gpu: float, input_tokens: int,
                             output_tokens: int) -> float:
    """Output tokens/s per accelerator when the split may be any fraction: 1 / (1/D + I/(O · P))
    (each request takes O/D decode-accelerator-seconds and I/P prefill-accelerator-seconds)."""
    return 1 / (1 / decode_per_gpu + input_tokens / (output_tokens * prefill_per_gpu)) if \
        decode_per_gpu > 0 and prefill_per_gpu > 0 else 0.0



def split_launch(model: Model, variant: Variant, engine: Engine, split: SplitCapacity, gpus_per_node: int,
                 nodes: int, kv_dtype: str, max_model_len: int) -> list[str]:
    """The commands that run `split`, each with its role's flags (launch.with_role) and the engine's default
    memory settings, as the split was sized. One scale-up domain (`nodes` = 1): the prefill replicas on its first
    accelerators and ports, the decode instance on the rest and the next port, and a router on that server over
    them (as a rack-scale plan line runs them, launch.launch_commands). Whole servers: each prefill server's
    replicas, the decode replica, and a router over all of them (launch.pool_addresses: servers $PREFILL_NODE_1
    … and $DECODE_NODE_1 …)."""
    from .launch import PLAN_ROUTER_NOTE, LaunchSettings, launch_for, one_server_pools, pool_addresses, \
        router_command, with_role

    def settings(running: int | None) -> LaunchSettings:
        return LaunchSettings(memory_fraction=None, max_running=running, max_model_len=max_model_len,
                              kv_dtype=kv_dtype, gpus_per_node=gpus_per_node)

    replicas = split.prefill_gpus // split.prefill.gpus
    pre, dec = split.prefill.layout, split.decode.layout
    if nodes == 1:
        return ([f"# one server: {replicas} prefill replicas of {split.prefill.gpus} accelerators, then the decode "
                 f"instance on the next {dec.ranks}:"]
                + one_server_pools(model, variant, engine, dataclasses.replace(pre, replicas_per_node=replicas),
                                   split.prefill_gpus, dec, settings(None), settings(split.decode.batch)))
    per_server = max(1, gpus_per_node // split.prefill.gpus)
    prefill = with_role(launch_for(model, variant, engine, dataclasses.replace(pre, replicas_per_node=per_server),
                                   settings(None)), engine.id, "prefill", pre.ranks)
    decode = with_role(launch_for(model, variant, engine, dec, settings(split.decode.batch)), engine.id, "decode",
                       dec.ranks, router=False)
    addresses = pool_addresses([("prefill", replicas, per_server, 1), ("decode", 1, 1, split.decode.nodes)])
    return ([f"# prefill, on each of the {-(-replicas // per_server)} prefill servers ({per_server} replica(s) "
             f"each):"] + prefill + [f"# decode, one replica over {split.decode.nodes} server(s):"] + decode
            + [PLAN_ROUTER_NOTE + router_command(engine.id, *addresses)])


def split_summary(catalog, *, model: str, precision: str, accelerator: str, platform: str, engine: str,
                  gpus_per_node: int, nodes: int, kv_dtype: str, min_tokens_per_s: float, input_tokens: int,
                  output_tokens: int, max_model_len: int | None = None) -> dict | None:
    """`hwplan estimate --serving disaggregated`: `split_capacity` of the estimate's hardware (catalog ids;
    `nodes` servers of `gpus_per_node`, one scale-up domain when nodes = 1) as a record: each pool's
    accelerators, layout and tokens/s per accelerator, the decode batch and time per output token, output
    tokens/s of the whole (per accelerator and in total), and the commands that run it (`split_launch`,
    `max_model_len` default the model's context). None when no split serves anyone."""
    m = catalog.models[model]
    s = split_capacity(m, m.variant(precision), catalog.accelerators[accelerator], catalog.platforms[platform],
                       catalog.engines[engine], gpus_per_node=gpus_per_node, nodes=nodes,
                       min_tokens_per_s=min_tokens_per_s, input_tokens=input_tokens, output_tokens=output_tokens,
                       kv_dtype=kv_dtype)
    if s is None:
        return None
    return {"gpus": s.gpus, "min_tokens_per_s": min_tokens_per_s,
            "prefill_gpus": s.prefill_gpus, "prefill_layout": s.prefill.layout.label,
            "prefill_replica_gpus": s.prefill.gpus, "prefill_input_tokens_per_s_per_gpu": round(s.prefill.per_gpu, 1),
            "decode_gpus": s.decode_gpus, "decode_layout": s.decode.layout.label,
            "decode_nodes_per_replica": s.decode.nodes, "decode_batch": s.decode.batch,
            "decode_tpot_s": round(s.decode.tpot_s, 4),
            "decode_output_tokens_per_s_per_gpu": round(s.decode.per_gpu, 1),
            "requests_per_s": round(s.requests_per_s, 3),
            "output_tokens_per_s": round(s.output_tokens_per_s, 1), "output_tokens_per_s_per_gpu": round(s.per_gpu, 1),
            "launch": split_launch(m, m.variant(precision), catalog.engines[engine], s, gpus_per_node, nodes,
                                   kv_dtype, max_model_len or m.max_context)}

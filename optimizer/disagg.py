"""Aggregated or disaggregated prefill/decode for one node type: which needs fewer replicas.

`compare_serving(dep, workload)` sizes, for one deployment (model, accelerator, engine, layout):

- aggregated: replicas = ceil(users / replica_capacity(dep, workload).users) (each replica prefills and
  decodes, optimizer/serving.py `closed_loop`);
- disaggregated: a prefill pool and a decode pool of the same replica shape (optimizer/serving.py
  `size_pools`), the KV cache of each prompt sent from prefill to decode over the nodes' scale-out
  network: bytes = KV of `input_tokens` (sizing.kv_bytes_per_request), time = bytes / network
  bandwidth (platform `network_gbs`), added to TTFT.

Both on the same node type, so the one with fewer replicas is the cheaper by the same ratio.
The CP-SAT optimizer does not yet buy two pools (nor different node types per pool); this answers
the question for one node type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import capacity, serving, sizing, speed
from .deployment import Deployment
from .problem import Workload

__all__ = ["ServingModes", "compare_serving", "kv_transfer_s"]


@dataclass(frozen=True)
class ServingModes:
    users: int
    aggregated_replicas: int | None       # None: no aggregated replica meets the targets
    aggregated_users_per_replica: int
    aggregated_limit: str
    pools: serving.Pools | None           # None: no disaggregated pair meets the targets
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


def kv_transfer_s(dep: Deployment, input_tokens: int) -> float:
    """Seconds to send one prompt's KV cache (all layers, `input_tokens` tokens) from a prefill node
    to a decode node over one node's scale-out link (platform network_gbs, GB/s), plus one network
    hop latency (speed.NETWORK_HOP_LATENCY_S)."""
    data = sizing.kv_bytes_per_request(dep.model, dep.kv_dtype, input_tokens)
    return data / (dep.platform.network_gbs * 1e9) + speed.NETWORK_HOP_LATENCY_S


def compare_serving(dep: Deployment, workload: Workload) -> ServingModes:
    """Replicas each mode needs for `workload.concurrent_users` on `dep` (see the module docstring)."""
    users = workload.concurrent_users or 1
    agg = capacity.replica_capacity(dep, workload)
    fit = dep.memory()
    times = speed.serving_times(dep, fit)
    cap = min(c for c in (sizing.max_concurrency(dep.model, fit, dep.kv_dtype, workload.context_tokens),
                          speed.batch_cap(dep, fit)) if c is not None)
    spec = capacity._speculative(workload)
    transfer = kv_transfer_s(dep, workload.input_tokens)
    pools = None
    if fit.starts and cap >= 1:
        pools = serving.size_pools(times, times, cap, users, workload.input_tokens, workload.output_tokens,
                                   workload.min_tokens_per_s, workload.max_ttft_s, workload.ttft_percentile,
                                   transfer, spec)
    return ServingModes(users=users, aggregated_replicas=math.ceil(users / agg.users) if agg.users else None,
                        aggregated_users_per_replica=agg.users, aggregated_limit=agg.limit, pools=pools,
                        kv_transfer_s=transfer)

"""How many users one replica serves: the one place that decides it.

A `Deployment` is one replica's hardware and software: the model variant, the
accelerator, the server it sits in, how many nodes, the engine and the KV
datatype. `replica_capacity` turns it and a workload into the users it serves:
the largest concurrency that its KV memory holds (or, in the rule-of-thumb mode,
whether the weights plus a fixed KV reserve fit).
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.schema import Accelerator, Engine, Model, Platform, Variant

from . import sizing
from .problem import Workload

__all__ = ["Deployment", "ReplicaCapacity", "replica_capacity"]


@dataclass(frozen=True)
class Deployment:
    model: Model
    variant: Variant
    accelerator: Accelerator
    platform: Platform
    engine: Engine
    gpus_per_node: int
    nodes: int = 1
    kv_dtype: str = "auto"
    dp_attention: bool = False

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * self.nodes

    def memory(self) -> sizing.MemoryFit:
        return sizing.memory_fit(self.model, self.variant, self.accelerator, self.engine,
                                 gpus_per_node=self.gpus_per_node, nodes=self.nodes,
                                 kv_dtype=self.kv_dtype, dp_attention=self.dp_attention)


@dataclass(frozen=True)
class ReplicaCapacity:
    users: int                  # users one replica serves (0: it cannot serve this workload)
    memory_users: int           # concurrent requests its KV memory holds
    limit: str                  # what bounds `users`: memory, reserve, weights
    fit: sizing.MemoryFit
    kv_needed_bytes: float = 0.0  # rule-of-thumb mode: the reserve it must hold
    tokens_per_s_per_user: float | None = None
    output_tokens_per_s: float | None = None
    ttft_s: float | None = None

    @property
    def fits(self) -> bool:
        return self.users >= 1


def replica_capacity(dep: Deployment, workload: Workload) -> ReplicaCapacity:
    fit = dep.memory()
    if not fit.weights_fit:
        return ReplicaCapacity(users=0, memory_users=0, limit="weights", fit=fit)
    if workload.kv_reserve_gb is not None:
        # Seed's rule: total memory left after the weights must hold the reserve.
        needed = workload.kv_reserve_gb * sizing.GB * sizing.kv_reserve_factor(dep.model, dep.variant)
        if fit.kv_budget_total < needed:
            return ReplicaCapacity(users=0, memory_users=0, limit="reserve", fit=fit, kv_needed_bytes=needed)
        if workload.concurrent_users is None:
            return ReplicaCapacity(users=1, memory_users=1, limit="reserve", fit=fit, kv_needed_bytes=needed)
        per_request = sizing.kv_bytes_per_request(dep.model, dep.kv_dtype, workload.context_tokens)
        users = int(needed // (per_request * sizing.kv_reserve_factor(dep.model, dep.variant)))
        return ReplicaCapacity(users=users, memory_users=users, limit="reserve", fit=fit, kv_needed_bytes=needed)
    users = sizing.max_concurrency(dep.model, fit, dep.kv_dtype, workload.context_tokens)
    return ReplicaCapacity(users=users, memory_users=users, limit="memory", fit=fit)

"""How many users one replica serves: the one place that decides it.

`replica_capacity(deployment, workload)` returns the largest number of concurrent
users the replica serves: none if the engine would not start (sizing.MemoryFit.why_not:
no KV cache left, one max_model_len request too big, CUDA graphs out of memory); no
more than its KV memory holds (or, in the
rule-of-thumb mode, one replica whose weights plus a fixed KV reserve fit), no more
than the engine runs at once, and no more than keep every user at or above
`min_tokens_per_s` with a time to first token within `max_ttft_s`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from . import sizing, speed
from .deployment import Deployment
from .problem import Workload

__all__ = ["ReplicaCapacity", "replica_capacity", "capacity_memo"]


@dataclass(frozen=True)
class ReplicaCapacity:
    users: int                  # users one replica serves (0: it cannot serve this workload)
    memory_users: int           # concurrent requests its KV memory holds
    limit: str                  # what bounds `users`: weights, start, reserve, memory, engine, speed, ttft
    fit: sizing.MemoryFit
    kv_needed_bytes: float = 0.0  # rule-of-thumb mode: the reserve it must hold
    tokens_per_s_per_user: float | None = None
    output_tokens_per_s: float | None = None
    ttft_s: float | None = None

    @property
    def fits(self) -> bool:
        return self.users >= 1


def _memory_users(dep: Deployment, fit: sizing.MemoryFit, workload: Workload) -> tuple[int, str, float]:
    if workload.kv_reserve_gb is None:
        return sizing.max_concurrency(dep.model, fit, dep.kv_dtype, workload.context_tokens), "memory", 0.0
    # Seed's rule: memory left after the weights, over the whole replica, must hold the reserve.
    factor = sizing.kv_reserve_factor(dep.model, dep.variant)
    needed = workload.kv_reserve_gb * sizing.GB * factor
    if fit.kv_budget_total < needed:
        return 0, "reserve", needed
    if workload.concurrent_users is None:
        return 1, "reserve", needed
    per_request = sizing.kv_bytes_per_request(dep.model, dep.kv_dtype, workload.context_tokens) * factor
    return int(needed // per_request), "reserve", needed


def _meets(s: speed.Speed, workload: Workload) -> bool:
    if s.tokens_per_s_per_user < workload.min_tokens_per_s:
        return False
    return workload.max_ttft_s is None or s.ttft_s <= workload.max_ttft_s


def replica_capacity(dep: Deployment, workload: Workload) -> ReplicaCapacity:
    fit = dep.memory()
    if not fit.weights_fit:
        return ReplicaCapacity(users=0, memory_users=0, limit="weights", fit=fit)
    if not fit.starts:
        # The engine refuses to start (one max_model_len request does not fit, or CUDA graphs run out of
        # memory): never buy such a replica.
        return ReplicaCapacity(users=0, memory_users=0, limit="start", fit=fit)
    memory_users, limit, needed = _memory_users(dep, fit, workload)
    if memory_users < 1:
        return ReplicaCapacity(users=0, memory_users=0, limit=limit, fit=fit, kv_needed_bytes=needed)
    top = memory_users
    cap = speed.batch_cap(dep, fit)
    if cap is not None and cap < top:
        top, limit = cap, "engine"

    def at(batch: int) -> speed.Speed:
        return speed.serving_speed(dep, fit, batch, workload.input_tokens, workload.output_tokens)

    best = at(top)
    if not _meets(best, workload):
        # Per-user speed falls and TTFT rises as the batch grows: find the largest batch that meets both.
        lo, hi = 0, top
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _meets(at(mid), workload):
                lo = mid
            else:
                hi = mid
        top = lo
        # What the first batch too many (hi = lo + 1) misses: per-user speed, else time to first token.
        limit = "speed" if at(hi).tokens_per_s_per_user < workload.min_tokens_per_s else "ttft"
        if top < 1:
            slow = at(1)
            return ReplicaCapacity(users=0, memory_users=memory_users, limit=limit, fit=fit, kv_needed_bytes=needed,
                                   tokens_per_s_per_user=slow.tokens_per_s_per_user,
                                   output_tokens_per_s=slow.output_tokens_per_s, ttft_s=slow.ttft_s)
        best = at(top)
    return ReplicaCapacity(users=top, memory_users=memory_users, limit=limit, fit=fit, kv_needed_bytes=needed,
                           tokens_per_s_per_user=best.tokens_per_s_per_user,
                           output_tokens_per_s=best.output_tokens_per_s, ttft_s=best.ttft_s)


def _identity(value: object) -> object:
    """A catalog record by its kind and id (ids are unique within one catalog), else the value."""
    ident = getattr(value, "id", None)
    return (type(value).__name__, ident) if isinstance(ident, str) else value


def capacity_memo(workload: Workload) -> Callable[[Deployment], ReplicaCapacity]:
    """`replica_capacity(dep, workload)` remembered by the deployment's identity, for one catalog.

    Thousands of node types in a large catalog share a few (accelerator, platform, count)
    configurations, and the capacity depends on nothing else of the node type (not its price,
    seller or stated power), so `prepare` sizes each configuration once. Records are keyed by
    kind and id, which is exact only while every deployment comes from the same catalog: make
    one memo per `prepare` call. A deployment with an unhashable field is sized every time.
    """
    memo: dict[tuple, ReplicaCapacity] = {}

    def capacity(dep: Deployment) -> ReplicaCapacity:
        try:
            key = tuple(_identity(getattr(dep, f.name)) for f in fields(dep))
            hash(key)
        except TypeError:
            return replica_capacity(dep, workload)
        if key not in memo:
            memo[key] = replica_capacity(dep, workload)
        return memo[key]

    return capacity

"""How many users one replica serves: the one place that decides it.

`replica_capacity(deployment, workload)` returns the largest number of concurrent
users the replica serves: none if the engine would not start (sizing.MemoryFit.why_not:
no KV cache left, one max_model_len request too big, CUDA graphs out of memory); no
more than its KV memory holds (or, in the
rule-of-thumb mode, one replica whose weights plus a fixed KV reserve fit), no more
than the engine runs at once, and no more than keep every user at or above
`min_tokens_per_s` with a time to first token within `max_ttft_s` (the mean or the 90th
percentile, `ttft_percentile`). With `request_rate` instead of users, the same limits bound the
requests per hour one replica takes (optimizer/serving.py `open_loop`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from catalog.errors import ProblemError

from . import sizing, speed
from .deployment import Deployment
from .problem import Workload

__all__ = ["ReplicaCapacity", "replica_capacity", "capacity_memo"]


@dataclass(frozen=True)
class ReplicaCapacity:
    users: int                  # users one replica serves (0: it cannot serve this workload)
    memory_users: int           # concurrent requests its KV memory holds
    limit: str                  # what bounds `users`: weights, start, reserve, memory, engine, speed, ttft,
    #                             speculative (the engine lacks the method, or does not start it on this
    #                             layout: serving.spec_layout_error), prefill (request_rate: prompts
    #                             arrive faster than the replica prefills them)
    fit: sizing.MemoryFit
    kv_needed_bytes: float = 0.0  # rule-of-thumb mode: the reserve it must hold
    tokens_per_s_per_user: float | None = None
    output_tokens_per_s: float | None = None
    ttft_s: float | None = None          # mean
    ttft_p90_s: float | None = None      # 90th percentile

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


def _ttft(s: speed.Speed, workload: Workload) -> float:
    """The TTFT `max_ttft_s` bounds: the mean (ttft_percentile 50) or the 90th percentile."""
    return s.ttft_p90_s if workload.ttft_percentile == 90 and s.ttft_p90_s is not None else s.ttft_s


def _meets(s: speed.Speed, workload: Workload) -> bool:
    if s.tokens_per_s_per_user < workload.min_tokens_per_s:
        return False
    return workload.max_ttft_s is None or _ttft(s, workload) <= workload.max_ttft_s


def _speculative(workload: Workload):
    spec = workload.speculative
    if spec is None:
        return None
    from .serving import Speculative

    return Speculative(spec.method, spec.tokens, spec.acceptance)


def _unsupported(dep: Deployment, fit: sizing.MemoryFit, spec) -> ReplicaCapacity | None:
    """The replica that cannot serve at all (engine lacks the speculative method, weights do not fit, the
    engine would not start), else None. Raises ProblemError when the model lacks the method."""
    if spec is not None:
        from .serving import SPEC_ENGINES, check_speculative, spec_engine_error, spec_layout_error

        # The model must support the method (else the whole problem is wrong: ProblemError, exit 2);
        # an engine that does not run it only rules out this replica.
        check_speculative(spec, dep.model, SPEC_ENGINES[spec.method][0], "workload.speculative.method",
                          error=ProblemError)
        if spec_engine_error(dep.engine.id, spec.method, dep.model) or spec_layout_error(   # or not start
                dep.engine.id, spec.method, fit.layout.pp, fit.layout.dp_attention):
            return ReplicaCapacity(users=0, memory_users=0, limit="speculative", fit=fit)
    if not fit.weights_fit:
        return ReplicaCapacity(users=0, memory_users=0, limit="weights", fit=fit)
    if not fit.starts:
        # The engine refuses to start (one max_model_len request does not fit, or CUDA graphs run out of
        # memory): never buy such a replica.
        return ReplicaCapacity(users=0, memory_users=0, limit="start", fit=fit)
    return None


def _with_speed(users: int, memory_users: int, limit: str, fit: sizing.MemoryFit, needed: float, s) -> ReplicaCapacity:
    """A ReplicaCapacity carrying the speeds and TTFTs of `s` (a speed.Speed or serving.ServingResult)."""
    return ReplicaCapacity(users=users, memory_users=memory_users, limit=limit, fit=fit, kv_needed_bytes=needed,
                           tokens_per_s_per_user=s.tokens_per_s_per_user, output_tokens_per_s=s.output_tokens_per_s,
                           ttft_s=s.ttft_s, ttft_p90_s=s.ttft_p90_s)


def replica_capacity(dep: Deployment, workload: Workload, fit: sizing.MemoryFit | None = None) -> ReplicaCapacity:
    """Users one replica serves; `fit` is `dep.memory()` when the caller already has it. Raises
    ProblemError when the workload's speculative method does not exist for the model."""
    fit = fit or dep.memory()
    spec = _speculative(workload)
    out = _unsupported(dep, fit, spec)
    if out is not None:
        return out
    memory_users, limit, needed = _memory_users(dep, fit, workload)
    if memory_users < 1:
        return ReplicaCapacity(users=0, memory_users=0, limit=limit, fit=fit, kv_needed_bytes=needed)
    top = memory_users
    cap = speed.batch_cap(dep, fit)
    if cap is not None and cap < top:
        top, limit = cap, "engine"
    if workload.request_rate is not None:
        return _rate_capacity(dep, fit, workload, top, memory_users, limit, needed, spec)
    return _users_capacity(dep, fit, workload, top, memory_users, limit, needed, spec)


def _users_capacity(dep: Deployment, fit: sizing.MemoryFit, workload: Workload, top: int, memory_users: int,
                    limit: str, needed: float, spec) -> ReplicaCapacity:
    """Closed loop: the largest batch ≤ `top` (KV memory, engine cap) whose users all get
    min_tokens_per_s and a TTFT (ttft_percentile) within max_ttft_s (optimizer/serving.py `closed_loop`)."""

    def at(batch: int) -> speed.Speed:
        return speed.serving_speed(dep, fit, batch, workload.input_tokens, workload.output_tokens,
                                   arrivals=workload.arrivals, speculative=spec)

    best = at(top)
    if _meets(best, workload):
        return _with_speed(top, memory_users, limit, fit, needed, best)
    # Per-user speed falls and TTFT rises as the batch grows: find the largest batch that meets both.
    lo, hi = 0, top
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _meets(at(mid), workload):
            lo = mid
        else:
            hi = mid
    # What the first batch too many (hi = lo + 1) misses: per-user speed, else time to first token.
    limit = "speed" if at(hi).tokens_per_s_per_user < workload.min_tokens_per_s else "ttft"
    if lo < 1:
        return _with_speed(0, memory_users, limit, fit, needed, at(1))
    return _with_speed(lo, memory_users, limit, fit, needed, at(lo))


def _rate_capacity(dep: Deployment, fit: sizing.MemoryFit, workload: Workload, top: int, memory_users: int,
                   limit: str, needed: float, spec) -> ReplicaCapacity:
    """Open loop: the most requests per hour one replica takes (Poisson arrivals, optimizer/serving.py
    `open_loop`) with the decode batch plus the request in prefill within `top` sequences (KV memory,
    engine cap), per-user speed ≥ min_tokens_per_s and TTFT (ttft_percentile) ≤ max_ttft_s; `users`
    counts requests per hour (the solver's integer demand, Workload.demand)."""
    from .serving import open_loop

    times = speed.serving_times(dep, fit)
    i, o = workload.input_tokens, workload.output_tokens

    def why(rate: float):
        r = open_loop(times, rate, i, o, spec, spread=workload.input_tokens_spread)
        if r.decode_batch + 1 > top:
            return "memory" if limit == "memory" else limit, r
        if r.tokens_per_s_per_user < workload.min_tokens_per_s:
            return "speed", r
        ttft = r.ttft_p90_s if workload.ttft_percentile == 90 else r.ttft_s
        if workload.max_ttft_s is not None and not ttft <= workload.max_ttft_s:
            return "ttft", r
        if r.utilization >= 1:
            return "prefill", r
        return None, r

    # Every failing reason grows with the rate: bisect on requests per hour.
    ceiling = int(3600 / times.prompt_time(i))
    lo, hi = 0, ceiling + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if why(mid / 3600)[0] is None:
            lo = mid
        else:
            hi = mid
    reason = why(hi / 3600)[0] or "prefill"
    if lo < 1:
        return ReplicaCapacity(users=0, memory_users=memory_users, limit=reason, fit=fit, kv_needed_bytes=needed)
    return _with_speed(lo, memory_users, reason, fit, needed, why(lo / 3600)[1])


def _identity(value: object) -> object:
    """A catalog record by its kind and id (ids are unique within one catalog), else the value."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    ident = getattr(value, "__dict__", {}).get("id")    # not getattr: pydantic's fallback for a missing field is slow
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
    names = [f.name for f in fields(Deployment)]

    def capacity(dep: Deployment) -> ReplicaCapacity:
        try:
            key = tuple(map(_identity, (getattr(dep, name) for name in names)))
            hash(key)
        except TypeError:
            return replica_capacity(dep, workload)
        if key not in memo:
            memo[key] = replica_capacity(dep, workload)
        return memo[key]

    return capacity

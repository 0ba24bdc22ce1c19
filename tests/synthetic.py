"""Seeded random limits and a brute-force oracle that knows nothing of CP-SAT (the random units
themselves live in benchmarks/synthetic.py, which the benchmarks share)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from benchmarks.synthetic import FakeUnit, random_units  # noqa: F401 (re-exported for the tests)
from optimizer.model import Limits


def random_limits(rng: random.Random, units: list[FakeUnit]) -> Limits:
    demand = rng.randint(10, 120)
    return Limits(
        demand=demand,
        max_nodes=rng.choice([None, rng.randint(2, 10)]),
        budget=rng.choice([None, rng.randint(50, 600)]),
        max_power_w=rng.choice([None, rng.randint(500, 6000)]),
        stock=rng.choice([{}, {"a": rng.randint(0, 40)}]),
        max_skus=rng.choice([None, 1, 2]),
        spare=rng.random() < 0.2,
    )


@dataclass
class BruteResult:
    best: tuple | None
    feasible: list[dict[str, int]] = field(default_factory=list)


def totals(units: list[FakeUnit], replicas: dict[str, int]) -> dict[str, int]:
    by_id = {u.id: u for u in units}
    out = {"cost": 0, "power": 0, "nodes": 0, "users": 0}
    for uid, r in replicas.items():
        u = by_id[uid]
        out["cost"] += u.cost * r
        out["power"] += u.power_w * r
        out["nodes"] += u.nodes * r
        out["users"] += u.users * r
    return out


def satisfies(units: list[FakeUnit], replicas: dict[str, int], limits: Limits, maximize_users: bool = False) -> bool:
    by_id = {u.id: u for u in units}
    t = totals(units, replicas)
    used = [by_id[uid] for uid, r in replicas.items() if r > 0]
    if not maximize_users and limits.demand is not None:
        capacity = t["users"]
        if limits.spare:
            capacity -= max((u.users for u in used), default=0)
        if capacity < limits.demand:
            return False
    if limits.max_nodes is not None and t["nodes"] > limits.max_nodes:
        return False
    if limits.budget is not None and t["cost"] > limits.budget:
        return False
    if limits.max_power_w is not None and t["power"] > limits.max_power_w:
        return False
    for acc, cap in limits.stock.items():
        if sum(by_id[uid].gpus * r for uid, r in replicas.items() if by_id[uid].accelerator_id == acc) > cap:
            return False
    if limits.max_skus is not None and len({u.sku for u in used}) > limits.max_skus:
        return False
    return True


def brute_force(units: list[FakeUnit], limits: Limits, order: tuple[tuple[str, int], ...],
                max_replicas: int) -> tuple | None:
    """Lexicographic optimum of `order` over every replica vector up to `max_replicas` each."""
    best = None
    for combo in itertools.product(range(max_replicas + 1), repeat=len(units)):
        replicas = {u.id: r for u, r in zip(units, combo) if r}
        if not satisfies(units, replicas, limits, maximize_users=order[0][0] == "users"):
            continue
        t = totals(units, replicas)
        key = tuple(sense * t[term] for term, sense in order)
        if best is None or key < best:
            best = key
    return best

"""Seeded synthetic candidate units, shared by the optimizer tests and the benchmarks.

`FakeUnit` has exactly the fields the optimizer reads from a candidate unit
(`optimizer.model.UnitLike`). `random_units` makes small random sets for brute-force tests;
`make_catalog` makes large realistic ones (node types × engine × precision × node count) for
`benchmarks/scaling.py`. Nothing here is a catalog number: every figure is drawn at random.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["FakeUnit", "random_units", "make_catalog", "ENGINES", "PRECISIONS"]


@dataclass(frozen=True)
class FakeUnit:
    """One candidate unit: `users` served per replica, `cost` (money units), `power_w` (W),
    `nodes` and `gpus` per replica, its `accelerator_id` and node type (`sku`)."""

    id: str
    users: int
    cost: int
    power_w: int
    nodes: int
    gpus: int
    accelerator_id: str
    sku: str


def random_units(rng: random.Random, n: int) -> list[FakeUnit]:
    """n small units on three accelerators and six node types (brute-force sized)."""
    units = []
    for i in range(n):
        acc = rng.choice(["a", "b", "c"])
        nodes = rng.randint(1, 3)
        units.append(FakeUnit(id=f"u{i:02d}", users=rng.randint(1, 40), cost=rng.randint(5, 60) * nodes,
                              power_w=rng.randint(1, 9) * 100 * nodes, nodes=nodes, gpus=8 * nodes,
                              accelerator_id=acc, sku=f"{acc}-{rng.randint(0, 1)}"))
    return units


ENGINES = ("vllm", "sglang", "trtllm")
PRECISIONS = {"fp16": (1.0, 1.0), "fp8": (1.7, 0.97), "int4": (2.3, 0.93)}   # users ×, power ×


def make_catalog(rng: random.Random, n: int) -> list[FakeUnit]:
    """n units from ~n/25 node types; each node type gives engine × precision × nodes variants,
    so many units are near-duplicates (as in a real catalog)."""
    accs = {f"acc{i:02d}": (math.exp(rng.uniform(math.log(0.3), math.log(10))), rng.choice([1, 2, 4, 8, 8, 8]))
            for i in range(12)}                                       # per-GPU speed, GPUs per node
    model_factor = rng.uniform(1.0, 5.0)                              # users per unit of speed
    units: list[FakeUnit] = []
    t = 0
    while len(units) < n:
        acc = rng.choice(sorted(accs))
        speed, gpn = accs[acc]
        node_speed = speed * gpn * rng.uniform(0.85, 1.15)            # the platform matters a little
        price = min(3_000_000, max(10_000, round(25_000 * node_speed * rng.lognormvariate(0, 0.35))))
        power = min(15_000, max(1_000, round(800 + 150 * node_speed * rng.lognormvariate(0, 0.25))))
        sku = f"t{t:04d}-{acc}-p{rng.randrange(10)}"
        alpha = rng.uniform(0.6, 0.95)                                # users grow sublinearly with nodes
        lo = rng.choice([1, 1, 1, 2, 4])                              # memory: the fewest nodes that fit
        counts = sorted(rng.sample(range(lo, 9), k=rng.randint(1, 9 - lo)))
        for engine in ENGINES:
            e_users, e_power = rng.uniform(0.85, 1.15), rng.uniform(0.97, 1.03)
            for prec, (p_users, p_power) in PRECISIONS.items():
                per_node = node_speed * model_factor * p_users * e_users * rng.uniform(0.9, 1.1)
                for k in counts:
                    users = min(2000, max(1, round(per_node * k**alpha)))
                    units.append(FakeUnit(id=f"{sku}-{engine}-{prec}-x{k}", users=users, cost=price * k,
                                          power_w=round(power * k * p_power * e_power), nodes=k,
                                          gpus=gpn * k, accelerator_id=acc, sku=sku))
        t += 1
    return sorted(rng.sample(units, n), key=lambda u: u.id)

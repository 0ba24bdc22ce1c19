"""The numpy dominance front keeps exactly the units a plain pairwise loop keeps (stock limits,
fabric needs, duplicates, node-type grouping, and users capped at the demand)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from benchmarks.synthetic import make_catalog
from optimizer.model import Limits, replica_bounds
from optimizer.prune import dominates, prune_dominated


def _loop(units, limits: Limits, needs, *, same_sku: bool = False, cap: int | None = None) -> list[str]:
    """The definition, written out: drop units whose one replica breaks a cap, sort so that a dominating
    unit comes first, keep each unit no kept unit dominates (users counted up to `cap`)."""
    bounds = replica_bounds(units, limits, maximize_users=True)
    fitting = [u for u in units if bounds[u.id] > 0]
    seen = {u.id: (dataclasses.replace(u, users=min(u.users, cap)) if cap is not None else u) for u in fitting}
    ordered = sorted(fitting, key=lambda u: (u.cost, u.power_w, u.nodes, -seen[u.id].users, u.id))
    front = []
    for u in ordered:
        if not any(dominates(seen[v.id], seen[u.id], limits, same_sku=same_sku, needs=needs) for v in front):
            front.append(u)
    return sorted(u.id for u in front)


@pytest.mark.parametrize("seed", range(12))
def test_vector_front_equals_the_loop(seed):
    rng = random.Random(seed)
    units = make_catalog(rng, rng.choice([70, 300, 700]))
    units += units[: rng.randint(0, 5)]                       # exact duplicates: the first one stays
    limits = Limits(demand=rng.choice([10, 1000]), stock=rng.choice([{}, {"acc03": 64, "acc07": 8}]))
    needs = None
    if seed % 2:
        needs = {u.id: (rng.choice(["ib", "eth"]), rng.randint(0, 3), rng.randint(0, 2), rng.randint(0, 1),
                        rng.randint(0, 2))
                 for u in units if rng.random() < 0.7}
    same_sku = seed % 3 == 0
    loop = _loop(units, limits, needs, same_sku=same_sku)
    assert [u.id for u in prune_dominated(units, limits, needs=needs, same_sku=same_sku)] == loop
    assert len(loop) < len(units)                             # the case prunes something
    capped = _loop(units, limits, needs, same_sku=same_sku, cap=limits.demand)
    assert [u.id for u in prune_dominated(units, limits, needs=needs, same_sku=same_sku, demand_cap=True)] == capped

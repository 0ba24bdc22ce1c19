"""The blocked numpy front keeps exactly the units the plain loop keeps (stock limits, fabric needs, ties)."""

from __future__ import annotations

import random

import pytest

from benchmarks.synthetic import make_catalog
from optimizer import prune
from optimizer.model import Limits


@pytest.mark.parametrize("seed", range(12))
def test_vector_front_equals_the_loop(seed):
    rng = random.Random(seed)
    units = make_catalog(rng, rng.choice([70, 300, 700]))
    units += units[: rng.randint(0, 5)]                       # exact duplicates: the first one stays
    limits = Limits(demand=rng.choice([10, 1000]), stock=rng.choice([{}, {"acc03": 64, "acc07": 8}]))
    needs = None
    if seed % 2:
        needs = {u.id: (rng.choice(["ib", "eth"]), rng.randint(0, 3), rng.randint(0, 2), rng.randint(0, 1))
                 for u in units if rng.random() < 0.7}
    ordered = sorted(units, key=lambda u: (u.cost, u.power_w, u.nodes, -u.users, u.id))
    loop = prune._front_loop(ordered, limits, needs)
    assert prune._front(ordered, limits, needs) == loop
    assert len(loop) < len(ordered)                           # the case prunes something

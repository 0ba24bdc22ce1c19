"""The numpy dominance front keeps exactly the units a plain pairwise loop keeps (stock limits,
fabric needs, duplicates, node-type grouping, and users capped at the demand)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from benchmarks.synthetic import FakeUnit, make_catalog
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


@dataclasses.dataclass(frozen=True)
class _Keyed(FakeUnit):
    """A unit whose `tie_key` orders identical units by something other than the id."""
    rank: int = 0

    @property
    def tie_key(self) -> tuple:
        return (self.rank, self.id)


@pytest.mark.parametrize("shuffle_seed", range(4))
def test_identical_units_keep_the_first_by_tie_key_whatever_the_input_order(shuffle_seed):
    # Five units with identical numbers: one stays, the first by tie_key (rank 0 is "u4"), however
    # the list is ordered; a sixth, strictly worse (one more watt), goes; "x" (cheaper but fewer
    # users) is on the front too.
    same = [_Keyed(f"u{i}", 8, 100, 700, 1, 8, "a", "s", rank) for i, rank in zip(range(5), (3, 1, 4, 2, 0))]
    units = same + [_Keyed("u9", 8, 100, 701, 1, 8, "a", "s", 0), _Keyed("x", 4, 60, 700, 1, 8, "a", "s", 9)]
    random.Random(shuffle_seed).shuffle(units)
    for same_sku in (False, True):
        assert [u.id for u in prune_dominated(units, Limits(demand=100), same_sku=same_sku)] == ["u4", "x"]
    plain = [dataclasses.replace(u, rank=0) for u in units]   # equal tie keys but the id: the smallest id
    assert [u.id for u in prune_dominated(plain, Limits(demand=100))] == ["u0", "x"]


def _sku_cap_definition(units, limits: Limits, cap: int | None) -> list[str]:
    """Under a SKU cap, by the definition: the per-node-type front, then a node type goes when
    every one of its kept units is dominated by a kept unit of one other node type that it does not
    cover in turn, or that it covers but whose SKU id is smaller."""
    kept_ids = set(_loop(units, limits, None, same_sku=True, cap=cap))
    seen = {u.id: (dataclasses.replace(u, users=min(u.users, cap)) if cap is not None else u)
            for u in units if u.id in kept_ids}
    by_sku: dict[str, list] = {}
    for u in seen.values():
        by_sku.setdefault(u.sku, []).append(u)

    def covers(b: str, a: str) -> bool:
        return all(any(dominates(v, u, limits) for v in by_sku[b]) for u in by_sku[a])

    dropped = {a for a in by_sku for b in by_sku
               if b != a and covers(b, a) and (not covers(a, b) or b < a)}
    return sorted(u.id for u in seen.values() if u.sku not in dropped)


@pytest.mark.parametrize("seed", range(8))
def test_sku_cap_pruning_equals_the_definition(seed):
    rng = random.Random(100 + seed)
    units = make_catalog(rng, rng.choice([60, 200, 500]))
    limits = Limits(demand=rng.choice([10, 300, 5000]), max_skus=rng.choice([1, 2]),
                    stock=rng.choice([{}, {"acc03": 64}]))
    for cap in (None, limits.demand):
        expected = _sku_cap_definition(units, limits, cap)
        got = [u.id for u in prune_dominated(units, limits, demand_cap=cap is not None)]
        assert got == expected
        assert len(got) < len(units)


def test_a_node_type_another_covers_goes_under_a_sku_cap():
    # Node type "b" serves as many users as "a" for more money: without a SKU cap b's unit is
    # dominated anyway; with one, units of different node types never replace each other, but b as a
    # whole is covered by a (and does not cover a), so b goes. Two types that cover each other (c is a
    # copy of a under another SKU id): the smaller SKU id, "a", stays.
    a = _Keyed("a1", 8, 100, 700, 1, 8, "acc", "a", 0)
    b = _Keyed("b1", 8, 120, 700, 1, 8, "acc", "b", 0)
    c = dataclasses.replace(a, id="c1", sku="c")
    assert [u.id for u in prune_dominated([b, a], Limits(demand=10, max_skus=1))] == ["a1"]
    assert [u.id for u in prune_dominated([b, a], Limits(demand=10), same_sku=True)] == ["a1", "b1"]
    assert [u.id for u in prune_dominated([c, b, a], Limits(demand=10, max_skus=2))] == ["a1"]


def test_a_bound_drops_units_dearer_than_a_known_plan():
    # 10 users wanted; users counted up to 10. a: 10 users, 100, 700 W; b: 4, 30, 700 W; c: 50 (10), 120,
    # 100 W; d: 10, 90, 800 W. No unit dominates another (c draws least, d is cheaper than a but draws
    # more, b serves fewest): the front is all four. Single-unit plans: a 1 × 100, b ⌈10/4⌉ = 3 × 30 = 90,
    # c 120, d 90; the cheapest that keeps the caps bounds the optimum's cost.
    a, b = _Keyed("a", 10, 100, 700, 1, 8, "acc", "s", 0), _Keyed("b", 4, 30, 700, 1, 8, "acc", "s", 0)
    c, d = _Keyed("c", 50, 120, 100, 1, 8, "acc", "s", 0), _Keyed("d", 10, 90, 800, 1, 8, "acc", "s", 0)
    units = [a, b, c, d]
    ids = lambda kept: {u.id for u in kept}                                  # noqa: E731
    assert ids(prune_dominated(units, Limits(demand=10), demand_cap=True)) == {"a", "b", "c", "d"}
    # No caps: b's plan (90) bounds it; a (100) and c (120) go, d (90, a tie) stays.
    assert ids(prune_dominated(units, Limits(demand=10), demand_cap=True, bound="cost")) == {"b", "d"}
    assert ids(prune_dominated(units, Limits(demand=10), bound="cost")) == {"a", "b", "c", "d"}   # needs the demand cap
    # 750 W at most: b's plan draws 3 × 700 = 2,100 W and d alone 800 W; a's (100, 700 W) is the bound,
    # so c (120) goes; d goes anyway (one replica breaks the cap).
    capped = Limits(demand=10, max_power_w=750)
    assert ids(prune_dominated(units, capped, demand_cap=True)) == {"a", "b", "c"}
    assert ids(prune_dominated(units, capped, demand_cap=True, bound="cost")) == {"a", "b"}
    # Under the spare rule one more replica: a 2 × 100 = 200 is over the 750 W cap too (1,400 W); with
    # 1,400 W, b (4 × 30 = 120, 2,800 W) fails and a's 200 bounds: nothing goes but what the cap removes.
    spare = Limits(demand=10, max_power_w=1400, spare=True)
    assert ids(prune_dominated(units, spare, demand_cap=True, bound="cost")) == \
        ids(prune_dominated(units, spare, demand_cap=True))

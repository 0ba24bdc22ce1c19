"""Exact dominance pruning of candidate units before the solver sees them.

Unit v dominates unit u when v serves at least as many users per replica and
costs, draws and occupies no more (nodes, and accelerators of any stock-limited
kind). Replacing every replica of u by one of v then keeps every constraint
satisfied and no objective gets worse, so some optimal plan never uses u:

- demand and the spare-replica rule: capacity does not drop (the largest replica
  may grow by users_v − users_u, but capacity grows by at least as much);
- node, budget, power and stock caps: totals do not rise;
- cost, power, nodes, TCO (monotone in cost, power and nodes), users: no worse;
- scale-out fabric (optimizer/fabric.py): v asks no more node ports, nodes on switches,
  direct cables and NIC ports to buy of any fabric class than u, so switches, links and
  NICs never grow.

With a cap on distinct SKUs, or when plans must differ in what they buy
(shortlists), v must be of the same node type as u, or the swap could change
the set of SKUs bought. Identical units keep the first by `tie_key` (default: the id), so
the result is deterministic (units may refine the tie order with `tie_key`).

Sorting by cost means a dominating unit always comes first, so each unit is
compared only with the non-dominated units kept so far (within its node type when
that is required). Units that cannot fit one replica under the caps go first. Under a
SKU cap a whole node type goes when another node type dominates each of its units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TypeVar

from .model import Limits, UnitLike, replica_bounds

__all__ = ["prune_dominated", "dominates"]

U = TypeVar("U", bound=UnitLike)


Need = tuple   # (fabric class, node ports, nodes on switches, direct cables, NIC ports to buy) per replica


def _fabric_le(nv: Need | None, nu: Need | None) -> bool:
    """v's fabric need is no larger than u's in every fabric class."""
    if nv is None:
        return True
    return nu is not None and nv[0] == nu[0] and all(a <= b for a, b in zip(nv[1:], nu[1:]))


def dominates(v: UnitLike, u: UnitLike, limits: Limits, same_sku: bool = False,
              needs: Mapping[str, Need] | None = None) -> bool:
    """True when v can replace u in every plan without loss."""
    if same_sku and v.sku != u.sku:
        return False
    if needs and not _fabric_le(needs.get(v.id), needs.get(u.id)):
        return False
    if v.users < u.users or v.cost > u.cost or v.power_w > u.power_w or v.nodes > u.nodes:
        return False
    for acc in limits.stock:
        gv = v.gpus if v.accelerator_id == acc else 0
        gu = u.gpus if u.accelerator_id == acc else 0
        if gv > gu:
            return False
    return True


def prune_dominated(units: Sequence[U], limits: Limits, *, same_sku: bool = False,
                    needs: Mapping[str, Need] | None = None) -> list[U]:
    """The units no other unit dominates (and that fit the caps at all), in id order.

    `needs` (unit id -> fabric class, node ports, nodes on switches, direct cables per replica)
    keeps a unit that needs a network from dominating one that needs less."""
    # A unit whose single replica already breaks a cap (nodes, budget, power, stock) is never used.
    bounds = replica_bounds(units, limits, maximize_users=True)
    fitting = [u for u in units if bounds[u.id] > 0]
    need_same_sku = same_sku or limits.max_skus is not None
    groups: dict[str, list[U]] = defaultdict(list)
    for u in fitting:
        groups[u.sku if need_same_sku else ""].append(u)
    kept: list[U] = []
    for group in groups.values():
        ordered = sorted(group, key=lambda u: (u.cost, u.power_w, u.nodes, -u.users, getattr(u, "tie_key", u.id)))
        kept += _front(ordered, limits, needs) if len(ordered) >= _VECTOR_MIN_UNITS else \
            _front_loop(ordered, limits, needs)
    if limits.max_skus is not None and not same_sku and len(kept) <= _SKU_PRUNE_MAX_UNITS:
        kept = _prune_dominated_skus(kept, limits, needs or {})
    return sorted(kept, key=lambda u: u.id)


_SKU_PRUNE_MAX_UNITS = 6000  # the pairwise matrix below is units² booleans
_VECTOR_MIN_UNITS = 64       # smaller groups: the plain loop is faster than numpy's call overhead
_BLOCK = 256                 # units compared at once in _front


def _front_loop(ordered: list[U], limits: Limits, needs: Mapping[str, Need] | None) -> list[U]:
    """The units of `ordered` (sorted so that a dominating unit comes first) no earlier kept unit dominates."""
    front: list[U] = []
    for u in ordered:
        if not any(dominates(v, u, limits, needs=needs) for v in front):
            front.append(u)
    return front


def _better_columns(units: Sequence[U], limits: Limits, needs: Mapping[str, Need]):
    """units × criteria, larger is better in every column, so that v dominates u exactly when v's row
    is ≥ u's in every column (`dominates` without same_sku): users, −cost, −power, −nodes, −accelerators
    of each stock-limited kind, and per fabric class −(in the class), −ports, −nodes on switches, −cables."""
    import numpy as np  # comes with pandas and ortools; only the solver path gets here

    cols = [[u.users for u in units], [-u.cost for u in units], [-u.power_w for u in units],
            [-u.nodes for u in units]]
    cols += [[-(u.gpus if u.accelerator_id == acc else 0) for u in units] for acc in limits.stock]
    for key in sorted({n[0] for n in needs.values()}):
        of = [needs.get(u.id) if needs.get(u.id) is not None and needs[u.id][0] == key else None for u in units]
        cols.append([-1 if n is not None else 0 for n in of])
        cols += [[-(n[i] if n is not None else 0) for n in of] for i in (1, 2, 3)]
    return np.array(cols, dtype=np.int64).T


def _front(ordered: list[U], limits: Limits, needs: Mapping[str, Need] | None) -> list[U]:
    """`_front_loop` in blocks with numpy. A unit is dropped when an earlier unit dominates it: by
    transitivity that is the same as an earlier kept unit, so each block is compared with the kept
    units so far and, in order, with itself."""
    import numpy as np

    rows = _better_columns(ordered, limits, needs or {})
    kept = np.zeros(len(ordered), dtype=bool)
    front = rows[:0]
    for start in range(0, len(ordered), _BLOCK):
        block = rows[start:start + _BLOCK]
        by_front = np.all(front[:, None, :] >= block[None, :, :], axis=2).any(axis=0)
        within = np.all(block[:, None, :] >= block[None, :, :], axis=2)   # [v, u]: v dominates u
        within &= np.tri(len(block), k=-1, dtype=bool).T                  # only earlier v (v < u)
        keep = ~(by_front | within.any(axis=0))
        kept[start:start + len(block)] = keep
        front = np.concatenate([front, block[keep]])
    return [u for u, k in zip(ordered, kept) if k]


def _prune_dominated_skus(units: list[U], limits: Limits, needs: Mapping[str, Need]) -> list[U]:
    """Under a cap on distinct SKUs: drop a whole node type when every one of its units is
    dominated by some unit of one other node type. Moving all of its replicas there keeps
    every limit (the SKU count cannot grow) and no objective gets worse. Of two node types
    that dominate each other, the one with the smaller id stays."""
    if not units:  # every unit broke a cap (a budget no single unit meets): nothing to compare
        return units
    import numpy as np  # comes with pandas and ortools; only the solver path gets here

    cols = [np.array([u.users for u in units]), -np.array([u.cost for u in units]),
            -np.array([u.power_w for u in units]), -np.array([u.nodes for u in units])]
    cols += [-np.array([u.gpus if u.accelerator_id == acc else 0 for u in units]) for acc in limits.stock]
    for key in sorted({n[0] for n in needs.values()}):   # fabric needs per class: smaller is better
        for i in range(1, max(len(n) for n in needs.values())):
            cols.append(-np.array([needs[u.id][i] if u.id in needs and needs[u.id][0] == key else 0 for u in units]))
    better = np.stack(cols, axis=1)                                     # larger is better in every column
    dom = np.all(better[:, None, :] >= better[None, :, :], axis=2)      # dom[v, u]: v dominates u
    skus = sorted({u.sku for u in units})
    index = {s: i for i, s in enumerate(skus)}
    of = np.array([index[u.sku] for u in units])
    covered = np.stack([dom[of == b].any(axis=0) for b in range(len(skus))], axis=1)  # [u, b]
    by = np.stack([covered[of == a].all(axis=0) for a in range(len(skus))])          # [a, b]: b covers all of a
    dropped = {a for a in range(len(skus))
               if any(b != a and (not by[b, a] or skus[b] < skus[a]) for b in np.nonzero(by[a])[0])}
    return [u for u in units if index[u.sku] not in dropped]

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

With `demand_cap` (the units serve one fixed demand N, as in a solve; not a sweep, not when
maximizing users), users beyond N count for nothing: a replica serving N or more covers the
demand alone, so v need only serve min(users_u, N) (see `prune_dominated`). At N = 10 this
leaves a handful of 5,000 units instead of about 150.

Sorting by cost (then power, nodes, most users) means a dominating unit always comes first, so
the non-dominated units are found in rounds over the sorted rows (`_front`, numpy): the first
rows still in play are compared among themselves, and every later row one of the survivors
dominates leaves play. Units that cannot fit one replica under the caps go first. Under a
SKU cap a whole node type goes when another node type dominates each of its units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from .model import Limits, UnitLike

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
                    needs: Mapping[str, Need] | None = None, demand_cap: bool = False) -> list[U]:
    """The units no other unit dominates (and that fit the caps at all), in id order.

    `needs` (unit id -> fabric class, node ports, nodes on switches, direct cables per replica)
    keeps a unit that needs a network from dominating one that needs less. `demand_cap`: the units
    are solved for `limits.demand` users and no more (not maximizing users, not re-used for a
    larger demand), so users beyond the demand count for nothing: v then needs to serve only
    min(users_u, N). Exact: a plan that used u and now buys v's replicas instead serves at least
    N when users_v ≥ N (one replica of v does), and with the spare rule still N after losing its
    largest replica (two replicas of v, or v's one and the rest, which covered N without u's)."""
    if not units:
        return []
    import numpy as np  # comes with pandas and ortools; only the solver path gets here

    cap = limits.demand if demand_cap and limits.demand is not None else None
    numbers = _numbers(units, limits, cap)
    fitting = np.flatnonzero(_fits(numbers, limits, units))   # a unit whose single replica breaks a cap goes
    need_same_sku = same_sku or limits.max_skus is not None
    candidates = [units[i] for i in fitting.tolist()]
    rows = _better_columns(candidates, limits, needs or {}, numbers[fitting])
    order = _order(rows, candidates)
    if not need_same_sku:
        kept = [candidates[i] for i in order[_front(rows[order])].tolist()] if len(order) else []
    else:   # a front per node type (units of two node types never replace each other)
        groups: dict[str, list[int]] = {}
        for i in order.tolist():
            groups.setdefault(candidates[i].sku, []).append(i)
        kept = [candidates[i] for members in groups.values()
                for i in np.asarray(members)[_front(rows[members])].tolist()]
    if limits.max_skus is not None and not same_sku and len(kept) <= _SKU_PRUNE_MAX_UNITS:
        kept = _prune_dominated_skus(kept, limits, needs or {}, cap)
    return sorted(kept, key=lambda u: u.id)


_SKU_PRUNE_MAX_UNITS = 6000  # the pairwise matrix below is units² booleans
_BLOCK = 64                  # rows taken at once by _front (measured on 5,000 units: 64 beats 32 to 512)
_CHUNK = 64                  # front rows compared with every row still in play at once


def _numbers(units: Sequence[U], limits: Limits, cap: int | None):
    """units × (users, cost, power W, nodes, accelerators of each stock-limited kind), int64; users
    capped at `cap` when given."""
    import numpy as np

    n = len(units)
    cols = [np.fromiter((u.users for u in units), dtype=np.int64, count=n),
            np.fromiter((u.cost for u in units), dtype=np.int64, count=n),
            np.fromiter((u.power_w for u in units), dtype=np.int64, count=n),
            np.fromiter((u.nodes for u in units), dtype=np.int64, count=n)]
    cols += [np.fromiter((u.gpus if u.accelerator_id == acc else 0 for u in units), dtype=np.int64, count=n)
             for acc in limits.stock]
    if cap is not None:
        np.minimum(cols[0], cap, out=cols[0])
    return np.stack(cols, axis=1)


def _fits(numbers, limits: Limits, units: Sequence[U]):
    """One replica alone keeps every cap (nodes, budget, power, stock): `replica_bounds` > 0."""
    import numpy as np

    ok = np.ones(len(numbers), dtype=bool)
    for col, limit in ((3, limits.max_nodes), (1, limits.budget), (2, limits.max_power_w)):
        if limit is not None:
            ok &= numbers[:, col] <= limit
    for j, acc in enumerate(limits.stock):
        on = np.array([u.accelerator_id == acc for u in units], dtype=bool)
        ok &= ~on | (numbers[:, 4 + j] <= limits.stock[acc])
    return ok


def _better_columns(units: Sequence[U], limits: Limits, needs: Mapping[str, Need], numbers):
    """units × criteria, larger is better in every column, so that v dominates u exactly when v's row
    is ≥ u's in every column (`dominates` without same_sku, with the users of `numbers`): users, −cost,
    −power, −nodes, −accelerators of each stock-limited kind, per fabric class −(in the class) and minus
    each number of its need."""
    import numpy as np

    cols = [numbers[:, 0:1], -numbers[:, 1:]]
    for key in sorted({n[0] for n in needs.values() if n is not None}):
        of = [needs.get(u.id) if needs.get(u.id) is not None and needs[u.id][0] == key else None for u in units]
        extra = [[-1 if n is not None else 0 for n in of]]
        width = max(len(n) for n in needs.values() if n is not None)
        extra += [[-(n[i] if n is not None else 0) for n in of] for i in range(1, width)]
        cols.append(np.array(extra, dtype=np.int64).T.reshape(len(units), len(extra)))
    return np.concatenate(cols, axis=1)


def _order(rows, units: Sequence[U]):
    """Row indices by cost, power, nodes, then most users (so a dominating unit comes first), ties
    by `tie_key` (default: the id) so that of identical units the first is kept."""
    import numpy as np

    keys = (-rows[:, 0], -rows[:, 3], -rows[:, 2], -rows[:, 1])   # np.lexsort: the last key sorts first
    order = np.lexsort(keys)
    key = rows[order][:, :4]
    if not np.any(np.all(key[1:] == key[:-1], axis=1)):
        return order
    ties = [getattr(u, "tie_key", u.id) for u in units]
    rank = np.empty(len(units), dtype=np.int64)
    rank[sorted(range(len(units)), key=ties.__getitem__)] = np.arange(len(units))
    return np.lexsort((rank, *keys))


def _front(rows):
    """Indices of the rows (sorted so that a dominating row comes first) no earlier row dominates.

    In rounds: the first rows still in play are compared among themselves (an earlier one dominates
    a later one: dropped; by transitivity, dropping a row dominated by a dropped row loses nothing),
    then every later row that one of them dominates leaves play at once: in a catalog a few cheap
    units dominate most of the others."""
    import numpy as np

    ids, work = np.arange(len(rows)), rows
    kept: list = []
    earlier = np.tri(_BLOCK, k=-1, dtype=bool).T   # [v, u]: v comes before u
    while len(ids):
        head, rest = work[:_BLOCK], work[_BLOCK:]
        within = np.all(head[:, None, :] >= head[None, :, :], axis=2)   # [v, u]: v dominates u
        new = ~(within & earlier[:len(head), :len(head)]).any(axis=0)
        front = head[new]
        kept.append(ids[:_BLOCK][new])
        beaten = np.zeros(len(rest), dtype=bool)
        for i in range(0, len(front) if len(rest) else 0, _CHUNK):   # a few front rows at a time: memory stays small
            beaten |= np.all(front[i:i + _CHUNK, None, :] >= rest[None, :, :], axis=2).any(axis=0)
        ids, work = ids[_BLOCK:][~beaten], rest[~beaten]
    return np.concatenate(kept) if kept else ids


def _prune_dominated_skus(units: list[U], limits: Limits, needs: Mapping[str, Need], cap: int | None = None) -> list[U]:
    """Under a cap on distinct SKUs: drop a whole node type when every one of its units is
    dominated by some unit of one other node type. Moving all of its replicas there keeps
    every limit (the SKU count cannot grow) and no objective gets worse. Of two node types
    that dominate each other, the one with the smaller id stays."""
    if not units:  # every unit broke a cap (a budget no single unit meets): nothing to compare
        return units
    import numpy as np  # comes with pandas and ortools; only the solver path gets here

    users = np.array([u.users for u in units])
    cols = [users if cap is None else np.minimum(users, cap), -np.array([u.cost for u in units]),
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
    order = np.argsort(of, kind="stable")                              # units grouped by node type, in sku order
    starts = np.flatnonzero(np.concatenate([[True], of[order][1:] != of[order][:-1]]))
    dom = dom[order][:, order]
    covered = np.logical_or.reduceat(dom, starts, axis=0)             # [b, u]: a unit of b dominates u
    by = np.logical_and.reduceat(covered, starts, axis=1).T           # [a, b]: b covers all of a
    dropped = {a for a in range(len(skus))
               if any(b != a and (not by[b, a] or skus[b] < skus[a]) for b in np.nonzero(by[a])[0])}
    return [u for u in units if index[u.sku] not in dropped]

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

Each criterion is read from every unit once (`_columns`, numpy, column-major). Units that one of
a few leading units strictly dominates go first (`_beaten_by_leaders`: one numpy pass, no sort).
The rest are sorted by cost (then power, nodes, most users, the other criteria), so a dominating
unit always comes first, and the non-dominated units are found in rounds over the sorted rows
(`_front`): the first rows still in play are compared among themselves, and every later row one of
the survivors dominates leaves play. Units that cannot fit one replica under the caps go first.
Under a SKU cap the fronts of all node types are taken at once (`_fronts_by_group`), then a whole
node type goes when another node type dominates each of its units. Of identical units the first
by `tie_key` stays, whatever the input order (`_first_by_tie_key`).

With `bound` (a fixed demand and an objective whose first term is one unit attribute summed over the
replicas) a unit dearer alone than a known feasible plan goes before anything else is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
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
                    needs: Mapping[str, Need] | None = None, demand_cap: bool = False,
                    bound: str | None = None) -> list[U]:
    """The units no other unit dominates (and that fit the caps at all), in id order.

    `needs` (unit id -> fabric class, node ports, nodes on switches, direct cables per replica)
    keeps a unit that needs a network from dominating one that needs less. `demand_cap`: the units
    are solved for `limits.demand` users and no more (not maximizing users, not re-used for a
    larger demand), so users beyond the demand count for nothing: v then needs to serve only
    min(users_u, N). Exact: a plan that used u and now buys v's replicas instead serves at least
    N when users_v ≥ N (one replica of v does), and with the spare rule still N after losing its
    largest replica (two replicas of v, or v's one and the rest, which covered N without u's).

    `bound` ("cost", "power_w" or "nodes"; with `demand_cap`): the caller solves for the least of that
    unit attribute summed over the replicas, and nothing else adds to the objective's first term (no
    offers, fabric or racks priced; no rack cap). A unit whose ONE replica already exceeds what a plan
    known to meet every limit needs is then in no optimal plan (all values are ≥ 0), and goes before
    the other attributes are read (`_within_bound`); not for shortlists or any search that wants
    plans other than the optimum."""
    if not units:
        return []
    import numpy as np  # comes with pandas and ortools; only the solver path gets here

    cap = limits.demand if demand_cap and limits.demand is not None else None
    if bound is not None and cap is not None and not needs and limits.max_racks is None:
        units = _within_bound(units, limits, bound, cap)
        if not units:
            return []
    cols, accelerators = _columns(units, limits, cap)
    fitting = np.flatnonzero(_fits(cols, limits, accelerators))   # a unit whose single replica breaks a cap goes
    candidates = units if len(fitting) == len(units) else _Picked(units, fitting.tolist())
    cols = cols[:, fitting] if len(fitting) < len(units) else cols
    if needs:
        cols = np.concatenate([cols, _need_columns(candidates, needs)])
    need_same_sku = same_sku or limits.max_skus is not None
    skus = _node_type_codes(units)[fitting] if need_same_sku else None
    play = np.flatnonzero(~_beaten_by_leaders(cols, skus)) if len(fitting) else fitting
    rows, units_in_play = cols[:, play].T, _Picked(candidates, play.tolist())   # row-major from here: few rows
    groups = skus[play] if need_same_sku else None
    order = _order(rows)
    if not len(order):
        kept = order
    elif not need_same_sku:
        kept = _first_by_tie_key(order[_front(rows[order])], order, rows, units_in_play)
    else:   # a front per node type (units of two node types never replace each other)
        kept = _first_by_tie_key(_fronts_by_group(rows, order, groups), order, rows, units_in_play, groups)
    if limits.max_skus is not None and not same_sku and len(kept) <= _SKU_PRUNE_MAX_UNITS:
        kept = kept[_node_types_kept(rows[kept], _Picked(units_in_play, kept.tolist()))]
    return sorted((units_in_play[i] for i in kept.tolist()), key=lambda u: u.id)


class _Picked(Sequence):
    """units[i] for i in `picked`, without building the list (most units are dropped unread)."""

    def __init__(self, units: Sequence, picked: list[int]):
        self._units, self._picked = units, picked

    def __len__(self) -> int:
        return len(self._picked)

    def __getitem__(self, i):
        return self._units[self._picked[i]]


_SKU_PRUNE_MAX_UNITS = 6000  # the pairwise matrix below is units² booleans
_BLOCK = 64                  # rows taken at once by _front (measured on 5,000 units: 64 beats 32 to 512)
_CHUNK = 64                  # front rows compared with every row still in play at once


def _within_bound(units: Sequence[U], limits: Limits, attribute: str, demand: int) -> Sequence[U]:
    """`units` without those whose one replica's `attribute` exceeds that of a known feasible plan.

    The plans tried are "k replicas of one unit", k = ⌈demand / users⌉ (+1 under the spare rule),
    cheapest in `attribute` first (at most 512 tried, one unit at a time): the first that keeps every
    cap (nodes, budget, power, stock; one SKU) bounds the optimum. Units are returned as given when no plan is found or a
    value is negative (the argument needs every unit's value ≥ 0)."""
    import numpy as np

    n = len(units)
    users = np.fromiter(map(attrgetter("users"), units), dtype=np.int64, count=n)
    value = np.fromiter(map(attrgetter(attribute), units), dtype=np.int64, count=n)
    if (value < 0).any() or limits.max_skus == 0:
        return units
    serving = users > 0
    k = np.where(serving, -(-demand // np.maximum(users, 1)) + (1 if limits.spare else 0), 0)
    plan = np.where(serving, k * value, np.iinfo(np.int64).max)
    def cheapest_first():
        first = np.argpartition(plan, 63)[:64] if n > 64 else np.arange(n)   # usually enough: no full sort
        first = first[np.lexsort((first, plan[first]))].tolist()
        yield from first
        if n > 64:
            seen = set(first)
            yield from (i for i in np.argsort(plan, kind="stable")[:512].tolist() if i not in seen)

    for i in cheapest_first():
        u, r = units[i], int(k[i])
        if not serving[i]:
            break
        if (limits.max_nodes is None or r * u.nodes <= limits.max_nodes) and \
                (limits.budget is None or r * u.cost <= limits.budget) and \
                (limits.max_power_w is None or r * u.power_w <= limits.max_power_w) and \
                (u.accelerator_id not in limits.stock or r * u.gpus <= limits.stock[u.accelerator_id]):
            keep = np.flatnonzero(value <= plan[i])
            return units if len(keep) == n else [units[j] for j in keep.tolist()]
    return units


def _columns(units: Sequence[U], limits: Limits, cap: int | None):
    """(criteria × units int64 array, larger is better in every row: users (capped at `cap` when
    given), −cost, −power W, −nodes, −accelerators of each stock-limited kind; per stock-limited
    accelerator id, a mask of the units that have it, or None without stock limits).

    v dominates u (`dominates` without same_sku and fabric, with capped users) exactly when v's
    column is ≥ u's in every row. Column-major because numpy compares long rows far faster than
    short ones; read with `map(attrgetter)`, about twice as fast as generator expressions, since
    reading the units is most of what pruning costs when few units survive."""
    import numpy as np

    n = len(units)
    cols = [np.fromiter(map(attrgetter(name), units), dtype=np.int64, count=n)
            for name in ("users", "cost", "power_w", "nodes")]
    accelerators = None
    if limits.stock:
        accelerators = list(map(attrgetter("accelerator_id"), units))
        gpus = np.fromiter(map(attrgetter("gpus"), units), dtype=np.int64, count=n)
        accelerators = {acc: np.fromiter(map(acc.__eq__, accelerators), dtype=bool, count=n) for acc in limits.stock}
        cols += [np.where(on, gpus, 0) for on in accelerators.values()]
    if cap is not None:
        np.minimum(cols[0], cap, out=cols[0])
    for col in cols[1:]:
        np.negative(col, out=col)
    return np.stack(cols), accelerators


def _fits(cols, limits: Limits, accelerators):
    """One replica alone keeps every cap (nodes, budget, power, stock): `replica_bounds` > 0."""
    import numpy as np

    ok = np.ones(cols.shape[1], dtype=bool)
    for row, limit in ((3, limits.max_nodes), (1, limits.budget), (2, limits.max_power_w)):
        if limit is not None:
            ok &= cols[row] >= -limit
    for j, acc in enumerate(limits.stock):
        ok &= ~accelerators[acc] | (cols[4 + j] >= -limits.stock[acc])
    return ok


def _need_columns(units: Sequence[U], needs: Mapping[str, Need]):
    """Per fabric class, rows to add to `_columns` (larger is better): −(in the class) and minus each
    number of its need, so that a unit that needs a network never dominates one that needs less."""
    import numpy as np

    extra: list[list[int]] = []
    width = max((len(n) for n in needs.values() if n is not None), default=0)
    for key in sorted({n[0] for n in needs.values() if n is not None}):
        of = [needs.get(u.id) if needs.get(u.id) is not None and needs[u.id][0] == key else None for u in units]
        extra.append([-1 if n is not None else 0 for n in of])
        extra += [[-(n[i] if n is not None else 0) for n in of] for i in range(1, width)]
    return np.array(extra, dtype=np.int64).reshape(len(extra), len(units))


def _beaten_by_leaders(cols, groups=None):
    """Units (columns of `cols`, criteria × units, larger is better) that a leading unit strictly
    dominates (≥ in every criterion, > in one); with `groups` (each unit's node type as an integer
    code) only a leader of the same node type counts.

    The leaders maximise, within each group, a positively weighted sum of the criteria scaled to
    [0, 1] (equal weights, then each criterion weighted ten times the others), so each is on the
    front or close to it, and in a catalog a few such units dominate most of the others. A strictly
    dominated unit can never be kept by `_front` or `_fronts_by_group` (its dominator sorts before
    it), so dropping it first changes nothing but the time: a few passes of numpy over the units
    instead of sorting them all. Identical units stay for `_first_by_tie_key`."""
    import numpy as np

    low, high = cols.min(axis=1, keepdims=True), cols.max(axis=1, keepdims=True)
    scaled = (cols - low) / np.where(high > low, high - low, 1)
    weights = np.ones((len(cols) + 1, len(cols))) + 9 * np.eye(len(cols) + 1, len(cols), k=-1)
    scores = weights @ scaled                                         # one row per weighting
    if groups is None:
        leaders = [int(i) for i in np.unique(np.argmax(scores, axis=1))]   # one leader for all units
    else:                                                             # per weighting, each unit's group's leader
        by_group = np.argsort(groups, kind="stable")
        first = np.concatenate([[True], groups[by_group][1:] != groups[by_group][:-1]])
        position = np.cumsum(first) - 1                               # group number, in `by_group` order
        group_of = np.empty_like(position)
        group_of[by_group] = position
        leaders = []
        for score in scores[:2]:                                      # equal weights, users-heavy: enough, as
                                                                      # `_fronts_by_group` finishes cheaply
            ranked = score[by_group]
            top = np.flatnonzero(ranked == np.maximum.reduceat(ranked, np.flatnonzero(first))[position])
            leader = np.empty(int(position[-1]) + 1, dtype=np.int64)
            leader[position[top]] = by_group[top]
            leaders.append(leader[group_of])
    beaten = np.zeros(cols.shape[1], dtype=bool)
    for mine in leaders:
        at_most = np.logical_and.reduce([col <= col[mine] for col in cols])
        same = np.logical_and.reduce([col == col[mine] for col in cols])
        beaten |= at_most & ~same
    return beaten


def _node_type_codes(units: Sequence[U]):
    """One int64 code per unit, equal exactly when the units' `sku` (node type) is equal: the
    strings' hashes (cached on each string, so one C-level pass), checked to be distinct across the
    distinct SKUs; on a collision, the SKUs' ranks in sorted order instead."""
    import numpy as np

    skus = list(map(attrgetter("sku"), units))
    distinct = set(skus)
    if len({hash(s) for s in distinct}) == len(distinct):
        return np.fromiter(map(hash, skus), dtype=np.int64, count=len(skus))
    rank = {s: i for i, s in enumerate(sorted(distinct))}
    return np.fromiter(map(rank.__getitem__, skus), dtype=np.int64, count=len(skus))


def _order(rows):
    """Row indices by cost, power, nodes, most users, then the other columns (larger first), so that
    a row that dominates another comes before it (dominance is ≥ in every column, and a
    lexicographic order over the columns respects it). Identical rows keep their input order;
    `_first_by_tie_key` then picks which of them stays."""
    import numpy as np

    rest = tuple(-rows[:, c] for c in range(rows.shape[1] - 1, 3, -1))
    return np.lexsort((*rest, -rows[:, 0], -rows[:, 3], -rows[:, 2], -rows[:, 1]))   # the last key sorts first


def _tie_key(unit) -> object:
    """The unit's `tie_key` when its class has one, else its id."""
    return unit.tie_key if hasattr(type(unit), "tie_key") else unit.id


def _first_by_tie_key(front, order, rows, units: Sequence[U], groups=None):
    """`front` (row indices kept by `_front` or `_fronts_by_group`) with each kept row replaced by
    the first by `tie_key` of the rows identical to it (of its node type, when `groups` is given).

    Of identical rows the front keeps the first in `order`, i.e. in input order; asking every unit
    for its tie key would cost more than the rest of the pruning, so only the identical runs of the
    kept rows are looked at (adjacent in `order`, since it sorts on every column)."""
    import numpy as np

    ranked = rows[order]
    same = np.all(ranked[1:] == ranked[:-1], axis=1)
    if not same.any():
        return front
    run = np.cumsum(np.concatenate([[True], ~same]))              # run number of each position in `order`
    position = np.empty(len(rows), dtype=np.int64)                 # `order` may leave rows out
    position[order] = np.arange(len(order))
    starts = np.flatnonzero(np.concatenate([[True], ~same, [True]]))
    out = front.copy()
    for j, i in enumerate(front.tolist()):
        r = run[position[i]] - 1
        lo, hi = starts[r], starts[r + 1]
        if hi - lo < 2:
            continue
        members = order[lo:hi]
        if groups is not None:
            members = members[groups[members] == groups[i]]
        out[j] = min(members.tolist(), key=lambda m: _tie_key(units[m]))
    return out


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


def _fronts_by_group(rows, order, groups):
    """Indices (into `rows`) of the rows no earlier row OF THE SAME GROUP dominates, `order` being the
    dominance order of `_order` and `groups` each row's node type as an integer code.

    All node types at once, in rounds: the first row still in play of each node type is kept (no
    earlier row of its type dominates it: earlier rows were kept and compared with it, or dropped
    because a kept row dominates them, which would then dominate it too), and every row its type's
    first row dominates leaves play. Each round costs one comparison per row in play, and there are
    as many rounds as the largest front of one node type (a handful when demand is capped)."""
    import numpy as np

    cols = np.ascontiguousarray(rows.T)                               # see _beaten_by_leaders
    group = groups[order]
    by_group = np.argsort(group, kind="stable")                    # grouped, dominance order kept inside
    members, group = order[by_group], group[by_group]
    kept = []
    while len(members):
        first = np.concatenate([[True], group[1:] != group[:-1]])
        kept.append(members[first])
        leader = members[np.maximum.accumulate(np.where(first, np.arange(len(members)), 0))]
        beaten = first | np.logical_and.reduce([col[leader] >= col[members] for col in cols])
        members, group = members[~beaten], group[~beaten]
    return np.concatenate(kept)


def _node_types_kept(rows, units: Sequence[U]):
    """Under a cap on distinct SKUs: a mask over `rows` (units × criteria, larger is better, as in
    `_columns`; `units`: the units of the rows) dropping a whole node
    type when every one of its units is dominated by some unit of one other node type. Moving all of
    its replicas there keeps every limit (the SKU count cannot grow) and no objective gets worse. Of
    two node types that dominate each other, the one with the smaller SKU id stays."""
    import numpy as np

    if not len(rows):  # every unit broke a cap (a budget no single unit meets): nothing to compare
        return np.ones(0, dtype=bool)
    skus = [u.sku for u in units]
    rank = {s: i for i, s in enumerate(sorted(set(skus)))}
    code = np.fromiter(map(rank.__getitem__, skus), dtype=np.int64, count=len(skus))
    dom = np.logical_and.reduce([c[:, None] >= c[None, :] for c in rows.T])   # dom[v, u]: v dominates u
    order = np.argsort(code, kind="stable")                            # units grouped by node type, in SKU order
    starts = np.flatnonzero(np.concatenate([[True], code[order][1:] != code[order][:-1]]))
    dom = dom[order][:, order]
    covered = np.logical_or.reduceat(dom, starts, axis=0)             # [b, u]: a unit of b dominates u
    by = np.logical_and.reduceat(covered, starts, axis=1).T           # [a, b]: b covers all of a
    n = len(starts)
    before = np.tri(n, k=-1, dtype=bool)                               # [a, b]: b's SKU id sorts before a's
    dropped = (by & ~np.eye(n, dtype=bool) & (~by.T | before)).any(axis=1)
    return ~dropped[np.searchsorted(starts, np.argsort(order), side="right") - 1]

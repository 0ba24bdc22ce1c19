"""Integers for the solver, in one place.

CP-SAT takes integer coefficients only. Money is converted into the problem's
currency once per node type and held as an exact `Fraction`; the solver sees it
in whole currency units when every node price is a whole number, else in cents
(`money_scale`). Power is in watts, users and nodes are counts. Limits are
floored, demand is ceiled, so a rounding slip can only make a plan look worse,
never let an infeasible one through; the checker recomputes totals exactly.

Range: users ≤ 10^6, budgets ≤ 10^12 (× 100 in cents = 10^14), replicas of a
unit ≤ 10^6, offer prices ≤ 10^12. These limits alone do not keep every sum inside
64 bits: 10^6 one-user replicas at 10^12 (in cents: 10^14) each reach 10^20. So the
model checks each of its terms before CP-SAT sees it (`check_range`, called by
`PlanModel`): the largest value a term can take over the variables' domains must stay
below INT_LIMIT = 2^62, else the problem is refused as bad input (exit 2) with the
term, its reach and what to lower. Hence every linear expression CP-SAT is given
stays below 2^62 (half of int64, leaving room for the weighted objective's sums), and
CP-SAT never rejects a model for possible overflow.
"""

from __future__ import annotations

import math
from fractions import Fraction

from catalog.errors import ProblemError

__all__ = ["money_scale", "money_to_int", "money_from_int", "exact", "check_range", "INT_LIMIT"]

INT_LIMIT = 2**62


def exact(value: float | int | str) -> Fraction:
    """A YAML float as the decimal the user wrote (0.1 stays 1/10, not 0.1000000000000000055)."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def money_scale(prices: list[Fraction]) -> int:
    """1 if every price is a whole number of currency units, else 100 (cents)."""
    return 1 if all(p.denominator == 1 for p in prices) else 100


def money_to_int(amount: Fraction, scale: int, *, rounding: str = "nearest") -> int:
    """`amount` in solver units; `rounding` is nearest (prices), floor (caps) or ceil."""
    scaled = amount * scale
    if rounding == "floor":
        return math.floor(scaled)
    if rounding == "ceil":
        return math.ceil(scaled)
    return math.floor(scaled + Fraction(1, 2))


def money_from_int(value: int, scale: int) -> Fraction:
    return Fraction(value, scale)


_TERM_WORDS = {"cost": "cost (in the smallest money unit the solver uses)", "tco": "total cost of ownership "
               "(in the smallest money unit the solver uses)", "power": "power draw in watts",
               "users": "users served", "nodes": "node count"}


def check_range(term: str, coefs: dict[str, int], bounds: dict[str, int]) -> None:
    """Raise ProblemError if Σ |coef_k| × bound_k reaches INT_LIMIT (CP-SAT would reject the model).

    `coefs` maps a variable to its coefficient in `term`, `bounds` a variable to its largest value.
    """
    reach = sum(abs(c) * bounds[k] for k, c in coefs.items())
    if reach < INT_LIMIT:
        return
    worst = max(coefs, key=lambda k: abs(coefs[k]) * bounds[k])
    what = _TERM_WORDS.get(term, term.replace("gpus:", "accelerators of kind "))
    raise ProblemError(
        f"the numbers are too large for the solver: the {what} of a plan could reach {reach:.3g}, beyond the "
        f"2^62 ≈ {INT_LIMIT:.3g} its 64-bit integers carry (e.g. up to {bounds[worst]:,} × '{worst}' at "
        f"{abs(coefs[worst]):,} each). Lower workload.concurrent_users (--users) or the offer prices, or bound "
        f"the plan with constraints.budget (--budget), max_nodes or max_power_w.")

"""Integers for the solver, in one place.

CP-SAT takes integer coefficients only. Money is converted into the problem's
currency once per node type and held as an exact `Fraction`; the solver sees it
in whole currency units when every node price is a whole number, else in cents
(`money_scale`). Power is in watts, users and nodes are counts. Limits are
floored, demand is ceiled, so a rounding slip can only make a plan look worse,
never let an infeasible one through; the checker recomputes totals exactly.

Range: users ≤ 10^6, budgets ≤ 10^12 (× 100 in cents = 10^14), replicas of a
unit ≤ 10^6; every linear expression stays below 2^62.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["money_scale", "money_to_int", "money_from_int", "exact", "INT_LIMIT"]

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

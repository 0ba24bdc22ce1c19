"""`limits_for(problem, scale)`: a problem's limits as solver integers.

Its own module so that solve.py and explain.py can both use it without importing each other.
"""

from __future__ import annotations

import math

from .model import Limits
from .problem import Problem
from .scaling import exact, money_to_int

__all__ = ["limits_for"]


def limits_for(problem: Problem, scale: int) -> Limits:
    """The problem's limits as solver integers (caps floored, so rounding never lets a plan through)."""
    c, w = problem.constraints, problem.workload
    power_cap = c.max_power_w
    if c.max_site_kw is not None:  # the facility draws the IT equipment's maximum × PUE
        site_cap = math.floor(exact(c.max_site_kw) * 1000 / exact(problem.tco.pue))
        power_cap = site_cap if power_cap is None else min(power_cap, site_cap)
    # Maximizing users still needs at least one user served: an empty plan is no answer.
    demand = 1 if problem.objective == "users" else (w.demand if w.demand is not None else 1)
    return Limits(
        demand=demand,
        max_nodes=c.max_nodes,
        budget=None if c.budget is None else money_to_int(exact(c.budget), scale, rounding="floor"),
        max_power_w=power_cap,
        stock=dict(c.stock),
        max_skus=c.max_skus,
        spare=c.spare_nodes > 0,
        max_racks=c.max_racks,
    )

"""Total cost of ownership of a plan: capital cost + energy + hosting over a horizon.

    energy  = draw (W) × PUE × years × 8,760 h / 1,000 × price per kWh, where draw is a node's
              typical draw where its source states one, else its maximum × load factor
    hosting = (nodes × hosting per node and year + racks × hosting per rack and year) × years

All in the problem's currency, exact (`Fraction`); the solver sees them scaled
like every other amount of money (optimizer/scaling.py), rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from catalog.errors import ProblemError

from .problem import Problem
from .scaling import exact

__all__ = ["TcoRates", "tco_rates", "HOURS_PER_YEAR"]

HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class TcoRates:
    """Money per watt of rated draw and per node over the horizon."""

    per_watt: Fraction
    per_node: Fraction
    years: float
    price_per_kwh: float
    pue: float

    per_typical_watt: Fraction = Fraction(0)   # as per_watt, without the load factor

    def energy(self, power_w: int, typical_w: int | None = None) -> Fraction:
        """Energy cost of a draw over the horizon: `typical_w` as stated, else `power_w` (maximum) × load factor."""
        if typical_w is not None:
            return self.per_typical_watt * typical_w
        return self.per_watt * power_w

    per_rack: Fraction = Fraction(0)

    def hosting(self, nodes: int, racks: int = 0) -> Fraction:
        return self.per_node * nodes + self.per_rack * racks


def tco_rates(problem: Problem, currency: str) -> TcoRates | None:
    """The problem's TCO rates, or None when no electricity price is known for `currency`."""
    t = problem.tco
    price = t.price_per_kwh(currency)
    if price is None:
        if problem.objective == "tco":
            raise ProblemError(f"{problem.where('tco', 'electricity_per_kwh')}: objective 'tco' needs "
                               f"tco.electricity_per_kwh in {currency} (defaults exist for USD, CNY, EUR).")
        return None
    kwh_per_typical_watt = exact(t.pue) * exact(t.years) * HOURS_PER_YEAR / 1000
    kwh_per_watt = exact(t.load_factor) * kwh_per_typical_watt
    return TcoRates(per_watt=kwh_per_watt * exact(price), per_node=exact(t.hosting_per_node_year) * exact(t.years),
                    years=t.years, price_per_kwh=price, pue=t.pue, per_typical_watt=kwh_per_typical_watt * exact(price),
                    per_rack=exact(t.hosting_per_rack_year) * exact(t.years))

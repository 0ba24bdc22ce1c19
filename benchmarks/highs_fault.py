"""A HiGHS presolve fault found by benchmarks/scaling.py, kept as a reproducible case.

    python -m benchmarks.highs_fault        (or: python benchmarks/highs_fault.py)

benchmarks/highs_presolve_fault.mps is the third lexicographic stage of the scaling instance
`python -m benchmarks.scaling --seed 1 --only 2000:10000:power` (minimise nodes subject to
demand ≥ 10,000 users, cost ≤ its optimum, power ≤ its optimum), shrunk by deleting columns and
rows for as long as the fault stayed: 44 integer columns, 3 rows. With presolve on, HiGHS 1.16.0
reports it infeasible; with presolve off it finds a plan of 190 nodes, which this script checks
row by row in exact integer arithmetic (the right-hand sides are integers + 0.5, so no
tolerance is involved). The scaling benchmark re-solves such a stage with presolve off and says
so in the row's note. Prints; asserts nothing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import highspy

MPS = Path(__file__).resolve().parent / "highs_presolve_fault.mps"


def solve(presolve: str) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("presolve", presolve)
    h.readModel(str(MPS))
    h.run()
    return h


def exact_check(h: highspy.Highs, x: list[int]) -> list[str]:
    """Each row's activity at integer x against its bounds, in exact arithmetic."""
    lp = h.getLp()
    out = []
    a = lp.a_matrix_
    activity = [Fraction(0)] * lp.num_row_
    for j in range(lp.num_col_):
        assert 0 <= x[j] <= lp.col_upper_[j], f"column {j} out of bounds"
        for k in range(a.start_[j], a.start_[j + 1]):
            activity[a.index_[k]] += Fraction(a.value_[k]) * x[j]
    for i in range(lp.num_row_):
        lo, up = Fraction(lp.row_lower_[i]) if lp.row_lower_[i] > -1e300 else None, \
            Fraction(lp.row_upper_[i]) if lp.row_upper_[i] < 1e300 else None
        ok = (lo is None or activity[i] >= lo) and (up is None or activity[i] <= up)
        out.append(f"row {i}: {float(lo) if lo is not None else '-inf'} <= {float(activity[i])} "
                   f"<= {float(up) if up is not None else 'inf'}  {'ok' if ok else 'VIOLATED'}")
    return out


def main() -> None:
    print(f"HiGHS {highspy.Highs().version()}, model {MPS.name}")
    on = solve("on")
    print(f"presolve on : {on.modelStatusToString(on.getModelStatus())}")
    off = solve("off")
    x = [int(round(v)) for v in off.getSolution().col_value]
    print(f"presolve off: {off.modelStatusToString(off.getModelStatus())}, objective "
          f"{off.getInfo().objective_function_value:g}, nonzero columns "
          f"{ {j: v for j, v in enumerate(x) if v} }")
    print("\n".join(exact_check(off, x)))


if __name__ == "__main__":
    main()

"""hwplan's library: problems, the sizing model, the CP-SAT optimizer, the plan checker.

Entry points are pure functions of a `Catalog` and a `Problem`:

    optimize(catalog, problem)                                -> Plan (optimal, checked)
    estimate(catalog, model=..., accelerator=..., gpus=...)   -> Estimate

This package never imports click and never prints; ortools and pandas are
imported only when a solve or an export needs them, and names here are imported
on first use.
"""

import importlib

_EXPORTS = {
    "optimize": "solve", "estimate": "estimator", "Estimate": "estimator", "check_plan": "check",
    "Problem": "problem", "load_problem": "problem", "problem_from_fields": "problem", "with_overrides": "problem",
    "Plan": "plan", "PlanLine": "plan", "Totals": "plan", "SolveOptions": "model",
}
_ERRORS = ("HwplanError", "InputError", "CatalogError", "ProblemError", "NoPlanError", "InfeasibleError",
           "SolverTimeoutError")

__all__ = [*_EXPORTS, *_ERRORS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _ERRORS:
        return getattr(importlib.import_module("catalog.errors"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

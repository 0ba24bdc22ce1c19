"""A problem from command-line style flags: a problem file (or bundled name) with flags over it,
or a problem made of flags alone.

The CLI parses the flags and hands each over as (flag, problem field, value); this module owns
what a value means: unit conversions (`--max-power-kw` is kW, the field `max_power_w` is W),
flags whose "unset" is not None (`--eager` off, `--network-prices none`), repeated flags as lists,
and the rule that a problem needs a file or at least `--model`. Pure: reads the problem file,
prints nothing. Errors are `catalog.errors` exceptions naming the flag or file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from catalog.errors import HwplanError, ProblemError, did_you_mean

from .problem import Problem, load_problem, problem_from_fields, with_overrides

__all__ = ["build_problem", "flag_value", "resolve_problem_path"]

Field = tuple[str, ...]          # a problem field, e.g. ("constraints", "max_power_w")
# The two ways to state demand (optimizer/problem.py Workload): each flag names the field it replaces.
_DEMANDS = {("workload", "concurrent_users"): ("workload", "request_rate"),
            ("workload", "request_rate"): ("workload", "concurrent_users")}


def resolve_problem_path(name: str) -> str:
    """A path; else the bundled problem of that name ('deepseek-r1-30-users' or 'problems/x.yaml').
    Raises HwplanError naming the bundled problems when there is neither."""
    if Path(name).exists():
        return name
    from problems import bundled_problem_path, bundled_problems

    found = bundled_problem_path(Path(name).name)
    if found is None:
        names = [p.stem for p in bundled_problems()]
        raise HwplanError(f"{name}: no such problem file, and no bundled problem of that name"
                          f"{did_you_mean(Path(name).stem, names)} (bundled: {', '.join(names)}).")
    return str(found)


def flag_value(flag: str, value: Any) -> Any:
    """A flag's value as the problem field stores it (None: the flag was not given).

    Repeated flags give lists (none given: None); `--eager` off is "not given" (the engine's
    default stays); `--network-prices none` is an empty list (leave the network unpriced);
    `--max-power-kw` in kW becomes watts (the field is `max_power_w`), rounded to the watt.
    """
    if isinstance(value, (tuple, list)):
        value = list(value) or None
    if flag == "--eager" and not value:
        return None
    if flag == "--network-prices" and value == ["none"]:
        return []
    if flag == "--max-power-kw" and value is not None:
        if not math.isfinite(value) or abs(value) > 1e12:  # W must stay a finite integer (1e308 kW is inf W)
            raise ProblemError(f"--max-power-kw = {value:g}: give a finite number of kW, at most 10,000,000 "
                               f"(max_power_w ≤ 10^10 W).")
        return round(value * 1000)
    return value


# The speculative-decoding flags: --speculative names the method, the other two tune it.
_SPEC_METHOD = ("workload", "speculative", "method")
_SPEC_TUNING = (("workload", "speculative", "tokens"), ("workload", "speculative", "acceptance"))


def _check_draft_flags(overrides: dict[Field, tuple[str, Any]], base: Problem | None) -> None:
    """HwplanError for --spec-tokens or --spec-acceptance with no speculative decoding to tune: neither
    --speculative nor a problem file's `workload.speculative` (as `hwplan estimate` refuses them)."""
    if overrides.get(_SPEC_METHOD, ("", None))[1] is not None or (base is not None and base.workload.speculative):
        return
    for field in _SPEC_TUNING:
        flag, value = overrides.get(field, ("", None))
        if value is not None:
            raise HwplanError(f"{flag} = {value:g}: it sets speculative decoding; give --speculative "
                              f"mtp|eagle|ngram with it (or a problem whose workload.speculative it tunes), or "
                              f"leave {flag} out.")


def build_problem(problem: str | None, flags: Iterable[tuple[str, Field, Any]],
                  model_from_config: str | None = None) -> Problem:
    """The problem file (or bundled name) `problem` with `flags` applied, or, without a file, a problem
    made of the flags alone; each flag is (flag name, problem field, raw value or None).

    `model_from_config` is the id of a model imported from `--model-config`: it is the model unless
    `--model` names one. `--users` over a file that gives `workload.request_rate` replaces it, and
    `--request-rate` over one that gives `workload.concurrent_users` likewise (the workload takes one
    demand). Raises HwplanError when there is no file and no model, when both demand flags are given, or when
    --spec-tokens or --spec-acceptance has no speculative decoding to tune (`_check_draft_flags`); ProblemError
    (naming the flag) when a value is invalid.
    """
    overrides = {field: (flag, flag_value(flag, value)) for flag, field, value in flags}
    model = overrides.get(("model",), ("--model", None))
    if model_from_config and model[1] is None:
        overrides[("model",)] = ("--model-config", model_from_config)
    demands = [(field, flag, value) for field, (flag, value) in overrides.items()
               if field in _DEMANDS and value is not None]
    if len(demands) > 1:
        raise HwplanError(f"{' and '.join(f'{flag} = {value:g}' for _, flag, value in demands)}: give one demand, "
                          f"concurrent users or requests per second, not both.")
    base = load_problem(resolve_problem_path(problem)) if problem else None
    _check_draft_flags(overrides, base)
    if base is not None:
        if demands:   # a demand flag replaces the file's demand of the other kind
            other = _DEMANDS[demands[0][0]][-1]
            base = base.model_copy(update={"workload": base.workload.model_copy(update={other: None})})
        return with_overrides(base, overrides)
    if overrides.get(("model",), ("", None))[1] is None:
        raise HwplanError("give a PROBLEM file (or a bundled problem's name), or at least --model and --users "
                          "(or --request-rate) (see --help).")
    fields: dict = {"workload": {}}
    names = {}
    for field, (flag, value) in overrides.items():
        if value is None:
            continue
        target = fields
        for key in field[:-1]:
            target = target.setdefault(key, {})
        target[field[-1]] = value
        names[field] = flag
    return problem_from_fields(fields, names)

"""What each command-line command asks of the library, from its parsed flags.

The CLI (cli.py) parses flags, calls one of these and renders the answer; the rules about what the
flags mean live here: a time limit must be positive, a sweep takes a range on exactly one of
--users/--budget, `estimate --concurrency` is a whole number or 'max', a shortlist is either K
alternatives, the best plan per maker or the best plan per seller. Problems themselves are built
from flags by optimizer/flags.py. Errors are `catalog.errors` exceptions naming the flag.

    options = solve_options(30.0)
    users, budgets, fixed_users, fixed_budget = sweep_values("16:64:16", None)
    plans, names, heading = alternatives(catalog, problem, options, k=5, distinct="sku")
    est = estimate_from_flags(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, concurrency="30")
"""

from __future__ import annotations

import math
from typing import Any

from catalog import Catalog
from catalog.errors import HwplanError

from .model import SolveOptions
from .plan import Plan
from .problem import Problem

__all__ = ["solve_options", "sweep_values", "check_workers", "alternatives", "estimate_from_flags",
           "parse_concurrency"]


def solve_options(time_limit: float) -> SolveOptions:
    """Solver options for `--time-limit` seconds per solve; HwplanError unless it is a positive number."""
    if not math.isfinite(time_limit) or time_limit <= 0:
        raise HwplanError(f"--time-limit = {time_limit}: give a positive number of seconds.")
    return SolveOptions(time_limit_s=time_limit)


def _sweep_value(text: str | None, flag: str, kind):
    """A sweep flag: (range, None) for START:STOP:STEP or a,b,c; (None, fixed value) for one number."""
    from .search import parse_range

    if text is None:
        return None, None
    if ":" in text or "," in text:
        return parse_range(text, flag), None
    try:
        return None, kind(text)
    except ValueError:
        raise HwplanError(f"{flag} = '{text}': give a number, or START:STOP:STEP to sweep it.") from None


def sweep_values(users: str | None, budget: str | None) -> tuple[list | None, list | None, int | None, float | None]:
    """(users to sweep, budgets to sweep, fixed user count, fixed budget) from the text of --users and
    --budget: exactly one of them is a range (START:STOP:STEP or a,b,c); the other may be one number
    (e.g. a budget cap while sweeping users). HwplanError naming the flag otherwise."""
    user_range, fixed_users = _sweep_value(users, "--users", int)
    budget_range, fixed_budget = _sweep_value(budget, "--budget", float)
    if (user_range is None) == (budget_range is None):
        raise HwplanError("give a range to exactly one of --users or --budget (START:STOP:STEP or a,b,c).")
    return user_range, budget_range, fixed_users, fixed_budget


def check_workers(workers: int | None) -> None:
    """`--workers`, when given, is at least 1."""
    if workers is not None and workers < 1:
        raise HwplanError(f"--workers = {workers}: give at least 1.")


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def alternatives(catalog: Catalog, problem: Problem, options: SolveOptions, k: int = 5, distinct: str = "sku",
                 per_vendor: bool = False, per_seller: bool = False) -> tuple[list[Plan], list[str] | None, str]:
    """(plans, a name per plan or None, a heading) for `shortlist`: up to `k` plans no two of which share
    what `distinct` names (sku, accelerator, vendor or platform), or the best plan per accelerator maker
    (`per_vendor`, named by maker), or per seller (`per_seller`, named by seller). HwplanError when both
    `per_vendor` and `per_seller` are asked; the searches raise InfeasibleError or SolverTimeoutError."""
    from .render import objective_phrase
    from .search import per_seller as best_per_seller, per_vendor as best_per_vendor, shortlist

    if per_vendor and per_seller:
        raise HwplanError("give --per-vendor or --per-seller, not both.")
    if per_vendor:
        plans = best_per_vendor(catalog, problem, options)
        return (plans, [sorted({line.maker for line in p.lines})[0] for p in plans],
                f"{problem.name}: the best plan per accelerator maker")
    if per_seller:
        found = best_per_seller(catalog, problem, options)
        names = [s for s, _ in found]
        return [p for _, p in found], names, f"{problem.name}: the best plan per seller ({', '.join(names)})"
    plans = shortlist(catalog, problem, k, distinct, options)
    shared = "a node type" if distinct == "sku" else _article(distinct)
    return (plans, None, f"{problem.name}: {len(plans)} alternative{'s' * (len(plans) != 1)}, no two sharing "
                         f"{shared}, {objective_phrase(problem.objective)}")


def parse_concurrency(text: str | None) -> int | str | None:
    """`--concurrency`: None (not given), 'max' (what memory holds) or a whole number of at least 1."""
    if text is None or text == "max":
        return text
    try:
        value = int(text)
    except ValueError:
        raise HwplanError(f"--concurrency = '{text}': give a whole number or 'max'.") from None
    if value < 1:
        raise HwplanError(f"--concurrency = {value}: give at least 1.")
    return value


def _speculative(method: str | None, tokens: int | None, acceptance: float | None):
    """A serving.Speculative from --speculative, --spec-tokens (default 1) and --spec-acceptance; None without
    --speculative, and HwplanError when --spec-tokens or --spec-acceptance come without it."""
    from .serving import Speculative

    if method is None:
        for flag, value in (("--spec-tokens", tokens), ("--spec-acceptance", acceptance)):
            if value is not None:
                raise HwplanError(f"{flag} = {value}: it sets speculative decoding; give --speculative "
                                  f"mtp|eagle|ngram with it, or leave {flag} out.")
        return None
    # The flags' own ranges, named by flag (problem.SpeculativeDecoding holds the same for a problem file).
    if tokens is not None and not 1 <= tokens <= 16:
        raise HwplanError(f"--spec-tokens = {tokens}: draft between 1 and 16 tokens per step.")
    if acceptance is not None and not 0 < acceptance <= 1:   # NaN fails the comparison too
        raise HwplanError(f"--spec-acceptance = {acceptance:g}: the acceptance of each draft token is a "
                          "probability in (0, 1].")
    return Speculative(method, 1 if tokens is None else tokens, acceptance)


def estimate_from_flags(catalog: Catalog, *, model: str | None, concurrency: str | None = None,
                        input_tokens: int = 2000, output_tokens: int = 1000, speculative: str | None = None,
                        spec_tokens: int | None = None, spec_acceptance: float | None = None,
                        serving: str = "aggregated",
                        min_tokens_per_s: float = 10.0, **settings: Any):
    """`estimate`'s answer: one replica sized by optimizer.estimate from the flags (`model` may be the id
    of a model imported with --model-config; `speculative` a method name with `spec_tokens` draft tokens
    and `spec_acceptance`; `settings` the other keyword arguments of optimizer.estimate). With `serving`
    'disaggregated' it also splits the same accelerators into a prefill and a decode pool, each user at
    ≥ `min_tokens_per_s` (optimizer/rackscale.py `split_summary`). HwplanError for a missing model, a
    concurrency that is not a whole number or 'max', lengths below one token, or a disaggregated split asked
    with speculative decoding, a request rate or a speed target not above 0."""
    import dataclasses

    from .estimator import estimate

    conc = parse_concurrency(concurrency)
    for flag, value in (("--input-tokens", input_tokens), ("--output-tokens", output_tokens)):
        if value < 1:
            raise HwplanError(f"{flag} = {value}: give at least 1 token.")
    if model is None:
        raise HwplanError("give --model (a catalog id) or --model-config (a model's Hugging Face folder).")
    if serving == "disaggregated":
        if settings.get("role") is not None:
            raise HwplanError(f"--role = {settings['role']} with --serving disaggregated: --role sizes one pool's "
                              f"replica, --serving disaggregated splits the accelerators into both pools; give one.")
        for flag, value in (("--speculative", speculative), ("--request-rate", settings.get("request_rate"))):
            if value is not None:
                raise HwplanError(f"{flag} = {value}: --serving disaggregated splits the accelerators for a closed "
                                  f"loop without speculative decoding; drop {flag} or use --serving aggregated.")
        if not min_tokens_per_s > 0:
            raise HwplanError(f"--min-tokens-per-s = {min_tokens_per_s}: give a decode speed above 0 tok/s.")
    spec = _speculative(speculative, spec_tokens, spec_acceptance)
    est = estimate(catalog, model=model, input_tokens=input_tokens, output_tokens=output_tokens, concurrency=conc,
                   speculative=spec, **settings)
    if serving != "disaggregated" or not est.fits:
        return est
    from .rackscale import split_summary

    split = split_summary(catalog, model=est.model, precision=est.precision, accelerator=est.accelerator,
                          platform=est.platform, engine=est.engine, gpus_per_node=est.gpus // est.nodes,
                          nodes=est.nodes, kv_dtype=est.kv_dtype, min_tokens_per_s=min_tokens_per_s,
                          input_tokens=input_tokens, output_tokens=output_tokens,
                          max_model_len=est.engine_settings.get("max_model_len"))
    note = [] if split is not None else [f"--serving disaggregated: no prefill/decode split of these {est.gpus} "
                                         f"accelerators keeps a user at {min_tokens_per_s:g} tok/s"]
    return dataclasses.replace(est, disaggregated=split, notes=est.notes + note)

"""hwplan's command line: parse, call the library, render. No domain logic lives here.

Exit codes: 0 an answer, 1 no plan satisfies the limits, 2 bad input or usage.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import click

from catalog.errors import HwplanError, InfeasibleError

FORMATS = ("table", "json", "csv", "md")
CATALOG_SECTIONS = ("accelerators", "platforms", "models", "prices", "engines")


# -- shared plumbing --------------------------------------------------------------
def write_output(text: str, output: str | None, force: bool) -> None:
    """Print `text`, or write it to `output` atomically (temp file, then rename)."""
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    if path.exists() and not force:
        raise HwplanError(f"{output}: the file exists; pass --force to replace it.")
    if not path.parent.exists():
        raise HwplanError(f"{output}: the folder {path.parent} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    click.echo(f"wrote {output}", err=True)


def handle_errors(fn):
    """Turn hwplan's errors into a one-paragraph message and its exit code (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        fmt = kwargs.get("fmt")
        try:
            return fn(*args, **kwargs)
        except InfeasibleError as exc:
            if debug:
                raise
            from optimizer.render import render_infeasible

            if fmt == "json":
                write_output(render_infeasible(exc.explanation, "json"), kwargs.get("output"), kwargs.get("force", False))
            click.echo(f"No plan: {exc}", err=True)
            sys.exit(exc.exit_code)
        except HwplanError as exc:
            if debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def common_options(fn):
    fn = click.option("--debug", is_flag=True, help="Show the full traceback on errors.")(fn)
    fn = click.option("--force", is_flag=True, help="Replace the --output file if it exists.")(fn)
    fn = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                      help="Write the result to FILE (atomically) instead of the terminal.")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                      help="table for people, json for scripts, csv or md for documents.")(fn)
    fn = click.option("--catalog", "catalog_files", multiple=True, type=click.Path(dir_okay=False),
                      help="Extra catalog or price-list YAML; entries override the bundled ones by id. Repeatable.")(fn)
    return fn


def load_catalog(files):
    from catalog import load_catalog as _load

    return _load(tuple(files))


def resolve_problem_path(name: str) -> str:
    """A path; else the bundled problem of that name ('deepseek-r1-30-users' or 'problems/x.yaml')."""
    if Path(name).exists():
        return name
    from catalog.errors import did_you_mean
    from problems import bundled_problem_path, bundled_problems

    found = bundled_problem_path(Path(name).name)
    if found is None:
        names = [p.stem for p in bundled_problems()]
        raise HwplanError(f"{name}: no such problem file, and no bundled problem of that name"
                          f"{did_you_mean(Path(name).stem, names)} (bundled: {', '.join(names)}).")
    return str(found)


# -- commands ------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hwplan")
def main():
    """Plan the cheapest cluster that serves a large language model to N users.

    \b
    Start with a bundled problem:
      hwplan solve problems/deepseek-r1-seed-any-vendor.yaml
      hwplan solve --model deepseek-r1 --users 30 --prices seed-2025-02
      hwplan estimate --model deepseek-r1 --accelerator h200-sxm --gpus 8
      hwplan catalog accelerators
    """


@main.command()
@click.argument("problem", required=False)
@click.option("--model", help="Model id (see `hwplan catalog models`).")
@click.option("--users", type=int, help="Concurrent users to serve.")
@click.option("--input-tokens", type=int, help="Prompt tokens per request [default 2000].")
@click.option("--output-tokens", type=int, help="Generated tokens per request [default 1000].")
@click.option("--min-tokens-per-s", type=float, help="Decode speed each user must see.")
@click.option("--max-ttft-s", type=float, help="Longest acceptable time to first token, seconds.")
@click.option("--kv-reserve-gb", type=float, help="Fixed KV-cache reserve per replica (the seed's rule of thumb).")
@click.option("--precision", help="auto, or a precision id of the model (fp8, bf16, int4, q4_k_m, ...).")
@click.option("--kv-dtype", help="KV-cache datatype: auto (bf16), fp8, ...")
@click.option("--engine", help="auto, vllm, sglang, trtllm or llama.cpp.")
@click.option("--objective", type=click.Choice(["cost", "power", "tco", "users"]),
              help="What to minimize (users: maximize users under the limits).")
@click.option("--budget", type=float, help="Budget cap, in the problem's currency.")
@click.option("--currency", help="Currency of costs and budget (ISO code, e.g. CNY).")
@click.option("--prices", help="Price list id (see `hwplan catalog prices`).")
@click.option("--max-nodes", type=int, help="Most nodes the plan may use.")
@click.option("--max-power-kw", type=float, help="Power cap of the whole plan, kW.")
@click.option("--vendor", "vendors", multiple=True, help="Allowed accelerator maker (repeatable).")
@click.option("--accelerator", "accelerators", multiple=True, help="Allowed accelerator id (repeatable).")
@click.option("--time-limit", type=float, default=30.0, show_default=True, help="Solver time limit, seconds.")
@common_options
@handle_errors
def solve(problem, model, users, input_tokens, output_tokens, min_tokens_per_s, max_ttft_s, kv_reserve_gb,
          precision, kv_dtype, engine, objective, budget, currency, prices, max_nodes, max_power_kw, vendors,
          accelerators, time_limit, catalog_files, fmt, output, force, debug):
    """Find the optimal cluster for a problem file or for flags.

    Flags given beside PROBLEM override its fields. PROBLEM is a path or the name of
    a bundled problem.

    \b
    Examples:
      hwplan solve problems/deepseek-r1-seed-any-vendor.yaml
      hwplan solve problems/deepseek-r1-seed-nvidia.yaml --format json
      hwplan solve --model deepseek-r1 --users 30 --prices seed-2025-02 --vendor nvidia
    """
    from optimizer import SolveOptions, load_problem, optimize, problem_from_fields, with_overrides
    from optimizer.render import render_plan

    overrides = {
        ("model",): ("--model", model),
        ("workload", "concurrent_users"): ("--users", users),
        ("workload", "input_tokens"): ("--input-tokens", input_tokens),
        ("workload", "output_tokens"): ("--output-tokens", output_tokens),
        ("workload", "min_tokens_per_s"): ("--min-tokens-per-s", min_tokens_per_s),
        ("workload", "max_ttft_s"): ("--max-ttft-s", max_ttft_s),
        ("workload", "kv_reserve_gb"): ("--kv-reserve-gb", kv_reserve_gb),
        ("precision",): ("--precision", precision),
        ("kv_dtype",): ("--kv-dtype", kv_dtype),
        ("engine",): ("--engine", engine),
        ("objective",): ("--objective", objective),
        ("constraints", "budget"): ("--budget", budget),
        ("constraints", "currency"): ("--currency", currency),
        ("prices",): ("--prices", prices),
        ("constraints", "max_nodes"): ("--max-nodes", max_nodes),
        ("constraints", "max_power_w"): ("--max-power-kw", None if max_power_kw is None else round(max_power_kw * 1000)),
        ("constraints", "vendors"): ("--vendor", list(vendors) or None),
        ("constraints", "accelerators"): ("--accelerator", list(accelerators) or None),
    }
    if time_limit <= 0:
        raise HwplanError(f"--time-limit = {time_limit}: give a positive number of seconds.")
    if problem:
        prob = with_overrides(load_problem(resolve_problem_path(problem)), overrides)
    else:
        if not model or (users is None and kv_reserve_gb is None):
            raise HwplanError("give a PROBLEM file, or at least --model and --users (see `hwplan solve --help`).")
        fields: dict = {"workload": {}}
        flags = {}
        for loc, (flag, value) in overrides.items():
            if value is None:
                continue
            target = fields
            for key in loc[:-1]:
                target = target.setdefault(key, {})
            target[loc[-1]] = value
            flags[loc] = flag
        prob = problem_from_fields(fields, flags)
    catalog = load_catalog(catalog_files)
    plan = optimize(catalog, prob, SolveOptions(time_limit_s=time_limit))
    if plan.status != "optimal":
        click.echo(f"Warning: the time limit ran out; this plan is feasible, not proven optimal "
                   f"(gap {plan.solver.gap:.2%}).", err=True)
    write_output(render_plan(plan, fmt), output, force)


@main.command()
@click.option("--model", required=True, help="Model id.")
@click.option("--accelerator", required=True, help="Accelerator id.")
@click.option("--gpus", type=int, required=True, help="Accelerators in the replica (all nodes together).")
@click.option("--nodes", type=int, default=1, show_default=True, help="Nodes the replica spans.")
@click.option("--precision", default="auto", show_default=True,
              help="auto (native, or bf16 where fp8 units are missing) or a precision id.")
@click.option("--kv-dtype", default="auto", show_default=True, help="KV-cache datatype (auto = bf16).")
@click.option("--engine", default="auto", show_default=True, help="vllm, sglang, trtllm, llama.cpp or auto.")
@click.option("--platform", help="Server platform id (default: one that takes the accelerator).")
@click.option("--dp-attention", is_flag=True, help="Data-parallel attention (MLA models): splits the latent cache.")
@click.option("--input-tokens", type=int, default=2000, show_default=True, help="Prompt tokens per request.")
@click.option("--output-tokens", type=int, default=1000, show_default=True, help="Generated tokens per request.")
@click.option("--concurrency", help="Concurrent requests (a number, or 'max' for what memory holds).")
@common_options
@handle_errors
def estimate(model, accelerator, gpus, nodes, precision, kv_dtype, engine, platform, dp_attention, input_tokens,
             output_tokens, concurrency, catalog_files, fmt, output, force, debug):
    """Size one replica: weights, KV cache, concurrency, and whether it fits.

    \b
    Examples:
      hwplan estimate --model deepseek-r1 --accelerator h200-sxm --gpus 8 --precision fp8 --kv-dtype bf16
      hwplan estimate --model deepseek-r1 --accelerator a100-80g-pcie --gpus 8 --format json
    """
    from optimizer import estimate as run_estimate
    from optimizer.render import render_estimate

    if concurrency is not None and concurrency != "max":
        try:
            concurrency = int(concurrency)
        except ValueError:
            raise HwplanError(f"--concurrency = '{concurrency}': give a whole number or 'max'.") from None
        if concurrency < 1:
            raise HwplanError(f"--concurrency = {concurrency}: give at least 1.")
    for flag, value in (("--input-tokens", input_tokens), ("--output-tokens", output_tokens)):
        if value < 1:
            raise HwplanError(f"{flag} = {value}: give at least 1 token.")
    catalog = load_catalog(catalog_files)
    est = run_estimate(catalog, model=model, accelerator=accelerator, gpus=gpus, nodes=nodes, precision=precision,
                       kv_dtype=kv_dtype, engine=engine, platform=platform, dp_attention=dp_attention,
                       input_tokens=input_tokens, output_tokens=output_tokens, concurrency=concurrency)
    write_output(render_estimate(est, fmt), output, force)


@main.command()
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False),
              help="Measurements CSV (calibration.csv columns); default: the bundled calibration set. Repeatable.")
@click.option("--summary-only", is_flag=True, help="Print only the summary, not every row.")
@common_options
@handle_errors
def validate(files, summary_only, catalog_files, fmt, output, force, debug):
    """Run published measurements through the estimator and print the error of every row.

    Prints predicted, measured and error per row, then the median absolute error and the
    share within ±25% per metric and per hardware family, and the rows it set aside (with why).

    \b
    Examples:
      hwplan validate
      hwplan validate --summary-only
      hwplan validate --file benchmarks/holdout.csv --format json
    """
    from optimizer.validate import Report, render_report, validate as run_validate

    catalog = load_catalog(catalog_files)
    report = Report()
    for f in files or [None]:
        part = run_validate(catalog, f)
        report.results += part.results
        report.unusable += part.unusable
    write_output(render_report(report, "json" if fmt == "json" else "table", rows=not summary_only), output, force)


@main.command("catalog")
@click.argument("section", type=click.Choice(CATALOG_SECTIONS), default="accelerators")
@common_options
@handle_errors
def catalog_cmd(section, catalog_files, fmt, output, force, debug):
    """List the catalog: accelerators, platforms (and systems), models, prices or engines.

    \b
    Examples:
      hwplan catalog accelerators --format json
      hwplan catalog prices
    """
    from optimizer.render import render_catalog

    write_output(render_catalog(load_catalog(catalog_files), section, fmt), output, force)


if __name__ == "__main__":
    main()

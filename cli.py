"""hwplan's command line: parse, call the library, render. No domain logic lives here.

Exit codes: 0 an answer, 1 no plan satisfies the limits, 2 bad input or usage, 3 the time limit ran
out before any plan was found, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
import math
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

import click

from catalog.errors import HwplanError, InfeasibleError, shorten

FORMATS = ("table", "json", "csv", "md")
CATALOG_SECTIONS = ("accelerators", "platforms", "models", "prices", "engines", "network")


# -- shared plumbing --------------------------------------------------------------
EXIT_TIMEOUT = 3        # the time limit ran out before any plan was found
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report it
# The output flags a command may have, by parameter name; every one is checked before any is written.
OUTPUT_PARAMS = (("export", "--export"), ("plot", "--plot"), ("output", "-o"))
_MESSAGE_CHARS = 3000

_created: list[Path] = []   # files this command created; removed again if it fails or is interrupted


class FiniteFloat(click.ParamType):
    """A float flag that refuses nan and ±inf (click's float accepts them)."""

    name = "number"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{shorten(value)}' is not a number.", param, ctx)
        if not math.isfinite(number):
            self.fail(f"'{shorten(value)}' is not a finite number.", param, ctx)
        return number


FINITE = FiniteFloat()


def check_output(output: str, force: bool, flag: str = "-o") -> Path:
    """The path `output` if hwplan may write it: a new file in an existing folder, or (with --force) an
    existing regular file. Devices, FIFOs, sockets, folders and symbolic links are never replaced."""
    path = Path(output)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise HwplanError(f"{flag} {shorten(output)}: cannot use this path ({exc.strerror}).") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise HwplanError(f"{flag} {shorten(output)}: is a symbolic link; hwplan writes only regular files "
                              f"and never replaces a link (name the file itself).")
        if not stat.S_ISREG(st.st_mode):
            raise HwplanError(f"{flag} {shorten(output)}: is not a regular file (a device, FIFO, socket or folder); "
                              f"hwplan never replaces one — name a file.")
        if not force:
            raise HwplanError(f"{flag} {shorten(output)}: the file exists; pass --force to replace it.")
    if not path.parent.is_dir():
        raise HwplanError(f"{flag} {shorten(output)}: the folder {shorten(path.parent)} does not exist.")
    return path


def check_outputs(kwargs: dict) -> None:
    """Check every output path a command was given before it computes or writes anything."""
    seen: dict[str, str] = {}
    for param, flag in OUTPUT_PARAMS:
        value = kwargs.get(param)
        if not value:
            continue
        check_output(value, kwargs.get("force", False), flag)
        key = os.path.realpath(value)
        if key in seen:
            raise HwplanError(f"{flag} {shorten(value)}: the same file as {seen[key]}; give each output its own file.")
        seen[key] = flag


def write_output(text: str | bytes, output: str | None, force: bool, flag: str = "-o") -> None:
    """Print `text`, or write it to `output`: complete or not at all (temp file, then link or rename).

    A new file is created exclusively (a hard link fails if the name exists, so of two processes
    only one writes it); with --force an existing regular file is replaced by rename. Devices,
    FIFOs and symbolic links are refused (check_output).
    """
    if output is None:
        click.echo(text, nl=False)
        return
    path = check_output(output, force, flag)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        existing = os.path.lexists(path)
        if existing:  # check_output allowed it: a regular file and --force; re-check just before replacing
            check_output(output, force, flag)
            os.replace(tmp, path)
        else:
            _create_exclusively(tmp, path, data, output, flag)
            _created.append(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    click.echo(f"wrote {output}", err=True)


def _create_exclusively(tmp: str, path: Path, data: bytes, output: str, flag: str) -> None:
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise HwplanError(f"{flag} {shorten(output)}: the file appeared while hwplan was writing it (another "
                          f"process?); it was left alone — pass --force to replace it.") from None
    except OSError:
        pass  # no hard links on this file system: create it exclusively instead
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except FileExistsError:
        raise HwplanError(f"{flag} {shorten(output)}: the file appeared while hwplan was writing it (another "
                          f"process?); it was left alone — pass --force to replace it.") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _remove_created() -> None:
    """Remove the files this command created: a failed or interrupted command leaves no output behind."""
    while _created:
        _created.pop().unlink(missing_ok=True)


def _clip(message: str) -> str:
    """A message with any very long run of characters (an echoed 100,000-character value) shortened."""
    message = re.sub(r"\S{201,}", lambda m: shorten(m.group(), 120), message)
    return message if len(message) <= _MESSAGE_CHARS else message[:_MESSAGE_CHARS] + "… (message shortened)"


def interrupted() -> None:
    """End an interrupted command: no partial output, the cursor shown again, one line, exit 130."""
    _remove_created()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                stream.write("\x1b[?25h")  # a progress bar hides the cursor; show it again
                stream.flush()
        except (OSError, ValueError):
            pass
    click.echo("Interrupted.", err=True)
    sys.exit(EXIT_INTERRUPTED)


def handle_errors(fn):
    """Check the output paths first, then turn hwplan's errors into a one-paragraph message and its exit
    code (traceback only with --debug); Ctrl-C exits 130; a failed command leaves no file it created."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        fmt = kwargs.get("fmt")
        _created.clear()
        try:
            check_outputs(kwargs)
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            interrupted()
        except InfeasibleError as exc:
            _remove_created()
            if debug:
                raise
            from optimizer.render import render_infeasible

            if fmt == "json":
                write_output(render_infeasible(exc.explanation, "json"), kwargs.get("output"), kwargs.get("force", False))
            click.echo(_clip(f"No plan: {exc}"), err=True)
            sys.exit(exc.exit_code)
        except HwplanError as exc:
            _remove_created()
            if debug:
                raise
            click.echo(_clip(f"Error: {exc}"), err=True)
            sys.exit(exc.exit_code)
        except CompleteOutputExit:
            raise  # the output is whole and meant to stay (e.g. an import with rejected rows)
        except BaseException:
            _remove_created()
            raise

    return wrapper


class CompleteOutputExit(SystemExit):
    """A non-zero exit after a complete, wanted output file: handle_errors keeps the file."""


class HwplanGroup(click.Group):
    """A click group whose commands end with exit 130 on Ctrl-C (click's own 'Aborted!' exits 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()


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
    """The bundled catalog, `--catalog` files, and any model `--model-config` imported for this command."""
    from catalog import load_catalog as _load

    catalog = _load(tuple(files))
    imported = click.get_current_context().meta.get("hwplan.imported_models")
    if imported:
        from catalog.hf_import import with_models

        catalog = with_models(catalog, imported)
    return catalog


def import_model_config(path: str | None) -> str | None:
    """Import `--model-config` (a Hugging Face folder or config.json); `load_catalog` adds it. Its id, or None."""
    if path is None:
        return None
    from catalog.hf_import import import_model

    model = import_model(path).model
    click.get_current_context().meta.setdefault("hwplan.imported_models", []).append(model)
    return model.id


def model_config_option(fn):
    return click.option("--model-config", "model_config", type=click.Path(),
                        help="A model's Hugging Face folder (or its config.json): import it for this run; "
                             "it is the model unless --model names another.")(fn)


# -- commands ------------------------------------------------------------------------
@click.group(cls=HwplanGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hwplan")
def main():
    """Plan the cheapest cluster that serves a large language model to N users at the speed they need.

    \b
    Start with a bundled problem (its name; `hwplan problems` lists them):
      hwplan solve deepseek-r1-30-users
      hwplan solve --model deepseek-r1 --users 30 --min-tokens-per-s 15 \\
          --prices seed-2025-02
      hwplan shortlist deepseek-r1-30-users -k 5 --export quotes.xlsx
      hwplan report deepseek-r1-30-users -o report.html
      hwplan estimate --model deepseek-r1 --accelerator h200-sxm --gpus 8 \\
          --concurrency 30
      hwplan catalog accelerators

    \b
    Exit codes: 0 an answer; 1 no plan satisfies the limits; 2 bad input;
    3 the time limit ran out before any plan was found; 130 interrupted (Ctrl-C).
    """


# Engine settings (engine-neutral; each engine's own option names in the help).
_SETTING_HELP = {
    "memory_utilization": "Memory fraction in (0, 1]: vLLM --gpu-memory-utilization, SGLang --mem-fraction-static, "
                          "TensorRT-LLM kv_cache_free_gpu_memory_fraction (of the memory FREE after weights) "
                          "[default: the engine's].",
    "max_batch": "Most sequences at once (per attention DP group under attention DP): vLLM --max-num-seqs, "
                 "SGLang --max-running-requests (its flag counts all groups), TensorRT-LLM max_batch_size "
                 "[default: the engine's].",
    "max_batched_tokens": "Tokens per forward step: vLLM --max-num-batched-tokens, SGLang --chunked-prefill-size, "
                          "TensorRT-LLM max_num_tokens [default: the engine's].",
    "max_model_len": "Longest request (prompt + output): vLLM --max-model-len, SGLang --context-length, "
                     "TensorRT-LLM max_seq_len [default: the model's context].",
    "eager": "No CUDA graphs: vLLM --enforce-eager, SGLang --disable-cuda-graph.",
    "version": "Engine release whose memory rules (and early-release speed rules: slowdowns, eager prefill) apply, e.g. 0.10.1 or 0.21.0 "
               "(vLLM), b6000 (llama.cpp) "
               "[default: the newest the catalog sources; `hwplan catalog engines` lists them].",
}

_PROBLEM_FLAGS = [
    # (option, click kwargs, problem field, how the value is stored)
    ("--model", dict(help="Model id (see `hwplan catalog models`)."), ("model",)),
    ("--users", dict(type=int, help="Concurrent users to serve."), ("workload", "concurrent_users")),
    ("--request-rate", dict(type=float, help="Requests per second over the whole deployment (Poisson "
                                             "arrivals), instead of --users: replicas are sized by rate."),
     ("workload", "request_rate")),
    ("--input-tokens", dict(type=int, help="Prompt tokens per request [default 2000]."), ("workload", "input_tokens")),
    ("--output-tokens", dict(type=int, help="Generated tokens per request [default 1000]."),
     ("workload", "output_tokens")),
    ("--input-tokens-spread", dict(type=float, help="Prompt lengths spread uniformly over --input-tokens × "
                                   "[1 − s, 1 + s], s in [0, 1] [default 0]: request-rate and disaggregated prefill "
                                   "queues wait longer (M/G/1); TensorRT-LLM's max_num_tokens covers the longest."),
     ("workload", "input_tokens_spread")),
    ("--min-tokens-per-s", dict(type=float, help="Decode speed each user must see."), ("workload", "min_tokens_per_s")),
    ("--max-ttft-s", dict(type=float, help="Longest acceptable time to first token, seconds."),
     ("workload", "max_ttft_s")),
    ("--ttft-percentile", dict(type=int, help="TTFT that --max-ttft-s bounds: 90 "
                                                                      "(p90, default) or 50 (mean)."),
     ("workload", "ttft_percentile")),
    ("--arrivals", dict(type=click.Choice(["random", "synchronized"]), help="random users (default) or "
                        "synchronized waves as closed-loop benchmarks run."), ("workload", "arrivals")),
    ("--speculative", dict(type=click.Choice(["mtp", "eagle", "ngram"]), help="Speculative decoding on every "
                           "replica: mtp (the model's own multi-token-prediction modules), eagle (an EAGLE-3 draft "
                           "head) or ngram (prompt lookup)."), ("workload", "speculative", "method")),
    ("--spec-tokens", dict(type=int, help="Draft tokens per step (k), 1-16, with --speculative [default 1]."),
     ("workload", "speculative", "tokens")),
    ("--spec-acceptance", dict(type=float, help="Acceptance of each draft token, (0, 1], with --speculative "
                               "[default: the method's]."), ("workload", "speculative", "acceptance")),
    ("--kv-reserve-gb", dict(type=float, help="Fixed KV-cache reserve per replica (the seed's rule of thumb)."),
     ("workload", "kv_reserve_gb")),
    ("--precision", dict(help="auto, or a precision id of the model (fp8, bf16, int4, q4_k_m, ...)."), ("precision",)),
    ("--kv-dtype", dict(help="KV-cache datatype: auto (bf16), fp8, ..."), ("kv_dtype",)),
    ("--engine", dict(help="auto, vllm, sglang, trtllm or llama.cpp."), ("engine",)),
    *[(flag, kwargs, ("engine_settings", field)) for flag, kwargs, field in (
        ("--memory-utilization", dict(type=float, help=_SETTING_HELP["memory_utilization"]), "memory_utilization"),
        ("--max-batch", dict(type=int, help=_SETTING_HELP["max_batch"]), "max_batch"),
        ("--max-batched-tokens", dict(type=int, help=_SETTING_HELP["max_batched_tokens"]), "max_batched_tokens"),
        ("--max-model-len", dict(type=int, help=_SETTING_HELP["max_model_len"]), "max_model_len"),
        ("--eager", dict(is_flag=True, default=None, help=_SETTING_HELP["eager"]), "eager"),
        ("--engine-version", dict(help=_SETTING_HELP["version"]), "version"))],
    ("--serving", dict(type=click.Choice(["aggregated", "disaggregated", "auto"]),
                       help="aggregated replicas, disaggregated prefill and decode pools, or auto (default): the "
                            "better of the two, saying what the other would be."), ("serving",)),
    ("--objective", dict(type=click.Choice(["cost", "power", "tco", "users"]),
                         help="What to minimize (users: maximize users under the limits, then cost)."), ("objective",)),
    ("--budget", dict(type=float, help="Budget cap, in the problem's currency."), ("constraints", "budget")),
    ("--currency", dict(help="Currency of costs and budget (ISO code, e.g. CNY)."), ("constraints", "currency")),
    ("--prices", dict(multiple=True, help="Price list id (see `hwplan catalog prices`); repeat to let several compete."),
     ("prices",)),
    ("--network-prices", dict(multiple=True, help="Price list of switches, cables and racks (repeatable; default "
                                                  "network-usd-2026; 'none' leaves the network unpriced)."),
     ("network_prices",)),
    ("--max-nodes", dict(type=int, help="Most nodes the plan may use."), ("constraints", "max_nodes")),
    ("--max-power-kw", dict(type=float, help="Cap on the plan's maximum IT draw, kW (nodes and switches)."),
     ("constraints", "max_power_w")),
    ("--max-site-kw", dict(type=float, help="Cap on the facility's draw, kW (maximum IT draw × tco.pue)."),
     ("constraints", "max_site_kw")),
    ("--max-rack-kw", dict(type=float, help="Power one air-cooled rack may take, kW (default 40)."),
     ("constraints", "max_rack_kw")),
    ("--max-liquid-rack-kw", dict(type=float, help="Power one liquid-cooled rack may take, kW (default 132)."),
     ("constraints", "max_liquid_rack_kw")),
    ("--max-racks", dict(type=int, help="Most racks the plan may fill."), ("constraints", "max_racks")),
    ("--spare-nodes", dict(type=int, help="1: still serve every user with any one node down."),
     ("constraints", "spare_nodes")),
    ("--vendor", dict(multiple=True, help="Allowed accelerator maker (repeatable)."), ("constraints", "vendors")),
    ("--accelerator", dict(multiple=True, help="Allowed accelerator id (repeatable)."), ("constraints", "accelerators")),
    ("--class", dict(multiple=True, type=click.Choice(["datacenter", "workstation", "consumer", "edge"]),
                     help="Hardware class a plan may buy; it REPLACES the default classes (datacenter, workstation): "
                          "--class consumer allows only consumer cards; repeat it, e.g. --class datacenter "
                          "--class consumer."),
     ("constraints", "hardware_classes")),
]


def _flag_param(flag: str) -> str:
    if flag == "--class":
        return "hardware_classes"
    return flag.lstrip("-").replace("-", "_") + ("s" if flag in ("--vendor", "--accelerator") else "")


def problem_options(fn=None, *, ranges: tuple[str, ...] = ()):
    """The flags that override (or, without a file, make up) a problem.

    Flags named in `ranges` take text instead of a number: a sweep reads them as ranges.
    """
    def decorate(fn):
        for flag, kwargs, _ in reversed(_PROBLEM_FLAGS):
            if kwargs.get("type") is float:
                kwargs = {**kwargs, "type": FINITE}
            if flag in ranges:
                kwargs = {"help": kwargs["help"].rstrip(".") + "; START:STOP:STEP (or a,b,c) to sweep it."}
            fn = click.option(flag, _flag_param(flag), **kwargs)(fn)
        fn = click.argument("problem", required=False)(fn)
        fn = model_config_option(fn)
        fn = click.option("--time-limit", type=FINITE, default=30.0, show_default=True,
                          help="Solver time limit per solve, seconds (exit 3 if it runs out before any plan).")(fn)
        return fn

    return decorate(fn) if fn is not None else decorate


def build_problem(problem: str | None, flags: dict):
    """Hand the problem flags (popped from `flags`) to the library, which applies them."""
    from optimizer.flags import build_problem as build

    imported = import_model_config(flags.pop("model_config", None))
    given = [(flag, field, flags.pop(_flag_param(flag))) for flag, _, field in _PROBLEM_FLAGS]
    return build(problem, given, model_from_config=imported)


def solve_options(time_limit: float):
    from optimizer.commands import solve_options as options

    return options(time_limit)


def title_option(fn):
    return click.option("--title", help="Title of the documents written (HTML report, bill of materials); "
                                        "default: the problem's name.")(fn)


def export_option(fn):
    fn = title_option(fn)
    return click.option("--export", "export", type=click.Path(dir_okay=False),
                        help="Also write the bill of materials to FILE.csv, FILE.md or FILE.xlsx.")(fn)


def write_export(export, plans, prob, catalog, force, sheet_names=None, title=None) -> None:
    from optimizer.export import export_bom

    if export:
        write_output(export_bom(export, plans, prob, catalog, sheet_names, title), export, force, "--export")


def error_bands(catalog, plans):
    """The speed model's error band per accelerator, for table and JSON output (and CSV, Markdown)."""
    from optimizer.documents import plan_bands

    return plan_bands(catalog, plans)


@main.command()
@problem_options
@export_option
@common_options
@handle_errors
def solve(problem, time_limit, export, title, catalog_files, fmt, output, force, debug, **flags):
    """Find the optimal cluster for a problem file or for flags.

    Flags given beside PROBLEM override its fields. PROBLEM is a path or the name of
    a bundled problem.

    \b
    Examples:
      hwplan solve problems/deepseek-r1-seed-any-vendor.yaml
      hwplan solve deepseek-r1-30-users --objective tco --format json
      hwplan solve deepseek-r1-30-users --objective users --budget 2500000
      hwplan solve deepseek-r1-30-users --export bom.xlsx
      hwplan solve --model deepseek-r1 --users 30 --prices seed-2025-02 \\
          --vendor nvidia
      hwplan solve deepseek-r1-30-users --speculative mtp --spec-tokens 3
    """
    from optimizer import optimize
    from optimizer.render import render_plan

    options = solve_options(time_limit)
    prob = build_problem(problem, flags)
    catalog = load_catalog(catalog_files)
    plan = optimize(catalog, prob, options)
    if plan.status != "optimal":
        click.echo(f"Warning: the time limit ran out; this plan is feasible, not proven optimal "
                   f"(gap {plan.solver.gap:.2%}).", err=True)
    write_export(export, [plan], prob, catalog, force, title=title)
    write_output(render_plan(plan, fmt, error_bands(catalog, [plan])), output, force)


@main.command()
@problem_options
@click.option("-k", "k", type=int, default=5, show_default=True, help="How many plans.")
@click.option("--distinct", type=click.Choice(["sku", "accelerator", "vendor", "platform"]), default="sku",
              show_default=True, help="No two plans share a node type / accelerator / vendor / server; each is the best without the earlier ones.")
@click.option("--per-vendor", is_flag=True, help="Instead: the best plan for each accelerator maker.")
@click.option("--per-seller", is_flag=True, help="Instead: the best plan buying from one seller only, per seller.")
@export_option
@common_options
@handle_errors
def shortlist(problem, time_limit, k, distinct, per_vendor, per_seller, export, title, catalog_files, fmt, output,
              force, debug, **flags):
    """Up to K alternatives to ask quotes for: no two share what --distinct names.

    The first plan is `solve`'s optimum; each next one is the best plan without the
    node types (accelerators, vendors, servers) of the earlier ones, and no plan holds a
    line it does not need.

    \b
    Examples:
      hwplan shortlist deepseek-r1-30-users -k 5
      hwplan shortlist deepseek-r1-30-users --distinct vendor
      hwplan shortlist deepseek-r1-30-users --per-vendor --format json
      hwplan shortlist llama-3.1-70b-seller-quotes --per-seller \\
          --export quotes.xlsx
    """
    from optimizer.commands import alternatives
    from optimizer.render import render_plans

    if per_vendor and per_seller:
        raise HwplanError("give --per-vendor or --per-seller, not both.")
    options = solve_options(time_limit)
    prob = build_problem(problem, flags)
    catalog = load_catalog(catalog_files)
    plans, names, heading = alternatives(catalog, prob, options, k, distinct, per_vendor, per_seller)
    write_export(export, plans, prob, catalog, force, names, title)
    write_output(render_plans(plans, fmt, heading, error_bands(catalog, plans)), output, force)


@main.command()
@problem_options
@click.option("--x", "x", type=click.Choice(["cost", "power", "nodes", "tco"]), default="cost", show_default=True)
@click.option("--y", "y", type=click.Choice(["cost", "power", "nodes", "tco"]), default="power", show_default=True)
@click.option("--max-points", type=int, default=50, show_default=True, help="Stop after this many points.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Also draw the front to FILE.svg or FILE.png.")
@common_options
@handle_errors
def pareto(problem, time_limit, x, y, max_points, plot, catalog_files, fmt, output, force, debug, **flags):
    """The exact trade-off between two objectives: every plan no other plan beats on both.

    \b
    Examples:
      hwplan pareto deepseek-r1-30-users
      hwplan pareto llama-3.1-70b-100-users --x cost --y nodes --plot front.svg
    """
    from optimizer.plot import front_series, save_chart
    from optimizer.render import render_plans
    from optimizer.search import pareto as run_pareto

    options = solve_options(time_limit)
    prob = build_problem(problem, flags)
    catalog = load_catalog(catalog_files)
    plans = run_pareto(catalog, prob, x, y, max_points, options)
    if plot:
        write_output(save_chart(plot, title=f"{prob.name}: {x} vs {y}", **front_series(plans, x, y)), plot, force)
    write_output(render_plans(plans, fmt, f"{prob.name}: {len(plans)} plan{'s' * (len(plans) != 1)} on the {x}/{y} front",
                              error_bands(catalog, plans)), output, force)


@main.command()
@problem_options(ranges=("--users", "--budget"))
@click.option("--workers", type=int, help="Worker processes (default: all cores for 200+ points, else 1).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Also draw the curve to FILE.svg or FILE.png.")
@common_options
@handle_errors
def sweep(problem, time_limit, workers, plot, catalog_files, fmt, output, force, debug, **flags):
    """Solve for each user count (the cost curve) or each budget (the most users it buys).

    One of --users or --budget takes a range START:STOP:STEP (or a,b,c); the other may
    still be a single number (e.g. a budget cap while sweeping users).

    \b
    Examples:
      hwplan sweep llama-3.1-70b-100-users --users 16:256:16
      hwplan sweep deepseek-r1-30-users --budget 1000000:6000000:500000 \\
          --plot curve.svg
    """
    from optimizer.commands import check_workers, sweep_values
    from optimizer.plot import save_chart, sweep_series
    from optimizer.render import render_sweep
    from optimizer.search import sweep as run_sweep

    options = solve_options(time_limit)
    users, budgets, flags["users"], flags["budget"] = sweep_values(flags["users"], flags["budget"])
    check_workers(workers)
    prob = build_problem(problem, flags)
    catalog = load_catalog(catalog_files)
    total = len(users or budgets)
    if sys.stderr.isatty() and total > 5:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(stderr=True)) as bar:
            task = bar.add_task("solving", total=total)
            points = run_sweep(catalog, prob, users=users, budgets=budgets, options=options, workers=workers,
                               progress=lambda n: bar.advance(task, n))
    else:
        points = run_sweep(catalog, prob, users=users, budgets=budgets, options=options, workers=workers)
    kind = "users" if users else "budget"
    if plot:
        title = f"{prob.name}: {'cost' if kind == 'users' else 'users'} by {kind}"
        write_output(save_chart(plot, title=title, **sweep_series(points, kind)), plot, force)
    write_output(render_sweep(points, kind, fmt, f"{prob.name}: sweep over {kind}"), output, force)


@main.command()
@problem_options
@title_option
@common_options
@handle_errors
def report(problem, time_limit, title, catalog_files, fmt, output, force, debug, **flags):
    """One self-contained HTML report: plan, alternatives, per-vendor, Pareto front, growth, caveats, sources.

    \b
    Examples:
      hwplan report deepseek-r1-30-users -o report.html
      hwplan report deepseek-r1-30-users \\
          --title "Inference cluster, quote request" -o report.html
    """
    from optimizer.report import html_report

    if output is None:
        raise HwplanError("give -o FILE.html: the report is an HTML file.")
    options = solve_options(time_limit)
    prob = build_problem(problem, flags)
    write_output(html_report(load_catalog(catalog_files), prob, options, title=title), output, force)


@main.command()
@click.option("--model", help="Model id (or give --model-config).")
@model_config_option
@click.option("--accelerator", required=True, help="Accelerator id.")
@click.option("--gpus", type=int, default=None, help="Accelerators in the replica (all nodes together); "
              "default: TP × DP × PP when a layout is given, else the fewest that start the model.")
@click.option("--nodes", type=int, default=1, show_default=True, help="Nodes the replica spans.")
@click.option("--tp", type=int, help="Attention tensor-parallel size (fixes the layout; default: the fastest).")
@click.option("--pp", type=int, help="Pipeline-parallel stages.")
@click.option("--dp", type=int, help="Attention data-parallel groups in the replica (MoE models).")
@click.option("--ep", type=int, help="Expert-parallel size of the MoE layers.")
@click.option("--precision", default="auto", show_default=True,
              help="auto (native, or bf16 where fp8 units are missing) or a precision id.")
@click.option("--kv-dtype", default="auto", show_default=True, help="KV-cache datatype (auto = bf16).")
@click.option("--engine", default="auto", show_default=True, help="vllm, sglang, trtllm, llama.cpp or auto.")
@click.option("--platform", help="Server platform id (default: one that takes the accelerator).")
@click.option("--dp-attention", is_flag=True, help="Shorthand for attention DP over every rank (MoE models).")
@click.option("--input-tokens", type=int, default=2000, show_default=True, help="Prompt tokens per request.")
@click.option("--output-tokens", type=int, default=1000, show_default=True, help="Generated tokens per request.")
@click.option("--input-tokens-spread", type=float, default=0.0, show_default=True,
              help="Prompt lengths spread uniformly over --input-tokens × [1 − s, 1 + s] (as vllm bench serve "
                   "--random-range-ratio s): the --request-rate prefill queue waits longer (M/G/1), and "
                   "TensorRT-LLM's max_num_tokens covers the longest.")
@click.option("--concurrency", help="Concurrent requests (a number, or 'max' for what memory holds).")
@click.option("--memory-utilization", type=float, help=_SETTING_HELP["memory_utilization"])
@click.option("--max-batch", type=int, help=_SETTING_HELP["max_batch"])
@click.option("--max-batched-tokens", type=int, help=_SETTING_HELP["max_batched_tokens"])
@click.option("--max-model-len", type=int, help=_SETTING_HELP["max_model_len"])
@click.option("--eager", is_flag=True, help=_SETTING_HELP["eager"])
@click.option("--engine-version", help=_SETTING_HELP["version"])
@click.option("--arrivals", type=click.Choice(["random", "synchronized"]), default="random", show_default=True,
              help="random: independent users; synchronized: all --concurrency requests start together "
                   "(InferenceX, vllm bench serve --max-concurrency).")
@click.option("--request-rate", type=float,
              help="Requests per second arriving at the replica (Poisson), instead of --concurrency.")
@click.option("--speculative", type=click.Choice(["mtp", "eagle", "ngram"]),
              help="Speculative decoding method (mtp: models that ship multi-token-prediction modules, config.json num_nextn_predict_layers: DeepSeek-V3/R1, GLM-4.5 and later, Qwen3.5 ...; the estimate then loads them).")
@click.option("--spec-tokens", type=int, help="Draft tokens per step (k), with --speculative. [default: 1]")
@click.option("--spec-acceptance", type=float,
              help="Acceptance of each draft token, (0, 1], with --speculative [default: mtp: the tokens per "
                   "step TensorRT-LLM measured on DeepSeek-R1 (1.92 at k = 1, 2.82 at k = 3; acceptance 0.92); "
                   "eagle 0.7; ngram 0.5].")
@click.option("--serving", type=click.Choice(["aggregated", "disaggregated"]), default="aggregated",
              show_default=True, help="disaggregated: also split the accelerators into prefill replicas and a decode "
              "pool (one scale-up domain, e.g. a GB200 NVL72 rack, or whole servers) for the most output tok/s.")
@click.option("--min-tokens-per-s", type=float, default=10.0, show_default=True,
              help="With --serving disaggregated: the decode speed each user must see.")
@click.option("--role", type=click.Choice(["prefill", "decode"]),
              help="Size one replica of a disaggregated pool: decode runs --concurrency sequences with no prompt "
                   "in its steps; prefill runs prompts back to back (input tok/s). Give the pool's layout with "
                   "--tp/--dp/--ep.")
@common_options
@handle_errors
def estimate(model, model_config, accelerator, gpus, nodes, tp, pp, dp, ep, precision, kv_dtype, engine, platform,
             dp_attention, input_tokens, output_tokens, input_tokens_spread, concurrency, memory_utilization, max_batch,
             max_batched_tokens, max_model_len, eager, engine_version, arrivals, request_rate, speculative, spec_tokens,
             spec_acceptance, serving, min_tokens_per_s, role, catalog_files, fmt, output, force, debug):
    """Size one replica: engine memory term by term, KV cache, concurrency, and whether the engine starts.

    The memory breakdown per accelerator (total, usable, weights, activations, CUDA graphs,
    other, KV cache) follows the engine's start-up log; `fits` is false with the failing
    term named when the weights and engine memory leave no KV cache, when one max_model_len
    request does not fit (vLLM refuses to start) or when CUDA graphs run out of memory.

    \b
    Examples:
      hwplan estimate --model deepseek-r1 --accelerator h200-sxm --gpus 8 \\
          --precision fp8 --kv-dtype bf16
      hwplan estimate --model gpt-oss-120b --accelerator h100-sxm --gpus 1 \\
          --engine vllm --memory-utilization 0.95 --max-model-len 131072 \\
          --max-batched-tokens 1024
      hwplan estimate --model deepseek-r1 --accelerator a100-80g-pcie --gpus 8 \\
          --format json
      # TP16 over 2 nodes; attention DP16 with EP16 (SGLang's default
      # --mem-fraction-static at 16 ranks leaves it no KV cache: give one):
      hwplan estimate --model deepseek-r1 --accelerator h100-sxm --tp 16 \\
          --engine sglang
      hwplan estimate --model deepseek-r1 --accelerator h100-sxm --dp 16 \\
          --ep 16 --engine sglang --memory-utilization 0.88
      hwplan estimate --model-config ./Qwen3-8B/ --accelerator h200-sxm --gpus 1
      hwplan estimate --model deepseek-r1 --accelerator h200-sxm --gpus 8 \\
          --concurrency 64 --input-tokens 8192 --speculative mtp --spec-tokens 3
      hwplan estimate --model llama-3.1-70b --accelerator h200-sxm --gpus 8 \\
          --request-rate 0.3 --input-tokens 32000 --output-tokens 500
      # a GB200 NVL72 rack split into prefill and decode:
      hwplan estimate --model deepseek-r1 --accelerator gb200 --gpus 72 \\
          --precision fp8 --engine sglang --serving disaggregated
      # one decode replica of a disaggregated deployment, 9 nodes, EP72
      # (LMSYS's --mem-fraction-static; SGLang's default at TP72 is 0.37):
      hwplan estimate --model deepseek-v3 --accelerator h100-sxm --nodes 9 \\
          --dp 72 --ep 72 --engine sglang --memory-utilization 0.846 \\
          --role decode --concurrency 18432
    """
    from optimizer.commands import estimate_from_flags
    from optimizer.render import render_estimate

    imported = import_model_config(model_config)
    est = estimate_from_flags(load_catalog(catalog_files), model=model or imported, accelerator=accelerator,
                              gpus=gpus, nodes=nodes, precision=precision, kv_dtype=kv_dtype, engine=engine,
                              platform=platform, dp_attention=dp_attention, input_tokens=input_tokens,
                              output_tokens=output_tokens, concurrency=concurrency,
                              memory_utilization=memory_utilization, max_batch=max_batch,
                              max_batched_tokens=max_batched_tokens, max_model_len=max_model_len, eager=eager,
                              engine_version=engine_version, arrivals=arrivals, request_rate=request_rate,
                              speculative=speculative, spec_tokens=spec_tokens, spec_acceptance=spec_acceptance,
                              serving=serving, min_tokens_per_s=min_tokens_per_s, tp=tp, pp=pp, dp=dp, ep=ep,
                              role=role, input_tokens_spread=input_tokens_spread)
    write_output(render_estimate(est, fmt), output, force)


@main.command()
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False),
              help="Measurements CSV (catalog/data/measurements-fit.csv columns); its role comes from its "
              "name (*-fit.csv, *-test.csv, *-memory.csv). Default: every bundled measurements-*.csv. Repeatable.")
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
      hwplan validate --file catalog/data/measurements-test.csv --format json
    """
    from optimizer.validate import render_report, validate_files

    report = validate_files(load_catalog(catalog_files), files)
    write_output(render_report(report, "json" if fmt == "json" else "table", rows=not summary_only), output, force)


@main.command("problems")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for scripts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the list to FILE (atomically) instead of the terminal.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@handle_errors
def problems_command(fmt, output, force, debug):
    """List the bundled problems: each name `hwplan solve NAME` takes, with the question it asks.

    \b
    Examples:
      hwplan problems
      hwplan problems --format json
    """
    from optimizer.render import render_problem_list
    from problems import bundled_summaries

    write_output(render_problem_list(bundled_summaries(), fmt), output, force)


@main.group("catalog", invoke_without_command=True)
@click.pass_context
def catalog_group(ctx):
    """The catalog: list it, check a catalog file, import a seller's price sheet.

    \b
    Examples:
      hwplan catalog accelerators --format json
      hwplan catalog prices
      hwplan catalog validate my-offers.yaml
      hwplan catalog import sheet.csv --seller Acme --map "SKU=item" \\
          --map "Price=price" --price-date 2026-11-01 -o acme.yaml
      hwplan catalog import-model ./Qwen3.5-27B/ -o qwen3.5-27b.yaml
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(_LISTS["accelerators"])


def _list_command(section: str):
    @common_options
    @handle_errors
    def command(catalog_files, fmt, output, force, debug, price_lists=()):
        from optimizer.render import render_catalog

        write_output(render_catalog(load_catalog(catalog_files), section, fmt, price_lists=price_lists), output, force)

    command.__doc__ = (f"List the catalog's {section}.\n\n    \b\n    Example:\n"
                       f"      hwplan catalog {section} --format json\n    ")
    if section == "prices":
        command.__doc__ = ("List every offer: item, price, currency, seller, condition, price date and source\n"
                           "    (one 80-column table per price list; JSON and CSV carry every field).\n\n    \b\n"
                           "    Examples:\n      hwplan catalog prices --price-list street-usd-2026\n"
                           "      hwplan catalog prices --format json\n    ")
        command = click.option("--price-list", "price_lists", multiple=True,
                               help="Only this price list (repeatable).")(command)
    return catalog_group.command(section)(command)


_LISTS = {section: _list_command(section) for section in CATALOG_SECTIONS}


@catalog_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def catalog_validate(files, debug):
    """Check catalog or price-list files and report every problem with its location.

    \b
    Example:
      hwplan catalog validate my-offers.yaml
    """
    from catalog.tools import check_file

    bad = 0
    for f in files:
        problems = check_file(f)
        if problems:
            bad += 1
            click.echo(f"{f}: {len(problems)} problem{'s' if len(problems) > 1 else ''}:", err=True)
            for p in problems:
                click.echo(f"  - {p}", err=True)
        else:
            click.echo(f"{f}: OK")
    sys.exit(2 if bad else 0)


@catalog_group.command("import")
@click.argument("sheet", type=click.Path(dir_okay=False))
@click.option("--seller", required=True, help="The seller whose sheet this is (a distributor, an OEM, a shop).")
@click.option("--map", "maps", multiple=True, required=True,
              help="COLUMN=FIELD, FIELD one of item, price, condition, warranty_months, lead_time_weeks, stock, "
                   "source, price_date, retrieved, notes, seller. Repeatable; item and price are required.")
@click.option("--currency", default="USD", show_default=True, help="Currency of the sheet's prices.")
@click.option("--id", "list_id", help="Price-list id (default: the seller's name as a slug).")
@click.option("--price-date", "--date", "price_date",
              help="When the sheet's prices were quoted (YYYY[-MM[-DD]]), for rows without a mapped price_date "
                   "column; required unless such a column is mapped. The import date is recorded as 'retrieved'.")
@click.option("--allow-rejects", is_flag=True,
              help="Exit 0 even when some rows were rejected (default: exit 2, still writing the accepted offers).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the price list YAML to FILE.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@handle_errors
def catalog_import(sheet, seller, maps, currency, list_id, price_date, allow_rejects, output, force, debug):
    """Turn a seller's CSV price sheet into a price-list YAML; rows it cannot map are reported with why.

    Exits 0 when every row imported; when some rows were rejected it still writes the accepted
    offers but exits 2, unless --allow-rejects is given.

    \b
    Example:
      hwplan catalog import acme.csv --seller Acme --price-date 2026-03-02 \\
        --map "Part=item" --map "USD=price" --map "Qty=stock" -o acme.yaml
    """
    from catalog.tools import import_sheet, parse_map

    mapping = parse_map(maps)
    result = import_sheet(sheet, seller=seller, mapping=mapping, price_list_id=list_id, currency=currency,
                          price_date=price_date)
    for row, why in result.rejected:
        click.echo(f"{sheet}: row {row}: {why}", err=True)
    if result.price_list is None:
        raise HwplanError(f"{sheet}: no row could be mapped to an offer ({len(result.rejected)} rejected).")
    n_bad = len(result.rejected)
    extra = ", ".join(f"{fld} from column '{col}'" for col, fld in mapping.items() if fld not in ("item", "price"))
    click.echo(f"{sheet}: {result.accepted} offers imported{f' ({extra})' if extra else ''}, "
               f"{n_bad} row{'s' * (n_bad != 1)} rejected"
               f"{'.' if not n_bad or allow_rejects else ' (exit 2; pass --allow-rejects to accept a partial import).'}",
               err=True)
    write_output(result.yaml_text, output, force)
    if n_bad and not allow_rejects:
        raise CompleteOutputExit(2)


@catalog_group.command("import-model")
@click.argument("path", type=click.Path())
@click.option("--id", "model_id", help="Model id (default: the repository's or folder's name as a slug).")
@click.option("--repo", help="The Hugging Face repository (org/name) the files come from: the model cites it.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the model YAML to FILE.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@handle_errors
def catalog_import_model(path, model_id, repo, output, force, debug):
    """Make a catalog model from its Hugging Face files: config.json, and when present
    model.safetensors.index.json (exact checkpoint size) and hf_quant_config.json.

    PATH is the model's folder or its config.json. The YAML goes to --catalog.

    \b
    Example:
      hwplan catalog import-model ./Qwen3.5-27B/ --repo Qwen/Qwen3.5-27B \\
          -o qwen3.5-27b.yaml
      hwplan solve --catalog qwen3.5-27b.yaml --model qwen3.5-27b --users 50
    """
    from catalog.hf_import import import_model, model_yaml

    imported = import_model(path, model_id=model_id, repo=repo)
    m = imported.model
    click.echo(f"read {', '.join(imported.files[:3])}{' ...' if len(imported.files) > 3 else ''}", err=True)
    click.echo(f"{m.id}: {m.params_b:,.1f}B parameters, {m.active_params_b:,.1f}B active, {m.layers} layers, "
               f"native {m.native_precision} ({m.variant(m.native_precision).size_gb:,.1f} GB).", err=True)
    write_output(model_yaml(m), output, force)


if __name__ == "__main__":
    main()

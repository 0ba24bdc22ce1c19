"""The question hwplan answers: a problem file, or the same fields given as flags.

A problem names a model, a workload, limits and a price list. `load_problem`
reads YAML; `problem_from_fields` builds one from a plain dict (the CLI's
flags-only form); `with_overrides` applies command-line flags on top of a file.
Ids are checked against the catalog by `check_ids`, with the file location of
the offending field and the closest valid ids.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from catalog import Catalog
from catalog.errors import ProblemError, did_you_mean
from catalog.schema import KV_DTYPE_BYTES
from catalog.validation import describe_errors
from catalog.yamlio import YamlDoc, format_loc, read_yaml

from .serving import WHOLE_PROMPTS

__all__ = ["Problem", "Workload", "longest_prompt", "Constraints", "Tco", "EngineSettings", "ENGINE_SETTINGS", "DEFAULT_ELECTRICITY_PER_KWH",
           "DEFAULT_HARDWARE_CLASSES", "load_problem", "problem_from_fields", "with_overrides",
           "check_ids", "OBJECTIVES"]

OBJECTIVES = ("cost", "power", "tco", "users")
# Network and rack prices a plan uses unless the problem names others (when the catalog has them).
DEFAULT_NETWORK_PRICES = "network-usd-2026"
# Classes a plan buys unless the problem says otherwise: no consumer cards or edge modules in a data centre.
DEFAULT_HARDWARE_CLASSES = ("datacenter", "workstation")
# Upper limits keep every total inside CP-SAT's 64-bit integers (see optimizer/scaling.py).
MAX_USERS = 10**6
MAX_MONEY = 10**12


class _Record(BaseModel):
    # NaN and infinities are refused in every number of a problem, whether from YAML or a flag.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


def _once_each(values: list | None) -> list | None:
    """A list with repeats dropped, first occurrence kept: `--prices a --prices a` means a once."""
    return None if values is None else list(dict.fromkeys(values))


class SpeculativeDecoding(_Record):
    """Speculative decoding on every replica (optimizer/serving.py): `method` mtp (the model's own
    multi-token-prediction modules, catalog `Model.mtp`: DeepSeek-V3/R1, GLM-4.5 and later, Qwen3.5 ...; the
    replicas then load them), eagle (an EAGLE-3 draft head) or
    ngram (prompt lookup); `tokens` k drafted per step; `acceptance` a of each draft token
    (default: mtp takes the published accepted lengths per k, serving.MTP_ACCEPTED_LENGTH, whose first draft is
    accepted at 0.92; assumptions 0.7 eagle, 0.5 ngram)."""

    method: Literal["mtp", "eagle", "ngram"]
    tokens: int = Field(1, ge=1, le=16, description="Draft tokens per step (k).")
    acceptance: float | None = Field(None, gt=0, le=1, description="Acceptance of each draft token, (0, 1].")


class Workload(_Record):
    concurrent_users: int | None = Field(None, ge=1, le=MAX_USERS, description="Users served at the same time.")
    request_rate: float | None = Field(None, gt=0, le=1_000_000, description=(
        "Requests per second over the whole deployment (Poisson arrivals), instead of concurrent_users: "
        "replicas are then sized by rate (plan 'users' count requests per hour)."))
    input_tokens: int = Field(2000, ge=1, le=10_000_000, description="Prompt tokens per request.")
    input_tokens_spread: float = Field(0.0, ge=0, le=1, description=(
        "How much prompt lengths vary: spread uniformly over input_tokens × [1 − s, 1 + s] (as vllm bench serve "
        "--random-range-ratio s draws them); 0 (default): every prompt input_tokens long. The prefill queues of "
        "request-rate sizing and of disaggregated prefill pools wait longer for it (M/G/1), and TensorRT-LLM's "
        "max_num_tokens covers the longest prompt."))
    output_tokens: int = Field(1000, ge=1, le=10_000_000, description="Generated tokens per request.")
    min_tokens_per_s: float = Field(0.0, ge=0, le=100_000, description="Decode speed each user must see.")
    max_ttft_s: float | None = Field(None, gt=0, le=86_400, description="Longest time to first token.")
    ttft_percentile: Literal[50, 90] = Field(90, description=(
        "Which TTFT max_ttft_s bounds: 90 (default: the 90th percentile, as service-level targets are "
        "usually stated) or 50 (the mean, as benchmarks report it)."))
    arrivals: Literal["random", "synchronized"] = Field("random", description=(
        "random: independent users (plans for real traffic); synchronized: all users start together, "
        "as closed-loop benchmarks (InferenceX, vllm bench serve --max-concurrency) do."))
    speculative: SpeculativeDecoding | None = Field(None, description="Speculative decoding (mtp, eagle, ngram).")
    kv_reserve_gb: float | None = Field(None, gt=0, le=1_000_000, description=(
        "Reserve this much memory for the KV cache instead of computing it from the workload "
        "(doubled when an fp8 model runs in bf16). Without concurrent_users the plan is one replica."))

    @property
    def context_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def longest_prompt(self) -> int:
        """Tokens of the longest prompt: input_tokens × (1 + input_tokens_spread), rounded up."""
        return longest_prompt(self.input_tokens, self.input_tokens_spread)

    @property
    def draft(self) -> str | None:
        """The speculative-decoding method replicas run (and whose draft they load), or None."""
        return None if self.speculative is None else self.speculative.method

    @property
    def demand(self) -> int | None:
        """What the plan must serve, as the solver's integer: concurrent users, or — when
        `request_rate` is given — requests per hour, ceil(request_rate × 3600)."""
        if self.request_rate is not None:
            return math.ceil(self.request_rate * 3600 - 1e-9)
        return self.concurrent_users

    @model_validator(mode="after")
    def _one_demand(self) -> Workload:
        if self.request_rate is not None and self.concurrent_users is not None:
            raise ValueError("give workload.concurrent_users or workload.request_rate, not both")
        if self.request_rate is not None and self.arrivals == "synchronized":
            raise ValueError("workload.arrivals = synchronized describes users who all start together, and "
                             "workload.request_rate is Poisson arrivals: drop arrivals (random) or give "
                             "concurrent_users instead of request_rate")
        return self


class EngineSettings(_Record):
    """Serving-engine settings the memory model takes as inputs; unset = the engine's own default.

    One engine-neutral set; each engine names and reads them its own way (the defaults and the
    engine version they come from are in catalog/data/engines.yaml):

    - `memory_utilization` (fraction): vLLM `--gpu-memory-utilization` (share of the card's memory the
      engine may use: weights + activations + KV cache); SGLang `--mem-fraction-static` (share holding
      weights + KV pool); TensorRT-LLM `kv_cache_free_gpu_memory_fraction` (share of the memory still
      FREE after weights and the activation profile that the KV cache takes).
    - `max_batch` (sequences; per attention DP group under attention DP): vLLM `--max-num-seqs`, SGLang
      `--max-running-requests` (whose flag counts all groups: the launch command multiplies), TensorRT-LLM
      `max_batch_size`.
    - `max_batched_tokens` (tokens per forward step): vLLM `--max-num-batched-tokens`, SGLang
      `--chunked-prefill-size` (which SGLang divides over the attention DP groups), TensorRT-LLM
      `max_num_tokens` (raised to cover the longest prompt when unset: TensorRT-LLM rejects longer ones).
    - `max_model_len` (tokens, prompt + output of one request): vLLM `--max-model-len`, SGLang
      `--context-length`, TensorRT-LLM `max_seq_len`. Must not exceed the model's context.
    - `eager` (no CUDA graphs): vLLM `--enforce-eager`, SGLang `--disable-cuda-graph`, TensorRT-LLM
      `cuda_graph_config: null`.
    - `version`: the engine release whose memory rules apply (vLLM 0.21.0, llama.cpp build 6000, ...),
      and whose `early_releases` and `eager_prefill` speed rules (optimizer/speed.py release_slowdown,
      prefill_launch_floor); unset: the newest release engines.yaml sources (`memory.versions`).
    """

    memory_utilization: float | None = Field(None, gt=0, le=1, description="Memory fraction, in (0, 1]: vLLM "
                                             "--gpu-memory-utilization, SGLang --mem-fraction-static, TensorRT-LLM "
                                             "kv_cache_free_gpu_memory_fraction.")
    max_batch: int | None = Field(None, ge=1, le=1_000_000, description="Most sequences running at once (per "
                                  "attention DP group under attention DP): vLLM --max-num-seqs, SGLang "
                                  "--max-running-requests, TensorRT-LLM max_batch_size.")
    max_batched_tokens: int | None = Field(None, ge=1, le=100_000_000, description="Most tokens in one forward "
                                           "step: vLLM --max-num-batched-tokens, SGLang --chunked-prefill-size, "
                                           "TensorRT-LLM max_num_tokens.")
    max_model_len: int | None = Field(None, ge=1, le=100_000_000, description="Longest request (prompt + output), "
                                      "tokens: vLLM --max-model-len, SGLang --context-length, TensorRT-LLM "
                                      "max_seq_len. Default: the model's context.")
    eager: bool = Field(False, description="Run without CUDA graphs: vLLM --enforce-eager, SGLang "
                        "--disable-cuda-graph.")
    version: str | None = Field(None, pattern=r"^[vb]?[0-9]+(\.[0-9]+)*$", description="Engine release whose "
                                "memory rules apply, e.g. 0.10.1, 0.21.0 (vLLM), b6000 (llama.cpp); default: the "
                                "newest release the catalog sources.")

    def flags(self) -> dict[str, object]:
        """The settings given (not the defaults), by field name."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, False)}


# (field, CLI flag) of every engine setting: the CLI and the error messages name them alike.
ENGINE_SETTINGS = (("memory_utilization", "--memory-utilization"), ("max_batch", "--max-batch"),
                   ("max_batched_tokens", "--max-batched-tokens"), ("max_model_len", "--max-model-len"),
                   ("eager", "--eager"), ("version", "--engine-version"))


class Constraints(_Record):
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="Currency of costs and budget; "
                                 "default: the price list's.")
    budget: float | None = Field(None, gt=0, le=MAX_MONEY)
    max_nodes: int | None = Field(None, ge=1, le=100_000)
    max_nodes_per_replica: int = Field(4, ge=1, le=64, description="Nodes one model replica may span (pipeline, "
                                       "tensor or expert parallel across servers).")
    max_replicas_per_node: int | None = Field(None, ge=1, le=1024, description="Most replicas sharing one server "
                                              "(1: every replica has whole servers; default: no limit).")
    max_power_w: int | None = Field(None, gt=0, le=10**10, description="Cap on the IT equipment's maximum draw, W.")
    max_site_kw: float | None = Field(None, gt=0, le=10**7, description="Cap on the facility's draw, kW: the IT "
                                      "equipment's maximum draw × tco.pue (cooling and power losses).")
    max_rack_kw: float = Field(40.0, gt=0, le=2000, description="Power one air-cooled rack may feed and cool, kW "
                               "(40 kW: about what air cooling removes from one rack).")
    max_liquid_rack_kw: float = Field(132.0, gt=0, le=2000, description="Power one liquid-cooled rack may take, kW "
                                      "(132 kW: the GB200 NVL72 power shelves).")
    max_racks: int | None = Field(None, ge=1, le=100_000, description="Most racks the plan may fill.")
    vendors: list[str] | None = Field(None, min_length=1, description="Accelerator makers allowed.")
    accelerators: list[str] | None = Field(None, min_length=1, description="Only these accelerators.")
    exclude_accelerators: list[str] = Field(default_factory=list)
    form_factors: list[Literal["pcie", "sxm", "oam", "cpu", "module"]] | None = Field(None, min_length=1)
    require_native_fp8: bool = False
    hardware_classes: list[Literal["datacenter", "workstation", "consumer", "edge"]] = Field(
        default_factory=lambda: list(DEFAULT_HARDWARE_CLASSES), min_length=1,
        description="Hardware classes a plan may buy (accelerators and servers): datacenter, workstation, "
                    "consumer (GeForce-class cards), edge. Default: datacenter and workstation.")
    max_skus: int | None = Field(None, ge=1, le=1000, description="Distinct node types in the plan.")
    stock: dict[str, int] = Field(default_factory=dict, description="Accelerators available, by id.")
    spare_nodes: int = Field(0, ge=0, le=1, description="1: the plan still serves every user with any one node down.")
    sellers: list[str] | None = Field(None, min_length=1, description="Sellers (offer vendors) allowed.")
    conditions: list[Literal["new", "used", "refurbished"]] | None = Field(None, min_length=1)
    min_warranty_months: int | None = Field(None, ge=0, le=240)
    max_lead_time_weeks: float | None = Field(None, ge=0, le=520)
    max_sellers: int | None = Field(None, ge=1, le=1000, description="Most sellers to deal with.")
    as_of: str | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="Purchase date (YYYY[-MM[-DD]]): "
                              "only offers valid then count.")

    _no_repeats = field_validator("vendors", "accelerators", "exclude_accelerators", "form_factors", "sellers",
                                  "conditions")(_once_each)

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_text(cls, value):
        return value.isoformat() if hasattr(value, "isoformat") else value

    @field_validator("stock")
    @classmethod
    def _stock_non_negative(cls, stock: dict[str, int]) -> dict[str, int]:
        for key, value in stock.items():
            if value < 0:
                raise ValueError(f"stock of {key} is {value}; it must be 0 or more")
        return stock


# Electricity prices per kWh used when a problem gives none. Assumptions with reasons:
# USD 0.10 sits between the US EIA 2024 industrial (~0.08) and commercial (~0.13) averages;
# CNY 0.70 is a typical Chinese large-industry tariff; EUR 0.15 a typical EU non-household price.
DEFAULT_ELECTRICITY_PER_KWH = {"USD": 0.10, "CNY": 0.70, "EUR": 0.15}


class Tco(_Record):
    """Total cost of ownership = capital cost + energy + hosting over a horizon."""

    years: float = Field(4.0, gt=0, le=30, description="Horizon; 4 years is a common depreciation period.")
    electricity_per_kwh: float | None = Field(None, ge=0, le=100, description="In the problem's currency; "
                                              "default by currency (USD 0.10, CNY 0.70, EUR 0.15).")
    pue: float = Field(1.4, ge=1, le=3, description="Facility power per IT power; 1.4 is a modern colocation "
                       "figure (Uptime Institute's 2023 global average is 1.58).")
    load_factor: float = Field(1.0, gt=0, le=1, description="Average share of the nodes' rated draw; 1 is conservative.")
    hosting_per_node_year: float = Field(0.0, ge=0, le=1e9, description="Support and other costs per node and year.")
    hosting_per_rack_year: float = Field(0.0, ge=0, le=1e9, description="Colocation rate per rack and year (space, "
                                         "power feed, cooling contract), in the problem's currency.")

    def price_per_kwh(self, currency: str) -> float | None:
        if self.electricity_per_kwh is not None:
            return self.electricity_per_kwh
        return DEFAULT_ELECTRICITY_PER_KWH.get(currency)


class Problem(_Record):
    name: str = "ad-hoc"
    description: str = ""
    model: str
    precision: str | list[str] = Field("auto", description="'auto', a precision id, or a list of them.")
    kv_dtype: str = "auto"
    engine: str | list[str] = "auto"
    dp_attention: bool = False
    engine_settings: EngineSettings = Field(default_factory=EngineSettings, description="Engine settings the "
                                            "sizing assumes (memory utilization, max batch, max batched tokens, "
                                            "max_model_len, eager); unset = each engine's default.")
    workload: Workload
    constraints: Constraints = Field(default_factory=Constraints)
    prices: str | list[str] = Field("street-usd-2026", description="Price list id, or several whose offers compete "
                                    "(default: the newest bundled street prices, street-usd-2026).")
    network_prices: str | list[str] | None = Field(None, description="Price lists of the scale-out network "
                                                   "(switches, cables, transceivers) and racks; default "
                                                   "network-usd-2026 where the catalog has it; [] leaves them unpriced.")
    objective: Literal["cost", "power", "tco", "users"] = "cost"
    serving: Literal["aggregated", "disaggregated", "auto"] = Field("auto", description=(
        "aggregated: every replica prefills and decodes; disaggregated: a prefill pool and a decode pool "
        "(each of any node type) with the KV cache sent between them; auto (default): the better plan of "
        "the two for the objective, saying by how much the other one differs."))
    tco: Tco = Field(default_factory=Tco)

    _where: dict[tuple, str] = PrivateAttr(default_factory=dict)
    _flags: dict[tuple, str] = PrivateAttr(default_factory=dict)
    _origin: str = PrivateAttr(default="command line")

    @field_validator("precision", "engine", "prices")
    @classmethod
    def _no_repeats(cls, value: str | list[str]) -> str | list[str]:
        return value if isinstance(value, str) else _once_each(value)

    @field_validator("kv_dtype")
    @classmethod
    def _kv_dtype_known(cls, value: str) -> str:
        if value != "auto" and value not in KV_DTYPE_BYTES:
            raise ValueError(f"unknown KV datatype; allowed: auto, {', '.join(KV_DTYPE_BYTES)}")
        return value

    @model_validator(mode="after")
    def _objective_needs(self) -> Problem:
        c, w = self.constraints, self.workload
        if self.objective == "users":
            if c.budget is None and c.max_nodes is None and c.max_power_w is None and c.max_site_kw is None \
                    and c.max_racks is None:
                raise ValueError("objective 'users' maximizes users under a limit: give constraints.budget, "
                                 "max_nodes, max_power_w, max_site_kw or max_racks")
        elif w.concurrent_users is None and w.request_rate is None and w.kv_reserve_gb is None:
            raise ValueError("give workload.concurrent_users or workload.request_rate (or workload.kv_reserve_gb "
                             "for a single replica)")
        return self

    def where(self, *loc: Any) -> str:
        """Where a field came from: '--budget' if a flag set it (or a field above it), else 'problems/x.yaml:12:3'."""
        for i in range(len(loc), 0, -1):
            if tuple(loc[:i]) in self._flags:
                return self._flags[tuple(loc[:i])]
        return self._where.get(tuple(loc)) or self._origin

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def precisions(self) -> list[str]:
        return [self.precision] if isinstance(self.precision, str) else list(self.precision)

    @property
    def price_lists(self) -> list[str]:
        return [self.prices] if isinstance(self.prices, str) else list(self.prices)

    @property
    def network_price_lists(self) -> list[str]:
        if self.network_prices is None:
            return [DEFAULT_NETWORK_PRICES]
        return [self.network_prices] if isinstance(self.network_prices, str) else list(self.network_prices)

    @property
    def engines(self) -> list[str]:
        return [self.engine] if isinstance(self.engine, str) else list(self.engine)


def _with_locations(problem: Problem, doc: YamlDoc | None, flag_fields: dict[tuple, str] | None = None) -> Problem:
    where: dict[tuple, str] = {}
    if doc is not None:
        problem._origin = doc.origin
        for loc in _field_paths(doc.data):
            where[loc] = doc.where(loc)
    problem._where = where
    problem._flags = dict(flag_fields or {})
    return problem


def _field_paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _field_paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _field_paths(value, prefix + (i,))
    return out


def _validate(data: dict, doc: YamlDoc | None, origin: str) -> Problem:
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(describe_errors(exc, Problem, doc, origin)) from None


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file; errors name the file, line, field and value."""
    doc = read_yaml(path, error=ProblemError, what="problem file")
    return _with_locations(_validate(doc.data, doc, doc.origin), doc)


def problem_from_fields(fields: dict[str, Any], flag_names: dict[tuple, str] | None = None) -> Problem:
    """A problem from a nested dict of fields (the CLI's flags-only form); errors name the flag."""
    try:
        problem = Problem.model_validate(fields)
    except ValidationError as exc:
        loc = tuple(exc.errors(include_url=False)[0]["loc"])
        origin = (flag_names or {}).get(loc, "command line")
        raise ProblemError(describe_errors(exc, Problem, None, origin)) from None
    return _with_locations(problem, None, flag_names)


def _set(data: dict, loc: tuple, value: Any) -> None:
    for key in loc[:-1]:
        if data.get(key) is None:   # absent, or null in the file (`speculative: null`): a flag starts it
            data[key] = {}
        data = data[key]
    data[loc[-1]] = value


def with_overrides(problem: Problem, overrides: dict[tuple, tuple[str, Any]]) -> Problem:
    """Apply {('constraints', 'budget'): ('--budget', 2.5e6), ...}; None values are skipped."""
    data = problem.model_dump(exclude_unset=True)
    flags: dict[tuple, str] = {}
    for loc, (flag, value) in overrides.items():
        if value is None:
            continue
        _set(data, loc, value)
        flags[loc] = flag
    try:
        updated = Problem.model_validate(data)
    except ValidationError as exc:
        # Point at the flag when a flag's value is the culprit, else at the file.
        errors = exc.errors(include_url=False)
        loc = tuple(errors[0]["loc"])
        origin = flags.get(loc, problem.origin)
        raise ProblemError(describe_errors(exc, Problem, None, origin)) from None
    updated._where = dict(problem._where)
    updated._flags = {**problem._flags, **flags}
    updated._origin = problem._origin
    return updated


def check_ids(problem: Problem, catalog: Catalog) -> None:
    """Every id the problem names exists in the catalog, and the lengths and settings it gives suit its
    model; raise ProblemError naming the field (with a suggestion for an unknown id) if not."""
    if problem.model not in catalog.models:
        raise _unknown(problem, ("model",), "model", problem.model, catalog.models)
    model = catalog.models[problem.model]
    _check_lengths(problem, model)
    _check_engine_settings(problem, model)
    _check_choices(problem, catalog, model)
    _check_release(problem, catalog)
    _check_constraint_ids(problem, catalog)
    _check_constraints_leave_something(problem, catalog)


def _unknown(problem: Problem, loc: tuple, kind: str, value: str, choices) -> ProblemError:
    return ProblemError(f"{problem.where(*loc)}: {format_loc(loc)} = '{value}': unknown {kind}"
                        f"{did_you_mean(value, choices)} (allowed: {', '.join(sorted(choices))}).")


def _check_lengths(problem: Problem, model) -> None:
    """A request (input + output) fits the model's context, and max_model_len lies between the two."""
    w = problem.workload
    if w.context_tokens > model.max_context:
        raise ProblemError(
            f"{problem.where('workload', 'input_tokens')}: workload.input_tokens + workload.output_tokens = "
            f"{w.input_tokens:,} + {w.output_tokens:,} = {w.context_tokens:,} tokens, more than {model.id}'s "
            f"context of {model.max_context:,} tokens (its max_model_len); shorten the prompt or the output.")
    length = problem.engine_settings.max_model_len
    if length is not None and length > model.max_context:
        raise ProblemError(f"{problem.where('engine_settings', 'max_model_len')}: engine_settings.max_model_len = "
                           f"{length:,}: {model.id} takes at most {model.max_context:,} tokens (its context); "
                           f"the engine refuses a longer max_model_len.")
    if length is not None and length < problem.workload.context_tokens:
        raise ProblemError(f"{problem.where('engine_settings', 'max_model_len')}: engine_settings.max_model_len = "
                           f"{length:,} is shorter than one request (input + output = "
                           f"{problem.workload.context_tokens:,} tokens); the engine would reject every request.")


VERSION_NEEDS_ENGINE = "a release number belongs to one engine; name that engine (engine: vllm, --engine vllm) with it."


def longest_prompt(input_tokens: int, spread: float) -> int:
    """Tokens of the longest prompt of `input_tokens` spread uniformly by ± `spread`: ⌈input_tokens·(1 + spread)⌉."""
    return math.ceil(input_tokens * (1 + spread) - 1e-9)


def version_names_engine(version: str | None, engines: list[str]) -> bool:
    """False when an engine release (`engine_settings.version`, `--engine-version`) is given without naming
    exactly one engine ('auto' or several): a release number belongs to one engine (solve and estimate)."""
    return version is None or (engines != ["auto"] and len(engines) == 1)


def _check_engine_settings(problem: Problem, model) -> None:
    """An engine version names one engine; a max_batched_tokens an engine that runs prompts whole (TensorRT-LLM)
    would reject the prompts at is refused when only such engines are asked; MTP speculative decoding needs a
    model with MTP layers."""
    version = problem.engine_settings.version
    engines = [problem.engine] if isinstance(problem.engine, str) else list(problem.engine)
    if not version_names_engine(version, engines):
        raise ProblemError(f"{problem.where('engine_settings', 'version')}: engine_settings.version = '{version}': "
                           f"{VERSION_NEEDS_ENGINE}")
    tokens, prompt = problem.engine_settings.max_batched_tokens, problem.workload.longest_prompt
    if tokens is not None and tokens < prompt and engines != ["auto"] and all(e in WHOLE_PROMPTS for e in engines):
        longest = "workload.input_tokens" if problem.workload.input_tokens_spread == 0 else \
            "the longest prompt (workload.input_tokens × (1 + input_tokens_spread))"
        raise ProblemError(f"{problem.where('engine_settings', 'max_batched_tokens')}: engine_settings."
                           f"max_batched_tokens = {tokens:,} is below {longest} = {prompt:,}: "
                           f"{', '.join(engines)} runs each prompt in one step and rejects one longer than "
                           f"max_num_tokens, so every request would fail; give at least {prompt:,}, or leave it "
                           f"out (hwplan then raises it to cover the prompts).")
    spec = problem.workload.speculative
    if spec is not None and spec.method == "mtp":
        if model.mtp is None:
            raise ProblemError(f"{problem.where('workload', 'speculative', 'method')}: workload.speculative.method = "
                               f"mtp: {model.id} has no multi-token-prediction layers (its config.json sets no "
                               f"num_nextn_predict_layers); use eagle or ngram.")


def _check_release(problem: Problem, catalog: Catalog) -> None:
    """An engine release is numbered as its engine numbers them (`Engine.release_numbering_error`)."""
    version, engine = problem.engine_settings.version, problem.engine
    if version is None:
        return
    name = engine if isinstance(engine, str) else engine[0]     # one engine: _check_engine_settings saw to it
    why = catalog.engines[name].release_numbering_error(version)
    if why:
        raise ProblemError(f"{problem.where('engine_settings', 'version')}: engine_settings.version = '{version}': {why}")


def _check_choices(problem: Problem, catalog: Catalog, model) -> None:
    """Precisions, engines, price lists and network price lists exist (each a string or a list)."""
    variants = [v.id for v in model.variants]
    listed = (("precision", problem.precision, problem.precisions, f"precision for {model.id}", ["auto", *variants]),
              ("engine", problem.engine, problem.engines, "engine", ["auto", *catalog.engines]),
              ("prices", problem.prices, problem.price_lists, "price list", list(catalog.price_lists)),
              ("network_prices", problem.network_prices,
               problem.network_price_lists if problem.network_prices is not None else [], "price list",
               list(catalog.price_lists)))
    for field, given, values, kind, allowed in listed:
        for i, value in enumerate(values):
            if value not in allowed:
                loc = (field,) if isinstance(given, str) else (field, i)
                raise _unknown(problem, loc, kind, value, allowed)


def _check_constraint_ids(problem: Problem, catalog: Catalog) -> None:
    """Sellers, vendors and accelerators named in constraints exist."""
    sellers = {o.seller for pl in problem.price_lists for o in catalog.price_lists[pl].offers}
    for i, seller in enumerate(problem.constraints.sellers or []):
        if seller not in sellers:
            raise _unknown(problem, ("constraints", "sellers", i), f"seller in {', '.join(problem.price_lists)}",
                           seller, sellers)
    c = problem.constraints
    vendors = catalog.vendors()
    for i, v in enumerate(c.vendors or []):
        if v not in vendors:
            raise _unknown(problem, ("constraints", "vendors", i), "vendor", v, vendors)
    named = [(("constraints", f, i), a) for f in ("accelerators", "exclude_accelerators")
             for i, a in enumerate(getattr(c, f) or [])] + [(("constraints", "stock", a), a) for a in c.stock]
    for loc, a in named:
        if a not in catalog.accelerators:
            raise _unknown(problem, loc, "accelerator", a, catalog.accelerators)


def _check_constraints_leave_something(problem: Problem, catalog: Catalog) -> None:
    """vendors and exclude_accelerators leave at least one of constraints.accelerators to buy."""
    c = problem.constraints
    if c.accelerators and c.vendors:
        kept = [a for a in c.accelerators if catalog.accelerators[a].maker in c.vendors]
        if not kept:
            raise ProblemError(f"{problem.where('constraints', 'vendors')}: constraints.vendors = {c.vendors} allows "
                               f"none of constraints.accelerators = {c.accelerators} (made by "
                               f"{', '.join(sorted({catalog.accelerators[a].maker for a in c.accelerators}))}); "
                               f"nothing is left to buy.")
    if c.accelerators and c.exclude_accelerators and not set(c.accelerators) - set(c.exclude_accelerators):
        raise ProblemError(f"{problem.where('constraints', 'exclude_accelerators')}: constraints.exclude_accelerators "
                           f"removes every accelerator that constraints.accelerators allows; nothing is left to buy.")

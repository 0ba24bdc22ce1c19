"""`estimate`: the sizing model's answer for one replica, without buying anything.

Given a model, an accelerator and how many of them, it reports the precision that
runs (the fp8 rule applied), the engine settings assumed, the memory of one
accelerator term by term as the engine's start-up log prints it (`memory_gib`),
how many tokens and concurrent requests the KV cache holds, whether the engine
starts (`fits`, and `why_not` naming the failing term), and the decode speed,
throughput and time to first token at a given concurrency (default one user;
'max' = as many as memory and the engine allow, as offline benchmarks run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog import Catalog
from pydantic import ValidationError

from catalog.errors import InputError, did_you_mean, shorten
from catalog.schema import Accelerator, Platform

from . import serving, sizing, speed
from .deployment import Deployment
from .problem import ENGINE_SETTINGS, EngineSettings
from .units import ENGINE_PREFERENCE, platform_accepts

__all__ = ["Estimate", "estimate", "default_platform", "engine_settings", "LOG_LINES"]

# Which start-up log line each memory figure corresponds to, per engine rule.
LOG_LINES: dict[str, dict[str, str]] = {
    "vllm": {"total": "total_gpu_memory (mem_get_info)", "usable": "× --gpu-memory-utilization",
             "weights": "'Model loading took'", "activations": "torch peak increase (profile run)",
             "cuda_graphs": "'Graph capturing … took' (after KV)", "other": "non-torch memory",
             "kv_cache": "'Available KV cache memory'"},
    "sglang": {"total": "total GPU memory", "usable": "× --mem-fraction-static",
               "weights": "'Load weight end … mem usage'", "activations": "outside the static pool",
               "cuda_graphs": "'Capture cuda graph end'", "other": "in use before loading",
               "kv_cache": "'KV Cache is allocated' K + V size"},
    "trtllm": {"total": "total GPU memory", "usable": "total (fraction of free below)",
               "weights": "'Rank 0 uses … for model weights'", "activations": "'allocated during inference'",
               "cuda_graphs": "'used outside torch' (graphs)", "other": "'used outside torch' (context)",
               "kv_cache": "'Allocated … in paged KV cache'"},
    "fixed": {"total": "device memory", "usable": "device memory", "weights": "'model buffer size'",
              "activations": "—", "cuda_graphs": "—", "other": "'compute buffer size'", "kv_cache": "'KV self size'"},
}


def engine_settings(**given) -> EngineSettings:
    """EngineSettings from keyword values (None = engine default); a bad value raises InputError naming
    its flag (--memory-utilization, --max-batch, --max-batched-tokens, --max-model-len, --eager)."""
    flags = dict(ENGINE_SETTINGS)
    try:
        return EngineSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        raise InputError(f"{flags.get(field, field)} = {given.get(field)}: {err['msg'].lower()} "
                         f"({EngineSettings.model_fields[field].description})") from None



@dataclass(frozen=True)
class Estimate:
    model: str
    accelerator: str
    gpus: int
    nodes: int
    platform: str
    engine: str
    precision: str
    requested_precision: str
    kv_dtype: str
    tp: int
    pp: int
    dp_attention: bool
    weights_gb: float
    weights_per_gpu_gb: float
    memory_gb: float
    kv_budget_per_gpu_gb: float
    kv_bytes_per_token: float
    kv_capacity_tokens: int         # what the KV cache holds (logged before any start-up check)
    context_tokens: int
    max_concurrency: int
    fits: bool
    why_not: str | None = None
    engine_settings: dict[str, Any] = field(default_factory=dict)
    engine_defaults_version: str = ""
    memory_gib: dict[str, float] = field(default_factory=dict)   # per accelerator, as the start-up log
    memory_log_lines: dict[str, str] = field(default_factory=dict)
    max_model_len_kv_gib: float = 0.0                           # one max_model_len request, per accelerator
    max_model_len_concurrency: float = 0.0   # vLLM's 'Maximum concurrency for N tokens per request: X'x
    concurrency: int | None = None
    batch: int | None = None
    bound: str | None = None
    decode_tokens_per_s_per_user: float | None = None
    output_tokens_per_s_total: float | None = None
    ttft_s: float | None = None                 # mean time to first token
    ttft_p90_s: float | None = None             # 90th percentile (optimizer/serving.py)
    arrivals: str = "random"                    # random users, or synchronized benchmark waves
    speculative: dict[str, Any] | None = None   # method, tokens, acceptance, tokens_per_step
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("weights_gb", "weights_per_gpu_gb", "memory_gb", "kv_budget_per_gpu_gb"):
            out[key] = round(out[key], 2)
        out["kv_bytes_per_token"] = int(self.kv_bytes_per_token) if self.kv_bytes_per_token.is_integer() \
            else round(self.kv_bytes_per_token, 1)
        for key in ("decode_tokens_per_s_per_user", "output_tokens_per_s_total"):
            out[key] = None if out[key] is None else round(out[key], 2)
        out["ttft_s"] = None if self.ttft_s is None else round(self.ttft_s, 3)
        out["ttft_p90_s"] = None if self.ttft_p90_s is None else round(self.ttft_p90_s, 3)
        return out


def default_platform(catalog: Catalog, acc: Accelerator, gpus_per_node: int) -> Platform:
    """A server for `acc` that takes `gpus_per_node` of it, preferring one with a native fabric."""
    fitting = [p for p in catalog.platforms.values() if platform_accepts(p, acc)]
    exact = [p for p in fitting if gpus_per_node in p.gpu_counts]
    pool = exact or [p for p in fitting if max(p.gpu_counts) >= gpus_per_node] or fitting
    if not pool:
        # No server in the catalog takes it: assume one whose link is the accelerator's own.
        return Platform(id="generic", name=f"generic server for {acc.id}", maker="generic", hardware_class="datacenter",
                        form_factor=acc.form_factor, gpu_counts=[gpus_per_node], base_power_w=0, rack_units=1,
                        source="assumption: no catalog server takes this accelerator", date="2025")
    return sorted(pool, key=lambda p: (p.link != "native", p.id))[0]


def estimate(catalog: Catalog, *, model: str, accelerator: str, gpus: int, nodes: int = 1,
             precision: str = "auto", kv_dtype: str = "auto", engine: str = "auto", dp_attention: bool = False,
             platform: str | None = None, input_tokens: int = 2000, output_tokens: int = 1000,
             concurrency: int | str | None = None, memory_utilization: float | None = None,
             max_batch: int | None = None, max_batched_tokens: int | None = None, max_model_len: int | None = None,
             eager: bool = False, settings: EngineSettings | None = None, arrivals: str = "random",
             speculative: Any = None) -> Estimate:
    """Size one replica of `gpus` accelerators over `nodes` nodes under the given engine settings
    (unset: the engine's defaults; `settings` replaces the five keyword settings when given).

    Raises InputError for unknown ids, counts below one, a setting the engine would reject
    (utilization outside (0, 1], max_model_len above the model's context).
    """
    m = catalog.model(model, "--model")
    acc = catalog.accelerator(accelerator, "--accelerator")
    if gpus < 1:
        raise InputError(f"--gpus = {gpus}: a replica needs at least one accelerator.")
    # Upper limits as a problem's (optimizer/problem.py): past them the layout search and the
    # integer sizing would run for hours on a typo like 10^40.
    for flag, value, top in (("--gpus", gpus, 100_000), ("--nodes", nodes, 10_000),
                             ("--input-tokens", input_tokens, 10_000_000), ("--output-tokens", output_tokens, 10_000_000),
                             ("--concurrency", concurrency if isinstance(concurrency, int) else 1, 1_000_000)):
        if value > top:
            raise InputError(f"{flag} = {shorten(value)}: at most {top:,}.")
    if nodes < 1 or gpus % nodes:
        raise InputError(f"--nodes = {nodes}: the {gpus} accelerators must split evenly over the nodes.")
    if settings is None:
        settings = engine_settings(memory_utilization=memory_utilization, max_batch=max_batch,
                                   max_batched_tokens=max_batched_tokens, max_model_len=max_model_len,
                                   eager=eager or None)
    if kv_dtype != "auto" and kv_dtype not in sizing.KV_DTYPE_BYTES:
        raise InputError(f"--kv-dtype = '{kv_dtype}': unknown KV datatype{did_you_mean(kv_dtype, sizing.KV_DTYPE_BYTES)} "
                         f"(allowed: auto, {', '.join(sizing.KV_DTYPE_BYTES)}).")
    variants = [v.id for v in m.variants]
    asked = m.native_precision if precision == "auto" else precision
    if asked not in variants:
        raise InputError(f"--precision = '{precision}': {m.id} has no such precision{did_you_mean(precision, variants)} "
                         f"(allowed: auto, {', '.join(variants)}).")
    runnable = sizing.runnable_variant(m, acc, asked)
    if runnable is None:
        raise InputError(f"--precision = '{precision}': {acc.id} cannot run {m.id} in {asked} "
                         f"(it needs native {m.variant(asked).requires_native} units and has no fallback).")
    variant, note = runnable
    per_node = gpus // nodes
    plat = catalog.platform(platform, "--platform") if platform else default_platform(catalog, acc, per_node)
    if engine == "auto":
        chosen = next((catalog.engines[e] for e in ENGINE_PREFERENCE
                       if e in catalog.engines and sizing.engine_runs(catalog.engines[e], acc, variant)), None)
        if chosen is None:
            raise InputError(f"no engine in the catalog runs {variant.format} weights on {acc.id} ({acc.family}).")
    else:
        chosen = catalog.engine(engine, "--engine")
        if not sizing.engine_runs(chosen, acc, variant):
            raise InputError(f"--engine = '{engine}': {chosen.name} does not run {variant.format} weights on "
                             f"{acc.id} ({acc.family}); it runs {', '.join(chosen.formats)} on "
                             f"{', '.join(chosen.families)}.")
    dep = Deployment(model=m, variant=variant, accelerator=acc, platform=plat, engine=chosen,
                     gpus_per_node=per_node, nodes=nodes, kv_dtype=kv_dtype, dp_attention=dp_attention,
                     settings=settings)
    fit = dep.memory()
    context = input_tokens + output_tokens
    max_conc = sizing.max_concurrency(m, fit, dep.kv_dtype, context)
    notes = [note] if note else []
    why_not = fit.why_not
    if why_not is None and max_conc < 1:
        why_not = (f"one request of {context:,} tokens needs more KV than the "
                   f"{fit.kv_budget_per_gpu / sizing.GIB:,.2f} GiB per accelerator left for the KV cache")
    if why_not is None and fit.settings and context > fit.settings.max_model_len:
        notes.append(f"a request of {context:,} tokens is longer than max_model_len {fit.settings.max_model_len:,}: "
                     f"the engine rejects it")
    fits = why_not is None
    if not fits:
        notes.append(f"{gpus} × {acc.id} do not run {m.id} in {variant.id} under {chosen.name}: {why_not}")
    if dp_attention and not fit.layout.dp_attention:
        notes.append("data-parallel attention applies only to MLA or MoE models on engines that support it, "
                     "with tp > 1")
    cap = speed.batch_cap(dep, fit)
    limit = max_conc if cap is None else min(max_conc, cap)
    conc = limit if concurrency == "max" else int(concurrency or 1)
    batch = min(conc, limit)
    if speculative is not None:
        serving.check_speculative(speculative, m.id, chosen.id)
    if arrivals not in serving.ARRIVALS:
        raise InputError(f"--arrivals = '{arrivals}': allowed {', '.join(serving.ARRIVALS)}.")
    served = speed.serving_speed(dep, fit, batch, input_tokens, output_tokens, arrivals=arrivals,
                                 speculative=speculative) if fits else None
    if fits and conc > limit:
        notes.append(f"only {limit:,} of {conc:,} requests run at once "
                     f"({'the KV cache holds no more' if limit == max_conc else f'{chosen.name} runs at most {cap:,}'}); "
                     f"the rest wait")
    result = Estimate(
        model=m.id, accelerator=acc.id, gpus=gpus, nodes=nodes, platform=plat.id, engine=chosen.id,
        precision=variant.id, requested_precision=precision, kv_dtype=dep.kv_dtype,
        tp=fit.layout.tp, pp=fit.layout.pp, dp_attention=fit.layout.dp_attention,
        weights_gb=fit.weights_bytes / sizing.GB, weights_per_gpu_gb=fit.weights_per_gpu / sizing.GB,
        memory_gb=acc.memory_gb * gpus, kv_budget_per_gpu_gb=fit.kv_budget_per_gpu / sizing.GB,
        kv_bytes_per_token=fit.kv_bytes_per_token, kv_capacity_tokens=fit.kv_capacity_tokens,
        context_tokens=context, max_concurrency=max_conc if fits else 0, fits=fits, why_not=why_not,
        engine_settings=fit.settings.to_json() if fit.settings else {},
        engine_defaults_version=chosen.memory.defaults_version,
        memory_gib=fit.rank.gib() if fit.rank else {}, memory_log_lines=LOG_LINES.get(chosen.memory.rule, {}),
        max_model_len_kv_gib=round(fit.request_kv_bytes / sizing.GIB, 2),
        max_model_len_concurrency=round(max(fit.kv_budget_per_gpu, 0.0) / fit.request_kv_bytes
                                        * (fit.layout.tp if fit.layout.dp_attention else 1), 2)
        if fit.request_kv_bytes > 0 else 0.0, concurrency=conc,
        batch=batch if fits else None, bound=served.bound if served else None,
        decode_tokens_per_s_per_user=served.tokens_per_s_per_user if served else None,
        output_tokens_per_s_total=served.output_tokens_per_s if served else None,
        ttft_s=served.ttft_s if served else None, ttft_p90_s=served.ttft_p90_s if served else None,
        arrivals=arrivals, speculative=None if speculative is None else
        {"method": speculative.method, "tokens": speculative.tokens, "acceptance": speculative.rate,
         "tokens_per_step": round(speculative.tokens_per_step(), 3)}, notes=notes)
    return result

"""`estimate`: the sizing model's answer for one replica, without buying anything.

Given a model, an accelerator and how many of them, it reports the precision that
runs (the fp8 rule applied), the engine settings assumed, the memory of one
accelerator term by term as the engine's start-up log prints it (`memory_gib`),
how many tokens and concurrent requests the KV cache holds, whether the engine
starts (`fits`, and `why_not` naming the failing term), and the decode speed,
throughput and time to first token at a given concurrency (default one user;
'max' = as many as memory and the engine allow, as offline benchmarks run). With `role` it
sizes one replica of a disaggregated pool instead: a decode replica's steps carry no prompt, a
prefill replica runs prompts back to back (`POOL_ROLES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog import Catalog
from pydantic import ValidationError

from catalog.errors import InputError, did_you_mean, shorten
from catalog.schema import Accelerator, Model, Platform

from . import serving, sizing, speed
from .deployment import Deployment
from .launch import DISAGG_ENGINES, LaunchSettings, given_batched_tokens, launch_for, with_role
from .layouts import Layout, candidate_layouts, default_layout, engine_layouts, layout_problem
from .problem import (ENGINE_SETTINGS, VERSION_NEEDS_ENGINE, EngineSettings, Workload, longest_prompt,
                      version_names_engine)
from .units import ENGINE_PREFERENCE, platform_accepts

__all__ = ["Estimate", "estimate", "default_platform", "engine_settings", "LOG_LINES", "POOL_ROLES"]

# One pool of a disaggregated deployment (SGLang's --disaggregation-mode prefill|decode): what `estimate`'s
# `role` takes.
POOL_ROLES = ("prefill", "decode")

# Which start-up log line each memory figure corresponds to, per engine rule, in the engine's own words;
# "no log line" where the engine prints nothing for that figure.
LOG_LINES: dict[str, dict[str, str]] = {
    "vllm": {"total": "total_gpu_memory (mem_get_info)", "usable": "× --gpu-memory-utilization",
             "weights": "'Model loading took'", "activations": "torch peak increase (profile run)",
             "cuda_graphs": "'Graph capturing … took' (after KV)", "other": "non-torch memory",
             "kv_cache": "'Available KV cache memory'",
             "request": "'To serve at least one request with the models's max seq len'",
             "concurrency": "'Maximum concurrency for N tokens per request'"},
    "sglang": {"total": "total GPU memory", "usable": "× --mem-fraction-static",
               "weights": "'Load weight end … mem usage'", "activations": "outside the static pool (no log line)",
               "cuda_graphs": "'Capture cuda graph end … mem usage'", "other": "in use before loading",
               "kv_cache": "'KV Cache is allocated. #tokens … K size + V size'",
               "request": "no log line (a longer request is rejected, not the start)",
               "concurrency": "max_total_num_tokens / max_model_len (server log: max_total_num_tokens, "
                              "max_running_requests)"},
    "trtllm": {"total": "total GPU memory", "usable": "total (fraction of free below)",
               "weights": "'Rank 0 uses … for model weights'", "activations": "'allocated during inference'",
               "cuda_graphs": "'used outside torch' (graphs)", "other": "'used outside torch' (context)",
               "kv_cache": "'[MemUsageChange] Allocated … for max tokens in paged KV cache'",
               "request": "no log line (max_seq_len caps a request)",
               "concurrency": "no log line (max tokens in paged KV cache / max_seq_len)"},
    "fixed": {"total": "device memory (CPU: the sockets' memory)", "usable": "all of it (no fraction)",
              "weights": "'model buffer size'", "activations": "in 'compute buffer size'",
              "cuda_graphs": "none", "other": "'compute buffer size' (CPU: + OS)",
              "kv_cache": "'KV self size' (-c × --parallel)",
              "request": "n_ctx_slot = -c / --parallel", "concurrency": "--parallel slots"},
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



def _log_lines(engine, fit: sizing.MemoryFit) -> dict[str, str]:
    """LOG_LINES of the engine's rule; vLLM from 0.21.0 logs its graph estimate inside the budget."""
    lines = dict(LOG_LINES.get(engine.memory.rule, {}))
    version = fit.settings.version if fit.settings else None
    if engine.memory.rule == "vllm" and engine.memory.for_version(version)[0].graphs_in_budget:
        lines["cuda_graphs"] = "'Estimated CUDA graph memory' (in the budget)"
    return lines


def _defaults_text(engine, version: str) -> str:
    """'vLLM 0.21.0 memory rules; defaults: vLLM 0.10.1 (2025-08), V1 `vllm serve`'."""
    if not version or version == engine.memory.base_version:
        return engine.memory.defaults_version
    return f"{engine.name} {version} memory rules; defaults: {engine.memory.defaults_version}"


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
    dp: int
    ep: int
    layout: str
    launch: list[str]
    weights_gb: float
    weights_per_gpu_gb: float
    mtp_module_gb: float = field(default=0.0, kw_only=True)   # the model's MTP modules (in the checkpoint or loaded)
    mtp_module_loaded: bool = field(default=False, kw_only=True)   # counted in weights_gb: MTP speculation runs
    draft_weights_gb: float = field(default=0.0, kw_only=True)   # of weights_gb: the draft (MTP modules, EAGLE-3 head)
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
    ttft_median_s: float | None = None          # median
    prefill_launch_floor_s: float = 0.0         # a prefill step's least time where the release prefills eagerly
    arrivals: str = "random"                    # random users, synchronized benchmark waves, or poisson (a rate)
    request_rate: float | None = None           # requests/s (open loop) when given instead of a concurrency
    speculative: dict[str, Any] | None = None   # method, tokens, acceptance, tokens_per_step
    notes: list[str] = field(default_factory=list)
    numa_spread: bool = False       # llama.cpp on a CPU host: one process over the sockets, no TP
    disaggregated: dict[str, Any] | None = None   # --serving disaggregated: optimizer/rackscale.py split_summary
    role: str | None = None                     # one pool of a disaggregated deployment (POOL_ROLES), else None
    prefill_input_tokens_per_s: float | None = None   # role prefill: prompt tokens/s, prompts back to back
    input_tokens: int = 0                # the request asked: prompt tokens (the mean where they spread)
    output_tokens: int = 0
    input_tokens_spread: float = 0.0     # prompts spread uniformly over input_tokens × [1 − s, 1 + s]

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("weights_gb", "weights_per_gpu_gb", "mtp_module_gb", "draft_weights_gb", "memory_gb",
                    "kv_budget_per_gpu_gb"):
            out[key] = round(out[key], 2)
        out["kv_bytes_per_token"] = int(self.kv_bytes_per_token) if self.kv_bytes_per_token.is_integer() \
            else round(self.kv_bytes_per_token, 1)
        for key in ("decode_tokens_per_s_per_user", "output_tokens_per_s_total", "prefill_input_tokens_per_s"):
            out[key] = None if out[key] is None else round(out[key], 2)
        out["ttft_s"] = None if self.ttft_s is None else round(self.ttft_s, 3)
        out["ttft_p90_s"] = None if self.ttft_p90_s is None else round(self.ttft_p90_s, 3)
        out["ttft_median_s"] = None if self.ttft_median_s is None else round(self.ttft_median_s, 3)
        out["prefill_launch_floor_s"] = round(self.prefill_launch_floor_s, 4)
        return out


def _fastest_layout(m, variant, acc, plat, engine, per_node: int, nodes: int, kv_dtype: str, settings,
                    context: int, input_tokens: int, output_tokens: int, concurrency, speculative=None,
                    role: str | None = None) -> Layout:
    """Of the valid layouts of one replica on `nodes` × `per_node` accelerators, of those that run all the asked
    concurrency at once the one with the fastest decode per user; where none does (and at 'max'), the one with the
    most output tokens/s (the layout whose KV cache holds the most of the requests may still serve them slower:
    DP attention prefills a long prompt on one rank while the others' decodes wait); the default layout
    (TP inside a server, pipeline across) when none runs. With `speculative` on an engine that does not start it
    on some layouts (serving.spec_layout_error: pipeline stages, attention DP), only the layouts it starts on.
    A pool `role` scores its own speed (`_pool_speed`): prefill the most input tokens/s; decode at 'max' the most
    output tokens/s, else the most of the asked sequences running at once, then the fastest per user."""
    best, best_score = None, None
    options = [lay for lay in candidate_layouts(m, engine, per_node, nodes) if lay.replicas_per_node == 1
               and not (speculative is not None
                        and serving.spec_layout_error(engine.id, speculative.method, lay.pp, lay.dp_attention))]
    if acc.family == "cpu" or not options:
        return sizing.choose_layout(m, per_node, nodes, False, "tensor" if acc.family == "cpu" else engine.split)
    for lay in options:
        dep = Deployment(model=m, variant=variant, accelerator=acc, platform=plat, engine=engine,
                         gpus_per_node=per_node, nodes=nodes, kv_dtype=kv_dtype, settings=settings, layout=lay,
                         draft=_draft(speculative))
        fit = dep.memory()
        conc = sizing.max_concurrency(m, fit, dep.kv_dtype, context)
        if not fit.starts or conc < 1:
            continue
        cap = speed.batch_cap(dep, fit)
        limit = conc if cap is None else min(conc, cap)
        batch = limit if concurrency == "max" else min(int(concurrency or 1), limit)
        if role is None:
            s = speed.serving_speed(dep, fit, batch, input_tokens, output_tokens, speculative=speculative)
            # All the asked requests at once: the fastest per user; fewer: the most output tokens/s (the KV cache
            # that holds the most of them may serve them slower, e.g. DP attention's one-rank long prefills).
            score = (s.output_tokens_per_s,) if concurrency == "max" else (1, s.tokens_per_s_per_user) \
                if batch >= int(concurrency or 1) else (0, s.output_tokens_per_s)
        else:
            pool = _pool_speed(dep, fit, role, batch, input_tokens, output_tokens, speculative)
            score = (pool.input_tokens_per_s,) if role == "prefill" else (pool.output_tokens_per_s,) \
                if concurrency == "max" else (pool.batch, pool.tokens_per_s_per_user)
        if best_score is None or score > best_score:
            best, best_score = lay, score
    return best or options[0]


def _wait_words(served, role: str | None, request_rate: float | None, conc: int, batch: int,
                output_tokens: int) -> str:
    """How long a request that finds no free slot waits, for the note saying so (closed loop of `conc` users over
    `batch` slots; the speeds and TTFT printed are the running requests'): one request takes T = TTFT + O / speed,
    the slots complete batch / T requests per second, so each request takes conc / (batch / T) (Little's law), of
    which T · (conc − batch) / batch waiting before its prompt starts. '' for a pool replica or a request rate."""
    if served is None or role is not None or request_rate is not None or not served.tokens_per_s_per_user:
        return ""
    one = (served.ttft_s or 0.0) + output_tokens / served.tokens_per_s_per_user
    return (f": about {one * (conc - batch) / batch:,.0f} s each before the prompt starts, on top of the time to "
            f"first token shown (that of the running ones)")


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


def estimate(catalog: Catalog, *, model: str, accelerator: str, gpus: int | None, nodes: int = 1,
             precision: str = "auto", kv_dtype: str = "auto", engine: str = "auto", dp_attention: bool = False,
             platform: str | None = None, input_tokens: int = 2000, output_tokens: int = 1000,
             concurrency: int | str | None = None, memory_utilization: float | None = None,
             max_batch: int | None = None, max_batched_tokens: int | None = None, max_model_len: int | None = None,
             eager: bool = False, engine_version: str | None = None,
             settings: EngineSettings | None = None, arrivals: str | serving.Benchmark = "random",
             speculative: Any = None, tp: int | None = None, pp: int | None = None, dp: int | None = None,
             ep: int | None = None, request_rate: float | None = None, role: str | None = None,
             input_tokens_spread: float = 0.0) -> Estimate:
    """Size one replica of `gpus` accelerators over `nodes` nodes under the given engine settings
    (unset: the engine's defaults; `settings` replaces the six keyword settings when given;
    `engine_version` picks the engine release whose memory rules apply, default the newest sourced).
    llama.cpp allocates its KV cache for -c = max_model_len × --parallel: without `max_batch` the
    estimate runs --parallel = the concurrency asked ('max': as many as memory holds).

    Accelerators: `gpus` None takes the fewest that start the model (1, 2, 4 … per server, then whole
    servers), or with a layout its size. Layout: `tp`, `pp`, `dp` (attention data-parallel groups) and
    `ep` fix it (gpus = tp × dp × pp; `gpus` may be 0 or None to derive it); otherwise a valid layout
    (optimizer/layouts.py) is chosen: of those that run all the asked concurrency at once, the fastest per user;
    where none does (and at 'max'), the most output tokens/s (a pool `role`: its own speed; `_fastest_layout`);
    `dp_attention` is the shorthand for attention DP over every rank.

    `input_tokens_spread` s spreads the prompts uniformly over input_tokens·[1 − s, 1 + s]: the open loop's prefill
    queue (`request_rate`) is M/G/1 over them, and TensorRT-LLM's max_num_tokens covers the longest.

    `role` ('prefill' or 'decode', None: aggregated) sizes one replica of a disaggregated pool (`_pool_speed`):
    a decode replica runs the concurrency asked with no prompt in its steps (no TTFT: prompts run on the
    prefill pool); a prefill replica runs prompts back to back, one per attention DP group per forward pass
    (`prefill_input_tokens_per_s`, and the TTFT of a prompt alone). Its launch commands carry the role's flags.

    Raises InputError for unknown ids, counts below one, a setting the engine would reject
    (utilization outside (0, 1], max_model_len above the model's context), a layout the engine
    cannot run or that does not match the accelerators, or a `role` outside POOL_ROLES, on CPU sockets, on an
    engine with no disaggregated serving (llama.cpp), or given with a request rate or synchronized arrivals (a
    pool's replica runs at a batch), or with a concurrency or speculative decoding on the prefill pool.
    """
    asked = dict(locals())
    _check_demand(concurrency, request_rate, input_tokens, output_tokens, input_tokens_spread)
    _check_role(role, request_rate, speculative, concurrency, arrivals)
    if not version_names_engine(engine_version if settings is None else settings.version, [engine]):
        raise InputError(f"--engine-version = '{engine_version}': {VERSION_NEEDS_ENGINE}")
    m = catalog.model(model, "--model")
    _check_request_length(m, input_tokens, output_tokens, settings.max_model_len if settings else max_model_len)
    acc = catalog.accelerator(accelerator, "--accelerator")
    _check_role_accelerator(role, acc)
    fixed = any(x is not None for x in (tp, pp, dp, ep))
    if gpus is None and not fixed:
        return _fewest_that_fit(asked, acc)
    gpus = gpus or 0   # None with a layout: derived from it (tp × dp × pp)
    tp = _tp_takes_the_rest(gpus, tp, pp, dp) if fixed else tp
    gpus, nodes = _replica_size(acc, gpus, nodes, (tp, pp, dp, ep),
                                (("--input-tokens", input_tokens, 10_000_000),
                                 ("--output-tokens", output_tokens, 10_000_000),
                                 ("--concurrency", concurrency if isinstance(concurrency, int) else 1, 1_000_000)))
    if settings is None:
        settings = engine_settings(memory_utilization=memory_utilization, max_batch=max_batch,
                                   max_batched_tokens=max_batched_tokens, max_model_len=max_model_len,
                                   eager=eager or None, version=engine_version)
    variant, note = _variant(m, acc, precision, kv_dtype)
    per_node = gpus // nodes
    plat = catalog.platform(platform, "--platform") if platform else default_platform(catalog, acc, per_node)
    chosen = _engine(catalog, engine, acc, variant, role)
    notes: list[str] = []
    settings = _slots(chosen, settings, concurrency, notes)
    settings = _whole_prompts(chosen, acc, settings, input_tokens, input_tokens_spread, request_rate, role, notes)
    context = input_tokens + output_tokens
    if fixed:
        layout = _fixed_layout(m, chosen, acc, (tp, pp, dp, ep), nodes, per_node, dp_attention,
                               settings.max_batched_tokens)
    elif dp_attention:
        layout = default_layout(m, chosen, per_node, nodes, dp_attention=True)
    else:
        layout = _fastest_layout(m, variant, acc, plat, chosen, per_node, nodes, kv_dtype, settings, context,
                                 input_tokens, output_tokens, concurrency, speculative, role)
    dep = Deployment(model=m, variant=variant, accelerator=acc, platform=plat, engine=chosen,
                     gpus_per_node=per_node, nodes=nodes, kv_dtype=kv_dtype, dp_attention=dp_attention,
                     settings=settings, layout=layout, draft=_draft(speculative))
    fit = dep.memory()
    max_conc = sizing.max_concurrency(m, fit, dep.kv_dtype, context)
    notes = ([note] if note else []) + notes
    why_not = _why_not(fit, max_conc, context, notes)
    fits = why_not is None
    if not fits:
        notes += _misfit_notes(m, acc, variant, f"{gpus} × {acc.id}", chosen.name, why_not, precision)
    if dp_attention and not fit.layout.dp_attention:
        notes.append("data-parallel attention applies only to MoE models on engines that support it, "
                     "with more than one rank per stage")
    cap = speed.batch_cap(dep, fit)
    limit = max_conc if cap is None else min(max_conc, cap)
    conc = limit if concurrency == "max" else int(concurrency or 1)
    batch = min(conc, limit)
    _check_serving_inputs(speculative, arrivals, m, chosen.id, fit.layout, request_rate)
    served, batch = _replica_speed(dep, fit, role, batch, input_tokens, output_tokens, arrivals, speculative) \
        if fits else (None, batch)
    if request_rate is not None:
        conc, batch, served = _open_loop(dep, fit, request_rate, input_tokens, output_tokens, speculative, limit,
                                         notes, (conc, batch, served), input_tokens_spread)
    if fits and conc > limit:
        notes.append(f"only {limit:,} of {conc:,} requests run at once "
                     f"({'the KV cache holds no more' if limit == max_conc else f'{chosen.name} runs at most {cap:,}'}); "
                     f"the rest wait" + _wait_words(served, role, request_rate, conc, batch, output_tokens))
    launch = launch_for(m, variant, chosen, fit.layout, LaunchSettings(
        memory_fraction=fit.settings.memory_utilization if fit.settings else None,
        max_running=(fit.settings.max_batch * fit.layout.dp if fit.settings and fit.settings.max_batch else None),
        max_model_len=fit.settings.max_model_len if fit.settings else context,
        kv_dtype=dep.kv_dtype, gpus_per_node=per_node,
        max_batched_tokens=given_batched_tokens(fit.settings), eager=bool(fit.settings and fit.settings.eager),
        speculative=speculative))
    return Estimate(
        model=m.id, accelerator=acc.id, gpus=gpus, nodes=nodes, platform=plat.id, engine=chosen.id,
        precision=variant.id, requested_precision=precision, kv_dtype=dep.kv_dtype,
        tp=1 if fit.layout.numa_spread else fit.layout.tp, pp=1 if fit.layout.numa_spread else fit.layout.pp,
        numa_spread=fit.layout.numa_spread, dp_attention=fit.layout.dp_attention, dp=fit.layout.dp,
        ep=fit.layout.ep, layout=fit.layout.label,
        launch=with_role(launch, chosen.id, role) if role else launch,
        weights_gb=fit.weights_bytes / sizing.GB, weights_per_gpu_gb=fit.weights_per_gpu / sizing.GB,
        mtp_module_gb=(sizing.mtp_parts(m, variant).total / sizing.GB
                       if _draft(speculative) == "mtp" or sizing.checkpoint_has_mtp(m, variant) else 0.0),
        mtp_module_loaded=_draft(speculative) == "mtp", draft_weights_gb=fit.draft_weights_bytes / sizing.GB,
        memory_gb=acc.memory_gb * gpus, kv_budget_per_gpu_gb=fit.kv_budget_per_gpu / sizing.GB,
        kv_bytes_per_token=fit.kv_bytes_per_token, kv_capacity_tokens=fit.kv_capacity_tokens,
        context_tokens=context, max_concurrency=max_conc if fits else 0, fits=fits, why_not=why_not,
        engine_settings=fit.settings.to_json() if fit.settings else {},
        engine_defaults_version=_defaults_text(chosen, fit.settings.version if fit.settings else ""),
        memory_gib=fit.rank.gib() if fit.rank else {}, memory_log_lines=_log_lines(chosen, fit),
        max_model_len_kv_gib=round(fit.request_kv_bytes / sizing.GIB, 2),
        max_model_len_concurrency=round(max(fit.kv_budget_per_gpu, 0.0) / fit.request_kv_bytes
                                        * (fit.layout.tp if fit.layout.dp_attention else 1), 2)
        if fit.request_kv_bytes > 0 else 0.0, concurrency=conc,
        batch=batch if fits else None, bound=served.bound if served else None,
        decode_tokens_per_s_per_user=served.tokens_per_s_per_user if served else None,
        output_tokens_per_s_total=served.output_tokens_per_s if served else None,
        ttft_s=served.ttft_s if served else None, ttft_p90_s=served.ttft_p90_s if served else None,
        ttft_median_s=served.ttft_median_s if served else None,
        prefill_launch_floor_s=speed.prefill_launch_floor(dep, fit),
        arrivals="poisson" if request_rate is not None else
        "benchmark" if isinstance(arrivals, serving.Benchmark) else arrivals, request_rate=request_rate,
        speculative=None if speculative is None else
        {"method": speculative.method, "tokens": speculative.tokens, "acceptance": speculative.rate,
         "tokens_per_step": round(speculative.tokens_per_step(), 3), "acceptance_of": speculative.acceptance_of},
        notes=notes, role=role,
        prefill_input_tokens_per_s=getattr(served, "input_tokens_per_s", None), input_tokens=input_tokens,
        output_tokens=output_tokens, input_tokens_spread=input_tokens_spread)


def _check_role(role: str | None, request_rate: float | None, speculative, concurrency=None,
                arrivals="random") -> None:
    """InputError for a `role` estimate cannot size (see `estimate`), naming the flag."""
    if role is None:
        return
    if role not in POOL_ROLES:
        raise InputError(f"--role = '{role}': allowed {', '.join(POOL_ROLES)}.")
    if arrivals != "random":
        raise InputError(f"--arrivals = {arrivals} with --role {role}: a pool's replica runs a batch with no arrivals "
                         f"in its steps (prompts and decodes run on separate pools); drop --arrivals.")
    if request_rate is not None:
        raise InputError(f"--request-rate = {request_rate:g} with --role {role}: a pool's replica is sized at a "
                         f"batch (--concurrency), not an arrival rate; drop one of them.")
    if role == "prefill" and concurrency is not None:
        raise InputError(f"--concurrency = {concurrency} with --role prefill: a prefill replica runs prompts back to "
                         f"back, one per attention DP group per forward pass (its --dp sets that batch); drop "
                         f"--concurrency, or use --role decode.")
    if role == "prefill" and speculative is not None:
        raise InputError(f"--speculative = {speculative.method} with --role prefill: speculative decoding runs on "
                         f"the decode pool; drop --speculative or use --role decode.")


@dataclass(frozen=True)
class _PoolSpeed:
    """One pool replica's speed (`_pool_speed`), named as speed.Speed names what the estimate reads."""

    batch: int
    bound: str
    tokens_per_s_per_user: float | None = None   # decode
    output_tokens_per_s: float | None = None     # decode
    input_tokens_per_s: float | None = None      # prefill: prompt tokens/s, passes back to back
    ttft_s: float | None = None                  # prefill: a prompt alone
    ttft_p90_s: float | None = None
    ttft_median_s: float | None = None


def _check_role_accelerator(role: str | None, acc: Accelerator) -> None:
    """InputError for a pool `role` on CPU sockets: optimizer/disagg.py leaves them out (no KV transfer path)."""
    if role is not None and acc.family == "cpu":
        raise InputError(f"--role = {role} with --accelerator {acc.id}: CPU sockets are no disaggregated pool's replica "
                         f"(their KV transfer path is not modelled; the disaggregated planner leaves them out); "
                         f"drop --role, or pick a GPU.")


def _replica_speed(dep: Deployment, fit: sizing.MemoryFit, role: str | None, batch: int, input_tokens: int,
                   output_tokens: int, arrivals, spec) -> tuple[speed.Speed | _PoolSpeed, int]:
    """The replica's speed and batch: serving in a closed loop (speed.serving_speed), or one pool's (`_pool_speed`)."""
    if role is not None:
        pool = _pool_speed(dep, fit, role, batch, input_tokens, output_tokens, spec)
        return pool, pool.batch
    return speed.serving_speed(dep, fit, batch, input_tokens, output_tokens, arrivals=arrivals,
                               speculative=spec), batch


def _pool_speed(dep: Deployment, fit: sizing.MemoryFit, role: str, batch: int, input_tokens: int,
                output_tokens: int, spec) -> _PoolSpeed:
    """One replica of a disaggregated pool, as optimizer/disagg.py sizes its role units.

    decode: `batch` sequences at the mean context I + O/2 and no prompt in their steps: TPOT = τ(B)/E
        (serving.size_pools' decode side; E tokens per step, 1 without speculative decoding); tok/s per user
        1/TPOT, output tok/s B/TPOT; no TTFT (prompts run on the prefill pool).
    prefill: one prompt per attention DP group (dp prompts) per forward pass, passes back to back:
        S = max(speed.prompt_prefill_time(I, prompts=dp), F) seconds (each prompt in its group's chunk steps),
        F = ⌈I / chunk⌉ × the release's eager-prefill
        launch floor (each chunk step lasts at least the floor: serving.Times.launch_floor_for), input tok/s
        dp·I/S; TTFT of a prompt alone max(P(I), F) + the pipeline stages' fill (serving.Times.pipeline_fill) + the
        engine's fixed overhead (serving.ttft_overhead);
        batch = dp.
    """
    times = speed.serving_times(dep, fit)
    if role == "decode":
        pools = serving.size_pools(times, times, batch, batch, input_tokens, output_tokens, spec=spec)
        b, tpot = pools.decode_batch, pools.tpot_s
        return _PoolSpeed(batch=b, bound="decode only", tokens_per_s_per_user=1 / tpot, output_tokens_per_s=b / tpot)
    prompts = fit.layout.dp
    floor = times.launch_floor_for(input_tokens)   # each of the prompt's ⌈I / budget⌉ chunk steps: the launch floor
    passes = max(speed.prompt_prefill_time(dep, fit, input_tokens, prompts=prompts), floor)
    alone = max(times.prompt_time(input_tokens), floor) + times.pipeline_fill(input_tokens) + times.overhead_s
    return _PoolSpeed(batch=prompts, bound="prefill only", input_tokens_per_s=prompts * input_tokens / passes,
                      ttft_s=alone, ttft_p90_s=alone, ttft_median_s=alone)


# The workload field each estimate flag sets: (flag, what to give instead of a bad value).
_DEMAND_FLAGS = {
    "concurrent_users": ("--concurrency", "a whole number of concurrent requests from 1 to 1,000,000, or 'max'"),
    "request_rate": ("--request-rate", "a finite number of requests per second above 0, at most 1,000,000"),
    "input_tokens": ("--input-tokens", "1 to 10,000,000 prompt tokens"),
    "output_tokens": ("--output-tokens", "1 to 10,000,000 output tokens"),
    "input_tokens_spread": ("--input-tokens-spread", "a share of --input-tokens from 0 (every prompt as long) to 1 "
                            "(lengths from 0 to twice --input-tokens)"),
}


def _check_request_length(model, input_tokens: int, output_tokens: int, max_model_len: int | None) -> None:
    """The problem YAML's length rules (problem.py `_check_lengths`) on the estimate's flags: a request (input +
    output) within the model's context and within --max-model-len; InputError naming the flags otherwise."""
    context = input_tokens + output_tokens
    if context > model.max_context:
        raise InputError(f"--input-tokens + --output-tokens = {input_tokens:,} + {output_tokens:,} = {context:,} "
                         f"tokens, more than {model.id}'s context of {model.max_context:,} tokens; shorten the "
                         f"prompt or the output.")
    if max_model_len is not None and max_model_len < context:
        raise InputError(f"--max-model-len = {max_model_len:,} is shorter than one request (--input-tokens + "
                         f"--output-tokens = {context:,} tokens); the engine would reject every request.")


def _check_demand(concurrency, request_rate, input_tokens: int, output_tokens: int, spread: float = 0.0) -> None:
    """The problem YAML's workload checks (problem.Workload) on the estimate's flags: a finite request rate
    in (0, 10^6] requests/s, not together with a concurrency, a prompt spread in [0, 1]; InputError naming the
    flag and value."""
    given = {"request_rate": request_rate, "input_tokens": input_tokens, "output_tokens": output_tokens,
             "input_tokens_spread": spread,
             # 'max' stands for a concurrency too (the workload's rule: one demand, not both)
             "concurrent_users": None if concurrency is None else 1 if concurrency == "max" else concurrency}
    try:
        Workload(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        if field not in _DEMAND_FLAGS:   # the model-level rule: both demands given
            raise InputError(f"--request-rate = {request_rate:g} and --concurrency = {concurrency}: give one of "
                             f"them (a request rate sizes the replica by Poisson arrivals, a concurrency by "
                             f"concurrent users).") from None
        value = concurrency if field == "concurrent_users" else given[field]
        flag, hint = _DEMAND_FLAGS[field]
        raise InputError(f"{flag} = {value}: {err['msg'].lower()}; give {hint}.") from None


def _slots(chosen, settings: EngineSettings, concurrency: int | str | None, notes: list[str]) -> EngineSettings:
    """llama.cpp sizes its KV cache by -c × --parallel: without --max-batch, as many slots as requests
    asked for (noted in `notes`); other engines' settings unchanged."""
    if chosen.memory.rule == "fixed" and settings.max_batch is None and concurrency != "max":
        settings = settings.model_copy(update={"max_batch": int(concurrency or 1)})
        notes.append(f"{chosen.name} --parallel {settings.max_batch} (the concurrency asked; --max-batch sets it): "
                     f"its KV cache holds -c = --parallel × max_model_len tokens")
    return settings


def _whole_prompts(chosen, acc: Accelerator, settings: EngineSettings, input_tokens: int, spread: float,
                   request_rate: float | None, role: str | None, notes: list[str]) -> EngineSettings:
    """`settings` under which the engine accepts the prompts, the longest input_tokens·(1 + spread) tokens
    (sizing.whole_prompt_settings): TensorRT-LLM's max_num_tokens raised to cover them when not given (noted in
    `notes`, as is a spread that only the open loop's queue uses). Raises InputError when it is given below the
    longest prompt: the engine would reject those requests. A decode replica (`role`) receives the prompts' KV
    cache and runs none of them: its settings are kept (optimizer/disagg.py `_fitted`)."""
    if role == "decode":
        return settings
    if spread and request_rate is None:
        notes.append(f"--input-tokens-spread {spread:g} enters request-rate sizing (--request-rate) and "
                     f"TensorRT-LLM's max_num_tokens; this estimate takes every prompt at --input-tokens")
    input_tokens = longest_prompt(input_tokens, spread)
    covered = sizing.whole_prompt_settings(chosen, acc, settings, input_tokens)
    if covered is None:
        raise InputError(f"--max-batched-tokens = {settings.max_batched_tokens:,}: {chosen.name} runs each prompt in "
                         f"one step and rejects one longer than max_num_tokens, so {'the longest' if spread else 'every'} "
                         f"{input_tokens:,}-token prompt would fail; give at least {input_tokens:,}, or leave it out "
                         f"(hwplan then raises it to cover the prompts).")
    if covered is not settings and covered.max_batched_tokens != settings.max_batched_tokens:
        notes.append(f"{chosen.name} max_num_tokens {covered.max_batched_tokens:,}, above its default: it runs each "
                     f"prompt in one step and rejects one longer than max_num_tokens")
    return covered


def _draft(speculative) -> str | None:
    """The speculative method whose draft a replica loads (sizing.weight_parts, draft_kv_layers), or None."""
    return None if speculative is None else speculative.method


def _check_serving_inputs(speculative, arrivals: str | serving.Benchmark, model: Model, engine_id: str,
                          layout: Layout, request_rate: float | None = None) -> None:
    """InputError for speculative decoding the engine or model does not support (or not on `layout`: its pipeline
    stages, its attention DP), unknown arrivals (a `serving.Benchmark` replays a benchmark run: `hwplan
    validate`), or synchronized arrivals with a request rate (Poisson arrivals; the rate would win silently)."""
    if request_rate is not None and arrivals == "synchronized":
        raise InputError("--arrivals synchronized describes users who all start together, and --request-rate is "
                         "Poisson arrivals: drop --arrivals or give --concurrency instead of --request-rate.")
    if speculative is not None:
        serving.check_speculative(speculative, model, engine_id, pipeline_stages=layout.pp,
                                  dp_attention=layout.dp_attention)
    if not isinstance(arrivals, serving.Benchmark) and arrivals not in serving.ARRIVALS:
        raise InputError(f"--arrivals = '{arrivals}': allowed {', '.join(serving.ARRIVALS)}.")


def _fewest_that_fit(asked: dict, acc: Accelerator) -> Estimate:
    """`estimate` with neither --gpus nor a layout: the fewest accelerators that start the model — 1, 2,
    4 … up to one server's `max_per_node`, then 2 to 8 whole servers (CPUs: sockets of one server) —
    said in a note; when none does, the largest tried, which says why it does not fit."""
    per_node = acc.max_per_node
    counts = sorted({n for n in (1, 2, 4, 8, 16, 32, 64) if n < per_node} | {per_node})
    if acc.family != "cpu":
        counts += [k * per_node for k in range(2, 9)]
    est = None
    for n in counts:
        est = estimate(**{**asked, "gpus": n})
        if est.fits:
            break
    assert est is not None  # counts always holds max_per_node
    est.notes.insert(0, f"--gpus not given: {est.gpus} × {acc.id}, " + (
        "the fewest that start the model (give --gpus or --tp/--dp/--pp to choose)" if est.fits
        else f"the most tried ({counts[-1]}); none of {', '.join(map(str, counts))} starts the model"))
    return est


def _tp_takes_the_rest(gpus: int, tp: int | None, pp: int | None, dp: int | None) -> int | None:
    """--tp when given; with --gpus and only --ep, --dp or --pp, the ranks they leave: gpus / (dp × pp)."""
    if tp is not None or not gpus or gpus % ((dp or 1) * (pp or 1)):
        return tp
    return gpus // ((dp or 1) * (pp or 1))


def _layout_gpus(gpus: int, ranks: tuple[int | None, ...]) -> int:
    """`gpus`, or with 0 the accelerators the layout uses (tp × dp × pp); InputError for a rank below
    one or a layout that does not use `gpus` accelerators."""
    tp, pp, dp, ep = ranks
    for flag, value in (("--tp", tp), ("--pp", pp), ("--dp", dp), ("--ep", ep)):
        if value is not None and value < 1:
            raise InputError(f"{flag} = {value}: give at least 1.")
    if all(x is None for x in ranks):
        return gpus
    used = (tp or 1) * (dp or 1) * (pp or 1)
    if gpus and gpus != used:
        raise InputError(f"--gpus = {gpus}: the layout --tp {tp or 1} × --dp {dp or 1} × --pp {pp or 1} "
                         f"uses {used} accelerators; give --gpus {used} or leave it out.")
    return used


def _replica_size(acc, gpus: int, nodes: int, ranks: tuple[int | None, ...],
                  limits: tuple[tuple[str, int, int], ...]) -> tuple[int, int]:
    """(accelerators, nodes) of the replica: `gpus` 0 is derived from the layout (tp, pp, dp, ep) `ranks`;
    more accelerators than one server holds span whole servers (16 × H200 = 2 nodes of 8). Raises
    InputError for counts below one, above the problem limits (`limits`: flag, value, top; past them
    the layout search and the integer sizing would run for hours on a typo like 10^40), a layout
    that does not match `gpus`, or accelerators that do not split evenly over the nodes."""
    gpus = _layout_gpus(gpus, ranks)
    if gpus and nodes == 1 and gpus > acc.max_per_node and gpus % acc.max_per_node == 0 and acc.family != "cpu":
        nodes = gpus // acc.max_per_node
    if gpus < 1:
        raise InputError(f"--gpus = {gpus}: a replica needs at least one accelerator (or give --tp/--pp/--dp "
                         f"and leave --gpus out).")
    for flag, value, top in (("--gpus", gpus, 100_000), ("--nodes", nodes, 10_000), *limits):
        if value > top:
            raise InputError(f"{flag} = {shorten(value)}: at most {top:,}.")
    if nodes < 1 or gpus % nodes:
        raise InputError(f"--nodes = {nodes}: the {gpus} accelerators must split evenly over the nodes.")
    return gpus, nodes


def _variant(m, acc, precision: str, kv_dtype: str):
    """(the variant `acc` runs for `precision` — 'auto': the native one —, a note when it falls back);
    InputError for an unknown KV datatype or precision, or one the accelerator cannot run."""
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
    return runnable


def _misfit_notes(m, acc, variant, hardware: str, engine_name: str, why_not: str, precision: str) -> list[str]:
    """Why `hardware` does not run the model, and with precision 'auto' the publisher's own builds `acc` runs
    natively that are smaller than `variant` (what `solve`'s 'auto' also compares; sizing.candidate_variants)."""
    notes = [f"{hardware} do not run {m.id} in {variant.id} under {engine_name}: {why_not}"]
    if precision != "auto":
        return notes
    own = sizing.weight_bytes(m, variant)
    smaller = [(v, sizing.weight_bytes(m, v)) for v, _ in sizing.candidate_variants(m, acc, "auto")
               if v.id != variant.id]
    return notes + [f"{m.id}'s publisher also ships {v.id} ({size / sizing.GB:,.0f} GB against {own / sizing.GB:,.0f} "
                    f"GB), which {acc.id} runs natively: --precision {v.id}" for v, size in smaller if size < own]


def _engine(catalog: Catalog, engine: str, acc, variant, role: str | None = None):
    """The engine asked (or, for 'auto', the first of ENGINE_PREFERENCE) that runs the variant's weights
    on the accelerator; with a pool `role`, only an engine that serves disaggregated pools (DISAGG_ENGINES:
    llama.cpp has no KV transfer between servers). InputError if it does not (or none does)."""
    if engine == "auto":
        preference = [e for e in ENGINE_PREFERENCE if role is None or e in DISAGG_ENGINES]
        chosen = next((catalog.engines[e] for e in preference
                       if e in catalog.engines and sizing.engine_runs(catalog.engines[e], acc, variant)), None)
        if chosen is None and role is not None:
            raise InputError(f"--role = {role}: no engine that serves disaggregated pools ({', '.join(DISAGG_ENGINES)}) "
                             f"runs {variant.format} weights on {acc.id} ({acc.family}); pick another --precision "
                             f"or drop --role.")
        if chosen is None:
            raise InputError(f"no engine in the catalog runs {variant.format} weights on {acc.id} ({acc.family}).")
        return chosen
    chosen = catalog.engine(engine, "--engine")
    if not sizing.engine_runs(chosen, acc, variant):
        raise InputError(f"--engine = '{engine}': {chosen.name} does not run {variant.format} weights on "
                         f"{acc.id} ({acc.family}); it runs {', '.join(chosen.formats)} on "
                         f"{', '.join(chosen.families)}.")
    if role is not None and chosen.id not in DISAGG_ENGINES:
        raise InputError(f"--role = {role} with --engine {engine}: {chosen.name} has no disaggregated prefill/decode "
                         f"serving (no KV transfer between servers); give --engine "
                         f"{', '.join(DISAGG_ENGINES)}, or drop --role.")
    return chosen


def _fixed_layout(m, chosen, acc, ranks: tuple[int | None, ...], nodes: int, per_node: int,
                  dp_attention: bool = False, batched_tokens: int | None = None) -> Layout:
    """The layout --tp/--pp/--dp/--ep give (unset: 1); InputError if the engine cannot run it, if --dp-attention
    (attention DP over every rank) comes with a layout of one attention group, or if a given
    --chunked-prefill-size (`batched_tokens`) leaves no token per attention DP group: SGLang divides it by the DP
    size (server_args.py `chunked_prefill_size // dp_size`) and turns chunked prefill off at 0."""
    tp, pp, dp, ep = ranks
    if dp_attention and (dp or 1) == 1:
        raise InputError(f"--dp-attention with --tp {tp or 1}: the layout flags give one attention group (--dp 1); "
                         f"for attention DP over every rank give --dp (and --ep) instead of --tp, e.g. --dp "
                         f"{(tp or 1) * (pp or 1)} --ep {(tp or 1) * (pp or 1)}, or --dp-attention without layout "
                         f"flags.")
    if batched_tokens is not None and (dp or 1) > 1 and batched_tokens < (dp or 1) \
            and engine_layouts(chosen).dp_splits_chunk:
        raise InputError(f"--max-batched-tokens = {batched_tokens:,} with --dp {dp}: {chosen.name} divides "
                         f"--chunked-prefill-size over the {dp} attention DP groups, which leaves none per group "
                         f"and turns chunked prefill off; give at least {dp} (a few thousand per group is usual).")
    try:
        layout = Layout(tp=tp or 1, pp=pp or 1, dp=dp or 1, ep=ep or 1, nodes_per_replica=nodes)
    except ValueError as e:
        raise InputError(f"--ep = {ep}: {e}.") from None
    problem = layout_problem(m, chosen, layout, per_node)
    if problem:
        raise InputError(f"--tp {layout.tp} --pp {layout.pp} --dp {layout.dp} --ep {layout.ep} on {nodes} × "
                         f"{per_node} {acc.id}: {chosen.name} cannot run it ({problem}).")
    return layout


def _why_not(fit, max_conc: int, context: int, notes: list[str]) -> str | None:
    """Why the engine does not start or serves no request (None: it does); a request longer than
    max_model_len is noted in `notes` (the engine starts but rejects it)."""
    why_not = fit.why_not
    if why_not is None and max_conc < 1:
        why_not = (f"one request of {context:,} tokens needs more KV than the "
                   f"{fit.kv_budget_per_gpu / sizing.GIB:,.2f} GiB per accelerator left for the KV cache")
    if why_not is None and fit.settings and context > fit.settings.max_model_len:
        notes.append(f"a request of {context:,} tokens is longer than max_model_len {fit.settings.max_model_len:,}: "
                     f"the engine rejects it")
    return why_not


def _open_loop(dep, fit, request_rate: float, input_tokens: int, output_tokens: int, speculative, limit: int,
               notes: list[str], closed: tuple, spread: float = 0.0):
    """(concurrency, batch, speed) of one replica under Poisson arrivals at `request_rate` requests/s
    (optimizer/serving.py `open_loop`, prompts spread by ± `spread`); `closed` (the closed-loop figures) when the replica does not
    fit; speed None and a note when the rate overloads it. InputError unless the rate is positive."""
    if not request_rate > 0:
        raise InputError(f"--request-rate = {request_rate}: give a positive number of requests per second.")
    if closed[2] is None:   # the replica does not fit: nothing is served at any rate
        return closed
    o = serving.open_loop(speed.serving_times(dep, fit), request_rate, input_tokens, output_tokens, speculative,
                          spread=spread)
    overloaded = o.utilization >= 1 or o.decode_batch + 1 > limit
    if overloaded:
        notes.append(f"{request_rate:g} requests/s overload one replica: "
                     + ("prompts arrive faster than it prefills them" if o.utilization >= 1 else
                        f"{o.decode_batch:,.0f} requests would decode at once, more than the {limit:,} "
                        f"it holds"))
    conc = batch = limit if overloaded else max(1, min(round(o.users), limit))
    served = None if overloaded else speed.Speed(batch=batch, token_time_s=o.step_s, prefill_s=o.prefill_s,
                                                 tokens_per_s_per_user=o.tokens_per_s_per_user,
                                                 output_tokens_per_s=o.output_tokens_per_s, ttft_s=o.ttft_s,
                                                 bound=o.bound, ttft_p90_s=o.ttft_p90_s,
                                                 ttft_median_s=o.ttft_median_s)
    return conc, batch, served

"""`hwplan validate`: run published measurements through the estimator and report the error.

Each row of a measurements CSV (by default every bundled `catalog/data/measurements-*.csv`,
or any file with the same columns) is read into an estimate: model, precision, KV datatype,
accelerator, accelerator count, engine, data-parallel attention, prompt and output lengths,
concurrency, or instead a `request_rate` column (requests/s of Poisson arrivals over the row's accelerators,
as `vllm bench serve --request-rate` sends them: the replica's open loop, optimizer/serving.py `open_loop`;
`concurrency_or_batch` may then be blank; an optional `input_tokens_spread` column s says the prompts spread
uniformly over input_len × [1 − s, 1 + s], which the open loop's M/G/1 queue takes) — and the engine settings the source used (optional columns `memory_utilization`,
`max_model_len`, `max_num_seqs`, `max_num_batched_tokens`, `enforce_eager`; blank = the
engine's default; files without them fall back to settings quoted in the notes). Memory
metrics: `model_memory_gb` (weights per accelerator), `kv_cache_gib` (KV cache memory per
accelerator, vLLM's 'Available KV cache memory'), `kv_cache_tokens`, `max_concurrency`;
`starts` (1 or 0) checks the fit verdict. Rows the model does not represent are set aside with the reason,
by rule, never by row id:

- speculative decoding on a speed metric whose method or draft length the notes do not state
  (rows that state them run with that method, optimizer/serving.py);
- a KV connector (LMCache) on a memory metric: its GPU buffers are outside the engine's budget;
- a whole disaggregated prefill/decode deployment's figure (its pools are checked one at a time, below) and
  CPU+GPU hybrid offload: not a single replica;
- hardware, model, precision or engine missing from the catalog;
- token lengths or concurrency not given as numbers.

Mean-TTFT rows of InferenceX runs replay their benchmark run (optimizer/serving.py `benchmark_run`):
10·C prompts at concurrency C, lengths uniform in [0.8, 1] × the nominal ones, and the engine's chunk
budget and intake interval as the launch settings quoted in the notes give them (`--chunked-prefill-size`,
`--max-num-batched-tokens`, `--max_num_tokens`; `--scheduler-recv-interval`). SGLang's
`--num-continuous-decode-steps` is not read: its scheduler loops ignore it ("not fully wired into the scheduler
runtime path", https://github.com/sgl-project/sglang/pull/23131, 2026-04, closed unmerged).

Pool rows (`POOL_METRICS`) check one pool of a disaggregated deployment, as its source measured it with the
other pool unlimited: `decode_tok_s_per_gpu` (output tokens/s per accelerator of a decode replica running the
row's batch, no prompt in its steps) and `prefill_tok_s_per_gpu` (prompt tokens/s per accelerator of a prefill
replica running prompts back to back; speculative decoding its notes mention is the decode pool's and is not
applied), through `estimate`'s `role` (optimizer/estimator.py `_pool_speed`, the
pool model optimizer/disagg.py sizes its role units with). benchmarks/calibrate.py fits nothing on them.

Where a row's GPUs hold several replicas (MLPerf data-parallel submissions, or a stated
tp·pp smaller than the GPU count), totals are per replica times replicas. When the
tensor-parallel size is not stated, a replica is the fewest GPUs (a power of two) that
leave at least a third of their memory for the KV cache, as throughput submissions do.

Files have roles, named by their last word: `*-fit.csv` rows are what benchmarks/calibrate.py
fits the efficiency factors on (in-sample error); `*-test.csv` rows are never fitted on
(out-of-sample error); `*-memory.csv` rows check the memory model, which nothing fits.
Fit and test files never share a publisher (`source_publisher`), so a test row's error is
not flattered by a sibling row of the same study in the fit.

Layout (optimizer/layouts.py), taken as input: the row's `tp`, `pp` and `ep` columns and an
optional `dp` column (attention data-parallel groups). `tp` is the engine's tensor-parallel
size, all ranks of a stage as SGLang and TensorRT-LLM count them; with attention DP (a `dp`
column, or the notes saying DP attention) the attention tensor-parallel size is tp / dp. A row
without a stated tp runs the default layout (TP inside a server, pipeline across servers).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from catalog import Catalog
from catalog.errors import HwplanError
from catalog.schema import DTYPES
from catalog.yamlio import read_csv

from .estimator import Estimate, estimate
from .serving import Benchmark, Speculative, acceptance_for_length

__all__ = ["Case", "Result", "Report", "read_cases", "validate", "validate_files", "bundled_measurements",
           "bundled_memory_measurements", "measurement_files", "calibration_summary", "file_role",
           "source_publisher", "ROLES", "FAMILY_GROUPS", "MEMORY_METRICS", "SPEED_METRICS", "VERDICT_METRICS",
           "POOL_METRICS", "RATE_METRICS", "TTFT_METRICS", "SETTING_COLUMNS"]

MEMORY_METRICS = ("kv_cache_tokens", "kv_cache_gib", "max_concurrency", "model_memory_gb")
VERDICT_METRICS = ("starts",)
# Optional columns: the engine settings the source used (blank = the engine's default).
SETTING_COLUMNS = ("memory_utilization", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "enforce_eager")
SPEED_METRICS = ("output_tok_s_total", "tok_s_per_user", "tok_s_per_gpu", "tpot_ms", "ttft_ms", "ttft_median_ms")
# One pool of a disaggregated deployment, per accelerator of that pool: metric → estimate's `role`.
POOL_METRICS = {"decode_tok_s_per_gpu": "decode", "prefill_tok_s_per_gpu": "prefill"}
# Every rate a row can measure: a replica's speed or one pool's.
RATE_METRICS = SPEED_METRICS + tuple(POOL_METRICS)
TTFT_METRICS = ("ttft_ms", "ttft_median_ms")     # mean and median time to first token
COLUMNS = ("id", "model", "precision", "hardware", "num_gpus", "num_nodes", "engine", "tp", "pp",
           "input_len", "output_len", "concurrency_or_batch", "metric", "value", "notes")
# Lengths of rows that state none (single-user chat demos): short prompt, medium answer.
UNSTATED_INPUT, UNSTATED_OUTPUT = 256, 512

FAMILY_GROUPS = {
    "hopper": "NVIDIA Hopper", "blackwell": "NVIDIA Blackwell", "ampere": "NVIDIA Ampere/Ada", "ada": "NVIDIA Ampere/Ada",
    "volta": "NVIDIA older", "pascal": "NVIDIA older", "cdna2": "AMD CDNA", "cdna3": "AMD CDNA", "cdna4": "AMD CDNA",
    "cpu": "CPU", "ascend": "Ascend", "gaudi": "Gaudi",
}

_HARDWARE = [  # (pattern on the lower-cased hardware text, accelerator id); first match wins
    (r"gb300|b300", "b300"), (r"gb200", "gb200"), (r"gb10|dgx spark", "gb10"), (r"b200", "b200"),
    (r"h200.*nvl", "h200-nvl"), (r"h200", "h200-sxm"), (r"h100.*nvl", "h100-nvl"), (r"h100.*pcie", "h100-pcie"),
    (r"h100", "h100-sxm"), (r"h800", "h800-sxm"), (r"h20\b.*141|h20-141", "h20-141g"), (r"\bh20\b", "h20-96g"),
    (r"a100.*pcie", "a100-80g-pcie"), (r"a100.*40", "a100-40g-sxm"), (r"a100", "a100-80g-sxm"),
    (r"\ba10\b", "a10"), (r"rtx.pro.6000", "rtx-pro-6000"), (r"5090", "rtx-5090"), (r"4090", "rtx-4090"), (r"3090", "rtx-3090"),
    (r"6000 ada", "rtx-6000-ada"), (r"a6000", "a6000"), (r"l40s", "l40s"), (r"\bl20\b", "l20"),
    (r"mi355", "mi355x"), (r"mi325", "mi325x"), (r"mi300", "mi300x"), (r"mi250", "mi250x"), (r"mi210", "mi210"),
    (r"910c", "ascend-910c"), (r"910b", "ascend-910b"), (r"gaudi ?3", "gaudi3"), (r"gaudi ?2", "gaudi2"), (r"v100", "v100-32g"),
    (r"p40", "p40"),
]
# Engines outside the catalog map to the nearest profile: NVIDIA NIM runs TensorRT-LLM for these models;
# AMD ATOM, Intel's Gaudi stack and Huawei MindIE are vendor engines closest to vLLM's scheduler.
_ENGINES = [(r"tensorrt|trt|\bnim\b", "trtllm"), (r"sglang", "sglang"), (r"llama\.cpp|ollama", "llama.cpp"),
            (r"vllm", "vllm"), (r"\batom\b|gaudi|habana|mindie", "vllm")]


@dataclass(frozen=True)
class Case:
    """One measurement, read into estimator inputs."""

    id: str
    metric: str
    measured: float
    family_group: str
    model: str
    precision: str
    kv_dtype: str
    accelerator: str
    gpus: int                # per replica
    nodes: int               # per replica
    replicas: int
    engine: str
    dp_attention: bool
    input_tokens: int
    output_tokens: int
    concurrency: int | str   # per replica, or "max"
    memory_row: bool
    memory_utilization: float | None = None   # as the row states it
    unit_gib: bool = False                    # memory measured in GiB (vLLM logs print GiB as "GB")
    request_tokens: int | None = None         # max_model_len, for vLLM's "maximum concurrency"
    tp: int | None = None                     # layout as the row states it (None: the default layout)
    pp: int | None = None
    dp: int | None = None
    ep: int | None = None
    max_batch: int | None = None              # the source's max_num_seqs / max_running_requests / max_batch_size
    max_batched_tokens: int | None = None     # max_num_batched_tokens / chunked_prefill_size / max_num_tokens
    engine_version: str | None = None         # the release the source ran (engine_version column, else its date)
    max_model_len: int | None = None          # the source's max_model_len (engine default when None)
    eager: bool = False                       # --enforce-eager
    arrivals: str = "random"                  # synchronized: a benchmark client started C requests together
    speculative: Speculative | None = None    # the speculative decoding the source ran
    benchmark: Benchmark | None = None        # the benchmark run a TTFT row averages over (InferenceX's protocol)
    role: str | None = None                   # POOL_METRICS: the disaggregated pool the row measured
    per_user_with_context: bool = False       # tok/s per user = output tokens / request latency, TTFT included
    request_rate: float | None = None         # requests/s per replica, Poisson (open loop); None: closed loop
    input_tokens_spread: float = 0.0          # prompt lengths spread uniformly over input_len × [1 − s, 1 + s]


@dataclass(frozen=True)
class Result:
    case: Case
    predicted: float | None
    error: float | None       # predicted / measured − 1
    note: str = ""
    role: str = "other"       # the role of the file the row came from (see ROLES)
    layout: str = ""          # the layout the estimate ran


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)   # (row id, reason)

    def verdicts(self, role: str | None = None) -> tuple[int, int]:
        """(right, total) over the fit-verdict rows (of one file role, or all)."""
        rows = [r for r in self.results if r.case.metric in VERDICT_METRICS and r.error is not None
                and (role is None or r.role == role)]
        return sum(r.error == 0 for r in rows), len(rows)

    def errors(self, metrics: tuple[str, ...] | None = None, group: str | None = None,
               role: str | None = None) -> list[float]:
        return [abs(r.error) for r in self.results if r.error is not None
                and (metrics is None or r.case.metric in metrics)
                and (group is None or r.case.family_group == group)
                and (role is None or r.role == role)]

    def roles(self) -> list[str]:
        """The roles present, in ROLES order."""
        present = {r.role for r in self.results}
        return [role for role in ROLES if role in present]

    def summary(self) -> list[dict]:
        """Median absolute error and share within ±25% per file role ("set"), then per metric kind,
        metric and family group within it; each row: set, group, kind, rows, median_abs_error,
        within_25pct (fractions)."""
        rows = []

        def add(role: str, label: str, kind: str, errs: list[float]) -> None:
            if errs:
                rows.append({"set": role, "group": label, "kind": kind, "rows": len(errs),
                             "median_abs_error": statistics.median(errs),
                             "within_25pct": sum(e <= 0.25 for e in errs) / len(errs)})

        for role in self.roles():
            add(role, "memory (all)", "memory", self.errors(MEMORY_METRICS, role=role))
            right, total = self.verdicts(role)
            if total:
                rows.append({"set": role, "group": "fit verdicts", "kind": "verdict", "rows": total, "right": right,
                             "median_abs_error": statistics.median(self.errors(VERDICT_METRICS, role=role)),
                             "within_25pct": right / total})
            add(role, "speed (all)", "speed", self.errors(SPEED_METRICS, role=role))
            add(role, "disaggregated pools (none fitted on)", "pool", self.errors(tuple(POOL_METRICS), role=role))
            for metric in MEMORY_METRICS + RATE_METRICS:
                add(role, metric, "metric", self.errors((metric,), role=role))
            for group in sorted({r.case.family_group for r in self.results if r.role == role}):
                add(role, group, "speed by family", self.errors(SPEED_METRICS, group, role))
                add(role, group, "memory by family", self.errors(MEMORY_METRICS, group, role))
        return rows

    def to_frame(self):
        """One row per measurement as a pandas DataFrame: id, set, metric, family, model, accelerator,
        gpus, engine, predicted, measured, error (predicted / measured − 1), note."""
        import pandas as pd

        return pd.DataFrame([_result_row(r) for r in self.results],
                            columns=["id", "set", "metric", "family", "model", "accelerator", "gpus", "engine",
                                     "predicted", "measured", "error", "note"])


def _result_row(r: Result) -> dict:
    return {"id": r.case.id, "set": r.role, "metric": r.case.metric, "family": r.case.family_group,
            "model": r.case.model, "accelerator": r.case.accelerator, "gpus": r.case.gpus, "layout": r.layout,
            "engine": r.case.engine, "predicted": r.predicted, "measured": r.case.measured,
            "error": r.error, "note": r.note}


# File roles by the last word of the file name, in the order reports list them.
ROLES = ("fit", "test", "memory", "other")


def file_role(path: str | Path) -> str:
    """`fit`, `test` or `memory` when the file's name ends in `-fit.csv`, `-test.csv` or
    `-memory.csv`; else `other` (a file of your own)."""
    stem = Path(path).stem
    for role in ROLES[:-1]:
        if stem.endswith(f"-{role}"):
            return role
    return "other"


def source_publisher(source: str) -> str:
    """Who published a measurement, from its `source` text: the GitHub owner for github.com and
    *.github.io addresses (NVIDIA's TensorRT-LLM repository and its docs site are one publisher),
    the paper for arXiv, else the site's name without subdomains (docs.nvidia.com → nvidia).
    Fit and test files must not share one."""
    text = source.strip().lower()
    m = re.search(r"https?://(?:www\.)?([^/\s]+)(?:/([^/\s#?]+))?(?:/([^/\s#?]+))?", text)
    if not m:
        return text.split(",")[0].strip()
    host, first, second = m.group(1), m.group(2) or "", m.group(3) or ""
    if host in ("github.com", "raw.githubusercontent.com", "gist.github.com"):
        return first
    if host.endswith(".github.io"):
        return host[: -len(".github.io")]
    if host == "arxiv.org":
        return f"arxiv:{second}"
    parts = host.split(".")
    return parts[-2] if len(parts) >= 2 else host


def bundled_measurements() -> list[Path]:
    """The bundled measurement files, `catalog/data/measurements-*.csv`, by name."""
    return sorted(Path(str(p)) for p in resources.files("catalog.data").iterdir()
                  if p.name.startswith("measurements-") and p.name.endswith(".csv"))


def calibration_summary() -> dict | None:
    """What benchmarks/calibrate.py last recorded (catalog/data/calibration-summary.json): the files it
    fitted on, its in-sample, out-of-sample (test set) and k-fold cross-validated errors; None if absent."""
    import json

    path = resources.files("catalog.data").joinpath("calibration-summary.json")
    return json.loads(path.read_text()) if path.is_file() else None


def measurement_files() -> list[Path]:
    """What `hwplan validate` reads by default: the bundled files, plus `benchmarks/measurements-*.csv`
    when run from a source checkout (test sets kept with the benchmarks)."""
    extra = Path(__file__).resolve().parent.parent / "benchmarks"
    found = sorted(extra.glob("measurements-*.csv")) if extra.is_dir() else []
    return bundled_measurements() + found


def bundled_memory_measurements() -> Path:
    """Memory rows from public start-up logs with the settings each used; validation only, nothing is fitted."""
    return Path(str(resources.files("catalog.data").joinpath("measurements-memory.csv")))


class _Skip(Exception):
    pass


def _first_int(text: str) -> int | None:
    m = re.search(r"(\d[\d,]*)", text.replace("~", ""))
    return int(m.group(1).replace(",", "")) if m else None


def _length(text: str, default: int) -> int:
    t = text.strip().lower()
    if t in ("n/s", "short", "short chat", "short prompts", "n/a"):
        return default
    m = re.search(r"~\s*(\d+)\s*avg", t) or re.fullmatch(r"~?\s*(\d+)(\s*\(.*\))?", t)
    if m:
        return int(m.group(1))
    m = re.search(r"~\s*(\d+(?:\.\d+)?)\s*k\b", t)  # "articles (~0.8k)"
    if m:
        return int(float(m.group(1)) * 1000)
    m = re.search(r"(\d+)\s*-\s*(\d+)(\s*tok|\)|$)", t)
    if m:
        return (int(m.group(1)) + int(m.group(2))) // 2
    raise _Skip(f"token length '{text}' is not a number")


def _match(table, text: str, what: str) -> str:
    low = text.lower()
    for pattern, value in table:
        if re.search(pattern, low):
            return value
    raise _Skip(f"{what} '{text}' is not in the catalog")


def _model_id(name: str, catalog: Catalog) -> str:
    """The catalog id a model name denotes: lower-case, without parentheses, org prefix, size-neutral
    suffixes (-Instruct, -chat, -0528, -FP8-dynamic …). Exact matches only: 'LLaMA 7B' must not become 70B."""
    base = re.sub(r"\(.*?\)", "", name.lower()).strip()
    base = re.split(r"[/ ]", base)[0] if "/" not in base[:3] else base
    base = base.split("/")[-1] if base.count("/") == 1 and not re.match(r"deepseek-(v3|r1)/", base) else base
    base = re.sub(r"^meta-", "", base)
    for suffix in (r"-fp8-dynamic", r"-fp8", r"-awq", r"-instruct", r"-chat", r"-hf", r"-0528", r"-0324", r"-2507", r"-base",
                   r"-17b-16e", r"-17b-128e"):
        base = re.sub(suffix + r"(?=$|-)", "", base)
    base = base.split("/")[0]
    if base in catalog.models:
        return base
    raise _Skip(f"model '{name}' is not in the catalog")


# Words of a measurement's precision cell → the catalog variant it names; the first match wins (GGUF
# names before the datatypes they contain, 4-bit before 8-bit).
_PRECISION_WORDS = ((("ud-iq1_s", "1.58"), "ud-1.58bit"), (("q8_0",), "q8_0"), (("q4_k_m",), "q4_k_m"),
                    (("q4_k_s",), "q4_k_s"), (("awq", "int4", "w4a16"), "int4"), (("mxfp4", "fp4"), "fp4"),
                    (("int8", "w8a8"), "int8"), (("fp8",), "fp8"), (("bf16", "fp16"), "bf16"))


def _precision(text: str, model_id: str, catalog: Catalog) -> tuple[str, str]:
    """(variant id, KV datatype) a measurement's precision cell names; _Skip when the catalog has no
    such variant of the model (mixed per-layer precisions included)."""
    low = text.lower()
    variants = [v.id for v in catalog.models[model_id].variants]
    kv = "fp8" if re.search(r"fp8 kv|weights\+kv", low) else ("bf16" if "bf16 kv" in low else "auto")
    if "+" in low and "moe" in low:
        raise _Skip(f"mixed precision '{text}' (different datatypes per layer type) is not a catalog variant")
    choice = next((variant for words, variant in _PRECISION_WORDS if any(w in low for w in words)), None)
    if choice is None:
        raise _Skip(f"precision '{text}' is not recognised")
    if choice == "fp4" and ("mxfp4" in variants and "mxfp4" in low or model_id.startswith("gpt-oss")):
        choice = "mxfp4"
    if choice not in variants:
        raise _Skip(f"{model_id} has no '{choice}' variant in the catalog")
    return _named_build(catalog.models[model_id], choice, low), kv


def _named_build(model, choice: str, text: str) -> str:
    """The variant of `choice`'s datatype whose quantization method the row's precision text names (Meta's
    'FBGEMM' FP8 checkpoint is `quant_method: fbgemm_fp8`, NVIDIA's 'ModelOpt' one `modelopt`): the row ran
    that checkpoint, whose unquantized modules differ. Else `choice`."""
    dtype = model.variant(choice).compute_dtype
    for v in model.variants:
        word = re.split(r"[_-]", v.quant_method or "")[0]
        if word and word not in DTYPES and v.compute_dtype == dtype and re.search(rf"\b{re.escape(word)}\b", text):
            return v.id
    return choice


def _hardware(text: str) -> tuple[str, int | None]:
    low = text.lower()
    if "hybrid" in low or "cpu+gpu" in low:
        raise _Skip("CPU+GPU hybrid offload is not a single-device-type replica")
    if low.startswith("cpu"):
        sockets = re.search(r"(\d+)x", low)
        model = re.search(r"(6980p|8480|6454s|9654|9374f|9135|9755)", low)
        if not model:
            raise _Skip(f"CPU '{text}' is not in the catalog")
        ids = {"6980p": "xeon-6980p", "8480": "xeon-8480", "6454s": "xeon-6454s", "9654": "epyc-9654",
               "9374f": "epyc-9374f", "9135": "epyc-9135", "9755": "epyc-9755"}
        return ids[model.group(1)], int(sockets.group(1)) if sockets else 1
    if "supernode" in low or "cloudmatrix" in low:
        raise _Skip("a 384-NPU supernode serving with EP320 is not a single replica")
    return _match(_HARDWARE, text, "hardware"), None


def _replica_gpus(case_gpus: int, tp_text: str, pp_text: str, model: str, precision: str, acc: str,
                  catalog: Catalog) -> int:
    if re.search(r"layer|split", pp_text.lower()):
        return case_gpus  # llama.cpp's layer split: one replica over every GPU
    tp = _first_int(tp_text) if re.fullmatch(r"\s*\d+\s*", tp_text) else None
    pp = _first_int(pp_text) if re.fullmatch(r"\s*\d+\s*", pp_text) else None
    if tp == 0 or pp == 0:
        raise _Skip(f"tp = '{tp_text}', pp = '{pp_text}': each must be at least 1")
    if tp is not None:
        size = tp * (pp or 1)
        if size <= case_gpus and case_gpus % size == 0:
            return size
        return case_gpus
    if "replica" not in tp_text and "per-submission" not in tp_text:
        return case_gpus
    from .sizing import weight_bytes

    m = catalog.models[model]
    weights = weight_bytes(m, m.variant(precision))
    memory = catalog.accelerators[acc].memory_bytes
    size = 1
    while size < case_gpus and weights > memory * size * (2 / 3):
        size *= 2
    return min(size, case_gpus)


_UTILIZATION = re.compile(r"(?:gpu[_-]memory[_-]utilization|mem[_-]fraction[_-]static|free_gpu_mem(?:ory)?_fraction"
                          r"|kv frac(?:tion)?)[\s=:]*([01]?\.\d+)")
_MAX_MODEL_LEN = re.compile(r"(?:max[_-]model[_-]len|maximum concurrency for)[\s=:]*(\d[\d,]*)")


_VERSION = re.compile(r"(?<![\w.])[vV]?(\d+\.\d+(?:\.\d+)?)")
_BUILD = re.compile(r"\bb(\d{3,})\b")


def engine_version(row: dict, engine: str, catalog: Catalog) -> str | None:
    """The engine release a measurement ran, as `--engine-version` takes it: the number in its
    `engine_version` column (0.10.1 of 'v0.10.1.dev101', 0.11 of '~0.11 (Oct 2025)', llama.cpp 'b6000');
    where the column names none ('V1 (2025)', 'n/s (Jul 2025)'), the newest release in engines.yaml
    `memory.versions` published by the row's date (a year alone counts to its end); None when that is
    the base release."""
    text = (row.get("engine_version") or "").strip()
    found = _BUILD.search(text) if engine == "llama.cpp" else _VERSION.search(text)
    if found:
        return found.group(1)
    date = (row.get("date") or "").strip()
    if not re.match(r"^\d{4}", date):
        return None
    end = date + "-12-31"[len(date) - 4:] if len(date) < 10 else date
    out = None
    for v in catalog.engines[engine].memory.versions:
        if str(v.released) <= end:
            out = v.version
    return out or catalog.engines[engine].memory.base_version or None


def _speculative(text: str, default_tokens: int | None = None) -> Speculative:
    """The method and draft length a row's notes state ("MTP (3 layers)", "3 nextn layers",
    "EAGLE-3 with 4 draft tokens"; `default_tokens` where none is stated, for memory rows, whose draft weights
    and KV layers do not depend on it, nor on the acceptance); a speed row's acceptance: from the mean acceptance
    length the notes state ("acceptance length 2.18": tokens per verification step, serving.acceptance_for_length),
    else the method's default (optimizer/serving.py)."""
    method = "mtp" if re.search(r"\bmtp\b|nextn", text) else "eagle" if "eagle" in text else \
        "ngram" if re.search(r"n-?gram|prompt lookup", text) else None
    if method is None:
        raise _Skip("speculative decoding without a stated method (mtp, eagle, ngram)")
    k = re.search(r"(\d+)\s*(?:nextn|mtp|draft|speculative|spec)[ -]?(?:layers?|tokens?)?|(?:mtp|nextn|draft tokens?)"
                  r"\s*\(?\s*(\d+)\s*(?:layers?|tokens?)", text)
    if k is None and default_tokens is None:
        raise _Skip(f"{method} speculative decoding without a stated number of draft tokens")
    tokens = int(k.group(1) or k.group(2)) if k else default_tokens
    if not 1 <= tokens <= 16:   # serving.check_speculative's range, worded for a row rather than a flag
        raise _Skip(f"the notes state {tokens} draft tokens: engines draft between 1 and 16 per step")
    if default_tokens is not None:   # a memory row: its figure does not depend on the acceptance
        return Speculative(method, tokens, None)
    length = _ACCEPT_LENGTH.search(text)
    if length is None:
        if re.search(r"accept\w*\s+(?:rate|ratio)", text):
            raise _Skip("the notes state an acceptance rate; validate reads a mean acceptance length (tokens per "
                        "verification step, 'acceptance length 2.18')")
        return Speculative(method, tokens, None)
    e = float(length.group(1))
    if e < 1:
        raise _Skip(f"an acceptance length of {e:g} tokens per step is below 1 (every verification step yields "
                    "the verified token)")
    if k is not None and e > tokens + 1:
        raise _Skip(f"an acceptance length of {e:g} tokens per step with {tokens} draft token"
                    f"{'s' if tokens != 1 else ''}: at most {tokens + 1} (the drafts and the verified token)")
    return Speculative(method, tokens, acceptance_for_length(tokens, e))


# A mean acceptance length as notes word it: "mean acceptance length 2.18", "accepted length of 2.4", SGLang's log
# line "accept len: 2.18", "acceptance length = 2.4".
_ACCEPT_LENGTH = re.compile(r"accept(?:ance|ed)? len(?:gth)?\b\s*(?:of\b|[:=])?\s*(\d+(?:\.\d+)?)")


def _arrivals(concurrency: int | str, text: str) -> str:
    """Closed-loop benchmark clients (InferenceX, `vllm bench serve --max-concurrency`, SGLang
    bench_serving, AIPerf) start all C requests together with near-identical lengths: synchronized
    waves (optimizer/serving.py). Poisson / request-rate / MLPerf Server rows are random."""
    if re.search(r"poisson|request[ _-]rate|qps|server scenario|\bserver\b", text):
        return "random"
    if re.search(r"burst|offline|at once|infinite rate|trtllm-bench|static batch", text):
        return "random"  # a whole dataset at once: the engine's batch cap, not the client, sets the waves
    # "max"/burst rows (all prompts at once, far more than run together) are left random: the engine's
    # batch cap, not the client, sets who runs together there.
    return "synchronized" if isinstance(concurrency, int) and concurrency > 1 else "random"


# InferenceX's client: `--num-prompts $((CONC * 10)) --max-concurrency $CONC --random-range-ratio 0.8`
# (https://github.com/SemiAnalysisAI/InferenceX/blob/ed5867f9e/benchmarks/benchmark_lib.sh, run_benchmark_serving;
# RANDOM_RANGE_RATIO 0.8 in .github/workflows/benchmark-tmpl.yml).
INFERENCEX_PROMPTS_PER_USER = 10
INFERENCEX_RANGE_RATIO = 0.8
_INTAKE = re.compile(r"--scheduler-recv-interval[\s=]+(\d+)")
_BATCHED_TOKENS = re.compile(r"--(?:chunked-prefill-size|max-num-batched-tokens|max_num_tokens)[\s=]+(\d+)(?![\d,])")


def _benchmark(row: dict, notes: str, metric: str, engine: str) -> Benchmark | None:
    """The benchmark run a TTFT row of InferenceX averages over (its client's protocol, above), with the
    engine's intake interval its launch command set (SGLang `--scheduler-recv-interval`) and the engine's
    (catalog id `engine`) scheduler
    wait and cold-shape stall (`Benchmark.for_engine`); None for other rows."""
    if metric not in TTFT_METRICS or "inferencex" not in (row.get("source") or "").lower() + notes:
        return None
    intake = max([int(v) for v in _INTAKE.findall(notes)] or [1])
    return Benchmark.for_engine(engine, INFERENCEX_PROMPTS_PER_USER, INFERENCEX_RANGE_RATIO, max(1, intake))


def _per_user_with_context(metric: str, notes: str) -> bool:
    """True for a per-user speed measured by trtllm-bench, whose "Per User Output Throughput" is a request's
    output tokens over its whole latency, first token included: its DeepSeek-R1 min-latency run on 8 × B200 prints
    274.7188 tokens/s/user with an average request latency of 7,456.1 ms for 2K output tokens, and
    2,048 / 7.4561 s = 274.7 (https://github.com/NVIDIA/TensorRT-LLM/blob/01c4ece911eb569e72cf4177f83238a0520641c2/docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md;
    later releases label it "Per User Output Throughput [w/ ctx]"). Other clients' per-user speeds are 1/TPOT."""
    return metric == "tok_s_per_user" and "trtllm-bench" in notes


# Notes saying the run did not speculate: "no speculative decoding", "no MTP", "without MTP", "MTP disabled", "MTP
# off", "1 MTP layer is not loaded", "speculative decoding off".
_NO_SPECULATION = re.compile(
    r"no spec(?:ulative)?[- ]decod|\b(?:no|without) (?:mtp|eagle|spec(?:ulative)?[- ]decod\w*)\b"
    r"|\b(?:mtp|eagle|spec(?:ulative)?[- ]decoding)(?: (?:layers?|modules?|heads?))? (?:is |are |was |were )?"
    r"(?:disabled|off|not (?:loaded|used|enabled|on))\b")


def _case(row: dict, catalog: Catalog) -> Case:
    """One measurements row as a case hwplan can estimate; _Skip (with why) for a row it cannot."""
    metric = row["metric"].strip()
    notes = (row.get("notes") or "").lower()
    _skip_unmodelled(metric, notes)
    _check_time_unit(metric, row.get("unit") or "")
    text = " ".join(row.get(k) or "" for k in ("model", "precision", "tp", "ep", "num_gpus", "concurrency_or_batch"))
    spec = None
    said = notes + " " + text.lower()
    # Speculative decoding runs on the decode pool: a prefill pool row's passes are the same with or without it.
    if POOL_METRICS.get(metric) != "prefill" and not _NO_SPECULATION.search(notes):
        if metric in RATE_METRICS and re.search(r"\bmtp\b|eagle|speculative|nextn", said):
            spec = _speculative(said)
        elif metric in MEMORY_METRICS and re.search(r"\bmtp\b|eagle|nextn", said):
            spec = _speculative(said, default_tokens=1)   # a draft's weights and KV layers
    if metric not in POOL_METRICS and re.search(r"disaggregat|pd disagg|prefill trays|decode trays|decode nodes",
                                                notes):
        raise _Skip("a whole disaggregated prefill/decode deployment is not a single replica (its pools are "
                    "checked one at a time: decode_tok_s_per_gpu, prefill_tok_s_per_gpu)")
    model = _model_id(row["model"], catalog)
    precision, kv = _precision(row["precision"], model, catalog)
    acc, sockets = _hardware(row["hardware"])
    engine, precision = _engine_and_precision(row["engine"], model, precision, catalog)
    total = sockets if sockets is not None else _first_int(row["num_gpus"])
    if not total:
        raise _Skip(f"accelerator count '{row['num_gpus']}' is not a whole number of at least 1")
    nodes_total = _first_int(row.get("num_nodes") or "1") or 1
    gpus = _replica_gpus(total, row.get("tp") or "", row.get("pp") or "", model, precision, acc, catalog)
    replicas = total // gpus
    nodes = max(1, nodes_total // replicas) if nodes_total <= total else 1
    if gpus % nodes:
        nodes = 1
    dp = bool(re.search(r"dp.attention|attention[ _]dp|enable-dp-attention|dep\d", notes + " " + (row.get("tp") or "").lower())) \
        and "dp-attention=false" not in notes
    conc_text = (row.get("concurrency_or_batch") or "").strip().lower()
    memory_row = metric in MEMORY_METRICS + VERDICT_METRICS
    rate = _request_rate(row, metric, replicas)
    spread = _input_spread(row)
    concurrency = 1 if rate is not None else \
        _concurrency(row, _pool_batch_text(row, metric, conc_text), memory_row, replicas)
    input_tokens, output_tokens = _lengths(row, memory_row)
    _check_ranges((("num_gpus", total, 100_000), ("input_len", input_tokens, 10_000_000),
                   ("output_len", output_tokens, 10_000_000), ("nodes", nodes_total, 100_000),
                   ("concurrency_or_batch", concurrency if isinstance(concurrency, int) else 1, 10**6)))
    tp, pp, attn_dp, ep = _layout(row, gpus, dp)
    if metric in POOL_METRICS and tp is None:
        raise _Skip(f"a pool row is scored on its own layout: tp '{row.get('tp') or ''}' × pp "
                    f"'{row.get('pp') or ''}' does not state the replica's {gpus} accelerators (give tp, pp, ep)")
    family = catalog.accelerators[acc].family
    settings = _row_settings(row, notes + " " + conc_text)
    return Case(id=row["id"], metric=metric, measured=_measured(row["value"], metric), family_group=FAMILY_GROUPS[family],
                model=model, precision=precision, kv_dtype=kv, accelerator=acc, gpus=gpus, nodes=nodes,
                replicas=replicas, engine=engine, dp_attention=dp, input_tokens=input_tokens,
                output_tokens=output_tokens, concurrency=concurrency, memory_row=memory_row,
                unit_gib=(row.get("unit") or "").strip().lower().startswith("gib"),
                request_tokens=settings["max_model_len"], **settings,
                engine_version=engine_version(row, engine, catalog),
                arrivals="random" if metric in POOL_METRICS else _arrivals(concurrency, notes + " " + conc_text),
                speculative=spec,
                benchmark=None if rate is not None else _benchmark(row, notes, metric, engine), tp=tp, pp=pp, dp=attn_dp, ep=ep,
                per_user_with_context=_per_user_with_context(metric, notes), role=POOL_METRICS.get(metric),
                request_rate=rate, input_tokens_spread=spread)


def _skip_unmodelled(metric: str, notes: str) -> None:
    """_Skip for a metric hwplan does not estimate, or a memory row whose engine ran a KV connector."""
    if metric not in MEMORY_METRICS + RATE_METRICS + VERDICT_METRICS:
        raise _Skip(f"metric '{metric}' is not one hwplan estimates")
    if metric not in RATE_METRICS and re.search(r"kv[_ -]connector|kv-transfer|lmcacheconnector", notes):
        raise _Skip("a KV connector (LMCache) holds GPU buffers outside the engine's memory budget")


def _engine_and_precision(text: str, model: str, precision: str, catalog: Catalog) -> tuple[str, str]:
    """The catalog engine a row names, and the precision's twin in the format that engine loads (GGUF for
    llama.cpp, safetensors for the others); _Skip when there is none."""
    if "ktransformers" in text.lower():
        raise _Skip("KTransformers offloads experts to the CPU (hybrid)")
    engine = _match(_ENGINES, text, "engine")
    variant = catalog.models[model].variant(precision)
    if variant.format not in catalog.engines[engine].formats:
        twin = f"{precision}-gguf" if engine == "llama.cpp" else precision.removesuffix("-gguf")
        if twin not in [v.id for v in catalog.models[model].variants]:
            raise _Skip(f"{engine} does not load {model} in {precision}")
        precision = twin
    return engine, precision


def _concurrency(row: dict, conc_text: str, memory_row: bool, replicas: int) -> int | str:
    """Requests in flight per replica: 1 for memory rows and start-up figures, 'max' for saturated runs."""
    if memory_row or conc_text in ("startup", "n/a"):
        return 1
    if re.search(r"max|offline|saturat|server", conc_text):
        return "max"
    n = _first_int(conc_text)
    if n is None or re.search(r"unspecified|per npu|production", conc_text):
        raise _Skip(f"concurrency '{row['concurrency_or_batch']}' is not a number")
    if n == 0:
        raise _Skip(f"concurrency '{row['concurrency_or_batch']}': a measured run has at least one request in flight")
    return max(1, n // replicas)


def _pool_batch_text(row: dict, metric: str, conc_text: str) -> str:
    """A pool row's concurrency_or_batch as `_concurrency` reads it; _Skip when the pool cannot take it: a prefill
    replica runs one prompt per attention DP group (n/a or blank: read as n/a), a decode replica's tok/s is its
    batch's (a number, or 'saturated')."""
    role = POOL_METRICS.get(metric)
    if role == "prefill":
        if conc_text not in ("", "n/a"):
            raise _Skip(f"concurrency_or_batch '{row['concurrency_or_batch']}' on a prefill pool row: its replica runs "
                        f"prompts back to back, one per attention DP group (give n/a)")
        return "n/a"
    if role == "decode" and conc_text in ("startup", "n/a"):
        raise _Skip(f"concurrency_or_batch '{row['concurrency_or_batch']}' on a decode pool row: its tok/s is its "
                    f"batch's (give the batch, or 'saturated')")
    return conc_text


def _lengths(row: dict, memory_row: bool) -> tuple[int, int]:
    """(input, output) tokens per request; a memory row without them takes the defaults (capacity does
    not depend on the benchmark's lengths)."""
    try:
        return (_length(row.get("input_len") or "n/s", UNSTATED_INPUT),
                _length(row.get("output_len") or "n/s", UNSTATED_OUTPUT))
    except _Skip:
        if not memory_row:
            raise
        return UNSTATED_INPUT, UNSTATED_OUTPUT


def _check_ranges(values: tuple[tuple[str, int, int], ...]) -> None:
    """_Skip unless each (column, value, top) lies in 1..top: the ranges a problem may state
    (optimizer/problem.py); a zero or a 10^12 would divide by zero or size a replica of 10^12
    accelerators."""
    for name, value, top in values:
        if not 1 <= value <= top:
            raise _Skip(f"{name} = {value} is outside 1..{top:,}")


def _row_settings(row: dict, text: str) -> dict[str, Any]:
    """Engine settings a row gives in its own columns, else in its notes (`text`): memory_utilization,
    max_model_len, max_batch, max_batched_tokens, eager."""
    given = {k: (row.get(k) or "").strip() for k in SETTING_COLUMNS}
    util = _UTILIZATION.search(text)
    max_len = _MAX_MODEL_LEN.search(text)
    batched = _BATCHED_TOKENS.search(text)
    return {
        "memory_utilization": _finite(given["memory_utilization"], "memory_utilization")
        if given["memory_utilization"] else (float(util.group(1)) if util else None),
        "max_model_len": int(given["max_model_len"].replace(",", "")) if given["max_model_len"] else
        (int(max_len.group(1).replace(",", "")) if max_len else None),
        "max_batch": int(given["max_num_seqs"]) if given["max_num_seqs"] else None,
        "max_batched_tokens": int(given["max_num_batched_tokens"]) if given["max_num_batched_tokens"] else
        (int(batched.group(1)) if batched else None),
        "eager": given["enforce_eager"].lower() in ("1", "true", "yes"),
    }


def _request_rate(row: dict, metric: str, replicas: int) -> float | None:
    """The optional `request_rate` column per replica (requests/s, Poisson arrivals), None when blank; _Skip for
    a rate that is not a positive finite number, or one on a row that does not measure a replica's speed."""
    text = (row.get("request_rate") or "").strip()
    if not text:
        return None
    if metric not in SPEED_METRICS:
        raise _Skip(f"request_rate '{text}' on a {metric} row: a request rate drives a replica's speed and TTFT "
                    f"metrics only ({', '.join(SPEED_METRICS)})")
    try:
        rate = _finite(text, "request_rate")
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise _Skip(f"request_rate '{text}': give the requests per second the benchmark sent, a number above 0")
    return rate / replicas


def _input_spread(row: dict) -> float:
    """The optional `input_tokens_spread` column: the row's prompt lengths spread uniformly over input_len ×
    [1 − s, 1 + s] (0 when blank); _Skip for a value outside [0, 1]."""
    text = (row.get("input_tokens_spread") or "").strip()
    if not text:
        return 0.0
    try:
        spread = _finite(text, "input_tokens_spread")
    except ValueError:
        spread = -1.0
    if not 0 <= spread <= 1:
        raise _Skip(f"input_tokens_spread '{text}': give the share the prompt lengths spread around input_len, "
                    f"from 0 to 1")
    return spread


def _finite(text: str, column: str) -> float:
    """A measurement cell as a finite number; ValueError (the row is set aside) for nan, inf or 1e400."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{column} = {text!r} is not a finite number")
    return value


# Time units a `unit` column may state for a metric in milliseconds (`*_ms`) that are not milliseconds.
# Only the unit's first word counts: 's/token' or 's (mean)' is in seconds as much as 's' ('ms/token' is ms).
_OTHER_TIME_UNITS = re.compile(r"(?:s|sec|secs|seconds?|us|µs|μs|microseconds?|ns|min|minutes?|h|hrs?|hours?)"
                               r"(?:[\s/(].*)?")


def _check_time_unit(metric: str, unit: str) -> None:
    """A millisecond metric (ttft_ms, ttft_median_ms, tpot_ms) whose `unit` names another time unit is set aside:
    its value would be read as milliseconds."""
    said = unit.strip().lower()
    if metric.endswith("_ms") and _OTHER_TIME_UNITS.fullmatch(said):
        raise _Skip(f"unit '{unit.strip()}' does not match metric {metric}, which is in milliseconds: give the "
                    f"value in ms and the unit 'ms'")


def _measured(text: str, metric: str) -> float:
    """The row's `value`: a finite number above 0 (a `starts` verdict: 0 or 1); ValueError (the row is set
    aside) otherwise: a negative or zero speed would be scored as an error of thousands of percent, or none."""
    value = _finite(text, "value")
    if metric in VERDICT_METRICS:
        if value not in (0, 1):
            raise ValueError(f"value = {text!r}: a {metric} verdict must be 0 or 1")
    elif value <= 0:
        raise ValueError(f"value = {text!r}: a measured {metric} must be above 0")
    return value


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and re.fullmatch(r"\s*\d+\s*", text) else None


def _layout(row: dict, gpus: int, dp_attention: bool) -> tuple[int | None, int | None, int | None, int | None]:
    """(attention tp, pp, attention dp, ep) as the row states them, or Nones when it states no tp.

    The row's tp counts every rank of a stage (SGLang --tp, TensorRT-LLM tp_size); a `dp` column
    (or DP attention in the notes, over every rank) splits them into attention groups."""
    tp, pp = _number(row.get("tp")), _number(row.get("pp")) or 1
    if tp is None or tp * pp != gpus:
        return None, None, None, None
    dp = _number(row.get("dp")) or (tp if dp_attention else 1)
    if tp % dp:
        return None, None, None, None
    ep = _number(row.get("ep")) or 1
    return tp // dp, pp, dp, ep


def read_cases(path: str | Path, catalog: Catalog) -> tuple[list[Case], list[tuple[str, str]]]:
    _, rows = read_csv(path, what="measurements file", required=COLUMNS)
    cases, skipped = [], []
    for row in rows:
        try:
            cases.append(_case(row, catalog))
        except _Skip as why:
            skipped.append((row["id"], str(why)))
        except ValueError as why:
            skipped.append((row["id"], f"unreadable value ({why})"))
    return cases, skipped


# What each metric reads from an estimate of one replica (case: the measured row).
_CAPACITY_READINGS = {
    "starts": lambda est, case: 1.0 if est.fits else 0.0,
    "kv_cache_gib": lambda est, case: est.memory_gib["kv_cache"],
    "kv_cache_tokens": lambda est, case: float(est.kv_capacity_tokens),
    # vLLM's max concurrency: KV cache / one max_model_len request's KV (windowed layers as it counts them).
    "max_concurrency": lambda est, case: est.max_model_len_concurrency if case.request_tokens
    else float(est.max_concurrency),
    "model_memory_gb": lambda est, case: est.weights_per_gpu_gb * (1e9 / 2**30 if case.unit_gib else 1),
}
_SPEED_READINGS = {
    "output_tok_s_total": lambda est, case: est.output_tokens_per_s_total * case.replicas,
    "tok_s_per_gpu": lambda est, case: est.output_tokens_per_s_total / case.gpus,
    # trtllm-bench: output tokens O over the request's latency, TTFT + (O − 1) · TPOT (`_per_user_with_context`).
    "tok_s_per_user": lambda est, case: case.output_tokens / (est.ttft_s + (case.output_tokens - 1)
                                                              / est.decode_tokens_per_s_per_user)
    if case.per_user_with_context else est.decode_tokens_per_s_per_user,
    "tpot_ms": lambda est, case: 1000 / est.decode_tokens_per_s_per_user,
    "ttft_ms": lambda est, case: est.ttft_s * 1000,
    "ttft_median_ms": lambda est, case: None if est.ttft_median_s is None else est.ttft_median_s * 1000,
}


def predict(case: Case, catalog: Catalog) -> tuple[float | None, Estimate]:
    """hwplan's figure for the case's metric (None: no speed where the replica does not run), and the
    estimate it comes from."""
    layout = _default_layout(case, catalog) if case.tp is None else (case.tp, case.pp, case.dp, case.ep)
    tp, pp, dp, ep = layout if layout else (None, None, None, None)
    est = estimate(catalog, model=case.model, accelerator=case.accelerator, gpus=case.gpus, nodes=case.nodes,
                   precision=case.precision, kv_dtype=case.kv_dtype, engine=case.engine,
                   dp_attention=case.dp_attention, input_tokens=case.input_tokens,
                   output_tokens=case.output_tokens,
                   concurrency=None if case.role == "prefill" or case.request_rate is not None else case.concurrency,
                   memory_utilization=case.memory_utilization, max_batch=case.max_batch,
                   max_batched_tokens=case.max_batched_tokens, max_model_len=case.max_model_len, eager=case.eager,
                   engine_version=case.engine_version, speculative=case.speculative, tp=tp, pp=pp, dp=dp, ep=ep,
                   arrivals=case.benchmark if case.benchmark is not None else case.arrivals, role=case.role,
                   request_rate=case.request_rate, input_tokens_spread=case.input_tokens_spread)
    if case.role is not None:
        total = est.prefill_input_tokens_per_s if case.role == "prefill" else est.output_tokens_per_s_total
        return (None if total is None else total / case.gpus), est
    if case.metric in _CAPACITY_READINGS:
        return _CAPACITY_READINGS[case.metric](est, case), est
    if est.decode_tokens_per_s_per_user is None or case.metric not in _SPEED_READINGS:
        return None, est
    return _SPEED_READINGS[case.metric](est, case), est


def _default_layout(case: Case, catalog: Catalog) -> tuple[int, int, int, int] | None:
    """The layout hwplan assumes for a row that states none (None on CPUs: the estimator's own choice)."""
    from .layouts import default_layout

    if catalog.accelerators[case.accelerator].family == "cpu":
        return None
    lay = default_layout(catalog.models[case.model], catalog.engines[case.engine], case.gpus // case.nodes,
                         case.nodes, dp_attention=case.dp_attention and catalog.engines[case.engine].dp_attention)
    return lay.tp, lay.pp, lay.dp, lay.ep


def validate(catalog: Catalog, path: str | Path | None = None) -> Report:
    """Every usable row of one measurements file (None: every default file, see `validate_files`),
    predicted, with its error; rows carry the file's role.

    Fit-verdict rows (`starts`) score an error of 0 when the verdict is right, 1 when wrong.
    """
    if path is None:
        return validate_files(catalog)
    cases, skipped = read_cases(path, catalog)
    role = file_role(path)
    report = Report(unusable=skipped)
    for case in cases:
        try:
            value, est = predict(case, catalog)
        except HwplanError as exc:
            report.unusable.append((case.id, str(exc)))
            continue
        if case.metric in VERDICT_METRICS:
            report.results.append(Result(case, value, 0.0 if value == case.measured else 1.0,
                                         "" if est.fits else (est.why_not or "").split(":")[0][:48], role))
            continue
        token_metric = case.metric == "kv_cache_tokens" or (case.metric == "max_concurrency" and case.request_tokens)
        if value is not None and (case.metric in ("kv_cache_gib", "model_memory_gb")
                                  or (token_metric and est.memory_gib.get("kv_cache", 0) > 0)):
            # What the start-up log prints before any start-up check: comparable whether or not it starts.
            report.results.append(Result(case, value, value / case.measured - 1 if case.measured else None,
                                         role=role))
            continue
        if value is None or not est.fits:
            if not est.fits:
                why = "does not fit in hwplan's memory model"
            elif case.request_rate is not None:
                why = f"{case.request_rate * case.replicas:g} requests/s overload the replicas in hwplan's model"
            else:
                why = "no speed in hwplan's model"
            report.results.append(Result(case, None, None, why, role))
            continue
        error = value / case.measured - 1 if case.measured else None
        report.results.append(Result(case, value, error, role=role, layout=est.layout))
    return report


def validate_files(catalog: Catalog, paths: list[str | Path] | tuple[str | Path, ...] = ()) -> Report:
    """`validate` over several files (default: `measurement_files()`), in one report."""
    report = Report()
    for path in paths or measurement_files():
        part = validate(catalog, path)
        report.results += part.results
        report.unusable += part.unusable
    return report


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


SET_TITLES = {"fit": "fit set (in-sample)", "test": "test set (out-of-sample)",
              "memory": "memory set (nothing fitted)", "other": "other files"}


def render_report(report: Report, fmt: str = "table", rows: bool = True) -> str:
    import json

    if fmt == "json":
        return json.dumps({
            "summary": report.summary(),
            "rows": [_result_row(r) for r in report.results],
            "calibration": calibration_summary(),
            "unusable": [{"id": i, "reason": why} for i, why in report.unusable],
        }, indent=2) + "\n"
    out = _rows_text(report) if rows else []
    return "\n".join(out + _summary_text(report)) + "\n"


# Metric names as the measurements CSV spells them → the short column text of the table.
METRIC_SHORT = {"output_tok_s_total": "out tok/s", "tok_s_per_user": "tok/s/user", "tok_s_per_gpu": "tok/s/GPU",
                "tpot_ms": "TPOT ms", "ttft_ms": "TTFT ms", "ttft_median_ms": "TTFT p50 ms", "model_memory_gb": "model GB",
                "kv_cache_tokens": "KV tokens", "kv_cache_gib": "KV GiB", "max_concurrency": "max conc.",
                "starts": "starts", "decode_tok_s_per_gpu": "D tok/s/GPU", "prefill_tok_s_per_gpu": "P tok/s/GPU"}


def _rows_text(report: Report) -> list[str]:
    """Every row for an 80-column terminal, grouped under its model (ids in order within a model);
    a row's note goes on an indented line under it."""
    from .textlayout import narrow_table, wrap

    headers = ["id", "hardware", "engine", "metric", "predicted", "measured", "error"]
    out = []
    by_model: dict[str, list[Result]] = {}
    for r in sorted(report.results, key=lambda r: r.case.id):
        by_model.setdefault(r.case.model, []).append(r)
    table_rows, details, headings = [], [], {}
    for model in sorted(by_model):
        headings[len(table_rows)] = f"{model}:"
        for r in by_model[model]:
            table_rows.append([f"  {r.case.id}", f"{r.case.gpus}×{r.case.accelerator}", r.case.engine,
                               METRIC_SHORT.get(r.case.metric, r.case.metric), _fmt(r.predicted),
                               _fmt(r.case.measured), "—" if r.error is None else f"{r.error:+.0%}"])
            details.append([r.note] if r.note else [])
    out += narrow_table(headers, table_rows, details, right={4, 5, 6}, headings=headings)
    legend = ("Rows grouped by model. metric: " + ", ".join(
        f"{short} = {name}" for name, short in METRIC_SHORT.items() if short != name)
        + "; error = predicted / measured - 1.")
    return out + wrap(legend) + [""]


def _summary_text(report: Report) -> list[str]:
    """Median |error| and the share within ±25% per set and group, the cross-validated figure, and the
    rows set aside with why."""
    from .textlayout import wrap

    out = []
    summary = report.summary()
    for role in report.roles():
        out.append(f"{SET_TITLES[role]:<40} {'rows':>5} {'median |error|':>15} {'within ±25%':>12}")
        for s in (s for s in summary if s["set"] == role):
            if s["kind"] == "verdict":
                out.append(f"  {'fit verdicts (starts or not)':<38} {s['rows']:>5} {s['right']:>9} right")
                continue
            label = s["group"] if s["kind"] in ("memory", "speed", "pool", "metric") else f"{s['kind']}: {s['group']}"
            out.append(f"  {label[:38]:<38} {s['rows']:>5} {s['median_abs_error']:>15.1%} {s['within_25pct']:>12.0%}")
        out.append("")
    cal = calibration_summary()
    if cal and cal.get("cross_validated"):
        cv = cal["cross_validated"]
        out += wrap(f"Speed factors fitted by benchmarks/calibrate.py on {', '.join(cal['fitted_on'])} "
                    f"({cal['date']}): {cv['folds']}-fold cross-validated median |error| "
                    f"{cv['median_abs_error']:.1%} over {cv['rows']} fit rows.")
        out.append("")
    if report.unusable:
        out.append(f"{len(report.unusable)} rows not usable:")
        for i, why in sorted(report.unusable):
            out += wrap(f"{i}: {why}", "  ", "    ")
    return out

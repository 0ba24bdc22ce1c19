"""Peer benchmark: hwplan and NVIDIA's AIConfigurator on the same questions, against published runs.

Each question fixes a model, GPU, engine, prompt/output lengths, concurrency and the layout the
published run used (TP, attention DP, EP); both tools predict the decode speed per user and the
output throughput with their default settings, and the script prints both predictions, the
published measurement, both tools' times and the ratios. hwplan runs in-process
(`optimizer.estimate` with the layout fixed); AIConfigurator runs its CLI (`aiconfigurator cli
estimate`, offline: it ships its own performance database and model configs).

Install the benchmark extra first (`pip install -e ".[bench]"`), then:

    python -m benchmarks.vs_aiconfigurator            # every question, a table
    python -m benchmarks.vs_aiconfigurator --json     # the same as JSON
    python -m benchmarks.vs_aiconfigurator --only LAY-001
    python -m benchmarks.vs_aiconfigurator --test-set  # also every test-set row AIConfigurator can be asked

`--test-set` adds, by rule rather than by choice, every speed row of the `*-test.csv` files (nothing
fitted on them; tok/s per user, TPOT or output tok/s at a stated concurrency) whose GPU, model and
engine AIConfigurator covers (TEST_SYSTEMS, TEST_MODELS); hwplan answers each as `hwplan validate`
does (the row's layout, engine release, settings and arrivals), AIConfigurator with the row's layout
at batch = concurrency per attention group.

The summary gives both tools' median |error| against the measurement on the questions both answer:
over all of them; over those neither side was fitted on (the original questions with no `*-fit.csv`
row and the test-set rows: the union the target is judged on; AIConfigurator predicts from its own
kernel database and is fitted on no published run); and over each of the union's two parts.

It prints figures and never asserts. A question AIConfigurator cannot answer (a model or
system outside its database) shows its error in place of a prediction.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

# (id, source, hwplan model, AIC model path, hwplan accelerator, AIC system, engine, precision,
#  ISL, OSL, concurrency, tp (attention), dp (attention groups), ep, pp, gpus, nodes,
#  measured metric, measured value)
QUESTIONS = [
    ("LAY-001", "https://github.com/tenstorrent/tt-inference-server/issues/356 (TP16 assumed)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h100-sxm", "h100_sxm", "sglang", "fp8",
     128, 128, 1, 16, 1, 1, 1, 16, 2, "tok_s_per_user", 43.25),
    ("LAY-003", "https://github.com/sgl-project/sglang/pull/9359",
     "gpt-oss-120b", "openai/gpt-oss-120b", "b200", "b200_sxm", "sglang", "mxfp4",
     1024, 2048, 2560, 1, 4, 4, 1, 4, 1, "output_tok_s_total", 66941.40),
    ("LAY-004", "https://github.com/sgl-project/sglang/pull/4521",
     "deepseek-v3", "deepseek-ai/DeepSeek-V3", "h200-sxm", "h200_sxm", "sglang", "fp8",
     180, 400, 600, 2, 4, 8, 1, 8, 1, "output_tok_s_total", 1698.65),
    ("IX870-c8", "https://github.com/SemiAnalysisAI/InferenceX/issues/870 (SGLang v0.5.7, TPOT 12.8 ms)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h200-sxm", "h200_sxm", "sglang", "fp8",
     1024, 1024, 8, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 1000 / 12.8),
    ("IX870-c64", "https://github.com/SemiAnalysisAI/InferenceX/issues/870 (SGLang v0.5.7, TPOT 34.6 ms)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h200-sxm", "h200_sxm", "sglang", "fp8",
     1024, 1024, 64, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 1000 / 34.6),
    ("IX-001", "InferenceX nightly, fit row IX-001 (SGLang v0.5.12)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h200-sxm", "h200_sxm", "sglang", "fp8",
     1024, 1024, 4, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 102.8),
    ("IX-007", "InferenceX nightly, fit row IX-007 (TensorRT-LLM)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h200-sxm", "h200_sxm", "trtllm", "fp8",
     1024, 1024, 64, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 29.4),
    ("IX-009", "InferenceX nightly, fit row IX-009 (TensorRT-LLM)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "h200-sxm", "h200_sxm", "trtllm", "fp8",
     8192, 1024, 64, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 20.1),
    ("IX-035", "InferenceX nightly, fit row IX-035 (SGLang v0.5.12)",
     "deepseek-r1", "deepseek-ai/DeepSeek-R1", "b200", "b200_sxm", "sglang", "fp8",
     1024, 1024, 64, 8, 1, 1, 1, 8, 1, "tok_s_per_user", 45.9),
    ("L70-TP2", "the issue's question: Llama-3.1-70B fp8 on H100, TP2 replica at 128 users (no measurement)",
     "llama-3.1-70b", "nvidia/Llama-3.1-70B-Instruct-FP8", "h100-sxm", "h100_sxm", "trtllm", "fp8",
     2000, 1000, 128, 2, 1, 1, 1, 2, 1, "tok_s_per_user", None),
]


# --test-set: hwplan accelerator -> AIConfigurator system; hwplan model -> the model path AIConfigurator
# knows (its model_configs); hwplan precision -> AIConfigurator's quantization flags.
TEST_SYSTEMS = {"h100-sxm": "h100_sxm", "h200-sxm": "h200_sxm", "b200": "b200_sxm", "b300": "b300_sxm",
                "a100-80g-sxm": "a100_sxm"}
TEST_MODELS = {"deepseek-r1": "deepseek-ai/DeepSeek-R1", "deepseek-v3": "deepseek-ai/DeepSeek-V3",
               "qwen3-8b": "Qwen/Qwen3-8B", "qwen3-32b": "Qwen/Qwen3-32B", "qwen3-30b-a3b": "Qwen/Qwen3-30B-A3B",
               "qwen3-235b-a22b": "Qwen/Qwen3-235B-A22B", "gpt-oss-120b": "openai/gpt-oss-120b",
               "gpt-oss-20b": "openai/gpt-oss-20b", "llama-3.1-8b": "meta-llama/Meta-Llama-3.1-8B",
               "llama-3.1-70b": "meta-llama/Meta-Llama-3.1-70B", "llama-3.1-405b": "meta-llama/Meta-Llama-3.1-405B"}
_TEST_METRICS = ("tok_s_per_user", "tpot_ms", "output_tok_s_total")


def test_set_questions():
    """(question, case) for every speed row of the *-test.csv files AIConfigurator can be asked (TEST_SYSTEMS,
    TEST_MODELS, a numeric concurrency); the question in QUESTIONS' shape with the row's layout, or TP over
    every GPU of the replica when the row states none."""
    from catalog import load_catalog
    from optimizer.validate import file_role, measurement_files, read_cases

    cat = load_catalog()
    out = []
    for path in measurement_files():
        if file_role(path) != "test":
            continue
        for c in read_cases(path, cat)[0]:
            if c.metric not in _TEST_METRICS or not isinstance(c.concurrency, int) or c.speculative is not None \
                    or c.accelerator not in TEST_SYSTEMS or c.model not in TEST_MODELS:
                continue
            tp, pp, dp, ep = (c.tp, c.pp, c.dp, c.ep) if c.tp is not None else (c.gpus, 1, 1, 1)
            metric = "output_tok_s_total" if c.metric == "output_tok_s_total" else "tok_s_per_user"
            measured = 1000 / c.measured if c.metric == "tpot_ms" else c.measured / max(1, c.replicas) \
                if metric == "output_tok_s_total" else c.measured
            out.append(((c.id, f"test row {c.id} ({c.metric})", c.model, TEST_MODELS[c.model], c.accelerator,
                         TEST_SYSTEMS[c.accelerator], c.engine, c.precision, c.input_tokens, c.output_tokens,
                         c.concurrency, tp, dp, ep, pp, c.gpus, c.nodes, metric, measured), c))
    return out


def run_hwplan_case(case) -> Answer:
    """hwplan's answer to a test row as `hwplan validate` gives it (optimizer/validate.py `predict`)."""
    from catalog import load_catalog
    from optimizer.validate import predict

    start = time.perf_counter()
    try:
        _, est = predict(case, load_catalog())
    except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
        return Answer(None, None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return Answer(est.decode_tokens_per_s_per_user, est.output_tokens_per_s_total, time.perf_counter() - start,
                  "" if est.fits else "does not fit")


@dataclass
class Answer:
    tok_s_per_user: float | None
    output_tok_s: float | None
    seconds: float
    error: str = ""


def run_hwplan(q) -> Answer:
    from catalog import load_catalog
    from optimizer import estimate

    (_, _, model, _, acc, _, engine, precision, isl, osl, conc, tp, dp, ep, pp, gpus, nodes, *_rest) = q
    start = time.perf_counter()
    try:
        est = estimate(load_catalog(), model=model, accelerator=acc, gpus=gpus, nodes=nodes, precision=precision,
                       engine=engine, input_tokens=isl, output_tokens=osl, concurrency=conc, tp=tp, pp=pp,
                       dp=dp, ep=ep)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
        return Answer(None, None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return Answer(est.decode_tokens_per_s_per_user, est.output_tokens_per_s_total, time.perf_counter() - start,
                  "" if est.fits else "does not fit")


_QUANT = {"fp8": ["--gemm-quant-mode", "fp8_block", "--moe-quant-mode", "fp8_block"],
          "mxfp4": ["--moe-quant-mode", "w4a16_mxfp4"], "bf16": ["--gemm-quant-mode", "bfloat16"]}


def run_aiconfigurator(q, exe: str) -> Answer:
    from catalog import load_catalog

    (_, _, model, path, _, system, engine, precision, isl, osl, conc, tp, dp, ep, pp, gpus, nodes, *_rest) = q
    moe = load_catalog().models[model].moe is not None
    if path.startswith("nvidia/Llama"):
        quant = ["--gemm-quant-mode", "fp8"]
    else:
        quant = _QUANT.get(precision, [])
    cmd = [exe, "cli", "estimate", "--model-path", path, "--system", system, "--backend", engine,
           "--isl", str(isl), "--osl", str(osl), "--batch-size", str(max(1, conc // dp)),
           "--tp-size", str(tp), "--pp-size", str(pp), *quant]
    if dp > 1:
        cmd += ["--attention-dp-size", str(dp)]
    if moe:  # AIConfigurator needs the MoE split: EP × MoE-TP = every rank of a stage
        cmd += ["--moe-ep-size", str(ep), "--moe-tp-size", str(tp * dp // ep)]
        if precision == "bf16":
            cmd += ["--moe-quant-mode", "bfloat16"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    user = re.search(r"tokens/s/user:\s*([\d,.]+)", out)
    total = re.search(r"^\s*tokens/s:\s*([\d,.]+)", out, re.M)
    if proc.returncode or not user:
        last = [line for line in out.splitlines() if line.strip() and "deprecat" not in line.lower()]
        return Answer(None, None, seconds, (last[-1] if last else f"exit {proc.returncode}")[:160])
    return Answer(float(user.group(1).replace(",", "")), float(total.group(1).replace(",", "")) if total else None,
                  seconds)


def _fit_row_ids() -> set[str]:
    """Ids of the rows hwplan's efficiency factors are fitted on (the `*-fit.csv` measurement files)."""
    import csv

    from optimizer.validate import file_role, measurement_files

    ids: set[str] = set()
    for path in measurement_files():
        if file_role(path) == "fit":
            with open(path, newline="", encoding="utf-8") as f:
                ids |= {row["id"] for row in csv.DictReader(f)}
    return ids


def _pick(answer: Answer, metric: str) -> float | None:
    return answer.tok_s_per_user if metric == "tok_s_per_user" else answer.output_tok_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--only", action="append", help="question id (repeatable)")
    parser.add_argument("--test-set", action="store_true",
                        help="also ask every test-set row AIConfigurator covers (see the module docstring)")
    args = parser.parse_args(argv)
    exe = shutil.which("aiconfigurator")
    fitted = _fit_row_ids()
    rows = []
    asked = [(q, None) for q in QUESTIONS] + (test_set_questions() if args.test_set else [])
    seen: set[str] = set()
    for q, case in asked:
        if (args.only and q[0] not in args.only) or q[0] in seen:
            continue
        seen.add(q[0])
        metric, measured = q[-2], q[-1]
        ours = run_hwplan(q) if case is None else run_hwplan_case(case)
        theirs = run_aiconfigurator(q, exe) if exe else Answer(None, None, 0.0, "aiconfigurator is not installed "
                                                                "(pip install -e '.[bench]')")
        h, a = _pick(ours, metric), _pick(theirs, metric)
        rows.append({"id": q[0], "source": q[1], "metric": metric, "measured": measured, "hwplan": h, "aiconfigurator": a,
                     "hwplan_ratio": h / measured if h and measured else None,
                     "aiconfigurator_ratio": a / measured if a and measured else None,
                     "hwplan_s": round(ours.seconds, 3), "aiconfigurator_s": round(theirs.seconds, 1),
                     "hwplan_fitted": q[0] in fitted, "set": "original" if case is None else "test",
                     "layout": f"TP{q[11]} DP{q[12]} EP{q[13]} PP{q[14]} on {q[15]} × {q[4]}, {q[6]}, "
                               f"{q[8]}/{q[9]} tokens, concurrency {q[10]}",
                     "errors": "; ".join(e for e in (ours.error and f"hwplan: {ours.error}",
                                                      theirs.error and f"aiconfigurator: {theirs.error}") if e)})
    summary = summarize(rows)
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
        return 0
    fmt = lambda v: "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")  # noqa: E731
    ratio = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"{'question':<10} {'metric':<18} {'measured':>9} {'hwplan':>9} {'AIC':>9} {'hw/meas':>8} {'AIC/meas':>8} "
          f"{'hw s':>6} {'AIC s':>6}")
    for r in rows:
        print(f"{r['id']:<10} {r['metric']:<18} {fmt(r['measured']):>9} {fmt(r['hwplan']):>9} "
              f"{fmt(r['aiconfigurator']):>9} {ratio(r['hwplan_ratio']):>8} {ratio(r['aiconfigurator_ratio']):>8} "
              f"{r['hwplan_s']:>6.2f} {r['aiconfigurator_s']:>6.1f}")
        print(f"{'':<10} {r['layout']}" + (f"  [{r['errors']}]" if r["errors"] else ""))
    print()
    for line in summary_lines(summary):
        print(line)
    return 0


def _median_error(rows: list[dict], key: str) -> float | None:
    """Median of |ratio − 1| over `rows` (None when there are none)."""
    return statistics.median(abs(r[key] - 1) for r in rows) if rows else None


# The subsets the summary reports, each the questions both tools answer with a measurement: all of them; those
# neither side was fitted on (hwplan: no `*-fit.csv` row of that id; AIConfigurator is never fitted on published
# runs: it predicts from its own kernel database) — the union of the original unfitted questions and the test-set
# rows — and that union's two parts.
SUBSETS = (("all", "every question both answer with a measurement", lambda r: True),
           ("not_fitted", "those neither side fitted on (original + test set)", lambda r: not r["hwplan_fitted"]),
           ("not_fitted_original", "  of which the original questions", lambda r: not r["hwplan_fitted"]
            and r["set"] == "original"),
           ("not_fitted_test", "  of which the test-set rows", lambda r: not r["hwplan_fitted"] and r["set"] == "test"))


def summarize(rows: list[dict]) -> dict:
    """Per SUBSETS entry: its number of questions and both tools' median |error| against the measurement."""
    both = [r for r in rows if r["hwplan_ratio"] and r["aiconfigurator_ratio"]]
    out: dict = {"questions": len(rows)}
    for key, _, keep in SUBSETS:
        part = [r for r in both if keep(r)]
        out[key] = {"questions": len(part), "hwplan_median_abs_error": _median_error(part, "hwplan_ratio"),
                    "aiconfigurator_median_abs_error": _median_error(part, "aiconfigurator_ratio")}
    return out


def summary_lines(summary: dict) -> list[str]:
    """The summary as lines of text: one per non-empty subset."""
    lines = []
    for key, label, _ in SUBSETS:
        part = summary[key]
        if part["questions"]:
            lines.append(f"{label:<52} {part['questions']:>3}: median |error| hwplan "
                         f"{part['hwplan_median_abs_error']:6.1%}, AIConfigurator {part['aiconfigurator_median_abs_error']:6.1%}")
    return lines


if __name__ == "__main__":
    sys.exit(main())

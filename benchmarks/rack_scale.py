"""Rack-scale DeepSeek-R1 capacity against published figures: GB200/GB300 NVL72, CloudMatrix 384, 9 × 8×B200.

    python -m benchmarks.rack_scale            # table: plans, then the split model
    python -m benchmarks.rack_scale --json     # for scripts
    python -m benchmarks.rack_scale --plans    # also the optimizer's one-pool (aggregated) plans

Plans first: what `hwplan solve` gives on the published run's workload (DeepSeek-R1, FP8 weights,
SGLang, 2,000 tokens in, 1,000 out, ≥ 10 tok/s per user, `serving: disaggregated`, `objective: users`)
with one GB200 NVL72 rack (`max_nodes: 1`; its prefill replicas and one decode instance share the
NVLink domain, optimizer/disagg.py) and with nine 8×B200 servers (`max_nodes: 9`): users, output tok/s
(the decode lines' batch over their time per output token) per rack and per GPU.

Then the split model: the published rack-scale runs split the rack into prefill instances and one wide-EP
decode instance (prefill/decode disaggregation). For each system hwplan sizes the same arrangement with its
own speed model (optimizer/rackscale.py `split_capacity`): the best prefill replica (input tokens/s per
accelerator), the best decode replica over the accelerators the prefill pool leaves (output tokens/s
per accelerator at the largest batch its KV cache holds, each user at ≥ 10 tok/s), and the split of the
72 accelerators (9 whole servers for B200) that serves the most requests of 2,000 tokens in, 1,000 out.

Published figures:

- GB200 NVL72, SGLang, "BF16 attention and FP8 MoE" (DeepSeek's FP8 checkpoint, BF16 KV cache),
  2,000-token inputs: 18,471 input tokens/s per prefill GPU and 9,087 output tokens/s per decode GPU
  (decode DP48 attention + EP48; LMSYS, 2025-09-25,
  https://lmsys.org/blog/2025-09-25-gb200-part-2/). A rack serving 2,000 → 1,000-token requests with
  them serves 1 / (1/9,087 + 2,000/(1,000 × 18,471)) = 4,580 output tokens/s per GPU (each request
  takes 1,000/9,087 decode-GPU-seconds and 2,000/18,471 prefill-GPU-seconds). This is the target:
  hwplan's rack within 25% of it.
- 9 × 8×B200 against one GB200 NVL72 (72 GPUs each way): InferenceX measured GB200 NVL72 above B200
  per GPU at every throughput-oriented interactivity, 1.15× at 25 tok/s per user and 1.73× at 90
  (Dynamo + TensorRT-LLM, FP4, MTP, 1k/1k, both disaggregated; 2026-05-22 run 26306422380,
  https://inferencex.semianalysis.com/blog/gb200-nvl72-vs-b200-disagg-deepseek-r1-fp4-dynamo-trt).
  hwplan's GB200 rack must likewise beat nine B200 nodes.
- GB300 NVL72: MLPerf Inference v5.1 DeepSeek-R1 Offline, 420,659 tok/s on 72 GB300 (NVFP4,
  TensorRT-LLM; https://github.com/mlcommons/inference_results_v5.1/tree/965182b03376a00fcae415c54e560e1c83937932/closed/NVIDIA/results/GB300-NVL72_GB300-288GB_aarch64x72_TRT/deepseek-r1/Offline),
  5,842 tok/s per GPU (not the same engine or workload: shown, not a target).
- CloudMatrix 384: 1,943 decode tok/s per NPU at TPOT < 50 ms, INT8 (Huawei, arXiv 2506.12708,
  https://arxiv.org/abs/2506.12708): set against hwplan's decode per NPU at ≥ 20 tok/s per user.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from optimizer.rackscale import continuous_split_per_gpu, split_capacity  # noqa: E402

__all__ = ["CASES", "PUBLISHED_GB200", "measure", "plan_rows", "aggregated_plans"]

INPUT_TOKENS, OUTPUT_TOKENS = 2000, 1000
# LMSYS 2025-09-25, GB200 NVL72, SGLang, BF16 attention + FP8 MoE, 2,000-token inputs (per GPU).
PUBLISHED_GB200 = {"prefill_input_per_gpu": 18471.0, "decode_output_per_gpu": 9087.0}
# InferenceX 2026-05-22: GB200 NVL72 over B200 per GPU, 25 and 90 tok/s per user.
PUBLISHED_GB200_OVER_B200 = (1.15, 1.73)

# (label, accelerator, platform, accelerators per node, nodes, precision, engine, min tok/s per user,
#  published output tok/s per GPU of the whole system or None, what it is)
CASES = (
    ("GB200 NVL72", "gb200", "gb200-nvl72-rack", 72, 1, "fp8", "sglang", 10.0,
     continuous_split_per_gpu(PUBLISHED_GB200["decode_output_per_gpu"], PUBLISHED_GB200["prefill_input_per_gpu"],
                              INPUT_TOKENS, OUTPUT_TOKENS),
     "LMSYS 2025-09-25 SGLang P 18,471 / D 9,087 per GPU"),
    ("9 × 8×B200", "b200", "hgx-b200-8gpu", 8, 9, "fp8", "sglang", 10.0, None,
     "InferenceX: GB200 1.15-1.73 × B200 per GPU"),
    ("GB300 NVL72", "gb300", "gb300-nvl72-rack", 72, 1, "fp4", "sglang", 10.0, 420659 / 72,
     "MLPerf v5.1 Offline (TensorRT-LLM, NVFP4)"),
    ("CloudMatrix 384", "ascend-910c", "cloudmatrix-384", 384, 1, "int8", "sglang", 20.0, None,
     "Huawei arXiv 2506.12708: decode 1,943 per NPU"),
)
CLOUDMATRIX_DECODE_PER_NPU = 1943.0


def measure() -> list[dict]:
    """One row per case: hwplan's prefill/decode split of the system and its published figure."""
    catalog = load_catalog()
    model = catalog.models["deepseek-r1"]
    rows = []
    for label, acc, plat, per_node, nodes, precision, engine, min_tps, published, where in CASES:
        s = split_capacity(model, model.variant(precision), catalog.accelerators[acc], catalog.platforms[plat],
                           catalog.engines[engine], gpus_per_node=per_node, nodes=nodes, min_tokens_per_s=min_tps,
                           input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS)
        if s is None:
            rows.append({"system": label, "error": "no prefill/decode split serves anyone"})
            continue
        row = {"system": label, "engine": engine, "precision": precision, "gpus": s.gpus,
               "prefill": f"{s.prefill_gpus} GPUs as {s.prefill.layout.label} ({s.prefill.gpus} each)",
               "decode": f"{s.decode_gpus} GPUs as {s.decode.layout.label}, batch {s.decode.batch:,}, "
                         f"TPOT {s.decode.tpot_s * 1000:.0f} ms",
               "prefill_input_per_gpu": round(s.prefill.per_gpu), "decode_output_per_gpu": round(s.decode.per_gpu),
               "output_per_gpu": round(s.per_gpu), "output_per_system": round(s.output_tokens_per_s),
               "published_per_gpu": None if published is None else round(published),
               "ratio": None if published is None else round(s.per_gpu / published, 3), "source": where}
        if label == "CloudMatrix 384":
            row["ratio_decode"] = round(s.decode.per_gpu / CLOUDMATRIX_DECODE_PER_NPU, 3)
        if label == "GB200 NVL72":
            row["ratio_prefill"] = round(s.prefill.per_gpu / PUBLISHED_GB200["prefill_input_per_gpu"], 3)
            row["ratio_decode"] = round(s.decode.per_gpu / PUBLISHED_GB200["decode_output_per_gpu"], 3)
        rows.append(row)
    by = {r["system"]: r for r in rows if "error" not in r}
    if "GB200 NVL72" in by and "9 × 8×B200" in by:
        by["9 × 8×B200"]["gb200_over_this"] = round(by["GB200 NVL72"]["output_per_gpu"]
                                                    / by["9 × 8×B200"]["output_per_gpu"], 2)
    return rows


PLAN_CASES = (("GB200 NVL72 rack", "gb200", 1), ("9 × 8×B200", "b200", 9))


def plan_rows() -> list[dict]:
    """The optimizer's disaggregated plans serving the most users on one GB200 NVL72 rack and on nine 8×B200
    servers (module docstring): users, output tok/s per system and per GPU, the published figure's ratio."""
    from optimizer import optimize, problem_from_fields

    catalog = load_catalog()
    published = CASES[0][8]
    rows = []
    for label, acc, nodes in PLAN_CASES:
        problem = problem_from_fields({
            "model": "deepseek-r1", "precision": "fp8", "engine": "sglang", "serving": "disaggregated",
            "objective": "users",
            "workload": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS, "min_tokens_per_s": 10.0},
            "constraints": {"accelerators": [acc], "max_nodes": nodes, "max_nodes_per_replica": 9}})
        plan = optimize(catalog, problem)
        tok_s = sum((line.output_tokens_per_s_per_replica or 0) * line.replicas for line in plan.lines)
        rows.append({"system": label, "nodes": plan.totals.nodes, "gpus": plan.totals.gpus,
                     "users": plan.totals.users, "output_per_system": round(tok_s),
                     "output_per_gpu": round(tok_s / plan.totals.gpus),
                     "ratio": round(tok_s / plan.totals.gpus / published, 3) if acc == "gb200" else None,
                     "lines": [f"{line.role} {line.replicas} × {line.layout}" for line in plan.lines]})
    rows[0]["over_b200"] = round(rows[0]["output_per_system"] / rows[1]["output_per_system"], 2)
    return rows


def aggregated_plans(users: int = 20_000, max_ttft_s: float = 10.0) -> list[dict]:
    """The optimizer's own plans (one pool: every replica prefills and decodes) for GB200 NVL72 and B200,
    SGLang, fp8, ≥ 10 tok/s per user and p90 TTFT ≤ `max_ttft_s`: output tok/s per GPU."""
    from optimizer import optimize, problem_from_fields

    catalog = load_catalog()
    out = []
    for acc in ("gb200", "b200"):
        problem = problem_from_fields({
            "model": "deepseek-r1", "precision": "fp8", "engine": "sglang",
            "workload": {"concurrent_users": users, "input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
                         "min_tokens_per_s": 10.0, "max_ttft_s": max_ttft_s},
            "constraints": {"accelerators": [acc], "max_nodes_per_replica": 9}})
        plan = optimize(catalog, problem)
        tok_s = sum((line.output_tokens_per_s_per_replica or 0) * line.replicas for line in plan.lines)
        out.append({"accelerator": acc, "plan": "; ".join(f"{line.replicas} × {line.layout}" for line in plan.lines),
                    "gpus": plan.totals.gpus, "output_per_gpu": round(tok_s / plan.totals.gpus)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plans", action="store_true", help="also run the optimizer's aggregated plans (slower)")
    args = parser.parse_args(argv)
    rows = measure()
    solved = plan_rows()
    plans = aggregated_plans() if args.plans else None
    if args.json:
        print(json.dumps({"plans": solved, "rows": rows, "aggregated_plans": plans}, indent=2))
        return 0
    published = CASES[0][8]
    print(f"Plans (hwplan solve, serving: disaggregated, objective: users); published {published:,.0f} per GPU")
    for r in solved:
        ratio = f" = {r['ratio']:.2f} × published" if "over_b200" in r else ""
        extra = f", {r['over_b200']:.2f} × nine B200 servers" if "over_b200" in r else ""
        print(f"{r['system']:<16} {r['output_per_gpu']:>6,} output tok/s per GPU{ratio}")
        print(f"{'':<16} {r['users']:,} users, {r['output_per_system']:,} tok/s on {r['nodes']} node(s){extra}")
        for text in r["lines"]:
            print(f"{'':<16} {text}")
    print("Split model (optimizer/rackscale.py)")
    for r in rows:
        if "error" in r:
            print(f"{r['system']:<16} no plan: {r['error']}")
            continue
        ratio = "" if r["ratio"] is None else f"  = {r['ratio']:.2f} × published {r['published_per_gpu']:,}"
        print(f"{r['system']:<16} {r['output_per_gpu']:>6,} output tok/s per GPU{ratio}")
        print(f"{'':<16} prefill {r['prefill']}: {r['prefill_input_per_gpu']:,} in/GPU")
        print(f"{'':<16} decode {r['decode']}: {r['decode_output_per_gpu']:,} out/GPU")
        extra = [f"{k.split('_')[1]} {r[k]:.2f}×" for k in ("ratio_prefill", "ratio_decode") if k in r]
        if "gb200_over_this" in r:
            extra.append(f"GB200 rack / this = {r['gb200_over_this']:.2f} (published 1.15-1.73)")
        print(f"{'':<16} {r['source']}{'; ' + ', '.join(extra) if extra else ''}")
    for p in plans or []:
        print(f"optimizer, one pool, {p['accelerator']}: {p['output_per_gpu']:,} out/GPU on {p['gpus']} GPUs: {p['plan']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

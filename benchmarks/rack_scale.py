"""Rack-scale DeepSeek-R1 capacity against published figures: GB200/GB300 NVL72, CloudMatrix 384, 9 × 8×B200.

    python -m benchmarks.rack_scale            # table
    python -m benchmarks.rack_scale --json     # for scripts

For each system hwplan plans DeepSeek-R1 (in the published run's precision, 2,000 tokens in /
1,000 out) for many users
at a decode-speed floor, buying only that system, and reports the output tokens/s its plan
delivers per accelerator and per rack-sized group of 72 accelerators, next to the published
figure it should approach:

- GB200 NVL72: SGLang on GB200 NVL72, FP8, prefill/decode disaggregated with large expert
  parallelism: 7,583 output tok/s per decode GPU at 2,000-token inputs (LMSYS, 2025-06-16,
  https://github.com/lm-sys/lm-sys.github.io/blob/3c3331f12f836ffeeb78e55f46f28c26e5909f03/blog/2025-06-16-gb200-part-1.md).
  It counts decode GPUs only (48 of 56); per GPU of the whole deployment it is 7,583 × 48 / 56 = 6,500.
- GB300 NVL72: MLPerf Inference v5.1 DeepSeek-R1 Offline, 420,659 tok/s on 72 GB300 (NVFP4,
  TensorRT-LLM; https://github.com/mlcommons/inference_results_v5.1/tree/965182b03376a00fcae415c54e560e1c83937932/closed/NVIDIA/results/GB300-NVL72_GB300-288GB_aarch64x72_TRT/deepseek-r1/Offline),
  5,842 tok/s per GPU.
- CloudMatrix 384: 1,943 decode tok/s per NPU at TPOT < 50 ms, INT8 (Huawei, arXiv 2506.12708,
  https://arxiv.org/abs/2506.12708).
- 8 × B200 HGX nodes: no published figure used here; the issue's target is that one GB200 NVL72
  rack beats nine of them (72 GPUs each way).

The published runs use prefill/decode disaggregation, wide expert parallelism and fp4 or int8
weights that hwplan's plans do not all model; the ratio says how far the plan is from them.
"""

from __future__ import annotations

import argparse
import json

from catalog import load_catalog
from optimizer import optimize, problem_from_fields

__all__ = ["CASES", "measure"]

# (label, accelerator, precision of the published run, published output tok/s per accelerator or None, source)
CASES = (
    ("GB200 NVL72", "gb200", "fp8", 7583 * 48 / 56, "LMSYS 2025-06-16 (SGLang, FP8, PD-disaggregated, EP)"),
    ("GB300 NVL72", "gb300", "fp4", 420659 / 72, "MLPerf Inference v5.1 Offline (TensorRT-LLM, NVFP4)"),
    ("CloudMatrix 384", "ascend-910c", "int8", 1943.0, "Huawei arXiv 2506.12708 (INT8, TPOT < 50 ms)"),
    ("8 × B200 nodes", "b200", "fp8", None, "—"),
)


def measure(users: int = 20_000, min_tokens_per_s: float = 10.0) -> list[dict]:
    """One plan per case; output tok/s per accelerator and per 72 accelerators, with the published ratio."""
    catalog = load_catalog()
    rows = []
    for label, acc, precision, published, where in CASES:
        problem = problem_from_fields({
            "model": "deepseek-r1", "precision": precision,
            "workload": {"concurrent_users": users, "input_tokens": 2000, "output_tokens": 1000,
                         "min_tokens_per_s": min_tokens_per_s},
            "constraints": {"accelerators": [acc], "max_nodes_per_replica": 9}})
        try:
            plan = optimize(catalog, problem)
        except Exception as exc:  # a case the catalog cannot plan: say why, keep measuring the others
            rows.append({"system": label, "error": str(exc).splitlines()[0][:160]})
            continue
        tok_s = sum((l.output_tokens_per_s_per_replica or 0) * l.replicas for l in plan.lines)
        per_gpu = tok_s / plan.totals.gpus
        rows.append({"system": label, "plan": "; ".join(f"{l.replicas} × {l.unit}" for l in plan.lines),
                     "gpus": plan.totals.gpus, "users": plan.totals.users,
                     "tok_s_per_gpu": round(per_gpu), "tok_s_per_72_gpus": round(per_gpu * 72),
                     "published_per_gpu": None if published is None else round(published),
                     "ratio": None if published is None else round(per_gpu / published, 3), "source": where})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--min-tokens-per-s", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args.users, args.min_tokens_per_s)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['system']:<16} no plan: {r['error']}")
            continue
        ratio = "" if r["ratio"] is None else f"  {r['ratio']:.2f} × published {r['published_per_gpu']:,} ({r['source']})"
        print(f"{r['system']:<16} {r['tok_s_per_gpu']:>6,} tok/s/GPU  {r['tok_s_per_72_gpus']:>9,} per 72 GPUs{ratio}")
        print(f"{'':<16} {r['plan']}")


if __name__ == "__main__":
    main()

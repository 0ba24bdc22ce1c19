"""Is prefill/decode disaggregation cheaper for DeepSeek-R1 with long prompts? (issue 12's question)

    python -m benchmarks.disagg_r1             # table
    python -m benchmarks.disagg_r1 --json      # for scripts

DeepSeek-R1 in fp8, 100 concurrent users, 8,192-token prompts, TTFT ≤ 2 s at the 90th percentile.
The question states neither the answer length nor a per-user speed: 1,024 output tokens and
20 tok/s per user are assumptions (common chat targets, as in InferenceX's 8k/1k runs). For each
node type (one 8-accelerator node per replica, SGLang) it prints the replicas the aggregated mode
needs (each replica prefills and decodes; optimizer/serving.py) and the prefill + decode replicas
of the disaggregated mode (optimizer/disagg.py): the same node type each way, so fewer replicas
is cheaper by the same ratio. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from optimizer.deployment import Deployment  # noqa: E402
from optimizer.disagg import compare_serving  # noqa: E402
from optimizer.estimator import default_platform  # noqa: E402
from optimizer.problem import Workload  # noqa: E402

NODES = (("h200-sxm", "fp8"), ("b200", "fp8"), ("h100-sxm", "fp8"), ("mi300x", "fp8"), ("mi355x", "fp8"))
WORKLOAD = Workload(concurrent_users=100, input_tokens=8192, output_tokens=1024, max_ttft_s=2.0,
                    ttft_percentile=90, min_tokens_per_s=20)


def rows() -> list[dict]:
    catalog = load_catalog()
    model = catalog.models["deepseek-r1"]
    out = []
    for acc_id, precision in NODES:
        acc = catalog.accelerators[acc_id]
        dep = Deployment(model=model, variant=model.variant(precision), accelerator=acc,
                         platform=default_platform(catalog, acc, 8), engine=catalog.engines["sglang"], gpus_per_node=8)
        modes = compare_serving(dep, WORKLOAD)
        p = modes.pools
        out.append({"node": f"8×{acc_id}", "aggregated_replicas": modes.aggregated_replicas,
                    "aggregated_users_per_replica": modes.aggregated_users_per_replica,
                    "aggregated_limit": modes.aggregated_limit,
                    "prefill_replicas": p.prefill_replicas if p else None,
                    "decode_replicas": p.decode_replicas if p else None,
                    "disaggregated_ttft_p90_s": round(p.ttft_p90_s, 3) if p else None,
                    "kv_transfer_ms": round(modes.kv_transfer_s * 1000, 2), "cheaper": modes.cheaper})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = rows()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print("DeepSeek-R1 fp8, 100 users, 8,192 in / 1,024 out, TTFT p90 ≤ 2 s, ≥ 20 tok/s per user")
    print(f"{'node':<12} {'aggregated':>10} {'(users/rep, limit)':>20} {'prefill+decode':>15} {'p90 TTFT':>9} "
          f"{'cheaper':>13}")
    for r in data:
        agg = "—" if r["aggregated_replicas"] is None else str(r["aggregated_replicas"])
        dis = "—" if r["prefill_replicas"] is None else f"{r['prefill_replicas']}+{r['decode_replicas']}"
        ttft = "—" if r["disaggregated_ttft_p90_s"] is None else f"{r['disaggregated_ttft_p90_s']:.2f} s"
        per = f"({r['aggregated_users_per_replica']}, {r['aggregated_limit']})"
        print(f"{r['node']:<12} {agg:>10} {per:>20} {dis:>15} {ttft:>9} {r['cheaper'] or '—':>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

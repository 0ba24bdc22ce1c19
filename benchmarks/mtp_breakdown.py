"""Why are the speculative-decoding rows off? Each published per-user speed with MTP/EAGLE split into the
parts of hwplan's speculative step (optimizer/serving.py, `_Step`).

    python -m benchmarks.mtp_breakdown            # table
    python -m benchmarks.mtp_breakdown --json     # for scripts

For every `tok_s_per_user` row of the files `hwplan validate` reads that runs speculative decoding, on the
layout and settings the row states, it prints, in milliseconds at the row's batch B and mean context:

- plain: τ(B), one decode step without speculation (optimizer/speed.py `decode_token_time`);
- verify: the verification step, B sequences of k + 1 query tokens each over the context
  (serving.Times.verify_time);
- draft: k draft forwards, k·(DRAFT_STEP_SHARE·τ(1) + (τ(B) − τ(1))/layers);
- E: tokens per verification step (MTP without a stated acceptance: TensorRT-LLM's published table);
- step/plain: what speculation costs per step, (verify + draft) / plain;
- predicted and measured per-user tok/s;
- extra: the time per step that would have to be added to (verify + draft) for E / step to equal the
  measurement, E · TPOT − (verify + draft), with TPOT = 1 / measured, or, for trtllm-bench's per-user
  speed (output tokens O over the whole request, optimizer/validate.py), (O / measured − TTFT) / (O − 1)
  with the modelled TTFT;
- plain_implied: plain + extra, the plain step the measurement implies if the missing time is a fixed
  cost of every step (the same in a plain and a speculative step).

TensorRT-LLM's blog "Pushing Latency Boundaries: Optimizing DeepSeek-R1 Performance on NVIDIA B200 GPUs"
measured the plain step at batch 1 on the same 8× B200 (111 tok/s without MTP: 9.0 ms) in the run whose
MTP table sets hwplan's acceptance
(https://github.com/NVIDIA/TensorRT-LLM/blob/01c4ece911eb569e72cf4177f83238a0520641c2/docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_Optimizing_DeepSeek-R1_Performance_on_NVIDIA_B200_GPUs.md);
compare plain_implied with it.

Then every speculative decode-pool row (`decode_tok_s_per_gpu`, disaggregated) beside the plain row of the same
run, when the file has one: the predicted and measured speedup of speculation, whose error is the speculative
step's alone (the plain row carries the plain step's).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import load_catalog  # noqa: E402
from optimizer import serving, validate  # noqa: E402

BLOG_B200_PLAIN_MS = 1000 / 111   # the blog's batch-1 step without MTP on 8× B200 (see the module docstring)


def _captured(case: validate.Case, catalog) -> dict:
    """The serving call the estimator makes for one row (times, batch, lengths, speculation)."""
    seen: dict = {}
    real = serving.closed_loop

    def spy(times, users, i, o, arrivals="random", spec=None):
        if not seen:
            seen.update(times=times, users=users, i=i, o=o, spec=spec)
        return real(times, users, i, o, arrivals=arrivals, spec=spec)

    serving.closed_loop = spy
    try:
        predicted, est = validate.predict(case, catalog)
    finally:
        serving.closed_loop = real
    seen.update(predicted=predicted, ttft_s=est.ttft_s)
    return seen


def rows() -> list[dict]:
    catalog = load_catalog()
    out = []
    for path in validate.measurement_files():
        cases, _ = validate.read_cases(path, catalog)
        for case in cases:
            if case.metric != "tok_s_per_user" or case.speculative is None:
                continue
            got = _captured(case, catalog)
            times, spec, b = got["times"], got["spec"], max(1, int(got["users"]))
            k = spec.tokens
            context = got["i"] + got["o"] / 2
            plain = times.token_time(b, context)[0]
            one = times.token_time(1, context)[0]
            verify = times.verify_time(b, context, k + 1)[0]
            draft = k * (serving.DRAFT_STEP_SHARE * one + (plain - one) / times.layers) \
                if spec.method in ("mtp", "eagle") else 0.0
            e = spec.tokens_per_step()
            o = case.output_tokens
            # trtllm-bench's per-user speed counts the whole request: take the modelled TTFT out of it.
            measured_tpot = (o / case.measured - got["ttft_s"]) / (o - 1) if case.per_user_with_context \
                else 1 / case.measured
            extra = e * measured_tpot - (verify + draft)
            out.append({"id": case.id, "file": Path(path).name, "engine": case.engine,
                        "accelerator": case.accelerator, "layout": f"tp{case.tp} ep{case.ep}", "batch": b,
                        "method": spec.method, "k": k, "tokens_per_step": round(e, 3),
                        "plain_ms": round(plain * 1000, 2), "verify_ms": round(verify * 1000, 2),
                        "draft_ms": round(draft * 1000, 2), "step_over_plain": round((verify + draft) / plain, 3),
                        "predicted": round(got["predicted"], 1), "measured": case.measured,
                        "extra_ms": round(extra * 1000, 2), "plain_implied_ms": round((plain + extra) * 1000, 2)})
    return out


def _same_run(a: validate.Case, b: validate.Case) -> bool:
    """Two pool rows of one deployment and workload (all but the speculative decoding alike)."""
    keys = ("model", "precision", "accelerator", "gpus", "nodes", "engine", "tp", "dp", "ep", "input_tokens",
            "output_tokens", "concurrency", "metric")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def pool_speedups() -> list[dict]:
    """Speculative decode-pool rows (`decode_tok_s_per_gpu`) beside the plain row of the same run: predicted and
    measured tok/s per GPU of each, and the speedup each gives (speculative over plain). The plain row's error is
    the plain step's; the speedup's is the speculative step's alone."""
    catalog = load_catalog()
    out = []
    for path in validate.measurement_files():
        cases, _ = validate.read_cases(path, catalog)
        pools = [c for c in cases if c.role == "decode"]
        for case in (c for c in pools if c.speculative is not None):
            plain = next((c for c in pools if c.speculative is None and _same_run(c, case)), None)
            if plain is None:
                continue
            pred, _ = validate.predict(case, catalog)
            pred_plain, _ = validate.predict(plain, catalog)
            out.append({"id": case.id, "plain_id": plain.id, "accelerator": case.accelerator, "k": case.speculative.tokens,
                        "tokens_per_step": round(case.speculative.tokens_per_step(), 3),
                        "predicted": round(pred, 1), "measured": case.measured,
                        "plain_predicted": round(pred_plain, 1), "plain_measured": plain.measured,
                        "speedup_predicted": round(pred / pred_plain, 3),
                        "speedup_measured": round(case.measured / plain.measured, 3),
                        "speedup_error": round((pred / pred_plain) / (case.measured / plain.measured) - 1, 4)})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    data, pools = rows(), pool_speedups()
    if args.json:
        print(json.dumps({"rows": data, "pool_speedups": pools}, indent=2))
        return
    print(f"{'row':10} {'acc':8} {'k':>2} {'E':>5} {'plain':>6} {'verify':>6} {'draft':>5} {'pred':>6} {'meas':>6} "
          f"{'extra':>6} {'implied':>7}")
    for r in data:
        print(f"{r['id']:10} {r['accelerator']:8} {r['k']:>2} {r['tokens_per_step']:>5.2f} {r['plain_ms']:>6.2f} "
              f"{r['verify_ms']:>6.2f} {r['draft_ms']:>5.2f} {r['predicted']:>6.1f} {r['measured']:>6.1f} "
              f"{r['extra_ms']:>6.2f} {r['plain_implied_ms']:>7.2f}")
    print(f"(ms; TensorRT-LLM's blog measured the plain batch-1 step on 8× B200 at {BLOG_B200_PLAIN_MS:.2f} ms)")
    if pools:
        print("\nDecode pools with and without speculation, one run each (tok/s per GPU; speedup = spec / plain)")
        print(f"{'row':10} {'plain':10} {'acc':8} {'k':>2} {'E':>5} {'pred':>6} {'meas':>6} {'speedup':>8} "
              f"{'meas':>5} {'error':>6}")
        for r in pools:
            print(f"{r['id']:10} {r['plain_id']:10} {r['accelerator']:8} {r['k']:>2} {r['tokens_per_step']:>5.2f} "
                  f"{r['predicted']:>6.1f} {r['measured']:>6.1f} {r['speedup_predicted']:>8.3f} "
                  f"{r['speedup_measured']:>5.3f} {r['speedup_error']:>+6.1%}")


if __name__ == "__main__":
    main()

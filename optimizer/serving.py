"""Serving under load: time to first token (TTFT) with queueing, decode speed with prefill
interference, open-loop request rates, and speculative decoding.

One replica runs continuous batching with chunked prefill: each forward step carries the running
decodes plus up to `max_batched_tokens` (T) prompt tokens (vLLM `--max-num-batched-tokens`, SGLang
`--chunked-prefill-size`, TensorRT-LLM `max_num_tokens`). With τ(B) the decode step time at B
running sequences (speed.decode_token_time) and P(I) the compute time of one prompt of I tokens
alone in the chunk steps the engine splits it into (`chunked_prompt_time`: pieces of T tokens, of T // dp
under SGLang's attention DP, each at least a prompt of its own size; speed.prefill_time per piece):

Prefill service of one request (it waits for the prefill "server" FIFO):
    n_chunks = ceil(I / max(T − B_decode, T/8))        (the decodes take their token slots first;
                                                         assumption: a prompt still gets at least an eighth
                                                         of the budget per step when decodes fill it, as
                                                         engines keep admitting prefills under load)
    S        = P(I) + n_chunks · (τ(B_decode) − τ(1))   (every chunk step also runs the decode batch; the
                                                         weights read and fixed step costs, τ(1), are
                                                         shared with the chunk)
Decode, stretched by the prefill share ρ_p = X · P(I) of the replica's time (closed loop of C users: the other
users' share, X · P(I) · (C − 1)/C, as a user's own prompt never runs while it decodes; until 2026-12 the whole
share, which slowed a lone user's decode by its own prefills):
    TPOT     = τ(B_decode) / (1 − ρ_p)                 (X: requests/s through the replica)
    B_decode = X · (O − 1) · TPOT                       (Little's law, J. D. C. Little, Operations
                                                         Research 9(3), 1961)

Closed loop (C users, each sends its next request when the last finishes): the prefill queue is a
single FIFO server fed by C customers whose "think time" is their decode phase Z = (O − 1)·TPOT.
Mean Value Analysis (M. Reiser and S. S. Lavenberg, "Mean-Value Analysis of Closed Multichain
Queuing Networks", J. ACM 27(2), 1980) gives throughput X and mean prefill response R:
    R(n) = S · (1 + Q(n − 1)),  X(n) = n / (R(n) + Z),  Q(n) = X(n) · R(n),   n = 1 … C
(exact for C ≤ 64; above, Schweitzer's approximation Q(C−1) ≈ Q(C)·(C−1)/C, P. Schweitzer,
"Approximate analysis of multiclass closed networks of queues", 1979, whose single-queue fixed
point has the closed form R = ((C·S − Z) + sqrt((C·S − Z)² + 4·S·Z)) / 2.) TPOT and X are solved
together by fixed-point iteration.

Open loop (`request_rate` λ requests/s, Poisson arrivals): the prefill queue is M/G/1; Pollaczek–Khinchine
mean wait (L. Kleinrock, Queueing Systems vol. 1, 1975, §5.6)
    W̄ = λ · E[S²] / (2 (1 − ρ)) = ρ · E[S] · (1 + c²) / (2 (1 − ρ)),  ρ = λ · E[S],  c² = Var[S] / E[S]²
over the workload's prompt lengths: all of I tokens (deterministic service, c² = 0: M/D/1), or spread uniformly
over I·[1 − s, 1 + s] (`input_tokens_spread` s, as `vllm bench serve --random-range-ratio` draws them), taken
at the midpoints of PROMPT_LENGTH_POINTS equally likely bins (`prompt_lengths`, `service_moments`); the
prompt's own service counts at its mean E[S]. The decode concurrency by Little's law B_decode = λ · (O − 1) · TPOT.

Percentiles of TTFT: the waiting time is taken as exponential beyond an atom at zero,
P(W > t) ≈ ρ · exp(−t · ρ / W̄) (the heavy-traffic limit of J. F. C. Kingman, "The single server
queue in heavy traffic", Proc. Cambridge Phil. Soc. 57, 1961, with the probability of waiting
ρ), so the p-th percentile wait is (W̄/ρ) · ln(ρ / (1 − p)) when ρ > 1 − p, else 0;
    TTFT_p = W_p + S + overhead.

Synchronized arrivals (`arrivals: synchronized`): published closed-loop benchmarks (InferenceX,
`vllm bench serve --max-concurrency C`) start all C requests together with near-identical lengths,
so requests move in waves: each wave's C·I prompt tokens are prefilled back to back in n = ceil(C·I / T)
chunk steps, each filled to the budget T as the engine fills it (the last one the rest), and the k-th request's
first token comes when the step that holds its prompt's last token (token k·I) ends, step ⌈k·I/T⌉:
    step_j    = P_t/I(I) + (τ((C − 1)/2) − τ(1)) + Σ_pieces max(0, P(s + c) − P(s) − P(c))
                (t tokens in step j; P_k(I): k prompts of I tokens packed in one step, each attending to its own
                tokens, speed.prefill_time `packed`; the sum, for prompts longer than T only: a piece of c tokens
                after its prompt's first s attends to them too, so a long prompt's chunks add up to at least P(I))
    wave      = Σ step_j   (C = 1: P(I), one prompt alone)
    first_k   = step_1 + … + step_⌈k·I/T⌉,   TTFT mean (median) = mean (median) of first_k + overhead,
    TTFT p90  = first_⌈0.9 C⌉ + overhead   (one step: every first token at the wave's end; until 2026-12 they
                were spread evenly over it, (C + 1)/(2C) of the wave on average, earlier than the step ends; then
                n equal steps of C·I/n tokens, which moved first tokens earlier as C grew past a step and timed a
                long prompt's later chunks as fresh prompts)
    TPOT      = τ(C) + (wave − mean wait) / (O − 1)   (a request decodes through the rest of the wave)
Plans for real users use `random` (independent users; the MVA above). The wave is what every request
would see if the waves persisted. They do not in InferenceX's runs: 10·C prompts at
`--max-concurrency C`, lengths uniform in [0.8, 1] × the nominal ones
(https://github.com/SemiAnalysisAI/InferenceX/blob/ed5867f9e/benchmarks/benchmark_lib.sh), so only the
first C start together; its published medians stay near one prompt's TTFT while the means and p99s grow
with C (e.g. MI355X, SGLang, DeepSeek-R1 FP4, 1k/1k, run 22469096331: median 107-115 ms, mean 148 →
364 ms, p99 535 → 2,488 ms at C = 4 → 32). benchmarks/ttft_breakdown.py sets the models side by side.

A benchmark run (`Benchmark`, `benchmark_run`): such a client replayed request by request, and the engine
simulated step by step (`_Replay`). N = n·C prompts; prompt j has ⌈r·I + (1 − r)·I·u_j⌉ prompt and as many
output tokens by v_j (u_j, v_j: the van der Corput sequences in bases 2 and 3, a deterministic stand-in for
the client's uniform draws in [r, 1]); the first C start at 0 and each later one when a running one ends
(the client's semaphore). The engine, at each step boundary:
- receives: at once when idle; when busy, after a prefill step and every `intake_steps` decode steps (SGLang
  `--scheduler-recv-interval`: its scheduler polls the tokenizer's socket once its counter of decode steps
  reaches the interval, and after any prefill,
  https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/managers/scheduler_recv_skipper.py;
  the older `--num-continuous-decode-steps` no longer acts), and then only what was sent before its scheduler formed the
  step: `queued_steps` − 0.5 steps before the step starts (QUEUED_STEPS: 1.5 for the overlap schedulers of
  SGLang and TensorRT-LLM, which form step N + 1 while step N runs; 0.5 for vLLM's one step at a time);
- runs a prefill step while prompts wait: FIFO prompts up to T tokens, less one slot per running decode
  where the decodes ride along; the last one chunked, or whole prompts only (TensorRT-LLM); the step lasts
      max(P_k(tokens/k), L) + (τ(B) − τ(1) where the decodes ride along)   (k prompts, L: the launch floor)
  plus, for a prompt's later chunk of c tokens after its first s, P(s + c) − P(s) − P(c) (at least 0: its tokens
  attend to the s already prefilled, so a prompt's chunks add up to at least P of the whole prompt's attention),
  and where they do not (SGLang, PREFILL_ALONE) the running decodes wait for it;
- else runs decode steps of τ(B) (B: the running requests, E tokens per step under speculation).
A prompt's first token comes at the end of the step that finishes it, plus the fixed overhead; its request
ends with the step that gives its O_j-th token. A run of decode steps with nothing to receive is one jump to
the next event. The client's warm-up ran only prefill steps of min(C, ⌊T / I⌋) copies of one prompt, so the
first prefill step of any other number of prompts stalls once by `cold_stall_s` (kernels compiled at first
use; COLD_STALL_S). TTFT mean and p90, and the client's mean TPOT, (end − first token)/(O_j − 1), are over
the N prompts.

Speculative decoding (`Speculative`): k draft tokens per step, each accepted with probability a
(independently), give E = (1 − a^(k+1)) / (1 − a) tokens per verification step (Y. Leviathan,
M. Kalman, Y. Matias, "Fast Inference from Transformers via Speculative Decoding", ICML 2023,
eq. 1). DeepSeek's MTP chains one MTP layer k times, and its later drafts are accepted far less
often than the first: without a stated acceptance, E is the published mean acceptance length per
k (MTP_ACCEPTED_LENGTH). A step verifies B·(k+1) tokens: the same weight reads, (k+1)× the matmul
FLOPs, each sequence's KV cache read once and (k+1)× its attention arithmetic, as every query token attends
to the whole cache (`Times.verify_time`: speed.decode_token_time with k + 1 queries per sequence; MLA's
attention at long contexts is compute-bound, so this is what a long-context verification costs) — plus the draft: MTP and EAGLE run one small forward (one layer and the LM head) per
draft token, costing DRAFT_STEP_SHARE·τ(1) each at batch 1 plus one layer's share of what the batch
adds, (τ(B) − τ(1))/layers; n-gram lookup none. Once the verification's (k+1)·B tokens make the
step compute-bound, each step costs about (k+1)× and speculation's gain falls towards E/(k+1) —
why engines turn it off at large batches.

Prefill outside CUDA graphs (`Times.launch_floor_s`, L: speed.prefill_launch_floor): where the engine release
prefills eagerly, a prefill step takes at least the host's time to launch its kernels. Every prefill step above
(the waves' chunk steps, a benchmark replay's steps, a disaggregated prefill pass) lasts max(its GPU time, L), and
the prompts sharing a step share it. In the steady states (Mean Value Analysis, M/D/1) the prefill server's
occupancy keeps the GPU's time P(I), as under load the engine packs the queued prompts into one step, and each
TTFT adds max(0, ⌈I/c⌉ · L − P(I)) once: each of its own ⌈I/c⌉ chunk steps (c = T, or T // dp under
SGLang's attention DP) lasts at least L. With pipeline-parallel stages a prompt's steps pass them one after another:
its TTFT adds (stages − 1) × its last step (`Times.pipeline_fill`), its occupancy does not (the stages work on
other prompts meanwhile).

A fixed per-request TTFT overhead per engine (request handling, tokenization, detokenization,
streaming the first token) is added: TTFT_OVERHEAD_S, an assumption (see there). So is the wait for the
decode steps the engine is running or has already launched when a request arrives (open loop:
QUEUED_STEPS × τ(B_decode) × min(1, B_decode); closed loop: the other users' decodes, B_decode·(C − 1)/C,
in place of B_decode; 1.5 steps under SGLang's and TensorRT-LLM's overlap
schedulers, 0.5 under vLLM's; none for a disaggregated prefill server, which runs no decodes).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from catalog.errors import InputError
from catalog.schema import Model

__all__ = ["Times", "Speculative", "ServingResult", "Benchmark", "closed_loop", "largest_batch", "benchmark_run",
           "open_loop", "mva", "wait_percentile", "md1_wait", "mg1_wait", "prompt_lengths", "service_moments",
           "PROMPT_LENGTH_POINTS", "chunked_prompt_time", "prefix_attention", "spec_tokens_per_step",
           "acceptance_for_length",
           "check_speculative",
           "DEFAULT_ACCEPTANCE", "TTFT_OVERHEAD_S", "QUEUED_STEPS", "COLD_STALL_S", "ARRIVALS", "PREFILL_ALONE",
           "WHOLE_PROMPTS",
           "MTP_ACCEPTED_LENGTH", "DRAFT_STEP_SHARE", "SPEC_METHODS", "SPEC_ENGINES", "MTP_FAMILIES",
           "spec_engine_error", "SPEC_WITHOUT_PP", "SPEC_WITHOUT_DP_ATTENTION", "spec_layout_error", "EXACT_MVA_MAX",
           "Pools", "size_pools"]

ARRIVALS = ("random", "synchronized")
SPEC_METHODS = ("mtp", "eagle", "ngram")
EXACT_MVA_MAX = 64

# Per-request fixed TTFT overhead by engine: HTTP request handling, tokenization, scheduling the
# request into the next step and streaming/detokenizing the first token. assumption: 15 ms for the
# Python-served engines (vLLM, SGLang, TensorRT-LLM's trtllm-serve) and 5 ms for llama.cpp's C++
# server, the order of the single-user TTFT minus prefill compute in public short-prompt runs
# (e.g. GPUStack's Qwen3-8B H100 latency study, mean TTFT 27.7-64 ms for ~230-token prompts,
# https://github.com/gpustack/gpustack/blob/1dbc3b8130da92d31539404545a1aff5c3992f8c/docs/performance-lab/qwen3-8b/h100-latency.md);
# not fitted.
TTFT_OVERHEAD_S = {"vllm": 0.015, "sglang": 0.015, "trtllm": 0.015, "llama.cpp": 0.005}
DEFAULT_TTFT_OVERHEAD_S = 0.015

# Decode steps a request that arrives while the engine decodes waits, on average, before its prefill can
# start: the rest of the running step (half a step for an arrival uniform within it) plus every step the
# scheduler has already launched behind it.
# - SGLang's default overlap scheduler receives new requests at the top of its loop, after launching batch
#   N + 1 and while it waits for batch N's results (`event_loop_overlap`:
#   https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/managers/scheduler.py; "zero-overhead
#   batch scheduler", https://lmsys.org/blog/2024-12-04-sglang-v0-4/): a request that arrives during step N
#   is scheduled behind step N + 1: 0.5 + 1 = 1.5 steps.
# - TensorRT-LLM's PyTorch executor with its default overlap scheduler (`disable_overlap_scheduler: false`)
#   launches step N + 1 before it processes step N's outputs and fetches new requests
#   (`_executor_loop_overlap`,
#   https://github.com/NVIDIA/TensorRT-LLM/blob/main/tensorrt_llm/_torch/pyexecutor/py_executor.py): 1.5.
# - vLLM's V1 engine core runs one step at a time (`EngineCore.step`: schedule, execute, update; new requests
#   are taken between steps, https://github.com/vllm-project/vllm/blob/main/vllm/v1/engine/core.py): 0.5.
# Used by plans (speed.serving_times → `Times.queued_steps`) and benchmark replays (`Benchmark.for_engine`);
# 0 for engines not listed.
QUEUED_STEPS = {"sglang": 1.5, "trtllm": 1.5, "vllm": 0.5}

# How each engine's scheduler builds a step from queued prompts and running decodes, at its defaults:
# - SGLang runs a prefill batch alone whenever one can be formed, and the running decodes wait for it
#   (`get_next_batch_to_run`: "Run prefill first if possible"; they ride along only with `--enable-mixed-chunk`,
#   default off: https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/managers/scheduler.py);
# - TensorRT-LLM's in-flight batching puts context and generation requests in one step, whole prompts only while
#   `enable_chunked_prefill` is off, its default ("Tuning Max Batch Size and Max Num Tokens",
#   https://nvidia.github.io/TensorRT-LLM/performance/performance-tuning-guide/tuning-max-batch-size-and-max-num-tokens.html);
# - vLLM's V1 scheduler gives the running decodes their tokens first and fills the rest of the step's budget
#   with prompt chunks (https://docs.vllm.ai/en/latest/configuration/optimization.html, "Chunked Prefill").
# Used by benchmark replays (`Times.prefill_alone`, `Times.whole_prompts`); other engines as vLLM. WHOLE_PROMPTS
# also times a prompt alone as one step (`Times.prompt_time`) and sets TensorRT-LLM's max_num_tokens to cover it
# (sizing.whole_prompt_settings).
PREFILL_ALONE = ("sglang",)
WHOLE_PROMPTS = ("trtllm",)

# Equally likely prompt lengths that stand for a spread of lengths in the open loop's queue (`prompt_lengths`).
# The midpoints of K equal bins of a uniform spread have the variance of the spread times 1 − 1/K² (each bin's
# own variance, its width² / 12, is left out): 16 bins miss 0.4 % of it.
PROMPT_LENGTH_POINTS = 16

# A benchmark's warm-up sends copies of one prompt at the run's concurrency C (InferenceX: 2·C copies of the
# first prompt, `--num-warmups $((2 * max_concurrency))`,
# https://github.com/SemiAnalysisAI/InferenceX/blob/ed5867f9e/utils/bench_serving/benchmark_serving.py), so the
# engine has prefilled only batches of min(C, budget / I) prompts before the measured run. The run's random
# lengths and staggered arrivals then bring prefill batches of other token counts, whose kernels (Triton's
# fused MoE, chosen by token-count bucket; DeepGEMM and Triton JIT compiles per shape) are compiled at first
# use: the engine stalls once per new batch size, and the prompts queued behind it wait. Signature in
# published runs: a C = 1 run's mean, median and p99 TTFT agree, while at C ≥ 4 the median stays near one
# prompt's TTFT but the p99 reaches 1-3 s whatever C is (SGLang DeepSeek runs: 139/140/148 ms at C = 1 and
# median 164, mean 331, p99 1,278 ms at C = 4, https://github.com/sgl-project/sglang/pull/6606; InferenceX
# H200 runs at C = 8-64: p99 1,975-2,741 ms, https://github.com/SemiAnalysisAI/InferenceX/issues/870).
# The stall per new batch size, by engine, measured directly: an SGLang DeepSeek run of 5 requests at C = 1 after
# a one-request warm-up has mean TTFT 363.6 ms against a median of 125.9 ms and a p99 of 1,063 ms, i.e. one
# request about 5 × (363.6 − 125.9) ≈ 1.19 s slower (https://github.com/sgl-project/sglang/pull/8552, 2025-08):
# 1.2 s. Engines without such a measurement (vLLM, TensorRT-LLM): 0. Benchmark replays only: a deployment in
# steady use has compiled its shapes. Until 2026-12 this was fitted on benchmarks/ttft-fit.csv (InferenceX issue
# 870's four SGLang v0.5.7 runs on 8× H200: 1.25 s under the request-level replay). Under the step-level replay
# no stall fits those rows (`python -m benchmarks.ttft_breakdown --fit benchmarks/ttft-fit.csv`: the C = 8-32
# rows stay 28-60% low at any stall of 0-3 s while the C = 64 row goes from −49% to +60%), so the direct
# measurement is used and the fit file is kept as a check.
COLD_STALL_S = {"sglang": 1.2}

# Acceptance of each draft token when not given. MTP: the first draft's, 0.92 (1.92 tokens per step with
# one MTP draft in MTP_ACCEPTED_LENGTH's table; DeepSeek report 85-90% for the second token, DeepSeek-V3
# Technical Report, arXiv:2412.19437, §5.4.3, 2024-12); MTP's E without a stated acceptance comes from that
# table, so this figure is what plans and estimates print. EAGLE: assumption 0.7 (EAGLE-3, arXiv:2503.01840, reports mean accepted lengths
# of about 3-4 tokens per step for chat at k = 6-8, i.e. a ≈ 0.7-0.8 per token). n-gram: assumption
# 0.5 (prompt-lookup drafts are accepted mostly when the answer copies the prompt).
DEFAULT_ACCEPTANCE = {"mtp": 0.92, "eagle": 0.7, "ngram": 0.5}

# DeepSeek-R1 MTP without a stated acceptance: mean tokens per verification step (accepted drafts + the
# verified token) with k chained MTP drafts, strict acceptance: TensorRT-LLM's "Pushing Latency Boundaries:
# Optimizing DeepSeek-R1 Performance on NVIDIA B200 GPUs", table "Autoregressive MTP Layers" (8× B200,
# ISL 1k / OSL 2k, real dataset, 2025-05):
# https://github.com/NVIDIA/TensorRT-LLM/blob/01c4ece911eb569e72cf4177f83238a0520641c2/docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_Optimizing_DeepSeek-R1_Performance_on_NVIDIA_B200_GPUs.md
# Beyond 5 drafts: 3.01 (the table gains 0.02 from 4 to 5 drafts; assumption: no further gain).
MTP_ACCEPTED_LENGTH = {1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}

# One draft forward (the MTP layer or EAGLE head and the LM head) at batch 1, as a share of the plain decode
# step τ(1). Calibrated on the same table (fit source): its speedups over no MTP, 1.78 at k = 1 and 2.28 at
# k = 3, against accepted lengths 1.92 and 2.82 make a step 1.079 and 1.237 plain steps; on 8× B200 NVFP4
# (TP8, EP2, TensorRT-LLM) the model's verification of 2 and 4 tokens is 1.036 and 1.106 plain steps, leaving
# 0.042 and 0.044 of a step per draft: 0.043 (about 2.6 of the 61 layers: each draft is its own small forward
# with the LM head and the sampling). Refitted 2026-12-01, when the plain step stopped reading the MTP
# module's weights (0.033 before; tests/test_serving.py re-derives it). EAGLE's one-layer head: the same
# (assumption: the same forward shape).
DRAFT_STEP_SHARE = 0.043

# Engines that run each method (vLLM, SGLang and TensorRT-LLM document MTP, EAGLE-3 and n-gram
# speculation: https://docs.vllm.ai/en/latest/features/spec_decode.html,
# https://docs.sglang.ai/advanced_features/speculative_decoding.html,
# https://nvidia.github.io/TensorRT-LLM/advanced/speculative-decoding.html); llama.cpp's server
# takes a separate draft model only, which hwplan does not model.
SPEC_ENGINES = {"mtp": ("vllm", "sglang", "trtllm"), "eagle": ("vllm", "sglang", "trtllm"),
                "ngram": ("vllm", "sglang", "trtllm")}
# Engines that run MTP for some model families only: TensorRT-LLM documents MTP as "multi-token prediction for
# DeepSeek models" (https://www.mintlify.com/NVIDIA/TensorRT-LLM/features/speculative-decoding) and its MTP example
# "requires the DeepSeek MLA generation FMHA kernel"
# (https://nvidia.github.io/TensorRT-LLM/1.3.0rc24/examples/llm_speculative_decoding.html). A family is a catalog id
# prefix or a Hugging Face organisation.
MTP_FAMILIES = {"trtllm": ("deepseek",)}


def spec_engine_error(engine_id: str, method: str, model: Model) -> str | None:
    """Why `engine_id` does not run speculative decoding by `method` for `model` (SPEC_ENGINES, MTP_FAMILIES);
    None when it does."""
    if engine_id not in SPEC_ENGINES.get(method, ()):
        return (f"the {engine_id} engine does not run {method} speculative decoding (engines that do: "
                f"{', '.join(SPEC_ENGINES.get(method, ()))})")
    families = MTP_FAMILIES.get(engine_id, ()) if method == "mtp" else ()
    org = model.hf_repo.split("/")[0].lower() if "/" in model.hf_repo else ""
    if families and not any(model.id.startswith(f) or org.startswith(f) for f in families):
        return f"{engine_id} runs MTP for {', '.join(f + '*' for f in families)} models only, not {model.id}"
    return None


# Engines that do not start speculative decoding under pipeline parallelism. vLLM: an MTP draft with
# --pipeline-parallel-size > 1 stops at start-up ("Pipeline parallelism is not supported for this model", the draft
# lacks SupportsPP, https://github.com/vllm-project/vllm/issues/52069, 2026-08, nightly 0.26.1), and any method stops on
# an assertion of the PP token broadcast, `_pp_broadcast_prev_sampled_token_ids`, in 0.28.0 and 0.29.0
# (https://github.com/vllm-project/vllm/issues/57755, 2026-09); the V0 engine refused the pair outright
# (https://github.com/vllm-project/vllm/issues/14117, 2025-03). Such a replica is never planned; an estimate refuses it.
SPEC_WITHOUT_PP = ("vllm",)
# Methods an engine does not start with data-parallel attention: SGLang refuses NGRAM with --enable-dp-attention
# at start-up ("Currently ngram speculative decoding does not support dp attention.", `_handle_ngram`,
# https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/arg_groups/speculative_hook.py; the change lifting
# it, https://github.com/sgl-project/sglang/pull/28616, was still open in 2026-06).
SPEC_WITHOUT_DP_ATTENTION = {"sglang": ("ngram",)}


def spec_layout_error(engine_id: str, method: str, pipeline_stages: int, dp_attention: bool) -> str | None:
    """Why `engine_id` would not start speculative decoding by `method` on a layout of `pipeline_stages` stages,
    with or without attention DP (SPEC_WITHOUT_PP, SPEC_WITHOUT_DP_ATTENTION); None when it starts."""
    if pipeline_stages > 1 and engine_id in SPEC_WITHOUT_PP:
        return f"{engine_id} does not start speculative decoding under pipeline parallelism (PP{pipeline_stages})"
    if dp_attention and method in SPEC_WITHOUT_DP_ATTENTION.get(engine_id, ()):
        return f"{engine_id} does not start {method} speculative decoding with data-parallel attention"
    return None


@dataclass(frozen=True)
class Speculative:
    """Speculative decoding: `method` (mtp | eagle | ngram), `tokens` k drafted per step (≥ 1),
    `acceptance` a in (0, 1] of each draft token (None: DEFAULT_ACCEPTANCE[method]; MTP's tokens per step
    then come from MTP_ACCEPTED_LENGTH)."""

    method: str
    tokens: int = 1
    acceptance: float | None = None

    @property
    def rate(self) -> float:
        return DEFAULT_ACCEPTANCE[self.method] if self.acceptance is None else self.acceptance

    @property
    def acceptance_of(self) -> str:
        """'first draft' where E comes from MTP_ACCEPTED_LENGTH (MTP without a stated acceptance, k ≥ 2: `rate` is the
        first draft's, the later ones' lower), else 'each draft' (E = spec_tokens_per_step(k, rate)), so that a
        printed acceptance can be given back as --spec-acceptance only where it is each draft's."""
        return "first draft" if self.method == "mtp" and self.acceptance is None and self.tokens > 1 else "each draft"

    def tokens_per_step(self) -> float:
        """E: the stated acceptance by Leviathan et al.'s formula; MTP without one: MTP_ACCEPTED_LENGTH."""
        if self.method == "mtp" and self.acceptance is None:
            return MTP_ACCEPTED_LENGTH[min(self.tokens, max(MTP_ACCEPTED_LENGTH))]
        return spec_tokens_per_step(self.tokens, self.rate)


def spec_tokens_per_step(k: int, a: float) -> float:
    """Expected tokens one verification step yields with k drafts each accepted with probability a:
    (1 − a^(k+1)) / (1 − a), and k + 1 at a = 1 (Leviathan et al., ICML 2023, eq. 1)."""
    if a >= 1:
        return float(k + 1)
    return (1 - a ** (k + 1)) / (1 - a)


def acceptance_for_length(k: int, tokens_per_step: float) -> float:
    """The per-token acceptance a whose E = spec_tokens_per_step(k, a) is `tokens_per_step` (a published mean
    acceptance length), by bisection (E grows with a); 1 for E ≥ k + 1. ValueError for E below 1 (a step
    always yields the verified token)."""
    if tokens_per_step < 1:
        raise ValueError(f"an acceptance length of {tokens_per_step} is below 1 token per step")
    if tokens_per_step >= k + 1:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(60):   # 2^-60: far below any published figure's precision
        mid = (low + high) / 2
        low, high = (mid, high) if spec_tokens_per_step(k, mid) < tokens_per_step else (low, mid)
    return (low + high) / 2


def check_speculative(spec: Speculative, model: Model, engine_id: str, where: str = "--speculative",
                      error: type[Exception] = InputError, pipeline_stages: int = 1,
                      dp_attention: bool = False) -> None:
    """Raise `error` (InputError by default; naming `where`) when the method, k (1-16) or a (0, 1] is
    invalid, the model (MTP: one without MTP modules, `Model.mtp`: config.json num_nextn_predict_layers) or the
    engine does not support the method, or the engine does not start it on a layout of
    `pipeline_stages` stages or with attention DP (`spec_layout_error`)."""
    if spec.method not in SPEC_METHODS:
        raise error(f"{where} = '{spec.method}': unknown speculative decoding method "
                         f"(allowed: {', '.join(SPEC_METHODS)}).")
    if spec.tokens < 1 or spec.tokens > 16:
        raise error(f"{where}: spec tokens = {spec.tokens}: draft between 1 and 16 tokens per step.")
    if spec.acceptance is not None and not 0 < spec.acceptance <= 1:
        raise error(f"{where}: spec acceptance = {spec.acceptance}: a probability in (0, 1] is needed.")
    if spec.method == "mtp" and model.mtp is None:
        raise error(f"{where} = mtp: {model.id} has no multi-token-prediction layers (its config.json sets no "
                    f"num_nextn_predict_layers); use eagle or ngram.")
    unsupported = spec_engine_error(engine_id, spec.method, model)
    if unsupported:
        raise error(f"{where} = {spec.method}: {unsupported}.")
    why = spec_layout_error(engine_id, spec.method, pipeline_stages, dp_attention)
    if why:
        fix = ("a layout without PP (tensor or expert parallel across the nodes: --tp, --ep)"
               if pipeline_stages > 1 and engine_id in SPEC_WITHOUT_PP   # spec_layout_error's first rule
               else "a layout without attention DP (--tp without --dp or --dp-attention)")
        raise error(f"{where} = {spec.method}: {why}; give {fix}, another method or another engine.")


@dataclass(frozen=True)
class ServingResult:
    """One replica's steady state. Times in seconds, rates per second; `decode_batch` and `queued`
    are mean numbers of requests."""

    users: float                   # closed loop: C; open loop: mean requests in the replica
    requests_per_s: float          # X
    decode_batch: float            # B_decode
    step_s: float                  # one decode (or verification + draft) step at B_decode
    tokens_per_step: float         # 1, or E under speculative decoding
    tpot_s: float                  # time per output token one user sees
    prefill_s: float               # P(I): one prompt alone
    prefill_service_s: float       # S: one prompt with its chunk steps carrying the decodes
    utilization: float             # ρ = X · S of the prefill server
    wait_s: float                  # mean wait before the prefill starts
    ttft_s: float                  # mean TTFT
    ttft_p90_s: float              # 90th percentile TTFT
    bound: str
    arrivals: str = "random"
    output_tokens: int = 1         # O, tokens per request
    ttft_median_s: float | None = None   # median TTFT (None: not computed, an overloaded replica)


    @property
    def tokens_per_s_per_user(self) -> float:
        return 1 / self.tpot_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests_per_s * self.output_tokens

    def ttft_at(self, percentile: int) -> float:
        return self.ttft_s if percentile == 50 else self.ttft_p90_s


@dataclass(frozen=True)
class Benchmark:
    """A closed-loop benchmark client's run (`benchmark_run`): `prompts_per_user` · C prompts at
    `--max-concurrency C`, prompt and output lengths uniform in [`range_ratio`, 1] × the nominal ones
    (InferenceX: 10 and 0.8); `intake_steps`: the served engine takes in new requests every that many
    decode steps while it decodes (SGLang `--scheduler-recv-interval`;
    1 for the engines' defaults); `queued_steps`: decode steps a request that arrives while others decode
    waits, on average, before its prefill can start (QUEUED_STEPS); `cold_stall_s`: seconds the engine
    stalls once, the first time it prefills a number of prompts together that the client's warm-up did not
    run (COLD_STALL_S). Raises InputError for a count below 1, a ratio outside (0, 1] or a negative wait."""

    prompts_per_user: int = 10
    range_ratio: float = 0.8
    intake_steps: int = 1
    queued_steps: float = 0.0
    cold_stall_s: float = 0.0

    def __post_init__(self):
        if self.prompts_per_user < 1 or not 0 < self.range_ratio <= 1 or self.intake_steps < 1:
            raise InputError(f"benchmark: {self.prompts_per_user} prompts per user, range ratio {self.range_ratio}, "
                             f"intake every {self.intake_steps} steps: at least 1 prompt and 1 step, a ratio in (0, 1].")
        if self.queued_steps < 0 or self.cold_stall_s < 0:
            raise InputError(f"benchmark: {self.queued_steps} queued steps, cold stall {self.cold_stall_s} s: "
                             f"neither may be negative.")

    @classmethod
    def for_engine(cls, engine_id: str, prompts_per_user: int = 10, range_ratio: float = 0.8,
                   intake_steps: int = 1) -> Benchmark:
        """The run on `engine_id`: its scheduler's QUEUED_STEPS and its COLD_STALL_S (0 for engines not listed)."""
        return cls(prompts_per_user, range_ratio, intake_steps, QUEUED_STEPS.get(engine_id, 0.0),
                   COLD_STALL_S.get(engine_id, 0.0))


def mva(customers: int, service_s: float, think_s: float) -> tuple[float, float]:
    """(X, R): throughput (1/s) and mean response time (s, wait + service) of one FIFO server with
    `customers` jobs cycling through it and a think time `think_s` (Reiser & Lavenberg 1980, exact
    recursion up to EXACT_MVA_MAX customers, Schweitzer's approximation above)."""
    c, s, z = customers, service_s, think_s
    if c < 1:
        return 0.0, s
    if c <= EXACT_MVA_MAX:
        q = 0.0
        x = r = 0.0
        for n in range(1, c + 1):
            r = s * (1 + q)
            x = n / (r + z)
            q = x * r
        return x, r
    b = c * s - z
    r = (b + math.sqrt(b * b + 4 * s * z)) / 2
    return c / (r + z), r


def mg1_wait(rate: float, mean_s: float, scv: float = 0.0) -> float:
    """Pollaczek–Khinchine mean wait of M/G/1 at `rate` arrivals/s and a service of mean `mean_s` seconds and
    squared coefficient of variation `scv` (Var[S]/E[S]²): λ·E[S]²·(1 + c²) / (2(1 − λ·E[S])); inf when
    ρ = λ·E[S] ≥ 1 (Kleinrock 1975, §5.6)."""
    rho = rate * mean_s
    if rho >= 1:
        return math.inf
    return rate * mean_s ** 2 * (1 + scv) / (2 * (1 - rho))


def md1_wait(rate: float, service_s: float) -> float:
    """Pollaczek–Khinchine mean wait of M/D/1 (every service `service_s`): mg1_wait with c² = 0."""
    return mg1_wait(rate, service_s)


def prompt_lengths(tokens: int, spread: float = 0.0) -> list[int]:
    """Prompt lengths standing for prompts of `tokens` tokens spread uniformly over tokens·[1 − spread,
    1 + spread] (as `vllm bench serve --random-range-ratio` draws them): the midpoints of PROMPT_LENGTH_POINTS
    equally likely bins, each at least one token; [tokens] without a spread. Raises InputError for a spread
    outside [0, 1]."""
    if not 0 <= spread <= 1:
        raise InputError(f"input_tokens_spread = {spread}: give a share of input_tokens from 0 (every prompt as "
                         f"long) to 1 (lengths from 0 to twice input_tokens).")
    tokens = max(1, tokens)
    if spread == 0:
        return [tokens]
    k = PROMPT_LENGTH_POINTS
    return [max(1, round(tokens * (1 - spread + 2 * spread * (j + 0.5) / k))) for j in range(k)]


def service_moments(service: Callable[[int], float], lengths: list[int]) -> tuple[float, float]:
    """(E[S] seconds, c² = Var[S]/E[S]²) of a service time `service(length)` over equally likely `lengths`."""
    times = [service(n) for n in lengths]
    mean = sum(times) / len(times)
    if mean <= 0:
        return mean, 0.0
    return mean, max(0.0, sum(t * t for t in times) / len(times) / mean ** 2 - 1)


def wait_percentile(mean_wait: float, rho: float, p: float) -> float:
    """p-quantile of the wait with P(W > t) = ρ·exp(−t·ρ/W̄) (Kingman's exponential tail, the
    waiting probability ρ): (W̄/ρ)·ln(ρ/(1 − p)) when ρ > 1 − p, else 0."""
    if mean_wait <= 0 or rho <= 1 - p:
        return 0.0
    if math.isinf(mean_wait):
        return math.inf
    return mean_wait / rho * math.log(rho / (1 - p))


def prefix_attention(prefill: Callable[[int], float], done: int, chunk: int) -> float:
    """Seconds a later chunk of `chunk` prompt tokens adds by attending to the `done` tokens of its prompt already
    prefilled: P(done + chunk) − P(done) − P(chunk), at least 0 (P = `prefill`, seconds of one prompt alone; exact
    for the attention, which grows with the square of the tokens; 0 for a first chunk, done = 0, or a prefill time
    linear in the tokens). So a prompt's chunks add up to at least P of the whole prompt."""
    if done <= 0:
        return 0.0
    return max(0.0, prefill(done + chunk) - prefill(done) - prefill(chunk))


def chunked_prompt_time(prefill: Callable[[int], float], tokens: int, chunk: int) -> float:
    """Seconds a prompt of `tokens` takes alone when the engine prefills it in steps of at most `chunk` tokens
    (vLLM's and SGLang's chunked prefill; Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference
    with Sarathi-Serve", OSDI 2024, arXiv:2403.02310): Σ over its pieces c_j after s_j tokens of
    P(c_j) + prefix_attention(P, s_j, c_j) = Σ max(P(c_j), P(s_j + c_j) − P(s_j)), P = `prefill`. Each step
    pays at least a prompt of its own size (its fixed costs, reading the weights once), the later ones their
    attention to the earlier tokens, so the sum is at least P(tokens), and P(tokens) when the prompt fits
    one chunk. `tokens` and `chunk` at least 1."""
    tokens, chunk = max(1, tokens), max(1, chunk)
    total = 0.0
    for done in range(0, tokens, chunk):
        piece = min(chunk, tokens - done)
        total += prefill(piece) + prefix_attention(prefill, done, piece)
    return total


def ttft_overhead(engine_id: str) -> float:
    """TTFT_OVERHEAD_S of an engine (seconds), DEFAULT_TTFT_OVERHEAD_S for others."""
    return TTFT_OVERHEAD_S.get(engine_id, DEFAULT_TTFT_OVERHEAD_S)


@dataclass(frozen=True)
class Times:
    """What the queueing model needs of one replica (speed.serving_times builds it):
    `token_time(batch, context)` → (seconds of one decode step, what bounds it); `prefill_time(tokens)`
    → seconds of one prompt alone; `layers` of the model; `budget` = max_batched_tokens (tokens per
    step); `overhead_s` = the engine's fixed TTFT overhead; `queued_steps` = decode steps a new request waits
    behind the running and already launched steps while decodes run (QUEUED_STEPS; 0: none); `launch_floor_s` =
    seconds a prefill step takes at least, the host launching its kernels where the engine prefills outside
    CUDA graphs (speed.prefill_launch_floor; 0: none); `prefill_packed(tokens, n)` → seconds of n prompts of
    `tokens` each prefilled in one step, each attending to its own tokens (speed.prefill_time `packed`; None: as
    one prompt of n·tokens, which is the same for a prefill time linear in the tokens); `verify_time(batch,
    context, q)` → one speculative verification step of `batch` sequences passing q tokens each over their cached
    `context` (speed.decode_token_time `queries`; None: token_time(batch·q, context/q), which reads the same KV
    cache but counts only 1/q of the attention arithmetic); `prefill_alone`: the engine runs a step with prompt
    tokens without the running decodes, which wait (PREFILL_ALONE); `whole_prompts`: it does not split a prompt
    over steps (WHOLE_PROMPTS). The last two shape benchmark replays (`benchmark_run`) only. `chunk` = the prompt
    tokens one prompt's chunk step takes (layouts.chunk_tokens_per_group: SGLang under attention DP prefills a
    prompt on its own group in chunks of budget // dp; 0: the budget), which `prompt_time` splits a prompt by.
    `stages`: the replica's pipeline-parallel stages, which a prompt's steps pass one after another
    (`latency_extra`)."""

    token_time: Callable[[int, float], tuple[float, str]]
    prefill_time: Callable[[int], float]
    layers: int
    budget: int
    overhead_s: float
    queued_steps: float = 0.0
    launch_floor_s: float = 0.0
    prefill_packed: Callable[[int, float], float] | None = None
    verify_time: Callable[[int, float, int], tuple[float, str]] | None = None
    prefill_alone: bool = False
    whole_prompts: bool = False
    chunk: int = 0
    stages: int = 1

    @property
    def prompt_chunk(self) -> int:
        """Tokens of one prompt a chunk step takes: `chunk`, else the budget; at least 1."""
        return max(1, self.chunk or self.budget)

    def prompt_time(self, tokens: int) -> float:
        """Seconds one prompt of `tokens` takes alone on the GPU, in the chunk steps the engine splits it into:
        chunked_prompt_time over `prompt_chunk` pieces (one piece, P(tokens), where the engine does not split
        prompts, `whole_prompts`)."""
        return chunked_prompt_time(self.prefill_time, tokens, tokens if self.whole_prompts else self.prompt_chunk)

    def prefill_step(self, tokens: int, prompts: float = 1) -> float:
        """Seconds of one prefill step of `tokens` prompt tokens from `prompts` prompts (each attends to its own
        share): the GPU's time, at least the launch floor."""
        if prompts > 1 and self.prefill_packed is not None:
            gpu = self.prefill_packed(math.ceil(tokens / prompts), prompts)
        else:
            gpu = self.prefill_time(tokens)
        return max(gpu, self.launch_floor_s)

    def prefix_attention(self, done: int, chunk: int) -> float:
        """Seconds a later chunk of `chunk` prompt tokens adds by attending to the `done` tokens of its prompt already
        prefilled: prefix_attention(P, done, chunk) with P = `prefill_time`."""
        return prefix_attention(self.prefill_time, done, chunk)

    def launch_floor_for(self, tokens: int) -> float:
        """The least seconds a prompt of `tokens` takes alone: its ⌈tokens / prompt_chunk⌉ chunk steps (one where the
        engine does not split prompts, `whole_prompts`), each lasting at least the launch floor."""
        steps = 1 if self.whole_prompts else math.ceil(max(1, tokens) / self.prompt_chunk)
        return steps * self.launch_floor_s

    def pipeline_fill(self, tokens: int) -> float:
        """Seconds a prompt of `tokens` alone waits for the pipeline beyond its prefill P: its chunk steps pass the
        `stages` pipeline stages one after another, so the last step leaves the last stage (stages − 1) stage
        times after it enters the first, and a stage takes a step in P(step) (a stage runs 1/stages of the layers
        on 1/stages of the accelerators). So (stages − 1) × the last step's time (the whole prompt's where the
        engine does not split prompts, `whole_prompts`): TensorRT-LLM's whole prompt takes stages × P; a chunked
        one overlaps its chunks across the stages (GPipe's fill and drain, Huang et al., arXiv:1811.06965), as
        SGLang's chunked pipeline parallelism runs them (sglang PR 5724) and vLLM's since its async scheduler
        stopped holding the first stages back (vllm PR 38726, 2026-04; releases before it ran the chunks one
        after another through the stages, which this does not model)."""
        if self.stages <= 1:
            return 0.0
        tokens = max(1, tokens)
        chunk = tokens if self.whole_prompts else self.prompt_chunk
        done = (tokens - 1) // chunk * chunk
        last = self.prefill_time(tokens - done) + self.prefix_attention(done, tokens - done)
        return (self.stages - 1) * last

    def latency_extra(self, tokens: int, prefill_s: float) -> float:
        """What a prompt of `tokens` alone adds to its TTFT beyond the prefill server's occupancy `prefill_s`:
        the launch floor's excess (`launch_extra`) and the pipeline's fill (`pipeline_fill`). The occupancy keeps
        P: under load the stages work on other prompts meanwhile."""
        return self.launch_extra(tokens, prefill_s) + self.pipeline_fill(tokens)

    def launch_extra(self, tokens: int, prefill_s: float) -> float:
        """What the launch floor adds to the TTFT of a prompt of `tokens` whose prefill alone takes `prefill_s` on
        the GPU: max(0, launch_floor_for(tokens) − prefill_s). The prefill server's occupancy keeps the GPU's
        time: under load the engine packs the queued prompts into one step, which shares the floor."""
        return max(0.0, self.launch_floor_for(tokens) - prefill_s)


class _Step:
    """τ(B) (plain or speculative) at one context, remembered per batch size."""

    def __init__(self, times: Times, context: float, spec: Speculative | None):
        self.times, self.context, self.spec = times, context, spec
        self.memo: dict[int, tuple[float, str]] = {}

    def __call__(self, batch: float) -> tuple[float, str]:
        b = max(1, math.ceil(batch - 1e-9))
        if b not in self.memo:
            self.memo[b] = self._compute(b)
        return self.memo[b]

    def _compute(self, b: int) -> tuple[float, str]:
        tok = self.times.token_time
        if self.spec is None:
            return tok(b, self.context)
        k = self.spec.tokens
        if self.times.verify_time is not None:
            verify, bound = self.times.verify_time(b, self.context, k + 1)
        else:
            verify, bound = tok(b * (k + 1), self.context / (k + 1))
        draft = 0.0
        if self.spec.method in ("mtp", "eagle"):
            one, _ = tok(1, self.context)
            plain, _ = tok(b, self.context)
            draft = k * (DRAFT_STEP_SHARE * one + (plain - one) / self.times.layers)
        return verify + draft, bound

    def smooth(self, batch: float) -> float:
        """τ at a fractional batch, linear between grid batches 1, 2, 4, 8, … (τ(1) below 1): the
        fixed points below evaluate τ at many batches, and τ is smooth in the batch."""
        if batch <= 1:
            return self(1)[0]
        low = 1 << (int(batch).bit_length() - 1)     # the power of two at or below the batch
        if low == batch:
            return self(low)[0]
        t_low, t_high = self(low)[0], self(2 * low)[0]
        return t_low + (batch - low) / low * (t_high - t_low)

    def extra(self, batch: float) -> float:
        """What B running decodes add to a chunked-prefill step: τ(B) − τ(1). The chunk already reads
        the weights and pays the step's fixed costs (both in τ(1)); the decodes add their KV reads,
        their share of the arithmetic and the extra experts they route to."""
        return max(0.0, self.smooth(batch) - self.smooth(1))

    def solve(self, k: float, cap: float) -> float:
        """The smallest B ≤ cap with B = k·τ(B) (τ as `smooth`: linear on each segment [L, 2L], so the
        root of each segment is k·α / (1 − k·β) for τ = α + β·B); `cap` when there is none below it."""
        b = k * self(1)[0]
        if b <= 1:
            return min(b, cap)
        low = 1
        while low < cap:
            t_low, t_high = self(low)[0], self(2 * low)[0]
            beta = (t_high - t_low) / low
            alpha = t_low - beta * low
            if k * beta < 1:
                b = k * alpha / (1 - k * beta)
                if low <= b <= 2 * low:
                    return min(b, cap)
            low *= 2
        return cap

    @property
    def per_step(self) -> float:
        return 1.0 if self.spec is None else self.spec.tokens_per_step()


def largest_batch(step: _Step, cap: int, min_tokens_per_s: float) -> int | None:
    """Largest batch B in [1, `cap`] whose decode step keeps each user at ≥ `min_tokens_per_s` tokens/s
    (E / τ(B), E tokens per step); None when even B = 1 is too slow. Binary search: per-user speed falls
    as the batch grows."""
    e = step.per_step
    if e / step(1)[0] < min_tokens_per_s:
        return None
    lo, hi = 1, cap                         # lo always meets the speed
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if e / step(mid)[0] >= min_tokens_per_s:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _setup(times: Times, input_tokens: int, output_tokens: int, spec: Speculative | None):
    """What both loops start from: (I, O, τ at the mean context I + O/2, E tokens per step, the prompt alone
    in its chunk steps (Times.prompt_time) seconds,
    chunk budget T tokens, fixed TTFT overhead seconds), with I, O and T at least 1."""
    i, o = max(1, input_tokens), max(1, output_tokens)
    step = _Step(times, i + o / 2, spec)
    return i, o, step, step.per_step, times.prompt_time(i), max(1, times.budget), times.overhead_s


def _waves(times: Times, c: int, input_tokens: int, output_tokens: int, spec: Speculative | None) -> ServingResult:
    """`closed_loop` with synchronized arrivals: every request in a wave of `c` (module docstring)."""
    i, o, step, e, prefill, budget, overhead = _setup(times, input_tokens, output_tokens, spec)
    tau_c, bound = step(c)
    if c == 1:
        ends = [max(prefill, times.launch_floor_for(i)) + times.pipeline_fill(i)]
    else:
        # Request k of c (1-based) has its first token when the chunk step holding its prompt's last token (token
        # k·I of the wave) ends: step ⌈k·I/T⌉.
        steps = _wave_step_ends(times, c, i, budget, step.extra((c - 1) / 2))
        ends = [steps[math.ceil(k * i / budget) - 1] for k in range(1, c + 1)]
    wave = ends[-1]
    mean_first = sum(ends) / c
    p90_first = ends[math.ceil(0.9 * c) - 1]
    tpot = tau_c / e + (wave - mean_first) / max(1, o - 1)
    cycle = wave + (o - 1) * tau_c / e
    x = c / cycle
    return ServingResult(users=c, requests_per_s=x, decode_batch=c * (o - 1) * tpot / cycle if o > 1 else 0.0,
                         step_s=tau_c, tokens_per_step=e, tpot_s=tpot, prefill_s=prefill,
                         prefill_service_s=wave / c, utilization=wave / cycle, wait_s=mean_first - prefill,
                         ttft_s=mean_first + overhead, ttft_p90_s=p90_first + overhead, bound=bound,
                         arrivals="synchronized", output_tokens=o,
                         ttft_median_s=statistics.median(ends) + overhead)


def _wave_step_ends(times: Times, c: int, i: int, budget: int, extra: float) -> list[float]:
    """When each chunk step of a synchronized wave ends (seconds from its start): the c·I prompt tokens in steps
    of T tokens (the last one the rest), as the engine fills its chunk budget. A step of t tokens lasts
    P_t/I(I) (at least one prompt of t tokens) plus `extra` for the running decodes, plus, for a piece of a
    prompt longer than T after its first s tokens, P(s + c) − P(s) − P(c) (at least 0): its tokens attend to
    the s already prefilled, so a long prompt's chunks add up to at least P of the whole prompt."""
    total = c * i
    same: dict[tuple[int, int], float] = {}
    ends, clock, start = [], 0.0, 0
    while start < total:
        t = min(budget, total - start)
        done = start % i                   # tokens of the step's first prompt already prefilled
        key = (t, done if i > budget else 0)
        if key not in same:
            duration = times.prefill_step(t, max(1.0, t / i)) + extra
            if i > budget:
                pos = start
                while pos < start + t:     # the step's pieces of prompts
                    piece = min(i - pos % i, start + t - pos)
                    duration += times.prefix_attention(pos % i, piece)
                    pos += piece
            same[key] = duration
        clock += same[key]
        ends.append(clock)
        start += t
    return ends


def _other_arrivals(times: Times, users: int, input_tokens: int, output_tokens: int, arrivals: str | Benchmark,
                    spec: Speculative | None) -> ServingResult | None:
    """`closed_loop` for a benchmark replay or synchronized waves; None for random arrivals. Raises InputError
    for an unknown `arrivals`."""
    if isinstance(arrivals, Benchmark):
        return benchmark_run(times, users, input_tokens, output_tokens, arrivals, spec)
    if arrivals not in ARRIVALS:
        raise InputError(f"arrivals = '{arrivals}': allowed {', '.join(ARRIVALS)}.")
    return _waves(times, max(1, int(users)), input_tokens, output_tokens, spec) if arrivals == "synchronized" else None


def closed_loop(times: Times, users: int, input_tokens: int, output_tokens: int,
                arrivals: str | Benchmark = "random", spec: Speculative | None = None) -> ServingResult:
    """Steady state of `users` concurrent users cycling requests of input_tokens → output_tokens
    (formulas in the module docstring); a `Benchmark` as `arrivals` replays that benchmark run
    (`benchmark_run`). Raises InputError for an unknown `arrivals`."""
    other = _other_arrivals(times, users, input_tokens, output_tokens, arrivals, spec)
    if other is not None:
        return other
    c = max(1, int(users))
    i, o, step, e, prefill, budget, overhead = _setup(times, input_tokens, output_tokens, spec)
    state = {"b": 0.0}

    def through(x: float) -> float:
        """X' = MVA throughput when the replica runs at X requests/s: the decode batch B solves
        B = X·(O − 1)·τ(B) / (E·(1 − X·P·(C − 1)/C)) (its smallest root, `_Step.solve`: the other users'
        prefills hold up a user's decode, not its own), then S and Z follow."""
        stretch = 1 / (e * (1 - x * prefill * (c - 1) / c))
        b = step.solve(x * (o - 1) * stretch, float(c))
        tau = step.smooth(b)
        t = tau * stretch
        serv = prefill + math.ceil(i / max(budget - b, budget / 8)) * step.extra(b)
        xn, rn = mva(c, serv, (o - 1) * t)
        state.update(b=b, t=t, s=serv, x=xn, r=rn)
        return xn

    # h(X) = X' − X falls as X rises (a busier replica stretches decodes, so users return more slowly):
    # its root by the Illinois variant of regula falsi (bracketed, superlinear).
    lo, hi = 0.0, min(1 / prefill, c / prefill) * (1 - 1e-12)
    h_lo, h_hi = through(lo) - lo, through(hi) - hi
    side = 0
    for _ in range(100):
        if h_hi >= 0 or h_lo <= 0 or hi - lo <= 1e-12 * hi:
            break
        mid = (lo * h_hi - hi * h_lo) / (h_hi - h_lo)
        h_mid = through(mid) - mid
        if abs(h_mid) <= 1e-10 * max(mid, 1e-12):
            lo = hi = mid
            break
        if h_mid > 0:
            lo, h_lo = mid, h_mid
            if side == 1:
                h_hi /= 2
            side = 1
        else:
            hi, h_hi = mid, h_mid
            if side == -1:
                h_lo /= 2
            side = -1
    through(lo if h_hi >= 0 else (lo + hi) / 2)
    x, r, s, tpot, b_dec = state["x"], state["r"], state["s"], state["t"], state["b"]
    tau, bound = step(b_dec)
    rho = min(x * s, 0.999999)
    wait = max(0.0, r - s)
    queued = _queued(times, tau, b_dec * (c - 1) / c)       # the other users' decodes: the arriving one's ended
    own = times.latency_extra(i, prefill)
    return ServingResult(users=c, requests_per_s=x, decode_batch=b_dec, step_s=tau, tokens_per_step=e, tpot_s=tpot,
                         prefill_s=prefill + own, prefill_service_s=s, utilization=rho, wait_s=wait + queued,
                         ttft_s=r + own + queued + overhead,
                         ttft_p90_s=wait_percentile(wait, rho, 0.9) + s + own + queued + overhead,
                         bound=bound, arrivals=arrivals, output_tokens=o,
                         ttft_median_s=wait_percentile(wait, rho, 0.5) + s + own + queued + overhead)


def _queued(times: Times, step_s: float, decode_batch: float) -> float:
    """Seconds a new request waits, on average, for the running and already launched decode steps before its
    prefill can start: `times.queued_steps` × τ, times min(1, B), the share of time decodes run as the
    arrival sees it (B: the mean decode batch it finds; taken as 1 from B = 1 on, an assumption). Poisson
    arrivals see the time average B_decode (PASTA, R. W. Wolff, Operations Research 30(2), 1982); a closed-loop
    user's new request finds the other users' decodes, B_decode·(C − 1)/C (its own ended)."""
    return times.queued_steps * step_s * min(1.0, max(0.0, decode_batch))


def _van_der_corput(j: int, base: int) -> float:
    """The j-th term (j ≥ 1) of the van der Corput sequence in `base`: evenly spread in (0, 1)."""
    out, scale = 0.0, 1.0
    while j:
        scale /= base
        out += scale * (j % base)
        j //= base
    return out


class _Replay:
    """The engine of a `benchmark_run`, step by step: the client's sent requests, the engine's FIFO prefill queue and
    its running decodes, on one clock (seconds). Running decodes share a counter of decode tokens (E per step that
    runs them), so a request's end is the counter value it waits for and a run of decode-only steps is one jump."""

    def __init__(self, times: Times, bench: Benchmark, step: _Step, users: int, prompts: Callable[[int], int],
                 outputs: Callable[[int], int], total: int):
        self.times, self.bench, self.step = times, bench, step
        self.prompts, self.outputs, self.total = prompts, outputs, total
        self.sent = [(0.0, j) for j in range(users)]   # (time sent, prompt) not yet received by the engine: a heap
        self.queue: deque[list] = deque()               # received: [prompt, prompt tokens left, time sent], FIFO
        self.running: list[tuple[float, int, float]] = []   # (counter value it ends at, prompt, first token time)
        self.decoded = 0.0                              # decode tokens each running request has been given
        self.clock = 0.0
        self.last_step_s = 0.0                          # the step that just ended (0: the engine was idle)
        self.since_intake = 0                           # decode steps since the engine last received
        self.next_prompt = users
        self.ttft: dict[int, float] = {}                # prompt → its TTFT
        self.tpots: list[float] = []
        # The warm-up ran prefill steps of min(C, T // I) copies of prompt 0; other numbers of prompts stall once.
        self.warmed = {max(1, min(users, max(1, times.budget) // prompts(0)))}

    def run(self) -> None:
        while self.sent or self.queue or self.running:
            self._receive()
            if self.queue and self._prefill_step():
                continue
            if self.running:
                self._decode_steps()
            elif not self.queue:                        # idle: the next request is taken in when it arrives
                self.clock, self.last_step_s = max(self.clock, self.sent[0][0]), 0.0

    def _receive(self) -> None:
        """Take in the requests the engine sees at this step boundary. An idle engine sees every request sent by
        now. A busy one polls after a prefill step and every `intake_steps` decode steps (SGLang's
        SchedulerRecvSkipper), and sees the requests sent before its scheduler formed the step about to run:
        `queued_steps` − 0.5 steps before it starts (the running step's other half is the wait inside it)."""
        idle = self.last_step_s == 0.0
        if not idle and self.since_intake < self.bench.intake_steps:
            return
        self.since_intake = 0
        cutoff = self.clock - (0.0 if idle else self._lag() * self.last_step_s)
        while self.sent and self.sent[0][0] <= cutoff + 1e-12:
            sent, j = heapq.heappop(self.sent)
            self.queue.append([j, self.prompts(j), sent])

    def _lag(self) -> float:
        return max(0.0, self.bench.queued_steps - 0.5)

    def _prefill_step(self) -> bool:
        """One step with prompt tokens: FIFO prompts up to the budget (less the decodes' slots where they ride
        along), the last one chunked unless the engine takes whole prompts only. False, and no step, when the
        head prompt must wait for room (whole prompts only)."""
        times, batch = self.times, len(self.running)
        ride = batch > 0 and not times.prefill_alone
        room = max(1, times.budget - batch if ride else times.budget)
        taken, tokens = [], 0
        for item in self.queue:
            left = item[1]
            if left > room - tokens:
                if times.whole_prompts and (taken or left <= times.budget):
                    break                               # whole prompts: it waits for a step with room for it
                left = room - tokens
            taken.append((item, left))
            tokens += left
            if tokens >= room:
                break
        if not taken:
            return False
        duration = times.prefill_step(tokens, len(taken)) + sum(
            times.prefix_attention(self.prompts(item[0]) - item[1], chunk) for item, chunk in taken)
        if len(taken) not in self.warmed:
            self.warmed.add(len(taken))
            duration += self.bench.cold_stall_s
        if ride:
            duration += self.step.extra(batch)
            self.decoded += self.step.per_step
        self._advance(duration, prefill=True)
        for item, chunk in taken:
            item[1] -= chunk
            if item[1] <= 0:
                self.queue.popleft()
                self._first_token(item[0], item[2])
        self._finish()
        return True

    def _decode_steps(self) -> None:
        """Decode-only steps up to the next event: a request's end, or the poll at which the engine receives the
        first sent request (polls come every `intake_steps` steps)."""
        tau = self.step(len(self.running))[0]
        e = self.step.per_step
        n = self.bench.intake_steps
        steps = max(1, math.ceil((self.running[0][0] - self.decoded) / e - 1e-9))
        if self.sent:
            first_poll = n - self.since_intake
            seen = math.ceil((self.sent[0][0] - self.clock) / tau + self._lag() - 1e-9)
            polls = max(0, math.ceil((seen - first_poll) / n))
            steps = min(steps, first_poll + polls * n)
        self.decoded += steps * e
        total = self.since_intake + steps
        # Polls passed on the way saw nothing (the event above is the first that would); a poll now is due.
        self.since_intake = n if total % n == 0 else total % n
        self._advance(steps * tau, prefill=False, last=tau)
        self._finish()

    def _advance(self, seconds: float, prefill: bool, last: float | None = None) -> None:
        self.clock += seconds
        self.last_step_s = seconds if last is None else last
        if prefill:
            self.since_intake = self.bench.intake_steps      # the engine receives after any prefill step

    def _first_token(self, j: int, sent: float) -> None:
        first = self.clock + self.times.overhead_s
        self.ttft[j] = first - sent
        heapq.heappush(self.running, (self.decoded + self.outputs(j) - 1, j, first))

    def _finish(self) -> None:
        """Requests whose last token came with this step end; the client sends its next prompt at once."""
        while self.running and self.running[0][0] <= self.decoded + 1e-9:
            _, j, first = heapq.heappop(self.running)
            end = self.clock + self.times.overhead_s
            if self.outputs(j) > 1:
                self.tpots.append((end - first) / (self.outputs(j) - 1))
            if self.next_prompt < self.total:
                heapq.heappush(self.sent, (end, self.next_prompt))
                self.next_prompt += 1


def _replay(times: Times, users: int, input_tokens: int, output_tokens: int, bench: Benchmark,
            spec: Speculative | None) -> _Replay:
    """The run's engine replayed to its end: `users` ≥ 1, prompt j of ⌈r·I + (1 − r)·I·u_j⌉ tokens and as many
    output tokens by v_j (the module docstring)."""
    i, o, step, *_ = _setup(times, input_tokens, output_tokens, spec)

    def length(nominal: int, j: int, base: int) -> int:
        return max(1, math.ceil(nominal * (bench.range_ratio + (1 - bench.range_ratio) * _van_der_corput(j + 1, base))))

    replay = _Replay(times, bench, step, users, lambda j: length(i, j, 2), lambda j: length(o, j, 3),
                     bench.prompts_per_user * users)
    replay.run()
    return replay


def benchmark_run(times: Times, users: int, input_tokens: int, output_tokens: int, bench: Benchmark,
                  spec: Speculative | None = None) -> ServingResult:
    """Mean, median and p90 TTFT, and mean TPOT, over a closed-loop benchmark run of `bench.prompts_per_user` × `users`
    prompts at concurrency `users`, the engine simulated step by step (the replay in the module docstring); the
    other figures are the steady state's (`closed_loop` with random arrivals). Deterministic."""
    c = max(1, int(users))
    steady = closed_loop(times, c, input_tokens, output_tokens, "random", spec)
    replay = _replay(times, c, input_tokens, output_tokens, bench, spec)
    ttfts = sorted(replay.ttft.values())
    mean = sum(ttfts) / len(ttfts)
    p90 = ttfts[math.ceil(0.9 * len(ttfts)) - 1]
    tpot = sum(replay.tpots) / len(replay.tpots) if replay.tpots else steady.tpot_s
    return dataclasses.replace(steady, ttft_s=mean, ttft_p90_s=p90, tpot_s=tpot, arrivals="benchmark",
                               wait_s=max(0.0, mean - steady.prefill_s - times.overhead_s),
                               ttft_median_s=statistics.median(ttfts))


def open_loop(times: Times, rate: float, input_tokens: int, output_tokens: int,
              spec: Speculative | None = None, spread: float = 0.0) -> ServingResult:
    """Steady state at `rate` requests/s of Poisson arrivals to this replica (M/G/1 prefill queue over the
    prompts' lengths: `input_tokens`, or spread uniformly over input_tokens·[1 − spread, 1 + spread];
    Little's law for the decode batch). An overloaded replica (λ·E[S] ≥ 1) has infinite TTFT and
    TPOT. Raises InputError for a rate ≤ 0 or a spread outside [0, 1]."""
    if not rate > 0:
        raise InputError(f"request_rate = {rate}: a positive number of requests per second is needed.")
    i, o, step, e, _, budget, overhead = _setup(times, input_tokens, output_tokens, spec)
    lengths = prompt_lengths(i, spread)
    prefill = sum(times.prompt_time(n) for n in lengths) / len(lengths)
    if rate * prefill >= 1:
        return ServingResult(users=math.inf, requests_per_s=rate, decode_batch=math.inf, step_s=math.inf,
                             tokens_per_step=e, tpot_s=math.inf, prefill_s=prefill, prefill_service_s=math.inf,
                             utilization=1.0, wait_s=math.inf, ttft_s=math.inf, ttft_p90_s=math.inf,
                             ttft_median_s=math.inf, bound="prefill", arrivals="poisson",
                             output_tokens=o)
    stretch = 1 / (e * (1 - rate * prefill))
    b_dec = rate * (o - 1) * step.smooth(0) * stretch
    for _ in range(200):   # B = λ·(O − 1)·τ(B)·stretch: τ grows slowly with B, so this converges
        b_new = rate * (o - 1) * step.smooth(b_dec) * stretch
        done = abs(b_new - b_dec) <= 1e-10 * max(1.0, b_dec)
        b_dec = b_new
        if done or b_dec > 1e7:
            break
    tau = step.smooth(b_dec)
    tpot = tau * stretch
    bound = step(b_dec)[1]
    def service(n: int) -> float:   # a prompt of n tokens: alone, plus the decodes riding along its chunk steps
        return times.prompt_time(n) + math.ceil(n / max(budget - b_dec, budget / 8)) * step.extra(b_dec)

    s, scv = service_moments(service, lengths)
    rho = rate * s
    wait = mg1_wait(rate, s, scv)
    users = b_dec + rate * (wait + s) if not math.isinf(wait) else math.inf
    queued = _queued(times, tau, b_dec)
    own = sum(times.latency_extra(n, times.prompt_time(n)) for n in lengths) / len(lengths)
    return ServingResult(users=users, requests_per_s=rate, decode_batch=b_dec, step_s=tau, tokens_per_step=e,
                         tpot_s=tpot, prefill_s=prefill + own, prefill_service_s=s, utilization=min(rho, 1.0),
                         wait_s=wait + queued, ttft_s=wait + s + own + queued + overhead,
                         ttft_p90_s=wait_percentile(wait, min(rho, 1.0), 0.9) + s + own + queued + overhead, bound=bound,
                         arrivals="poisson", output_tokens=o,
                         ttft_median_s=wait_percentile(wait, min(rho, 1.0), 0.5) + s + own + queued + overhead)


@dataclass(frozen=True)
class Pools:
    """Disaggregated prefill/decode pools for one workload (`size_pools`). Times in seconds."""

    prefill_replicas: int
    decode_replicas: int
    decode_batch: int            # sequences one decode replica runs (at most)
    requests_per_s: float        # X, the rate the prefill pool is sized for
    prefill_utilization: float   # ρ per prefill replica
    tpot_s: float
    ttft_s: float                # mean: M/D/1 wait + prefill + KV transfer + overhead
    ttft_p90_s: float
    kv_transfer_s: float


def size_pools(prefill: Times, decode: Times, decode_cap: int, users: int, input_tokens: int, output_tokens: int,
               min_tokens_per_s: float = 0.0, max_ttft_s: float | None = None, ttft_percentile: int = 90,
               kv_transfer_s: float = 0.0, spec: Speculative | None = None,
               request_rate: float | None = None, spread: float = 0.0) -> Pools | None:
    """Fewest prefill and decode replicas for `users` concurrent users (or `request_rate` requests/s)
    when prefill and decode run on separate pools (DistServe, Zhong et al., OSDI 2024,
    arXiv:2401.09670; Splitwise, Patel et al., ISCA 2024):

    - decode replica: the largest batch B ≤ decode_cap whose step gives each user
      E/τ(B) ≥ min_tokens_per_s (no prefill interference: TPOT = τ(B)/E); decode replicas =
      ceil(users / B) (every user may be decoding at once);
    - request rate, closed loop: X = users / ((O − 1)·TPOT), an upper bound (the rate if TTFT were 0);
    - prefill replica: service S = P(I) (prompts alone, no decodes in its steps; E[S] and c² over the prompts'
      lengths, `spread` as in `open_loop`); arrivals split evenly over n replicas, each M/G/1 at X/n; n = the
      fewest with ρ = X·E[S]/n < 1 and the TTFT (mean or p90, Pollaczek–Khinchine wait with Kingman's
      exponential tail) + kv_transfer_s + overhead ≤ max_ttft_s.

    None when no decode batch reaches min_tokens_per_s, or the prompt alone (plus the KV transfer)
    already exceeds max_ttft_s.
    """
    i, o = max(1, input_tokens), max(1, output_tokens)
    step = _Step(decode, i + o / 2, spec)
    e = step.per_step
    best = largest_batch(step, max(1, decode_cap), min_tokens_per_s)
    if best is None:
        return None
    tpot = step(best)[0] / e
    decode_replicas = math.ceil(users / best) if request_rate is None else \
        math.ceil(request_rate * (o - 1) * tpot / best)
    rate = request_rate if request_rate is not None else users / ((o - 1) * tpot) if o > 1 else users / tpot
    lengths = prompt_lengths(i, spread)
    s, scv = service_moments(prefill.prompt_time, lengths)
    own = sum(prefill.latency_extra(n, prefill.prompt_time(n)) for n in lengths) / len(lengths)
    fixed = s + own + kv_transfer_s + prefill.overhead_s
    if max_ttft_s is not None and fixed > max_ttft_s:
        return None
    n = max(1, math.floor(rate * s) + 1)
    while True:
        lam = rate / n
        w = mg1_wait(lam, s, scv)
        rho = lam * s
        p90 = wait_percentile(w, rho, 0.9) + fixed
        mean = w + fixed
        if max_ttft_s is None or (p90 if ttft_percentile == 90 else mean) <= max_ttft_s:
            return Pools(prefill_replicas=n, decode_replicas=decode_replicas, decode_batch=best, requests_per_s=rate,
                         prefill_utilization=rho, tpot_s=tpot, ttft_s=mean, ttft_p90_s=p90,
                         kv_transfer_s=kv_transfer_s)
        n += 1

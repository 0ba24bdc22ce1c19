"""A prompt alone runs in the chunk steps the engine splits it into: pieces of the chunk budget (SGLang under
attention DP: the budget divided over the DP groups), each at least a prompt of its own size, a later piece also
attending to the tokens before it."""

from __future__ import annotations

import math

import pytest

from optimizer import serving, speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.layouts import Layout
from optimizer.problem import EngineSettings
from optimizer.serving import Times


@pytest.mark.parametrize("tokens, chunk", [(1, 512), (512, 512), (513, 512), (2000, 256), (8192, 1024)])
def test_a_prefill_linear_in_the_tokens_pays_its_fixed_cost_once_per_chunk_step(tokens, chunk):
    fixed, per_token = 0.004, 2e-6
    got = serving.chunked_prompt_time(lambda t: fixed + per_token * t, tokens, chunk)
    assert got == pytest.approx(math.ceil(tokens / chunk) * fixed + per_token * tokens)


@pytest.mark.parametrize("tokens, chunk", [(2000, 256), (8192, 1024), (5, 2)])
def test_a_prefill_quadratic_in_the_tokens_adds_up_to_the_whole_prompt(tokens, chunk):
    # P(t) = k·t²: a later piece's own square plus its attention to the earlier tokens, P(s + c) − P(s), telescopes.
    k = 3e-9
    assert serving.chunked_prompt_time(lambda t: k * t * t, tokens, chunk) == pytest.approx(k * tokens ** 2)


def _times(chunk: int, whole: bool = False) -> Times:
    return Times(token_time=lambda b, ctx: (0.01, "memory"), prefill_time=lambda t: 0.004 + 2e-6 * t, layers=10,
                 budget=8192, overhead_s=0.0, launch_floor_s=0.05, chunk=chunk, whole_prompts=whole)


def test_a_prompt_alone_is_split_by_its_groups_chunk_not_the_replicas_budget():
    times = _times(chunk=1024)
    assert times.prompt_chunk == 1024
    assert times.prompt_time(8192) == pytest.approx(8 * 0.004 + 2e-6 * 8192)
    assert times.launch_floor_for(8192) == pytest.approx(8 * 0.05)
    # No chunk stated: the budget.
    assert _times(chunk=0).prompt_time(8192) == pytest.approx(0.004 + 2e-6 * 8192)
    assert _times(chunk=0).launch_floor_for(8193) == pytest.approx(2 * 0.05)
    # An engine that does not split prompts (TensorRT-LLM) runs it whole.
    assert _times(chunk=1024, whole=True).prompt_time(8192) == pytest.approx(0.004 + 2e-6 * 8192)


def test_the_prompts_chunk_steps_reach_its_ttft():
    alone = serving.closed_loop(_times(chunk=1024), 1, 8192, 100)
    whole = serving.closed_loop(_times(chunk=0), 1, 8192, 100)
    # Eight chunk steps, each at least the launch floor, against one.
    assert alone.ttft_s - whole.ttft_s == pytest.approx(8 * 0.05 - 0.05, rel=1e-6)


def _dep(catalog, engine: str, layout: Layout, settings: EngineSettings | None = None) -> Deployment:
    m, a = catalog.models["deepseek-r1"], catalog.accelerators["h200-sxm"]
    return Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=default_platform(catalog, a, 8),
                      engine=catalog.engines[engine], gpus_per_node=8, layout=layout, settings=settings)


def test_sglang_divides_the_chunk_over_the_attention_dp_groups(catalog):
    # server_args.py: `chunked_prefill_size // dp_size` with --enable-dp-attention.
    dep = _dep(catalog, "sglang", Layout(tp=1, dp=8, ep=8))
    fit = dep.memory()
    budget = fit.settings.max_batched_tokens
    times = speed.serving_times(dep, fit)
    assert times.budget == budget and times.chunk == budget // 8
    prompt = budget                       # one step's worth of the replica's budget: eight of its group's chunks
    piece = budget // 8
    assert speed.prompt_prefill_time(dep, fit, prompt) >= 8 * speed.prefill_time(dep, fit, piece)
    assert speed.prompt_prefill_time(dep, fit, piece) == pytest.approx(speed.prefill_time(dep, fit, piece))


def test_without_attention_dp_a_prompt_of_one_budget_is_one_step(catalog):
    dep = _dep(catalog, "sglang", Layout(tp=8, ep=8))
    fit = dep.memory()
    budget = fit.settings.max_batched_tokens
    assert speed.serving_times(dep, fit).chunk == budget
    assert speed.prompt_prefill_time(dep, fit, budget) == pytest.approx(speed.prefill_time(dep, fit, budget))


def test_tensorrt_llm_runs_a_prompt_longer_than_its_budget_whole(catalog):
    # enable_chunked_prefill is off by default: a prompt is one context step, whatever max_num_tokens says. At a
    # budget of 256 tokens each of SGLang's eight chunk steps reads the weights again.
    settings = EngineSettings(max_batched_tokens=256)
    trt = _dep(catalog, "trtllm", Layout(tp=8), settings)
    sgl = _dep(catalog, "sglang", Layout(tp=8), settings)
    tfit, sfit = trt.memory(), sgl.memory()
    assert tfit.settings.max_batched_tokens == sfit.settings.max_batched_tokens == 256
    assert speed.prompt_prefill_time(trt, tfit, 2048) == pytest.approx(speed.prefill_time(trt, tfit, 2048))
    assert speed.prompt_prefill_time(sgl, sfit, 2048) >= 8 * speed.prefill_time(sgl, sfit, 256) > \
        1.5 * speed.prefill_time(sgl, sfit, 2048)


def test_a_prompts_steps_pass_the_pipeline_stages_one_after_another():
    per_token = 1e-5
    staged = Times(token_time=lambda b, ctx: (0.01, "memory"), prefill_time=lambda t: per_token * t, layers=10,
                   budget=1000, overhead_s=0.0, stages=3)
    # Four chunk steps of 1,000 tokens: the last leaves the third stage two stage-steps after it enters the first.
    assert staged.prompt_time(4000) == pytest.approx(per_token * 4000)
    assert staged.pipeline_fill(4000) == pytest.approx(2 * per_token * 1000)
    assert staged.pipeline_fill(4500) == pytest.approx(2 * per_token * 500)     # the last step holds 500
    # A whole prompt (TensorRT-LLM) is one step: it takes stages × its prefill.
    whole = Times(token_time=lambda b, ctx: (0.01, "memory"), prefill_time=lambda t: per_token * t, layers=10,
                  budget=1000, overhead_s=0.0, stages=3, whole_prompts=True)
    assert whole.pipeline_fill(4000) == pytest.approx(2 * per_token * 4000)
    flat = Times(token_time=lambda b, ctx: (0.01, "memory"), prefill_time=lambda t: per_token * t, layers=10,
                 budget=1000, overhead_s=0.0)
    assert flat.pipeline_fill(4000) == 0
    # A lone prompt's TTFT pays the fill; the prefill server's occupancy does not.
    one, alone = serving.closed_loop(staged, 1, 4000, 50), serving.closed_loop(flat, 1, 4000, 50)
    assert one.ttft_s - alone.ttft_s == pytest.approx(2 * per_token * 1000)
    assert one.prefill_service_s == pytest.approx(alone.prefill_service_s)


def test_pipeline_stages_do_not_shorten_tensorrt_llms_lone_prompt(catalog):
    from optimizer.estimator import estimate

    ask = dict(model="deepseek-r1", accelerator="h200-sxm", precision="fp8", engine="trtllm", tp=8,
               input_tokens=16_000, output_tokens=100, concurrency=1)
    one_stage = estimate(catalog, gpus=8, **ask)
    two = estimate(catalog, gpus=16, nodes=2, pp=2, **ask)
    m, a = catalog.models["deepseek-r1"], catalog.accelerators["h200-sxm"]
    dep = Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=catalog.platforms[two.platform],
                     engine=catalog.engines["trtllm"], gpus_per_node=8, nodes=2,
                     layout=Layout(tp=8, pp=2, nodes_per_replica=2),
                     settings=EngineSettings(max_batched_tokens=two.engine_settings["max_batched_tokens"]))
    fit = dep.memory()
    # The whole prompt passes both stages: twice a stage's time, the replica's prefill time of the prompt.
    assert two.ttft_s == pytest.approx(2 * speed.prefill_time(dep, fit, 16_000) + serving.ttft_overhead("trtllm"),
                                       rel=1e-3)
    assert two.ttft_s > 0.8 * one_stage.ttft_s

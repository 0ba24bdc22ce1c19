"""`--eager` changes speed, not only memory: without CUDA graphs the host launches every layer's kernels each
decode step, 0.3 ms per layer (optimizer/speed.py EAGER_LAYER_LAUNCH_S; vLLM and SGLang measurements cited
there), so a decode step takes at least layers × 0.3 ms; large batches stay GPU-bound."""

from __future__ import annotations

import dataclasses

import pytest

from optimizer import speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import EngineSettings


def _dep(catalog, eager: bool, model="llama-3.1-8b", engine="vllm", acc="h100-sxm", gpus=1) -> Deployment:
    m, a = catalog.models[model], catalog.accelerators[acc]
    return Deployment(model=m, variant=m.variant("bf16"), accelerator=a, platform=default_platform(catalog, a, gpus),
                      engine=catalog.engines[engine], gpus_per_node=gpus, settings=EngineSettings(eager=eager))


def test_eager_batch_1_is_launch_bound(catalog):
    """Llama-3.1-8B (32 layers) at batch 1 on one H100: with graphs the step is t_g = stage + step overhead;
    in eager mode the stage is at least 32 × 0.3 ms = 9.6 ms, above the GPU time of reading 16 GB."""
    graphs, eager = _dep(catalog, False), _dep(catalog, True)
    t_g, _ = speed.decode_token_time(graphs, graphs.memory(), 1, 1000)
    t_e, bound = speed.decode_token_time(eager, eager.memory(), 1, 1000)
    overhead = catalog.engines["vllm"].efficiency_for("hopper").step_overhead_ms * 1e-3
    stage = t_g - overhead
    launches = 32 * 0.3e-3
    assert stage < launches                      # the GPU work is shorter than the launches
    assert bound == "overhead"
    assert t_e / t_g == pytest.approx((launches + overhead) / (stage + overhead), rel=1e-9)
    # About the 12.0 / 10.5 ms = 1.14 vLLM measured for Llama-2-7B at batch 1 (vllm-project/vllm#1440).
    assert 1.1 < t_e / t_g < 1.3


def test_eager_large_batch_stays_gpu_bound(catalog):
    """Batch 256 at 4,000 tokens of context: the KV cache read alone is 256 × 4,000 × 131,072 B = 134 GB per step,
    about 40 ms at 3.35 TB/s, far above 9.6 ms of launches: eager and graphs take the same time."""
    graphs, eager = _dep(catalog, False), _dep(catalog, True)
    t_g, _ = speed.decode_token_time(graphs, graphs.memory(), 256, 4000)
    t_e, _ = speed.decode_token_time(eager, eager.memory(), 256, 4000)
    assert 256 * 4000 * 131072 / 3.35e12 > 32 * 0.3e-3
    assert t_e == pytest.approx(t_g, rel=1e-9)


def test_pipeline_stages_launch_their_own_layers(catalog):
    """PP2 over 2 × 8 H100 for Llama-3.1-405B (126 layers): each stage launches 63 layers, 18.9 ms, in parallel
    with the other stage's GPU work; one token passes both stages: at least 2 × 18.9 ms + step overhead."""
    dep = _dep(catalog, True, model="llama-3.1-405b", gpus=8)
    dep = dataclasses.replace(dep, nodes=2)
    fit = dep.memory()
    assert fit.layout.pp == 2
    t_e, _ = speed.decode_token_time(dep, fit, 1, 1000)
    overhead = catalog.engines["vllm"].efficiency_for("hopper").step_overhead_ms * 1e-3
    assert t_e >= 2 * 63 * 0.3e-3 + overhead


def test_llama_cpp_and_cpus_have_no_eager_term(catalog):
    """llama.cpp has no --enforce-eager: the flag changes nothing there."""
    m = catalog.models["llama-3.1-8b"]
    a = catalog.accelerators["rtx-4090"]
    variant = next(v for v in m.variants if v.format == "gguf")
    deps = [Deployment(model=m, variant=variant, accelerator=a, platform=default_platform(catalog, a, 1),
                       engine=catalog.engines["llama.cpp"], gpus_per_node=1, settings=EngineSettings(eager=e))
            for e in (False, True)]
    times = [speed.decode_token_time(d, d.memory(), 1, 1000)[0] for d in deps]
    assert times[0] == times[1]

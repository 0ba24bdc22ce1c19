"""Launch commands carry every engine setting the sizing assumed, and `estimate` without --gpus
picks the fewest accelerators that start the model (a new-user review found both missing)."""

from __future__ import annotations

import pytest

from catalog import load_catalog
from optimizer.estimator import estimate


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _cmd(est) -> str:
    return " ".join(est.launch)


@pytest.mark.parametrize("engine, eager_flag, tokens_flag", [
    ("vllm", "--enforce-eager", "--max-num-batched-tokens 1024"),
    ("sglang", "--disable-cuda-graph", "--chunked-prefill-size 1024"),
    ("trtllm", "cuda_graph_config: null", "--max_num_tokens 1024"),
])
def test_eager_and_batched_tokens_reach_the_command(catalog, engine, eager_flag, tokens_flag):
    # 1,000-token prompts: TensorRT-LLM would reject any longer than max_num_tokens.
    given = estimate(catalog, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine=engine,
                     eager=True, max_batched_tokens=1024, input_tokens=1000)
    assert eager_flag in _cmd(given) and tokens_flag in _cmd(given)
    default = estimate(catalog, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine=engine)
    # Unset: the engine's own default is what was sized, so the command does not pin it.
    assert eager_flag not in _cmd(default) and tokens_flag.split()[0] not in _cmd(default)


def test_memory_fraction_is_printed_as_sized(catalog):
    est = estimate(catalog, model="llama-3.1-70b", accelerator="h100-sxm", gpus=4, engine="sglang")
    fraction = est.engine_settings["memory_utilization"]
    # SGLang's computed default has more than two places; the command must not round it to 0.xx.
    assert round(fraction, 2) != fraction
    assert f"--mem-fraction-static {fraction:.4f}".rstrip("0") in _cmd(est)


def test_gguf_build_names_its_own_repository_and_quant(catalog):
    # The variant's source names https://huggingface.co/unsloth/DeepSeek-R1-GGUF/tree/main/DeepSeek-R1-UD-IQ1_S,
    # which llama.cpp loads as -hf unsloth/DeepSeek-R1-GGUF:UD-IQ1_S.
    est = estimate(catalog, model="deepseek-r1", accelerator="rtx-4090", gpus=8, precision="ud-1.58bit",
                   engine="llama.cpp")
    assert "-hf unsloth/DeepSeek-R1-GGUF:UD-IQ1_S " in _cmd(est)


def test_without_gpus_the_fewest_that_start_the_model(catalog):
    est = estimate(catalog, model="llama-3.1-70b", accelerator="h100-sxm", gpus=None, precision="bf16")
    # 70.6e9 parameters × 2 bytes = 141 GB of bf16 weights: more than one 80 GB H100 holds.
    assert 70.6e9 * 2 > 80e9 and est.gpus > 1
    assert est.fits and est.notes[0].startswith(f"--gpus not given: {est.gpus} × h100-sxm")
    half = estimate(catalog, model="llama-3.1-70b", accelerator="h100-sxm", gpus=est.gpus // 2, precision="bf16")
    assert not half.fits


def test_without_gpus_spans_servers_when_one_is_not_enough(catalog):
    # DeepSeek-R1 in fp8 is 690 GB of weights; 8 × 24 GB RTX 4090 (192 GB) cannot hold it.
    est = estimate(catalog, model="deepseek-r1", accelerator="rtx-4090", gpus=None, precision="fp8")
    assert est.gpus * 24 > 690 and est.nodes > 1

"""TensorRT-LLM runs each prompt in one step (chunked prefill off by default) and rejects a prompt longer than
max_num_tokens: hwplan raises max_num_tokens to cover the workload's prompts, charges its memory, puts it on the
launch command, and refuses a given value below the prompts instead of planning a server that fails every request."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from catalog.errors import ProblemError
from cli import main
from optimizer import sizing
from optimizer.estimator import estimate
from optimizer.problem import EngineSettings, check_ids, load_problem

PROMPT = 20_000


def test_the_default_max_num_tokens_is_raised_to_whole_kv_blocks_covering_the_prompt(catalog):
    trt, acc = catalog.engines["trtllm"], catalog.accelerators["h100-sxm"]
    default = trt.max_batched_tokens(acc.memory_bytes / 2**30)
    assert default < PROMPT
    got = sizing.whole_prompt_settings(trt, acc, None, PROMPT)
    assert got.max_batched_tokens == math.ceil(PROMPT / 64) * 64 == 20_032
    # A prompt within the default, or a value given at or above the prompt: unchanged.
    assert sizing.whole_prompt_settings(trt, acc, None, default) == EngineSettings()
    given = EngineSettings(max_batched_tokens=PROMPT)
    assert sizing.whole_prompt_settings(trt, acc, given, PROMPT) is given
    # Given below the prompt: the engine would refuse it.
    assert sizing.whole_prompt_settings(trt, acc, EngineSettings(max_batched_tokens=8192), PROMPT) is None
    # Engines that chunk long prompts keep their settings.
    for engine in ("vllm", "sglang"):
        kept = EngineSettings(max_batched_tokens=2048)
        assert sizing.whole_prompt_settings(catalog.engines[engine], acc, kept, PROMPT) is kept


_ASK = dict(model="llama-3.1-70b", accelerator="h100-sxm", gpus=4, engine="trtllm", input_tokens=PROMPT,
            output_tokens=500, concurrency=4)


def test_estimate_sizes_and_launches_the_raised_max_num_tokens(catalog):
    est = estimate(catalog, **_ASK)
    assert est.fits and est.engine_settings["max_batched_tokens"] == 20_032
    assert any("--max_num_tokens 20032" in c for c in est.launch)
    assert any("max_num_tokens 20,032" in n for n in est.notes)
    # Its activations are charged: the profiling pass runs max_num_tokens tokens, so less memory is left for KV.
    at_default = estimate(catalog, **{**_ASK, "input_tokens": 8000})
    assert est.kv_budget_per_gpu_gb < at_default.kv_budget_per_gpu_gb


def test_estimate_refuses_a_max_num_tokens_below_the_prompt():
    got = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-70b", "--accelerator", "h100-sxm", "--gpus",
                                    "4", "--engine", "trtllm", "--input-tokens", str(PROMPT),
                                    "--max-batched-tokens", "8192"])
    assert got.exit_code == 2
    assert "--max-batched-tokens = 8,192" in got.output and "20,000-token prompt" in got.output
    assert "Traceback" not in got.output


def _problem(engine: str, tokens: int | None) -> str:
    settings = f"engine_settings:\n  max_batched_tokens: {tokens}\n" if tokens else ""
    return (f"model: llama-3.1-70b\nengine: {engine}\nworkload:\n  concurrent_users: 20\n  input_tokens: {PROMPT}\n"
            f"  output_tokens: 500\n  min_tokens_per_s: 10\n{settings}")


def test_a_problem_asking_only_tensorrt_llm_below_its_prompts_is_refused(catalog, tmp_path):
    path = tmp_path / "trt.yaml"
    path.write_text(_problem("trtllm", 8192))
    with pytest.raises(ProblemError, match=r"trt\.yaml:\d+:\d+: engine_settings\.max_batched_tokens = 8,192 is "
                                           r"below workload\.input_tokens = 20,000"):
        check_ids(load_problem(path), catalog)
    # Other engines split the prompt, so the same setting stands for them, or for auto.
    for engine in ("vllm", "auto"):
        path.write_text(_problem(engine, 8192))
        check_ids(load_problem(path), catalog)


def test_a_decode_replica_runs_no_prompt_so_its_max_num_tokens_is_kept(catalog):
    # NVIDIA's Dynamo recipe sets a generation server's max_num_tokens to its batch size, far below the prompts.
    ask = dict(model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="trtllm", role="decode",
               input_tokens=65_536, concurrency=16)
    given = estimate(catalog, **ask, max_batched_tokens=256)
    assert given.fits and given.engine_settings["max_batched_tokens"] == 256
    default = estimate(catalog, **ask)
    assert default.engine_settings["max_batched_tokens"] == 8192
    assert not any("--max_num_tokens" in c for c in default.launch)


def test_a_disaggregated_plan_covers_the_prompts_on_its_prefill_lines_only():
    import json

    got = CliRunner().invoke(main, ["solve", "deepseek-r1-8k-disaggregated", "--engine", "trtllm", "--input-tokens",
                                    "32768", "--vendor", "nvidia", "--serving", "disaggregated", "--format", "json"])
    assert got.exit_code == 0, got.output
    lines = json.loads(got.output)["plan"]["lines"]
    roles = {line["role"] for line in lines}
    assert roles == {"prefill", "decode"}
    for line in lines:
        launched = " ".join(line["launch"])
        if line["role"] == "prefill":
            assert line["engine_settings"]["max_batched_tokens"] == 32_768 and "--max_num_tokens 32768" in launched
        else:
            assert line["engine_settings"]["max_batched_tokens"] == 8192 and "--max_num_tokens" not in launched

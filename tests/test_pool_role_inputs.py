"""`hwplan estimate --role` and `hwplan validate`'s pool rows on inputs a user gets wrong (found by tester4)."""

from __future__ import annotations

from click.testing import CliRunner

from cli import main

_LLAMA_CPP = ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
              "--precision", "q4_k_m", "--max-model-len", "8192"]


def _run(args: list[str]):
    return CliRunner().invoke(main, args, terminal_width=80)


def test_llama_cpp_has_no_disaggregated_pools():
    """llama.cpp has no KV transfer between servers (optimizer/launch.py DISAGG_ENGINES): a pool replica on it
    is refused, naming the flags, rather than sized with a TensorRT-LLM router in its launch commands."""
    for role in ("decode", "prefill"):
        got = _run([*_LLAMA_CPP, "--engine", "llama.cpp", "--role", role])
        assert got.exit_code == 2, got.output
        assert f"--role = {role}" in got.output and "llama.cpp" in got.output
        assert "Traceback" not in got.output and "trtllm-serve" not in got.output


def test_auto_engine_with_a_role_picks_an_engine_that_disaggregates():
    """--engine auto with --role: a GGUF build only llama.cpp loads cannot be a pool replica: exit 2."""
    got = _run([*_LLAMA_CPP, "--role", "decode"])
    assert got.exit_code == 2, got.output
    assert "--role = decode" in got.output and "Traceback" not in got.output
    # A safetensors model under auto gets vLLM (the first of the preference order), with its KV connector.
    got = _run(["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
                "--role", "decode", "--concurrency", "8", "--format", "json"])
    assert got.exit_code == 0, got.output
    assert '"engine": "vllm"' in got.output and "kv-transfer-config" in got.output

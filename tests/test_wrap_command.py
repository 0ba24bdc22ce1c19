"""optimizer/render.py `wrap_command`: launch commands over lines of at most 80 columns that still run when
copied (each broken line ends in ' \\'), options kept with their values, quoted strings never broken, and a
shell comment wrapped as comment lines (a backslash does not continue a comment)."""

from __future__ import annotations

import json
import shlex

import yaml

from optimizer.render import wrap_command

LONG = ("vllm serve meta-llama/Llama-3.1-70B-Instruct --tensor-parallel-size 8 --max-num-seqs 256 "
        "--max-model-len 131072 --gpu-memory-utilization 0.9 --speculative-config "
        "'{\"method\": \"ngram\", \"num_speculative_tokens\": 3}' "
        "--host 0.0.0.0 --port 8000")


def _rejoin(lines: list[str], first: str) -> str:
    """The command a shell reads from the wrapped lines: the prefix off, each ' \\' continuation joined."""
    text = "\n".join(lines)[len(first):]
    return text.replace(" \\\n    ", " ")


def test_a_long_command_fits_80_columns_and_rejoins_to_itself():
    lines = wrap_command(LONG, "Launch: ")
    assert len(lines) > 1
    assert all(len(line) <= 80 for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1]) and not lines[-1].endswith("\\")
    assert _rejoin(lines, "Launch: ") == LONG
    assert shlex.split(_rejoin(lines, "Launch: ")) == shlex.split(LONG)


def test_an_option_stays_with_its_value_and_a_quoted_string_is_never_broken():
    lines = wrap_command(LONG, "Launch: ")
    for line in lines:
        body = line.removesuffix(" \\").strip()
        assert not body.endswith(("--max-model-len", "--tensor-parallel-size", "--port"))
        assert body.count("'") % 2 == 0          # every quote opened on a line closes on it


def test_a_quoted_argument_longer_than_the_line_gets_a_line_of_its_own():
    quoted = "'" + "x " * 50 + "'"
    lines = wrap_command(f"serve --config {quoted} --port 8000", "Launch: ")
    assert lines == ["Launch: serve \\", f"    --config {quoted} \\", "    --port 8000"]


def test_a_short_command_is_one_line():
    assert wrap_command("vllm serve m --port 8000", "  $ ") == ["  $ vllm serve m --port 8000"]


def test_a_long_comment_wraps_as_comment_lines():
    comment = "# fill in <EAGLE-3 draft model>: " + "an EAGLE-3 draft trained for this model, " * 4
    lines = wrap_command(comment.strip(), "Launch: ")
    assert len(lines) > 1
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("Launch: # fill in")
    assert all(line.lstrip().startswith("#") for line in lines[1:])     # a shell runs none of them
    assert not any(line.endswith("\\") for line in lines)
    words = " ".join(line.split("#", 1)[1].strip() for line in lines).split()
    assert words == comment[1:].split()                                  # nothing lost or reordered



def _argument_after(lines: list[str], first: str, flag: str) -> str:
    words = shlex.split(_rejoin(lines, first))
    return words[words.index(flag) + 1]


def test_a_long_json_option_breaks_inside_its_braces_and_parses_the_same():
    """vLLM's EAGLE-3 --speculative-config with its draft-model placeholder is 80+ columns alone: it is broken
    after a ', ' between items, inside the quotes (no ' \\' there: a backslash inside single quotes is literal),
    and the shell still passes one argument that json.loads to the same object."""
    spec = '{"method": "eagle3", "model": "<EAGLE-3 draft model>", "num_speculative_tokens": 3}'
    cmd = f"vllm serve deepseek-ai/DeepSeek-R1 --tensor-parallel-size 8 --speculative-config '{spec}' --port 8000"
    lines = wrap_command(cmd, "Launch: ")
    assert all(len(line) <= 80 for line in lines)
    assert json.loads(_argument_after(lines, "Launch: ", "--speculative-config")) == json.loads(spec)
    assert shlex.split(_rejoin(lines, "Launch: "))[-2:] == ["--port", "8000"]
    inside = [line for line in lines if line.count("'") == 1 and line.rstrip().endswith(",")]
    assert inside and not any(line.endswith("\\") for line in inside)


def test_a_long_yaml_flow_line_breaks_inside_its_braces_and_loads_the_same():
    """TensorRT-LLM's extra options file written with printf: the YAML flow mapping keeps its keys and values."""
    text = "speculative_config: {decoding_type: Eagle3, max_draft_len: 3, speculative_model_dir: <EAGLE-3 draft model>}"
    cmd = f"printf '%s\\n' '{text}' > extra-llm-api.yaml && trtllm-serve m --backend pytorch"
    lines = wrap_command(cmd, "Launch: ")
    assert all(len(line) <= 80 for line in lines)
    words = shlex.split(_rejoin(lines, "Launch: "))
    assert yaml.safe_load(words[2]) == yaml.safe_load(text)
    assert words[3:] == [">", "extra-llm-api.yaml", "&&", "trtllm-serve", "m", "--backend", "pytorch"]


def test_other_quoted_text_is_never_broken_inside():
    """Only a mapping's braces make a line break harmless; a quoted sentence with ', ' keeps its line."""
    quoted = "'" + "word, " * 20 + "end'"
    assert wrap_command(f"serve --note {quoted} --port 8000", "Launch: ")[1] == f"    --note {quoted} \\"

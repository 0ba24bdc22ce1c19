"""Launch commands carry the speculative decoding the speed assumed, and per-group caps round up."""

from __future__ import annotations

import json
import re
import pytest

from catalog import load_catalog
from optimizer.launch import DRAFT_PLACEHOLDER, LaunchSettings, launch_for
from optimizer.layouts import Layout
from optimizer.serving import Speculative


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _cmds(cat, engine: str, spec, layout=Layout(tp=8), max_running=None):
    r1 = cat.models["deepseek-r1"]
    s = LaunchSettings(memory_fraction=0.9, max_running=max_running, max_model_len=3000, kv_dtype="bf16",
                       gpus_per_node=8, speculative=spec)
    return launch_for(r1, r1.variant("fp8"), cat.engines[engine], layout, s)


def test_vllm_speculative_config_is_json_with_k_tokens(cat):
    for method, fields in (("mtp", {"method": "mtp"}),
                           ("eagle", {"method": "eagle3", "model": DRAFT_PLACEHOLDER}),
                           ("ngram", {"method": "ngram", "prompt_lookup_max": 4})):
        cmds = _cmds(cat, "vllm", Speculative(method, 3))
        config = json.loads(re.search(r"--speculative-config '([^']*)'", cmds[0]).group(1))
        assert config == {**fields, "num_speculative_tokens": 3}
        # EAGLE-3's draft is a placeholder, and a comment line says so; the others need none
        assert (cmds[-1].startswith("#") and DRAFT_PLACEHOLDER in cmds[-1]) == (method == "eagle")


def test_sglang_chain_of_k_drafts_verifies_k_plus_one_tokens(cat):
    k = 3
    mtp = _cmds(cat, "sglang", Speculative("mtp", k))[0]
    assert (f"--speculative-algorithm EAGLE --speculative-num-steps {k} --speculative-eagle-topk 1 "
            f"--speculative-num-draft-tokens {k + 1}") in mtp
    assert "--speculative-draft-model-path" not in mtp          # MTP layers ship in the checkpoint
    eagle = _cmds(cat, "sglang", Speculative("eagle", 2))[0]
    assert f"--speculative-algorithm EAGLE3 --speculative-draft-model-path '{DRAFT_PLACEHOLDER}'" in eagle
    assert "--speculative-num-draft-tokens 3" in eagle           # 2 drafts + the verified token
    assert "--speculative-algorithm NGRAM --speculative-num-draft-tokens 5" in \
        _cmds(cat, "sglang", Speculative("ngram", 4))[0]


def test_trtllm_speculative_config_in_options_file(cat):
    mtp = _cmds(cat, "trtllm", Speculative("mtp", 3))[0]
    assert "'speculative_config: {decoding_type: MTP, num_nextn_predict_layers: 3}'" in mtp
    assert "--extra_llm_api_options extra-llm-api.yaml" in mtp
    ngram = _cmds(cat, "trtllm", Speculative("ngram", 2))[0]
    assert "decoding_type: NGram, max_draft_len: 2" in ngram and "'disable_overlap_scheduler: true'" in ngram
    assert f"speculative_model_dir: {DRAFT_PLACEHOLDER}" in _cmds(cat, "trtllm", Speculative("eagle", 2))[0]


def test_no_speculative_options_without_speculative_decoding(cat):
    for engine in ("vllm", "sglang", "trtllm"):
        assert "speculative" not in " ".join(_cmds(cat, engine, None))


def test_per_group_running_cap_rounds_up(cat):
    # 626 users over 8 attention DP groups: ceil(626 / 8) = 79 per group (79 × 8 = 632 ≥ 626; 78 × 8 = 624 < 626)
    dp8 = Layout(tp=8, dp=8, ep=8)
    assert "--max-num-seqs 79 " in _cmds(cat, "vllm", None, dp8, 626)[0]
    assert "--max_batch_size 79 " in _cmds(cat, "trtllm", None, dp8, 626)[0]
    assert "--max-running-requests 626 " in _cmds(cat, "sglang", None, dp8, 626)[0]   # SGLang takes the total
    assert "--max-num-seqs 78 " in _cmds(cat, "vllm", None, dp8, 624)[0]              # exact division unchanged


def test_estimate_cli_launch_carries_mtp(cat):
    from click.testing import CliRunner

    from cli import main

    out = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8",
                                    "--engine", "sglang", "--speculative", "mtp", "--spec-tokens", "2",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    launch = json.loads(out.output)["launch"]
    assert "--speculative-num-steps 2 --speculative-eagle-topk 1 --speculative-num-draft-tokens 3" in launch[0]


def test_ttft_breakdown_missing_fit_file_exits_2(capsys):
    from benchmarks import ttft_breakdown

    with pytest.raises(SystemExit) as stop:
        ttft_breakdown.main(["--fit", "/nonexistent.csv"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "/nonexistent.csv" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_open_loop_plan_caps_by_sequences_not_requests_per_hour():
    from types import SimpleNamespace as NS

    from optimizer.launch import _running_cap

    settings = NS(max_batch=256)
    unit = NS(capacity=NS(users=7218, memory_users=2232, fit=NS(settings=settings)), layout=Layout(tp=1, dp=8, ep=8),
              role="aggregated")
    closed, rate = NS(request_rate=None), NS(request_rate=2.0)
    assert _running_cap(unit, closed) == 7218                 # closed loop: the users per replica
    assert _running_cap(unit, rate) == 256 * 8                # 256 per group × 8 = 2,048 < the 2,232 the KV holds
    settings.max_batch = 1024
    assert _running_cap(unit, rate) == 2232                   # 1,024 × 8 = 8,192 > 2,232: the KV cache bounds it
    unit.role = "decode"
    assert _running_cap(unit, rate) == 7218                   # disaggregated pools keep their own batch

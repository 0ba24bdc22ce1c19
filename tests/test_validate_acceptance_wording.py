"""How `hwplan validate` reads the acceptance a speculative row's notes state (optimizer/validate.py `_speculative`):
the wordings engines and write-ups use, and figures no run can have, which set the row aside (found by tester5)."""

from __future__ import annotations

import csv

import pytest

from optimizer import validate

_ROW = dict(model="DeepSeek-V3", precision="FP8", hardware="H100-SXM-80GB", num_gpus="32", num_nodes="4",
            engine="SGLang", tp="32", pp="1", ep="32", input_len="2000", output_len="100", value="5000",
            concurrency_or_batch="64", metric="decode_tok_s_per_gpu")


def _read(tmp_path, catalog, notes: str):
    path = tmp_path / "acc-fit.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(validate.COLUMNS) + ["ep"])
        w.writeheader()
        w.writerow({**_ROW, "id": "A-1", "notes": "decode pool, DP attention, " + notes})
    return validate.read_cases(path, catalog)


@pytest.mark.parametrize("notes", [
    "MTP with 2 draft tokens, accept len: 2.18",          # SGLang's log line: "accept len: 2.18"
    "MTP with 2 draft tokens, accept length 2.18",
    "MTP with 2 draft tokens, mean acceptance length: 2.18",
    "MTP with 2 draft tokens, acceptance length = 2.18",
    "MTP with 2 draft tokens, accepted length of 2.18",
])
def test_the_wordings_of_an_acceptance_length_are_read(tmp_path, catalog, notes):
    (case,), skipped = _read(tmp_path, catalog, notes)
    assert not skipped
    # 2 drafts, E = 1 + a + a² = 2.18 → a = (−1 + √(1 + 4 · 1.18)) / 2 = 0.6958…
    assert case.speculative.acceptance == pytest.approx((-1 + (1 + 4 * 1.18) ** 0.5) / 2, abs=1e-9)


def test_an_acceptance_length_above_the_drafts_plus_one_sets_the_row_aside(tmp_path, catalog):
    # 2 drafts and the verified token: at most 3 tokens a step; 5 was scored as if 3 (acceptance 1), silently.
    cases, skipped = _read(tmp_path, catalog, "MTP with 2 draft tokens, mean acceptance length 5")
    assert not cases
    (row, why), = skipped
    assert row == "A-1" and "acceptance length of 5" in why and "at most 3" in why


def test_an_acceptance_length_below_one_is_named_not_an_unreadable_value(tmp_path, catalog):
    cases, skipped = _read(tmp_path, catalog, "MTP with 2 draft tokens, mean acceptance length 0.5")
    assert not cases
    (_, why), = skipped
    assert "unreadable value" not in why and "acceptance length of 0.5" in why and "below 1" in why


def test_an_acceptance_rate_is_not_silently_replaced_by_the_default(tmp_path, catalog):
    # A per-draft acceptance rate (vLLM's "Draft acceptance rate") is not the mean acceptance length validate
    # reads; the row ran with the method's default acceptance before.
    cases, skipped = _read(tmp_path, catalog, "MTP with 2 draft tokens, draft acceptance rate 70%")
    assert not cases
    (_, why), = skipped
    assert "acceptance rate" in why and "acceptance length" in why


@pytest.mark.parametrize("notes, tokens", [("MTP, 0 draft tokens, acceptance length 1.5", 0),
                                           ("MTP, 99999 draft tokens", 99999)])
def test_a_draft_length_out_of_range_is_named_as_the_notes_state_it(tmp_path, catalog, notes, tokens):
    # The reason named estimate's flag ("--speculative: spec tokens = 0") or an acceptance length "at most 1".
    cases, skipped = _read(tmp_path, catalog, notes)
    assert not cases
    (_, why), = skipped
    assert f"{tokens} draft tokens" in why and "--speculative" not in why and "between 1 and 16" in why


@pytest.mark.parametrize("notes", [
    "without MTP",
    "MTP disabled",
    "baseline with MTP off",
    "the checkpoint's 1 MTP layer is not loaded (speculative decoding off)",
    "speculative decoding disabled",
])
def test_a_run_that_says_its_speculation_was_off_is_a_plain_run(tmp_path, catalog, notes):
    # These were set aside as 'mtp speculative decoding without a stated number of draft tokens', or (the last but
    # one, naming '1 MTP layer') scored as an MTP run with one draft token.
    (case,), skipped = _read(tmp_path, catalog, notes)
    assert not skipped and case.speculative is None


def test_a_memory_row_is_not_set_aside_for_its_acceptance(tmp_path, catalog):
    # A KV-cache row's figure does not depend on how often drafts are accepted: its acceptance rate, or a length
    # above its drafts plus one, does not set it aside.
    path = tmp_path / "mem-test.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(validate.COLUMNS))
        w.writeheader()
        for i, notes in enumerate(["EAGLE-3, accept rate 0.8", "EAGLE-3, 1 draft token, acceptance length 3"]):
            w.writerow({"id": f"M-{i}", "model": "Llama-3.1-8B-Instruct", "precision": "BF16", "hardware": "H100-80GB",
                        "num_gpus": "1", "num_nodes": "1", "engine": "vLLM", "tp": "1", "pp": "1",
                        "input_len": "MTBench", "output_len": "n/a", "concurrency_or_batch": "startup",
                        "metric": "kv_cache_tokens", "value": "410128", "notes": notes})
    cases, skipped = validate.read_cases(path, catalog)
    assert not skipped and [c.speculative.method for c in cases] == ["eagle", "eagle"]

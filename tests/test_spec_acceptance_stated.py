"""The acceptance a speculative plan or estimate prints can be given back: MTP without --spec-acceptance takes its
tokens per step from the published acceptance lengths, in which later drafts are accepted less often than the
first, so the 0.92 it prints is the first draft's, not each draft's (found by tester5)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from optimizer.render import workload_text

_ARGS = ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8", "--speculative", "mtp",
         "--spec-tokens", "3", "--concurrency", "8"]


def _estimate(*extra: str) -> str:
    got = CliRunner().invoke(main, [*_ARGS, *extra])
    assert got.exit_code == 0, got.output
    return got.output


def test_the_default_mtp_acceptance_is_worded_as_the_first_drafts():
    text = " ".join(_estimate().split())
    # TensorRT-LLM's table: 2.82 tokens per step with 3 chained MTP drafts. Each draft accepted with 0.92 would give
    # 1 + 0.92 + 0.92² + 0.92³ = 3.545: "acceptance 0.92: 2.82 tokens per step" cannot be given back as such.
    assert "acceptance 0.92: 2.82" not in text
    assert "first draft" in text and "2.82 tokens per step" in text
    data = json.loads(_estimate("--format", "json"))["speculative"]
    assert data["acceptance_of"] == "first draft" and data["tokens_per_step"] == pytest.approx(2.82)


def test_a_stated_acceptance_is_each_drafts():
    text = " ".join(_estimate("--spec-acceptance", "0.92").split())
    assert "acceptance 0.92: 3.54 tokens per step" in text and "first draft" not in text   # 3.545 to 2 places
    data = json.loads(_estimate("--spec-acceptance", "0.92", "--format", "json"))["speculative"]
    assert data["acceptance_of"] == "each draft" and data["tokens_per_step"] == pytest.approx(3.545, abs=1e-3)


def test_a_plans_workload_words_it_so():
    base = {"input_tokens": 2000, "output_tokens": 1000, "arrivals": "random"}
    first = workload_text({**base, "speculative": {"method": "mtp", "tokens": 3, "acceptance": 0.92,
                                                   "tokens_per_step": 2.82, "acceptance_of": "first draft"}})
    assert "mtp, 3 draft tokens, first draft accepted 0.92 (published MTP acceptance lengths): 2.82 tokens per step" \
        in first
    each = workload_text({**base, "speculative": {"method": "mtp", "tokens": 3, "acceptance": 0.92,
                                                  "tokens_per_step": 3.545, "acceptance_of": "each draft"}})
    assert "mtp, 3 draft tokens, acceptance 0.92: 3.545 tokens per step" in each

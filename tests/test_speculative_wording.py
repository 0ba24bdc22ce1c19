"""How estimates and plans word speculative decoding: the draft length in the singular for one token, and the
`--speculative` help naming the rule (the model's MTP modules), not a fixed list of models."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main

ARGS = ["estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "8", "--speculative", "mtp"]


@pytest.mark.parametrize("k, words", [(1, "mtp, 1 draft token, acceptance"), (3, "mtp, 3 draft tokens, first draft accepted")])
def test_the_draft_length_reads_in_the_right_number(k, words):
    result = CliRunner().invoke(main, [*ARGS, "--spec-tokens", str(k)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert words in " ".join(result.output.split())


def test_the_help_names_the_rule_not_a_list_of_models():
    """Any model whose config.json sets num_nextn_predict_layers may run MTP (qwen3.5-397b-a17b runs it too)."""
    out = " ".join(CliRunner().invoke(main, ["estimate", "--help"], terminal_width=200).output.split())
    assert "num_nextn_predict_layers" in out and "GLM-4.5/4.6 only" not in out
    qwen = [a if a != "deepseek-r1" else "qwen3.5-397b-a17b" for a in ARGS]
    assert CliRunner().invoke(main, qwen).exit_code == 0


@pytest.mark.parametrize("flag, value", [("--spec-tokens", "17"), ("--spec-tokens", "0"), ("--spec-acceptance", "0"),
                                         ("--spec-acceptance", "1.5"), ("--spec-acceptance", "nan")])
def test_an_out_of_range_draft_names_its_flag(flag, value):
    """One paragraph naming the flag the user typed (not '--speculative'), exit 2, no traceback."""
    result = CliRunner().invoke(main, [*ARGS, flag, value])
    assert result.exit_code == 2
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"Error: {flag} = {value}:") and "Traceback" not in result.output


def test_the_html_report_states_the_workload_the_plan_assumed(catalog):
    """The report's facts word the workload as the table does: a plan's per-user speed with EAGLE-3 drafts, or its
    TTFT bound on the mean, means little to a reader who is not told so."""
    from optimizer import problem_from_fields
    from optimizer.report import html_report

    # One accelerator keeps the report's solves (plan, shortlist, per vendor) short; the facts do not depend on it.
    problem = problem_from_fields({"model": "llama-3.1-70b", "prices": "street-usd-2025",
                                   "constraints": {"accelerators": ["h100-sxm"]},
                                   "workload": {"concurrent_users": 20, "max_ttft_s": 5, "ttft_percentile": 50,
                                                "speculative": {"method": "eagle", "tokens": 2}}})
    facts = html_report(catalog, problem).split("<ul>", 1)[1].split("</ul>", 1)[0]
    assert "Workload: 20 concurrent users;" in facts
    assert "speculative decoding eagle, 2 draft tokens, acceptance 0.7" in facts and "TTFT mean ≤ 5 s" in facts

"""benchmarks/vs_aiconfigurator.py --test-set: the questions it adds come from the test files by rule, in the
metric the row measured (TPOT turned into tokens/s per user), and hwplan answers them as `hwplan validate` does."""

from __future__ import annotations

import pytest

from benchmarks import vs_aiconfigurator as peer
from optimizer.validate import file_role, measurement_files, predict, read_cases


def test_test_set_questions_are_every_covered_test_row_and_no_fit_row(catalog):
    got = {q[0]: (q, case) for q, case in peer.test_set_questions()}
    fit_ids = peer._fit_row_ids()
    assert got and not set(got) & fit_ids
    expected = set()
    for path in measurement_files():
        if file_role(path) != "test":
            continue
        for c in read_cases(path, catalog)[0]:
            if c.metric in ("tok_s_per_user", "tpot_ms", "output_tok_s_total") and isinstance(c.concurrency, int) \
                    and c.speculative is None and c.accelerator in peer.TEST_SYSTEMS and c.model in peer.TEST_MODELS:
                expected.add(c.id)
    assert set(got) == expected
    # A TPOT row is asked as tokens/s per user: 1000 / TPOT ms.
    tpot = next((q, c) for q, c in got.values() if c.metric == "tpot_ms")
    assert tpot[0][-2] == "tok_s_per_user" and tpot[0][-1] == pytest.approx(1000 / tpot[1].measured)
    # The layout asked is the row's (attention TP, attention DP, EP, PP at positions 11..14).
    q, c = got["LAY-001"]
    assert (q[11], q[12], q[13], q[14], q[15], q[16]) == (16, 1, 1, 1, 16, 2)


def test_hwplan_answers_a_test_row_as_validate_does(catalog):
    q, case = next((q, c) for q, c in peer.test_set_questions() if q[0] == "LAY-001")
    value, _ = predict(case, catalog)
    assert peer.run_hwplan_case(case).tok_s_per_user == pytest.approx(value)


def _row(qid, fitted, kind, hw, aic):
    return {"id": qid, "hwplan_fitted": fitted, "set": kind, "hwplan_ratio": hw, "aiconfigurator_ratio": aic}


def test_summary_reports_the_union_of_unfitted_questions_and_its_two_parts():
    """Both tools' median |ratio − 1| over: every question both answer; those hwplan was not fitted on (original
    and test-set alike); and each part. A question one tool does not answer is in no subset."""
    rows = [_row("IX-001", True, "original", 1.02, 0.90),       # fitted: only in "all"
            _row("LAY-001", False, "original", 1.25, 0.80),
            _row("LAY-003", False, "original", 1.70, 0.95),
            _row("T-1", False, "test", 0.90, 1.40),
            _row("T-2", False, "test", 1.10, 1.20),
            _row("T-3", False, "test", 0.60, None)]             # AIConfigurator gave no answer
    s = peer.summarize(rows)
    assert s["questions"] == 6
    # all: hwplan |errors| 0.02, 0.25, 0.70, 0.10, 0.10 -> median 0.10; AIC 0.10, 0.20, 0.05, 0.40, 0.20 -> 0.20.
    assert s["all"]["questions"] == 5
    assert s["all"]["hwplan_median_abs_error"] == pytest.approx(0.10)
    assert s["all"]["aiconfigurator_median_abs_error"] == pytest.approx(0.20)
    # union of unfitted: hwplan 0.25, 0.70, 0.10, 0.10 -> (0.10 + 0.25) / 2; AIC 0.20, 0.05, 0.40, 0.20 -> 0.20.
    assert s["not_fitted"]["questions"] == 4
    assert s["not_fitted"]["hwplan_median_abs_error"] == pytest.approx(0.175)
    assert s["not_fitted"]["aiconfigurator_median_abs_error"] == pytest.approx(0.20)
    # original part: hwplan 0.25, 0.70 -> 0.475; AIC 0.20, 0.05 -> 0.125. Test part: 0.10, 0.10; 0.40, 0.20.
    assert s["not_fitted_original"]["hwplan_median_abs_error"] == pytest.approx(0.475)
    assert s["not_fitted_original"]["aiconfigurator_median_abs_error"] == pytest.approx(0.125)
    assert s["not_fitted_test"]["hwplan_median_abs_error"] == pytest.approx(0.10)
    assert s["not_fitted_test"]["aiconfigurator_median_abs_error"] == pytest.approx(0.30)
    lines = peer.summary_lines(s)
    assert len(lines) == 4 and "17.5%" in lines[1] and "20.0%" in lines[1]


def test_summary_leaves_out_an_empty_subset():
    s = peer.summarize([_row("IX-001", True, "original", 1.1, 0.9)])
    assert s["not_fitted"] == {"questions": 0, "hwplan_median_abs_error": None, "aiconfigurator_median_abs_error": None}
    assert len(peer.summary_lines(s)) == 1

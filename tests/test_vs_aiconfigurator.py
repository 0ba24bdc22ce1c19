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

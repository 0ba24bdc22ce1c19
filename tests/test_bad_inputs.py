"""The bad-input corpus: every case exits 2 with a one-paragraph message naming what is wrong.

Cases live in tests/bad_inputs/cases.yaml; files named in them are in the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli

HERE = Path(__file__).parent / "bad_inputs"
CASES = yaml.safe_load((HERE / "cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c["args"][:3]) for c in CASES])
def test_bad_input_is_explained(case, tmp_path):
    out = tmp_path / "result.txt"
    cwd = os.getcwd()
    os.chdir(HERE)
    try:
        result = CliRunner().invoke(cli.main, [*case["args"], "-o", str(out)])
    finally:
        os.chdir(cwd)
    text = result.output
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in case["expect"]:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    lines = [l for l in text.strip().splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one paragraph, got {lines}"
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_python_tags_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f'model: !!python/object/apply:os.system ["touch {marker}"]\nworkload: {{concurrent_users: 1}}\n')
    result = CliRunner().invoke(cli.main, ["solve", str(evil)])
    assert result.exit_code == 2 and not marker.exists()

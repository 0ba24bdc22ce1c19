"""The caveats' introduction says where a speculative plan's band comes from: the lines' bands are then the published
speculative runs' (of that family, else of any family: 'with speculative decoding, any hardware family'), which
'of that hardware family' alone contradicted (found by tester5)."""

from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main

PROBLEM = "deepseek-r1-seed-nvidia"
SAID = "with speculative decoding, of the published speculative runs"


def _intro(tmp_path, name: str, *flags: str) -> str:
    out = tmp_path / ("spec" if flags else "plain") / name
    out.parent.mkdir(exist_ok=True)
    if name.endswith(".html"):
        args = ["report", PROBLEM, *flags, "-o", str(out)]
    else:
        args = ["solve", PROBLEM, *flags, "--export", str(out)]
    got = CliRunner().invoke(main, args)
    assert got.exit_code == 0, got.output
    if name.endswith(".xlsx"):
        return " ".join(str(c) for c in next(openpyxl.load_workbook(out)["Caveats"].iter_rows(values_only=True)))
    text = out.read_text()
    return " ".join(text[text.index("Caveats"):].split())[:600]


@pytest.mark.parametrize("name", ["x.md", "x.xlsx", "r.html"])
def test_a_speculative_plans_caveats_say_where_its_band_comes_from(tmp_path, name):
    assert SAID in _intro(tmp_path, name, "--speculative", "mtp")
    assert "speculative" not in _intro(tmp_path, name)     # a plan without speculation is unchanged

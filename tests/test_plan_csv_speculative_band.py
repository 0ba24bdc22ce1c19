"""A plan's CSV (`--format csv`) says whether a line's error band is the speculative runs': the median alone, 0.284
for an MTP plan on Hopper against 0.229 without, did not say which band it was (found by tester5)."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from cli import main


def _first_row(*flags: str) -> dict:
    got = CliRunner().invoke(main, ["solve", "deepseek-r1-seed-nvidia", *flags, "--format", "csv"])
    assert got.exit_code == 0, got.output
    return next(csv.DictReader(io.StringIO(got.stdout)))


def test_the_csv_says_which_band_a_line_has():
    assert _first_row("--speculative", "mtp")["speed_model_error_speculative"] == "True"
    assert _first_row()["speed_model_error_speculative"] == "False"

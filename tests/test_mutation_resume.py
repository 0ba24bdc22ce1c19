"""benchmarks/mutation.py `--resume`: the kept sample's modules come from its mutants' names, so a sizing sample
is checked against optimizer/sizing.py (before, the default module 'check' was checked and printed)."""

from __future__ import annotations

from benchmarks import mutation


def test_resume_takes_the_modules_from_the_sample(tmp_path, capsys):
    (tmp_path / "optimizer").mkdir()
    (tmp_path / "optimizer" / "sizing.py").write_text("# not today's sizing.py\n")
    (tmp_path / "sample.txt").write_text("optimizer.sizing.x_weight_bytes__mutmut_9\noptimizer.sizing.x_ffn_sizes__mutmut_1\n")
    assert mutation._resume(tmp_path, [], 1) == 2
    assert "optimizer/sizing.py has changed since this sample was drawn" in capsys.readouterr().err


def test_resume_checks_the_modules_asked(tmp_path, capsys):
    (tmp_path / "optimizer").mkdir()
    (tmp_path / "optimizer" / "speed.py").write_text("# not today's speed.py\n")
    (tmp_path / "sample.txt").write_text("optimizer.sizing.x_weight_bytes__mutmut_9\n")
    assert mutation._resume(tmp_path, ["speed"], 1) == 2
    assert "optimizer/speed.py has changed" in capsys.readouterr().err

"""Measurement files by role: fit and test never share a publisher; validate reports each set apart."""

from __future__ import annotations

import csv


from benchmarks import calibrate
from optimizer.validate import (bundled_measurements, file_role, measurement_files, source_publisher,
                                validate_files)


def _publishers(path) -> set[str]:
    with open(path, newline="") as fh:
        return {source_publisher(row["source"]) for row in csv.DictReader(fh)}


def test_publisher_of_a_source():
    assert source_publisher("https://github.com/NVIDIA/TensorRT-LLM/blob/x/perf.md") == "nvidia"
    assert source_publisher("https://nvidia.github.io/TensorRT-LLM/perf.html") == "nvidia"
    assert source_publisher("https://docs.nvidia.com/nim/benchmarks") == "nvidia"
    assert source_publisher("https://www.intel.com/content/www/us/en/gaudi.html") == "intel"
    assert source_publisher("https://arxiv.org/abs/2506.12708 table 3") == "arxiv:2506.12708"


def test_roles_come_from_the_file_name():
    assert [file_role(p) for p in ("a/measurements-fit.csv", "b/x-test.csv", "m-memory.csv", "mine.csv")] == \
        ["fit", "test", "memory", "other"]
    roles = {file_role(p) for p in bundled_measurements()}
    assert {"fit", "test"} <= roles


def test_fit_and_test_files_share_no_publisher():
    files = measurement_files()
    fit = set().union(*(_publishers(p) for p in files if file_role(p) == "fit"))
    test = set().union(*(_publishers(p) for p in files if file_role(p) == "test"))
    assert fit and test
    assert not fit & test


def test_validate_reports_each_set_apart(catalog, tmp_path):
    src = next(p for p in bundled_measurements() if file_role(p) == "fit")
    with open(src, newline="") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader)[:6], reader.fieldnames
    for name in ("mine-fit.csv", "mine-test.csv"):
        with open(tmp_path / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    report = validate_files(catalog, [tmp_path / "mine-fit.csv", tmp_path / "mine-test.csv"])
    assert report.roles() == ["fit", "test"]
    by_set = {s["set"]: s for s in report.summary() if s["group"] == "speed (all)"}
    # The same rows in both files: the same error in both sets, counted apart.
    assert by_set["fit"]["rows"] == by_set["test"]["rows"] == len(report.errors(role="fit"))
    assert by_set["fit"]["median_abs_error"] == by_set["test"]["median_abs_error"]
    frame = report.to_frame()
    assert sorted(frame["set"].unique()) == ["fit", "test"] and len(frame) == len(report.results)


def test_calibrate_refuses_to_fit_on_a_test_file(capsys):
    test_file = next(str(p) for p in bundled_measurements() if file_role(p) == "test")
    assert calibrate.main(["--files", test_file, "--folds", "0"]) == 2
    assert "never fitted on" in capsys.readouterr().err


def test_writing_the_fit_twice_keeps_each_familys_reason_once(catalog, tmp_path, monkeypatch):
    target = tmp_path / "engines.yaml"
    target.write_text(calibrate.ENGINES_YAML.read_text())
    monkeypatch.setattr(calibrate, "ENGINES_YAML", target)
    params = calibrate.start_params(catalog)
    params.family_scale, params.family_layer_us = {"cdna3": 0.9}, {"cdna3": 100.0}
    calibrate.write_engines(params, ["measurements-fit.csv"], 90)
    once = target.read_text()
    calibrate.write_engines(params, ["measurements-fit.csv"], 90)
    assert target.read_text() == once
    line = next(x for x in once.splitlines() if x.strip().startswith("cdna3:") and "MI300-series" in x)
    assert line.count("the test set (measurements-test.csv) is not fitted on") == 1
    assert "moe_layer_overhead_us:" in line

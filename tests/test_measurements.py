"""Measurement files by role: fit and test never share a publisher; validate reports each set apart."""

from __future__ import annotations

import csv

import pytest

from benchmarks import calibrate
from catalog.schema import EngineEfficiency
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


@pytest.fixture
def engines_copy(tmp_path, monkeypatch):
    """calibrate writes to a copy of engines.yaml: its path."""
    target = tmp_path / "engines.yaml"
    target.write_text(calibrate.ENGINES_YAML.read_text())
    monkeypatch.setattr(calibrate, "ENGINES_YAML", target)
    return target


def test_writing_the_fit_twice_keeps_each_familys_reason_once(catalog, engines_copy):
    target = engines_copy
    params = calibrate.start_params(catalog)
    params.family_scale, params.family_layer_us = {"cdna3": 0.9}, {"cdna3": 100.0}
    calibrate.write_engines(params, ["measurements-fit.csv"], 90)
    once = target.read_text()
    calibrate.write_engines(params, ["measurements-fit.csv"], 90)
    assert target.read_text() == once
    line = next(x for x in once.splitlines() if x.strip().startswith("cdna3:") and "MI300-series" in x)
    assert line.count("the test set (measurements-test.csv) is not fitted on") == 1
    assert "moe_layer_overhead_us:" in line


def test_an_engines_own_terms_on_a_family_stack_on_the_familys(catalog):
    """(engine, family) terms: the bandwidth, compute and prefill factors are the engine's default × the family's
    scale × the pair's scale; the MoE-layer time is the default's plus the pair's; other engines on that family
    keep the family's terms alone."""
    params = calibrate.start_params(catalog)
    params.family_scale, params.family_layer_us = {"cpu": 0.8}, {"cpu": 300.0}
    params.pair_scale, params.pair_moe_us = {("llama.cpp", "cpu"): 1.5}, {("llama.cpp", "cpu"): 1000.0}
    base = params.engine["llama.cpp"]
    pair = calibrate._efficiency(params, "llama.cpp", "cpu")
    assert abs(pair.bandwidth - min(0.98, base["bandwidth"] * 0.8 * 1.5)) < 1e-12
    assert abs(pair.prefill - base["prefill"] * 0.8 * 1.5) < 1e-12
    assert pair.moe_layer_overhead_us == base["moe_layer_overhead_us"] + 1000.0
    assert pair.layer_overhead_us == base["layer_overhead_us"] + 300.0
    other = calibrate._efficiency(params, "sglang", "cpu")
    sg = params.engine["sglang"]
    assert abs(other.bandwidth - sg["bandwidth"] * 0.8) < 1e-12
    assert other.moe_layer_overhead_us == sg["moe_layer_overhead_us"]
    assert params.families() == ["cpu"]


def test_pair_terms_only_for_an_engine_with_enough_rows_on_a_cpu_family_shared_with_another(catalog):
    """The fit set's CPU rows: llama.cpp has 5 (LMSYS-003, -017, -018, KTR-003, LCPP-003), SGLang 3 (LMSYS-004,
    -005, -016). With 4 rows needed, llama.cpp gets terms of its own on CPU and SGLang does not; with 6 needed,
    neither; GPU families never do (PAIR_FAMILIES)."""
    fit_files = [str(f) for f in measurement_files() if file_role(f) == "fit"]
    cases = calibrate.speed_cases(fit_files, catalog)
    cpu = [c for c in cases if calibrate.family_of(c, catalog) == "cpu"]
    assert sorted(c.engine for c in cpu).count("llama.cpp") == 5 and len(cpu) == 8
    p = calibrate._start(cases, catalog, min_rows=4)
    assert set(p.pair_scale) == set(p.pair_moe_us) == {("llama.cpp", "cpu")}
    assert set(calibrate._start(cases, catalog, min_rows=6).pair_scale) == set()


def test_a_pairs_knobs_move_only_that_pair(catalog):
    params = calibrate.start_params(catalog)
    params.family_scale, params.family_layer_us = {"cpu": 1.0}, {"cpu": 0.0}
    params.pair_scale, params.pair_moe_us = {("llama.cpp", "cpu"): 1.0}, {("llama.cpp", "cpu"): 0.0}
    q = calibrate.nudged(params, "pair_scale", ("llama.cpp", "cpu"), None, 1.25)
    assert q.pair_scale[("llama.cpp", "cpu")] == 1.25 and params.pair_scale[("llama.cpp", "cpu")] == 1.0
    # An unset MoE time starts from 50 µs, then steps: 50 × 2 = 100.
    q = calibrate.nudged(params, "pair_moe", ("llama.cpp", "cpu"), None, 2.0)
    assert q.pair_moe_us[("llama.cpp", "cpu")] == 100.0 and q.family_scale == {"cpu": 1.0}
    q = calibrate.nudged(q, "pair_scale", ("llama.cpp", "cpu"), None, 100.0)
    assert q.pair_scale[("llama.cpp", "cpu")] == calibrate.BOUNDS["scale"][1]


def test_writing_an_engines_own_family_terms(catalog, engines_copy):
    """write_engines puts the pair's MoE-layer time on that engine's family line only."""
    target = engines_copy
    params = calibrate.start_params(catalog)
    params.family_scale, params.family_layer_us = {"cpu": 1.0}, {"cpu": 100.0}
    params.pair_scale, params.pair_moe_us = {("llama.cpp", "cpu"): 1.0}, {("llama.cpp", "cpu"): 950.0}
    calibrate.write_engines(params, ["measurements-fit.csv"], 93)
    text = target.read_text()
    llama = text[text.index("- id: llama.cpp"):]
    line = next(x for x in llama.splitlines() if x.strip().startswith("cpu:"))
    moe = params.engine["llama.cpp"]["moe_layer_overhead_us"] + 950
    assert f"moe_layer_overhead_us: {moe:.0f}," in line
    sglang = text[text.index("- id: sglang"):text.index("- id: trtllm")]
    sg_line = next(x for x in sglang.splitlines() if x.strip().startswith("cpu:"))
    assert f"moe_layer_overhead_us: {params.engine['sglang']['moe_layer_overhead_us']:.0f}," in sg_line


def test_a_refit_starts_from_the_family_and_pair_terms_engines_yaml_has(catalog):
    """Warm start: SGLang (no terms of its own on CPU) gives the CPU family's scale, 0.6 / 0.5 = 1.2, and extra
    per-layer time, 320 − 20 = 300 µs; llama.cpp's own CPU terms are what is left of its CPU map: scale
    0.36 / (0.4 × 1.2) = 0.75, MoE-layer time 1050 − 50 = 1000 µs. Cold (as cross-validation runs): 1 and 0."""
    import dataclasses

    def eff(bw, layer, moe):
        return EngineEfficiency(bandwidth=bw, compute=0.5, prefill=0.5, step_overhead_ms=1.0, layer_overhead_us=layer,
                                moe_layer_overhead_us=moe, source="test")

    maps = {"sglang": {"default": eff(0.5, 20, 50), "cpu": eff(0.6, 320, 50)},
            "llama.cpp": {"default": eff(0.4, 20, 50), "cpu": eff(0.36, 320, 1050)}}
    engines = {e: (x.model_copy(update={"efficiency": maps[e]}) if e in maps else x) for e, x in catalog.engines.items()}
    cat = dataclasses.replace(catalog, engines=engines)
    fit_files = [str(f) for f in measurement_files() if file_role(f) == "fit"]
    cases = calibrate.speed_cases(fit_files, cat)
    warm = calibrate._start(cases, cat, min_rows=4)
    assert abs(warm.family_scale["cpu"] - 1.2) < 1e-9 and abs(warm.family_layer_us["cpu"] - 300) < 1e-9
    assert abs(warm.pair_scale[("llama.cpp", "cpu")] - 0.75) < 1e-9
    assert abs(warm.pair_moe_us[("llama.cpp", "cpu")] - 1000) < 1e-9
    cold = calibrate._start(cases, cat, min_rows=4, warm=False)
    assert cold.family_scale["cpu"] == 1.0 and cold.family_layer_us["cpu"] == 0.0
    assert cold.pair_scale[("llama.cpp", "cpu")] == 1.0 and cold.pair_moe_us[("llama.cpp", "cpu")] == 0.0


def _row_and_variant(catalog, role: str, row_id: str, tmp_path, change):
    """The bundled `role` file's row `row_id` and a copy of it with the fields `change(row)` gives, the two written
    alone to a file of that role; returns (row, copy, the cases read back by id)."""
    from optimizer.validate import read_cases

    src = next(p for p in bundled_measurements() if file_role(p) == role)
    with open(src, newline="") as fh:
        reader = csv.DictReader(fh)
        row, fields = next(r for r in reader if r["id"] == row_id), reader.fieldnames
    copy = dict(row, **change(row))
    path = tmp_path / f"two-{role}.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows([row, copy])
    cases, _ = read_cases(path, catalog)
    return row, copy, {c.id: c for c in cases}


def test_trtllm_bench_per_user_speed_counts_the_whole_request(catalog, tmp_path):
    """trtllm-bench prints a request's output tokens over its whole latency (first token included) as its per-user
    speed; other clients print 1 / TPOT. The same row read both ways: with trtllm-bench named in its notes the
    prediction is O / (TTFT + (O − 1) / speed), where speed and TTFT are the estimate's, else the speed itself."""
    from optimizer.validate import predict

    row, other, cases = _row_and_variant(catalog, "fit", "TRTR1-004", tmp_path, lambda row: {
        "id": "TRTR1-004-other-client", "notes": row["notes"].replace("trtllm-bench", "a client")})
    assert "trtllm-bench" in row["notes"] and row["metric"] == "tok_s_per_user"
    with_context, plain = cases[row["id"]], cases[other["id"]]
    assert with_context.per_user_with_context and not plain.per_user_with_context
    got, est = predict(with_context, catalog)
    o = with_context.output_tokens
    assert o == 2048 and est.ttft_s > 0
    assert got == pytest.approx(o / (est.ttft_s + (o - 1) / est.decode_tokens_per_s_per_user), rel=1e-12)
    assert predict(plain, catalog)[0] == pytest.approx(est.decode_tokens_per_s_per_user, rel=1e-12)
    assert got < est.decode_tokens_per_s_per_user


def test_memory_rows_load_the_draft_their_notes_name(catalog, tmp_path):
    """A start-up row of a server with an EAGLE head loads it and gives its layer KV blocks (one draft token
    assumed: the memory does not depend on it); a row whose notes say it ran without speculative decoding loads
    no MTP module even when its notes mention one. VLLM-001 (vLLM with an EAGLE head) is the test file's."""
    row, plain, cases = _row_and_variant(catalog, "test", "VLLM-001", tmp_path, lambda row: {
        "id": "VLLM-001-plain", "model": "Llama-3.1-8B-Instruct",
        "notes": "vLLM startup log, no speculative decoding; the model ships no MTP module"})
    eagle, none = cases[row["id"]], cases[plain["id"]]
    assert eagle.speculative.method == "eagle" and eagle.speculative.tokens == 1
    assert none.speculative is None

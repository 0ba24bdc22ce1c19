"""`hwplan validate` rows measured under Poisson arrivals at a request rate (`request_rate` column, as `vllm bench
serve --request-rate` sends them): the replica's open loop, through estimate's own request_rate."""

from __future__ import annotations

import pytest

from catalog import load_catalog
from optimizer import validate
from optimizer.estimator import estimate

HEADER = ("id,model,precision,hardware,num_gpus,num_nodes,engine,engine_version,tp,pp,ep,input_len,output_len,"
          "concurrency_or_batch,metric,value,unit,source,date,notes,request_rate")
ROW = ("R-{n},Llama-3.1-8B-Instruct,BF16,H100-SXM-80GB,{gpus},1,vLLM,0.10.0,1,1,1,1000,200,{conc},{metric},{value},ms,"
       "https://example.org/run,2025-08,vllm bench serve,{rate}")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _cases(tmp_path, *rows):
    path = tmp_path / "m.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return validate.read_cases(path, load_catalog())


def test_a_rate_row_runs_the_replicas_open_loop(tmp_path, catalog):
    # 8 GPUs at TP1: 8 replicas, so 16 requests/s over the row is 2 per replica.
    cases, skipped = _cases(tmp_path, ROW.format(n=1, gpus=8, conc="", metric="ttft_median_ms", value=40, rate=16))
    assert not skipped
    case = cases[0]
    assert (case.replicas, case.request_rate, case.arrivals, case.benchmark) == (8, 2.0, "random", None)
    predicted, est = validate.predict(case, catalog)
    alone = estimate(catalog, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, precision="bf16", engine="vllm",
                     input_tokens=1000, output_tokens=200, request_rate=2.0, tp=1, pp=1,
                     engine_version=case.engine_version)
    assert est.request_rate == 2.0 and est.arrivals == "poisson"
    assert predicted == pytest.approx(alone.ttft_median_s * 1000)
    # A busier replica waits longer: the median grows with the rate.
    busier, _ = _cases(tmp_path, ROW.format(n=2, gpus=8, conc="", metric="ttft_median_ms", value=40, rate=48))
    assert validate.predict(busier[0], catalog)[0] > predicted


@pytest.mark.parametrize("rate", ["0", "-2", "inf", "fast"])
def test_a_rate_that_is_not_a_positive_number_is_set_aside(tmp_path, rate):
    cases, skipped = _cases(tmp_path, ROW.format(n=1, gpus=1, conc="", metric="ttft_ms", value=40, rate=rate))
    assert not cases and "request_rate" in skipped[0][1]


def test_a_rate_on_a_memory_row_is_set_aside(tmp_path):
    cases, skipped = _cases(tmp_path, ROW.format(n=1, gpus=1, conc="", metric="kv_cache_tokens", value=40, rate=2))
    assert not cases and "speed and TTFT metrics only" in skipped[0][1]


def test_without_the_column_rows_stay_closed_loop(tmp_path, catalog):
    cases, _ = _cases(tmp_path, ROW.format(n=1, gpus=1, conc=4, metric="ttft_ms", value=40, rate=""))
    assert cases[0].request_rate is None and cases[0].concurrency == 4


def test_an_overloaded_rate_row_says_so(tmp_path, catalog):
    # 10,000 requests/s on one H100 is beyond any prefill: no prediction, and the note says overload, not memory.
    path = tmp_path / "m.csv"
    path.write_text("\n".join([HEADER, ROW.format(n=1, gpus=1, conc="", metric="ttft_median_ms", value=40,
                                                  rate=10000)]) + "\n")
    report = validate.validate_files(catalog, [path])
    (result,) = report.results
    assert result.predicted is None and "overload" in result.note and "memory" not in result.note

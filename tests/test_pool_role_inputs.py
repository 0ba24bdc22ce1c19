"""`hwplan estimate --role` and `hwplan validate`'s pool rows on inputs a user gets wrong (found by tester4)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from optimizer.estimator import estimate
from optimizer.layouts import Layout
from optimizer.problem import EngineSettings

_LLAMA_CPP = ["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
              "--precision", "q4_k_m", "--max-model-len", "8192"]


def _run(args: list[str]):
    return CliRunner().invoke(main, args, terminal_width=80)


def test_llama_cpp_has_no_disaggregated_pools():
    """llama.cpp has no KV transfer between servers (optimizer/launch.py DISAGG_ENGINES): a pool replica on it
    is refused, naming the flags, rather than sized with a TensorRT-LLM router in its launch commands."""
    for role in ("decode", "prefill"):
        got = _run([*_LLAMA_CPP, "--engine", "llama.cpp", "--role", role])
        assert got.exit_code == 2, got.output
        assert f"--role = {role}" in got.output and "llama.cpp" in got.output
        assert "Traceback" not in got.output and "trtllm-serve" not in got.output


def test_auto_engine_with_a_role_picks_an_engine_that_disaggregates():
    """--engine auto with --role: a GGUF build only llama.cpp loads cannot be a pool replica: exit 2."""
    got = _run([*_LLAMA_CPP, "--role", "decode"])
    assert got.exit_code == 2, got.output
    assert "--role = decode" in got.output and "Traceback" not in got.output
    # A safetensors model under auto gets vLLM (the first of the preference order), with its KV connector.
    got = _run(["estimate", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--gpus", "1",
                "--role", "decode", "--concurrency", "8", "--format", "json"])
    assert got.exit_code == 0, got.output
    assert '"engine": "vllm"' in got.output and "kv-transfer-config" in got.output


_PREFILL = ["estimate", "--model", "deepseek-v3", "--accelerator", "h100-sxm", "--nodes", "4", "--dp", "32", "--ep",
            "32", "--engine", "sglang", "--memory-utilization", "0.846", "--role", "prefill"]


def test_a_prefill_replica_refuses_a_concurrency_it_would_ignore():
    """A prefill replica's batch is one prompt per attention DP group (32 here), whatever --concurrency says: it
    was accepted silently (JSON 'concurrency': 100 beside 'batch': 32, and at 10,000 a note that only 4,384 run
    at once); now exit 2 naming the flag and value."""
    for value in ("100", "max"):
        got = _run([*_PREFILL, "--concurrency", value])
        assert got.exit_code == 2, got.output
        assert f"--concurrency = {value} with --role prefill" in got.output and "Traceback" not in got.output
    assert _run(_PREFILL).exit_code == 0


def _pool_csv(tmp_path, rows: list[str]):
    header = open("catalog/data/measurements-fit.csv").readline()
    path = tmp_path / "pools-test.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


_P = "DeepSeek-V3,FP8,H100-SXM-80GB,32,4,SGLang,,{tp},1,32,2000,1,{conc},prefill_tok_s_per_gpu,6818,tok/s/GPU,x,2025,"


def test_validate_sets_aside_a_prefill_row_with_a_concurrency(catalog, tmp_path):
    from optimizer import validate

    path = _pool_csv(tmp_path, ["P-N," + _P.format(tp=32, conc="256") + '"prefill pool, DP attention"',
                                "P-A," + _P.format(tp=32, conc="n/a") + '"prefill pool, DP attention"',
                                "P-B," + _P.format(tp=32, conc="") + '"prefill pool, DP attention"'])
    cases, skipped = validate.read_cases(path, catalog)
    assert sorted(c.id for c in cases) == ["P-A", "P-B"]       # n/a or blank: one prompt per attention group
    assert [i for i, _ in skipped] == ["P-N"] and "concurrency_or_batch" in skipped[0][1]
    for case in cases:
        predicted, est = validate.predict(case, catalog)
        assert est.batch == 32 and predicted is not None


_D = "DeepSeek-V3,FP8,H100-SXM-80GB,72,9,SGLang,,{tp},1,72,2000,100,18432,decode_tok_s_per_gpu,2785,tok/s/GPU,x,2025,"


def test_validate_sets_aside_a_pool_row_without_its_layout(catalog, tmp_path):
    """A pool row's figure is its layout's (the doc: "on the row's layout"): with tp blank, validate guessed a
    layout of its own (TP8 × PP9 for 72 H100s, the row's ep = 72 dropped) and scored it -87%; set aside instead."""
    from optimizer import validate

    path = _pool_csv(tmp_path, ["D-0," + _D.format(tp="") + '"decode pool, DP attention"',
                                "D-1," + _D.format(tp="72") + '"decode pool, DP attention"'])
    cases, skipped = validate.read_cases(path, catalog)
    assert [c.id for c in cases] == ["D-1"] and (cases[0].tp, cases[0].dp, cases[0].ep) == (1, 72, 72)
    assert [i for i, _ in skipped] == ["D-0"] and "layout" in skipped[0][1] and "tp" in skipped[0][1]


def test_validate_sets_aside_a_measured_value_that_is_not_positive(catalog, tmp_path):
    """A throughput of -5 tok/s was scored (-29,534%, in the median of its set) and one of 0 counted as a row
    with no error; a measured speed or memory figure must be above 0 (a `starts` verdict stays 0 or 1)."""
    from optimizer import validate

    row = _D.format(tp="72").replace(",2785,", ",{v},") + '"decode pool, DP attention"'
    speed = row.replace("decode_tok_s_per_gpu", "tok_s_per_gpu")
    path = _pool_csv(tmp_path, ["V-1," + row.format(v="-5"), "V-2," + row.format(v="0"),
                                "V-3," + speed.format(v="-5"), "V-4," + row.format(v="2785")])
    cases, skipped = validate.read_cases(path, catalog)
    assert [c.id for c in cases] == ["V-4"]
    assert [i for i, _ in skipped] == ["V-1", "V-2", "V-3"] and all("value" in why for _, why in skipped)


def test_a_prefill_row_of_an_mtp_deployment_is_scored_without_a_draft(catalog, tmp_path):
    """Speculative decoding runs on the decode pool: a prefill row whose notes mention MTP was set aside, with
    estimate's command-line error ("--speculative = mtp with --role prefill ... drop --speculative") or for an
    unstated draft length; its prompts run the same passes as a row that says nothing of MTP."""
    from optimizer import validate

    row = "," + _P.format(tp=32, conc="n/a")
    path = _pool_csv(tmp_path, ["M-0" + row + '"prefill pool, DP attention"',
                                "M-1" + row + '"prefill pool, DP attention, MTP"',
                                "M-3" + row + '"prefill pool, DP attention, MTP 3 draft tokens"'])
    cases, skipped = validate.read_cases(path, catalog)
    assert skipped == [] and [c.speculative for c in cases] == [None, None, None]
    plain, one, three = (validate.predict(c, catalog)[0] for c in cases)
    assert plain is not None and one == plain and three == plain


def test_a_prefill_replica_pays_the_launch_floor_once_per_chunk(catalog):
    """SGLang 0.5.9 prefills outside CUDA graphs: each chunk step of a prompt lasts at least the host's launch
    floor (serving.Times.launch_floor_for, and optimizer/disagg.py's prefill units: ceil(I / budget) floors).
    A 4,000-token prompt in 1,024-token chunks is 4 steps; --role prefill charged one floor where the same
    replica's own TTFT at concurrency 1 charged four. TensorRT-LLM runs the prompt whole: one step, one floor."""
    from optimizer import speed
    from optimizer.deployment import Deployment

    m = catalog.models["deepseek-v3"]
    for engine, version, steps in (("sglang", "0.5.9", 4), ("trtllm", None, 1)):
        tokens = 1024 if steps > 1 else 4096
        args = dict(model="deepseek-v3", accelerator="h200-sxm", gpus=8, tp=8, engine=engine, input_tokens=4000,
                    output_tokens=10, max_batched_tokens=tokens, engine_version=version)
        pool = estimate(catalog, role="prefill", **args)
        alone = estimate(catalog, concurrency=1, **args)
        dep = Deployment(model=m, variant=m.variant(pool.precision), accelerator=catalog.accelerators["h200-sxm"],
                         platform=catalog.platforms[pool.platform], engine=catalog.engines[engine], gpus_per_node=8,
                         nodes=1, layout=Layout(tp=8),
                         settings=EngineSettings(max_batched_tokens=tokens, version=version))
        fit = dep.memory()
        floor = steps * pool.prefill_launch_floor_s           # ceil(4,000 / 1,024) = 4 chunk steps, or one whole
        assert pool.prefill_launch_floor_s > 0
        assert floor > speed.prompt_prefill_time(dep, fit, 4000)   # the floor binds here
        assert pool.prefill_input_tokens_per_s == pytest.approx(4000 / floor, rel=1e-3)
        assert pool.ttft_s == pytest.approx(alone.ttft_s, abs=1e-3)   # a prompt alone: the same on both


def test_a_prefill_replica_gives_a_prompt_alone_as_its_median_too(catalog):
    """--role prefill gives one prompt alone as its TTFT: the mean, the p90 and the median are that one figure (the
    median was missing, null in the JSON beside the mean and the p90). A decode replica runs no prompt: none."""
    args = dict(model="deepseek-v3", accelerator="h200-sxm", gpus=8, tp=8, engine="sglang", input_tokens=2000,
                output_tokens=10)
    pool = estimate(catalog, role="prefill", **args)
    assert pool.ttft_s is not None and pool.ttft_median_s == pool.ttft_s == pool.ttft_p90_s
    assert pool.to_json()["ttft_median_s"] == pool.to_json()["ttft_s"]
    decode = estimate(catalog, role="decode", concurrency=16, **args)
    assert decode.ttft_s is None and decode.ttft_median_s is None


@pytest.mark.parametrize("role", ["decode", "prefill"])
def test_cpu_sockets_are_no_pool_replica(role):
    """The disaggregated planner leaves CPU hosts out (optimizer/disagg.py: their KV transfer path is not
    modelled); --role on a CPU was sized anyway, with mooncake transfer flags and a router: exit 2 instead."""
    got = _run(["estimate", "--model", "qwen3-30b-a3b", "--accelerator", "xeon-6980p", "--role", role])
    assert got.exit_code == 2, got.output
    assert f"--role = {role}" in got.output and "xeon-6980p" in got.output and "Traceback" not in got.output


def test_a_pool_replica_refuses_synchronized_arrivals_it_would_ignore(catalog):
    """A pool replica runs at a batch with no arrivals in its model; --arrivals synchronized changed nothing and
    the JSON echoed "arrivals": "synchronized". Exit 2; validate's pool rows run without it."""
    from optimizer import validate

    got = _run([*_PREFILL[:-2], "--role", "decode", "--concurrency", "4096", "--arrivals", "synchronized"])
    assert got.exit_code == 2, got.output
    assert "--arrivals = synchronized with --role decode" in got.output and "Traceback" not in got.output
    fit = [p for p in validate.bundled_measurements() if validate.file_role(p) == "fit"][0]
    cases, _ = validate.read_cases(fit, catalog)
    pools = [c for c in cases if c.role]
    assert pools and all(validate.predict(c, catalog)[0] is not None for c in pools)


def test_a_decode_replica_does_not_print_a_prefill_launch_floor():
    """A decode pool runs no prompt: TensorRT-LLM's eager-prefill launch floor ("Prefill launch floor 82 ms per
    prefill step") is no part of its speed; the prefill pool's replica keeps it."""
    base = ["estimate", "--model", "deepseek-v3", "--accelerator", "h200-sxm", "--gpus", "8", "--tp", "8",
            "--engine", "trtllm"]
    decode = _run([*base, "--role", "decode", "--concurrency", "64"])
    assert decode.exit_code == 0 and "Decode speed per user" in decode.output
    assert "Prefill launch floor" not in decode.output
    assert "Prefill launch floor" in _run([*base, "--concurrency", "64"]).output
    assert "Prefill launch floor" in _run([*base, "--role", "prefill"]).output


def test_the_help_example_of_a_decode_replica_starts():
    """`hwplan estimate --help`'s decode-replica example (LMSYS's 9-node EP72 decode pool) did not start: SGLang's
    default --mem-fraction-static at TP72 reserves 9.5 + 72/2 + 4 = 49.5 GiB of an H100's 79.18, leaving 0.37,
    below the 30.5 GB of weights per GPU. The example gives LMSYS's own 0.846 (measurements-fit.csv LMSYS-012)."""
    text = CliRunner().invoke(main, ["estimate", "--help"], terminal_width=400).output.replace("\\\n", " ")
    example = [line.split() for line in text.splitlines() if "--role decode" in line and "hwplan estimate" in line]
    assert len(example) == 1
    got = _run(example[0][1:])
    assert got.exit_code == 0, got.output
    assert "Fits                         yes" in got.output and "Decode speed per user" in got.output


def test_a_pool_replica_without_a_layout_gets_the_fastest_for_its_role(catalog):
    """Without --tp/--dp/--ep the layout was chosen by the aggregated replica's decode speed at concurrency 1:
    a DeepSeek-V3 prefill replica on 8 H200 got TP8 (48,887 input tok/s) where DP8 + EP8 prefills 72,413
    (one prompt per attention group, the weights read once); a decode replica asked for 1,024 sequences got
    TP8, whose KV cache runs 223 of them, over DP8 + EP8, which runs 944."""
    base = dict(model="deepseek-v3", accelerator="h200-sxm", gpus=8, engine="sglang")
    pre = estimate(catalog, role="prefill", **base)
    for layout in (dict(tp=8), dict(tp=1, dp=8, ep=8), dict(tp=2, dp=4, ep=8)):
        assert pre.prefill_input_tokens_per_s >= estimate(catalog, role="prefill", **base,
                                                          **layout).prefill_input_tokens_per_s
    dec = estimate(catalog, role="decode", concurrency=1024, **base)
    tp8 = estimate(catalog, role="decode", concurrency=1024, tp=8, **base)
    ep8 = estimate(catalog, role="decode", concurrency=1024, tp=1, dp=8, ep=8, **base)
    assert tp8.batch < ep8.batch <= 1024
    assert dec.batch >= ep8.batch and dec.output_tokens_per_s_total > tp8.output_tokens_per_s_total


def test_validate_names_a_zero_accelerator_count_as_such(catalog, tmp_path):
    """num_gpus = 0 was set aside as "accelerator count '0' is not a number"; it is a number, below one."""
    from optimizer import validate

    path = _pool_csv(tmp_path, ["Z-0," + _D.format(tp="72").replace(",72,9,", ",0,9,", 1) + '"decode pool"'])
    _, skipped = validate.read_cases(path, catalog)
    assert skipped == [("Z-0", "accelerator count '0' is not a whole number of at least 1")]


def test_validate_sets_aside_a_decode_row_without_its_batch(catalog, tmp_path):
    """A decode pool's tok/s per GPU is its batch's: concurrency_or_batch 'n/a' (or 'startup') ran the replica
    at batch 1 and scored 0.8 tok/s per GPU against 2,785 (-100%); set aside. A number or 'saturated' stays."""
    from optimizer import validate

    row = _D.format(tp="72").replace(",18432,", ",{c},") + '"decode pool, DP attention"'
    path = _pool_csv(tmp_path, ["B-na," + row.format(c="n/a"), "B-st," + row.format(c="startup"),
                                "B-n," + row.format(c="18432"), "B-s," + row.format(c="saturated decode")])
    cases, skipped = validate.read_cases(path, catalog)
    assert {c.id: c.concurrency for c in cases} == {"B-n": 18432, "B-s": "max"}
    assert [i for i, _ in skipped] == ["B-na", "B-st"] and all("batch" in why for _, why in skipped)


def test_validate_reads_tensorrt_llms_attention_dp_setting(catalog, tmp_path):
    """TensorRT-LLM names attention DP `enable_attention_dp` (its LLM API option): a row saying so ran as TP
    (attention DP not read), so a wide-EP decode pool was scored on the wrong layout."""
    from optimizer import validate

    row = _D.format(tp="72").replace("SGLang", "TensorRT-LLM")
    path = _pool_csv(tmp_path, ["T-1," + row + '"decode pool, enable_attention_dp: true"'])
    cases, _ = validate.read_cases(path, catalog)
    assert (cases[0].tp, cases[0].dp, cases[0].ep) == (1, 72, 72)

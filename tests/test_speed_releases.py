"""Engine releases in the speed model: `early_releases` slow every step of the architectures they name,
only on the releases before `before`, and the decode stage is the sum of its named parts."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.schema import EarlyRelease
from optimizer import speed
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.problem import EngineSettings


def _dep(catalog, model, acc, gpus, precision, engine="vllm", version=None, slowdown=2.5):
    m = catalog.models[model]
    a = catalog.accelerators[acc]
    rule = EarlyRelease(before="0.8.0", attention="mla", slowdown=slowdown, source="a rule for a test")
    eng = catalog.engines[engine].model_copy(update={"early_releases": [rule]})
    return Deployment(model=m, variant=m.variant(precision), accelerator=a,
                      platform=default_platform(catalog, a, gpus), engine=eng, gpus_per_node=gpus,
                      settings=EngineSettings(version=version) if version else None)


def test_an_early_release_multiplies_decode_and_prefill_of_mla_models(catalog):
    new = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8", version="0.10.1")
    old = dataclasses.replace(new, settings=EngineSettings(version="0.7.3"))
    fit_new, fit_old = new.memory(), old.memory()
    assert speed.release_slowdown(new) == 1.0
    assert speed.release_slowdown(old) == 2.5
    for batch in (1, 64):
        t_new = speed.decode_token_time(new, fit_new, batch, 2000)[0]
        t_old = speed.decode_token_time(old, fit_old, batch, 2000)[0]
        # TP8 in one server, one stage: the 2 · 61 all-reduces are NCCL's either way and are not slowed;
        # the kernels and the step overhead are: t_old = 2.5 · (t_new − comm) + comm.
        comm = 2 * 61 * speed.allreduce_time(new, 8, batch)
        assert comm > 0
        assert t_old == pytest.approx(2.5 * (t_new - comm) + comm, rel=1e-9)
    # Prefill: 2 · 61 all-reduces of the prompt's 1000 tokens, not slowed.
    comm = 2 * 61 * speed.allreduce_time(new, 8, 1000)
    assert speed.prefill_time(old, fit_old, 1000) == pytest.approx(2.5 * (speed.prefill_time(new, fit_new, 1000) - comm)
                                                                   + comm)


def test_an_early_release_does_not_slow_the_cross_server_all_reduces(catalog):
    """TP16 over two servers at batch 1: the all-reduces are most of the step. With slowdown s the step is
    s · (step − comm) + comm, so s = 1.5 stretches it by less than 1.5."""
    from optimizer.layouts import Layout

    m, a = catalog.models["deepseek-r1"], catalog.accelerators["h100-sxm"]
    base = Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=catalog.platforms["hgx-8gpu-hopper"],
                      engine=catalog.engines["sglang"], gpus_per_node=8, nodes=2, layout=Layout(tp=16, nodes_per_replica=2))
    rule = EarlyRelease(before="0.4.4", attention="mla", slowdown=1.5, source="a rule for a test")
    old = dataclasses.replace(base, engine=base.engine.model_copy(update={"early_releases": [rule]}),
                              settings=EngineSettings(version="0.4.3"))
    fit_new, fit_old = base.memory(), old.memory()
    t_new = speed.decode_token_time(base, fit_new, 1, 200)[0]
    t_old = speed.decode_token_time(old, fit_old, 1, 200)[0]
    comm = 2 * 61 * speed.allreduce_time(base, 16, 1)
    assert comm > 0.5 * t_new
    assert t_old == pytest.approx(1.5 * (t_new - comm) + comm, rel=1e-9)


def test_no_version_asked_means_the_newest_release(catalog):
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8")
    assert speed.release_slowdown(dep) == 1.0


@pytest.mark.parametrize("version", ["0.7.3", "0.8.0", "0.10.1"])
def test_a_gqa_model_is_never_slowed_by_an_mla_rule(catalog, version):
    dep = _dep(catalog, "llama-3.1-8b", "h100-sxm", 1, "bf16", version=version)
    assert speed.release_slowdown(dep) == 1.0


@pytest.mark.parametrize("version,early", [("0.7.3", True), ("0.7.4", True), ("v0.7.9", True), ("0.8.0", False),
                                           ("0.8.1", False), ("0.21.0", False)])
def test_the_rule_covers_exactly_the_releases_before_its_bound(version, early):
    rule = EarlyRelease(before="0.8.0", attention="mla", slowdown=2.0, source="a rule for a test")
    assert rule.applies(version, "mla", "fp8") is early
    assert rule.applies(version, "gqa", "fp8") is False


def test_a_rule_with_precisions_covers_only_those(catalog):
    rule = EarlyRelease(before="0.8.0", attention="mla", precisions=["int4"], slowdown=3.0, source="a test rule")
    assert rule.applies("0.7.3", "mla", "int4")
    assert not rule.applies("0.7.3", "mla", "fp8")
    eng = catalog.engines["vllm"].model_copy(update={"early_releases": [rule]})
    m = catalog.models["deepseek-r1"]
    a = catalog.accelerators["h200-sxm"]
    dep = Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=default_platform(catalog, a, 8),
                     engine=eng, gpus_per_node=8, settings=EngineSettings(version="0.7.3"))
    assert speed.release_slowdown(dep) == 1.0


def test_the_decode_stage_is_the_sum_of_its_parts(catalog):
    dep = _dep(catalog, "deepseek-r1", "h200-sxm", 8, "fp8")
    fit = dep.memory()
    parts = speed.stage_breakdown(dep, fit, 32, 1500)
    stage = max(parts["gemm_memory"], parts["gemm_compute"]) + \
        max(parts["attention_memory"], parts["attention_compute"]) + parts["communication"] + parts["overhead"]
    eff = dep.engine.efficiency_for(dep.accelerator.family)
    token, _ = speed.decode_token_time(dep, fit, 32, 1500)
    # One pipeline stage, no hops: the step is the stage plus the fixed step overhead.
    assert token == pytest.approx(stage + eff.step_overhead_ms * 1e-3, rel=1e-12)
    # 8 ranks of TP: two all-reduces per layer over NVLink are in the communication part.
    assert parts["communication"] > 2 * dep.model.layers * speed.ALLREDUCE_LATENCY_S["native"]


def test_an_early_release_does_not_slow_the_pipeline_hops(catalog):
    """TP4 × PP2 in one H200 server, batch 2 (one token per stage): each of the 2 stages has 2 · 31 all-reduces
    of its token over 4 ranks, and the one hop between the stages costs the in-server latency plus the token's
    7168 bf16 activations over one direction of NVLink. Neither is slowed: t_old = s · (t_new − both) + both."""
    from optimizer.layouts import Layout

    m, a = catalog.models["deepseek-r1"], catalog.accelerators["h200-sxm"]
    base = Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=default_platform(catalog, a, 8),
                      engine=catalog.engines["sglang"], gpus_per_node=8, layout=Layout(tp=4, pp=2))
    rule = EarlyRelease(before="0.4.4", attention="mla", slowdown=2.0, source="a rule for a test")
    old = dataclasses.replace(base, engine=base.engine.model_copy(update={"early_releases": [rule]}),
                              settings=EngineSettings(version="0.4.3"))
    fit_new, fit_old = base.memory(), old.memory()
    assert (fit_new.layout.tp, fit_new.layout.pp) == (4, 2)
    t_new = speed.decode_token_time(base, fit_new, 2, 500)[0]
    t_old = speed.decode_token_time(old, fit_old, 2, 500)[0]
    comm = 2 * (2 * 31 * speed.allreduce_time(base, 4, 1))
    hop = speed.ALLREDUCE_LATENCY_S["native"] + 7168 * 2 / (a.interconnect_gbs * 1e9 / 2)
    assert t_old == pytest.approx(2.0 * (t_new - comm - hop) + comm + hop, rel=1e-9)

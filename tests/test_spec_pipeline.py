"""Speculative decoding under pipeline parallelism (optimizer/serving.py SPEC_WITHOUT_PP): vLLM does not start
the pair (its issues 52069 and 57755), so a plan never buys such a replica and an estimate refuses it or picks a
layout without PP. SGLang keeps its PP layouts."""

from __future__ import annotations

import pytest

from catalog.errors import InputError
from optimizer import estimate, serving
from optimizer.capacity import replica_capacity
from optimizer.deployment import Deployment
from optimizer.estimator import default_platform
from optimizer.layouts import Layout
from optimizer.problem import Workload
from optimizer.serving import Speculative


def test_the_check_names_the_pipeline_stages(catalog):
    spec = Speculative("mtp", 2)
    with pytest.raises(InputError, match="vllm does not start speculative decoding under pipeline parallelism \\(PP2\\)"):
        serving.check_speculative(spec, catalog.models["deepseek-r1"], "vllm", pipeline_stages=2)
    serving.check_speculative(spec, catalog.models["deepseek-r1"], "vllm", pipeline_stages=1)
    serving.check_speculative(spec, catalog.models["deepseek-r1"], "sglang", pipeline_stages=2)


def test_estimate_refuses_a_vllm_pipeline_with_speculation(catalog):
    with pytest.raises(InputError, match="pipeline parallelism"):
        estimate(catalog, model="deepseek-r1", accelerator="h100-sxm", gpus=None, tp=8, pp=2, engine="vllm",
                 speculative=Speculative("mtp", 2))


def test_estimate_picks_a_layout_without_pp_for_vllm_speculation(catalog):
    # Two H100 servers: without speculation the fastest vLLM layout here pipelines over the servers; with MTP it
    # must not, and the replica still spans both servers.
    plain = estimate(catalog, model="deepseek-r1", accelerator="h100-sxm", gpus=16, nodes=2, engine="vllm")
    spec = estimate(catalog, model="deepseek-r1", accelerator="h100-sxm", gpus=16, nodes=2, engine="vllm",
                    speculative=Speculative("mtp", 2))
    assert "PP2" in plain.layout
    assert "PP" not in spec.layout and spec.fits


def _capacity(catalog, engine: str, layout: Layout, method: str = "mtp"):
    m, a = catalog.models["deepseek-r1"], catalog.accelerators["h100-sxm"]
    dep = Deployment(model=m, variant=m.variant("fp8"), accelerator=a, platform=default_platform(catalog, a, 8),
                     engine=catalog.engines[engine], gpus_per_node=8, nodes=2, layout=layout)
    work = Workload(concurrent_users=10, min_tokens_per_s=10, speculative={"method": method, "tokens": 2})
    return replica_capacity(dep, work)


def test_a_plan_never_buys_a_vllm_pipeline_with_speculation(catalog):
    assert _capacity(catalog, "vllm", Layout(tp=8, pp=2, nodes_per_replica=2)).limit == "speculative"
    assert _capacity(catalog, "sglang", Layout(tp=8, pp=2, nodes_per_replica=2)).limit != "speculative"
    assert _capacity(catalog, "vllm", Layout(tp=16, pp=1, nodes_per_replica=2)).limit != "speculative"
    # SGLang with attention DP: NGRAM never, MTP yes.
    dp = Layout(tp=1, dp=8, pp=2, nodes_per_replica=2)
    assert _capacity(catalog, "sglang", dp, "ngram").limit == "speculative"
    assert _capacity(catalog, "sglang", dp, "mtp").limit != "speculative"


def test_disaggregated_vllm_pools_with_speculation_have_no_pipeline(catalog):
    """DeepSeek-R1 in fp8 needs two H100 servers per replica; vLLM pools for it pipeline over the two unless
    the workload speculates."""
    from optimizer.problem import Problem
    from optimizer.solve import prepare_problem

    def pools(speculative):
        problem = Problem.model_validate({
            "model": "deepseek-r1", "precision": "fp8", "engine": "vllm", "serving": "disaggregated",
            "workload": {"concurrent_users": 50, "input_tokens": 2000, "output_tokens": 500, "min_tokens_per_s": 10,
                         **({"speculative": speculative} if speculative else {})},
            "constraints": {"accelerators": ["h100-sxm"], "max_nodes_per_replica": 2},
            "prices": "street-usd-2025", "network_prices": []})
        units = prepare_problem(catalog, problem, prune=False, serving="disaggregated").candidates.units
        return [u for u in units if u.role in ("prefill", "decode")]

    plain, spec = pools(None), pools({"method": "mtp", "tokens": 2})
    assert any(u.layout.pp > 1 for u in plain)
    assert spec and all(u.layout.pp == 1 for u in spec)


def test_sglang_ngram_never_runs_with_attention_dp(catalog):
    """SGLang refuses NGRAM with --enable-dp-attention at start-up; EAGLE and MTP it runs. At 'max' concurrency
    the fastest plain SGLang layout for DeepSeek-R1 on 8× H200 is attention DP; with NGRAM it must not be."""
    ngram = Speculative("ngram", 3)
    with pytest.raises(InputError, match="sglang does not start ngram speculative decoding with data-parallel"):
        serving.check_speculative(ngram, catalog.models["deepseek-r1"], "sglang", dp_attention=True)
    serving.check_speculative(Speculative("mtp", 2), catalog.models["deepseek-r1"], "sglang", dp_attention=True)
    serving.check_speculative(ngram, catalog.models["deepseek-r1"], "vllm", dp_attention=True)
    plain = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="sglang", concurrency="max")
    spec = estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="sglang", concurrency="max",
                    speculative=ngram)
    assert "DP8 attention" in plain.layout and "DP" not in spec.layout
    with pytest.raises(InputError, match="data-parallel attention"):
        estimate(catalog, model="deepseek-r1", accelerator="h200-sxm", gpus=8, engine="sglang", dp_attention=True,
                 speculative=ngram)


def test_tensorrt_llm_runs_mtp_for_deepseek_models_only(catalog):
    """TensorRT-LLM documents MTP for DeepSeek models (its MTP path needs the DeepSeek MLA kernel): GLM-5, which
    ships MTP modules, is refused on trtllm (an estimate names why; a plan's replica is ruled out with that reason)
    but runs on SGLang; DeepSeek-R1 runs on trtllm."""
    glm, r1 = catalog.models["glm-5"], catalog.models["deepseek-r1"]
    assert serving.spec_engine_error("trtllm", "mtp", r1) is None
    assert serving.spec_engine_error("sglang", "mtp", glm) is None
    assert "trtllm runs MTP for deepseek* models only, not glm-5" in serving.spec_engine_error("trtllm", "mtp", glm)
    assert serving.spec_engine_error("trtllm", "eagle", glm) is None
    with pytest.raises(InputError, match="trtllm runs MTP for deepseek"):
        estimate(catalog, model="glm-5", accelerator="b200", gpus=8, precision="fp8", engine="trtllm",
                 speculative=Speculative("mtp", 1))
    acc = catalog.accelerators["b200"]
    dep = Deployment(model=glm, variant=glm.variant("fp8"), accelerator=acc, platform=default_platform(catalog, acc, 8),
                     engine=catalog.engines["trtllm"], gpus_per_node=8, draft="mtp")
    cap = replica_capacity(dep, Workload(concurrent_users=10, speculative={"method": "mtp", "tokens": 1}))
    assert cap.limit == "speculative" and cap.users == 0

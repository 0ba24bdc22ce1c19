"""capacity_memo: node types that differ only in price share one sizing; anything sizing reads is in the key."""

from __future__ import annotations

import dataclasses

from optimizer import capacity as capacity_module
from optimizer.capacity import capacity_memo, replica_capacity
from optimizer.deployment import Deployment
from optimizer.problem import Workload

WORKLOAD = Workload(concurrent_users=50, input_tokens=1000, output_tokens=500, min_tokens_per_s=20)


def _dep(catalog, nodes=1, engine="vllm"):
    m = catalog.models["llama-3.1-70b"]
    return Deployment(model=m, variant=m.variant("bf16"), accelerator=catalog.accelerators["h100-sxm"],
                      platform=catalog.platforms["hgx-8gpu-hopper"], engine=catalog.engines[engine],
                      gpus_per_node=8, nodes=nodes)


def test_memo_sizes_each_configuration_once_and_answers_as_replica_capacity(catalog, monkeypatch):
    calls = []

    def counting(dep, workload):
        calls.append(dep)
        return replica_capacity(dep, workload)

    monkeypatch.setattr(capacity_module, "replica_capacity", counting)
    memo = capacity_memo(WORKLOAD)
    a = _dep(catalog)
    same = _dep(catalog)                       # a second node type with the same hardware
    assert memo(a) == replica_capacity(a, WORKLOAD)
    assert memo(same) is memo(a)
    assert len(calls) == 1
    # Anything the sizing reads must be in the key: node count and engine give other answers.
    two, sglang = _dep(catalog, nodes=2), _dep(catalog, engine="sglang")
    assert memo(two) == replica_capacity(two, WORKLOAD)
    assert memo(sglang) == replica_capacity(sglang, WORKLOAD)
    assert len(calls) == 3
    # Every field of Deployment is part of the key (a new field cannot be forgotten).
    changed = dataclasses.replace(a, dp_attention=True)
    memo(changed)
    assert len(calls) == 4


def test_records_with_the_same_id_but_other_numbers_are_not_confused_across_memos(catalog):
    """One memo per catalog: an engine edited under the same id gets its own memo and its own answer."""
    a = _dep(catalog)
    slower = a.engine.model_copy(update={"efficiency": {
        k: v.model_copy(update={"bandwidth": v.bandwidth / 2}) for k, v in a.engine.efficiency.items()}})
    b = dataclasses.replace(a, engine=slower)
    assert capacity_memo(WORKLOAD)(b) == replica_capacity(b, WORKLOAD)
    assert replica_capacity(b, WORKLOAD).users < replica_capacity(a, WORKLOAD).users

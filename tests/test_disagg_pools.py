"""One pool of a disaggregated deployment: `estimate(role=...)`, `hwplan validate`'s pool rows, and the prefill
all-to-all that DeepEP's normal kernels forward over NVLink (optimizer/speed.py `alltoall_time`)."""

from __future__ import annotations

import pytest

from optimizer import speed
from optimizer.deployment import Deployment
from optimizer.layouts import Layout


def _r1_over(cat, nodes: int, ep: int) -> Deployment:
    r1 = cat.models["deepseek-r1"]
    return Deployment(model=r1, variant=r1.variant("fp8"), accelerator=cat.accelerators["h100-sxm"],
                      platform=cat.platforms["hgx-8gpu-hopper"], engine=cat.engines["sglang"], gpus_per_node=8,
                      nodes=nodes, layout=Layout(tp=1, dp=ep, ep=ep, nodes_per_replica=nodes))


def test_prefill_all_to_all_crosses_the_network_once_per_remote_server(catalog):
    # 4 tokens per rank, fp8 (1 B), hidden 7168, 8 experts per token, imbalance 1.2; the hgx-8gpu-hopper server's
    # 400 GB/s network over 8 GPUs = 50 GB/s each at DeepEP's 0.86, NVLink 450 GB/s at 0.95; 20 µs network latency.
    copy = 4 * 7168 * 1 * 1.2
    local_two = copy * 8 / 2          # the experts on the token's own server stay on NVLink, as for decode
    # Two servers: the other server holds at least one of the token's 8 experts with probability 1 − (1/2)^8.
    remote_two = copy * 1 * (1 - 0.5 ** 8)
    two = _r1_over(catalog, 2, 16)
    assert speed.alltoall_time(two, 16, 4, 1, forwarded=True) == pytest.approx(
        20e-6 + max(remote_two / (50e9 * 0.86), local_two / (450e9 * 0.95)))
    # Decode's low-latency kernels send each remote expert's copy: 4 of the 8 on average.
    assert speed.alltoall_time(two, 16, 4, 1) == pytest.approx(20e-6 + copy * 4 / (50e9 * 0.86))
    # Four servers: each of the 3 others holds one of the 8 experts with probability 1 − (3/4)^8.
    four = _r1_over(catalog, 4, 32)
    remote_four = copy * 3 * (1 - 0.75 ** 8)
    assert speed.alltoall_time(four, 32, 4, 1, forwarded=True) == pytest.approx(
        20e-6 + max(remote_four / (50e9 * 0.86), copy * 8 / 4 / (450e9 * 0.95)))
    # Inside one server there is nothing to forward: the same either way.
    one = _r1_over(catalog, 1, 8)
    assert speed.alltoall_time(one, 8, 4, 1, forwarded=True) == speed.alltoall_time(one, 8, 4, 1)


def test_prefill_forwards_and_decode_does_not(catalog, monkeypatch):
    dep = _r1_over(catalog, 2, 16)
    fit = dep.memory()
    seen: list[bool] = []
    real = speed.alltoall_time

    def spy(*args, forwarded=False):
        seen.append(forwarded)
        return real(*args, forwarded=forwarded)

    monkeypatch.setattr(speed, "alltoall_time", spy)
    speed.prefill_time(dep, fit, 2000, prompts=16)
    assert seen and all(seen)
    seen.clear()
    speed.decode_token_time(dep, fit, 256, 2000)
    assert seen and not any(seen)

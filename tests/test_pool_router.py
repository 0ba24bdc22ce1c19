"""A disaggregated deployment's commands start every replica: replicas sharing a server get their own side ports
(SGLang's prefill bootstrap server, vLLM's NIXL handshake), and one router lists every prefill and decode
replica of the plan."""

from __future__ import annotations

import json
import os
import subprocess

from click.testing import CliRunner

from cli import main
from optimizer.launch import (NIXL_SIDE_CHANNEL_PORT, PORT, SGLANG_BOOTSTRAP_PORT, pool_addresses, router_command,
                              with_role)


def test_each_replica_has_an_address_on_its_pools_servers():
    # 3 prefill replicas, 2 per server: slots 0 and 1 on the first server, slot 0 on the second; then a replica
    # over 2 servers (the 3rd and 4th: its head is the 3rd), and one more after it (the 5th).
    prefill, decode = pool_addresses([("prefill", 3, 2, 1), ("decode", 2, 1, 3), ("prefill", 2, 1, 2)])
    assert prefill == [("$PREFILL_NODE_1", PORT, SGLANG_BOOTSTRAP_PORT),
                       ("$PREFILL_NODE_1", PORT + 1, SGLANG_BOOTSTRAP_PORT + 1),
                       ("$PREFILL_NODE_2", PORT, SGLANG_BOOTSTRAP_PORT),
                       ("$PREFILL_NODE_3", PORT, SGLANG_BOOTSTRAP_PORT),
                       ("$PREFILL_NODE_5", PORT, SGLANG_BOOTSTRAP_PORT)]
    # Two decode replicas of 3 servers each: heads on the 1st and the 4th.
    assert [(h, p) for h, p, _ in decode] == [("$DECODE_NODE_1", PORT), ("$DECODE_NODE_4", PORT)]


def test_replicas_sharing_a_server_get_their_own_side_ports():
    two = [f"python -m sglang.launch_server --model-path m --host 0.0.0.0 --port {PORT + i}" for i in range(2)]
    got = with_role(two, "sglang", "prefill")
    assert [f"--disaggregation-bootstrap-port {SGLANG_BOOTSTRAP_PORT + i}" in c for i, c in enumerate(got)] == \
        [True, True]
    vllm = with_role([f"vllm serve m --tensor-parallel-size 4 --port {PORT + i}" for i in range(2)], "vllm", "prefill",
                     ranks=4)
    # A process claims its base port plus an offset per rank (up to twice its ranks): 8 ports apart.
    assert vllm[0].startswith(f"VLLM_NIXL_SIDE_CHANNEL_PORT={NIXL_SIDE_CHANNEL_PORT} ")
    assert vllm[1].startswith(f"VLLM_NIXL_SIDE_CHANNEL_PORT={NIXL_SIDE_CHANNEL_PORT + 8} ")
    assert all("NixlConnector" in c for c in vllm)


def test_the_router_lists_every_replica_in_each_engines_form(tmp_path):
    prefill, decode = pool_addresses([("prefill", 2, 2, 1), ("decode", 3, 1, 1)])
    sglang = router_command("sglang", prefill, decode)
    assert sglang.count("--prefill http://") == 2 and sglang.count("--decode http://") == 3
    assert f"--prefill http://$PREFILL_NODE_1:{PORT + 1} {SGLANG_BOOTSTRAP_PORT + 1}" in sglang
    vllm = router_command("vllm", prefill, decode)
    assert "--host 0.0.0.0" in vllm    # the proxy's default, 127.0.0.1, would take no client from elsewhere
    assert "--prefiller-hosts $PREFILL_NODE_1 $PREFILL_NODE_1 --prefiller-ports 8000 8001" in vllm
    assert "--decoder-hosts $DECODE_NODE_1 $DECODE_NODE_2 $DECODE_NODE_3 --decoder-ports 8000 8000 8000" in vllm
    # TensorRT-LLM's disagg.yaml, written by the shell with the servers' addresses filled in.
    trt = router_command("trtllm", prefill, decode).replace("trtllm-serve disaggregated -c disagg.yaml",
                                                            "cat disagg.yaml")
    env = {"PATH": os.environ["PATH"], "PREFILL_NODE_1": "10.0.0.1",
           **{f"DECODE_NODE_{i}": f"10.0.1.{i}" for i in (1, 2, 3)}}
    yaml = subprocess.run(["bash", "-c", trt], cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert 'context_servers: {num_instances: 2, urls: ["10.0.0.1:8000", "10.0.0.1:8001"]}' in yaml
    assert ('generation_servers: {num_instances: 3, urls: ["10.0.1.1:8000", "10.0.1.2:8000", "10.0.1.3:8000"]}'
            in yaml)


def test_the_estimates_split_carries_its_commands():
    got = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "gb200", "--gpus", "72",
                                    "--precision", "fp8", "--engine", "sglang", "--serving", "disaggregated",
                                    "--format", "json"])
    assert got.exit_code == 0, got.output
    split = json.loads(got.output)["disaggregated"]
    launch = split["launch"]
    replicas = split["prefill_gpus"] // split["prefill_replica_gpus"]
    assert any("--disaggregation-mode prefill" in c for c in launch)
    assert any("--disaggregation-mode decode" in c for c in launch)
    router = [c for c in launch if "sglang_router" in c]
    assert len(router) == 1 and router[0].count("--prefill http://") == replicas
    # One rack: the prefill replicas on its first accelerators and ports, the decode instance after them.
    ports = sorted(int(c.split("--port ")[1].split()[0]) for c in launch if "--disaggregation-mode" in c)
    assert ports == list(range(8000, 8000 + replicas + 1))


def test_replicas_sharing_a_server_write_their_own_tensorrt_llm_options():
    got = CliRunner().invoke(main, ["estimate", "--model", "deepseek-r1", "--accelerator", "gb200", "--gpus", "72",
                                    "--precision", "fp8", "--engine", "trtllm", "--serving", "disaggregated",
                                    "--format", "json"])
    assert got.exit_code == 0, got.output
    servers = [c for c in json.loads(got.output)["disaggregated"]["launch"] if "trtllm-serve deepseek" in c]
    for c in servers:
        port = int(c.split("--port ")[1].split()[0])
        name = "extra-llm-api.yaml" if port == 8000 else f"extra-llm-api-{port}.yaml"
        # the options file is written once, read by this server only, and the devices go to the server
        assert c.count(f"> {name} &&") == 1 and c.count(f"--extra_llm_api_options {name}") == 1
        assert "cache_transceiver_config" in c
        assert "CUDA_VISIBLE_DEVICES=" in c.split(" && ")[-1]

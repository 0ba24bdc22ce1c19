"""Engine command lines that start a plan line's replicas or an estimate's replica.

One command per node role: the head node and the other nodes of a replica that spans
servers (`$HEAD_IP` and `$NODE_RANK` stand for what the operator fills in), one per
replica slot of a server that runs several replicas (`CUDA_VISIBLE_DEVICES` picks its
accelerators, each on its own port), or one command for a replica on one server. The
commands carry the layout and the engine settings the sizing assumed: memory share,
running sequences, maximum model length (prompt + output) and KV datatype, plus max batched
tokens and eager mode when the user set them (otherwise the engine's default is what was sized).

Option names, read from each engine's source (version in optimizer/layouts.py):
- vLLM 0.20 `vllm serve`: `--tensor-parallel-size --pipeline-parallel-size
  --data-parallel-size --enable-expert-parallel --gpu-memory-utilization --max-num-seqs
  --max-model-len --kv-cache-dtype --max-num-batched-tokens --enforce-eager`; across servers `--nnodes --node-rank --master-addr
  --headless`, data parallel `--data-parallel-size-local --data-parallel-start-rank
  --data-parallel-address --data-parallel-rpc-port` (vLLM's data_parallel_deployment docs;
  ai-dynamo/aiconfigurator src/aiconfigurator/generator/builders/fpm_builder.py).
- SGLang 0.5.23 `python -m sglang.launch_server`: `--model-path --tp-size --pp-size
  --attn-dp-size --ep-size --moe-a2a-backend --mem-fraction-static --max-running-requests
  --context-length --kv-cache-dtype --chunked-prefill-size --disable-cuda-graph --nnodes --node-rank
  --dist-init-addr`
  (python/sglang/srt/arg_groups/fields/*.py in the PyPI wheel; `--attn-dp-size N` replaces
  the deprecated `--dp-size N --enable-dp-attention`).
- TensorRT-LLM `trtllm-serve` (tensorrt_llm/commands/serve.py at commit 00209af1): `--backend pytorch --tp_size
  --pp_size --ep_size --max_batch_size --max_num_tokens --max_seq_len
  --kv_cache_free_gpu_memory_fraction --extra_llm_api_options FILE` (a YAML of LLM API options:
  `enable_attention_dp`, `kv_cache_config.dtype`, `cuda_graph_config: null` for eager); across servers under `mpirun ... trtllm-llmapi-launch`.
- Speculative decoding (the method and k the speed assumed): vLLM `--speculative-config JSON`, SGLang
  `--speculative-algorithm --speculative-num-steps --speculative-eagle-topk --speculative-num-draft-tokens`,
  TensorRT-LLM `speculative_config` in the options file (sources at `_vllm_speculative` and below).
- llama.cpp `llama-server`: `-hf REPO:QUANT -ngl 999 --split-mode layer -c --parallel -ctk -ctv`
  (tools/server/README.md), other servers joined with `rpc-server` and `--rpc` (tools/rpc/README.md).
"""

from __future__ import annotations

import copy
import math
import re

from catalog.schema import Model, Variant

from .layouts import Layout, redundant_experts

__all__ = ["LaunchSettings", "launch_for", "launch_commands", "given_batched_tokens", "role_flags", "pool_addresses",
           "ROUTER_NOTE", "PLAN_ROUTER_NOTE", "options_file", "device_range", "one_server_pools",
           "router_command", "with_role", "DISAGG_ENGINES"]

PORT = 8000
SGLANG_DIST_PORT = 20000
VLLM_DP_RPC_PORT = 13345
LLAMA_RPC_PORT = 50052
KV_FLAGS = {  # hwplan KV datatype -> each engine's value; bf16/fp16 are the engines' 'auto'
    "vllm": {"fp8": "fp8"},
    "sglang": {"fp8": "fp8_e4m3"},
    "trtllm": {"fp8": "fp8"},
    "llama.cpp": {"q8_0": "q8_0", "q4_0": "q4_0", "fp16": "f16"},
}


class LaunchSettings:
    """What a command must say beyond the layout: the settings the sizing assumed."""

    def __init__(self, *, memory_fraction: float | None, max_running: int | None, max_model_len: int,
                 kv_dtype: str, gpus_per_node: int, max_batched_tokens: int | None = None, eager: bool = False,
                 speculative=None):
        self.speculative = speculative  # method ('mtp' | 'eagle' | 'ngram') and tokens k the speed assumed, or None
        self.memory_fraction = memory_fraction
        self.max_batched_tokens = max_batched_tokens  # set only when the user gave it (else the engine's default)
        self.eager = eager
        self.max_running = max_running
        self.max_model_len = max_model_len
        self.kv_dtype = kv_dtype
        self.gpus_per_node = gpus_per_node


def _model_path(model: Model) -> str:
    """What engines serve the model from: its Hugging Face repository, else the local folder it was imported from,
    else its id."""
    return model.hf_repo or model.local_path or model.id


def _repo(model: Model, variant: Variant) -> str:
    """The Hugging Face repository of the variant's own checkpoint when its source names one (anywhere
    in the source text), else the model's (`_model_path`)."""
    for found in re.finditer(r"https://huggingface\.co/([\w.-]+/[\w.-]+)", variant.source or ""):
        if found.group(1).split("/")[0] not in ("docs", "blog", "spaces", "datasets"):
            return found.group(1)
    return _model_path(model)


def _gguf_tag(repo: str, variant: Variant) -> str:
    """llama.cpp's `-hf REPO:QUANT` tag: the quant folder or file the variant's source names in the GGUF
    repository (.../DeepSeek-R1-GGUF/tree/main/DeepSeek-R1-UD-IQ1_S -> UD-IQ1_S), else the variant id."""
    found = re.search(re.escape(repo) + r"/(?:tree|blob|resolve)/[\w.-]+/([\w.-]+)", variant.source or "")
    if found:
        stem = re.sub(r"\.gguf$", "", found.group(1))
        prefix = repo.split("/")[1].removesuffix("-GGUF") + "-"
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix):]
    return variant.id.upper()


def _fmt(x: float) -> str:
    """The memory fraction as sized, to four places (0.8331 stays 0.8331; 0.9 prints 0.9)."""
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _env(devices: str | None) -> str:
    return f"CUDA_VISIBLE_DEVICES={devices} " if devices else ""


def device_range(start: int, count: int) -> str:
    """CUDA_VISIBLE_DEVICES for `count` accelerators from `start`: the list, or past 16 of them the shell's
    `$(seq -s, first last)`, which prints the same list and keeps a 72-GPU rack's command readable."""
    if count > 16:
        return f"$(seq -s, {start} {start + count - 1})"
    return ",".join(str(start + i) for i in range(count))


def _devices(slot: int, ranks: int) -> str:
    return ",".join(str(slot * ranks + i) for i in range(ranks))


def launch_for(model: Model, variant: Variant, engine: Engine, layout: Layout, settings: LaunchSettings,
               port: int = PORT, devices: str | None = None) -> list[str]:
    """Command lines, one per node role, that start one replica (or every replica slot of one server); a
    one-server replica listens on `port` and sees `devices` (CUDA_VISIBLE_DEVICES; None: all)."""
    repo = _repo(model, variant)
    # An fp8 run of a 16-bit checkpoint (no fp8 checkpoint of its own): the engine quantizes on load.
    quantize = variant.id == "fp8" and model.native_precision != "fp8" and repo == _model_path(model)
    builder = {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm, "llama.cpp": _llama_cpp}.get(engine.id)
    if builder is None:
        return [f"# {engine.name}: no command template; layout {layout.label}"]
    base = builder(repo, layout, settings, quantize, variant, redundant_experts(model, layout),
                   model.moe.experts if model.moe else None)
    if layout.replicas_per_node > 1:
        commands = [base(port=PORT + i, devices=_devices(i, layout.ranks)) for i in range(layout.replicas_per_node)]
    elif layout.nodes_per_replica > 1 and engine.id != "trtllm":
        commands = [base(port=PORT, node=0), base(port=PORT, node="$NODE_RANK")]
    else:
        commands = [base(port=port, devices=devices)]
    return commands + draft_note(settings.speculative)


def _flags(*pairs: tuple[object, str]) -> list[str]:
    """The flags whose condition holds, in order."""
    return [text for condition, text in pairs if condition]


def _common(s: LaunchSettings, lay: Layout, engine: str) -> dict[str, object]:
    kv = KV_FLAGS[engine].get(s.kv_dtype)
    # Running sequences per attention DP group, rounded up so the groups together admit at least the replica's
    # users (626 users over DP8: 79 per group, 632 in all; rounding down would admit 78 × 8 = 624).
    per_group = max(1, math.ceil(s.max_running / lay.dp)) if s.max_running else None
    return {"kv": kv, "per_group": per_group,
            "fraction": None if s.memory_fraction is None else _fmt(s.memory_fraction)}


def _vllm(repo: str, lay: Layout, s: LaunchSettings, quantize: bool, variant: Variant,
          redundant: int = 0, experts: int | None = None):
    c = _common(s, lay, "vllm")
    args = [f"vllm serve {repo}", f"--tensor-parallel-size {lay.tp}"] + _flags(
        (lay.pp > 1, f"--pipeline-parallel-size {lay.pp}"),
        (lay.dp > 1, f"--data-parallel-size {lay.dp}"),
        (lay.ep > 1, "--enable-expert-parallel"),
        (lay.ep > 1 and redundant, f"--enable-eplb --eplb-config '{{\"num_redundant_experts\":{redundant}}}'"),
        (quantize, "--quantization fp8"),
        (c["fraction"], f"--gpu-memory-utilization {c['fraction']}"),
        (True, f"--max-model-len {s.max_model_len}"),
        (c["per_group"], f"--max-num-seqs {c['per_group']}"),
        (s.max_batched_tokens, f"--max-num-batched-tokens {s.max_batched_tokens}"),
        (s.eager, "--enforce-eager"),
        (c["kv"], f"--kv-cache-dtype {c['kv']}"),
        (s.speculative, _vllm_speculative(s.speculative)))

    def cmd(port: int, node=None, devices: str | None = None) -> str:
        return _env(devices) + " ".join(args + [f"--port {port}"] + _vllm_nodes(lay, node))
    return cmd


def _vllm_nodes(lay: Layout, node) -> list[str]:
    """vLLM's flags for one server of a replica that spans several: data-parallel ranks per server, or
    one tensor/pipeline group over all (the others headless)."""
    if node is None:
        return []
    if lay.dp > 1:
        local = lay.dp // lay.nodes_per_replica
        return [f"--data-parallel-size-local {local}", "--data-parallel-address $HEAD_IP",
                f"--data-parallel-rpc-port {VLLM_DP_RPC_PORT}"] + _flags(
            (node != 0, f"--data-parallel-start-rank $(({node} * {local})) --headless"))
    return [f"--nnodes {lay.nodes_per_replica}", f"--node-rank {node}", "--master-addr $HEAD_IP"] + _flags(
        (node != 0, "--headless"))


def _sglang(repo: str, lay: Layout, s: LaunchSettings, quantize: bool, variant: Variant,
            redundant: int = 0, experts: int | None = None):
    c = _common(s, lay, "sglang")
    args = ["python -m sglang.launch_server", f"--model-path {repo}", f"--tp-size {lay.stage_ranks}"] + _flags(
        (lay.pp > 1, f"--pp-size {lay.pp}"),
        (lay.dp > 1, f"--attn-dp-size {lay.dp}"),
        (lay.ep > 1, f"--ep-size {lay.ep}"),
        (lay.ep > 1 and lay.dp > 1, "--moe-a2a-backend deepep"),
        (lay.ep > 1 and redundant, f"--enable-eplb --ep-num-redundant-experts {redundant}"),
        (quantize, "--quantization fp8"),
        (c["fraction"], f"--mem-fraction-static {c['fraction']}"),
        (True, f"--context-length {s.max_model_len}"),
        (s.max_running, f"--max-running-requests {s.max_running}"),
        (s.max_batched_tokens, f"--chunked-prefill-size {s.max_batched_tokens}"),
        (s.eager, "--disable-cuda-graph"),
        (c["kv"], f"--kv-cache-dtype {c['kv']}"),
        (s.speculative, _sglang_speculative(s.speculative)))

    def cmd(port: int, node=None, devices: str | None = None) -> str:
        nodes = [] if node is None else [f"--nnodes {lay.nodes_per_replica}", f"--node-rank {node}",
                                         f"--dist-init-addr $HEAD_IP:{SGLANG_DIST_PORT}"]
        return _env(devices) + " ".join(args + ["--host 0.0.0.0", f"--port {port}"] + nodes)
    return cmd


def options_file(port: int) -> str:
    """TensorRT-LLM's LLM API options file of the server on `port`: one per server slot, as replicas sharing a
    server each write their own (extra-llm-api.yaml on PORT, extra-llm-api-<port>.yaml beside it)."""
    return "extra-llm-api.yaml" if port == PORT else f"extra-llm-api-{port}.yaml"


def _trtllm(repo: str, lay: Layout, s: LaunchSettings, quantize: bool, variant: Variant,
            redundant: int = 0, experts: int | None = None):
    c = _common(s, lay, "trtllm")
    options = _flags((lay.dp > 1, "enable_attention_dp: true"),
                     (c["kv"], f"kv_cache_config: {{dtype: {c['kv']}}}"),
                     (s.eager, "cuda_graph_config: null"),
                     (redundant, f"moe_config: {{load_balancer: {{num_slots: {redundant + (experts or 0)}}}}}"),
                     *[(True, o) for o in _trtllm_speculative(s.speculative)])
    args = [f"trtllm-serve {repo}", "--backend pytorch", f"--tp_size {lay.stage_ranks}"] + _flags(
        (lay.pp > 1, f"--pp_size {lay.pp}"),
        (lay.ep > 1, f"--ep_size {lay.ep}"),
        (c["per_group"], f"--max_batch_size {c['per_group']}"),
        (s.max_batched_tokens, f"--max_num_tokens {s.max_batched_tokens}"),
        (True, f"--max_seq_len {s.max_model_len}"),
        (c["fraction"], f"--kv_cache_free_gpu_memory_fraction {c['fraction']}"))

    def cmd(port: int, node=None, devices: str | None = None) -> str:
        name = options_file(port)
        prefix = ("printf '%s\\n' " + " ".join(f"'{o}'" for o in options) + f" > {name} && ") if options else ""
        line = " ".join(args + _flags((options, f"--extra_llm_api_options {name}")) + ["--host 0.0.0.0",
                                                                                       f"--port {port}"])
        if lay.nodes_per_replica > 1:
            hosts = ",".join(f"$NODE{i}_IP:{s.gpus_per_node}" for i in range(lay.nodes_per_replica))
            line = f"mpirun -H {hosts} -n {lay.ranks} trtllm-llmapi-launch {line}"
        return prefix + _env(devices) + line
    return cmd


# Speculative decoding, each engine's own options for the method and k draft tokens per step the speed assumed
# (optimizer/serving.py Speculative). EAGLE-3 needs a draft model trained for the target model: the commands
# carry DRAFT_PLACEHOLDER, which the operator replaces (a '#' line after the commands says so).
DRAFT_PLACEHOLDER = "<EAGLE-3 draft model>"


def _vllm_speculative(spec) -> str:
    """vLLM `--speculative-config` JSON: method "mtp" (the model's own MTP layers; vLLM's MTP page,
    https://docs.vllm.ai/en/v0.19.1/features/speculative_decoding/mtp/), "eagle3" with the draft in "model"
    (https://docs.vllm.ai/en/latest/features/speculative_decoding/eagle/), "ngram" with prompt_lookup_max
    (https://docs.vllm.ai/en/latest/features/speculative_decoding/n_gram/, whose example uses 4); '' for None."""
    if spec is None:
        return ""
    fields = {"mtp": '"method": "mtp"', "eagle": f'"method": "eagle3", "model": "{DRAFT_PLACEHOLDER}"',
              "ngram": '"method": "ngram", "prompt_lookup_max": 4'}[spec.method]
    return f"--speculative-config '{{{fields}, \"num_speculative_tokens\": {spec.tokens}}}'"


def _sglang_speculative(spec) -> str:
    """SGLang's speculative options (https://docs.sglang.io/docs/advanced_features/speculative_decoding):
    MTP runs as `--speculative-algorithm EAGLE` (NEXTN is its alias) on the checkpoint's own MTP layers,
    EAGLE-3 as EAGLE3 with `--speculative-draft-model-path`, n-gram as NGRAM (no attention DP, CUDA only);
    a chain of k drafts: `--speculative-num-steps k --speculative-eagle-topk 1 --speculative-num-draft-tokens
    k+1` (the docs' MTP example: 1 step, top-k 1, 2 draft tokens); NGRAM's chain: max BFS breadth 1.
    '' for None."""
    if spec is None:
        return ""
    k = spec.tokens
    if spec.method == "ngram":
        return (f"--speculative-algorithm NGRAM --speculative-num-draft-tokens {k + 1} "
                f"--speculative-ngram-max-bfs-breadth 1")
    head = ("--speculative-algorithm EAGLE" if spec.method == "mtp" else
            f"--speculative-algorithm EAGLE3 --speculative-draft-model-path '{DRAFT_PLACEHOLDER}'")
    return f"{head} --speculative-num-steps {k} --speculative-eagle-topk 1 --speculative-num-draft-tokens {k + 1}"


def _trtllm_speculative(spec) -> list[str]:
    """TensorRT-LLM's `speculative_config` in the LLM API options file (decoding_type MTP with
    num_nextn_predict_layers k, Eagle3 with max_draft_len and speculative_model_dir, NGram with max_draft_len
    and the overlap scheduler off as its example runs it:
    https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/features/speculative-decoding.md)."""
    if spec is None:
        return []
    k = spec.tokens
    if spec.method == "mtp":
        return [f"speculative_config: {{decoding_type: MTP, num_nextn_predict_layers: {k}}}"]
    if spec.method == "eagle":
        return [f"speculative_config: {{decoding_type: Eagle3, max_draft_len: {k}, "
                f"speculative_model_dir: {DRAFT_PLACEHOLDER}}}"]
    return [f"speculative_config: {{decoding_type: NGram, max_draft_len: {k}, max_matching_ngram_size: 4}}",
            "disable_overlap_scheduler: true"]


def draft_note(spec) -> list[str]:
    """A '#' line for the commands of an EAGLE-3 run: the draft model is a placeholder to fill in."""
    if spec is None or spec.method != "eagle":
        return []
    # Drafts: the EAGLE-3 authors' (https://huggingface.co/yuhuili) and NVIDIA's speculative-decoding-modules
    # collection. (optimizer/render.py wraps a long comment as comment lines.)
    return [f"# fill in {DRAFT_PLACEHOLDER}: an EAGLE-3 draft for this model"]


def _llama_cpp(repo: str, lay: Layout, s: LaunchSettings, quantize: bool, variant: Variant,
               redundant: int = 0, experts: int | None = None):
    parallel = max(1, s.max_running or 1)
    # On a CPU host (Layout.numa_spread) nothing is offloaded: one process spreads over the sockets.
    args = [f"llama-server -hf {repo}:{_gguf_tag(repo, variant)}",
            "--numa distribute" if getattr(lay, "numa_spread", False) else "-ngl 999"]
    if lay.pp > 1 and not getattr(lay, "numa_spread", False):
        args.append("--split-mode layer")
    args += [f"-c {s.max_model_len * parallel}", f"--parallel {parallel}"]
    if s.kv_dtype in KV_FLAGS["llama.cpp"]:
        kv = KV_FLAGS["llama.cpp"][s.kv_dtype]
        args += [f"-ctk {kv}", f"-ctv {kv}"]

    def cmd(port: int, node=None, devices: str | None = None) -> str:
        if node not in (None, 0):  # the other servers lend their devices over llama.cpp's RPC backend
            return f"rpc-server --host 0.0.0.0 --port {LLAMA_RPC_PORT}"
        rpc = [f"--rpc {','.join(f'$NODE{i}_IP:{LLAMA_RPC_PORT}' for i in range(1, lay.nodes_per_replica))}"] \
            if lay.nodes_per_replica > 1 else []
        return _env(devices) + " ".join(args + rpc + ["--host 0.0.0.0", f"--port {port}"])
    return cmd


# Disaggregated pools (optimizer/disagg.py): each role's flags and the router in front of both.
# SGLang: `--disaggregation-mode prefill|decode`, `--disaggregation-transfer-backend mooncake|nixl`,
# `--disaggregation-bootstrap-port` (prefill) and `python -m sglang_router.launch_router --pd-disaggregation
# --prefill URL BOOTSTRAP_PORT --decode URL` (https://docs.sglang.io/docs/advanced_features/pd_disaggregation).
# vLLM: `--kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'` on both roles and the
# proxy tests/v1/kv_connector/nixl_integration/toy_proxy_server.py `--prefiller-hosts --prefiller-ports
# --decoder-hosts --decoder-ports` (https://docs.vllm.ai/en/stable/features/nixl_connector_usage.html).
# TensorRT-LLM: `cache_transceiver_config: {backend: UCX}` in the LLM API options of both roles
# (`disable_overlap_scheduler: true` on the context servers) and `trtllm-serve disaggregated -c disagg.yaml`
# listing the context (prefill) and generation (decode) servers
# (https://github.com/NVIDIA/TensorRT-LLM/blob/main/examples/disaggregated/README.md). llama.cpp has none.
DISAGG_ENGINES = ("vllm", "sglang", "trtllm")
SGLANG_BOOTSTRAP_PORT = 8998
ROUTER_PORT = 30000
# Several replicas on one server need their own side ports: SGLang's prefill bootstrap server, vLLM's NIXL
# handshake listener (VLLM_NIXL_SIDE_CHANNEL_PORT, default 5600: the vLLM guide's same-host example gives each
# instance its own; a process claims it plus an offset per DP or TP rank, by release up to twice its ranks:
# https://docs.vllm.ai/en/stable/features/nixl_connector_usage.html). The replica in slot i of a server (its HTTP
# port PORT + i) takes SGLANG_BOOTSTRAP_PORT + i, or NIXL_SIDE_CHANNEL_PORT + 2 · ranks · i.
NIXL_SIDE_CHANNEL_PORT = 5600

# An address the router sends to: (host placeholder, HTTP port, SGLang bootstrap port).
Address = tuple[str, int, int]


def role_flags(engine_id: str, role: str, slot: int = 0) -> str:
    """What one replica of a disaggregated pool, in `slot` of its server, adds to its engine command (see above)."""
    if engine_id == "sglang":
        extra = f" --disaggregation-bootstrap-port {SGLANG_BOOTSTRAP_PORT + slot}" if role == "prefill" else ""
        return f"--disaggregation-mode {role} --disaggregation-transfer-backend mooncake{extra}"
    if engine_id == "vllm":
        return """--kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'"""
    return ""


def router_command(engine_id: str, prefill: list[Address] | None = None, decode: list[Address] | None = None) -> str:
    """The router that sends each request to a prefill replica, then its KV cache and decode to a decode one, over
    every replica of both pools: `prefill` and `decode` list their addresses (`pool_addresses`); None: one replica
    each at $PREFILL_IP and $DECODE_IP (a pool replica sized alone, `hwplan estimate --role`)."""
    prefill = prefill or [("$PREFILL_IP", PORT, SGLANG_BOOTSTRAP_PORT)]
    decode = decode or [("$DECODE_IP", PORT, SGLANG_BOOTSTRAP_PORT)]
    if engine_id == "sglang":
        return ("python -m sglang_router.launch_router --pd-disaggregation "
                + " ".join(f"--prefill http://{h}:{p} {b}" for h, p, b in prefill) + " "
                + " ".join(f"--decode http://{h}:{p}" for h, p, _ in decode)
                + f" --host 0.0.0.0 --port {ROUTER_PORT}")
    if engine_id == "vllm":
        return (f"python tests/v1/kv_connector/nixl_integration/toy_proxy_server.py --host 0.0.0.0 --port {ROUTER_PORT} "
                f"--prefiller-hosts {' '.join(h for h, _, _ in prefill)} "
                f"--prefiller-ports {' '.join(str(p) for _, p, _ in prefill)} "
                f"--decoder-hosts {' '.join(h for h, _, _ in decode)} "
                f"--decoder-ports {' '.join(str(p) for _, p, _ in decode)}")

    def urls(pool: list[Address]) -> str:   # in the shell's double quotes, so that the addresses' variables expand
        return ", ".join(f'\\"{h}:{p}\\"' for h, p, _ in pool)

    return (f'printf "hostname: 0.0.0.0\\nport: {ROUTER_PORT}\\nbackend: pytorch\\ncontext_servers: {{num_instances: '
            f'{len(prefill)}, urls: [{urls(prefill)}]}}\\ngeneration_servers: {{num_instances: {len(decode)}, urls: '
            f'[{urls(decode)}]}}\\n" > disagg.yaml && trtllm-serve disaggregated -c disagg.yaml')


def pool_addresses(lines: list[tuple[str, int, int, int]]) -> tuple[list[Address], list[Address]]:
    """(prefill, decode) addresses of a disaggregated plan's replicas: `lines` give each plan line's (role,
    replicas, replicas per server, servers per replica). Servers are numbered per pool, $PREFILL_NODE_1 … and
    $DECODE_NODE_1 …, in line order, a replica over several servers taking as many numbers; a replica answers on
    its first server (its head, where its HTTP server runs) at PORT + its slot there (SGLang's bootstrap port +
    slot)."""
    pools: dict[str, list[Address]] = {"prefill": [], "decode": []}
    servers = {"prefill": 0, "decode": 0}
    for role, replicas, per_server, span in lines:
        per_server = max(1, per_server)
        for r in range(replicas):
            slot = r % per_server
            head = servers[role] + 1 if slot == 0 else servers[role]
            if slot == 0:
                servers[role] += max(1, span)
            pools[role].append((f"${role.upper()}_NODE_{head}", PORT + slot, SGLANG_BOOTSTRAP_PORT + slot))
    return pools["prefill"], pools["decode"]


_PORT_FLAG = re.compile(r"--port (\d+)")


def with_role(commands: list[str], engine_id: str, role: str, ranks: int = 1, router: bool = True) -> list[str]:
    """Each command with its role's flags for its server slot (its --port less PORT): TensorRT-LLM's cache
    transceiver in its options file, SGLang's bootstrap port, vLLM's NIXL side-channel port (`ranks` per
    replica); with `router`, the decode pool's list ends with the router for one replica of each pool (a plan
    lists every replica instead: optimizer/solve.py)."""
    def slot(command: str) -> int:
        port = _PORT_FLAG.search(command)
        return int(port.group(1)) - PORT if port else 0

    if engine_id == "trtllm":
        option = "'cache_transceiver_config: {backend: UCX}'" + (" 'disable_overlap_scheduler: true'"
                                                                  if role == "prefill" else "")
        out = [c.replace("printf '%s\\n' ", f"printf '%s\\n' {option} ", 1) if c.startswith("printf")
               else c if c.startswith("#")
               else f"printf '%s\\n' {option} > {options_file(PORT + slot(c))} && "
               + c.replace("--backend pytorch",
                           f"--backend pytorch --extra_llm_api_options {options_file(PORT + slot(c))}", 1)
               for c in commands]
    elif engine_id == "vllm":
        out = [c if c.startswith("#") else
               f"VLLM_NIXL_SIDE_CHANNEL_PORT={NIXL_SIDE_CHANNEL_PORT + 2 * max(1, ranks) * slot(c)} {c} "
               f"{role_flags(engine_id, role)}" for c in commands]
    else:
        out = [f"{c} {role_flags(engine_id, role, slot(c))}" if not c.startswith(("rpc-server", "#")) else c
               for c in commands]
    if role == "decode" and router:
        out.append(ROUTER_NOTE + router_command(engine_id))
    return out


ROUTER_NOTE = "# router, once, in front of both pools: "
# A plan's router names its pools' servers in plan-line order, a replica's head server where it spans several.
PLAN_ROUTER_NOTE = ("# router, once, in front of both pools; $PREFILL_NODE_n and $DECODE_NODE_n are each pool's "
                    "servers in plan-line order, a multi-server replica's head (its --dist-init-addr host) first: ")
IN_DOMAIN_ROUTER_NOTE = "# router on each such server, in front of its own prefill and decode replicas: "


def launch_commands(model: Model, unit, context_tokens: int, workload=None) -> list[str]:
    """The commands for a plan line of `unit` (a `units.Unit`): its layout, and the memory share,
    running sequences (its users per replica), `max_model_len` and KV datatype it was sized with
    (the engine settings the sizing resolved; `context_tokens` when it has none), and the workload's
    speculative decoding (`workload`, a problem.Workload, when given)."""
    s = unit.capacity.fit.settings
    spec = getattr(workload, "speculative", None)
    settings = LaunchSettings(memory_fraction=s.memory_utilization if s else None,
                              max_running=_running_cap(unit, workload), speculative=spec,
                              max_model_len=s.max_model_len if s else context_tokens,
                              kv_dtype=unit.kv_dtype, gpus_per_node=unit.node.count,
                              max_batched_tokens=given_batched_tokens(s), eager=bool(s and s.eager))
    commands = launch_for(model, unit.variant, unit.engine, unit.layout, settings)
    role = getattr(unit, "role", "aggregated")
    side = getattr(unit, "in_domain", None)
    if side is not None:   # a rack-scale node: its prefill replicas first, on accelerators the decode leaves
        pre_settings = copy.copy(settings)
        pre_settings.max_running = None
        return one_server_pools(model, unit.variant, unit.engine, side.layout, side.gpus, unit.layout, pre_settings,
                                settings)
    return commands if role == "aggregated" else with_role(commands, unit.engine.id, role, unit.layout.ranks)


def one_server_pools(model: Model, variant: Variant, engine: Engine, prefill: Layout, prefill_gpus: int,
                     decode: Layout, prefill_settings: LaunchSettings, decode_settings: LaunchSettings) -> list[str]:
    """Both pools on one server (a rack-scale domain): `prefill.replicas_per_node` prefill replicas on its first
    `prefill_gpus` accelerators and ports, the decode instance on the accelerators after them and the next port,
    each with its role's flags, and a router on that server over its own replicas."""
    replicas = prefill.replicas_per_node
    pre = with_role(launch_for(model, variant, engine, prefill, prefill_settings), engine.id, "prefill", prefill.ranks)
    dec = with_role(launch_for(model, variant, engine, decode, decode_settings, port=PORT + replicas,
                               devices=device_range(prefill_gpus, decode.ranks)),
                    engine.id, "decode", decode.ranks, router=False)
    beside = [("$DECODE_IP", PORT + i, SGLANG_BOOTSTRAP_PORT + i) for i in range(replicas)]
    own = [("$DECODE_IP", PORT + replicas, SGLANG_BOOTSTRAP_PORT + replicas)]
    return pre + dec + [IN_DOMAIN_ROUTER_NOTE + router_command(engine.id, beside, own)]


def _running_cap(unit, workload) -> int:
    """The running-sequence cap of one replica: its users (closed loop). Open loop (`workload.request_rate`):
    a plan line's users count requests per hour, not sequences; the sizing (capacity._rate_capacity) kept the
    mean decode batch plus the prompt in prefill within the sequences its KV cache holds and the engine runs
    (min(memory_users, max_batch × attention DP groups)), and models no admission cap below that, so that
    is the cap (a cap at the mean decode batch would queue every burst of Poisson arrivals above the mean)."""
    cap = unit.capacity
    if getattr(workload, "request_rate", None) is None or getattr(unit, "role", "aggregated") != "aggregated":
        return cap.users
    s = cap.fit.settings
    engine_cap = s.max_batch * unit.layout.dp if s is not None and s.max_batch else None
    return cap.memory_users if engine_cap is None else min(cap.memory_users, engine_cap)


def given_batched_tokens(settings) -> int | None:
    """The max batched tokens to put on the command line: the user's value (else the engine's own
    default applies, which is what the sizing assumed)."""
    if settings is not None and "max_batched_tokens" in settings.given:
        return settings.max_batched_tokens
    return None

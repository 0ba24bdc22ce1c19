"""Deployment layouts: how one replica's accelerators split the model, and how replicas sit on servers.

A `Layout` is the engine-neutral description AIConfigurator and the engines use
(https://github.com/ai-dynamo/aiconfigurator, `--tp-size --attention-dp-size --moe-tp-size
--moe-ep-size`): per pipeline stage there are `tp × dp` ranks; attention runs tensor
parallel over `tp` ranks inside each of `dp` attention data-parallel groups (each group
holds its own sequences and their KV cache); MoE layers run over the same `tp × dp`
ranks as `ep` expert-parallel groups × `moe_tp` tensor-parallel ranks. `pp` stages
split the layers. A replica either fills part of a server (`replicas_per_node` > 1) or
spans `nodes_per_replica` whole servers.

What each engine accepts (read from its source, version named):

- vLLM 0.20 (`--tensor-parallel-size`, `--pipeline-parallel-size`, `--data-parallel-size`,
  `--enable-expert-parallel`, as ai-dynamo/aiconfigurator's vLLM 0.20.1 command template
  src/aiconfigurator/generator/config/backend_templates/vllm/cli_args.0.20.1.j2 writes them;
  https://docs.vllm.ai/en/latest/serving/data_parallel_deployment.html,
  https://docs.vllm.ai/en/latest/serving/expert_parallel_deployment.html): attention heads
  divisible by TP (KV heads replicated when fewer than TP, TP divisible by them); with
  `--data-parallel-size N` MoE layers span all TP × DP ranks, as expert parallel with
  `--enable-expert-parallel` (EP = TP × DP) or tensor parallel without it.
- SGLang 0.5.23 (python/sglang/srt/arg_groups/fields/parallel.py and parallel_hook.py in the
  PyPI wheel: `--tp-size` counts every rank of a stage, `--attn-dp-size` divides it,
  `--ep-size` divides it; `assert cfg.tp_size % cfg.attn_dp_size == 0`).
- TensorRT-LLM (tensorrt_llm/commands/serve.py at commit 00209af1: `--tp_size`, `--pp_size`, `--ep_size`;
  `enable_attention_dp` in the LLM API options makes every rank its own attention group,
  so attention TP is 1; `moe_expert_parallel_size` × `moe_tensor_parallel_size` = tp_size).
- llama.cpp (no version read: its documentation, tools/server/README.md and tools/rpc/README.md):
  whole layers per device (`--split-mode layer`), also across servers through its RPC backend;
  no tensor, data or expert parallelism.

Experts must divide evenly over EP ranks unless the engine adds redundant experts (expert-parallel
load balancing): vLLM `--enable-eplb --eplb-config '{"num_redundant_experts": N}'`, SGLang
`--enable-eplb --ep-num-redundant-experts N` (fields/exec_.py), TensorRT-LLM `moe_config.load_balancer`
slots. EP ranks that do not divide the experts then hold `redundant_experts` extra copies so that every
rank holds the same number (DeepSeek's decode units: 256 + 32 = 288 slots over EP144; EP72 on a
GB200 NVL72 rack: 288 over 72). A scale-up domain sold as one system (the NVL72 rack, 72 GPUs) is one
node here: TP, EP and several replicas within the rack are layouts like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.schema import Engine, Model

__all__ = ["Layout", "EngineLayouts", "ENGINE_LAYOUTS", "engine_layouts", "layout_problem", "candidate_layouts",
           "default_layout", "redundant_experts", "chunk_tokens_per_group"]


@dataclass(frozen=True)
class Layout:
    """How one replica splits the model, and how replicas share or span servers.

    tp: attention tensor-parallel ranks in each attention group (per stage).
    pp: pipeline stages. dp: attention data-parallel groups (1 = none).
    ep: expert-parallel ranks of MoE layers (1 = MoE layers tensor parallel over tp × dp).
    replicas_per_node: replicas sharing one server (a replica smaller than the server).
    nodes_per_replica: servers one replica spans.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    replicas_per_node: int = 1
    nodes_per_replica: int = 1
    # llama.cpp on a multi-socket CPU host: one process, no tensor parallelism; `--numa distribute` spreads
    # the threads and the model's pages over the sockets (sizing divides memory as tp ranks would).
    numa_spread: bool = False

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "ep", "replicas_per_node", "nodes_per_replica"):
            if getattr(self, name) < 1:
                raise ValueError(f"layout {name} = {getattr(self, name)}: must be at least 1")
        if self.replicas_per_node > 1 and self.nodes_per_replica > 1:
            raise ValueError("a replica either shares a server or spans servers, not both")
        if self.stage_ranks % self.ep:
            raise ValueError(f"EP {self.ep} does not divide the {self.stage_ranks} ranks of a stage")

    @property
    def stage_ranks(self) -> int:
        """Ranks in one pipeline stage: tp × dp (= ep × moe_tp)."""
        return self.tp * self.dp

    @property
    def ranks(self) -> int:
        """Accelerators in one replica."""
        return self.stage_ranks * self.pp

    @property
    def moe_tp(self) -> int:
        """Tensor-parallel ranks each expert is split over."""
        return self.stage_ranks // self.ep

    @property
    def dp_attention(self) -> bool:
        return self.dp > 1

    @property
    def label(self) -> str:
        """'TP2 ×4 per node', 'TP16 over 2 nodes', 'DP8 attention + EP8', 'TP8 × PP2 over 2 nodes'."""
        if self.numa_spread:
            return f"one process over {self.ranks} sockets (--numa distribute), no TP"
        parts = [f"TP{self.tp}"] if self.dp == 1 else ([f"DP{self.dp} attention"] if self.tp == 1
                                                       else [f"TP{self.tp} × DP{self.dp} attention"])
        if self.ep > 1:
            parts.append(f"EP{self.ep}")
        text = " + ".join(parts)
        if self.pp > 1:
            text += f" × PP{self.pp}"
        if self.replicas_per_node > 1:
            text += f" ×{self.replicas_per_node} per node"
        if self.nodes_per_replica > 1:
            text += f" over {self.nodes_per_replica} nodes"
        return text

    @property
    def key(self) -> str:
        """A short ASCII id: 'tp2-x4', 'tp16-n2', 'dp8-ep8', 'tp8-pp2-n2'."""
        parts = [f"tp{self.tp}"] if self.dp == 1 or self.tp > 1 else []
        if self.dp > 1:
            parts.append(f"dp{self.dp}")
        if self.ep > 1:
            parts.append(f"ep{self.ep}")
        if self.pp > 1:
            parts.append(f"pp{self.pp}")
        if self.replicas_per_node > 1:
            parts.append(f"x{self.replicas_per_node}")
        if self.nodes_per_replica > 1:
            parts.append(f"n{self.nodes_per_replica}")
        return "-".join(parts)

    def to_json(self) -> dict[str, int]:
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "ep": self.ep,
                "replicas_per_node": self.replicas_per_node, "nodes_per_replica": self.nodes_per_replica}


@dataclass(frozen=True)
class EngineLayouts:
    """What layouts one engine runs (see the module docstring for the sources)."""

    version: str                 # the engine version the rules were read from
    tensor: bool = True          # tensor parallel at all (llama.cpp: whole layers per device)
    cross_node_tp: bool = True   # a tensor-parallel group may span servers
    attention_dp: str = "any"    # "any": dp × tp ranks; "full": attention TP must be 1; "none"
    expert_parallel: str = "any"  # "any": ep divides the stage; "all": ep = every rank of the stage; "none"
    pipeline: bool = True
    multi_node: bool = True      # a replica may span servers at all
    redundant_experts: bool = False  # adds expert copies so that any EP size holds whole experts
    # With attention DP the engine's prefill chunk (max batched tokens) is the whole replica's, split
    # over the DP groups (SGLang: `chunked_prefill_size // dp_size`), rather than each group's own.
    dp_splits_chunk: bool = False


ENGINE_LAYOUTS: dict[str, EngineLayouts] = {
    "vllm": EngineLayouts(version="0.20", attention_dp="any", expert_parallel="all", redundant_experts=True),
    # SGLang server_args.py (_handle_data_parallelism): "DP attention is enabled. The chunked prefill size is
    # adjusted to {chunked_prefill_size // dp_size} to avoid MoE kernel issues."
    "sglang": EngineLayouts(version="0.5.23", attention_dp="any", expert_parallel="any", redundant_experts=True,
                            dp_splits_chunk=True),
    "trtllm": EngineLayouts(version="main@00209af1", attention_dp="full", expert_parallel="any", redundant_experts=True),
    # Whole layers per device, across servers through its RPC backend (`rpc-server`, `--rpc`).
    "llama.cpp": EngineLayouts(version="docs", tensor=False, cross_node_tp=False, attention_dp="none",
                               expert_parallel="none"),
}

# Engines the catalog adds beyond the four above: plain tensor and pipeline parallel only.
_UNKNOWN_ENGINE = EngineLayouts(version="unknown", attention_dp="none", expert_parallel="none")


def engine_layouts(engine: Engine) -> EngineLayouts:
    """The layout rules of `engine` (an engine the module does not know gets TP × PP only)."""
    rules = ENGINE_LAYOUTS.get(engine.id, _UNKNOWN_ENGINE)
    if engine.split == "layer" and rules.tensor:
        return EngineLayouts(version=rules.version, tensor=False, cross_node_tp=False, attention_dp="none",
                             expert_parallel="none", multi_node=rules.multi_node)
    return rules


def chunk_tokens_per_group(engine: Engine, layout: Layout, max_batched_tokens: int) -> int:
    """Prompt tokens one attention DP group prefills in one step (its chunk), tokens.

    `max_batched_tokens` as the engine option sets it; SGLang divides it over the attention DP groups
    (server_args.py: `chunked_prefill_size // dp_size` with `--enable-dp-attention`), vLLM's and
    TensorRT-LLM's DP ranks each schedule their own `max_num_batched_tokens` / `max_num_tokens`.
    At least one token.
    """
    if layout.dp > 1 and engine_layouts(engine).dp_splits_chunk:
        return max(1, max_batched_tokens // layout.dp)
    return max_batched_tokens


def layout_problem(model: Model, engine: Engine, layout: Layout, gpus_per_node: int) -> str | None:
    """Why `engine` cannot run `model` in `layout` on servers of `gpus_per_node`, or None if it can.

    Checks: heads and KV heads divisible by attention TP (KV heads replicated when fewer
    than TP, which TP must then be a multiple of); experts divisible by EP (or made so by
    redundant experts); the engine's attention-DP, EP, pipeline and cross-node rules; the
    ranks filling the servers exactly.
    """
    rules = engine_layouts(engine)
    for check in (_tensor_problem, _dp_problem, _ep_problem, _placement_problem):
        problem = check(model, engine, rules, layout, gpus_per_node)
        if problem:
            return problem
    return None


def _tensor_problem(model: Model, engine: Engine, rules: EngineLayouts, layout: Layout, gpus_per_node: int):
    att = model.attention
    if not rules.tensor and layout.stage_ranks > 1:
        return f"{engine.name} splits whole layers over devices (tensor, data or expert parallel size must be 1)"
    if att.heads % layout.tp:
        return f"{att.heads} attention heads do not divide over TP {layout.tp}"
    kv = att.kv_heads if att.kind != "mla" else None
    if kv and ((kv >= layout.tp and kv % layout.tp) or (kv < layout.tp and layout.tp % kv)):
        return f"{kv} KV heads do not split or replicate evenly over TP {layout.tp}"
    return None


def _dp_problem(model: Model, engine: Engine, rules: EngineLayouts, layout: Layout, gpus_per_node: int):
    if layout.dp == 1:
        return None
    if rules.attention_dp == "none":
        return f"{engine.name} has no data-parallel attention"
    if rules.attention_dp == "full" and layout.tp != 1:
        return f"{engine.name}'s attention DP makes every rank its own attention group (TP 1)"
    if model.moe is None:
        return "data-parallel attention inside one replica only helps MoE models (dense models: more replicas)"
    return None


def _ep_problem(model: Model, engine: Engine, rules: EngineLayouts, layout: Layout, gpus_per_node: int):
    if layout.ep == 1:
        return None
    if model.moe is None:
        return "expert parallelism needs an MoE model"
    if rules.expert_parallel == "none":
        return f"{engine.name} has no expert parallelism"
    if rules.expert_parallel == "all" and layout.ep != layout.stage_ranks:
        return f"{engine.name}'s expert parallelism spans every rank of a stage (EP = TP × DP = {layout.stage_ranks})"
    if layout.ep > model.moe.experts:
        return f"{model.moe.experts} experts are fewer than the EP {layout.ep} ranks"
    if model.moe.experts % layout.ep and not rules.redundant_experts:
        return f"{model.moe.experts} experts do not divide over EP {layout.ep}"
    return None


def _placement_problem(model: Model, engine: Engine, rules: EngineLayouts, layout: Layout, gpus_per_node: int):
    if layout.pp > 1 and not rules.pipeline:
        return f"{engine.name} has no pipeline parallelism"
    if layout.pp > model.layers:
        return f"{layout.pp} pipeline stages exceed the model's {model.layers} layers"
    if layout.nodes_per_replica == 1:
        if layout.ranks * layout.replicas_per_node != gpus_per_node:
            return f"{layout.replicas_per_node} replicas of {layout.ranks} ranks do not fill a server of {gpus_per_node}"
        return None
    if not rules.multi_node:
        return f"{engine.name} does not span servers with one replica"
    if layout.ranks != layout.nodes_per_replica * gpus_per_node:
        return f"{layout.ranks} ranks do not fill {layout.nodes_per_replica} servers of {gpus_per_node}"
    if layout.stage_ranks > gpus_per_node and not rules.cross_node_tp:
        return f"{engine.name} keeps tensor parallelism inside a server"
    return None


def redundant_experts(model: Model, layout: Layout) -> int:
    """Expert copies added so that every one of the EP ranks holds the same whole number of experts."""
    if model.moe is None or layout.ep <= 1:
        return 0
    return (-model.moe.experts) % layout.ep


def _sub_node_sizes(gpus_per_node: int) -> list[int]:
    """Replica sizes smaller than a server: powers of two that divide it (1, 2, 4 on an 8-GPU server;
    1, 2, 4, 8 … 36 on a 72-GPU NVLink domain)."""
    sizes, g = [], 1
    while g < gpus_per_node:
        if gpus_per_node % g == 0:
            sizes.append(g)
        g *= 2
    return sizes


def _tp_pp(model: Model, ranks: int) -> tuple[int, int]:
    """Largest TP dividing both `ranks` and the heads (KV heads as required); the rest pipeline."""
    att = model.attention
    for t in range(ranks, 0, -1):
        if ranks % t or att.heads % t:
            continue
        if att.kind != "mla" and att.kv_heads and ((att.kv_heads >= t and att.kv_heads % t)
                                                  or (att.kv_heads < t and t % att.kv_heads)):
            continue
        return t, ranks // t
    return 1, ranks


def default_layout(model: Model, engine: Engine, gpus_per_node: int, nodes: int = 1,
                   dp_attention: bool = False) -> Layout:
    """The layout hwplan assumed before layouts were searched: TP inside a server (largest valid),
    pipeline stages for the rest; `dp_attention` turns the TP ranks into attention DP groups for MoE models."""
    rules = engine_layouts(engine)
    ranks = gpus_per_node * nodes
    if not rules.tensor:
        return Layout(tp=1, pp=ranks, nodes_per_replica=nodes)
    tp, pp_in_node = _tp_pp(model, gpus_per_node)
    layout = Layout(tp=tp, pp=pp_in_node * nodes, nodes_per_replica=nodes)
    if dp_attention and tp > 1 and model.moe is not None and rules.attention_dp != "none":
        ep = tp if rules.expert_parallel == "all" else 1
        layout = Layout(tp=1, dp=tp, ep=ep, pp=layout.pp, nodes_per_replica=nodes)
    return layout


def candidate_layouts(model: Model, engine: Engine, gpus_per_node: int, nodes: int,
                      max_replicas_per_node: int | None = None) -> list[Layout]:
    """Valid layouts for replicas on `nodes` servers of `gpus_per_node` (nodes = 1 includes sub-node replicas).

    Kept small on purpose (each layout costs a capacity search): per replica size, the
    largest valid TP with pipeline stages for the rest; across servers also one TP group
    over all of them; for MoE models attention DP with EP over all ranks, attention DP
    with MoE tensor parallel, and TP with EP. Layouts another one dominates on every
    term the speed model uses (e.g. TP × PP inside a server when plain TP is valid) are
    not generated.
    """
    rules = engine_layouts(engine)
    out: list[Layout] = []

    def add(layout: Layout) -> None:
        if layout not in out and layout_problem(model, engine, layout, gpus_per_node) is None:
            out.append(layout)

    if nodes == 1:
        sizes = [g for g in _sub_node_sizes(gpus_per_node)
                 if max_replicas_per_node is None or gpus_per_node // g <= max_replicas_per_node]
        for g in sizes + [gpus_per_node]:
            k = gpus_per_node // g
            if not rules.tensor:
                add(Layout(tp=1, pp=g, replicas_per_node=k))
                continue
            tp, pp = _tp_pp(model, g)
            add(Layout(tp=tp, pp=pp, replicas_per_node=k))
            _moe_layouts(model, rules, g, pp=1, add=add, replicas_per_node=k, nodes=1)
        return out
    if not rules.multi_node:
        return out
    ranks = gpus_per_node * nodes
    add(default_layout(model, engine, gpus_per_node, nodes))
    if rules.tensor and rules.cross_node_tp:
        tp, pp = _tp_pp(model, ranks)
        if pp == 1:
            add(Layout(tp=tp, nodes_per_replica=nodes))
        _moe_layouts(model, rules, ranks, pp=1, add=add, replicas_per_node=1, nodes=nodes)
    return out


def _moe_layouts(model: Model, rules: EngineLayouts, ranks: int, *, pp: int, add, replicas_per_node: int,
                 nodes: int) -> None:
    if model.moe is None or ranks < 2:
        return
    common = {"pp": pp, "replicas_per_node": replicas_per_node, "nodes_per_replica": nodes}
    if rules.attention_dp != "none":
        if rules.expert_parallel != "none":
            add(Layout(tp=1, dp=ranks, ep=ranks, **common))
        add(Layout(tp=1, dp=ranks, ep=1, **common))
    if rules.expert_parallel == "any" or (rules.expert_parallel == "all"):
        tp, _ = _tp_pp(model, ranks)
        if tp == ranks:
            add(Layout(tp=ranks, ep=ranks, **common))

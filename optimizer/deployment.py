"""A `Deployment`: one replica's hardware and software, the input of the sizing and speed models."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.schema import Accelerator, Engine, Model, Platform, Variant

from . import sizing
from .layouts import Layout
from .problem import EngineSettings

__all__ = ["Deployment"]


@dataclass(frozen=True)
class Deployment:
    """One replica: `gpus_per_node` accelerators on each of `nodes` servers (a replica smaller than
    its server has `gpus_per_node` = its own accelerators and nodes = 1), split as `layout` says."""

    model: Model
    variant: Variant
    accelerator: Accelerator
    platform: Platform
    engine: Engine
    gpus_per_node: int
    nodes: int = 1
    kv_dtype: str = "auto"          # 'auto' is resolved on construction (see sizing.resolve_kv_dtype)
    dp_attention: bool = False
    settings: EngineSettings | None = None   # engine settings; unset fields take the engine's defaults
    layout: Layout | None = None    # how the replica is split (None: sizing.choose_layout's default)
    draft: str | None = None        # speculative method (mtp | eagle | ngram) whose draft it loads (sizing)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kv_dtype", sizing.resolve_kv_dtype(self.kv_dtype, self.engine, self.variant))

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * self.nodes

    def memory(self) -> sizing.MemoryFit:
        return sizing.memory_fit(self.model, self.variant, self.accelerator, self.engine,
                                 gpus_per_node=self.gpus_per_node, nodes=self.nodes,
                                 kv_dtype=self.kv_dtype, dp_attention=self.dp_attention,
                                 settings=self.settings, layout=self.layout, draft=self.draft)

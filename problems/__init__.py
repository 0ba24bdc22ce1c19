"""Bundled problem files: real questions from the seed post, each a documented golden case."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bundled_problems", "bundled_problem_path", "bundled_summaries"]


def bundled_problems() -> list[Path]:
    """Paths of every bundled problem file, sorted by name."""
    root = resources.files(__name__)
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml"))


def bundled_problem_path(name: str) -> Path | None:
    """The bundled problem called `name` (with or without .yaml), or None."""
    stem = name[:-5] if name.endswith(".yaml") else name
    for path in bundled_problems():
        if path.stem == stem:
            return path
    return None


def bundled_summaries() -> list[dict[str, str]]:
    """Each bundled problem's name (what `hwplan solve NAME` takes) and description, sorted by name."""
    import yaml

    out = []
    for path in bundled_problems():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out.append({"name": path.stem, "description": " ".join(str(data.get("description", "")).split())})
    return sorted(out, key=lambda p: p["name"])

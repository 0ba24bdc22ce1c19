"""Read YAML safely and point at the line of any value in it.

Only `yaml.SafeLoader` is used: nothing in an input file is ever evaluated.
The composed node tree is kept so that a validation error on a field
(`accelerators[3].memory_gb`) can be reported with the line and column where
that field stands in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, did_you_mean, shorten

__all__ = ["YamlDoc", "read_yaml", "read_csv", "format_loc", "ALIAS_NODE_BUDGET"]

# libyaml's parser when PyYAML was built with it (10× faster); both are safe loaders.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[valid-type, misc]
    """The safe loader with each plain scalar's implicit tag remembered by its text.

    PyYAML resolves every scalar's tag (str, int, float, bool, null, timestamp) by regular
    expressions in Python, even under libyaml; a catalog repeats the same keys and many values
    thousands of times. The tag depends only on the text and how it was written, so it is
    looked up once per distinct text. Nothing else changes: same resolvers, same constructors.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._tags: dict[tuple, str] = {}

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


_LOADER = _Loader

# Aliases (*name) may repeat an anchored part of a document, but the nodes they add when
# expanded must stay within this budget: a few hundred bytes of nested aliases ("billion
# laughs", https://en.wikipedia.org/wiki/Billion_laughs_attack) otherwise expand to billions
# of values. assumption: no honest catalog or problem file repeats more than 10,000 values
# through aliases (the bundled files use none).
ALIAS_NODE_BUDGET = 10_000
# assumption: catalog and problem files nest a handful of levels; 64 leaves room and keeps the
# recursive checks and PyYAML's constructor far from Python's recursion limit.
MAX_DEPTH = 64


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document: its data, its node tree and where it came from."""

    data: dict[str, Any]
    root: yaml.Node | None
    origin: str

    def where(self, loc: tuple) -> str:
        """`origin:line:col` of the deepest node on the path `loc` that exists."""
        node = self.root
        for key in loc:
            child = _child(node, key)
            if child is None:
                break
            node = child
        if node is None:
            return self.origin
        mark = node.start_mark
        return f"{self.origin}:{mark.line + 1}:{mark.column + 1}"


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        if 0 <= key < len(node.value):
            return node.value[key]
    return None


def format_loc(loc: tuple) -> str:
    """('accelerators', 3, 'memory_gb') -> 'accelerators[3].memory_gb'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _mark(node: yaml.Node, origin: str) -> str:
    return f"{origin}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _check_structure(root: yaml.Node, text: str, origin: str, error: type[InputError]) -> None:
    """Refuse alias bombs, recursive aliases, nesting deeper than MAX_DEPTH and duplicate keys.

    A document without '&' has no anchor, hence no alias (an alias without its anchor does not
    compose): its node tree is a tree, whose depth and keys one walk over its mappings and lists
    checks. Any other document gets the full alias count (`_check_aliases`) first.
    """
    if "&" in text:
        _check_aliases(root, origin, error)
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen: set[int] = set()
    while stack:  # iterative: a deep document cannot exhaust Python's recursion
        node, depth = stack.pop()
        if id(node) in seen:
            continue   # an anchored part, already checked
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise error(f"{_mark(node, origin)}: the YAML nests deeper than {MAX_DEPTH} levels; "
                        f"no catalog or problem file needs that.")
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, origin, error)
        for child in reversed(_children(node)):   # reversed: the first duplicate in document order is named
            if depth + 1 > MAX_DEPTH or not isinstance(child, yaml.ScalarNode):
                stack.append((child, depth + 1))


def _check_aliases(root: yaml.Node, origin: str, error: type[InputError]) -> None:
    """Refuse recursive aliases, nesting deeper than MAX_DEPTH, and documents whose aliases
    expand past ALIAS_NODE_BUDGET extra nodes.

    The composed tree shares one node object for an anchor and all its aliases, so the
    expanded size is counted once per distinct node (memoized): linear in the file's size,
    never in the expansion's.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:  # iterative post-order walk: a deep document cannot exhaust Python's recursion
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] - distinct > ALIAS_NODE_BUDGET:
                raise error(f"{_mark(node, origin)}: YAML aliases here expand to {size[key]:,} values from "
                            f"{distinct:,} written, more than the {ALIAS_NODE_BUDGET:,} that aliases may add "
                            f"(an alias bomb?); write the values out instead of nesting aliases.")
            continue
        if key in size:
            continue
        if depth > MAX_DEPTH:
            raise error(f"{_mark(node, origin)}: the YAML nests deeper than {MAX_DEPTH} levels; "
                        f"no catalog or problem file needs that.")
        distinct += 1
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in on_path:
                raise error(f"{_mark(child, origin)}: the YAML alias refers to a mapping or list that contains "
                            f"it (a recursive alias); write the values out instead.")
            if id(child) not in size:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _bad_scalar(root: yaml.Node, origin: str) -> str | None:
    """`origin:line:col` and text of the first scalar the safe constructor cannot build (e.g. 2025-13-45)."""
    constructor = _LOADER("")
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError):
                return f"{_mark(node, origin)}: {node.tag.rsplit(':', 1)[-1]} '{shorten(node.value)}'"
        stack.extend(reversed(_children(node)))
    return None


def _check_keys(node: yaml.MappingNode, origin: str, error: type[InputError]) -> None:
    """Refuse a key written twice in one mapping, naming both lines."""
    seen: dict[str, yaml.Node] = {}
    for k, _ in node.value:
        if isinstance(k, yaml.ScalarNode):
            if k.value in seen:
                first = seen[k.value].start_mark.line + 1
                mark = k.start_mark
                raise error(
                    f"{origin}:{mark.line + 1}:{mark.column + 1}: key '{k.value}' appears "
                    f"twice in the same mapping (first on line {first}); keep one."
                )
            seen[k.value] = k


def _check_finite(value: Any, path: tuple, doc: YamlDoc, error: type[InputError]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise error(
            f"{doc.where(path)}: {format_loc(path)} is {value!r}; numbers must be finite "
            f"(YAML reads values like 1e400 or .inf as infinity)."
        )
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, path + (k,), doc, error)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, path + (i,), doc, error)


_TAG = "tag:yaml.org,2002:"


class _Unusual(Exception):
    """A node the plain constructor leaves to PyYAML's own (a tag, a merge key, a key that is a list)."""


def _construct(root: yaml.Node, *, aliased: bool) -> tuple[Any, bool]:
    """The document's values, as `SafeLoader.construct_document` builds them, and whether a float
    in them may be infinite or NaN (False only when every float was seen finite).

    A catalog is tens of thousands of plain mappings, lists and scalars; building them here,
    with PyYAML's own scalar constructors, takes a third of the time of its generic constructor.
    Documents with anchors or anything else (merge keys, explicit tags, a key that is not a
    scalar) go to PyYAML's constructor unchanged, so its errors and refusals stay the same.
    """
    constructor = _LOADER("")
    if aliased:
        return constructor.construct_document(root), True
    finite = [True]

    def build_float(node: yaml.ScalarNode) -> float:
        value = constructor.construct_yaml_float(node)
        if not math.isfinite(value):
            finite[0] = False
        return value

    scalars = {_TAG + "str": None, _TAG + "int": constructor.construct_yaml_int, _TAG + "float": build_float,
               _TAG + "bool": constructor.construct_yaml_bool, _TAG + "null": constructor.construct_yaml_null,
               _TAG + "timestamp": constructor.construct_yaml_timestamp}
    try:
        return _plain(root, scalars), not finite[0]
    except _Unusual:
        return _LOADER("").construct_document(root), True


def _plain(node: yaml.Node, scalars: dict) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in scalars:
            raise _Unusual
        build = scalars[node.tag]
        return node.value if build is None else build(node)
    if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
        out = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode) or k.tag not in scalars:
                raise _Unusual   # a merge key (<<), a list as a key, a tagged key
            out[_plain(k, scalars)] = _plain(v, scalars)
        return out
    if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
        return [_plain(item, scalars) for item in node.value]
    raise _Unusual


def _yaml_problem(exc: yaml.YAMLError, origin: str) -> str:
    """'file:line:col: malformed YAML: what the parser found', the position when PyYAML gives one."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: malformed YAML: {problem}"


def read_yaml(path: str | Path, *, text: str | None = None, origin: str | None = None,
              error: type[InputError] = InputError, what: str = "file") -> YamlDoc:
    """Parse one YAML mapping from `path` (or from `text`), failing with a clear message.

    Raises `error` (an InputError subclass) for a missing or unreadable file, bytes
    that are not UTF-8 text, malformed YAML, duplicate keys, non-finite numbers, an
    empty document, or a document that is not a mapping.
    """
    origin = origin or str(path)
    if text is None:
        text = _read_text(path, origin, error, what)
    root = _compose(text, origin, error, what)
    _check_structure(root, text, origin, error)
    try:
        data, maybe_infinite = _construct(root, aliased="&" in text)  # values from the nodes already parsed
    except yaml.YAMLError as exc:  # a tag the safe loader refuses (!!python/...), an unhashable key
        raise error(f"{_yaml_problem(exc, origin)} (only plain YAML is read; tags that run code are refused).") from None
    except (ValueError, OverflowError, TypeError) as exc:  # a scalar that looks like a date but is none: 2025-13-45
        bad = _bad_scalar(root, origin)
        if bad is None:
            raise error(f"{origin}: a value cannot be read ({shorten(str(exc))}).") from None
        raise error(f"{bad} is not a valid value ({shorten(str(exc))}); write a real date as YYYY-MM-DD, "
                    f"or quote the text.") from None
    doc = YamlDoc(data=data, root=root, origin=origin)
    if maybe_infinite:
        _check_finite(data, (), doc, error)
    return doc


def _read_text(path: str | Path, origin: str, error: type[InputError], what: str) -> str:
    """The file's text (UTF-8, a BOM allowed); `error` for a missing, unreadable or binary file."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{origin}: no such {what}.") from None
    except IsADirectoryError:
        raise error(f"{origin}: is a directory, not a YAML {what}.") from None
    except OSError as exc:
        raise error(f"{origin}: cannot read the {what} ({exc.strerror}).") from None
    if b"\x00" in raw:
        raise error(f"{origin}: is binary data, not a YAML {what}.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{origin}: is not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x}); "
            f"save it as UTF-8 YAML."
        ) from None


def _compose(text: str, origin: str, error: type[InputError], what: str) -> yaml.MappingNode:
    """The node tree of one YAML mapping; `error` for malformed YAML, an empty document or another kind."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise error(f"{_yaml_problem(exc, origin)}.") from None
    if root is None:
        raise error(f"{origin}: the {what} is empty; expected a YAML mapping of fields.")
    if not isinstance(root, yaml.MappingNode):
        kind = {yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}.get(type(root), "not a mapping")
        raise error(f"{origin}: the {what} holds {kind}; expected a YAML mapping of fields (key: value).")
    return root


def read_csv(path: str | Path, *, what: str, required: list[str] | tuple[str, ...] = (),
             error: type[InputError] = InputError) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows of a UTF-8 CSV file; errors name the file and the missing columns.

    Every row maps each header column to a string ('' where the row is short); cells beyond the
    header are dropped.
    """
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            missing = [c for c in required if c not in columns]
            if missing:
                hint = did_you_mean(missing[0], columns) if len(missing) == 1 else ""
                raise error(f"{path}: not a {what}: no column {', '.join(repr(m) for m in missing)}{hint} "
                            f"(columns: {', '.join(columns) or 'none'}).")
            # A short row leaves None in its missing cells and a long one lists its extras under None:
            # every row comes back with exactly the header's columns, each a string.
            return columns, [{c: row.get(c) if isinstance(row.get(c), str) else "" for c in columns}
                             for row in reader]
    except FileNotFoundError:
        raise error(f"{path}: no such {what}.") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what}.") from None
    except UnicodeDecodeError:
        raise error(f"{path}: is not UTF-8 text; save the {what} as UTF-8 CSV.") from None
    except csv.Error as exc:  # a NUL byte, a cell past the csv module's 131,072-character limit
        raise error(f"{path}: is not a readable CSV {what} ({shorten(str(exc))}).") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror}).") from None

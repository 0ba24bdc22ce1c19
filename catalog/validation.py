"""Turn pydantic validation errors into messages that point into the YAML file."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import InputError, did_you_mean, shorten
from .yamlio import YamlDoc, format_loc

__all__ = ["validate_doc", "describe_errors", "error_lines"]

_MAX_SHOWN = 3


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `list[X]`, `dict[str, X]`, `X | None`, or X itself."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _fields_at(root: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the record that holds the last key of `loc`."""
    cls: type[BaseModel] | None = root
    for part in loc[:-1]:
        if cls is None:
            return []
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(str(part))
        if field is None:
            return []
        cls = _model_in(field.annotation)
    return list(cls.model_fields) if cls else []


def _clean_loc(loc: tuple) -> tuple:
    # pydantic adds pseudo-steps for tagged unions and literal checks ("literal['a']").
    return tuple(p for p in loc if isinstance(p, int) or not str(p).startswith(("function-", "literal[")))


def error_lines(exc: ValidationError, root: type[BaseModel], doc: YamlDoc | None, origin: str) -> list[str]:
    """One sentence per validation error: location, field, value, what is wrong."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        where = doc.where(loc) if doc else origin
        field = shorten(format_loc(loc))
        kind = err["type"]
        if kind == "extra_forbidden":
            hint = did_you_mean(shorten(loc[-1]), _fields_at(root, loc))
            allowed = ", ".join(_fields_at(root, loc))
            parts.append(f"{where}: unknown key '{field}'{hint or f' (allowed: {allowed})'}")
        elif kind == "missing":
            parts.append(f"{where}: required field '{field}' is missing")
        elif not loc:  # a rule over several fields: the message says which
            msg = err["msg"]
            parts.append(f"{where}: {msg[len('Value error, '):] if msg.startswith('Value error, ') else msg}")
        else:
            value = err.get("input")
            shown = shorten(repr(value)) if not isinstance(value, (dict, list)) else type(value).__name__
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            parts.append(f"{where}: {field} = {shown}: {msg}")
    return parts


def describe_errors(exc: ValidationError, root: type[BaseModel], doc: YamlDoc | None, origin: str) -> str:
    """The first few errors as one paragraph."""
    parts = error_lines(exc, root, doc, origin)
    more = len(parts) - _MAX_SHOWN
    text = "; ".join(parts[:_MAX_SHOWN])
    if more > 0:
        text += f"; and {more} more error{'s' if more > 1 else ''} in the same file"
    return text if text.endswith((".", "?")) else text + "."


def validate_doc(root: type[BaseModel], doc: YamlDoc, error: type[InputError]) -> Any:
    """Validate a parsed YAML document against `root`, raising `error` with locations."""
    try:
        return root.model_validate(doc.data)
    except ValidationError as exc:
        raise error(describe_errors(exc, root, doc, doc.origin)) from None

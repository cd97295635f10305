"""Rule state ⇄ JSON-able values, driven by the state classes' type hints.

Rule states are slotted dataclasses whose fields are ints, floats, strings,
bools, ``None``, lists, tuples, dicts and other such dataclasses. A dataclass is
written as the list of its field values in declaration order (a snapshot holds
thousands of vehicles: field names repeated for each would double its size).
Dict keys are written as they are (``json`` writes int keys as strings) and
converted back by the declared key type.

The engine writes every vehicle's state every few reports (its checkpoints), so
the writer and converter of a dataclass are generated once per type as one
function — the way :mod:`dataclasses` builds its own methods — rather than
walked field by field through closures at every call (~4× the cost).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, Union, get_args, get_origin

Conv = Callable[[Any], Any]


def to_json(obj: Any) -> Any:
    """A JSON-able value: dataclass states through their compiled writers (by type
    hints), anything else by its runtime type."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return writer(type(obj))(obj)
    return _generic(obj)


def _generic(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return writer(type(obj))(obj)
    if isinstance(obj, list | tuple):
        return [_generic(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _generic(v) for k, v in obj.items()}
    raise TypeError(f"not JSON-able state: {type(obj).__name__}")


def _ident(v: Any) -> Any:
    return v


def _optional(tp: Any) -> Any | None:
    """``X`` of ``X | None``, else None."""
    if get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported state type {tp!r}")
        return inner[0]
    return None


@cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _generate(name: str, body: str, env: dict[str, Any]) -> Conv:
    exec(f"def {name}(v):\n{body}", env)  # noqa: S102 - source built from a dataclass's own field names
    fn: Conv = env[name]
    return fn


@cache
def writer(tp: Any) -> Conv:
    """The function that writes values of declared type ``tp`` (the mirror of :func:`converter`)."""
    if tp in (int, float, str, bool):
        return _ident
    if tp is Any:
        return _generic
    inner = _optional(tp)
    if inner is not None:
        w = writer(inner)
        return _ident if w is _ident else lambda v: None if v is None else w(v)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            ws = [writer(a) for a in args]
            return lambda v: [w(x) for w, x in zip(ws, v, strict=True)]
        w = writer(args[0])
        return list if w is _ident else lambda v: [w(x) for x in v]
    if origin is dict:
        vw = writer(args[1])
        return dict if vw is _ident else lambda v: {k: vw(x) for k, x in v.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_writer(tp)
    raise TypeError(f"cannot write state of type {tp!r}")


def _dataclass_writer(cls: type) -> Conv:
    hints = typing.get_type_hints(cls)
    env: dict[str, Any] = {}
    parts = []
    for i, f in enumerate(_fields(cls)):
        ft = hints[f.name]
        inner = _optional(ft)
        w = writer(ft)
        if w is _ident:
            parts.append(f"v.{f.name}")
        elif w is list or w is dict:
            parts.append(f"{w.__name__}(v.{f.name})")
        elif inner is not None:
            env[f"w{i}"] = writer(inner)
            parts.append(f"(None if (x{i} := v.{f.name}) is None else w{i}(x{i}))")
        else:
            env[f"w{i}"] = w
            parts.append(f"w{i}(v.{f.name})")
    return _generate(f"write_{cls.__name__}", f"    return [{', '.join(parts)}]\n", env)


def from_json(tp: Any, v: Any) -> Any:
    """Rebuild a value of declared type ``tp`` from :func:`to_json` output."""
    return converter(tp)(v)


@cache
def converter(tp: Any) -> Conv:
    """The function that rebuilds values of type ``tp``."""
    if tp is Any or tp in (str, bool):
        return _ident
    if tp is int:
        return int
    if tp is float:
        return float
    inner = _optional(tp)
    if inner is not None:
        c = converter(inner)
        return lambda v: None if v is None else c(v)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is list:
        c = converter(args[0])
        return lambda v: [c(x) for x in v]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            c = converter(args[0])
            return lambda v: tuple(c(x) for x in v)
        cs = [converter(a) for a in args]
        return lambda v: tuple(c(x) for c, x in zip(cs, v, strict=True))
    if origin is dict:
        kc, vc = converter(args[0]), converter(args[1])
        return lambda v: {kc(k): vc(x) for k, x in v.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_converter(tp)
    raise TypeError(f"cannot rebuild state of type {tp!r}")


def _dataclass_converter(cls: type) -> Conv:
    hints = typing.get_type_hints(cls)
    fields = _fields(cls)
    if any(not f.init for f in fields):
        raise TypeError(f"cannot rebuild {cls.__name__}: a field is not set by its constructor")
    env: dict[str, Any] = {"cls": cls}
    names = [f"x{i}" for i in range(len(fields))]
    parts = []
    for i, f in enumerate(fields):
        c = converter(hints[f.name])
        if c is _ident:
            parts.append(names[i])
        else:
            env[f"c{i}"] = c
            parts.append(f"c{i}({names[i]})")
    # Unpacking checks the length: a list of the wrong size raises ValueError.
    unpack = f"    {', '.join(names)}, = v\n" if names else "    () = v\n"
    return _generate(f"build_{cls.__name__}", f"{unpack}    return cls({', '.join(parts)})\n", env)

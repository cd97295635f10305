"""Rule state ⇄ JSON-able values, driven by the state classes' type hints.

Rule states are slotted dataclasses whose fields are ints, floats, strings,
bools, ``None``, lists, tuples, dicts and other such dataclasses. A dataclass is
written as the list of its field values in declaration order (a snapshot holds
thousands of vehicles: field names repeated for each would double its size);
dict keys become strings and are converted back by the declared key type. The
converters are built once per type, so restoring many vehicles stays cheap.
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


@cache
def writer(tp: Any) -> Conv:
    """The function that writes values of declared type ``tp`` (the mirror of :func:`converter`)."""
    if tp in (int, float, str, bool):
        return _ident
    if tp is Any:
        return _generic
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot write state of type {tp!r}")
        w = writer(inner[0])
        if w is _ident:
            return _ident
        return lambda v: None if v is None else w(v)
    if origin in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            ws = [writer(a) for a in args]
            return lambda v: [w(x) for w, x in zip(ws, v, strict=True)]
        w = writer(args[0])
        if w is _ident:
            return list
        return lambda v: [w(x) for x in v]
    if origin is dict:
        kt, vw = args[0], writer(args[1])
        if kt is str:
            return lambda v: {k: vw(x) for k, x in v.items()}
        return lambda v: {str(k): vw(x) for k, x in v.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = [f.name for f in _fields(tp)]
        ws = [writer(hints[n]) for n in names]
        pairs = list(zip(names, ws, strict=True))

        def write(v: Any) -> list[Any]:
            return [w(getattr(v, n)) for n, w in pairs]

        return write
    raise TypeError(f"cannot write state of type {tp!r}")


@cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def from_json(tp: Any, v: Any) -> Any:
    """Rebuild a value of declared type ``tp`` from :func:`to_json` output."""
    return converter(tp)(v)


def _ident(v: Any) -> Any:
    return v


@cache
def converter(tp: Any) -> Conv:
    """The function that rebuilds values of type ``tp``."""
    if tp is Any or tp in (str, bool):
        return _ident
    if tp is int:
        return int
    if tp is float:
        return float
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot rebuild state of type {tp!r}")
        c = converter(inner[0])
        return lambda v: None if v is None else c(v)
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
        hints = typing.get_type_hints(tp)
        fields = _fields(tp)
        cs = [converter(hints[f.name]) for f in fields]
        cls = tp

        def build(v: Any) -> Any:
            return cls(*[c(x) for c, x in zip(cs, v, strict=True)])

        return build
    raise TypeError(f"cannot rebuild state of type {tp!r}")


# ------------------------------------------------------------------------------ copies

_SCALARS = (int, float, str, bool, type(None))


def _shared(tp: Any) -> bool:
    """Values of this declared type are never mutated in place, so a copy may share them.
    ``Any`` (episode details' values) counts as such: rules replace detail entries,
    they never change one in place."""
    if tp is Any or tp in _SCALARS:
        return True
    origin = get_origin(tp)
    if origin in (Union, types.UnionType, tuple):
        return all(_shared(a) for a in get_args(tp) if a is not Ellipsis)
    return False



@cache
def cloner(tp: Any) -> Conv:
    """A function making an independent copy of values of declared type ``tp``: what a
    checkpoint of the rule state is (a JSON round trip gives the same value, ~10×
    slower). For dataclasses the copy is generated as one constructor call — the
    way :mod:`dataclasses` builds its own methods — since checkpoints are taken
    every few reports of every vehicle."""
    if _shared(tp):
        return _ident
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot copy state of type {tp!r}")
        c = cloner(inner[0])
        return lambda v: None if v is None else c(v)
    if origin is list:
        if _shared(args[0]):
            return list
        c = cloner(args[0])
        return lambda v: [c(x) for x in v]
    if origin is dict:
        if _shared(args[1]):
            return dict
        c = cloner(args[1])
        return lambda v: {k: c(x) for k, x in v.items()} if v else {}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_cloner(tp)
    raise TypeError(f"cannot copy state of type {tp!r}")


def _dataclass_cloner(cls: type) -> Conv:
    hints = typing.get_type_hints(cls)
    fields = _fields(cls)
    if any(not f.init for f in fields):
        raise TypeError(f"cannot copy {cls.__name__}: a field is not set by the constructor")
    env: dict[str, Any] = {"cls": cls}
    parts = []
    for i, f in enumerate(fields):
        ft = hints[f.name]
        if _shared(ft):
            parts.append(f"v.{f.name}")
            continue
        origin = get_origin(ft)
        args = get_args(ft)
        if origin in (Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            env[f"c{i}"] = cloner(inner[0])
            parts.append(f"(None if (x{i} := v.{f.name}) is None else c{i}(x{i}))")
        elif origin is dict and _shared(args[1]):
            parts.append(f"dict(v.{f.name})")
        elif origin is list and _shared(args[0]):
            parts.append(f"list(v.{f.name})")
        else:
            env[f"c{i}"] = cloner(ft)
            parts.append(f"c{i}(v.{f.name})")
    src = f"def clone(v):\n    return cls({', '.join(parts)})\n"
    exec(src, env)  # noqa: S102 - source built above from the dataclass's own field names
    fn: Conv = env["clone"]
    return fn

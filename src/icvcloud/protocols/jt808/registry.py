"""Message ID → body layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

from .wire import f, layout

T = TypeVar("T")

#: Every body layout this library decodes, by message ID.
MESSAGES: dict[int, Any] = {}
#: Messages whose body is empty (decoded to ``None``), with their names.
EMPTY_MESSAGES: dict[int, str] = {}
#: Human names of message IDs, for logs and JSON.
NAMES: dict[int, str] = {}


@dataclass_transform(kw_only_default=True, field_specifiers=(f,))
def message(msg_id: int, name: str) -> Callable[[type[T]], type[T]]:
    """Declare a body layout (see :func:`wire.layout`) and register it under ``msg_id``."""

    def deco(cls: type[T]) -> type[T]:
        dc = layout(cls)
        dc.MSG_ID = msg_id  # type: ignore[attr-defined]
        dc.NAME = name  # type: ignore[attr-defined]
        # 2011 and 2013 share the header; bodies that differ say which they are.
        dc._DETECT = getattr(dc, "detect_version", None)  # type: ignore[attr-defined]
        if msg_id in MESSAGES or msg_id in EMPTY_MESSAGES:
            raise RuntimeError(f"message {msg_id:#06x} declared twice")
        MESSAGES[msg_id] = dc
        NAMES[msg_id] = name
        return dc

    return deco


def empty_message(msg_id: int, name: str) -> None:
    if msg_id in MESSAGES or msg_id in EMPTY_MESSAGES:
        raise RuntimeError(f"message {msg_id:#06x} declared twice")
    EMPTY_MESSAGES[msg_id] = name
    NAMES[msg_id] = name


def body_class(msg_id: int) -> Any:
    return MESSAGES.get(msg_id)

"""Typed decoding errors.

Decoding a JT/T 808 frame raises only these (all subclasses of
:class:`Jt808Error`, itself a ``ValueError``). Each carries the offending bytes
so a gateway can log them and a terminal developer can see what was sent.
"""

from __future__ import annotations

from typing import Any


class Jt808Error(ValueError):
    """Base of every JT/T 808 decoding error."""

    kind = "error"

    def __init__(self, reason: str, data: bytes = b"", *, header: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = bytes(data)
        #: The decoded header when the error happened after the header was read
        #: (a gateway needs it to answer the terminal).
        self.header = header

    def __str__(self) -> str:
        shown = self.data[:64].hex()
        more = "…" if len(self.data) > 64 else ""
        return f"{self.kind}: {self.reason}" + (f" [{shown}{more}]" if self.data else "")


class BadEscape(Jt808Error):
    """0x7D followed by something other than 0x01 or 0x02."""

    kind = "bad_escape"


class BadCheckCode(Jt808Error):
    """The XOR check code does not match the content."""

    kind = "bad_check_code"


class TruncatedBody(Jt808Error):
    """The frame or a field inside the body ends before its declared size."""

    kind = "truncated"


class LengthMismatch(Jt808Error):
    """The body length in the header disagrees with the bytes received."""

    kind = "length_mismatch"


class UnknownMessageId(Jt808Error):
    """The message ID is not one this library decodes; ``header`` and ``body`` are set."""

    kind = "unknown_message_id"

    def __init__(self, reason: str, data: bytes = b"", *, header: Any = None, body: bytes = b"") -> None:
        super().__init__(reason, data, header=header)
        self.body = body


class BadField(Jt808Error):
    """A field holds a value its type cannot hold (bad BCD digit, impossible date, …)."""

    kind = "bad_field"


class EncodeError(ValueError):
    """A message could not be encoded (a value out of its field's range, a missing field)."""

"""The log interface. Embedded implementation: SQLite (``sqlite.py``); scale-out:
NATS JetStream (``nats.py``).

A gateway appends what devices sent and acknowledges to the device only in the
``on_durable`` callback (architecture rule 1). Consumers read by offset and keep
their own position, so a crash between durable and processed loses nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class LogRecord:
    offset: int
    kind: str  # the wire protocol of ``payload``: "jt808"
    device_id: str
    received_at_us: int  # receive time, microseconds since the epoch (UTC)
    payload: bytes  # the frame as received, un-escaped (header + body)
    #: ``payload`` as the producer decoded it, when a log in the producer's process
    #: still holds the record in memory (None: decode ``payload``). Consumers must
    #: treat it as read-only: several share it.
    decoded: Any = field(default=None, compare=False, repr=False)


#: What a producer hands in: (kind, device_id, received_at_us, payload).
Entry = tuple[str, str, int, bytes]
#: Called once the entries are durable (None) or could not be made so (the error).
OnDurable = Callable[[BaseException | None], None]


class Log(abc.ABC):
    #: Whether ``append``'s ``decoded`` reaches this log's consumers (a log keeping its
    #: newest records in memory); a producer need not build it otherwise.
    keeps_decoded: bool = False

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush what is pending (its callbacks run), then close."""

    @abc.abstractmethod
    def append(self, entries: Sequence[Entry], on_durable: OnDurable,
               decoded: Sequence[Any] | None = None) -> None:
        """Queue entries for the next group commit; never blocks the caller.
        ``on_durable`` runs on the event loop that called ``append``. ``decoded``, if
        given, holds each entry's payload as the producer decoded it (or None): a log
        that keeps recent records in memory hands it to its consumers
        (:attr:`LogRecord.decoded`), which then need not decode the payload again."""

    @abc.abstractmethod
    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        """Records with offset > ``after``, oldest first; waits up to ``timeout_s``
        for new ones when there are none."""

    @abc.abstractmethod
    async def recent(self, device_id: str, limit: int = 50) -> list[LogRecord]:
        """A device's latest records, newest first (for debugging terminals)."""

    @abc.abstractmethod
    def last_offset(self) -> int: ...

    @property
    @abc.abstractmethod
    def pending(self) -> int:
        """Entries appended but not yet durable."""

    # -- partitions (scale-out). A log is split into partitions by device (a device's
    # records stay in order in one partition); consumers read one partition each, as
    # a consumer group, and commit an offset per partition. The embedded log is one
    # partition, read as a whole.

    @property
    def partitions(self) -> int:
        return 1

    def partition(self, index: int, group: str) -> Log:
        """Partition ``index`` as read by consumer group ``group``: ``read`` and
        ``last_offset`` cover that partition; offsets stay the log's own."""
        if index != 0:
            raise ValueError(f"partition {index}: this log has one partition")
        return self

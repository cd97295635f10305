"""JT/T 808 messages back from log records, for the log's consumers.

The log holds frames as received, so a sub-packaged message (0x0801 media, a long
0x0704) arrives as several records. :class:`LogMessages` decodes records,
reassembles packet sets, and remembers the offset of the first packet of every set
still incomplete: a consumer must never commit past it, or a restart would read
the set's later packets without its first ones.
"""

from __future__ import annotations

import time

from icvcloud.log.base import LogRecord
from icvcloud.model import normalise_device_id
from icvcloud.protocols import jt808

_SetKey = tuple[str, int, int, int]  # device, message ID, packet total, first sequence


def frame_of(r: LogRecord) -> jt808.Message:
    """The record's frame decoded: as the gateway decoded it if the log still kept
    that in memory (read-only: shared by every consumer), else decoded now. Raises
    :class:`jt808.Jt808Error` for a frame that does not decode."""
    return r.decoded if r.decoded is not None else jt808.decode(r.payload)  # type: ignore[no-any-return]


class LogMessages:
    def __init__(self, timeout_s: float = 300.0, max_sets: int = 4096) -> None:
        self._timeout_s = timeout_s
        self._max_sets = max_sets
        self._reasm = jt808.Reassembler(timeout_s=timeout_s, max_sets=max_sets)
        self._first: dict[_SetKey, int] = {}

    def reset(self) -> None:
        """Forget incomplete sets (a consumer rewinding to an earlier offset)."""
        self._reasm = jt808.Reassembler(timeout_s=self._timeout_s, max_sets=self._max_sets)
        self._first.clear()

    def message(self, r: LogRecord) -> jt808.Message | None:
        """The record's message; for a packet, the whole message once its set is
        complete, else None. Raises :class:`jt808.Jt808Error` for a record (or a
        set) that does not decode."""
        msg = frame_of(r)
        if not msg.is_packet:
            return msg
        key = (normalise_device_id(msg.phone), msg.msg_id, msg.packet_total, (msg.seq - msg.packet_index + 1) & 0xFFFF)
        self._first.setdefault(key, r.offset)
        try:
            whole = self._reasm.add(msg, time.monotonic())
        except jt808.Jt808Error:
            self._first.pop(key, None)
            raise
        if whole is not None:
            self._first.pop(key, None)
        return whole

    def expire(self) -> None:
        """Give up sets whose packets stopped coming (their offsets no longer hold
        commits back)."""
        for inc in self._reasm.expire(time.monotonic()):
            if inc.given_up:
                self._first.pop((normalise_device_id(inc.phone), inc.msg_id, inc.total, inc.first_seq), None)

    @property
    def incomplete(self) -> bool:
        return bool(self._first)

    def safe_offset(self, last: int) -> int:
        """The highest offset up to ``last`` a consumer may commit."""
        return min([last, *(o - 1 for o in self._first.values())])

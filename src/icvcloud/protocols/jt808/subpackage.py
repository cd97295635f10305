"""Sub-package reassembly (分包) with a timeout and 0x8003 re-send requests.

Each packet is a complete frame with its own serial number (consecutive in
practice), the same message ID, and ``packet_total``/``packet_index`` (from 1).
The reassembled body is the packets' bodies in index order. Sets are keyed by
terminal, message ID, total and the serial number the first packet had (a packet's
serial minus its index plus one), which is also what 0x8003 names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec import Message, decode_body
from .errors import BadField
from .messages import ResendRequest
from .wire import Ctx


@dataclass(slots=True)
class _Pending:
    first: Message
    parts: dict[int, bytes] = field(default_factory=dict)
    started: float = 0.0
    last_seen: float = 0.0
    requests_sent: int = 0


@dataclass(slots=True)
class Incomplete:
    """A set that timed out: ask the terminal for ``missing`` with :meth:`resend_request`."""

    phone: str
    msg_id: int
    first_seq: int
    total: int
    missing: list[int]
    given_up: bool

    def resend_request(self) -> ResendRequest:
        return ResendRequest(original_seq=self.first_seq, packet_ids=self.missing)


class Reassembler:
    """Collects packets per terminal and returns the whole message when complete.

    ``timeout_s`` after the last packet of a set, :meth:`expire` reports the set
    with its missing indexes (for 0x8003); after ``max_requests`` such reports the
    set is dropped (``given_up``). ``max_sets`` bounds memory against a terminal
    that opens sets and never finishes them.
    """

    def __init__(self, timeout_s: float = 30.0, max_requests: int = 3, max_sets: int = 1024,
                 max_packets: int = 4096) -> None:
        self.timeout_s = timeout_s
        self.max_requests = max_requests
        self.max_sets = max_sets
        self.max_packets = max_packets
        self._sets: dict[tuple[str, int, int, int], _Pending] = {}

    def add(self, msg: Message, now: float, ctx: Ctx | None = None) -> Message | None:
        """Add one packet (``msg.body`` raw bytes). Returns the decoded whole message
        when this packet completes its set, else None. Decoding errors of the
        reassembled body propagate as :class:`errors.Jt808Error`."""
        total, index = msg.packet_total, msg.packet_index
        if not (1 <= index <= total) or total > self.max_packets:
            raise BadField(f"packet index {index} of {total} is out of range", header=msg)
        first_seq = (msg.seq - index + 1) & 0xFFFF
        key = (msg.phone, msg.msg_id, total, first_seq)
        p = self._sets.get(key)
        if p is None:
            if len(self._sets) >= self.max_sets:
                oldest = min(self._sets, key=lambda k: self._sets[k].last_seen)
                del self._sets[oldest]
            p = self._sets[key] = _Pending(msg, started=now)
        p.parts[index] = bytes(msg.body)
        p.last_seen = now
        if index == 1:
            p.first = msg
        if len(p.parts) < total:
            return None
        del self._sets[key]
        body = b"".join(p.parts[i] for i in range(1, total + 1))
        whole = Message(msg.msg_id, msg.phone, first_seq, None, msg.version, msg.protocol_version, msg.encryption)
        whole.packet_total = total
        whole.raw_body = body
        if msg.encryption:
            whole.body = body
            return whole
        decode_body(whole, body, ctx or Ctx(msg.version))
        return whole

    def expire(self, now: float) -> list[Incomplete]:
        """Sets silent for ``timeout_s``: each once per timeout, with its missing indexes."""
        out = []
        for key, p in list(self._sets.items()):
            if now - p.last_seen < self.timeout_s:
                continue
            phone, msg_id, total, first_seq = key
            missing = [i for i in range(1, total + 1) if i not in p.parts]
            p.requests_sent += 1
            given_up = p.requests_sent > self.max_requests
            if given_up:
                del self._sets[key]
            else:
                p.last_seen = now
            out.append(Incomplete(phone, msg_id, first_seq, total, missing, given_up))
        return out

    def __len__(self) -> int:
        return len(self._sets)

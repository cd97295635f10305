"""0x9208 报警附件上传指令: what the platform sends a terminal whose active-safety
alarm (0x0200 items 0x64–0x67) says it holds evidence files.

Pure functions over records: no sockets. The alarm number (报警编号, 32 characters)
is an HMAC of the device and the alarm identification under a platform secret:

* deterministic — a report read twice (at-least-once consumers, 0x0704 back-fill)
  yields the same number, so a repeated request names the same upload;
* unique per (device, terminal ID, alarm time, serial) for all practical purposes;
* verifiable without shared state — the attachment server recomputes it from the
  0x1210 it receives and refuses numbers the platform never issued.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from icvcloud.model import Position
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import AlarmIdentification, AttachmentUploadRequest
from icvcloud.protocols.jt808.codec import encode_body

MSG_ID = 0x9208

#: Additional items that carry an alarm identification, and their JSON keys in
#: ``Position.extras`` (see ``gateways/jt808/records.py``).
SAFETY_ITEMS: Mapping[int, str] = {0x64: "adas_alarm", 0x65: "dsm_alarm", 0x66: "tpms_alarm", 0x67: "bsd_alarm"}


def _time_digits(t: datetime | str) -> str:
    if isinstance(t, str):
        return t  # an impossible BCD time, kept as its 12 digits
    return t.astimezone(jt808.CST).strftime("%y%m%d%H%M%S")


class AlarmNumbers:
    """Assigns and verifies 报警编号 (32 lowercase hex characters)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the alarm-number secret must not be empty")
        self._secret = secret

    def assign(self, device_id: str, ident: AlarmIdentification) -> str:
        key = f"{device_id}|{ident.terminal_id}|{_time_digits(ident.time)}|{ident.seq}"
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def verify(self, device_id: str, ident: AlarmIdentification, alarm_no: str) -> bool:
        return hmac.compare_digest(self.assign(device_id, ident), alarm_no)


@dataclass(frozen=True)
class AttachmentRequestSettings:
    """Where terminals upload to (announced in 0x9208) and how alarm numbers are made."""

    server_host: str
    tcp_port: int
    udp_port: int
    numbers: AlarmNumbers


def identifications(position: Position) -> list[tuple[int, AlarmIdentification]]:
    """The active-safety items of a position whose identification announces
    attachments: (item ID, identification), in item order."""
    out = []
    for iid, key in SAFETY_ITEMS.items():
        item = position.extras.get(f"0x{iid:02x}")
        if not isinstance(item, Mapping):
            continue
        body = item.get(key)
        if not isinstance(body, Mapping) or not isinstance(body.get("identification"), Mapping):
            continue
        try:
            ident = jt808.from_json(AlarmIdentification, body["identification"])
        except (jt808.EncodeError, ValueError, TypeError):
            continue  # a malformed identification cannot be asked for
        if ident.attachment_count > 0:
            out.append((iid, ident))
    return out


def request_for(device_id: str, ident: AlarmIdentification, settings: AttachmentRequestSettings
                ) -> AttachmentUploadRequest:
    """The 0x9208 body asking ``device_id`` for the files of the alarm ``ident``."""
    return AttachmentUploadRequest(
        server_ip=settings.server_host,
        tcp_port=settings.tcp_port,
        udp_port=settings.udp_port,
        identification=ident,
        alarm_number=settings.numbers.assign(device_id, ident),
    )


def attachment_requests(position: Position, settings: AttachmentRequestSettings
                        ) -> list[tuple[int, AttachmentUploadRequest]]:
    """(0x9208, body) for every alarm with attachments in ``position``; usually none,
    sometimes one, two when ADAS and DSM alarm in the same report."""
    return [(MSG_ID, request_for(position.device_id, ident, settings)) for _, ident in identifications(position)]


def variant_of(ident: AlarmIdentification) -> str:
    """The identification's own variant: 苏标 reserves one byte, 粤标 two."""
    return "gdrta" if len(ident.reserved) == 2 else "jsatl"


def encode_request_body(req: AttachmentUploadRequest, version: int = jt808.V2013) -> bytes:
    """The 0x9208 body in the variant of the identification it echoes, whatever the
    terminal's header version (a downlink that encodes by header version alone would
    write a 粤标 identification from a 2013-header terminal in the 苏标 width)."""
    return encode_body(MSG_ID, req, jt808.Ctx(version, variant_of(req.identification)))


def requests_in(positions: Iterable[Position], settings: AttachmentRequestSettings
                ) -> list[tuple[str, AttachmentUploadRequest]]:
    """(device ID, body) for every alarm with attachments in ``positions``."""
    return [(p.device_id, body) for p in positions for _, body in attachment_requests(p, settings)]


def describe(req: AttachmentUploadRequest) -> dict[str, Any]:
    """JSON of a request, for logs and command records."""
    return jt808.to_json(req)

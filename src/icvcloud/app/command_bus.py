"""Commands to vehicles across processes (scale-out).

A terminal's connection lives in one gateway process; the operator's request
reaches some API process. The API process checks the command (a bad body is the
caller's error whatever gateway holds the terminal) and asks on a core NATS subject;
every gateway hears it, and the one holding the terminal's connection runs it
through its :class:`~icvcloud.app.commands.CommandService` — stored in PostgreSQL,
written to the connection, the terminal's 0x0001 answer recorded by that gateway —
and replies with the command. No reply in time means no gateway holds an
authenticated connection for it: the terminal is offline (409), as in the embedded
mode. Command updates (answers) reach consoles through the alarm feed bus.

The platform's own requests for an alarm's evidence (0x9208) take the same way from
the worker that read the alarm (:func:`bus_alarm_requests`): the gateway holding the
terminal records and sends it like the embedded mode's ``CommandService.send_for_alarm``
and replies with its serial number.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from icvcloud.alarm_feed import command_from_json, command_json
from icvcloud.gateways.jt808.attachment_request import MSG_ID
from icvcloud.model import Vehicle
from icvcloud.model.commands import Command, CommandError, TerminalOffline
from icvcloud.store.base import Store

from .attachments import SendRequest
from .commands import CommandService, checked_command

log = logging.getLogger("icvcloud.command_bus")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def encode_request(vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None, user: str,
                   alarm_id: int | None, timeout_s: float | None) -> bytes:
    return _dumps({"vehicle": dataclasses.asdict(vehicle), "msg_id": msg_id, "body": body_json, "user": user,
                   "alarm_id": alarm_id, "timeout_s": timeout_s}).encode()


#: ``kind`` of a request for an alarm's evidence (a command request has none).
ALARM_REQUEST = "alarm_request"


def encode_alarm_request(device_id: str, msg_id: int, body: bytes, body_json: dict[str, Any],
                         alarm_ref: str) -> bytes:
    """A message the platform sends on its own for an alarm: its body already encoded
    (in the terminal's protocol version, which the worker knows from the report)."""
    return _dumps({"kind": ALARM_REQUEST, "device_id": device_id, "msg_id": msg_id, "body_hex": body.hex(),
                   "body": body_json, "alarm_ref": alarm_ref}).encode()


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        d = json.loads(data)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    return d


def decode_alarm_request(data: bytes) -> dict[str, Any]:
    """An alarm request's fields, checked (``body_hex`` decoded into ``body_bytes``);
    ValueError if it is not one."""
    return _alarm_request_fields(_json_object(data))


def _alarm_request_fields(d: dict[str, Any]) -> dict[str, Any]:
    if d.get("kind") != ALARM_REQUEST:
        raise ValueError("not an alarm request")
    if not isinstance(d.get("device_id"), str) or not d["device_id"]:
        raise ValueError("device_id is required")
    if not isinstance(d.get("msg_id"), int) or not 0 <= d["msg_id"] <= 0xFFFF:
        raise ValueError("msg_id must be a message ID")
    if not isinstance(d.get("alarm_ref"), str) or not d["alarm_ref"]:
        raise ValueError("alarm_ref is required")
    if not isinstance(d.get("body"), dict):
        raise ValueError("body must be an object")
    if not isinstance(d.get("body_hex"), str):
        raise ValueError("body_hex is required")
    try:
        d["body_bytes"] = bytes.fromhex(d["body_hex"])
    except ValueError:
        raise ValueError("body_hex is not hexadecimal") from None
    return d


def decode_request(data: bytes) -> dict[str, Any]:
    """The request's fields, checked; ValueError if it is not a command request."""
    return _request_fields(_json_object(data))


def _request_fields(d: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(d.get("vehicle"), dict):
        raise ValueError("not a command request")
    v = d["vehicle"]
    if not isinstance(v.get("id"), int) or not isinstance(v.get("device_id"), str) or not isinstance(
            v.get("plate"), str):
        raise ValueError("the vehicle needs an id, a plate and a device_id")
    if not isinstance(d.get("msg_id"), int) or not isinstance(d.get("user"), str):
        raise ValueError("msg_id and user are required")
    if d.get("body") is not None and not isinstance(d["body"], dict):
        raise ValueError("body must be an object")
    if d.get("alarm_id") is not None and not isinstance(d["alarm_id"], int):
        raise ValueError("alarm_id must be an integer")
    if d.get("timeout_s") is not None and not isinstance(d["timeout_s"], int | float):
        raise ValueError("timeout_s must be a number")
    return d


class CommandAgent:
    """The gateway's side: runs the requests for terminals connected here."""

    def __init__(self, nc: NatsClient, subject: str, service: CommandService) -> None:
        self.nc = nc
        self.subject = subject
        self.service = service
        self._sub: Any = None
        self.handled = 0
        self.bad = 0

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject, cb=self._on_request)

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as e:  # closing anyway
                log.debug("unsubscribe failed: %s", e)
            self._sub = None

    async def _on_request(self, msg: Msg) -> None:
        try:
            d = _json_object(msg.data)
            alarm_request = d.get("kind") == ALARM_REQUEST
            req = _alarm_request_fields(d) if alarm_request else _request_fields(d)
        except ValueError as e:
            self.bad += 1
            log.warning("ignoring a malformed command request: %s", e)
            return
        if alarm_request:
            await self._on_alarm_request(msg, req)
            return
        v = req["vehicle"]
        if not self.service.downlink.online(v["device_id"]):
            return  # another gateway holds it, or none: the requester times out
        vehicle = Vehicle(**{f.name: v[f.name] for f in dataclasses.fields(Vehicle) if f.name in v})
        try:
            cmd = await self.service.submit(vehicle, req["msg_id"], req.get("body"), req["user"],
                                            alarm_id=req.get("alarm_id"), timeout_s=req.get("timeout_s"))
            reply: dict[str, Any] = {"ok": True, "command": {**command_json(cmd), "org_id": cmd.org_id}}
        except TerminalOffline as e:
            reply = {"ok": False, "offline": True, "error": str(e)}
        except CommandError as e:
            reply = {"ok": False, "offline": False, "error": str(e)}
        except Exception as e:
            log.exception("command request for %s failed", v["device_id"])
            reply = {"ok": False, "offline": False, "error": f"the gateway could not send it: {e}"}
        await self._reply(msg, reply)

    async def _reply(self, msg: Msg, reply: dict[str, Any]) -> None:
        self.handled += 1
        if msg.reply:
            await self.nc.publish(msg.reply, _dumps(reply).encode())

    async def _on_alarm_request(self, msg: Msg, req: dict[str, Any]) -> None:
        device_id = req["device_id"]
        if not self.service.downlink.online(device_id):
            return  # another gateway holds it, or none: the worker retries later
        try:
            seq = await self.service.send_for_alarm(device_id, req["msg_id"], req["body_bytes"], req["body"],
                                                    req["alarm_ref"])
            reply: dict[str, Any] = {"ok": seq is not None, "seq": seq}
        except Exception as e:
            log.exception("alarm request for %s failed", device_id)
            reply = {"ok": False, "seq": None, "error": str(e)}
        await self._reply(msg, reply)


def bus_alarm_requests(nc: NatsClient, subject: str, *, reply_timeout_s: float = 3.0) -> SendRequest:
    """The worker's way to send 0x9208 (``attachments.SendRequest``): asked on the
    command subject; the serial number from the gateway holding the terminal, or None
    when none answers in time (not connected: the requester retries later)."""
    async def send_request(device_id: str, body: bytes, body_json: dict[str, Any], alarm_no: str) -> int | None:
        try:
            msg = await nc.request(subject, encode_alarm_request(device_id, MSG_ID, body, body_json, alarm_no),
                                   timeout=reply_timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return None
        try:
            reply = _json_object(msg.data)
        except ValueError:
            log.warning("a malformed reply to the 0x9208 of alarm %s: %r", alarm_no, msg.data[:200])
            return None
        seq = reply.get("seq")
        return seq if reply.get("ok") is True and isinstance(seq, int) else None
    return send_request


class BusCommandSender:
    """The API process's side (``AlarmServices.commands``)."""

    def __init__(self, nc: NatsClient, subject: str, store: Store, *, reply_timeout_s: float = 3.0) -> None:
        self.nc = nc
        self.subject = subject
        self.store = store
        self.reply_timeout_s = reply_timeout_s

    async def submit(self, vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None, user: str, *,
                     alarm_id: int | None = None, timeout_s: float | None = None) -> Command:
        # A bad body is the caller's mistake whoever holds the terminal: refused here.
        device_id, _body = await checked_command(self.store, vehicle, msg_id, body_json)
        offline = TerminalOffline(f"the terminal of vehicle {vehicle.plate} ({device_id}) is not connected")
        try:
            msg = await self.nc.request(self.subject, encode_request(vehicle, msg_id, body_json, user, alarm_id,
                                                                     timeout_s), timeout=self.reply_timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            raise offline from None
        reply = json.loads(msg.data)
        if not reply.get("ok"):
            if reply.get("offline"):
                raise offline
            raise CommandError(str(reply.get("error") or "the gateway refused the command"))
        return command_from_json(reply["command"])

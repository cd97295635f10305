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
from icvcloud.model import Vehicle
from icvcloud.model.commands import Command, CommandError, TerminalOffline
from icvcloud.store.base import Store

from .commands import CommandService, checked_command

log = logging.getLogger("icvcloud.command_bus")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def encode_request(vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None, user: str,
                   alarm_id: int | None, timeout_s: float | None) -> bytes:
    return _dumps({"vehicle": dataclasses.asdict(vehicle), "msg_id": msg_id, "body": body_json, "user": user,
                   "alarm_id": alarm_id, "timeout_s": timeout_s}).encode()


def decode_request(data: bytes) -> dict[str, Any]:
    """The request's fields, checked; ValueError if it is not a command request."""
    d = json.loads(data)
    if not isinstance(d, dict) or not isinstance(d.get("vehicle"), dict):
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
            req = decode_request(msg.data)
        except ValueError as e:
            self.bad += 1
            log.warning("ignoring a malformed command request: %s", e)
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
        self.handled += 1
        if msg.reply:
            await self.nc.publish(msg.reply, _dumps(reply).encode())


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

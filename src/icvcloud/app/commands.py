"""Commands to vehicles: validate, record, send through the downlink, and track each
to the terminal's answer (acknowledged / failed / not_supported) or its expiry
(timed_out).

A terminal that is not connected refuses the command at once
(:class:`TerminalOffline`): a queued text reaching a driver hours later would
mislead more than it helps, so the caller decides whether to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.gateways.jt808.downlink import Answer, Downlink
from icvcloud.model import Vehicle
from icvcloud.model.commands import Command, CommandError, TerminalOffline
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.codec import MAX_BODY_LEN, encode_body
from icvcloud.store.alarms_base import AlarmStore
from icvcloud.store.base import Store

log = logging.getLogger("icvcloud.commands")

__all__ = ["COMMANDS", "PLATFORM_USER", "CommandError", "CommandService", "TerminalOffline", "build_body",
           "checked_command"]

#: The downlink messages the API sends, with what they do.
COMMANDS: dict[int, str] = {
    0x8103: "set terminal parameters",
    0x8104: "query all parameters",
    0x8106: "query given parameters",
    0x8201: "position query",
    0x8202: "temporary position tracking",
    0x8300: "text to the driver (display/TTS/urgent flags)",
    0x8600: "set circle areas",
    0x8601: "delete circle areas",
    0x8602: "set rectangle areas",
    0x8603: "delete rectangle areas",
    0x8604: "set a polygon area",
    0x8605: "delete polygon areas",
    0x8606: "set a route",
    0x8607: "delete routes",
    0x8801: "take a photo/video now",
}

#: The user named on what the platform sends on its own (not on a person's request).
PLATFORM_USER = "platform"

_BODY_ERRORS = (jt808.EncodeError, KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError,
                struct.error)


def build_body(msg_id: int, body_json: dict[str, Any] | None, version: int) -> object:
    """The typed body of ``msg_id`` from the codec's JSON form, checked to encode for a
    terminal of ``version``; raises :class:`CommandError` with the reason."""
    if msg_id not in COMMANDS:
        raise CommandError(f"message {msg_id:#06x} is not a command the API sends "
                           f"(one of {', '.join(f'0x{m:04x}' for m in COMMANDS)})")
    if msg_id in jt808.EMPTY_MESSAGES:
        if body_json:
            raise CommandError(f"message {msg_id:#06x} has no body")
        return None
    try:
        body = jt808.from_json(jt808.MESSAGES[msg_id], body_json or {})
        size = len(encode_body(msg_id, body, jt808.Ctx(version)))
    except _BODY_ERRORS as e:
        raise CommandError(f"bad body for {msg_id:#06x}: {e}") from None
    if size > MAX_BODY_LEN:
        raise CommandError(f"the body encodes to {size} bytes; one message carries at most {MAX_BODY_LEN}")
    return body


async def checked_command(store: Store, vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None
                          ) -> tuple[str, object]:
    """(terminal, typed body) of a command to ``vehicle``, checked for its terminal's
    protocol version; raises :class:`CommandError` with the reason."""
    device_id = vehicle.device_id
    if device_id is None:
        raise CommandError(f"vehicle {vehicle.id} has no terminal")
    dev = await store.get_device(device_id)
    version = jt808.V2019 if dev is not None and dev.protocol_version == 2019 else jt808.V2013
    return device_id, build_body(msg_id, body_json, version)


class CommandService:
    def __init__(self, store: Store, alarms: AlarmStore, downlink: Downlink, *, timeout_s: float = 60.0,
                 on_change: Callable[[Command], None] | None = None) -> None:
        self.store = store
        self.alarms = alarms
        self.downlink = downlink
        self.timeout_s = timeout_s
        #: Called with a command whenever its state changes (the live feed publishes it).
        self.on_change = on_change
        downlink.on_answer = self._on_answer
        # (device, serial) → command ID of commands sent by this process: answers are
        # matched here first; after a restart the store matches by (device, serial).
        self._waiting: dict[tuple[str, int], tuple[int, int]] = {}  # → (command ID, message ID)
        #: Commands whose "sent" is still being written, by ID: their answers wait for it.
        self._sent_written: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    async def submit(self, vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None, user: str, *,
                     alarm_id: int | None = None, timeout_s: float | None = None) -> Command:
        """Send a command to the vehicle's terminal; returns it in state ``sent``."""
        device_id, body = await checked_command(self.store, vehicle, msg_id, body_json)
        if not self.downlink.online(device_id):
            raise TerminalOffline(f"the terminal of vehicle {vehicle.plate} ({device_id}) is not connected")
        now = datetime.now(UTC)
        cmd = Command(id=0, vehicle_id=vehicle.id, device_id=device_id, org_id=vehicle.org_id, msg_id=msg_id,
                      body=body_json or {}, user=user, created_at=now,
                      expires_at=now + timedelta(seconds=timeout_s or self.timeout_s), alarm_id=alarm_id)
        if not await self._dispatch(cmd, body):
            raise TerminalOffline(f"the terminal of vehicle {vehicle.plate} ({device_id}) is not connected")
        return cmd

    async def send_for_alarm(self, device_id: str, msg_id: int, body: object, body_json: dict[str, Any],
                             alarm_ref: str) -> int | None:
        """Send a message the platform issues on its own for an alarm (0x9208 asking for
        an active-safety alarm's files), tracked like a command under user ``platform``
        and linked to the alarm stored under ``alarm_ref`` (报警编号). Returns the serial
        number, or None when the terminal is not connected. A terminal that belongs to no
        vehicle gets the message untracked (a command row names a vehicle)."""
        if not self.downlink.online(device_id):
            return None
        vehicle = await self.store.vehicle_for_device(device_id)
        if vehicle is None:
            return self.downlink.send(device_id, msg_id, body)
        now = datetime.now(UTC)
        cmd = Command(id=0, vehicle_id=vehicle.id, device_id=device_id, org_id=vehicle.org_id, msg_id=msg_id,
                      body=body_json, user=PLATFORM_USER, created_at=now,
                      expires_at=now + timedelta(seconds=self.timeout_s), alarm_ref=alarm_ref)
        return cmd.seq if await self._dispatch(cmd, body) else None

    async def _dispatch(self, cmd: Command, body: object) -> bool:
        """Record ``cmd``, write it to the terminal and expect its answer (matched when it
        comes); False (the command recorded as failed) when the terminal went away meanwhile."""
        cmd.id = await self.alarms.add_command(cmd)
        seq = self.downlink.send(cmd.device_id, cmd.msg_id, body)
        if seq is None:
            await self._finish(cmd.id, "failed", detail="the terminal disconnected before the command was sent")
            return False
        self._waiting[(cmd.device_id, seq)] = (cmd.id, cmd.msg_id)
        # A terminal may answer before "sent" is written, and a store with a pool of
        # connections (PostgreSQL) need not keep the two writes in order: the answer
        # waits for this one (else it would finish a command with no serial number,
        # whose "sent" then finds it finished and writes nothing).
        written = self._sent_written[cmd.id] = asyncio.Event()
        try:
            await self.alarms.command_sent(cmd.id, seq, cmd.created_at)
            cmd.state, cmd.seq, cmd.sent_at = "sent", seq, cmd.created_at
            self._changed(cmd)
        finally:
            written.set()
            del self._sent_written[cmd.id]
        return True

    def _changed(self, cmd: Command) -> None:
        if self.on_change is not None:
            try:
                self.on_change(cmd)
            except Exception:
                log.exception("command change listener failed")

    async def _finish(self, command_id: int, state: Any, **kw: Any) -> None:
        done = await self.alarms.finish_command(command_id, state, datetime.now(UTC), **kw)
        if done is not None:
            self._changed(done)

    def _on_answer(self, ans: Answer) -> None:
        task = asyncio.get_running_loop().create_task(self._record(ans))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, ans: Answer) -> None:
        try:
            key = (ans.device_id, ans.reply_seq)
            waiting = self._waiting.get(key)
            if waiting is not None and ans.answered_msg_id not in (None, waiting[1]):
                return  # an answer to another message that had this serial
            kw: dict[str, Any] = {"result": ans.result, "answer": {"msg_id": f"0x{ans.msg_id:04x}", **ans.body}}
            if waiting is not None:
                del self._waiting[key]
                written = self._sent_written.get(waiting[0])
                if written is not None:
                    await written.wait()
                done = await self.alarms.finish_command(waiting[0], ans.state, ans.received_at,  # type: ignore[arg-type]
                                                        **kw)
            else:
                done = await self.alarms.answer_command(ans.device_id, ans.reply_seq, ans.answered_msg_id,
                                                        ans.state, ans.received_at, **kw)  # type: ignore[arg-type]
            if done is not None:
                self._changed(done)
        except Exception:
            log.exception("recording the answer of %s to serial %d failed", ans.device_id, ans.reply_seq)

    async def run_expiry(self, every_s: float = 1.0) -> None:
        """Waiting commands past their expiry become timed_out."""
        while not self._stop.is_set():
            try:
                for cmd in await self.alarms.expire_commands(datetime.now(UTC)):
                    if cmd.seq is not None:
                        self._waiting.pop((cmd.device_id, cmd.seq), None)
                    self._changed(cmd)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("command expiry failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every_s)

    def stop(self) -> None:
        self._stop.set()

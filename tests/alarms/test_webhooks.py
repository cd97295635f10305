"""Webhooks from the durable outbox to a real HTTP receiver: signed, retried with
backoff, at least once with an idempotency key, given up after the last attempt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from icvcloud.app.notify import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDeliverer,
    WebhookSettings,
    backoff,
    sign,
    verify,
)
from icvcloud.store.alarms_base import NotificationRule, Webhook
from icvcloud.store.base import Scope
from tests.services import free_port
from tests.terminals import until

from .conftest import Db, event

SECRET = "0123456789abcdef0123456789abcdef"


@dataclass
class Receiver:
    port: int = 0
    #: Answer these statuses first (then 200).
    fail_with: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(port=free_port())
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        rec.got.append((dict(request.headers), await request.body()))
        return Response(status_code=rec.fail_with.pop(0) if rec.fail_with else 200)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Server(uvicorn.Config(app, host="127.0.0.1", port=rec.port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, "the receiver up")
    try:
        yield rec
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def _running(d: WebhookDeliverer) -> AsyncIterator[WebhookDeliverer]:
    """``d`` delivering until the block ends."""
    task = asyncio.create_task(d.run())
    try:
        yield d
    finally:
        d.stop()
        await task


async def _setup(db: Db, url: str) -> int:
    hook = await db.alarms.add_webhook(Webhook(0, None, "ops", url, SECRET, created_at=datetime.now(UTC)))
    await db.alarms.add_rule(NotificationRule(0, None, "all", [], 0, "webhook", hook))
    return hook


async def _raise(db: Db, *keys: str) -> None:
    await db.alarms.apply_events([event(db, k, "start", i * 30) for i, k in enumerate(keys)], datetime.now(UTC),
                                 merge_window_s=0)


def test_signature_round_trip() -> None:
    body = b'{"a":1}'
    sig = sign(SECRET, "1700000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify(SECRET, "1700000000", body, sig, now=1700000100)
    assert not verify(SECRET, "1700000000", body + b" ", sig, now=1700000100)  # body changed
    assert not verify("x" * 32, "1700000000", body, sig, now=1700000100)  # other secret
    assert not verify(SECRET, "1700000001", body, sig, now=1700000100)  # timestamp changed
    assert not verify(SECRET, "1700000000", body, sig, now=1700001000)  # too old: a replay
    assert not verify(SECRET, "soon", body, sig)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    s = WebhookSettings(backoff_s=5.0, max_backoff_s=3600.0)
    rng = random.Random(1)
    for attempts, base in ((1, 5.0), (2, 10.0), (3, 20.0), (8, 640.0), (20, 3600.0)):
        d = backoff(attempts, s, rng)
        assert 0.8 * base <= d <= 1.2 * base


async def test_signed_delivery(db: Db, receiver: Receiver) -> None:
    hook = await _setup(db, receiver.url)
    await _raise(db, "a")
    async with _running(WebhookDeliverer(db.alarms)) as d:
        await until(lambda: len(receiver.got) == 1, "one delivery")
        await until(lambda: d.delivered == 1, "the delivery recorded")
    headers, body = receiver.got[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
    payload = json.loads(body)
    assert payload["event_id"] == headers[EVENT_ID_HEADER.lower()] and payload["type"] == "alarm.new"
    assert payload["alarm"]["alarm_type"] == "overspeed" and headers["content-type"] == "application/json"
    (rec,) = await db.alarms.list_deliveries(Scope.all(), hook)
    assert rec.state == "delivered" and rec.attempts == 1 and rec.last_status == 200


async def test_retries_until_delivered_with_the_same_idempotency_key(db: Db, receiver: Receiver) -> None:
    hook = await _setup(db, receiver.url)
    receiver.fail_with = [500, 503]
    await _raise(db, "a")
    d = WebhookDeliverer(db.alarms, WebhookSettings(backoff_s=0.05, max_attempts=5), rng=random.Random(0))
    async with _running(d):
        await until(lambda: d.delivered == 1, "delivered on the third attempt")
    assert len(receiver.got) == 3
    assert len({h[EVENT_ID_HEADER.lower()] for h, _ in receiver.got}) == 1
    assert len({b for _, b in receiver.got}) == 1  # the same payload; only the signature's timestamp may move
    (rec,) = await db.alarms.list_deliveries(Scope.all(), hook)
    assert rec.state == "delivered" and rec.attempts == 3


async def test_gives_up_after_the_last_attempt(db: Db) -> None:
    hook = await _setup(db, f"http://127.0.0.1:{free_port()}/nobody-listens")
    await _raise(db, "a")
    d = WebhookDeliverer(db.alarms, WebhookSettings(backoff_s=0.01, max_attempts=3, timeout_s=2))
    async with _running(d):
        await until(lambda: d.failed_attempts == 3, "three failed attempts")
        await asyncio.sleep(0.1)  # no fourth
    (rec,) = await db.alarms.list_deliveries(Scope.all(), hook)
    assert rec.state == "failed" and rec.attempts == 3 and "ConnectError" in rec.last_error
    assert d.failed_attempts == 3


async def test_the_outbox_survives_a_restart(db: Db, receiver: Receiver) -> None:
    await _setup(db, receiver.url)
    await _raise(db, "a", "b")  # enqueued; nothing delivers yet
    await db.store.close()
    store, alarms = db.reconnect()  # the platform comes back
    await store.open()
    try:
        async with _running(WebhookDeliverer(alarms)) as d:
            await until(lambda: d.delivered == 2, "both delivered after the restart")
    finally:
        await store.close()
        await db.store.open()  # the fixture closes it again
    assert sorted(json.loads(b)["alarm"]["key"] for _, b in receiver.got) == ["a", "b"]

"""Webhook delivery from the store's durable outbox.

An alarm change that matches a webhook notification rule is enqueued in the same
transaction as the change itself (``webhook_deliveries``), so a crash cannot lose
it. This worker POSTs due deliveries, marks them delivered on a 2xx answer, and
otherwise retries with exponential backoff (with jitter) up to a number of
attempts: delivery is at least once, and the receiver deduplicates by the
``X-Icv-Event-Id`` header (the idempotency key, also ``event_id`` in the body).

Signature: ``X-Icv-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``
with ``X-Icv-Timestamp`` the Unix time in seconds of this attempt (a receiver
should refuse timestamps far from its clock, which stops replays of old requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from icvcloud.config import AlarmsConfig
from icvcloud.store.alarms_base import AlarmStore, Delivery, Webhook

log = logging.getLogger("icvcloud.webhooks")

SIGNATURE_HEADER = "X-Icv-Signature"
TIMESTAMP_HEADER = "X-Icv-Timestamp"
EVENT_ID_HEADER = "X-Icv-Event-Id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver does (documented in docs/alarms.md; used by the tests)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass
class WebhookSettings:
    timeout_s: float = 10.0
    max_attempts: int = 12
    #: The first retry waits this long; each further one twice as long, up to ``max_backoff_s``.
    backoff_s: float = 5.0
    max_backoff_s: float = 3600.0
    concurrency: int = 8

    @classmethod
    def from_config(cls, a: AlarmsConfig) -> WebhookSettings:
        return cls(timeout_s=a.webhook_timeout_s, max_attempts=a.webhook_max_attempts, backoff_s=a.webhook_backoff_s)


def backoff(attempts: int, settings: WebhookSettings, rng: random.Random) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (±20 % jitter, so
    receivers coming back are not hit by every retry at once)."""
    base = min(settings.max_backoff_s, settings.backoff_s * 2 ** max(0, attempts - 1))
    return base * rng.uniform(0.8, 1.2)


class WebhookDeliverer:
    def __init__(self, alarms: AlarmStore, settings: WebhookSettings | None = None,
                 client: httpx.AsyncClient | None = None, rng: random.Random | None = None) -> None:
        self.alarms = alarms
        self.settings = settings or WebhookSettings()
        self._client = client
        self._own_client = client is None
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not a secret
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.delivered = 0
        self.failed_attempts = 0

    def wake(self) -> None:
        """New deliveries may be due (called after alarm changes)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    n = await self.deliver_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook delivery round failed")
                    n = 0
                if n:
                    continue  # there may be more due
                await self._sleep_until_due()
        finally:
            if self._own_client and self._client is not None:
                await self._client.aclose()
                self._client = None

    async def _sleep_until_due(self) -> None:
        wait = 1.0
        with contextlib.suppress(Exception):
            nxt = await self.alarms.next_delivery_at()
            if nxt is not None:
                wait = (nxt - datetime.now(UTC)).total_seconds()
        wait = min(max(wait, 0.01), 1.0)  # at least every second: another process may enqueue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def deliver_due(self) -> int:
        """One round: attempt every due delivery (bounded concurrency); returns how many."""
        due = await self.alarms.due_deliveries(datetime.now(UTC), limit=100)
        if not due:
            return 0
        sem = asyncio.Semaphore(self.settings.concurrency)

        async def one(d: Delivery, hook: Webhook) -> None:
            async with sem:
                await self.attempt(d, hook)

        await asyncio.gather(*(one(d, h) for d, h in due))
        return len(due)

    async def attempt(self, d: Delivery, hook: Webhook) -> bool:
        assert self._client is not None
        body = d.payload.encode("utf-8")
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: d.event_id, TIMESTAMP_HEADER: ts,
                   SIGNATURE_HEADER: sign(hook.secret, ts, body), "User-Agent": "icvcloud-webhooks/1"}
        status: int | None = None
        error = ""
        try:
            r = await self._client.post(hook.url, content=body, headers=headers, timeout=self.settings.timeout_s)
            status = r.status_code
            ok = 200 <= status < 300
            if not ok:
                error = f"HTTP {status}"
        except httpx.HTTPError as e:
            ok = False
            error = f"{type(e).__name__}: {e}"[:500]
        now = datetime.now(UTC)
        attempts = d.attempts + 1
        nxt = None
        if not ok:
            self.failed_attempts += 1
            if attempts < self.settings.max_attempts:
                nxt = now + timedelta(seconds=backoff(attempts, self.settings, self._rng))
            log.warning("webhook %d (%s) delivery %s attempt %d failed: %s", hook.id, hook.url, d.event_id, attempts,
                        error)
        else:
            self.delivered += 1
        await self.alarms.delivery_attempted(d.id, now, ok=ok, status=status, error=error, next_attempt_at=nxt)
        return ok

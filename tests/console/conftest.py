"""Fixtures for the console's server side: a real SqliteStore with two users, and
the API app built with chosen console settings; for the browser tests, Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.api.console import ConsoleSettings
from icvcloud.live import LiveHub
from icvcloud.store.sqlite import SqliteStore
from icvcloud.tools import browser as chromium

PASSWORD_HASH = PasswordHasher().hash("correct horse battery")


@dataclass
class Site:
    store: SqliteStore
    services: ApiServices
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def app(self, settings: ConsoleSettings | None = None) -> FastAPI:
        return create_app(self.services, settings)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        org = await store.add_organisation("淄博公交集团")
        s = Site(store, ApiServices(store=store, hub=LiveHub()))
        for username, role in (("admin", "admin"), ("viewer", "viewer")):
            uid = await store.add_user(username, PASSWORD_HASH, role, None if role == "admin" else org)
            s.tokens[username] = await issue_token(store, uid, "test")
        yield s
    finally:
        await store.close()


ClientFor = Callable[[FastAPI], httpx.AsyncClient]


@pytest.fixture
def client_for() -> ClientFor:
    def make(app: FastAPI) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test")

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, for one test module."""
    with chromium.sync_playwright() as p:
        b = chromium.launch(p)
        yield b
        b.close()


@pytest.fixture
def fake_dist(tmp_path: Path) -> Path:
    """A stand-in bundle with a secret beside it that must never be served."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script type="module" src="/assets/index-abc.js"></script>')
    (dist / "assets" / "index-abc.js").write_text("console.log('icv')")
    (dist / "assets" / "maplibre-gl-worker-x.mjs").write_text("self.onmessage = () => {}")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("not for browsers")
    return dist


async def raw_get(app: FastAPI, path: str) -> tuple[int, bytes, dict[str, str]]:
    """GET with exactly this path, as a server hands it to the app after percent-decoding
    (an HTTP client would normalise dot segments away first)."""
    from urllib.parse import unquote

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(path), "raw_path": path.encode("utf-8", "surrogateescape"), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"icv.test")], "client": ("127.0.0.1", 1),
             "server": ("icv.test", 80)}
    status = 0
    headers: dict[str, str] = {}
    body: list[bytes] = []
    done = asyncio.Event()
    asked = False

    async def receive() -> dict[str, object]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # responses listen for a disconnect while they stream
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]
            headers.update({k.decode(): v.decode() for k, v in message["headers"]})  # type: ignore[attr-defined]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))  # type: ignore[arg-type]
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return status, b"".join(body), headers

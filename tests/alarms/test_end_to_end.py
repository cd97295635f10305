"""The issue's end-to-end scenario, on the whole platform in both modes — embedded
(one process: gateway, log, store, alarm consumer with the real rule engine,
attachment server, API with its WebSocket) and scale-out (gateway, worker and API
processes over the NATS cluster and PostgreSQL) — driven by the simulator's JT/T
808 terminal over real sockets:

a hazmat tanker (scripted device times, a report a minute) with no e-waybill
(hazmat trip monitoring flags it) overspeeds, leaves its assigned route, enters a
zone forbidden to it, drives 4 h 30 min without a rest, raises ADAS and DSM
alarms with evidence files, and goes offline. Every alarm must reach the WebSocket
as new exactly once and the store exactly once; an operator then sends the driver
a text through the API, the terminal answers 0x0001, and the command, the handling
and the evidence are on record (the evidence files, and the platform's tracked 0x9208
asking for them, in the embedded mode: the scale-out mode has no attachment server yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from websockets.asyncio.client import connect

from icvcloud.api import issue_token
from icvcloud.model import Vehicle
from icvcloud.sim.attachments import ActiveSafetyTerminal
from icvcloud.sim.terminal import ONLINE, VirtualTerminal
from tests.sites import MODES, Site, open_site
from tests.terminals import Source, until

PHONE = "13900000001"
EXPECTED = {"overspeed", "route.deviation", "fence.forbidden", "fatigue.continuous", "adas.forward_collision",
            "dsm.fatigue", "offline", "hazmat.no_waybill"}


@pytest.fixture(params=MODES)
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    async with open_site(request.param, tmp_path, {"ICV__ALARMS__TICK_S": "0.2"}, embedded={
            "ICV__ATTACHMENTS__HOST": "127.0.0.1", "ICV__ATTACHMENTS__PORT": "0"}) as s:
        yield s


class Clock:
    """The terminal's device clock: the test moves it a minute per report."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t.timestamp()


async def test_alarms_end_to_end(site: Site) -> None:
    store = site.store
    org = await store.add_organisation("鲁中危险品运输")
    vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=org,
                                          device_id=PHONE))
    pw = PasswordHasher().hash("pw")
    admin = await issue_token(store, await store.add_user("admin", pw, "admin", None), "t")
    operator = await issue_token(store, await store.add_user("op", pw, "operator", org), "t")
    api = f"http://127.0.0.1:{site.api_port}/api/v1"
    http = httpx.AsyncClient(base_url=api, timeout=10)

    async def call(method: str, path: str, token: str = admin, **kw: Any) -> Any:
        r = await http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    # Configuration through the API: an 8 s offline limit (the scenario cannot wait 20 min),
    # the tanker's assigned route along 36.8° N, a zone forbidden to hazmat vehicles all day.
    await call("POST", "/rule-profiles", json={"name": "e2e", "spec": {"offline": {"offline_after_s": 8}}})
    await call("POST", "/routes", json={"name": "指定路线", "org_id": org, "spec": {
        "kind": "corridor", "deviation_after_s": 120, "vehicle_ids": [vid],
        "sections": [{"points": [[116.9, 36.8], [120.0, 36.8]], "width_m": 400}]}})
    await call("POST", "/geofences", json={"name": "城区禁行区", "spec": {
        "kind": "circle", "center": [118.5, 36.8], "radius_m": 600, "vehicle_types": ["hazmat_tanker"],
        "forbidden": [{"start": "00:00", "end": "00:00"}]}})

    messages: list[dict[str, Any]] = []
    ws = await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/alarms/live?token={operator}")
    snapshot = json.loads(await ws.recv())
    assert snapshot == {"type": "snapshot", "items": []}

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for m in ws:
                messages.append(json.loads(m))

    reader = asyncio.create_task(read())

    def news() -> Counter[str]:
        return Counter(m["alarm"]["alarm_type"] for m in messages if m["type"] == "alarm" and m["change"] == "new")

    src = Source(lat=36.8, lon=117.0, speed_kmh=50.0)
    clock = Clock((datetime.now(UTC) - timedelta(hours=6)).replace(microsecond=0))
    t = VirtualTerminal("127.0.0.1", site.jt808_port, PHONE, src, plate="鲁C12345", plate_colour=2,
                        interval_s=1e6, heartbeat_s=3600.0, clock_s=0.05, seed=1, wall_clock=clock)
    seen: list[Any] = []  # the platform's messages the terminal answered with 0x0001
    t.on_command = seen.append
    unit = ActiveSafetyTerminal(t, jpeg_bytes=30_000, mp4_bytes=90_000, host="127.0.0.1")
    t.start(own_clock=False)  # no clock of its own: it reports only when the script says
    try:
        await until(lambda: t.state == ONLINE, "the terminal online")
        # 4 h 30 min of driving east at ~53 km/h, a report a minute, no rest.
        for m in range(271):
            src.lon = 117.0 + 0.01 * m
            src.lat = 36.81 if 60 <= m < 66 else 36.8  # 1.1 km off the route for six minutes
            src.speed_kmh = 80.0 if 10 <= m < 14 else 53.0  # over the hazmat limit (60) for four minutes
            src.mileage_km = 1000.0 + 0.89 * m
            t.report_now()
            want = m + 1
            await until(lambda: t.acked == want, f"report {m} acknowledged")  # noqa: B023 - awaited here
            clock.t += timedelta(minutes=1)
        # Active safety: a forward-collision warning and a fatigued driver, each with a picture and a video.
        unit.raise_alarm(0x64, alarm_type=0x01, attachments=2, seq=1)
        unit.raise_alarm(0x65, alarm_type=0x01, attachments=2, seq=2)
        await until(lambda: t.acked == 273, "the active-safety reports acknowledged")
        # Then silence: the tanker goes offline (8 s by the receive clock), and comes back.
        await until(lambda: news()["offline"] == 1, "the offline alarm on the WebSocket")
        clock.t += timedelta(minutes=1)
        t.report_now()
        await until(lambda: any(m["type"] == "alarm" and m["change"] == "ended" and
                                m["alarm"]["alarm_type"] == "offline" for m in messages), "offline ended")
        await until(lambda: set(news()) >= EXPECTED, f"every alarm on the WebSocket (so far {dict(news())})")

        # Each alarm once on the WebSocket as new, once in the store.
        await asyncio.sleep(1.0)  # let anything that would be a duplicate arrive
        assert news() == Counter(EXPECTED), news()
        new_ids = [m["alarm"]["id"] for m in messages if m["type"] == "alarm" and m["change"] == "new"]
        assert len(new_ids) == len(set(new_ids))
        page = await call("GET", "/alarms", operator, params={"limit": 100})
        assert Counter(a["alarm_type"] for a in page["items"]) == Counter(EXPECTED)
        assert sorted(a["id"] for a in page["items"]) == sorted(new_ids)
        by_type = {a["alarm_type"]: a for a in page["items"]}
        assert by_type["overspeed"]["details"]["limit_kmh"] == 60.0 and not by_type["overspeed"]["active"]
        assert by_type["fatigue.continuous"]["active"]  # still driving without a rest
        assert all(a["state"] == "open" and a["plate"] == "鲁C12345" for a in page["items"])
        # Raised by a report (offline is raised by the clock; a deviation may be too, early, when the
        # clock says its allowance ran out before the next report confirms it).
        by_report = EXPECTED - {"offline", "route.deviation"}
        assert all(m["received_at"] for m in messages if m["type"] == "alarm" and m["change"] == "new"
                   and m["alarm"]["alarm_type"] in by_report)

        # The operator reminds the driver through the API; the terminal gets the text and answers.
        over = by_type["overspeed"]
        res = await call("POST", f"/alarms/{over['id']}/handle", operator,
                         json={"action": "text_to_driver", "text": "您已超速，请减速慢行"})
        assert res["alarm"]["state"] == "handled" and res["command"]["state"] == "sent"
        cmd_id = res["command"]["id"]
        await until(lambda: any(m.msg_id == 0x8300 for m in seen), "the text at the terminal")
        (text,) = [m for m in seen if m.msg_id == 0x8300]
        assert text.body.text == "您已超速，请减速慢行" and text.seq == res["command"]["seq"]
        while (cmd := await call("GET", f"/commands/{cmd_id}", operator))["state"] == "sent":
            await asyncio.sleep(0.02)
        assert cmd["state"] == "acknowledged" and cmd["answer"]["reply_msg_id"] == 0x8300
        assert cmd["answer"]["reply_seq"] == res["command"]["seq"]
        detail = await call("GET", f"/alarms/{over['id']}", operator)
        assert [(h["action"], h["user"], h["command_id"]) for h in detail["handling"]] == [
            ("text_to_driver", "op", cmd_id)]
        assert [c["id"] for c in detail["commands"]] == [cmd_id] and detail["track"]
        await until(lambda: any(m["type"] == "command" and m["command"]["id"] == cmd_id and
                                m["command"]["state"] == "acknowledged" for m in messages), "the answer on the feed")
        await until(lambda: any(m["type"] == "alarm" and m["change"] == "handled" and m["alarm"]["id"] == over["id"]
                                for m in messages), "the handling on the feed")

        if site.mode == "scaleout":
            # The workers' engine figures, summed by the API process (refreshed every 2 s).
            async def health() -> dict[str, Any]:
                return (await http.get(f"http://127.0.0.1:{site.api_port}/health")).json()  # type: ignore[no-any-return]

            h = await health()
            for _ in range(300):  # the workers' heartbeats carry their figures every second or so
                if h.get("alarm_positions", 0) >= 274:
                    break
                await asyncio.sleep(0.2)
                h = await health()
            assert h["alarm_positions"] >= 274 and h["alarms_changed"] >= len(EXPECTED), h
            assert h["alarm_restore_failures"] == 0
        else:
            # The alarm side's metrics.
            metrics = (await http.get(f"http://127.0.0.1:{site.api_port}/metrics")).text
            latency_count = next(ln for ln in metrics.splitlines()
                                 if ln.startswith("icv_alarm_latency_seconds_count"))
            assert float(latency_count.split()[-1]) >= 6  # every report-raised alarm measured
            assert "icv_alarm_lag_records" in metrics and "icv_alarm_feed_subscribers 1.0" in metrics

        # The evidence: uploaded after the platform's 0x9208, linked to its alarm, downloadable
        # (in scale-out: requested by the worker through the gateway holding the terminal,
        # received by the gateway's attachment server, served by the API process).
        await until(lambda: len(unit.results) == 2, "both uploads done")
        await unit.wait()
        assert all(r.complete for r in unit.results), [r.error for r in unit.results]
        for kind in ("adas.forward_collision", "dsm.fatigue"):
            aid = by_type[kind]["id"]
            while len((d := await call("GET", f"/alarms/{aid}", operator))["attachments"]) < 2:
                await asyncio.sleep(0.05)
            ref = by_type[kind]["details"]["alarm_ref"]
            sent = unit.files[ref]
            assert sorted(a["file_name"] for a in d["attachments"]) == sorted(f.name for f in sent)
            # The platform's request for them is on the alarm's record, answered by the terminal.
            while [c["state"] for c in d["commands"]] != ["acknowledged"]:
                assert all(c["state"] == "sent" for c in d["commands"]), d["commands"]
                await asyncio.sleep(0.05)
                d = await call("GET", f"/alarms/{aid}", operator)
            (req,) = d["commands"]
            assert (req["msg_id"], req["user"], req["alarm_ref"]) == ("0x9208", "platform", ref)
            assert req["body"]["alarm_number"] == ref and req["answer"]["reply_seq"] == req["seq"]
            for a in d["attachments"]:
                r = await http.get(a["url"].removeprefix("/api/v1"), headers={"Authorization": f"Bearer {operator}"})
                assert r.status_code == 200 and r.content == next(f.data for f in sent if f.name == a["file_name"])
        # The requests in the figures of the process that sent them: two sent, none waiting.
        figures = (await http.get(site.alarm_metrics_url)).text
        assert 'icv_attachment_requests_total{outcome="sent"} 2.0' in figures, figures
        assert "icv_attachment_requests_pending 0.0" in figures
    finally:
        await t.stop()
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await http.aclose()


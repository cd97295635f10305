"""Full-trip monitoring end to end, on the whole platform in both modes (embedded;
gateway + worker + API processes over NATS and PostgreSQL), driven by JT/T 808
terminals over real sockets with scripted device times (a report a minute):

a tanker with an electronic waybill loads at the depot for 42 minutes (its escort's
IC card read, 0x0702; no "stopped too long": the loading site is a permitted stop
for it), drives the approved route, leaves the corridor for three minutes, crosses
a zone closed to hazmat vehicles, unloads at the station and leaves. A second
tanker drives without any waybill. The waybill's trip must go planned → loading →
in transit → unloading → completed at the reports' device times, each change
recorded once; the deviation, the restricted zone and the missing waybill must
each be one alarm, announced once as new on the alarm WebSocket; the escort,
checked in by card, is never reported absent. The driver's own account then reads
the completed trip, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from icvcloud.api import issue_token
from icvcloud.app.hazmat import hazmat_store
from icvcloud.model import Vehicle
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.wire import CST
from tests.sites import MODES, Site, open_site
from tests.terminals import Terminal, until

LAT = 36.80
DEPOT = (118.00, LAT)
STATION = (118.30, LAT)
ZONE = (118.15, LAT)  # a restricted zone on the route
ESCORT_CARD = "370303199001011234"


@pytest.fixture(params=MODES)
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    settings = {"ICV__ALARMS__TICK_S": "0.2", "ICV__HAZMAT__NO_WAYBILL_AFTER_S": "300"}
    async with open_site(request.param, tmp_path, settings, embedded={"ICV__ATTACHMENTS__ENABLED": "false"}) as s:
        yield s


def circle(c: tuple[float, float], r: float = 300.0) -> dict[str, Any]:
    return {"kind": "circle", "center": list(c), "radius_m": r}


def location(t: datetime, lon: float, lat: float, speed_kmh: float) -> jt808.Location:
    return jt808.Location(alarm=0, status=3, lat=lat, lon=lon, altitude_m=50, speed_kmh=speed_kmh, heading_deg=90,
                          time=t.astimezone(CST))


async def report(term: Terminal, t: datetime, lon: float, lat: float = LAT, speed_kmh: float = 53.0) -> None:
    seq = await term.send(0x0200, location(t, lon, lat, speed_kmh))
    ack = await term.recv()
    assert (ack.msg_id, ack.body.reply_seq, ack.body.result) == (0x8001, seq, 0), ack


async def test_hazmat_trip_end_to_end(site: Site) -> None:
    store = site.store
    bureau = await store.add_organisation("淄博市交通运输局", "regulator")
    org = await store.add_organisation("齐鲁危化运输有限公司", "enterprise", bureau)
    tanker = await store.add_vehicle(Vehicle(id=0, plate="鲁C0H001", vehicle_type="hazmat_tanker", org_id=org,
                                             device_id="13900000101"))
    stray = await store.add_vehicle(Vehicle(id=0, plate="鲁C0H002", vehicle_type="hazmat_tanker", org_id=org,
                                            device_id="13900000102"))
    pw = PasswordHasher().hash("pw")
    admin = await issue_token(store, await store.add_user("admin", pw, "admin", None), "t")
    officer = await issue_token(store, await store.add_user("safety", pw, "operator", org), "t")
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{site.api_port}/api/v1", timeout=10)

    async def call(method: str, path: str, token: str = officer, **kw: Any) -> Any:
        r = await http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    # The registry, the restricted zone (closed to hazmat tankers all day), the terminals online.
    valid = (date.today() + timedelta(days=365)).isoformat()
    await call("PUT", f"/hazmat/enterprises/{org}", json={
        "operation_licence_no": "鲁交运管许可淄字370303000001号", "classes": ["2", "3", "8"], "valid_until": valid})
    for vid, cert in ((tanker, "370303000101"), (stray, "370303000102")):
        await call("PUT", f"/hazmat/vehicles/{vid}", json={"body": "tank", "classes": ["3"], "certificate_no": cert,
                                                           "certificate_expiry": valid})
    driver = (await call("POST", "/hazmat/people", json={"name": "王师傅", "qualifications": [
        {"kind": "driver", "number": "370303198001011111", "classes": ["3"], "expiry": valid}]}))["id"]
    escort = (await call("POST", "/hazmat/people", json={"name": "李押运", "qualifications": [
        {"kind": "escort", "number": ESCORT_CARD, "classes": ["3"], "expiry": valid}]}))["id"]
    await call("POST", "/geofences", admin, json={"name": "中心城区危化品禁行区", "spec": {
        **circle(ZONE, 500), "vehicle_types": ["hazmat_tanker", "hazmat_van"],
        "forbidden": [{"start": "00:00", "end": "00:00"}]}})
    a, b = Terminal("13900000101"), Terminal("13900000102")
    await a.login(site.jt808_port, "鲁C0H001")
    await b.login(site.jt808_port, "鲁C0H002")
    for term in (a, b):  # a heartbeat: the terminal is online (a waybill needs that)
        await term.ask(0x0002, None)
    for vid in (tanker, stray):
        for _ in range(200):
            if (await call("GET", f"/hazmat/vehicles/{vid}"))["online"]:
                break
            await asyncio.sleep(0.05)

    # Device times: the trip started two hours ago; the waybill's windows cover it.
    t0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    wb = await call("POST", "/hazmat/waybills", json={
        "shipper": "齐鲁石化", "consignee": "张店加油站", "vehicle_id": tanker, "driver_id": driver,
        "escort_id": escort,
        "cargo": [{"un_number": "1203", "hazard_class": "3", "packing_group": "II", "quantity": 20, "unit": "t"}],
        "origin": {"name": "齐鲁石化装车站", "area": circle(DEPOT)},
        "destination": {"name": "张店加油站", "area": circle(STATION)},
        "departure_from": (t0 - timedelta(minutes=10)).isoformat(),
        "departure_until": (t0 + timedelta(minutes=50)).isoformat(),
        "arrival_from": (t0 + timedelta(minutes=20)).isoformat(),
        "arrival_until": (t0 + timedelta(hours=4)).isoformat(),
        "route": [list(DEPOT), list(STATION)], "corridor_m": 400})
    assert wb["state"] == "planned"
    wid = wb["id"]
    # The monitors are told of the new waybill (a message to every worker in scale-out); give it a moment
    # so the first report (at the depot) is judged with the waybill loaded.
    await asyncio.sleep(1.0)

    # The carrier's officer, and another carrier's, watch the alarm feed.
    other = await store.add_organisation("淄川危运物流", "enterprise", bureau)
    outsider = await issue_token(store, await store.add_user("other", pw, "viewer", other), "t")
    messages: list[dict[str, Any]] = []
    foreign: list[dict[str, Any]] = []
    ws = await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/alarms/live?token={officer}")
    ws2 = await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/alarms/live?token={outsider}")
    assert json.loads(await ws.recv())["type"] == "snapshot"
    assert json.loads(await ws2.recv()) == {"type": "snapshot", "items": []}

    async def read(sock: Any, into: list[dict[str, Any]]) -> None:
        with contextlib.suppress(Exception):
            async for m in sock:
                into.append(json.loads(m))

    reader = asyncio.create_task(read(ws, messages))
    reader2 = asyncio.create_task(read(ws2, foreign))
    # ... and the live positions, subscribed by the tankers' IDs (guessed) and a box around the city.
    live2 = await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/live?token={outsider}")
    await live2.send(json.dumps({"vehicles": [tanker, stray], "bbox": [117.0, 36.0, 119.0, 37.5]}))
    assert json.loads(await live2.recv()) == {"type": "snapshot", "items": []}
    foreign_live: list[dict[str, Any]] = []
    reader3 = asyncio.create_task(read(live2, foreign_live))
    live1 = await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/live?token={officer}")  # the same, own carrier
    await live1.send(json.dumps({"vehicles": [tanker, stray], "bbox": [117.0, 36.0, 119.0, 37.5]}))
    assert json.loads(await live1.recv())["type"] == "snapshot"  # no positions yet: only heartbeats so far
    own_live: list[dict[str, Any]] = []
    reader4 = asyncio.create_task(read(live1, own_live))

    def news() -> Counter[str]:
        return Counter(m["alarm"]["alarm_type"] for m in messages if m["type"] == "alarm" and m["change"] == "new")

    try:
        def at(m: int) -> datetime:
            return t0 + timedelta(minutes=m)

        # Loading: 42 minutes standing in the depot — longer than the stop rule allows elsewhere (30 min),
        # permitted at the waybill's loading site; the escort's card is read.
        for m in (0, 1, 2, 20, 42):
            await report(a, at(m), DEPOT[0] + 0.0005, speed_kmh=0.0)
            if m == 1:
                seq = await a.send(0x0702, jt808.DriverIdentity(
                    state=1, time=at(m).astimezone(CST), read_result=0,
                    name="李押运", certificate_no=ESCORT_CARD, issuer="淄博市交通运输局", expiry="20300101"))
                ack = await a.recv()
                assert (ack.msg_id, ack.body.reply_seq) == (0x8001, seq)
        # In transit: east along the route at ~53 km/h, a report a minute.
        m, lon = 43, 118.01
        while lon < STATION[0] - 0.001:
            lat = LAT + 0.01 if 50 <= m <= 52 else LAT  # 1.1 km north of the route for three minutes
            await report(a, at(m), round(lon, 4), lat)
            m, lon = m + 1, lon + 0.01
        await report(a, at(m), STATION[0], speed_kmh=0.0)  # at the station: unloading
        await report(a, at(m + 1), STATION[0] + 0.0005, speed_kmh=0.0)
        await report(a, at(m + 2), STATION[0] + 0.01)  # left: completed
        unloaded, left = at(m), at(m + 2)
        # The second tanker drives ten minutes with no waybill.
        for k in range(11):
            await report(b, at(k), 118.40 + 0.01 * k, 36.9)

        expected = {"hazmat.route_deviation", "fence.forbidden", "hazmat.no_waybill"}
        await until(lambda: set(news()) >= expected, f"the findings on the WebSocket (so far {dict(news())})")

        async def trip() -> Any:
            return await call("GET", f"/hazmat/waybills/{wid}/trip")

        for _ in range(200):
            t = await trip()
            if t["waybill"]["state"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert [(h["state"], datetime.fromisoformat(h["at"]), h["by"]) for h in t["history"]] == [
            ("loading", at(0), "report"), ("in_transit", at(43), "report"), ("unloading", unloaded, "report"),
            ("completed", left, "report")]
        assert datetime.fromisoformat(t["waybill"]["state_at"]) == left

        await asyncio.sleep(1.0)  # anything that would be a duplicate arrives meanwhile
        assert news() == Counter(expected), news()
        page = await call("GET", "/alarms", params={"limit": 100})
        assert Counter(x["alarm_type"] for x in page["items"]) == Counter(expected)
        by_type = {x["alarm_type"]: x for x in page["items"]}
        dev = by_type["hazmat.route_deviation"]
        assert datetime.fromisoformat(dev["start_time"]) == at(50)
        assert datetime.fromisoformat(dev["end_time"]) == at(53) and not dev["active"]
        assert dev["details"]["waybill_id"] == wid and dev["vehicle_id"] == tanker and dev["category"] == "hazmat"
        nw = by_type["hazmat.no_waybill"]
        assert nw["vehicle_id"] == stray and datetime.fromisoformat(nw["start_time"]) == at(0) and nw["active"]
        assert by_type["fence.forbidden"]["vehicle_id"] == tanker
        # The trip view: the tanker's findings in the trip window (not the stray tanker's).
        assert sorted(f["alarm_type"] for f in t["findings"]) == ["fence.forbidden", "hazmat.route_deviation"]
        window = t["window"]
        assert datetime.fromisoformat(window["start"]) <= at(0) and datetime.fromisoformat(window["end"]) >= left
        # Filters by the new states; the dashboard counts the completed trip.
        assert [w["id"] for w in (await call("GET", "/hazmat/waybills", params={"state": "completed"}))["items"]] == [
            wid]
        # The driver's own account: the trip, read-only; no live feeds.
        uid = await store.add_user("wang", pw, "viewer", org)
        assert await hazmat_store(store).link_account(uid, driver)
        wang = await issue_token(store, uid, "t")
        mine = await call("GET", "/hazmat/me/waybills", wang)
        assert [(w["id"], w["state"]) for w in mine["items"]] == [(wid, "completed")]
        assert len((await call("GET", f"/hazmat/me/waybills/{wid}/trip", wang))["history"]) == 4
        assert (await http.get("/alarms", headers={"Authorization": f"Bearer {wang}"})).status_code == 403
        with pytest.raises(InvalidStatus):
            await connect(f"ws://127.0.0.1:{site.api_port}/api/v1/alarms/live?token={wang}")
        # The other carrier saw none of it — alarms or positions — and cannot read the trip.
        assert [m for m in foreign if m["type"] != "snapshot"] == []
        assert foreign_live == []
        await until(lambda: any(m["type"] == "positions" for m in own_live), "the carrier's own live positions")
        # Snapshots and batches are ASCII, the plates' Chinese characters escaped (a browser then
        # holds a 5 MB snapshot as a one-byte string and decodes it ~4x faster).
        async with connect(f"ws://127.0.0.1:{site.api_port}/api/v1/live?token={officer}") as live3:
            await live3.send("{}")
            snapshot = await live3.recv()
        assert isinstance(snapshot, str) and snapshot.isascii()
        plates = {i["plate"] for i in json.loads(snapshot)["items"]}
        assert plates and all(p.startswith("鲁") for p in plates)
        r = await http.get(f"/hazmat/waybills/{wid}/trip", headers={"Authorization": f"Bearer {outsider}"})
        assert r.status_code == 404
        dash = await call("GET", "/hazmat/dashboard")
        assert dash["trips"]["in_transit"] == 0 and dash["open_findings"] == 2  # deviation + no waybill
        assert dash["vehicles"]["total"] == 2 and dash["vehicles"]["online"] == 2
    finally:
        a.close()
        b.close()
        for sock, task in ((ws, reader), (ws2, reader2), (live2, reader3), (live1, reader4)):
            await sock.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await http.aclose()

"""The hazmat supervision pages in a real headless Chromium against a running
`icv demo`: the regulator's dashboard, a waybill issued through the form with its
route drawn by clicks on the map, a refused waybill listing every reason, the trip
replay against the approved corridor, the list, registry and navigation.
Screenshots go to artifacts/console/hazmat-*.png (the paths are printed).

The world, seeded into the store before the demo starts (whatever the demo adds
besides): a regulator (org 1) supervising a hazmat carrier (org 2), a tanker of the
carrier and 18 minutes of its track — east along the approved route, a detour
north well outside the 500 m corridor, back, and on. A scripted JT/T 808 terminal
keeps that tanker online (a waybill needs its terminal online). Through the API:
the carrier's registration, the tanker's certificate, a driver, an escort and an
escort whose qualification expired, and the waybill to replay.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from icvcloud.model import Position, Vehicle
from icvcloud.store.sqlite import SqliteStore
from tests.terminals import Source

from .live_demo import (
    WAIT_MS,
    Demo,
    TerminalThread,
    log_in,
    new_context,
    page_without_errors,
    running_demo,
    shot,
)

REGULATOR, REGULATOR_PASSWORD = "hz-regulator", "regulator-pass-1"
OPERATOR, OPERATOR_PASSWORD = "carrier-op", "carrier-pass-1"
PHONE, PLATE = "13900007301", "鲁C7H301"
BUREAU, CARRIER = 1, 2  # organisations seeded first, in a new store
CARRIER_NAME = "淄博安运危险品运输有限公司"
#: The route runs east along this latitude; the corridor is 500 m wide: 250 m each side.
ROUTE_LAT = 36.800
CORRIDOR_M = 500.0
M_PER_DEG_LAT = 110_574.0
#: The console is running and its hazmat pages are installed.
READY = "() => window.icvConsole && window.icvConsole.registryLoaded && window.icvHazmat"


def track_points(start: datetime) -> list[tuple[datetime, float, float, float]]:
    """(device time, lon, lat, speed): every 10 s — 60 along the route, 18 on a detour
    north (up to ~1.3 km off), 12 back, 18 on along the route."""
    pts: list[tuple[float, float]] = []
    pts += [(118.040 + 0.060 * i / 60, ROUTE_LAT) for i in range(60)]  # A → (118.100, 36.800)
    pts += [(118.100 + 0.015 * i / 18, ROUTE_LAT + 0.012 * i / 18) for i in range(1, 19)]  # up to (118.115, 36.812)
    pts += [(118.115 + 0.010 * i / 12, ROUTE_LAT + 0.012 * (1 - i / 12)) for i in range(1, 13)]  # back to 118.125
    pts += [(118.125 + 0.025 * i / 18, ROUTE_LAT) for i in range(1, 19)]  # on to C (118.150, 36.800)
    return [(start + timedelta(seconds=10 * i), lon, lat, 32.0) for i, (lon, lat) in enumerate(pts)]


def outside(points: list[dict[str, Any]]) -> int:
    """Points farther from the route (a line along ROUTE_LAT) than half the corridor."""
    return sum(1 for p in points if abs(p["lat"] - ROUTE_LAT) * M_PER_DEG_LAT > CORRIDOR_M / 2)


def seed(data_dir: Path, track_start: datetime) -> None:
    """The demo's organisations, the tanker and its track, in the store the demo will open."""
    async def main() -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(data_dir / "store.db")
        await store.open()
        try:
            assert await store.add_organisation("淄博市危险货物道路运输监管处", "regulator") == BUREAU
            assert await store.add_organisation(CARRIER_NAME, "enterprise", BUREAU) == CARRIER
            await store.add_vehicle(Vehicle(id=0, plate=PLATE, plate_colour=2, vehicle_type="hazmat_tanker",
                                            org_id=CARRIER, device_id=PHONE))
            await store.write_positions([
                Position(device_id=PHONE, device_time=t, seq=i + 1, received_at=t + timedelta(seconds=1), lat=lat,
                         lon=lon, speed_kmh=speed, heading_deg=90, status=0b11)
                for i, (t, lon, lat, speed) in enumerate(track_points(track_start))])
        finally:
            await store.close()

    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    failed: list[BaseException] = []
    runner = threading.Thread(target=lambda: _run(main, failed), name="hazmat-seed")
    runner.start()
    runner.join()
    if failed:
        raise failed[0]


def _run(main: Any, failed: list[BaseException]) -> None:
    try:
        asyncio.run(main())
    except BaseException as e:  # handed to the caller's thread
        failed.append(e)


@dataclass
class World:
    demo: Demo
    tokens: dict[str, str]
    vehicle: int
    driver: int
    escort: int
    expired_escort: int
    replay_waybill: int
    track_start: datetime
    ids: dict[str, int] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, user: str = OPERATOR) -> tuple[int, Any]:
        """The API as ``user``: (status, JSON body), errors included."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.demo.url + "/api/v1" + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.tokens[user]}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def get(self, path: str, user: str = OPERATOR) -> Any:
        status, body = self.call("GET", path, user=user)
        assert status == 200, (path, status, body)
        return body

    def wait(self, cond: Any, what: str) -> None:
        """Poll ``cond`` until it holds; the limit only keeps a broken platform from hanging the test."""
        for _ in range(300):
            if cond():
                return
            threading.Event().wait(0.1)
        raise AssertionError(f"gave up waiting for {what}")

    def available(self, path: str) -> bool:
        """Whether the platform has this endpoint yet (a 404 from the router itself means no)."""
        status, body = self.call("GET", path, user=REGULATOR)
        return not (status == 404 and body == {"detail": "Not Found"}) and status != 503


def _iso(t: datetime) -> str:
    return t.isoformat()


def circle(lon: float) -> dict[str, Any]:
    return {"kind": "circle", "center": [lon, ROUTE_LAT], "radius_m": 300}


def waybill_body(vehicle: int, driver: int, escort: int, now: datetime, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shipper": "齐鲁石化", "consignee": "张店东区加油站", "vehicle_id": vehicle, "driver_id": driver,
        "escort_id": escort,
        "cargo": [{"un_number": "1203", "hazard_class": "3", "packing_group": "II", "quantity": 18, "unit": "t"}],
        "origin": {"name": "齐鲁石化装车站", "area": circle(118.040)},
        "destination": {"name": "东区加油站", "area": circle(118.150)},
        "departure_from": _iso(now - timedelta(minutes=35)), "departure_until": _iso(now + timedelta(minutes=10)),
        "arrival_from": _iso(now + timedelta(minutes=30)), "arrival_until": _iso(now + timedelta(hours=3)),
        "route": [[118.040, ROUTE_LAT], [118.095, ROUTE_LAT], [118.150, ROUTE_LAT]], "corridor_m": CORRIDOR_M,
    }
    body.update(kw)
    return body


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    now = datetime.now(UTC).replace(microsecond=0)
    track_start = now - timedelta(minutes=30)
    data_dir = tmp_path_factory.mktemp("hazmat-ui-demo")
    seed(data_dir, track_start)
    demos = cast(Generator[Demo, None, None],
                 running_demo(data_dir, 6, (2.0, 3.0), "hazmat-demo.log", REGULATOR, REGULATOR_PASSWORD))
    demo = next(demos)
    try:
        demo.icv("user", "add", OPERATOR, "--role", "operator", "--org", str(CARRIER), "--password", OPERATOR_PASSWORD)
        tokens = {u: demo.post("/api/v1/auth/login", {"username": u, "password": p})["token"]
                  for u, p in ((REGULATOR, REGULATOR_PASSWORD), (OPERATOR, OPERATOR_PASSWORD))}
        terminal = TerminalThread(demo.jt808_port, PHONE, PLATE, Source(lat=ROUTE_LAT, lon=118.150))
        try:
            w = World(demo, tokens, 0, 0, 0, 0, 0, track_start)
            (vehicle,) = [v for v in w.get("/vehicles?limit=1000")["items"] if v["device_id"] == PHONE]
            w.vehicle = vehicle["id"]
            # A waybill needs the terminal online: seen by the platform, not only connected.
            w.wait(lambda: w.get(f"/vehicles/{w.vehicle}")["online"], "the tanker's terminal online")
            assert w.call("PUT", f"/hazmat/enterprises/{CARRIER}", {
                "business_licence_no": "91370300MA3C7H3010", "operation_licence_no": "鲁交运管许可淄字370300001",
                "classes": ["2", "3", "8"], "valid_until": "2030-12-31"})[0] == 200
            assert w.call("PUT", f"/hazmat/vehicles/{w.vehicle}", {
                "body": "tank", "classes": ["3", "8"], "certificate_no": "鲁淄危运 370300301",
                "certificate_expiry": "2030-06-30"})[0] == 200
            expiring = (now + timedelta(days=12)).date().isoformat()
            people = {
                "driver": ("王建国", [{"kind": "driver", "number": "DQ3703001", "classes": ["3", "8"],
                                      "expiry": "2030-06-30"}]),
                "escort": ("李秀英", [{"kind": "escort", "number": "EQ3703002", "classes": ["2", "3", "8"],
                                      "expiry": expiring}]),
                "expired_escort": ("赵志强", [{"kind": "escort", "number": "EQ3703003", "classes": ["2", "3", "8"],
                                              "expiry": "2025-01-31"}]),
            }
            for key, (name, quals) in people.items():
                status, body = w.call("POST", "/hazmat/people", {"name": name, "phone": "13905330000",
                                                                  "qualifications": quals})
                assert status == 201, body
                setattr(w, key, body["id"])
            status, body = w.call("POST", "/hazmat/waybills", waybill_body(w.vehicle, w.driver, w.escort, now,
                                                                            number="ZB-REPLAY-1"))
            assert status == 201, body
            w.replay_waybill = body["id"]
            # The driver presses the emergency button at the end of the trip: a finding of it.
            terminal.call(lambda: terminal.terminal.report_now(alarm=1))  # the emergency bit
            w.wait(lambda: w.get(f"/alarms?vehicle_id={w.vehicle}&type=terminal.emergency")["total"] == 1,
                   "the emergency alarm")
            yield w
        finally:
            terminal.stop()
    finally:
        demos.close()


@pytest.fixture(scope="module")
def operator(browser: Any, world: World) -> Iterator[Any]:
    with page_without_errors(new_context(browser)) as pg:
        log_in(pg, world.demo.url, OPERATOR, OPERATOR_PASSWORD, READY)
        yield pg


@pytest.fixture(scope="module")
def regulator(browser: Any, world: World) -> Iterator[Any]:
    with page_without_errors(new_context(browser)) as pg:
        log_in(pg, world.demo.url, REGULATOR, REGULATOR_PASSWORD, READY)
        yield pg


def go(page: Any, hash_: str, ready: str) -> None:
    """Open a hazmat page by its address; returns once it has loaded."""
    page.evaluate("h => { location.hash = h; }", hash_)
    page.wait_for_selector(f"#hazmat-view[data-route='{hash_}'] {ready}[data-ready='true']", timeout=WAIT_MS)


def screenshot(page: Any, name: str) -> None:
    print(f"screenshot: {shot(page, name)}")


def map_settled(page: Any) -> None:
    page.wait_for_function("() => { const m = window.icvHazmat.map.map; return m.loaded() && !m.isMoving(); }",
                           timeout=WAIT_MS)


def rendered(page: Any, layer: str) -> int:
    return int(page.evaluate("l => window.icvHazmat.map.map.queryRenderedFeatures({layers: [l]}).length", layer))


def click_map(page: Any, x: float, y: float) -> tuple[float, float]:
    """Click the hazmat map at page pixel (x, y); the WGS-84 position clicked (the demo's basemap is WGS-84)."""
    under = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y);"
                          "return e.tagName + '.' + e.className; }", [x, y])
    assert under == "CANVAS.maplibregl-canvas", f"({x}, {y}) is on {under}, not the map"
    lon, lat = page.evaluate("""([x, y]) => { const m = window.icvHazmat.map.map;
        const r = m.getContainer().getBoundingClientRect(); const p = m.unproject([x - r.left, y - r.top]);
        return [p.lng, p.lat]; }""", [x, y])
    page.mouse.click(x, y)
    return lon, lat


def test_navigation_between_the_live_map_and_the_hazmat_pages(regulator: Any, world: World) -> None:
    page = regulator
    assert page.get_attribute("#nav-live", "aria-current") == "page"
    assert page.is_visible("#map") and page.is_hidden("#hazmat-view")
    page.click("#nav-waybills")
    page.wait_for_selector("#hz-waybills tr[data-number='ZB-REPLAY-1']", timeout=WAIT_MS)
    assert page.evaluate("location.hash") == "#/hazmat/waybills"
    assert page.is_hidden("#map") and page.is_hidden("#list-panel")
    # A filtered list is a link: reloading keeps the filter and the page.
    page.fill("#wb-filter-q", "replay")
    page.press("#wb-filter-q", "Enter")
    page.wait_for_function("location.hash === '#/hazmat/waybills?q=replay'")
    page.reload()
    page.wait_for_function(READY, timeout=WAIT_MS)
    page.wait_for_selector("#hz-waybills tr[data-number='ZB-REPLAY-1']", timeout=WAIT_MS)
    assert page.input_value("#wb-filter-q") == "replay"
    assert int(page.get_attribute("#wb-page", "data-total")) == 1
    # A regulator reads: no "new waybill" button.
    assert page.locator("#wb-new").count() == 0
    # The alarm button belongs to the live map and leads back to it, where the map works as before.
    page.click("#alarm-toggle")
    page.wait_for_selector("#map", state="visible")
    assert page.evaluate("location.hash") == "#/live"
    assert page.is_visible("#alarm-panel") and page.is_hidden("#hazmat-view")
    page.wait_for_function("() => window.icvConsole.map.getCanvas().width > 0")
    # The tabs share the header with the live totals: at a supervisor's 1440 px all of them still show.
    assert page.evaluate("() => { const t = document.getElementById('totals');"
                         "return t.scrollWidth <= t.clientWidth; }")


def test_dashboard_shows_the_numbers_and_charts(regulator: Any, world: World) -> None:
    page = regulator
    # The figures the page shows are the ones it received (the demo's trips move on meanwhile).
    with page.expect_response(lambda r: r.url.endswith("/api/v1/hazmat/dashboard")) as resp:
        page.click("#nav-dashboard")
    page.wait_for_selector("#hz-dashboard[data-ready='true']", timeout=WAIT_MS)
    if resp.value.ok:
        d = resp.value.json()
        values = {k: int(page.get_attribute(f"#hz-tile-{k}", "data-value")) for k in
                  ("vehicles", "moving", "active", "findings", "alarms", "documents")}
        assert values["vehicles"] == d["vehicles"]["total"] >= 1
        assert values["active"] == d["trips"]["loading"] + d["trips"]["in_transit"] + d["trips"]["unloading"]
        assert values["findings"] == d["open_findings"]
        assert values["documents"] == d["documents"]["expired"] >= 1  # the escort's expired qualification
        trips = page.locator("#hz-chart-trips")
        assert int(trips.get_attribute("data-total")) == sum(
            d["trips"][s] for s in ("planned", "loading", "in_transit", "unloading", "completed_today"))
        assert int(page.get_attribute("#hz-chart-trips li[data-key='planned']", "data-value")) == d["trips"]["planned"]
        by_class = {r.get_attribute("data-key"): int(r.get_attribute("data-value"))
                    for r in page.locator("#hz-chart-class .hz-bar-row").all()}
        assert by_class == {k: v for k, v in d["vehicles"]["by_class"].items() if v > 0}
        assert by_class["3"] >= 1  # the seeded tanker, online, may carry class 3
        carrying = {r.get_attribute("data-key"): int(r.get_attribute("data-value"))
                    for r in page.locator("#hz-chart-carrying .hz-bar-row").all()}
        assert carrying == {k: v for k, v in d["vehicles"].get("carrying", {}).items() if v > 0}
        alarms = {r.get_attribute("data-key"): int(r.get_attribute("data-value"))
                  for r in page.locator("#hz-chart-alarms .hz-bar-row").all()}
        assert alarms["terminal.emergency"] == d["alarms_today"]["by_type"]["terminal.emergency"] >= 1
    else:
        # Until the platform has the endpoint the page says so, and the rest still works.
        assert page.get_attribute("#hz-dash-unavailable", "data-unavailable") == "true"
    # The documents list comes from the findings endpoint: the expired escort first.
    first = page.locator("#hz-docs li").first
    assert first.get_attribute("data-status") == "expired" and "赵志强" in first.inner_text()
    assert page.locator("#hz-docs li[data-status='expiring']:has-text('李秀英')").count() == 1
    if world.available("/reports/enterprises?start=2026-01-01&end=2026-01-31"):
        assert page.locator(f"#hz-ranking tr[data-org-id='{CARRIER}']").count() == 1
    screenshot(page, "hazmat-01-dashboard")


def test_issue_a_waybill_by_drawing_its_route(operator: Any, world: World) -> None:
    page = operator
    page.click("#nav-waybills")
    page.wait_for_selector("#wb-new", timeout=WAIT_MS)
    page.click("#wb-new")
    page.wait_for_selector("#hz-waybill-new[data-ready='true']", timeout=WAIT_MS)
    page.evaluate("window.icvHazmat.map.map.jumpTo({center: [118.095, 36.805], zoom: 13})")
    map_settled(page)
    # Parties and crew: the carrier is the operator's own enterprise, the only choice.
    assert page.input_value("#wf-carrier") == str(CARRIER)
    page.fill("#wf-shipper", "齐鲁石化")
    page.fill("#wf-consignee", "张店东区加油站")
    page.select_option("#wf-vehicle", str(world.vehicle))
    page.select_option("#wf-driver", str(world.driver))
    page.select_option("#wf-escort", str(world.escort))
    # The UN number fills the line's name, class and packing group.
    page.fill("#wf-cargo .wf-un", "1203")
    page.wait_for_function("document.querySelector('#wf-cargo .wf-class').value === '3'", timeout=WAIT_MS)
    assert page.input_value("#wf-cargo .wf-pg") == "II"
    assert page.input_value("#wf-cargo .wf-name") != ""
    page.fill("#wf-cargo .wf-qty", "20")
    # Sites: circles drawn on the map (centre, then a point on the rim).
    page.fill("#wf-origin-name", "齐鲁石化装车站")
    page.click("#wf-origin-circle")
    click_map(page, 700, 720)
    click_map(page, 730, 720)
    page.wait_for_selector("#wf-origin-area[data-kind='circle']")
    page.fill("#wf-destination-name", "东区加油站")
    page.click("#wf-destination-circle")
    click_map(page, 1320, 420)
    click_map(page, 1350, 420)
    page.wait_for_selector("#wf-destination-area[data-kind='circle']")
    # The route: four clicks, an undo of a stray fifth, finish; a 400 m corridor.
    page.click("#wf-draw-route")
    route = [click_map(page, x, y) for x, y in ((700, 720), (880, 600), (1100, 560), (1320, 420))]
    click_map(page, 1000, 800)
    page.click("#wf-route-undo")
    page.click("#wf-route-finish")
    page.wait_for_selector("#wf-route-info[data-points='4']")
    page.fill("#wf-corridor", "400")
    map_settled(page)
    assert rendered(page, "hz-corridor-fill") > 0 and rendered(page, "hz-route") > 0
    assert rendered(page, "hz-sites-fill") >= 2
    screenshot(page, "hazmat-02-waybill-form")

    page.click("#wf-submit")
    page.wait_for_function("/^#\\/hazmat\\/waybills\\/\\d+$/.test(location.hash)", timeout=WAIT_MS)
    wid = int(page.evaluate("location.hash").rsplit("/", 1)[1])
    page.wait_for_selector("#hz-waybill[data-ready='true']", timeout=WAIT_MS)
    w = world.get(f"/hazmat/waybills/{wid}")
    assert w["state"] == "planned" and w["org_id"] == CARRIER and w["created_by"] == OPERATOR
    assert (w["vehicle_id"], w["driver_id"], w["escort_id"]) == (world.vehicle, world.driver, world.escort)
    assert w["corridor_m"] == 400
    assert len(w["route"]) == 4
    for (lon, lat), (x, y) in zip(route, w["route"], strict=True):
        assert abs(lon - x) < 1e-5 and abs(lat - y) < 1e-5  # where it was clicked (a pixel is ~9e-5° at zoom 13)
    assert w["origin"]["area"]["kind"] == "circle" and w["origin"]["name"] == "齐鲁石化装车站"
    assert 100 < w["origin"]["area"]["radius_m"] < 1000
    (line,) = w["cargo"]
    assert (line["un_number"], line["hazard_class"], line["packing_group"], line["quantity"]) == ("1203", "3", "II", 20)
    # The detail shows it, with the corridor and the sites on the map.
    assert page.inner_text("#hz-waybill-number") == w["number"]
    assert page.inner_text("#hz-waybill [data-field='vehicle']") == PLATE
    assert "UN1203" in page.inner_text("#hz-cargo")
    # The escort checks in by hand (no IC card reader in the cab): the trip records it.
    page.click("#hz-checkin-escort")
    page.wait_for_selector("#hz-checkin-list li[data-role='escort']:has-text('李秀英')", timeout=WAIT_MS)
    checkins = world.get(f"/hazmat/waybills/{wid}/trip")["checkins"]
    assert [(c["role"], c["person_id"], c["by"]) for c in checkins] == [("escort", world.escort, OPERATOR)]
    map_settled(page)
    assert rendered(page, "hz-corridor-fill") > 0 and rendered(page, "hz-sites-fill") >= 2
    screenshot(page, "hazmat-03-waybill-detail")


def test_a_refused_waybill_shows_every_reason(operator: Any, world: World) -> None:
    page = operator
    before = world.get("/hazmat/waybills")["total"]
    go(page, "#/hazmat/waybills/new", "#hz-waybill-new")
    page.fill("#wf-shipper", "齐鲁石化")
    page.fill("#wf-consignee", "淄川化工园")
    page.select_option("#wf-vehicle", str(world.vehicle))
    page.select_option("#wf-driver", str(world.driver))
    # The escort whose qualification expired, and chlorine (2.3), which neither the tanker nor the driver may carry.
    assert page.get_attribute(f"#wf-escort option[value='{world.expired_escort}']", "data-validity") == "expired"
    page.select_option("#wf-escort", str(world.expired_escort))
    page.fill("#wf-cargo .wf-un", "1017")
    page.wait_for_function("document.querySelector('#wf-cargo .wf-class').value === '2.3'", timeout=WAIT_MS)
    page.fill("#wf-cargo .wf-qty", "5")
    page.fill("#wf-origin-name", "齐鲁石化装车站")
    page.fill("#wf-destination-name", "东区加油站")
    # Sites and route from the file an operator would import, and earlier sites.
    page.select_option("#wf-origin-pick", label="齐鲁石化装车站")
    page.select_option("#wf-destination-pick", label="东区加油站")
    line = {"type": "Feature", "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[118.04, ROUTE_LAT], [118.15, ROUTE_LAT]]}}
    page.set_input_files("#wf-import-file", files=[{"name": "route.geojson", "mimeType": "application/geo+json",
                                                    "buffer": json.dumps(line).encode()}])
    page.wait_for_selector("#wf-route-info[data-points='2']")
    posted = lambda r: r.url.endswith("/api/v1/hazmat/waybills") and r.request.method == "POST"  # noqa: E731
    with page.expect_response(posted) as resp:
        page.click("#wf-submit")
    assert resp.value.status == 422
    api_reasons = resp.value.json()["reasons"]
    assert {r["code"] for r in api_reasons} >= {"escort_expired", "vehicle_class", "driver_class"}
    page.wait_for_selector("#wf-reasons:not([hidden])")
    box = page.locator("#wf-reasons")
    assert int(box.get_attribute("data-count")) == len(api_reasons)
    shown = page.locator("#wf-reasons li").all_inner_texts()
    assert len(shown) == len(api_reasons)
    for r, text in zip(api_reasons, shown, strict=True):
        assert r["code"] in text and r["message"] in text
    assert "EQ3703003" in box.inner_text() and "2025-01-31" in box.inner_text()  # the certificate and its expiry
    # The parts of the form they concern are marked.
    for section in ("escort", "driver", "vehicle"):
        assert "hz-invalid" in (page.get_attribute(f".hz-field[data-section='{section}']", "class") or "")
    assert page.evaluate("location.hash") == "#/hazmat/waybills/new"  # still on the form, nothing lost
    assert page.input_value("#wf-shipper") == "齐鲁石化"
    assert world.get("/hazmat/waybills")["total"] == before
    screenshot(page, "hazmat-04-waybill-refused")


def test_trip_replay_against_the_corridor(regulator: Any, world: World) -> None:
    page = regulator
    go(page, f"#/hazmat/waybills/{world.replay_waybill}/replay", "#hz-replay")
    # The track the page replays is the API's track of the trip's time range.
    start, end = page.evaluate("""() => [document.querySelector('#hz-pb-start').value,
                                         document.querySelector('#hz-pb-end').value]""")
    track = world.get(f"/vehicles/{world.vehicle}/track?start={start}:00%2B08:00&end={end}:00%2B08:00", REGULATOR)
    stats = page.locator("#hz-replay-stats")
    assert int(stats.get_attribute("data-points")) == len(track["points"]) >= 100
    off = outside(track["points"])
    assert off >= 15
    assert int(stats.get_attribute("data-outside")) == off
    map_settled(page)
    assert rendered(page, "hz-corridor-fill") > 0
    assert rendered(page, "pb-line") > 0
    assert rendered(page, "hz-outside") == off
    assert rendered(page, "pb-marker") == 1
    assert page.locator("#hz-strip .hz-strip-out").count() == 1  # one detour
    # Play: the marker moves along the track.
    page.select_option("#hz-pb-speed", "60")
    before = page.inner_text("#hz-pb-clock")
    page.click("#hz-pb-play")
    page.wait_for_function("b => document.querySelector('#hz-pb-clock').textContent !== b", arg=before, timeout=WAIT_MS)
    assert rendered(page, "pb-marker") == 1
    screenshot(page, "hazmat-05-trip-replay")
    page.click("#hz-pb-play")  # pause
    # A point of the detour in the table: a click there moves the marker onto it, outside the corridor.
    detour = next(i for i, p in enumerate(track["points"]) if abs(p["lat"] - ROUTE_LAT) * M_PER_DEG_LAT > 1000)
    page.evaluate("i => { document.querySelector('#hz-pb-table').scrollTop = i * 28; }", detour)
    page.click(f"#hz-pb-table .pb-row[data-index='{detour}']")
    page.wait_for_function("""lat => {
        const f = window.icvHazmat.map.map.queryRenderedFeatures({layers: ['pb-marker']});
        return f.length === 1 && Math.abs(f[0].geometry.coordinates[1] - lat) < 1e-4; }""",
                           arg=track["points"][detour]["lat"], timeout=WAIT_MS)
    # The trip's findings: the emergency, numbered on the map, on the strip and in the list; a click on it
    # moves the timeline to its time (the report with the emergency bit, at the end of the track).
    trip = world.get(f"/hazmat/waybills/{world.replay_waybill}/trip", REGULATOR)
    assert [f["alarm_type"] for f in trip["findings"]] == ["terminal.emergency"]
    assert page.locator("#hz-findings li").count() == 1
    assert page.get_attribute("#hz-findings li", "data-type") == "terminal.emergency"
    assert page.locator("#hz-strip .hz-strip-finding").count() == 1
    assert rendered(page, "hz-findings") == 1
    page.click("#hz-findings li")
    # (Two reports may share that second, the emergency one among them: either is the place.)
    pressed = datetime.fromisoformat(trip["findings"][0]["start_time"])
    at = [i for i, p in enumerate(track["points"]) if datetime.fromisoformat(p["device_time"]) == pressed]
    assert at
    page.wait_for_function("""at => { const r = document.querySelector('#hz-pb-table .pb-row.current');
        return r !== null && r.classList.contains('has-alarm') && at.includes(Number(r.dataset.index)); }""",
                           arg=at, timeout=WAIT_MS)


def test_registry_highlights_expired_and_expiring_qualifications(regulator: Any, world: World) -> None:
    page = regulator
    go(page, "#/hazmat/registry/people", "#hz-registry")
    expired = page.locator(f"#rg-people tr[data-person-id='{world.expired_escort}'] li[data-kind='escort']")
    assert expired.get_attribute("data-validity") == "expired"
    soon = page.locator(f"#rg-people tr[data-person-id='{world.escort}'] li[data-kind='escort']")
    assert soon.get_attribute("data-validity") == "expiring"
    assert page.locator("#rg-people .hz-edit").count() == 0  # a regulator reads only
    screenshot(page, "hazmat-06-registry-people")
    go(page, "#/hazmat/registry/vehicles", "#hz-registry")
    assert page.inner_text(f"#rg-vehicles tr[data-vehicle-id='{world.vehicle}'] .hz-plate") == PLATE
    go(page, "#/hazmat/registry/findings", "#hz-registry")
    statuses = page.locator("#rg-findings tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses[0] == "expired" and "expiring" in statuses


def test_operator_edits_the_own_registry(operator: Any, world: World) -> None:
    page = operator
    go(page, "#/hazmat/registry/vehicles", "#hz-registry")
    page.click(f"#rg-vehicles tr[data-vehicle-id='{world.vehicle}'] .hz-edit")
    page.fill("#rg-veh-expiry", "2031-03-31")
    page.click("#rg-veh-dialog-save")
    page.wait_for_selector(f"#rg-vehicles tr[data-vehicle-id='{world.vehicle}'] td:has-text('2031-03-31')",
                           timeout=WAIT_MS)
    assert world.get(f"/hazmat/vehicles/{world.vehicle}")["certificate_expiry"] == "2031-03-31"


def test_reports_page(regulator: Any, world: World) -> None:
    page = regulator
    if not world.available("/reports/enterprises?start=2026-01-01&end=2026-01-31"):
        page.evaluate("location.hash = '#/hazmat/reports'")
        page.wait_for_selector("#rep-error[data-unavailable='true']", timeout=WAIT_MS)
        return
    go(page, "#/hazmat/reports", "#hz-reports")
    page.click(f"#hz-report-table tr[data-org-id='{CARRIER}']")
    page.wait_for_function(f"location.hash.includes('org={CARRIER}')")
    page.wait_for_selector("#rep-daily-chart, #rep-daily-error", timeout=WAIT_MS)
    assert re.match(r"#/hazmat/reports\?month=\d{4}-\d{2}&org=2", page.evaluate("location.hash"))
    screenshot(page, "hazmat-07-reports")
    # The month's table as CSV, through the page (the API wants the token, a plain link would not carry it).
    with page.expect_download() as download:
        page.click("#rep-csv")
    csv = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert CARRIER_NAME in csv



def test_a_driver_sees_only_their_own_waybills(browser: Any, world: World) -> None:
    # The waybill's driver gets an account of their own (read-only self).
    world.demo.icv("user", "add", "driver-wang", "--role", "driver", "--person", str(world.driver),
                   "--password", OPERATOR_PASSWORD)
    with page_without_errors(new_context(browser)) as pg:
        log_in(pg, world.demo.url, "driver-wang", OPERATOR_PASSWORD,
               "() => document.querySelector('#driver-view .driver-list[data-ready=\"true\"]') !== null")
        numbers = [t.split(" · ")[0] for t in pg.locator(".driver-waybill h3").all_inner_texts()]
        mine = [w["number"] for w in world.get(f"/hazmat/waybills?person_id={world.driver}&limit=100")["items"]]
        assert sorted(numbers) == sorted(mine) and "ZB-REPLAY-1" in numbers
        assert pg.locator("#app-view").is_hidden()  # none of the console's fleet-wide views
        section = pg.locator(".driver-waybill", has_text="ZB-REPLAY-1")
        section.locator("button").click()
        pg.wait_for_selector(".driver-waybill .driver-trip[data-ready='true']", timeout=WAIT_MS)
        assert "紧急报警" in section.inner_text() or "Emergency" in section.inner_text()
        screenshot(pg, "hazmat-08-driver")

"""The web console in a real headless Chromium (Debian's, driven by Playwright)
against a running `icv demo` with a small, fast-reporting virtual fleet.

Each Must-show step of the console issue is one test, in the order a supervisor
would go; screenshots of every step are saved to artifacts/console/. Every request
the page makes is recorded; the last test asserts none left the machine.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from .live_demo import (
    DEMO_PASSWORD,
    DEMO_USER,
    WAIT_MS,
    AlarmTerminal,
    Demo,
    log_in,
    new_context,
    page_without_errors,
    running_demo,
    shot,
)

VEHICLES = 40
VIEWER, VIEWER_PASSWORD = "inspector", "inspector-pass-1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: Logged in: the registry is loaded and live positions have arrived.
READY = "() => window.icvConsole && window.icvConsole.registryLoaded && window.icvConsole.vehicles.updates > 0"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    # A viewer of the regulator (organisation 1): sees every vehicle, not raw frames.
    yield from running_demo(tmp_path_factory.mktemp("console-demo"), VEHICLES, (1.0, 2.0), "demo.log", VIEWER,
                            VIEWER_PASSWORD)


@pytest.fixture(scope="module")
def alarm_terminal(demo: Demo) -> Iterator[AlarmTerminal]:
    t = AlarmTerminal(demo.jt808_port).start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


def _context(browser: Any, requests_seen: list[str]) -> Any:
    ctx = new_context(browser, timezone_id="Europe/Berlin")
    ctx.on("request", lambda r: requests_seen.append(r.url))
    ctx.on("page", lambda page: page.on("websocket", lambda ws: requests_seen.append(ws.url)))
    return ctx


@pytest.fixture(scope="module")
def page(browser: Any, demo: Demo, alarm_terminal: AlarmTerminal, requests_seen: list[str]) -> Iterator[Any]:
    """The supervisor's page, logged in as the demo administrator."""
    with page_without_errors(_context(browser, requests_seen)) as pg:
        log_in(pg, demo.url, DEMO_USER, DEMO_PASSWORD, READY)
        yield pg


def test_login_with_the_apis_tokens(browser: Any, demo: Demo, requests_seen: list[str]) -> None:
    ctx = _context(browser, requests_seen)
    pg = ctx.new_page()
    try:
        pg.goto(demo.url + "/")
        pg.wait_for_selector("#login-username", state="visible")
        assert pg.inner_text("#login-form h1") == "淄博智能网联云控平台"
        assert pg.evaluate("document.documentElement.lang") == "zh-CN"
        assert pg.is_hidden("#app-view")
        pg.fill("#login-username", DEMO_USER)
        pg.fill("#login-password", "wrong password")
        pg.click("#login-submit")
        pg.wait_for_function("document.querySelector('#login-error').textContent.length > 0")
        assert pg.inner_text("#login-error") == "用户名或密码错误"
        shot(pg, "01-login-refused")
        pg.fill("#login-password", DEMO_PASSWORD)
        pg.click("#login-submit")
        pg.wait_for_selector("#app-view", state="visible")
        pg.wait_for_function("() => window.icvConsole && window.icvConsole.registryLoaded", timeout=WAIT_MS)
        assert pg.inner_text("#user-name") == "admin · 管理员"
        # The console holds an ordinary API token: the API accepts it.
        token = pg.evaluate("localStorage.getItem('icv.token')")
        assert demo.get("/api/v1/me", token=token)["role"] == "admin"
        shot(pg, "02-logged-in")
        # Logging out forgets the token and shows the login page again.
        pg.click("#logout")
        pg.wait_for_selector("#login-view", state="visible")
        assert pg.evaluate("localStorage.getItem('icv.token')") is None
    finally:
        ctx.close()


def _rendered(page: Any) -> dict[str, tuple[float, float, str]]:
    rows = page.evaluate("() => window.icvConsole.vehicles.rendered()")
    return {r["key"]: (r["lon"], r["lat"], r["state"]) for r in rows}


def test_markers_appear_and_move(page: Any, demo: Demo) -> None:
    page.wait_for_function(f"() => window.icvConsole.fleet.size >= {VEHICLES}", timeout=WAIT_MS)
    # City zoom: vehicles are aggregated into cells (HTML marks over the map) whose counts add
    # up to the vehicles with a position, each vehicle counted once.
    page.wait_for_function("() => document.querySelectorAll('.veh-cell').length > 0", timeout=WAIT_MS)
    page.wait_for_function("""() => {
        const placed = [...window.icvConsole.fleet.recs.values()].filter(r => r.item.position).length;
        const cells = [...document.querySelectorAll('.veh-cell')].reduce((n, e) => n + Number(e.dataset.count), 0);
        return cells + document.querySelectorAll('.veh-one').length === placed;
    }""", timeout=WAIT_MS)
    shot(page, "03-city-clusters")
    # A click on a cell zooms into it (the marks let clicks through to the map, which hit-tests them).
    zoom = page.evaluate("() => window.icvConsole.map.getZoom()")
    x, y = page.evaluate("""() => {
        const canvas = window.icvConsole.map.getCanvas();
        for (const e of document.querySelectorAll('.veh-cell')) {
            const r = e.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (document.elementFromPoint(x, y) === canvas) return [x, y];  // on the map, under no panel
        }
        return null;
    }""")
    page.mouse.click(x, y)
    page.wait_for_function(f"() => window.icvConsole.map.getZoom() > {zoom} + 0.5 && !window.icvConsole.map.isMoving()",
                           timeout=WAIT_MS)
    # Zoom into the Zhangdian grid, where buses and sanitation trucks run: one icon per vehicle.
    page.evaluate("() => window.icvConsole.map.jumpTo({center: [118.05, 36.81], zoom: 12.5})")
    page.wait_for_function("() => window.icvConsole.vehicles.rendered().length >= 5", timeout=WAIT_MS)
    first = _rendered(page)
    shot_a = shot(page, "04a-markers")
    states = {s for _, _, s in first.values()}
    assert states <= {"moving", "stopped", "offline", "alarm"}
    # The markers are where the API says the vehicles are (display = WGS-84 on the offline basemap).
    api = {f"v{v['id']}": v for v in demo.get("/api/v1/vehicles?limit=1000")["items"]}
    near = [k for k, (lon, lat, _) in first.items() if k in api and api[k]["position"]
            and math.dist((lon, lat), (api[k]["position"]["lon"], api[k]["position"]["lat"])) < 0.01]
    assert len(near) >= len(first) * 0.8, (first, near)
    # Wait for several live batches, then read the same vehicles again.
    updates = page.evaluate("() => window.icvConsole.vehicles.updates")
    page.wait_for_function(f"() => window.icvConsole.vehicles.updates >= {updates + 3}", timeout=WAIT_MS)
    time.sleep(2.5)
    second = _rendered(page)
    shot_b = shot(page, "04b-markers-later")
    moved = [k for k in first.keys() & second.keys()
             if math.dist(first[k][:2], second[k][:2]) > 1e-5]
    assert moved, f"no marker moved between the screenshots: {first} → {second}"
    assert shot_a.read_bytes() != shot_b.read_bytes()
    # The updates came over the WebSocket, without reloading the page.
    assert page.evaluate("() => window.icvConsole.live.received.positions") > 0
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def test_search_finds_a_plate(page: Any, demo: Demo) -> None:
    plate = demo.get("/api/v1/vehicles?limit=1&offset=6")["items"][0]["plate"]
    page.fill("#search", plate)
    page.wait_for_function("n => document.querySelectorAll('#vehicle-list .vrow').length === n", arg=1)
    assert page.get_attribute("#vehicle-list .vrow", "data-plate") == plate
    assert page.inner_text("#state-chips [data-count=all]") == "1"
    # The map shows what the list shows.
    page.wait_for_function("() => { const f = window.icvConsole.map.getSource('vehicles'); return true; }")
    shot(page, "05-search")
    # Part of a plate, in either case: every match, and only matches.
    page.fill("#search", "ca00")
    page.wait_for_function("() => document.querySelectorAll('#vehicle-list .vrow').length > 1")
    plates = page.eval_on_selector_all("#vehicle-list .vrow", "rows => rows.map(r => r.dataset.plate)")
    assert plates and all("CA00" in p for p in plates)
    page.fill("#search", "no-such-plate")
    page.wait_for_function("() => document.querySelectorAll('#vehicle-list .vrow').length === 0")
    assert page.inner_text("#list-footer") == "没有符合条件的车辆"
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelectorAll('#vehicle-list .vrow').length > 5")
    # Filters: the state chip counts add up, and a type filter keeps only that type.
    counts = {s: int(page.inner_text(f"#state-chips [data-count={s}]")) for s in
              ("all", "moving", "stopped", "offline", "alarm")}
    assert counts["all"] == counts["moving"] + counts["stopped"] + counts["offline"] + counts["alarm"] >= VEHICLES
    assert counts["alarm"] >= 1  # the alarm terminal
    page.select_option("#filter-type", "bus")
    page.wait_for_function("() => [...document.querySelectorAll('#vehicle-list .vrow-sub')]"
                           ".every(e => e.textContent.startsWith('公交车'))")
    page.select_option("#filter-type", "")


def test_detail_shows_live_values(page: Any, demo: Demo, alarm_terminal: AlarmTerminal) -> None:
    assert alarm_terminal.error is None, alarm_terminal.error
    # The alarm panel floats over the map's right side. Its height follows the alarms
    # arriving; held at 70 % of the map here, so that the camera's placement below is
    # judged against the panel as it was when the vehicle was selected.
    page.wait_for_function("() => { const p = document.querySelector('#alarm-panel'); "
                           "return p && !p.hidden && p.getBoundingClientRect().width > 0; }", timeout=WAIT_MS)
    page.evaluate("() => { document.querySelector('#alarm-panel').style.height = '70%'; }")
    page.fill("#search", alarm_terminal.plate)
    page.wait_for_selector(f"#vehicle-list .vrow[data-plate='{alarm_terminal.plate}']")
    page.click(f"#vehicle-list .vrow[data-plate='{alarm_terminal.plate}']")
    page.wait_for_selector("#detail-panel", state="visible")
    field = lambda name: page.inner_text(f"#detail-panel [data-field={name}]")  # noqa: E731
    assert page.inner_text("#detail-plate") == alarm_terminal.plate
    assert page.inner_text("#detail-state") == "报警"
    assert field("speed") == "36.0 km/h"
    assert field("heading") == "90° 东"
    assert field("altitude") == "45 m"
    assert field("phone") == alarm_terminal.phone
    assert field("online") == "在线"
    assert field("plate_colour") == "黄色"
    assert field("type") == "其他"
    texts = "e => e.map(x => x.textContent)"
    alarms = page.eval_on_selector_all("#detail-panel [data-field=alarm_flags] .flag", texts)
    assert alarms == ["超速报警", "疲劳驾驶"]
    status = page.eval_on_selector_all("#detail-panel [data-field=status_flags] .flag", texts)
    assert status == ["ACC 开", "已定位", "GPS 定位", "北斗定位"]
    assert "25" in page.inner_text("#detail-panel [data-extra='0x30']")
    assert "88.5" in page.inner_text("#detail-panel [data-extra='0x02']")
    # Live: the values follow the terminal's reports without a reload.
    t1, m1, pos1 = field("device_time"), field("mileage"), field("position")
    page.wait_for_function("([t, m]) => { const f = n => document.querySelector(`#detail-panel [data-field=${n}]`)"
                           ".textContent; return f('device_time') !== t && f('mileage') !== m; }", arg=[t1, m1],
                           timeout=WAIT_MS)
    assert field("position") != pos1
    # The values are the API's.
    vid = int(page.evaluate("() => window.icvConsole.detail.key").lstrip("v"))
    api = demo.get(f"/api/v1/vehicles/{vid}")
    assert api["position"]["speed_kmh"] == 36.0 and api["position"]["alarm_flags"] == ["overspeed", "fatigue_driving"]
    # The map marks it (ring, icon, plate) where it is, above the city view's cells.
    page.wait_for_function("""plate => { const e = document.querySelector('.veh-selected');
        return e && e.textContent === plate && getComputedStyle(e).visibility === 'visible'; }""",
                           arg=alarm_terminal.plate, timeout=WAIT_MS)
    at = page.evaluate("() => window.icvConsole.vehicles.selectedAt()")
    assert math.dist(at, (api["position"]["lon"], api["position"]["lat"])) < 0.01
    z = page.evaluate("""() => [getComputedStyle(document.querySelector('.veh-selected')).zIndex,
        ...[...document.querySelectorAll('.veh-mark')].map(e => getComputedStyle(e).zIndex)]""")
    assert all(int(z[0]) > (0 if other == "auto" else int(other)) for other in z[1:])
    # Its plate is written once, by the mark: the plates layer leaves it out.
    plates = page.evaluate("""() => { const c = window.icvConsole; return c.map.queryRenderedFeatures(
        { layers: ['vehicle-plates'] }).map(f => f.properties.k).concat([c.detail.key]); }""")
    assert plates[-1] not in plates[:-1]
    # Not under the alarm panel that floats over the map: the click's camera move put
    # it in the middle of what the panel leaves of the map. (The detail panel, opened
    # by the same click, narrows the map: the move is computed for the new size. Under
    # CPU load, with MapLibre's resize observer late, half the offset was lost.)
    page.wait_for_function("() => !window.icvConsole.map.isMoving()", timeout=WAIT_MS)
    mark, panel, canvas = page.evaluate("""() => ['.veh-selected', '#alarm-panel', '#map']
        .map(s => document.querySelector(s).getBoundingClientRect().toJSON())""")
    assert panel["width"] > 0 and panel["left"] < canvas["right"]  # the panel is open over the map
    apart = (mark["right"] < panel["left"] or mark["left"] > panel["right"] or mark["bottom"] < panel["top"]
             or mark["top"] > panel["bottom"])
    inside = canvas["left"] <= mark["left"] and mark["right"] <= canvas["right"] and \
        canvas["top"] <= mark["top"] and mark["bottom"] <= canvas["bottom"]
    assert apart and inside, (mark, panel, canvas)
    # A storm of alarms stretches the panel down the map's whole right side: the
    # vehicle, selected again, goes left of it (at the map's centre it was under it).
    page.evaluate("""() => { document.querySelector('#alarm-panel').style.height = 'calc(100% - 20px)';
        window.icvConsole.select(window.icvConsole.detail.key); }""")
    page.wait_for_timeout(100)
    page.wait_for_function("() => !window.icvConsole.map.isMoving()", timeout=WAIT_MS)
    mark, panel = page.evaluate("""() => ['.veh-selected', '#alarm-panel']
        .map(s => document.querySelector(s).getBoundingClientRect().toJSON())""")
    assert panel["height"] > 0.9 * canvas["height"]
    assert canvas["left"] <= mark["left"] and mark["right"] < panel["left"], (mark, panel, canvas)
    page.evaluate("() => { document.querySelector('#alarm-panel').style.height = ''; }")
    # An administrator sees the terminal's last raw frames: its location reports.
    page.click("#frames-refresh")
    page.wait_for_selector("#detail-frames .frame-id")
    ids = page.eval_on_selector_all("#detail-frames .frame-id", texts)
    assert "0x0200" in ids
    hexes = page.eval_on_selector_all("#detail-frames .hex", texts)
    assert any(h.startswith("7e0200") for h in hexes)  # as received, flags included
    shot(page, "06-detail")


def test_playback_draws_the_track_and_the_marker_advances(page: Any, demo: Demo) -> None:
    # A simulated vehicle that has been moving: several positions by now.
    page.fill("#search", "")
    page.evaluate("() => window.icvConsole.playback.close()")
    key = page.evaluate("""() => [...window.icvConsole.fleet.recs.values()]
        .filter(r => r.state === 'moving' && r.item.id != null).map(r => r.key)[0]""")
    assert key, "no moving vehicle"
    page.evaluate("k => window.icvConsole.select(k)", key)
    page.wait_for_selector("#detail-playback")
    page.click("#detail-playback")
    page.wait_for_selector("#playback-panel", state="visible")
    page.wait_for_function("() => { const p = window.icvConsole.playback; "
                           "return p.track && p.track.points.length >= 5; }", timeout=WAIT_MS)
    n = page.evaluate("() => window.icvConsole.playback.track.points.length")
    assert re.search(rf"{n} 个点", page.inner_text("#pb-info"))
    # The track is drawn on the map, coloured by speed, with start and end marked.
    # (Line and ends are separate sources, each parsed by MapLibre's worker in its own time.)
    page.wait_for_function("() => window.icvConsole.map.queryRenderedFeatures({layers: ['pb-line']}).length > 0",
                           timeout=WAIT_MS)
    page.wait_for_function("() => window.icvConsole.map.queryRenderedFeatures({layers: ['pb-ends']}).length >= 2",
                           timeout=WAIT_MS)
    assert page.evaluate("() => window.icvConsole.map.queryRenderedFeatures({layers: ['pb-ends']}).length") == 2
    # The live vehicles make way for the track.
    assert page.evaluate("() => window.icvConsole.map.getLayoutProperty('vehicles', 'visibility')") == "none"
    # The table lists the points; the first is current.
    assert page.inner_text("#pb-table .pb-row.current .c-no") == "1"
    shot(page, "07a-playback-loaded")
    start = page.evaluate("() => window.icvConsole.playback.state()")
    page.select_option("#pb-speed", "10")
    page.click("#pb-play")
    assert page.inner_text("#pb-play") == "暂停"
    page.wait_for_function("s => { const c = window.icvConsole.playback.state(); "
                           "return c.t > s.t + 3000 && (c.lon !== s.lon || c.lat !== s.lat); }", arg=start,
                           timeout=WAIT_MS)
    page.click("#pb-play")  # pause
    paused = page.evaluate("() => window.icvConsole.playback.state()")
    assert not paused["playing"]
    # The marker drawn on the map is where the playback says it is.
    page.wait_for_function("s => { const f = window.icvConsole.map.queryRenderedFeatures({layers: ['pb-marker']});"
                           "return f.length === 1 && Math.abs(f[0].geometry.coordinates[0] - s.lon) < 1e-4 "
                           "&& Math.abs(f[0].geometry.coordinates[1] - s.lat) < 1e-4; }", arg=paused, timeout=WAIT_MS)
    assert math.dist((paused["lon"], paused["lat"]), (start["lon"], start["lat"])) > 1e-5
    time.sleep(0.5)
    assert page.evaluate("() => window.icvConsole.playback.state().t") == paused["t"]
    shot(page, "07b-playback-advanced")
    # Clicking a row of the table moves the marker there.
    page.click("#pb-table .pb-row[data-index='2']")
    assert page.evaluate("() => window.icvConsole.playback.state().index") == 2
    track = demo.get(f"/api/v1/vehicles/{key.lstrip('v')}/track")
    assert len(track["points"]) >= n


def test_language_switch(page: Any, alarm_terminal: AlarmTerminal) -> None:
    page.evaluate("() => window.icvConsole.playback.close()")
    page.fill("#search", alarm_terminal.plate)
    page.click(f"#vehicle-list .vrow[data-plate='{alarm_terminal.plate}']")
    page.wait_for_selector("#detail-panel [data-field=alarm_flags] .flag-alarm")
    assert page.inner_text("#logout") == "退出"
    page.select_option("#alarm-filter-severity", "3")  # a filter chosen before the switch stays chosen
    page.click("#lang-toggle")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.inner_text("#logout") == "Log out"
    assert page.inner_text("#state-chips [data-state=moving] .chip-label") == "Moving"
    assert page.get_attribute("#search", "placeholder") == "Search plate"
    assert page.inner_text("#detail-panel [data-field=speed]").endswith("km/h")
    assert "Speed" in page.inner_text("#detail-panel")
    assert "Overspeed" in page.inner_text("#detail-panel [data-field=alarm_flags]")
    assert page.evaluate("() => window.icvConsole.map.getLayoutProperty('district-label', 'text-field')")[1] == [
        "get", "name_en"]
    # The alarm panel too: its head and filters, not only its list.
    assert page.inner_text("#alarm-panel .ax-panel-head h3") == "Alarms"
    assert page.inner_text("#alarm-mute") in ("Mute", "Unmute")
    assert page.eval_on_selector("#alarm-filter-category", "s => s.options[0].text") == "All categories"
    assert page.eval_on_selector("#alarm-filter-state", "s => s.options[0].text") == "Unhandled"
    assert page.eval_on_selector("#alarm-filter-severity", "s => s.value") == "3"
    page.select_option("#alarm-filter-severity", "0")
    page.evaluate("() => window.icvConsole.map.jumpTo({center: [118.02, 36.64], zoom: 8.2})")
    time.sleep(1.0)
    shot(page, "08-english")
    # The choice survives a reload.
    page.reload()
    page.wait_for_function("() => window.icvConsole && window.icvConsole.registryLoaded", timeout=WAIT_MS)
    assert page.inner_text("#logout") == "Log out"
    page.click("#lang-toggle")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    assert page.inner_text("#logout") == "退出"


def test_a_viewer_sees_vehicles_but_not_raw_frames(browser: Any, demo: Demo, alarm_terminal: AlarmTerminal,
                                                   requests_seen: list[str]) -> None:
    ctx = _context(browser, requests_seen)
    pg = ctx.new_page()
    try:
        log_in(pg, demo.url, VIEWER, VIEWER_PASSWORD, READY)
        assert pg.inner_text("#user-name") == f"{VIEWER} · 查看者"
        pg.fill("#search", alarm_terminal.plate)
        pg.click(f"#vehicle-list .vrow[data-plate='{alarm_terminal.plate}']")
        pg.wait_for_selector("#detail-frames")
        assert pg.inner_text("#detail-frames p") == "查看原始报文需要操作员权限"
        shot(pg, "09-viewer")
    finally:
        ctx.close()
    assert not [u for u in requests_seen if "/frames" in u and VIEWER in u]


def test_no_request_leaves_the_machine(requests_seen: list[str]) -> None:
    assert any(u.startswith("ws://") for u in requests_seen), "the live WebSocket was not seen"
    assert any("/assets/" in u for u in requests_seen)
    outside = sorted({u for u in requests_seen if urlsplit(u).hostname not in LOCAL_HOSTS
                      and not u.startswith(("data:", "blob:"))})
    assert not outside, f"requests left the machine: {outside}"

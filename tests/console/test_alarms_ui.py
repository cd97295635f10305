"""The alarm console in a real headless Chromium against a running `icv demo`: the
alarm panel, the alarm detail with its track, the handling dialog sending a text to
a scripted JT/T 808 terminal, the geofence editor, the command dialog of the vehicle
detail, and what a viewer may not do. Screenshots go to artifacts/console/alarms-*.png.

The alarm is raised deterministically: a scripted virtual terminal (the simulator's
real client, tests/terminals.py) drives east, then reports with the emergency
bit set; it answers the platform's commands with 0x0001 and records what it got.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from icvcloud.protocols import jt808
from icvcloud.sim.attachments import ActiveSafetyTerminal
from tests.terminals import Source

from .live_demo import (
    DEMO_PASSWORD,
    DEMO_USER,
    WAIT_MS,
    Demo,
    TerminalThread,
    log_in,
    new_context,
    page_without_errors,
    running_demo,
    shot,
)

VEHICLES = 8
VIEWER, VIEWER_PASSWORD = "watcher", "watcher-pass-1"
PHONE, PLATE = "13900007755", "鲁C7A755"
#: Logged in: the registry is loaded and the alarm feed is open.
READY = "() => window.icvConsole && window.icvConsole.registryLoaded && window.icvAlarms && window.icvAlarms.feed.open"


class AlarmTerminal(TerminalThread):
    """The test's terminal, with what the alarm scenario asks of it."""

    def __init__(self, port: int) -> None:
        super().__init__(port, PHONE, PLATE, Source(lat=36.70, lon=118.10, speed_kmh=45.0, heading_deg=90.0))

    def drive(self, reports: int, alarm: int = 0) -> None:
        """``reports`` reports one second apart (device times are whole seconds), moving east."""
        for _ in range(reports):
            self.call(lambda: self.terminal.report_now(alarm=alarm))
            self.source.lon += 0.0015
            threading.Event().wait(1.05)

    def texts(self) -> list[str]:
        return self.call(lambda: [m.body.text for m in self.terminal.of(0x8300) if isinstance(m.body, jt808.Text)])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from running_demo(tmp_path_factory.mktemp("alarm-ui-demo"), VEHICLES, (2.0, 3.0), "alarms-demo.log",
                            VIEWER, VIEWER_PASSWORD)


@pytest.fixture(scope="module")
def terminal(demo: Demo) -> Iterator[AlarmTerminal]:
    t = AlarmTerminal(demo.jt808_port)
    yield t
    t.stop()


@pytest.fixture(scope="module")
def page(browser: Any, demo: Demo, terminal: AlarmTerminal) -> Iterator[Any]:
    with page_without_errors(new_context(browser)) as pg:
        log_in(pg, demo.url, DEMO_USER, DEMO_PASSWORD, READY)
        yield pg


@pytest.fixture(scope="module")
def alarm_id(page: Any, terminal: AlarmTerminal) -> int:
    """Raise an emergency alarm: a few ordinary reports (the track before it), the alarm, the reports after it."""
    terminal.drive(4)
    terminal.drive(1, alarm=1)  # bit 0: emergency
    terminal.drive(3)
    row = f"#alarm-list li[data-type='terminal.emergency']:has-text('{PLATE}')"
    page.wait_for_selector(row, timeout=WAIT_MS)
    return int(page.get_attribute(row, "data-alarm-id"))


def test_an_alarm_appears_in_the_panel(page: Any, demo: Demo, alarm_id: int) -> None:
    row = page.locator(f"#alarm-list li[data-alarm-id='{alarm_id}']")
    assert row.get_attribute("data-state") == "open"
    text = row.inner_text()
    assert PLATE in text and "紧急报警" in text
    api_alarm = demo.get(f"/api/v1/alarms/{alarm_id}")["alarm"]
    assert api_alarm["alarm_type"] == "terminal.emergency" and api_alarm["severity"] == 4
    # Coloured by severity: critical is the panel's red, also on the chip count.
    assert row.evaluate("el => getComputedStyle(el).borderLeftColor") == "rgb(185, 28, 28)"
    assert int(page.inner_text("#alarm-counts [data-severity='4'] b")) >= 1
    badge = int(page.inner_text("#alarm-badge"))
    assert badge >= 1
    # Filters: the terminal category keeps it; driving-only hides it.
    page.select_option("#alarm-filter-category", "driving")
    page.wait_for_selector(f"#alarm-list li[data-alarm-id='{alarm_id}']", state="detached")
    page.select_option("#alarm-filter-category", "terminal")
    page.wait_for_selector(f"#alarm-list li[data-alarm-id='{alarm_id}']")
    page.select_option("#alarm-filter-category", "")
    # The beep is on by default and can be muted (remembered in the browser).
    assert page.get_attribute("#alarm-mute", "data-muted") == "false"
    page.click("#alarm-mute")
    assert page.get_attribute("#alarm-mute", "data-muted") == "true"
    assert page.evaluate("localStorage.getItem('icv.alarms.muted')") == "1"
    page.click("#alarm-mute")
    shot(page, "alarms-01-panel")


def test_alarm_detail_shows_the_track_on_the_map(page: Any, demo: Demo, alarm_id: int) -> None:
    page.click(f"#alarm-list li[data-alarm-id='{alarm_id}']")
    page.wait_for_selector("#alarm-track-count")
    api = demo.get(f"/api/v1/alarms/{alarm_id}")
    points = int(page.get_attribute("#alarm-track-count", "data-points"))
    assert points == len(api["track"]) and points >= 6  # the reports before, at and after the alarm
    assert page.inner_text("#alarm-detail [data-field='vehicle']").startswith(PLATE)
    assert page.inner_text("#alarm-detail [data-field='state']") == "未处理"
    assert not page.is_disabled("#alarm-handle") and not page.is_disabled("#alarm-ack")
    # The track is drawn: rendered line features once the map has settled after flying there.
    page.wait_for_function("""() => {
        const m = window.icvConsole.map;
        return !m.isMoving() && m.queryRenderedFeatures({layers: ['icv-alarm-track']}).length > 0
            && m.queryRenderedFeatures({layers: ['icv-alarm-point']}).length === 1;
    }""", timeout=WAIT_MS)
    shot(page, "alarms-02-detail")


def test_handle_with_a_text_to_the_driver(page: Any, demo: Demo, terminal: AlarmTerminal, alarm_id: int) -> None:
    text = "请立即停车检查，注意安全"
    page.click("#alarm-handle")
    page.wait_for_selector("#handle-dialog")
    assert page.input_value("#hd-action") == "text_to_driver"
    page.fill("#hd-text", text)
    page.click("#hd-submit")
    # The command's state follows the terminal's 0x0001 answer.
    page.wait_for_selector("#hd-status [data-state='acknowledged']", timeout=WAIT_MS)
    assert text in terminal.texts()
    shot(page, "alarms-03-handle-dialog")
    detail = demo.get(f"/api/v1/alarms/{alarm_id}")
    assert detail["alarm"]["state"] == "handled"
    assert [c["state"] for c in detail["commands"]] == ["acknowledged"]
    assert detail["handling"][-1]["action"] == "text_to_driver" and detail["handling"][-1]["text"] == text
    page.click("#hd-cancel")
    # Handled: it leaves the unhandled list; the detail shows the history.
    page.wait_for_selector(f"#alarm-list li[data-alarm-id='{alarm_id}']", state="detached")
    page.wait_for_selector("#alarm-history li[data-action='text_to_driver']")
    assert page.inner_text("#alarm-detail [data-field='state']") == "已处理"
    page.select_option("#alarm-filter-state", "handled")
    page.wait_for_selector(f"#alarm-list li[data-alarm-id='{alarm_id}'][data-state='handled']")
    shot(page, "alarms-04-handled")
    page.select_option("#alarm-filter-state", "")
    page.click("#alarm-detail-close")


def test_evidence_and_the_request_for_it_on_the_alarm_detail(page: Any, demo: Demo, terminal: AlarmTerminal) -> None:
    """An ADAS alarm announcing a picture and a video: the platform asks for them (0x9208),
    the terminal uploads them, and the detail shows the picture (fetched with the
    session's token: the file API wants it) and the request, answered, as the platform's."""
    unit = terminal.call(lambda: ActiveSafetyTerminal(terminal.terminal, jpeg_bytes=6_000, mp4_bytes=40_000))
    terminal.call(lambda: unit.raise_alarm(0x64, alarm_type=0x01, attachments=2, seq=7))
    row = f"#alarm-list li[data-type='adas.forward_collision']:has-text('{PLATE}')"
    page.wait_for_selector(row, timeout=WAIT_MS)
    alarm_id = int(page.get_attribute(row, "data-alarm-id"))
    terminal.wait(lambda: bool(unit.results), "the upload")
    for _ in range(200):  # the upload's last file and the request's answer, on record
        d = demo.get(f"/api/v1/alarms/{alarm_id}")
        if len(d["attachments"]) == 2 and [c["state"] for c in d["commands"]] == ["acknowledged"]:
            break
        threading.Event().wait(0.1)
    assert len(d["attachments"]) == 2 and [c["state"] for c in d["commands"]] == ["acknowledged"], d
    page.click(row)
    page.wait_for_selector("#alarm-attachments figure[data-state='loaded']", timeout=WAIT_MS)
    ref = d["alarm"]["details"]["alarm_ref"]
    (jpg,) = [f for f in unit.files[ref] if f.name.endswith(".jpg")]
    # The picture's bytes, as the page holds them, are the terminal's.
    size = page.evaluate("async () => { const i = document.querySelector('#alarm-attachments figure img');"
                         "return (await (await fetch(i.src)).arrayBuffer()).byteLength; }")
    assert size == len(jpg.data)
    # ... and a picture the browser decodes (the simulator's schematic camera frame).
    page.wait_for_function("() => { const i = document.querySelector('#alarm-attachments figure img');"
                           "return i.complete && i.naturalWidth === 320; }", timeout=WAIT_MS)
    video = page.locator("#alarm-attachments div.ax-att")
    assert video.count() == 1 and ".mp4" in video.inner_text()
    # The video opens in a tab of its own, fetched with the token when clicked.
    (mp4,) = [f for f in unit.files[ref] if f.name.endswith(".mp4")]
    with page.context.expect_page() as opened:
        video.locator("a").click()
    tab = opened.value
    tab.wait_for_url(lambda u: u.startswith("blob:"), timeout=WAIT_MS)
    assert tab.evaluate("async () => (await (await fetch(location.href)).arrayBuffer()).byteLength") == len(mp4.data)
    tab.close()
    line = page.locator("#alarm-detail .ax-cmd[data-state='acknowledged']")
    assert line.count() == 1
    text = line.inner_text()
    assert "0x9208" in text and "报警附件上传" in text and "平台自动下发" in text
    line.scroll_into_view_if_needed()
    shot(page, "alarms-04b-evidence")
    page.click("#alarm-detail-close")


def _click_map(page: Any, x: float, y: float) -> tuple[float, float]:
    """Click the map at page pixel (x, y); returns the WGS-84 position clicked (the demo's basemap is WGS-84)."""
    under = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y);"
                          "return e.tagName + '.' + e.className; }", [x, y])
    assert under == "CANVAS.maplibregl-canvas", f"({x}, {y}) is on {under}, not the map"
    lon, lat = page.evaluate("([x, y]) => { const r = document.getElementById('map').getBoundingClientRect();"
                             "const p = window.icvConsole.map.unproject([x - r.left, y - r.top]);"
                             "return [p.lng, p.lat]; }", [x, y])
    page.mouse.click(x, y)
    return lon, lat


def test_draw_and_save_a_polygon_fence(page: Any, demo: Demo) -> None:
    page.click("#fence-toggle")
    page.wait_for_selector("#fence-panel:not([hidden]) #fence-draw-polygon")
    page.evaluate("window.icvConsole.map.jumpTo({center: [118.06, 36.74], zoom: 14})")
    page.wait_for_function("window.icvConsole.map.loaded() && !window.icvConsole.map.isMoving()")
    page.click("#fence-draw-polygon")
    # Between the editor (left) and the alarm panel (right) of a 1440×900 page.
    ring = [_click_map(page, x, y) for x, y in ((740, 320), (1000, 330), (980, 620), (760, 640))]
    page.click("#fence-finish")
    assert page.inner_text("#fence-hint") == "4 个点"
    page.fill("#fence-name", "张店实验学校周边")
    page.fill("#fence-speed", "30")
    page.fill("#fence-forbid-start", "07:00")
    page.fill("#fence-forbid-end", "09:00")
    page.check("#fence-enter")
    page.check("#fence-type-hazmat_tanker")
    shot(page, "alarms-05-fence-drawn")
    page.click("#fence-save")
    page.wait_for_selector("#fence-list li[data-fence-name='张店实验学校周边']")
    (fence,) = [f for f in demo.get("/api/v1/geofences") if f["name"] == "张店实验学校周边"]
    spec = fence["spec"]
    assert fence["kind"] == "polygon" and len(spec["points"]) in (4, 5)
    for (lon, lat), (x, y) in zip(ring, spec["points"], strict=False):
        assert abs(lon - x) < 2e-4 and abs(lat - y) < 2e-4  # where it was clicked (a pixel is ~1e-5°)
    assert spec["speed_limit_kmh"] == 30 and spec["forbidden"] == [{"start": "07:00", "end": "09:00"}]
    assert spec["alarm_on_enter"] is True and spec["vehicle_types"] == ["hazmat_tanker"]

    # After a reload it is still there: listed and drawn on the map.
    page.reload()
    page.wait_for_function("() => window.icvConsole && window.icvConsole.registryLoaded && window.icvAlarms",
                           timeout=WAIT_MS)
    page.click("#fence-toggle")
    page.click(f"#fence-list li[data-fence-id='{fence['id']}']")
    page.wait_for_function("""(id) => { const m = window.icvConsole.map;
        return !m.isMoving() && m.queryRenderedFeatures({layers: ['icv-fences-fill']})
            .some(f => f.properties.id === id && f.properties.selected); }""", arg=fence["id"], timeout=WAIT_MS)
    shot(page, "alarms-06-fence-after-reload")
    page.click("#fence-panel-close")


def test_send_a_text_from_the_vehicle_detail(page: Any, demo: Demo, terminal: AlarmTerminal) -> None:
    (vehicle,) = [v for v in demo.get("/api/v1/vehicles?limit=1000")["items"] if v["device_id"] == PHONE]
    page.evaluate("k => window.icvConsole.select(k)", f"v{vehicle['id']}")
    page.wait_for_selector("#detail-command")
    page.click("#detail-command")
    page.wait_for_selector("#command-dialog")
    text = "前方施工，请绕行"
    page.fill("#cmd-text", text)
    page.uncheck("#cmd-tts")
    page.click("#cmd-send")
    page.wait_for_selector("#cmd-sent [data-state='acknowledged']", timeout=WAIT_MS)
    assert text in terminal.texts()
    msg = terminal.call(lambda: next(m for m in terminal.terminal.of(0x8300) if m.body.text == text))
    assert msg.body.flag == 0b100  # display only: TTS unticked
    # A position query: the terminal answers with 0x0201.
    page.select_option("#cmd-kind", "query")
    page.click("#cmd-send")
    page.wait_for_selector("#cmd-sent [data-state='acknowledged']:has-text('0x8201')", timeout=WAIT_MS)
    shot(page, "alarms-07-command-dialog")
    states = [c["state"] for c in demo.get(f"/api/v1/vehicles/{vehicle['id']}/commands")["items"][:2]]
    assert states == ["acknowledged", "acknowledged"]
    page.click("#command-dialog .ax-modal-head button")


def test_viewer_sees_but_cannot_act(browser: Any, demo: Demo, terminal: AlarmTerminal, alarm_id: int) -> None:
    demo.post("/api/v1/geofences", {"name": "临淄危化品禁行区", "spec": {
        "kind": "circle", "center": [118.31, 36.82], "radius_m": 1500, "vehicle_types": ["hazmat_tanker"],
        "forbidden": [{"start": "07:00", "end": "19:00"}], "alarm_on_enter": True}}, token=demo.token())
    with page_without_errors(new_context(browser)) as pg:
        log_in(pg, demo.url, VIEWER, VIEWER_PASSWORD, READY)
        pg.select_option("#alarm-filter-state", "any")
        pg.click(f"#alarm-list li[data-alarm-id='{alarm_id}']")
        pg.wait_for_selector("#alarm-track-count")
        assert pg.is_disabled("#alarm-handle") and pg.is_disabled("#alarm-ack")
        assert pg.inner_text("#alarm-detail .ax-actions").endswith("查看者不能处理报警")
        pg.wait_for_function("() => { const m = window.icvConsole.map; return !m.isMoving()"
                             "&& m.queryRenderedFeatures({layers: ['icv-alarm-track']}).length > 0; }", timeout=WAIT_MS)
        shot(pg, "alarms-08-viewer-detail")
        pg.click("#fence-toggle")
        pg.wait_for_selector("#fence-need-role")
        assert pg.is_hidden("#alarm-detail")  # the editor takes the detail's place
        pg.wait_for_selector("#fence-list li[data-fence-name='临淄危化品禁行区']")  # sees the fences
        assert pg.locator("#fence-draw-polygon").count() == 0
        assert pg.locator(".fx-delete").count() == 0
        shot(pg, "alarms-09-viewer-fences")
        (vehicle,) = [v for v in demo.get("/api/v1/vehicles?limit=1000")["items"] if v["device_id"] == PHONE]
        pg.evaluate("k => window.icvConsole.select(k)", f"v{vehicle['id']}")
        pg.click("#detail-command")
        assert pg.is_disabled("#cmd-send")

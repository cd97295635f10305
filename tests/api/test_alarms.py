"""The alarm endpoints: list, detail, lifecycle, statistics, rates per 100 km,
attachment files, geofence/route/profile CRUD, notification rules and webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from icvcloud.alarm_feed import AlarmFeed, AlarmSubscription
from icvcloud.api.alarm_services import AlarmServices
from icvcloud.app import rule_engine
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.store.alarms_base import AlarmStore, Attachment

from .conftest import T0, World, alarm_store


class Alarms:
    def __init__(self, world: World, store: AlarmStore, feed: AlarmFeed, data_dir: Path) -> None:
        self.world, self.store, self.feed, self.data_dir = world, store, feed, data_dir
        self.changed = 0

    async def raise_(self, key: str, minute: float, *, vehicle: str = "tanker", phase: str = "start",
                     alarm_type: str = "overspeed", category: str = "driving",
                     severity: Severity = Severity.MEDIUM, end_minute: float | None = None,
                     **details: Any) -> int:
        w = self.world
        vid, dev, org = (w.tanker, "1001", w.org_a) if vehicle == "tanker" else (w.coach, "1003", w.org_b)
        e = AlarmEvent(key, vid, dev, org, alarm_type, category, phase, severity,  # type: ignore[arg-type]
                       T0 + timedelta(minutes=minute),
                       T0 + timedelta(minutes=end_minute) if end_minute is not None else None, 36.8, 118.0,
                       details)
        (ch,) = await self.store.apply_events([e], datetime.now(UTC), merge_window_s=0)
        return ch.alarm.id


@pytest.fixture
async def alarms(world: World, tmp_path: Path) -> Alarms:
    store = alarm_store(world.store)
    feed = AlarmFeed()
    a = Alarms(world, store, feed, tmp_path)

    def changed() -> None:
        a.changed += 1

    world.services.alarms = AlarmServices(store=store, feed=feed, commands=None, data_dir=tmp_path,
                                          validate_definition=rule_engine.validate_definition,
                                          definitions_changed=changed)
    return a


async def test_list_filters_and_scope(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    a1 = await alarms.raise_("a1", 5, severity=Severity.HIGH, peak_speed_kmh=92.5)
    a2 = await alarms.raise_("a2", 20, alarm_type="fatigue.continuous")
    b1 = await alarms.raise_("b1", 10, vehicle="coach", alarm_type="fence.enter", category="fence")
    await alarms.raise_("dq", 30, alarm_type="gnss.jump", category="data_quality", phase="instant")

    async def ids(user: str, **params: Any) -> list[int]:
        r = await client.get("/api/v1/alarms", params=params, headers=world.auth(user))
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids("admin") == [a2, b1, a1]  # newest first, data quality left out
    assert await ids("a_viewer") == [a2, a1]
    assert await ids("b_viewer") == [b1]
    assert await ids("inspector", type="fatigue") == [a2]
    assert await ids("admin", min_severity=3) == [a1]
    assert await ids("admin", category="fence") == [b1]
    assert len(await ids("admin", include_data_quality="true")) == 4
    assert await ids("admin", start="2024-05-01T16:08:00+08:00", end="2024-05-01T08:15:00Z") == [b1]
    assert await ids("admin", vehicle_id=world.coach) == [b1]
    assert await ids("b_viewer", org_id=world.org_a) == []
    r = await client.get("/api/v1/alarms", params={"limit": 1, "offset": 1}, headers=world.auth("admin"))
    body = r.json()
    assert body["total"] == 3 and [x["id"] for x in body["items"]] == [b1]
    item = (await client.get("/api/v1/alarms", params={"min_severity": 3}, headers=world.auth("admin"))).json()
    x = item["items"][0]
    assert x["plate"] == "鲁C12345" and x["severity_name"] == "high" and x["details"] == {"peak_speed_kmh": 92.5}
    assert x["state"] == "open" and x["active"] is True and x["start_time"] == "2024-05-01T08:05:00Z"


@pytest.mark.parametrize("params", [
    {"type": "Overspeed"}, {"type": "a..b"}, {"category": "weather"}, {"min_severity": 5}, {"state": "closed"},
    {"start": "2024-05-01T08:00:00"}, {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
    {"limit": 0}, {"vehicle_id": 0},
])
async def test_bad_filters(world: World, client: httpx.AsyncClient, alarms: Alarms, params: dict[str, Any]) -> None:
    r = await client.get("/api/v1/alarms", params=params, headers=world.auth("admin"))
    assert r.status_code in (400, 422), r.text


async def test_detail_has_track_episodes_attachments(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    aid = await alarms.raise_("k", 30, phase="instant", alarm_type="adas.fcw", category="active_safety",
                              alarm_ref="n1")
    (alarms.data_dir / "attachments").mkdir()
    (alarms.data_dir / "attachments" / "fcw.jpg").write_bytes(b"\xff\xd8jpeg")
    att = await alarms.store.add_attachment(Attachment(0, None, "1001", "fcw.jpg", "attachments/fcw.jpg",
                                                       world.org_a, alarm_ref="n1", media_type="image/jpeg",
                                                       size_bytes=6, complete=True))
    r = await client.get(f"/api/v1/alarms/{aid}", params={"margin_s": 120}, headers=world.auth("a_viewer"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["alarm"]["id"] == aid and [e["key"] for e in d["episodes"]] == ["k"]
    # Two minutes either side of 08:30 (positions every minute from 08:00).
    assert [p["device_time"][11:16] for p in d["track"]] == ["08:28", "08:29", "08:30", "08:31", "08:32"]
    assert d["attachments"] == [{"id": att, "file_name": "fcw.jpg", "media_type": "image/jpeg", "size_bytes": 6,
                                 "complete": True, "received_at": "1970-01-01T00:00:00Z",
                                 "url": f"/api/v1/attachments/{att}"}]
    f = await client.get(d["attachments"][0]["url"], headers=world.auth("a_viewer"))
    assert f.status_code == 200 and f.content == b"\xff\xd8jpeg" and f.headers["content-type"] == "image/jpeg"
    assert (await client.get(d["attachments"][0]["url"], headers=world.auth("b_viewer"))).status_code == 404
    assert (await client.get(f"/api/v1/alarms/{aid}", headers=world.auth("b_viewer"))).status_code == 404


async def test_attachment_paths_never_leave_the_data_directory(world: World, client: httpx.AsyncClient,
                                                               alarms: Alarms, tmp_path: Path) -> None:
    secret = tmp_path.parent / "secret.txt"
    secret.write_text("no")
    att = await alarms.store.add_attachment(Attachment(0, None, "1001", "x", "../secret.txt", world.org_a))
    assert (await client.get(f"/api/v1/attachments/{att}", headers=world.auth("admin"))).status_code == 404


async def test_lifecycle(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    aid = await alarms.raise_("k", 0)
    sub = alarms.feed.subscribe(AlarmSubscription(org_ids=frozenset({world.org_a})))
    url = f"/api/v1/alarms/{aid}"
    assert (await client.post(url + "/acknowledge", headers=world.auth("a_viewer"))).status_code == 403
    r = await client.post(url + "/acknowledge", json={"text": "收到"}, headers=world.auth("a_operator"))
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert (await client.post(url + "/acknowledge", headers=world.auth("a_operator"))).status_code == 409
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await client.post(url + "/escalate", json={"deadline": past},
                              headers=world.auth("admin"))).status_code == 400
    assert (await client.post(url + "/escalate", json={"deadline": "2099-01-01T00:00:00"},
                              headers=world.auth("admin"))).status_code == 422
    r = await client.post(url + "/escalate", json={"deadline": "2099-01-01T08:00:00+08:00", "text": "限期整改"},
                          headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["deadline"] == "2099-01-01T00:00:00Z"
    r = await client.post(url + "/handle", json={"action": "text_to_driver", "text": " "},
                          headers=world.auth("a_operator"))
    assert r.status_code == 422
    r = await client.post(url + "/handle", json={"action": "text_to_driver", "text": "请减速"},
                          headers=world.auth("a_operator"))
    assert r.status_code == 503  # no gateway here; tests/alarms/test_commands.py covers the real path
    r = await client.post(url + "/handle", json={"action": "phone_call", "text": "已电话提醒驾驶员"},
                          headers=world.auth("a_operator"))
    assert r.status_code == 200 and r.json()["alarm"]["state"] == "handled" and r.json()["command"] is None
    assert (await client.post(url + "/handle", json={"action": "phone_call"},
                              headers=world.auth("b_viewer"))).status_code == 403
    d = (await client.get(url, headers=world.auth("inspector"))).json()
    assert [(h["action"], h["user"]) for h in d["handling"]] == [
        ("acknowledged", "a_operator"), ("escalated", "admin"), ("phone_call", "a_operator")]
    assert d["handling"][1]["text"] == "限期整改" and d["handling"][2]["text"] == "已电话提醒驾驶员"
    changes = []
    while not sub.queue.empty():
        changes.append(sub.queue.get_nowait()["change"])
    assert changes == ["acknowledged", "escalated", "handled"]


async def test_stats_and_rates(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    await alarms.raise_("o1", 1, phase="instant")
    await alarms.raise_("o2", 9 * 60, phase="instant")  # 17:00 UTC: the next Beijing day
    await alarms.raise_("f1", 2, alarm_type="fatigue.continuous", phase="instant")
    await alarms.raise_("c1", 3, vehicle="coach", phase="instant", alarm_type="fence.enter", category="fence")
    r = await client.get("/api/v1/alarms/stats", params={"group_by": "type"}, headers=world.auth("admin"))
    assert r.json()["items"] == [{"key": "fatigue.continuous", "count": 1}, {"key": "fence.enter", "count": 1},
                                 {"key": "overspeed", "count": 2}]
    r = await client.get("/api/v1/alarms/stats", params={"group_by": "day"}, headers=world.auth("a_viewer"))
    assert r.json()["items"] == [{"key": "2024-05-01", "count": 2}, {"key": "2024-05-02", "count": 1}]
    r = await client.get("/api/v1/alarms/stats", params={"group_by": "org"}, headers=world.auth("inspector"))
    assert r.json()["items"] == [{"key": world.org_a, "count": 3}, {"key": world.org_b, "count": 1}]
    # The tanker drove 59 × 0.001° of longitude at 36.8° N ≈ 5.26 km (no odometer in the fixture).
    r = await client.get("/api/v1/alarms/rates", params={"start": "2024-05-01T00:00:00Z",
                                                         "end": "2024-05-03T00:00:00Z"}, headers=world.auth("admin"))
    body = r.json()
    assert body["vehicles"] == 1 and body["mileage_km"] == pytest.approx(5.26, abs=0.01)
    assert (body["overspeed"], body["fatigue"]) == (2, 1)
    assert body["overspeed_per_100km"] == pytest.approx(2 * 100 / body["mileage_km"], rel=1e-3)
    r = await client.get("/api/v1/alarms/rates", params={"start": "2024-05-01T00:00:00Z",
                                                         "end": "2024-05-03T00:00:00Z"}, headers=world.auth("b_viewer"))
    assert r.json()["mileage_km"] == 0 and r.json()["overspeed_per_100km"] is None
    r = await client.get("/api/v1/alarms/rates", params={"start": "2020-01-01T00:00:00Z",
                                                         "end": "2024-01-01T00:00:00Z"}, headers=world.auth("admin"))
    assert r.status_code == 400


CIRCLE = {"name": "危化品禁行区", "spec": {"kind": "circle", "center": [118.05, 36.8], "radius_m": 800,
                                       "forbidden": [{"start": "07:00", "end": "19:00"}],
                                       "vehicle_types": ["hazmat_tanker"], "alarm_on_enter": True}}
CORRIDOR = {"name": "G20 指定路线", "spec": {"kind": "corridor", "deviation_after_s": 120, "sections": [
    {"points": [[118.0, 36.8], [118.2, 36.8]], "width_m": 200}]}}


async def test_geofence_crud(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    h = world.auth("admin")
    assert (await client.post("/api/v1/geofences", json=CIRCLE, headers=world.auth("a_operator"))).status_code == 403
    r = await client.post("/api/v1/geofences", json=CIRCLE, headers=h)
    assert r.status_code == 201, r.text
    fence = r.json()
    assert fence["kind"] == "circle" and fence["spec"]["radius_m"] == 800 and "id" not in fence["spec"]
    assert alarms.changed == 1
    bad = {"name": "x", "spec": {"kind": "circle", "center": [118.05, 36.8], "radius_m": -1}}
    r = await client.post("/api/v1/geofences", json=bad, headers=h)
    assert r.status_code == 422 and "radius_m" in r.json()["detail"]
    r = await client.post("/api/v1/routes", json={**CIRCLE, "name": "x"}, headers=h)
    assert r.status_code == 422 and "corridor" in r.json()["detail"]
    route = (await client.post("/api/v1/routes", json={**CORRIDOR, "org_id": world.org_a}, headers=h)).json()
    assert route["kind"] == "corridor"
    assert [g["id"] for g in (await client.get("/api/v1/routes", headers=world.auth("a_viewer"))).json()] == \
        [route["id"]]
    assert [g["id"] for g in (await client.get("/api/v1/geofences", headers=world.auth("b_viewer"))).json()] == \
        [fence["id"]]  # the global fence, not org A's route
    r = await client.put(f"/api/v1/geofences/{fence['id']}", json={**CIRCLE, "enabled": False}, headers=h)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert (await client.get(f"/api/v1/geofences/{fence['id']}", headers=h)).json()["enabled"] is False
    assert (await client.delete(f"/api/v1/routes/{fence['id']}", headers=h)).status_code == 404  # not a route
    assert (await client.delete(f"/api/v1/geofences/{fence['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/geofences/{fence['id']}", headers=h)).status_code == 404
    assert alarms.changed == 4


async def test_text_with_nul_characters_is_refused_in_both_stores(world: World, client: httpx.AsyncClient,
                                                                   alarms: Alarms) -> None:
    # PostgreSQL cannot store U+0000: refused with a 422 before any store sees it, in both modes.
    h = world.auth("admin")
    for body in ({**CIRCLE, "name": "禁行\u0000区"}, {**CIRCLE, "spec": {**CIRCLE["spec"], "note\u0000": 1}}):
        r = await client.post("/api/v1/geofences", json=body, headers=h)
        assert r.status_code == 422 and "NUL" in r.text, r.text
    assert alarms.changed == 0 and (await client.get("/api/v1/geofences", headers=h)).json() == []
    # An escaped backslash before "u0000" is ordinary text.
    r = await client.post("/api/v1/geofences", json={**CIRCLE, "name": "C:\\u0000"}, headers=h)
    assert r.status_code == 201 and r.json()["name"] == "C:\\u0000"


async def test_rule_profile_crud(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    h = world.auth("admin")
    body = {"name": "夜间客运", "org_id": world.org_b,
            "spec": {"vehicle_types": ["coach"], "fatigue": {"night_continuous_s": 5400}}}
    r = await client.post("/api/v1/rule-profiles", json=body, headers=h)
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/rule-profiles", json={**body, "spec": {"fatigue": {"continuous_s": "4h"}}},
                          headers=h)
    assert r.status_code == 422 and "continuous_s" in r.json()["detail"]
    r = await client.post("/api/v1/rule-profiles", json={**body, "spec": {"teleport": {}}}, headers=h)
    assert r.status_code == 422 and "teleport" in r.json()["detail"]
    assert len((await client.get("/api/v1/rule-profiles", headers=world.auth("b_viewer"))).json()) == 1
    assert (await client.get("/api/v1/rule-profiles", headers=world.auth("a_viewer"))).json() == []


async def test_webhooks_and_rules(world: World, client: httpx.AsyncClient, alarms: Alarms) -> None:
    h = world.auth("admin")
    r = await client.post("/api/v1/webhooks", json={"name": "ops", "url": "https://ops.example/hook",
                                                    "org_id": world.org_a}, headers=h)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert len(hook["secret"]) == 64
    listed = (await client.get("/api/v1/webhooks", headers=world.auth("a_viewer"))).json()
    assert [x["id"] for x in listed] == [hook["id"]] and listed[0]["secret"] is None
    assert (await client.get("/api/v1/webhooks", headers=world.auth("b_viewer"))).json() == []
    assert (await client.post("/api/v1/webhooks", json={"name": "x", "url": "ftp://x/y"},
                              headers=h)).status_code == 422
    rule = {"name": "fatigue", "alarm_types": ["fatigue"], "min_severity": 2, "channel": "webhook"}
    assert (await client.post("/api/v1/notification-rules", json=rule, headers=h)).status_code == 422
    r = await client.post("/api/v1/notification-rules", json={**rule, "webhook_id": hook["id"]}, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert (await client.post("/api/v1/notification-rules", json={**rule, "alarm_types": ["Fatigue!"],
                                                                   "webhook_id": hook["id"]},
                              headers=h)).status_code == 422
    rules = (await client.get("/api/v1/notification-rules", headers=world.auth("a_viewer"))).json()
    assert [r["channel"] for r in rules] == ["websocket", "webhook"]  # the global default, then ours
    # The rule routes a fatigue alarm of org A to the outbox.
    await alarms.raise_("f", 0, alarm_type="fatigue.daily")
    deliveries = (await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=h)).json()
    assert [d["state"] for d in deliveries] == ["pending"]
    r = await client.put(f"/api/v1/webhooks/{hook['id']}", json={"name": "ops2", "url": "https://ops.example/h2",
                                                                 "org_id": world.org_a}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "ops2"
    kept = await alarms.store.get_webhook(_all(), hook["id"])
    assert kept is not None and kept.secret == hook["secret"]  # no secret given: the old one stays
    assert (await client.delete(f"/api/v1/notification-rules/{rid}", headers=h)).status_code == 204
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=h)).status_code == 404


def _all() -> Any:
    from icvcloud.store.base import Scope

    return Scope.all()


async def test_without_alarm_services_the_endpoints_say_so(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/alarms", headers=world.auth("admin"))
    assert r.status_code == 503 and "not enabled" in r.json()["detail"]

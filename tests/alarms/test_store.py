"""The alarm repository, over SQLite and over PostgreSQL (the ``db`` fixture): folding
events, merging repeats, idempotence, lifecycle, scope, statistics, commands, outbox,
definitions, attachments, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from icvcloud.model import Position
from icvcloud.model.alarms import AlarmHandling, Severity
from icvcloud.model.commands import Command
from icvcloud.store.alarms_base import AlarmFilter, Attachment, Definition, NotificationRule, Webhook
from icvcloud.store.base import Scope

from .conftest import T0, Db, event

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ALL = Scope.all()


async def apply(db: Db, events: list, window_s: float = 300.0, **kw: object):  # type: ignore[no-untyped-def]
    return await db.alarms.apply_events(events, NOW, merge_window_s=window_s, **kw)  # type: ignore[arg-type]


async def test_start_update_end_fold_into_one_alarm(db: Db) -> None:
    ch = await apply(db, [event(db, "k1", "start", 0, peak_speed_kmh=88)])
    assert [(c.change, c.alarm.active, c.alarm.end_time) for c in ch] == [("new", True, None)]
    ch = await apply(db, [event(db, "k1", "update", 0, severity=Severity.HIGH, peak_speed_kmh=99)])
    assert [(c.change, c.alarm.severity) for c in ch] == [("updated", Severity.HIGH)]
    ch = await apply(db, [event(db, "k1", "end", 0, end_minute=3, peak_speed_kmh=101)])
    (c,) = ch
    assert c.change == "ended" and not c.alarm.active and c.alarm.end_time == T0 + timedelta(minutes=3)
    assert c.alarm.details == {"peak_speed_kmh": 101} and c.alarm.plate == "鲁C12345"
    rows, total = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert total == 1 and rows[0].version == 3 and rows[0].repeat_count == 0
    assert [e.phase for e in await db.alarms.episodes(ALL, rows[0].id)] == ["end"]


async def test_one_batch_with_start_and_end_reports_one_new_alarm(db: Db) -> None:
    ch = await apply(db, [event(db, "k1", "start", 0), event(db, "k1", "end", 0, end_minute=1)])
    assert [(c.change, c.alarm.active) for c in ch] == [("new", False)]


async def test_replayed_events_change_nothing(db: Db) -> None:
    evs = [event(db, "k1", "start", 0), event(db, "k1", "end", 0, end_minute=2), event(db, "k2", "instant", 30,
                                                                                         alarm_type="fence.exit",
                                                                                         category="fence")]
    first = await apply(db, evs)
    assert sorted(c.change for c in first) == ["new", "new"]
    before, _ = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert await apply(db, evs) == []
    # A late replay of the start after the end must not reopen the episode.
    assert await apply(db, [evs[0]]) == []
    rows, total = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert total == 2 and all(not r.active for r in rows) and rows == before


async def test_repeats_within_the_window_merge(db: Db) -> None:
    await apply(db, [event(db, "a", "instant", 0, alarm_type="adas.fcw", category="active_safety")])
    ch = await apply(db, [event(db, "b", "instant", 4, alarm_type="adas.fcw", category="active_safety",
                                severity=Severity.HIGH)])
    (c,) = ch
    assert c.change == "repeat" and c.alarm.repeat_count == 1 and c.alarm.severity == Severity.HIGH
    assert c.alarm.start_time == T0 and c.alarm.end_time == T0 + timedelta(minutes=4)
    # 10 minutes after the last episode: a new alarm; another type never merges.
    ch = await apply(db, [event(db, "c", "instant", 14.5, alarm_type="adas.fcw", category="active_safety"),
                          event(db, "d", "instant", 4.5, alarm_type="adas.ldw", category="active_safety")])
    assert sorted(c.change for c in ch) == ["new", "new"]
    counts = await db.alarms.alarm_counts(ALL, "type", AlarmFilter())
    assert counts == [("adas.fcw", 3), ("adas.ldw", 1)]  # episodes, not rows


async def test_handled_alarms_and_other_vehicles_do_not_absorb_repeats(db: Db) -> None:
    (c,) = await apply(db, [event(db, "a", "instant", 0)])
    await db.alarms.handle_alarm(ALL, AlarmHandling(c.alarm.id, "phone_call", "op", NOW))
    ch = await apply(db, [event(db, "b", "instant", 1), event(db, "c", "instant", 1, vehicle="coach")])
    assert [x.change for x in ch] == ["new", "new"]


async def test_no_merging_with_a_zero_window(db: Db) -> None:
    await apply(db, [event(db, "a", "instant", 0)], window_s=0)
    ch = await apply(db, [event(db, "b", "instant", 0.5)], window_s=0)
    assert [c.change for c in ch] == ["new"]


async def test_an_active_alarm_absorbs_a_new_episode_of_its_type(db: Db) -> None:
    await apply(db, [event(db, "a", "start", 0)])
    (c,) = await apply(db, [event(db, "b", "start", 60)])
    assert c.change == "repeat" and c.alarm.active
    (c,) = await apply(db, [event(db, "b", "end", 60, end_minute=61)])
    assert c.change == "ended" and not c.alarm.active and c.alarm.end_time == T0 + timedelta(minutes=61)


async def test_retracted_episodes(db: Db) -> None:
    import dataclasses

    a = event(db, "a", "start", 0)
    (c,) = await apply(db, [a, event(db, "b", "instant", 2)])
    assert c.alarm.repeat_count == 1
    # The engine voids the first episode: the alarm keeps the second.
    (c,) = await apply(db, [dataclasses.replace(a, phase="end", end_time=a.start_time, retracted=True)])
    assert c.change == "updated" and c.alarm.repeat_count == 0 and not c.alarm.active
    assert c.alarm.start_time == T0 + timedelta(minutes=2) and not c.alarm.retracted
    assert await apply(db, [a]) == []  # a replayed start cannot bring it back
    (c,) = await apply(db, [event(db, "b", "end", 2, end_minute=2, retracted=True)])
    assert c.change == "retracted" and c.alarm.retracted
    assert (await db.alarms.list_alarms(ALL, AlarmFilter()))[1] == 0
    assert (await db.alarms.list_alarms(ALL, AlarmFilter(include_retracted=True)))[1] == 1
    assert await db.alarms.alarm_counts(ALL, "type", AlarmFilter()) == []
    # Retracting what was never stored changes nothing.
    assert await apply(db, [event(db, "zzz", "end", 0, end_minute=0, retracted=True)]) == []


async def test_offset_and_checkpoint_commit_with_the_alarms(db: Db) -> None:
    assert await db.alarms.engine_checkpoint("alarms") is None
    await apply(db, [event(db, "a", "start", 0)], consumer="alarms", offset=17)
    assert await db.store.consumer_offset("alarms") == 17
    assert await db.alarms.engine_checkpoint("alarms") is None
    await apply(db, [], consumer="alarms", offset=20, snapshot=b'{"v": 1}')
    assert await db.alarms.engine_checkpoint("alarms") == (20, b'{"v": 1}')
    assert await db.store.consumer_offset("alarms") == 20
    with pytest.raises(ValueError, match="consumer"):
        await apply(db, [], offset=3)


async def test_a_failed_transaction_commits_neither_alarms_nor_offset(db: Db) -> None:
    bad = event(db, "x", "start", 0)
    object.__setattr__(bad, "severity", 9)  # violates the CHECK constraint
    with pytest.raises(Exception, match=r"(?i)check"):
        await apply(db, [event(db, "ok", "start", 0), bad], consumer="alarms", offset=5)
    assert await db.store.consumer_offset("alarms") == 0
    assert (await db.alarms.list_alarms(ALL, AlarmFilter()))[1] == 0


async def test_scope(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "start", 0)])
    (b,) = await apply(db, [event(db, "b", "start", 0, vehicle="coach")])
    only_a = Scope.of(db.org_a)
    rows, total = await db.alarms.list_alarms(only_a, AlarmFilter())
    assert total == 1 and rows[0].id == a.alarm.id
    assert await db.alarms.get_alarm(only_a, b.alarm.id) is None
    assert await db.alarms.episodes(only_a, b.alarm.id) == []
    assert await db.alarms.handle_alarm(only_a, AlarmHandling(b.alarm.id, "note", "x", NOW)) is None
    assert await db.alarms.handling_history(ALL, b.alarm.id) == []
    assert (await db.alarms.list_alarms(Scope.of(), AlarmFilter()))[1] == 0
    assert await db.alarms.alarm_counts(only_a, "org", AlarmFilter()) == [(db.org_a, 1)]


@pytest.mark.parametrize(("flt", "expected"), [
    (AlarmFilter(alarm_type="fatigue"), {"fatigue.continuous", "fatigue.daily"}),
    (AlarmFilter(alarm_type="fatigue.daily"), {"fatigue.daily"}),
    (AlarmFilter(alarm_type="fatigue.d"), set()),  # a prefix of words, not of letters
    (AlarmFilter(category="data_quality"), {"gnss.jump"}),
    (AlarmFilter(exclude_categories=("data_quality",)), {"fatigue.continuous", "fatigue.daily", "overspeed"}),
    (AlarmFilter(min_severity=3), {"overspeed"}),
    (AlarmFilter(active=True), {"fatigue.daily"}),
    (AlarmFilter(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=30)), {"fatigue.continuous"}),
    (AlarmFilter(vehicle_id=-1), set()),
])
async def test_filters(db: Db, flt: AlarmFilter, expected: set[str]) -> None:
    await apply(db, [
        event(db, "1", "end", 0, end_minute=1, severity=Severity.HIGH),
        event(db, "2", "end", 10, end_minute=11, alarm_type="fatigue.continuous"),
        event(db, "3", "start", 40, alarm_type="fatigue.daily"),
        event(db, "4", "instant", 50, alarm_type="gnss.jump", category="data_quality", severity=Severity.INFO),
    ])
    rows, total = await db.alarms.list_alarms(ALL, flt)
    assert {r.alarm_type for r in rows} == expected and total == len(expected)


async def test_lifecycle_and_history(db: Db) -> None:
    (c,) = await apply(db, [event(db, "a", "start", 0)])
    aid = c.alarm.id
    ch = await db.alarms.handle_alarm(ALL, AlarmHandling(aid, "acknowledged", "op1", NOW))
    assert ch is not None and ch.change == "acknowledged" and ch.alarm.state == "acknowledged"
    deadline = NOW + timedelta(hours=4)
    ch = await db.alarms.handle_alarm(ALL, AlarmHandling(aid, "escalated", "reg", NOW + timedelta(minutes=1),
                                                         text="请整改", deadline=deadline))
    assert ch is not None and ch.alarm.deadline == deadline and ch.alarm.state == "acknowledged"
    ch = await db.alarms.handle_alarm(ALL, AlarmHandling(aid, "note", "op1", NOW + timedelta(minutes=2), text="x"))
    assert ch is not None and ch.change == "note" and ch.alarm.state == "acknowledged"
    ch = await db.alarms.handle_alarm(ALL, AlarmHandling(aid, "text_to_driver", "op1", NOW + timedelta(minutes=3),
                                                         text="请减速", command_id=7))
    assert ch is not None and ch.change == "handled" and ch.alarm.state == "handled" and ch.alarm.version == 5
    hist = await db.alarms.handling_history(ALL, aid)
    assert [(h.action, h.user) for h in hist] == [("acknowledged", "op1"), ("escalated", "reg"), ("note", "op1"),
                                                 ("text_to_driver", "op1")]
    assert hist[1].deadline == deadline and hist[3].command_id == 7 and hist[3].text == "请减速"
    # A repeat after handling opens a new alarm (see the merge test); the handled one stays handled.
    ch = await db.alarms.handle_alarm(ALL, AlarmHandling(aid, "acknowledged", "op2", NOW + timedelta(minutes=4)))
    assert ch is not None and ch.alarm.state == "handled"


async def test_counts_by_local_day(db: Db) -> None:
    # 15:59 and 16:00 UTC fall on two Beijing days.
    await apply(db, [event(db, "a", "instant", 7 * 60 + 59), event(db, "b", "instant", 8 * 60, vehicle="coach")],
                window_s=0)
    assert await db.alarms.alarm_counts(ALL, "day", AlarmFilter()) == [("2024-05-01", 1), ("2024-05-02", 1)]
    assert await db.alarms.alarm_counts(ALL, "day", AlarmFilter(), utc_offset_h=0) == [("2024-05-01", 2)]
    assert await db.alarms.alarm_counts(ALL, "vehicle", AlarmFilter()) == [(db.tanker, 1), (db.coach, 1)]


def _pos(dev: str, minute: int, lat: float, lon: float, mileage: float | None = None) -> Position:
    t = T0 + timedelta(minutes=minute)
    return Position(device_id=dev, device_time=t, seq=minute, received_at=t, lat=lat, lon=lon, speed_kmh=60,
                    mileage_km=mileage)


async def test_mileage_from_odometer_or_distance(db: Db) -> None:
    # Tanker: odometer +1 km a minute (a reset to 0 in between is left out).
    odo = [_pos("1001", m, 36.8, 118.0 + m * 0.01, 1000.0 + m) for m in range(10)]
    odo[5].mileage_km = 0.0
    # Coach: no odometer; 0.01° of latitude a minute ≈ 1.112 km, plus a GNSS jump out and back.
    dist = [_pos("1003", m, 36.8 + m * 0.01, 118.0) for m in range(10)]
    dist[4].lat = 40.0
    await db.store.write_positions(odo + dist)
    km = await db.alarms.mileage_km(ALL, T0, T0 + timedelta(hours=1))
    assert km[db.tanker] == pytest.approx(7.0)  # 9 steps, minus the two around the reset
    assert km[db.coach] == pytest.approx(7 * 1.112, rel=0.01)  # 9 steps, minus the two around the jump
    assert await db.alarms.mileage_km(Scope.of(db.org_b), T0, T0 + timedelta(hours=1)) == {db.coach: km[db.coach]}


def _cmd(db: Db, **kw: object) -> Command:
    base: dict[str, object] = {"id": 0, "vehicle_id": db.tanker, "device_id": "1001", "org_id": db.org_a,
                               "msg_id": 0x8300, "body": {"text": "hi"}, "user": "op", "created_at": NOW,
                               "expires_at": NOW + timedelta(seconds=60)}
    base.update(kw)
    return Command(**base)  # type: ignore[arg-type]


async def test_commands_track_to_the_answer(db: Db) -> None:
    cid = await db.alarms.add_command(_cmd(db))
    await db.alarms.command_sent(cid, 42, NOW)
    # An answer naming another message with the same serial is not ours.
    assert await db.alarms.answer_command("1001", 42, 0x8103, "acknowledged", NOW) is None
    done = await db.alarms.answer_command("1001", 42, 0x8300, "acknowledged", NOW + timedelta(seconds=1), result=0,
                                          answer={"result": 0})
    assert done is not None and done.state == "acknowledged" and done.answer == {"result": 0} and done.seq == 42
    # Final states stay.
    assert await db.alarms.finish_command(cid, "failed", NOW) is None
    assert await db.alarms.expire_commands(NOW + timedelta(hours=1)) == []
    late = await db.alarms.add_command(_cmd(db))
    await db.alarms.command_sent(late, 43, NOW)
    (expired,) = await db.alarms.expire_commands(NOW + timedelta(seconds=61))
    assert expired.id == late and expired.state == "timed_out"
    assert [c.id for c in await db.alarms.list_commands(ALL, db.tanker)] == [late, cid]
    assert await db.alarms.get_command(Scope.of(db.org_b), cid) is None


async def test_webhook_outbox(db: Db) -> None:
    hook = await db.alarms.add_webhook(Webhook(0, db.org_a, "ops", "http://127.0.0.1:1/hook", "s" * 32,
                                               created_at=NOW))
    await db.alarms.add_rule(NotificationRule(0, db.org_a, "fatigue to ops", ["fatigue"], 2, "webhook", hook))
    await apply(db, [event(db, "a", "start", 0, alarm_type="fatigue.continuous"),
                     event(db, "b", "start", 0, alarm_type="fatigue.continuous", vehicle="coach"),  # other org
                     event(db, "c", "start", 0, alarm_type="overspeed"),  # other type
                     event(db, "d", "start", 0, alarm_type="fatigue.daily", severity=Severity.LOW)])  # too low
    due = await db.alarms.due_deliveries(NOW)
    assert len(due) == 1
    d, h = due[0]
    body = json.loads(d.payload)
    assert h.id == hook and body["type"] == "alarm.new" and body["event_id"] == d.event_id
    assert body["alarm"]["alarm_type"] == "fatigue.continuous" and body["alarm"]["version"] == 1
    # An update is not sent; the end is, under its own event ID.
    await apply(db, [event(db, "a", "update", 0, alarm_type="fatigue.continuous", severity=Severity.HIGH)])
    await apply(db, [event(db, "a", "end", 0, end_minute=5, alarm_type="fatigue.continuous")])
    assert [json.loads(x.payload)["type"] for x, _ in await db.alarms.due_deliveries(NOW)] == ["alarm.new",
                                                                                               "alarm.ended"]
    retry = NOW + timedelta(seconds=5)
    await db.alarms.delivery_attempted(d.id, NOW, ok=False, status=500, error="HTTP 500", next_attempt_at=retry)
    assert len(await db.alarms.due_deliveries(NOW)) == 1
    assert await db.alarms.next_delivery_at() == NOW
    await db.alarms.delivery_attempted(d.id, retry, ok=True, status=200, error="", next_attempt_at=None)
    (done,) = [x for x in await db.alarms.list_deliveries(ALL, hook) if x.id == d.id]
    assert done.state == "delivered" and done.attempts == 2 and done.delivered_at == retry


async def test_the_default_rule_marks_medium_alarms_for_the_console(db: Db) -> None:
    ch = await apply(db, [event(db, "a", "start", 0, severity=Severity.MEDIUM),
                          event(db, "b", "start", 0, alarm_type="gnss.jump", severity=Severity.LOW)])
    assert {c.alarm.alarm_type: c.notify for c in ch} == {"overspeed": True, "gnss.jump": False}
    rules = await db.alarms.list_rules(Scope.of(db.org_a))
    assert [(r.org_id, r.channel, r.min_severity) for r in rules] == [(None, "websocket", 2)]


async def test_definitions(db: Db) -> None:
    v0 = await db.alarms.definitions_version()
    circle = Definition(0, db.org_a, "depot", {"center": [118.0, 36.8], "radius_m": 300}, kind="circle",
                        updated_at=NOW)
    corridor = Definition(0, None, "G20", {"sections": []}, kind="corridor", updated_at=NOW)
    cid = await db.alarms.add_definition("geofence", circle)
    rid = await db.alarms.add_definition("route", corridor)
    assert await db.alarms.definitions_version() != v0
    assert [d.id for d in await db.alarms.list_definitions("geofence", ALL)] == [cid, rid]
    assert [d.id for d in await db.alarms.list_definitions("route", ALL)] == [rid]
    # Org B sees the global route, not org A's fence, and cannot change the global one.
    assert [d.id for d in await db.alarms.list_definitions("geofence", Scope.of(db.org_b))] == [rid]
    corridor.id = rid
    assert not await db.alarms.update_definition("route", Scope.of(db.org_b), corridor)
    assert not await db.alarms.delete_definition("route", ALL, cid)  # not a corridor
    v1 = await db.alarms.definitions_version()
    circle.id, circle.enabled = cid, False
    assert await db.alarms.update_definition("geofence", Scope.of(db.org_a), circle)
    assert await db.alarms.definitions_version() != v1
    assert [d.id for d in await db.alarms.list_definitions("geofence", ALL, enabled_only=True)] == [rid]
    assert await db.alarms.delete_definition("geofence", ALL, cid)
    assert await db.alarms.get_definition("geofence", ALL, cid) is None
    pid = await db.alarms.add_definition("profile", Definition(0, db.org_b, "night", {"fatigue": {}}))
    assert (await db.alarms.get_definition("profile", ALL, pid)).spec == {"fatigue": {}}  # type: ignore[union-attr]


async def test_attachments_link_whichever_comes_first(db: Db) -> None:
    early = await db.alarms.add_attachment(Attachment(0, None, "1001", "a.jpg", "attachments/x/a.jpg", db.org_a,
                                                      alarm_ref="ref1", received_at=NOW))
    (c,) = await apply(db, [event(db, "k", "instant", 0, alarm_type="adas.fcw", category="active_safety",
                                  alarm_ref="ref1")])
    late = await db.alarms.add_attachment(Attachment(0, None, "1001", "b.mp4", "attachments/x/b.mp4", db.org_a,
                                                     alarm_ref="ref1", received_at=NOW))
    again = await db.alarms.add_attachment(Attachment(0, None, "1001", "b.mp4", "attachments/x/b.mp4", db.org_a,
                                                      alarm_ref="ref1", size_bytes=9, complete=True,
                                                      received_at=NOW))
    assert again == late
    atts = await db.alarms.attachments(ALL, c.alarm.id)
    assert [(t.id, t.size_bytes) for t in atts] == [(early, 0), (late, 9)]
    assert await db.alarms.attachments(Scope.of(db.org_b), c.alarm.id) == []
    assert await db.alarms.get_attachment(Scope.of(db.org_b), early) is None


async def test_attachment_requests_link_to_their_alarm_whichever_comes_first(db: Db) -> None:
    """The platform's 0x9208 is a command filed under the alarm number it names: the
    requester and the alarm consumer read the log apart, so either may store first."""
    def request(**kw: object) -> Command:
        return _cmd(db, msg_id=0x9208, body={"alarm_number": "ref1"}, user="platform", alarm_ref="ref1", **kw)

    early = await db.alarms.add_command(request())
    other = await db.alarms.add_command(_cmd(db, device_id="1002", msg_id=0x9208, alarm_ref="ref1"))  # not its device
    (c,) = await apply(db, [event(db, "k", "instant", 0, alarm_type="adas.fcw", category="active_safety",
                                  alarm_ref="ref1")])
    late = await db.alarms.add_command(request())
    cmds = await db.alarms.list_commands(ALL, db.tanker)
    assert {(x.id, x.alarm_id, x.alarm_ref) for x in cmds} == {
        (late, c.alarm.id, "ref1"), (early, c.alarm.id, "ref1"), (other, None, "ref1")}
    # An alarm's own commands are asked for as such, not picked from the vehicle's newest.
    assert [x.id for x in await db.alarms.list_commands(ALL, db.tanker, limit=2, alarm_id=c.alarm.id)] == [late, early]
    assert await db.alarms.list_commands(Scope.of(db.org_b), db.tanker, alarm_id=c.alarm.id) == []
    got = await db.alarms.get_command(ALL, late)
    assert got is not None and got.user == "platform" and got.body == {"alarm_number": "ref1"}
    # A person's command carries no alarm number.
    assert (await db.alarms.get_command(ALL, await db.alarms.add_command(_cmd(db)))).alarm_ref is None  # type: ignore[union-attr]


async def test_prune(db: Db) -> None:
    old = [event(db, "old", "end", 0, end_minute=1)]
    await apply(db, old)
    (cur,) = await apply(db, [event(db, "new", "start", 24 * 60, alarm_type="fatigue.continuous")])
    rows, _ = await db.alarms.list_alarms(ALL, AlarmFilter(alarm_type="overspeed"))
    await db.alarms.handle_alarm(ALL, AlarmHandling(rows[0].id, "note", "op", NOW))
    await db.alarms.add_attachment(Attachment(0, rows[0].id, "1001", "a.jpg", "attachments/a.jpg", db.org_a,
                                              received_at=NOW))
    await db.store.write_positions([_pos("1001", m, 36.8, 118.0) for m in (0, 10, 20)])
    counts, files = await db.alarms.prune(alarms_before=T0 + timedelta(hours=1),
                                          positions_before=T0 + timedelta(minutes=15), batch=1)
    assert counts["alarms"] == 1 and counts["positions"] == 2 and files == ["attachments/a.jpg"]
    rows, total = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert total == 1 and rows[0].id == cur.alarm.id
    assert await db.store.count_positions("1001") == 1
    # The episode key went with it: the same event raises the alarm anew.
    assert [c.change for c in await apply(db, old)] == ["new"]

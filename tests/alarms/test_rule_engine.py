"""The engine as the platform builds it: rule file + stored definitions, scoping of
organisation-owned definitions, validation, and alarm numbers for attachments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from icvcloud.app import rule_engine
from icvcloud.app.alarms import Definitions
from icvcloud.config import Config
from icvcloud.engine import ConfigError, Engine, VehicleContext
from icvcloud.gateways.jt808.attachment_request import AlarmNumbers
from icvcloud.model import Position, Vehicle
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.model.fences import FenceError
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import AlarmIdentification
from icvcloud.store.alarms_base import Definition

T0 = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)


def drive(engine: object, ctx: VehicleContext, speed: float, minutes: int = 5) -> list[AlarmEvent]:
    assert isinstance(engine, Engine)
    out: list[AlarmEvent] = []
    for m in range(minutes):
        t = T0 + timedelta(minutes=m)
        out += engine.process(ctx, Position(ctx.device_id, t, m, t + timedelta(seconds=1), 36.8, 117.5 + 0.005 * m,
                                            speed_kmh=speed, status=3))
    return out


def test_vehicle_context() -> None:
    ctx = rule_engine.vehicle_context(Vehicle(id=7, plate="x", vehicle_type="coach", org_id=3, device_id="1001"))
    assert (ctx.vehicle_id, ctx.device_id, ctx.org_id, ctx.vehicle_type) == (7, "1001", 3, "coach")


def test_rule_file_and_stored_profiles(tmp_path: Path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text('[[profile]]\nname = "tight"\nvehicle_types = ["hazmat_tanker"]\n'
                 '[profile.overspeed.limits_kmh.hazmat_tanker]\ndefault = 40.0\n', encoding="utf-8")
    cfg = Config()
    cfg.alarms.rules_file = str(f)
    src = rule_engine.RuleSource(cfg)
    engine = src.build(Definitions())
    a = VehicleContext(1, "1001", 1, "hazmat_tanker")
    assert [e.alarm_type for e in drive(engine, a, 50.0) if e.phase == "start"] == ["overspeed"]
    # A profile stored for organisation 2 lowers the limit further, for its vehicles only.
    stored = Definition(5, 2, "org 2", {"vehicle_types": ["hazmat_tanker"],
                                        "overspeed": {"limits_kmh": {"hazmat_tanker": {"default": 30.0}}}})
    src.update(engine, Definitions(profiles=[stored]))
    b = VehicleContext(2, "1002", 2, "hazmat_tanker")
    c = VehicleContext(3, "1003", 3, "hazmat_tanker")
    assert [e.details["limit_kmh"] for e in drive(engine, b, 35.0) if e.phase == "start"] == [30.0]
    assert drive(engine, c, 35.0) == []


def test_a_broken_rule_file_stops_the_start(tmp_path: Path) -> None:
    f = tmp_path / "rules.json"
    f.write_text('{"profile": [{"name": "x", "overspeed": {"speed": 1}}]}', encoding="utf-8")
    cfg = Config()
    cfg.alarms.rules_file = str(f)
    with pytest.raises(ConfigError, match="speed"):
        rule_engine.RuleSource(cfg)


def test_fences_owned_by_an_organisation_apply_to_it_only() -> None:
    zone = Definition(9, 2, "禁行区", {"kind": "circle", "center": [117.51, 36.8], "radius_m": 400,
                                     "forbidden": [{"start": "00:00", "end": "00:00"}]}, kind="circle")
    engine = rule_engine.RuleSource(Config()).build(Definitions(geofences=[zone]))
    own = VehicleContext(1, "1001", 2, "other")
    other = VehicleContext(2, "1002", 3, "other")
    assert [e.alarm_type for e in drive(engine, own, 30.0) if e.phase == "start"] == ["fence.forbidden"]
    assert drive(engine, other, 30.0) == []


@pytest.mark.parametrize(("kind", "spec", "fragment"), [
    ("geofence", {"kind": "circle", "center": [200, 36.8], "radius_m": 10}, "out of range"),
    ("geofence", {"kind": "hexagon"}, "kind"),
    ("route", {"kind": "circle", "center": [118, 36.8], "radius_m": 10}, "corridor"),
    ("profile", {"fatigue": {"continuous_s": -1}}, "continuous_s"),
])
def test_validation(kind: str, spec: dict[str, object], fragment: str) -> None:
    with pytest.raises((FenceError, ConfigError, ValueError), match=fragment):
        rule_engine.validate_definition(kind, spec)  # type: ignore[arg-type]


def test_validation_normalises_and_drops_the_columns() -> None:
    kind, spec = rule_engine.validate_definition("geofence", {"id": 99, "name": "x", "kind": "rectangle",
                                                              "points": [[118.1, 36.9], [118.0, 36.8]]})
    assert kind == "rectangle" and "id" not in spec and "name" not in spec
    assert spec["points"] == [[118.1, 36.9], [118.0, 36.8]]


def test_active_safety_events_get_the_attachment_number() -> None:
    numbers = AlarmNumbers(b"secret")
    ident = AlarmIdentification(terminal_id="T000001", time=datetime(2024, 5, 1, 9, 0, tzinfo=jt808.CST), seq=3,
                                attachment_count=2, reserved=b"\x00")
    enrich = rule_engine.alarm_ref_enricher(numbers.assign)
    e = AlarmEvent("k", 1, "1001", 2, "adas.forward_collision", "active_safety", "start", Severity.HIGH, T0,
                   details={"identification": jt808.to_json(ident)})
    assert enrich(e).details["alarm_ref"] == numbers.assign("1001", ident)
    plain = AlarmEvent("k2", 1, "1001", 2, "overspeed", "driving", "start", Severity.HIGH, T0)
    assert enrich(plain) is plain
    broken = AlarmEvent("k3", 1, "1001", 2, "adas.x", "active_safety", "start", Severity.HIGH, T0,
                        details={"identification": {"terminal_id": 5}})
    assert "alarm_ref" not in enrich(broken).details

"""Rule configuration: one dataclass per rule, grouped into rule profiles.

A vehicle's rules come from layers, later ones overriding earlier ones setting by
setting (dict-valued settings such as ``limits_kmh`` are merged key by key):

1. the built-in defaults below (the regulations' thresholds);
2. the file's ``[defaults]``;
3. every ``[[profile]]`` whose selectors all match the vehicle, least specific
   first: a profile naming ``groups`` beats one naming ``org_ids``, which beats
   one naming only ``vehicle_types``; among equally specific profiles the later
   in the file wins.

The format (TOML or the same structure as JSON) is in docs/engine.md.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_origin

from icvcloud.model.alarms import Severity
from icvcloud.model.fences import FenceError, TimeWindow


class ConfigError(ValueError):
    """A rule configuration that cannot be used; the message names the place."""


HOUR = 3600.0
NIGHT = TimeWindow("22:00", "06:00")
SMALL_HOURS = TimeWindow("02:00", "05:00")

#: km/h by vehicle type ("*" = every type) and road class ("default" = any road not
#: covered by a fence declaring a class). Sources: 道路交通安全法实施条例 art. 78
#: (expressways: 120 small passenger cars, 100 other vehicles); 危险货物道路运输安全
#: 管理办法 (2019): hazmat 80 on expressways, 60 elsewhere; 校车安全管理条例 art. 35:
#: school buses 80 / 60. A fence's own limit or a corridor section's limit, when
#: lower, always applies.
DEFAULT_SPEED_LIMITS_KMH: dict[str, dict[str, float]] = {
    "*": {"expressway": 100.0},
    "taxi": {"expressway": 120.0},
    "hazmat_tanker": {"expressway": 80.0, "default": 60.0},
    "hazmat_van": {"expressway": 80.0, "default": 60.0},
    "school_bus": {"expressway": 80.0, "default": 60.0},
}


def _limits() -> dict[str, dict[str, float]]:
    return {k: dict(v) for k, v in DEFAULT_SPEED_LIMITS_KMH.items()}


@dataclass(frozen=True, slots=True)
class OverspeedConfig:
    enabled: bool = True
    limits_kmh: dict[str, dict[str, float]] = field(default_factory=_limits)
    #: An episode counts once the speed has stayed over the limit this long
    #: (first to last over-limit report); a single spike between reports does not.
    min_duration_s: float = 10.0
    #: Pre-warning (超速预警) while within this much below the limit; 0 = off.
    warning_band_kmh: float = 5.0
    #: Over-limit reports further apart than this are separate episodes.
    max_gap_s: float = 120.0
    #: Severity by the peak's excess over the limit: below ``high_over_pct`` medium,
    #: then high, from ``critical_over_pct`` critical (the 10/20/50 % steps of the
    #: traffic-law penalties).
    high_over_pct: float = 20.0
    critical_over_pct: float = 50.0

    def limits_for(self, vehicle_type: str) -> dict[str, float]:
        out = dict(self.limits_kmh.get("*", {}))
        out.update(self.limits_kmh.get(vehicle_type, {}))
        return out


@dataclass(frozen=True, slots=True)
class FatigueConfig:
    enabled: bool = True
    vehicle_types: tuple[str, ...] = ("*",)
    #: A report at or above this speed is driving; below it, standing.
    moving_kmh: float = 5.0
    #: 连续驾驶: at most 4 h, then a rest of at least 20 min.
    continuous_s: float = 4 * HOUR
    rest_s: float = 20 * 60.0
    #: 累计驾驶: at most 8 h per 24 h — a rolling 24 h window, or the Beijing calendar day.
    daily_s: float = 8 * HOUR
    daily_mode: str = "rolling"
    #: A silence between two reports longer than this counts as standing, not driving.
    gap_as_rest_s: float = 300.0
    #: Passenger vehicles at night (22:00–06:00 Beijing time): 2 h continuous.
    night_vehicle_types: tuple[str, ...] = ("coach",)
    night_window: TimeWindow = NIGHT
    night_continuous_s: float = 2 * HOUR
    #: Coaches must not run 02:00–05:00 on roads of class 3 and below (fences
    #: declaring one of these road classes), or anywhere with ``restricted_everywhere``.
    restricted_vehicle_types: tuple[str, ...] = ("coach",)
    restricted_window: TimeWindow = SMALL_HOURS
    restricted_road_classes: tuple[str, ...] = ("class3", "class4", "mountain")
    restricted_everywhere: bool = False


@dataclass(frozen=True, slots=True)
class FenceRuleConfig:
    enabled: bool = True
    #: Boundary crossings between two reports are placed by interpolating along the
    #: straight segment joining them — only when the reports are at most this far
    #: apart in time and distance; otherwise the change is dated at the later report.
    interpolate_max_gap_s: float = 300.0
    interpolate_max_m: float = 10_000.0


@dataclass(frozen=True, slots=True)
class DeviationConfig:
    enabled: bool = True
    #: For corridors assigned through ``VehicleContext.route_ids`` that set no
    #: ``deviation_after_s`` of their own.
    after_s: float = 120.0


@dataclass(frozen=True, slots=True)
class StopConfig:
    enabled: bool = True
    vehicle_types: tuple[str, ...] = ("hazmat_tanker", "hazmat_van")
    #: Standing longer than this outside a fence with ``stop_permitted``.
    max_stop_s: float = 30 * 60.0
    moving_kmh: float = 5.0


@dataclass(frozen=True, slots=True)
class OfflineConfig:
    enabled: bool = True
    #: No report for this long while the last report was not parked (ACC on or moving).
    offline_after_s: float = 20 * 60.0
    #: The same for parked vehicles (terminals sleep and report rarely); None = never.
    parked_offline_after_s: float | None = None
    moving_kmh: float = 5.0


@dataclass(frozen=True, slots=True)
class DataQualityConfig:
    enabled: bool = True
    #: A device time later than the receive time by more than this is invalid.
    max_future_s: float = 300.0
    #: A reported speed above this is invalid (no road vehicle of ours does 220 km/h).
    max_speed_kmh: float = 220.0
    #: A displacement implying more than ``jump_kmh`` and longer than ``min_jump_m``
    #: is a GNSS jump: the report is not used for location rules.
    jump_kmh: float = 180.0
    min_jump_m: float = 300.0
    #: After this many consecutive jumped reports that agree with each other, the new
    #: place is accepted (the vehicle really is there: towed, ferried, long gap).
    reanchor_after: int = 3
    report_no_fix: bool = True


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    enabled: bool = True
    #: Alarm-bit names (protocols' ALARM_BITS) not to report.
    ignore: tuple[str, ...] = ()
    #: Severity by bit name, over the built-in table.
    severity: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActiveSafetyConfig:
    enabled: bool = True
    level1_severity: int = int(Severity.MEDIUM)
    level2_severity: int = int(Severity.HIGH)
    #: Events that are not alarms (snapshots, road-sign recognition, driver change).
    event_severity: int = int(Severity.INFO)
    #: Alarm types not to report, e.g. ``"adas.active_snapshot"``.
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The configuration of every rule for one vehicle."""

    overspeed: OverspeedConfig = field(default_factory=OverspeedConfig)
    fatigue: FatigueConfig = field(default_factory=FatigueConfig)
    fences: FenceRuleConfig = field(default_factory=FenceRuleConfig)
    deviation: DeviationConfig = field(default_factory=DeviationConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    data_quality: DataQualityConfig = field(default_factory=DataQualityConfig)
    terminal: TerminalConfig = field(default_factory=TerminalConfig)
    active_safety: ActiveSafetyConfig = field(default_factory=ActiveSafetyConfig)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings (not per profile): the per-vehicle reorder window."""

    #: Reports kept per vehicle for re-evaluating late data (see docs/engine.md).
    window_reports: int = 48
    #: A state checkpoint every this many reports (bounds the work of a late report).
    checkpoint_every: int = 8

    def __post_init__(self) -> None:
        if self.checkpoint_every < 1 or self.window_reports < 2 * self.checkpoint_every:
            raise ConfigError("need checkpoint_every ≥ 1 and window_reports ≥ 2 × checkpoint_every")


RULES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RuleSet))


@cache
def _rule_types() -> dict[str, type]:
    hints = typing.get_type_hints(RuleSet)
    return {name: hints[name] for name in RULES}


def _in_types(vehicle_type: str, types: tuple[str, ...]) -> bool:
    return "*" in types or vehicle_type in types


def applies(types: tuple[str, ...], vehicle_type: str) -> bool:
    """Whether a rule's ``vehicle_types`` list covers the type (``"*"`` = every type)."""
    return _in_types(vehicle_type, types)


# ------------------------------------------------------------------------------ coercion

_SEVERITY_NAMES = {s.name.lower(): int(s) for s in Severity}


def _coerce(tp: Any, v: Any, where: str, name: str) -> Any:
    origin = get_origin(tp)
    if tp is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: must be true or false, got {v!r}")
        return v
    if tp is int:
        if name.endswith("severity") and isinstance(v, str):
            if v.lower() not in _SEVERITY_NAMES:
                raise ConfigError(f"{where}: severity must be one of {list(_SEVERITY_NAMES)}, got {v!r}")
            return _SEVERITY_NAMES[v.lower()]
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: must be an integer, got {v!r}")
        if name.endswith("severity") and not 0 <= v <= 4:
            raise ConfigError(f"{where}: severity must be 0–4, got {v!r}")
        return v
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{where}: must be a finite number, got {v!r}")
        if v < 0:
            raise ConfigError(f"{where}: must be ≥ 0, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: must be a string, got {v!r}")
        return v
    if tp is TimeWindow:
        try:
            return TimeWindow.from_any(v)
        except FenceError as e:
            raise ConfigError(f"{where}: {e}") from None
    if origin is tuple:
        if isinstance(v, str) or not isinstance(v, Sequence):
            raise ConfigError(f"{where}: must be a list, got {v!r}")
        (a, _) = get_args(tp)
        return tuple(_coerce(a, x, f"{where}[{i}]", name) for i, x in enumerate(v))
    if origin is dict:
        if not isinstance(v, Mapping):
            raise ConfigError(f"{where}: must be a table/object, got {v!r}")
        ka, va = get_args(tp)
        vname = "severity" if name == "severity" else name
        return {_coerce(ka, k, where, name): _coerce(va, x, f"{where}.{k}", vname) for k, x in v.items()}
    args = get_args(tp)
    if args and type(None) in args:  # X | None: TOML has no null, so 0 (or less) means None
        if v is None:
            return None
        inner = next(a for a in args if a is not type(None))
        out = _coerce(inner, v, where, name)
        return None if out == 0 else out
    raise ConfigError(f"{where}: unsupported setting type {tp!r}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check(rule: str, cfg: Any) -> None:
    if rule == "fatigue" and cfg.daily_mode not in ("rolling", "calendar_day"):
        raise ConfigError(f"fatigue.daily_mode must be 'rolling' or 'calendar_day', got {cfg.daily_mode!r}")
    if rule == "overspeed" and cfg.high_over_pct > cfg.critical_over_pct:
        raise ConfigError("overspeed.high_over_pct must not exceed critical_over_pct")
    if rule == "data_quality" and cfg.reanchor_after < 1:
        raise ConfigError("data_quality.reanchor_after must be ≥ 1")
    if rule == "fatigue" and (cfg.rest_s <= 0 or cfg.continuous_s <= 0 or cfg.daily_s <= 0
                              or cfg.night_continuous_s <= 0):
        raise ConfigError("fatigue durations must be > 0")


def validate_settings(settings: Any, where: str) -> dict[str, dict[str, Any]]:
    """Check a partial ``{rule: {setting: value}}`` and return it coerced."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: must be a table/object of rules")
    out: dict[str, dict[str, Any]] = {}
    types = _rule_types()
    for rule, vals in settings.items():
        if rule not in types:
            raise ConfigError(f"{where}: unknown rule {rule!r} (rules: {', '.join(types)})")
        if not isinstance(vals, Mapping):
            raise ConfigError(f"{where}.{rule}: must be a table/object of settings")
        hints = _hints(types[rule])
        sec: dict[str, Any] = {}
        for k, v in vals.items():
            if k not in hints:
                raise ConfigError(f"{where}.{rule}: unknown setting {k!r} (settings: {', '.join(hints)})")
            sec[k] = _coerce(hints[k], v, f"{where}.{rule}.{k}", k)
        out[rule] = sec
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def build_ruleset(layers: Sequence[Mapping[str, Mapping[str, Any]]]) -> RuleSet:
    """The built-in defaults with validated partial layers applied in order."""
    types = _rule_types()
    parts: dict[str, Any] = {}
    for rule, cls in types.items():
        base = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
        for layer in layers:
            if rule in layer:
                base = _merge(base, layer[rule])
        cfg = cls(**base)
        _check(rule, cfg)
        parts[rule] = cfg
    return RuleSet(**parts)


# ------------------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class RuleProfile:
    """Settings for the vehicles matching all the given selectors (empty = any)."""

    name: str
    settings: dict[str, dict[str, Any]]
    vehicle_types: tuple[str, ...] = ()
    org_ids: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()

    def matches(self, vehicle_type: str, org_id: int | None, group: str | None) -> bool:
        return (
            (not self.vehicle_types or vehicle_type in self.vehicle_types)
            and (not self.org_ids or org_id in self.org_ids)
            and (not self.groups or group in self.groups)
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        return (bool(self.groups), bool(self.org_ids), bool(self.vehicle_types))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        for k in ("vehicle_types", "org_ids", "groups"):
            if getattr(self, k):
                d[k] = list(getattr(self, k))
        d.update(_jsonable(self.settings))
        return d


def _jsonable(v: Any) -> Any:
    if isinstance(v, TimeWindow):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


_PROFILE_KEYS = {"name", "vehicle_types", "org_ids", "groups"}


class RuleProfiles:
    """Defaults plus profiles; :meth:`resolve` gives one vehicle's :class:`RuleSet`."""

    def __init__(self, defaults: Mapping[str, Mapping[str, Any]] | None = None,
                 profiles: Sequence[RuleProfile] = ()) -> None:
        self.defaults = validate_settings(defaults or {}, "defaults")
        self.profiles = list(profiles)
        build_ruleset([self.defaults])
        for p in self.profiles:
            try:
                build_ruleset([self.defaults, p.settings])
            except ConfigError as e:
                raise ConfigError(f"profile {p.name!r}: {e}") from None
        # Least specific first; sorted() is stable, so file order breaks ties.
        self._ordered = sorted(self.profiles, key=lambda p: p.specificity)
        self._cache: dict[tuple[str, int | None, str | None], RuleSet] = {}

    def resolve(self, vehicle_type: str, org_id: int | None = None, group: str | None = None) -> RuleSet:
        k = (vehicle_type, org_id, group)
        rs = self._cache.get(k)
        if rs is None:
            layers = [self.defaults] + [p.settings for p in self._ordered if p.matches(vehicle_type, org_id, group)]
            rs = self._cache[k] = build_ruleset(layers)
        return rs

    def matching(self, vehicle_type: str, org_id: int | None = None, group: str | None = None) -> list[str]:
        """Names of the profiles that apply, in the order they are applied."""
        return [p.name for p in self._ordered if p.matches(vehicle_type, org_id, group)]

    # -- file forms

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleProfiles:
        if not isinstance(d, Mapping):
            raise ConfigError("rule configuration must be a table/object")
        unknown = set(d) - {"defaults", "profile"}
        if unknown:
            raise ConfigError(f"unknown top-level keys {sorted(unknown)} (expected 'defaults', 'profile')")
        raw = d.get("profile", [])
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise ConfigError("'profile' must be an array of tables")
        profiles = []
        names: set[str] = set()
        for i, p in enumerate(raw):
            if not isinstance(p, Mapping):
                raise ConfigError(f"profile[{i}] must be a table/object")
            name = p.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"profile[{i}] needs a name")
            if name in names:
                raise ConfigError(f"profile {name!r} is defined twice")
            names.add(name)
            where = f"profile {name!r}"
            settings = validate_settings({k: v for k, v in p.items() if k not in _PROFILE_KEYS}, where)
            types = _coerce(tuple[str, ...], p.get("vehicle_types", []), f"{where}.vehicle_types", "vehicle_types")
            orgs = _coerce(tuple[int, ...], p.get("org_ids", []), f"{where}.org_ids", "org_ids")
            groups = _coerce(tuple[str, ...], p.get("groups", []), f"{where}.groups", "groups")
            profiles.append(RuleProfile(name, settings, types, orgs, groups))
        return cls(d.get("defaults"), profiles)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.defaults:
            out["defaults"] = _jsonable(self.defaults)
        if self.profiles:
            out["profile"] = [p.to_dict() for p in self.profiles]
        return out

    @classmethod
    def from_toml(cls, text: str) -> RuleProfiles:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"not valid TOML: {e}") from None

    @classmethod
    def load(cls, path: str | Path) -> RuleProfiles:
        return cls.from_toml(Path(path).read_text(encoding="utf-8"))


def ruleset_to_dict(rs: RuleSet) -> dict[str, Any]:
    """A resolved rule set in the settings format (for the API to show effective rules)."""
    return {name: _jsonable({f.name: getattr(getattr(rs, name), f.name)
                             for f in dataclasses.fields(getattr(rs, name))}) for name in RULES}

"""Rule configuration: defaults from the regulations, profiles and their precedence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icvcloud.engine.config import ConfigError, RuleProfiles, ruleset_to_dict
from icvcloud.model.alarms import Severity
from icvcloud.model.fences import TimeWindow

TOML = """
[defaults.overspeed]
min_duration_s = 15

[defaults.overspeed.limits_kmh.hazmat_tanker]
default = 55

[[profile]]
name = "coaches"
vehicle_types = ["coach"]
[profile.fatigue]
night_continuous_s = 5400

[[profile]]
name = "org 12"
org_ids = [12]
[profile.fatigue]
night_continuous_s = 6000
continuous_s = 12600
[profile.active_safety]
level1_severity = "high"

[[profile]]
name = "line 7"
groups = ["line-7"]
[profile.fatigue]
night_continuous_s = 3600
night_window = ["21:00", "05:00"]

[[profile]]
name = "coaches again"
vehicle_types = ["coach"]
[profile.stop]
max_stop_s = 600
"""


def test_built_in_defaults_follow_the_regulations() -> None:
    rs = RuleProfiles().resolve("hazmat_tanker")
    assert rs.overspeed.limits_for("hazmat_tanker") == {"expressway": 80.0, "default": 60.0}
    assert rs.overspeed.limits_for("school_bus") == {"expressway": 80.0, "default": 60.0}
    assert rs.overspeed.limits_for("coach") == {"expressway": 100.0}
    assert rs.overspeed.limits_for("taxi") == {"expressway": 120.0}
    f = rs.fatigue
    assert (f.continuous_s, f.rest_s, f.daily_s, f.night_continuous_s) == (4 * 3600, 20 * 60, 8 * 3600, 2 * 3600)
    assert f.night_window == TimeWindow("22:00", "06:00") and f.restricted_window == TimeWindow("02:00", "05:00")
    assert f.night_vehicle_types == ("coach",)


def test_layers_and_precedence() -> None:
    p = RuleProfiles.from_toml(TOML)
    # [defaults] merges into the built-in limits table key by key.
    hz = p.resolve("hazmat_tanker")
    assert hz.overspeed.limits_for("hazmat_tanker") == {"expressway": 80.0, "default": 55.0}
    assert hz.overspeed.min_duration_s == 15.0
    # Type profile only.
    assert p.resolve("coach").fatigue.night_continuous_s == 5400
    assert p.matching("coach") == ["coaches", "coaches again"]
    # Org beats type, whatever the file order.
    c12 = p.resolve("coach", 12)
    assert c12.fatigue.night_continuous_s == 6000 and c12.fatigue.continuous_s == 12600
    assert c12.stop.max_stop_s == 600  # a setting only the type profile sets still applies
    assert c12.active_safety.level1_severity == Severity.HIGH
    # Group beats org.
    g = p.resolve("coach", 12, "line-7")
    assert g.fatigue.night_continuous_s == 3600 and g.fatigue.continuous_s == 12600
    assert g.fatigue.night_window == TimeWindow("21:00", "05:00")
    assert p.matching("coach", 12, "line-7") == ["coaches", "coaches again", "org 12", "line 7"]
    # Unmatched vehicles get the defaults.
    assert p.resolve("bus", 99, "x").fatigue.night_continuous_s == 7200


def test_equal_specificity_later_wins() -> None:
    p = RuleProfiles.from_dict({"profile": [
        {"name": "a", "org_ids": [1], "stop": {"max_stop_s": 100}},
        {"name": "b", "org_ids": [1], "stop": {"max_stop_s": 200}},
    ]})
    assert p.resolve("other", 1).stop.max_stop_s == 200


def test_round_trip_through_dict() -> None:
    p = RuleProfiles.from_toml(TOML)
    again = RuleProfiles.from_dict(p.to_dict())
    for args in [("coach", 12, "line-7"), ("hazmat_tanker", None, None), ("coach", None, None)]:
        assert ruleset_to_dict(again.resolve(*args)) == ruleset_to_dict(p.resolve(*args))


@pytest.mark.parametrize(("doc", "message"), [
    ({"defaults": {"speeding": {}}}, "unknown rule 'speeding'"),
    ({"defaults": {"overspeed": {"min_duration": 3}}}, "unknown setting 'min_duration'"),
    ({"defaults": {"overspeed": {"min_duration_s": "ten"}}}, "must be a finite number"),
    ({"defaults": {"overspeed": {"min_duration_s": -1}}}, "must be ≥ 0"),
    ({"defaults": {"fatigue": {"daily_mode": "weekly"}}}, "daily_mode"),
    ({"defaults": {"fatigue": {"night_window": ["22:00"]}}}, "time window"),
    ({"defaults": {"fatigue": {"enabled": "yes"}}}, "true or false"),
    ({"defaults": {"terminal": {"severity": {"emergency": "urgent"}}}}, "severity must be one of"),
    ({"profile": [{"org_ids": [1]}]}, "needs a name"),
    ({"profile": [{"name": "x"}, {"name": "x"}]}, "defined twice"),
    ({"profile": [{"name": "x", "org_ids": ["a"]}]}, "must be an integer"),
    ({"rules": {}}, "unknown top-level keys"),
])
def test_errors_name_the_place(doc: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RuleProfiles.from_dict(doc)


def test_bad_toml() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        RuleProfiles.from_toml("[defaults.overspeed\n")


def test_zero_disables_optional_durations() -> None:
    p = RuleProfiles.from_dict({"defaults": {"offline": {"parked_offline_after_s": 3600}},
                                "profile": [{"name": "never", "groups": ["g"],
                                             "offline": {"parked_offline_after_s": 0}}]})
    assert p.resolve("bus").offline.parked_offline_after_s == 3600
    assert p.resolve("bus", None, "g").offline.parked_offline_after_s is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100_000) | st.floats() | st.text(max_size=8)
    | st.sampled_from(["high", "22:00", "06:00", "*", "coach", "calendar_day"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12)
rule_names = st.sampled_from(["overspeed", "fatigue", "fences", "stop", "offline", "terminal", "active_safety",
                              "data_quality", "deviation", "bogus"])
setting_names = st.sampled_from(["enabled", "limits_kmh", "min_duration_s", "night_window", "vehicle_types",
                                 "daily_mode", "severity", "level1_severity", "parked_offline_after_s", "ignore",
                                 "reanchor_after", "high_over_pct", "nope"])
sections = st.dictionaries(rule_names, st.dictionaries(setting_names, json_values, max_size=4), max_size=3)
documents = st.fixed_dictionaries({}, optional={
    "defaults": sections,
    "profile": st.lists(st.fixed_dictionaries({"name": st.text(min_size=1, max_size=5)}, optional={
        "org_ids": json_values, "groups": json_values, "vehicle_types": json_values,
        "fatigue": json_values, "stop": json_values}), max_size=3),
})


@settings(max_examples=400)
@given(documents | st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_any_document_is_rules_or_a_config_error(doc: dict) -> None:
    try:
        p = RuleProfiles.from_dict(doc)
    except ConfigError:
        return
    rs = p.resolve("coach", 1, "g")
    assert RuleProfiles.from_dict(p.to_dict()).resolve("coach", 1, "g") == rs

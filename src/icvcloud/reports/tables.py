"""The reports' columns — key (JSON, CSV header), Chinese and English labels, kind
— shared by every export, and how a value reads for people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "int", "rate", "per100", "km", "h", "score", "bool", "date"]
Report = Literal["enterprises", "vehicles", "daily"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    kind: Kind


FIGURES = (
    Column("vehicles", "车辆数", "Vehicles", "int"),
    Column("networked", "入网车辆数", "Networked", "int"),
    Column("online", "上线车辆数", "Online", "int"),
    Column("network_rate", "入网率", "Network access rate", "rate"),
    Column("online_rate", "上线率", "Online rate", "rate"),
    Column("online_day_rate", "日均上线率", "Daily-average online rate", "rate"),
    Column("track_completeness", "轨迹完整率", "Track completeness", "rate"),
    Column("data_qualification", "数据合格率", "Data qualification rate", "rate"),
    Column("drift_rate", "漂移车辆率", "Drift rate", "rate"),
    Column("overspeed_vehicles", "超速车辆数", "Overspeed vehicles", "int"),
    Column("overspeed_per_100", "百车超速车辆数", "Overspeed vehicles per 100", "per100"),
    Column("fatigue_vehicles", "疲劳驾驶车辆数", "Fatigue vehicles", "int"),
    Column("fatigue_per_100", "百车疲劳驾驶车辆数", "Fatigue vehicles per 100", "per100"),
    Column("alarms_due", "应处理报警数", "Alarms due", "int"),
    Column("alarms_handled_in_time", "按时处理报警数", "Handled in time", "int"),
    Column("alarm_handling_rate", "报警处理率", "Alarm handling rate", "rate"),
    Column("records", "定位数据条数", "Position records", "int"),
    Column("qualified", "合格数据条数", "Qualified records", "int"),
    Column("mileage_km", "行驶里程(km)", "Mileage (km)", "km"),
    Column("running_h", "运行时长(h)", "Running time (h)", "h"),
)
_BY_KEY = {c.key: c for c in FIGURES}

COLUMNS: dict[Report, tuple[Column, ...]] = {
    "enterprises": (Column("rank", "排名", "Rank", "int"), Column("org_id", "企业ID", "Organisation", "int"),
                    Column("name", "企业名称", "Enterprise", "text"), *FIGURES,
                    Column("score", "考核得分", "Score", "score")),
    "daily": (Column("day", "日期", "Day", "date"), *FIGURES),
    "vehicles": (
        Column("vehicle_id", "车辆ID", "Vehicle", "int"), Column("plate", "车牌号", "Plate", "text"),
        Column("org_id", "企业ID", "Organisation", "int"), Column("org_name", "企业名称", "Enterprise", "text"),
        Column("vehicle_type", "车辆类型", "Type", "text"), Column("networked", "已入网", "Networked", "bool"),
        Column("days", "统计天数", "Days", "int"), Column("networked_days", "入网天数", "Networked days", "int"),
        Column("online_days", "上线天数", "Online days", "int"), _BY_KEY["records"], _BY_KEY["qualified"],
        _BY_KEY["data_qualification"],
        Column("bad_position", "坐标异常", "Bad coordinates", "int"),
        Column("bad_time", "时间异常", "Bad time", "int"), Column("bad_speed", "速度异常", "Bad speed", "int"),
        Column("bad_heading", "方向异常", "Bad heading", "int"),
        Column("bad_altitude", "海拔异常", "Bad altitude", "int"), Column("no_fix", "未定位", "No fix", "int"),
        Column("drift_points", "漂移点", "Drift points", "int"), _BY_KEY["track_completeness"],
        _BY_KEY["mileage_km"], _BY_KEY["running_h"],
        Column("overspeed_alarms", "超速报警数", "Overspeed alarms", "int"),
        Column("fatigue_alarms", "疲劳驾驶报警数", "Fatigue alarms", "int"), _BY_KEY["alarms_due"],
        _BY_KEY["alarms_handled_in_time"], _BY_KEY["alarm_handling_rate"]),
}

#: The narrower set a printed A4 page shows.
PRINTED: dict[Report, tuple[str, ...]] = {
    "enterprises": ("rank", "name", "vehicles", "networked", "online", "network_rate", "online_rate",
                    "track_completeness", "data_qualification", "overspeed_per_100", "fatigue_per_100",
                    "alarm_handling_rate", "mileage_km", "running_h", "score"),
    "daily": ("day", "vehicles", "networked", "online", "online_rate", "track_completeness", "data_qualification",
              "drift_rate", "overspeed_vehicles", "fatigue_vehicles", "alarm_handling_rate", "mileage_km",
              "running_h"),
    "vehicles": ("plate", "org_name", "networked", "online_days", "records", "data_qualification",
                 "track_completeness", "mileage_km", "running_h", "overspeed_alarms", "fatigue_alarms",
                 "alarm_handling_rate"),
}

TITLES: dict[Report, tuple[str, str]] = {
    "enterprises": ("企业合规考核排名", "Enterprise compliance ranking"),
    "vehicles": ("车辆合规考核明细", "Vehicle compliance details"),
    "daily": ("逐日合规考核指标", "Daily compliance figures"),
}


def printed(report: Report) -> list[Column]:
    by_key = {c.key: c for c in COLUMNS[report]}
    return [by_key[k] for k in PRINTED[report]]


def shown(col: Column, value: Any) -> str:
    """A value as a person reads it: rates in per cent, None as a dash."""
    if value is None:
        return "—"
    if col.kind == "rate":
        return f"{value * 100:.2f}%"
    if col.kind == "bool":
        return "是" if value else "否"
    if col.kind in ("per100", "score", "h"):
        return f"{value:.2f}"
    if col.kind == "km":
        return f"{value:.1f}"
    return str(value)

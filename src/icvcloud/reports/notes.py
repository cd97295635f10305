"""The definitions printed with a report (HTML footer, the Excel "说明" sheet), with
the thresholds and weights the report was made with."""

from __future__ import annotations

from icvcloud.store.reports_base import FactRules

from .scoring import Weights


def notes(rules: FactRules, weights: Weights) -> list[tuple[str, str]]:
    r, w = rules, weights
    return [
        ("统计日", f"Days are Beijing calendar days (UTC{r.utc_offset_h:+g} h); records by device time, alarms by "
                  "the start of their first episode."),
        ("入网率", "Vehicles whose terminal had reached the platform by the end of the period ÷ registered vehicles."),
        ("上线率", "Networked vehicles with at least one qualified position in the period ÷ networked vehicles; "
                  "日均上线率: vehicle-days online ÷ vehicle-days networked."),
        ("数据合格率", "Qualified records ÷ all records. Unqualified: outside China (or zero coordinates); a "
                    f"flagged device time, or one more than {r.max_future_s:g} s after receipt or "
                    f"{r.max_delay_s / 86400:g} days before it; speed outside 0–{r.max_speed_kmh:g} km/h; heading "
                    f"outside 0–359; altitude outside {r.min_altitude_m:g}–{r.max_altitude_m:g} m; "
                    + ("no GNSS fix; " if r.require_fix else "")
                    + f"a single-point jump (implausible from and to its neighbours: > {r.min_jump_km:g} km at "
                    f"> {r.jump_kmh:g} km/h)."),
        ("轨迹完整率", "Complete mileage ÷ mileage. A step between consecutive qualified records longer than "
                    f"{r.max_gap_s:g} s or {r.max_step_km:g} km is track missing; implausible steps add no mileage; "
                    f"records more than {r.link_s / 3600:g} h apart are not linked."),
        ("漂移车辆率", "Online vehicles with a drift point or an implausible step ÷ online vehicles."),
        ("百车超速/疲劳", f"Vehicles with an alarm of type {', '.join(r.overspeed_types)} / "
                      f"{', '.join(r.fatigue_types)} per 100 online vehicles."),
        ("报警处理率", f"Alarms of categories {', '.join(r.handling_categories)} and severity ≥ "
                    f"{r.handling_min_severity} handled by their deadline (supervision order's, else "
                    f"{r.handling_deadline_s / 60:g} min after the alarm) ÷ such alarms handled or past deadline."),
        ("运行时长", f"Steps of at most {r.max_gap_s:g} s with a speed ≥ {r.moving_kmh:g} km/h at either end."),
        ("考核得分", "100 × weighted mean of the measurable components (weights: "
                   f"入网率 {w.network_rate:g}, 上线率 {w.online_rate:g}, 轨迹完整率 {w.track_completeness:g}, "
                   f"数据合格率 {w.data_qualification:g}, 报警处理率 {w.alarm_handling_rate:g}, "
                   f"无超速 {w.overspeed:g}, 无疲劳 {w.fatigue:g}); overspeed and fatigue enter as "
                   "1 − per-100 ÷ 100."),
    ]

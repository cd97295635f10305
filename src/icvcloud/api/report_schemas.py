"""Bodies of the compliance report endpoints (JSON form; the other formats carry
the same columns, docs/reports.md)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

Rate = float | None


class Figures(BaseModel):
    """Rates are fractions 0…1, null when their denominator is 0."""

    vehicles: int = Field(description="Registered vehicles")
    networked: int = Field(description="Vehicles whose terminal had reached the platform by the period's end")
    online: int = Field(description="Networked vehicles with a qualified position in the period")
    network_rate: Rate = Field(description="入网率: networked ÷ vehicles")
    online_rate: Rate = Field(description="上线率: online ÷ networked")
    online_day_rate: Rate = Field(description="Daily-average online rate: vehicle-days online ÷ networked")
    track_completeness: Rate = Field(description="轨迹完整率: complete mileage ÷ mileage")
    data_qualification: Rate = Field(description="数据合格率: qualified records ÷ records")
    drift_rate: Rate = Field(description="漂移车辆率: online vehicles with drift ÷ online vehicles")
    overspeed_vehicles: int
    overspeed_per_100: float | None = Field(description="Overspeed vehicles per 100 online vehicles")
    fatigue_vehicles: int
    fatigue_per_100: float | None = Field(description="Fatigue-driving vehicles per 100 online vehicles")
    alarms_due: int = Field(description="Alarms needing handling that were handled or are past their deadline")
    alarms_handled_in_time: int
    alarm_handling_rate: Rate = Field(description="报警处理率: handled in time ÷ due")
    records: int = Field(description="Position records")
    qualified: int = Field(description="Qualified position records")
    mileage_km: float
    running_h: float


class _Enterprise(BaseModel):
    org_id: int
    name: str


class EnterpriseItem(Figures, _Enterprise):
    """The enterprise's columns first, then its figures, score and rank."""

    score: float | None = Field(description="Weighted score 0–100; null without anything measurable")
    rank: int | None = Field(description="1 = best; equal scores share a rank; null when unscored")


class EnterpriseReport(BaseModel):
    start: date = Field(description="First Beijing calendar day")
    end: date = Field(description="Last Beijing calendar day (included)")
    items: list[EnterpriseItem] = Field(description="By rank")


class _Day(BaseModel):
    day: date


class DayItem(Figures, _Day):
    pass


class DailyReport(BaseModel):
    start: date
    end: date
    org_id: int | None
    items: list[DayItem]


class VehicleItem(BaseModel):
    vehicle_id: int
    plate: str
    org_id: int | None
    org_name: str | None
    vehicle_type: str
    networked: bool
    days: int
    networked_days: int
    online_days: int
    records: int
    qualified: int
    data_qualification: Rate
    bad_position: int = Field(description="Records outside China (or at zero coordinates)")
    bad_time: int = Field(description="Records with an implausible device time")
    bad_speed: int
    bad_heading: int
    bad_altitude: int
    no_fix: int = Field(description="Records without a GNSS fix")
    drift_points: int = Field(description="Single-point jumps")
    track_completeness: Rate
    mileage_km: float
    running_h: float
    overspeed_alarms: int
    fatigue_alarms: int
    alarms_due: int
    alarms_handled_in_time: int
    alarm_handling_rate: Rate


class VehicleReport(BaseModel):
    start: date
    end: date
    org_id: int | None
    items: list[VehicleItem]

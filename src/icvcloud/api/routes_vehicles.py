"""Vehicles: the list with live state, counts by state, one vehicle, its track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse

from icvcloud.store.base import VehicleFilter

from . import track as tracks
from .auth import Services, Viewer
from .schemas import MAX_ID, Error, TrackOut, VehicleItem, VehiclePage, VehicleStats, VehicleType
from .views import track_point, vehicle_item

router = APIRouter(tags=["vehicles"])

VehicleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Vehicle ID")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    401: {"model": Error}, 404: {"model": Error, "description": "No such vehicle (or not the caller's)"}}
DEFAULT_TRACK_SPAN = timedelta(days=1)


@router.get("/vehicles", summary="Vehicles with their live state, filtered and paged",
            responses={401: {"model": Error}})
async def list_vehicles(
    caller: Viewer,
    services: Services,
    vehicle_type: Annotated[VehicleType | None, Query(alias="type", description="Vehicle type")] = None,
    org_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Organisation ID")] = None,
    online: Annotated[bool | None, Query(description="Only online (true) or offline (false) vehicles")] = None,
    plate: Annotated[str | None, Query(min_length=1, max_length=32,
                                       description="Part of the plate, case-insensitive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> VehiclePage:
    flt = VehicleFilter(vehicle_type=vehicle_type, org_id=org_id, online=online, plate=plate, limit=limit,
                        offset=offset)
    rows, total = await services.store.list_vehicles(caller.scope, flt)
    return VehiclePage(total=total, limit=limit, offset=offset, items=[vehicle_item(r) for r in rows])


@router.get("/vehicles/stats", summary="How many vehicles are online, moving, stopped, in alarm",
            responses={401: {"model": Error}})
async def vehicle_stats(caller: Viewer, services: Services) -> VehicleStats:
    return VehicleStats(**await services.store.count_by_state(caller.scope))


@router.get("/vehicles/{vehicle_id}", summary="One vehicle with its live state", responses=_NOT_FOUND)
async def get_vehicle(vehicle_id: VehicleId, caller: Viewer, services: Services) -> VehicleItem:
    row = await services.store.get_vehicle(caller.scope, vehicle_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {vehicle_id}")
    return vehicle_item(row)


def _bad_request(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail)


def _range(start: datetime | None, end: datetime | None, max_days: float) -> tuple[datetime, datetime]:
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.utcoffset() is None:
            raise _bad_request(f"{name} needs a UTC offset, e.g. 2024-05-01T08:00:00+08:00 or 2024-05-01T00:00:00Z")
    try:
        end = end or datetime.now(UTC)
        start = start or end - DEFAULT_TRACK_SPAN
    except OverflowError:
        raise _bad_request("end is too early for the default range; give start as well") from None
    if start >= end:
        raise _bad_request("start must be before end")
    if end - start > timedelta(days=max_days):
        raise _bad_request(f"the range may span at most {max_days:g} days")
    return start, end


@router.get(
    "/vehicles/{vehicle_id}/track",
    response_model=TrackOut,
    summary="A vehicle's positions in a time range, optionally simplified, as JSON or GeoJSON",
    description="Positions by device time in [start, end] (default: the last 24 hours; at most 7 days). "
                "`tolerance_m` > 0 simplifies the line (Douglas–Peucker, metres); the first and last points "
                "always stay. `format=geojson` returns a FeatureCollection with a LineString whose properties "
                "carry per-vertex times and speeds, plus Point features for stops with `stops=true`.",
    responses={**_NOT_FOUND, 400: {"model": Error, "description": "Bad time range"},
               200: {"content": {"application/geo+json": {}}}},
)
async def get_track(
    vehicle_id: VehicleId,
    caller: Viewer,
    services: Services,
    start: Annotated[datetime | None, Query(description="ISO 8601 with offset, or Unix seconds")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601 with offset, or Unix seconds")] = None,
    tolerance_m: Annotated[float, Query(ge=0, le=10_000, description="Simplification tolerance; 0 = raw")] = 0.0,
    fmt: Annotated[Literal["json", "geojson"], Query(alias="format")] = "json",
    with_stops: Annotated[bool, Query(alias="stops", description="Also find stops")] = False,
    stop_min_s: Annotated[float, Query(ge=0, le=86_400, description="Shortest stop reported")] = 180.0,
) -> Any:
    start, end = _range(start, end, services.settings.max_track_days)
    row = await services.store.get_vehicle(caller.scope, vehicle_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {vehicle_id}")
    cap = services.settings.max_track_points
    raw = await services.store.track(caller.scope, vehicle_id, start, end, limit=cap + 1)
    truncated = len(raw) > cap
    raw = raw[:cap]
    stop_list = tracks.stops(raw, stop_min_s) if with_stops else None
    points = [raw[i] for i in tracks.simplify_indices(raw, tolerance_m)]
    if fmt == "geojson":
        props = {"vehicle_id": vehicle_id, "plate": row.vehicle.plate, "device_id": row.vehicle.device_id,
                 "start": start.isoformat(), "end": end.isoformat(), "tolerance_m": tolerance_m,
                 "raw_count": len(raw), "count": len(points), "truncated": truncated}
        return JSONResponse(tracks.geojson(points, props, stop_list), media_type="application/geo+json")
    return TrackOut(vehicle_id=vehicle_id, device_id=row.vehicle.device_id, start=start, end=end,
                    tolerance_m=tolerance_m, raw_count=len(raw), count=len(points), truncated=truncated,
                    points=[track_point(p) for p in points], stops=stop_list)

"""``icv bench engine``: the alarm rule engine's cost per report, on one core.

A fleet of N vehicles (default 10,000) drives the schematic Zibo road network
(``sim/``): each follows a random route at about its road's limit (some faster,
some stopping), reporting every 30 s (hazmat vehicles every 10 s); 2 % of the
reports arrive late (a few reports behind, as back-fill does), 0.5 % carry an
ADAS alarm, a few carry terminal alarm bits. M geofences (default 10,000) lie
around the network: circles, rectangles and polygons near junctions (some with
forbidden hours, dwell limits, speed limits, entry/exit alarms), and corridors
along roads (expressways with their road class, arterial sections with limits,
some as assigned routes).

Measured in the same run, on the same stream: the engine (``Engine.process``),
and as baseline a trivial pass-through that only keeps each vehicle's last
report. Figures: µs per report p50/p99, reports/s, the ratio to the baseline,
a ``tick`` over the whole fleet, memory, and (``--snapshot``) the cost of a
snapshot. :func:`measure` is what ``bench/alarms.py`` imports.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from bench.common import emit
from icvcloud.engine import Engine, EngineConfig, RuleProfiles, VehicleContext
from icvcloud.model.alarms import AlarmEvent
from icvcloud.model.fences import CorridorSection, Fence, TimeWindow
from icvcloud.model.records import Position
from icvcloud.protocols.jt808 import active_safety as asf
from icvcloud.protocols.jt808.extras import item_to_json
from icvcloud.protocols.jt808.wire import CST
from icvcloud.sim.roads import RoadNetwork

TYPES = {"hazmat_tanker": 0.15, "hazmat_van": 0.05, "coach": 0.15, "bus": 0.25, "muck_truck": 0.1, "taxi": 0.1,
         "other": 0.2}
START = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 09:30 Beijing


def _lonlat(net: RoadNetwork, x: float, y: float) -> tuple[float, float]:
    return net.lonlat(x, y)


def build_fences(n: int, net: RoadNetwork, seed: int = 5, near_share: float = 0.05, routes: int | None = None
                 ) -> list[Fence]:
    """``n`` fences: ``routes`` corridors along the network's roads (default n/500),
    ``near_share`` of the rest near its junctions, the others across the prefecture."""
    rng = random.Random(seed)
    nodes = net.nodes
    edges = net.edges
    out: list[Fence] = []
    fid = 0

    cx = sum(nd.x_m for nd in nodes) / len(nodes)
    cy = sum(nd.y_m for nd in nodes) / len(nodes)

    def near_node() -> tuple[float, float]:
        # The schematic network has ~360 km of roads where the prefecture has over
        # 10,000: a few of the places (depots, schools, plants, stations) lie near
        # its junctions — with the defaults still several times denser along its
        # roads than in a real city — and the rest across the prefecture
        # (~100 × 100 km), along the roads it leaves out.
        if rng.random() >= near_share:
            return cx + rng.uniform(-50_000, 50_000), cy + rng.uniform(-50_000, 50_000)
        nd = rng.choice(nodes)
        return nd.x_m + rng.gauss(0, 2000), nd.y_m + rng.gauss(0, 2000)

    # Routes: chains of consecutive roads (an expressway, a prescribed hazmat route,
    # a bus line's streets), each section with its road's limit.
    by_node: dict[int, list[Any]] = {}
    for e in edges:
        by_node.setdefault(e.a, []).append(e)
    for _ in range(n // 500 if routes is None else routes):
        e = rng.choice(edges)
        chain = [e]
        while len(chain) < rng.randint(2, 8) and by_node.get(chain[-1].b):
            chain.append(rng.choice(by_node[chain[-1].b]))
        fid += 1
        expressway = all(c.road_class == "expressway" for c in chain)
        assigned: dict[str, Any] = (
            {"deviation_after_s": 300.0, "groups": (f"g{rng.randrange(200)}",)} if rng.random() < 0.1 else {})
        out.append(Fence(
            id=fid, name=f"route {fid}", kind="corridor", road_class="expressway" if expressway else None,
            sections=tuple(CorridorSection(tuple(_lonlat(net, x, y) for x, y in c.xy_m), rng.uniform(40, 80),
                                           speed_limit_kmh=None if expressway else float(c.speed_limit_kmh))
                           for c in chain),
            # A tenth are prescribed routes, assigned to one vehicle group each (which
            # drives elsewhere, so deviates: a busy case for that rule).
            **assigned))
    while len(out) < n:
        fid += 1
        x, y = near_node()
        r = rng.random()
        kw: dict[str, Any] = {}
        if rng.random() < 0.2:
            kw["alarm_on_enter"] = kw["alarm_on_exit"] = True
        if rng.random() < 0.1:
            kw["forbidden"] = (TimeWindow("07:00", "19:00"),)
            kw["vehicle_types"] = ("hazmat_tanker", "hazmat_van")
        if rng.random() < 0.1:
            kw["max_dwell_s"] = 1800.0
        if rng.random() < 0.1:
            kw["speed_limit_kmh"] = 30.0
        if rng.random() < 0.05:
            kw["stop_permitted"] = True
        if r < 0.6:
            out.append(Fence(id=fid, name=f"circle {fid}", kind="circle", center=_lonlat(net, x, y),
                             radius_m=rng.uniform(80, 600), **kw))
        elif r < 0.75:
            w, h = rng.uniform(100, 800), rng.uniform(100, 800)
            out.append(Fence(id=fid, name=f"rect {fid}", kind="rectangle",
                             points=(_lonlat(net, x - w, y - h), _lonlat(net, x + w, y + h)), **kw))
        else:
            k = rng.randint(5, 10)
            rad = rng.uniform(100, 700)
            pts = tuple(_lonlat(net, x + rad * rng.uniform(0.5, 1) * math.cos(2 * math.pi * j / k),
                                y + rad * rng.uniform(0.5, 1) * math.sin(2 * math.pi * j / k)) for j in range(k))
            out.append(Fence(id=fid, name=f"polygon {fid}", kind="polygon", points=pts, **kw))
    return out


def _adas_json(t: datetime, alarm_id: int) -> dict[str, Any]:
    ident = asf.AlarmIdentification(terminal_id="T000001", time=t.astimezone(CST), seq=0, attachment_count=3)
    a = asf.AdasAlarm(alarm_id=alarm_id, flag=0, alarm_type=1 + alarm_id % 4, level=1 + alarm_id % 2,
                      front_vehicle_speed_kmh=40, front_headway_100ms=9, deviation_type=0, road_sign_type=0,
                      road_sign_value=0, speed_kmh=60, altitude_m=50, lat=36.8, lon=118.05, time=t.astimezone(CST),
                      vehicle_status=0x0401, identification=ident)
    return item_to_json(0x64, a)


@dataclass
class Stream:
    vehicles: list[VehicleContext]
    reports: list[tuple[VehicleContext, Position]]
    late: int


def build_stream(n_vehicles: int, reports_per_vehicle: int, net: RoadNetwork, seed: int = 7) -> Stream:
    """Reports of ``n_vehicles`` driving the network, in arrival order."""
    rng = random.Random(seed)
    types = list(TYPES)
    weights = list(TYPES.values())
    vehicles = [VehicleContext(i + 1, f"1{i:010d}", org_id=1 + i % 50, vehicle_type=rng.choices(types, weights)[0],
                               group=f"g{i % 200}") for i in range(n_vehicles)]
    timed: list[tuple[float, int, Position]] = []
    late = 0
    for v in vehicles:
        route = net.random_route(rng, min_length_m=5000)
        every = 10.0 if v.vehicle_type.startswith("hazmat") else 30.0
        t = rng.uniform(0, every)
        s = rng.uniform(0, route.length_m)
        direction = 1.0
        factor = rng.choice([0.8, 0.9, 1.0, 1.0, 1.1, 1.25])
        stopped_until = -1.0
        for k in range(reports_per_vehicle):
            i = route.segment_at(s)
            limit_kmh = route.limit_ms[i] * 3.6
            moving = t >= stopped_until
            speed = max(0.0, limit_kmh * factor + rng.gauss(0, 3)) if moving else 0.0
            if moving and rng.random() < 0.01:
                stopped_until = t + rng.uniform(60, 1200)
            lon, lat = route.lonlat_at(s)
            alarm = (1 << rng.choice([0, 8, 5, 11])) if rng.random() < 0.005 else 0
            extras: dict[str, Any] = {}
            when = START + timedelta(seconds=t)
            if rng.random() < 0.005:
                extras["0x64"] = _adas_json(when, k)
            p = Position(device_id=v.device_id, device_time=when, seq=k, received_at=when + timedelta(seconds=1),
                         lat=lat, lon=lon, speed_kmh=round(speed, 1), heading_deg=0, alarm=alarm, status=0b11,
                         extras=extras)
            arrive = t
            if rng.random() < 0.02:
                arrive += every * rng.randint(2, 6)  # back-filled a few reports later
                late += 1
            timed.append((arrive, v.vehicle_id, p))
            s += direction * speed / 3.6 * every
            if not 0 <= s <= route.length_m:
                direction = -direction
                s = min(max(s, 0.0), route.length_m)
            t += every
    timed.sort(key=lambda x: (x[0], x[1]))
    by_id = {v.vehicle_id: v for v in vehicles}
    return Stream(vehicles, [(by_id[vid], p) for _, vid, p in timed], late)


class PassThrough:
    """The baseline: what any consumer must do at least — keep the last report per vehicle."""

    def __init__(self) -> None:
        self.last: dict[int, Position] = {}

    def process(self, vehicle: VehicleContext, position: Position) -> list[AlarmEvent]:
        self.last[vehicle.vehicle_id] = position
        return []


def _timed(proc: Any, reports: Sequence[tuple[VehicleContext, Position]]) -> tuple[list[int], float, float, int]:
    """Per-call wall latencies (ns), total wall and CPU seconds, events."""
    clock = time.perf_counter_ns
    lat: list[int] = []
    events = 0
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    for v, p in reports:
        a = clock()
        events += len(proc.process(v, p))
        lat.append(clock() - a)
    return lat, time.perf_counter() - t0, time.process_time() - c0, events


def _pct(ns: list[int]) -> dict[str, float]:
    q = statistics.quantiles(ns, n=100)
    return {"p50_us": q[49] / 1000, "p99_us": q[98] / 1000, "mean_us": statistics.fmean(ns) / 1000}


def _touched(fences: list[Fence], stream: Stream) -> float:
    """How dense the scene is: fences each report's segment (from the vehicle's
    previous report) meets, on average."""
    import numpy as np
    import shapely

    from icvcloud.engine.fenceindex import FenceIndex

    index = FenceIndex(fences)
    if index.tree is None:
        return 0.0
    last: dict[int, tuple[float, float]] = {}
    segs = []
    for v, p in stream.reports:
        q = last.get(v.vehicle_id)
        if q is not None:
            segs.append([q, (p.lon, p.lat)])
        last[v.vehicle_id] = (p.lon, p.lat)
    hits = index.tree.query(shapely.linestrings(np.array(segs)), predicate="intersects")
    return hits.shape[1] / max(1, len(segs))


def measure(vehicles: int = 10_000, fences: int = 10_000, reports_per_vehicle: int = 20, seed: int = 7,
            snapshot: bool = False, quiet: bool = False, near_share: float = 0.05, routes: int | None = None
            ) -> dict[str, Any]:
    """Build the fleet and fences, run engine and baseline over the same stream, return figures."""
    say = (lambda *a: None) if quiet else print
    proc = psutil.Process()
    net = RoadNetwork.load()
    t = time.perf_counter()
    fence_list = build_fences(fences, net, seed, near_share, routes)
    stream = build_stream(vehicles, reports_per_vehicle, net, seed)
    say(f"built {len(fence_list):,} fences and {len(stream.reports):,} reports of {vehicles:,} vehicles "
        f"({stream.late:,} late) in {time.perf_counter() - t:.1f} s")
    rss0 = proc.memory_info().rss
    t = time.perf_counter()
    engine = Engine(RuleProfiles(), fence_list, EngineConfig())
    build_s = time.perf_counter() - t
    base_ns, base_s, base_cpu, _ = _timed(PassThrough(), stream.reports)
    eng_ns, eng_s, eng_cpu, events = _timed(engine, stream.reports)
    rss1 = proc.memory_info().rss
    now = max(p.received_at for _, p in stream.reports)
    t = time.perf_counter()
    tick_events = len(engine.tick(now))
    tick_ms = (time.perf_counter() - t) * 1000
    n = len(stream.reports)
    b, e = _pct(base_ns), _pct(eng_ns)
    figures: dict[str, Any] = {
        "vehicles": vehicles, "fences": len(fence_list), "reports": n, "late_reports": stream.late,
        "fences_touched_per_report": round(_touched(fence_list, stream), 2),
        "engine_p50_us": round(e["p50_us"], 2), "engine_p99_us": round(e["p99_us"], 2),
        "engine_mean_us": round(e["mean_us"], 2), "engine_reports_per_s": round(n / eng_s),
        # CPU time is the steadier figure on a shared machine (wall time includes waiting for a core).
        "engine_cpu_us_per_report": round(eng_cpu / n * 1e6, 2),
        "baseline_cpu_us_per_report": round(base_cpu / n * 1e6, 3),
        "baseline_p50_us": round(b["p50_us"], 3), "baseline_p99_us": round(b["p99_us"], 3),
        "baseline_reports_per_s": round(n / base_s),
        "ratio_engine_to_baseline_mean": round(e["mean_us"] / b["mean_us"], 1),
        "events": events, "tick_ms": round(tick_ms, 1), "tick_events": tick_events,
        "fence_index_build_s": round(build_s, 2),
        "engine_rss_mb": round((rss1 - rss0) / 2**20, 1),
        "late_refolded": engine.stats.refolded, "too_late": engine.stats.too_late,
        "retractions": engine.stats.retractions,
    }
    if snapshot:
        t = time.perf_counter()
        blob = engine.snapshot()
        figures["snapshot_s"] = round(time.perf_counter() - t, 2)
        figures["snapshot_mb"] = round(len(blob) / 2**20, 1)
        t = time.perf_counter()
        Engine(RuleProfiles(), fence_list).restore(blob)
        figures["restore_s"] = round(time.perf_counter() - t, 2)
    return figures


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="icv bench engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--fences", type=int, default=10_000)
    ap.add_argument("--reports", type=int, default=20, help="reports per vehicle")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--near-share", type=float, default=0.05,
                    help="share of the area fences placed near the road network's junctions")
    ap.add_argument("--routes", type=int, default=None, help="corridor fences along roads (default fences/500)")
    ap.add_argument("--snapshot", action="store_true", help="also time a snapshot and a restore")
    args = ap.parse_args(list(argv))
    f = measure(args.vehicles, args.fences, args.reports, args.seed, args.snapshot, near_share=args.near_share,
                routes=args.routes)
    print(f"== alarm engine: {f['reports']:,} reports, {f['vehicles']:,} vehicles, {f['fences']:,} fences ==")
    print(f"(scene: each report's segment meets {f['fences_touched_per_report']} fences on average)")
    print(f"{'':<14}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}{'cpu us':>9}{'reports/s':>12}")
    print(f"{'engine':<14}{f['engine_p50_us']:>9.1f}{f['engine_p99_us']:>9.1f}{f['engine_mean_us']:>9.1f}"
          f"{f['engine_cpu_us_per_report']:>9.1f}{f['engine_reports_per_s']:>12,}")
    print(f"{'pass-through':<14}{f['baseline_p50_us']:>9.2f}{f['baseline_p99_us']:>9.2f}{'':>9}"
          f"{f['baseline_cpu_us_per_report']:>9.2f}{f['baseline_reports_per_s']:>12,}")
    print(f"events {f['events']:,}; tick over the fleet {f['tick_ms']} ms; engine memory +{f['engine_rss_mb']} MB; "
          f"late reports {f['late_reports']:,} (re-folded {f['late_refolded']:,}, too late {f['too_late']})")
    if "snapshot_s" in f:
        print(f"snapshot {f['snapshot_mb']} MB in {f['snapshot_s']} s; restore {f['restore_s']} s")
    emit(f)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))

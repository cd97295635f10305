"""``icv bench engine``: the alarm rule engine's cost per report, on one core.

A fleet of N vehicles (default 10,000) drives the schematic Zibo road network
(``sim/``): each follows a random route at about its road's limit (some faster,
some stopping), reporting every 30 s (hazmat vehicles every 10 s); 2 % of the
reports arrive late (a few reports behind, as back-fill does), 0.5 % carry an
ADAS alarm, a few carry terminal alarm bits. M geofences (default 10,000) lie
around the network: circles, rectangles and polygons (some with forbidden hours,
dwell limits, speed limits, entry/exit alarms), and corridors along roads
(expressways with their road class, arterial sections with limits, some as
assigned routes).

Two scenes over the same stream (``--scenes``):

* ``spread`` — the fences across the prefecture (~100 × 100 km), as a real city's
  schools, depots, plants and zones are: most reports are far from any fence;
* ``dense`` — a share of them crowded onto the schematic network's few hundred km
  of road, and route corridors along it: most reports are inside or at a fence.

In each, the reports are split by what they ask of the engine: **common** — in
device-time order, no alarm bits or active-safety items, and no fence's bounding
box anywhere along the segment from the vehicle's previous report (a vehicle
driving normally, away from fences) — and the rest (**near fences**, late data,
alarms). The alarm consumer decodes each report just before the engine sees it,
so the bench builds the ``Position`` objects in chunks of 64 right before timing
them; the first 20 % of the stream (every vehicle's first reports: its state and
rule set being set up) is a warm-up, not timed; the garbage collector is tuned as
``icv serve`` tunes it (``--gc default`` for Python's defaults).

Measured in the same run, on the same stream: the engine (``Engine.process``),
and as baseline a trivial pass-through that only keeps each vehicle's last
report. Figures per scene: µs per report p50/p99/mean (wall, per call) overall
and per kind of report, CPU µs per report and reports/s on one core, a ``tick``
over the whole fleet, memory, and (``--snapshot``) the cost of a snapshot, an
incremental one and a restore. :func:`measure` is what ``bench/alarms.py`` imports.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
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
#: (near_share, routes) of each scene; routes None = fences / 500.
SCENES: dict[str, tuple[float, int | None]] = {"spread": (0.0, 0), "dense": (0.05, None)}
#: Reports decoded at a time before the engine sees them (as the alarm consumer does).
CHUNK = 64
WARMUP_SHARE = 0.2


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


#: One report before decoding: (vehicle index, seconds after START, seq, lat, lon,
#: speed km/h, alarm bits, extras).
Raw = tuple[int, float, int, float, float, float, int, dict[str, Any]]


@dataclass
class Stream:
    vehicles: list[VehicleContext]
    reports: list[Raw]  # in arrival order
    late: int

    def positions(self, start: int, stop: int) -> list[tuple[VehicleContext, Position]]:
        """Reports ``start:stop`` decoded: what the alarm consumer hands the engine."""
        out = []
        for vi, t, seq, lat, lon, speed, alarm, extras in self.reports[start:stop]:
            v = self.vehicles[vi]
            when = START + timedelta(seconds=t)
            out.append((v, Position(device_id=v.device_id, device_time=when, seq=seq,
                                    received_at=when + timedelta(seconds=1), lat=lat, lon=lon, speed_kmh=speed,
                                    heading_deg=0, alarm=alarm, status=0b11, extras=dict(extras))))
        return out


def build_stream(n_vehicles: int, reports_per_vehicle: int, net: RoadNetwork, seed: int = 7,
                 every_s: float | None = None) -> Stream:
    """Reports of ``n_vehicles`` driving the network, in arrival order: every ``every_s``
    seconds, or by default every 30 s (hazmat vehicles every 10 s)."""
    rng = random.Random(seed)
    types = list(TYPES)
    weights = list(TYPES.values())
    vehicles = [VehicleContext(i + 1, f"1{i:010d}", org_id=1 + i % 50, vehicle_type=rng.choices(types, weights)[0],
                               group=f"g{i % 200}") for i in range(n_vehicles)]
    timed: list[tuple[float, int, Raw]] = []
    late = 0
    for vi, v in enumerate(vehicles):
        route = net.random_route(rng, min_length_m=5000)
        every = every_s if every_s is not None else 10.0 if v.vehicle_type.startswith("hazmat") else 30.0
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
            if rng.random() < 0.005:
                extras["0x64"] = _adas_json(START + timedelta(seconds=t), k)
            arrive = t
            if rng.random() < 0.02:
                arrive += every * rng.randint(2, 6)  # back-filled a few reports later
                late += 1
            timed.append((arrive, v.vehicle_id, (vi, t, k, lat, lon, round(speed, 1), alarm, extras)))
            s += direction * speed / 3.6 * every
            if not 0 <= s <= route.length_m:
                direction = -direction
                s = min(max(s, 0.0), route.length_m)
            t += every
    timed.sort(key=lambda x: (x[0], x[1]))
    return Stream(vehicles, [r for _, _, r in timed], late)


class PassThrough:
    """The baseline: what any consumer must do at least — keep the last report per vehicle."""

    def __init__(self) -> None:
        self.last: dict[int, Position] = {}

    def process(self, vehicle: VehicleContext, position: Position) -> list[AlarmEvent]:
        self.last[vehicle.vehicle_id] = position
        return []


def common_reports(fences: list[Fence], stream: Stream) -> list[bool]:
    """Per report: is it the common case — in device-time order for its vehicle, no
    alarm bits or active-safety items, and no fence's (or limit zone's) bounding box
    meeting the box of the segment from the vehicle's previous report?"""
    import numpy as np
    import shapely

    from icvcloud.engine.fenceindex import FenceIndex

    index = FenceIndex(fences)
    last: dict[int, tuple[float, float, float]] = {}
    plain: list[bool] = []
    boxes: list[tuple[float, float, float, float]] = []
    for vi, t, _, lat, lon, _, alarm, extras in stream.reports:
        prev = last.get(vi)
        in_order = prev is None or t > prev[0]
        plain.append(in_order and not alarm and not extras)
        x0, y0 = (prev[1], prev[2]) if prev is not None else (lon, lat)
        boxes.append((min(x0, lon), min(y0, lat), max(x0, lon), max(y0, lat)))
        if in_order:
            last[vi] = (t, lon, lat)
    if index.tree is None:
        return plain
    hits = index.tree.query(shapely.box(*np.array(boxes).T))
    near = np.zeros(len(boxes), dtype=bool)
    near[hits[0]] = True
    return [p and not n for p, n in zip(plain, near.tolist(), strict=True)]


@dataclass
class Timing:
    lat_ns: list[int]  # per timed call, wall
    cpu_s: float  # over the timed calls
    wall_s: float
    events: int


def run_stream(proc: Any, stream: Stream, start: int, stop: int, timed: bool) -> Timing:
    """Feed reports ``start:stop`` to ``proc`` in chunks decoded just before; time each call."""
    clock = time.perf_counter_ns
    cpu = time.process_time
    lat: list[int] = []
    cpu_s = wall_s = 0.0
    events = 0
    for i in range(start, stop, CHUNK):
        chunk = stream.positions(i, min(stop, i + CHUNK))
        c0, w0 = cpu(), time.perf_counter()
        for v, p in chunk:
            a = clock()
            events += len(proc.process(v, p))
            if timed:
                lat.append(clock() - a)
        cpu_s += cpu() - c0
        wall_s += time.perf_counter() - w0
    return Timing(lat, cpu_s, wall_s, events)


def _pct(ns: Sequence[int]) -> dict[str, float]:
    if len(ns) < 2:
        return {"p50_us": math.nan, "p99_us": math.nan, "mean_us": math.nan}
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
    for vi, _, _, lat, lon, _, _, _ in stream.reports:
        q = last.get(vi)
        if q is not None:
            segs.append([q, (lon, lat)])
        last[vi] = (lon, lat)
    hits = index.tree.query(shapely.linestrings(np.array(segs)), predicate="intersects")
    return hits.shape[1] / max(1, len(segs))


_saved_gc: list[tuple[tuple[int, int, int], bool]] = []


def _tune_gc(mode: str) -> None:
    """As ``icv serve`` runs (app/run.py): what exists now frozen, the young generation
    collected every 50,000 allocations — or Python's defaults."""
    gc.collect()
    _saved_gc.append((gc.get_threshold(), gc.get_freeze_count() == 0))
    if mode == "serve":
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
    else:
        gc.set_threshold(700, 10, 10)


def _untune_gc() -> None:
    threshold, was_unfrozen = _saved_gc.pop()
    if was_unfrozen:
        gc.unfreeze()
    gc.set_threshold(*threshold)


def scene_figures(fence_list: list[Fence], stream: Stream, *, snapshot: bool = False, gc_mode: str = "serve",
                  make_engine: Callable[[list[Fence]], Any] | None = None) -> dict[str, Any]:
    """Engine and baseline over ``stream`` with these fences; the figures of one scene."""
    proc = psutil.Process()
    n_all = len(stream.reports)
    start = int(n_all * WARMUP_SHARE)
    common = common_reports(fence_list, stream)[start:]
    t = time.perf_counter()
    engine = make_engine(fence_list) if make_engine else Engine(RuleProfiles(), fence_list, EngineConfig())
    build_s = time.perf_counter() - t
    base = PassThrough()
    run_stream(base, stream, 0, start, timed=False)
    _tune_gc(gc_mode)
    b = run_stream(base, stream, start, n_all, timed=True)
    _untune_gc()
    rss0 = proc.memory_info().rss
    warm_events = run_stream(engine, stream, 0, start, timed=False).events
    _tune_gc(gc_mode)
    e = run_stream(engine, stream, start, n_all, timed=True)
    _untune_gc()
    rss1 = proc.memory_info().rss
    n = n_all - start
    now = START + timedelta(seconds=max(r[1] for r in stream.reports) + 1)
    t = time.perf_counter()
    tick_events = len(engine.tick(now))
    tick_ms = (time.perf_counter() - t) * 1000
    ep, bp = _pct(e.lat_ns), _pct(b.lat_ns)
    ec = _pct([x for x, c in zip(e.lat_ns, common, strict=True) if c])
    en = _pct([x for x, c in zip(e.lat_ns, common, strict=True) if not c])
    stats = engine.stats
    f: dict[str, Any] = {
        "fences": len(fence_list), "reports_timed": n, "warmup_reports": start,
        "fences_touched_per_report": round(_touched(fence_list, stream), 2),
        "common_share": round(sum(common) / max(1, n), 3),
        "engine_p50_us": round(ep["p50_us"], 2), "engine_p99_us": round(ep["p99_us"], 2),
        "engine_mean_us": round(ep["mean_us"], 2),
        "engine_common_p50_us": round(ec["p50_us"], 2), "engine_common_p99_us": round(ec["p99_us"], 2),
        "engine_common_mean_us": round(ec["mean_us"], 2),
        "engine_near_p50_us": round(en["p50_us"], 2), "engine_near_p99_us": round(en["p99_us"], 2),
        "engine_near_mean_us": round(en["mean_us"], 2),
        # CPU time is the steadier figure on a shared machine (wall time includes waiting for a core).
        "engine_cpu_us_per_report": round(e.cpu_s / n * 1e6, 2),
        "engine_reports_per_s": round(n / e.cpu_s) if e.cpu_s else None,
        "baseline_cpu_us_per_report": round(b.cpu_s / n * 1e6, 3),
        "baseline_p50_us": round(bp["p50_us"], 3), "baseline_p99_us": round(bp["p99_us"], 3),
        "baseline_reports_per_s": round(n / b.cpu_s) if b.cpu_s else None,
        "ratio_engine_to_baseline_mean": round(ep["mean_us"] / bp["mean_us"], 1),
        "events": e.events + warm_events, "events_timed": e.events, "tick_ms": round(tick_ms, 1),
        "tick_events": tick_events, "fence_index_build_s": round(build_s, 2),
        "engine_rss_mb": round((rss1 - rss0) / 2**20, 1),
        "late_refolded": stats.refolded, "too_late": stats.too_late, "retractions": stats.retractions,
    }
    if snapshot:
        f.update(_snapshot_figures(engine, fence_list, stream, make_engine))
    return f


def _snapshot_figures(engine: Any, fence_list: list[Fence], stream: Stream,
                      make_engine: Callable[[list[Fence]], Any] | None) -> dict[str, Any]:
    """A full snapshot, one after a few vehicles reported again (only they are written
    anew), a restore, and the readable JSON form's size for comparison."""
    out: dict[str, Any] = {}
    c = time.process_time()
    blob = engine.snapshot()
    out["snapshot_s"] = round(time.process_time() - c, 3)
    out["snapshot_mb"] = round(len(blob) / 2**20, 2)
    out["snapshot_kb_per_vehicle"] = round(len(blob) / 1024 / max(1, len(engine)), 2)
    # A few more reports (1 % of the fleet reporting again), then a second snapshot.
    fresh = [(v, p) for v, p in stream.positions(0, len(stream.vehicles) // 100)]
    for v, p in fresh:
        p.device_time += timedelta(days=1)
        p.received_at += timedelta(days=1)
        engine.process(v, p)
    c = time.process_time()
    engine.snapshot()
    out["snapshot_incremental_s"] = round(time.process_time() - c, 3)
    c = time.process_time()
    other = make_engine(fence_list) if make_engine else Engine(RuleProfiles(), fence_list, EngineConfig())
    other.restore(blob)
    out["restore_s"] = round(time.process_time() - c, 3)
    if hasattr(engine, "to_dict"):
        import json

        c = time.process_time()
        out["snapshot_json_mb"] = round(len(json.dumps(engine.to_dict(), separators=(",", ":"))) / 2**20, 2)
        out["snapshot_json_s"] = round(time.process_time() - c, 3)
    return out


def measure(vehicles: int = 10_000, fences: int = 10_000, reports_per_vehicle: int = 20, seed: int = 7,
            snapshot: bool = False, quiet: bool = False, near_share: float = 0.05, routes: int | None = None,
            gc_mode: str = "serve") -> dict[str, Any]:
    """Build the fleet and fences, run engine and baseline over the same stream (one
    scene), return its figures."""
    say = (lambda *a: None) if quiet else print
    net = RoadNetwork.load()
    t = time.perf_counter()
    fence_list = build_fences(fences, net, seed, near_share, routes)
    stream = build_stream(vehicles, reports_per_vehicle, net, seed)
    say(f"built {len(fence_list):,} fences and {len(stream.reports):,} reports of {vehicles:,} vehicles "
        f"({stream.late:,} late) in {time.perf_counter() - t:.1f} s")
    f = scene_figures(fence_list, stream, snapshot=snapshot, gc_mode=gc_mode)
    f.update({"vehicles": vehicles, "reports": len(stream.reports), "late_reports": stream.late})
    return f


def _print_scene(name: str, f: dict[str, Any]) -> None:
    print(f"== {name}: {f['fences']:,} fences; each report's segment meets {f['fences_touched_per_report']} on "
          f"average; {f['common_share'] * 100:.0f} % of the {f['reports_timed']:,} timed reports are common ==")
    print(f"{'':<22}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}{'cpu us':>9}{'reports/s':>12}")
    print(f"{'engine, all reports':<22}{f['engine_p50_us']:>9.1f}{f['engine_p99_us']:>9.1f}{f['engine_mean_us']:>9.1f}"
          f"{f['engine_cpu_us_per_report']:>9.1f}{f['engine_reports_per_s']:>12,}")
    print(f"{'  common':<22}{f['engine_common_p50_us']:>9.1f}{f['engine_common_p99_us']:>9.1f}"
          f"{f['engine_common_mean_us']:>9.1f}")
    print(f"{'  near fences, other':<22}{f['engine_near_p50_us']:>9.1f}{f['engine_near_p99_us']:>9.1f}"
          f"{f['engine_near_mean_us']:>9.1f}")
    print(f"{'pass-through':<22}{f['baseline_p50_us']:>9.2f}{f['baseline_p99_us']:>9.2f}{'':>9}"
          f"{f['baseline_cpu_us_per_report']:>9.2f}{f['baseline_reports_per_s']:>12,}")
    print(f"events {f['events']:,}; tick over the fleet {f['tick_ms']} ms; engine memory +{f['engine_rss_mb']} MB; "
          f"re-folded {f['late_refolded']:,}, too late {f['too_late']}")
    if "snapshot_s" in f:
        print(f"snapshot {f['snapshot_mb']} MB ({f['snapshot_kb_per_vehicle']} KB/vehicle) in {f['snapshot_s']} s "
              f"CPU, after 1 % of the fleet reported again {f['snapshot_incremental_s']} s; restore "
              f"{f['restore_s']} s; the same state as JSON {f.get('snapshot_json_mb')} MB")


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="icv bench engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--fences", type=int, default=10_000)
    ap.add_argument("--reports", type=int, default=20, help="reports per vehicle")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scenes", default="spread,dense", help=f"comma-separated, of {', '.join(SCENES)}")
    ap.add_argument("--near-share", type=float, default=None,
                    help="one custom scene: share of the area fences placed near the road network's junctions")
    ap.add_argument("--routes", type=int, default=None, help="with --near-share: corridors along roads")
    ap.add_argument("--gc", choices=("serve", "default"), default="serve",
                    help="garbage collector as icv serve tunes it, or Python's defaults")
    ap.add_argument("--snapshot", action="store_true", help="also time snapshots and a restore")
    args = ap.parse_args(list(argv))
    scenes = ({"custom": (args.near_share, args.routes)} if args.near_share is not None
              else {s: SCENES[s] for s in args.scenes.split(",")})
    net = RoadNetwork.load()
    t = time.perf_counter()
    stream = build_stream(args.vehicles, args.reports, net, args.seed)
    print(f"built {len(stream.reports):,} reports of {args.vehicles:,} vehicles ({stream.late:,} late) in "
          f"{time.perf_counter() - t:.1f} s")
    out: dict[str, Any] = {"vehicles": args.vehicles, "reports": len(stream.reports), "late_reports": stream.late,
                           "gc": args.gc}
    for name, (near_share, routes) in scenes.items():
        fence_list = build_fences(args.fences, net, args.seed, near_share, routes)
        f = scene_figures(fence_list, stream, snapshot=args.snapshot, gc_mode=args.gc)
        _print_scene(name, f)
        out.update({f"{name}_{k}": v for k, v in f.items()})
    emit(out)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))

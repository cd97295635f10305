"""``icv bench ingest``: virtual terminals (one process) against the platform (another).

Starts ``icv serve`` on a fresh data directory, then ``icv sim fleet`` with N
terminals; once every terminal has had a warm-up to register, measures T seconds
of reports every S seconds; samples the server's CPU and RSS; lets the store
consumer drain, stops the server and counts what the store holds. Every report the
fleet saw acknowledged must be stored (lost = 0), none twice.

Figures: reports/s stored in the measured window, ack latency p50/p95/p99 (client
side, send → 0x8001, measured window only), server CPU (cores, and µs per report
including storing — the figure that survives a busy machine), the fleet's CPU per
report, peak RSS, sent/acknowledged/stored/lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.common import MARK_POLL_S, FleetMarks, check_marks, emit, sent_in_window

TARGET_RPS = 20_000
TARGET_P99_MS = 50.0
TARGET_RSS_MB_10K = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not come up at {url}")


def _ack_buckets(metrics_url: str) -> dict[float, float]:
    """The gateway's cumulative ack-latency histogram (upper bound s → count)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=5) as r:
        text = r.read().decode()
    out: dict[float, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "icv_ack_latency_seconds":
            for sample in fam.samples:
                if sample.name.endswith("_bucket"):
                    le = float(sample.labels["le"])
                    out[le] = out.get(le, 0.0) + sample.value
    return out


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (s) of the bucket holding the q-quantile of what was observed
    between two readings of a cumulative histogram (inf: beyond the last bound)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    for b, c in zip(bounds, counts, strict=True):
        if c >= q * total:
            return b
    return float("inf")


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def start_server(data_dir: Path, jt_port: int, api_port: int, extra_env: dict[str, str] | None = None
                 ) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update({
        "ICV__STORAGE__DATA_DIR": str(data_dir),
        "ICV__JT808__PORT": str(jt_port),
        "ICV__JT808__HOST": "127.0.0.1",
        "ICV__API__PORT": str(api_port),
        "ICV__LOGGING__LEVEL": "WARNING",
        "ICV__JT808__MAX_FRAMES_PER_S": "1000",
        # The ingest path only: gateway, log, store consumer. The rule engine and
        # the attachment requester are other consumers of the same log, measured by
        # `icv bench alarms`; in one process they would share this CPU.
        "ICV__ALARMS__ENABLED": "false",
        "ICV__ATTACHMENTS__ENABLED": "false",
    })
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "serve"], env=env)


def start_fleet(port: int, vehicles: int, interval_s: float, seconds: float, warmup_s: float,
                stats_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([
        sys.executable, "-m", "icvcloud.cli", "sim", "fleet", "--port", str(port), "--vehicles", str(vehicles),
        "--interval", str(interval_s), "--seconds", str(seconds), "--warmup", str(warmup_s),
        "--stats-file", str(stats_file)])


def _cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def start_ack_server(port: int) -> subprocess.Popen[bytes]:
    """bench/ack_server.py on ``port`` (answers at once, keeps nothing), once it listens."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    server = subprocess.Popen([sys.executable, "-m", "bench.ack_server", str(port)], env=env, stdout=subprocess.PIPE)
    assert server.stdout is not None
    server.stdout.readline()  # "ready"
    return server


def run_baseline(vehicles: int, interval_s: float, seconds: float, warmup_s: float) -> dict[str, Any]:
    """The same fleet against bench/ack_server.py (answers at once, keeps nothing)."""
    tmp = Path(tempfile.mkdtemp(prefix="icv-bench-baseline-"))
    port = free_port()
    server = start_ack_server(port)
    try:
        proc = psutil.Process(server.pid)
        stats_file = tmp / "fleet.json"
        marks = FleetMarks(stats_file)
        fleet = start_fleet(port, vehicles, interval_s, seconds, warmup_s, stats_file)
        fleet_proc = psutil.Process(fleet.pid)
        cpu_warm, fleet_warm, at_warm = _cpu_s(proc), _cpu_s(fleet_proc), time.monotonic()
        warmed = warmup_s <= 0
        ended: tuple[float, float, float] | None = None
        while fleet.poll() is None:
            time.sleep(MARK_POLL_S)
            if not warmed and marks.warm():
                cpu_warm, fleet_warm, at_warm, warmed = _cpu_s(proc), _cpu_s(fleet_proc), time.monotonic(), True
            if ended is None and marks.end():
                with contextlib.suppress(psutil.Error):
                    ended = (_cpu_s(proc), _cpu_s(fleet_proc), time.monotonic())
        cpu_end, fleet_cpu, end_at = check_marks(warmed, ended)
        window = end_at - at_warm
        fl = json.loads(stats_file.read_text())
        reports = max(1, sent_in_window(fl))
        return {
            "acked_reports_per_s": reports / window,
            "ack_p50_ms": fl["ack_latency_ms"]["p50"],
            "ack_p99_ms": fl["ack_latency_ms"]["p99"],
            "server_cpu_us_per_report": (cpu_end - cpu_warm) / reports * 1e6,
            "fleet_cpu_us_per_report": (fleet_cpu - fleet_warm) / reports * 1e6,
        }
    finally:
        server.kill()
        server.wait()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def stored_keys(data_dir: Path) -> list[tuple[str, int, int]]:
    db = sqlite3.connect(data_dir / "store.db")
    try:
        return [(d, t, s) for d, t, s in db.execute("SELECT device_id, device_time_us, seq FROM positions")]
    finally:
        db.close()


@dataclass
class _Mark:
    """Both processes' CPU and the platform's counters at one moment."""

    at: float
    server_cpu: Any
    fleet_cpu_s: float
    stored: int
    acks: dict[float, float]

    @classmethod
    def take(cls, server: psutil.Process, fleet: psutil.Process | None, api: str) -> _Mark:
        fleet_cpu_s = 0.0
        if fleet is not None:
            with contextlib.suppress(psutil.Error):
                ft = fleet.cpu_times()
                fleet_cpu_s = ft.user + ft.system
        return cls(time.monotonic(), server.cpu_times(), fleet_cpu_s, int(_health(api).get("positions_stored", 0)),
                   _ack_buckets(api.removesuffix("/health") + "/metrics"))


def run(vehicles: int, interval_s: float, seconds: float, warmup_s: float, keep: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="icv-bench-ingest-"))
    jt_port, api_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}/health"
    server = start_server(tmp / "data", jt_port, api_port)
    proc = psutil.Process(server.pid)
    try:
        _wait_http(api)
        stats_file = tmp / "fleet.json"
        marks = FleetMarks(stats_file)
        fleet = start_fleet(jt_port, vehicles, interval_s, seconds, warmup_s, stats_file)
        fleet_proc = psutil.Process(fleet.pid)
        start = warm = _Mark.take(proc, fleet_proc, api)
        warmed = warmup_s <= 0
        end: _Mark | None = None
        peak_rss = 0
        while fleet.poll() is None:
            time.sleep(MARK_POLL_S)
            with contextlib.suppress(psutil.Error):
                peak_rss = max(peak_rss, proc.memory_info().rss)
            if not warmed and marks.warm():
                warm, warmed = _Mark.take(proc, fleet_proc, api), True
            if end is None and marks.end():
                end = _Mark.take(proc, fleet_proc, api)
        end = check_marks(warmed, end)
        # Let the store consumer finish what is durable: CPU per report counts the
        # whole of the work, storing included.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _health(api).get("log_lag", 1) != 0:
            time.sleep(0.2)
        drained = _Mark.take(proc, None, api)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        fl = json.loads(stats_file.read_text())
        keys = stored_keys(tmp / "data")
        stored = {(d, t, s) for d, t, s in keys}
        acked = {(p.lstrip("0"), int(datetime.fromisoformat(t).timestamp() * 1e6), s) for p, t, s in fl["acknowledged"]}
        window = max(1e-9, end.at - warm.at)
        cpu = lambda a, b: (b.server_cpu.user + b.server_cpu.system) - (a.server_cpu.user + a.server_cpu.system)  # noqa: E731
        in_window = max(1, drained.stored - warm.stored)
        fleet_reports = max(1, sent_in_window(fl))
        return {
            "vehicles": vehicles,
            "interval_s": interval_s,
            "seconds": seconds,
            "warmup_s": warmup_s,
            "offered_reports_per_s": vehicles / interval_s,
            # Sustained: stored between the end of the warm-up and the end of the run.
            "stored_reports_per_s": (end.stored - warm.stored) / window,
            "ack_p50_ms": fl["ack_latency_ms"]["p50"],
            "ack_p95_ms": fl["ack_latency_ms"]["p95"],
            "ack_p99_ms": fl["ack_latency_ms"]["p99"],
            # Inside the server (frame read → acknowledgement written), bucket upper
            # bounds: what the client-side figures add is the two processes' queues.
            "server_ack_p50_ms_at_most": bucket_quantile(warm.acks, end.acks, 0.50) * 1000,
            "server_ack_p99_ms_at_most": bucket_quantile(warm.acks, end.acks, 0.99) * 1000,
            "connected_peak": fl.get("connected_peak", vehicles),
            "server_cpu_cores": cpu(warm, end) / window,
            # CPU per report is the figure that survives a busy machine.
            "server_cpu_us_per_report": cpu(warm, drained) / in_window * 1e6,
            "server_cpu_system_share": ((drained.server_cpu.system - warm.server_cpu.system) / cpu(warm, drained)
                                        if cpu(warm, drained) > 0 else 0.0),
            "fleet_cpu_us_per_report": (end.fleet_cpu_s - warm.fleet_cpu_s) / fleet_reports * 1e6,
            "warmup_server_cpu_s": cpu(start, warm),
            "load_average_1m": os.getloadavg()[0],
            "server_peak_rss_mb": peak_rss / 2**20,
            "sent": fl["sent"],
            "acknowledged": len(acked),
            "stored": len(keys),
            "duplicates_stored": len(keys) - len(stored),
            "lost": len(acked - stored),
        }
    finally:
        if server.poll() is None:
            server.kill()
        if not keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="icv bench ingest")
    ap.add_argument("--vehicles", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0, help="report interval per vehicle, s")
    ap.add_argument("--seconds", type=float, default=30.0, help="measured seconds, after the warm-up")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds for every terminal to register first (default: 5 + vehicles / 1000)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the baseline run (the same fleet against a server that stores nothing)")
    ap.add_argument("--mode", choices=["embedded", "scaleout"], default="embedded",
                    help="scaleout: gateways and workers over NATS JetStream (R3, scripts/nats-cluster) and "
                         "PostgreSQL, for each of --configs, plus the embedded run for comparison")
    ap.add_argument("--configs", default="1x1,2x2",
                    help="scaleout: GATEWAYSxWORKERS configurations to run (default: 1x1,2x2)")
    ap.add_argument("--partitions", type=int, default=16, help="scaleout: log partitions")
    args = ap.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else 5.0 + args.vehicles / 1000
    if args.mode == "scaleout":
        return _main_scaleout(args, warmup)
    f = run(args.vehicles, args.interval, args.seconds, warmup, args.keep)
    if not args.no_baseline:
        base = run_baseline(args.vehicles, args.interval, args.seconds, warmup)
        f["baseline"] = base
        # How much of a core icvcloud spends per report beyond answering it at once.
        f["cpu_ratio_to_baseline"] = f["server_cpu_us_per_report"] / max(1e-9, base["server_cpu_us_per_report"])
    print("== the ingest path (gateway, durable log, store consumer); alarms: `icv bench alarms`")
    print(f"== ingest: {f['vehicles']} terminals every {f['interval_s']} s for {f['seconds']} s "
          f"after a {f['warmup_s']:.0f} s warm-up "
          f"(offered {f['offered_reports_per_s']:,.0f} reports/s) ==")
    print(f"stored           {f['stored_reports_per_s']:>10,.0f} reports/s   (target >= {TARGET_RPS:,})")
    print(f"ack latency      p50 {f['ack_p50_ms']:.1f} ms  p95 {f['ack_p95_ms']:.1f} ms  "
          f"p99 {f['ack_p99_ms']:.1f} ms   (target p99 <= {TARGET_P99_MS} ms)")
    print(f"  inside server  p50 <= {f['server_ack_p50_ms_at_most']:g} ms  p99 <= {f['server_ack_p99_ms_at_most']:g} ms"
          "   (frame read -> ack written; histogram bucket bounds)")
    print(f"server           {f['server_cpu_cores']:.2f} cores, peak RSS {f['server_peak_rss_mb']:.0f} MB, "
          f"{f['server_cpu_us_per_report']:.0f} µs CPU per report ({f['server_cpu_system_share']:.0%} in the kernel; "
          f"fleet {f['fleet_cpu_us_per_report']:.0f} µs); "
          f"load average {f['load_average_1m']:.1f} on {os.cpu_count()} cores")
    if "baseline" in f:
        b = f["baseline"]
        print(f"baseline         {b['acked_reports_per_s']:>10,.0f} reports/s acked by a server that stores "
              f"nothing; ack p50 {b['ack_p50_ms']:.1f} ms p99 {b['ack_p99_ms']:.1f} ms; "
              f"{b['server_cpu_us_per_report']:.0f} µs CPU per report (icvcloud: "
              f"{f['cpu_ratio_to_baseline']:.1f}x)")
    print(f"reports          sent {f['sent']}, acknowledged {f['acknowledged']}, stored {f['stored']}, "
          f"lost {f['lost']}, duplicates {f['duplicates_stored']}")
    emit(f)
    return 0 if f["lost"] == 0 and f["duplicates_stored"] == 0 else 1


def _main_scaleout(args: argparse.Namespace, warmup: float) -> int:
    from bench.ingest_scaleout import print_scaleout, run_scaleout

    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",") if c]
    runs = [run_scaleout(args.vehicles, args.interval, args.seconds, warmup, g, w, args.partitions) for g, w in configs]
    emb = run(args.vehicles, args.interval, args.seconds, warmup)
    print(f"== ingest, scale-out vs embedded: {args.vehicles} terminals every {args.interval} s for {args.seconds} s "
          f"after a {warmup:.0f} s warm-up (offered {args.vehicles / args.interval:,.0f} reports/s) on "
          f"{os.cpu_count()} cores ==")
    for f in runs:
        print_scaleout(f)
    print(f"-- embedded (same run): stored {emb['stored_reports_per_s']:,.0f} reports/s, ack p50 "
          f"{emb['ack_p50_ms']:.1f} ms p95 {emb['ack_p95_ms']:.1f} ms p99 {emb['ack_p99_ms']:.1f} ms, "
          f"{emb['server_cpu_us_per_report']:.0f} µs CPU per report, lost {emb['lost']}, "
          f"duplicates {emb['duplicates_stored']}")
    figures: dict[str, Any] = {"mode": "scaleout", "embedded": emb,
                               "scaleout": {f"{f['gateways']}g{f['workers']}w": f for f in runs}}
    emit(figures)
    ok = all(f["lost"] == 0 and f["duplicates_stored"] == 0 for f in [*runs, emb])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

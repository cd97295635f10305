"""``icv bench ingest``: virtual terminals (one process) against the platform (another).

Starts ``icv serve`` on a fresh data directory, then ``icv sim fleet`` with N
terminals reporting every S seconds for T seconds; samples the server's CPU and
RSS; stops the server and counts what the store holds. Every report the fleet
saw acknowledged must be stored (lost = 0), none twice.

Figures: reports/s stored during the run, ack latency p50/p95/p99 (client side,
send → 0x8001), server CPU (cores) and peak RSS, sent/acknowledged/stored/lost.
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
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.common import emit

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
    })
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "serve"], env=env)


def stored_keys(data_dir: Path) -> list[tuple[str, int, int]]:
    db = sqlite3.connect(data_dir / "store.db")
    try:
        return [(d, t, s) for d, t, s in db.execute("SELECT device_id, device_time_us, seq FROM positions")]
    finally:
        db.close()


def run(vehicles: int, interval_s: float, seconds: float, keep: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="icv-bench-ingest-"))
    jt_port, api_port = free_port(), free_port()
    server = start_server(tmp / "data", jt_port, api_port)
    proc = psutil.Process(server.pid)
    try:
        _wait_http(f"http://127.0.0.1:{api_port}/health")
        stats_file = tmp / "fleet.json"
        fleet = subprocess.Popen([
            sys.executable, "-m", "icvcloud.cli", "sim", "fleet", "--port", str(jt_port), "--vehicles",
            str(vehicles), "--interval", str(interval_s), "--seconds", str(seconds), "--stats-file", str(stats_file)])
        fleet_proc = psutil.Process(fleet.pid)
        cpu0 = proc.cpu_times()
        fleet_cpu_s = 0.0
        t0 = time.monotonic()
        peak_rss = 0
        samples: list[tuple[float, int]] = []
        while fleet.poll() is None:
            time.sleep(0.5)
            peak_rss = max(peak_rss, proc.memory_info().rss)
            with contextlib.suppress(psutil.Error):
                ft = fleet_proc.cpu_times()
                fleet_cpu_s = ft.user + ft.system
            try:
                h = _health(f"http://127.0.0.1:{api_port}/health")
                samples.append((time.monotonic() - t0, int(h.get("positions_stored", 0))))
            except OSError:
                pass
        wall = time.monotonic() - t0
        cpu1 = proc.cpu_times()
        connections_peak = vehicles
        # Let the store consumer finish what is durable, then stop the server.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            h = _health(f"http://127.0.0.1:{api_port}/health")
            if h.get("log_lag", 1) == 0:
                break
            time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        fl = json.loads(stats_file.read_text())
        keys = stored_keys(tmp / "data")
        stored = {(d, t, s) for d, t, s in keys}
        acked = {(p.lstrip("0"), int(datetime.fromisoformat(t).timestamp() * 1e6), s) for p, t, s in fl["acknowledged"]}
        lost = len(acked - stored)
        # Sustained rate: positions stored between 20 % and 90 % of the run.
        steady = [(t, n) for t, n in samples if 0.2 * seconds <= t <= 0.9 * seconds]
        rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) > 1 else len(keys) / wall
        cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        reports = max(1, len(keys))
        return {
            "vehicles": vehicles,
            "interval_s": interval_s,
            "seconds": seconds,
            "offered_reports_per_s": vehicles / interval_s,
            "stored_reports_per_s": rate,
            "ack_p50_ms": fl["ack_latency_ms"]["p50"],
            "ack_p95_ms": fl["ack_latency_ms"]["p95"],
            "ack_p99_ms": fl["ack_latency_ms"]["p99"],
            "connected_peak": fl.get("connected_peak", connections_peak),
            "server_cpu_cores": cpu_s / wall,
            # CPU per stored report: the figure that survives a busy machine. The
            # fleet's includes its start-up (registration of every terminal).
            "server_cpu_us_per_report": cpu_s / reports * 1e6,
            "server_cpu_system_share": (cpu1.system - cpu0.system) / cpu_s if cpu_s else 0.0,
            "fleet_cpu_us_per_report": fleet_cpu_s / reports * 1e6,
            "load_average_1m": os.getloadavg()[0],
            "server_peak_rss_mb": peak_rss / 2**20,
            "sent": fl["sent"],
            "acknowledged": len(acked),
            "stored": len(keys),
            "duplicates_stored": len(keys) - len(stored),
            "lost": lost,
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
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args(argv)
    f = run(args.vehicles, args.interval, args.seconds, args.keep)
    print(f"== ingest: {f['vehicles']} terminals every {f['interval_s']} s for {f['seconds']} s "
          f"(offered {f['offered_reports_per_s']:,.0f} reports/s) ==")
    print(f"stored           {f['stored_reports_per_s']:>10,.0f} reports/s   (target >= {TARGET_RPS:,})")
    print(f"ack latency      p50 {f['ack_p50_ms']:.1f} ms  p95 {f['ack_p95_ms']:.1f} ms  "
          f"p99 {f['ack_p99_ms']:.1f} ms   (target p99 <= {TARGET_P99_MS} ms)")
    print(f"server           {f['server_cpu_cores']:.2f} cores, peak RSS {f['server_peak_rss_mb']:.0f} MB, "
          f"{f['server_cpu_us_per_report']:.0f} µs CPU per report ({f['server_cpu_system_share']:.0%} in the kernel; "
          f"fleet {f['fleet_cpu_us_per_report']:.0f} µs); "
          f"load average {f['load_average_1m']:.1f} on {os.cpu_count()} cores")
    print(f"reports          sent {f['sent']}, acknowledged {f['acknowledged']}, stored {f['stored']}, "
          f"lost {f['lost']}, duplicates {f['duplicates_stored']}")
    emit(f)
    return 0 if f["lost"] == 0 and f["duplicates_stored"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

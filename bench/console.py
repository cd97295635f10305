"""``icv bench console``: how fast the web console shows a live update of 10,000 vehicles.

Starts the platform (``icv serve``, provisioned like ``icv demo``) and, in a process
of its own, ``icv sim fleet`` with N virtual vehicles (10,000 by default) reporting
over JT/T 808, opens the console in headless Chromium (Debian's, driven over the
DevTools protocol without watching the page's network: bench/cdp.py says why), logs
in and waits until every vehicle is on the map. Then, in the browser:

* **full update**: the console re-subscribes to the live feed, the server answers
  with a snapshot of all N vehicles, and the console times the path from the
  WebSocket message's arrival (before JSON parsing) to the first animation frame
  after a frame was drawn with the new data (performance.measure
  ``icv:live-to-frame``). Repeated ``--updates`` times. Target: p95 ≤ 100 ms.
* **baseline**: in the same page and run, a second WebSocket receives the same
  snapshot and only parses it and waits for the next animation frame — the floor
  any console pays for a message of that size on this machine; the ratio to it
  survives a noisy machine better than the absolute figure.
* **live**: for ``--live-seconds`` the fleet's ordinary position batches: their
  arrival-to-frame latency, and the intervals between animation frames while they
  stream in (does the map keep updating smoothly).

The last line of output is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import emit
from bench.ingest import free_port

TARGET_FULL_UPDATE_MS = 100.0
#: The stages of an update's latency the console records (web/src/perf.ts); draw = tiles + frame.
STAGES = ("parse", "queue", "build", "worker", "draw", "tiles", "frame")


def _pct(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    if len(values) == 1:
        v = float(values[0])
        return {"p50": v, "p95": v, "p99": v, "max": v}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": float(max(values))}


def _get(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
        return json.loads(r.read())


def _login(base: str) -> str:
    req = urllib.request.Request(base + "/api/v1/auth/login", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"username": "admin", "password": "icvcloud-demo"}).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return str(json.loads(r.read())["token"])


async def _provision(data_dir: Path, vehicles: int, seed: int) -> None:
    """The demo's organisations, admin user and the fleet's vehicles (types, plates,
    companies), as `icv demo` provisions them."""

    from icvcloud.app.run import provision_demo
    from icvcloud.sim import Fleet
    from icvcloud.store.sqlite import SqliteStore

    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "store.db")
    await store.open()
    try:
        await provision_demo(store, Fleet(vehicles=vehicles, seed=seed))
    finally:
        await store.close()


def start_platform(data_dir: Path, vehicles: int, interval_s: float | None, log: Path
                   ) -> tuple[list[subprocess.Popen[bytes]], str]:
    """`icv serve` and, in a process of its own, `icv sim fleet`: 10,000 terminals and
    the 10,000 connections they open would not fit one process's file descriptors."""
    asyncio.run(_provision(data_dir, vehicles, 808))
    api, jt = free_port(), free_port()
    env = dict(os.environ, ICV__STORAGE__DATA_DIR=str(data_dir), ICV__API__PORT=str(api), ICV__API__HOST="127.0.0.1",
               ICV__JT808__PORT=str(jt), ICV__JT808__HOST="127.0.0.1", ICV__LOGGING__LEVEL="WARNING",
               ICV__LOGGING__JSON="false")
    out = log.open("wb")
    server = subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "serve"], env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{api}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(base + "/health")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("icv serve did not start") from None
            time.sleep(0.2)
    fleet_args = ["--interval", str(interval_s)] if interval_s else []
    fleet = subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "sim", "fleet", "--port", str(jt), "--vehicles",
                              str(vehicles), "--seed", "808", *fleet_args], env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    return [fleet, server], base


def wait_for_fleet(procs: list[subprocess.Popen[bytes]], base: str, vehicles: int, timeout_s: float) -> str:
    """Until every vehicle has reported a position; returns an admin token."""
    deadline = time.monotonic() + timeout_s
    token = None
    last = ""
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            token = token or _login(base)
            stats = _get(base + "/api/v1/vehicles/stats", token)
            with_position = sum(len([v for v in _get(f"{base}/api/v1/vehicles?limit=1000&offset={o}", token)["items"]
                                     if v["position"]]) for o in range(0, stats["total"], 1000))
            last = f"{stats['total']} vehicles registered, {with_position} with a position"
            if stats["total"] >= vehicles and with_position >= vehicles:
                return token
        except OSError:
            pass
        time.sleep(2.0)
    raise RuntimeError(f"the fleet did not come up within {timeout_s:.0f} s ({last})")


_BASELINE_JS = """async ([token, rounds]) => {
  // The floor: the same snapshot over a second socket, parsed, then one animation frame.
  const ws = new WebSocket(`ws://${location.host}/api/v1/live?token=${encodeURIComponent(token)}`);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const out = [];
  for (let i = 0; i < rounds; i++) {
    const ms = await new Promise((ok) => {
      ws.onmessage = (ev) => {
        const t0 = performance.now();
        const msg = JSON.parse(ev.data);
        if (msg.type !== 'snapshot') return;
        requestAnimationFrame(() => ok([performance.now() - t0, msg.items.length]));
      };
      ws.send('{}');
    });
    out.push(ms);
    await new Promise((ok) => setTimeout(ok, 150));
  }
  ws.close();
  return out;
}"""

_FRAMES_JS = """async (seconds) => {
  const gaps = [];
  let last = performance.now();
  const end = last + seconds * 1000;
  await new Promise((ok) => {
    const step = (now) => { gaps.push(now - last); last = now; if (now < end) requestAnimationFrame(step); else ok(); };
    requestAnimationFrame(step);
  });
  return gaps;
}"""


def print_profile(profile: dict[str, Any], top: int = 15) -> None:
    """The page's main thread during the full updates: functions by self time (a
    Chrome DevTools CPU profile; the file written holds the whole of it)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_us: dict[str, float] = {}
    for node_id, dt in zip(profile.get("samples", []), deltas, strict=False):
        f = nodes[node_id]["callFrame"]
        url = f.get("url", "").rsplit("/", 1)[-1]
        name = f"{f.get('functionName') or '(anonymous)'} {url}:{f.get('lineNumber', 0) + 1}" if url else \
            f.get("functionName") or "(anonymous)"
        self_us[name] = self_us.get(name, 0.0) + dt
    total = sum(self_us.values()) or 1.0
    print(f"page CPU profile during the full updates ({total / 1e3:.0f} ms sampled), self time:")
    for name, us in sorted(self_us.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {us / total:6.1%}  {us / 1e3:8.1f} ms  {name}")


_LOGIN_JS = """([user, password]) => {
  document.getElementById('login-username').value = user;
  document.getElementById('login-password').value = password;
  document.getElementById('login-submit').click();
}"""

_RENDERER_JS = """() => { const gl = document.createElement('canvas').getContext('webgl2');
  const d = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return gl ? gl.getParameter(d ? d.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : 'none'; }"""


def measure(base: str, token: str, vehicles: int, updates: int, live_seconds: float, artifacts: Path | None,
            viewport: tuple[int, int], unpaced: bool, fleet: subprocess.Popen[bytes] | None,
            cpu_profile: Path | None = None) -> dict[str, Any]:
    import icvcloud.tools.browser as chromium
    from bench.cdp import Chromium

    args = (*chromium.CHROMIUM_ARGS, *(chromium.UNPACED_ARGS if unpaced else ()))
    with Chromium(args, viewport, free_port()) as b:
        page = b.page
        page.goto(base + "/")
        page.wait_for("() => !!document.getElementById('login-username')?.offsetParent", 60)
        page.evaluate(_LOGIN_JS, ["admin", "icvcloud-demo"])
        page.wait_for(f"() => window.icvConsole && window.icvConsole.registryLoaded "
                      f"&& window.icvConsole.fleet.size >= {vehicles} "
                      f"&& window.icvConsole.live.received.snapshot > 0", 180)
        page.wait_for(f"() => window.icvConsole.perf.samples.some(s => s.kind === 'snapshot' "
                      f"&& s.items >= {vehicles})", 60)
        # Count the GPU's (software GL's) work in each measured map frame, not only the commands issued.
        page.evaluate("() => { window.icvConsole.perf.gpuSync = true; }")
        renderer = page.evaluate(_RENDERER_JS)
        if artifacts:
            page.screenshot(artifacts / "bench-city.png")
        full: list[dict[str, Any]] = []
        if fleet is not None:
            # Full updates are timed with the fleet paused: the browser's work alone, not
            # the two cores it shares with 10,000 terminals and the platform.
            fleet.send_signal(signal.SIGSTOP)
            time.sleep(1.0)
        if cpu_profile is not None:
            page.call("Profiler.enable")
            page.call("Profiler.setSamplingInterval", interval=500)
            page.call("Profiler.start")
        for _ in range(updates):
            seen = page.evaluate("() => window.icvConsole.perf.samples.length")
            page.evaluate("() => window.icvConsole.live.resubscribe()")
            page.wait_for(f"() => window.icvConsole.perf.samples.slice({seen}).some(s => s.kind === 'snapshot' "
                          f"&& s.items >= {vehicles})", 60, every_s=0.05)
            full += page.evaluate(f"() => window.icvConsole.perf.samples.slice({seen})"
                                  f".filter(s => s.kind === 'snapshot' && s.items >= {vehicles})")
            time.sleep(0.3)
        if cpu_profile is not None:
            profile = page.call("Profiler.stop")["profile"]
            cpu_profile.write_text(json.dumps(profile))
            print_profile(profile)
        base_rounds = page.evaluate(_BASELINE_JS, [token, max(5, updates // 2)])
        baseline = [ms for ms, n in base_rounds if n >= vehicles]
        if fleet is not None:
            fleet.send_signal(signal.SIGCONT)
            # Every terminal's report is overdue after the pause: a burst of them all at
            # once, not the ordinary stream the live figures are about.
            time.sleep(5.0)
        seen = page.evaluate("() => window.icvConsole.perf.samples.length")
        gaps = page.evaluate(_FRAMES_JS, live_seconds)
        live = page.evaluate(f"() => window.icvConsole.perf.samples.slice({seen})"
                             f".filter(s => s.kind === 'positions')")
        if artifacts:
            page.screenshot(artifacts / "bench-after.png")
        version = b.version
    full_p = _pct([s["ms"] for s in full])
    stages = {f"full_update_{k}_ms_p50": statistics.median(s["stages"].get(k, 0.0) for s in full)
              for k in STAGES} if full else {}
    base_p = _pct(baseline)
    live_p = _pct([s["ms"] for s in live])
    # Where the slow live batches spend their time (p95 of each stage).
    stages.update({f"live_batch_{k}_ms_p95": _pct([s["stages"].get(k, 0.0) for s in live])["p95"]
                   for k in STAGES} if live else {})
    gap_p = _pct(gaps)
    items = sum(s["items"] for s in live)
    return {
        "vehicles": vehicles,
        "full_updates": len(full),
        "full_update_ms_p50": full_p["p50"],
        "full_update_ms_p95": full_p["p95"],
        "full_update_ms_p99": full_p["p99"],
        "full_update_ms_max": full_p["max"],
        **stages,
        "baseline_parse_frame_ms_p50": base_p["p50"],
        "full_update_vs_baseline_p50": full_p["p50"] / base_p["p50"] if baseline else float("nan"),
        "live_batches": len(live),
        "live_items_per_s": items / live_seconds,
        "live_batch_ms_p50": live_p["p50"],
        "live_batch_ms_p95": live_p["p95"],
        "live_batch_ms_p99": live_p["p99"],
        "frame_interval_ms_p50": gap_p["p50"],
        "frame_interval_ms_p95": gap_p["p95"],
        "frame_interval_ms_p99": gap_p["p99"],
        "frames_over_100ms": sum(1 for g in gaps if g > 100),
        "target_full_update_ms": TARGET_FULL_UPDATE_MS,
        "meets_target": full_p["p95"] <= TARGET_FULL_UPDATE_MS,
        "browser": version,
        "viewport": f"{viewport[0]}x{viewport[1]}",
        "frames": "unpaced" if unpaced else "paced",
        "full_updates_with_fleet": "paused" if fleet is not None else "reporting",
        "webgl": renderer,
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="icv bench console", description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=None,
                    help="report interval of the virtual fleet (s; default: 10-30 s, drawn per terminal)")
    ap.add_argument("--updates", type=int, default=30, help="full updates (snapshots of every vehicle) to time")
    ap.add_argument("--live-seconds", type=float, default=20.0, help="how long to watch ordinary live batches")
    ap.add_argument("--startup-timeout", type=float, default=300.0)
    ap.add_argument("--artifacts", default="artifacts/console", help="screenshots go here ('' for none)")
    ap.add_argument("--viewport", default="1440x900", help="browser window, WIDTHxHEIGHT")
    ap.add_argument("--fleet-during-full", action="store_true",
                    help="keep the fleet reporting while full updates are timed (default: paused for them)")
    ap.add_argument("--unpaced", action="store_true",
                    help="draw frames as soon as there is something new (Chromium --disable-frame-rate-limit)")
    ap.add_argument("--cpu-profile", metavar="FILE",
                    help="record the page's CPU profile during the full updates to FILE (.cpuprofile, for "
                         "Chrome DevTools) and print the functions with the most self time")
    args = ap.parse_args(argv)

    from icvcloud.api.console import DIST_DIR

    if not (DIST_DIR / "index.html").exists():
        print("the web console is not built: run scripts/build-console", file=sys.stderr)
        return 2
    artifacts = Path(args.artifacts) if args.artifacts else None
    if artifacts:
        artifacts.mkdir(parents=True, exist_ok=True)
    # SIGTERM (a CI timeout, kill) unwinds like ^C, so the demo and the browser are stopped too.
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="icv-bench-console-"))
    t0 = time.monotonic()
    procs, base = start_platform(tmp / "data", args.vehicles, args.interval, tmp / "platform.log")
    try:
        token = wait_for_fleet(procs, base, args.vehicles, args.startup_timeout)
        print(f"platform up with {args.vehicles} vehicles reporting in {time.monotonic() - t0:.0f} s; "
              "measuring in Chromium", flush=True)
        width, height = (int(v) for v in args.viewport.lower().split("x"))
        fig = measure(base, token, args.vehicles, args.updates, args.live_seconds, artifacts, (width, height),
                      args.unpaced, None if args.fleet_during_full else procs[0],
                      Path(args.cpu_profile) if args.cpu_profile else None)
    except Exception:
        print((tmp / "platform.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in procs:  # the fleet first, then the platform
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"full update of {fig['vehicles']} vehicles, WebSocket message → drawn frame ({fig['full_updates']} runs, "
          f"fleet {fig['full_updates_with_fleet']}): "
          f"p50 {fig['full_update_ms_p50']:.1f} ms, p95 {fig['full_update_ms_p95']:.1f} ms, "
          f"p99 {fig['full_update_ms_p99']:.1f} ms (target ≤ {TARGET_FULL_UPDATE_MS:.0f} ms: "
          f"{'met' if fig['meets_target'] else 'NOT met'})")
    print("  of which (p50): " + ", ".join(f"{k} {fig[f'full_update_{k}_ms_p50']:.1f} ms"
                                          for k in STAGES))
    print(f"baseline (parse the same message + one frame): p50 {fig['baseline_parse_frame_ms_p50']:.1f} ms; "
          f"ratio {fig['full_update_vs_baseline_p50']:.2f}")
    print(f"live batches: {fig['live_batches']} ({fig['live_items_per_s']:.0f} vehicle updates/s), latency "
          f"p50 {fig['live_batch_ms_p50']:.1f} / p95 {fig['live_batch_ms_p95']:.1f} / "
          f"p99 {fig['live_batch_ms_p99']:.1f} ms")
    if "live_batch_parse_ms_p95" in fig:
        print("  of which (p95 of each): " + ", ".join(f"{k} {fig[f'live_batch_{k}_ms_p95']:.1f} ms"
                                                      for k in STAGES))
    print(f"frame interval while streaming: p50 {fig['frame_interval_ms_p50']:.1f} / p95 "
          f"{fig['frame_interval_ms_p95']:.1f} / p99 {fig['frame_interval_ms_p99']:.1f} ms, "
          f"{fig['frames_over_100ms']} frames over 100 ms; {fig['browser']} ({fig['frames']} frames, "
          f"{fig['viewport']}), WebGL: {fig['webgl']}")
    emit(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())

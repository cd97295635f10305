"""``icv bench codec``: JT/T 808 decode and encode throughput on one core.

Frames: 0x0200 with the additional items real terminals send every time
(mileage, fuel, extended signals, IO, signal strength, satellites) from a
simulated fleet of 2,000 terminals reporting within one minute; 0x0704 with 10
items; 0x0200 carrying an ADAS (0x64) alarm. The baseline, measured in the same
run, is the least a decoder can do: un-escape, verify the XOR check code,
``struct.unpack`` the 0x0200 header and fixed part.
"""

from __future__ import annotations

import argparse
import functools
import json
import operator
import os
import struct
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bench.common import emit, latency_us, throughput
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import active_safety as asf
from icvcloud.protocols.jt808 import framing
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import CST

TARGET_FPS = 300_000
TARGET_RATIO = 0.5
_FIXED = struct.Struct(">HH6sHIIIIHHH6s")


def baseline_decode(frame: bytes) -> tuple[Any, ...]:
    """Minimal hand-written decoder: un-escape, check, unpack header + fixed part."""
    data = frame[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    if functools.reduce(operator.xor, data[:-1], 0) != data[-1]:
        raise ValueError("check code")
    return _FIXED.unpack_from(data)


def fleet_locations(n: int) -> list[jt808.Location]:
    base = datetime(2026, 11, 24, 9, 30, 0)
    out = []
    for i in range(n):
        items = ExtraItems({0x01: 10000 + i * 1.7, 0x02: 120.5, 0x25: 0x0000_0011, 0x2A: 0, 0x30: 20 + i % 11,
                            0x31: 8 + i % 9})
        out.append(jt808.Location(
            alarm=0, status=0x000C0003 | (0x0200 if i % 3 == 0 else 0), lat=36.75 + (i % 97) * 1e-3,
            lon=117.95 + (i % 89) * 1e-3, altitude_m=40 + i % 60, speed_kmh=(i * 7 % 900) / 10,
            heading_deg=i * 13 % 360, time=(base + timedelta(seconds=i % 60)).replace(tzinfo=CST), extras=items))
    return out


def adas_location(i: int) -> jt808.Location:
    t = datetime(2026, 11, 24, 9, 31, i % 60, tzinfo=CST)
    ident = asf.AlarmIdentification(terminal_id=f"T{i:06d}", time=t, seq=0, attachment_count=3)
    adas = asf.AdasAlarm(alarm_id=i, flag=1, alarm_type=1 + i % 7, level=1 + i % 2, front_vehicle_speed_kmh=45,
                         front_headway_100ms=9, deviation_type=0, road_sign_type=0, road_sign_value=0, speed_kmh=62,
                         altitude_m=55, lat=36.81, lon=118.06, time=t, vehicle_status=0x0401, identification=ident)
    loc = fleet_locations(1)[0]
    loc.alarm, loc.time = 1 << 3, t
    loc.extras[0x64] = adas
    return loc


def corpus(n: int = 2000) -> dict[str, list[bytes]]:
    locs = fleet_locations(n)
    phones = [f"139{i:08d}" for i in range(n)]
    single = [jt808.encode(0x0200, loc, phone=phones[i], seq=i & 0xFFFF) for i, loc in enumerate(locs)]
    batch = [
        jt808.encode(0x0704, jt808.BatchLocation(batch_type=i % 2, items=locs[i * 10 % n: i * 10 % n + 10]),
                     phone=phones[i], seq=i)
        for i in range(200)
    ]
    adas = [jt808.encode(0x0200, adas_location(i), phone=phones[i], seq=i) for i in range(500)]
    return {"0x0200": single, "0x0704x10": batch, "adas": adas}


def run(seconds: float) -> dict[str, Any]:
    frames = corpus()
    figures: dict[str, Any] = {"speedups": framing.SPEEDUPS}
    decode = jt808.decode
    figures["baseline_0x0200_decode_fps"] = throughput(baseline_decode, frames["0x0200"], seconds)
    for name, frs in frames.items():
        msgs = [decode(f) for f in frs]
        fps = throughput(decode, frs, seconds)
        figures[f"{name}_decode_fps"] = fps
        for k, v in latency_us(decode, frs).items():
            figures[f"{name}_decode_{k}"] = v

        def enc(m: jt808.Message) -> bytes:
            return jt808.encode_message(m)

        figures[f"{name}_encode_fps"] = throughput(enc, msgs, seconds)
    figures["ratio_0x0200_decode_to_baseline"] = figures["0x0200_decode_fps"] / figures["baseline_0x0200_decode_fps"]
    return figures


def _pure_python_figures(seconds: float) -> dict[str, Any] | None:
    """The same benchmark with ICV_PURE_PYTHON=1 (no C framing), in a subprocess."""
    env = dict(os.environ, ICV_PURE_PYTHON="1")
    res = subprocess.run([sys.executable, "-m", "bench.codec", "--seconds", str(seconds), "--only-self"],
                         capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__)),
                         check=False)
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(f: dict[str, Any], label: str) -> None:
    print(f"== JT/T 808 codec ({label}; C framing speedups: {'on' if f['speedups'] else 'off'}) ==")
    print(f"{'frames':<12}{'decode/s':>12}{'encode/s':>12}{'p50 us':>9}{'p95 us':>9}{'p99 us':>9}")
    for name in ("0x0200", "0x0704x10", "adas"):
        print(f"{name:<12}{f[f'{name}_decode_fps']:>12,.0f}{f[f'{name}_encode_fps']:>12,.0f}"
              f"{f[f'{name}_decode_p50_us']:>9.2f}{f[f'{name}_decode_p95_us']:>9.2f}{f[f'{name}_decode_p99_us']:>9.2f}")
    print(f"{'baseline':<12}{f['baseline_0x0200_decode_fps']:>12,.0f}   (un-escape + check + unpack fixed part)")
    print(f"full 0x0200 decode / baseline = {f['ratio_0x0200_decode_to_baseline']:.2f}"
          f"   (targets: >= {TARGET_FPS:,} frames/s, ratio >= {TARGET_RATIO})")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="icv bench codec")
    ap.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    ap.add_argument("--only-self", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-pure", action="store_true", help="skip the pure-Python comparison run")
    args = ap.parse_args(argv)
    figures = run(args.seconds)
    if args.only_self:
        emit(figures)
        return 0
    report(figures, "this build")
    if not args.no_pure and figures["speedups"]:
        pure = _pure_python_figures(args.seconds)
        if pure:
            report(pure, "pure Python")
            figures["pure_python"] = {k: v for k, v in pure.items() if k != "speedups"}
    figures["target_0x0200_decode_fps"] = TARGET_FPS
    figures["target_ratio"] = TARGET_RATIO
    figures["meets_targets"] = (figures["0x0200_decode_fps"] >= TARGET_FPS
                                and figures["ratio_0x0200_decode_to_baseline"] >= TARGET_RATIO)
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

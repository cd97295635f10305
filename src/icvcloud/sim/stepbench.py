"""CPU cost of stepping the vehicle model: ``python -m icvcloud.sim.stepbench``.

Creates N vehicles on the packaged network, lets them run ``warmup_s`` simulated
seconds (so the mix of driving, stopped and parked vehicles settles), then times
one-second ticks with the process CPU clock. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from .fleet import DEFAULT_MIX, allocate
from .identity import seeded
from .roads import RoadNetwork
from .vehicle import Vehicle


def measure(vehicles: int = 10_000, ticks: int = 60, warmup_s: int = 600, seed: int = 808) -> dict[str, Any]:
    net = RoadNetwork.load()
    types = allocate(vehicles, DEFAULT_MIX)
    t0 = time.process_time()
    fleet = [Vehicle(net, vt, seed=seeded(f"{seed}:vehicle:{i}"), t0_s=0.0) for i, vt in enumerate(types)]
    create_s = time.process_time() - t0
    for t in range(1, warmup_s + 1):
        for v in fleet:
            v.step(float(t))
    costs = []
    for t in range(warmup_s + 1, warmup_s + ticks + 1):
        c0 = time.process_time()
        for v in fleet:
            v.step(float(t))
        costs.append(time.process_time() - c0)
    costs.sort()
    return {
        "vehicles": vehicles,
        "create_cpu_s": round(create_s, 3),
        "tick_cpu_ms_median": round(costs[len(costs) // 2] * 1000, 2),
        "tick_cpu_ms_max": round(costs[-1] * 1000, 2),
        "step_cpu_us": round(costs[len(costs) // 2] / max(vehicles, 1) * 1e6, 3),
        "moving": sum(1 for v in fleet if v.moving),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m icvcloud.sim.stepbench")
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=600, help="simulated seconds before timing")
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.vehicles, args.ticks, args.warmup)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Entry points behind ``icv serve``, ``icv demo``, ``icv user add`` and ``icv sim fleet``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import json
import logging
import os
import signal
import sys
from typing import Any

from icvcloud import logs
from icvcloud.config import Config

from .platform import Platform
from .process import run, until_signal

log = logging.getLogger("icvcloud")


def serve(cfg: Config) -> int:
    logs.setup(cfg.logging.level, cfg.logging.json)

    async def main() -> int:
        platform = Platform(cfg)
        await platform.start()
        gc.freeze()
        print(f"icvcloud serving: JT/T 808 on {cfg.jt808.host}:{platform.jt808_port}, "
              f"API on http://{cfg.api.host}:{platform.api_port} (docs: /docs)", flush=True)
        await until_signal()
        await platform.stop()
        return 0

    return run(main)


#: (name, kind, parent's name): parents first.
DEMO_ORGS = (
    ("淄博市交通运输局", "regulator", None),
    ("临淄区交通运输局", "regulator", "淄博市交通运输局"),
    ("淄博鲁中危险品运输有限公司", "enterprise", "临淄区交通运输局"),
    ("齐鲁化工物流有限公司", "enterprise", "临淄区交通运输局"),
    ("淄博长途客运集团", "enterprise", "淄博市交通运输局"),
    ("淄博公交集团", "enterprise", "淄博市交通运输局"),
    ("淄博城市环境卫生服务中心", "enterprise", "淄博市交通运输局"),
)
#: Each vehicle type's operators (hazmat vehicles alternate between the two carriers).
DEMO_ORG_BY_TYPE: dict[str, tuple[str, ...]] = {
    "hazmat_tanker": ("淄博鲁中危险品运输有限公司", "齐鲁化工物流有限公司"),
    "hazmat_van": ("齐鲁化工物流有限公司", "淄博鲁中危险品运输有限公司"),
    "coach": ("淄博长途客运集团",), "bus": ("淄博公交集团",), "sanitation": ("淄博城市环境卫生服务中心",),
}
DEMO_USER, DEMO_PASSWORD = "admin", "icvcloud-demo"
#: Further demo users (password DEMO_PASSWORD): a regulator's supervisor and a carrier's safety officer.
DEMO_USERS = (("bureau", "viewer", "淄博市交通运输局"), ("luzhong", "operator", "淄博鲁中危险品运输有限公司"))


async def provision_demo(store: Any, fleet: Any, platform: Platform | None = None) -> None:
    """Organisations, users, the fleet's vehicles in the registry (so the demo's
    terminals register as known vehicles of the right type and company), and the
    hazmat world: licences, people, a restricted zone, e-waybills (``demo_hazmat``)."""
    from datetime import UTC, datetime

    from icvcloud.api import create_user
    from icvcloud.model import Vehicle
    from icvcloud.store.base import Scope

    from .demo_hazmat import provision_hazmat

    ids: dict[str, int] = {o.name: o.id for o in await store.list_organisations(Scope.all())}
    for name, kind, parent in DEMO_ORGS:
        if name not in ids:
            ids[name] = await store.add_organisation(name, kind, ids.get(parent) if parent else None)
    if await store.get_user(DEMO_USER) is None:
        await create_user(store, DEMO_USER, DEMO_PASSWORD, "admin", None)
    for username, role, org in DEMO_USERS:
        if await store.get_user(username) is None:
            await create_user(store, username, DEMO_PASSWORD, role, ids[org])
    seen: dict[str, int] = {}
    for spec in fleet.vehicle_specs():
        if await store.vehicle_for_device(spec.device_id) is None:
            names = DEMO_ORG_BY_TYPE.get(spec.vehicle_type, ())
            k = seen[spec.vehicle_type] = seen.get(spec.vehicle_type, -1) + 1
            org_id = ids.get(names[k % len(names)]) if names else None
            await store.add_vehicle(Vehicle(id=0, plate=spec.plate, plate_colour=spec.plate_colour,
                                            vehicle_type=spec.vehicle_type, org_id=org_id, device_id=spec.device_id))
    if platform is not None and platform.cfg.hazmat.enabled:
        runtime = platform.alarm_runtime
        await provision_hazmat(store, runtime.alarms if runtime else None, fleet, ids, datetime.now(UTC))
        if runtime is not None:
            runtime.consumer.definitions_changed()


def demo(cfg: Config, seconds: float | None = None) -> int:
    logs.setup(cfg.logging.level, cfg.logging.json)

    async def main() -> int:
        from icvcloud.sim import Fleet

        platform = Platform(cfg)
        await platform.start()
        gc.freeze()
        fleet = Fleet(host="127.0.0.1", port=platform.jt808_port, vehicles=cfg.sim.vehicles, seed=cfg.sim.seed,
                      interval_s=(cfg.sim.interval_min_s, cfg.sim.interval_max_s),
                      version=cfg.sim.protocol_version)
        await provision_demo(platform.store, fleet, platform)
        api = f"http://{cfg.api.host}:{platform.api_port}"
        print(f"""
icvcloud demo: {cfg.sim.vehicles} simulated vehicles in Zibo reporting over JT/T 808
  console    {api}/  (log in as {DEMO_USER} / {DEMO_PASSWORD}; also bureau, a regulator,
             and luzhong, a hazmat carrier's safety officer, with the same password)
  API docs   {api}/docs
  live state {api}/api/v1/vehicles
  log in     POST /api/v1/auth/login {{"username": "{DEMO_USER}", "password": "{DEMO_PASSWORD}"}}
  metrics    {api}/metrics
  JT/T 808   127.0.0.1:{platform.jt808_port}
Ctrl-C stops.""", flush=True)
        fleet_task = asyncio.create_task(fleet.run(None))
        await until_signal(seconds)
        await fleet.stop()
        fleet_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fleet_task
        await platform.stop()
        return 0

    return run(main)


def user_add(cfg: Config, username: str, role: str, org_id: int | None, password: str | None,
             token: bool, person_id: int | None = None) -> int:
    from icvcloud.api import create_user, issue_token
    from icvcloud.store.sqlite import SqliteStore

    if password is None:
        password = os.environ.get("ICV_PASSWORD") or getpass.getpass(f"password for {username}: ")
    if (role == "driver") != (person_id is not None):
        print("error: --role driver and --person go together", file=sys.stderr)
        return 2
    if len(password) < 8:
        print("error: password must have at least 8 characters", file=sys.stderr)
        return 2

    async def main() -> int:
        store: Any = SqliteStore(cfg.data_dir / "store.db")
        if cfg.scaleout.mode == "scaleout":  # the shared PostgreSQL store (docs/scaling.md)
            from .scaleout_config import make_store

            store = make_store(cfg, connections=2)
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        await store.open()
        try:
            if await store.get_user(username) is not None:
                print(f"error: user {username!r} exists", file=sys.stderr)
                return 1
            if person_id is not None:  # a driver's own account: a viewer of the person's enterprise, linked
                from icvcloud.store.base import Scope

                from .hazmat import hazmat_store

                hz = hazmat_store(store)
                person = await hz.get_person(Scope.all(), person_id)
                if person is None:
                    print(f"error: no person {person_id}", file=sys.stderr)
                    return 1
                uid = await create_user(store, username, password, "viewer", person.org_id)
                await hz.link_account(uid, person_id)
                print(f"user {username} (driver: {person.name}, person {person_id}) created with id {uid}")
            else:
                uid = await create_user(store, username, password, role, org_id)
                print(f"user {username} ({role}) created with id {uid}")
            if token:
                print(f"API token (shown once): {await issue_token(store, uid, 'cli')}")
        finally:
            await store.close()
        return 0

    return asyncio.run(main())


def sim_fleet(args: argparse.Namespace) -> int:
    """A virtual fleet in its own process (what `icv bench ingest` drives)."""
    logs.setup("WARNING", False)

    async def main() -> int:
        from icvcloud.sim import Fleet

        interval = (args.interval, args.interval) if args.interval else (10.0, 30.0)
        fleet = Fleet(host=args.host, port=args.port, vehicles=args.vehicles, seed=args.seed, interval_s=interval,
                      version=args.version, first_index=getattr(args, "first_index", 1))
        warmup = max(0.0, args.warmup)
        task = asyncio.create_task(fleet.run(None))

        def mark(name: str, sent: int) -> None:
            # Tells a watching bench that the measured window starts or ends: closing
            # 10,000 connections and writing the stats afterwards take seconds that
            # must not count as time spent reporting.
            if args.stats_file:
                with open(f"{args.stats_file}.{name}", "w", encoding="utf-8") as fh:
                    json.dump({"sent": sent}, fh)

        sent_at_warmup = 0
        if warmup > 0:
            # Registration of every terminal is a one-off burst: measure after it.
            await asyncio.wait([task], timeout=warmup)
            fleet.latency.reset()
            sent_at_warmup = sum(t.sent for t in fleet.terminals)
            mark("warm", sent_at_warmup)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.wait([task, asyncio.create_task(stop.wait())], timeout=args.seconds,
                           return_when=asyncio.FIRST_COMPLETED)
        sent_at_end = sum(t.sent for t in fleet.terminals)
        mark("end", sent_at_end)
        await fleet.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if args.stats_file:
            stats = fleet.stats_dict()
            stats["acknowledged"] = [[p, t.isoformat(), s] for p, t, s in fleet.acknowledged_reports()]
            stats["warmup_s"] = warmup
            stats["sent_after_warmup"] = stats["sent"] - sent_at_warmup
            stats["sent_in_window"] = sent_at_end - sent_at_warmup
            with open(args.stats_file, "w", encoding="utf-8") as fh:
                json.dump(stats, fh)
        return 0

    return run(main)

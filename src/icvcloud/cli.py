"""The ``icv`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _jt808_cli() -> object:
    return importlib.import_module("icvcloud.tools.jt808_cli")


def _cmd_decode(args: argparse.Namespace) -> int:
    if args.protocol == "jt808":
        return _jt808_cli().decode_command(args)  # type: ignore[attr-defined, no-any-return]
    raise SystemExit(f"unknown protocol {args.protocol}")


def _cmd_encode(args: argparse.Namespace) -> int:
    if args.protocol == "jt808":
        return _jt808_cli().encode_command(args)  # type: ignore[attr-defined, no-any-return]
    raise SystemExit(f"unknown protocol {args.protocol}")


def _bench_dir() -> Path:
    root = Path(__file__).resolve().parents[2]
    bench = root / "bench"
    if not (bench / "__init__.py").exists():
        raise SystemExit("icv bench runs from a source checkout (bench/ not found beside src/)")
    return root


def _cmd_bench(args: argparse.Namespace) -> int:
    root = _bench_dir()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    mod = importlib.import_module(f"bench.{args.name}")
    return mod.main(args.rest)  # type: ignore[no-any-return]


def _load_config(args: argparse.Namespace) -> Any:
    from icvcloud import config

    try:
        return config.load(getattr(args, "config", None))
    except config.ConfigError as e:
        raise SystemExit(f"configuration error: {e}") from None


def _cmd_config_show(args: argparse.Namespace) -> int:
    from icvcloud import config

    print(config.to_toml(_load_config(args), secrets=args.secrets), end="")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from icvcloud.app import run

    cfg = _load_config(args)
    if (args.mode or cfg.scaleout.mode) == "scaleout":
        from icvcloud.app import scaleout

        return scaleout.serve(cfg, getattr(args, "config", None))
    return run.serve(cfg)


def _cmd_scaleout(args: argparse.Namespace) -> int:
    """``icv gateway jt808`` / ``icv worker`` / ``icv api``: one scale-out process."""
    from icvcloud.app import scaleout

    cfg = _load_config(args)
    entry: Callable[[Any], int] = getattr(scaleout, args.process)
    return entry(cfg)


def _cmd_demo(args: argparse.Namespace) -> int:
    from icvcloud.app import run

    cfg = _load_config(args)
    if args.vehicles is not None:
        cfg.sim.vehicles = args.vehicles
    return run.demo(cfg, seconds=args.seconds)


def _cmd_user_add(args: argparse.Namespace) -> int:
    from icvcloud.app import run

    return run.user_add(_load_config(args), args.username, args.role, args.org, args.password, args.token,
                        person_id=args.person)


def _cmd_roads_import(args: argparse.Namespace) -> int:
    from icvcloud.sim import osm_import

    return osm_import.main_import([args.file, "-o", args.output])  # type: ignore[no-any-return]


def _cmd_sim_fleet(args: argparse.Namespace) -> int:
    from icvcloud.app import run

    return run.sim_fleet(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="icv", description="icvcloud vehicle–road–cloud platform")
    p.add_argument("--config", help="TOML configuration file (default: $ICV_CONFIG or ./icvcloud.toml)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the platform (gateway, store, API) in one process")
    s.add_argument("--mode", choices=["embedded", "scaleout"], default=None,
                   help="embedded: one process, SQLite; scaleout: a gateway, a worker and an API process over NATS "
                        "JetStream and PostgreSQL (default: scaleout.mode in the configuration)")
    s.set_defaults(func=_cmd_serve)

    # Scale-out processes (docs/scaling.md): start as many of each as the load needs.
    gw = sub.add_parser("gateway", help="scale-out: a device gateway appending to the NATS log")
    gw.add_argument("protocol", choices=["jt808"])
    gw.set_defaults(func=_cmd_scaleout, process="gateway")
    wk = sub.add_parser("worker", help="scale-out: a store consumer for the log partitions it leases")
    wk.set_defaults(func=_cmd_scaleout, process="worker")
    ap = sub.add_parser("api", help="scale-out: an API process (REST, WebSocket, console) over PostgreSQL")
    ap.set_defaults(func=_cmd_scaleout, process="api")

    dm = sub.add_parser("demo", help="run the platform with simulated Zibo traffic")
    dm.add_argument("--vehicles", type=int, default=None, help="number of simulated vehicles")
    dm.add_argument("--seconds", type=float, default=None, help="stop after this long (default: run until ^C)")
    dm.set_defaults(func=_cmd_demo)

    c = sub.add_parser("config", help="configuration")
    csub = c.add_subparsers(dest="config_command", required=True)
    cs = csub.add_parser("show", help="print the effective configuration (secrets hidden)")
    cs.add_argument("--secrets", action="store_true", help="print keys, secrets and passwords too")
    cs.set_defaults(func=_cmd_config_show)

    u = sub.add_parser("user", help="users")
    usub = u.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="add a user (and print an API token with --token)")
    ua.add_argument("username")
    ua.add_argument("--role", choices=["admin", "operator", "viewer", "driver"], default="viewer",
                    help="driver: a driver's or escort's own account (read-only self; needs --person)")
    ua.add_argument("--org", type=int, default=None, help="organisation ID (none: sees everything if admin)")
    ua.add_argument("--person", type=int, default=None, help="with --role driver: the hazmat person's ID")
    ua.add_argument("--password", default=None, help="password (default: read from $ICV_PASSWORD or prompt)")
    ua.add_argument("--token", action="store_true", help="also issue an API token and print it")
    ua.set_defaults(func=_cmd_user_add)

    r = sub.add_parser("roads", help="road networks")
    rsub = r.add_subparsers(dest="roads_command", required=True)
    ri = rsub.add_parser("import", help="import roads from an OpenStreetMap extract (.osm or .osm.pbf)")
    ri.add_argument("file")
    ri.add_argument("-o", "--output", default="roads.geojson")
    ri.set_defaults(func=_cmd_roads_import)

    sm = sub.add_parser("sim", help="simulation")
    smsub = sm.add_subparsers(dest="sim_command", required=True)
    sf = smsub.add_parser("fleet", help="run virtual JT/T 808 terminals against a gateway")
    sf.add_argument("--host", default="127.0.0.1")
    sf.add_argument("--port", type=int, default=6808)
    sf.add_argument("--vehicles", type=int, default=100)
    sf.add_argument("--interval", type=float, default=None, help="report interval s (default: 10-30 s random)")
    sf.add_argument("--seconds", type=float, default=None)
    sf.add_argument("--seed", type=int, default=808)
    sf.add_argument("--first-index", type=int, default=1,
                    help="number of the first terminal (fleets against several gateways use disjoint ranges)")
    sf.add_argument("--version", type=int, choices=[2013, 2019], default=2013)
    sf.add_argument("--stats-file", default=None, help="write final statistics (JSON) here")
    sf.add_argument("--warmup", type=float, default=0.0,
                    help="seconds before measuring (added to --seconds): ack latencies of the start-up are dropped")
    sf.set_defaults(func=_cmd_sim_fleet)

    d = sub.add_parser("decode", help="decode frames to JSON (one object per frame)")
    d.add_argument("protocol", choices=["jt808"])
    d.add_argument("hex", nargs="*", help="frames as hex (several frames per argument allowed); '-' reads stdin")
    d.add_argument("--variant", default="auto", choices=["auto", "jsatl", "gdrta"], help="active-safety variant")
    d.add_argument("--version", dest="version_hint", type=int, choices=[2011, 2013], default=None,
                   help="body layouts for a 2011/2013 header when the bytes cannot tell (2011 vs 2013)")
    d.add_argument("--no-check", action="store_true", help="do not verify the check code")
    d.set_defaults(func=_cmd_decode)

    e = sub.add_parser("encode", help="encode JSON (as printed by decode) to frames as hex")
    e.add_argument("protocol", choices=["jt808"])
    e.add_argument("json", nargs="*", help="JSON objects; '-' reads JSON lines from stdin")
    e.add_argument("--variant", default="auto", choices=["auto", "jsatl", "gdrta"])
    e.set_defaults(func=_cmd_encode)

    b = sub.add_parser("bench", help="run a benchmark from bench/ (last output line: JSON figures)")
    b.add_argument("name", help="benchmark name: codec, ingest, engine, alarms, console, reports")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())

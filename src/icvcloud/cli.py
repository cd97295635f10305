"""The ``icv`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="icv", description="icvcloud vehicle–road–cloud platform")
    sub = p.add_subparsers(dest="command", required=True)

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
    b.add_argument("name", help="benchmark name, e.g. codec")
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

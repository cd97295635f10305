"""``icv decode jt808`` and ``icv encode jt808``: frames ⇄ JSON, inverses of each other."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from icvcloud.protocols import jt808


def _hex_inputs(args: list[str]) -> Iterator[str]:
    for a in args:
        if a == "-":
            for raw in sys.stdin:
                line = raw.strip()
                if line:
                    yield line
        else:
            yield a


def _frames(text: str) -> list[bytes]:
    """Frames in one hex argument: split on 0x7E flags; a bare frame (no flags) as is."""
    cleaned = "".join(text.split()).replace(":", "")
    data = bytes.fromhex(cleaned)
    if not data.startswith(b"\x7e"):
        return [data]
    sp = jt808.FrameSplitter()
    frames = sp.feed(data)
    if sp.pending > 1:
        raise jt808.TruncatedBody("frame has no closing 0x7E", data)
    return frames


def decode_command(args: argparse.Namespace) -> int:
    ctx = jt808.Ctx(variant=args.variant)
    reasm = jt808.Reassembler()
    status = 0
    out = sys.stdout
    for text in _hex_inputs(args.hex):
        try:
            frames = _frames(text)
        except jt808.Jt808Error as e:
            print(f"error: {e.kind}: {e.reason} [{e.data.hex()}]", file=sys.stderr)
            status = 1
            continue
        except ValueError as e:
            print(f"error: not hex: {e}", file=sys.stderr)
            status = 1
            continue
        for frame in frames:
            try:
                msg = jt808.decode(frame, ctx, verify_check=not args.no_check, version_hint=args.version_hint)
                out.write(json.dumps(msg.to_json(ctx), ensure_ascii=False) + "\n")
                if msg.is_packet:
                    whole = reasm.add(msg, 0.0, ctx)
                    if whole is not None:
                        j = whole.to_json(ctx)
                        j["reassembled_packets"] = whole.packet_total
                        out.write(json.dumps(j, ensure_ascii=False) + "\n")
            except jt808.Jt808Error as e:
                print(f"error: {e.kind}: {e.reason} [{frame.hex()}]", file=sys.stderr)
                status = 1
    for inc in reasm.expire(float("inf")):
        print(f"error: incomplete sub-packaged message {inc.msg_id:#06x}: missing packets {inc.missing}",
              file=sys.stderr)
        status = 1
    return status


def _json_inputs(args: list[str]) -> Iterable[Any]:
    for a in args:
        if a == "-":
            for line in sys.stdin:
                if line.strip():
                    yield json.loads(line)
        else:
            v = json.loads(a)
            yield from (v if isinstance(v, list) else [v])


def encode_command(args: argparse.Namespace) -> int:
    status = 0
    for j in _json_inputs(args.json):
        try:
            msg = jt808.message_from_json(j)
            ctx = jt808.Ctx(msg.version, args.variant)
            body = jt808.codec.encode_body(msg.msg_id, msg.body, ctx)
            if len(body) > jt808.codec.MAX_BODY_LEN and not msg.packet_total:
                frames = jt808.encode_packets(msg.msg_id, body, phone=msg.phone, first_seq=msg.seq,
                                              version=msg.version, protocol_version=msg.protocol_version)
            else:
                frames = [jt808.encode_message(msg, ctx)]
            for fr in frames:
                print(fr.hex())
        except (jt808.EncodeError, ValueError, KeyError, TypeError) as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
    return status

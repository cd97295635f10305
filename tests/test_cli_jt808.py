"""`icv decode jt808` / `icv encode jt808` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from icvcloud.protocols import jt808

from .protocols.jt808.corpus import adas_item, location

PHONE = "13912345678"


def icv(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "icvcloud.cli", *args], capture_output=True, text=True,
                          input=stdin, check=False)


def test_decode_location_prints_the_documented_json() -> None:
    fr = jt808.encode(0x0200, location(x64=adas_item()), phone=PHONE, seq=77)
    res = icv("decode", "jt808", fr.hex())
    assert res.returncode == 0, res.stderr
    (line,) = res.stdout.splitlines()
    j = json.loads(line)
    assert (j["msg_id"], j["version"], j["phone"], j["seq"]) == ("0x0200", "2013", "013912345678", 77)
    body = j["body"]
    for key in ("alarm", "status", "alarm_flags", "status_flags", "lat", "lon", "altitude_m", "speed_kmh",
                "heading_deg", "time", "extras"):
        assert key in body
    assert body["time"] == "2026-11-24T09:30:00+08:00"
    assert body["extras"]["0x64"]["adas_alarm"]["alarm_type_name"] == "forward_collision"


def test_encode_is_the_inverse_of_decode() -> None:
    frames = [
        jt808.encode(0x0200, location(), phone=PHONE, seq=1),
        jt808.encode(0x0200, location(), phone="00000000013912345678", seq=2, version=jt808.V2019),
        jt808.encode(0x8300, jt808.Text(flag=8, text="请减速"), phone=PHONE, seq=3),
        jt808.encode(0x0002, None, phone=PHONE, seq=4),
    ]
    dec = icv("decode", "jt808", *(f.hex() for f in frames))
    assert dec.returncode == 0, dec.stderr
    enc = icv("encode", "jt808", "-", stdin=dec.stdout)
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout.split() == [f.hex() for f in frames]


def test_several_frames_in_one_argument_and_bad_frames() -> None:
    good = jt808.encode(0x0002, None, phone=PHONE, seq=1)
    bad = bytearray(good)
    bad[-2] ^= 0xFF
    res = icv("decode", "jt808", (good + good).hex(), bytes(bad).hex())
    assert res.returncode == 1
    assert len(res.stdout.splitlines()) == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "bad_check_code" in err[0]


def test_sub_packaged_frames_are_reassembled() -> None:
    frames = jt808.encode_packets(0x0801, b"\x00" * 8 + bytes(28) + b"\xff" * 2000, phone=PHONE, first_seq=5)
    res = icv("decode", "jt808", *(f.hex() for f in frames))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == len(frames) + 1
    assert lines[-1]["reassembled_packets"] == len(frames)
    assert len(bytes.fromhex(lines[-1]["body"]["data"])) == 2000


def test_not_hex_is_a_clear_error() -> None:
    res = icv("decode", "jt808", "7e02zz7e")
    assert res.returncode == 1 and res.stderr.startswith("error: not hex")

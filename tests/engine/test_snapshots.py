"""Snapshots: the compact binary form, its pieces, what is written anew after changes,
the readable form and older JSON snapshots, and bad bytes."""

from __future__ import annotations

import json
import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.engine import Engine, EngineConfig
from icvcloud.engine.snapshot import MAGIC, SnapshotError

from .helpers import pos, run, vehicle
from .test_ordering import FENCES, PROFILES, TRUCK, arrival, scenario


def engine() -> Engine:
    return Engine(PROFILES, FENCES, EngineConfig(window_reports=32, checkpoint_every=8))


def fleet(rng: random.Random, vehicles: int = 5, n: int = 40) -> Engine:
    e = engine()
    for vid in range(1, vehicles + 1):
        v = vehicle(vid, rng.choice(["hazmat_tanker", "coach", "bus"]))
        run(e, v, arrival([p for p in scenario(rng, n)], rng, 6))
    return e


def test_pieces_make_the_snapshot_and_unchanged_vehicles_are_reused() -> None:
    rng = random.Random(3)
    e = fleet(rng)
    blob = e.snapshot()
    assert blob.startswith(MAGIC)
    assert b"".join(e.snapshot_parts(vehicles_per_part=2)) == blob
    # Another report for one vehicle: only its record is written anew.
    before = {vid: v.blob for vid, v in e._vehicles.items()}
    run(e, TRUCK, [pos(10_000, speed=30.0)])
    again = e.snapshot()
    after = {vid: v.blob for vid, v in e._vehicles.items()}
    assert [vid for vid in before if before[vid] is not after[vid]] == [1]
    other = engine()
    other.restore(again)
    assert other.to_dict() == e.to_dict()
    # A restored engine continues with the records it read.
    assert other.snapshot() == again


def test_smaller_than_the_readable_form() -> None:
    e = fleet(random.Random(5), vehicles=10, n=60)
    assert len(e.snapshot()) * 3 < len(json.dumps(e.to_dict(), separators=(",", ":")))


def test_json_snapshots_are_still_read() -> None:
    """Snapshots written as JSON (the readable form as bytes, as earlier versions wrote
    them) restore to the same engine."""
    rng = random.Random(7)
    e = fleet(rng)
    old = json.dumps(e.to_dict(), separators=(",", ":")).encode()
    other = engine()
    other.restore(old)
    assert other.to_dict() == e.to_dict()
    reports = scenario(random.Random(8), 20)
    assert run(other, TRUCK, reports) == run(e, TRUCK, reports)


def test_numbers_a_column_cannot_hold() -> None:
    e = engine()
    huge = pos(0, seq=0)
    huge.seq = 2**70  # a hand-made report: the window goes into the JSON part
    run(e, TRUCK, [huge, pos(30, speed=20.0)])
    other = engine()
    other.restore(e.snapshot())
    assert other.to_dict() == e.to_dict()
    assert other._vehicles[1].samples[0][1] == 2**70


def test_empty_engine() -> None:
    e = engine()
    assert e.snapshot() == MAGIC
    other = fleet(random.Random(1))
    other.restore(e.snapshot())
    assert len(other) == 0


@pytest.mark.parametrize("blob", [b"", b"ICVENGINE2", MAGIC + b"\x01\x00", b"[1, 2]", b"{\"format\": 9}", b"\xff" * 40])
def test_not_a_snapshot(blob: bytes) -> None:
    e = fleet(random.Random(2))
    state = e.to_dict()
    with pytest.raises(ValueError):
        e.restore(blob)
    assert e.to_dict() == state  # the engine is left as it was


def test_a_damaged_record_is_found() -> None:
    e = fleet(random.Random(4))
    blob = bytearray(e.snapshot())
    blob[len(MAGIC) + 20] ^= 0x40
    with pytest.raises(SnapshotError, match="corrupted"):
        engine().restore(bytes(blob))


def test_a_record_with_a_valid_checksum_but_wrong_content() -> None:
    """Bytes that pass the checksum but do not describe a vehicle still fail cleanly."""
    body = zlib.compress(b"\x00\x00\x00\x00\x05\x00\x00\x00[1,2]")
    frame = len(body).to_bytes(4, "little") + zlib.crc32(body).to_bytes(4, "little") + body
    with pytest.raises(ValueError):
        engine().restore(MAGIC + frame)


_VALID = fleet(random.Random(11), vehicles=3, n=25).snapshot()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_is_a_clear_error(data: st.DataObject) -> None:
    """Flipped, cut or inserted bytes: restore either reads a snapshot or raises
    ValueError (SnapshotError), never anything else, and never half-restores."""
    blob = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        what = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(blob) - 1))
        if what == "flip":
            blob[i] ^= data.draw(st.integers(1, 255))
        elif what == "cut":
            del blob[i:i + data.draw(st.integers(1, 50))]
        else:
            blob[i:i] = data.draw(st.binary(min_size=1, max_size=20))
    e = engine()
    try:
        e.restore(bytes(blob))
    except ValueError:
        assert len(e) == 0

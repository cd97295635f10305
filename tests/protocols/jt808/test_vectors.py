"""The decoder against the public test vectors in ``vectors.json``.

211 vectors from the test suites of SmallChi/JT808, yezhihao/jt808-server,
go-jt808 and traccar: every vector is decoded, every fact its source asserts is
compared (mapping in :mod:`vector_facts`), and conformant frames must re-encode
to the same bytes. Where a source is nonstandard, the test asserts our documented
behaviour instead, vector by vector, with the reason.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import RawItem

from .vector_facts import DERIVED_HEADER, FACTS, HEADER, Report, Scope, Seen, check

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "vectors.json").read_text("utf-8"))["vectors"]
BY_NAME = {v["name"]: v for v in VECTORS}

# --------------------------------------------------------------------------------------
# Per-vector policy. Every entry names one vector and says why.

#: Nonstandard frames our decoder rejects with a typed error, as documented.
REJECTED: dict[str, tuple[type[jt808.Jt808Error], str]] = {
    "smallchi_8104_user_frame_2019_header_without_flag": (
        jt808.LengthMismatch,
        "bit 14 clear means a 2013 header; the 2019 header that follows cannot match the length",
    ),
    "yzh_0702_2013_status2_with_card_fields": (
        jt808.LengthMismatch,
        "state 2 (card pulled out) ends the body; the source writes the card fields anyway",
    ),
    "yzh_0702_2019_header_2013_body": (
        jt808.LengthMismatch,
        "same state-2 body as above under a 2019 header",
    ),
    "go_8800_reply_to_0801_no_count": (
        jt808.TruncatedBody,
        "0x8800 needs the retransmit-count byte; the server left it out",
    ),
    "yzh_8600_2013_times_without_bit0": (
        jt808.LengthMismatch,
        "times written although attribute bit 0 is clear; the standard layout follows the bits",
    ),
    "yzh_8604_2013_times_without_bit0": (
        jt808.TruncatedBody,
        "times written although attribute bit 0 is clear; the standard layout follows the bits",
    ),
}

#: bad_check vectors whose frame is broken beyond the check code.
BROKEN_AFTER_CHECK: dict[str, tuple[type[jt808.Jt808Error], str]] = {
    "smallchi_0704_type1_device_truncated_second_item": (
        jt808.LengthMismatch,
        "the header says 473 body bytes, the frame holds 469: a length mismatch, rejected before the body",
    ),
}

#: Vectors in a regional active-safety layout this codec does not implement (only
#: 苏标 and 粤标): decoding gives a typed error.
UNSUPPORTED_LAYOUT: dict[str, tuple[type[jt808.Jt808Error], str]] = {
    "hlj_go_1210_alarm_attachment_info": (
        jt808.TruncatedBody,
        "黑龙江 layout (no leading terminal ID, 38-byte identification)",
    ),
}

#: expect_error vectors our decoder accepts by design, and why.
TOLERATED: dict[str, str] = {
    # The third item's declared 32 bytes fit the body exactly (3 + 30 + 30 + 34 = 97):
    # go-jt808 fails on the item's own extras (0x02 with length 1, then a lone 0x12).
    # Our extras keep a wrong-length item raw and an overrunning one in ``tail``.
    "go_0704_item_length_overrun": "item extras kept raw/in tail, asserted in test_0704_item_extras_tolerated",
}

#: Fact paths not checked for one vector, and why (a prefix covers its subtree).
VECTOR_SKIP: dict[str, dict[str, str]] = {
    # Negative coordinates: the source writes two's-complement int32 and its own sign
    # flags; the standard has unsigned DWORDs with status bits 2/3. Asserted instead in
    # test_negative_coordinates_nonstandard.
    **{
        name: {"lat_raw": "two's-complement coordinate (nonstandard)", "lon_raw": "two's-complement (nonstandard)"}
        for name in (
            "smallchi_0200_body_negative_lat_lon",
            "smallchi_0200_body_negative_lat_lon_status_0302",
            "smallchi_0200_body_negative_lat",
            "smallchi_0200_body_negative_lat_status_0300",
            "smallchi_0200_body_negative_lon",
            "smallchi_0200_body_negative_lon_status_6601",
        )
    },
    "smallchi_0200_body_0x07_satellite_list": {
        f"extras.0x07.{k}": "the library's own 0x07 layout; a standard decoder keeps it raw (length checked)"
        for k in ("beidou_count", "gps_count", "glonass_count", "galileo_count", "beidou", "gps", "glonass",
                  "galileo")
    },
    "jsatl_0200_extra_0x64_adas_wrong_declared_length": {
        f"extras.0x64.{k}": "declared length 32 < content 47: kept raw by length, fields unreadable"
        for k in ("alarm_id", "flag_state", "alarm_type", "alarm_level", "front_vehicle_speed_kmh",
                  "front_distance_100ms", "deviate_type", "road_sign_type", "road_sign_data", "speed_kmh",
                  "altitude_m", "lat_raw", "lon_raw", "time_local", "vehicle_status", "alarm_identification")
    },
    "jsatl_0200_extra_0x65_dsm_wrong_declared_length": {
        f"extras.0x65.{k}": "declared length 32 < content 47: kept raw by length, fields unreadable"
        for k in ("alarm_id", "flag_state", "alarm_type", "alarm_level", "fatigue_level", "reserved_hex",
                  "speed_kmh", "altitude_m", "lat_raw", "lon_raw", "time_local", "vehicle_status",
                  "alarm_identification")
    },
    "jsatl_go_0200_synthetic_0x66_tpms_misaligned": {
        f"extras.0x66.{k}": "hand-edited item that does not fit the TPMS layout: kept raw (length checked)"
        for k in ("alarm_id", "flag_state", "speed_kmh", "altitude_m", "lat_raw", "lon_raw", "time_bcd_as_asserted",
                  "vehicle_status", "alarm_identification", "event_count", "events")
    },
    "jsatl_go_0200_synthetic_0x70_aggressive_driving": {
        f"extras.0x70.{k}": "0x70 is not in T/JSATL 12-2017: kept raw (length checked)"
        for k in ("alarm_id", "flag_state", "alarm_type", "alarm_time_threshold", "alarm_threshold1",
                  "alarm_threshold2", "speed_kmh", "altitude_m", "lat_raw", "lon_raw", "time_local",
                  "vehicle_status", "alarm_identification")
    },
    # SmallChi writes a 42-byte 苏标 BSD item with an alarm-level byte; T/JSATL 12-2017
    # table 4-20 (and go-jt808, yezhihao: jsatl_go_0200_synthetic_0x67_bsd_41_bytes) has
    # none, 41 bytes. A 42-byte item does not fit: kept raw (length checked).
    "jsatl_0200_extra_0x67_bsd": {
        f"extras.0x67.{k}": "42-byte BSD item with a level byte (SmallChi only): kept raw"
        for k in ("alarm_id", "flag_state", "alarm_type", "alarm_level", "speed_kmh", "altitude_m", "lat_raw",
                  "lon_raw", "time_local", "vehicle_status", "alarm_identification")
    },
    # The source's 0x8105 writes every parameter in its own order with binary ports;
    # the ';'-separated text fields are checked against our param_list instead.
    "smallchi_8105_cmd1_params": {
        k: "nonstandard parameter list, checked in test_8105_nonstandard_params"
        for k in ("connection_control", "apn", "dial_user", "dial_password", "server_address", "tcp_port",
                  "udp_port", "maker_id", "platform_auth_code", "hardware_version", "firmware_version", "url",
                  "connect_time_limit")
    },
    "go_0104_2019_91_params": {
        "params.0x0077.raw_hex": "collector error: 23 bytes for a parameter whose own length fact says 22 (it "
        "takes the first byte of the next ID 00000079); length is checked and the frame re-encodes exactly",
    },
}

#: Conformant frames whose re-encoding differs from the source's bytes, and why. For
#: these the test asserts that re-decoding our encoding gives an equal body.
REENCODE_DIFFERS: dict[str, str] = {
    # Fixed strings left-padded with NUL (or '0'): we pad on the right, as the standard's
    # examples and most terminals do; decoding strips both sides.
    "smallchi_0702_body_2019_face_uid": "certificate and ID-card numbers left-padded with NUL",
    "yzh_0100_2013_left_padded": "fixed strings left-padded with NUL",
    "yzh_0100_2019_left_padded": "fixed strings left-padded with NUL",
    "yzh_0102_2019": "software version left-padded with NUL",
    "yzh_0107_2013": "fixed strings left-padded with NUL",
    "yzh_0107_2019": "fixed strings left-padded with NUL",
    "smallchi_0702_body_2013_encode_left_padded": "qualification code left-padded with NUL",
    "smallchi_0702_body_2019_encode": "qualification code and ID card left-padded with NUL",
    "smallchi_0702_body_2011": "ID card and qualification code left-padded with NUL",
    # Plate given as 16 NULs: the plate runs to the end of the body and trailing NULs
    # are dropped, so we re-encode an empty plate.
    "traccar_0100_2019_device_empty_plate": "plate of NUL padding only",
    # Bit 14 on a 2013 header: we re-encode a plain 2013 header (bit 14 clear).
    "smallchi_0102_bit14_set_2013_layout": "bit 14 set on a 2013 header",
    "smallchi_0200_bit14_set_2013_layout_device": "bit 14 set on a 2013 header",
}

#: Decoding options a vector needs, from the codec's documented configuration.
CTX_OPTIONS: dict[str, dict[str, Any]] = {
    # 2019 0x8003 re-send count: implementations disagree (BYTE vs WORD) and the codec
    # makes it a per-terminal option, BYTE by default; yezhihao uses WORD.
    "yzh_8003_2019_count_word": {"resend_count_word": True},
}

#: Real disagreements that look like codec bugs (see the final report).
XFAIL: dict[str, str] = {}

# --------------------------------------------------------------------------------------
# Helpers

VERSIONS = {"2011": jt808.V2011, "2013": jt808.V2013, "2019": jt808.V2019, None: jt808.V2013}


def ctx_of(v: dict[str, Any]) -> jt808.Ctx:
    return jt808.Ctx(VERSIONS[v.get("version")], v.get("variant") or "auto", **CTX_OPTIONS.get(v["name"], {}))


def hint_of(v: dict[str, Any]) -> int | None:
    return jt808.V2011 if v.get("version") == "2011" else None


def frame_of(v: dict[str, Any]) -> bytes:
    if "hex" in v:
        return bytes.fromhex(v["hex"])
    return jt808.encode(int(v["msg_id"], 16), bytes.fromhex(v["body_hex"]), phone="0", seq=0,
                        version=VERSIONS[v.get("version")])


def header_len(m: jt808.Message) -> int:
    return (17 if m.version == jt808.V2019 else 12) + (4 if m.packet_total else 0)


def decode(v: dict[str, Any], frame: bytes, verify: bool = True) -> jt808.Message:
    return jt808.decode(frame, ctx_of(v), verify_check=verify, version_hint=hint_of(v))


def seen_of(v: dict[str, Any], m: jt808.Message, frame: bytes, check_ok: bool) -> Seen:
    content = jt808.unwrap(frame, verify=False)
    return Seen(m, m.ctx(ctx_of(v)), content, content[header_len(m):], check_ok=check_ok)


def check_facts(v: dict[str, Any], seen: Seen, body: Any) -> Report:
    facts = dict(v.get("facts", {}))
    scope = FACTS.get(v["msg_id"]) if v.get("msg_id") else None
    assert scope is not None, f"no fact mapping for message {v.get('msg_id')}"
    report = check(facts, scope, seen, body, Report(), skip=VECTOR_SKIP.get(v["name"]), top=True)
    if "derived_header" in v:
        check(v["derived_header"], DERIVED_HEADER, seen, body, report, "derived_header")
    return report


def assert_report(report: Report) -> None:
    assert not report.unmapped, f"fact keys neither mapped nor listed as unchecked: {report.unmapped}"
    assert not report.mismatches, "\n".join(report.mismatches)


TOTALS = {"facts": 0, "vectors": 0}


def _param(v: dict[str, Any]) -> Any:
    marks = []
    if v["name"] in XFAIL:
        marks.append(pytest.mark.xfail(strict=True, raises=jt808.Jt808Error, reason=XFAIL[v["name"]]))
    return pytest.param(v, id=v["name"], marks=marks)


# --------------------------------------------------------------------------------------
# The parametrized test


@pytest.mark.parametrize("v", [_param(v) for v in VECTORS])
def test_vector(v: dict[str, Any]) -> None:
    name = v["name"]
    kind = v.get("kind")
    facts = v.get("facts", {})
    if kind == "escape":
        _escape_vector(v)
        return
    if kind == "layout":
        _layout_vector(v)
        return
    if "packets" in v:
        _packet_vector(v)
        return
    frame = frame_of(v)
    check_ok = True
    if v.get("bad_check"):
        with pytest.raises(jt808.BadCheckCode):
            decode(v, frame)
        check_ok = False
    if "expect_error" in facts and name in TOLERATED:
        decode(v, frame, verify=check_ok)
        return
    if "expect_error" in facts and not v.get("bad_check"):  # a bad check code is the expected error
        try:
            decode(v, frame, verify=check_ok)
        except Exception as e:  # the point is which exception it is
            assert isinstance(e, jt808.Jt808Error), f"untyped error {type(e).__name__}: {e}"
        else:
            raise AssertionError(f"{name}: expected {facts['expect_error']}, decoded fine")
        return
    expected_error = REJECTED.get(name) or BROKEN_AFTER_CHECK.get(name) or UNSUPPORTED_LAYOUT.get(name)
    if expected_error:
        err, _why = expected_error
        with pytest.raises(err) as info:
            decode(v, frame, verify=check_ok)
        if info.value.header is not None:  # the header was read: its facts still hold
            m = info.value.header
            seen = seen_of(v, m, frame, check_ok)
            header_facts = {k: f for k, f in facts.items() if k in HEADER}
            report = check(header_facts, Scope({}), seen, None, Report(), top=True)
            assert_report(report)
            TOTALS["facts"] += report.checked
        return

    ctx = ctx_of(v)
    try:
        m = decode(v, frame, verify=check_ok)
    except jt808.UnknownMessageId as e:  # 0x0302/0x8302: only the header is ours to check
        m = e.header
        m.body = e.body
    seen = seen_of(v, m, frame, check_ok)
    report = check_facts(v, seen, m.body)
    assert_report(report)
    TOTALS["facts"] += report.checked
    TOTALS["vectors"] += 1

    # Re-encoding: conformant vectors give back their exact bytes.
    if v.get("nonstandard") or v.get("bad_check") or "expect_error" in facts:
        again = decode(v, jt808.encode_message(m, ctx))
        assert again.body == m.body
        return
    if isinstance(m.body, bytes) and not m.is_packet and not m.encryption:
        assert jt808.encode(m.msg_id, m.body, phone=m.phone, seq=m.seq, version=m.version).hex() == frame.hex()
        return
    out = jt808.encode_message(m, ctx)
    if name in REENCODE_DIFFERS:
        assert out != frame, f"{name} now re-encodes exactly: drop it from REENCODE_DIFFERS"
        again = decode(v, out)
        assert again.body == m.body
        return
    assert out.hex() == frame.hex()


def _escape_vector(v: dict[str, Any]) -> None:
    wire = bytes.fromhex(v["hex"])
    content = bytes.fromhex(v["content_hex"])
    assert jt808.escape(content) == wire[1:-1]
    assert (b"\x7e" + jt808.unescape(wire[1:-1]) + b"\x7e").hex() == v["facts"]["unescaped_frame_hex"]
    TOTALS["facts"] += 1


def _layout_vector(v: dict[str, Any]) -> None:
    from icvcloud.protocols.jt808.active_safety import IDENT, AlarmIdentification

    facts = v["facts"]
    ours = {"jsatl_jiangsu": "jsatl", "gdrta_guangdong": "gdrta"}
    # 黑龙江, 湖南 and 四川 layouts are not implemented: only 苏标 and 粤标.
    assert set(facts) - set(ours) == {"hlj_heilongjiang", "hunan", "sichuan"}
    for key, variant in ours.items():
        ctx = jt808.Ctx(jt808.V2013, variant)
        ident = AlarmIdentification(terminal_id="", time="000000000000", seq=0, attachment_count=0,
                                    reserved=bytes(2 if variant == "gdrta" else 1))
        enc = IDENT.encode(ident, ctx)
        assert len(enc) == facts[key]["alarm_identification_len"]
        assert len(enc) - 6 - 2 - len(ident.reserved) == facts[key]["terminal_id_len"]
        TOTALS["facts"] += 2


def _packet_vector(v: dict[str, Any]) -> None:
    ctx = ctx_of(v)
    packets = [jt808.decode(bytes.fromhex(h), ctx) for h in v["packets"]]
    r = jt808.Reassembler()
    whole = None
    for i, p in enumerate(packets):
        assert p.is_packet and p.packet_index == i + 1
        try:
            got = r.add(p, now=float(i))
        except jt808.UnknownMessageId as e:  # 0x1205 is JT/T 1078, not declared here
            got = e.header
            got.body = e.body
        assert (got is not None) == (i == len(packets) - 1)
        whole = got or whole
    assert whole is not None and len(r) == 0
    assert isinstance(whole.body, bytes)
    seen = Seen(whole, ctx, b"", whole.body, packets=packets)
    report = check_facts(v, seen, whole.body)
    assert_report(report)
    TOTALS["facts"] += report.checked
    TOTALS["vectors"] += 1
    # Each packet re-encodes to its exact frame.
    for h, p in zip(v["packets"], packets, strict=True):
        assert jt808.encode_message(p).hex() == h


# --------------------------------------------------------------------------------------
# Documented behaviour on the nonstandard vectors


NEGATIVE = [n for n, s in VECTOR_SKIP.items() if "lat_raw" in s]


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_coordinates_nonstandard(name: str) -> None:
    """Two's-complement coordinates: the decoder still reads the DWORDs as unsigned
    magnitudes with the sign from status bits 2/3 (the standard), and never fails."""
    v = BY_NAME[name]
    body = bytes.fromhex(v["body_hex"])
    m = decode(v, frame_of(v))
    lat_u, lon_u = struct.unpack_from(">II", body, 8)
    b = m.body
    assert b.lat == (-lat_u if b.status & 4 else lat_u) / 1e6
    assert b.lon == (-lon_u if b.status & 8 else lon_u) / 1e6
    assert (lat_u, lon_u) == (v["facts"]["lat_raw"] & 0xFFFFFFFF, v["facts"]["lon_raw"] & 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("name", "item", "length"),
    [
        ("smallchi_0200_body_0x07_satellite_list", 0x07, 44),
        ("jsatl_0200_extra_0x64_adas_wrong_declared_length", 0x64, 32),
        ("jsatl_0200_extra_0x65_dsm_wrong_declared_length", 0x65, 32),
        ("jsatl_go_0200_synthetic_0x66_tpms_misaligned", 0x66, 49),
        ("jsatl_go_0200_synthetic_0x70_aggressive_driving", 0x70, 47),
        ("jsatl_0200_extra_0x67_bsd", 0x67, 42),
    ],
)
def test_items_that_do_not_fit_are_kept_raw(name: str, item: int, length: int) -> None:
    """An item whose length its definition rejects (or an unknown ID) is kept as
    raw bytes, the rest of the report decodes, and nothing is lost on re-encoding."""
    v = BY_NAME[name]
    frame = frame_of(v)
    m = decode(v, frame)
    raw = m.body.extras[item]
    assert isinstance(raw, RawItem) and len(raw) == length
    assert jt808.encode_message(m, ctx_of(v)) == frame


def test_0704_item_extras_tolerated() -> None:
    """go_0704_item_length_overrun: the third item's extras are 02 01 00 12 (fuel with
    one byte, then a lone ID): kept as a raw item and a one-byte tail, nothing lost."""
    v = BY_NAME["go_0704_item_length_overrun"]
    frame = frame_of(v)
    m = decode(v, frame)
    third = m.body.items[2].extras
    assert dict(third) == {0x02: b"\x00"} and isinstance(third[0x02], RawItem) and third.tail == b"\x12"
    assert jt808.encode_message(m, ctx_of(v)) == frame


def test_8105_nonstandard_params() -> None:
    """SmallChi's 0x8105 writes its own parameter order with binary ports; the text
    fields still come out of the ';'-separated list in that order."""
    v = BY_NAME["smallchi_8105_cmd1_params"]
    f = v["facts"]
    p = decode(v, frame_of(v)).body.param_list
    texts = [f[k] for k in ("apn", "dial_user", "dial_password", "server_address")]
    assert p[1:5] == texts
    assert p[7:12] == [f[k] for k in ("maker_id", "platform_auth_code", "hardware_version", "firmware_version", "url")]


def test_vector_totals() -> None:
    """Runs last in file order: how much the vectors covered (see -s output)."""
    print(f"\nvectors with facts checked: {TOTALS['vectors']}, facts checked: {TOTALS['facts']}")


def test_policy_tables_name_real_vectors() -> None:
    tables: list[Any] = [REJECTED, BROKEN_AFTER_CHECK, UNSUPPORTED_LAYOUT, TOLERATED, VECTOR_SKIP, REENCODE_DIFFERS,
                         CTX_OPTIONS, XFAIL]
    for t in tables:
        assert set(t) <= set(BY_NAME), set(t) - set(BY_NAME)
    for name in REJECTED:
        assert BY_NAME[name].get("nonstandard"), f"{name} is rejected but not marked nonstandard"


def test_every_message_id_has_a_mapping() -> None:
    ids = {v["msg_id"] for v in VECTORS if v.get("msg_id")}
    assert ids <= set(FACTS), ids - set(FACTS)
    assert all(isinstance(s, Scope) for s in FACTS.values())

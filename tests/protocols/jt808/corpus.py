"""Valid frames of many kinds, built with the library, as seeds for fuzzing and benchmarks."""

from __future__ import annotations

from datetime import datetime

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import active_safety as asf
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import CST


def location(i: int = 0, **extra: object) -> jt808.Location:
    items = ExtraItems({0x01: 12345.6 + i, 0x02: 80.5, 0x25: 0x11, 0x2A: 0, 0x30: 25, 0x31: 12})
    for k, v in extra.items():
        items[int(k[1:], 16)] = v
    return jt808.Location(
        alarm=0, status=0x000C0003, lat=36.8 + i * 1e-4, lon=118.05 + i * 1e-4, altitude_m=60,
        speed_kmh=52.3, heading_deg=(i * 7) % 360, time=datetime(2026, 11, 24, 9, 30, i % 60, tzinfo=CST),
        extras=items,
    )


def adas_item(variant: str = "jsatl") -> asf.AdasAlarm:
    ident = asf.AlarmIdentification(terminal_id="T0001", time=datetime(2026, 11, 24, 9, 30, 5, tzinfo=CST), seq=0,
                                    attachment_count=2, reserved=b"\x00" if variant == "jsatl" else b"\x00\x00")
    return asf.AdasAlarm(alarm_id=7, flag=1, alarm_type=1, level=2, front_vehicle_speed_kmh=40, front_headway_100ms=8,
                         deviation_type=0, road_sign_type=0, road_sign_value=0, speed_kmh=52, altitude_m=60,
                         lat=36.8, lon=118.05, time=datetime(2026, 11, 24, 9, 30, 5, tzinfo=CST), vehicle_status=0x401,
                         identification=ident)


def frames() -> list[bytes]:
    phone = "13912345678"
    out = [
        jt808.encode(0x0002, None, phone=phone, seq=1),
        jt808.encode(0x0200, location(), phone=phone, seq=2),
        jt808.encode(0x0200, location(1, x64=adas_item()), phone=phone, seq=3),
        jt808.encode(0x0200, location(2), phone="00000000013912345678", seq=4, version=jt808.V2019),
        jt808.encode(0x0704, jt808.BatchLocation(batch_type=1, items=[location(i) for i in range(10)]), phone=phone,
                     seq=5),
        jt808.encode(0x0100, jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M1",
                                            terminal_id="T0001", plate_colour=2, plate="鲁C12345"), phone=phone,
                     seq=6),
        jt808.encode(0x0102, jt808.Authenticate(auth_code="abc123"), phone=phone, seq=7),
        jt808.encode(0x0001, jt808.TerminalReply(reply_seq=1, reply_msg_id=0x8300, result=0), phone=phone, seq=8),
        jt808.encode(0x8300, jt808.Text(flag=0x0C, text="请注意安全驾驶"), phone=phone, seq=9),
    ]
    out += jt808.encode_packets(0x0801, bytes(range(256)) * 8, phone=phone, first_seq=10)
    return out

"""Names of the 0x0200 alarm and status bits (JT/T 808-2013 tables 24/25, 2019 deltas)."""

from __future__ import annotations

from .wire import U32, Flags

#: Alarm flag bits. The 2019 edition gives meanings to bits 15–17, reserved in 2013.
ALARM_BITS: dict[int, str] = {
    0: "emergency",  # 紧急报警 (SOS button); cleared by the platform's reply
    1: "overspeed",  # 超速报警
    2: "fatigue_driving",  # 疲劳驾驶
    3: "danger_warning",  # 危险预警 / 2019 危险驾驶行为报警
    4: "gnss_module_fault",  # GNSS 模块发生故障
    5: "gnss_antenna_disconnected",  # GNSS 天线未接或被剪断
    6: "gnss_antenna_short_circuit",  # GNSS 天线短路
    7: "main_power_undervoltage",  # 终端主电源欠压
    8: "main_power_off",  # 终端主电源掉电
    9: "display_fault",  # 终端 LCD 或显示器故障
    10: "tts_fault",  # TTS 模块故障
    11: "camera_fault",  # 摄像头故障
    12: "ic_card_module_fault",  # 道路运输证 IC 卡模块故障
    13: "overspeed_warning",  # 超速预警
    14: "fatigue_warning",  # 疲劳驾驶预警
    15: "illegal_driving_period",  # 2019: 违规行驶报警 (see parameter 0x0032)
    16: "tyre_pressure_warning",  # 2019: 胎压预警
    17: "right_turn_blind_spot",  # 2019: 右转盲区异常报警
    18: "daily_driving_overtime",  # 当天累计驾驶超时
    19: "parking_overtime",  # 超时停车
    20: "area_in_out",  # 进出区域
    21: "route_in_out",  # 进出路线
    22: "section_time_abnormal",  # 路段行驶时间不足/过长
    23: "route_deviation",  # 路线偏离报警
    24: "vss_fault",  # 车辆 VSS 故障
    25: "fuel_abnormal",  # 车辆油量异常
    26: "stolen",  # 车辆被盗
    27: "illegal_ignition",  # 车辆非法点火
    28: "illegal_displacement",  # 车辆非法位移
    29: "collision_warning",  # 碰撞预警 (2011: 碰撞侧翻报警)
    30: "rollover_warning",  # 侧翻预警
    31: "illegal_door_open",  # 非法开门报警
}

#: Alarm bits the terminal clears once the platform has answered (收到应答后清零);
#: the others stay set while the condition lasts.
ALARM_CLEARED_BY_REPLY = frozenset({0, 3, 20, 21, 22, 27, 28, 31})

#: Status bits. Bits 8–9 (load) are a two-bit group, named in ``STATUS_GROUPS``.
STATUS_BITS: dict[int, str] = {
    0: "acc_on",
    1: "positioned",
    2: "south_latitude",
    3: "west_longitude",
    4: "out_of_service",  # 停运
    5: "coordinates_encrypted",  # 经纬度已经保密插件加密
    6: "forward_collision_warning",  # 2019: 紧急刹车系统采集的前撞预警
    7: "lane_departure_warning",  # 2019: 车道偏移预警
    10: "oil_circuit_cut",
    11: "electric_circuit_cut",
    12: "doors_locked",
    13: "door1_open",  # front
    14: "door2_open",  # middle
    15: "door3_open",  # rear
    16: "door4_open",  # driver's
    17: "door5_open",  # custom
    18: "gps_used",
    19: "beidou_used",
    20: "glonass_used",
    21: "galileo_used",
    22: "moving",  # 2019: 车辆行驶状态
}
STATUS_GROUPS = {(8, 2): {1: "load_half", 2: "load_reserved", 3: "load_full"}}  # 0 = empty, no flag

ALARM = Flags(U32, ALARM_BITS)
STATUS = Flags(U32, STATUS_BITS, STATUS_GROUPS)

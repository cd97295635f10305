"""Episode keys: derived from the data only (vehicle, rule, the device time that
starts the episode, the fence or alarm it is about), so replaying reports — in any
order — names the same episodes."""

from __future__ import annotations


def key(vehicle_id: int, alarm_type: str, *parts: object) -> str:
    return "|".join((str(vehicle_id), alarm_type, *(str(p) for p in parts)))

"""What the API needs from the rest of the platform, handed in by whoever runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from icvcloud.live import LiveHub
from icvcloud.log.base import Log
from icvcloud.store.base import Store


@dataclass(frozen=True)
class ApiSettings:
    #: API tokens (from login or ``icv user add --token``) expire this long after issue.
    token_ttl_s: float = 90 * 86400.0
    #: The longest track one request may ask for.
    max_track_days: float = 7.0
    #: Points one track request reads at most (the response says when it was cut).
    max_track_points: int = 100_000


def _no_health() -> dict[str, Any]:
    return {}


@dataclass(kw_only=True)
class ApiServices:
    store: Store
    #: The log, for terminal debugging (recent inbound frames); None: bad frames only.
    log: Log | None = None
    hub: LiveHub
    #: Served at /metrics.
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: Extra fields for /health (uptime, connections, log lag…); must be cheap.
    health: Callable[[], dict[str, Any]] = _no_health
    settings: ApiSettings = field(default_factory=ApiSettings)
    #: Alarms, commands, notifications (``alarm_services.AlarmServices``); None: those endpoints answer 503.
    alarms: Any = None
    #: Hazmat registry, waybills, findings (``hazmat_services.HazmatServices``); None: those endpoints answer 503.
    hazmat: Any = None

"""The alarm rule engine: pure code over per-vehicle state, no I/O.

``Engine.process(vehicle, position)`` evaluates one report and returns the
:class:`~icvcloud.model.alarms.AlarmEvent` values it causes; ``Engine.tick(now)``
runs the time-driven rules. Rules are configured with :class:`RuleProfiles`,
places with :class:`~icvcloud.model.fences.Fence`. See docs/engine.md.
"""

from .config import ConfigError, EngineConfig, RuleProfile, RuleProfiles, RuleSet
from .context import VehicleContext
from .engine import Engine, EngineStats

__all__ = [
    "ConfigError",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "RuleProfile",
    "RuleProfiles",
    "RuleSet",
    "VehicleContext",
]

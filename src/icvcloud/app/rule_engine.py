"""The rule engine as the platform runs it: built from the rule file and the
definitions stored through the API, vehicles described in the engine's terms, and
definitions checked before they are stored.

Stored definitions and the engine's types (``model/fences.py``, ``engine/config.py``):

* geofences and routes: the :class:`~icvcloud.model.fences.Fence` JSON form without
  ``id``, ``name`` and ``enabled`` (the rows' columns); routes are fences of kind
  ``corridor``. A fence stored for an organisation applies to that organisation's
  vehicles only.
* rule profiles: a ``[[profile]]`` of the rule file as JSON without ``name``; a
  profile stored for an organisation applies to that organisation's vehicles only.
  Stored profiles come after the file's, so among equally specific profiles they win.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from icvcloud.config import Config
from icvcloud.engine import Engine, RuleProfiles, VehicleContext
from icvcloud.model import Vehicle
from icvcloud.model.alarms import AlarmEvent
from icvcloud.model.fences import Fence
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import AlarmIdentification
from icvcloud.store.alarms_base import Definition, DefinitionKind

from .alarms import Definitions, RuleEngine

_COLUMNS = ("id", "name", "enabled")


def vehicle_context(v: Vehicle) -> VehicleContext:
    return VehicleContext(vehicle_id=v.id, device_id=v.device_id or "", org_id=v.org_id, vehicle_type=v.vehicle_type)


def fence_of(d: Definition) -> Fence:
    """A stored geofence or route as the engine's fence (an organisation's applies to its vehicles)."""
    spec = {k: v for k, v in d.spec.items() if k not in _COLUMNS}
    if d.org_id is not None:
        spec["org_ids"] = [d.org_id]
    return Fence.from_dict({**spec, "id": d.id, "name": d.name, "enabled": d.enabled})


def validate_definition(kind: DefinitionKind, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(geofence kind, the spec as stored) or ValueError with the reason."""
    spec = {k: v for k, v in spec.items() if k not in _COLUMNS}
    if kind == "profile":
        RuleProfiles.from_dict({"profile": [{**spec, "name": "p"}]})
        return "", spec
    fence = Fence.from_dict({**spec, "id": 0, "name": ""})
    if kind == "route" and fence.kind != "corridor":
        raise ValueError(f"a route is a fence of kind corridor, not {fence.kind}")
    out = {k: v for k, v in fence.to_dict().items() if k not in _COLUMNS}
    return fence.kind, out


class RuleSource:
    """The rule file (``[alarms] rules_file``, or the engine's defaults) plus stored definitions."""

    def __init__(self, cfg: Config) -> None:
        path = cfg.alarms.rules_file
        self.file: dict[str, Any] = load_rule_file(Path(path)) if path else {}
        if self.file:
            RuleProfiles.from_dict(self.file)  # a broken file stops the start, with the reason

    def profiles(self, defs: Definitions) -> RuleProfiles:
        profiles = list(self.file.get("profile", []))
        for d in defs.profiles:
            p = {**{k: v for k, v in d.spec.items() if k not in _COLUMNS}, "name": f"{d.name} (#{d.id})"}
            if d.org_id is not None:
                p["org_ids"] = [d.org_id]
            profiles.append(p)
        return RuleProfiles.from_dict({**({"defaults": self.file["defaults"]} if "defaults" in self.file else {}),
                                       "profile": profiles})

    def build(self, defs: Definitions) -> RuleEngine:
        engine: RuleEngine = Engine(self.profiles(defs), [fence_of(d) for d in defs.geofences])
        return engine

    def update(self, engine: RuleEngine, defs: Definitions) -> None:
        assert isinstance(engine, Engine)
        engine.set_profiles(self.profiles(defs))
        engine.set_fences([fence_of(d) for d in defs.geofences])


def load_rule_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    return data


def alarm_ref_enricher(assign: Callable[[str, Any], str]) -> Callable[[AlarmEvent], AlarmEvent]:
    """Active-safety events whose details carry the terminal's alarm identification get
    the attachment service's alarm number as ``details.alarm_ref``."""

    def enrich(e: AlarmEvent) -> AlarmEvent:
        ident = e.details.get("identification")
        if e.category != "active_safety" or not isinstance(ident, dict) or "alarm_ref" in e.details:
            return e
        try:
            ref = assign(e.device_id, jt808.from_json(AlarmIdentification, ident))
        except (jt808.EncodeError, ValueError, TypeError, KeyError):
            return e
        return dataclasses.replace(e, details={**e.details, "alarm_ref": ref})

    return enrich

"""Configuration: one TOML file plus environment overrides.

Precedence (lowest first): defaults below → the TOML file (``--config``, or
``$ICV_CONFIG``, or ``./icvcloud.toml`` if present) → environment variables named
``ICV__SECTION__KEY`` (e.g. ``ICV__JT808__PORT=7000``). ``icv config show`` prints
the result.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Jt808Config:
    host: str = "0.0.0.0"  # noqa: S104 - a gateway listens for terminals on every interface
    port: int = 6808
    #: "open": unknown terminals register themselves (demo); "registered": only
    #: terminals provisioned in the registry are admitted (others get the standard's
    #: failure codes).
    admission: str = "open"
    idle_timeout_s: float = 300.0
    max_frame_bytes: int = 2200
    #: Frames per second a connection may sustain (burst allowance 4x) before it is cut.
    max_frames_per_s: float = 200.0
    subpackage_timeout_s: float = 30.0


@dataclass
class StorageConfig:
    data_dir: str = "./data"
    #: Log records are kept at least this long (and until every consumer passed them).
    log_retention_h: float = 72.0
    track_retention_days: int = 190


@dataclass
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token_ttl_days: int = 90


@dataclass
class LiveConfig:
    #: A device with no message for this long is offline.
    offline_after_s: float = 180.0


@dataclass
class SimConfig:
    vehicles: int = 300
    interval_min_s: float = 10.0
    interval_max_s: float = 30.0
    seed: int = 808
    protocol_version: int = 2013


@dataclass
class LoggingConfig:
    level: str = "INFO"
    json: bool = True


@dataclass
class Config:
    jt808: Jt808Config = field(default_factory=Jt808Config)
    storage: StorageConfig = field(default_factory=StorageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    pass


def _coerce(value: str, like: Any, name: str) -> Any:
    try:
        if isinstance(like, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
    except ValueError as e:
        raise ConfigError(f"{name}: cannot read {value!r} as {type(like).__name__}") from e
    return value


def _apply(cfg: Config, section: str, key: str, value: Any, origin: str) -> None:
    sec = getattr(cfg, section, None)
    if sec is None or not dataclasses.is_dataclass(sec):
        raise ConfigError(f"{origin}: unknown section [{section}]")
    names = {f.name for f in dataclasses.fields(sec)}
    if key not in names:
        raise ConfigError(f"{origin}: unknown key {section}.{key} (known: {', '.join(sorted(names))})")
    current = getattr(sec, key)
    if isinstance(value, str) and not isinstance(current, str):
        value = _coerce(value, current, f"{origin} {section}.{key}")
    elif isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif type(value) is not type(current):
        raise ConfigError(f"{origin}: {section}.{key} must be {type(current).__name__}, got {value!r}")
    setattr(sec, key, value)


def load(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    cfg = Config()
    if path is None:
        path = env.get("ICV_CONFIG") or ("icvcloud.toml" if Path("icvcloud.toml").exists() else None)
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file {p} not found") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: {e}") from e
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{p}: {section} must be a table")
            for key, value in values.items():
                _apply(cfg, section, key, value, str(p))
    for name, value in env.items():
        if name.startswith("ICV__"):
            parts = name[5:].lower().split("__")
            if len(parts) != 2:
                raise ConfigError(f"{name}: expected ICV__SECTION__KEY")
            _apply(cfg, parts[0], parts[1], value, f"environment {name}")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if cfg.jt808.admission not in ("open", "registered"):
        raise ConfigError(f"jt808.admission must be 'open' or 'registered', not {cfg.jt808.admission!r}")
    for name, port in (("jt808.port", cfg.jt808.port), ("api.port", cfg.api.port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{name} {port} is not a TCP port")
    if cfg.sim.protocol_version not in (2013, 2019):
        raise ConfigError("sim.protocol_version must be 2013 or 2019")


def to_toml(cfg: Config) -> str:
    lines = []
    for section, values in cfg.as_dict().items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, (int, float)):
                lines.append(f"{k} = {v}")
            else:
                lines.append(f'{k} = "{v}"')
        lines.append("")
    return "\n".join(lines)

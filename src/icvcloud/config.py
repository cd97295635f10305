"""Configuration: one TOML file plus environment overrides.

Precedence (lowest first): defaults below → the TOML file (``--config``, or
``$ICV_CONFIG``, or ``./icvcloud.toml`` if present) → environment variables named
``ICV__SECTION__KEY`` (e.g. ``ICV__JT808__PORT=7000``). ``icv config show`` prints
the result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
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
    #: Alarms with their handling (≥ 3 years by regulation), pruned every ``prune_every_h``.
    alarm_retention_days: int = 1100
    prune_every_h: float = 24.0


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
class ConsoleConfig:
    """The web console (see docs/console.md). The default basemap is offline: only
    the GeoJSON roads and districts the platform serves, no request leaves the machine."""

    #: "none" (offline GeoJSON only), "osm", "tianditu" (needs ``tianditu_key``) or
    #: "custom" (``tile_url``, e.g. a licensed commercial basemap).
    basemap: str = "none"
    #: custom: a raster tile URL with {z}, {x}, {y} (and optionally {s} for ``tile_subdomains``).
    tile_url: str = ""
    tile_subdomains: str = ""
    #: custom: the tiles' coordinate system: "wgs84" (also CGCS2000) or "gcj02" (AMap, Tencent):
    #: the console then shifts everything it draws to GCJ-02 at display time.
    tile_coords: str = "wgs84"
    tile_attribution: str = ""
    tile_max_zoom: int = 18
    tianditu_key: str = ""
    #: GeoJSON files for the offline basemap; empty: the schematic Zibo network and districts.
    roads_geojson: str = ""
    districts_geojson: str = ""
    #: The initial view (WGS-84): all of Zibo on a laptop screen.
    center_lon: float = 118.02
    center_lat: float = 36.64
    zoom: float = 8.2


@dataclass
class AttachmentsConfig:
    """Active-safety evidence files (0x9208 → attachment server; see docs/attachments.md)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # noqa: S104 - terminals connect from anywhere, like the gateway
    #: 0: any free port (announced in 0x9208 as bound). Production sets a fixed port
    #: (e.g. 6809) and ``public_host``, the address terminals reach it at.
    port: int = 0
    #: Announced to terminals in 0x9208: the address they can reach (not a wildcard).
    public_host: str = "127.0.0.1"
    #: 0: the port the server listens on.
    public_tcp_port: int = 0
    public_udp_port: int = 0
    #: Issue 0x9208 for every active-safety alarm whose identification announces files.
    request_on_alarm: bool = True
    max_file_bytes: int = 64 << 20
    max_files: int = 32
    #: Data bytes one stream frame may carry (terminals send at most 64 KiB).
    max_data_bytes: int = 1 << 20
    idle_timeout_s: float = 120.0
    #: An unfinished upload keeps its received ranges this long for the terminal to resume.
    upload_ttl_s: float = 3600.0
    #: "auto", "jsatl" (苏标) or "gdrta" (粤标): the width of the alarm identification.
    variant: str = "auto"
    #: Key of the alarm numbers' HMAC; empty: one generated into data_dir/attachments/.secret.
    secret: str = ""


@dataclass
class AlarmsConfig:
    """Alarm storage, notifications and commands (see docs/alarms.md)."""

    enabled: bool = True
    #: Rule profiles (TOML or JSON, the engine's format: docs/engine.md); empty: the
    #: built-in defaults. Profiles stored through the API are layered after the file's.
    rules_file: str = ""
    #: A repeat of the same alarm type on the same vehicle within this many seconds
    #: (device time) of an unhandled alarm is merged into it.
    merge_window_s: float = 300.0
    #: The engine's state is checkpointed this often (a restart replays at most this much).
    checkpoint_s: float = 30.0
    #: Time-driven rules (offline, stops) run this often.
    tick_s: float = 5.0
    #: A command with no answer from the terminal after this long is timed_out.
    command_timeout_s: float = 60.0
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 12
    #: First retry after this long, doubling up to an hour.
    webhook_backoff_s: float = 5.0


@dataclass
class HazmatConfig:
    """Hazmat transport supervision: registry, waybills, findings (see docs/hazmat.md)."""

    enabled: bool = True
    #: A waybill for a vehicle whose terminal is offline is refused ("refuse") or
    #: issued with a warning ("warn", for trials).
    offline_terminal: str = "refuse"
    #: Documents expiring within this many days are listed as findings.
    expiring_within_days: int = 30
    #: The longest planned trip a waybill may cover.
    max_trip_days: float = 7.0
    #: Full-trip monitoring (runs in the alarm consumer; needs [alarms] enabled).
    monitor: bool = True
    #: Outside the approved corridor this long (s) is a route deviation.
    deviation_after_s: float = 120.0
    #: Inside the unloading site this long (h) completes a trip that never leaves it (0: never).
    complete_after_h: float = 4.0
    #: Whether a waybill's escort must check in (IC card 0x0702 or manual) before transit.
    escort_check: bool = True
    #: In transit this long (s) without the escort checked in is a finding.
    escort_grace_s: float = 300.0
    #: A hazmat vehicle moving this long (s) without a covering waybill is a finding (0: off).
    no_waybill_after_s: float = 300.0
    #: "always": any movement counts for the no-waybill finding; "status": only while the
    #: terminal's load status bits (8–9) say loaded.
    loaded_from: str = "always"
    #: A waybill covers its vehicle from this long (h) before its departure window ...
    cover_before_h: float = 1.0
    #: ... to this long (h) after its arrival window or completion (the empty return).
    cover_after_h: float = 12.0


@dataclass
class ScaleoutConfig:
    """The scale-out mode (see docs/scaling.md): NATS JetStream as the log, PostgreSQL
    + PostGIS as the store, and ``icv gateway jt808`` / ``icv worker`` / ``icv api``
    processes started separately (or ``icv serve --mode scaleout``, one of each)."""

    #: What ``icv serve`` runs without --mode: "embedded" or "scaleout".
    mode: str = "embedded"
    #: NATS servers, comma-separated (any of a cluster's; the client learns the rest).
    nats_servers: str = "nats://127.0.0.1:4222"
    stream: str = "ICV_LOG"
    subject_prefix: str = "icv.log"
    #: Log partitions (devices hash into them; a worker owns whole partitions). More
    #: partitions than workers you will ever run; changing it re-homes devices.
    partitions: int = 16
    #: JetStream replicas of the log, the consumers and the lease bucket: 3 on a cluster.
    replicas: int = 1
    #: Log size limit in bytes (-1: none); age is storage.log_retention_h.
    log_max_bytes: int = -1
    #: An append not confirmed by JetStream within this fails (terminals re-send).
    publish_timeout_s: float = 5.0
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/icvcloud"
    #: PostgreSQL schema holding the store's tables (PostGIS in public).
    postgres_schema: str = "icv"
    postgres_pool: int = 10
    #: Day partitions of positions kept ready before/after today.
    partition_days_ahead: int = 3
    partition_days_back: int = 7
    #: A worker's partition leases expire this long after its last renewal: the
    #: takeover time after a worker dies.
    lease_ttl_s: float = 6.0
    #: A worker's name in the lease bucket (empty: host name and process ID).
    worker_id: str = ""
    #: NATS KV bucket of workers and partition leases.
    lease_bucket: str = "icv_workers"
    #: Core NATS subject of live updates from workers to API processes.
    live_subject: str = "icv.live"
    #: Core NATS subject of the alarm feed (alarm and command changes → API processes).
    alarm_subject: str = "icv.alarms"
    #: Core NATS subject on which API processes ask the gateways to send commands.
    command_subject: str = "icv.commands"
    #: Gateways and workers serve Prometheus /metrics on this port (0: not at all;
    #: API processes serve it with the API). One port per process on a machine.
    metrics_port: int = 0


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
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    attachments: AttachmentsConfig = field(default_factory=AttachmentsConfig)
    hazmat: HazmatConfig = field(default_factory=HazmatConfig)
    scaleout: ScaleoutConfig = field(default_factory=ScaleoutConfig)

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
    _validate_console(cfg.console)
    _validate_scaleout(cfg.scaleout)
    _validate_attachments(cfg.attachments)
    _validate_alarms(cfg)


def _validate_scaleout(s: ScaleoutConfig) -> None:
    if s.mode not in ("embedded", "scaleout"):
        raise ConfigError(f"scaleout.mode must be embedded or scaleout, not {s.mode!r}")
    if not 1 <= s.partitions <= 1024:
        raise ConfigError("scaleout.partitions must be 1-1024")
    if s.replicas not in (1, 3, 5):
        raise ConfigError("scaleout.replicas must be 1, 3 or 5")
    if not [u for u in s.nats_servers.split(",") if u.strip()]:
        raise ConfigError("scaleout.nats_servers names no server")
    if s.lease_ttl_s < 1 or s.publish_timeout_s <= 0 or s.postgres_pool < 2:
        raise ConfigError("scaleout.lease_ttl_s >= 1, publish_timeout_s > 0 and postgres_pool >= 2 are needed")


def _validate_alarms(cfg: Config) -> None:
    a, st = cfg.alarms, cfg.storage
    for name, v in (("alarms.merge_window_s", a.merge_window_s), ("alarms.checkpoint_s", a.checkpoint_s)):
        if v < 0:
            raise ConfigError(f"{name} must be >= 0")
    for name, v in (("alarms.tick_s", a.tick_s), ("alarms.command_timeout_s", a.command_timeout_s),
                    ("alarms.webhook_timeout_s", a.webhook_timeout_s),
                    ("alarms.webhook_backoff_s", a.webhook_backoff_s), ("storage.prune_every_h", st.prune_every_h)):
        if v <= 0:
            raise ConfigError(f"{name} must be > 0")
    for name, n in (("alarms.webhook_max_attempts", a.webhook_max_attempts),
                    ("storage.alarm_retention_days", st.alarm_retention_days),
                    ("storage.track_retention_days", st.track_retention_days)):
        if n < 1:
            raise ConfigError(f"{name} must be >= 1")


def _validate_attachments(a: AttachmentsConfig) -> None:
    for name, port in (("port", a.port), ("public_tcp_port", a.public_tcp_port),
                       ("public_udp_port", a.public_udp_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"attachments.{name} {port} is not a port")
    if a.variant not in ("auto", "jsatl", "gdrta"):
        raise ConfigError(f"attachments.variant must be auto, jsatl or gdrta, not {a.variant!r}")
    if not a.public_host or len(a.public_host.encode()) > 255:
        raise ConfigError("attachments.public_host must be an address terminals can reach")
    if min(a.max_file_bytes, a.max_files, a.max_data_bytes) <= 0 or min(a.idle_timeout_s, a.upload_ttl_s) <= 0:
        raise ConfigError("attachments limits must be positive")


def _validate_console(c: ConsoleConfig) -> None:
    if c.basemap not in ("none", "osm", "tianditu", "custom"):
        raise ConfigError(f"console.basemap must be none, osm, tianditu or custom, not {c.basemap!r}")
    if c.tile_coords not in ("wgs84", "gcj02"):
        raise ConfigError(f"console.tile_coords must be wgs84 or gcj02, not {c.tile_coords!r}")
    if c.basemap == "tianditu" and not c.tianditu_key:
        raise ConfigError("console.basemap = tianditu needs console.tianditu_key (a 天地图 browser key)")
    if c.basemap == "custom" and not all(k in c.tile_url for k in ("{z}", "{x}", "{y}")):
        raise ConfigError("console.basemap = custom needs console.tile_url with {z}, {x} and {y}")
    if "{s}" in c.tile_url and not c.tile_subdomains:
        raise ConfigError("console.tile_url has {s}: set console.tile_subdomains, e.g. \"abc\" or \"1234\"")
    if not (-180 <= c.center_lon <= 180 and -90 <= c.center_lat <= 90 and 0 <= c.zoom <= 22):
        raise ConfigError("console.center_lon/center_lat/zoom out of range")
    if not 1 <= c.tile_max_zoom <= 22:
        raise ConfigError("console.tile_max_zoom must be 1-22")


#: Printed as HIDDEN unless asked: keys, secrets, passwords (also inside DSNs).
HIDDEN = "<hidden>"
_SECRET_KEYS = re.compile(r"(secret|password|_key|token)$")
_DSN_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def _shown(key: str, value: str, secrets: bool) -> str:
    if secrets or not value:
        return value
    if _SECRET_KEYS.search(key):
        return HIDDEN
    return _DSN_PASSWORD.sub(rf"\g<1>{HIDDEN}@", value)


def to_toml(cfg: Config, *, secrets: bool = False) -> str:
    """The configuration as a TOML file; secret values are replaced by ``HIDDEN``
    unless ``secrets`` (so that ``icv config show`` can be pasted into a ticket)."""
    lines = []
    for section, values in cfg.as_dict().items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, (int, float)):
                lines.append(f"{k} = {v}")
            else:
                # A TOML basic string takes JSON's escapes.
                lines.append(f"{k} = {json.dumps(_shown(k, str(v), secrets), ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)

"""The scale-out mode's log and store, built from the ``[scaleout]`` configuration."""

from __future__ import annotations

from icvcloud.config import Config
from icvcloud.log.nats import NatsLogSettings
from icvcloud.store.postgres import PostgresStore


def nats_servers(cfg: Config) -> list[str]:
    return [u.strip() for u in cfg.scaleout.nats_servers.split(",") if u.strip()]


def log_settings(cfg: Config, name: str) -> NatsLogSettings:
    s = cfg.scaleout
    return NatsLogSettings(servers=nats_servers(cfg), stream=s.stream, subject_prefix=s.subject_prefix,
                           partitions=s.partitions, replicas=s.replicas,
                           max_age_s=cfg.storage.log_retention_h * 3600.0, max_bytes=s.log_max_bytes,
                           publish_timeout_s=s.publish_timeout_s, name=name)


def make_store(cfg: Config, connections: int | None = None) -> PostgresStore:
    s = cfg.scaleout
    return PostgresStore(s.postgres_dsn, schema=s.postgres_schema, max_connections=connections or s.postgres_pool,
                         partition_days_back=s.partition_days_back, partition_days_ahead=s.partition_days_ahead,
                         track_retention_days=cfg.storage.track_retention_days)

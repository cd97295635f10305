"""The data spine: devices' reports appended durably, read back by consumers."""

from .base import Log, LogRecord

__all__ = ["Log", "LogRecord"]

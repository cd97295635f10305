"""JT/T 808 gateway."""

from .records import positions_from
from .server import Admission, GatewaySettings, Jt808Connection, Jt808Gateway

__all__ = ["Admission", "GatewaySettings", "Jt808Connection", "Jt808Gateway", "positions_from"]

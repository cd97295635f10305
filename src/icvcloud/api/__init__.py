"""HTTP + WebSocket API (FastAPI): auth and tenant scoping, vehicles, tracks, live
positions, terminal diagnostics, health and metrics. See docs/api.md."""

from .app import create_app
from .auth import create_user, issue_token
from .services import ApiServices, ApiSettings

__all__ = ["ApiServices", "ApiSettings", "create_app", "create_user", "issue_token"]

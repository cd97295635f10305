"""The alarm, command, rule and notification routers (issue 5), registered together."""

from __future__ import annotations

from fastapi import FastAPI

from . import routes_alarms, routes_commands, routes_notifications, routes_rules, ws_alarms


def include(app: FastAPI, prefix: str) -> None:
    # ws_alarms first: its /alarms/live must not be taken for /alarms/{alarm_id}.
    for module in (ws_alarms, routes_alarms, routes_commands, routes_rules, routes_notifications):
        app.include_router(module.router, prefix=prefix)

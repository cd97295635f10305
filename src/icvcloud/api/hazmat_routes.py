"""The hazmat routers (registry, findings, UN numbers, waybills), registered together."""

from __future__ import annotations

from fastapi import FastAPI

from . import routes_driver, routes_hazmat, routes_reports, routes_trips, routes_waybills


def include(app: FastAPI, prefix: str) -> None:
    for module in (routes_hazmat, routes_waybills, routes_trips, routes_driver, routes_reports):
        app.include_router(module.router, prefix=prefix)

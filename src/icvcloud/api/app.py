"""The FastAPI application: routers under /api/v1, health and metrics at the root."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from icvcloud import __version__

from . import alarm_routes, console, routes_auth, routes_devices, routes_orgs, routes_system, routes_vehicles, ws
from .hazmat_routes import include as include_hazmat
from .nul_guard import NulGuard
from .services import ApiServices

log = logging.getLogger("icvcloud.api")

PREFIX = "/api/v1"

_DESCRIPTION = """\
Live state, tracks and terminal diagnostics of the vehicles icvcloud supervises.

Authenticate with `POST /api/v1/auth/login` and send the token as
`Authorization: Bearer <token>`. Roles: viewer (read), operator (also terminal
diagnostics), admin (everything, every organisation). Users of the city's
regulator see every organisation, users of a district sub-unit its jurisdiction
(the organisations below it); others only their own. Hazmat supervision: the
`/api/v1/hazmat` endpoints (enterprises' operators edit their own records).
"""


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def _finite(v: Any) -> Any:
    """NaN and infinities (Python's JSON parser accepts them in a body) as text: the
    error that echoes them must still be valid JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _finite(jsonable_encoder(exc.errors()))}, status_code=422)


def create_app(services: ApiServices, console_settings: console.ConsoleSettings | None = None) -> FastAPI:
    """The API over ``services``; the caller opens and closes the store and log. The web
    console (page, config, offline basemap) is served with ``console_settings`` (defaults)."""
    app = FastAPI(title="icvcloud API", version=__version__, description=_DESCRIPTION)
    app.state.services = services
    for module in (routes_auth, routes_orgs, routes_vehicles, routes_devices, ws):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(routes_system.router)
    alarm_routes.include(app, PREFIX)
    include_hazmat(app, PREFIX)
    console.mount(app, console_settings or console.ConsoleSettings(), PREFIX)
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(NulGuard)
    return app

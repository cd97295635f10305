"""Health and metrics, for load balancers and Prometheus (no authentication)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .auth import Services

router = APIRouter(tags=["system"])
log = logging.getLogger("icvcloud.api")


@router.get("/health", summary="Liveness and a few vital figures",
            responses={503: {"description": "A health probe failed"}})
async def health(services: Services) -> Any:
    try:
        extra = services.health()
    except Exception as e:  # a probe's failure is the health report, not a crash
        log.exception("health probe failed")
        return JSONResponse({"status": "error", "detail": str(e)}, status_code=503)
    return {"status": "ok", **extra}


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(services: Services) -> Response:
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)

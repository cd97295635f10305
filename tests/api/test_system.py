"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace

import httpx

from icvcloud.api import create_app

from .conftest import World


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "log_lag": 0, "connections": 3}


async def test_a_failing_health_probe_is_503(world: World) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("log unavailable")

    app = create_app(replace(world.services, health=broken))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test") as c:
        r = await c.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "error"


async def test_metrics(world: World, client: httpx.AsyncClient) -> None:
    world.requests.inc(3)
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "icv_test_requests_total 3.0" in r.text


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/me", "/api/v1/organisations", "/api/v1/vehicles",
                 "/api/v1/vehicles/stats", "/api/v1/vehicles/{vehicle_id}", "/api/v1/vehicles/{vehicle_id}/track",
                 "/api/v1/devices/{device_id}/frames", "/health", "/metrics"):
        assert path in paths
        for op in paths[path].values():
            assert op["summary"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_paths_are_json_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}

"""The hazmat endpoints are in the OpenAPI description, each with a summary, and
answer 503 where the deployment has no hazmat services."""

from __future__ import annotations

import httpx

from icvcloud.api import ApiServices, create_app
from icvcloud.live import LiveHub

from .conftest import Hz

PATHS = ("/api/v1/hazmat/enterprises", "/api/v1/hazmat/enterprises/{org_id}", "/api/v1/hazmat/vehicles",
         "/api/v1/hazmat/vehicles/{vehicle_id}", "/api/v1/hazmat/people", "/api/v1/hazmat/people/{person_id}",
         "/api/v1/hazmat/assignments", "/api/v1/hazmat/assignments/{assignment_id}", "/api/v1/hazmat/findings",
         "/api/v1/hazmat/un-numbers", "/api/v1/hazmat/un-numbers/{un_number}", "/api/v1/hazmat/waybills",
         "/api/v1/hazmat/waybills/{waybill_id}", "/api/v1/hazmat/waybills/{waybill_id}/cancel")


async def test_openapi(hzw: Hz) -> None:
    doc = (await hzw.client.get("/openapi.json")).json()
    for path in PATHS:
        assert path in doc["paths"], path
        for op in doc["paths"][path].values():
            assert op["summary"], path
    create = doc["paths"]["/api/v1/hazmat/waybills"]["post"]
    assert create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("WaybillRefused")
    assert (await hzw.get("a_viewer", "/hazmat/un-numbers/UN1203")).json()["name_zh"] == "汽油"
    assert (await hzw.get("a_viewer", "/hazmat/un-numbers/9999")).status_code == 404
    found = (await hzw.get("a_viewer", "/hazmat/un-numbers", q="benzene")).json()
    assert found[0]["un_number"] == "1114"


async def test_not_enabled_is_503(hzw: Hz) -> None:
    app = create_app(ApiServices(store=hzw.store, hub=LiveHub()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test") as c:
        r = await c.get("/api/v1/hazmat/waybills", headers=hzw.auth("a_viewer"))
        assert r.status_code == 503

"""Notification rules and webhooks (read: viewer; change: admin), and each
webhook's recent deliveries."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from icvcloud.store.alarms_base import NotificationRule, Webhook

from .alarm_schemas import DeliveryOut, RuleIn, RuleOut, WebhookIn, WebhookOut
from .alarm_services import AlarmServices, alarm_services
from .auth import Caller, Services, Viewer, require
from .schemas import MAX_ID, Error

router = APIRouter(tags=["notifications"])

Admin = Annotated[Caller, Depends(require("admin"))]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
_RESP: dict[int | str, dict[str, Any]] = {401: {"model": Error}, 403: {"model": Error}, 404: {"model": Error}}


def _hook_out(h: Webhook, with_secret: bool = False) -> WebhookOut:
    return WebhookOut(id=h.id, name=h.name, url=h.url, org_id=h.org_id, enabled=h.enabled, created_at=h.created_at,
                      secret=h.secret if with_secret else None)


def _rule_out(r: NotificationRule) -> RuleOut:
    return RuleOut(id=r.id, name=r.name, org_id=r.org_id, alarm_types=r.alarm_types, min_severity=r.min_severity,
                   channel=r.channel, webhook_id=r.webhook_id, enabled=r.enabled, created_at=r.created_at)


def _not_found(what: str, item_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what} {item_id}")


# -- webhooks

@router.get("/webhooks", summary="Webhooks (secrets are not shown)", responses=_RESP)
async def list_webhooks(caller: Viewer, services: Services) -> list[WebhookOut]:
    return [_hook_out(h) for h in await alarm_services(services).store.list_webhooks(caller.scope)]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, responses=_RESP,
             summary="Add a webhook (admin); the response shows its signing secret, once")
async def create_webhook(req: WebhookIn, caller: Admin, services: Services) -> WebhookOut:
    a = alarm_services(services)
    h = Webhook(id=0, org_id=req.org_id, name=req.name, url=str(req.url), secret=req.secret or secrets.token_hex(32),
                enabled=req.enabled, created_at=datetime.now(UTC))
    h.id = await a.store.add_webhook(h)
    return _hook_out(h, with_secret=True)


@router.get("/webhooks/{webhook_id}", summary="One webhook", responses=_RESP)
async def get_webhook(webhook_id: ItemId, caller: Viewer, services: Services) -> WebhookOut:
    h = await alarm_services(services).store.get_webhook(caller.scope, webhook_id)
    if h is None:
        raise _not_found("webhook", webhook_id)
    return _hook_out(h)


@router.put("/webhooks/{webhook_id}", summary="Replace a webhook (admin); without a secret the old one stays",
            responses=_RESP)
async def replace_webhook(webhook_id: ItemId, req: WebhookIn, caller: Admin, services: Services) -> WebhookOut:
    a = alarm_services(services)
    old = await a.store.get_webhook(caller.scope, webhook_id)
    if old is None:
        raise _not_found("webhook", webhook_id)
    h = Webhook(id=webhook_id, org_id=req.org_id, name=req.name, url=str(req.url), secret=req.secret or old.secret,
                enabled=req.enabled, created_at=old.created_at)
    if not await a.store.update_webhook(caller.scope, h):
        raise _not_found("webhook", webhook_id)
    return _hook_out(h)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None,
               summary="Delete a webhook with its rules and deliveries (admin)", responses=_RESP)
async def delete_webhook(webhook_id: ItemId, caller: Admin, services: Services) -> Response:
    if not await alarm_services(services).store.delete_webhook(caller.scope, webhook_id):
        raise _not_found("webhook", webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's recent deliveries, newest first",
            responses=_RESP)
async def list_deliveries(webhook_id: ItemId, caller: Viewer, services: Services,
                          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[DeliveryOut]:
    a = alarm_services(services)
    if await a.store.get_webhook(caller.scope, webhook_id) is None:
        raise _not_found("webhook", webhook_id)
    return [DeliveryOut(id=d.id, event_id=d.event_id, state=d.state, attempts=d.attempts,
                        next_attempt_at=d.next_attempt_at, last_status=d.last_status, last_error=d.last_error,
                        created_at=d.created_at, delivered_at=d.delivered_at)
            for d in await a.store.list_deliveries(caller.scope, webhook_id, limit)]


# -- notification rules

async def _rule(a: AlarmServices, caller: Caller, req: RuleIn, rule_id: int = 0) -> NotificationRule:
    if req.channel == "webhook":
        if req.webhook_id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "channel webhook needs webhook_id")
        if await a.store.get_webhook(caller.scope, req.webhook_id) is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no webhook {req.webhook_id}")
    elif req.webhook_id is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "webhook_id belongs to channel webhook only")
    return NotificationRule(id=rule_id, org_id=req.org_id, name=req.name, alarm_types=req.alarm_types,
                            min_severity=req.min_severity, channel=req.channel, webhook_id=req.webhook_id,
                            enabled=req.enabled, created_at=datetime.now(UTC))


@router.get("/notification-rules", summary="Which alarms notify through which channel", responses=_RESP)
async def list_rules(caller: Viewer, services: Services) -> list[RuleOut]:
    return [_rule_out(r) for r in await alarm_services(services).store.list_rules(caller.scope)]


@router.post("/notification-rules", status_code=status.HTTP_201_CREATED, summary="Add a rule (admin)",
             responses=_RESP)
async def create_rule(req: RuleIn, caller: Admin, services: Services) -> RuleOut:
    a = alarm_services(services)
    r = await _rule(a, caller, req)
    r.id = await a.store.add_rule(r)
    return _rule_out(r)


@router.get("/notification-rules/{rule_id}", summary="One rule", responses=_RESP)
async def get_rule(rule_id: ItemId, caller: Viewer, services: Services) -> RuleOut:
    r = await alarm_services(services).store.get_rule(caller.scope, rule_id)
    if r is None:
        raise _not_found("notification rule", rule_id)
    return _rule_out(r)


@router.put("/notification-rules/{rule_id}", summary="Replace a rule (admin)", responses=_RESP)
async def replace_rule(rule_id: ItemId, req: RuleIn, caller: Admin, services: Services) -> RuleOut:
    a = alarm_services(services)
    old = await a.store.get_rule(caller.scope, rule_id)
    if old is None:
        raise _not_found("notification rule", rule_id)
    r = await _rule(a, caller, req, rule_id)
    r.created_at = old.created_at
    if not await a.store.update_rule(caller.scope, r):
        raise _not_found("notification rule", rule_id)
    return _rule_out(r)


@router.delete("/notification-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None,
               summary="Delete a rule (admin)", responses=_RESP)
async def delete_rule(rule_id: ItemId, caller: Admin, services: Services) -> Response:
    if not await alarm_services(services).store.delete_rule(caller.scope, rule_id):
        raise _not_found("notification rule", rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

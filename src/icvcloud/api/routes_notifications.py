"""Notification rules and webhooks (read: viewer; change: admin), and each
webhook's recent deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from icvcloud.store.alarms_base import AlarmStore, NotificationRule, Webhook
from icvcloud.store.base import Scope

from .alarm_schemas import DeliveryOut, RuleIn, RuleOut, WebhookIn, WebhookOut
from .alarm_services import AlarmServices, alarm_services
from .auth import Caller, Services, Viewer, require
from .schemas import MAX_ID, Error
from .services import ApiServices

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


T = TypeVar("T", Webhook, NotificationRule)
In = TypeVar("In", WebhookIn, RuleIn)


@dataclass(frozen=True)
class _Items(Generic[T, In]):
    """Adding, reading, replacing and deleting one kind of item in the alarm store;
    what the caller's scope does not hold is answered 404 as ``no {what} {id}``."""

    what: str
    get_item: Callable[[AlarmStore, Scope, int], Awaitable[T | None]]
    add_item: Callable[[AlarmStore, T], Awaitable[int]]
    update_item: Callable[[AlarmStore, Scope, T], Awaitable[bool]]
    delete_item: Callable[[AlarmStore, Scope, int], Awaitable[bool]]
    #: The item a request asks for, with its id, replacing ``old`` (None: a new item);
    #: raises HTTPException (422) when the request cannot be one.
    build: Callable[[AlarmServices, Caller, In, int, T | None], Awaitable[T]]

    async def created(self, req: In, caller: Caller, services: ApiServices) -> T:
        a = alarm_services(services)
        item = await self.build(a, caller, req, 0, None)
        item.id = await self.add_item(a.store, item)
        return item

    async def found(self, item_id: int, caller: Caller, services: ApiServices) -> T:
        item = await self.get_item(alarm_services(services).store, caller.scope, item_id)
        if item is None:
            raise _not_found(self.what, item_id)
        return item

    async def replaced(self, item_id: int, req: In, caller: Caller, services: ApiServices) -> T:
        a = alarm_services(services)
        old = await self.found(item_id, caller, services)
        item = await self.build(a, caller, req, item_id, old)
        if not await self.update_item(a.store, caller.scope, item):
            raise _not_found(self.what, item_id)
        return item

    async def deleted(self, item_id: int, caller: Caller, services: ApiServices) -> Response:
        if not await self.delete_item(alarm_services(services).store, caller.scope, item_id):
            raise _not_found(self.what, item_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- webhooks

async def _webhook(a: AlarmServices, caller: Caller, req: WebhookIn, webhook_id: int, old: Webhook | None) -> Webhook:
    # Without a secret, a new webhook gets a random one and a replaced one keeps its own.
    return Webhook(id=webhook_id, org_id=req.org_id, name=req.name, url=str(req.url),
                   secret=req.secret or (old.secret if old else secrets.token_hex(32)), enabled=req.enabled,
                   created_at=old.created_at if old else datetime.now(UTC))


_WEBHOOKS = _Items[Webhook, WebhookIn](
    "webhook", lambda s, scope, i: s.get_webhook(scope, i), lambda s, h: s.add_webhook(h),
    lambda s, scope, h: s.update_webhook(scope, h), lambda s, scope, i: s.delete_webhook(scope, i), _webhook)


@router.get("/webhooks", summary="Webhooks (secrets are not shown)", responses=_RESP)
async def list_webhooks(caller: Viewer, services: Services) -> list[WebhookOut]:
    return [_hook_out(h) for h in await alarm_services(services).store.list_webhooks(caller.scope)]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, responses=_RESP,
             summary="Add a webhook (admin); the response shows its signing secret, once")
async def create_webhook(req: WebhookIn, caller: Admin, services: Services) -> WebhookOut:
    return _hook_out(await _WEBHOOKS.created(req, caller, services), with_secret=True)


@router.get("/webhooks/{webhook_id}", summary="One webhook", responses=_RESP)
async def get_webhook(webhook_id: ItemId, caller: Viewer, services: Services) -> WebhookOut:
    return _hook_out(await _WEBHOOKS.found(webhook_id, caller, services))


@router.put("/webhooks/{webhook_id}", summary="Replace a webhook (admin); without a secret the old one stays",
            responses=_RESP)
async def replace_webhook(webhook_id: ItemId, req: WebhookIn, caller: Admin, services: Services) -> WebhookOut:
    return _hook_out(await _WEBHOOKS.replaced(webhook_id, req, caller, services))


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None,
               summary="Delete a webhook with its rules and deliveries (admin)", responses=_RESP)
async def delete_webhook(webhook_id: ItemId, caller: Admin, services: Services) -> Response:
    return await _WEBHOOKS.deleted(webhook_id, caller, services)


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's recent deliveries, newest first",
            responses=_RESP)
async def list_deliveries(webhook_id: ItemId, caller: Viewer, services: Services,
                          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[DeliveryOut]:
    await _WEBHOOKS.found(webhook_id, caller, services)
    return [DeliveryOut(id=d.id, event_id=d.event_id, state=d.state, attempts=d.attempts,
                        next_attempt_at=d.next_attempt_at, last_status=d.last_status, last_error=d.last_error,
                        created_at=d.created_at, delivered_at=d.delivered_at)
            for d in await alarm_services(services).store.list_deliveries(caller.scope, webhook_id, limit)]


# -- notification rules

async def _rule(a: AlarmServices, caller: Caller, req: RuleIn, rule_id: int, old: NotificationRule | None
                ) -> NotificationRule:
    if req.channel == "webhook":
        if req.webhook_id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "channel webhook needs webhook_id")
        if await a.store.get_webhook(caller.scope, req.webhook_id) is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no webhook {req.webhook_id}")
    elif req.webhook_id is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "webhook_id belongs to channel webhook only")
    return NotificationRule(id=rule_id, org_id=req.org_id, name=req.name, alarm_types=req.alarm_types,
                            min_severity=req.min_severity, channel=req.channel, webhook_id=req.webhook_id,
                            enabled=req.enabled, created_at=old.created_at if old else datetime.now(UTC))


_RULES = _Items[NotificationRule, RuleIn](
    "notification rule", lambda s, scope, i: s.get_rule(scope, i), lambda s, r: s.add_rule(r),
    lambda s, scope, r: s.update_rule(scope, r), lambda s, scope, i: s.delete_rule(scope, i), _rule)


@router.get("/notification-rules", summary="Which alarms notify through which channel", responses=_RESP)
async def list_rules(caller: Viewer, services: Services) -> list[RuleOut]:
    return [_rule_out(r) for r in await alarm_services(services).store.list_rules(caller.scope)]


@router.post("/notification-rules", status_code=status.HTTP_201_CREATED, summary="Add a rule (admin)",
             responses=_RESP)
async def create_rule(req: RuleIn, caller: Admin, services: Services) -> RuleOut:
    return _rule_out(await _RULES.created(req, caller, services))


@router.get("/notification-rules/{rule_id}", summary="One rule", responses=_RESP)
async def get_rule(rule_id: ItemId, caller: Viewer, services: Services) -> RuleOut:
    return _rule_out(await _RULES.found(rule_id, caller, services))


@router.put("/notification-rules/{rule_id}", summary="Replace a rule (admin)", responses=_RESP)
async def replace_rule(rule_id: ItemId, req: RuleIn, caller: Admin, services: Services) -> RuleOut:
    return _rule_out(await _RULES.replaced(rule_id, req, caller, services))


@router.delete("/notification-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None,
               summary="Delete a rule (admin)", responses=_RESP)
async def delete_rule(rule_id: ItemId, caller: Admin, services: Services) -> Response:
    return await _RULES.deleted(rule_id, caller, services)

"""Users, API tokens, roles and the caller's tenant scope.

Passwords are argon2id hashes. API tokens are random (256 bits), shown once, and
stored as their SHA-256: a token is already high-entropy, so a fast hash suffices
and a leaked database reveals no usable token. Requests carry
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol, runtime_checkable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from icvcloud.model import User
from icvcloud.store.base import Scope, Store

from .services import ApiServices

ROLES = ("viewer", "operator", "admin")  # ascending: each role may do what the ones before it may
_RANK = {r: i for i, r in enumerate(ROLES)}

_hasher = PasswordHasher()
# Verified when the user does not exist, so a failed login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@runtime_checkable
class ExpiringTokens(Protocol):
    """A store that can tell when a token was issued (SqliteStore); with others, tokens do not expire."""

    async def user_for_token_issued_after(self, token_hash: str, not_before: datetime | None) -> User | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    scope: Scope
    #: A driver's or escort's own account (read-only self): the person it is. Such a
    #: caller passes only :data:`Driver` dependencies (their own records), no other.
    person_id: int | None = None

    @property
    def role(self) -> str:
        return "driver" if self.person_id is not None else self.user.role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(store: Store, username: str, password: str, role: str, org_id: int | None) -> int:
    """Add a user with an argon2 hash of ``password``; returns the user's ID."""
    if role not in _RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    # Hashing takes tens of milliseconds on purpose: off the event loop.
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    return await store.add_user(username, password_hash, role, org_id)


async def issue_token(store: Store, user_id: int, name: str) -> str:
    """A new API token for the user; only its hash is stored, so show it now or never."""
    token = secrets.token_urlsafe(32)
    await store.add_token(user_id, token_hash(token), name)
    return token


async def check_password(store: Store, username: str, password: str) -> User | None:
    user = await store.get_user(username)

    def verify() -> bool:
        try:
            return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False

    ok = await asyncio.to_thread(verify)
    return user if ok and user is not None else None


async def user_for_token(services: ApiServices, token: str) -> User | None:
    if not token or len(token) > 256:
        return None
    store = services.store
    if isinstance(store, ExpiringTokens):
        not_before = datetime.now(UTC) - timedelta(seconds=services.settings.token_ttl_s)
        return await store.user_for_token_issued_after(token_hash(token), not_before)
    return await store.user_for_token(token_hash(token))


async def scope_of(store: Store, user: User) -> Scope:
    """Administrators and users of a top-level regulator (the city bureau) see every
    organisation; users of a regulator's sub-unit (a district office: a regulator
    with a parent) its jurisdiction, the organisations below it; others their own."""
    if user.role == "admin":
        return Scope.all()
    if user.org_id is None:
        return Scope.of()  # a non-admin without an organisation sees nothing
    orgs = await store.list_organisations(Scope.of(user.org_id))
    if orgs and orgs[0].kind == "regulator":
        if orgs[0].parent_id is None:
            return Scope.all()
        return Scope.subtree(await store.list_organisations(Scope.all()), user.org_id)
    return Scope.of(user.org_id)


def write_scope(caller: Caller) -> Scope:
    """Whose records the caller may change: administrators every organisation's,
    others only their own organisation's (a regulator reads its jurisdiction but does
    not edit enterprises' registers)."""
    if caller.user.role == "admin":
        return Scope.all()
    return Scope.of(caller.user.org_id) if caller.user.org_id is not None else Scope.of()


async def person_of(services: ApiServices, user: User) -> int | None:
    """The person whose own (driver's or escort's) account ``user`` is; None for others."""
    hazmat = getattr(services, "hazmat", None)
    if user.role != "viewer" or hazmat is None:  # only viewers are ever linked to a person
        return None
    person_id: int | None = await hazmat.store.person_of_account(user.id)
    return person_id


async def caller_for_token(services: ApiServices, token: str) -> Caller | None:
    user = await user_for_token(services, token)
    if user is None:
        return None
    return Caller(user, await scope_of(services.store, user), await person_of(services, user))


async def websocket_caller(ws: WebSocket, token: str | None) -> Caller | None:
    """The caller of a WebSocket, by ``?token=`` (browsers cannot set headers on a
    WebSocket) or an ``Authorization: Bearer`` header; without a valid token the
    handshake is refused (closing before accept: HTTP 403 to the client) and None
    returned."""
    if not token:
        scheme, _, value = ws.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    caller = await caller_for_token(ws.app.state.services, token) if token else None
    if caller is None:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="missing, unknown or expired token")
    elif caller.person_id is not None:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="a driver's account has no live feeds")
        return None
    return caller


def services_of(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(services_of)]

_bearer = HTTPBearer(auto_error=False,
                     description="An API token from POST /api/v1/auth/login or `icv user add --token`")


async def current_caller(services: Services,
                         creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    caller = await caller_for_token(services, creds.credentials) if creds is not None else None
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing, unknown or expired token",
                            headers={"WWW-Authenticate": "Bearer"})
    return caller


DRIVER_ONLY = "a driver's or escort's own account reads only its own records (/hazmat/me…)"


def require(role: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers with ``role`` or a higher one; ``driver``: only
    drivers' and escorts' own accounts, which no other role admits."""
    need = _RANK.get(role)

    async def dependency(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if role == "driver":
            if caller.person_id is None:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "only a driver's or escort's own account")
            return caller
        if caller.person_id is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, DRIVER_ONLY)
        if need is None or _RANK.get(caller.user.role, -1) < need:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        return caller

    return dependency


Viewer = Annotated[Caller, Depends(require("viewer"))]
Operator = Annotated[Caller, Depends(require("operator"))]
Driver = Annotated[Caller, Depends(require("driver"))]
#: Any signed-in caller, a driver's account too (who am I).
Signed = Annotated[Caller, Depends(current_caller)]

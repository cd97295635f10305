"""Logging in and finding out who one is."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from .auth import Services, Signed, check_password, issue_token, person_of
from .schemas import Error, LoginRequest, LoginResponse, Me

router = APIRouter(tags=["auth"])


@router.post("/auth/login", summary="Exchange a username and password for an API token",
             responses={401: {"model": Error, "description": "Wrong username or password"}})
async def login(body: LoginRequest, services: Services) -> LoginResponse:
    user = await check_password(services.store, body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    token = await issue_token(services.store, user.id, "login")
    role = "driver" if await person_of(services, user) is not None else user.role
    # model_validate: the stored role is a plain str; validation checks it is a Role.
    return LoginResponse.model_validate(
        {"token": token, "role": role, "expires_in_s": int(services.settings.token_ttl_s)})


@router.get("/me", summary="The calling user, role and which organisations they see",
            responses={401: {"model": Error}})
async def me(caller: Signed) -> Me:
    u, scope = caller.user, caller.scope
    if caller.person_id is not None:
        org_ids: list[int] | None = []  # a driver's own account sees its own records only
    else:
        org_ids = sorted(scope.org_ids) if scope.org_ids is not None else None
    return Me.model_validate({"id": u.id, "username": u.username, "role": caller.role, "org_id": u.org_id,
                              "sees_all": org_ids is None, "org_ids": org_ids, "person_id": caller.person_id})

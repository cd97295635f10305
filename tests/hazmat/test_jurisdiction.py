"""A regulator unit's jurisdiction: its subtree of organisations."""

from __future__ import annotations

from icvcloud.api.auth import scope_of
from icvcloud.model import Organisation, User
from icvcloud.store.base import Scope

from .conftest import Hz


def test_subtree() -> None:
    orgs = [Organisation(1, "city", "regulator"), Organisation(2, "district a", "regulator", 1),
            Organisation(3, "district b", "regulator", 1), Organisation(4, "ent a", "enterprise", 2),
            Organisation(5, "ent b", "enterprise", 3), Organisation(6, "ent a1", "enterprise", 4),
            Organisation(7, "orphan", "enterprise")]
    assert Scope.subtree(orgs, 2) == Scope.of(2, 4, 6)
    assert Scope.subtree(orgs, 1) == Scope.of(1, 2, 3, 4, 5, 6)
    assert Scope.subtree(orgs, 5) == Scope.of(5)
    cyclic = [Organisation(1, "x", "regulator", 2), Organisation(2, "y", "regulator", 1)]
    assert Scope.subtree(cyclic, 1) == Scope.of(1, 2)


async def test_scope_of_users(hzw: Hz) -> None:
    def user(org: int | None, role: str = "viewer") -> User:
        return User(id=1, username="u", role=role, org_id=org, password_hash="")

    assert await scope_of(hzw.store, user(hzw.bureau)) == Scope.all()  # the city bureau: everything
    assert await scope_of(hzw.store, user(hzw.district_a)) == Scope.of(hzw.district_a, hzw.a.org)
    assert await scope_of(hzw.store, user(hzw.district_b)) == Scope.of(hzw.district_b, hzw.b.org)
    assert await scope_of(hzw.store, user(hzw.a.org)) == Scope.of(hzw.a.org)
    assert await scope_of(hzw.store, user(None)) == Scope.of()
    assert await scope_of(hzw.store, user(None, "admin")) == Scope.all()

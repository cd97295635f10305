"""The CLI in scale-out mode: users go to the shared PostgreSQL store."""

from __future__ import annotations

import os
import subprocess
import sys

from icvcloud.api.auth import token_hash
from icvcloud.store.postgres import PostgresStore


async def test_user_add_writes_to_postgresql(pg_dsn: str, pg_schema: str) -> None:
    env = dict(os.environ, ICV__SCALEOUT__MODE="scaleout", ICV__SCALEOUT__POSTGRES_DSN=pg_dsn,
               ICV__SCALEOUT__POSTGRES_SCHEMA=pg_schema, ICV_PASSWORD="scale-out-pw")
    out = subprocess.run([sys.executable, "-m", "icvcloud.cli", "user", "add", "ops", "--role", "operator", "--token"],
                         env=env, capture_output=True, text=True, check=True).stdout
    token = out.split("API token (shown once): ")[1].strip()
    store = PostgresStore(pg_dsn, schema=pg_schema)
    await store.open()
    try:
        user = await store.get_user("ops")
        assert user is not None and user.role == "operator"
        assert await store.user_for_token(token_hash(token)) == user
    finally:
        await store.close()

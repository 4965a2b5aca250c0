"""Alembic environment: runs migrations on the app's async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

import app.models  # noqa: F401  (fills Base.metadata)
from app.config import get_settings
from app.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _no_cascades(dbapi_conn: Any, _record: Any) -> None:
    """Batch mode rebuilds a SQLite table (copy, DROP, rename). With foreign keys on, the DROP
    deletes every row that refers to the table through ON DELETE CASCADE (a rebuilt federations
    table would take all subscribers with it), so they are off while migrating. Runs after the
    engine's own connect hook, outside any transaction, where SQLite honours the pragma."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


async def _run_async() -> None:
    engine = make_engine(_url())
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _no_cascades)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())

"""Migrations: upgrade from empty, no drift between models and migrations, downgrade to base."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import app.models  # noqa: F401  (fills Base.metadata)
from app import db
from tests.fixtures.database import PG_URL, alembic_config


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, db.Base.metadata))


def _run(conn: Connection, url: str, action: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    if action == "upgrade":
        command.upgrade(cfg, "head")
    else:
        command.downgrade(cfg, "base")


class TestMigrations:
    async def test_upgrade_check_downgrade_upgrade(self, empty_database: str) -> None:
        assert PG_URL or empty_database.startswith("sqlite")
        engine = db.make_engine(empty_database)
        try:
            async with engine.connect() as conn:
                assert await conn.run_sync(_tables) == set()
                await conn.run_sync(_run, empty_database, "upgrade")
                await conn.commit()
                tables = await conn.run_sync(_tables)
                assert tables == set(db.Base.metadata.tables)
                assert await conn.run_sync(_drift) == []
                await conn.run_sync(_run, empty_database, "downgrade")
                await conn.commit()
                assert await conn.run_sync(_tables) == set()
                await conn.run_sync(_run, empty_database, "upgrade")
                await conn.commit()
                assert await conn.run_sync(_tables) == set(db.Base.metadata.tables)
        finally:
            await engine.dispose()

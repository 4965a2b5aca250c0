"""Migrations: upgrade from empty, no drift between models and migrations, downgrade to base."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import app.models  # noqa: F401  (fills Base.metadata)
from app import db
from app.subscribers.models import (
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    Token,
    TokenPurpose,
    token_row,
)
from tests.fixtures.database import PG_URL, alembic_config
from tests.fixtures.factories import make_federation

T = TypeVar("T")


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


BEFORE_SAME_FEDERATION_KEY = "d1e6a3b8c540"
AT = "2026-11-20 10:00:00+00:00"


def _seed_before_same_federation_key(conn: Connection) -> None:
    """Two federations, a subscriber in each, and rows of the kinds the migration rebuilds: a
    token and a consent record on the wrong federation, and a delivery that refers to a token
    (a rebuilt tokens table must not take it with it)."""
    run = conn.exec_driver_sql
    for fid, slug in ((1, "sf-ett"), (2, "sf-tva")):
        run(
            "INSERT INTO federations (id, slug, name, from_email, from_name, postal_address, "
            "brand_color, accent_color, timezone, frame_ancestors, created_at, updated_at) "
            f"VALUES ({fid}, '{slug}', 'Förbund {fid}', 'info@{slug}.se', 'Förbund', 'Gatan 1', "
            f"'#1f5f8b', '#1f5f8b', 'Europe/Stockholm', '[]', '{AT}', '{AT}')"
        )
        run(
            "INSERT INTO subscribers (id, federation_id, email, status, attributes, bounce_state,"
            f" bounce_count, created_at, updated_at) VALUES ({fid}, {fid}, 'a{fid}@example.se',"
            f" 'confirmed', '{{}}', 'ok', 0, '{AT}', '{AT}')"
        )
    for tid, fid, sid in ((1, 1, 1), (2, 1, 2)):  # token 2 names federation 1's id wrongly
        run(
            "INSERT INTO tokens (id, federation_id, subscriber_id, purpose, seed, token_hash, "
            f"created_at) VALUES ({tid}, {fid}, {sid}, 'unsubscribe', 's{tid}', 'h{tid}', '{AT}')"
        )
        run(
            "INSERT INTO consent_records (id, federation_id, subscriber_id, event, occurred_at, "
            f"method) VALUES ({tid}, {fid}, {sid}, 'import', '{AT}', 'import')"
        )
    run(
        "INSERT INTO deliveries (federation_id, kind, subscriber_id, token_id, status, priority, "
        f"attempts, next_attempt_at, created_at, updated_at) VALUES (2, 'confirmation', 2, 2, "
        f"'queued', 0, 0, '{AT}', '{AT}', '{AT}')"
    )


def _rows(conn: Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.exec_driver_sql(sql)]


def _on(url: str, work: Callable[[Connection], T]) -> T:
    """Run `work` on a connection of its own and commit."""

    async def go() -> T:
        engine = db.make_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(go())


class TestSameFederationKey:
    def test_upgrade_keeps_rows_and_puts_each_on_its_subscribers_federation(
        self, empty_database: str
    ) -> None:
        # As `newsletter db upgrade` runs it: env.py's own engine (on SQLite, foreign keys off
        # while tables are rebuilt, or the DROP of the old tokens table would clear the
        # delivery's token).
        cfg = alembic_config(empty_database)
        command.upgrade(cfg, BEFORE_SAME_FEDERATION_KEY)
        _on(empty_database, _seed_before_same_federation_key)
        command.upgrade(cfg, "head")
        for table in ("tokens", "consent_records"):
            query = f"SELECT id, federation_id, subscriber_id FROM {table} ORDER BY id"
            assert _on(empty_database, partial(_rows, sql=query)) == [(1, 1, 1), (2, 2, 2)]
        query = "SELECT token_id FROM deliveries"
        assert _on(empty_database, partial(_rows, sql=query)) == [(2,)]


class TestRowsStayInTheirSubscribersFederation:
    @pytest.mark.parametrize("model", [Token, ConsentRecord])
    async def test_the_database_refuses_another_federations_subscriber(
        self, session: AsyncSession, model: type[Token] | type[ConsentRecord]
    ) -> None:
        norr = await make_federation(session, "sf-norr")
        soder = await make_federation(session, "sf-soder")
        subscriber = Subscriber(federation_id=norr.id, email="a@example.se", status="confirmed")
        session.add(subscriber)
        await session.flush()

        def row(federation_id: int) -> Token | ConsentRecord:
            if model is Token:
                return Token(
                    **token_row(
                        federation_id=federation_id,
                        subscriber_id=subscriber.id,
                        purpose=TokenPurpose.UNSUBSCRIBE,
                        expires_at=None,
                    )
                )
            return ConsentRecord(
                federation_id=federation_id,
                subscriber_id=subscriber.id,
                event=ConsentEvent.IMPORT,
                method="import",
            )

        session.add(row(norr.id))
        await session.flush()
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                session.add(row(soder.id))

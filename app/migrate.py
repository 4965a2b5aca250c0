"""Alembic wiring: the bundled migrations, upgrading, and whether a database is at head."""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.resources import MIGRATIONS_DIR


def alembic_config(database_url: str | None = None) -> Config:
    """Configuration for the migrations shipped with the app (no alembic.ini needed, so an
    installed wheel migrates as a checkout does)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if database_url is not None:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def current_revisions(connection: AsyncConnection) -> frozenset[str]:
    """The revisions recorded in the database; empty when it was never migrated."""
    try:
        async with connection.begin_nested():
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        # No alembic_version table: an empty or foreign database.
        return frozenset()
    return frozenset(row[0] for row in rows)


async def is_at_head(connection: AsyncConnection) -> bool:
    return await current_revisions(connection) == head_revisions()


async def database_problem(url: str, *, need_head: bool = True) -> str | None:
    """Why the database cannot serve this version of the app, in one line; None when it can."""
    from sqlalchemy.engine import make_url

    from app.db import make_engine

    where = make_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            current = await current_revisions(connection) if need_head else head_revisions()
    except (OSError, DBAPIError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        return f"cannot reach the database {where}: {str(reason).splitlines()[0]}"
    finally:
        await engine.dispose()
    if current == head_revisions():
        return None
    if not current:
        return f"the database {where} has no schema yet: run `newsletter db upgrade`"
    return (
        f"the database {where} is at revision {', '.join(sorted(current))}, this version needs "
        f"{', '.join(sorted(head_revisions()))}: run `newsletter db upgrade`"
    )

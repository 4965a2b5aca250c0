"""Engine, session factory, declarative Base and the transaction edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import CheckConstraint, DateTime, Dialect, MetaData, String, TypeDecorator, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import Select

from app.config import get_settings
from app.errors import Unprocessable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is restored on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedString(TypeDecorator[str]):
    """A credential stored encrypted (Fernet, key derived from SECRET_KEY), so a copy of the
    database does not hand out relay passwords. Unreadable after a key rotation: None."""

    impl = String(512)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        from app.security import encrypt_secret

        return None if value is None else encrypt_secret(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        from app.security import decrypt_secret

        return None if value is None else decrypt_secret(value)


def enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """CHECK constraint keeping a string column within a StrEnum's values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


def enum_string(enum: type[StrEnum]) -> String:
    return String(max(len(m.value) for m in enum))


class NulInText(Unprocessable):
    default_message = "Text may not contain NUL characters (U+0000)."


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    # PostgreSQL text cannot hold NUL (asyncpg raises, a 500); SQLite would store it. Whatever
    # field or query it came in through, it is the client's mistake: 422, on both backends.
    if _has_nul(parameters):
        raise NulInText()


_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


SQLITE_BUSY_SECONDS = 30
# Integer ids and versions are 32-bit columns: a larger number from a client can match no row
# and must be refused before PostgreSQL overflows on it.
MAX_ROW_ID = 2**31 - 1


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def sqlite_pragmas(dbapi_conn: Any) -> None:
    """Every SQLite connection's settings: the engine's, and a dispatcher's own round writer
    (app.delivery.sqlite_rounds)."""
    # The driver's own transaction handling breaks SAVEPOINT; SQLAlchemy emits BEGIN.
    dbapi_conn.isolation_level = None
    # SQLite's own lower() folds ASCII only, so a search for "åsa" would miss "Åsa Öberg";
    # Python's folds every letter, as PostgreSQL's does.
    dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, foreign keys and writes that wait their turn."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            sqlite_pragmas(dbapi_conn)

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at BEGIN, where SQLite honours the busy timeout.
            # A deferred transaction that has read and then tries to write while another
            # process holds (or has just committed) the lock fails at once with "database is
            # locked": waiting cannot help it, since its snapshot is already stale. The
            # transactions here are short (one request, one dispatcher batch), so queueing
            # every transaction, read-only ones too, costs little on an install small
            # enough for SQLite.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def lock_for_change(stmt: SelectT, *, of: Any = None) -> SelectT:
    """Read a row that this transaction is about to check and change.

    On PostgreSQL (read committed) a request that reads a row, checks its state and writes it
    back can interleave with another request doing the same: the second's UPDATE waits for the
    first's commit and then writes over a state its check never saw (a draft edited after it
    was scheduled), or finds the row deleted (a 500). FOR NO KEY UPDATE takes at the read the
    lock the UPDATE would take anyway, so the other request waits before its own read and then
    sees the committed state (or no row: NotFound). It does not block rows inserted that refer
    to this one (their foreign key takes KEY SHARE). `populate_existing` refreshes an object the
    session had already loaded before the lock. `of`: the entity whose rows a join locks (the
    others are read as of the statement's start). SQLite renders no lock: its writes are
    serialized from BEGIN IMMEDIATE on (make_engine)."""
    # key_share without read is FOR NO KEY UPDATE in SQLAlchemy's PostgreSQL dialect.
    return stmt.with_for_update(key_share=True, of=of).execution_options(populate_existing=True)


def get_engine() -> AsyncEngine:
    global _engine
    if _engine is None:
        settings = get_settings()
        if settings.is_sqlite:
            path = settings.database_url.split("///", 1)[-1]
            if path and path != ":memory:":
                from pathlib import Path

                Path(path).parent.mkdir(parents=True, exist_ok=True)
        _engine = make_engine(
            settings.database_url,
            pool_pre_ping=True,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    global _sessionmaker
    if _sessionmaker is None:
        _sessionmaker = async_sessionmaker(get_engine(), expire_on_commit=False)
    return _sessionmaker


def use_sessionmaker(factory: async_sessionmaker[AsyncSession] | None) -> None:
    """Point the app at another session factory (tests bind one to an outer transaction)."""
    global _sessionmaker
    _sessionmaker = factory


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """A unit of work for CLI and background code: commit on success, roll back on error."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None

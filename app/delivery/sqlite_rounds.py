"""A SQLite dispatcher run's rounds, each one hand-off to a thread of their own.

Through SQLAlchemy and aiosqlite a round was about a dozen hand-offs between the event loop and
the driver's thread (a cursor, each statement and its result, BEGIN, COMMIT), each waking the
loop; here the whole round (BEGIN IMMEDIATE, the results, the wire marks, COMMIT) runs as one
call on a plain sqlite3 connection with the engine's settings (app.db.sqlite_pragmas), opened,
used and closed in one thread. 10,000 mails of 20 KB: dispatcher CPU 5.5 s -> 3.9 to 4.3 s,
ratio 0.23 -> 0.32 to 0.35 (bench/results-speed.md). Errors come back as SQLAlchemy's
DBAPIError, as from the engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SQLITE_BUSY_SECONDS, sqlite_pragmas
from app.delivery import repository as repo

T = TypeVar("T")


class SqliteRounds:
    def __init__(self, path: str, dialect: Any) -> None:
        self.path = path
        self.stamp = repo.sqlite_stamp(dialect)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-rounds")
        self.conn: sqlite3.Connection | None = None

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteRounds | None:
        """None unless the engine's database is a file another connection can open."""
        url = engine.url
        path = url.database or ""
        if engine.dialect.name != "sqlite" or not path or path == ":memory:" or url.query:
            return None
        return cls(path, engine.dialect)

    async def _call(self, statement: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.thread, fn, *args)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, timeout=SQLITE_BUSY_SECONDS)
        try:
            sqlite_pragmas(conn)
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    async def write(
        self,
        *,
        owner: str,
        rows: Sequence[repo.ResultRow],
        wire: Sequence[int],
        now: datetime,
    ) -> frozenset[int]:
        """The round; the ids it marked on the wire."""
        if self.conn is None:
            await self._call("connect", self._open)
        return await self._call("round", self._round, owner, rows, wire, now)

    def _round(
        self, owner: str, rows: Sequence[repo.ResultRow], wire: Sequence[int], now: datetime
    ) -> frozenset[int]:
        assert self.conn is not None
        return repo.write_round_sqlite(
            self.conn, owner=owner, rows=rows, wire=wire, now=now, stamp=self.stamp
        )

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        try:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(self.thread, conn.close)
        finally:
            self.thread.shutdown(wait=False)

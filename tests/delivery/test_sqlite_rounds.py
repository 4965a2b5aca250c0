"""A SQLite dispatcher run's rounds on their own connection and thread (app.delivery.
sqlite_rounds): what lands where, what a failure leaves, and which engines get one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (every table in Base.metadata)
from app.clock import now
from app.db import Base, make_engine
from app.delivery import sqlite_rounds
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.sqlite_rounds import SqliteRounds
from tests.fixtures.factories import attempt_result


def _database(path: Path) -> list[int]:
    """Four deliveries: 0 and 1 held by run "a", 2 by run "b", 3 still queued."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:  # foreign keys are off on this plain engine
        for status, owner in (
            ("sending", "a"),
            ("sending", "a"),
            ("sending", "b"),
            ("queued", None),
        ):
            conn.exec_driver_sql(
                "INSERT INTO deliveries (federation_id, kind, status, priority, attempts, "
                "next_attempt_at, claimed_by, created_at, updated_at) VALUES (1, 'campaign', "
                "?, 1, 1, '2026-01-01 00:00:00.000000', ?, '2026-01-01 00:00:00.000000', "
                "'2026-01-01 00:00:00.000000')",
                (status, owner),
            )
    engine.dispose()
    return [1, 2, 3, 4]


def _rows(path: Path) -> dict[int, Delivery]:
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        found = {d.id: d for d in session.scalars(select(Delivery))}
    engine.dispose()
    return found


def _rounds(path: Path) -> SqliteRounds:
    rounds = SqliteRounds.for_engine(make_engine(f"sqlite+aiosqlite:///{path}"))
    assert rounds is not None
    return rounds


async def test_a_round_lands_only_on_rows_its_run_still_holds(tmp_path: Path) -> None:
    path = tmp_path / "rounds.db"
    ids = _database(path)
    ts = now()
    sent, deferred = (
        attempt_result(ids[0], DeliveryStatus.SENT),
        attempt_result(ids[2], DeliveryStatus.SENT),
    )
    rounds = _rounds(path)
    try:
        await rounds.write(owner="a", rows=[sent, deferred], wire=[ids[1], ids[3]], now=ts)
    finally:
        await rounds.close()

    rows = _rows(path)
    first = rows[ids[0]]
    assert (first.status, first.smtp_code, first.enhanced_code) == (
        DeliveryStatus.SENT,
        250,
        "2.0.0",
    )
    assert (first.queue_id, first.attempts, first.lease_until) == ("K1", 2, None)
    assert first.smtp_reply == "250 2.0.0 Ok: queued as K1"
    # Times read back through the ORM as the same instants: the text SQLAlchemy binds.
    assert (first.sent_at, first.next_attempt_at, first.updated_at) == (
        sent.sent_at,
        sent.next_attempt_at,
        ts,
    )
    assert (rows[ids[1]].status, rows[ids[1]].wire_at) == (DeliveryStatus.SENDING, ts)
    # Stored as the same text SQLAlchemy writes, so SQL compares them as times (`<= now`).
    with closing(sqlite3.connect(path)) as conn:
        stored = conn.execute(
            "SELECT wire_at, updated_at, next_attempt_at FROM deliveries WHERE id IN (?, ?)",
            (ids[0], ids[1]),
        ).fetchall()
    text = f"{ts:%Y-%m-%d %H:%M:%S.%f}"
    assert {stored[1][0], stored[0][1]} == {text}
    assert stored[0][2] == f"{sent.next_attempt_at:%Y-%m-%d %H:%M:%S.%f}"
    # Run "b"'s row and the queued one are left alone, results and marks alike.
    assert (rows[ids[2]].status, rows[ids[2]].smtp_code) == (DeliveryStatus.SENDING, None)
    assert rows[ids[3]].wire_at is None


async def test_a_locked_database_fails_the_round_whole_and_the_next_one_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rounds.db"
    ids = _database(path)
    monkeypatch.setattr(sqlite_rounds, "SQLITE_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    rounds = _rounds(path)
    try:
        with pytest.raises(DBAPIError, match="locked"):
            await rounds.write(
                owner="a",
                rows=[attempt_result(ids[0], DeliveryStatus.SENT)],
                wire=[ids[1]],
                now=now(),
            )
        assert _rows(path)[ids[0]].status == DeliveryStatus.SENDING
        holder.execute("ROLLBACK")

        await rounds.write(
            owner="a", rows=[attempt_result(ids[0], DeliveryStatus.SENT)], wire=[ids[1]], now=now()
        )
    finally:
        holder.close()
        await rounds.close()
    rows = _rows(path)
    assert (rows[ids[0]].status, rows[ids[1]].wire_at is not None) == (DeliveryStatus.SENT, True)


async def test_a_statement_that_fails_leaves_nothing_written(tmp_path: Path) -> None:
    """The results went in, the marks failed: the transaction is rolled back whole."""
    path = tmp_path / "rounds.db"
    ids = _database(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_marks BEFORE UPDATE OF wire_at ON deliveries "
            "BEGIN SELECT RAISE(ABORT, 'no marks today'); END"
        )
        conn.commit()
    rounds = _rounds(path)
    try:
        with pytest.raises(DBAPIError, match="no marks today"):
            await rounds.write(
                owner="a",
                rows=[attempt_result(ids[0], DeliveryStatus.SENT)],
                wire=[ids[1]],
                now=now(),
            )
        # The connection is usable after the rollback.
        await rounds.write(
            owner="a", rows=[attempt_result(ids[0], DeliveryStatus.SENT)], wire=[], now=now()
        )
    finally:
        await rounds.close()
    assert _rows(path)[ids[0]].status == DeliveryStatus.SENT


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:x.db?uri=true",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/none",
    ],
)
async def test_only_a_sqlite_file_gets_a_round_writer(url: str) -> None:
    engine = make_engine(url)
    try:
        assert SqliteRounds.for_engine(engine) is None
    finally:
        await engine.dispose()

"""Benchmark one dispatcher round on PostgreSQL: the statement `repo.write_round` sends (results
and wire marks, here for 8 deliveries each, none of which exist, so nothing changes), written
as the dispatcher writes it (SQLAlchemy, an AsyncConnection in autocommit) and on the same
server through asyncpg directly (one prepared statement), the latter also with the generic plan
the dispatcher's round connection keeps (plan_cache_mode). Prints CPU and wall microseconds
per round for each: what SQLAlchemy's layer costs each round, and what planning every round
again costs the server (the wall time is mostly the server's).

    .venv/bin/python bench/round.py --pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/db \
        [--rounds 2000] [--rows 8]

The database needs the schema (`newsletter db upgrade`, or any of the other benches' scratch
databases)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")

from app import db  # noqa: E402
from app.delivery import repository as repo  # noqa: E402
from app.delivery.models import DeliveryStatus  # noqa: E402
from app.delivery.outcomes import ResultRow, result_row  # noqa: E402

# Far above any id a scratch database holds: the statement finds no row.
NO_SUCH_ID = 2_000_000_000


async def _timed(rounds: int, one: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    for _ in range(50):  # warm: prepared statements, caches
        await one()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await one()
    return (
        (time.process_time() - cpu) / rounds * 1e6,
        (time.perf_counter() - wall) / rounds * 1e6,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()

    at = datetime.now(UTC)
    reply = "250 2.0.0 Ok: queued as 4Xb9kT2mZ1"
    rows: list[ResultRow] = [
        result_row(
            NO_SUCH_ID + i,
            DeliveryStatus.SENT,
            sent_at=at,
            reply=reply,
            queue_id="4Xb9kT2mZ1",
            attempts_delta=1,
        )
        for i in range(args.rows)
    ]
    wire = [NO_SUCH_ID + args.rows + i for i in range(args.rows)]

    engine = db.make_engine(args.pg_url)
    try:
        connection = await engine.connect()
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")

        async def through_sqlalchemy() -> None:
            await repo.write_round(connection, owner="bench", rows=rows, wire=wire, now=at)

        cpu, wall = await _timed(args.rounds, through_sqlalchemy)
        print(f"SQLAlchemy AsyncConnection: {cpu:.0f} µs CPU, {wall:.0f} µs wall per round")

        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        sql, names = repo.positional(str(repo._ROUND.text))
        statement = await raw.prepare(sql)
        values = {**repo._result_arrays(rows, owner="bench", now=at), "wire": wire}

        async def through_asyncpg() -> None:
            await statement.fetchval(*(values[name] for name in names))

        cpu, wall = await _timed(args.rounds, through_asyncpg)
        print(f"asyncpg prepared statement: {cpu:.0f} µs CPU, {wall:.0f} µs wall per round")

        # As the dispatcher's round connection: one generic plan, not a fresh plan per round.
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        cpu, wall = await _timed(args.rounds, through_asyncpg)
        print(
            f"asyncpg prepared statement, generic plan: {cpu:.0f} µs CPU, {wall:.0f} µs wall "
            "per round"
        )
        await raw.execute("RESET plan_cache_mode")
        await connection.close()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())

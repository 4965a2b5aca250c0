"""Benchmark the CSV import as the background job runs it: 200 000 rows into SQLite and (if a
URL is given) PostgreSQL.

    .venv/bin/python bench/import.py [--rows 200000] [--pg postgresql+asyncpg://…/db]
        [--db both|sqlite|postgresql] [--mode both|confirmed|pending]

Each run gets a fresh schema (alembic upgrade head), queues the file as the API does
(import_jobs.queue_import: the file is checked, counted and stored in the job row) and runs the
job as `newsletter worker` does (import_jobs.run_next_job: committed checkpoints every 5000
rows). Prints rows/s of wall time for the job run, the process CPU seconds it used, the CPU
seconds PostgreSQL's processes used for it (when the server runs on this machine), and the time
the queueing took."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email;name;kommun\n")
        for i in range(rows):
            f.write(f"person.{i}@exempel{i % 97}.se;Person {i};Kommun {i % 50}\n")


async def run(
    url: str, csv_path: Path, rows: int, mode: str
) -> tuple[float, float, float | None, float]:
    from alembic import command
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app import db
    from app.actors import Actor
    from app.federations import service as federation_service
    from app.federations.schemas import FederationCreate
    from app.subscribers import import_jobs
    from app.subscribers.models import Subscriber
    from app.subscribers.schemas import CreateMode
    from tests.fixtures.database import alembic_config, reset_schema

    engine = db.make_engine(url)
    if not url.startswith("sqlite"):
        await reset_schema(engine)
    cfg = alembic_config(url)
    async with engine.connect() as conn:

        def upgrade(sync_conn: object) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        await conn.run_sync(upgrade)
        await conn.commit()
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as session:
        federation, _ = await federation_service.get_or_create_federation(
            session,
            data=FederationCreate(
                slug="bench",
                name="Bench",
                from_email="n@bench.example.se",
                from_name="Bench",
                postal_address="Box 1",
            ),
        )
        await session.commit()

        queued_at = time.perf_counter()
        with csv_path.open("rb") as source:
            job = await import_jobs.queue_import(
                session,
                federation=federation,
                source=source,
                filename=csv_path.name,
                mode=CreateMode(mode),
                consent_note="bench",
                method="bench",
                actor=Actor.system("bench"),
            )
        await session.commit()
        queueing = time.perf_counter() - queued_at
    server_before = await server_cpu(engine)
    started, cpu = time.perf_counter(), time.process_time()
    assert await import_jobs.run_next_job(sessionmaker=factory) == job.id
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_after = await server_cpu(engine)
    server = (
        sum(t - server_before.get(pid, 0.0) for pid, t in server_after.items())
        if server_after
        else None
    )
    async with factory() as session:
        done = await import_jobs.get_import_job(session, federation_id=federation.id, job_id=job.id)
        count = await session.scalar(select(func.count(Subscriber.id)))
        assert done.status == "done", done.error
        assert done.rows_done == rows == count, (done.rows_done, count)
    await engine.dispose()
    return rows / elapsed, cpu, server, queueing


async def server_cpu(engine: AsyncEngine) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL process serving the bench's database, when
    the server runs on this machine (else empty): the database's share of the job, which a
    busy machine does not inflate as it does wall time."""
    if engine.dialect.name != "postgresql":
        return {}
    async with engine.connect() as conn:
        pids = await conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return process_cpu(list(pids))


def process_cpu(pids: list[int]) -> dict[int, float]:
    used = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return {}
        # utime and stime, fields 14 and 15, counted after the ")" that ends the name.
        fields = stat.rsplit(")", 1)[1].split()
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pg", default=os.environ.get("NEWSLETTER_TEST_DATABASE_URL"))
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--mode", choices=("both", "confirmed", "pending"), default="both")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nyhetsbrev-bench-"))
    csv_path = tmp / "rows.csv"
    make_csv(csv_path, args.rows)
    targets = []
    if args.db in ("both", "sqlite"):
        targets.append(("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    if args.pg and args.db in ("both", "postgresql"):
        targets.append(("postgresql", args.pg))
    modes = ("confirmed", "pending") if args.mode == "both" else (args.mode,)
    for name, url in targets:
        for mode in modes:
            if url.startswith("sqlite"):
                Path(url.split("///", 1)[1]).unlink(missing_ok=True)
            rate, cpu, server, queueing = asyncio.run(run(url, csv_path, args.rows, mode))
            on_server = "" if server is None else f", {server:.1f} s PostgreSQL CPU"
            print(
                f"{name:10} {mode:9} {args.rows} rows: {rate:,.0f} rows/s "
                f"(job {args.rows / rate:.1f} s wall, {cpu:.1f} s CPU{on_server}; "
                f"queueing {queueing:.1f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()

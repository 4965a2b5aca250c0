"""Benchmark the CSV import: 100 000 rows into SQLite and (if a URL is given) PostgreSQL.

    .venv/bin/python bench/import.py [--rows 100000] [--pg postgresql+asyncpg://…/db]

Each backend gets a fresh schema (alembic upgrade head); the import commits per batch as
the CLI does. Prints rows/s per backend and mode."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NEWSLETTER_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email;name;kommun\n")
        for i in range(rows):
            f.write(f"person.{i}@exempel{i % 97}.se;Person {i};Kommun {i % 50}\n")


async def run(url: str, csv_path: Path, rows: int, mode: str) -> float:
    from alembic import command
    from sqlalchemy import func, select, text
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app import db
    from app.actors import Actor
    from app.federations import service as federation_service
    from app.federations.schemas import FederationCreate
    from app.subscribers import importer
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

        async def commit(_report: object) -> None:
            await session.commit()
            session.expunge_all()

        started = time.perf_counter()
        with csv_path.open("rb") as source:
            report = await importer.import_csv(
                session,
                federation=federation,
                source=source,
                mode=CreateMode(mode),
                consent_note="bench",
                on_batch=commit,
                actor=Actor.system("bench"),
            )
        elapsed = time.perf_counter() - started
        count = await session.scalar(select(func.count(Subscriber.id)))
        assert report.created == rows == count, (report, count)
        await session.execute(text("SELECT 1"))
    await engine.dispose()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("NEWSLETTER_TEST_DATABASE_URL"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nyhetsbrev-bench-"))
    csv_path = tmp / "rows.csv"
    make_csv(csv_path, args.rows)
    targets = [("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db")]
    if args.pg:
        targets.append(("postgresql", args.pg))
    for name, url in targets:
        for mode in ("confirmed", "pending"):
            if url.startswith("sqlite"):
                Path(url.split("///", 1)[1]).unlink(missing_ok=True)
            rate = asyncio.run(run(url, csv_path, args.rows, mode))
            print(f"{name:10} {mode:9} {args.rows} rows: {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()

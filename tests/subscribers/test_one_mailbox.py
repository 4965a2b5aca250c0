"""One mailbox is one subscriber per federation, whatever the spelling: enforced by the database
(eight case variants posted at the same instant to a real server), and the migration that
introduced it merges the duplicates that existed before."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import TextClause, bindparam, text

from app import db
from tests.fixtures import ROOT
from tests.fixtures.live import Install, installation, open_installation
from tests.fixtures.smtp import SmtpRecorder

SLUG = "sf-stavning"
VARIANTS = [
    "anna.svensson@example.se",
    "Anna.Svensson@example.se",
    "ANNA.SVENSSON@EXAMPLE.SE",
    "anna.Svensson@Example.se",
    "Anna.svensson@example.SE",
    "aNNA.sVENSSON@example.se",
    "ANNA.svensson@example.se",
    "anna.SVENSSON@EXAMPLE.se",
]


@pytest.fixture
def live(backend: str, smtp_server: SmtpRecorder) -> Iterator[Install]:
    with open_installation(backend, "mailbox", SLUG) as install:
        yield install


async def _count(url: str, sql: str) -> int:
    engine = db.make_engine(url)
    async with engine.connect() as conn:
        value = await conn.scalar(text(sql))
    await engine.dispose()
    return int(value or 0)


def _stamped(sql: str, *names: str) -> TextClause:
    """Raw SQL whose timestamp parameters go through the app's UTC type (on SQLite a string:
    Python 3.12 deprecates sqlite3's own datetime adapter)."""
    return text(sql).bindparams(*(bindparam(n, type_=db.UtcDateTime()) for n in names))


class TestConcurrentCaseVariants:
    async def test_eight_spellings_at_once_make_one_subscriber(
        self, live: Install, smtp_server: SmtpRecorder
    ) -> None:
        url = await asyncio.to_thread(live.serve, workers=2)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            stamp = (await client.get(f"/api/v1/public/{SLUG}/stamp")).json()["stamp"]
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/public/{SLUG}/subscriptions",
                        json={"email": email, "consent": True, "stamp": stamp},
                    )
                    for email in VARIANTS
                )
            )
        assert [a.status_code for a in answers] == [202] * len(VARIANTS)
        database = live.env["NEWSLETTER_DATABASE_URL"]
        assert await _count(database, "SELECT COUNT(*) FROM subscribers") == 1
        queued = "SELECT COUNT(*) FROM deliveries WHERE kind = 'confirmation'"
        assert await _count(database, queued) == 1


class TestMigrationMergesDuplicates:
    async def test_earliest_sign_up_is_kept_and_the_latest_decision_wins(
        self, backend: str
    ) -> None:
        with installation(backend, "merge") as install:
            # Back to the schema before the unique mailbox index, with three spellings.
            await self._downgrade_to_0010(install)
            url = install.env["NEWSLETTER_DATABASE_URL"]
            await self._seed(url)
            up = install.cli("db", "upgrade")
            assert up.returncode == 0, up.stderr

            engine = db.make_engine(url)
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT id, email, status, email_key FROM subscribers ORDER BY id")
                    )
                ).all()
                consents = await conn.scalar(
                    text("SELECT COUNT(DISTINCT subscriber_id) FROM consent_records")
                )
                tokens = (await conn.execute(text("SELECT subscriber_id FROM tokens"))).all()
            await engine.dispose()
        # The earliest sign-up (id 1, confirmed) survives; the later unsubscribe of another
        # spelling is the newest decision, so the merged subscriber is unsubscribed.
        assert rows == [
            (1, "Bo@example.se", "unsubscribed", "bo@example.se"),
            (4, "eva@x.se", "confirmed", "eva@x.se"),
        ]
        assert consents == 2
        assert {t.subscriber_id for t in tokens} == {1}

    async def _downgrade_to_0010(self, install: Install) -> None:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "alembic", "downgrade", "0010_staff"],
            env={**install.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr

    async def _seed(self, url: str) -> None:
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        engine = db.make_engine(url)
        subscribers = [
            (1, "Bo@example.se", "confirmed", t0, t0 + timedelta(hours=1), None),
            (2, "bo@example.se", "pending", t0 + timedelta(days=1), None, None),
            (
                3,
                "BO@EXAMPLE.SE",
                "unsubscribed",
                t0 + timedelta(days=2),
                None,
                t0 + timedelta(days=3),
            ),
            (4, "eva@x.se", "confirmed", t0, t0, None),
        ]
        async with engine.begin() as conn:
            await conn.execute(
                _stamped(
                    "INSERT INTO federations (id, slug, name, from_email, from_name, "
                    "postal_address, brand_color, accent_color, timezone, frame_ancestors, "
                    "created_at, updated_at) VALUES (1, 'sf-m', 'M', 'a@m.se', 'M', 'Box 1', "
                    "'#1f5f8b', '#f2c14e', 'Europe/Stockholm', '[]', :t, :t)",
                    "t",
                ),
                {"t": t0},
            )
            for id_, email, status, created, confirmed, unsubscribed in subscribers:
                await conn.execute(
                    _stamped(
                        "INSERT INTO subscribers (id, federation_id, email, status, attributes, "
                        "bounce_state, bounce_count, created_at, updated_at, confirmed_at, "
                        "unsubscribed_at) VALUES (:id, 1, :email, :status, '{}', 'ok', 0, :c, "
                        ":c, :confirmed, :unsubscribed)",
                        "c",
                        "confirmed",
                        "unsubscribed",
                    ),
                    {
                        "id": id_,
                        "email": email,
                        "status": status,
                        "c": created,
                        "confirmed": confirmed,
                        "unsubscribed": unsubscribed,
                    },
                )
                await conn.execute(
                    _stamped(
                        "INSERT INTO consent_records (federation_id, subscriber_id, event, "
                        "occurred_at, method) VALUES (1, :id, 'signup', :c, 'form')",
                        "c",
                    ),
                    {"id": id_, "c": created},
                )
                if id_ in (1, 2, 3):
                    await conn.execute(
                        _stamped(
                            "INSERT INTO tokens (federation_id, subscriber_id, purpose, seed, "
                            "token_hash, created_at) VALUES (1, :id, 'unsubscribe', :s, :h, :c)",
                            "c",
                        ),
                        {"id": id_, "s": f"seed{id_}", "h": f"hash{id_}", "c": created},
                    )
        await engine.dispose()

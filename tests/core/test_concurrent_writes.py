"""Writes wait their turn: concurrent sign-ups against a real `newsletter serve` (two worker
processes) while a worker and cron-style `newsletter dispatch` runs write to the same database.
On SQLite a deferred transaction that reads first and then writes fails at once with "database
is locked" instead of waiting; every transaction must take the write lock up front."""

from __future__ import annotations

import asyncio
import re
import sys
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select

from app import db
from app.subscribers.models import ConsentEvent, ConsentRecord, Subscriber
from tests.fixtures import ROOT
from tests.fixtures.live import Install, open_installation
from tests.fixtures.smtp import SmtpRecorder

SLUG = "sf-samtidig"
SIGNUPS = 50
CLIENTS = 5


@pytest.fixture
def live(backend: str, smtp_server: SmtpRecorder) -> Iterator[Install]:
    with open_installation(backend, "writes", SLUG) as install:
        yield install


async def _sign_up(client: httpx.AsyncClient, index: int, stamp: str) -> int:
    email = f"samtidig{index}@example.se"
    if index % 2:
        response = await client.post(
            f"/api/v1/public/{SLUG}/subscriptions",
            json={"email": email, "consent": True, "stamp": stamp},
        )
    else:
        response = await client.post(
            f"/f/{SLUG}/prenumerera",
            data={"email": email, "consent": "on", "stamp": stamp, "website": ""},
        )
    return response.status_code


async def _cron(install: Install, stop: asyncio.Event) -> list[int]:
    """`newsletter dispatch` again and again, as cron does; the exit codes."""
    codes = []
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "dispatch",
            env=install.env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await proc.communicate()
        codes.append(proc.returncode or 0)
        if proc.returncode:
            (install.folder / "cron.log").write_bytes(stderr)
    return codes


class TestConcurrentSignups:
    async def test_every_signup_is_stored_while_dispatchers_run(
        self, live: Install, smtp_server: SmtpRecorder
    ) -> None:
        url = await asyncio.to_thread(live.serve, workers=2)
        live.start("worker", "worker", "--interval", "0.2")
        stop = asyncio.Event()
        cron = asyncio.create_task(_cron(live, stop))
        clients = [httpx.AsyncClient(base_url=url, timeout=120) for _ in range(CLIENTS)]
        try:
            stamp = (await clients[0].get(f"/api/v1/public/{SLUG}/stamp")).json()["stamp"]
            statuses = await asyncio.gather(
                *(_sign_up(clients[i % CLIENTS], i, stamp) for i in range(SIGNUPS))
            )
            expected = {f"samtidig{i}@example.se" for i in range(SIGNUPS)}
            for _ in range(600):
                # The server appends from its own thread; len() is safe to read meanwhile.
                if len(smtp_server.envelopes) >= SIGNUPS:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            codes = await cron
            for client in clients:
                await client.aclose()

        assert Counter(statuses) == Counter({200: SIGNUPS // 2, 202: SIGNUPS // 2})
        engine = db.make_engine(live.env["NEWSLETTER_DATABASE_URL"])
        async with engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(Subscriber))
        await engine.dispose()
        assert stored == SIGNUPS
        assert set(smtp_server.delivered) == expected, "every sign-up got its confirmation mail"
        assert max(smtp_server.delivered.values()) == 1
        assert codes, "cron never ran"
        assert set(codes) == {0}, live.log("cron")
        live.stop_all()
        logs = live.log("serve") + live.log("worker")
        assert "database is locked" not in logs
        assert "Traceback" not in logs, logs[-3000:]


LINKS = 20
CONFIRM_PATH = re.compile(rf"/f/{SLUG}/bekrafta/[A-Za-z0-9_-]+")
UNSUBSCRIBE_PATH = re.compile(r"/u/[A-Za-z0-9_-]+")


def _path_in(message: EmailMessage, pattern: re.Pattern[str]) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = pattern.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(0)


class TestLinksPressedTwice:
    async def test_each_link_pressed_twice_at_once_changes_the_subscription_once(
        self, live: Install, smtp_server: SmtpRecorder
    ) -> None:
        """Every confirmation link, then every unsubscribe link, posted twice at the same time
        to `newsletter serve --workers 2`: one consent record and one welcome mail each."""
        url = await asyncio.to_thread(live.serve, workers=2)
        addresses = [f"dubbel{i}@example.se" for i in range(LINKS)]
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            stamp = (await client.get(f"/api/v1/public/{SLUG}/stamp")).json()["stamp"]
            signed = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/public/{SLUG}/subscriptions",
                        json={"email": a, "consent": True, "stamp": stamp},
                    )
                    for a in addresses
                )
            )
            assert {s.status_code for s in signed} == {202}
            assert live.cli("dispatch").returncode == 0
            confirms = [_path_in(smtp_server.to(a)[0], CONFIRM_PATH) for a in addresses]
            answers = await asyncio.gather(*(client.post(p) for p in confirms for _ in "ab"))
            assert {a.status_code for a in answers} == {200}
            assert live.cli("dispatch").returncode == 0
            welcomes = [smtp_server.to(a) for a in addresses]
            assert [len(w) for w in welcomes] == [2] * LINKS, "one confirmation, one welcome"
            leaves = [_path_in(w[1], UNSUBSCRIBE_PATH) for w in welcomes]
            answers = await asyncio.gather(
                *(
                    client.post(p, data={"List-Unsubscribe": "One-Click"})
                    for p in leaves
                    for _ in "ab"
                )
            )
            assert {a.status_code for a in answers} == {200}
        engine = db.make_engine(live.env["NEWSLETTER_DATABASE_URL"])
        async with engine.connect() as conn:
            events = Counter(
                dict(
                    (
                        await conn.execute(
                            select(ConsentRecord.event, func.count()).group_by(ConsentRecord.event)
                        )
                    ).all()
                )
            )
        await engine.dispose()
        assert (events[ConsentEvent.CONFIRM], events[ConsentEvent.UNSUBSCRIBE]) == (LINKS, LINKS)
        live.stop_all()
        assert "Traceback" not in live.log("serve"), live.log("serve")[-3000:]

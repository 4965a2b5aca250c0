"""The web app's sends after a commit are coalesced: what arrives while one run claims goes in
the next run together, a run stuck at its relay holds up no later batch, and every caller
returns once its own delivery's run has ended. With the real runner and a real SMTP server:
concurrent sign-ups each get exactly one confirmation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.delivery.after_commit import AfterCommitSends
from app.delivery.models import Delivery, DeliveryStatus
from tests.fixtures.factories import make_federation
from tests.fixtures.settings import Configure
from tests.fixtures.smtp import SmtpRecorder


class Runs:
    """A stand-in for runner.send_batch whose claim and send the test lets through."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.claim = asyncio.Event()
        self.sent = asyncio.Event()
        self.fail_claim = False

    async def __call__(self, ids: Sequence[int], claimed: asyncio.Event) -> None:
        self.batches.append(list(ids))
        try:
            await self.claim.wait()
            if self.fail_claim:
                raise RuntimeError("the database went away")
            claimed.set()
            await self.sent.wait()
        except RuntimeError:
            pass  # send_batch logs its own failures and never raises
        finally:
            claimed.set()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


class TestCoalescing:
    async def test_what_arrives_during_a_claim_goes_in_the_next_run(self) -> None:
        runs = Runs()
        sends = AfterCommitSends(runs)
        first = asyncio.ensure_future(sends.send(1))
        await settle()
        rest = [asyncio.ensure_future(sends.send(i)) for i in range(2, 7)]
        await settle()
        assert runs.batches == [[1]]
        runs.claim.set()
        await settle()
        assert runs.batches == [[1], [2, 3, 4, 5, 6]]
        assert not first.done()
        runs.sent.set()
        await asyncio.gather(first, *rest)

    async def test_a_run_stuck_at_its_relay_holds_up_no_later_batch(self) -> None:
        stuck = asyncio.Event()
        batches: list[list[int]] = []

        async def send_batch(ids: Sequence[int], claimed: asyncio.Event) -> None:
            batches.append(list(ids))
            claimed.set()
            if ids == [1]:
                await stuck.wait()  # a relay that never answers

        sends = AfterCommitSends(send_batch)
        first = asyncio.ensure_future(sends.send(1))
        await settle()
        await asyncio.wait_for(sends.send(2), timeout=30)
        assert batches == [[1], [2]]
        assert not first.done()
        stuck.set()
        await first

    async def test_a_run_that_fails_before_its_claim_lets_the_next_go(self) -> None:
        runs = Runs()
        runs.fail_claim = True
        sends = AfterCommitSends(runs)
        first = asyncio.ensure_future(sends.send(1))
        await settle()
        second = asyncio.ensure_future(sends.send(2))
        runs.claim.set()
        await asyncio.wait_for(first, timeout=30)
        await asyncio.wait_for(second, timeout=30)
        assert runs.batches == [[1], [2]]

    async def test_a_caller_that_gives_up_leaves_the_batch_running(self) -> None:
        runs = Runs()
        sends = AfterCommitSends(runs)
        impatient = asyncio.ensure_future(sends.send(1))
        await settle()
        impatient.cancel()
        other = asyncio.ensure_future(sends.send(2))
        runs.claim.set()
        runs.sent.set()
        await asyncio.wait_for(other, timeout=30)
        assert runs.batches == [[1], [2]]


class TestSignUpsAtOnce:
    async def test_each_of_many_concurrent_sign_ups_gets_one_confirmation(
        self,
        committed: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
        configure: Configure,
    ) -> None:
        from app.main import create_app

        configure(form_min_seconds="0", rate_limit_per_ip_per_minute="1000")
        async with committed() as session:
            await make_federation(session, "norr")
        app = create_app(embedded_services=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://n.example.se") as c:
            stamp = (await c.get("/api/v1/public/norr/stamp")).json()["stamp"]
            addresses = [f"person{i}@example.se" for i in range(12)]
            answers = await asyncio.gather(
                *(
                    c.post(
                        "/api/v1/public/norr/subscriptions",
                        json={"email": email, "consent": True, "stamp": stamp},
                    )
                    for email in addresses
                )
            )
        assert [a.status_code for a in answers] == [202] * len(addresses)
        # Each answer's send had ended before the answer's request did.
        assert {email: smtp_server.delivered[email] for email in addresses} == dict.fromkeys(
            addresses, 1
        )
        async with committed() as session:
            statuses = await session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
            assert dict(statuses.all()) == {DeliveryStatus.SENT: len(addresses)}

    @pytest.mark.postgres
    async def test_only_the_dispatchers_runs_hold_a_connection_for_their_rounds(
        self,
        committed: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
        configure: Configure,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A sign-up's send writes its rounds through a session (a pool connection only for
        the moment of the write: many such runs can wait on a slow relay at once); the
        dispatcher's run writes them on the connection it holds, through asyncpg itself."""
        from app import composition
        from app.delivery import repository
        from app.main import create_app
        from tests.fixtures.factories import make_campaign, make_world

        writers: list[str] = []
        real, real_own = repository.write_round, repository.write_round_asyncpg

        async def spying(db, **kwargs):  # type: ignore[no-untyped-def]
            writers.append(type(db).__name__)
            return await real(db, **kwargs)

        async def spying_own(driver, **kwargs):  # type: ignore[no-untyped-def]
            writers.append(f"own {type(driver).__module__.partition('.')[0]}")
            return await real_own(driver, **kwargs)

        monkeypatch.setattr(repository, "write_round", spying)
        monkeypatch.setattr(repository, "write_round_asyncpg", spying_own)
        configure(form_min_seconds="0")
        async with committed() as session:
            world = await make_world(session, n=2)
            await make_campaign(session, world.federation)
            await session.commit()
        app = create_app(embedded_services=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://n.example.se") as c:
            slug = world.federation.slug
            stamp = (await c.get(f"/api/v1/public/{slug}/stamp")).json()["stamp"]
            answer = await c.post(
                f"/api/v1/public/{slug}/subscriptions",
                json={"email": "ny@example.se", "consent": True, "stamp": stamp},
            )
        assert answer.status_code == 202
        assert smtp_server.delivered["ny@example.se"] == 1
        assert set(writers) == {"AsyncSession"}

        writers.clear()
        report = await composition.dispatch_once()
        assert report.sent == 2
        # Its own connection, the statement sent through asyncpg itself.
        assert set(writers) == {"own asyncpg"}

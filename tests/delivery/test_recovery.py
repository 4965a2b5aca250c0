"""Recovery from a stopped dispatcher's journal, row by row, in process on both databases.

The kill test (test_crash.py, PostgreSQL) shows recovery under real kills; whether one of its
kills lands between a relay's 250 and the round that records it is a matter of timing, so what
the journal decides for each phase is pinned here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, composition
from app.campaigns.models import CampaignStatus
from app.clock import now
from app.config import get_settings
from app.delivery.journal import SUFFIX, Journal, Phase
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.delivery.outcomes import DispatchReport
from app.delivery.recovery import RECOVERED_SENT_REPLY, recover_stopped
from app.delivery.repository import renew_leases
from tests.fixtures.factories import make_campaign, make_world

DEAD = "vm-dead-0001"


async def held_rows(
    session: AsyncSession, *, slug: str, held: list[tuple[str, DeliveryStatus, datetime, bool]]
) -> list[int]:
    """A campaign's rows, one a subscriber: (claimed by, status, lease end, on the wire)."""
    world = await make_world(session, n=len(held), slug=slug)
    campaign = await make_campaign(session, world.federation, status=CampaignStatus.SENDING)
    ts = now()
    rows = [
        Delivery(
            federation_id=world.federation.id,
            kind=DeliveryKind.CAMPAIGN,
            campaign_id=campaign.id,
            subscriber_id=subscriber_id,
            status=status,
            attempts=1,
            claimed_by=owner,
            lease_until=lease_until,
            wire_at=ts if on_wire else None,
        )
        for subscriber_id, (owner, status, lease_until, on_wire) in zip(
            world.ids, held, strict=True
        )
    ]
    session.add_all(rows)
    await session.commit()
    return [row.id for row in rows]


class TestRecoveryFromTheJournal:
    """What a stopped dispatcher's journal decides for each of its rows."""

    async def _sending(self, session: AsyncSession, *, wire: list[bool]) -> list[int]:
        """Rows `sending` for the dead dispatcher, marked on the wire where `wire` says."""
        # A lease that has not run out: only the abandoned journal says it died.
        until = now() + timedelta(minutes=10)
        held = [(DEAD, DeliveryStatus.SENDING, until, on_wire) for on_wire in wire]
        return await held_rows(session, slug="sf-journal", held=held)

    @pytest.fixture
    def journal_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        monkeypatch.setenv("NEWSLETTER_JOURNAL_DIR", str(tmp_path))
        get_settings.cache_clear()
        yield tmp_path
        get_settings.cache_clear()

    async def test_each_phase_settles_its_row(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        journal_dir: Path,
    ) -> None:
        ids = await self._sending(session, wire=[True, True, True, False, False])
        accepted, on_wire, marked_only, refused, never = ids
        (journal_dir / f"{DEAD}{SUFFIX}").write_text(
            f"{accepted}\tw\n{accepted}\ts\tQ4711\n{on_wire}\tw\n{refused}\td\n{never}\t"
        )  # the last line torn by the kill
        report = await composition.recover(sessionmaker=sessionmaker)

        found = {
            row.id: row
            for row in (
                await session.execute(select(Delivery).execution_options(populate_existing=True))
            ).scalars()
        }
        assert found[accepted].status == DeliveryStatus.SENT
        assert found[accepted].queue_id == "Q4711"
        assert found[accepted].smtp_reply == RECOVERED_SENT_REPLY
        # On the wire by the journal, or by the database's mark alone: unknown, never resent.
        assert found[on_wire].status == DeliveryStatus.UNKNOWN
        assert found[marked_only].status == DeliveryStatus.UNKNOWN
        # Nothing went out: back to the queue, the claim's attempt given back.
        assert {found[refused].status, found[never].status} == {DeliveryStatus.QUEUED}
        assert found[never].attempts == 0
        assert (report.recovered_sent, report.recovered_unknown, report.recovered_requeued) == (
            1,
            2,
            2,
        )

    async def test_a_live_dispatchers_rows_are_left_alone(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        journal_dir: Path,
    ) -> None:
        ids = await self._sending(session, wire=[True, False])
        live = Journal(journal_dir, DEAD)  # holds the lock, as a running dispatcher does
        try:
            live.mark(ids[0], Phase.SENT, "Q1")
            report = await composition.recover(sessionmaker=sessionmaker)
        finally:
            live.close(remove=False)
        statuses_now = (
            await session.execute(select(Delivery.status).execution_options(populate_existing=True))
        ).scalars()
        assert set(statuses_now) == {DeliveryStatus.SENDING}
        assert report.recovered_sent == report.recovered_unknown == report.recovered_requeued == 0

    async def test_a_live_dispatchers_journal_stays_while_it_has_nothing_in_flight(
        self, sessionmaker: async_sessionmaker[AsyncSession], journal_dir: Path
    ) -> None:
        """Between two claims a running dispatcher has no row `sending`; its journal is still
        the record of what it is about to send and must survive another's clean-up."""
        live = Journal(journal_dir, "vm-live-0002")
        try:
            await composition.recover(sessionmaker=sessionmaker)
            assert live.path.exists()
        finally:
            live.close(remove=True)

    async def test_a_live_dispatcher_on_this_host_keeps_its_rows_past_its_lease(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        journal_dir: Path,
    ) -> None:
        """Its journal is locked: it is alive, whatever its lease says (a run slower than a
        lease). Settling its rows would send them again beside it."""
        ids = await self._sending(session, wire=[True, False])
        for row in await session.scalars(select(Delivery).where(Delivery.id.in_(ids))):
            row.lease_until = now() - timedelta(minutes=1)
        await session.commit()
        live = Journal(journal_dir, DEAD)
        try:
            report = await composition.recover(sessionmaker=sessionmaker)
            assert (report.recovered_unknown, report.recovered_requeued) == (0, 0)
            statuses = await session.scalars(
                select(Delivery.status).execution_options(populate_existing=True)
            )
            assert set(statuses) == {DeliveryStatus.SENDING}
        finally:
            live.close(remove=False)
        # Once it has stopped (its lock released), the same rows are settled at once.
        report = await composition.recover(sessionmaker=sessionmaker)
        assert (report.recovered_unknown, report.recovered_requeued) == (1, 1)

    async def test_another_hosts_rows_are_settled_from_the_instant_its_lease_ends(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        journal_dir: Path,
        frozen_clock: None,
    ) -> None:
        """No journal here (the dispatcher ran on another host): its lease is the only sign."""
        (delivery_id,) = await self._sending(session, wire=[False])
        row = await session.get_one(Delivery, delivery_id)
        ends = row.lease_until
        assert ends is not None

        clock.freeze(ends - timedelta(microseconds=1))
        report = await composition.recover(sessionmaker=sessionmaker)
        assert report.recovered_requeued == 0
        clock.freeze(ends)
        report = await composition.recover(sessionmaker=sessionmaker)
        assert report.recovered_requeued == 1

    async def test_a_run_never_settles_its_own_rows(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        journal_dir: Path,
    ) -> None:
        """A long run whose lease has run out (a slow relay) still owns what it has in flight:
        its own recovery pass leaves its rows alone; another dispatcher's settles them."""
        ids = await self._sending(session, wire=[True, False])
        for row in await session.scalars(select(Delivery).where(Delivery.id.in_(ids))):
            row.lease_until = now() - timedelta(minutes=1)
        await session.commit()

        await recover_stopped(
            sessionmaker, settings=get_settings(), owner=DEAD, report=DispatchReport()
        )
        statuses = await session.scalars(
            select(Delivery.status).execution_options(populate_existing=True)
        )
        assert set(statuses) == {DeliveryStatus.SENDING}

        report = await composition.recover(sessionmaker=sessionmaker)
        assert (report.recovered_unknown, report.recovered_requeued) == (1, 1)


class TestLeaseRenewal:
    async def test_a_renewal_holds_only_the_runs_own_rows_still_sending(
        self, session: AsyncSession
    ) -> None:
        old = now() - timedelta(minutes=1)
        held = [
            ("vm-a", DeliveryStatus.SENDING, old, False),
            ("vm-a", DeliveryStatus.SENDING, old, True),
            ("vm-b", DeliveryStatus.SENDING, old, False),  # another dispatcher's
            ("vm-a", DeliveryStatus.SENT, old, False),  # settled already
        ]
        ids = await held_rows(session, slug="sf-lease", held=held)
        until = now() + timedelta(minutes=5)

        assert await renew_leases(session, owner="vm-a", lease_until=until) == 2
        leases = await session.scalars(
            select(Delivery.lease_until)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
            .execution_options(populate_existing=True)
        )
        assert list(leases) == [until, until, old, old]

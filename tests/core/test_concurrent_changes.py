"""Staff changes that read a row, check it and write it take turns with each other.

On PostgreSQL (read committed) the second of two such changes used to read the row before the
first committed and write after it: an edit that found a subscriber erased meanwhile was a 500
(an UPDATE that matched no row; schemathesis found it with two workers), an edit of a draft that
was scheduled meanwhile changed a scheduled letter behind its approval, and a test send of a
draft deleted meanwhile failed on the foreign key. Each test here holds the first change open on
one connection, starts the second on another, waits until PostgreSQL shows it waiting for a
lock, commits the first and looks at what the second did. On SQLite the second transaction
waits at BEGIN IMMEDIATE, so the outcome is the same by construction; the tests run there too
to keep it so."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actors import Actor
from app.audit.models import AuditAction, AuditEntry
from app.campaigns import service as campaigns
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.schemas import CampaignUpdate
from app.clock import now
from app.delivery import repository as delivery_repo
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.errors import Conflict, NotFound
from app.federations.models import Federation
from app.subscribers import rights, tokens
from app.subscribers import service as subscribers
from app.subscribers.consent import Origin
from app.subscribers.models import (
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    SubscriptionStatus,
    Token,
    TokenPurpose,
)
from app.subscribers.schemas import SubscriberUpdate
from app.users import service as people
from app.users.models import Membership, Role, User
from tests.fixtures.database import until_waiting_for_lock
from tests.fixtures.factories import add_campaign, make_federation, pending_with_token

ACTOR = Actor(label="test")
Change = Callable[[AsyncSession], Awaitable[Any]]


async def _second_waits_for_first(
    committed: async_sessionmaker[AsyncSession], backend: str, first: Change, second: Change
) -> Any:
    """Run `first` and keep it uncommitted, start `second` on another connection, commit
    `first` once `second` waits for it (PostgreSQL), and give what `second` returned or raised
    (its transaction committed if it returned)."""

    async def run_second() -> Any:
        async with committed() as session:
            result = await second(session)
            await session.commit()
            return result

    async with committed() as holder, committed() as watcher:
        await first(holder)
        running = asyncio.create_task(run_second())
        if backend == "postgresql":
            await until_waiting_for_lock(watcher, running)
        else:
            await asyncio.sleep(0.05)
        await holder.commit()
    return await asyncio.wait_for(running, timeout=60)


async def _federation_with_subscriber(
    committed: async_sessionmaker[AsyncSession],
) -> tuple[Federation, int]:
    async with committed() as setup:
        federation = await make_federation(setup, "sf-turer")
        subscriber = Subscriber(
            federation_id=federation.id,
            email="turer@example.se",
            name="Tove Turer",
            status=SubscriptionStatus.CONFIRMED,
            confirmed_at=func.now(),
        )
        setup.add(subscriber)
        await setup.commit()
        return federation, subscriber.id


def _erase(federation: Federation, subscriber_id: int) -> Change:
    async def erase(session: AsyncSession) -> None:
        await rights.erase_subscriber(
            session, federation=federation, subscriber_id=subscriber_id, actor=ACTOR
        )

    return erase


async def _audited(session: AsyncSession, action: AuditAction) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
        or 0
    )


class TestSubscriberChanges:
    async def test_an_edit_of_a_subscriber_erased_meanwhile_is_not_found(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, subscriber_id = await _federation_with_subscriber(committed)

        async def edit(session: AsyncSession) -> Subscriber:
            return await subscribers.update_subscriber(
                session,
                federation=federation,
                subscriber_id=subscriber_id,
                changes=SubscriberUpdate(name="Anna Berg", attributes={"kommun": "Umeå"}),
                actor=ACTOR,
            )

        with pytest.raises(NotFound):
            await _second_waits_for_first(
                committed, backend, _erase(federation, subscriber_id), edit
            )
        async with committed() as check:
            assert await check.get(Subscriber, subscriber_id) is None
            assert await _audited(check, AuditAction.SUBSCRIBER_EDITED) == 0

    async def test_a_subscriber_edited_meanwhile_is_erased_after_the_edit(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        """The other order: the erasure waits for the edit and then removes the edited row."""
        federation, subscriber_id = await _federation_with_subscriber(committed)

        async def edit(session: AsyncSession) -> None:
            await subscribers.reset_bounces(
                session, federation=federation, subscriber_id=subscriber_id, actor=ACTOR
            )

        await _second_waits_for_first(committed, backend, edit, _erase(federation, subscriber_id))
        async with committed() as check:
            assert await check.get(Subscriber, subscriber_id) is None
            assert await _audited(check, AuditAction.SUBSCRIBER_ERASED) == 1


class TestCampaignChanges:
    async def _draft(self, committed: async_sessionmaker[AsyncSession]) -> tuple[Federation, int]:
        """An approved draft in a federation with four eyes, and one confirmed recipient."""
        federation, _ = await _federation_with_subscriber(committed)
        async with committed() as setup:
            stored = await setup.get(Federation, federation.id)
            assert stored is not None
            stored.four_eyes = True
            await setup.commit()
            federation = stored
            campaign = await add_campaign(setup, federation)
            campaign.version = 1
            campaign.approved_version = 1
            await setup.commit()
            return federation, campaign.id

    async def test_a_draft_scheduled_meanwhile_is_not_edited(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        """Otherwise the scheduled letter goes out with text nobody approved."""
        federation, campaign_id = await self._draft(committed)

        async def schedule(session: AsyncSession) -> None:
            await campaigns.schedule_now(
                session, federation=federation, campaign_id=campaign_id, actor=ACTOR
            )

        async def edit(session: AsyncSession) -> tuple[Campaign, Campaign]:
            # As the Redaktion's pages do: the campaign is read (unlocked, a draft then) before
            # the change, which must still see the state committed while it waited.
            shown = await campaigns.get_campaign(
                session, federation_id=federation.id, campaign_id=campaign_id
            )
            # (On SQLite this read already waits at BEGIN IMMEDIATE and finds it scheduled.)
            assert backend == "sqlite" or shown.status == CampaignStatus.DRAFT
            # The page keeps its object while it acts, so the session's identity map has it.
            return shown, await campaigns.update_campaign(
                session,
                federation=federation,
                campaign_id=campaign_id,
                data=CampaignUpdate(subject="Ny rubrik som ingen har godkänt"),
                actor=ACTOR,
            )

        with pytest.raises(Conflict):
            await _second_waits_for_first(committed, backend, schedule, edit)
        async with committed() as check:
            campaign = await check.get(Campaign, campaign_id)
            assert campaign is not None
            assert campaign.status == CampaignStatus.SCHEDULED
            assert (campaign.version, campaign.approved_version) == (1, 1)
            assert campaign.subject != "Ny rubrik som ingen har godkänt"

    async def test_a_test_send_of_a_draft_deleted_meanwhile_is_not_found(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, campaign_id = await self._draft(committed)

        async def delete(session: AsyncSession) -> None:
            await campaigns.delete_campaign(
                session, federation_id=federation.id, campaign_id=campaign_id, actor=ACTOR
            )

        async def test_send(session: AsyncSession) -> list[Delivery]:
            return await campaigns.send_test(
                session,
                federation=federation,
                campaign_id=campaign_id,
                addresses=["kansliet@sf-turer.example.se"],
                actor=ACTOR,
            )

        with pytest.raises(NotFound):
            await _second_waits_for_first(committed, backend, delete, test_send)
        async with committed() as check:
            assert await check.get(Campaign, campaign_id) is None
            assert await check.scalar(select(func.count()).select_from(Delivery)) == 0


class TestSendAgain:
    """ "Send again" for deliveries whose outcome is unknown, against a dispatcher finishing the
    campaign at the same moment. A dispatcher's single UPDATE that had waited for the campaign
    rechecked only the campaign's row after the wait, not whether deliveries were open, and left
    a campaign "sent" with deliveries queued under it."""

    async def _sending_with_unknown(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> tuple[Federation, int, int]:
        """A sending campaign whose only delivery's outcome is unknown: nothing is open."""
        federation, subscriber_id = await _federation_with_subscriber(committed)
        async with committed() as setup:
            campaign = await add_campaign(setup, federation, status=CampaignStatus.SENDING)
            delivery = Delivery(
                federation_id=federation.id,
                kind=DeliveryKind.CAMPAIGN,
                campaign_id=campaign.id,
                subscriber_id=subscriber_id,
                status=DeliveryStatus.UNKNOWN,
            )
            setup.add(delivery)
            await setup.commit()
            return federation, campaign.id, delivery.id

    def _send_again(self, federation: Federation, campaign_id: int) -> Change:
        async def send_again(session: AsyncSession) -> int:
            return await campaigns.requeue_unknown(
                session, federation_id=federation.id, campaign_id=campaign_id, actor=ACTOR
            )

        return send_again

    async def _finish(self, session: AsyncSession) -> list[int]:
        return await delivery_repo.finish_campaigns(session, now=now())

    async def _state(
        self, committed: async_sessionmaker[AsyncSession], campaign_id: int, delivery_id: int
    ) -> tuple[CampaignStatus, DeliveryStatus]:
        async with committed() as check:
            campaign = await check.get(Campaign, campaign_id)
            delivery = await check.get(Delivery, delivery_id)
            assert campaign is not None
            assert delivery is not None
            return campaign.status, delivery.status

    async def test_a_campaign_sent_again_meanwhile_is_not_finished(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, campaign_id, delivery_id = await self._sending_with_unknown(committed)
        finished = await _second_waits_for_first(
            committed, backend, self._send_again(federation, campaign_id), self._finish
        )
        assert finished == []
        assert await self._state(committed, campaign_id, delivery_id) == (
            CampaignStatus.SENDING,
            DeliveryStatus.QUEUED,
        )

    async def test_a_campaign_finished_meanwhile_is_sending_again(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        """The other order: the send again waits for the finish and reopens the campaign."""
        federation, campaign_id, delivery_id = await self._sending_with_unknown(committed)
        requeued = await _second_waits_for_first(
            committed, backend, self._finish, self._send_again(federation, campaign_id)
        )
        assert requeued == 1
        assert await self._state(committed, campaign_id, delivery_id) == (
            CampaignStatus.SENDING,
            DeliveryStatus.QUEUED,
        )


class TestPeopleChanges:
    async def _two_admins(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> tuple[Federation, int, int]:
        federation, _ = await _federation_with_subscriber(committed)
        async with committed() as setup:
            ids = []
            for email in ("adam@sf-turer.example.se", "berit@sf-turer.example.se"):
                user = User(email=email, name=email.split("@")[0])
                setup.add(user)
                await setup.flush()
                setup.add(Membership(user_id=user.id, federation_id=federation.id, role=Role.ADMIN))
                ids.append(user.id)
            await setup.commit()
        return federation, ids[0], ids[1]

    async def test_two_admins_who_demote_each_other_at_once_leave_one_admin(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        """The last-admin rule counts every membership: the second demotion must count after
        the first has committed, or both see the other still an admin."""
        federation, adam, berit = await self._two_admins(committed)

        def demote(user_id: int) -> Change:
            async def change(session: AsyncSession) -> None:
                await people.change_role(
                    session, federation=federation, user_id=user_id, role=Role.REDAKTOR, actor=ACTOR
                )

            return change

        with pytest.raises(Conflict):
            await _second_waits_for_first(committed, backend, demote(adam), demote(berit))
        async with committed() as check:
            roles = dict((await check.execute(select(Membership.user_id, Membership.role))).all())
        assert roles == {adam: Role.REDAKTOR, berit: Role.ADMIN}

    async def test_a_role_change_of_a_person_removed_meanwhile_is_not_found(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, adam, berit = await self._two_admins(committed)

        async def remove(session: AsyncSession) -> None:
            await people.remove_person(session, federation=federation, user_id=adam, actor=ACTOR)

        async def promote(session: AsyncSession) -> None:
            # The page has the membership loaded (its list of people) before it acts.
            listed = await people.people_of(session, federation=federation)
            assert listed
            await people.change_role(
                session, federation=federation, user_id=adam, role=Role.ANSVARIG, actor=ACTOR
            )

        with pytest.raises(NotFound):
            await _second_waits_for_first(committed, backend, remove, promote)
        async with committed() as check:
            roles = dict((await check.execute(select(Membership.user_id, Membership.role))).all())
        assert roles == {berit: Role.ADMIN}

    async def test_a_role_change_made_meanwhile_is_seen_by_the_page_that_had_the_old_role(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        """Two admins give Adam the same new role at once: the second finds it already done
        (one audit entry), although its page loaded Adam's membership while he was admin."""
        federation, adam, _ = await self._two_admins(committed)

        async def first(session: AsyncSession) -> None:
            await people.change_role(
                session, federation=federation, user_id=adam, role=Role.ANSVARIG, actor=ACTOR
            )

        async def second(session: AsyncSession) -> None:
            listed = await people.people_of(session, federation=federation)
            assert backend == "sqlite" or {m.role for _, m in listed} == {Role.ADMIN}
            await first(session)

        await _second_waits_for_first(committed, backend, first, second)
        async with committed() as check:
            assert await _audited(check, AuditAction.ROLE_CHANGED) == 1


class TestVisitorLinks:
    """A link pressed twice at once (a double click, a mail provider's one-click POST beside
    the person's own) changes the subscription once: one consent record, one welcome mail."""

    async def _pending(self, committed: async_sessionmaker[AsyncSession]) -> tuple[Federation, str]:
        async with committed() as setup:
            federation = await make_federation(setup, "sf-turer")
            _, token = await pending_with_token(setup, federation, "dubbel@example.se")
            await setup.commit()
            return federation, tokens.raw_token(token)

    async def _records(self, session: AsyncSession, event: ConsentEvent) -> int:
        return int(
            await session.scalar(
                select(func.count()).select_from(ConsentRecord).where(ConsentRecord.event == event)
            )
            or 0
        )

    async def test_a_confirmation_sent_twice_at_once_confirms_once(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, raw = await self._pending(committed)

        async def confirm(session: AsyncSession) -> bool:
            return await subscribers.confirm_subscription(
                session, federation=federation, raw=raw, origin=Origin(method="test")
            )

        assert await _second_waits_for_first(committed, backend, confirm, confirm) is True
        async with committed() as check:
            assert await self._records(check, ConsentEvent.CONFIRM) == 1
            welcomes = await check.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.kind == DeliveryKind.WELCOME)
            )
            assert welcomes == 1

    async def test_an_unsubscribe_sent_twice_at_once_is_recorded_once(
        self, committed: async_sessionmaker[AsyncSession], backend: str
    ) -> None:
        federation, raw = await self._pending(committed)
        async with committed() as setup:
            await subscribers.confirm_subscription(
                setup, federation=federation, raw=raw, origin=Origin(method="test")
            )
            await setup.commit()
            token = await setup.scalar(
                select(Token).where(Token.purpose == TokenPurpose.UNSUBSCRIBE)
            )
            assert token is not None
            unsubscribe_raw = tokens.raw_token(token)

        async def unsubscribe(session: AsyncSession) -> bool:
            result = await subscribers.unsubscribe(
                session, raw=unsubscribe_raw, origin=Origin(method="one-click")
            )
            return result.already

        assert await _second_waits_for_first(committed, backend, unsubscribe, unsubscribe) is True
        async with committed() as check:
            assert await self._records(check, ConsentEvent.UNSUBSCRIBE) == 1

"""The public double opt-in: sign-up form, confirmation, one-click unsubscribe, abuse controls."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.clock import now
from app.config import get_settings
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.federations.models import Federation
from app.security import email_hash, sign, token_from_seed
from app.subscribers import consent, service, tokens
from app.subscribers.models import (
    ConsentEvent,
    ConsentRecord,
    PrivacyNotice,
    Subscriber,
    SubscriptionStatus,
    Suppression,
    Token,
    TokenPurpose,
)
from tests.fixtures.factories import make_federation
from tests.fixtures.pages import STAMP_RE
from tests.fixtures.smtp import SmtpRecorder

BASE = "https://nyhetsbrev.example.se"
CONFIRM_RE = re.compile(r"https://nyhetsbrev\.example\.se/f/[a-z0-9-]+/bekrafta/[A-Za-z0-9_-]{32}")


async def get_stamp(client: httpx.AsyncClient, slug: str) -> str:
    """Render the form now, then let the clock move on so the post is not 'too fast'."""
    page = await client.get(f"/f/{slug}/prenumerera")
    assert page.status_code == 200
    match = STAMP_RE.search(page.text)
    assert match
    clock.freeze(now() + timedelta(seconds=10))
    return match.group(1)


async def post_signup(
    client: httpx.AsyncClient, slug: str, email: str, **fields: str
) -> httpx.Response:
    stamp = fields.pop("stamp", None) or await get_stamp(client, slug)
    data = {"email": email, "name": "", "consent": "ja", "website": "", "stamp": stamp, **fields}
    return await client.post(f"/f/{slug}/prenumerera", data=data)


async def send_confirmations(
    sessionmaker: async_sessionmaker[AsyncSession], smtp: SmtpRecorder
) -> int:
    """Deliver every transactional row not yet sent to the real local SMTP server, the way the
    dispatcher does: build the bytes with build_transactional_mail and hand them to SMTP."""
    sent = 0
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                select(Delivery)
                .where(
                    Delivery.kind == DeliveryKind.CONFIRMATION,
                    Delivery.status != DeliveryStatus.SENT,
                )
                .order_by(Delivery.id)
            )
        ).scalars()
        for delivery in list(rows):
            recipient, raw = await service.build_transactional_mail(s, delivery=delivery)
            await aiosmtplib.send(
                raw,
                sender="bounces@example.se",
                recipients=[recipient],
                hostname="127.0.0.1",
                port=get_settings().smtp_port,
            )
            delivery.status = DeliveryStatus.SENT
            sent += 1
        await s.commit()
    return sent


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def confirm_link(message: EmailMessage) -> str:
    match = CONFIRM_RE.search(text_part(message))
    assert match, text_part(message)
    return match.group(0).removeprefix(BASE)


async def subscriber_by_email(session: AsyncSession, email: str) -> Subscriber | None:
    result = await session.execute(
        select(Subscriber)
        .where(Subscriber.email == email)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def count(session: AsyncSession, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return int((await session.execute(query)).scalar_one())


async def confirmed_subscriber(
    session: AsyncSession, federation: Federation, email: str
) -> tuple[Subscriber, str]:
    """A confirmed subscriber and their raw unsubscribe token."""
    subscriber = Subscriber(
        federation_id=federation.id,
        email=email,
        status=SubscriptionStatus.CONFIRMED,
        confirmed_at=now(),
        attributes={},
    )
    session.add(subscriber)
    await session.flush()
    raw = await tokens.issue_unsubscribe_token(session, subscriber=subscriber)
    await session.commit()
    return subscriber, raw


def strip_stamps(html: str) -> str:
    return STAMP_RE.sub('name="stamp" value=""', html)


# --- the whole flow ----------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_clock")
class TestDoubleOptIn:
    async def test_sign_up_mail_confirm_and_evidence(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
    ) -> None:
        fed = await make_federation(session)
        response = await post_signup(
            client, fed.slug, "Anna.Andersson@Exempel.se", name="Anna <b>https://spam.example</b>"
        )
        assert response.status_code == 200
        assert "Kolla din inkorg" in response.text
        assert 'role="status"' in response.text

        await send_confirmations(sessionmaker, smtp_server)
        mails = smtp_server.to("Anna.Andersson@exempel.se")
        assert len(mails) == 1
        mail = mails[0]
        raw = smtp_server.envelopes[-1][2]
        # Nothing typed into the form is echoed, not even the name.
        assert b"spam.example" not in raw
        assert b"Anna <b>" not in raw
        assert mail["List-Unsubscribe-Post"] is None
        link = confirm_link(mail)

        subscriber = await subscriber_by_email(session, "Anna.Andersson@exempel.se")
        assert subscriber is not None
        assert subscriber.status == SubscriptionStatus.PENDING

        page = await client.get(link)
        assert page.status_code == 200
        assert "Bekräfta prenumerationen" in page.text
        assert 'method="post"' in page.text
        head = await client.head(link)
        assert head.status_code == 200
        subscriber = await subscriber_by_email(session, "Anna.Andersson@exempel.se")
        assert subscriber is not None
        assert subscriber.status == SubscriptionStatus.PENDING, "GET/HEAD must change nothing"

        confirmed = await client.post(link)
        assert confirmed.status_code == 200
        assert "bekräftad" in confirmed.text
        subscriber = await subscriber_by_email(session, "Anna.Andersson@exempel.se")
        assert subscriber is not None
        assert subscriber.status == SubscriptionStatus.CONFIRMED
        assert subscriber.confirmed_at is not None

        again = await client.post(link)
        assert again.status_code == 200
        assert "redan bekräftad" in again.text

        records = list(
            (
                await session.execute(
                    select(ConsentRecord)
                    .where(ConsentRecord.subscriber_id == subscriber.id)
                    .order_by(ConsentRecord.id)
                )
            ).scalars()
        )
        assert [r.event for r in records] == [ConsentEvent.SIGNUP, ConsentEvent.CONFIRM]
        signup, confirm = records
        assert signup.method == "form"
        assert signup.source_page == f"{BASE}/f/{fed.slug}/prenumerera"
        notice = await session.get(PrivacyNotice, signup.privacy_notice_id)
        assert notice is not None
        assert notice.federation_id == fed.id
        assert signup.occurred_at <= confirm.occurred_at
        # IP and user agent are not stored unless configured.
        assert signup.ip_address is None
        assert signup.user_agent is None

    async def test_ip_and_user_agent_stored_only_when_configured(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_STORE_IP_AND_USER_AGENT", "true")
        get_settings.cache_clear()
        try:
            fed = await make_federation(session)
            response = await post_signup(client, fed.slug, "ip@exempel.se", headers_ignored="x")
            assert response.status_code == 200
        finally:
            monkeypatch.delenv("NEWSLETTER_STORE_IP_AND_USER_AGENT")
            get_settings.cache_clear()
        record = (await session.execute(select(ConsentRecord))).scalars().one()
        assert record.ip_address == "203.0.113.7"
        assert record.user_agent
        assert "python-httpx" in record.user_agent

    async def test_twenty_sign_ups_send_one_mail(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE", "100")
        get_settings.cache_clear()
        fed = await make_federation(session)
        stamp = await get_stamp(client, fed.slug)
        answers = set()
        for _ in range(20):
            response = await post_signup(client, fed.slug, "bombad@exempel.se", stamp=stamp)
            assert response.status_code == 200
            answers.add(response.text)
        assert len(answers) == 1
        await send_confirmations(sessionmaker, smtp_server)
        assert len(smtp_server.to("bombad@exempel.se")) == 1
        assert await count(session, Delivery, kind=DeliveryKind.CONFIRMATION) == 1

    async def test_cool_down_allows_next_mail_after_a_day_and_three_a_week(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        for day in range(6):
            if day:
                clock.freeze(now() + timedelta(days=1, minutes=1))
            response = await post_signup(client, fed.slug, "vecka@exempel.se")
            assert response.status_code == 200
        assert await count(session, Delivery, kind=DeliveryKind.CONFIRMATION) == 3

    async def test_honeypot_gets_same_answer_and_nothing_is_stored(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        real = await post_signup(client, fed.slug, "riktig@exempel.se")
        bot = await post_signup(client, fed.slug, "bot@exempel.se", website="https://spam.example")
        assert bot.status_code == real.status_code == 200
        assert bot.text == real.text
        assert await subscriber_by_email(session, "bot@exempel.se") is None
        assert await count(session, Delivery) == 1

    async def test_answers_identical_for_every_address_state(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        await confirmed_subscriber(session, fed, "bekraftad@exempel.se")
        unsub, _ = await confirmed_subscriber(session, fed, "avslutad@exempel.se")
        unsub.status = SubscriptionStatus.UNSUBSCRIBED
        session.add(
            Suppression(
                federation_id=fed.id,
                email_hash=email_hash(fed.id, "raderad@exempel.se"),
                reason="erased",
            )
        )
        await session.commit()
        answers = {}
        for address in (
            "ny@exempel.se",
            "ny@exempel.se",  # pending
            "bekraftad@exempel.se",
            "avslutad@exempel.se",
            "raderad@exempel.se",
        ):
            response = await post_signup(client, fed.slug, address)
            assert response.status_code == 200
            # Every response carries its own random request id, whatever the address.
            headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
            answers[address] = (strip_stamps(response.text), headers)
        assert len({text for text, _ in answers.values()}) == 1
        assert len({tuple(sorted(h.items())) for _, h in answers.values()}) == 1

        confirmed = await subscriber_by_email(session, "bekraftad@exempel.se")
        assert confirmed is not None
        assert confirmed.status == SubscriptionStatus.CONFIRMED
        revived = await subscriber_by_email(session, "avslutad@exempel.se")
        assert revived is not None
        assert revived.status == SubscriptionStatus.PENDING
        # Someone who erased themselves may come back by a fresh double opt-in: pending, with
        # a confirmation mail; the suppression stays and still blocks staff imports.
        returning = await subscriber_by_email(session, "raderad@exempel.se")
        assert returning is not None
        assert returning.status == SubscriptionStatus.PENDING
        # Mails: new, revived and returning address once each; none to the confirmed one.
        assert await count(session, Delivery, kind=DeliveryKind.CONFIRMATION) == 3
        assert await count(session, Delivery, subscriber_id=confirmed.id) == 0

    async def test_missing_consent_and_bad_address_shown_next_to_fields(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        response = await post_signup(client, fed.slug, "inte-en-adress", consent="")
        assert response.status_code == 422
        html = response.text
        assert 'id="email-error"' in html
        assert 'aria-describedby="email-hint email-error"' in html
        assert 'id="consent-error"' in html
        assert "consent-hint consent-error" in html
        assert 'value="inte-en-adress"' in html
        assert await count(session, Subscriber) == 0

    async def test_a_name_longer_than_200_characters_is_refused_at_its_field(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        response = await post_signup(client, fed.slug, "lang@exempel.se", name="Å" * 201)
        assert response.status_code == 422
        assert 'id="name-error"' in response.text
        assert await count(session, Subscriber) == 0
        response = await post_signup(client, fed.slug, "lang@exempel.se", name="Å" * 200)
        assert response.status_code == 200
        assert await count(session, Subscriber) == 1

    async def test_idn_domain_stored_as_a_labels(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        response = await post_signup(client, fed.slug, "kalle@räksmörgås.se")
        assert response.status_code == 200
        assert await subscriber_by_email(session, "kalle@xn--rksmrgs-5wao1o.se") is not None


@pytest.mark.usefixtures("frozen_clock")
class TestFormStamp:
    async def test_too_fast_post_shows_form_again_without_mail(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        page = await client.get(f"/f/{fed.slug}/prenumerera")
        match = STAMP_RE.search(page.text)
        assert match
        clock.freeze(now())  # posted in the same instant it was rendered
        response = await post_signup(client, fed.slug, "snabb@exempel.se", stamp=match.group(1))
        assert response.status_code == 400
        assert "skickas en gång till" in response.text
        assert 'value="snabb@exempel.se"' in response.text
        assert await count(session, Delivery) == 0

    async def test_forged_and_stale_stamps_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        stamp = await get_stamp(client, fed.slug)
        value, _, _sig = stamp.rpartition(".")
        forged = f"{value}.AAAAAAAAAAAAAAAAAAAAAA"
        old = sign(f"{now().timestamp() - 25 * 3600:.3f}:{value.partition(':')[2]}")
        other_notice = sign(f"{now().timestamp() - 60:.3f}:999999")
        for bad in (forged, old, other_notice, "nonsense"):
            response = await post_signup(client, fed.slug, "x@exempel.se", stamp=bad)
            assert response.status_code == 400, bad
        assert await count(session, Delivery) == 0
        good = await post_signup(client, fed.slug, "x@exempel.se", stamp=stamp)
        assert good.status_code == 200


class TestLinks:
    async def test_unknown_forged_expired_and_used_tokens_look_the_same(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        frozen_clock: None,
    ) -> None:
        fed = await make_federation(session)
        await post_signup(client, fed.slug, "lank@exempel.se")
        subscriber = await subscriber_by_email(session, "lank@exempel.se")
        assert subscriber is not None
        token = (
            await session.execute(
                select(Token).where(
                    Token.subscriber_id == subscriber.id, Token.purpose == TokenPurpose.CONFIRM
                )
            )
        ).scalar_one()
        good = token_from_seed(token.seed)
        # Used: confirmed, then unsubscribed; the old link must not sign the person up again.
        # Checked while the link is young: after the clock's jump below it has expired too,
        # which hid a broken "used" rule from this test.
        assert (await client.post(f"/f/{fed.slug}/bekrafta/{good}")).status_code == 200
        unsub = await tokens.issue_unsubscribe_token(session, subscriber=subscriber)
        assert (await client.post(f"/u/{unsub}")).status_code == 200
        pages = []
        for method in ("GET", "POST"):
            response = await client.request(method, f"/f/{fed.slug}/bekrafta/{good}")
            assert response.status_code == 404, method
            pages.append(response.text)

        expired_sub, _ = await confirmed_subscriber(session, fed, "gammal@exempel.se")
        expired_sub.status = SubscriptionStatus.PENDING
        expired_token = await tokens.issue_confirm_token(session, subscriber=expired_sub)
        await session.commit()
        expired = token_from_seed(expired_token.seed)
        clock.freeze(now() + timedelta(days=get_settings().confirmation_token_days, seconds=1))

        for raw in (
            expired,
            "A" * 32,  # unknown, right shape
            good[:-1] + ("A" if good[-1] != "A" else "B"),  # forged
            "kort",
        ):
            for method in ("GET", "POST"):
                response = await client.request(method, f"/f/{fed.slug}/bekrafta/{raw}")
                assert response.status_code == 404, (raw, method)
                pages.append(response.text)
        assert len(set(pages)) == 1
        assert "Länken fungerar inte" in pages[0]
        assert f"/f/{fed.slug}/prenumerera" in pages[0]
        assert (
            await session.get(Subscriber, subscriber.id, populate_existing=True)
        ).status == "unsubscribed"  # type: ignore[union-attr]
        assert (
            await session.get(Subscriber, expired_sub.id, populate_existing=True)
        ).status == "pending"  # type: ignore[union-attr]

    async def test_a_confirmation_link_never_undoes_an_unsubscribe(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen_clock: None
    ) -> None:
        """Unsubscribed while still pending (the confirmation mail has an unsubscribe link
        too): the unused confirmation link no longer confirms. Signed up again: the new mail's
        link confirms; out and back once more: that used link stays dead."""
        fed = await make_federation(session)
        subscriber_id, first, unsub = await self._signed_up(
            client, session, fed, "tveksam@exempel.se"
        )
        assert (await client.post(f"/u/{unsub}")).status_code == 200

        for method in ("GET", "POST"):
            response = await client.request(method, f"/f/{fed.slug}/bekrafta/{first}")
            assert response.status_code == 404, method
        current = await subscriber_by_email(session, "tveksam@exempel.se")
        assert current is not None
        assert current.status == SubscriptionStatus.UNSUBSCRIBED

        # Back again: a new mail with a new link, which confirms; then out and back once more.
        clock.freeze(now() + timedelta(days=2))
        await post_signup(client, fed.slug, "tveksam@exempel.se")
        second = token_from_seed((await self._confirm_token(session, subscriber_id, True)).seed)
        assert second != first
        assert (await client.post(f"/f/{fed.slug}/bekrafta/{second}")).status_code == 200
        assert (await client.post(f"/u/{unsub}")).status_code == 200
        clock.freeze(now() + timedelta(days=2))
        await post_signup(client, fed.slug, "tveksam@exempel.se")
        assert (await client.post(f"/f/{fed.slug}/bekrafta/{second}")).status_code == 404
        current = await subscriber_by_email(session, "tveksam@exempel.se")
        assert current is not None
        assert current.status == SubscriptionStatus.PENDING

    async def _signed_up(
        self, client: httpx.AsyncClient, session: AsyncSession, fed: Federation, email: str
    ) -> tuple[int, str, str]:
        """Signed up through the form: (subscriber id, confirmation link, unsubscribe link)."""
        await post_signup(client, fed.slug, email)
        subscriber = await subscriber_by_email(session, email)
        assert subscriber is not None
        confirm = token_from_seed((await self._confirm_token(session, subscriber.id)).seed)
        unsub = await tokens.issue_unsubscribe_token(session, subscriber=subscriber)
        await session.commit()
        return subscriber.id, confirm, unsub

    @staticmethod
    async def _confirm_token(
        session: AsyncSession, subscriber_id: int, newest: bool = False
    ) -> Token:
        """The subscriber's first (or newest) confirmation token."""
        found = await session.scalars(
            select(Token)
            .where(Token.subscriber_id == subscriber_id, Token.purpose == TokenPurpose.CONFIRM)
            .order_by(Token.id.desc() if newest else Token.id)
        )
        token = found.first()
        assert token is not None
        return token

    async def test_a_confirmation_link_is_dead_from_the_instant_it_expires(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen_clock: None
    ) -> None:
        fed = await make_federation(session)
        subscriber_id, confirm, _ = await self._signed_up(client, session, fed, "sen@exempel.se")
        token = await self._confirm_token(session, subscriber_id)
        assert token.expires_at is not None
        clock.freeze(token.expires_at - timedelta(seconds=1))
        assert (await client.get(f"/f/{fed.slug}/bekrafta/{confirm}")).status_code == 200
        clock.freeze(token.expires_at)
        assert (await client.get(f"/f/{fed.slug}/bekrafta/{confirm}")).status_code == 404

    async def test_links_work_only_for_their_own_purpose(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        _, confirm, unsub = await self._signed_up(client, session, fed, "blandad@exempel.se")

        assert (await client.post(f"/f/{fed.slug}/bekrafta/{unsub}")).status_code == 404
        current = await subscriber_by_email(session, "blandad@exempel.se")
        assert current is not None
        assert current.status == SubscriptionStatus.PENDING
        assert (await client.post(f"/f/{fed.slug}/bekrafta/{confirm}")).status_code == 200
        assert (await client.post(f"/u/{confirm}")).status_code == 404
        current = await subscriber_by_email(session, "blandad@exempel.se")
        assert current is not None
        assert current.status == SubscriptionStatus.CONFIRMED

    async def test_token_of_one_federation_does_nothing_under_another(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        a = await make_federation(session, "forbund-a", name="Förbund A")
        b = await make_federation(session, "forbund-b", name="Förbund B")
        subscriber, _ = await confirmed_subscriber(session, a, "iso@exempel.se")
        subscriber.status = SubscriptionStatus.PENDING
        token = await tokens.issue_confirm_token(session, subscriber=subscriber)
        await session.commit()
        raw = token_from_seed(token.seed)
        for method in ("GET", "POST"):
            response = await client.request(method, f"/f/{b.slug}/bekrafta/{raw}")
            assert response.status_code == 404
            assert "Förbund A" not in response.text
        assert (
            await session.get(Subscriber, subscriber.id, populate_existing=True)
        ).status == "pending"  # type: ignore[union-attr]
        assert await count(session, ConsentRecord) == 0
        assert (await client.post(f"/f/{a.slug}/bekrafta/{raw}")).status_code == 200

    async def test_unknown_slug_is_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/f/finns-inte/prenumerera")
        assert response.status_code == 404
        assert 'lang="sv"' in response.text


class TestOneClickUnsubscribe:
    @pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
    async def test_post_unsubscribes_at_once_and_repeats_harmlessly(
        self, client: httpx.AsyncClient, session: AsyncSession, encoding: str
    ) -> None:
        fed = await make_federation(session)
        subscriber, raw = await confirmed_subscriber(session, fed, "klick@exempel.se")
        kwargs: dict[str, object] = (
            {"data": {"List-Unsubscribe": "One-Click"}}
            if encoding == "urlencoded"
            else {"files": {"List-Unsubscribe": (None, "One-Click")}}
        )
        for attempt in range(2):
            response = await client.post(f"/u/{raw}", **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 200
            assert "location" not in response.headers
            assert "set-cookie" not in response.headers
            assert "Prenumerationen är avslutad" in response.text
            if encoding == "multipart":
                assert response.request.headers["content-type"].startswith("multipart/form-data")
            if attempt == 0:
                current = await session.get(Subscriber, subscriber.id, populate_existing=True)
                assert current is not None
                assert current.status == SubscriptionStatus.UNSUBSCRIBED
        records = (await session.execute(select(ConsentRecord))).scalars().all()
        assert [(r.event, r.method) for r in records] == [(ConsentEvent.UNSUBSCRIBE, "one_click")]

    async def test_get_and_head_change_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        subscriber, raw = await confirmed_subscriber(session, fed, "las@exempel.se")
        page = await client.get(f"/u/{raw}")
        assert page.status_code == 200
        assert "Avsluta prenumerationen" in page.text
        assert 'method="post"' in page.text
        assert (await client.head(f"/u/{raw}")).status_code == 200
        current = await session.get(Subscriber, subscriber.id, populate_existing=True)
        assert current is not None
        assert current.status == SubscriptionStatus.CONFIRMED
        assert await count(session, ConsentRecord) == 0

    async def test_forged_unsubscribe_token_is_not_found(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        _, raw = await confirmed_subscriber(session, fed, "f@exempel.se")
        forged = raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB")
        a = await client.post(f"/u/{forged}", data={"List-Unsubscribe": "One-Click"})
        b = await client.get("/u/" + "x" * 32)
        assert a.status_code == b.status_code == 404
        assert a.text == b.text

    async def test_re_sign_up_after_unsubscribe_needs_new_confirmation(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen_clock: None
    ) -> None:
        fed = await make_federation(session)
        subscriber, raw = await confirmed_subscriber(session, fed, "tillbaka@exempel.se")
        await client.post(f"/u/{raw}", data={"List-Unsubscribe": "One-Click"})
        response = await post_signup(client, fed.slug, "tillbaka@exempel.se")
        assert response.status_code == 200
        current = await session.get(Subscriber, subscriber.id, populate_existing=True)
        assert current is not None
        assert current.status == SubscriptionStatus.PENDING
        assert await count(session, Delivery, subscriber_id=subscriber.id) == 1
        # The unsubscribe token stays the same (one per subscriber).
        assert await tokens.issue_unsubscribe_token(session, subscriber=current) == raw


class TestRateLimit:
    async def test_too_many_posts_from_one_ip_get_429_page(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen_clock: None
    ) -> None:
        fed = await make_federation(session)
        stamp = await get_stamp(client, fed.slug)
        limit = get_settings().rate_limit_per_ip_per_minute
        for i in range(limit):
            ok = await post_signup(client, fed.slug, f"r{i}@exempel.se", stamp=stamp)
            assert ok.status_code == 200
        refused = await post_signup(client, fed.slug, "r-extra@exempel.se", stamp=stamp)
        assert refused.status_code == 429
        assert "För många försök" in refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert await subscriber_by_email(session, "r-extra@exempel.se") is None
        api = await client.post(
            f"/api/v1/public/{fed.slug}/subscriptions", json={"email": "r-api@exempel.se"}
        )
        assert api.status_code == 429
        assert api.json()["error"]["code"] == "rate_limited"

    async def test_global_limit_applies_across_addresses(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        frozen_clock: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_GLOBAL_PER_MINUTE", "3")
        get_settings.cache_clear()
        fed = await make_federation(session)
        stamp = await get_stamp(client, fed.slug)
        codes = [
            (await post_signup(client, fed.slug, f"g{i}@exempel.se", stamp=stamp)).status_code
            for i in range(4)
        ]
        monkeypatch.delenv("NEWSLETTER_RATE_LIMIT_GLOBAL_PER_MINUTE")
        get_settings.cache_clear()
        assert codes == [200, 200, 200, 429]


@pytest.mark.usefixtures("frozen_clock")
class TestPublicApi:
    async def _stamp(self, client: httpx.AsyncClient, slug: str) -> str:
        response = await client.get(f"/api/v1/public/{slug}/stamp")
        assert response.status_code == 200
        clock.freeze(now() + timedelta(seconds=5))
        return str(response.json()["stamp"])

    async def test_json_and_form_bodies_answer_202(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        stamp = await self._stamp(client, fed.slug)
        url = f"/api/v1/public/{fed.slug}/subscriptions"
        body = {"email": "api@exempel.se", "consent": True, "stamp": stamp}
        first = await client.post(
            url, json=body, headers={"Referer": "https://www.sfhbs.example.se/nyhetsbrev"}
        )
        assert first.status_code == 202
        assert first.json()["status"] == "ok"
        form = await client.post(
            url, data={"email": "api@exempel.se", "consent": "on", "stamp": stamp}
        )
        assert form.status_code == 202
        assert form.json() == first.json()
        honeypot = await client.post(url, json={**body, "email": "b@exempel.se", "website": "x"})
        assert honeypot.status_code == 202
        assert honeypot.json() == first.json()
        assert await count(session, Delivery) == 1
        record = (await session.execute(select(ConsentRecord))).scalars().first()
        assert record is not None
        assert record.method == "api"
        assert record.source_page == "https://www.sfhbs.example.se/nyhetsbrev"

    async def test_errors_are_json(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        fed = await make_federation(session)
        url = f"/api/v1/public/{fed.slug}/subscriptions"
        stale = await client.post(url, json={"email": "a@exempel.se", "consent": True})
        assert stale.status_code == 422
        assert stale.json()["error"]["code"] == "form_expired"
        stamp = await self._stamp(client, fed.slug)
        bad = await client.post(url, json={"email": "nej", "stamp": stamp})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"] == {"email": "invalid", "consent": "required"}
        not_object = await client.post(url, json=["a"])
        assert not_object.status_code == 422


class TestPrivacyNotice:
    async def test_default_notice_created_and_versions_kept(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        page = await client.get(f"/f/{fed.slug}/integritet")
        assert page.status_code == 200
        for needle in (
            "personuppgiftsansvarig",
            "samtycke",
            "allmänt intresse",
            "IMY",
            "Version 1",
        ):
            assert needle in page.text, needle
        notice = (await session.execute(select(PrivacyNotice))).scalars().one()
        session.add(
            PrivacyNotice(
                federation_id=fed.id,
                version=2,
                form_text="Ja tack, skicka nyhetsbrevet fyra gånger om året.",
                privacy_text="## Ny text\n\nVersion två av texten.",
            )
        )
        await session.commit()
        current = await client.get(f"/f/{fed.slug}/integritet")
        assert "Version två av texten." in current.text
        old = await client.get(f"/f/{fed.slug}/integritet?version=1")
        assert "IMY" in old.text
        assert "äldre version" in old.text
        assert (await client.get(f"/f/{fed.slug}/integritet?version=9")).status_code == 404
        form = await client.get(f"/f/{fed.slug}/prenumerera")
        assert "fyra gånger om året" in form.text
        assert notice.version == 1

    async def test_privacy_markdown_cannot_inject_html(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        session.add(
            PrivacyNotice(
                federation_id=fed.id,
                version=1,
                form_text="Ja.",
                privacy_text="Text <script>alert(1)</script>",
            )
        )
        await session.commit()
        page = await client.get(f"/f/{fed.slug}/integritet")
        assert "<script>" not in page.text


class TestPageHeaders:
    async def test_form_is_accessible_markup_and_frames_only_own_site(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session, frame_ancestors=["https://www.sfhbs.example.se"])
        response = await client.get(f"/f/{fed.slug}/prenumerera")
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors https://www.sfhbs.example.se" in csp
        html = response.text
        assert '<html lang="sv">' in html
        assert 'type="email" id="email" name="email" autocomplete="email"' in html
        assert '<label for="email">' in html
        assert '<label for="consent">' in html
        assert re.search(r'<input type="checkbox"[^>]*>', html)
        assert "checked" not in html
        assert '<label for="website">Lämna tomt</label>' in html
        assert 'tabindex="-1"' in html
        assert f'href="/f/{fed.slug}/integritet"' in html

    async def test_brand_stylesheet_keeps_contrast(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        fed = await make_federation(session)
        fed.brand_color = "#f2c14e"  # light yellow: white text would fail 4.5:1
        await session.commit()
        css = (await client.get(f"/f/{fed.slug}/stil.css")).text
        assert "--brand:#f2c14e" in css
        assert "--on-brand:#141414" in css
        assert "--action:#f2c14e" not in css


async def test_stamp_contains_notice_id(session: AsyncSession) -> None:
    fed = await make_federation(session)
    notice = await consent.current_notice(session, federation=fed)
    clock.freeze(None)
    stamp = consent.make_stamp(notice, at=now().timestamp() - 60)
    parsed = consent.read_stamp(stamp)
    assert parsed is not None
    assert parsed.privacy_notice_id == notice.id

"""What one SMTP reply means, and the row each result becomes: the rules of
app.delivery.smtp.classify and app.delivery.outcomes, one by one. The dispatch tests reach
them through a relay; a mutation sweep (bench/results-speed.md, sixth session) found that
none of those tests failed when one of these rules was broken, because another rule or a
later attempt hid the difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import SmtpSecurity
from app.delivery.models import DeliveryKind, DeliveryStatus
from app.delivery.outcomes import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    DispatchReport,
    Item,
    backoff_seconds,
    released,
    settle,
)
from app.delivery.repository import ResultRow
from app.delivery.smtp import BounceKind, Outcome, Relay, Result, classify

TS = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
GIVE_UP = timedelta(hours=72)
RELAY = Relay("127.0.0.1", 2525, SmtpSecurity.NONE, None, None, 30.0)


class TestClassify:
    @pytest.mark.parametrize(
        ("code", "text", "stage", "outcome", "bounce"),
        [
            (250, "2.0.0 Ok: queued as 4XyZ", "data", Outcome.SENT, BounceKind.NONE),
            (451, "4.3.0 Temporary lookup failure", "rcpt", Outcome.DEFERRED, BounceKind.NONE),
            (550, "5.1.1 <karin@x.se>: User unknown", "rcpt", Outcome.FAILED, BounceKind.HARD),
            # No enhanced code: the basic codes that name the mailbox are hard at RCPT only.
            (550, "Mailbox unavailable", "rcpt", Outcome.FAILED, BounceKind.HARD),
            (551, "User not local", "rcpt", Outcome.FAILED, BounceKind.HARD),
            (553, "Mailbox name not allowed", "rcpt", Outcome.FAILED, BounceKind.HARD),
            (550, "Message rejected", "data", Outcome.FAILED, BounceKind.SOFT),
            (554, "5.6.0 Content refused", "data", Outcome.FAILED, BounceKind.SOFT),
            # A full mailbox is retried and counts as a soft bounce; 552 at RCPT without it is
            # "too many recipients" (RFC 5321 §4.5.3.1.10): retried, no bounce.
            (552, "5.2.2 Mailbox full", "data", Outcome.DEFERRED, BounceKind.SOFT),
            (452, "4.2.2 Over quota", "rcpt", Outcome.DEFERRED, BounceKind.NONE),
            (552, "Too many recipients", "rcpt", Outcome.DEFERRED, BounceKind.NONE),
            (552, "Message size exceeds limit", "data", Outcome.FAILED, BounceKind.SOFT),
        ],
    )
    def test_what_a_reply_means(
        self, code: int, text: str, stage: str, outcome: Outcome, bounce: BounceKind
    ) -> None:
        result = classify(code, text, stage=stage)
        assert (result.outcome, result.bounce) == (outcome, bounce)

    def test_only_421_drops_the_connection(self) -> None:
        assert classify(421, "4.7.0 Try again later, closing", stage="rcpt").reconnect
        assert not classify(451, "4.7.1 Greylisted", stage="rcpt").reconnect

    def test_a_policy_refusal_blocks_the_sender_at_mail_from_only(self) -> None:
        at_mail = classify(554, "5.7.1 Sender address rejected", stage="mail")
        at_rcpt = classify(554, "5.7.1 Recipient policy", stage="rcpt")
        assert at_mail.outcome is Outcome.SENDER_BLOCKED
        assert (at_rcpt.outcome, at_rcpt.policy) == (Outcome.FAILED, True)


class TestBackoff:
    @pytest.mark.parametrize(("attempts", "base"), [(1, 60.0), (2, 120.0), (3, 240.0), (6, 1920.0)])
    def test_doubles_with_each_attempt_within_its_jitter(self, attempts: int, base: float) -> None:
        for _ in range(50):
            assert base * 0.8 <= backoff_seconds(attempts) <= base * 1.2

    def test_is_capped_at_an_hour(self) -> None:
        assert BACKOFF_BASE_SECONDS * 2**19 > BACKOFF_CAP_SECONDS
        for _ in range(50):
            assert BACKOFF_CAP_SECONDS * 0.8 <= backoff_seconds(20) <= BACKOFF_CAP_SECONDS * 1.2


def _item(
    kind: DeliveryKind = DeliveryKind.CAMPAIGN, *, attempts: int = 1, age: timedelta = timedelta()
) -> Item:
    return Item(
        id=7,
        federation_id=1,
        kind=kind,
        campaign_id=3 if kind in (DeliveryKind.CAMPAIGN, DeliveryKind.TEST) else None,
        subscriber_id=11,
        attempts=attempts,
        created_at=TS - age,
        recipient="karin@mottagare.example.se",
        envelope_from="bounce+7@x.se",
        data=b"",
        relay=RELAY,
    )


def _settle(
    item: Item, result: Result
) -> tuple[DispatchReport, list[ResultRow], list[int], list[int]]:
    report = DispatchReport()
    settled = settle([(item, result)], ts=TS, give_up=GIVE_UP, report=report)
    return report, settled.rows, settled.hard, settled.soft


class TestSettle:
    def test_a_temporary_failure_waits_its_backoff(self) -> None:
        report, rows, _, _ = _settle(
            _item(attempts=2), classify(451, "4.3.0 Try later", stage="rcpt")
        )
        assert rows[0].status is DeliveryStatus.DEFERRED
        assert TS + timedelta(seconds=96) <= rows[0].next_attempt_at <= TS + timedelta(seconds=144)
        assert (report.deferred, report.failed) == (1, 0)

    def test_a_temporary_failure_past_the_give_up_time_fails(self) -> None:
        report, rows, _, _ = _settle(
            _item(age=GIVE_UP), classify(451, "4.3.0 Try later", stage="rcpt")
        )
        assert rows[0].status is DeliveryStatus.FAILED
        assert (report.deferred, report.failed) == (0, 1)

    def test_mail_not_attempted_goes_back_with_its_attempt_given_back(self) -> None:
        report, rows, _, _ = _settle(_item(attempts=3), released(retry_after=300))
        assert rows[0].status is DeliveryStatus.QUEUED
        assert rows[0].attempts_delta == -1
        assert rows[0].next_attempt_at == TS + timedelta(seconds=300)
        assert report.released == 1

    def test_a_blocked_sender_queues_campaign_mail_again_without_using_an_attempt(self) -> None:
        blocked = classify(554, "5.7.1 Sender address rejected", stage="mail")
        report, rows, _, _ = _settle(_item(), blocked)
        assert (rows[0].status, rows[0].attempts_delta) == (DeliveryStatus.QUEUED, -1)
        assert rows[0].next_attempt_at == TS
        assert report.released == 1
        # A confirmation cannot wait for a campaign to be resumed: it is retried on its own.
        report, rows, _, _ = _settle(_item(DeliveryKind.CONFIRMATION), blocked)
        assert (rows[0].status, rows[0].attempts_delta) == (DeliveryStatus.DEFERRED, 0)
        assert report.deferred == 1

    def test_bounces_count_for_subscribers_but_not_for_staff_test_sends(self) -> None:
        hard = classify(550, "5.1.1 User unknown", stage="rcpt")
        soft = classify(552, "5.2.2 Mailbox full", stage="data")
        assert _settle(_item(), hard)[2:] == ([11], [])
        assert _settle(_item(), soft)[2:] == ([], [11])
        assert _settle(_item(DeliveryKind.TEST), hard)[2:] == ([], [])

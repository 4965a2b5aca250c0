"""Staff API for campaigns: drafts, preview, tests, scheduling, cancelling, stats, isolation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.campaigns.models import Campaign, CampaignStatus
from app.clock import now
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.delivery.repository import start_campaign
from app.subscribers.models import Subscriber, SubscriptionStatus
from tests.fixtures.factories import Tenant, add_campaign, make_world
from tests.fixtures.hostile import LINE_BREAKS, with_header_line
from tests.fixtures.smtp import SmtpRecorder

NEW = {
    "subject": "Sommarhälsning från förbundet",
    "preheader": "Ett brev om våren",
    "theme": "sommar",
    "body_markdown": "Våren har gått fort.\n\n> ”Det betydde mycket.” (Deltagare)",
}


async def _create(api: httpx.AsyncClient, tenant: Tenant, **overrides: str) -> dict[str, object]:
    response = await api.post(tenant.base, json={**NEW, **overrides}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestCreateAndRead:
    async def test_create_list_get(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        assert created["status"] == "draft"
        assert created["archive_url"] is None
        listed = await api.get(tenant.base, headers=tenant.headers)
        assert [c["id"] for c in listed.json()["items"]] == [created["id"]]
        got = await api.get(f"{tenant.base}/{created['id']}", headers=tenant.headers)
        assert got.json()["subject"] == NEW["subject"]

    async def test_unknown_theme_is_422(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await api.post(
            tenant.base, json={**NEW, "theme": "pask"}, headers=tenant.headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"

    @pytest.mark.parametrize("brk", LINE_BREAKS)
    @pytest.mark.parametrize("field", ["subject", "preheader"])
    async def test_control_characters_are_422_naming_the_field(
        self, api: httpx.AsyncClient, tenant: Tenant, field: str, brk: str
    ) -> None:
        value = with_header_line("Hej", brk)
        created = await _create(api, tenant)
        response = await api.patch(
            f"{tenant.base}/{created['id']}", json={field: value}, headers=tenant.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["loc"] == ["body", field]
        response = await api.post(tenant.base, json={**NEW, field: value}, headers=tenant.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["loc"] == ["body", field]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("subject", "Å" * 201), ("body_markdown", "  \n\t  ")],
    )
    async def test_refused_field_is_named_and_nothing_is_stored(
        self, api: httpx.AsyncClient, tenant: Tenant, field: str, value: str
    ) -> None:
        response = await api.post(tenant.base, json={**NEW, field: value}, headers=tenant.headers)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["body", field]
        listed = await api.get(tenant.base, headers=tenant.headers)
        assert listed.json()["items"] == []

    async def test_without_key_is_401(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        assert (await api.get(tenant.base)).status_code == 401

    async def test_other_federations_key_gets_404(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        response = await api.get(tenant.base, headers=other_tenant.headers)
        assert response.status_code == 404
        # Own slug, someone else's campaign id: also 404.
        response = await api.get(
            f"{other_tenant.base}/{created['id']}", headers=other_tenant.headers
        )
        assert response.status_code == 404
        response = await api.post(
            f"{other_tenant.base}/{created['id']}/send-now", headers=other_tenant.headers
        )
        assert response.status_code == 404


class TestUpdateAndDelete:
    async def test_patch_draft(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        response = await api.patch(
            f"{tenant.base}/{created['id']}", json={"theme": "jul"}, headers=tenant.headers
        )
        assert response.status_code == 200
        assert response.json()["theme"] == "jul"

    async def test_archive_choice_keeps_the_approval_a_letter_edit_withdraws_it(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        campaign = await session.get(Campaign, created["id"])
        assert campaign is not None
        campaign.approved_version = campaign.version
        await session.commit()
        hidden = await api.patch(url, json={"publish_in_archive": False}, headers=tenant.headers)
        assert hidden.status_code == 200, hidden.text
        assert (hidden.json()["version"], hidden.json()["approved_version"]) == (1, 1)
        edited = await api.patch(url, json={"subject": "Nytt ämne"}, headers=tenant.headers)
        assert (edited.json()["version"], edited.json()["approved_version"]) == (2, None)

    @pytest.mark.parametrize(
        ("field", "value"), [("status", "sent"), ("send_at", "2027-06-18T08:00:00+02:00")]
    )
    async def test_field_that_is_not_editable_is_422_and_changes_nothing(
        self, api: httpx.AsyncClient, tenant: Tenant, field: str, value: str
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        response = await api.patch(
            url, json={"subject": "Nytt ämne", field: value}, headers=tenant.headers
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["body", field]
        got = (await api.get(url, headers=tenant.headers)).json()
        assert (got["subject"], got["status"], got["send_at"], got["version"]) == (
            NEW["subject"],
            "draft",
            None,
            created["version"],
        )

    @pytest.mark.parametrize("field", ["header_image_id", "signature_image_id"])
    async def test_image_id_beyond_32_bits_is_422(
        self, api: httpx.AsyncClient, tenant: Tenant, field: str
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        response = await api.patch(url, json={field: 2**31}, headers=tenant.headers)
        assert response.status_code == 422, response.text
        refused = await api.post(tenant.base, json={**NEW, field: 2**31}, headers=tenant.headers)
        assert refused.status_code == 422

    async def test_patch_after_scheduling_is_409(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        send_at = (now() + timedelta(days=1)).isoformat()
        scheduled = await api.post(
            f"{url}/schedule", json={"send_at": send_at}, headers=tenant.headers
        )
        assert scheduled.status_code == 200
        response = await api.patch(url, json={"subject": "Nytt"}, headers=tenant.headers)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"
        assert (await api.delete(url, headers=tenant.headers)).status_code == 409

    async def test_delete_draft(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        assert (await api.delete(url, headers=tenant.headers)).status_code == 204
        assert (await api.get(url, headers=tenant.headers)).status_code == 404

    async def test_unbreakable_long_line_is_refused(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        long_link = "https://example.se/" + "a" * 1200
        response = await api.post(
            tenant.base, json={**NEW, "body_markdown": f"Se <{long_link}>"}, headers=tenant.headers
        )
        assert response.status_code == 422


class TestPreview:
    async def test_html_preview_for_sample_subscriber(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        response = await api.get(
            f"{tenant.base}/{created['id']}/preview?format=html", headers=tenant.headers
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "Hej Anna Andersson!" in response.text
        assert "Avsluta prenumerationen" in response.text
        assert f"/f/sf-norra/arkiv/{created['id']}" in response.text

    async def test_text_preview(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        response = await api.get(
            f"{tenant.base}/{created['id']}/preview?format=text", headers=tenant.headers
        )
        assert response.headers["content-type"].startswith("text/plain")
        assert "Hej Anna Andersson!" in response.text
        assert "Avsluta prenumerationen: https://nyhetsbrev.example.se/u/" in response.text

    async def test_bad_format_is_422(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        response = await api.get(
            f"{tenant.base}/{created['id']}/preview?format=pdf", headers=tenant.headers
        )
        assert response.status_code == 422


class TestClosing:
    async def _text(self, api: httpx.AsyncClient, tenant: Tenant, campaign_id: object) -> str:
        response = await api.get(
            f"{tenant.base}/{campaign_id}/preview?format=text", headers=tenant.headers
        )
        return response.text.replace("\r\n", "\n")

    async def test_theme_line_by_default_and_nothing_added(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        text = await self._text(api, tenant, created["id"])
        assert "Vi önskar dig en skön och vilsam sommar!\n\nVisa i webbläsaren" in text
        assert "Varma hälsningar" not in text

    async def test_federation_defaults_and_campaign_overrides(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        federation = f"/api/v1/federations/{tenant.federation.slug}"
        patched = await api.patch(
            federation,
            json={
                "default_sign_off": "Med vänliga hälsningar",
                "default_signature_name": "Karin Lind",
                "default_signature_title": "Förbundschef",
            },
            headers=tenant.headers,
        )
        assert patched.status_code == 200, patched.text
        created = await _create(api, tenant)
        text = await self._text(api, tenant, created["id"])
        assert "Med vänliga hälsningar\n\nKarin Lind\nFörbundschef\n" in text
        url = f"{tenant.base}/{created['id']}"
        await api.patch(
            url, json={"sign_off": "", "signature_name": "Ola Berg"}, headers=tenant.headers
        )
        text = await self._text(api, tenant, created["id"])
        assert "Med vänliga hälsningar" not in text
        assert "Ola Berg\nFörbundschef\n" in text
        # The author's own closing in the body is the last word: no signature, no line.
        await api.patch(url, json={"signature_name": ""}, headers=tenant.headers)
        html = (await api.get(f"{url}/preview", headers=tenant.headers)).text
        assert 'class="signoff"' not in html
        assert 'class="signature-name"' not in html
        back = await api.patch(
            url, json={"sign_off": None, "signature_name": None}, headers=tenant.headers
        )
        assert back.json()["sign_off"] is None
        assert "Med vänliga hälsningar" in await self._text(api, tenant, created["id"])


class TestMarkdownWarnings:
    BODY = "Hej.\n\n<b>Fet</b> text och [klicka här](https://ex.se/a).\n\n![](https://ex.se/b.jpg)"

    async def test_create_update_and_get_report_warnings_with_lines(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant, body_markdown=self.BODY)
        found = [(w["line"], w["code"]) for w in created["warnings"]]
        assert found == [(3, "raw_html"), (3, "vague_link_text"), (5, "image_without_alt")]
        assert all(w["message"] for w in created["warnings"])
        url = f"{tenant.base}/{created['id']}"
        got = await api.get(url, headers=tenant.headers)
        assert got.json()["warnings"] == created["warnings"]
        fixed = await api.patch(
            url,
            json={"body_markdown": "Läs [planen för 2027](https://ex.se/a)."},
            headers=tenant.headers,
        )
        assert fixed.status_code == 200
        assert fixed.json()["warnings"] == []

    async def test_preview_carries_warnings(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant, body_markdown=self.BODY)
        url = f"{tenant.base}/{created['id']}/preview"
        as_json = await api.get(f"{url}?format=json", headers=tenant.headers)
        assert as_json.status_code == 200
        body = as_json.json()
        assert [w["code"] for w in body["warnings"]] == [
            "raw_html",
            "vague_link_text",
            "image_without_alt",
        ]
        assert "Hej Anna Andersson!" in body["html"]
        assert "Hej Anna Andersson!" in body["text"]
        html = await api.get(url, headers=tenant.headers)
        assert html.headers["x-markdown-warnings"] == "3"


class TestTestSend:
    async def test_queues_test_deliveries_not_counted(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        response = await api.post(
            f"{url}/test",
            json={"addresses": ["redaktor@example.se", "chef@example.se"]},
            headers=tenant.headers,
        )
        assert response.status_code == 202
        assert response.json()["queued"] == 2
        rows = (
            (await session.execute(select(Delivery).where(Delivery.campaign_id == created["id"])))
            .scalars()
            .all()
        )
        assert {(r.kind, r.to_address) for r in rows} == {
            (DeliveryKind.TEST, "redaktor@example.se"),
            (DeliveryKind.TEST, "chef@example.se"),
        }
        stats = (await api.get(f"{url}/stats", headers=tenant.headers)).json()
        assert stats["recipients"] == 0

    async def test_goes_out_at_once_marked_as_a_test_with_working_links(
        self, api: httpx.AsyncClient, tenant: Tenant, smtp_server: SmtpRecorder
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        response = await api.post(
            f"{url}/test", json={"addresses": ["redaktor@example.se"]}, headers=tenant.headers
        )
        assert response.status_code == 202
        # Sent with the request, like a confirmation: no dispatcher tick in between.
        (message,) = smtp_server.to("redaktor@example.se")
        assert str(message["Subject"]) == f"[Test] {NEW['subject']}"
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        web = re.search(r"Visa i webbläsaren: (\S+)", text)
        unsubscribe = re.search(r"Avsluta prenumerationen: (\S+)", text)
        assert web is not None
        assert unsubscribe is not None

        page = await api.get(web.group(1).removeprefix(str(api.base_url)))
        assert page.status_code == 200
        assert "Våren har gått fort." in page.text
        # Without the signature the unsent letter is not public; a forged one neither.
        plain = web.group(1).partition("?")[0].removeprefix(str(api.base_url))
        assert (await api.get(plain)).status_code == 404
        assert (await api.get(plain + "?forhandsvisning=x")).status_code == 404

        link = unsubscribe.group(1).removeprefix(str(api.base_url))
        for answer in (await api.get(link), await api.post(link)):
            assert answer.status_code == 200
            assert "testutskick" in answer.text

    async def test_more_than_ten_addresses_is_422(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        addresses = [f"p{i}@example.se" for i in range(11)]
        response = await api.post(
            f"{tenant.base}/{created['id']}/test",
            json={"addresses": addresses},
            headers=tenant.headers,
        )
        assert response.status_code == 422

    async def test_invalid_address_is_422(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        response = await api.post(
            f"{tenant.base}/{created['id']}/test",
            json={"addresses": ["inte-en-adress"]},
            headers=tenant.headers,
        )
        assert response.status_code == 422


class TestSwedishTime:
    async def test_time_without_offset_is_the_federations_wall_clock(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        summer = await api.post(
            f"{url}/schedule", json={"send_at": "2030-06-18T08:00"}, headers=tenant.headers
        )
        assert summer.status_code == 200, summer.text
        body = summer.json()
        assert body["send_at"] in {"2030-06-18T06:00:00Z", "2030-06-18T06:00:00+00:00"}
        assert body["send_at_local"] == "2030-06-18T08:00:00+02:00"
        assert body["timezone"] == "Europe/Stockholm"
        winter = await api.post(
            f"{url}/schedule", json={"send_at": "2030-12-10T08:00"}, headers=tenant.headers
        )
        assert winter.json()["send_at_local"] == "2030-12-10T08:00:00+01:00"

    async def test_unschedule_duplicate_pause_and_resume(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        await api.post(
            f"{url}/schedule", json={"send_at": "2030-06-18T08:00"}, headers=tenant.headers
        )
        back = await api.post(f"{url}/unschedule", headers=tenant.headers)
        assert back.status_code == 200
        assert (back.json()["status"], back.json()["send_at"]) == ("draft", None)
        assert (await api.post(f"{url}/unschedule", headers=tenant.headers)).status_code == 409
        assert (await api.post(f"{url}/pause", headers=tenant.headers)).status_code == 409

        copy = await api.post(f"{url}/duplicate", headers=tenant.headers)
        assert copy.status_code == 201
        assert copy.json()["id"] != created["id"]
        assert copy.json()["status"] == "draft"
        assert copy.json()["body_markdown"] == created["body_markdown"]

        campaign = await session.get(Campaign, created["id"])
        assert campaign is not None
        campaign.status = CampaignStatus.SENDING
        await session.commit()
        paused = await api.post(f"{url}/pause", headers=tenant.headers)
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"
        assert paused.json()["paused_reason"] == "Pausat av personalen."
        resumed = await api.post(f"{url}/resume", headers=tenant.headers)
        assert resumed.json()["status"] == "sending"

        # Every state change is in the audit log, the copy as a new draft naming its source.
        logged = await session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "campaign").order_by(AuditEntry.id)
        )
        assert [(e.target_id, e.action) for e in logged] == [
            (created["id"], AuditAction.CAMPAIGN_CREATED),
            (created["id"], AuditAction.CAMPAIGN_SCHEDULED),
            (created["id"], AuditAction.CAMPAIGN_UNSCHEDULED),
            (copy.json()["id"], AuditAction.CAMPAIGN_CREATED),
            (created["id"], AuditAction.CAMPAIGN_PAUSED),
            (created["id"], AuditAction.CAMPAIGN_RESUMED),
        ]
        source = await session.scalar(
            select(AuditEntry.summary).where(AuditEntry.target_id == copy.json()["id"])
        )
        assert source is not None
        assert source.endswith(f"kopia av {created['id']}")


class TestSchedule:
    @pytest.mark.parametrize(
        "send_at",
        ["2020-06-18T08:00:00+02:00", "2020-06-18T08:00", "2031-03-30T02:30", "i morgon"],
        ids=["past", "past-local", "skipped-by-dst", "garbage"],
    )
    async def test_past_missing_or_garbage_is_422(
        self, api: httpx.AsyncClient, tenant: Tenant, send_at: str
    ) -> None:
        created = await _create(api, tenant)
        response = await api.post(
            f"{tenant.base}/{created['id']}/schedule",
            json={"send_at": send_at},
            headers=tenant.headers,
        )
        assert response.status_code == 422
        got = await api.get(f"{tenant.base}/{created['id']}", headers=tenant.headers)
        assert got.json()["status"] == "draft"

    async def test_schedule_future(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        response = await api.post(
            f"{tenant.base}/{created['id']}/schedule",
            json={"send_at": "2099-06-18T08:00:00+02:00"},
            headers=tenant.headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "scheduled"
        assert datetime.fromisoformat(body["send_at"]) == datetime(2099, 6, 18, 6, tzinfo=UTC)

    async def test_send_now_then_cancel(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await _create(api, tenant)
        url = f"{tenant.base}/{created['id']}"
        sent = await api.post(f"{url}/send-now", headers=tenant.headers)
        assert sent.status_code == 200
        assert sent.json()["status"] == "scheduled"
        assert datetime.fromisoformat(sent.json()["send_at"]) <= now()
        cancelled = await api.post(f"{url}/cancel", headers=tenant.headers)
        assert cancelled.json()["status"] == "cancelled"
        again = await api.post(f"{url}/cancel", headers=tenant.headers)
        assert again.status_code == 409
        assert (await api.post(f"{url}/send-now", headers=tenant.headers)).status_code == 409

    async def test_no_confirmed_recipients_cannot_be_scheduled(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        """Another federation's confirmed subscriber (tenant's reader) does not count."""
        created = await _create(api, other_tenant)
        url = f"{other_tenant.base}/{created['id']}"
        for response in (
            await api.post(f"{url}/send-now", headers=other_tenant.headers),
            await api.post(
                f"{url}/schedule",
                json={"send_at": "2099-06-18T08:00:00+02:00"},
                headers=other_tenant.headers,
            ),
        ):
            assert response.status_code == 409
            error = response.json()["error"]
            assert "bekräftade prenumeranter" in error["message"]
            assert error["details"] == {"code": "no_recipients", "recipients": 0}
        got = await api.get(url, headers=other_tenant.headers)
        assert got.json()["status"] == "draft"

    async def test_a_started_campaign_goes_to_its_own_federations_readers_only(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        await make_world(session, n=2, slug="soder")  # confirmed readers of another federation
        await session.commit()
        created = await _create(api, tenant)
        sent = await api.post(f"{tenant.base}/{created['id']}/send-now", headers=tenant.headers)
        assert sent.status_code == 200, sent.text
        # What the dispatcher does with a due campaign: the fan-out to its recipients.
        started = await start_campaign(
            session, federation_id=tenant.federation.id, campaign_id=created["id"], now=now()
        )
        assert started == 1
        rows = await session.execute(
            select(Delivery.federation_id, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.campaign_id == created["id"])
        )
        assert list(rows) == [(tenant.federation.id, "lasare@sf-norra-mottagare.example.se")]

    async def test_sent_campaign_cannot_be_rescheduled(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        campaign = await add_campaign(session, tenant.federation, status=CampaignStatus.SENT)
        response = await api.post(
            f"{tenant.base}/{campaign.id}/schedule",
            json={"send_at": "2099-01-01T00:00:00+00:00"},
            headers=tenant.headers,
        )
        assert response.status_code == 409


class TestResumeAndRequeue:
    async def test_resume_needs_paused(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        draft = await add_campaign(session, tenant.federation)
        response = await api.post(f"{tenant.base}/{draft.id}/resume", headers=tenant.headers)
        assert response.status_code == 409
        paused = await add_campaign(session, tenant.federation, status=CampaignStatus.PAUSED)
        response = await api.post(f"{tenant.base}/{paused.id}/resume", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "sending"

    async def test_requeue_unknown(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        campaign = await add_campaign(session, tenant.federation, status=CampaignStatus.SENT)
        await _deliveries(session, tenant, campaign, [DeliveryStatus.UNKNOWN, DeliveryStatus.SENT])
        response = await api.post(
            f"{tenant.base}/{campaign.id}/requeue-unknown", headers=tenant.headers
        )
        assert response.status_code == 200
        assert response.json() == {"requeued": 1}

    async def test_another_federations_key_requeues_nothing(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
    ) -> None:
        campaign = await add_campaign(session, tenant.federation, status=CampaignStatus.SENT)
        await _deliveries(session, tenant, campaign, [DeliveryStatus.UNKNOWN])
        response = await api.post(
            f"{other_tenant.base}/{campaign.id}/requeue-unknown", headers=other_tenant.headers
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        states = await session.scalars(
            select(Delivery.status).where(Delivery.campaign_id == campaign.id)
        )
        assert list(states) == [DeliveryStatus.UNKNOWN]
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT


async def _deliveries(
    session: AsyncSession, tenant: Tenant, campaign: Campaign, states: list[DeliveryStatus]
) -> None:
    for i, state in enumerate(states):
        subscriber = Subscriber(
            federation_id=tenant.federation.id,
            email=f"person{i}@example.se",
            status=SubscriptionStatus.CONFIRMED,
        )
        session.add(subscriber)
        await session.flush()
        session.add(
            Delivery(
                federation_id=tenant.federation.id,
                kind=DeliveryKind.CAMPAIGN,
                campaign_id=campaign.id,
                subscriber_id=subscriber.id,
                status=state,
            )
        )
    await session.flush()
    await session.commit()


class TestStats:
    async def test_counts_per_state(
        self, api: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
    ) -> None:
        campaign = await add_campaign(session, tenant.federation, status=CampaignStatus.SENDING)
        states = [DeliveryStatus.SENT] * 3 + [DeliveryStatus.QUEUED, DeliveryStatus.FAILED]
        await _deliveries(session, tenant, campaign, states)
        response = await api.get(f"{tenant.base}/{campaign.id}/stats", headers=tenant.headers)
        body = response.json()
        assert body["recipients"] == 5
        assert body["counts"]["sent"] == 3
        assert body["counts"]["queued"] == 1
        assert body["counts"]["failed"] == 1
        assert body["counts"]["unknown"] == 0
        assert body["status"] == "sending"

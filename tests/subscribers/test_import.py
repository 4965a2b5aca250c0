"""CSV import: valid and invalid rows, BOM, semicolons, re-import, suppression, modes, size."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import httpx
import psutil
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.actors import Actor
from app.delivery.models import Delivery, DeliveryKind
from app.errors import Unprocessable
from app.federations.models import Federation
from app.security import email_hash
from app.subscribers import importer, repository
from app.subscribers import tokens as token_service
from app.subscribers.models import (
    NAME_LENGTH,
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    Token,
    TokenPurpose,
)
from app.subscribers.schemas import CreateMode, ImportReport
from tests.fixtures.database import until_waiting_for_lock
from tests.fixtures.factories import bearer, make_federation, make_key

URL = "/api/v1/federations/sf-alfa/subscribers/import"

GOOD = (
    "email,name,kommun\n"
    "anna@example.se,Anna Berg,Umeå\n"
    "bo@example.se,,\n"
    "inte-en-adress,Fel Felsson,Vännäs\n"
    "ANNA@example.se,Anna igen,Umeå\n"
    ",Ingen adress,\n"
    "\n"
    "cecilia@exämple.se,Cecilia,Robertsfors\n"
)


@pytest.fixture
async def alfa(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-alfa")


@pytest.fixture
async def key(session: AsyncSession, alfa: Federation) -> str:
    return await make_key(session, alfa)


async def upload(
    client: httpx.AsyncClient, key: str, content: bytes, **fields: str
) -> httpx.Response:
    """The synchronous mode (`wait=true`), which answers with the report; the background job
    that is the default is tested in test_import_jobs.py."""
    return await client.post(
        URL,
        params={"wait": "true"},
        files={"file": ("lista.csv", content, "text/csv")},
        data=fields,
        headers=bearer(key),
    )


async def subscribers(session: AsyncSession) -> dict[str, Subscriber]:
    rows = await session.scalars(
        select(Subscriber).execution_options(populate_existing=True).order_by(Subscriber.id)
    )
    return {s.email: s for s in rows}


class TestImportEndpoint:
    async def test_valid_rows_import_and_invalid_rows_are_reported(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        response = await upload(client, key, GOOD.encode())
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["rows"] == 6
        assert report["created"] == 3
        assert report["invalid"] == 3
        assert [(p["line"], p["reason"]) for p in report["problems"]] == [
            (4, "invalid_email"),
            (5, "duplicate_in_file"),
            (6, "missing_email"),
        ]
        stored = await subscribers(session)
        assert set(stored) == {"anna@example.se", "bo@example.se", "cecilia@xn--exmple-cua.se"}
        assert stored["anna@example.se"].name == "Anna Berg"
        assert stored["anna@example.se"].attributes == {"kommun": "Umeå"}
        assert stored["bo@example.se"].attributes == {}
        assert {s.status for s in stored.values()} == {"pending"}
        # Pending mode: one confirmation mail each, and every subscriber has both tokens.
        kinds = list(await session.scalars(select(Delivery.kind)))
        assert kinds == [DeliveryKind.CONFIRMATION] * 3
        tokens = (await session.execute(select(Token.subscriber_id, Token.purpose))).all()
        assert {(s, p) for s, p in tokens} == {
            (s.id, p)
            for s in stored.values()
            for p in (TokenPurpose.CONFIRM, TokenPurpose.UNSUBSCRIBE)
        }

    async def test_bom_and_semicolons(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        # (An å before the @ needs SMTPUTF8: see test_non_ascii_addresses.py.)
        content = "\ufeffE-post;Namn;Organisation\nasa@example.se;Åsa Öberg;Region Väst\n"
        response = await upload(client, key, content.encode("utf-8"))
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 1
        stored = await subscribers(session)
        assert stored["asa@example.se"].name == "Åsa Öberg"
        assert stored["asa@example.se"].attributes == {"organisation": "Region Väst"}

    async def test_reimport_changes_nothing_and_downgrades_nobody(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        first = await upload(client, key, GOOD.encode(), mode="confirmed", consent_note="Papper")
        assert first.json()["created"] == 3
        before = {
            e: (s.status, s.name, s.updated_at) for e, s in (await subscribers(session)).items()
        }
        changed = GOOD.replace("Anna Berg", "Nytt Namn")
        second = await upload(client, key, changed.encode())
        assert second.status_code == 200
        assert second.json()["created"] == 0
        assert second.json()["existing"] == 3
        after = {
            e: (s.status, s.name, s.updated_at) for e, s in (await subscribers(session)).items()
        }
        assert after == before
        assert {status for status, _, _ in after.values()} == {"confirmed"}
        assert await session.scalar(select(func.count(Delivery.id))) == 0

    async def test_erased_addresses_stay_out(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        await upload(client, key, b"email\nanna@example.se\nbo@example.se\n")
        anna = (await subscribers(session))["anna@example.se"]
        erased = await client.delete(
            f"/api/v1/federations/sf-alfa/subscribers/{anna.id}", headers=bearer(key)
        )
        assert erased.status_code == 204
        response = await upload(client, key, b"email\nAnna@Example.se\nbo@example.se\n")
        report = response.json()
        assert (report["created"], report["existing"], report["suppressed"]) == (0, 1, 1)
        assert report["problems"] == [{"line": 2, "reason": "suppressed", "detail": None}]
        assert set(await subscribers(session)) == {"bo@example.se"}

    async def test_confirmed_mode_needs_a_note_and_records_it(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        refused = await upload(client, key, b"email\nanna@example.se\n", mode="confirmed")
        assert refused.status_code == 422
        assert await session.scalar(select(func.count(Subscriber.id))) == 0
        ok = await upload(
            client,
            key,
            b"email\nanna@example.se\n",
            mode="confirmed",
            consent_note="Anmälningslista från konferensen 2026-05-04",
        )
        assert ok.json()["created"] == 1
        record = await session.scalar(select(ConsentRecord))
        assert record is not None
        assert record.event == ConsentEvent.IMPORT
        assert record.note == "Anmälningslista från konferensen 2026-05-04"

    async def test_file_without_email_column_is_422(
        self, client: httpx.AsyncClient, key: str
    ) -> None:
        response = await upload(client, key, b"namn,kommun\nAnna,Ume\xc3\xa5\n")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_file"

    async def test_excel_semicolon_csv_in_windows_1252(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        # Excel's "CSV (semikolonavgränsad)" on Swedish Windows; the non-ASCII comes late (in
        # a name: a non-ASCII mailbox needs NEWSLETTER_SMTPUTF8, see test_non_ascii_addresses).
        rows = "".join(f"person{i}@example.se;Namn {i}\r\n" for i in range(3000))
        content = f"E-post;Namn\r\n{rows}orjan@example.se;Örjan Åström\r\n"
        response = await upload(client, key, content.encode("cp1252"))
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 3001
        stored = await subscribers(session)
        assert stored["orjan@example.se"].name == "Örjan Åström"

    async def test_utf8_without_bom_and_tabs(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        response = await upload(client, key, "email\tname\nasa@example.se\tÅsa\n".encode())
        assert response.json()["created"] == 1
        assert (await subscribers(session))["asa@example.se"].name == "Åsa"

    async def test_undecodable_file_is_422_and_imports_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        # 0x81 is undefined in Windows-1252 and invalid as UTF-8.
        response = await upload(client, key, b"email,name\nx@example.se,A\x81\n")
        assert response.status_code == 422
        assert await session.scalar(select(func.count(Subscriber.id))) == 0

    async def test_unknown_mode_is_422_naming_it_and_imports_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        response = await upload(client, key, b"email\nanna@example.se\n", mode="active")
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["body", "mode"]
        assert await session.scalar(select(func.count(Subscriber.id))) == 0

    async def test_missing_file_is_422(self, client: httpx.AsyncClient, key: str) -> None:
        response = await client.post(
            URL, data={"mode": "pending"}, files={"x": ("a", b"b")}, headers=bearer(key)
        )
        assert response.status_code == 422

    async def test_over_50_mb_is_413(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        line = b"someone@example.se,Namn\n"
        big = b"email,name\n" + line * (50 * 1024 * 1024 // len(line) + 5000)
        response = await upload(client, key, big)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert await session.scalar(select(func.count(Subscriber.id))) == 0

    async def test_lying_content_length_is_still_413(
        self, client: httpx.AsyncClient, key: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.subscribers import api

        monkeypatch.setattr(api, "MAX_IMPORT_BYTES", 1000)
        monkeypatch.setattr(api, "_MULTIPART_SLACK", 0)

        async def body():  # type: ignore[no-untyped-def]
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
            for _ in range(100):
                yield b"email\n" + b"x@example.se\n" * 10
            yield b"\r\n--b--\r\n"

        response = await client.post(
            URL,
            content=body(),
            headers={**bearer(key), "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 413


class TestImportService:
    async def test_100k_rows_in_bounded_memory(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        class Rows(io.RawIOBase):
            """100 000 rows generated on the fly, so the file itself takes no memory."""

            def __init__(self) -> None:
                self.lines = (
                    f"p{i}@example.se,Person {i},Kommun {i % 50}\n".encode() for i in range(100_000)
                )
                self.pending = b"email,name,kommun\n"

            def readable(self) -> bool:
                return True

            def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
                while len(self.pending) < len(buffer):
                    nxt = next(self.lines, None)
                    if nxt is None:
                        break
                    self.pending += nxt
                n = min(len(buffer), len(self.pending))
                buffer[:n] = self.pending[:n]
                self.pending = self.pending[n:]
                return n

        rss: list[int] = []
        process = psutil.Process()

        async def commit(_report: object) -> None:
            await session.commit()
            session.expunge_all()
            rss.append(process.memory_info().rss)

        report = await importer.import_csv(
            session,
            federation=alfa,
            source=io.BufferedReader(Rows()),
            mode=CreateMode.CONFIRMED,
            consent_note="bench",
            on_batch=commit,
            actor=Actor.system("test"),
        )
        assert report.created == 100_000
        assert await session.scalar(select(func.count(Subscriber.id))) == 100_000
        assert len(rss) >= 100
        # After the first ten batches memory must stay flat while 90 000 more rows pass:
        # only the set of addresses seen (for duplicate reports, ~10 MB) may grow. Holding
        # the rows (or the ORM objects) would add well over 100 MB.
        growth = max(rss[10:]) - rss[10]
        assert growth < 40 * 1024 * 1024, growth


async def import_file(
    session: AsyncSession,
    federation: Federation,
    content: str,
    mode: CreateMode = CreateMode.CONFIRMED,
) -> ImportReport:
    report = await importer.import_csv(
        session,
        federation=federation,
        source=io.BytesIO(content.encode()),
        mode=mode,
        consent_note="Lista från årsmötet",
        actor=Actor.system("test"),
    )
    await session.commit()
    return report


async def suppress(session: AsyncSession, federation: Federation, email: str) -> None:
    await repository.add_suppression(
        session,
        federation_id=federation.id,
        email_hash=email_hash(federation.id, email),
        reason="erased",
        at=clock.now(),
    )
    await session.commit()


@pytest.fixture
def batches_of_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 4)


class TestExistingAddresses:
    async def test_another_spelling_of_an_address_there_is_existing_not_a_second_subscriber(
        self, session: AsyncSession, alfa: Federation, batches_of_four: None
    ) -> None:
        await import_file(session, alfa, "email\nAnna.Berg@Example.se\n")
        report = await import_file(
            session,
            alfa,
            "email\nbo@example.se\nanna.berg@example.se\ncecilia@example.se\n",
        )
        assert (report.created, report.existing, report.problems) == (2, 1, [])
        stored = await subscribers(session)
        assert set(stored) == {"Anna.Berg@example.se", "bo@example.se", "cecilia@example.se"}

    @pytest.mark.postgres
    async def test_an_address_another_transaction_commits_meanwhile_is_existing(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> None:
        """The insert meets a row another transaction has written but not yet committed: it
        waits for that transaction and then skips the row (a lookup first, then an insert,
        would have found nothing and failed on the unique index)."""
        async with committed() as setup:
            federation = await make_federation(setup, "sf-alfa")
        async with committed() as other, committed() as importing, committed() as watcher:
            other.add(Subscriber(federation_id=federation.id, email="ANNA@example.se"))
            await other.flush()
            running = asyncio.create_task(
                import_file(importing, federation, "email\nbo@example.se\nanna@example.se\n")
            )
            # Bounded waits: a hang (seen once on Python 3.13, not reproduced) fails here with
            # what the database was doing, instead of stalling the whole suite.
            await until_waiting_for_lock(watcher, running)
            await other.commit()
            try:
                report = await asyncio.wait_for(running, timeout=60)
            except TimeoutError:
                activity = await watcher.execute(
                    text(
                        "SELECT state, wait_event_type, wait_event, left(query, 120) "
                        "FROM pg_stat_activity WHERE datname = current_database()"
                    )
                )
                raise AssertionError(f"the import did not finish: {activity.all()}") from None
        assert (report.created, report.existing) == (1, 1)
        async with committed() as check:
            emails = await check.scalars(select(Subscriber.email).order_by(Subscriber.email))
            assert list(emails) == ["ANNA@example.se", "bo@example.se"]


class TestSuppressedAddresses:
    async def test_suppressed_addresses_inside_a_batch_are_reported_by_line(
        self, session: AsyncSession, alfa: Federation, batches_of_four: None
    ) -> None:
        await import_file(session, alfa, "email\nbefintlig@example.se\n")
        await suppress(session, alfa, "sparrad@example.se")
        await suppress(session, alfa, "Borttagen@example.se")
        report = await import_file(
            session,
            alfa,
            "email\n"
            "a@example.se\n"  # line 2
            "sparrad@example.se\n"  # line 3: suppressed, in the first batch of four
            "BEFINTLIG@example.se\n"
            "b@example.se\n"
            "c@example.se\n"  # line 6: the second batch
            "borttagen@EXAMPLE.se\n"  # line 7: suppressed under another spelling
            "d@example.se\n",
        )
        assert [(p.line, p.reason) for p in report.problems] == [
            (3, "suppressed"),
            (7, "suppressed"),
        ]
        assert (report.created, report.existing, report.suppressed) == (4, 1, 2)
        assert set(await subscribers(session)) == {
            "befintlig@example.se",
            *(f"{c}@example.se" for c in "abcd"),
        }

    async def test_a_batch_of_nothing_but_suppressed_addresses(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        await suppress(session, alfa, "sparrad@example.se")
        report = await import_file(session, alfa, "email\nsparrad@example.se\n")
        assert (report.created, report.suppressed, report.problems[0].line) == (0, 1, 2)
        assert await subscribers(session) == {}


class TestWhatEachNewSubscriberGets:
    async def test_tokens_consent_and_mail_for_exactly_the_created_subscribers(
        self, session: AsyncSession, alfa: Federation, batches_of_four: None
    ) -> None:
        await import_file(session, alfa, "email\nfanns@example.se\n")
        before = await subscribers(session)
        await suppress(session, alfa, "sparrad@example.se")
        at = clock.now()
        report = await import_file(
            session,
            alfa,
            "email\nny1@example.se\nFANNS@example.se\nsparrad@example.se\nny2@example.se\n"
            "ny3@example.se\n",
            mode=CreateMode.PENDING,
        )
        assert (report.created, report.existing, report.suppressed) == (3, 1, 1)
        created = {s.id: s for e, s in (await subscribers(session)).items() if e not in before}
        assert {s.email for s in created.values()} == {f"ny{i}@example.se" for i in (1, 2, 3)}
        assert {s.status for s in created.values()} == {"pending"}

        tokens = list(await session.scalars(select(Token).where(Token.subscriber_id.in_(created))))
        assert sorted((t.subscriber_id, t.purpose) for t in tokens) == sorted(
            (i, p) for i in created for p in (TokenPurpose.UNSUBSCRIBE, TokenPurpose.CONFIRM)
        )
        for token in tokens:
            # The stored hash is that of the link the seed makes: the link works.
            found = await token_service.find_token(
                session, token_service.raw_token(token), purpose=token.purpose
            )
            assert found.id == token.id
            assert (token.expires_at is None) == (token.purpose == TokenPurpose.UNSUBSCRIBE)
        confirm = {t.subscriber_id: t.id for t in tokens if t.purpose == TokenPurpose.CONFIRM}
        assert all(t.expires_at is None or t.expires_at > at for t in tokens)

        records = list(
            await session.scalars(select(ConsentRecord).where(ConsentRecord.occurred_at >= at))
        )
        assert sorted(r.subscriber_id for r in records) == sorted(created)
        assert {(r.event, r.method, r.note) for r in records} == {
            (ConsentEvent.IMPORT, "csv_import", "Lista från årsmötet")
        }

        mails = (
            await session.execute(
                select(Delivery.subscriber_id, Delivery.token_id).where(
                    Delivery.kind == DeliveryKind.CONFIRMATION
                )
            )
        ).all()
        assert sorted(mails) == sorted(confirm.items())

    async def test_confirmed_import_gives_no_confirm_token_and_no_mail(
        self, session: AsyncSession, alfa: Federation, batches_of_four: None
    ) -> None:
        report = await import_file(session, alfa, "email\na@example.se\nb@example.se\n")
        assert report.created == 2
        purposes = list(await session.scalars(select(Token.purpose)))
        assert purposes == [TokenPurpose.UNSUBSCRIBE] * 2
        assert await session.scalar(select(func.count(Delivery.id))) == 0
        stored = await subscribers(session)
        assert all(s.confirmed_at is not None for s in stored.values())

    async def test_pending_import_is_unconfirmed_with_a_link_of_the_usual_life(
        self, session: AsyncSession, alfa: Federation, frozen_clock: None
    ) -> None:
        at = datetime(2026, 3, 2, 10, tzinfo=UTC)
        clock.freeze(at)
        await import_file(session, alfa, "email\nvera@example.se\n", mode=CreateMode.PENDING)
        (vera,) = (await subscribers(session)).values()
        # Not confirmed until Vera presses her link: the retention purge may delete her.
        assert (vera.status, vera.confirmed_at) == ("pending", None)
        link = await session.scalar(select(Token).where(Token.purpose == TokenPurpose.CONFIRM))
        assert link is not None
        assert link.expires_at == at + timedelta(days=7)  # CONFIRMATION_TOKEN_DAYS


class TestNulCharacters:
    async def test_a_row_with_nul_is_reported_and_the_others_imported(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        content = b"email,name\nanna@example.se,Anna\nbo@example.se,B\x00o\ncecilia@example.se,C\n"
        response = await upload(client, key, content)
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["created"], report["invalid"]) == (2, 1)
        assert report["problems"] == [
            {"line": 3, "reason": "malformed_row", "detail": "a NUL character (U+0000)"}
        ]
        assert set(await subscribers(session)) == {"anna@example.se", "cecilia@example.se"}

    async def test_a_utf16_file_is_refused_with_the_reason(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        content = "email\tname\nanna@example.se\tAnna\n".encode("utf-16")
        response = await upload(client, key, content)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_file"
        assert "UTF-16" in error["message"]
        assert await session.scalar(select(func.count(Subscriber.id))) == 0


class TestConsentEvidence:
    async def test_a_note_of_only_spaces_is_no_note(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        with pytest.raises(Unprocessable):
            await importer.import_csv(
                session,
                federation=alfa,
                source=io.BytesIO(b"email\nanna@example.se\n"),
                mode=CreateMode.CONFIRMED,
                consent_note="   ",
                actor=Actor.system("test"),
            )
        assert await subscribers(session) == {}


class TestRowsRefused:
    async def test_a_row_with_more_filled_fields_than_the_header_is_malformed(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        report = await import_file(
            session,
            alfa,
            "email;namn\n"
            "ulla@example.se;Ulla;Lycksele\n"  # a third value without a column
            "sven@example.se;Sven;;\n",  # Excel's empty trailing fields are fine
        )
        assert [(p.line, p.reason) for p in report.problems] == [(2, "malformed_row")]
        assert set(await subscribers(session)) == {"sven@example.se"}

    async def test_a_name_may_fill_its_column_but_not_more(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        longest = "Å" * NAME_LENGTH
        report = await import_file(
            session,
            alfa,
            f"email,name\nfull@example.se,{longest}\nover@example.se,{longest}x\n",
        )
        assert [(p.line, p.reason, p.detail) for p in report.problems] == [(3, "too_long", "name")]
        assert (await subscribers(session))["full@example.se"].name == longest

    async def test_an_extra_columns_value_may_reach_the_limit_but_not_pass_it(
        self, session: AsyncSession, alfa: Federation
    ) -> None:
        longest = "ö" * importer.MAX_ATTRIBUTE_LENGTH
        report = await import_file(
            session,
            alfa,
            f"email,anteckning\nfull@example.se,{longest}\nover@example.se,{longest}x\n",
        )
        assert [(p.line, p.reason, p.detail) for p in report.problems] == [
            (3, "too_long", "attribute")
        ]
        assert (await subscribers(session))["full@example.se"].attributes == {"anteckning": longest}


class TestProblemList:
    async def test_the_list_stops_at_its_cap_and_the_counts_go_on(
        self,
        session: AsyncSession,
        alfa: Federation,
        batches_of_four: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(importer, "MAX_PROBLEMS_LISTED", 3)
        for name in ("stina", "tore"):
            await suppress(session, alfa, f"{name}@example.se")
        # Three invalid rows fill the list in the first batch (lines 2-4, then four good ones);
        # two more come in the second batch, and two suppressed ones when it is written.
        first = (
            "fel-1\nfel-2\nfel-3\nalma@example.se\nbo@example.se\ncarl@example.se\ndan@example.se\n"
        )
        second = "fel-4\nfel-5\nny@example.se\nstina@example.se\ntore@example.se\n"
        report = await import_file(session, alfa, f"email\n{first}{second}")
        assert (report.invalid, report.suppressed, report.created) == (5, 2, 5)
        assert [(p.line, p.reason) for p in report.problems] == [
            (2, "invalid_email"),
            (3, "invalid_email"),
            (4, "invalid_email"),
        ]

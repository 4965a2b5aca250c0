"""CSV import as a background job: 202 and a job, progress, the report, isolation between
federations, and a worker that dies mid-import (resumed, or failed visibly)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.subscribers import import_jobs, importer
from app.subscribers.models import ImportJob, Subscriber
from tests.fixtures.factories import bearer, make_federation, make_key

BASE = "/api/v1/federations/sf-alfa/subscribers"


REAL_WRITE_BATCH = importer._write_batch


class Crash(BaseException):
    """The worker process dying: nothing after it runs, nothing uncommitted survives."""


@pytest.fixture
async def alfa(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-alfa")


@pytest.fixture
async def key(session: AsyncSession, alfa: Federation) -> str:
    return await make_key(session, alfa)


def rows(n: int, *, duplicate_at: int | None = None) -> bytes:
    lines = [f"person{i}@example.se,Person {i}" for i in range(n)]
    if duplicate_at is not None:
        lines.insert(duplicate_at, "PERSON0@example.se,Samma igen")
    return ("email,name\n" + "\n".join(lines) + "\n").encode()


async def queue(client: httpx.AsyncClient, key: str, content: bytes, **fields: str) -> dict:
    response = await client.post(
        f"{BASE}/import",
        files={"file": ("lista.csv", content, "text/csv")},
        data=fields,
        headers=bearer(key),
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"{BASE}/imports/{job['id']}"
    return job


async def poll(client: httpx.AsyncClient, key: str, job_id: int) -> dict:
    response = await client.get(f"{BASE}/imports/{job_id}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Subscriber.id))) or 0)


async def queue_committed(
    committed: async_sessionmaker[AsyncSession], slug: str, n: int = 3
) -> tuple[Federation, ImportJob]:
    """A federation and a queued import of n rows, committed for a worker in another process or
    on other connections. Confirmed: no confirmation mails for a dispatcher to try to send."""
    import io

    from app.actors import Actor
    from app.subscribers.schemas import CreateMode

    async with committed() as session:
        federation = await make_federation(session, slug)
        job = await import_jobs.queue_import(
            session,
            federation=federation,
            source=io.BytesIO(rows(n)),
            filename="lista.csv",
            mode=CreateMode.CONFIRMED,
            consent_note="Lista",
            method="api_import",
            actor=Actor.system("test"),
        )
        await session.commit()
    return federation, job


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 10 rows and a checkpoint every 20, so a small file has several."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    monkeypatch.setattr(import_jobs, "CHECKPOINT_ROWS", 20)


def crash_on_batch(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make the worker die while writing its n-th batch (of this run; see revive)."""
    calls = 0

    async def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == n:
            raise Crash
        await REAL_WRITE_BATCH(*args, **kwargs)

    monkeypatch.setattr(importer, "_write_batch", dying)


def revive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "_write_batch", REAL_WRITE_BATCH)


class TestQueueImport:
    async def test_job_lifecycle_through_the_api(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        content = b"email,name\nanna@example.se,Anna\ninte-en-adress,X\nbo@example.se,Bo\n"
        job = await queue(client, key, content)
        assert job["status"] == "queued"
        assert (job["rows_total"], job["rows_done"], job["report"]) == (3, 0, None)
        assert job["filename"] == "lista.csv"
        # Nothing is imported by the request itself.
        assert await count(session) == 0

        assert await import_jobs.run_next_job() == job["id"]
        done = await poll(client, key, job["id"])
        assert done["status"] == "done"
        assert (done["rows_done"], done["rows_total"]) == (3, 3)
        assert done["error"] is None
        assert done["finished_at"] is not None
        report = done["report"]
        assert (report["created"], report["invalid"]) == (2, 1)
        assert report["problems"] == [{"line": 3, "reason": "invalid_email", "detail": None}]
        assert await count(session) == 2
        # The upload is not kept once imported (it holds personal data).
        stored = await session.scalar(
            select(func.length(ImportJob.content)).where(ImportJob.id == job["id"])
        )
        assert stored == 0
        # The import is in the audit log under the key that asked for it.
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.SUBSCRIBERS_IMPORTED)
        )
        assert entry is not None
        assert entry.api_key_id is not None
        assert "2 nya" in entry.summary
        assert await import_jobs.run_next_job() is None

    async def test_jobs_run_in_the_order_they_were_queued(
        self, client: httpx.AsyncClient, key: str
    ) -> None:
        first = await queue(client, key, b"email\nforst@example.se\n")
        second = await queue(client, key, b"email\nsedan@example.se\n")
        assert await import_jobs.run_next_job() == first["id"]
        assert await import_jobs.run_next_job() == second["id"]

    async def test_progress_is_committed_as_the_job_goes(
        self,
        client: httpx.AsyncClient,
        key: str,
        small_steps: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        job = await queue(client, key, rows(95))
        seen: list[tuple[str, int, int]] = []
        real = import_jobs._save

        async def watching(*args, **kwargs):  # type: ignore[no-untyped-def]
            await real(*args, **kwargs)
            state = await poll(client, key, job["id"])
            seen.append((state["status"], state["rows_done"], state["rows_total"]))

        monkeypatch.setattr(import_jobs, "_save", watching)
        await import_jobs.run_next_job()
        # Every 20 rows (after the batch that passes the mark), then the end.
        assert seen == [
            ("running", 20, 95),
            ("running", 40, 95),
            ("running", 60, 95),
            ("running", 80, 95),
            ("done", 95, 95),
        ]

    async def test_unreadable_file_is_refused_before_it_is_queued(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        for content in (b"namn,kommun\nAnna,Ume\n", b"email,name\nx@example.se,A\x81\n", b""):
            response = await client.post(
                f"{BASE}/import",
                files={"file": ("lista.csv", content, "text/csv")},
                headers=bearer(key),
            )
            assert response.status_code == 422, content
            assert response.json()["error"]["code"] == "invalid_file"
        confirmed_without_note = await client.post(
            f"{BASE}/import",
            files={"file": ("lista.csv", rows(1), "text/csv")},
            data={"mode": "confirmed"},
            headers=bearer(key),
        )
        assert confirmed_without_note.status_code == 422
        assert await session.scalar(select(func.count(ImportJob.id))) == 0

    async def test_a_row_with_nul_is_a_problem_of_the_report_not_a_failed_job(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        job = await queue(client, key, b"email,name\nanna@example.se,An\x00na\nbo@example.se,Bo\n")
        assert await import_jobs.run_next_job() == job["id"]
        done = await poll(client, key, job["id"])
        assert (done["status"], done["error"]) == ("done", None)
        assert done["report"]["problems"] == [
            {"line": 2, "reason": "malformed_row", "detail": "a NUL character (U+0000)"}
        ]
        assert await count(session) == 1

    async def test_confirmed_mode_is_kept_on_the_job(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        job = await queue(client, key, rows(2), mode="confirmed", consent_note="Papperslista")
        assert job["mode"] == "confirmed"
        await import_jobs.run_next_job()
        statuses = set(await session.scalars(select(Subscriber.status)))
        assert statuses == {"confirmed"}


class TestIsolation:
    async def test_another_federations_job_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str
    ) -> None:
        beta = await make_federation(session, "sf-beta")
        beta_key = await make_key(session, beta)
        job = await queue(client, key, rows(2))
        # Under its own slug, or under alfa's (a key reaches only its own federation).
        for slug in ("sf-beta", "sf-alfa"):
            response = await client.get(
                f"/api/v1/federations/{slug}/subscribers/imports/{job['id']}",
                headers=bearer(beta_key),
            )
            assert response.status_code == 404, slug
            assert response.json()["error"]["code"] == "not_found"
        unknown = await client.get(f"{BASE}/imports/999999", headers=bearer(key))
        assert unknown.status_code == 404
        no_key = await client.get(f"{BASE}/imports/{job['id']}")
        assert no_key.status_code == 401


class TestCrashedWorker:
    async def test_a_dead_workers_job_resumes_after_its_last_checkpoint(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: str,
        small_steps: None,
        frozen_clock: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # A duplicate of row 1 after the crash point: the resumed run must still know the
        # file had that address (a duplicate in the file, not an existing subscriber).
        job = await queue(client, key, rows(95, duplicate_at=70))
        start = clock.now()
        clock.freeze(start)
        crash_on_batch(monkeypatch, 4)
        with pytest.raises(Crash):
            await import_jobs.run_next_job(owner="worker-1")
        stalled = await poll(client, key, job["id"])
        assert (stalled["status"], stalled["rows_done"]) == ("running", 20)
        assert await count(session) == 20
        # Within the lease (its last heartbeat was at `start`) nobody takes it over.
        revive(monkeypatch)
        clock.freeze(start + import_jobs.LEASE - timedelta(seconds=1))
        assert await import_jobs.run_next_job(owner="worker-2") is None
        clock.freeze(start + import_jobs.LEASE + timedelta(seconds=1))
        assert await import_jobs.run_next_job(owner="worker-2") == job["id"]
        done = await poll(client, key, job["id"])
        assert done["status"] == "done"
        report = done["report"]
        assert (report["rows"], report["created"], report["existing"]) == (96, 95, 0)
        assert report["problems"] == [{"line": 72, "reason": "duplicate_in_file", "detail": None}]
        assert await count(session) == 95

    async def test_a_job_that_keeps_dying_fails_with_its_reason(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: str,
        small_steps: None,
        frozen_clock: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        job = await queue(client, key, rows(95))
        at = clock.now()
        for attempt in range(import_jobs.MAX_ATTEMPTS):
            clock.freeze(at)
            crash_on_batch(monkeypatch, 3)
            with pytest.raises(Crash):
                await import_jobs.run_next_job(owner=f"worker-{attempt}")
            revive(monkeypatch)
            at += import_jobs.LEASE + timedelta(seconds=1)
        clock.freeze(at)
        assert await import_jobs.run_next_job(owner="worker-last") == job["id"]
        failed = await poll(client, key, job["id"])
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "interrupted"
        assert "stopped 3 times" in failed["error"]["message"]
        # What was committed before the crashes stays, and the report says so.
        assert failed["report"]["created"] == await count(session) == 60
        assert failed["rows_done"] == 60
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.target_type == "import_job")
        )
        assert entry is not None
        assert "avbröts" in entry.summary
        # The upload (personal data) is not kept for a job that has ended.
        stored = await session.scalar(
            select(func.length(ImportJob.content)).where(ImportJob.id == job["id"])
        )
        assert stored == 0


class TestReadingWhileWriting:
    """The next batch is read and checked while one is written; a checkpoint still counts only
    the rows that are written."""

    async def test_the_next_batch_is_read_while_one_is_written(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: str,
        small_steps: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        job = await queue(client, key, rows(35))
        read = 0
        past_first_batch = asyncio.Event()
        real_row = importer._row

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal read
            read += 1
            if read > importer.BATCH_SIZE:
                past_first_batch.set()
            return real_row(*args, **kwargs)

        read_at_write: list[int] = []
        saved: list[int] = []

        async def writing(*args, **kwargs):  # type: ignore[no-untyped-def]
            # The first batch waits until reading has gone past it: with one batch written at
            # a time and nothing read meanwhile, this would time out.
            if not read_at_write:
                async with asyncio.timeout(10):
                    await past_first_batch.wait()
            read_at_write.append(read)
            await REAL_WRITE_BATCH(*args, **kwargs)

        real_save = import_jobs._save

        async def saving(session_, job_, owner, report, **changes):  # type: ignore[no-untyped-def]
            saved.append(report.rows)
            # A checkpoint counts the rows that are in the database, not the ones read.
            assert report.rows == report.created == await count(session_)
            await real_save(session_, job_, owner, report, **changes)

        monkeypatch.setattr(importer, "_row", counting)
        monkeypatch.setattr(importer, "_write_batch", writing)
        monkeypatch.setattr(import_jobs, "_save", saving)
        assert await import_jobs.run_next_job() == job["id"]
        assert read_at_write[0] > importer.BATCH_SIZE
        assert saved == [20, 35]
        done = await poll(client, key, job["id"])
        assert (done["status"], done["rows_done"], done["report"]["created"]) == ("done", 35, 35)
        assert await count(session) == 35

    async def test_a_file_error_while_a_batch_is_written_is_raised_after_that_batch(
        self,
        session: AsyncSession,
        alfa: Federation,
        small_steps: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The CSV turns bad after the first batch: the error is the file's, raised once the
        batch under way has ended (the session is never used by two at once)."""
        import io

        from app.actors import Actor
        from app.subscribers.schemas import CreateMode

        ended: list[str] = []

        async def writing(*args, **kwargs):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.05)  # still under way when the reading fails
            await REAL_WRITE_BATCH(*args, **kwargs)
            ended.append("written")

        monkeypatch.setattr(importer, "_write_batch", writing)
        # A field over the csv module's limit (131,072 characters) in row 13.
        bad = rows(12) + b'"' + b"x" * 200_000 + b'@example.se",Lang\n'
        with pytest.raises(importer.ImportFileError):
            await importer.import_csv(
                session,
                federation=alfa,
                source=io.BytesIO(bad),
                mode=CreateMode.CONFIRMED,
                consent_note="Lista",
                actor=Actor.system("test"),
            )
        assert ended == ["written"]


class TestFailingJob:
    async def test_an_error_before_the_first_checkpoint_retries_then_fails_the_job(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An unexpected error (not a crash: the worker lives on) while the job is still
        attached to the worker's session, which the rollback expires."""

        async def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("the database said no")

        monkeypatch.setattr(importer, "_write_batch", failing)
        job = await queue(client, key, rows(3))
        for attempt in range(1, import_jobs.MAX_ATTEMPTS):
            assert await import_jobs.run_next_job(owner=f"worker-{attempt}") == job["id"]
            again = await poll(client, key, job["id"])
            assert (again["status"], again["rows_done"]) == ("queued", 0)
        assert await import_jobs.run_next_job(owner="worker-last") == job["id"]
        failed = await poll(client, key, job["id"])
        assert (failed["status"], failed["error"]["code"]) == ("failed", "error")
        assert await count(session) == 0


class TestStoppingWorker:
    async def test_sigterm_puts_the_job_back_at_a_checkpoint(
        self, client: httpx.AsyncClient, session: AsyncSession, key: str, small_steps: None
    ) -> None:
        import asyncio

        job = await queue(client, key, rows(95))
        stop = asyncio.Event()
        stop.set()
        assert await import_jobs.run_next_job(owner="worker-1", stop=stop) == job["id"]
        back = await poll(client, key, job["id"])
        assert (back["status"], back["rows_done"]) == ("queued", 20)
        assert await count(session) == 20
        # The next worker takes it at once (no lease to wait for) and finishes it.
        assert await import_jobs.run_next_job(owner="worker-2") == job["id"]
        done = await poll(client, key, job["id"])
        assert (done["status"], done["report"]["created"]) == ("done", 95)


class TestCronDispatch:
    """A cron-only install (SPEC: `newsletter dispatch` every minute) has no worker: each tick
    runs queued imports in the time it has left, and a large import spreads over ticks."""

    async def test_runs_stopped_by_time_are_not_interrupted_attempts(
        self, client: httpx.AsyncClient, key: str, small_steps: None
    ) -> None:
        import asyncio

        job = await queue(client, key, rows(200))
        stop = asyncio.Event()
        stop.set()
        for tick in range(import_jobs.MAX_ATTEMPTS + 2):
            assert await import_jobs.run_next_job(owner=f"tick-{tick}", stop=stop) == job["id"]
            back = await poll(client, key, job["id"])
            assert (back["status"], back["rows_done"]) == ("queued", 20 * (tick + 1))
        assert await import_jobs.run_next_job(owner="last-tick") == job["id"]
        done = await poll(client, key, job["id"])
        assert (done["status"], done["report"]["created"]) == ("done", 200)

    async def test_newsletter_dispatch_runs_queued_imports(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> None:
        from tests.fixtures.cli import newsletter

        federation, job = await queue_committed(committed, "sf-cron")
        url = committed.kw["bind"].url.render_as_string(hide_password=False)
        result = newsletter(url, "dispatch", "--max-seconds", "50")
        assert result.returncode == 0, result.stderr
        assert "imports run: 1" in result.stdout
        async with committed() as session:
            found = await import_jobs.get_import_job(
                session, federation_id=federation.id, job_id=job.id
            )
            assert found.status == "done"
            assert await count(session) == 3


class TestWorkerLoop:
    async def test_the_worker_loop_runs_queued_jobs(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> None:
        """The loop of `newsletter worker` and dev mode, on a database with real commits (the
        dispatcher beside it uses connections of its own)."""
        import asyncio

        from app import composition

        federation, job = await queue_committed(committed, "sf-loop")
        stop = asyncio.Event()
        loop = asyncio.create_task(composition.run_worker_loop(stop, interval=0.05))
        status = None
        for _ in range(400):
            async with committed() as session:
                status = (
                    await import_jobs.get_import_job(
                        session, federation_id=federation.id, job_id=job.id
                    )
                ).status
            if status == "done":
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(loop, timeout=30)
        assert status == "done"
        async with committed() as session:
            assert await count(session) == 3


@pytest.mark.slow
class TestKilledWorkerProcess:
    async def test_a_killed_worker_leaves_its_checkpoint_and_the_job_resumes(
        self, committed: async_sessionmaker[AsyncSession], frozen_clock: None
    ) -> None:
        """A real `newsletter worker` process, killed with SIGKILL after its first committed
        checkpoint: what it committed stays, nothing else does, and the job resumes."""
        import asyncio
        import os
        import sys

        from tests.fixtures import ROOT

        n = 100_000  # long enough that the kill lands mid-import on a fast, idle machine
        federation, job = await queue_committed(committed, "sf-kill", n)

        async def state() -> tuple[str, int, int]:
            async with committed() as session:
                current = await import_jobs.get_import_job(
                    session, federation_id=federation.id, job_id=job.id
                )
                return current.status, current.rows_done, await count(session)

        url = committed.kw["bind"].url.render_as_string(hide_password=False)
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "worker",
            "--interval",
            "0.2",
            env={**os.environ, "NEWSLETTER_DATABASE_URL": url},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            # A wait for the first checkpoint, not a timed assertion.
            for _ in range(3000):
                if (await state())[1] > 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            worker.kill()
            await asyncio.wait_for(worker.wait(), timeout=30)
        status, done_rows, stored = await state()
        assert status == "running"
        assert 0 < done_rows < n
        assert stored == done_rows, "only committed checkpoints survive the kill"

        clock.freeze(clock.now() + import_jobs.LEASE + timedelta(seconds=1))
        assert await import_jobs.run_next_job(sessionmaker=committed) == job.id
        status, done_rows, stored = await state()
        assert (status, done_rows, stored) == ("done", n, n)
        async with committed() as session:
            final = import_jobs.job_report(
                await import_jobs.get_import_job(
                    session, federation_id=federation.id, job_id=job.id
                )
            )
        assert final is not None
        # Counted once: the rows before the checkpoint are not re-imported as "existing".
        assert (final.rows, final.created, final.existing) == (n, n, 0)

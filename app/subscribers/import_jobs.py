"""CSV imports as background jobs: queued by the API and Redaktionen, run by the worker.

The upload is stored in the job row, so any web instance can take it and any worker can run
it. A worker commits the rows it imported together with the job's report every
CHECKPOINT_ROWS rows and beats a heartbeat there; a job whose worker stopped beating for LEASE
is taken over and resumes after the last checkpoint, up to MAX_ATTEMPTS runs, after which it
fails with the reason given (never silently lost)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import db
from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.clock import now
from app.errors import NotFound
from app.federations import service as federation_service
from app.federations.models import Federation
from app.subscribers import importer, repository
from app.subscribers.models import ImportJob, ImportJobStatus
from app.subscribers.schemas import CreateMode, ImportJobError, ImportJobRead, ImportReport

log = logging.getLogger(__name__)

CHECKPOINT_ROWS = 5000
# A checkpoint comes every few seconds even on a slow machine; two minutes without one means
# the worker is gone.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3


class ImportFailure:
    """Codes of ImportJob.failure (the Swedish texts are in app.messages.IMPORT_FAILURES)."""

    INTERRUPTED = "interrupted"
    INVALID_FILE = "invalid_file"
    ERROR = "error"


class _LostClaim(Exception):
    """Another worker took the job over; this one's uncommitted work is dropped."""


class _Stopping(Exception):
    """The worker is shutting down (SIGTERM): the job goes back to the queue at a checkpoint."""


async def queue_import(
    session: AsyncSession,
    *,
    federation: Federation,
    source: IO[bytes],
    filename: str | None,
    mode: CreateMode,
    consent_note: str | None,
    method: str,
    actor: Actor,
) -> ImportJob:
    """Check the file and queue it for a worker; a file the import cannot read is refused
    now, with the same 422 as a synchronous import."""
    importer.check_options(mode, consent_note)
    rows_total = importer.count_rows(source)
    content = source.read()
    return await repository.add_import_job(
        session,
        ImportJob(
            federation_id=federation.id,
            status=ImportJobStatus.QUEUED,
            filename=(filename or "")[:255] or None,
            content=content,
            mode=mode.value,
            consent_note=consent_note,
            method=method,
            rows_total=rows_total,
            rows_done=0,
            attempts=0,
            actor_label=actor.label[:254],
            user_id=actor.user_id,
            api_key_id=actor.api_key_id,
            created_at=now(),
        ),
    )


async def get_import_job(session: AsyncSession, *, federation_id: int, job_id: int) -> ImportJob:
    job = await repository.get_import_job(session, federation_id=federation_id, job_id=job_id)
    if job is None:
        raise NotFound("No such import job.")
    return job


def job_read(job: ImportJob) -> ImportJobRead:
    return ImportJobRead(
        id=job.id,
        status=job.status,
        filename=job.filename,
        mode=CreateMode(job.mode),
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=ImportJobError.model_validate({"code": job.failure, "message": job.error or ""})
        if job.failure
        else None,
        report=job_report(job)
        if job.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED)
        else None,
    )


def job_report(job: ImportJob) -> ImportReport | None:
    """The report as far as committed (the final one once the job is done)."""
    return ImportReport.model_validate(job.report) if job.report is not None else None


def new_owner() -> str:
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"import-{host}-{os.getpid()}-{secrets.token_hex(4)}"


async def run_next_job(
    *,
    owner: str | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    stop: asyncio.Event | None = None,
) -> int | None:
    """Claim one queued (or abandoned) job and run it to its end (or, once `stop` is set, to
    its next checkpoint, where it is queued again for the next worker); the job's id, or None
    when there was nothing to do."""
    owner = owner or new_owner()
    factory = sessionmaker or db.get_sessionmaker()
    async with factory() as session:
        at = now()
        job = await repository.claim_import_job(
            session, owner=owner, stale_before=at - LEASE, at=at
        )
        await session.commit()
        if job is None:
            return None
        # Detached, as every checkpoint leaves it: a rollback expires what the session holds,
        # and the error paths below read the job after one (an expired attribute would be
        # loaded by lazy IO, which async SQLAlchemy refuses).
        session.expunge(job)
        if job.attempts > MAX_ATTEMPTS:
            await _fail(
                session,
                job,
                owner,
                ImportFailure.INTERRUPTED,
                f"The import stopped {MAX_ATTEMPTS} times before it finished (the worker "
                "running it ended); the rows counted in the report were imported.",
            )
            return job.id
        try:
            await _run(session, job, owner, stop)
        except _Stopping:
            await _requeue(session, job, owner, stopped=True)
        except _LostClaim:
            await session.rollback()
            log.warning("import job %s was taken over by another worker", job.id)
        except importer.ImportFileError as exc:
            await session.rollback()
            await _fail(session, job, owner, ImportFailure.INVALID_FILE, exc.message)
        except Exception:
            await session.rollback()
            log.exception("import job %s failed (attempt %s)", job.id, job.attempts)
            if job.attempts >= MAX_ATTEMPTS:
                await _fail(
                    session,
                    job,
                    owner,
                    ImportFailure.ERROR,
                    "The import failed with an internal error; the rows counted in the report "
                    "were imported.",
                )
            else:
                await _requeue(session, job, owner)
        return job.id


async def _requeue(
    session: AsyncSession, job: ImportJob, owner: str, *, stopped: bool = False
) -> None:
    """Leave the job for the next run, which resumes after the last checkpoint. A run that
    `stopped` when asked (SIGTERM, or a cron tick's time used up) is not an interrupted attempt:
    a large import spread over many ticks must not fail as one that kept dying."""
    await session.rollback()
    changes: dict[str, Any] = {"status": ImportJobStatus.QUEUED, "claimed_by": None}
    if stopped:
        changes["attempts"] = ImportJob.attempts - 1
    await repository.update_claimed_import_job(session, job_id=job.id, owner=owner, **changes)
    await session.commit()


async def _run(
    session: AsyncSession, job: ImportJob, owner: str, stop: asyncio.Event | None
) -> None:
    federation = await federation_service.get_federation_by_id(
        session, federation_id=job.federation_id
    )
    content = await repository.import_job_content(session, job_id=job.id)
    committed = job.rows_done

    async def checkpoint(report: ImportReport) -> None:
        nonlocal committed
        if report.rows - committed < CHECKPOINT_ROWS:
            return
        await _save(session, job, owner, report)
        await session.commit()
        session.expunge_all()
        committed = report.rows
        if stop is not None and stop.is_set():
            raise _Stopping

    report = await importer.import_csv(
        session,
        federation=federation,
        source=io.BytesIO(content),
        mode=CreateMode(job.mode),
        consent_note=job.consent_note,
        method=job.method,
        on_batch=checkpoint,
        resume=job_report(job),
        actor=_actor(job),
    )
    await _save(
        session,
        job,
        owner,
        report,
        status=ImportJobStatus.DONE,
        finished_at=now(),
        content=b"",
        claimed_by=None,
    )
    await session.commit()


async def _save(
    session: AsyncSession,
    job: ImportJob,
    owner: str,
    report: ImportReport,
    **changes: object,
) -> None:
    saved = await repository.update_claimed_import_job(
        session,
        job_id=job.id,
        owner=owner,
        rows_done=report.rows,
        report=report.model_dump(mode="json"),
        heartbeat_at=now(),
        **changes,
    )
    if not saved:
        raise _LostClaim


async def _fail(
    session: AsyncSession, job: ImportJob, owner: str, failure: str, error: str
) -> None:
    """End the job as failed, keeping the report of what was committed, and log it."""
    saved = await repository.update_claimed_import_job(
        session,
        job_id=job.id,
        owner=owner,
        status=ImportJobStatus.FAILED,
        failure=failure,
        error=error,
        finished_at=now(),
        content=b"",
        claimed_by=None,
    )
    if not saved:
        await session.rollback()
        return
    # The report as of the last checkpoint, not as claimed.
    current = await get_import_job(session, federation_id=job.federation_id, job_id=job.id)
    report = job_report(current) or importer.empty_report()
    await audit_service.record(
        session,
        actor=_actor(job),
        action=AuditAction.SUBSCRIBERS_IMPORTED,
        federation_id=job.federation_id,
        target_type="import_job",
        target_id=job.id,
        summary=(
            f"Importen avbröts ({failure}) efter {report.rows} av {job.rows_total} rader: "
            f"{report.created} nya"
        ),
    )
    await session.commit()


def _actor(job: ImportJob) -> Actor:
    return Actor(label=job.actor_label, user_id=job.user_id, api_key_id=job.api_key_id)


async def run_queued(
    *,
    max_seconds: float | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> list[int]:
    """Run queued jobs until none is left (the cron tick's share: `newsletter dispatch` runs
    them after sending). With `max_seconds`, a job still running then stops at its next
    checkpoint and goes back to the queue, for the next tick or a worker to resume. The ids of
    the jobs this call ran."""
    stop = asyncio.Event()
    timer = (
        asyncio.get_running_loop().call_later(max(max_seconds, 0.0), stop.set)
        if max_seconds is not None
        else None
    )
    owner = new_owner()
    ran: list[int] = []
    try:
        while not stop.is_set():
            job_id = await run_next_job(owner=owner, sessionmaker=sessionmaker, stop=stop)
            if job_id is None:
                break
            ran.append(job_id)
    finally:
        if timer is not None:
            timer.cancel()
    return ran


async def run_loop(
    stop: asyncio.Event,
    *,
    interval: float = 2.0,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Run import jobs until stop is set (the worker command and dev mode)."""
    owner = new_owner()
    while not stop.is_set():
        try:
            ran = await run_next_job(owner=owner, sessionmaker=sessionmaker, stop=stop)
        except Exception:
            log.exception("import worker failed; retrying in %s s", interval)
            ran = None
        if ran is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

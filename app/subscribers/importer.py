"""CSV import of subscribers: streamed, validated per row, written in set-based batches.

A file is read once, row by row; every BATCH_SIZE valid rows cost a fixed number of
statements whatever the batch holds (on PostgreSQL one for the subscribers, their tokens and
consent records, and one for the confirmation mails of a pending import; see
repository.import_batch).
The next batch is read while one is written (_Writer). Memory stays flat: only two batches
and a bounded problem list are kept, plus a set of the addresses seen so far (to report
duplicates within the file)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.addresses import InvalidAddress, NeedsSmtpUtf8, normalize_email
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.models import DeliveryKind
from app.errors import Unprocessable
from app.federations.models import Federation
from app.security import email_hash
from app.subscribers import repository
from app.subscribers.models import NAME_LENGTH, SubscriptionStatus
from app.subscribers.schemas import (
    CreateMode,
    ImportProblem,
    ImportReport,
    ProblemReason,
)

BATCH_SIZE = 1000
# While a batch is being written, the reading lets it take its next step every so many rows.
YIELD_EVERY_ROWS = 50
MAX_PROBLEMS_LISTED = 1000
MAX_ATTRIBUTE_LENGTH = 1000
EMAIL_HEADERS = {"email", "e-mail", "e-post", "epost", "e-postadress", "mail"}
NAME_HEADERS = {"name", "namn"}

ProgressHook = Callable[["ImportReport"], Awaitable[None]]


class ImportFileError(Unprocessable):
    code = "invalid_file"
    default_message = "The file is not a CSV file this import understands."


@dataclass
class _Row:
    line: int
    email: str
    name: str | None
    attributes: dict[str, str]


@dataclass
class _State:
    report: ImportReport
    seen: set[str] = field(default_factory=set)

    def problem(self, line: int, reason: ProblemReason, detail: str | None = None) -> None:
        if reason == "suppressed":
            self.report.suppressed += 1
        else:
            self.report.invalid += 1
        if len(self.report.problems) < MAX_PROBLEMS_LISTED:
            self.report.problems.append(ImportProblem(line=line, reason=reason, detail=detail))


def check_options(mode: CreateMode, consent_note: str | None) -> None:
    """Refuse a confirmed import without a note on where consent was given."""
    if mode is CreateMode.CONFIRMED and not (consent_note or "").strip():
        raise Unprocessable(
            "consent_note is required when importing as confirmed.",
            details=[{"loc": ["body", "consent_note"], "msg": "required with mode confirmed"}],
        )


def count_rows(source: IO[bytes]) -> int:
    """Read the whole file as the import will (encoding, header, CSV syntax) and count its
    data rows; a file the import cannot read is refused here, before it is queued. Rewinds."""
    start = source.tell()
    with _csv_rows(source) as (_layout, rows):
        total = sum(1 for _ in rows)
    source.seek(start)
    return total


async def import_csv(
    session: AsyncSession,
    *,
    federation: Federation,
    source: IO[bytes],
    mode: CreateMode = CreateMode.PENDING,
    consent_note: str | None = None,
    method: str = "csv_import",
    on_batch: ProgressHook | None = None,
    resume: ImportReport | None = None,
    actor: Actor,
) -> ImportReport:
    """Import subscribers from a CSV file with columns email, name and any others (kept as
    attributes). Existing subscribers are left exactly as they are; suppressed (erased)
    addresses are reported and not added; invalid rows are reported by line.

    `resume` (the report at a committed checkpoint) skips the rows it counts, re-reading them
    only to know which addresses the file already had."""
    check_options(mode, consent_note)
    state = _State(report=resume.model_copy(deep=True) if resume is not None else empty_report())
    skip = state.report.rows
    # Rows before the checkpoint go through validation again only to fill `seen`.
    replay = _State(report=empty_report(), seen=state.seen)
    writer = _Writer(session, federation, mode, consent_note, method, state, on_batch)
    try:
        with _csv_rows(source) as (layout, rows):
            # The rows read since the last batch was handed over: counted into the report when
            # their batch is written, so a checkpoint never counts a row that is not.
            parsed = _State(report=empty_report(), seen=state.seen)
            batch: list[_Row] = []
            for line, values in rows:
                if skip:
                    skip -= 1
                    _row(values, line, layout, replay)
                    continue
                parsed.report.rows += 1
                row = _row(values, line, layout, parsed)
                if row is not None:
                    batch.append(row)
                if len(batch) >= BATCH_SIZE:
                    await writer.write(batch, parsed.report)
                    batch, parsed = [], _State(report=empty_report(), seen=state.seen)
                elif parsed.report.rows % YIELD_EVERY_ROWS == 0 and writer.busy():
                    await asyncio.sleep(0)  # the batch being written takes its next step
            await writer.write(batch, parsed.report)
            await writer.wait()
    finally:
        await writer.settle()
    report = state.report
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SUBSCRIBERS_IMPORTED,
        federation_id=federation.id,
        summary=(
            f"{report.rows} rader: {report.created} nya, {report.existing} fanns redan, "
            f"{report.suppressed} spärrade, {report.invalid} ogiltiga ({mode})"
        ),
    )
    return report


def empty_report() -> ImportReport:
    return ImportReport(rows=0, created=0, existing=0, suppressed=0, invalid=0, problems=[])


@dataclass(frozen=True)
class _Layout:
    width: int
    email_col: int
    name_col: int | None
    extra: list[tuple[int, str]]


@contextmanager
def _csv_rows(source: IO[bytes]) -> Iterator[tuple[_Layout, Iterator[tuple[int, list[str]]]]]:
    """The file's column layout and its non-blank rows with their line numbers; decoding and
    CSV errors, also those met while iterating, become ImportFileError."""
    text = io.TextIOWrapper(source, encoding=_encoding(source), newline="", errors="strict")
    try:
        header_line = text.readline()
        if not header_line.strip():
            raise ImportFileError("The file is empty; the first line must name the columns.")
        if "\x00" in header_line:
            # Every other byte of a UTF-16 file (Excel's "Unicode text") is NUL.
            raise ImportFileError(
                "The first line contains NUL characters (U+0000), which CSV text never has; "
                "a file saved as UTF-16 does. Save it as CSV UTF-8."
            )
        # Excel writes ";" in Swedish locales, "," elsewhere, and tab for "Unicode text".
        delimiter = max((",", ";", "\t"), key=header_line.count)
        header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
        email_col = next((i for i, h in enumerate(header) if h in EMAIL_HEADERS), None)
        if email_col is None:
            raise ImportFileError("The first line must name the columns and include email.")
        name_col = next((i for i, h in enumerate(header) if h in NAME_HEADERS), None)
        extra = [(i, h) for i, h in enumerate(header) if i not in (email_col, name_col) and h]
        layout = _Layout(width=len(header), email_col=email_col, name_col=name_col, extra=extra)
        reader = csv.reader(text, delimiter=delimiter)

        def rows() -> Iterator[tuple[int, list[str]]]:
            for values in reader:
                if any(v.strip() for v in values):
                    # The header was line 1; csv counts the lines it has read since.
                    yield reader.line_num + 1, values

        yield layout, rows()
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is neither UTF-8 nor Windows-1252 text ({exc.reason})."
        ) from None
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV: {exc}.") from None
    finally:
        # Leave the caller's file open: TextIOWrapper would close it when collected.
        text.detach()


SNIFF_BYTES = 1 << 16


def _encoding(source: IO[bytes]) -> str:
    """UTF-8 (with or without a byte-order mark) when every byte decodes as UTF-8, else
    Windows-1252, which is what Excel's "CSV (semikolonavgränsad)" writes on Swedish Windows.
    An upload is checked whole (a file that is ASCII for 10 MB can still be Windows-1252 at
    the end) and rewound; a stream that cannot rewind is judged by the bytes it lets us peek."""
    if not source.seekable():
        peek = getattr(source, "peek", None)
        head = peek(SNIFF_BYTES) if peek is not None else b""
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head)
        except UnicodeDecodeError:
            return "cp1252"
        return "utf-8-sig"
    start = source.tell()
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := source.read(SNIFF_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"
    source.seek(start)
    return encoding


def _row(values: list[str], line: int, layout: _Layout, state: _State) -> _Row | None:
    width, email_col, name_col = layout.width, layout.email_col, layout.name_col
    if len(values) > width and any(v.strip() for v in values[width:]):
        state.problem(line, "malformed_row", f"{len(values)} fields, the header has {width}")
        return None
    if "\x00" in "".join(values):
        # PostgreSQL text cannot hold NUL; this row is refused alone, not the whole file.
        state.problem(line, "malformed_row", "a NUL character (U+0000)")
        return None
    values = values + [""] * (width - len(values))
    raw_email = values[email_col].strip()
    if not raw_email:
        state.problem(line, "missing_email")
        return None
    try:
        email = normalize_email(raw_email)
    except NeedsSmtpUtf8:
        state.problem(line, "non_ascii_local_part")
        return None
    except InvalidAddress:
        state.problem(line, "invalid_email")
        return None
    key = email.lower()
    if key in state.seen:
        state.problem(line, "duplicate_in_file")
        return None
    name = values[name_col].strip() if name_col is not None else ""
    if len(name) > NAME_LENGTH:
        state.problem(line, "too_long", "name")
        return None
    attributes = {h: values[i].strip() for i, h in layout.extra if values[i].strip()}
    if any(len(v) > MAX_ATTRIBUTE_LENGTH for v in attributes.values()):
        state.problem(line, "too_long", "attribute")
        return None
    state.seen.add(key)
    return _Row(line=line, email=email, name=name or None, attributes=attributes)


class _Writer:
    """Writes batches one at a time, in order, while the caller reads the next one: the
    database works on batch n while Python validates the rows of batch n+1 (they took turns
    before, and their times added up). A batch's read rows go into the report just before it
    is written, and the progress hook runs after it, so checkpoints count exactly the rows
    that are written."""

    def __init__(
        self,
        session: AsyncSession,
        federation: Federation,
        mode: CreateMode,
        consent_note: str | None,
        method: str,
        state: _State,
        on_batch: ProgressHook | None,
    ) -> None:
        self._write = partial(_write_batch, session, federation, mode, consent_note, method)
        self._state = state
        self._on_batch = on_batch
        self._task: asyncio.Task[None] | None = None

    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def write(self, batch: list[_Row], parsed: ImportReport) -> None:
        """Wait for the batch before (its error is raised here), then start this one."""
        await self.wait()
        self._task = asyncio.create_task(self._batch(batch, parsed))

    async def wait(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def settle(self) -> None:
        """After an error: let a batch under way end before the session is touched again."""
        if self._task is not None:
            task, self._task = self._task, None
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # the caller's error is the one raised; this one is retrieved

    async def _batch(self, batch: list[_Row], parsed: ImportReport) -> None:
        _add_read_rows(self._state.report, parsed)
        if batch:
            await self._write(batch, self._state)
        if self._on_batch is not None:
            await self._on_batch(self._state.report)


def _add_read_rows(report: ImportReport, parsed: ImportReport) -> None:
    report.rows += parsed.rows
    report.invalid += parsed.invalid
    room = MAX_PROBLEMS_LISTED - len(report.problems)
    report.problems.extend(parsed.problems[: max(room, 0)])


async def _write_batch(
    session: AsyncSession,
    federation: Federation,
    mode: CreateMode,
    consent_note: str | None,
    method: str,
    batch: list[_Row],
    state: _State,
) -> None:
    fid = federation.id
    current = now()
    confirmed = mode is CreateMode.CONFIRMED
    outcome = await repository.import_batch(
        session,
        federation_id=fid,
        rows=[
            repository.ImportRow(
                email=r.email,
                name=r.name,
                attributes=r.attributes,
                email_hash=email_hash(fid, r.email),
            )
            for r in batch
        ],
        options=repository.ImportOptions(
            status=SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING,
            at=current,
            method=method,
            note=consent_note,
            confirm_expires_at=None
            if confirmed
            else current + timedelta(days=get_settings().confirmation_token_days),
        ),
    )
    for i in outcome.suppressed:
        state.problem(batch[i].line, "suppressed")
    state.report.created += outcome.created
    state.report.existing += len(batch) - outcome.created - len(outcome.suppressed)
    if outcome.confirm_tokens:
        await delivery_service.enqueue_transactional_bulk(
            session,
            federation_id=fid,
            kind=DeliveryKind.CONFIRMATION,
            tokens=outcome.confirm_tokens,
            at=current,
        )

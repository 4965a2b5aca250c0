"""CSV export of a federation's subscribers, streamed in keyset batches."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_sessionmaker
from app.subscribers import repository
from app.subscribers.models import Subscriber
from app.subscribers.schemas import ListFilters

EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "email",
    "name",
    "status",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "attributes",
)


class ExportFormat(StrEnum):
    """`csv`: comma-separated UTF-8. `excel`: what Swedish Excel opens by double-click,
    semicolon-separated UTF-8 with a byte-order mark (without it Excel reads Windows-1252 and
    å, ä, ö turn into mojibake; with a comma it puts every row in one column)."""

    CSV = "csv"
    EXCEL = "excel"


BOM = "\ufeff"


def _cell(value: str) -> str:
    # A name such as "=HYPERLINK(...)" from the public form must not become a formula when
    # staff open the export in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_line(values: Sequence[str], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(
        [_cell(v) for v in values]
    )
    return buffer.getvalue()


async def export_csv(
    session: AsyncSession,
    *,
    federation_id: int,
    format: ExportFormat = ExportFormat.CSV,
    filters: ListFilters | None = None,
) -> AsyncIterator[str]:
    """The federation's subscribers (those the filters select, the same as the list's) as CSV
    lines, read in keyset batches so memory stays flat however large the list is. Each batch
    uses a short session of its own: the response is streamed after the request's session has
    finished. The first batch is read here, in the request's own session and before the
    response starts, so a filter the database refuses (a NUL in the search text) is the
    caller's error answer (422), not a stream broken after its 200. (A session of its own
    here would wait for the request's SQLite write lock.)"""
    chosen = filters or ListFilters()
    first = await _batch(session, federation_id, chosen, after_id=0)
    return _lines(federation_id, chosen, format, first)


async def _batch(
    session: AsyncSession, federation_id: int, filters: ListFilters, *, after_id: int
) -> list[Subscriber]:
    return list(
        await repository.export_batch(
            session,
            federation_id=federation_id,
            filters=filters,
            after_id=after_id,
            limit=EXPORT_BATCH,
        )
    )


async def _lines(
    federation_id: int, filters: ListFilters, format: ExportFormat, batch: list[Subscriber]
) -> AsyncIterator[str]:
    delimiter = ";" if format is ExportFormat.EXCEL else ","
    yield (BOM if format is ExportFormat.EXCEL else "") + _csv_line(EXPORT_COLUMNS, delimiter)
    while batch:
        chunk = []
        for s in batch:
            chunk.append(
                _csv_line(
                    [
                        s.email,
                        s.name or "",
                        str(s.status),
                        s.created_at.isoformat(),
                        s.confirmed_at.isoformat() if s.confirmed_at else "",
                        s.unsubscribed_at.isoformat() if s.unsubscribed_at else "",
                        json.dumps(s.attributes or {}, ensure_ascii=False) if s.attributes else "",
                    ],
                    delimiter,
                )
            )
        yield "".join(chunk)
        async with get_sessionmaker()() as session:
            batch = await _batch(session, federation_id, filters, after_id=batch[-1].id)

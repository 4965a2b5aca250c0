"""one subscriber per mailbox: subscribers.email_key, unique per federation

Revision ID: 0011_subscribers_unique_mailbox
Revises: 0010_staff
Create Date: 2026-11-26 14:50:00

Existing case variants of one address are merged first: the row with the earliest sign-up
keeps its id (its consent is the earliest); the others' consent records, tokens (links in old
mails keep working) and deliveries move to it. The merged row takes the latest decision: if
the newest event in the group is an unsubscribe it stays unsubscribed, otherwise it is
confirmed when any variant was (keeping the earliest confirmation time); the worst bounce
state wins.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_subscribers_unique_mailbox"
down_revision: str | None = "0010_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOUNCE_RANK = {"ok": 0, "soft": 1, "hard": 2}


def upgrade() -> None:
    # No batch mode: it rebuilds the table, and with foreign keys on that cascades to tokens
    # and consent records. A new column and a unique index need no rebuild on SQLite.
    op.add_column("subscribers", sa.Column("email_key", sa.String(254), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, email FROM subscribers")).all()
    if rows:
        # Python's lower(), as the application computes it (SQLite's lower() is ASCII-only).
        conn.execute(
            sa.text("UPDATE subscribers SET email_key = :key WHERE id = :id"),
            [{"key": email.lower(), "id": id_} for id_, email in rows],
        )
    _merge_duplicates(conn)
    op.create_index(
        "uq_subscribers_federation_id_email_key",
        "subscribers",
        ["federation_id", "email_key"],
        unique=True,
    )


def _merge_duplicates(conn: Any) -> None:
    groups = conn.execute(
        sa.text(
            "SELECT federation_id, email_key FROM subscribers "
            "GROUP BY federation_id, email_key HAVING COUNT(*) > 1"
        )
    ).all()
    for federation_id, key in groups:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT id, status, created_at, confirmed_at, unsubscribed_at, bounce_state, "
                    "bounce_count FROM subscribers WHERE federation_id = :f AND email_key = :k "
                    "ORDER BY created_at, id"
                ),
                {"f": federation_id, "k": key},
            )
            .mappings()
            .all()
        )
        keeper, others = rows[0], rows[1:]
        _merge_into(conn, keeper, rows)
        for other in others:
            for table in ("consent_records", "tokens"):
                conn.execute(
                    sa.text(f"UPDATE {table} SET subscriber_id = :keep WHERE subscriber_id = :old"),
                    {"keep": keeper["id"], "old": other["id"]},
                )
            # A campaign both variants received keeps the keeper's delivery; the other's
            # history stays, unlinked, as erasure leaves it.
            conn.execute(
                sa.text(
                    "UPDATE deliveries SET subscriber_id = :keep WHERE subscriber_id = :old "
                    "AND (campaign_id IS NULL OR campaign_id NOT IN "
                    "(SELECT campaign_id FROM deliveries WHERE subscriber_id = :keep "
                    "AND campaign_id IS NOT NULL))"
                ),
                {"keep": keeper["id"], "old": other["id"]},
            )
            conn.execute(
                sa.text("UPDATE deliveries SET subscriber_id = NULL WHERE subscriber_id = :old"),
                {"old": other["id"]},
            )
            conn.execute(sa.text("DELETE FROM subscribers WHERE id = :old"), {"old": other["id"]})


def _latest(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present, key=_comparable) if present else None


def _comparable(value: Any) -> str:
    # SQLite returns timestamps as text, PostgreSQL as datetimes; both sort as ISO text.
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _merge_into(conn: Any, keeper: Any, rows: Sequence[Any]) -> None:
    last_unsubscribe = _latest([r["unsubscribed_at"] for r in rows])
    last_confirm = _latest([r["confirmed_at"] for r in rows])
    confirmations = [r["confirmed_at"] for r in rows if r["confirmed_at"] is not None]
    first_confirm = min(confirmations, key=_comparable) if confirmations else None
    if last_unsubscribe is not None and (
        last_confirm is None or _comparable(last_unsubscribe) >= _comparable(last_confirm)
    ):
        status = "unsubscribed"
    elif first_confirm is not None:
        status = "confirmed"
    else:
        status = keeper["status"]
    bounce = max((r["bounce_state"] for r in rows), key=lambda s: BOUNCE_RANK.get(s, 0))
    conn.execute(
        sa.text(
            "UPDATE subscribers SET status = :status, confirmed_at = :confirmed, "
            "unsubscribed_at = :unsubscribed, bounce_state = :bounce, bounce_count = :count "
            "WHERE id = :id"
        ),
        {
            "status": status,
            "confirmed": first_confirm,
            "unsubscribed": last_unsubscribe if status == "unsubscribed" else None,
            "bounce": bounce,
            "count": max(r["bounce_count"] for r in rows),
            "id": keeper["id"],
        },
    )


def downgrade() -> None:
    # Merged rows stay merged: the variants they replaced are gone.
    op.drop_index("uq_subscribers_federation_id_email_key", table_name="subscribers")
    op.drop_column("subscribers", "email_key")

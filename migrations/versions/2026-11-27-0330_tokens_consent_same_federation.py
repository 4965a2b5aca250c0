"""tokens and consent records point at (federation, subscriber): one key, one check

Revision ID: e4b8d2c6a913
Revises: d1e6a3b8c540
Create Date: 2026-11-27 03:30:00

Each token and consent record had two foreign keys, federations(id) and subscribers(id), so a
row could name a subscriber of another federation, and every insert paid two checks (an
import of 200,000 rows: 400,000 of them for its consent records and tokens). Now one
composite key, (federation_id, subscriber_id) → subscribers(federation_id, id), which also
keeps the federation: the subscriber's own key does.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e4b8d2c6a913"
down_revision: str | None = "d1e6a3b8c540"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("tokens", "consent_records")


def _deliveries_subscriber_key_last() -> None:
    """PostgreSQL runs a deleted subscriber's foreign-key actions in the order the keys were
    made. Deliveries lose their subscriber (SET NULL) after the subscriber's tokens are gone
    (CASCADE, which first clears the deliveries' token): in the other order, a delivery made in
    the erasing transaction fails the check of a token deleted a moment later. Made again here,
    the deliveries' key is the newest, as it was before the tokens' key was replaced."""
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite applies each action row by row as it goes
    name = "fk_deliveries_subscriber_id_subscribers"
    op.drop_constraint(name, "deliveries", type_="foreignkey")
    op.create_foreign_key(
        name, "deliveries", "subscribers", ["subscriber_id"], ["id"], ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_index(
        "uq_subscribers_federation_id_id", "subscribers", ["federation_id", "id"], unique=True
    )
    for table in TABLES:
        # A row whose federation differs from its subscriber's would refuse the new key; the
        # subscriber's federation is the true one (none is known to exist).
        op.execute(
            f"UPDATE {table} SET federation_id = (SELECT s.federation_id FROM subscribers s "
            f"WHERE s.id = {table}.subscriber_id) WHERE federation_id <> (SELECT "
            f"s.federation_id FROM subscribers s WHERE s.id = {table}.subscriber_id)"
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_federation_id_federations", type_="foreignkey")
            batch_op.drop_constraint(f"fk_{table}_subscriber_id_subscribers", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_federation_id_subscribers",
                "subscribers",
                ["federation_id", "subscriber_id"],
                ["federation_id", "id"],
                ondelete="CASCADE",
            )
    _deliveries_subscriber_key_last()


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_federation_id_subscribers", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_federation_id_federations",
                "federations",
                ["federation_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_foreign_key(
                f"fk_{table}_subscriber_id_subscribers",
                "subscribers",
                ["subscriber_id"],
                ["id"],
                ondelete="CASCADE",
            )
    _deliveries_subscriber_key_last()
    op.drop_index("uq_subscribers_federation_id_id", table_name="subscribers")

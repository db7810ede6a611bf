"""Durable inbox, outbox of replies, process heartbeats, per-user turn sequence.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("turn_seq", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "inbox_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(160), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("user_key", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("error", sa.String(200), nullable=False, server_default=""),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("handled_at", TS, nullable=True),
        sa.UniqueConstraint("channel", "event_id", name="uq_inbox_channel_event"),
    )
    op.create_index("ix_inbox_pending", "inbox_events", ["status", "user_key", "id"])
    op.create_index("ix_inbox_received", "inbox_events", ["received_at"])
    op.create_table(
        "outbox_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="reply"),
        sa.Column("reply_to", sa.String(160), nullable=False, server_default=""),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("error", sa.String(200), nullable=False, server_default=""),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("ref", sa.String(64), nullable=False, server_default=""),
        sa.Column("tag", sa.String(32), nullable=False, server_default=""),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
    )
    op.create_index("ix_outbox_due", "outbox_messages", ["status", "next_attempt_at", "priority", "id"])
    op.create_index("ix_outbox_person", "outbox_messages", ["channel", "external_id", "status"])
    op.create_index("ix_outbox_ref", "outbox_messages", ["ref"])
    op.create_table(
        "processes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("processes")
    for index in ("ix_outbox_due", "ix_outbox_person", "ix_outbox_ref"):
        op.drop_index(index, table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index("ix_inbox_received", table_name="inbox_events")
    op.drop_index("ix_inbox_pending", table_name="inbox_events")
    op.drop_table("inbox_events")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("turn_seq")

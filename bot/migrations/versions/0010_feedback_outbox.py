"""The feedback feature's own outbox is merged into the core's one outbound pipeline.

Messages still owed to citizens (`feedback_outbox` rows with status "pending") become `outbox_messages`
rows (kind status_change, ref ``feedback:<report id>``, replies in the codec's JSON) and are sent by the
outbox's run loop; then `feedback_outbox` is dropped. Sent, failed and blocked rows were history only
and go with the table. Downgrade recreates the table empty (what the outbox holds stays there).

Revision ID: 0010
Revises: 0009
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.codec import reply_to_dict
from core.storage.models import UTCDateTime
from core.types import Button, Reply

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
STATUS_CHANGE_PRIORITY = 10  # core.outbox.PRIORITY[MessageKind.STATUS_CHANGE] when this revision was written

old = sa.table(
    "feedback_outbox", sa.column("id", BigId), sa.column("report_id", BigId), sa.column("channel", sa.String),
    sa.column("external_id", sa.String), sa.column("replies", sa.JSON), sa.column("status", sa.String),
    sa.column("attempts", sa.Integer), sa.column("next_attempt_at", UTCDateTime),
    sa.column("created_at", UTCDateTime),
)
new = sa.table(
    "outbox_messages", sa.column("channel", sa.String), sa.column("external_id", sa.String),
    sa.column("kind", sa.String), sa.column("reply_to", sa.String), sa.column("replies", sa.JSON),
    sa.column("status", sa.String), sa.column("attempts", sa.Integer), sa.column("claimed_by", sa.String),
    sa.column("error", sa.String), sa.column("reason", sa.String), sa.column("ref", sa.String),
    sa.column("tag", sa.String), sa.column("priority", sa.Integer), sa.column("next_attempt_at", UTCDateTime),
    sa.column("created_at", UTCDateTime),
)


def convert(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The old feature's JSON ({"text", "buttons": [[{"label", "payload"}]]}) in the codec's form."""
    return [reply_to_dict(Reply(
        text=r.get("text", ""),
        buttons=[[Button(b["label"], payload=b["payload"]) for b in row] for row in r.get("buttons") or []],
    )) for r in replies or []]


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(old).where(old.c.status == "pending").order_by(old.c.id)).all()
    for row in rows:
        conn.execute(new.insert().values(
            channel=row.channel, external_id=row.external_id, kind="status_change", reply_to="",
            replies=convert(row.replies), status="pending", attempts=row.attempts, claimed_by=None, error="",
            reason="", ref=f"feedback:{row.report_id}", tag="", priority=STATUS_CHANGE_PRIORITY,
            next_attempt_at=row.next_attempt_at, created_at=row.created_at,
        ))
    op.drop_index("ix_feedback_outbox_report", table_name="feedback_outbox")
    op.drop_index("ix_feedback_outbox_due", table_name="feedback_outbox")
    op.drop_table("feedback_outbox")


def downgrade() -> None:
    op.create_table(
        "feedback_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("report_id", BigId, sa.ForeignKey("feedback_reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", BigId, sa.ForeignKey("feedback_events.id", ondelete="SET NULL"), nullable=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
    )
    op.create_index("ix_feedback_outbox_due", "feedback_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_feedback_outbox_report", "feedback_outbox", ["report_id"])

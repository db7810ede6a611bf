"""Bulletin: subscribers and topics, bulletins, deliveries (one row per bulletin × subscriber),
worker heartbeats and shared channel pauses.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulletin_subscribers",
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("subscribed_at", TS, nullable=False),
        sa.Column("unsubscribed_at", TS, nullable=True),
        sa.Column("unsubscribe_reason", sa.String(32), nullable=False, server_default=""),
    )
    op.create_table(
        "bulletin_subscriber_topics",
        sa.Column("user_id", BigId, sa.ForeignKey("bulletin_subscribers.user_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
    )
    op.create_index("ix_bulletin_subscriber_topics_topic", "bulletin_subscriber_topics", ["topic", "user_id"])
    op.create_table(
        "bulletins",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(128), nullable=True, unique=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("image_url", sa.String(1000), nullable=False, server_default=""),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("scheduled_at", TS, nullable=True),
        sa.Column("held_at", TS, nullable=True),
        sa.Column("confirmed_by", sa.String(128), nullable=False, server_default=""),
        sa.Column("source", sa.String(16), nullable=False, server_default="dashboard"),
        sa.Column("source_path", sa.String(500), nullable=False, server_default=""),
        sa.Column("content_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("paused_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("audience", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_bulletins_status_scheduled", "bulletins", ["status", "scheduled_at"])
    op.create_table(
        "bulletin_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bulletin_id", BigId, sa.ForeignKey("bulletins.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("claim_token", sa.String(40), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(300), nullable=False, server_default=""),
        sa.Column("sent_at", TS, nullable=True),
        sa.UniqueConstraint("bulletin_id", "user_id", name="uq_bulletin_deliveries_bulletin_user"),
    )
    op.create_index("ix_bulletin_deliveries_claim", "bulletin_deliveries", ["bulletin_id", "channel", "status", "id"])
    op.create_index("ix_bulletin_deliveries_stale", "bulletin_deliveries", ["status", "claimed_at"])
    op.create_table(
        "bulletin_workers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("host", sa.String(128), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    op.create_table(
        "bulletin_channel_pauses",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("paused_until", TS, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("bulletin_channel_pauses")
    op.drop_table("bulletin_workers")
    op.drop_table("bulletin_deliveries")
    op.drop_table("bulletins")
    op.drop_table("bulletin_subscriber_topics")
    op.drop_table("bulletin_subscribers")

"""Feedback: reports, attachments, history events, notification outbox, audit log.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback_reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("draft_id", sa.String(32), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False, server_default=""),
        sa.Column("category_id", sa.String(64), nullable=False),
        sa.Column("commune_id", sa.String(64), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("routing_rule", sa.String(128), nullable=False, server_default=""),
        sa.Column("routing_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("contact_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("consent_version", sa.String(32), nullable=True),
        sa.Column("consent_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("duplicate_of_id", BigId, sa.ForeignKey("feedback_reports.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("deadline_at", TS, nullable=False),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("rated_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("code", name="uq_feedback_reports_code"),
        sa.UniqueConstraint("user_id", "draft_id", name="uq_feedback_reports_draft"),
    )
    op.create_index("ix_feedback_reports_agency_status_deadline", "feedback_reports",
                    ["agency_id", "status", "deadline_at", "id"])
    op.create_index("ix_feedback_reports_status_deadline", "feedback_reports", ["status", "deadline_at", "id"])
    op.create_index("ix_feedback_reports_deadline", "feedback_reports", ["deadline_at", "id"])
    op.create_index("ix_feedback_reports_category", "feedback_reports", ["category_id", "status"])
    op.create_index("ix_feedback_reports_commune", "feedback_reports", ["commune_id", "status"])
    op.create_index("ix_feedback_reports_user", "feedback_reports", ["user_id", "created_at"])
    op.create_index("ix_feedback_reports_created", "feedback_reports", ["created_at"])

    op.create_table(
        "feedback_attachments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("report_id", BigId, sa.ForeignKey("feedback_reports.id", ondelete="CASCADE"), nullable=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("draft_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_id", sa.String(512), nullable=False),
        sa.Column("file_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("mime_type", sa.String(128), nullable=False, server_default=""),
        sa.Column("size", BigId, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_feedback_attachments_report", "feedback_attachments", ["report_id", "id"])
    op.create_index("ix_feedback_attachments_draft", "feedback_attachments", ["user_id", "draft_id"])

    op.create_table(
        "feedback_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("report_id", BigId, sa.ForeignKey("feedback_reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False, server_default="system"),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("actor_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("actor_agency", sa.String(64), nullable=False, server_default=""),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("from_agency", sa.String(64), nullable=True),
        sa.Column("to_agency", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_feedback_events_report", "feedback_events", ["report_id", "id"])

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

    op.create_table(
        "feedback_audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("report_id", BigId, sa.ForeignKey("feedback_reports.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("actor_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("actor_agency", sa.String(64), nullable=False, server_default=""),
        sa.Column("actor_role", sa.String(16), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_feedback_audit_report", "feedback_audit", ["report_id", "id"])
    op.create_index("ix_feedback_audit_created", "feedback_audit", ["created_at"])
    op.create_index("ix_feedback_audit_actor", "feedback_audit", ["actor_id", "created_at"])


def downgrade() -> None:
    op.drop_table("feedback_audit")
    op.drop_table("feedback_outbox")
    op.drop_table("feedback_events")
    op.drop_table("feedback_attachments")
    op.drop_table("feedback_reports")

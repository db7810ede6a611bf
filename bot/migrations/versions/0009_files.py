"""Attachments belong to the bot: feedback attachments keep the file store key (SHA-256 of the bytes).

Rows written before this revision have no hash (only the platform's file id): the dashboard lists them
as not stored.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_attachments") as batch:
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
    op.create_index("ix_feedback_attachments_sha256", "feedback_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_feedback_attachments_sha256", table_name="feedback_attachments")
    with op.batch_alter_table("feedback_attachments") as batch:
        batch.drop_column("sha256")

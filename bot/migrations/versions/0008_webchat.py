"""Web chat: visitors' message history and uploads.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webchat_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("reply_to", sa.String(64), nullable=False, server_default=""),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("visitor_id", "client_id", name="uq_webchat_messages_client"),
    )
    op.create_index("ix_webchat_messages_visitor", "webchat_messages", ["visitor_id", "id"])
    op.create_table(
        "webchat_uploads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime_type", sa.String(128), nullable=False),
        sa.Column("file_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_webchat_uploads_created", "webchat_uploads", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_webchat_uploads_created", table_name="webchat_uploads")
    op.drop_table("webchat_uploads")
    op.drop_index("ix_webchat_messages_visitor", table_name="webchat_messages")
    op.drop_table("webchat_messages")

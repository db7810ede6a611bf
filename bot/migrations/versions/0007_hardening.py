"""Hardening (issue 9): server-side dashboard sessions, so logout, deactivation and password changes end them.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "official_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("official_id", BigId, sa.ForeignKey("officials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
    )
    op.create_index("ix_official_sessions_official_id", "official_sessions", ["official_id"])


def downgrade() -> None:
    op.drop_index("ix_official_sessions_official_id", table_name="official_sessions")
    op.drop_table("official_sessions")

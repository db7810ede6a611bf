"""Hardening (issue 9): server-side dashboard sessions, so logout, deactivation and password changes end them.

Revision ID: 0007
Revises: 0006

MERGE NOTE: the lead adds 0005 (inbox/outbox) and another helper 0006 (Zalo tokens). This branch does not
have them yet, so `down_revision` is temporarily "0004"; it must become "0006" when the branches merge.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"  # → "0006" at merge (see the note above)
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

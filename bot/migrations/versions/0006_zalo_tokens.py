"""Zalo OA tokens (access + single-use rotating refresh token), one row per app id.

Revision ID: 0006
Revises: 0005

NOTE: the lead adds 0005 (the inbox) at the same time, in another branch. Until both are merged this
file falls back to 0004 when no 0005 revision file exists beside it, so the chain stays linear either
way; once 0005 is merged, replace the expression below by ``down_revision = "0005"``.
"""
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005" if any(Path(__file__).parent.glob("0005_*.py")) else "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "zalo_tokens",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("access_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("refresh_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("access_expires_at", TS, nullable=False),
        sa.Column("refresh_expires_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_table("zalo_tokens")

"""The bulletin on the core's outbound pipeline: a delivery claim names the process that holds it (its
``processes`` heartbeat decides when others take the claim over), so the bulletin's own worker table goes.
Delivery statuses ``deferred`` and ``queued`` need no schema change (plain strings).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("bulletin_deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
    op.drop_table("bulletin_workers")


def downgrade() -> None:
    op.create_table(
        "bulletin_workers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("host", sa.String(128), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    with op.batch_alter_table("bulletin_deliveries") as batch:
        batch.drop_column("claimed_by")

"""Each interaction-log row names the user's turn it belongs to (issue 15: the FAQ's rating buttons refer to
"the answer of turn N" instead of a row id, so the log row is written in the turn's one closing transaction),
and the per-user look-ups (rate limit over the last minute, a rating) use an index on the user.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("turn_seq", sa.Integer(), nullable=True))
    op.create_index("ix_interactions_user_created", "interactions", ["user_id", "created_at"])
    op.create_index("ix_interactions_user_turn", "interactions", ["user_id", "turn_seq"])


def downgrade() -> None:
    op.drop_index("ix_interactions_user_turn", table_name="interactions")
    op.drop_index("ix_interactions_user_created", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("turn_seq")

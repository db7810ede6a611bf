"""FAQ learning: what officials taught the FAQ from citizens' unanswered questions (features/faq/models.py).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_learned",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("source", sa.String(512), nullable=False, server_default=""),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(256), nullable=False, server_default=""),
        sa.Column("group_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("exported_at", TS, nullable=True),
        sa.CheckConstraint("kind IN ('variant', 'topic')", name="ck_faq_learned_kind"),
    )
    op.create_index("ix_faq_learned_source", "faq_learned", ["source"])


def downgrade() -> None:
    op.drop_index("ix_faq_learned_source", table_name="faq_learned")
    op.drop_table("faq_learned")

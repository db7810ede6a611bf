"""FAQ learning: what officials taught the FAQ from citizens' unanswered questions (features/faq/models.py).

NOTE for the merge: written on branch `faqlearn` on top of 0009; other branches add 0010-0012 in parallel.
The lead sets `down_revision` to the newest revision of the merged chain (this table depends on none of
theirs, so only the ordering changes).

Revision ID: 0013
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
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

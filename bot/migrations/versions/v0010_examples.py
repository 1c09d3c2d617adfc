"""Topics by example: example papers per topic, a "more / fewer" level, stored paper terms.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `topicexample` and `papervector`; topics already there start at level 0."""
    op.add_column(
        "subscription",
        sa.Column("similarity_level", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "topicexample",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("liked", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscription.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_id"], ["paper.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscription_id", "paper_id"),
    )
    op.create_index("ix_topicexample_paper_id", "topicexample", ["paper_id"], unique=False)
    op.create_table(
        "papervector",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("text_hash", sa.String(), nullable=False),
        sa.Column("terms", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["paper.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id"),
    )


def downgrade() -> None:
    """Drop the tables and the level."""
    op.drop_table("papervector")
    op.drop_index("ix_topicexample_paper_id", table_name="topicexample")
    op.drop_table("topicexample")
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("similarity_level")

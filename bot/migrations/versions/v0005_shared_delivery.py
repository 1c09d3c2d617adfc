"""Delivery shared by several workers: rounds, and per-subscriber claims.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `deliveryround` and `deliveryclaim`."""
    op.create_table(
        "deliveryround",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("only", sa.String(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deliveryclaim",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["deliveryround.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id"),
    )
    op.create_index("ix_deliveryclaim_round_id", "deliveryclaim", ["round_id"], unique=False)


def downgrade() -> None:
    """Drop the claims and the rounds."""
    op.drop_index("ix_deliveryclaim_round_id", table_name="deliveryclaim")
    op.drop_table("deliveryclaim")
    op.drop_table("deliveryround")

"""Confirmation emails counted per address and UTC day, to cap them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `confirmationcount`, one row per address hash and day."""
    op.create_table(
        "confirmationcount",
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "day"),
    )


def downgrade() -> None:
    """Drop the counts."""
    op.drop_table("confirmationcount")

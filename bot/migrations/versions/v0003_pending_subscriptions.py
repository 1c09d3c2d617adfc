"""Subscriptions asked for on the web, waiting for their address to be confirmed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `pendingsubscription`, found by the address's case-folded key."""
    op.create_table(
        "pendingsubscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("email_key", sa.String(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_pendingsubscription_email_key", "pendingsubscription", ["email_key"], unique=False
    )


def downgrade() -> None:
    """Drop the pending requests."""
    op.drop_index("ix_pendingsubscription_email_key", table_name="pendingsubscription")
    op.drop_table("pendingsubscription")

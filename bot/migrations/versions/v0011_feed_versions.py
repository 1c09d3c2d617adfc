"""A feed version per subscriber, which every feed address names, to retire old addresses.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `subscriber.feed_version`; subscribers already there start at 0."""
    op.add_column(
        "subscriber",
        sa.Column("feed_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop the version (feed addresses made since no longer work)."""
    # A plain DROP COLUMN (SQLite 3.35 and later), not a batch copy of the table: with
    # foreign keys on, dropping the old `subscriber` table would delete every
    # subscriber's topics through their ON DELETE CASCADE.
    op.drop_column("subscriber", "feed_version")

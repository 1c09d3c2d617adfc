"""Topics follow authors, organisations and categories, and may ask for trending papers.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_LISTS = (
    "authors",
    "organisations",
    "categories",
    "exclude_authors",
    "exclude_organisations",
    "exclude_categories",
)
_NUMBERS = ("min_upvotes", "top")


def upgrade() -> None:
    """Add the columns: empty lists and NULL (no trending switch) in the topics already there."""
    # The default fills the rows already there, so the model declares it too.
    for name in _LISTS:
        op.add_column(
            "subscription", sa.Column(name, sa.JSON(), nullable=False, server_default="[]")
        )
    for name in _NUMBERS:
        op.add_column("subscription", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("subscription") as batch:
        for name in reversed(_NUMBERS):
            batch.drop_column(name)
        for name in reversed(_LISTS):
            batch.drop_column(name)

"""Papers keep what Hugging Face's daily papers list says of them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = (
    ("hf_url", sa.String()),
    ("list_day", sa.Date()),
    ("github_stars", sa.Integer()),
    ("comments", sa.Integer()),
    ("ai_summary", sa.String()),
    ("organization_name", sa.String()),
)


def upgrade() -> None:
    """Add the columns: NULL in the rows already there, and an empty `ai_keywords` list."""
    for name, kind in _COLUMNS:
        op.add_column("paper", sa.Column(name, kind, nullable=True))
    # The default fills the rows already there (a table rebuild to drop it afterwards
    # would trip SQLite's foreign keys), so the model declares it too.
    op.add_column("paper", sa.Column("ai_keywords", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("paper") as batch:
        batch.drop_column("ai_keywords")
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)

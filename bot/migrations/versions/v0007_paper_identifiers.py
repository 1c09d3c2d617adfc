"""Papers keep a DOI and a feed entry's key, so items whose titles repeat stay apart.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `paper.doi` and `paper.entry_key`, both indexed; NULL in the rows already there."""
    op.add_column("paper", sa.Column("doi", sa.String(), nullable=True))
    op.add_column("paper", sa.Column("entry_key", sa.String(), nullable=True))
    op.create_index("ix_paper_doi", "paper", ["doi"], unique=False)
    op.create_index("ix_paper_entry_key", "paper", ["entry_key"], unique=False)


def downgrade() -> None:
    """Drop the two columns."""
    op.drop_index("ix_paper_entry_key", table_name="paper")
    op.drop_index("ix_paper_doi", table_name="paper")
    with op.batch_alter_table("paper") as batch:
        batch.drop_column("entry_key")
        batch.drop_column("doi")

"""Papers are indexed by their first sighting, which every window of recent papers reads.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Index `paper.first_seen_at`: a digest's window, the web's recent papers, the newest few."""
    op.create_index("ix_paper_first_seen_at", "paper", ["first_seen_at"], unique=False)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_paper_first_seen_at", table_name="paper")

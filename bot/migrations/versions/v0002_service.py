"""The service: subscribers' own time zones, scheduled jobs' states, the service's heartbeat.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `subscriber.timezone` (NULL: the configured zone) and the service's two tables."""
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(sa.Column("timezone", sa.String(), nullable=True))
    op.create_table(
        "jobstate",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("last_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "heartbeat",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Drop the service's tables and the time zones."""
    op.drop_table("heartbeat")
    op.drop_table("jobstate")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("timezone")

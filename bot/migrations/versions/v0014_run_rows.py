"""Run rows: a run's details one row each, instead of one JSON value on the run.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `runrow`. Runs recorded before keep their details in `run.details`."""
    op.create_table(
        "runrow",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "number"),
    )


def downgrade() -> None:
    """Put each run's rows back into its `details`, in order, then drop `runrow`."""
    bind = op.get_bind()
    run = sa.table("run", sa.column("id", sa.Integer()), sa.column("details", sa.JSON()))
    row = sa.table(
        "runrow",
        sa.column("run_id", sa.Integer()),
        sa.column("number", sa.Integer()),
        sa.column("detail", sa.JSON()),
    )
    for run_id in bind.scalars(sa.select(row.c.run_id).distinct()).all():
        details = bind.scalars(
            sa.select(row.c.detail).where(row.c.run_id == run_id).order_by(row.c.number)
        ).all()
        bind.execute(sa.update(run).where(run.c.id == run_id).values(details=list(details)))
    op.drop_table("runrow")

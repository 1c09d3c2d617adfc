"""File sizes and modification times as 64-bit integers.

A modification time in nanoseconds (about 1.8e18) does not fit PostgreSQL's
32-bit INTEGER; SQLite's INTEGER was 64-bit all along.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Widen `importedfile.size` and `importedfile.mtime_ns` to BIGINT (PostgreSQL only)."""
    if op.get_bind().dialect.name == "sqlite":
        return  # the same 64-bit storage already; recreating the table would break its references
    with op.batch_alter_table("importedfile") as batch:
        for column in ("size", "mtime_ns"):
            batch.alter_column(
                column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
            )


def downgrade() -> None:
    """Back to INTEGER (values over 2**31 would not fit on PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    with op.batch_alter_table("importedfile") as batch:
        for column in ("size", "mtime_ns"):
            batch.alter_column(
                column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
            )

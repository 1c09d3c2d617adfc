"""Lab channels: chat channels no single subscriber owns, and the topics routed to them.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `channelroute`: which topics deliver to which channel.

    A lab channel's digests are recorded under a recipient row of its own in
    `subscriber` (status "channel"), so the ledger, the claims and the deliveries
    need no new columns.
    """
    op.create_table(
        "channelroute",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscription.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "subscription_id"),
    )
    op.create_index(
        "ix_channelroute_subscription_id", "channelroute", ["subscription_id"], unique=False
    )


def downgrade() -> None:
    """Drop the routes, and the lab channels with their recipients and history.

    The older schema knows no lab channel: its recipient rows would look like
    subscribers to it.
    """
    op.drop_index("ix_channelroute_subscription_id", table_name="channelroute")
    op.drop_table("channelroute")
    labs = "SELECT id FROM subscriber WHERE status = 'channel'"
    for table in ("sentpaper", "delivery", "deliveryclaim", "channel"):
        op.execute(f"DELETE FROM {table} WHERE subscriber_id IN ({labs})")
    op.execute("DELETE FROM subscriber WHERE status = 'channel'")

"""Channels: a subscriber's list of channels instead of a format, chat channels, a ledger per channel.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

# What each format became; "both" is two channels, the Markdown file first as it was written.
_CHANNELS_OF_FORMAT = {
    "email": '["email"]',
    "markdown": '["markdown"]',
    "both": '["markdown", "email"]',
}


def upgrade() -> None:
    """Turn `subscriber.format` into `subscriber.channels`; key the ledger by channel too.

    The ledger rows already stored are the channel that counted: the email for
    "email" and "both", the file for "markdown". For "both", the Markdown file was
    written with every email, so its rows are copied to the file's channel too:
    nothing already delivered is sent again.
    """
    op.add_column(
        "subscriber",
        sa.Column("channels", sa.JSON(), nullable=False, server_default='["email"]'),
    )
    subscriber = sa.table(
        "subscriber", sa.column("format", sa.String()), sa.column("channels", sa.JSON())
    )
    for format, channels in _CHANNELS_OF_FORMAT.items():
        op.execute(
            subscriber.update()
            .where(subscriber.c.format == format)
            .values(channels=sa.literal_column(f"'{channels}'"))
        )
    _new_ledger(["subscriber_id", "channel", "paper_id"])
    op.execute(
        "INSERT INTO sentpaper_new (subscriber_id, channel, paper_id, delivery_id, sent_at)"
        " SELECT sentpaper.subscriber_id,"
        " CASE WHEN subscriber.format = 'markdown' THEN 'markdown' ELSE 'email' END,"
        " sentpaper.paper_id, sentpaper.delivery_id, sentpaper.sent_at"
        " FROM sentpaper JOIN subscriber ON subscriber.id = sentpaper.subscriber_id"
    )
    op.execute(
        "INSERT INTO sentpaper_new (subscriber_id, channel, paper_id, delivery_id, sent_at)"
        " SELECT sentpaper.subscriber_id, 'markdown', sentpaper.paper_id,"
        " sentpaper.delivery_id, sentpaper.sent_at"
        " FROM sentpaper JOIN subscriber ON subscriber.id = sentpaper.subscriber_id"
        " WHERE subscriber.format = 'both'"
    )
    _replace_ledger()
    # A plain DROP COLUMN (SQLite 3.35 and later), not a batch copy of the table: with
    # foreign keys on, dropping the old `subscriber` table would delete every
    # subscriber's topics through their ON DELETE CASCADE.
    op.drop_column("subscriber", "format")
    op.create_table(
        "channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_channel_subscriber_id", "channel", ["subscriber_id"], unique=False)


def _new_ledger(key: list[str]) -> None:
    """Create `sentpaper_new`, the ledger keyed by `key` (with or without the channel)."""
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    ]
    if "channel" in key:
        columns.insert(1, sa.Column("channel", sa.String(), nullable=False))
    op.create_table(
        "sentpaper_new",
        *columns,
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"]),
        sa.ForeignKeyConstraint(["paper_id"], ["paper.id"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
        sa.PrimaryKeyConstraint(*key),
    )


def _replace_ledger() -> None:
    """Put `sentpaper_new` in the old ledger's place.

    A new table rather than a changed key: the same statements on both databases,
    and the ledger is referenced by no other table, so nothing cascades.
    """
    op.drop_table("sentpaper")
    op.rename_table("sentpaper_new", "sentpaper")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX sentpaper_new_pkey RENAME TO sentpaper_pkey")


def downgrade() -> None:
    """Back to one format per subscriber and one ledger row per paper and subscriber.

    Chat channels are dropped; a subscriber with both the file and the email gets
    "both", with a file only "markdown", otherwise "email".
    """
    op.drop_index("ix_channel_subscriber_id", table_name="channel")
    op.drop_table("channel")
    op.add_column(
        "subscriber", sa.Column("format", sa.String(), nullable=False, server_default="email")
    )
    subscriber = sa.table(
        "subscriber", sa.column("format", sa.String()), sa.column("channels", sa.JSON())
    )
    rows = op.get_bind().execute(
        sa.select(sa.column("id"), subscriber.c.channels).select_from(subscriber)
    )
    for subscriber_id, channels in rows.fetchall():
        names = set(channels or ())
        format = (
            "both"
            if {"email", "markdown"} <= names
            else ("markdown" if "markdown" in names and "email" not in names else "email")
        )
        op.execute(
            sa.text("UPDATE subscriber SET format = :format WHERE id = :id").bindparams(
                format=format, id=subscriber_id
            )
        )
    op.drop_column("subscriber", "channels")
    # One row per paper: the email's where there is one, else the file's, else any.
    _new_ledger(["subscriber_id", "paper_id"])
    op.execute(
        "INSERT INTO sentpaper_new (subscriber_id, paper_id, delivery_id, sent_at)"
        " SELECT subscriber_id, paper_id, MIN(delivery_id), MIN(sent_at) FROM sentpaper"
        " GROUP BY subscriber_id, paper_id"
    )
    _replace_ledger()

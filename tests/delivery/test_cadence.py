"""Whether a subscriber is due, with a controlled clock."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.cadence import due_reason

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cadence", "last", "due"),
    [
        ("daily", None, True),
        ("daily", NOW - timedelta(days=1), True),
        ("daily", NOW - timedelta(hours=23, minutes=55), True),  # a run a little late yesterday
        ("daily", NOW - timedelta(hours=6), False),
        ("weekly", NOW - timedelta(days=6), False),
        ("weekly", NOW - timedelta(days=7), True),
        ("paused", None, False),
        ("paused", NOW - timedelta(days=30), False),
    ],
)
def test_due(cadence: str, last: datetime | None, due: bool) -> None:
    assert (due_reason(cadence, last, NOW) is None) is due


def test_reasons_say_why() -> None:
    assert due_reason("paused", None, NOW) == "paused"
    reason = due_reason("daily", NOW - timedelta(hours=2), NOW)
    assert reason == "daily digest already sent at 2025-11-22 06:00 UTC"

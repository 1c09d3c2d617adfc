"""Whether a subscriber is due for a digest now (pure).

A run may start a little early or late, so "a day" and "a week" leave a few
hours of slack: a daily subscriber served yesterday at 08:05 is due again at
08:00 today.
"""

from datetime import datetime, timedelta

_SLACK = timedelta(hours=4)
_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def due_reason(cadence: str, last_sent: datetime | None, now: datetime) -> str | None:
    """Return None when due, else why not (for the run record)."""
    if cadence == "paused":
        return "paused"
    period = _PERIODS.get(cadence)
    if period is None:
        return f"cadence {cadence!r} sends nothing"
    if last_sent is None or now - last_sent >= period - _SLACK:
        return None
    return f"{cadence} digest already sent at {last_sent:%Y-%m-%d %H:%M} UTC"

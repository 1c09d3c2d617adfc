"""Whether a subscriber is due for a digest now (pure: no clock, no I/O).

Digests go out in slots: a daily subscriber's slot is `send_at` every day, a
weekly one's is `send_at` on `weekly_on`, both on the wall clock of the
subscriber's time zone. A subscriber is due when they have never had a digest,
or when their last one came before their latest slot. So a run at the slot
sends once, a run later the same day sends nothing more, and a run after a
slot missed while paperbot was down sends once, however many slots it missed.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# How many days to look through for a slot: a week and a day either side (a slot
# that a DST gap pushed past midnight), and one to spare.
_SEARCH_DAYS = 10


@dataclass(frozen=True)
class Slots:
    """When digests go out for one subscriber: their zone, the time of day, the weekly day."""

    zone: tzinfo
    send_at: time
    weekly_on: str  # one of WEEKDAYS

    def __post_init__(self) -> None:
        if self.weekly_on not in WEEKDAYS:
            raise ValueError(f"weekly_on must be one of {', '.join(WEEKDAYS)}")


def slot_on(day: date, slots: Slots) -> datetime:
    """Return the instant (in UTC) of `day`'s slot on the wall clock of `slots.zone`.

    A `send_at` that does not exist that day (a DST gap) is read with the
    offset in force before the change, so it moves on by the skipped time
    (02:30 becomes 03:30); one that exists twice (a DST fold) is the first of
    the two. Either way each day has exactly one slot.
    """
    wall = datetime.combine(day, slots.send_at.replace(tzinfo=None, fold=0), tzinfo=slots.zone)
    # In UTC, a wall time inside a gap becomes a real instant. Everything here compares
    # in UTC: Python compares two datetimes of the same zone by wall time, ignoring DST.
    return wall.astimezone(UTC)


def latest_slot(cadence: str, now: datetime, slots: Slots) -> datetime:
    """Return the cadence's latest slot at or before `now`, in UTC."""
    now = now.astimezone(UTC)
    today = now.astimezone(slots.zone).date()
    for day in _slot_days(cadence, today + timedelta(days=1), -1, slots):
        slot = slot_on(day, slots)
        if slot <= now:
            return slot
    raise AssertionError("unreachable: every week holds a slot")  # pragma: no cover


def next_slot(cadence: str, now: datetime, slots: Slots) -> datetime:
    """Return the cadence's first slot after `now`, in UTC."""
    now = now.astimezone(UTC)
    today = now.astimezone(slots.zone).date()
    for day in _slot_days(cadence, today - timedelta(days=1), 1, slots):
        slot = slot_on(day, slots)
        if slot > now:
            return slot
    raise AssertionError("unreachable: every week holds a slot")  # pragma: no cover


def due_reason(cadence: str, last_sent: datetime | None, now: datetime, slots: Slots) -> str | None:
    """Return None when the subscriber is due now, else why not (for the run record).

    `last_sent` is when their last digest was delivered (None: never).
    """
    if cadence == "paused":
        return "paused"
    if cadence not in ("daily", "weekly"):
        return f"cadence {cadence!r} sends nothing"
    if last_sent is None or last_sent.astimezone(UTC) < latest_slot(cadence, now, slots):
        return None
    sent = _local(last_sent, slots)
    upcoming = _local(next_slot(cadence, now, slots), slots)
    return f"{cadence} digest already sent at {sent}; next on {upcoming}"


def _slot_days(cadence: str, start: date, step: int, slots: Slots) -> Iterator[date]:
    """The days holding a slot of `cadence`, from `start` on, one way (`step` is 1 or -1)."""
    weekday = WEEKDAYS.index(slots.weekly_on)
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset * step)
        if cadence == "daily" or day.weekday() == weekday:
            yield day


def _local(moment: datetime, slots: Slots) -> str:
    return f"{moment.astimezone(slots.zone):%Y-%m-%d %H:%M %Z}"

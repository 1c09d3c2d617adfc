"""Whether a subscriber is due: slots on the subscriber's clock, with a controlled clock."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.cadence import Slots, due_reason, latest_slot, next_slot, slot_on

EIGHT = time(8, 0)
UTC_SLOTS = Slots(ZoneInfo("UTC"), EIGHT, "monday")
NEW_YORK = ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0, *, month: int = 11, zone: str = "UTC") -> datetime:
    """An instant in November 2025 (by default) on the wall clock of `zone`."""
    return datetime(2025, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def is_due(cadence: str, last: datetime | None, now: datetime, slots: Slots = UTC_SLOTS) -> bool:
    return due_reason(cadence, last, now, slots) is None


def served_times(slots: Slots, cadence: str, start: datetime, end: datetime) -> list[datetime]:
    """Run every 10 minutes from `start` to `end`, serving whoever is due; when each was served."""
    served: list[datetime] = []
    now = start
    while now < end:
        if is_due(cadence, served[-1] if served else None, now, slots):
            served.append(now)
        now += timedelta(minutes=10)
    return served[1:]  # the first one is the "never sent" digest, whatever the time


# --- Daily -------------------------------------------------------------------------


def test_daily_is_not_due_before_send_at_and_due_from_it() -> None:
    yesterday = at(21, 8, 0) + timedelta(seconds=5)
    assert not is_due("daily", yesterday, at(22, 7, 59))
    assert is_due("daily", yesterday, at(22, 8, 0))
    assert is_due("daily", yesterday, at(22, 19, 0))


def test_served_yesterday_after_the_slot_waits_for_todays_slot() -> None:
    late_yesterday = at(21, 20, 0)  # a run after downtime made up yesterday's slot
    assert not is_due("daily", late_yesterday, at(22, 7, 0))
    assert is_due("daily", late_yesterday, at(22, 8, 0))


def test_a_manual_run_just_before_the_slot_does_not_use_up_the_slot() -> None:
    manual = at(22, 7, 55)
    assert not is_due("daily", manual, at(22, 7, 58))  # same period: already served
    assert is_due("daily", manual, at(22, 8, 0))  # the slot still gets its digest


def test_after_a_missed_slot_one_run_sends_once() -> None:
    three_days_ago = at(19, 8, 1)
    assert is_due("daily", three_days_ago, at(22, 15, 0))
    assert not is_due("daily", at(22, 15, 0), at(22, 15, 10))


def test_the_reason_says_when_it_was_sent_and_when_the_next_slot_is() -> None:
    reason = due_reason("daily", at(22, 8, 2), at(22, 9, 0), UTC_SLOTS)
    assert (
        reason == "daily digest already sent at 2025-11-22 08:02 UTC; next on 2025-11-23 08:00 UTC"
    )


# --- Weekly ------------------------------------------------------------------------


def test_weekly_is_due_once_across_the_week() -> None:
    monday = at(17, 8, 0) + timedelta(seconds=30)  # 2025-11-17 is a Monday
    for hours in range(1, 7 * 24):
        assert not is_due("weekly", monday, monday + timedelta(hours=hours)), hours
    assert not is_due("weekly", monday, at(24, 7, 59))
    assert is_due("weekly", monday, at(24, 8, 0))


def test_weekly_reason_in_the_subscribers_zone() -> None:
    berlin = Slots(ZoneInfo("Europe/Berlin"), EIGHT, "monday")
    sent = at(17, 8, 0, zone="Europe/Berlin")
    reason = due_reason("weekly", sent, at(20, 12, 0), berlin)
    assert reason == (
        "weekly digest already sent at 2025-11-17 08:00 CET; next on 2025-11-24 08:00 CET"
    )


def test_weekly_after_a_missed_week_sends_once_then_waits_for_its_day() -> None:
    thursday = at(20, 10, 0)
    assert is_due("weekly", at(10, 8, 0), thursday)  # last Monday's slot was missed
    assert not is_due("weekly", thursday, at(23, 23, 0))
    assert is_due("weekly", thursday, at(24, 8, 0))


def test_weekly_on_another_day() -> None:
    fridays = Slots(ZoneInfo("UTC"), time(18, 30), "friday")
    assert latest_slot("weekly", at(22, 12, 0), fridays) == at(21, 18, 30)
    assert latest_slot("weekly", at(21, 18, 30), fridays) == at(21, 18, 30)
    assert latest_slot("weekly", at(21, 18, 29), fridays) == at(14, 18, 30)
    assert next_slot("weekly", at(21, 18, 30), fridays) == at(28, 18, 30)


# --- Never sent, paused ------------------------------------------------------------


@pytest.mark.parametrize("cadence", ["daily", "weekly"])
def test_a_subscriber_never_served_is_due_at_once(cadence: str) -> None:
    assert is_due(cadence, None, at(19, 3, 0))  # a Wednesday night, far from any slot


def test_paused_is_never_due() -> None:
    assert due_reason("paused", None, at(24, 8, 0), UTC_SLOTS) == "paused"
    assert due_reason("paused", at(1, 8, 0), at(24, 8, 0), UTC_SLOTS) == "paused"


def test_an_unknown_cadence_sends_nothing() -> None:
    assert due_reason("hourly", None, at(24, 8, 0), UTC_SLOTS) == "cadence 'hourly' sends nothing"


def test_weekly_on_must_be_a_day_name() -> None:
    with pytest.raises(ValueError, match="weekly_on"):
        Slots(ZoneInfo("UTC"), EIGHT, "funday")


# --- Time zones --------------------------------------------------------------------


def test_tokyo_and_utc_subscribers_are_due_at_their_own_eight_oclock() -> None:
    tokyo = Slots(ZoneInfo("Asia/Tokyo"), EIGHT, "monday")
    served = at(22, 8, 0)  # both served at 08:00 UTC = 17:00 in Tokyo
    # 23:00 UTC is 08:00 the next morning in Tokyo: due there, not in UTC.
    assert not is_due("daily", served, at(22, 22, 59), tokyo)
    assert is_due("daily", served, at(22, 23, 0), tokyo)
    assert not is_due("daily", served, at(22, 23, 0), UTC_SLOTS)
    assert is_due("daily", served, at(23, 8, 0), UTC_SLOTS)
    reason = due_reason("daily", at(22, 23, 0), at(22, 23, 30), tokyo)
    assert (
        reason == "daily digest already sent at 2025-11-23 08:00 JST; next on 2025-11-24 08:00 JST"
    )


def test_kolkata_half_hour_offset() -> None:
    kolkata = Slots(ZoneInfo("Asia/Kolkata"), EIGHT, "monday")
    assert latest_slot("daily", at(22, 3, 0), kolkata) == at(22, 2, 30)  # 08:00 IST
    assert not is_due("daily", at(21, 2, 30), at(22, 2, 29), kolkata)
    assert is_due("daily", at(21, 2, 30), at(22, 2, 30), kolkata)


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [(3, 7, 12), (11, 1, 5)],  # DST starts on 9 March 2025 and ends on 2 November 2025
    ids=["spring-forward", "fall-back"],
)
def test_new_york_gets_one_digest_a_day_at_eight_across_dst(
    month: int, first: int, last: int
) -> None:
    slots = Slots(NEW_YORK, EIGHT, "monday")
    start = at(first, 0, 0, month=month, zone="America/New_York")
    end = at(last, 0, 0, month=month, zone="America/New_York")
    served = served_times(slots, "daily", start, end)
    local = [moment.astimezone(NEW_YORK) for moment in served]
    assert [m.date() for m in local] == [
        date(2025, month, day) for day in range(first, last)
    ]  # one per day: none missing, none twice
    assert {m.time() for m in local} == {EIGHT}
    # The same wall time, so the UTC instant moves by the hour the clocks moved.
    assert len({m.utcoffset() for m in local}) == 2


def test_a_send_at_inside_the_spring_gap_makes_one_slot_just_after_it() -> None:
    slots = Slots(NEW_YORK, time(2, 30), "monday")  # 02:30 does not exist on 9 March
    slot = slot_on(date(2025, 3, 9), slots).astimezone(NEW_YORK)
    assert (slot.time(), slot.tzname()) == (time(3, 30), "EDT")
    served = served_times(
        slots,
        "daily",
        at(7, 12, 0, month=3, zone="America/New_York"),
        at(12, 0, 0, month=3, zone="America/New_York"),
    )
    assert [m.astimezone(NEW_YORK).day for m in served] == [8, 9, 10, 11]


def test_a_send_at_inside_the_autumn_fold_makes_one_slot_the_first_time() -> None:
    slots = Slots(NEW_YORK, time(1, 30), "monday")  # 01:30 happens twice on 2 November
    slot = slot_on(date(2025, 11, 2), slots)
    assert slot == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first one
    served = served_times(
        slots,
        "daily",
        at(31, 12, 0, month=10, zone="America/New_York"),
        at(5, 0, 0, month=11, zone="America/New_York"),
    )
    assert [m.astimezone(NEW_YORK).day for m in served] == [1, 2, 3, 4]
    assert not is_due("daily", slot, slot + timedelta(hours=1), slots)  # 01:30 EST: no repeat


def test_weekly_across_dst_keeps_its_wall_time() -> None:
    slots = Slots(NEW_YORK, EIGHT, "monday")
    before = slot_on(date(2025, 3, 3), slots)
    after = next_slot("weekly", before, slots)
    assert after.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2025, 3, 10, 8, 0)
    assert after - before == timedelta(days=7, hours=-1)

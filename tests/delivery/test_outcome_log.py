"""The rows of a run's result, kept on disk past the first megabyte and read back in order."""

import pytest

from bot.delivery import outcome_log
from bot.delivery.outcome_log import OutcomeLog
from bot.delivery.outcomes import Outcome


def _rows(count: int) -> list[Outcome]:
    return [
        Outcome(f"reader{i}@lab.org", "email", "sent", f"250 queued as {i:x}", i % 25)
        for i in range(count)
    ]


def test_rows_read_back_equal_and_in_order_past_what_is_kept_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outcome_log, "KEPT_IN_MEMORY", 1000)  # a few rows, then the file
    odd = Outcome("zoë@lab.org", "", "skipped", "line one\nline two\u2028 \u00e9", routine=True)
    rows = [*_rows(200), odd]
    log = OutcomeLog(rows[:50])
    log.extend(rows[50:])

    assert log._file._rolled  # type: ignore[attr-defined]  # on disk, not in memory
    assert len(log) == len(rows)
    assert list(log) == rows
    assert (log[0], log[-1], log[120]) == (rows[0], odd, rows[120])
    assert log[10:13] == tuple(rows[10:13])
    with pytest.raises(IndexError):
        log[len(rows)]


def test_rows_added_while_reading_do_not_disturb_the_reading() -> None:
    log = OutcomeLog(_rows(3))
    reading = iter(log)
    first = next(reading)
    log.append(Outcome("late@lab.org", "email", "failed", "421 try later"))

    assert [first, *reading] == _rows(3)  # the rows there when the reading began
    assert [o.email for o in log][-1] == "late@lab.org" and len(log) == 4

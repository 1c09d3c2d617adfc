"""A run's result rows, written to a temporary file as they come and read back in order (I/O).

A run of 100,000 subscribers held a row object per subscriber until it ended (its
address, status and the server's reply: about 230 bytes each). The log keeps the
first megabyte of rows in memory and the rest in an unnamed temporary file that
goes when the log does; reading it back gives equal `Outcome`s, in the order added.
"""

import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import overload

from bot.delivery.outcomes import Outcome

KEPT_IN_MEMORY = 1 << 20
"""Bytes of rows a log holds in memory before it moves them to a temporary file."""


class OutcomeLog(Sequence[Outcome]):
    """The rows of one run's result, in the order they were added."""

    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        # Open for the log's life: the file is closed and gone when the log is.
        self._file = tempfile.SpooledTemporaryFile(max_size=KEPT_IN_MEMORY, mode="w+b")  # noqa: SIM115
        self._count = 0
        self.extend(outcomes)

    def append(self, outcome: Outcome) -> None:
        """Add one row."""
        self._file.seek(0, 2)  # a reader may have moved the position
        self._file.write(_encoded(outcome))
        self._count += 1

    def extend(self, outcomes: Iterable[Outcome]) -> None:
        """Add each of `outcomes`, in order."""
        for outcome in outcomes:
            self.append(outcome)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Outcome]:
        # The rows there when the iteration begins, each read from where the last one
        # ended: rows added meanwhile neither disturb it nor are disturbed.
        offset = 0
        for _ in range(self._count):
            self._file.seek(offset)
            line = self._file.readline()
            offset += len(line)
            yield _decoded(line)

    @overload
    def __getitem__(self, index: int) -> Outcome: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Outcome]: ...
    def __getitem__(self, index: int | slice) -> Outcome | Sequence[Outcome]:
        if isinstance(index, slice):
            return tuple(self)[index]
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError("outcome index out of range")
        return next(islice(self, position, None))


def _encoded(outcome: Outcome) -> bytes:
    fields = (
        outcome.email,
        outcome.channel,
        outcome.status,
        outcome.reason,
        outcome.papers,
        outcome.routine,
    )
    # JSON escapes any line break inside a reason: one row, one line.
    return json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n"


def _decoded(line: bytes) -> Outcome:
    email, channel, status, reason, papers, routine = json.loads(line)
    return Outcome(email, channel, status, reason, papers, routine)

"""Signals to another process that have taken effect when the call returns.

`os.kill` only queues a signal. On a busy machine the process runs on until one of
its threads is scheduled to take it: tens of milliseconds, long enough to send a
whole message. A test that stops or kills a worker at a precise point (an SMTP
command) waits here until the process really is stopped or dead.
"""

import os
import signal
import time
from pathlib import Path

_SETTLED = {
    signal.SIGSTOP: {"T", "t"},  # stopped (or stopped by a tracer)
    signal.SIGKILL: {"Z", "X"},  # a zombie, or dead
}


def _thread_states(pid: int) -> list[str]:
    """The state letter of each thread of `pid` ("R", "S", "T", "Z"...); none when it is gone."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        # "tid (name) S ...": the name may hold spaces and parentheses.
        states.append(text.rpartition(")")[2].split()[0])
    return states


def signal_and_wait(pid: int, signum: signal.Signals, *, timeout: float = 60.0) -> None:
    """Send SIGSTOP or SIGKILL to `pid`; return once every thread of it is stopped, or dead.

    Fails (AssertionError) if that has not happened within `timeout` seconds.
    """
    settled = _SETTLED[signum]
    os.kill(pid, signum)
    deadline = time.monotonic() + timeout
    while not all(state in settled for state in _thread_states(pid)):
        assert time.monotonic() < deadline, f"process {pid} did not take {signum.name}"
        time.sleep(0.001)

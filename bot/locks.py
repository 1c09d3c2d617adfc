"""Job locks in the database, so two runs of one job cannot overlap.

A lock is a row: taking it is an insert (or taking over an expired row) inside
a write transaction, so two processes cannot both succeed; the holder renews
it while it works and deletes it when done. Unlike a pid file, it works
across containers sharing one database, and a run that died loses its lock
when the lease runs out.
"""

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.errors import JobLockedError
from bot.models import JobLock


def machine_name() -> str:
    """Name the machine this process runs on, as far as process ids go.

    The host name, and on Linux the process-id namespace: containers that share a
    host name (host networking) still number their processes separately, so a
    pid seen in one means nothing in the other.
    """
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())  # "pid:[4026531836]"
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}#{namespace.strip('pid:[]')}"


def holder_name() -> str:
    """Name this process as a lock holder: its machine and process id ("host#ns:pid")."""
    return f"{machine_name()}:{os.getpid()}"


def holder_is_alive(holder: str) -> bool:
    """Whether a holder may still be running: False only for a process of this machine that is gone.

    A holder is named by `holder_name`, optionally followed by "/" and a part of
    that process (one delivery run among several).
    """
    machine, _, rest = holder.rpartition(":")
    pid = rest.partition("/")[0]
    if machine != machine_name() or not pid.isdigit():
        return True  # another machine's process: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def acquire(engine: Engine, name: str, *, holder: str, now: datetime, lease: timedelta) -> None:
    """Take the lock `name` for `holder`, or raise `JobLockedError` saying who holds it.

    A lock is free when its lease has run out, or when its holder was a process
    on this machine that no longer exists (killed, crashed): no need to wait.
    """
    with write_session(engine) as session:
        lock = session.get(JobLock, name)
        if (
            lock is not None
            and lock.holder != holder
            and lock.expires_at > now
            and holder_is_alive(lock.holder)
        ):
            since = lock.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            raise JobLockedError(
                f"another {name} run ({lock.holder}, since {since}) is in progress;"
                " try again when it has finished"
            )
        if lock is None:
            session.add(JobLock(name=name, holder=holder, acquired_at=now, expires_at=now + lease))
        else:
            lock.holder, lock.acquired_at, lock.expires_at = holder, now, now + lease


def renew(engine: Engine, name: str, *, holder: str, now: datetime, lease: timedelta) -> bool:
    """Extend the lease of a lock this holder has; False if it was lost."""
    with write_session(engine) as session:
        lock = session.get(JobLock, name)
        if lock is None or lock.holder != holder:
            return False
        lock.expires_at = now + lease
        return True


def release(engine: Engine, name: str, *, holder: str) -> None:
    """Give the lock back, if this holder still has it."""
    with write_session(engine) as session:
        lock = session.get(JobLock, name)
        if lock is not None and lock.holder == holder:
            session.delete(lock)

"""Job locks in the database, so two runs of one job cannot overlap.

A lock is a row: taking it is an insert (or taking over an expired row) inside
a write transaction, so two processes cannot both succeed; the holder renews
it while it works and deletes it when done. Unlike a pid file, it works
across containers sharing one database, and a run that died loses its lock
when the lease runs out.
"""

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.errors import JobLockedError
from bot.models import JobLock


def acquire(engine: Engine, name: str, *, holder: str, now: datetime, lease: timedelta) -> None:
    """Take the lock `name` for `holder`, or raise `JobLockedError` saying who holds it."""
    with write_session(engine) as session:
        lock = session.get(JobLock, name)
        if lock is not None and lock.expires_at > now and lock.holder != holder:
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

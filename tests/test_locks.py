import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.db import open_engine, upgrade_schema
from bot.errors import JobLockedError
from bot.locks import acquire, holder_is_alive, holder_name, machine_name, release, renew

LEASE = timedelta(minutes=5)


def test_a_held_lock_excludes_a_second_run_and_says_who_holds_it(
    engine: Engine, clock: Clock
) -> None:
    acquire(engine, "delivery", holder="host-a:1", now=clock(), lease=LEASE)
    with pytest.raises(JobLockedError, match=r"another delivery run \(host-a:1, since "):
        acquire(engine, "delivery", holder="host-b:2", now=clock(), lease=LEASE)
    release(engine, "delivery", holder="host-a:1")
    acquire(engine, "delivery", holder="host-b:2", now=clock(), lease=LEASE)


def test_an_expired_lock_is_taken_over_and_its_old_holder_loses_it(
    engine: Engine, clock: Clock
) -> None:
    acquire(engine, "delivery", holder="dead:1", now=clock(), lease=LEASE)
    later = clock() + LEASE + timedelta(seconds=1)
    acquire(engine, "delivery", holder="alive:2", now=later, lease=LEASE)
    assert not renew(engine, "delivery", holder="dead:1", now=later, lease=LEASE)
    assert renew(engine, "delivery", holder="alive:2", now=later, lease=LEASE)
    release(engine, "delivery", holder="dead:1")  # not its lock any more: nothing happens
    with pytest.raises(JobLockedError):
        acquire(engine, "delivery", holder="third:3", now=later, lease=LEASE)


def test_of_many_processes_racing_exactly_one_gets_the_lock(
    database_url: str, clock: Clock
) -> None:
    url = database_url
    upgrade_schema(open_engine(url))
    winners: list[str] = []
    start = threading.Barrier(8)

    def contender(n: int) -> None:
        engine = open_engine(url)
        start.wait()
        try:
            acquire(engine, "delivery", holder=f"worker:{n}", now=clock(), lease=LEASE)
            winners.append(f"worker:{n}")
        except JobLockedError:
            pass

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_lock_left_by_a_dead_process_of_this_host_is_free(engine: Engine, clock: Clock) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_holder = f"{holder_name().rpartition(':')[0]}:{gone.stdout.strip()}"
    assert not holder_is_alive(dead_holder)
    acquire(engine, "delivery", holder=dead_holder, now=clock(), lease=LEASE)
    acquire(engine, "delivery", holder=holder_name(), now=clock(), lease=LEASE)
    assert holder_is_alive(holder_name()) and holder_is_alive("other-host:1")


def test_a_process_of_another_pid_namespace_with_the_same_host_name_is_judged_by_its_lease() -> (
    None
):
    # Containers sharing the host's name (host networking) number their processes
    # separately: a pid that is free here may be a live worker there.
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = gone.stdout.strip()
    assert not holder_is_alive(f"{machine_name()}:{pid}")
    assert holder_is_alive(f"{socket.gethostname()}#1:{pid}")

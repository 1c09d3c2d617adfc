"""Helpers for work on many objects at once."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of the block.

    Parsing a large source, storing it, or matching thousands of subscriptions
    allocates hundreds of thousands of small objects without reference cycles,
    which the collector would otherwise scan again and again (a fifth to a third
    of the time). Reference counting still frees every one of them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

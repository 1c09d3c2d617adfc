"""`python -m bot` and the `paperbot` command: the command line, imported with the collector off."""

import gc


def run() -> None:
    """Import the command line with Python's cyclic garbage collector off, then run it.

    The import makes about 85,000 objects that live as long as the process
    (modules, classes, the database's models) and almost no garbage (some 700
    objects): collecting again and again while they were made took a tenth of
    the CPU of a short command. `main` turns the collector back on first thing
    (`bot.bulk.settle_collector`).
    """
    gc.disable()
    from bot.cli import main

    main()


if __name__ == "__main__":
    run()

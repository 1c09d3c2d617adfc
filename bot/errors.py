"""The project's exceptions: one base class, a few kinds, messages a user can act on.

Every error paperbot raises on purpose derives from `PaperbotError`; the command
line turns one into a single line on stderr and a non-zero exit status.
"""


class PaperbotError(Exception):
    """Base class of every error paperbot raises on purpose."""


class ConfigError(PaperbotError, ValueError):
    """A setting is missing, unknown or has a bad value."""


class SourceError(PaperbotError):
    """A dump file or a feed could not be read or understood.

    `source` names the file path or URL, so the message can say which one.
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message


class DumpError(SourceError, ValueError):
    """A file is not a usable digest dump (empty, binary, HTML, no papers...)."""


class FeedError(SourceError):
    """A feed could not be fetched or parsed."""


class StoreError(PaperbotError):
    """The database could not be opened or written."""


class NoDatabaseError(StoreError):
    """The settings name a database that does not exist, or that holds no paperbot tables.

    `database` names it as people may see it: a SQLite file's path, or a URL
    with its secrets masked.
    """

    def __init__(self, database: str, message: str) -> None:
        super().__init__(message)
        self.database = database


class InputError(PaperbotError, ValueError):
    """A value a user typed (an email address, a keyword, a file to import) is not usable."""


class JobLockedError(PaperbotError):
    """Another run of the same job holds its lock."""


class ServiceError(PaperbotError):
    """`paperbot serve` cannot start (its port is taken, say)."""

"""A throwaway PostgreSQL server for the tests and the benchmarks: initdb, pg_ctl, a unix socket."""

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def find_postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl); None when absent.

    On the PATH (a source build in /usr/local/bin), else where Debian's `postgresql`
    package puts them, which is not on the PATH: /usr/lib/postgresql/<version>/bin.
    """
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    for bindir in sorted(versions, key=lambda path: _version(path.parent.name), reverse=True):
        if os.access(bindir / "initdb", os.X_OK) and os.access(bindir / "pg_ctl", os.X_OK):
            return bindir
    return None


def _version(name: str) -> tuple[int, ...]:
    # "9.6" < "15": compared as numbers, not text.
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class PostgresCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, reached only by its unix socket.

    No TCP port (so nothing to collide with and nothing reachable from outside), trust
    authentication as the `postgres` role, and no fsync: its data is never kept.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="paperbot-pg-"))
        self.data = self.root / "data"
        self._numbers = itertools.count(1)
        # initdb and postgres refuse to run as root: then they run as a system user,
        # Debian's `postgres` when there is one, else `nobody`, owning the folder.
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"listen_addresses = ''\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / program), *args],
            user=self.user,
            cwd=self.root,  # a folder the user can enter, whoever runs the tests
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` (psycopg 3, over the unix socket)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}"

    def _admin(self, sql: str) -> None:
        import psycopg  # only when PostgreSQL is there to talk to

        with psycopg.connect(
            host=str(self.root), user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql.encode())

    def create_database(self, template: str = "template0") -> str:
        """A new database's name: empty, or a copy of the database `template`.

        Nobody may be connected to `template` while it is copied.
        """
        name = f"test_{next(self._numbers)}"
        # FILE_COPY: copying the template's files beats logging them with fsync off.
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, closing any connection a test left open."""
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True

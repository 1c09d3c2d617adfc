"""Writing files so that a reader never sees half of one."""

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    """Return the process's umask, changing it as little as the system allows."""
    # Linux shows the umask; elsewhere it can only be read by setting another one,
    # and for that moment every file any thread creates gets the mask set. So it
    # is read once, at import, and the mask set meanwhile is the strictest: a file
    # created in that moment comes out private, never open to others.
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


UMASK = _read_umask()
"""The process's umask as paperbot started: what new files' permissions follow."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one.

    The temporary file lives in the same folder (so the final rename stays on one
    file system), starts with a dot and ends in `.tmp`, so a reader listing
    `*.eml` or `*.md` never sees a partial file; it is removed if anything fails.
    The file gets the permissions of any file the process creates (0644 under
    the usual umask 022), not the temporary file's private 0600: the site
    digests are there to be served.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            if os.name == "posix":
                os.fchmod(file.fileno(), 0o666 & ~UMASK)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder is synced; Windows
    # cannot open a folder for that, and there it is not needed.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

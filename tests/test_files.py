"""Atomic file writes: whole files only, with the permissions of the process's umask."""

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.files import write_atomic

_WRITE = (
    "import sys; from pathlib import Path; from bot.files import write_atomic;"
    " write_atomic(Path(sys.argv[1]), b'digest')"
)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_written_file_takes_the_permissions_the_umask_gives(
    tmp_path: Path, umask: int, mode: int
) -> None:
    target = tmp_path / "site" / "2025-11-21.md"
    # A process of its own, started under that umask: the umask is the process's.
    subprocess.run(
        ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", sys.executable, "-c", _WRITE,
         str(target)],
        check=True,
    )  # fmt: skip
    assert target.read_bytes() == b"digest"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left


def test_a_file_written_again_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "a.eml"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.eml"]

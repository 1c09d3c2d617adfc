"""The built wheel carries the templates and the migrations: an installed paperbot renders
digests and creates its database schema."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from bot.migrations import HEAD
from tests.conftest import ROOT

RENDER = """
import sys, bot
from datetime import date
from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.digest.render import DigestRenderer
assert bot.__file__.startswith(sys.argv[1]), bot.__file__  # the installed copy, not the checkout
paper = DigestPaper(1, "A <b>bold</b> title", "An abstract.")
reason = MatchReason("t", "title", "title", "A <b>bold</b> title", (0, 1), 1.0)
digest = Digest(1, "a@lab.org", date(2025, 1, 1), (DigestSection("t", (DigestEntry(paper, reason, 2.0),)),))
renderer = DigestRenderer()
print(renderer.subject(digest)); print(renderer.html(digest)[:4000]); print(renderer.markdown(digest))
from bot.db import open_engine, upgrade_schema
print("schema", upgrade_schema(open_engine("sqlite:///" + sys.argv[1] + "/paperbot.db")).after)
"""


def test_the_wheel_renders_digests_from_its_own_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("paperbot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("subject.txt", "email.txt", "email.html", "digest.md", "site.md"):
        assert f"bot/templates/{template}" in names
    for script in (
        "env.py",
        "versions/v0001_baseline.py",
        "versions/v0003_pending_subscriptions.py",
    ):
        assert f"bot/migrations/{script}" in names
    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # The installed copy first; the dependencies from this environment after it.
    path = f"{target}:{sysconfig.get_paths()['purelib']}"
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {path.split(':')!r}\n" + RENDER,
            str(target),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "A &lt;b&gt;bold&lt;/b&gt; title" in result.stdout
    assert "Paper digest:" in result.stdout
    assert f"schema {HEAD}" in result.stdout  # the migrations ran from the installed copy

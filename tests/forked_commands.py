"""`python -m bot ARGS...` as real processes, forked from one that has imported paperbot already.

The command-line tests start paperbot hundreds of times, and each start spends
most of its time importing (SQLAlchemy, SQLModel, the models, the CLI). A
*forker* process imports all that once, with the collector off as `python -m
bot` does, and then, per command, forks a child that takes the command's
working folder, umask, environment, arguments and stdin/stdout/stderr, and runs
`bot/__main__.py` as `__main__`, as `python -m bot` does. The child is a
process of its own: its exit status, output and files are the command's, and
nothing it does reaches the forker or the next command.

What an interpreter fixes at its start cannot change in a fork (its hash seed is
the forker's; `random` is seeded again in each child): a command whose
environment differs from the forker's in anything but paperbot's own settings
(PAPERBOT_*), TZ, and pytest's note of the current test runs as a new
interpreter instead (`run`).

Protocol, one Unix-socket connection per command: the test sends one JSON line
(args, cwd, env, umask, the paths for stdout and stderr); the forker forks a *waiter*
and goes back to accepting; the waiter forks the command, writes back its pid,
waits for it and writes back its exit status. The forker itself never waits
and runs no thread, so forking from it is safe.
"""

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_READY = b"ready\n"

_SET_LATER = frozenset({"TZ", "PYTEST_CURRENT_TEST"})
"""Variables a command may differ in from the forker, besides PAPERBOT_*: read at any time."""


def command_env(settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a command: this process's, without PAPERBOT_* but `settings`.

    Wide (200 columns), so that assertions see whole table cells.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env.update(settings or {})
    env["COLUMNS"] = "200"
    return env


def forks(env: dict[str, str]) -> bool:
    """Whether `run` forks a command with `env` (else it starts a new interpreter)."""
    return _forker().can_run(env)


def run(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS...` in `cwd` with exactly `env`; fork it when `forks(env)`.

    Raises `subprocess.TimeoutExpired` after `timeout` seconds, the command killed.
    """
    forker = _forker()
    if not forker.can_run(env):
        return run_new(args, cwd, env, timeout)
    return forker.run(args, cwd, env, timeout)


def run_new(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS...` as `run` does, but always in a new interpreter."""
    return subprocess.run(
        _command(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class _Forker:
    """The forker process of this test process, and how to ask it for a command."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        # A Unix socket's path holds at most 107 bytes: a long TMPDIR gives way to /tmp.
        short = None if len(tempfile.gettempdir()) < 60 else "/tmp"
        self.folder = Path(tempfile.mkdtemp(prefix="paperbot-forker-", dir=short))
        self.address = str(self.folder / "socket")
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.address],
            env=env,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline() != _READY:
            raise RuntimeError("the command forker did not start")

    def can_run(self, env: dict[str, str]) -> bool:
        """Whether a command with `env` would start the same as in a new interpreter."""
        names = set(env) | set(self.env)
        differ = {name for name in names if env.get(name) != self.env.get(name)}
        return all(name.startswith("PAPERBOT_") or name in _SET_LATER for name in differ)

    def run(
        self, args: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run the command in a child of the forker; its output as `subprocess.run` gives it."""
        deadline = time.monotonic() + timeout
        with tempfile.TemporaryDirectory(dir=self.folder) as outputs:
            stdout, stderr = Path(outputs, "stdout"), Path(outputs, "stderr")
            request = {
                "args": list(args),
                "cwd": str(cwd),
                "env": env,
                "stdout": str(stdout),
                "stderr": str(stderr),
                "umask": _umask(),
            }
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(self.address)
                connection.sendall(json.dumps(request).encode() + b"\n")
                replies = connection.makefile("rb")
                pid = None
                try:
                    connection.settimeout(max(deadline - time.monotonic(), 0.001))
                    pid = int(replies.readline())
                    connection.settimeout(max(deadline - time.monotonic(), 0.001))
                    status = int(replies.readline())
                except TimeoutError:
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(_command(args), timeout) from None
            return subprocess.CompletedProcess(
                _command(args),
                status,
                stdout.read_text(encoding="utf-8"),
                stderr.read_text(encoding="utf-8"),
            )

    def stop(self) -> None:
        """End the forker; commands already forked finish on their own."""
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _command(args: tuple[str, ...]) -> list[str]:
    """The command line of `python -m bot ARGS...` in this interpreter."""
    return [sys.executable, "-m", "bot", *args]


def _umask() -> int:
    """This process's umask, which a command started from it would inherit."""
    mask = os.umask(0o022)  # reading it means setting it: put back at once
    os.umask(mask)
    return mask


_started: _Forker | None = None


def _forker() -> _Forker:
    global _started
    if _started is None or _started.process.poll() is not None:
        _started = _Forker(command_env())
        atexit.register(_started.stop)
    return _started


# The forker's side: everything below runs in the forker process and its children.


def _serve(address: str) -> dict[str, Any]:
    """Accept commands until one is to run here: return it, in the command's process."""
    import gc

    gc.disable()  # as `bot.__main__.run` imports the command line
    import bot.cli  # noqa: F401  (not bot.__main__: runpy runs it afresh as __main__)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped without waiting
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    listener.settimeout(1.0)
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone: so is the need
                sys.exit(0)
            continue
        connection.setblocking(True)
        if os.fork() != 0:
            connection.close()
            continue
        # The waiter: forks the command, says its pid, waits for it, says its status.
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        request: dict[str, Any] = json.loads(connection.makefile("rb").readline())
        pid = os.fork()
        if pid == 0:
            connection.close()
            return request
        with contextlib.suppress(OSError):  # the test gave up on the command: no one hears
            connection.sendall(f"{pid}\n".encode())
            _, status = os.waitpid(pid, 0)
            connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        os._exit(0)


def _become(request: dict[str, Any]) -> None:
    """Take the command's folder, umask, environment and files, as `python -m bot` would have."""
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    sys.path[0] = request["cwd"]  # `python -m` puts the working folder first
    sys.argv = ["-m", *request["args"]]
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for source, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(source, target)
        os.close(source)


if __name__ == "__main__":
    sys.path[0] = str(Path.cwd())  # not tests/: its modules are no part of paperbot
    command = _serve(sys.argv[1])
    _become(command)
    import runpy

    # As `python -m bot`: bot/__main__.py runs as `__main__`, and an exception or
    # sys.exit ends this process as it would end that one.
    runpy.run_module("bot", run_name="__main__", alter_sys=True)

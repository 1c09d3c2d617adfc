"""`paperbot serve` as a real process: start it, watch its logs and /healthz, stop it."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

# The real SMTP server fixtures, shared with the delivery tests.
from tests.delivery.conftest import SmtpServer, free_port, smtp_server, start_server  # noqa: F401

MARGINS = (6.0, 12.0, 24.0, 48.0)
"""Seconds ahead to put a send time that must still be ahead once a test is set up.

A test tries them in turn, with a fresh setup, and takes the next one only when
events show the machine was too slow for the last: the slot had passed before
the service scheduled it, or the delivery began before what the test orders
ahead of it. Events decide; the margins only keep the wait short when idle.
"""


@dataclass(frozen=True)
class Slot:
    """A send time a few seconds ahead: `send_at` for the settings, `at` the moment it comes."""

    send_at: str
    at: datetime


def slot_in(seconds: float) -> Slot:
    """The send time `seconds` from now, whole seconds, as `schedule.send_at` in UTC."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return Slot(at.strftime("%H:%M:%S"), at)


def send_at_in(seconds: float) -> str:
    """The time of day `seconds` from now, as `schedule.send_at` in UTC."""
    return slot_in(seconds).send_at


def smtp_env(smtp: SmtpServer, send_at: str, **more: str) -> dict[str, str]:
    """Settings for a service delivering over SMTP to `smtp` at `send_at` (UTC)."""
    return {
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_SMTP_HOST": smtp.host,
        "PAPERBOT_SMTP_PORT": str(smtp.port),
        "PAPERBOT_SMTP_SECURITY": "none",
        "PAPERBOT_SCHEDULE_SEND_AT": send_at,
        "PAPERBOT_SCHEDULE_TIMEZONE": "UTC",
        **more,
    }


def forget_received(smtp: SmtpServer, timeout: float = 60) -> None:
    """Clear what `smtp` received, once the sessions of its killed clients have closed.

    A message a client sent in full before it was killed may still be on its way
    into `received`: cleared too early, it would count in the next attempt.
    """
    deadline = time.monotonic() + timeout
    while smtp.handler.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not smtp.handler.active, "the SMTP sessions of killed clients stayed open"
    smtp.handler.received.clear()


@dataclass
class Served:
    """One running `paperbot serve` process and where to reach it."""

    process: subprocess.Popen[str]
    port: int
    folder: Path
    env: dict[str, str]
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        lines = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def job_runs(self, job: str) -> list[dict[str, Any]]:
        """The "job finished" log lines of `job`."""
        return [
            line
            for line in self.log_lines()
            if line.get("message") == "job finished" and line.get("job") == job
        ]

    def health(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz: the status code and the JSON body."""
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def wait_for(self, what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
        """Poll `what` until it returns something true; fail after `timeout` seconds.

        The timeout only bounds a hang: it is no promise of how soon things happen.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"paperbot serve exited ({self.process.returncode}):\n{self.logs()}")
            try:
                result = what()
            except (OSError, urllib.error.URLError):
                result = None
            if result:
                return result
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {message or what}:\n{self.logs()}")

    def job_state(self, name: str) -> dict[str, Any] | None:
        """Job `name` as /healthz shows it, or None before the service recorded it."""
        jobs = {job["name"]: job for job in self.health()[1]["jobs"]}
        return jobs.get(name)

    def delivery_due_at(self, slot: datetime) -> bool:
        """Whether the service scheduled its delivery for `slot` (or started it then).

        Waits until the schedule is recorded (at the first heartbeat). False when
        the slot had passed before the service set up its jobs: the next run is
        then a day later.
        """

        def recorded() -> dict[str, Any] | None:
            job = self.job_state("delivery")
            return job if job and (job["next_run_at"] or job["last_started_at"]) else None

        job = self.wait_for(recorded, message="the delivery's next run to be recorded")
        started = job["last_started_at"]
        if started is not None:
            return datetime.fromisoformat(started) >= slot
        return datetime.fromisoformat(job["next_run_at"]) == slot

    def delivery_started(self) -> bool:
        """Whether a delivery run has begun (recorded before it sends anything)."""
        job = self.job_state("delivery")
        return job is not None and job["last_started_at"] is not None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, float]:
        """Send `sig`; return the exit status and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def logs(self) -> str:
        """Everything the process logged."""
        return self.log_path.read_text(encoding="utf-8")


StartServe = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServe]:
    """Start `paperbot serve [OPTIONS]` in `tmp_path` with the given PAPERBOT_* settings; killed after.

    It is up when /healthz answers on `port` (the web.port its settings get, unless `env`
    or `options` say another).
    """
    started: list[Served] = []
    numbers = itertools.count()  # each its own log, even when started from several threads

    def start(
        env: dict[str, str] | None = None, port: int | None = None, options: tuple[str, ...] = ()
    ) -> Served:
        port = port or free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        settings = {
            "PAPERBOT_WEB_PORT": str(port),
            "PAPERBOT_LOG_FORMAT": "json",
            **(env or {}),
        }
        log_path = tmp_path / f"serve-{next(numbers)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", *options],
                cwd=tmp_path,
                env={**clean, **settings},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        served = Served(process, port, tmp_path, settings, log_path)
        started.append(served)
        served.wait_for(lambda: served.health()[0] == 200, message="/healthz to answer 200")
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()

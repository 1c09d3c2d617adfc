"""The web app's /healthz over HTTP, against a real SQLite file."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.service.state import STALE_AFTER, beat, job_finished
from bot.web.app import create_app

T0 = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def test_healthz_is_200_while_the_heartbeat_is_fresh_and_503_after(
    engine: Engine, tmp_path: Path
) -> None:
    now = [T0]
    settings = load_settings(environ={}, cwd=tmp_path)
    client = TestClient(create_app(engine, settings, clock=lambda: now[0]))
    assert client.get("/healthz").status_code == 503  # never started
    beat(engine, holder="host:1", started_at=T0, now=T0)
    job_finished(engine, "delivery", now=T0, outcome="ok")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["alive"] and body["jobs"][0]["name"] == "delivery"
    assert body["jobs"][0]["last_success_at"] == T0.isoformat()
    now[0] = T0 + STALE_AFTER + timedelta(seconds=1)
    assert client.get("/healthz").status_code == 503


def test_every_page_carries_the_security_headers(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    client = TestClient(create_app(engine, settings, clock=lambda: T0))
    for path in ("/healthz", "/subscribe", "/archive", "/manage/not-a-token", "/nowhere"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"

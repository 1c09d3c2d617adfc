"""The web app's /healthz, security headers and error page over HTTP, against a real database."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.service.state import STALE_AFTER, beat, job_finished
from bot.web.app import SECURITY_HEADERS, create_app

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


def test_the_front_page_links_to_the_subscribe_form_and_the_archive(
    engine: Engine, tmp_path: Path
) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    client = TestClient(create_app(engine, settings, clock=lambda: T0))
    for method in (client.get, client.head):
        response = method("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
    text = client.get("/").text
    assert 'href="/subscribe"' in text and 'href="/archive"' in text
    assert client.get("/subscribe").status_code == client.get("/archive").status_code == 200


def test_every_page_carries_the_security_headers(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    client = TestClient(create_app(engine, settings, clock=lambda: T0))
    for path in ("/", "/healthz", "/subscribe", "/archive", "/manage/not-a-token", "/nowhere"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_an_unexpected_error_is_a_500_page_with_the_headers_and_no_detail(
    engine: Engine, tmp_path: Path
) -> None:
    secret = "s3cret-in-the-error-of-32-characters"
    settings = load_settings(environ={"PAPERBOT_WEB_SECRET": secret}, cwd=tmp_path)
    app = create_app(engine, settings, clock=lambda: T0)

    async def broken(request: Request) -> Response:
        raise RuntimeError(f"database password {secret} rejected")

    app.add_route("/broken", broken)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/broken")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert secret not in response.text and "Traceback" not in response.text
    assert "RuntimeError" not in response.text and "rejected" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name

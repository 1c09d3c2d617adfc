"""The ASGI app: /healthz, the subscribe, confirm, manage and unsubscribe pages, the archive.

Built by `create_app` around an engine, the settings and a clock, so tests run
it against a real database with a controlled clock. Handlers find these in
`request.app.state.web` (`bot.web.context.web_context`).
"""

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import Clock
from bot.config import Settings
from bot.service.state import read_health
from bot.tokens import signing_secret
from bot.web import archive_pages, manage_pages, subscribe_pages
from bot.web.context import WebContext, web_context


async def healthz(request: Request) -> JSONResponse:
    """200 with the jobs' state when the service is alive, 503 when it is not."""
    context = web_context(request)
    health = read_health(context.engine, now=context.clock())
    return JSONResponse(health.as_json(), status_code=200 if health.alive else 503)


def create_app(engine: Engine, settings: Settings, *, clock: Clock) -> Starlette:
    """Return the web app reading and writing `engine`."""
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            *subscribe_pages.routes,
            *manage_pages.routes,
            *archive_pages.routes,
        ]
    )
    secret = signing_secret(engine, settings.web.secret.get_secret_value())
    app.state.web = WebContext(engine, settings, clock, secret)
    return app

"""The ASGI app: the front page, /healthz, the subscribe, confirm, manage and unsubscribe pages, the archive, the feeds.

Built by `create_app` around an engine, the settings and a clock, so tests run
it against a real database with a controlled clock. Handlers find these in
`request.app.state.web` (`bot.web.context.web_context`).
"""

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import Clock
from bot.config import Settings
from bot.service.state import read_health
from bot.tokens import signing_secret
from bot.web import archive_pages, feed_pages, feedback_pages, manage_pages, subscribe_pages
from bot.web.context import WebContext, web_context
from bot.web.pages import error_page, page
from bot.web.security import BodyLimit


async def healthz(request: Request) -> JSONResponse:
    """200 with the jobs' state when the service is alive, 503 when it is not.

    Served by a worker, "alive" is that worker's own heartbeat.
    """
    context = web_context(request)
    health = read_health(context.engine, now=context.clock(), worker=context.worker)
    return JSONResponse(health.as_json(), status_code=200 if health.alive else 503)


async def home(request: Request) -> HTMLResponse:
    """The front page: where to subscribe, and the archive."""
    return page(request, "home.html")


# Every page: no scripts, no framing, nothing from elsewhere, no leaking of the signed
# links in the address bar to the sites papers link to.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def server_error(request: Request, exc: Exception) -> Response:
    """The page of an unexpected error (500): nothing about the error, the security headers.

    Starlette answers such errors outside every middleware (the error itself is
    logged with its traceback by the server), so `SecurityHeaders` never sees
    this response: the headers are set here.
    """
    response = error_page(
        request,
        "Something went wrong",
        "The server could not answer this request. Try again in a few minutes.",
        status=500,
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(
    engine: Engine, settings: Settings, *, clock: Clock, worker: str | None = None
) -> Starlette:
    """Return the web app reading and writing `engine`; `worker` names the service serving it."""
    app = Starlette(
        middleware=[
            Middleware(SecurityHeaders),
            # No page reads a larger body than the manage form; routes reading
            # smaller ones lower the limit on their own.
            Middleware(BodyLimit, limit=manage_pages.MAX_FORM_BYTES),
        ],
        exception_handlers={Exception: server_error},
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *subscribe_pages.routes,
            *manage_pages.routes,
            *feedback_pages.routes,
            *feed_pages.routes,
            *archive_pages.routes,
        ],
    )
    secret = signing_secret(engine, settings.web.secret.get_secret_value())
    app.state.web = WebContext(engine, settings, clock, secret, worker=worker)
    return app

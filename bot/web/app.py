"""The ASGI app: /healthz now; subscriber pages join it.

Built by `create_app` around an engine and a clock, so tests run it against a
real database with a controlled clock.
"""

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import Clock
from bot.service.state import read_health


def create_app(engine: Engine, *, clock: Clock) -> Starlette:
    """Return the web app reading and writing `engine`."""

    async def healthz(request: Request) -> JSONResponse:
        """200 with the jobs' state when the service is alive, 503 when it is not."""
        health = read_health(engine, now=clock())
        return JSONResponse(health.as_json(), status_code=200 if health.alive else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])

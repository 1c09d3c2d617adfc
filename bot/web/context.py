"""What every page handler works with, built once per app."""

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from starlette.requests import Request

from bot.clock import Clock
from bot.config import Settings
from bot.digest.render import DigestRenderer
from bot.web.security import RateLimiter


@dataclass
class WebContext:
    """The database, settings, clock, link-signing secret and rate limits of the web app."""

    engine: Engine
    settings: Settings
    clock: Clock
    secret: str
    subscribe_limit: RateLimiter = field(default_factory=lambda: RateLimiter(10, 600.0))
    # Shared for the app's life: it prepares each paper's text once.
    renderer: DigestRenderer = field(default_factory=DigestRenderer)

    def base_url(self, request: Request) -> str:
        """The public base URL for links in emails: `web.base_url`, else this request's."""
        configured = self.settings.web.base_url.rstrip("/")
        return configured or str(request.base_url).rstrip("/")


def web_context(request: Request) -> WebContext:
    """The app's `WebContext`, from inside a handler."""
    context = request.app.state.web
    assert isinstance(context, WebContext)  # set by create_app
    return context

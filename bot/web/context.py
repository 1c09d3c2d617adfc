"""What every page handler works with, built once per app."""

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from starlette.requests import Request

from bot.clock import Clock
from bot.config import Settings
from bot.digest.render import DigestRenderer
from bot.web.preview import PreviewIndexCache
from bot.web.security import RateLimiter


@dataclass
class WebContext:
    """The database, settings, clock, link-signing secret and rate limits of the web app."""

    engine: Engine
    settings: Settings
    clock: Clock
    secret: str
    worker: str | None = None  # the `paperbot serve` worker serving the app, if any
    subscribe_limit: RateLimiter = field(default_factory=lambda: RateLimiter(10, 600.0))
    # Previews per client: each costs some matching, and the page works without one.
    preview_limit: RateLimiter = field(default_factory=lambda: RateLimiter(30, 300.0))
    # The manage preview's index of the recent papers, built once per change of them.
    preview_index: PreviewIndexCache = field(default_factory=PreviewIndexCache)
    # Shared for the app's life: it prepares each paper's text once.
    renderer: DigestRenderer = field(default_factory=DigestRenderer)

    def base_url(self) -> str:
        """The public base URL of the pages, for links in emails: `web.base_url`.

        Never the request's Host header: anyone can send any Host, and a confirmation
        email linking to their site would hand them the token. Without `web.base_url`,
        the address paperbot listens on (localhost when it listens on all interfaces).
        """
        configured = self.settings.web.base_url.rstrip("/")
        if configured:
            return configured
        host = self.settings.web.host
        host = "localhost" if host in ("", "0.0.0.0", "::") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.settings.web.port}"


def web_context(request: Request) -> WebContext:
    """The app's `WebContext`, from inside a handler."""
    context = request.app.state.web
    assert isinstance(context, WebContext)  # set by create_app
    return context

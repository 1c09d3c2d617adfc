"""What every page handler works with, built once per app."""

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from starlette.requests import Request

from bot.clock import Clock
from bot.config import Settings
from bot.digest.render import DigestRenderer
from bot.web.archive_search import DayIndexCache
from bot.web.links import public_base_url
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
    # The archive's search index of the days searched last.
    archive_index: DayIndexCache = field(default_factory=DayIndexCache)
    # Shared for the app's life: it prepares each paper's text once.
    renderer: DigestRenderer = field(default_factory=DigestRenderer)

    def base_url(self) -> str:
        """The public base URL of the pages, for links in emails (`bot.web.links`)."""
        return public_base_url(self.settings.web)


def web_context(request: Request) -> WebContext:
    """The app's `WebContext`, from inside a handler."""
    context = request.app.state.web
    assert isinstance(context, WebContext)  # set by create_app
    return context

"""Rendering the web pages: Jinja templates in `templates/web/`, always autoescaped."""

from functools import lru_cache
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.digest.render import packaged_templates


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment of the web pages (shared: templates are compiled once)."""
    return jinja2.Environment(
        loader=packaged_templates(),
        autoescape=True,  # everything a visitor typed is shown back escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render `templates/web/<name>` with `context` (plus `request`) as an HTML response."""
    template = environment().get_template(f"web/{name}")
    html = template.render(request=request, **(context or {}))
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, title: str, message: str, *, status: int = 400) -> HTMLResponse:
    """A page saying what went wrong and what to do, with `status`."""
    return page(request, "error.html", {"title": title, "message": message}, status=status)

"""Where the links in emails point, and what is lost without `web.base_url` (pure: no I/O).

Digests carry manage and unsubscribe links, and a `List-Unsubscribe` header, only
when `web.base_url` says where the pages are; confirmation emails need a link
whatever happens, so they fall back to the address paperbot listens on, which
people elsewhere usually cannot open. `missing_base_url_warning` says so, for
every command that sends such mail or serves the pages to warn with the same line.
"""

from bot.config import Settings, WebSettings


def listening_url(web: WebSettings) -> str:
    """The address paperbot's pages listen on, as a URL (localhost for all interfaces)."""
    host = "localhost" if web.host in ("", "0.0.0.0", "::") else web.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{web.port}"


def public_base_url(web: WebSettings) -> str:
    """The base URL of the links in emails: `web.base_url`, else `listening_url`.

    Never the request's Host header: anyone can send any Host, and a confirmation
    email linking to their site would hand them the token.
    """
    return web.base_url.rstrip("/") or listening_url(web)


def missing_base_url_warning(settings: Settings) -> str | None:
    """One line saying what is lost while `web.base_url` is unset, and what to set; else None."""
    if settings.web.base_url.rstrip("/"):  # as delivery and the pages read it
        return None
    if settings.delivery.unsubscribe_mailto:
        header = (
            "and their List-Unsubscribe header holds only delivery.unsubscribe_mailto"
            " (no one-click unsubscribe)"
        )
    else:
        header = "and no List-Unsubscribe header"
    return (
        f"web.base_url is not set: digests go out with no manage or unsubscribe link {header},"
        f" and confirmation emails link to {listening_url(settings.web)};"
        " set web.base_url (or PAPERBOT_WEB_BASE_URL) to the address people reach"
        " the pages at, such as https://papers.example.org"
    )

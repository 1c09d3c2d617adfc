"""How uvicorn serves the web app (`paperbot serve` and `paperbot web`): whose forwarded headers count.

uvicorn on its own believes `X-Forwarded-For` and `X-Forwarded-Proto` from
127.0.0.1 (or `$FORWARDED_ALLOW_IPS`). Then any local process, or a proxy that
passes the header on as the client sent it, can claim to be any client, and
each made-up address gets a fresh rate-limit allowance. Here the headers count
only from the proxies named in `web.trusted_proxies`; with none named, the
client is whoever opened the connection.
"""

from typing import Any

from bot.config import WebSettings


def proxy_options(web: WebSettings) -> dict[str, Any]:
    """uvicorn's `Config` options for forwarded headers, from `web.trusted_proxies`."""
    if not web.trusted_proxies:
        # An explicit list too, so $FORWARDED_ALLOW_IPS cannot switch trust back on.
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(web.trusted_proxies)}

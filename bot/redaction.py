"""URLs made fit for display: credentials and secret-looking query values masked (pure).

A feed URL may carry a password (`https://user:PASSWORD@host/feed`) or a key
in its query (`?api_key=KEY`). The real URL is kept where it is needed for
fetching; everything shown or stored for people to read (command output, logs,
run records, error texts, the settings printout) goes through `redact_url`.
"""

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"
"""What a masked value shows."""

SECRET_PARAMS = ("key", "token", "secret", "password", "sig", "signature", "auth")
"""Words that make a query parameter secret, as a part of its name (`api_key`, `X-Amz-Signature`)."""

# Parts of a parameter name: runs of letters and digits, split at separators and
# where a lower-case letter meets a capital (`accessToken`).
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def is_secret_param(name: str, extra: Iterable[str] = ()) -> bool:
    """True when query parameter `name` looks like it holds a secret.

    Case is ignored. A part of the name that is one of `SECRET_PARAMS` or
    `extra`, or ends with one (`apikey`, `accesstoken`), makes it secret: a
    harmless parameter masked by mistake costs less than a key shown.
    """
    words = {word.lower() for word in (*SECRET_PARAMS, *extra) if word}
    name = unquote_plus(name)
    parts = [part.lower() for part in _NAME_PARTS.findall(name)]
    return name.lower() in words or any(part.endswith(word) for part in parts for word in words)


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    """Return `url` for display: user name and password, and secret query values, as "***".

    `secret_params` adds parameter names to `SECRET_PARAMS`. Everything else
    of the URL is left exactly as it was written.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url if "@" not in url and "?" not in url else "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _redact_query(parts.query, tuple(secret_params))
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str, url: str = "", secret_params: Iterable[str] = ()) -> str:
    """Return `text` (a library's error message, say) with every URL in it redacted.

    When `url` is given, its user information and secret query values are also
    masked where they appear on their own, outside a whole URL.
    """
    extra = tuple(secret_params)
    text = _URL_IN_TEXT.sub(lambda found: redact_url(found.group(), extra), text)
    for secret in _secrets_of(url, extra):
        text = text.replace(secret, MASK)
    return text


def _redact_query(query: str, extra: tuple[str, ...]) -> str:
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and is_secret_param(name, extra):
            pair = f"{name}={MASK}"
        pairs.append(pair)
    return "&".join(pairs)


def _secrets_of(url: str, extra: tuple[str, ...]) -> list[str]:
    """The secret pieces of `url`, raw and decoded, longest first."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: set[str] = set()
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found.add(userinfo)
        if parts.password:
            found.add(parts.password)
    for pair in parts.query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and is_secret_param(name, extra):
            found.update((value, unquote_plus(value)))
    # Short pieces (a one-letter user name) would mask half the message.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)

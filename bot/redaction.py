"""URLs made fit for display: credentials and secret-looking query values and paths masked (pure).

A feed URL may carry a password (`https://user:PASSWORD@host/feed`) or a key
in its query (`?api_key=KEY`); a webhook address carries its secret in the path
(`https://hooks.slack.com/services/T0/B0/SECRET`). The real URL is kept where it
is needed for fetching or posting; everything shown or stored for people to read
(command output, logs, run records, error texts, the settings printout) goes
through `redact_url` or `redact_text`.
"""

import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"
"""What a masked value shows."""

SECRET_PARAMS = ("key", "token", "secret", "password", "sig", "signature", "auth")
"""Words that make a query parameter secret, as a part of its name (`api_key`, `X-Amz-Signature`)."""

WEBHOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
"""Hosts whose path, after its first segment (`services`, `workflows`), is all secret."""

WEBHOOK_SEGMENTS = ("hooks", "webhooks", "webhook")
"""Path segments after which every segment is secret (Discord's `/api/webhooks/ID/TOKEN`)."""

# Parts of a parameter name: runs of letters and digits, split at separators and
# where a lower-case letter meets a capital (`accessToken`).
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
# A path standing alone in a text (`POST /services/T0/B0/SECRET HTTP/1.1`): a slash at
# the start or after a space, quote, bracket or `=`, so never one inside a URL or a date.
_PATH_IN_TEXT = re.compile(r"(?<![^\s'\"(\[=,])/[^\s'\"<>]*")
# Punctuation ending a sentence or a clause after a URL, rather than part of it.
_TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]]+$")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_HEX_LIKE = re.compile(r"[0-9A-Fa-f@-]{20,}")
_BASE64_LIKE = re.compile(r"[A-Za-z0-9+/=_-]{20,}")


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


def looks_like_token(segment: str) -> bool:
    """True when a URL path segment (raw or percent-encoded) looks like a random token.

    That is a run of at least 16 letters and digits holding both; at least 20
    hexadecimal digits, dashes and `@` holding both letters and digits (a UUID,
    a digest, Teams' `UUID@UUID`); or at least 20 characters of base64 with
    capitals, small letters and digits and few separators. Identifiers written
    for people stay visible: arXiv ids (`2401.01234v2`) are short runs, slugs
    (`attention-is-all-you-need`, `Meta-Llama-3-8B-Instruct`) are short words
    joined by many dashes.
    """
    text = unquote(segment)
    if len(text) < 16:
        return False
    if any(len(run) >= 16 and _mixed(run) for run in _ALNUM_RUN.findall(text)):
        return True
    separators = text.count("-") + text.count("@")
    if _HEX_LIKE.fullmatch(text) and _mixed(text) and separators * 5 <= len(text):
        return True
    if _BASE64_LIKE.fullmatch(text) and _mixed(text) and _both_cases(text):
        # Random base64 has a separator in about one character of 32, a slug in one of 5.
        return sum(text.count(c) for c in "+/=_-") * 8 <= len(text)
    return False


def redact_path(path: str, host: str = "") -> str:
    """Return URL path `path` with its secret segments as "***", as written otherwise.

    The secret segments are: those of a known webhook host's path after its first
    (`WEBHOOK_HOSTS`), every segment after one of `WEBHOOK_SEGMENTS`
    (`/api/webhooks/ID/TOKEN`), and any segment that `looks_like_token`. A
    Matrix path (`/_matrix/...`) is kept whole: it holds room and transaction
    ids, and the access token travels in a header or the `access_token` query.
    `host` is the URL's host name, empty for a path on its own.
    """
    if "/_matrix/" in path:
        return path
    segments = path.split("/")
    # The index of the first segment after which every one is secret.
    secret_after = len(segments)
    if host.lower() in WEBHOOK_HOSTS:
        secret_after = 1
    for index, segment in enumerate(segments):
        if unquote(segment).lower() in WEBHOOK_SEGMENTS:
            secret_after = min(secret_after, index)
            break
    shown = [
        MASK if segment and (index > secret_after or looks_like_token(segment)) else segment
        for index, segment in enumerate(segments)
    ]
    return "/".join(shown)


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    """Return `url` for display: user information, secret query values and path segments as "***".

    `secret_params` adds parameter names to `SECRET_PARAMS`; the secret path
    segments are those of `redact_path`. Everything else of the URL, the host
    above all, is left exactly as it was written.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url if "@" not in url and "?" not in url else "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    path = redact_path(parts.path, host)
    query = _redact_query(parts.query, tuple(secret_params))
    if netloc == parts.netloc and path == parts.path and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


def redact_text(text: str, url: str = "", secret_params: Iterable[str] = ()) -> str:
    """Return `text` (a library's error message, say) with every URL in it redacted.

    A path standing on its own (an HTTP request line's) has its secret segments
    and query values masked too. When `url` is given, its user information and
    secret query values and path segments are also masked where they appear on
    their own, outside a whole URL.
    """
    extra = tuple(secret_params)
    text = _URL_IN_TEXT.sub(lambda found: _redact_url_in_text(found.group(), extra), text)
    text = _PATH_IN_TEXT.sub(lambda found: _redact_bare_path(found.group(), extra), text)
    for secret in _secrets_of(url, extra):
        text = text.replace(secret, MASK)
    return text


def _mixed(text: str) -> bool:
    """True when `text` holds both letters and digits."""
    return any(c.isalpha() for c in text) and any(c.isdigit() for c in text)


def _both_cases(text: str) -> bool:
    """True when `text` holds both capital and small letters."""
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def _redact_url_in_text(url: str, extra: tuple[str, ...]) -> str:
    """A URL found in a text, redacted, with the punctuation after it kept out of its path."""
    trailing = _TRAILING_PUNCTUATION.search(url)
    end = trailing.start() if trailing else len(url)
    return redact_url(url[:end], extra) + url[end:]


def _redact_bare_path(path: str, extra: tuple[str, ...]) -> str:
    """A path with no scheme or host (`/services/T0/B0/SECRET?token=T`), redacted."""
    trailing = _TRAILING_PUNCTUATION.search(path)
    end = trailing.start() if trailing else len(path)
    path, after = path[:end], path[end:]
    path, hash_mark, fragment = path.partition("#")
    path, question_mark, query = path.partition("?")
    query = _redact_query(query, extra)
    return f"{redact_path(path)}{question_mark}{query}{hash_mark}{fragment}{after}"


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
    shown = redact_path(parts.path, parts.hostname or "").split("/")
    for segment, seen in zip(parts.path.split("/"), shown, strict=True):
        if seen == MASK and segment != MASK:
            found.update((segment, unquote(segment)))
    # Short pieces (a one-letter user name) would mask half the message.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)

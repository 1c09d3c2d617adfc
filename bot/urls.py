"""Web addresses taken from third-party text: which are shown, and how LaTeX residue goes (pure).

Abstracts, feeds and dumps are written by others. Every address paperbot shows
or links passes `web_url` (http and https only: a `javascript:` or `data:`
address from a feed must never become a link), and every address found in an
abstract passes `clean_link`, which takes off what LaTeX left around it
(`\\url{...}`, `\\href{...}{...}`, braces, `\\_`, `\\allowbreak`) and the sentence's
punctuation after it. Stored addresses that still carry such residue are
cleaned by the same function when they are shown.
"""

import re

_WEB = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# An address runs until a character that no address holds unescaped; braces and
# backslashes are LaTeX's (`\url{...}`, `\href{...}{text}`), never the address's.
_URL = re.compile(r"https?://[^\s<>\"'`{}\\|^]+", re.IGNORECASE)
# LaTeX's escapes inside addresses stand for the character itself.
_ESCAPES = {
    r"\textasciitilde{}": "~",
    r"\textasciitilde": "~",
    r"\~{}": "~",
    r"\~": "~",
    r"\_": "_",
    r"\%": "%",
    r"\#": "#",
    r"\&": "&",
}
_ESCAPE = re.compile("|".join(re.escape(e) for e in sorted(_ESCAPES, key=len, reverse=True)))
# Line-break hints sometimes sit inside addresses copied from papers.
_BREAKS = re.compile(r"\\allowbreak|\\-|\{\}")
_TRAILING = ".,;:!?)]}'\"\\"


def web_url(url: str | None) -> str | None:
    """Return `url` trimmed when it is an http(s) address, else None.

    The one rule for every address shown or linked: no other scheme, no
    whitespace, quotes or angle brackets inside.
    """
    if url is None:
        return None
    url = url.strip()
    return url if _WEB.fullmatch(url) else None


def unlatex(text: str) -> str:
    """Return `text` with the LaTeX escapes and line-break hints that split addresses undone."""
    if "\\" not in text and "{}" not in text:
        return text  # the common case: nothing to undo
    return _BREAKS.sub("", _ESCAPE.sub(lambda m: _ESCAPES[m[0]], text))


def find_links(text: str) -> list[str]:
    """Return the http(s) addresses in `text`, cleaned as `clean_link` does, in order."""
    text = unlatex(text)
    if "://" not in text:
        return []
    return [url for url in (_trim(m[0]) for m in _URL.finditer(text)) if _has_host(url)]


def clean_link(url: str) -> str | None:
    """Return the address `url` holds without LaTeX residue or trailing punctuation, or None.

    `MSRNet{https://github.com/x/MSRNet}.` and `\\url{https://github.com/x/MSRNet}`
    give `https://github.com/x/MSRNet`; `\\href{https://a.org/p}{text}` gives
    `https://a.org/p`. None when there is no http(s) address with a host in it.
    """
    found = find_links(url)
    return web_url(found[0]) if found else None


def _has_host(url: str) -> bool:
    host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    # A bracketed (IPv6) host is no paper's link, and urlsplit would refuse a broken one.
    return "." in host.strip(".") and "[" not in host and "]" not in host


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        # Keep a closing bracket that closes one opened inside the address.
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url

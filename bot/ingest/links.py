"""Finding code and project links in abstracts."""

import re
from urllib.parse import urlsplit

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
# LaTeX line-break hints sometimes sit inside URLs copied from papers.
_LATEX_BREAKS = re.compile(r"\\allowbreak|\\-|\{\}")
_TRAILING = ".,;:!?)]}'\"\\"
CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "huggingface.co",
    "sourceforge.net",
    "gitee.com",
)


def extract_links(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return `(code_urls, project_urls)` found in `text`, in order, without repeats.

    Code links point at a known code host; every other http(s) link is a
    project link. Trailing sentence punctuation is not part of a link.
    """
    # Most abstracts hold no link: answer those without running the URL pattern.
    if "\\" in text or "{}" in text:
        text = _LATEX_BREAKS.sub("", text)
    if "://" not in text:
        return (), ()
    code: list[str] = []
    project: list[str] = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        host = (urlsplit(url).hostname or "").lower()
        if not host or "." not in host:
            continue
        bucket = code if _is_code_host(host) else project
        if url not in bucket:
            bucket.append(url)
    return tuple(code), tuple(project)


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        # Keep a closing bracket that closes one opened inside the URL.
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _is_code_host(host: str) -> bool:
    return any(host == known or host.endswith("." + known) for known in CODE_HOSTS)

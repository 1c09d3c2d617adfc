"""Finding code and project links in abstracts."""

from urllib.parse import urlsplit

from bot.urls import find_links

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
    project link. Each is cleaned by `bot.urls.find_links`: no LaTeX residue
    (`\\url{...}`, braces, `\\_`) and no trailing sentence punctuation.
    """
    code: list[str] = []
    project: list[str] = []
    for url in find_links(text):
        host = (urlsplit(url).hostname or "").lower()
        bucket = code if is_code_host(host) else project
        if url not in bucket:
            bucket.append(url)
    return tuple(code), tuple(project)


def is_code_host(host: str) -> bool:
    """Return True when `host` (lower case) is a known code host or one of its subdomains."""
    return any(host == known or host.endswith("." + known) for known in CODE_HOSTS)

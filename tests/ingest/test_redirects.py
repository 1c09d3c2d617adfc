"""Which redirects a feed fetch may follow (pure; host names resolved by a stand-in)."""

import pytest

from bot.ingest.redirects import redirect_refusal
from tests.ingest.conftest import resolve


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://127.0.0.1:6379/", "127.0.0.1: loopback address"),
        ("http://localhost.example.invalid@127.0.0.2/", "127.0.0.2: loopback address"),
        ("http://[::1]/", "::1: loopback address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1: loopback address"),
        ("http://10.0.0.5/admin", "10.0.0.5: private address"),
        ("http://192.168.1.1/", "192.168.1.1: private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254: link-local address"),
        ("http://[fd12:3456::1]/", "fd12:3456::1: unique-local address"),
        ("http://0.0.0.0:8080/", "0.0.0.0: unspecified address"),
        ("http://100.64.0.1/", "100.64.0.1: non-public address"),
        ("http://intranet.example/feed", "intranet.example (10.1.2.3): private address"),
        ("https://split.example/", "split.example (192.168.0.7): private address"),
        ("http://metadata.example/", "metadata.example (fe80::1): link-local address"),
    ],
)
def test_from_a_public_address_into_an_internal_one_is_refused(target: str, why: str) -> None:
    refusal = redirect_refusal("https://feeds.public.example/rss", target, resolve)

    assert refusal == f"refused a redirect from a public address to {why}"


@pytest.mark.parametrize(
    ("leaving", "target"),
    [
        # Public to public.
        ("https://feeds.public.example/rss", "https://mirror.public.example/rss"),
        ("https://93.184.216.34/rss", "https://[2606:4700::1111]/rss"),
        # Within the machine or the private network: the admin's own feeds.
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b"),
        ("http://intranet.example/a", "http://printer.local/b"),
        ("http://10.0.0.1/a", "https://feeds.public.example/rss"),
        # A name that resolves to nothing is left to fail when connecting.
        ("https://feeds.public.example/rss", "https://gone.example/rss"),
        ("https://gone.example/rss", "http://127.0.0.1/"),
    ],
)
def test_other_redirects_are_followed(leaving: str, target: str) -> None:
    assert redirect_refusal(leaving, target, resolve) is None


def test_a_name_with_a_public_address_among_others_counts_as_public() -> None:
    refusal = redirect_refusal("https://split.example/rss", "http://127.0.0.1/", resolve)

    assert refusal == "refused a redirect from a public address to 127.0.0.1: loopback address"

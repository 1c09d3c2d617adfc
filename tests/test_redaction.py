"""URLs for display: credentials and secret query values masked, the rest untouched."""

import pytest

from bot.redaction import is_secret_param, redact_text, redact_url


@pytest.mark.parametrize(
    "name",
    [
        "key", "KEY", "api_key", "apikey", "apiKey", "APIKey", "access_token", "accessToken",
        "token", "secret", "client_secret", "password", "sig", "signature", "X-Amz-Signature",
        "auth", "oauth_token", "Auth", "x-api-key", "api%5Fkey",
    ],
)  # fmt: skip
def test_secret_looking_parameters_are_recognised(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize(
    "name", ["q", "id", "lang", "search_query", "keywords", "author", "max_results", "format"]
)
def test_ordinary_parameters_are_not_secret(name: str) -> None:
    assert not is_secret_param(name)


def test_more_names_come_from_the_caller() -> None:
    assert not is_secret_param("sid")
    assert is_secret_param("sid", ["sid"])
    assert is_secret_param("SessionSid", ["SID"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:PASSWORD@feeds.example/rss?api_key=KEY&lang=en",
            "https://***@feeds.example/rss?api_key=***&lang=en",
        ),
        (
            "https://s3.example/feed.xml?X-Amz-Credential=abc&X-Amz-Signature=f00d%2Fbeef",
            "https://s3.example/feed.xml?X-Amz-Credential=abc&X-Amz-Signature=***",
        ),
        ("https://example.org/rss?token=&q=a+b#top", "https://example.org/rss?token=&q=a+b#top"),
        ("https://example.org/rss?access_token", "https://example.org/rss?access_token"),
        ("https://example.org/a%20b?id=1", "https://example.org/a%20b?id=1"),
    ],
)
def test_redact_url_masks_secrets_and_keeps_the_rest_as_written(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_takes_more_names() -> None:
    url = "https://example.org/rss?sid=S3SS10N&q=x"

    assert redact_url(url, ["sid"]) == "https://example.org/rss?sid=***&q=x"


def test_redact_text_masks_urls_in_a_message_and_the_urls_secrets_alone() -> None:
    url = "http://reader:PASSWORD@127.0.0.1:8080/feed?api_key=THE-KEY"
    message = (
        f"Redirect location 'https://other.example/x?token=T0KEN' for url '{url}'; "
        "sent THE-KEY with PASSWORD"
    )

    assert redact_text(message, url) == (
        "Redirect location 'https://other.example/x?token=***' for url "
        "'http://***@127.0.0.1:8080/feed?api_key=***'; sent *** with ***"
    )

"""URLs for display: credentials, secret query values and path secrets masked, the rest untouched."""

import pytest

from bot.redaction import is_secret_param, looks_like_token, redact_path, redact_text, redact_url

SLACK_SECRET = "aB3dE6gH9jK2mN5pQ8rS1tV4"
DISCORD_TOKEN = "ntbGcSdZr7f2E1Qf-8N_5IVd8fkYhcUXCmmBdnpfA3s3J-7xZa2W0H9ZJwvIKMZLb-X0"


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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
            "https://hooks.slack.com/services/***/***/***",
        ),
        (
            f"https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/{SLACK_SECRET}",
            "https://hooks.slack.com/services/***/***/***",
        ),
        (
            "https://hooks.slack.com/triggers/T0AB12CD3/1234/abcd",
            "https://hooks.slack.com/triggers/***/***/***",
        ),
        ("https://discord.com/api/webhooks/123/TOKEN", "https://discord.com/api/webhooks/***/***"),
        (
            f"https://discordapp.com/api/webhooks/123456789012345678/{DISCORD_TOKEN}?wait=true",
            "https://discordapp.com/api/webhooks/***/***?wait=true",
        ),
        ("https://chat.example/hooks/short", "https://chat.example/hooks/***"),
        ("https://ha.example:8123/api/webhook/my-id", "https://ha.example:8123/api/webhook/***"),
        (
            f"http://127.0.0.1:8080/services/T0AB12CD3/B0EF45GH6/{SLACK_SECRET}",
            "http://127.0.0.1:8080/services/T0AB12CD3/B0EF45GH6/***",
        ),
        (
            "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
            "https://api.telegram.org/***/sendMessage",
        ),
        (
            "https://relay.example/in/3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f/",
            "https://relay.example/in/***/",
        ),
        (
            "https://u:pw@hooks.example/webhooks/1/t?token=T&lang=en#top",
            "https://***@hooks.example/webhooks/***/***?token=***&lang=en#top",
        ),
    ],
)
def test_redact_url_masks_secrets_in_webhook_paths_and_keeps_the_host(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_matrix_path_is_kept_and_its_access_token_masked() -> None:
    path = (
        "/_matrix/client/v3/rooms/%21abcdefGHIJKLmnopqr%3Amatrix.org/send/m.room.message/"
        "paperbot.0123456789abcdef0123456789abcdef.0"
    )
    url = f"https://matrix.example{path}?access_token=syt_YWxpY2U_abcdEFGH_123"

    assert redact_url(url) == f"https://matrix.example{path}?access_token=***"


@pytest.mark.parametrize(
    "url",
    [
        "https://arxiv.org/abs/2401.01234",
        "https://arxiv.org/abs/2401.01234v2",
        "https://arxiv.org/pdf/2401.01234v12.pdf",
        "https://arxiv.org/abs/hep-th/9901001v1",
        "https://export.arxiv.org/rss/cs.AI+cs.LG",
        "https://huggingface.co/papers/2401.01234",
        "https://huggingface.co/papers/attention-is-all-you-need",
        "https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct",
        "https://huggingface.co/api/daily_papers?date=2023-11-27",
        "https://doi.org/10.48550/arXiv.2401.01234",
        "https://example.org/feeds/2023-11-27-2023-11-28.xml",
        "https://example.org/llama-2-open-foundation-and-fine-tuned-chat-models",
        "https://example.org/internationalization/",
    ],
)
def test_ordinary_urls_are_not_masked(url: str) -> None:
    assert redact_url(url) == url


@pytest.mark.parametrize(
    "segment",
    [
        SLACK_SECRET,
        DISCORD_TOKEN,
        "0123456789abcdef0123456789abcdef",
        "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "Zq3_x9LmT0vB2kR8pW4sN6yD",
        "Zq3%2Bx9LmT0vB2kR8pW4sN6yD",
    ],
)
def test_random_looking_segments_are_tokens(segment: str) -> None:
    assert looks_like_token(segment)


@pytest.mark.parametrize(
    "segment",
    [
        "2401.01234v2",
        "XXXXSECRET",
        "123456789012345678",
        "attention-is-all-you-need",
        "Meta-Llama-3-8B-Instruct",
        "2023-11-27-2023-11-28",
        "internationalization",
        "arxiv_cs_LG.rss.xml",
    ],
)
def test_words_ids_and_dates_are_not_tokens(segment: str) -> None:
    assert not looks_like_token(segment)


def test_redact_path_keeps_empty_segments_and_takes_the_host() -> None:
    assert redact_path("/services/T0/B0/x/") == "/services/T0/B0/x/"
    assert redact_path("/services/T0/B0/x/", "HOOKS.slack.com") == "/services/***/***/***/"
    assert redact_path("") == ""


def test_redact_text_masks_path_secrets_in_urls_request_lines_and_alone() -> None:
    url = f"https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/{SLACK_SECRET}"
    message = (
        f'HTTP Request: POST {url} "HTTP/1.1 404 Not Found"; '
        f'"POST /services/T0/B0/{SLACK_SECRET}?token=T0KEN HTTP/1.1"; '
        f"the reply named {SLACK_SECRET} and B0EF45GH6 on 2024/01/02"
    )

    assert redact_text(message, url) == (
        'HTTP Request: POST https://hooks.slack.com/services/***/***/*** "HTTP/1.1 404 Not Found"; '
        '"POST /services/T0/B0/***?token=*** HTTP/1.1"; '
        "the reply named *** and *** on 2024/01/02"
    )


def test_redact_text_leaves_paper_links_and_file_paths_alone() -> None:
    message = (
        "matched https://arxiv.org/abs/2401.01234 and https://huggingface.co/papers/2401.01234 "
        'File "/srv/paperbot/.venv/lib/python3.11/site-packages/httpx/_client.py", line 1'
    )

    assert redact_text(message) == message

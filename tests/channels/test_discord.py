"""Discord: embeds within Discord's limits, Markdown escaped, posted to a webhook."""

import json
import logging

import pytest

from bot.channels.base import to_json
from bot.channels.discord import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBED_CHARACTERS_MAX,
    EMBEDS_MAX,
    TITLE_MAX,
    DiscordChannel,
    DiscordConfig,
    embed_size,
    escape,
    link,
)
from tests.channels.conftest import FakeTime, Receiver, Reply, send
from tests.channels.samples import every_paper_once, long_digest, pretty, sample_digest
from tests.conftest import DATA
from tests.golden import assert_golden

TOKEN = "Wq93-secret-token_Abc"


def _channel(receiver: Receiver, fake_time: FakeTime) -> DiscordChannel:
    config = DiscordConfig(receiver.url(f"/api/webhooks/123/{TOKEN}"), username="paperbot")
    return DiscordChannel(config, limiter=fake_time.limiter())


def test_golden_discord_messages_of_the_sample_digest() -> None:
    config = DiscordConfig(f"https://discord.com/api/webhooks/123/{TOKEN}", username="paperbot")
    payloads = DiscordChannel(config).render(sample_digest())
    assert_golden(pretty(payloads), DATA / "channels" / "discord.json")


def test_markdown_is_escaped() -> None:
    assert escape("a*b_c ~d~ `e` |f| [g](h) @everyone") == (
        "a\\*b\\_c \\~d\\~ \\`e\\` \\|f\\| \\[g\\](h) \\@everyone"
    )
    assert escape("# big\n- item\n> quote\n1. one") == "\\# big\n\\- item\n\\> quote\n\\1. one"
    assert link("https://x.example/a_(b)", "Code [v2]") == (
        "[Code \\[v2\\]](<https://x.example/a_%28b%29>)"
    )


@pytest.mark.parametrize("count", [25, 3])
def test_long_digests_keep_within_the_limits_and_lose_nothing(count: int) -> None:
    digest = long_digest(count)
    payloads = DiscordChannel(DiscordConfig("https://discord.com/api/webhooks/1/x")).render(digest)
    every_paper_once(digest, payloads)
    for payload in payloads:
        embeds = payload.content["embeds"]
        assert 1 <= len(embeds) <= EMBEDS_MAX
        assert sum(embed_size(e) for e in embeds) <= EMBED_CHARACTERS_MAX
        assert all(len(e["title"]) <= TITLE_MAX for e in embeds)
        assert all(len(e["description"]) <= DESCRIPTION_MAX for e in embeds)
        assert all(len(e.get("fields", ())) <= 25 for e in embeds)
        assert len(payload.content["content"]) <= CONTENT_MAX
        assert payload.content["allowed_mentions"] == {"parse": []}
    if count == 25:
        assert len(payloads) > 1
        assert payloads[0].content["content"].endswith(f"(part 1 of {len(payloads)})")
        assert "next time" in payloads[-1].content["content"]


def test_a_message_is_posted_and_waited_for(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(Reply(200, b'{"id": "1"}'))
    assert send(channel, payload).status == "sent"
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", f"/api/webhooks/123/{TOKEN}?wait=true")
    assert request.body == to_json(payload.content)
    assert json.loads(request.body)["username"] == "paperbot"


def test_answers_are_classified(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(
        Reply(400, b'{"message": "Invalid Form Body", "code": 50035}'),
        Reply(401, b'{"message": "Invalid Webhook Token", "code": 50027}'),
        Reply(429, b'{"message": "You are being rate limited.", "retry_after": 0.75}'),
        Reply(502, b"bad gateway"),
        "drop",
        "hang",
    )
    results = [send(channel, payload) for _ in range(6)]
    assert [(r.status, r.code) for r in results] == [
        ("permanent", 400),
        ("permanent", 401),
        ("temporary", 429),
        ("temporary", 502),
        ("temporary", None),
        ("temporary", None),
    ]
    assert "Invalid Form Body" in results[0].reason
    assert results[2].retry_after == 0.75
    assert results[5].reason == "timed out waiting for the service"


def test_an_empty_bucket_pauses_the_next_send(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(
        Reply(200, b"{}", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5"})
    )
    send(channel, payload)
    send(channel, payload)
    assert fake_time.sleeps == [1.5]


def test_five_sends_in_two_seconds(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    for _ in range(6):
        send(channel, payload)
    assert fake_time.sleeps == pytest.approx([2.0], abs=0.01)


def test_the_token_is_never_shown(
    receiver: Receiver, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="paperbot")
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    echo = f'{{"message": "Unknown Webhook /api/webhooks/123/{TOKEN}"}}'
    receiver.answer(Reply(404, echo.encode()), "drop")
    results = [send(channel, payload) for _ in range(2)]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("paperbot")]
    shown = [repr(channel), repr(channel.config), channel.describe(), *logged]
    shown += [r.reason for r in results] + [repr(r) for r in results]
    assert all(TOKEN not in text for text in shown)
    assert channel.describe() == f"Discord webhook {receiver.base}/***"
    assert len(logged) == 2

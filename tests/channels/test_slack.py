"""Slack: Block Kit messages within Slack's limits, escaped, sent to an incoming webhook."""

import json
import logging

import pytest

from bot.channels.base import to_json
from bot.channels.slack import BLOCKS_MAX, SECTION_MAX, SlackChannel, SlackConfig, escape, link
from bot.errors import ConfigError
from tests.channels.conftest import FakeTime, Receiver, Reply, send
from tests.channels.samples import every_paper_once, long_digest, pretty, sample_digest
from tests.conftest import DATA
from tests.golden import assert_golden

SECRET = "T000/B000/XXXXsecretXXXX"


def _channel(receiver: Receiver, fake_time: FakeTime) -> SlackChannel:
    config = SlackConfig(receiver.url(f"/services/{SECRET}"))
    return SlackChannel(config, limiter=fake_time.limiter())


def test_golden_slack_messages_of_the_sample_digest() -> None:
    channel = SlackChannel(SlackConfig(f"https://hooks.slack.com/services/{SECRET}"))
    payloads = channel.render(sample_digest())
    assert len(payloads) == 1
    assert_golden(pretty(payloads), DATA / "channels" / "slack.json")


def test_escaping_and_links() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert link("https://x.example/?a=1&b=|", "A | B > C") == (
        "<https://x.example/?a=1&amp;b=%7C|A ¦ B &gt; C>"
    )


@pytest.mark.parametrize("count", [25, 120])
def test_long_digests_keep_within_the_limits_and_lose_nothing(count: int) -> None:
    digest = long_digest(count)
    payloads = SlackChannel(SlackConfig("https://hooks.slack.com/x")).render(digest)
    every_paper_once(digest, payloads)
    for payload in payloads:
        blocks = payload.content["blocks"]
        assert len(blocks) <= BLOCKS_MAX
        assert all(len(block["text"]["text"]) <= SECTION_MAX for block in blocks)
        texts = [block["text"]["text"] for block in blocks[1:]]
        # Every paper's section opens with its linked title, escaped.
        assert all(text.startswith("*<https://") or "next time" in text for text in texts)
        assert "<Brackets>" not in json.dumps(payload.content)
    if len(payloads) > 1:
        assert payloads[0].content["text"].endswith(f"(part 1 of {len(payloads)})")
        assert "next time" in payloads[-1].content["blocks"][-1]["text"]["text"]
        assert "next time" not in json.dumps(payloads[0].content)


def test_a_message_is_posted_as_json(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    result = send(channel, payload)
    assert result.status == "sent"
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", f"/services/{SECRET}")
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.body == to_json(payload.content)


def test_refusals_and_rate_limits_are_classified(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(
        Reply(400, b"invalid_blocks"),
        Reply(404, b"no_service"),
        Reply(429, b"rate_limited", {"Retry-After": "3"}),
        Reply(500, b"oops"),
        "drop",
    )
    results = [send(channel, payload) for _ in range(5)]
    assert [(r.status, r.code) for r in results] == [
        ("permanent", 400),
        ("permanent", 404),
        ("temporary", 429),
        ("temporary", 500),
        ("temporary", None),
    ]
    assert results[0].reason == "400 Bad Request: invalid_blocks"
    assert results[2].retry_after == 3.0


def test_sends_are_spaced_one_a_second(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    for _ in range(3):
        send(channel, payload)
    assert fake_time.sleeps == pytest.approx([1.0, 1.0], abs=0.01)


def test_the_webhook_address_is_never_shown(
    receiver: Receiver, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="paperbot")
    channel = _channel(receiver, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(Reply(404, f"no hook at /services/{SECRET}".encode()), "drop", "hang")
    results = [send(channel, payload) for _ in range(3)]
    # paperbot's own log lines; httpx's (its whole URL at INFO) are silenced or redacted
    # by the command line's logging set-up.
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("paperbot")]
    shown = [repr(channel), repr(channel.config), channel.describe(), *logged]
    shown += [r.reason for r in results] + [repr(r) for r in results]
    for text in shown:
        assert "XXXXsecretXXXX" not in text and "T000" not in text
    assert channel.describe() == f"Slack webhook {receiver.base}/***"
    assert len(logged) == 3


def test_golden_slack_messages_of_the_sample_digest_one_per_topic() -> None:
    config = SlackConfig(f"https://hooks.slack.com/services/{SECRET}", per_topic=True)
    payloads = SlackChannel(config).render(sample_digest())
    assert [p.content["text"] for p in payloads] == [
        "Papers for 2023-11-28 in “video &amp; 3D”: 3 papers (part 1 of 2)",  # escaped
        "Papers for 2023-11-28 in “language models”: 5 papers (part 2 of 2)",
    ]
    assert_golden(pretty(payloads), DATA / "channels" / "slack_per_topic.json")


@pytest.mark.parametrize("count", [6, 120])
def test_messages_per_topic_hold_one_topic_each_within_the_limits(count: int) -> None:
    digest = long_digest(count, topics=3)
    config = SlackConfig("https://hooks.slack.com/x", per_topic=True)
    payloads = SlackChannel(config).render(digest)
    every_paper_once(digest, payloads)
    topic_of = {e.paper.paper_id: s.topic for s in digest.sections for e in s.entries}
    for payload in payloads:
        assert len(payload.content["blocks"]) <= BLOCKS_MAX
        [topic] = {topic_of[paper_id] for paper_id in payload.paper_ids}
        assert f"in “{escape(topic)}”" in payload.content["text"]
    assert len(payloads) >= 3
    assert "next time" in json.dumps(payloads[-1].content)


def test_the_per_topic_option_must_be_true_or_false() -> None:
    with pytest.raises(ConfigError, match="`per_topic` must be true or false"):
        SlackChannel.from_options({"webhook_url": "https://hooks.slack.com/x", "per_topic": "yes"})
    channel = SlackChannel.from_options(
        {"webhook_url": "https://hooks.slack.com/x", "per_topic": True}
    )
    assert channel.describe() == "Slack webhook https://hooks.slack.com/***, a message per topic"

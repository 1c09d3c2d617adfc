"""The generic webhook: a versioned JSON document with every field, signed, with an idempotency key."""

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from bot.channels.base import Rate, to_json
from bot.channels.webhook import VERSION, WebhookChannel, WebhookConfig, sign
from bot.errors import ConfigError
from tests.channels.conftest import FakeTime, Receiver, Reply, send
from tests.channels.samples import every_paper_once, long_digest, pretty, sample_digest
from tests.conftest import DATA, ROOT
from tests.golden import assert_golden

SECRET = "whsec-Kp20-long-enough-secret"
NOW = datetime(2023, 11, 28, 7, 30, tzinfo=UTC)


def _channel(url: str, fake_time: FakeTime | None = None, **settings: Any) -> WebhookChannel:
    config = WebhookConfig(url, SECRET, **settings)
    limiter = fake_time.limiter() if fake_time else None
    return WebhookChannel(config, limiter=limiter, clock=lambda: NOW)


def _documented_verify() -> Callable[[str, bytes, str], bool]:
    """The `verify` function of docs/webhook.md, run as a receiver would copy it."""
    text = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    names: dict[str, Any] = {}
    exec(code, names)
    return cast(Callable[[str, bytes, str], bool], names["verify"])


def test_golden_webhook_document_of_the_sample_digest() -> None:
    payloads = _channel("https://hooks.example.org/in").render(sample_digest())
    assert_golden(pretty(payloads), DATA / "channels" / "webhook.json")


def test_every_paper_field_is_in_the_document() -> None:
    digest = sample_digest()
    [payload] = _channel("https://hooks.example.org/in").render(digest)
    assert payload.content["version"] == VERSION
    assert payload.content["subscriber"] == {"id": 7, "email": "ana@lab.example"}
    papers = [p for topic in payload.content["topics"] for p in topic["papers"]]
    assert [p["id"] for p in papers] == [e.paper.paper_id for e in digest.entries]
    first = papers[0]
    assert first["arxiv_id"] == "2311.15127" and first["organization"] == "Stability AI"
    assert first["pdf_url"] == "https://arxiv.org/pdf/2311.15127" and first["upvotes"] == 40
    assert first["abstract"].startswith("We present Stable Video Diffusion")
    assert first["reason"]["text"] == "Matched “video diffusion” in the title"
    assert first["topic"] == "video & 3D"


def test_a_long_digest_is_split_by_max_papers_and_loses_nothing() -> None:
    digest = long_digest(25)
    payloads = _channel("https://hooks.example.org/in", max_papers=10).render(digest)
    every_paper_once(digest, payloads)
    assert [len(p.paper_ids) for p in payloads] == [10, 10, 5]
    for payload in payloads:
        shown = [p["id"] for t in payload.content["topics"] for p in t["papers"]]
        assert sorted(shown) == sorted(payload.paper_ids)
        assert payload.content["parts"] == 3


def test_the_signature_verifies_with_the_documented_recipe(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    channel = _channel(receiver.url("/in"), fake_time)
    [payload] = channel.render(sample_digest())
    assert send(channel, payload, "delivery-42").status == "sent"
    [request] = receiver.requests
    verify = _documented_verify()
    signature = request.headers["X-Paperbot-Signature"]
    assert verify(SECRET, request.body, signature)
    assert not verify(SECRET, request.body + b" ", signature)
    assert not verify("another-secret-of-length", request.body, signature)
    assert signature == sign(SECRET, request.body)
    assert request.headers["Idempotency-Key"] == "delivery-42"
    assert request.headers["X-Paperbot-Timestamp"] == str(int(NOW.timestamp()))
    document = json.loads(request.body)
    assert document["idempotency_key"] == "delivery-42"
    assert document["sent_at"] == NOW.isoformat()
    assert {k: v for k, v in document.items() if k not in ("idempotency_key", "sent_at")} == (
        json.loads(to_json(payload.content))
    )


def test_a_resend_carries_the_same_key_and_each_part_its_own(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    channel = _channel(receiver.url("/in"), fake_time, max_papers=4)
    payloads = channel.render(sample_digest())
    receiver.answer("drop")
    results = [send(channel, p, "delivery-42") for p in (payloads[0], payloads[0], payloads[1])]
    assert [r.status for r in results] == ["temporary", "sent", "sent"]
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert keys == ["delivery-42.1", "delivery-42.1", "delivery-42.2"]


def test_answers_are_classified(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver.url("/in"), fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(
        Reply(202, b""),
        Reply(429, b"slow down", {"Retry-After": "Tue, 28 Nov 2023 07:31:00 GMT"}),
        Reply(500, b"boom"),
        Reply(422, b'{"error": "unknown version"}'),
        "drop",
        "hang",
    )
    results = [send(channel, payload) for _ in range(6)]
    assert [(r.status, r.code) for r in results] == [
        ("sent", 202),
        ("temporary", 429),
        ("temporary", 500),
        ("permanent", 422),
        ("temporary", None),
        ("temporary", None),
    ]
    assert results[1].retry_after == 60.0
    assert "unknown version" in results[3].reason


def test_the_rate_is_configurable(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = WebhookChannel.from_options(
        {"url": receiver.url("/in"), "secret": SECRET, "requests": 2, "per": 10},
        limiter=fake_time.limiter(),
    )
    assert channel.config.rate == Rate(2, 10.0)
    [payload] = channel.render(sample_digest())
    for _ in range(3):
        send(channel, payload)
    assert fake_time.sleeps == pytest.approx([10.0], abs=0.01)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"url": "https://x.example/in"}, "secret"),
        ({"url": "https://x.example/in", "secret": "short"}, "secret"),
        ({"url": "mailto:x@example.org", "secret": SECRET}, "url"),
        ({"url": "https://x.example/in", "secret": SECRET, "per": 0}, "per"),
        ({"url": "https://x.example/in", "secret": SECRET, "max_papers": 2.5}, "max_papers"),
    ],
)
def test_bad_settings_are_named_without_their_values(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        WebhookChannel.from_options(options)
    assert SECRET not in str(raised.value) and "short" not in str(raised.value)


def test_no_secret_is_shown(
    receiver: Receiver, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="paperbot")
    url = receiver.url("/in/hook-path-Secret77?token=tok-Secret88")
    channel = _channel(url, fake_time)
    [payload] = channel.render(sample_digest())
    echo = f"bad signature for {SECRET} at {url}"
    receiver.answer(Reply(401, echo.encode()), "drop", "hang")
    results = [send(channel, payload) for _ in range(3)]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("paperbot")]
    shown = [repr(channel), repr(channel.config), channel.describe(), *logged]
    shown += [r.reason for r in results] + [repr(r) for r in results]
    for text in shown:
        for secret in (SECRET, "Secret77", "Secret88"):
            assert secret not in text
    assert channel.describe() == f"webhook {receiver.base}/***"

"""Matrix: room messages with plain and HTML bodies, PUT under a stable transaction id."""

import json
import logging
from html.parser import HTMLParser

import pytest

from bot.channels.base import to_json
from bot.channels.matrix import MatrixChannel, MatrixConfig, transaction_id
from bot.errors import ConfigError
from tests.channels.conftest import FakeTime, Receiver, Reply, send
from tests.channels.samples import every_paper_once, long_digest, pretty, sample_digest
from tests.conftest import DATA
from tests.golden import assert_golden

TOKEN = "syt_cGFwZXJib3Q_secretTokenValue_0x1"
ROOM = "!AbCdEf:matrix.example.org"


def _channel(homeserver: str, fake_time: FakeTime | None = None) -> MatrixChannel:
    config = MatrixConfig(homeserver, ROOM, TOKEN)
    return MatrixChannel(config, limiter=fake_time.limiter() if fake_time else None)


class _Tags(HTMLParser):
    """The start and end tags of an HTML text, to check they balance."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br":
            self.open.append(tag)
        self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag


def test_golden_matrix_messages_of_the_sample_digest() -> None:
    payloads = _channel("https://matrix.example.org").render(sample_digest())
    assert_golden(pretty(payloads), DATA / "channels" / "matrix.json")


@pytest.mark.parametrize("count", [25, 200])
def test_long_digests_fit_an_event_and_lose_nothing(count: int) -> None:
    digest = long_digest(count)
    payloads = _channel("https://matrix.example.org").render(digest)
    every_paper_once(digest, payloads)
    for payload in payloads:
        assert len(to_json(payload.content)) < 60_000
        tags = _Tags()
        tags.feed(payload.content["formatted_body"])
        assert tags.open == []
        assert "<Brackets>" not in payload.content["formatted_body"]
        assert "<Brackets>" in payload.content["body"]
    assert len(payloads) > 1


def test_a_message_is_put_into_the_room_with_the_token(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    channel = _channel(receiver.base + "/", fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(Reply(200, b'{"event_id": "$abc"}'))
    assert send(channel, payload, "delivery-42").status == "sent"
    [request] = receiver.requests
    txn = transaction_id("delivery-42", 1)
    assert request.method == "PUT"
    assert request.path == (
        f"/_matrix/client/v3/rooms/%21AbCdEf%3Amatrix.example.org/send/m.room.message/{txn}"
    )
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = json.loads(request.body)
    assert body["msgtype"] == "m.text" and body["format"] == "org.matrix.custom.html"


def test_a_resend_after_a_lost_reply_uses_the_same_transaction(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    channel = _channel(receiver.base, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer("drop", Reply(200, b'{"event_id": "$abc"}'))
    first = send(channel, payload, "delivery-42")
    second = send(channel, payload, "delivery-42")
    assert (first.status, second.status) == ("temporary", "sent")
    assert receiver.requests[0].path == receiver.requests[1].path
    assert receiver.requests[0].body == receiver.requests[1].body
    # Another delivery, or another part, is another transaction.
    assert transaction_id("delivery-43", 1) != transaction_id("delivery-42", 1)
    assert transaction_id("delivery-42", 2) != transaction_id("delivery-42", 1)


def test_answers_are_classified(receiver: Receiver, fake_time: FakeTime) -> None:
    channel = _channel(receiver.base, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(
        Reply(429, b'{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500}'),
        Reply(401, b'{"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token"}'),
        Reply(403, b'{"errcode": "M_FORBIDDEN", "error": "not in room"}'),
        Reply(503, b""),
        "hang",
    )
    results = [send(channel, payload) for _ in range(5)]
    assert [(r.status, r.code) for r in results] == [
        ("temporary", 429),
        ("permanent", 401),
        ("permanent", 403),
        ("temporary", 503),
        ("temporary", None),
    ]
    assert results[0].retry_after == 2.5
    assert "M_UNKNOWN_TOKEN" in results[1].reason
    # The next send waited out the pause the homeserver asked for.
    assert fake_time.sleeps[0] == pytest.approx(2.5)


def test_settings_are_checked_without_showing_the_token() -> None:
    options = {"homeserver": "https://m.example.org", "room_id": ROOM, "access_token": TOKEN}
    assert isinstance(MatrixChannel.from_options(options), MatrixChannel)
    for name, value in (
        ("room_id", "general"),
        ("homeserver", "m.example.org"),
        ("access_token", " "),
    ):
        with pytest.raises(ConfigError, match=name) as raised:
            MatrixChannel.from_options({**options, name: value})
        assert TOKEN not in str(raised.value)


def test_the_token_is_never_shown(
    receiver: Receiver, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="paperbot")
    channel = _channel(receiver.base, fake_time)
    [payload] = channel.render(sample_digest())
    receiver.answer(Reply(401, f'{{"error": "bad token {TOKEN}"}}'.encode()), "drop")
    results = [send(channel, payload) for _ in range(2)]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("paperbot")]
    shown = [repr(channel), repr(channel.config), channel.describe(), *logged]
    shown += [r.reason for r in results] + [repr(r) for r in results]
    assert all(TOKEN not in text for text in shown)
    assert channel.describe() == f"Matrix room {ROOM} on {receiver.base}"

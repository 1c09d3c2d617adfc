"""What channels share: HTTP outcomes, Retry-After, rate limits, packing, masking, the registry."""

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from bot.channels.base import (
    RETRY_AFTER_MAX,
    ChannelResult,
    Exchange,
    Rate,
    describe_url,
    exchange,
    http_outcome,
    mask,
    pack,
    retry_after,
)
from bot.channels.registry import CHANNELS, make_channel
from bot.errors import ConfigError
from tests.channels.conftest import CLIENT_TIMEOUT, FakeTime, Receiver, Reply

NOW = datetime(2024, 11, 22, 9, 30, tzinfo=UTC)
SECRET = "Zq81xvHh27rmPp55ab"


def _exchange(receiver: Receiver, fake_time: FakeTime, path: str = f"/hook/{SECRET}") -> Exchange:
    async def run() -> Exchange:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            request = client.build_request("POST", receiver.url(path), content=b"{}")
            return await exchange(
                client,
                request,
                limiter=fake_time.limiter(),
                rate=Rate(1, 1.0),
                limit_key=receiver.url(path),
                clock=lambda: NOW,
                secrets=(SECRET,),
                describe="test hook",
            )

    return asyncio.run(run())


# --- Outcomes over real HTTP ----------------------------------------------------------


def test_a_2xx_answer_is_sent(receiver: Receiver, fake_time: FakeTime) -> None:
    receiver.answer(Reply(204, b""))
    result = _exchange(receiver, fake_time).result
    assert result == ChannelResult("sent", "204 No Content", code=204)
    assert result.sent


def test_429_is_temporary_with_its_retry_after_in_seconds(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    receiver.answer(Reply(429, b"rate_limited", {"Retry-After": "7"}))
    result = _exchange(receiver, fake_time).result
    assert (result.status, result.retry_after, result.code) == ("temporary", 7.0, 429)
    assert "rate_limited" in result.reason


def test_429_with_an_http_date_waits_until_then(receiver: Receiver, fake_time: FakeTime) -> None:
    receiver.answer(Reply(429, b"", {"Retry-After": "Fri, 22 Nov 2024 09:31:30 GMT"}))
    assert _exchange(receiver, fake_time).result.retry_after == 90.0


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_temporary(receiver: Receiver, fake_time: FakeTime, status: int) -> None:
    receiver.answer(Reply(status, b"try later"))
    result = _exchange(receiver, fake_time).result
    assert (result.status, result.code, result.retry_after) == ("temporary", status, None)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 301])
def test_other_answers_are_permanent_with_the_reply(
    receiver: Receiver, fake_time: FakeTime, status: int
) -> None:
    receiver.answer(Reply(status, b"invalid_payload\n  at line 1"))
    result = _exchange(receiver, fake_time).result
    assert (result.status, result.code) == ("permanent", status)
    assert result.reason.endswith(": invalid_payload at line 1")


def test_a_reply_is_cut_to_one_short_line_with_secrets_masked(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    echo = f"no webhook at /hook/{SECRET}?token=abcdef1234 " + "blah " * 500
    receiver.answer(Reply(404, echo.encode()))
    result = _exchange(receiver, fake_time).result
    assert SECRET not in result.reason and "abcdef1234" not in result.reason
    assert "\n" not in result.reason and len(result.reason) <= 300


def test_a_dropped_connection_is_temporary(receiver: Receiver, fake_time: FakeTime) -> None:
    receiver.answer("drop")
    result = _exchange(receiver, fake_time).result
    assert result.status == "temporary" and result.code is None
    assert result.reason.startswith("connection failed: RemoteProtocolError")


def test_a_reply_slower_than_the_timeout_is_temporary(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    receiver.answer("hang")
    result = _exchange(receiver, fake_time).result
    assert result == ChannelResult("temporary", "timed out waiting for the service")
    assert receiver.received.is_set()


def test_a_refused_connection_is_temporary() -> None:
    # httpx's message may name the address it tried.
    error = httpx.ConnectError(f"All connection attempts failed to http://x/{SECRET}")
    result = http_outcome(error, now=NOW, secrets=(SECRET,))
    assert result.status == "temporary" and SECRET not in result.reason


def test_an_address_httpx_cannot_use_is_permanent() -> None:
    result = http_outcome(httpx.UnsupportedProtocol("ftp: no"), now=NOW)
    assert result.status == "permanent"


def test_a_429_holds_later_requests_to_the_same_destination(
    receiver: Receiver, fake_time: FakeTime
) -> None:
    receiver.answer(Reply(429, b"", {"Retry-After": "30"}), Reply())

    async def run() -> list[ChannelResult]:
        limiter = fake_time.limiter()
        results = []
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            for _ in range(2):
                request = client.build_request("POST", receiver.url("/h"), content=b"{}")
                done = await exchange(
                    client,
                    request,
                    limiter=limiter,
                    rate=Rate(5, 1.0),
                    limit_key=receiver.url("/h"),
                    clock=lambda: NOW,
                    secrets=(),
                    describe="test hook",
                )
                results.append(done.result)
        return results

    first, second = asyncio.run(run())
    assert (first.status, second.status) == ("temporary", "sent")
    assert fake_time.sleeps == [30.0]


# --- Retry-After ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("99999999", RETRY_AFTER_MAX),
        ("Fri, 22 Nov 2024 09:30:10 GMT", 10.0),
        ("Fri, 22 Nov 2024 09:00:00 GMT", 0.0),
        ("Sat, 01 Jan 2100 00:00:00 GMT", RETRY_AFTER_MAX),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after(value, NOW) == seconds


# --- Rate limits ----------------------------------------------------------------------


def test_the_limiter_keeps_within_the_rate_of_each_destination(fake_time: FakeTime) -> None:
    limiter = fake_time.limiter()

    async def run() -> None:
        for _ in range(6):
            await limiter.wait("https://a.example/hook", Rate(5, 2.0))
        await limiter.wait("https://b.example/hook", Rate(5, 2.0))

    asyncio.run(run())
    # Five at once, the sixth when the first leaves the window; the other hook waits for none.
    assert fake_time.sleeps == [2.0]


def test_concurrent_sends_to_one_destination_are_spaced(fake_time: FakeTime) -> None:
    limiter = fake_time.limiter()
    times: list[float] = []

    async def one() -> None:
        await limiter.wait("hook", Rate(1, 1.0))
        times.append(fake_time.now)

    async def run() -> None:
        await asyncio.gather(*(one() for _ in range(4)))

    asyncio.run(run())
    assert times == [1000.0, 1001.0, 1002.0, 1003.0]


def test_a_hold_pauses_a_destination(fake_time: FakeTime) -> None:
    limiter = fake_time.limiter()
    limiter.hold("hook", 12.5)
    limiter.hold("hook", 3.0)  # a shorter hold does not shorten the longer one

    asyncio.run(limiter.wait("hook", Rate(10, 1.0)))
    assert fake_time.sleeps == [12.5]
    assert "hook" not in repr(limiter)


# --- Packing --------------------------------------------------------------------------


def test_pack_keeps_order_and_both_limits() -> None:
    sizes = [5, 5, 5, 9, 1, 1, 1, 1, 1, 10]
    groups = pack(sizes, max_items=4, max_size=10)
    assert [i for g in groups for i in g] == list(range(len(sizes)))
    assert all(len(g) <= 4 and sum(sizes[i] for i in g) <= 10 for g in groups)
    assert groups == [[0, 1], [2], [3, 4], [5, 6, 7, 8], [9]]
    assert pack([], max_items=3, max_size=3) == [[]]
    with pytest.raises(ValueError, match="exceeds"):
        pack([11], max_items=3, max_size=10)


# --- Secrets --------------------------------------------------------------------------


def test_mask_hides_secrets_raw_and_encoded_and_urls_secrets() -> None:
    text = f"{SECRET} and {SECRET}%2F and https://u:pw-secret@h.example/x?api_key=k123456"
    masked = mask(text, (SECRET, SECRET + "/", "ab"))
    assert SECRET not in masked and "pw-secret" not in masked and "k123456" not in masked
    assert masked.startswith("*** and ***")  # a short "secret" is not masked everywhere


def test_describe_url_shows_only_the_host() -> None:
    assert describe_url(f"https://hooks.slack.com/services/T0/B0/{SECRET}") == (
        "https://hooks.slack.com/***"
    )
    assert describe_url("https://user:pw@example.org") == "https://***@example.org"
    assert describe_url("https://example.org/?token=abc") == "https://example.org/***"


# --- The registry ---------------------------------------------------------------------


def test_each_channel_is_registered_under_its_kind() -> None:
    assert CHANNELS and all(kind == channel.kind for kind, channel in CHANNELS.items())


def test_an_unknown_kind_or_a_bad_option_is_a_config_error_without_the_value() -> None:
    with pytest.raises(ConfigError, match="unknown channel kind 'pigeon'"):
        make_channel("pigeon", {})
    with pytest.raises(ConfigError, match="webhook_url") as raised:
        make_channel("slack", {"webhook_url": f"ftp://hooks.example/{SECRET}"})
    assert SECRET not in str(raised.value)

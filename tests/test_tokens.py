import base64
import random
from datetime import date, timedelta

import pytest
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.engine import Engine

from bot import tokens
from bot.errors import InputError
from bot.tokens import (
    FEEDBACK_MAX_AGE,
    ExpiredTokenError,
    TokenSubject,
    feed_link,
    feedback_link,
    link_subject,
    make_feed_token,
    make_feedback_token,
    make_token,
    read_feed_token,
    read_feedback_token,
    read_token,
    signing_secret,
)

ANA = TokenSubject(1, "ana@lab.org")


def test_a_token_reads_back_to_its_subscriber_and_address() -> None:
    subject = read_token("s3cret", "unsubscribe", make_token("s3cret", "unsubscribe", ANA))
    assert subject.subscriber_id == 1
    assert subject.is_for("ana@lab.org") and not subject.is_for("bo@lab.org")


def test_a_token_does_not_show_the_address() -> None:
    # Signed is not encrypted: the payload is readable, so it must not hold the address.
    token = make_token("s3cret", "manage", ANA)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"ana" not in decoded and b"lab.org" not in decoded


def test_a_token_read_back_makes_a_token_for_the_same_address() -> None:
    # The manage page links to the unsubscribe page with a token made from its own.
    manage = read_token("s3cret", "manage", make_token("s3cret", "manage", ANA))
    again = read_token("s3cret", "unsubscribe", make_token("s3cret", "unsubscribe", manage))
    assert again.subscriber_id == 1 and again.is_for("ana@lab.org")


def test_a_token_is_bound_to_its_purpose_secret_and_content() -> None:
    token = make_token("s3cret", "unsubscribe", ANA)
    with pytest.raises(InputError, match="not valid"):
        read_token("s3cret", "manage", token)
    with pytest.raises(InputError, match="not valid"):
        read_token("other", "unsubscribe", token)
    payload, signature = token.rsplit(".", 1)[0], token.rsplit(".", 1)[1]
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature
    with pytest.raises(InputError, match="not valid"):
        read_token("s3cret", "unsubscribe", tampered)
    with pytest.raises(InputError, match="not valid"):
        read_token("s3cret", "unsubscribe", "garbage")


def test_a_confirm_token_expires() -> None:
    token = make_token("s3cret", "confirm", ANA)
    with pytest.raises(InputError, match="expired"):
        read_token("s3cret", "confirm", token, max_age=-1)


def test_the_secret_is_generated_once_and_kept(engine: Engine) -> None:
    first = signing_secret(engine, "")
    assert len(first) >= 32 and signing_secret(engine, "") == first
    assert signing_secret(engine, "configured") == "configured"


TODAY = date(2025, 11, 22)


def test_a_feedback_token_reads_back_to_its_subscriber_topic_paper_and_day() -> None:
    token = make_feedback_token("s3cret", ANA, 5, 123, today=TODAY)
    found = read_feedback_token("s3cret", token, today=TODAY)
    assert (found.link.subscriber_id, found.topic_id, found.paper_id) == (1, 5, 123)
    assert found.issued == TODAY
    assert found.link.is_for("ana@lab.org") and not found.link.is_for("bo@lab.org")
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"ana" not in decoded and b"lab.org" not in decoded


def test_feedback_and_subscriber_tokens_are_not_interchangeable() -> None:
    feedback = make_feedback_token("s3cret", ANA, 5, 123, today=TODAY)
    for purpose in ("unsubscribe", "manage", "confirm"):
        with pytest.raises(InputError, match="not valid"):
            read_token("s3cret", purpose, feedback)
        with pytest.raises(InputError, match="not valid"):
            read_feedback_token("s3cret", make_token("s3cret", purpose, ANA), today=TODAY)


def test_a_feedback_token_is_bound_to_its_secret_and_content() -> None:
    token = make_feedback_token("s3cret", ANA, 5, 123, today=TODAY)
    with pytest.raises(InputError, match="not valid"):
        read_feedback_token("other", token, today=TODAY)
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature
    for bad in (tampered, "garbage", "", token + "x"):
        with pytest.raises(InputError, match="not valid"):
            read_feedback_token("s3cret", bad, today=TODAY)


def test_a_feedback_token_expires_after_ninety_days() -> None:
    token = make_feedback_token("s3cret", ANA, 5, 123, today=TODAY)
    last = TODAY + FEEDBACK_MAX_AGE
    assert FEEDBACK_MAX_AGE.days == 90
    assert read_feedback_token("s3cret", token, today=last).paper_id == 123
    with pytest.raises(ExpiredTokenError, match="expired"):
        read_feedback_token("s3cret", token, today=last + timedelta(days=1))


def test_feedback_links_name_their_direction() -> None:
    assert feedback_link("https://p.org/", "more", "t.k") == "https://p.org/feedback/more/t.k"
    assert feedback_link("https://p.org", "fewer", "t.k") == "https://p.org/feedback/fewer/t.k"


def test_a_feed_token_names_the_subscriber_the_topic_and_the_version() -> None:
    found = read_feed_token("s3cret", make_feed_token("s3cret", ANA, 7, 2))
    assert (found.link.subscriber_id, found.topic_id, found.version) == (1, 7, 2)
    assert found.link.is_for("ana@lab.org") and not found.link.is_for("bo@lab.org")
    every = read_feed_token("s3cret", make_feed_token("s3cret", ANA, None, 0))
    assert (every.topic_id, every.version) == (None, 0)


def test_a_feed_token_is_the_same_each_time_it_is_made() -> None:
    # A feed reader polls one address: the manage page must show the same one every time.
    assert make_feed_token("s3cret", ANA, 7, 0) == make_feed_token("s3cret", ANA, 7, 0)
    assert make_feed_token("s3cret", ANA, 7, 0) != make_feed_token("s3cret", ANA, 7, 1)
    assert feed_link("https://p.example/", "abc") == "https://p.example/feed/abc.atom"


def test_a_feed_token_is_no_other_token_and_cannot_be_forged() -> None:
    token = make_feed_token("s3cret", ANA, 7, 0)
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), token[:10], "", "x.y"):
        with pytest.raises(InputError):
            read_feed_token("s3cret", bad)
    with pytest.raises(InputError):
        read_feed_token("other-secret", token)
    with pytest.raises(InputError):  # a manage token is no feed token, nor the reverse
        read_feed_token("s3cret", make_token("s3cret", "manage", ANA))
    with pytest.raises(InputError):
        read_token("s3cret", "manage", token)


def test_a_link_subject_made_once_gives_the_tokens_of_its_subject() -> None:
    link = link_subject("s3cret", ANA)
    assert make_feedback_token("s3cret", link, 5, 123, today=TODAY) == make_feedback_token(
        "s3cret", ANA, 5, 123, today=TODAY
    )
    read = read_token("s3cret", "manage", make_token("s3cret", "manage", link))
    assert read.subscriber_id == ANA.subscriber_id
    assert read.is_for(ANA.email_key) and not read.is_for("bo@lab.org")


def test_tokens_are_those_itsdangerous_itself_makes_and_read_alike() -> None:
    # paperbot's serializers only skip work itsdangerous repeats for every token: the
    # same tokens, but for the rare short payload zlib would shorten by a byte or two,
    # left uncompressed; each reads the other's (links in old emails keep working).
    rng = random.Random(3)
    compressed = 0
    for _ in range(300):
        secret = f"{rng.getrandbits(rng.randint(48, 240)):x}"
        payload = [rng.randint(1, 10**9), f"{rng.getrandbits(96):024x}", rng.randint(1, 10**6),
                   rng.randint(1, 10**7), rng.choice([None, 738_000, "é"])]  # fmt: skip
        stock = URLSafeSerializer(secret, salt="paperbot-feedback")
        ours = tokens._feedback_serializer(secret)
        made = stock.dumps(payload)
        if made.startswith("."):
            compressed += 1
        else:
            assert ours.dumps(payload) == made
        assert ours.loads(made) == stock.loads(ours.dumps(payload)) == payload
        timed_stock = URLSafeTimedSerializer(secret, salt="paperbot-manage")
        timed = tokens._serializer(secret, "manage")
        assert timed_stock.loads(timed.dumps(payload)) == timed.loads(timed_stock.dumps(payload))
    assert compressed < 30  # the comparison is token for token almost every time
    # A payload long enough for zlib to pay is compressed, as itsdangerous would.
    long = ["graph neural networks " * 20]
    assert tokens._feedback_serializer("s3cret").dumps(long).startswith(".")
    assert tokens._feedback_serializer("s3cret").dumps(long) == URLSafeSerializer(
        "s3cret", salt="paperbot-feedback"
    ).dumps(long)


def test_a_feed_address_is_made_as_itsdangerous_makes_it() -> None:
    # Given out once and polled for years: the same address as before, zlib or not.
    for payload in ([1, "a" * 24, None, 0], [7, "0" * 24, 123456, 738000]):
        made = tokens._feed_serializer("s3cret").dumps(payload)
        assert made == URLSafeSerializer("s3cret", salt="paperbot-feed").dumps(payload)

import base64

import pytest
from sqlalchemy.engine import Engine

from bot.errors import InputError
from bot.tokens import TokenSubject, make_token, read_token, signing_secret

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

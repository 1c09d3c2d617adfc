"""Digest emails: parts, charsets, headers, unsubscribe headers, header injection."""

import dataclasses
import quopri
import random
import re
import string
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from aiosmtplib.email import extract_sender

from bot.delivery.transports import FileTransport, Outgoing, data_section
from bot.digest.message import POLICY, _encoded_body, _header_line, build_message
from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.digest.render import DigestRenderer
from tests.conftest import DATA
from tests.digest.test_render import SAMPLE
from tests.golden import assert_golden, mask_email

NOW = datetime(2024, 11, 22, 9, 30, tzinfo=UTC)
RENDERER = DigestRenderer()


def _send(digest: Digest = SAMPLE, **kwargs: str) -> tuple[bytes, EmailMessage]:
    """Build the message, serialise it as SMTP would, and parse it back."""
    options: dict[str, str] = {"sender": "paperbot <bot@example.org>", "domain": "example.org"}
    options.update(kwargs)
    message = build_message(digest, renderer=RENDERER, now=NOW, **options)
    raw = bytes(message)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def _titled(title: str) -> Digest:
    paper = DigestPaper(1, title, "An abstract.", arxiv_id="2411.00001")
    reason = MatchReason("t", "kw", "abstract", "An abstract.", (3, 11), 1.0)
    return Digest(
        7,
        "ana@lab.org",
        date(2024, 11, 22),
        (DigestSection("t", (DigestEntry(paper, reason, 1.0),)),),
        unsubscribe_url="https://papers.example.org/u/abc",
    )


def _bodies(parsed: EmailMessage) -> tuple[str, str]:
    text, html = parsed.iter_parts()
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


def test_parts_text_then_html_in_utf8() -> None:
    raw, parsed = _send()
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    # The text holds non-ASCII letters; the HTML spells them as character references.
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["quoted-printable", "7bit"]
    text, html = _bodies(parsed)
    assert text.replace("\r\n", "\n") == RENDERER.text(SAMPLE)
    rendered = RENDERER.html(SAMPLE)
    assert html.replace("\r\n", "\n") == "".join(
        c if c.isascii() else f"&#{ord(c)};" for c in rendered
    )
    assert "Fréchet" in text and "Chloé" in rendered and "Chlo&#233;" in html
    # Ready for SMTP: ASCII only, CRLF line ends, no line over 998 characters.
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


@pytest.mark.parametrize(
    ("title", "encodings"),
    [
        ("Plain title", ["7bit", "7bit"]),
        # Too long a line to send as it is (over 998 characters): quoted-printable.
        ("Plain " * 200, ["quoted-printable", "quoted-printable"]),
        ("Ünïcode title", ["quoted-printable", "7bit"]),
    ],
    ids=["ascii", "long-line", "non-ascii"],
)
def test_each_part_is_sent_as_it_is_when_it_can_be(title: str, encodings: list[str]) -> None:
    digest = _titled(title)
    raw, parsed = _send(digest)
    parts = list(parsed.iter_parts())
    assert [p["Content-Transfer-Encoding"] for p in parts] == encodings
    text, html = _bodies(parsed)
    assert text.replace("\r\n", "\n") == RENDERER.text(digest)
    assert title.strip() in text and (title.strip() in html or "&#220;n&#239;code" in html)
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_a_part_body_decodes_to_its_text_with_normalised_line_ends() -> None:
    # Texts as templates may make them: any line ends, lines around the 998 limit,
    # other characters; 7bit exactly when nothing needs encoding.
    rng = random.Random(5)
    pieces = ["ab ", "\n", "\r\n", "\r", "é", "x" * 997, "."]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        encoding, body = _encoded_body(text)
        lines = re.split(r"\r\n|\r|\n", text)
        if lines[-1] == "":
            lines.pop()
        expected = "\n".join(lines) + "\n"
        plain = expected.isascii() and all(len(line) <= 998 for line in lines)
        assert encoding == ("7bit" if plain else "quoted-printable"), repr(text)
        decoded = body if plain else quopri.decodestring(body.encode()).decode("utf-8")
        assert decoded == expected, repr(text)
        assert body.isascii() and all(len(line) <= 998 for line in body.split("\n"))


def test_headers() -> None:
    _, parsed = _send()
    assert parsed["From"] == "paperbot <bot@example.org>"
    assert parsed["To"] == "ana@lab.org"
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert re.fullmatch(r"<[^@<>\s]+@example\.org>", parsed["Message-ID"])
    assert parsed["Subject"] == RENDERER.subject(SAMPLE)
    assert parsed["MIME-Version"] == "1.0"


def test_message_ids_are_unique() -> None:
    ids = {_send()[1]["Message-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_html_part_escapes_titles_and_links() -> None:
    _, parsed = _send(_titled("<script>alert(1)</script> & friends"))
    text, html = _bodies(parsed)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert 'href="https://arxiv.org/abs/2411.00001"' in html
    assert 'href="https://papers.example.org/u/abc"' in html
    assert "<script>alert(1)</script> & friends" in text  # plain text shows it as written
    assert "Unsubscribe: https://papers.example.org/u/abc" in text


def test_list_unsubscribe_one_click_for_https() -> None:
    _, parsed = _send(unsubscribe_mailto="unsub@example.org")
    assert parsed["List-Unsubscribe"] == (
        "<https://papers.example.org/u/abc?t=1&s=2>, <mailto:unsub@example.org>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_mailto_url_kept_as_given() -> None:
    _, parsed = _send(unsubscribe_mailto="mailto:unsub@example.org?subject=stop")
    assert parsed["List-Unsubscribe"].endswith(", <mailto:unsub@example.org?subject=stop>")


def test_no_one_click_without_https() -> None:
    plain_http = dataclasses.replace(SAMPLE, unsubscribe_url="http://papers.example.org/u/abc")
    _, parsed = _send(plain_http)
    assert parsed["List-Unsubscribe"] == "<http://papers.example.org/u/abc>"
    assert parsed["List-Unsubscribe-Post"] is None
    only_mail = dataclasses.replace(SAMPLE, unsubscribe_url=None)
    _, parsed = _send(only_mail, unsubscribe_mailto="unsub@example.org")
    assert parsed["List-Unsubscribe"] == "<mailto:unsub@example.org>"
    assert parsed["List-Unsubscribe-Post"] is None
    _, parsed = _send(only_mail)
    assert parsed["List-Unsubscribe"] is None and parsed["List-Unsubscribe-Post"] is None


def test_long_unsubscribe_url_stays_a_url() -> None:
    url = "https://papers.example.org/u/" + "a1b2c3d4" * 25 + "?t=1,2"
    raw, parsed = _send(
        dataclasses.replace(SAMPLE, unsubscribe_url=url), unsubscribe_mailto="unsub@example.org"
    )
    assert parsed["List-Unsubscribe"] == f"<{url}>, <mailto:unsub@example.org>"
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0].split(b"Subject:")[0]


def test_title_cannot_add_a_header() -> None:
    raw, parsed = _send(_titled("Great paper\r\nBcc: x@y.org\r\n\r\nbody"))
    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in raw
    assert parsed["Subject"] == "Paper digest: Great paper Bcc: x@y.org body"
    assert len(parsed.keys()) == len(set(parsed.keys()))


def test_long_non_ascii_subject_folds_and_round_trips() -> None:
    title = "Über die Fréchet-Distanz: " + "sehr lange Überschrift " * 12
    raw, parsed = _send(_titled(title))
    subject = RENDERER.subject(_titled(title))
    assert parsed["Subject"] == subject
    assert len(subject) <= 200
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_lines = re.search(r"Subject:.*?\r\n(?! )", head + "\r\nX", re.DOTALL)
    assert subject_lines is not None
    assert subject_lines[0].count("\r\n") > 1  # folded over several lines
    assert all(len(line) <= 78 for line in subject_lines[0].split("\r\n"))


def test_sender_with_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        _send(sender="bot@example.org\r\nBcc: x@y.org")


def test_a_long_subject_parses_back_without_a_leading_space() -> None:
    digest = _titled(
        "Forward Learning of Graph Neural Networks for Very Large Heterogeneous Graphs"
    )
    _, parsed = _send(digest)
    assert parsed["Subject"] == RENDERER.subject(digest)
    assert len(parsed["Subject"]) > 78 and not parsed["Subject"].startswith(" ")


def test_long_plain_subjects_are_folded_as_the_policy_folds_them() -> None:
    # Folded without the policy (a tenth of its time): the same lines, for values of
    # every shape the shortcut takes, and the policy's own for every other.
    rng = random.Random(7)
    alphabets = [string.ascii_letters, string.ascii_letters + string.digits + ".,:;!?-'&",
                 string.printable.strip(), "é" + string.ascii_letters]  # fmt: skip
    for _ in range(3000):
        alphabet = rng.choice(alphabets)
        words = [
            "".join(rng.choice(alphabet) for _ in range(rng.choice([1, 3, 8, 20, 60, 61, 70])))
            for _ in range(rng.randint(1, 25))
        ]
        value = " ".join(words)
        _, parsed = POLICY.header_store_parse("Subject", value)
        stored, line = _header_line("Subject", value)
        assert line == parsed.fold(policy=POLICY), value
        assert str(stored) == value


@pytest.mark.parametrize(
    "digest",
    [
        SAMPLE,
        _titled("Plain title"),
        _titled("Ünïcode title with a =?utf-8?q?marker?= and more words to make it fold " * 3),
        dataclasses.replace(SAMPLE, email="o'brien+digest@sub.lab.org"),
        dataclasses.replace(SAMPLE, email="\u00e9l\u00e8ve@lab.org"),
    ],
    ids=["sample", "plain", "long-non-ascii", "plus-address", "non-ascii-address"],
)
@pytest.mark.parametrize("mailto", [None, "u@lab.org", "unsubscribe-digests@example.org"])
def test_wire_form_is_what_the_policy_serialises(digest: Digest, mailto: str | None) -> None:
    # Transports send `wire`: byte for byte the message's own serialisation, and its
    # headers exactly as the policy folds them when each is parsed (plain headers are
    # written without parsing).
    message = build_message(
        digest, renderer=RENDERER, sender="paperbot <bot@example.org>", now=NOW,
        domain="example.org", unsubscribe_mailto=mailto,
    )  # fmt: skip
    wire = getattr(message, "wire", None)
    assert wire is not None
    assert wire == bytes(message)
    assert getattr(message, "data", None) == data_section(wire)
    parsed = [POLICY.header_store_parse(name, value) for name, value in message.raw_items()]
    folded = "".join(header.fold(policy=POLICY) for _, header in parsed)
    assert wire.decode("ascii").split("\r\n\r\n", 1)[0] + "\r\n" == folded
    # The subject it carries is the rendered one; the header reads back as the same
    # text, but where the text looks like an encoded word (the policy decodes those).
    assert message.subject == RENDERER.subject(digest)
    if "=?" not in message.subject:
        assert message.subject == str(message["Subject"])


def test_the_data_section_doubles_the_dots_an_operators_template_starts_lines_with(
    tmp_path: Path,
) -> None:
    (tmp_path / "email.txt").write_text(".signature\n..two dots\n.\n", encoding="utf-8")
    message = build_message(
        SAMPLE, renderer=DigestRenderer(tmp_path), sender="bot@example.org", now=NOW,
        domain="example.org",
    )  # fmt: skip

    assert message.wire is not None and b"\r\n.signature\r\n..two dots\r\n.\r\n" in message.wire
    assert message.data is not None and message.data == data_section(message.wire)
    assert b"\r\n..signature\r\n...two dots\r\n..\r\n" in message.data
    assert message.data.endswith(b"\r\n.\r\n")


@pytest.mark.parametrize(
    "sender",
    [
        "bot@example.org",
        "paperbot <bot@example.org>",
        '"Lab, Inc." <x.y@lab.org>',
        "Ünï <u@ex.org>",
    ],
)
def test_a_message_carries_the_envelope_sender_smtp_clients_read_from_its_headers(
    sender: str,
) -> None:
    message = build_message(SAMPLE, renderer=RENDERER, sender=sender, now=NOW, domain="example.org")

    assert message.envelope_sender is not None
    assert message.envelope_sender == extract_sender(message)


def test_changing_a_built_message_drops_its_serialised_forms() -> None:
    message = build_message(
        SAMPLE, renderer=RENDERER, sender="bot@example.org", now=NOW, domain="example.org"
    )
    assert message.wire is not None and message.data is not None
    assert message.envelope_sender is not None and message.subject is not None

    message["Reply-To"] = "lab@example.org"

    assert message.wire is None and message.data is None and message.envelope_sender is None
    assert message.subject is None


def test_golden_eml(tmp_path: Path) -> None:
    """The sample digest as the outbox writes it, compared with `tests/data/digest/sample.eml`.

    Byte for byte but for the Message-ID, Date and MIME boundary, masked
    (`tests.golden.mask_email`). After a deliberate change to the templates or the
    message, write it again with `PAPERBOT_REGENERATE_GOLDEN=1 .venv/bin/pytest -k golden tests`
    and review the file's diff.
    """
    message = build_message(
        SAMPLE, renderer=RENDERER, sender="paperbot <bot@example.org>", now=NOW,
        domain="example.org", unsubscribe_mailto="unsub@example.org",
    )  # fmt: skip
    outbox = FileTransport(tmp_path)
    item = Outgoing("golden", SAMPLE.email, message)
    [result] = outbox.send([item])
    assert result.accepted, result.reply
    assert_golden(mask_email(outbox.path_for(item).read_bytes()), DATA / "digest" / "sample.eml")

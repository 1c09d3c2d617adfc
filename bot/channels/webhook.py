"""A generic webhook: the digest as a signed, versioned JSON document POSTed to any URL.

The document (`docs/webhook.md` describes it) carries every field paperbot knows of
each paper, the reason it matched and its topic, and says whose digest it is and for
which day. Each request is signed with the channel's secret (`X-Paperbot-Signature`:
an HMAC-SHA256 of the raw body) and carries an `Idempotency-Key` that stays the same
when the request is sent again, so a receiver can drop the duplicate.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

import httpx

from bot.channels.base import (
    ChannelResult,
    HttpChannel,
    PaperViewer,
    Payload,
    Rate,
    RateLimiter,
    describe_url,
    exchange,
    number_option,
    pack,
    text_option,
    to_json,
    url_option,
    url_secrets,
)
from bot.digest.model import Digest, DigestEntry
from bot.digest.render import make_paper_view, match_line
from bot.errors import ConfigError
from bot.urls import web_url

VERSION = 1
"""The version of the document; a change that could break a receiver makes it 2."""

DEFAULT_RATE = Rate(5, 1.0)
"""Requests to one webhook, unless its settings say otherwise (`requests`, `per`)."""

DEFAULT_MAX_PAPERS = 100
"""Papers per request, unless the settings say otherwise (`max_papers`)."""

SECRET_MIN = 16
"""A signing secret shorter than this is refused: it could be guessed."""


@dataclass(frozen=True)
class WebhookConfig:
    """Where to POST, the secret to sign with, and how fast and how much to send."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    rate: Rate = DEFAULT_RATE
    max_papers: int = DEFAULT_MAX_PAPERS

    def describe(self) -> str:
        """ "webhook https://example.org/***": the host only."""
        return f"webhook {describe_url(self.url)}"


def sign(secret: str, body: bytes) -> str:
    """The `X-Paperbot-Signature` of `body`: "sha256=" and the hex HMAC-SHA256 with `secret`."""
    mac = hmac.new(secret.encode("utf-8"), body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def part_key(idempotency_key: str, payload: Payload) -> str:
    """The idempotency key of one request: the delivery's, with the part's number when split."""
    return idempotency_key if payload.parts == 1 else f"{idempotency_key}.{payload.part}"


def paper_document(entry: DigestEntry, paper_view: PaperViewer) -> dict[str, Any]:
    """Everything known of one entry's paper, its topic and why it matched."""
    paper = entry.paper
    view = paper_view(paper)
    reason = entry.reason
    return {
        "id": paper.paper_id,
        "title": view.title,
        "link": view.link,
        "url": web_url(paper.url),
        "hf_url": view.hf_url,
        "arxiv_id": paper.arxiv_id,
        "arxiv_url": view.arxiv_url,
        "pdf_url": view.pdf_url,
        "authors": list(paper.authors),
        "author_count": paper.author_count,
        "organization": paper.organization,
        "date": paper.paper_date.isoformat() if paper.paper_date else None,
        "upvotes": paper.upvotes,
        "comments": paper.comments,
        "github_stars": paper.github_stars,
        "code_urls": list(view.code_urls),
        "project_urls": list(view.project_urls),
        "summary": view.summary,
        "ai_summary": paper.ai_summary,
        "abstract": view.abstract,
        "topic": reason.topic,
        "score": entry.score,
        "reason": {
            "text": match_line(reason),
            "kind": reason.kind,
            "keyword": reason.keyword,
            "field": reason.field,
            "label": reason.label,
            "snippet": reason.snippet,
            "snippet_span": list(reason.snippet_span),
            "similarity": reason.similarity,
            "trending": reason.trending,
        },
        "feedback": (
            {"more_url": entry.feedback.more_url, "fewer_url": entry.feedback.fewer_url}
            if entry.feedback
            else None
        ),
    }


class WebhookChannel(HttpChannel[WebhookConfig]):
    """POSTs signed JSON digests to any HTTP endpoint."""

    kind: ClassVar[str] = "webhook"

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], *, limiter: RateLimiter | None = None
    ) -> Self:
        """A channel from its settings: `url`, `secret`; `requests` per `per` seconds and
        `max_papers` per request, optional."""
        secret = text_option(options, "secret", cls.kind)
        if len(secret) < SECRET_MIN:
            raise ConfigError(
                f"{cls.kind} channel: `secret` must be {SECRET_MIN} characters or more"
            )
        requests = number_option(options, "requests", cls.kind, DEFAULT_RATE.requests)
        per = number_option(options, "per", cls.kind, DEFAULT_RATE.per)
        max_papers = number_option(options, "max_papers", cls.kind, DEFAULT_MAX_PAPERS)
        if requests != int(requests) or max_papers != int(max_papers):
            raise ConfigError(
                f"{cls.kind} channel: `requests` and `max_papers` must be whole numbers"
            )
        config = WebhookConfig(
            url_option(options, "url", cls.kind),
            secret,
            Rate(int(requests), per),
            int(max_papers),
        )
        return cls(config, limiter=limiter)

    def render(self, digest: Digest, *, paper_view: PaperViewer = make_paper_view) -> list[Payload]:
        """Version 1 documents of up to `max_papers` papers each, grouped by topic."""
        entries = digest.entries
        groups = pack(
            [1] * len(entries), max_items=self.config.max_papers, max_size=self.config.max_papers
        )
        payloads = []
        for number, group in enumerate(groups, start=1):
            chosen = {id(entries[index]) for index in group}
            topics = []
            for section in digest.sections:
                papers = [paper_document(e, paper_view) for e in section.entries if id(e) in chosen]
                if papers:
                    topics.append(
                        {"topic": section.topic, "topic_id": section.topic_id, "papers": papers}
                    )
            content = {
                "version": VERSION,
                "type": "paperbot.digest",
                "day": digest.day.isoformat(),
                "subscriber": {"id": digest.subscriber_id, "email": digest.email},
                "part": number,
                "parts": len(groups),
                "more": digest.more,
                "manage_url": web_url(digest.manage_url),
                "unsubscribe_url": web_url(digest.unsubscribe_url),
                "topics": topics,
            }
            ids = tuple(entries[index].paper.paper_id for index in group)
            payloads.append(Payload(number, len(groups), content, ids))
        return payloads

    @staticmethod
    def body(payload: Payload, idempotency_key: str, now: datetime) -> bytes:
        """The bytes POSTed: the payload's document with its request's key and time."""
        document = {
            **payload.content,
            "idempotency_key": part_key(idempotency_key, payload),
            "sent_at": now.isoformat(),
        }
        return to_json(document)

    async def send(
        self, client: httpx.AsyncClient, payload: Payload, *, idempotency_key: str
    ) -> ChannelResult:
        """POST the signed document; a resend carries the same `Idempotency-Key`."""
        # The time is in the signed body too, so a receiver can refuse an old request
        # replayed with a fresh timestamp header.
        now = self.clock()
        body = self.body(payload, idempotency_key, now)
        request = client.build_request(
            "POST",
            self.config.url,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Paperbot-Signature": sign(self.config.secret, body),
                "X-Paperbot-Timestamp": str(int(now.timestamp())),
                "Idempotency-Key": part_key(idempotency_key, payload),
            },
        )
        done = await exchange(
            client,
            request,
            limiter=self.limiter,
            rate=self.config.rate,
            limit_key=self.config.url,
            clock=self.clock,
            secrets=(self.config.secret, *url_secrets(self.config.url)),
            describe=self.describe(),
        )
        return done.result

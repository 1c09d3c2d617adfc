"""What a delivery run did, and how it adds up: one vocabulary for every place that says so (pure).

`paperbot digest`, its `--dry-run`, the run record that `paperbot report` reads
and the service's log line all count a run with `count_outcomes` and word it
with `summarise`, so the same run reads the same words and numbers everywhere:

    12 delivered (10 by email, 2 as Markdown), 1 failed, 3 skipped
    would send 12 (10 by email, 2 as Markdown), 3 skipped

One outcome is one subscriber on one channel: a subscriber with an email and a
Markdown file who got both counts twice, once by email and once as Markdown;
digests to chat channels and webhooks are counted together, "to chat channels".
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did for one subscriber on one channel, and why."""

    email: str
    channel: str  # "email", "markdown", or "" when nothing was made
    status: str  # "sent", "failed", "skipped" or, in a dry run, "would send"
    reason: str
    papers: int = 0
    routine: bool = False  # skipped as the schedule intends: not due, nothing new, paused


DONE = frozenset({"sent", "would send"})
"""The statuses of a digest delivered, or that a dry run would deliver: all others want a look."""


def needs_attention(outcome: Outcome) -> bool:
    """Whether an outcome is worth a reader's look: a failure, or a skip the schedule did not intend.

    A weekly reader not due today, or a topic with nothing new, is the schedule
    working; a run stopped or taken over before it sent a digest is not.
    """
    return outcome.status not in DONE and not outcome.routine


def as_detail(outcome: Outcome) -> dict[str, str]:
    """The row of the run record for `outcome`: target, outcome and reason, and "routine"
    ("yes") for a skip the schedule intends, so that `paperbot report` can leave it out."""
    row = {"target": outcome.email, "outcome": outcome.status, "reason": outcome.reason}
    if outcome.routine:
        row["routine"] = "yes"
    return row


@dataclass(frozen=True)
class OutcomeCounts:
    """A run's outcomes added up.

    `emails` and `markdown` count the digests delivered on each channel (an
    email the server accepted or written to the outbox, a Markdown file
    written); in a dry run (`dry_run`), those it would deliver.
    """

    subscribers: int = 0
    emails: int = 0
    markdown: int = 0
    chats: int = 0
    failed: int = 0
    skipped: int = 0
    dry_run: bool = False

    @property
    def delivered(self) -> int:
        """Digests delivered (or that a dry run would deliver), on every channel."""
        return self.emails + self.markdown + self.chats

    @property
    def status(self) -> str:
        """The run's status: "failed" when nothing was delivered and something failed."""
        if self.failed and not self.delivered:
            return "failed"
        return "partial" if self.failed else "ok"

    def as_record(self) -> dict[str, int]:
        """The counts as a delivery run's record keeps them (and the service logs them)."""
        return {
            "subscribers": self.subscribers,
            "delivered": self.delivered,
            "emails": self.emails,
            "markdown": self.markdown,
            "chats": self.chats,
            "failed": self.failed,
            "skipped": self.skipped,
        }

    @classmethod
    def from_record(cls, counts: Mapping[str, int]) -> "OutcomeCounts":
        """The counts of a recorded delivery run, also one recorded before `as_record`.

        Those kept the emails as "sent" beside "markdown".
        """
        return cls(
            subscribers=counts.get("subscribers", 0),
            emails=counts.get("emails", counts.get("sent", 0)),
            markdown=counts.get("markdown", 0),
            chats=counts.get("chats", 0),
            failed=counts.get("failed", 0),
            skipped=counts.get("skipped", 0),
        )


@dataclass(frozen=True)
class DeliveryReport:
    """Everything one run did, and its counts; `run_id` and `round_id` are None for a dry run.

    `counts` are added up once, by the run: its rows may be on disk (`OutcomeLog`),
    and each reading of them decodes every row again.
    """

    run_id: int | None
    outcomes: Sequence[Outcome]
    counts: OutcomeCounts
    round_id: int | None = None


def count_outcomes(outcomes: Iterable[Outcome], *, dry_run: bool = False) -> OutcomeCounts:
    """Add up a run's outcomes, in one pass; in a dry run, what it would send counts as delivered."""
    done = "would send" if dry_run else "sent"
    subscribers: set[str] = set()
    by_status: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    for outcome in outcomes:
        subscribers.add(outcome.email)
        by_status[outcome.status] += 1
        if outcome.status == done:
            channel = outcome.channel
            delivered[channel if channel in ("email", "markdown") else "chat"] += 1
    return OutcomeCounts(
        subscribers=len(subscribers),
        emails=delivered["email"],
        markdown=delivered["markdown"],
        chats=delivered["chat"],
        failed=by_status["failed"],
        skipped=by_status["skipped"],
        dry_run=dry_run,
    )


def summarise(counts: OutcomeCounts) -> str:
    """One line saying what a run did, or what a dry run would do."""
    channels = ""
    if counts.delivered:
        chats = f", {counts.chats} to chat channels" if counts.chats else ""
        channels = f" ({counts.emails} by email, {counts.markdown} as Markdown{chats})"
    if counts.dry_run:
        return f"would send {counts.delivered}{channels}, {counts.skipped} skipped"
    return (
        f"{counts.delivered} delivered{channels}, {counts.failed} failed, {counts.skipped} skipped"
    )

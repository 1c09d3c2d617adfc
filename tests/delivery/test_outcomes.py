"""How a delivery run's outcomes add up and are worded: the same numbers and words everywhere."""

from bot.delivery.outcomes import Outcome, OutcomeCounts, count_outcomes, needs_attention, summarise

RUN = [
    Outcome("ana@lab.org", "email", "sent", "250 OK", 3),
    Outcome("ana@lab.org", "markdown", "sent", "/digests/ana.md", 3),
    Outcome("bo@lab.org", "email", "sent", "250 OK", 1),
    Outcome("cy@lab.org", "email", "failed", "550 no such user", 2),
    Outcome("di@lab.org", "", "skipped", "no new matching papers"),
]


def test_a_run_counts_each_subscriber_and_channel_once() -> None:
    counts = count_outcomes(RUN)
    assert counts == OutcomeCounts(subscribers=4, emails=2, markdown=1, failed=1, skipped=1)
    assert counts.delivered == 3 and counts.status == "partial"
    assert summarise(counts) == ("3 delivered (2 by email, 1 as Markdown), 1 failed, 1 skipped")


def test_a_dry_run_says_what_it_would_send() -> None:
    planned = [
        Outcome("ana@lab.org", "markdown", "would send", "Markdown digest", 3),
        Outcome("ana@lab.org", "email", "would send", "Your digest", 3),
        Outcome("di@lab.org", "", "skipped", "no topics"),
    ]
    counts = count_outcomes(planned, dry_run=True)
    assert summarise(counts) == "would send 2 (1 by email, 1 as Markdown), 1 skipped"
    assert summarise(count_outcomes([], dry_run=True)) == "would send 0, 0 skipped"


def test_chat_channels_count_as_delivered_and_are_named_only_when_there_are_some() -> None:
    rows = [
        Outcome("ana@lab.org", "lab-slack", "sent", "200 OK", 3),
        Outcome("ana@lab.org", "email", "sent", "250 OK", 3),
        Outcome("bo@lab.org", "bo-hook", "failed", "500 Internal Server Error", 2),
    ]
    counts = count_outcomes(rows)
    assert (counts.delivered, counts.chats, counts.status) == (2, 1, "partial")
    assert summarise(counts) == (
        "2 delivered (1 by email, 0 as Markdown, 1 to chat channels), 1 failed, 0 skipped"
    )
    assert OutcomeCounts.from_record(counts.as_record()) == counts


def test_the_record_reads_back_as_the_same_counts_and_words() -> None:
    counts = count_outcomes(RUN)
    record = counts.as_record()
    assert record == {
        "subscribers": 4, "delivered": 3, "emails": 2, "markdown": 1, "chats": 0, "failed": 1,
        "skipped": 1,
    }  # fmt: skip
    assert OutcomeCounts.from_record(record) == counts
    assert summarise(OutcomeCounts.from_record(record)) == summarise(counts)


def test_a_run_recorded_before_the_counts_had_their_names_reads_the_same() -> None:
    # Older records kept the emails as "sent" beside "markdown".
    older = {"subscribers": 4, "sent": 2, "markdown": 1, "failed": 1, "skipped": 1}
    assert OutcomeCounts.from_record(older) == count_outcomes(RUN)


def test_a_run_that_delivered_nothing_and_failed_failed() -> None:
    assert count_outcomes(RUN[3:]).status == "failed"
    assert count_outcomes(RUN[4:]).status == "ok"
    assert summarise(count_outcomes(RUN[4:])) == "0 delivered, 0 failed, 1 skipped"


def test_failures_and_unscheduled_skips_need_a_look_but_the_schedules_own_do_not() -> None:
    rows = [
        Outcome("ana@lab.org", "email", "sent", "250 OK", 3),
        Outcome("bo@lab.org", "email", "failed", "550 no such user", 2),
        Outcome("cy@lab.org", "email", "skipped", "the run was stopped: still due"),
        Outcome("di@lab.org", "", "skipped", "no new matching papers", routine=True),
        Outcome("ed@lab.org", "markdown", "would send", "Markdown digest", 1),
    ]
    assert [o.email for o in rows if needs_attention(o)] == ["bo@lab.org", "cy@lab.org"]

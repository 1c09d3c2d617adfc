"""The manage page's preview, as a pure function of papers and the form's topics; its index cache."""

import threading
from datetime import UTC, date, datetime, timedelta

from bot.matching.similarity import MAX_LEVEL, Example, Topic, paper_terms
from bot.subscriptions.spec import split_keywords
from bot.web.preview import (
    MAX_TOPICS,
    FormTopic,
    PaperSetVersion,
    PreviewIndexCache,
    RecentPaper,
    build_preview,
    window_days,
    window_start,
)

FILLER = "We evaluate on standard benchmarks and release our code."

PAPERS = [
    RecentPaper(1, "Diffusion models for video", f"A method. {FILLER}", date(2025, 11, 20), 3),
    RecentPaper(2, "A study of sampling", f"We sample from diffusion models fast. {FILLER}"),
    RecentPaper(3, "Graph neural networks at scale", f"Message passing. {FILLER}", upvotes=50),
    RecentPaper(4, "Protein folding", f"We fold proteins with graph neural networks. {FILLER}"),
    RecentPaper(5, "Reinforcement learning for robots", f"Policies. {FILLER}"),
]


def _titles(*topics: FormTopic, papers: list[RecentPaper] = PAPERS) -> list[str]:
    return [entry.title for entry in build_preview(papers, topics).entries]


def test_the_papers_are_those_the_keywords_match_best_first() -> None:
    # A title match ranks above an abstract match, whatever the upvotes.
    assert _titles(FormTopic("t", ("diffusion models",))) == [
        "Diffusion models for video",
        "A study of sampling",
    ]
    assert _titles(FormTopic("t", ("graph neural network",))) == [
        "Graph neural networks at scale",
        "Protein folding",
    ]


def test_exclusions_veto_papers() -> None:
    topic = FormTopic("t", ("graph neural network",), ("protein",))
    assert _titles(topic) == ["Graph neural networks at scale"]


def test_each_entry_explains_itself_with_the_matched_text_apart() -> None:
    [entry] = build_preview(PAPERS, [FormTopic("proteins", ("folding",))]).entries
    assert (entry.topic, entry.keyword, entry.field) == ("proteins", "folding", "title")
    assert (entry.before, entry.matched, entry.after) == ("Protein ", "folding", "")
    assert not entry.close
    [abstract] = build_preview(PAPERS, [FormTopic("t", ("message passing",))]).entries
    assert abstract.field == "abstract"
    assert abstract.matched == "Message passing"
    assert abstract.before == "" and abstract.after.startswith(". We evaluate")


def test_a_paper_matched_by_two_topics_appears_once_naming_both() -> None:
    topics = [FormTopic("video", ("video",)), FormTopic("gen", ("diffusion models",))]
    preview = build_preview(PAPERS, topics)
    assert [e.title for e in preview.entries].count("Diffusion models for video") == 1
    first = preview.entries[0]
    assert first.title == "Diffusion models for video"
    assert set(first.topics) == {"video", "gen"}
    assert first.topic == first.topics[0]


def test_a_typo_is_forgiven_and_said_to_be_a_close_match() -> None:
    [entry] = build_preview(PAPERS, [FormTopic("t", ("reinforcment learning",))]).entries
    assert entry.title == "Reinforcement learning for robots"
    assert entry.close


def test_at_most_the_limit_is_shown_and_the_total_is_counted() -> None:
    papers = [RecentPaper(n, f"Paper {n} on diffusion", FILLER) for n in range(1, 26)]
    preview = build_preview(papers, [FormTopic("t", ("diffusion",))])
    assert len(preview.entries) == 10
    assert (preview.matched, preview.searched) == (25, 25)
    assert len(build_preview(papers, [FormTopic("t", ("diffusion",))], limit=3).entries) == 3


def test_unusable_keywords_are_left_out_with_a_note_and_the_rest_still_previewed() -> None:
    preview = build_preview(PAPERS, [FormTopic("t", ("!!!", "folding"), ("???",))])
    assert [e.title for e in preview.entries] == ["Protein folding"]
    assert len(preview.notes) == 2
    assert "'!!!'" in preview.notes[0] and "left out" in preview.notes[0]
    assert "exclusion" in preview.notes[1]


def test_no_usable_topic_or_no_paper_gives_an_empty_preview() -> None:
    empty = build_preview(PAPERS, [])
    assert (empty.entries, empty.matched, empty.searched) == ((), 0, 5)
    assert build_preview(PAPERS, [FormTopic("t", ("%%%",))]).entries == ()
    assert build_preview([], [FormTopic("t", ("diffusion",))]).searched == 0


def test_topics_beyond_the_cap_are_not_previewed() -> None:
    topics = [FormTopic(f"t{n}", ("nothing here",)) for n in range(MAX_TOPICS)]
    topics.append(FormTopic("late", ("folding",)))
    preview = build_preview(PAPERS, topics)
    assert preview.entries == ()
    assert any(str(MAX_TOPICS) in note for note in preview.notes)


def _link(paper: RecentPaper) -> str | None:
    [entry] = build_preview([paper], [FormTopic("t", ("folding",))]).entries
    return entry.link


def test_links_go_to_the_paper_and_never_to_a_non_web_url() -> None:
    def paper(**fields: str) -> RecentPaper:
        return RecentPaper(1, "Protein folding", "We fold.", **fields)  # type: ignore[arg-type]

    assert _link(paper(arxiv_id="2411.01234")) == "https://arxiv.org/abs/2411.01234"
    assert _link(
        paper(hf_url="https://huggingface.co/papers/2411.01234", arxiv_id="2411.01234")
    ) == ("https://huggingface.co/papers/2411.01234")
    assert _link(paper(url="https://lab.org/p")) == "https://lab.org/p"
    search = "https://arxiv.org/search/?query=%22Protein+folding%22&searchtype=title"
    assert _link(paper(url="javascript:alert(1)")) == search
    assert _link(paper(url=" JavaScript:alert(1)")) == search
    assert _link(paper()) == search


def test_entries_show_the_paper_as_digests_do() -> None:
    paper = RecentPaper(
        1,
        "Protein folding",
        "We fold proteins. Then we unfold them.",
        date(2025, 11, 20),
        7,
        arxiv_id="2411.01234",
        authors=("Ana Lima", "Bo Chen"),
        organization="Example Lab",
        comments=2,
        github_stars=10,
        code_urls=("https://github.com/x/fold}",),
        pdf_url="javascript:alert(1)",
    )
    [entry] = build_preview([paper], [FormTopic("t", ("folding",))]).entries
    assert entry.paper.meta == (
        "Ana Lima, Bo Chen · Example Lab",
        "2025-11-20",
        "7 upvotes",
        "2 comments",
    )
    assert entry.paper.summary == "We fold proteins. Then we unfold them."
    assert entry.paper.pdf_url == "https://arxiv.org/pdf/2411.01234"
    assert entry.paper.links[0] == ("GitHub, 10 stars", "https://github.com/x/fold")


def test_the_day_shown_is_the_paper_date_else_the_day_it_was_first_seen() -> None:
    papers = [
        RecentPaper(1, "Folding A", FILLER, paper_date=date(2025, 1, 2)),
        RecentPaper(2, "Folding B", FILLER, first_seen=date(2025, 11, 21)),
    ]
    days = {e.title: e.day for e in build_preview(papers, [FormTopic("t", ("folding",))]).entries}
    assert days == {"Folding A": date(2025, 1, 2), "Folding B": date(2025, 11, 21)}


def test_keywords_are_one_per_line_or_comma_separated() -> None:
    assert split_keywords("graph neural network\r\n\n  GNN ,LoRA,\n") == (
        "graph neural network",
        "GNN",
        "LoRA",
    )
    assert split_keywords("  \n , ") == ()


def test_the_window_is_the_backlog_but_at_least_a_week() -> None:
    now = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
    assert window_start(now, 3) == now - timedelta(days=7)
    assert window_start(now, 30) == now - timedelta(days=30)
    assert (window_days(0), window_days(14)) == (7, 14)


def test_the_index_is_built_once_per_version_however_many_ask_at_once() -> None:
    cache = PreviewIndexCache()
    version = PaperSetVersion(5, 5, datetime(2025, 11, 22, tzinfo=UTC))
    loading, release = threading.Event(), threading.Event()
    loads: list[int] = []

    def slow_load() -> list[RecentPaper]:
        loads.append(1)
        loading.set()
        release.wait(30)
        return PAPERS

    got = []
    first = threading.Thread(target=lambda: got.append(cache.get(version, slow_load)))
    first.start()
    assert loading.wait(30)  # the first request is building; the others arrive now
    others = [
        threading.Thread(target=lambda: got.append(cache.get(version, slow_load))) for _ in range(4)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in (first, *others):
        thread.join(30)
    assert len(got) == 5 and all(index is got[0] for index in got)
    assert (cache.builds, len(loads)) == (1, 1)
    topic = FormTopic("t", ("diffusion",))
    assert [e.title for e in got[0].preview([topic]).entries] == _titles(topic)


def test_a_new_version_builds_a_new_index_from_the_papers_then() -> None:
    cache = PreviewIndexCache()
    before = PaperSetVersion(4, 4, None)
    cache.get(before, lambda: PAPERS[:4])
    after = PaperSetVersion(5, 5, None)
    index = cache.get(after, lambda: PAPERS)
    assert cache.builds == 2 and len(index.papers) == 5
    assert cache.get(after, lambda: []) is index and cache.builds == 2


LISTED = [
    RecentPaper(6, "World models", FILLER, date(2025, 11, 20), 88, authors=("Yann LeCun",),
                categories=("cs.LG",), list_day=date(2025, 11, 21)),
    RecentPaper(7, "Speech", FILLER, date(2025, 11, 20), 12, authors=("Y. LeCun",),
                organization="Meta AI", organization_name="facebook",
                list_day=date(2025, 11, 21)),
]  # fmt: skip


def test_the_preview_follows_authors_organisations_and_trending_with_their_reasons() -> None:
    topic = FormTopic("people", (), follows={"authors": ("LeCun, Yann",), "top": 1})
    [entry] = build_preview(LISTED, [topic]).entries
    assert (entry.title, entry.kind, entry.label, entry.matched) == (
        "World models", "author", "author: LeCun, Yann", "Yann LeCun",
    )  # fmt: skip
    assert entry.trending == "trending: 88 upvotes, #1 of the day"
    alone = build_preview(LISTED, [FormTopic("hot", (), follows={"min_upvotes": 10})])
    assert [(e.title, e.label, e.matched) for e in alone.entries] == [
        ("World models", "trending", "88 upvotes, #1 of the day"),
        ("Speech", "trending", "12 upvotes, #2 of the day"),
    ]


def test_follows_the_matcher_cannot_use_are_left_out_with_a_note() -> None:
    topic = FormTopic(
        "labs", (), follows={"organisations": ("!!", "Meta AI"), "top": 0},
        problems=("minimum upvotes 'x' is not a whole number",),
    )  # fmt: skip
    preview = build_preview(LISTED, [topic])
    assert [e.title for e in preview.entries] == ["Speech"]
    assert preview.notes == (
        "topic 'labs': minimum upvotes 'x' is not a whole number; left out of the preview",
        "topic 'labs': organisation '!!' has no letters or digits; left out of the preview",
        "topic 'labs': top of the day 0 is out of range: 1 to 100; left out of the preview",
    )


def test_a_topics_stored_examples_preview_the_papers_like_them() -> None:
    liked = RecentPaper(6, "Graph neural networks for molecules", "Message passing on atoms.")
    papers = [*PAPERS, liked]
    example = Example(6, liked.title, paper_terms(liked.title, liked.abstract))
    topic = Topic(0, (example,), level=MAX_LEVEL)

    preview = build_preview(papers, [FormTopic("graphs", ())], examples={"graphs": topic})

    by_title = {entry.title: entry for entry in preview.entries}
    assert "Graph neural networks at scale" in by_title and liked.title not in by_title
    entry = by_title["Graph neural networks at scale"]
    assert entry.kind == "similar" and entry.keyword == liked.title
    assert entry.label == f"similar to {liked.title} ({entry.similarity:.2f})"
    # Another topic's name gets nothing from these examples.
    assert build_preview(papers, [FormTopic("other", ())], examples={"graphs": topic}).entries == ()

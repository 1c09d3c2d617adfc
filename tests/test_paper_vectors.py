"""Paper vectors are made once per paper text and kept, on each database."""

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.db import write_session
from bot.matching.similarity import METHOD, paper_terms
from bot.models import Paper, PaperVector
from bot.paper_vectors import paper_vectors, text_hash

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def _paper(engine: Engine, title: str, abstract: str) -> int:
    with write_session(engine) as session:
        paper = Paper(title=title, title_key=title.lower(), abstract=abstract,
                      first_seen_at=NOW, updated_at=NOW)  # fmt: skip
        session.add(paper)
        session.flush()
        assert paper.id is not None
        return paper.id


def _stored(engine: Engine) -> dict[int, tuple[str, str, str]]:
    with Session(engine) as session:
        return {
            row.paper_id: (row.method, row.text_hash, row.terms)
            for row in session.exec(select(PaperVector))
        }


def test_vectors_are_made_once_and_read_back_the_same(engine: Engine) -> None:
    grok = _paper(engine, "Grokking modular addition", "Fourier features explain grokking.")
    with write_session(engine) as session:
        made = paper_vectors(session, [grok, 999])
    assert list(made) == [grok]  # a paper not in the store is left out
    assert (
        made[grok].terms
        == paper_terms("Grokking modular addition", "Fourier features explain grokking.").terms
    )
    first = _stored(engine)
    with write_session(engine) as session:
        again = paper_vectors(session, [grok])
    assert _stored(engine) == first
    assert again[grok].terms == {t: round(w, 4) for t, w in made[grok].terms.items()}


def test_a_changed_text_or_recipe_remakes_the_vector_and_nothing_else(engine: Engine) -> None:
    grok = _paper(engine, "Grokking", "Fourier features.")
    quark = _paper(engine, "Top quark tagging", "Jets and transformers.")
    with write_session(engine) as session:
        paper_vectors(session, [grok, quark])
        session.get(Paper, grok).abstract = "Circuits in transformers."  # type: ignore[union-attr]
        session.get(PaperVector, quark).method = "terms/0"  # type: ignore[union-attr]
    untouched = _paper(engine, "Untouched", "Never compared.")
    with write_session(engine) as session:
        vectors = paper_vectors(session, [grok, quark])
    assert "circuit" in " ".join(vectors[grok].terms) and "fourier" not in vectors[grok].terms
    stored = _stored(engine)
    assert stored[grok][:2] == (METHOD, text_hash("Grokking", "Circuits in transformers."))
    assert stored[quark][0] == METHOD
    assert untouched not in stored

"""Paper vectors for similarity, stored once per paper text (`PaperVector` rows).

A vector depends on the paper's title and abstract only (see
`bot.matching.similarity.paper_terms`), so it is made the first time a paper is
compared and kept. A stored vector is used again while the text it was made
from and the recipe (`METHOD`) are unchanged, and remade when either changed.
Computing them lazily rather than at ingest keeps ingest fast (vectors for every
paper made ingest 1.4-1.9x slower) and makes none for papers nobody compares.
"""

import hashlib
from collections.abc import Collection

from sqlmodel import Session, col, select

from bot.db import in_chunks
from bot.matching.similarity import METHOD, PaperTerms, paper_terms
from bot.models import Paper, PaperVector


def text_hash(title: str, abstract: str) -> str:
    """A short fingerprint of the text a vector is made from."""
    text = f"{title}\x00{abstract}".encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def paper_vectors(session: Session, paper_ids: Collection[int]) -> dict[int, PaperTerms]:
    """Return the vectors of these papers, making and storing those missing or stale.

    Papers that are not in the store are left out. The caller owns the
    transaction: in a read-only session the new vectors are simply not kept.
    """
    found: dict[int, PaperTerms] = {}
    for chunk in in_chunks(list(paper_ids)):
        texts = {
            pid: (title, abstract)
            for pid, title, abstract in session.execute(
                select(Paper.id, Paper.title, Paper.abstract).where(col(Paper.id).in_(chunk))
            )
        }
        stored = {
            row.paper_id: row
            for row in session.exec(select(PaperVector).where(col(PaperVector.paper_id).in_(chunk)))
        }
        for pid, (title, abstract) in texts.items():
            fingerprint = text_hash(title, abstract)
            row = stored.get(pid)
            if row is not None and row.method == METHOD and row.text_hash == fingerprint:
                found[pid] = PaperTerms.from_json(row.terms)
                continue
            vector = paper_terms(title, abstract)
            found[pid] = vector
            if row is None:
                row = PaperVector(paper_id=pid, method=METHOD, text_hash="", terms="")
                session.add(row)
            row.method, row.text_hash, row.terms = METHOD, fingerprint, vector.to_json()
    session.flush()
    return found

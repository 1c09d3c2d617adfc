"""Generated, realistic-looking corpora for the benchmarks (seeded, so runs compare)."""

import random
from datetime import date, timedelta
from xml.sax.saxutils import escape

_VOCABULARY = """
learning model models neural network networks graph transformer diffusion language
large reinforcement policy agent reward optimisation gradient descent stochastic convex
bound representation self-supervised contrastive embedding retrieval generation image
video segmentation detection 3D point cloud robot control planning reasoning
chain-of-thought benchmark dataset evaluation fine-tuning pre-training in-context
adaptation low-rank LoRA attention sparse mixture experts MoE scaling law quantisation
pruning distillation GAN adversarial robustness privacy federated causal inference
Bayesian uncertainty Gaussian process kernel spectral clustering physics-informed PDE
solver operator climate protein molecule drug speech audio multimodal vision-language
alignment preference feedback
"""
_WORDS = tuple(_VOCABULARY.split())
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _title(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 12))]
    return f"{' '.join(words).capitalize()}: study {n}"


def _abstract(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(6, 10)):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 28))]
        sentences.append(" ".join(words).capitalize() + ".")
    if rng.random() < 0.2:
        sentences.append(f"Code is available at https://github.com/lab{rng.randint(1, 999)}/repo.")
    return " ".join(sentences)


def arxiv_rss(count: int, *, seed: int = 1) -> bytes:
    """An arXiv-style daily RSS document with `count` items."""
    rng = random.Random(seed)
    items = []
    for n in range(count):
        arxiv_id = f"24{rng.randint(1, 12):02d}.{n:05d}"
        kind = rng.choice(("new", "new", "new", "cross", "replace", "replace-cross"))
        authors = ", ".join(f"Author {rng.randint(1, 9999)}" for _ in range(rng.randint(1, 8)))
        items.append(
            f"<item><title>{escape(_title(rng, n))}</title>"
            f"<link>https://arxiv.org/abs/{arxiv_id}</link>"
            f"<description>arXiv:{arxiv_id}v1 Announce Type: {kind} \nAbstract: "
            f"{escape(_abstract(rng))}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>'
            f"<category>cs.LG</category><category>stat.ML</category>"
            f"<pubDate>Mon, 23 Sep 2024 00:00:00 -0400</pubDate>"
            f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
            f"<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
            f"<dc:creator>{escape(authors)}</dc:creator></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>'
        "<title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>"
        "<description>cs.LG updates on the arXiv.org e-print archive.</description>"
        "<language>en-us</language><lastBuildDate>Mon, 23 Sep 2024 04:00:00 +0000</lastBuildDate>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def arxiv_atom(count: int, *, seed: int = 1) -> bytes:
    """An arXiv API-style Atom document (a search's results) with `count` entries."""
    rng = random.Random(seed)
    entries = []
    for n in range(count):
        arxiv_id = f"24{rng.randint(1, 12):02d}.{n:05d}"
        authors = "".join(
            f"<author><name>Author {rng.randint(1, 9999)}</name></author>"
            for _ in range(rng.randint(1, 8))
        )
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id>"
            f"<updated>2024-09-23T17:59:59Z</updated><published>2024-09-23T17:59:59Z</published>"
            f"<title>{escape(_title(rng, n))}</title><summary>{escape(_abstract(rng))}</summary>"
            f"{authors}<arxiv:comment>12 pages, 4 figures</arxiv:comment>"
            f'<link href="http://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v1" rel="related"'
            ' type="application/pdf"/>'
            '<arxiv:primary_category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            '<category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            '<category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        '<link href="http://arxiv.org/api/query?search_query=cat:cs.LG" rel="self"'
        ' type="application/atom+xml"/><title type="html">ArXiv Query: cat:cs.LG</title>'
        "<id>http://arxiv.org/api/bench</id><updated>2024-09-23T00:00:00-04:00</updated>"
        f"<opensearch:totalResults>{count}</opensearch:totalResults>"
        "<opensearch:startIndex>0</opensearch:startIndex>"
        f"<opensearch:itemsPerPage>{count}</opensearch:itemsPerPage>" + "".join(entries) + "</feed>"
    ).encode()


def spaced_dump(count: int, *, seed: int = 2) -> str:
    """A "spaced" layout digest dump with `count` papers, most with a metadata block."""
    rng = random.Random(seed)
    blocks = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers",
              "byAK and the research community", "Nov 21"]  # fmt: skip
    start = date(2015, 1, 1)
    for n in range(count):
        blocks += [_title(rng, n), _abstract(rng)]
        roll = rng.random()
        if roll < 0.9:
            day = start + timedelta(days=rng.randint(0, 3500))
            upvotes = f" {rng.randint(1, 300)}" if rng.random() < 0.1 else ""
            who = f"  • {rng.randint(1, 30)} authors" if roll < 0.8 else "KFUPM KFUPM"
            blocks.append(f"{who}\n·\n{_MONTHS[day.month - 1]} {day.day}, {day.year}{upvotes}")
    return "\n\n".join(blocks) + "\n"


def hf_daily(count: int, day: date, *, seed: int = 3, first: int = 0) -> bytes:
    """A Hugging Face daily papers response for `day` with `count` papers, as the API shapes it.

    Paper ids run from `first`, so the lists of several days do not overlap.
    """
    import json

    rng = random.Random(seed)
    stamp = f"{day.isoformat()}T04:{rng.randint(10, 59)}:00.000Z"
    items = []
    for n in range(first, first + count):
        arxiv_id = f"{day:%y%m}.{n:05d}"
        paper: dict[str, object] = {
            "id": arxiv_id,
            "authors": [
                {"_id": f"{n}-{a}", "name": f"Author {rng.randint(1, 9999)}", "hidden": False}
                for a in range(rng.randint(1, 12))
            ],
            "publishedAt": stamp,
            "submittedOnDailyAt": stamp,
            "title": _title(rng, n),
            "summary": _abstract(rng).replace(". ", ".\n", 2),
            "upvotes": rng.randint(0, 300),
            "discussionId": f"d{n}",
            "ai_summary": _abstract(rng)[:200],
            "ai_keywords": [rng.choice(_WORDS) for _ in range(rng.randint(3, 8))],
        }
        if rng.random() < 0.4:
            paper["githubRepo"] = f"https://github.com/lab{rng.randint(1, 999)}/repo{n}"
            paper["githubStars"] = rng.randint(0, 20000)
        if rng.random() < 0.3:
            name = f"lab{rng.randint(1, 99)}"
            paper["organization"] = {"_id": name, "name": name, "fullname": name.title()}
        items.append(
            {
                "paper": paper,
                "publishedAt": stamp,
                "title": paper["title"],
                "thumbnail": f"https://cdn.example/{arxiv_id}.png",
                "numComments": rng.randint(0, 20),
                "submittedBy": {"_id": "u1", "name": "akhaliq", "fullname": "AK"},
            }
        )
    return json.dumps(items).encode()

"""The matching contract, clause by clause, on realistic titles and abstracts."""

import random
from datetime import date, timedelta

import pytest

from bot.errors import InputError
from bot.matching import engine
from bot.matching.engine import Match, Matcher, PaperText, Rule, SimilarPaper, match_exhaustive

FILLER = "We evaluate on standard benchmarks and release our code."


def _matches(keyword: str, *abstracts: str, title: str = "A study") -> list[Match]:
    papers = [PaperText(n + 1, title, abstract) for n, abstract in enumerate(abstracts)]
    return Matcher(papers).match_keyword(keyword)


def _finds(keyword: str, abstract: str) -> bool:
    return bool(_matches(keyword, abstract))


# Case, hyphens, spaces and plurals.


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("graph neural network", "We train a Graph Neural Network on molecules."),
        ("GRAPH NEURAL NETWORK", "We train a graph neural network on molecules."),
    ],
)
def test_matching_ignores_case(keyword: str, text: str) -> None:
    assert _finds(keyword, text)


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("self-supervised", "A self supervised objective for speech."),
        ("self supervised", "A self-supervised objective for speech."),
        ("selfsupervised", "A self-supervised objective for speech."),
        ("self-supervised", "A selfsupervised objective for speech."),
        ("self supervised", "A selfsupervised objective for speech."),
        ("back-propagation", "Gradients come from backpropagation through time."),
        ("backpropagation", "Gradients come from back-propagation through time."),
        ("in context learning", "Large models show strong in-context learning."),
        ("in-context learning", "Large models show strong in context learning."),
        ("incontext learning", "Large models show strong in-context learning."),
        ("pre-training", "Large-scale pretraining on web text helps."),
        ("data set", "We release a new dataset of radiology reports."),
        ("dense retrieval", "We improve denseretrieval with hard negatives."),
        ("text to image", "A text-to-image model conditioned on layouts."),
        ("Kolmogorov Arnold networks", "We study Kolmogorov\u2013Arnold Networks (KANs)."),
    ],
)
def test_hyphen_space_and_no_space_variants_are_the_same(keyword: str, text: str) -> None:
    assert _finds(keyword, text)


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("diffusion models", "A latent diffusion model for audio."),
        ("diffusion model", "Recent diffusion models generate audio."),
        ("gaussian processes", "We place a Gaussian process prior on the kernel."),
        ("Gaussian process", "Sparse Gaussian processes scale to millions of points."),
        ("GANs", "A GAN trained on faces."),
        ("GAN", "We compare GANs and VAEs."),
        ("LLM", "Agents built on LLMs plan poorly."),
        ("bounding boxes", "Each object gets a bounding box and a mask."),
        ("case studies", "A case study of three hospitals."),
        ("neural networks training", "Neural network training is unstable at scale."),
        ("graph vertices", "Each graph vertex holds a feature vector."),
        ("hypothesis testing", "Multiple hypotheses testing with false discovery control."),
    ],
)
def test_singular_and_plural_are_the_same(keyword: str, text: str) -> None:
    assert _finds(keyword, text)


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("optimisation", "Stochastic optimization of deep networks."),
        ("nearest neighbours", "We retrieve the nearest neighbors of each query."),
        ("language modeling", "Masked language modelling at scale."),
    ],
)
def test_british_and_american_spellings_are_the_same(keyword: str, text: str) -> None:
    assert _finds(keyword, text)


# Phrases.


def test_a_phrase_matches_its_words_adjacent_and_in_order() -> None:
    assert _finds("graph neural network", "We propose a new graph neural network.")


@pytest.mark.parametrize(
    "text",
    [
        "A neural network for graph classification.",
        "We pair a graph encoder with a neural network decoder.",
        "A graph-based neural network.",
        "Network neural graph.",
        "Every graph has a neural, network-like structure.",
        "We study the graph. Neural networks are then trained on it.",
        "Nodes of the graph (neural network units) are pruned.",
    ],
)
def test_scattered_reordered_or_interrupted_words_do_not_match(text: str) -> None:
    assert not _finds("graph neural network", text)


def test_a_phrase_never_matches_part_of_a_word() -> None:
    assert not _finds("neural net", "A neural network.")
    assert not _finds("learning", "Metalearning with learningrate schedules.")
    assert _finds("machine learning", "machinelearning is one token here.")


# Typos.


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("reinforcment learning", "Offline reinforcement learning from logged data."),
        ("knowlege distillation", "Knowledge distillation into small students."),
        ("trasnformer", "A transformer with linear attention."),
        ("atention", "A transformer with linear attention."),
        ("reinfrocment learning", "Offline reinforcement learning from logged data."),
        ("contrastve learning", "Contrastive learning of visual features."),
    ],
)
def test_typos_in_longer_words_are_tolerated(keyword: str, text: str) -> None:
    found = _matches(keyword, text)
    assert found
    assert 0.8 < found[0].similarity < 1.0


@pytest.mark.parametrize(
    ("keyword", "text", "matched"),
    [
        ("diffusion modles", "Latent diffusion models for images.", "diffusion models"),
        ("mdoels", "Language models as planners.", "models"),
        ("layres", "Stacking attention layers.", "layers"),
        ("agnets", "Cooperative agents in a grid world.", "agents"),
        ("grpahs", "Message passing on graphs.", "graphs"),
        ("netwroks", "Graph neural networks on molecules.", "networks"),
    ],
)
def test_a_plural_keyword_with_a_typo_is_judged_by_its_length_as_typed(
    keyword: str, text: str, matched: str
) -> None:
    found = _matches(keyword, text)
    assert [m.matched for m in found] == [matched]
    assert found[0].similarity < 1.0


def test_a_typo_is_corrected_to_the_most_frequent_close_word() -> None:
    abstracts = [
        "Deep learning for vision. Learning rates matter for learning.",
        "Leaning towers of Pisa, in images.",
    ]
    found = _matches("lerning", *abstracts)
    assert [(m.paper_id, m.matched) for m in found] == [(1, "learning")]


def test_a_word_found_in_the_papers_is_never_corrected() -> None:
    abstracts = ["Deep learning for vision.", "Leaning towers of Pisa, in images."]
    assert [m.paper_id for m in _matches("leaning", *abstracts)] == [2]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("modal", "A model of the world."),  # five letters: exact
        ("grpah", "A graph of the world."),
        ("sensor", "A tensor of the world."),  # never the first letter
        ("atension", "A transformer with linear attention."),  # two typos in eight letters
        ("BERTT", "Fine-tuning BERT on reviews."),  # capitals: exact
        ("GPT4", "Prompting GPT3 with examples."),  # digits: exact
    ],
)
def test_short_words_acronyms_and_too_many_typos_are_not_corrected(keyword: str, text: str) -> None:
    assert not _finds(keyword, text)


# Acronyms and whole words.


@pytest.mark.parametrize(
    "text",
    [
        "Organ segmentation in CT scans.",
        "Organic chemistry with language models.",
        "Organizing knowledge with graphs.",
        "The gang of four.",
    ],
)
def test_gan_never_matches_inside_another_word(text: str) -> None:
    assert not _finds("GAN", text)


@pytest.mark.parametrize(
    "text",
    ["A GAN for faces.", "GANs for faces.", "A GAN-based generator.", "Training gans is hard."],
)
def test_gan_matches_the_word_and_its_plural(text: str) -> None:
    assert _finds("GAN", text)


def test_lora_never_matches_inside_exploration() -> None:
    assert not _finds("LoRA", "Exploration with intrinsic rewards; explorations of Flora.")
    assert _finds("LoRA", "We fine-tune with LoRA adapters.")


def test_moe_never_matches_moebius() -> None:
    assert not _finds("MoE", "Moebius transformations and Möbius strips.")
    assert _finds("MoE", "A sparse MoE layer with 64 experts.")


def test_an_acronym_is_not_spelt_from_pieces_of_other_words() -> None:
    assert not _finds("AI", "The weight a-i of each client is learned.")
    assert not _finds("GAN", "Let g an index be given.")


def test_a_snake_case_identifier_is_one_word() -> None:
    assert not _finds("RL", "We release rl_reach, a benchmark for robotic reaching.")
    assert _finds("rl_reach", "We release rl_reach, a benchmark for robotic reaching.")


@pytest.mark.parametrize(
    ("keyword", "text"),
    [("GPT-4", "We prompt GPT4 with examples."), ("GPT4", "We prompt GPT-4 with examples."),
     ("3D", "Dense 3-D reconstruction."), ("ResNet50", "A ResNet-50 backbone.")],
)  # fmt: skip
def test_letters_and_digits_may_be_split_or_joined(keyword: str, text: str) -> None:
    assert _finds(keyword, text)


# Quoted keywords.


def test_a_quoted_keyword_matches_exactly_as_typed_whatever_the_case() -> None:
    assert _finds('"neural networks"', "Deep Neural Networks generalise.")


@pytest.mark.parametrize(
    "text",
    [
        "A deep neural network generalises.",  # no plural folding
        "Deep neuralnetworks generalise.",  # no joining
        "Deep neural nets and networks.",  # in order, adjacent
        "Deep neural networking.",  # whole words
    ],
)
def test_a_quoted_keyword_has_no_variants(text: str) -> None:
    assert not _finds('"neural networks"', text)


def test_a_quoted_keyword_keeps_its_hyphens_and_spaces() -> None:
    assert _finds('"state of the art"', "Results are state of the\nart on both sets.")
    assert not _finds('"state of the art"', "Results are state-of-the-art on both sets.")
    assert _finds('"pre-training"', "Contrastive pre-training of encoders.")
    for text in ["Contrastive pre training.", "Contrastive pretraining.", "Pre-Train it."]:
        assert not _finds('"pre-training"', text)


def test_a_quoted_keyword_has_no_typo_tolerance() -> None:
    assert not _finds('"reinforcment learning"', "Offline reinforcement learning.")
    assert _finds('"reinforcment learning"', "Sorry: reinforcment learning, a typo in the paper.")


def test_a_quoted_keyword_does_not_fold_accents_or_split_words() -> None:
    assert _finds('"Schrödinger bridge"', "A Schrödinger bridge between datasets.")
    assert not _finds('"Schrödinger bridge"', "A Schrodinger bridge between datasets.")
    assert not _finds('"GAN"', "Organ segmentation.")
    assert not _finds('"selfsupervised"', "A self-supervised objective.")


# Rules: keywords, exclusions, ranking.


PAPERS = [
    PaperText(1, "Diffusion models for video", "We generate video with a diffusion model."),
    PaperText(2, "Image synthesis", "Latent diffusion models for text-to-image synthesis."),
    PaperText(3, "Diffusion policies", "Diffusion models as robot policies. " + FILLER),
    PaperText(4, "Graph transformers", "Attention over graphs, no diffusion here? " + FILLER),
    PaperText(5, "LoRA for diffusion models", "Low-rank adapters for image generators."),
]


def test_a_rule_matches_when_any_keyword_matches_and_no_exclusion_does() -> None:
    rule = Rule(7, ("diffusion models", "low-rank adaptation"), ("video", "robot"))
    assert {m.paper_id for m in Matcher(PAPERS).match([rule])} == {2, 5}


def test_exclusions_follow_the_same_rules_as_keywords() -> None:
    rule = Rule(1, ("diffusion models",), ("text to image synthesis", "robots", "Videos"))
    assert {m.paper_id for m in Matcher(PAPERS).match([rule])} == {5}


def test_a_rule_with_no_keyword_matches_nothing() -> None:
    assert Matcher(PAPERS).match([Rule(1, (), ("video",))]) == []


def test_a_title_match_ranks_above_an_abstract_match() -> None:
    found = Matcher(PAPERS).match([Rule(1, ("diffusion model",))])
    assert [m.paper_id for m in found] == [1, 5, 2, 3]
    assert [m.field for m in found] == ["title", "title", "abstract", "abstract"]
    assert [m.score for m in found] == [2.0, 2.0, 1.0, 1.0]


def test_the_best_match_of_a_rule_in_a_paper_is_kept() -> None:
    papers = [PaperText(1, "Reinforcement learning agents", "We use LoRA adapters.")]
    rule = Rule(1, ("LoRA", "reinforcment learning", "agents"))
    [match] = Matcher(papers).match([rule])
    # Two title matches: the exact one wins over the corrected one.
    assert (match.keyword, match.field, match.similarity) == ("agents", "title", 1.0)


def test_matches_are_sorted_by_rule_then_score() -> None:
    rules = [Rule(9, ("graph",)), Rule(2, ("diffusion models",)), Rule(5, ("LoRA",))]
    found = Matcher(PAPERS).match(rules)
    assert [(m.rule_id, m.paper_id) for m in found] == [
        (2, 1), (2, 5), (2, 2), (2, 3), (5, 5), (9, 4),
    ]  # fmt: skip


def test_a_match_explains_itself() -> None:
    abstract = (
        "Transformers are strong few-shot learners. We study in-context\n"
        "learning for tabular data, where it often fails."
    )
    paper = PaperText(42, "Tabular prompting", abstract)
    [match] = Matcher([paper]).match([Rule(3, ("in context learning",))])
    assert match.rule_id == 3
    assert match.paper_id == 42
    assert match.keyword == "in context learning"
    assert match.field == "abstract"
    assert (match.start, match.end) == (abstract.index("in-context"), abstract.index(" for tab"))
    assert match.matched == "in-context\nlearning"
    assert match.similarity == 1.0
    assert match.score == 1.0
    start, end = match.snippet_span
    assert match.snippet[start:end] == "in-context learning"
    assert match.snippet == (
        "Transformers are strong few-shot learners. We study in-context learning for"
        " tabular data, where it often fails."
    )


def test_a_corrected_match_shows_the_words_of_the_paper_and_a_lower_similarity() -> None:
    papers = [PaperText(1, "Offline reinforcement learning", FILLER)]
    [match] = Matcher(papers).match_keyword("reinforcment learning")
    assert match.matched == "reinforcement learning"
    assert match.similarity == pytest.approx(1 - 1 / 21)
    assert match.score == pytest.approx(1 + match.similarity)


def test_a_long_abstract_gives_a_snippet_around_the_match() -> None:
    abstract = " ".join(["Words before the match."] * 20) + " A MoE layer. " + FILLER * 5
    [match] = _matches("MoE", abstract)
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
    assert 100 < len(match.snippet) < 150
    start, end = match.snippet_span
    assert match.snippet[start:end] == "MoE"


def test_a_bad_keyword_in_a_rule_is_refused_and_named() -> None:
    with pytest.raises(InputError, match="'\\?\\?\\?'"):
        Matcher(PAPERS).match([Rule(1, ("LoRA", "???"))])
    with pytest.raises(InputError, match="is empty"):
        Matcher(PAPERS).match([Rule(1, ("LoRA",), (" ",))])


def test_no_papers_means_no_matches() -> None:
    assert Matcher([]).match([Rule(1, ("LoRA", "reinforcment learning"))]) == []


# The index finds exactly what trying every keyword at every word finds.

_PHRASES = [
    "graph neural networks", "Graph Neural Network", "graph-neural-network", "GNNs", "GNN",
    "self-supervised learning", "self supervised learning", "selfsupervised", "in-context learning",
    "in context learning", "incontext", "diffusion models", "diffusion-model", "diffusionmodels",
    "LoRA", "low-rank adaptation", "lowrank adapters", "MoE", "mixture-of-experts",
    "mixture of expert", "GAN", "GANs", "organ", "organic", "exploration", "Moebius",
    "reinforcement learning", "Reinforcement-Learning", "policy optimisation",
    "policy optimization", "neighbours", "nearest neighbors", "case studies", "case study",
    "bounding boxes", "back-propagation", "backpropagation", "GPT-4", "GPT4", "3D", "3-D",
    "Gaussian processes", "gaussian process", "text-to-image", "text to image", "a_i",
    "vision-language models", "VLMs", "learning", "leaning", "knowledge distillation",
    "matrices", "matrix", "dense retrieval", "denseretrieval", "pre-training", "pretraining",
]  # fmt: skip
_GLUE = ["we", "study", "the", "of", "a", "and", "for", "with", "on", "is", "new", "model"]
_PUNCTUATION = [" ", " ", " ", " ", " ", ", ", ". ", " (", ") ", "; ", "-", " \u2013 ", "\n"]


def _text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        parts.append(rng.choice(_PHRASES) if rng.random() < 0.4 else rng.choice(_GLUE))
        parts.append(rng.choice(_PUNCTUATION))
    return "".join(parts).strip()


def _typo(rng: random.Random, text: str) -> str:
    at = rng.randrange(1, max(2, len(text) - 1))
    edits = [
        text[:at] + text[at + 1 :],
        text[:at] + "e" + text[at:],
        text[:at] + "x" + text[at + 1 :],
    ]
    return rng.choice(edits)


def _keyword(rng: random.Random, corpus: list[PaperText]) -> str:
    roll = rng.random()
    if roll < 0.4:
        # A few consecutive words of a paper, as typed by someone who read it.
        paper = rng.choice(corpus)
        words = paper.abstract.replace("\n", " ").split(" ")
        start = rng.randrange(len(words))
        keyword = " ".join(words[start : start + rng.randint(1, 4)]).strip(".,;()")
    else:
        keyword = rng.choice(_PHRASES)
    roll = rng.random()
    if roll < 0.2:
        keyword = _typo(rng, keyword)
    elif roll < 0.3:
        keyword = f'"{keyword}"'
    elif roll < 0.4:
        keyword = keyword.replace(" ", "")
    return keyword if any(char.isalnum() for char in keyword) else "graph"


_AUTHORS = [
    "Yann LeCun", "Y. LeCun", "LeCun, Yann", "Yann André LeCun", "Yang Li", "Y. Li", "Li Yang",
    "Yang Liu", "Yi Li", "Jürgen Schmidhuber", "Jurgen Schmidhuber", "J.-B. Mouret",
    "Jean-Baptiste Mouret", "María García-Pérez", "Maria Garcia", "Laurens van der Maaten",
]  # fmt: skip
_ORGANISATIONS = [
    ("stabilityai", "Stability AI"), ("google", "Google"), ("google-deepmind", "Google DeepMind"),
    ("mila", "Mila - Université de Montréal"), (None, "Stability AI"), (None, None),
]  # fmt: skip
_CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "stat.ML", "hep-th", "math.OC", "q-bio.NC"]
_FOLLOWED_CATEGORIES = [*_CATEGORIES, "cs.*", "stat.*", "CS.cl", "q-bio.*"]


def _random_rules(seed: int) -> tuple[list[PaperText], list[Rule]]:
    """40 generated papers and 250 rules on them: phrases, typos, quotes, exclusions, follows."""
    rng = random.Random(seed)
    corpus = []
    for n in range(1, 41):
        short, full = rng.choice(_ORGANISATIONS)
        corpus.append(
            PaperText(
                n, _text(rng, rng.randint(3, 8)), _text(rng, rng.randint(20, 45)),
                authors=tuple(rng.sample(_AUTHORS, rng.randint(0, 3))),
                organization=full, organization_name=short,
                categories=tuple(rng.sample(_CATEGORIES, rng.randint(0, 3))),
                upvotes=rng.choice((None, 0, 3, 3, 10, 25, 40)),
                day=rng.choice((None, date(2025, 3, 3), date(2025, 3, 4))),
            )
        )  # fmt: skip
    rules = []
    for n in range(250):
        some = rng.random() < 0.5

        def pick(pool: list[str], most: int) -> tuple[str, ...]:
            return tuple(rng.sample(pool, rng.randint(0, most)))

        organisations = [name for pair in _ORGANISATIONS for name in pair if name]
        if rng.random() < 0.08:  # trending alone, with or without a veto
            rules.append(
                Rule(
                    n,
                    exclude_categories=pick(_FOLLOWED_CATEGORIES, rng.choice((0, 1))),
                    min_upvotes=rng.choice((None, 3, 20)),
                    top=rng.choice((1, 3)),
                )
            )
            continue
        rules.append(
            Rule(
                n,
                tuple(_keyword(rng, corpus) for _ in range(rng.randint(0 if some else 1, 4))),
                tuple(_keyword(rng, corpus) for _ in range(rng.choice((0, 0, 0, 1)))),
                authors=pick(_AUTHORS, 2) if some else (),
                organisations=pick(organisations, 1) if some else (),
                categories=pick(_FOLLOWED_CATEGORIES, 2) if some else (),
                exclude_authors=pick(_AUTHORS, rng.choice((0, 0, 1))),
                exclude_organisations=pick(organisations, rng.choice((0, 0, 0, 1))),
                exclude_categories=pick(_FOLLOWED_CATEGORIES, rng.choice((0, 0, 0, 1))),
                min_upvotes=rng.choice((None, None, None, 3, 20)),
                top=rng.choice((None, None, None, 1, 3)),
            )
        )
    return corpus, rules


def test_a_matcher_keeping_few_keyword_hits_matches_the_same_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hits are kept within a budget, the least recently used dropped: a matcher that
    # can keep almost nothing searches again, and finds the same, batch after batch.
    corpus, rules = _random_rules(8)
    everything = Matcher(corpus).match(rules)
    monkeypatch.setattr(engine, "KEPT_HITS", 3)
    frugal = Matcher(corpus)
    batched = [
        m for start in range(0, len(rules), 25) for m in frugal.match(rules[start : start + 25])
    ]
    assert batched == everything and len(everything) > 500
    assert frugal._search._cached_hits <= 3 or len(frugal._search._hits) == 1


def test_keywords_matching_nothing_count_towards_what_a_matcher_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "KEPT_HITS", 5)
    matcher = Matcher(PAPERS)
    for number in range(100):
        assert matcher.match_keyword(f"zzyzx{number}") == []
    assert len(matcher._search._hits) == 5
    # A keyword with hits still fits: the oldest of those matching nothing make room.
    assert [m.paper_id for m in matcher.match_keyword("diffusion policies")] == [3]
    assert "diffusion policies" in matcher._search._hits and len(matcher._search._hits) <= 5


def test_matching_apart_finds_the_same_and_keeps_nothing_for_later_calls() -> None:
    corpus, rules = _random_rules(6)
    matcher = Matcher(corpus)
    apart = matcher.match_apart(rules)
    # Nothing of those keywords stays with the matcher's own search...
    assert len(matcher._search._hits) == 0 and matcher._search._cached_hits == 0
    assert apart == matcher.match(rules) and len(apart) > 500
    kept = dict(matcher._search._hits)
    # ...nor changes what it keeps: another call apart starts empty and leaves it as it was.
    assert matcher.match_apart(rules[:3]) == matcher.match(rules[:3])
    assert matcher._search._hits == kept


def test_the_index_finds_the_same_matches_as_reading_every_word() -> None:
    corpus, rules = _random_rules(5)
    indexed = Matcher(corpus).match(rules)
    assert indexed == match_exhaustive(corpus, rules)
    # The comparison means something: many rules match, some through typos.
    assert len({m.rule_id for m in indexed}) > 150
    assert any(m.similarity < 1.0 for m in indexed)
    assert any(m.matched.count(" ") + m.matched.count("-") >= 2 for m in indexed)
    kinds = {m.explanation.kind for m in indexed}
    assert kinds == {"keyword", "author", "organisation", "category", "trending"}
    assert any(
        m.explanation.trend is not None and m.explanation.kind != "trending" for m in indexed
    )


def test_matching_a_few_rules_at_a_time_finds_what_one_call_finds() -> None:
    # One Matcher keeps what it found for each keyword across calls: a keyword seen
    # in an earlier batch, as a keyword or as an exclusion, must answer the same later.
    corpus, rules = _random_rules(11)
    whole = Matcher(corpus).match(rules)
    batched = Matcher(corpus)
    in_batches = [m for start in range(0, 250, 7) for m in batched.match(rules[start : start + 7])]
    assert in_batches == whole
    again = batched.match(list(reversed(rules)))
    assert again == whole
    assert len({m.rule_id for m in whole}) > 150


# Following authors, organisations, categories and trending papers.

_DAY = date(2025, 3, 3)


def _listed() -> list[PaperText]:
    return [
        PaperText(1, "World models", FILLER, authors=("Yann LeCun",), categories=("cs.LG",),
                  organization="Meta AI", organization_name="facebook", upvotes=88, day=_DAY),
        PaperText(2, "Graph neural networks", FILLER, authors=("Yang Liu",),
                  categories=("cs.CL",), upvotes=12, day=_DAY),
        PaperText(3, "Speech", FILLER, authors=("Y. LeCun", "Ana Lima"), categories=("eess.AS",),
                  upvotes=40, day=_DAY),
        PaperText(4, "Graph neural networks at scale", FILLER, categories=("cs.LG",),
                  upvotes=3, day=_DAY + timedelta(days=1)),
    ]  # fmt: skip


def _ids(rule: Rule) -> list[int]:
    return sorted(m.paper_id for m in Matcher(_listed()).match([rule]))


def test_the_kinds_of_a_rule_are_alternatives() -> None:
    assert _ids(Rule(1, ("graph neural networks",), authors=("Y. LeCun",))) == [1, 2, 3, 4]
    assert _ids(Rule(1, organisations=("Meta AI",), categories=("eess.AS",))) == [1, 3]


def test_any_exclusion_of_any_kind_vetoes() -> None:
    assert _ids(Rule(1, categories=("cs.*",), exclude_authors=("Yann LeCun",))) == [2, 4]
    assert _ids(Rule(1, authors=("LeCun",), exclude_categories=("eess.*",))) == [1]
    assert _ids(Rule(1, ("graph",), exclude_organisations=("facebook",))) == [2, 4]


def test_trending_filters_other_rules_and_alone_selects() -> None:
    assert _ids(Rule(1, ("graph neural networks",), min_upvotes=10)) == [2]
    assert _ids(Rule(1, authors=("Y. LeCun",), top=1)) == [1]
    assert _ids(Rule(1, top=1)) == [1, 4]  # the top paper of each day
    assert _ids(Rule(1, min_upvotes=40, exclude_categories=("cs.LG",))) == [3]
    assert _ids(Rule(1)) == []


def test_a_match_names_the_kind_of_rule_and_what_the_paper_lists() -> None:
    [author] = Matcher(_listed()).match([Rule(1, authors=("Y. LeCun",), top=2)])[:1]
    assert (author.paper_id, author.explanation.kind, author.matched) == (1, "author", "Yann LeCun")
    assert author.explanation.label == "author: Y. LeCun"
    assert author.explanation.trending == "trending: 88 upvotes, #1 of the day"
    [category] = Matcher(_listed()).match([Rule(1, categories=("eess.AS",))])
    assert (category.explanation.label, category.field) == ("category: eess.AS", "categories")
    [organisation] = Matcher(_listed()).match([Rule(1, organisations=("Meta AI",))])
    assert organisation.explanation.label == "organisation: Meta AI"
    assert organisation.matched == "Meta AI"  # the name the paper gives that matched
    [organisation] = Matcher(_listed()).match([Rule(1, organisations=("FaceBook",))])
    assert organisation.matched == "facebook"
    trending = Matcher(_listed()).match([Rule(1, min_upvotes=80)])
    assert [m.explanation.label for m in trending] == ["trending: 88 upvotes, #1 of the day"]


def test_a_keyword_in_the_title_explains_before_an_author() -> None:
    rule = Rule(1, ("world models",), authors=("Yann LeCun",))
    first, second = Matcher(_listed()).match([rule])
    assert (first.paper_id, first.explanation.kind, first.field, first.score) == (
        1, "keyword", "title", 2.0,
    )  # fmt: skip
    assert (second.paper_id, second.explanation.kind, second.score) == (3, "author", 1.0)
    rule = Rule(1, authors=("Yann LeCun",), categories=("cs.LG",))
    assert Matcher(_listed()).match([rule])[0].explanation.kind == "author"  # the earlier kind


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule(1, authors=("123",)), "author '123' has no name in it"),
        (Rule(1, categories=("cs/CL",)), "category 'cs/CL' is not an arXiv category"),
        (Rule(1, exclude_organisations=("!!",)), "organisation '!!' has no letters or digits"),
    ],
)
def test_a_bad_follow_in_a_rule_is_refused_and_named(rule: Rule, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Matcher(_listed()).match([rule])


# Papers similar to a topic's examples.

_ATTENTION = "Attention is all you need"


def _paper(
    number: int, title: str, abstract: str = FILLER, upvotes: int | None = None
) -> PaperText:
    return PaperText(number, title, abstract, upvotes=upvotes, day=date(2025, 11, 21))


def test_a_paper_similar_to_the_examples_matches_and_says_which_example() -> None:
    papers = [_paper(1, "Linear attention at scale"), _paper(2, "Protein folding")]
    similar = (SimilarPaper(1, 0.42, _ATTENTION, 0.61),)

    [match] = Matcher(papers).match([Rule(7, liked=(99,), similar=similar)])

    assert (match.rule_id, match.paper_id, match.score) == (7, 1, 0.42)
    assert match.explanation.kind == "similar"
    assert match.explanation.rule == f"similar to {_ATTENTION} (0.61)"
    assert match.keyword == _ATTENTION


def test_a_keyword_or_a_similarity_includes_and_the_keyword_explains_a_paper_both_find() -> None:
    papers = [_paper(1, "Linear attention at scale"), _paper(2, "Sparse transformers")]
    similar = (SimilarPaper(1, 0.42, _ATTENTION, 0.61), SimilarPaper(2, 0.3, _ATTENTION, 0.5))

    found = Matcher(papers).match([Rule(7, ("linear attention",), liked=(99,), similar=similar)])

    assert {m.paper_id: m.explanation.kind for m in found} == {1: "keyword", 2: "similar"}


def test_an_exclusion_removes_a_similar_paper() -> None:
    papers = [_paper(1, "Linear attention for speech"), _paper(2, "Linear attention at scale")]
    similar = (SimilarPaper(1, 0.5, _ATTENTION, 0.6), SimilarPaper(2, 0.4, _ATTENTION, 0.5))

    found = Matcher(papers).match([Rule(7, exclusions=("speech",), liked=(99,), similar=similar)])

    assert [m.paper_id for m in found] == [2]


def test_a_topics_own_examples_never_match_it_even_by_keyword() -> None:
    papers = [_paper(1, "Linear attention"), _paper(2, "Linear attention again")]
    rule = Rule(7, ("linear attention",), liked=(1,), unliked=(2,))

    assert Matcher(papers).match([rule]) == []


def test_examples_select_so_a_trending_switch_filters_them_rather_than_taking_every_paper() -> None:
    papers = [_paper(1, "Linear attention", upvotes=50), _paper(2, "Protein folding", upvotes=80)]
    similar = (SimilarPaper(1, 0.5, _ATTENTION, 0.6),)
    quiet = Rule(7, liked=(99,), min_upvotes=10)  # nothing similar today

    assert Matcher(papers).match([quiet]) == []
    found = Matcher(papers).match([Rule(7, liked=(99,), min_upvotes=10, similar=similar)])
    assert [m.paper_id for m in found] == [1]
    assert found[0].explanation.trend is not None


def test_similar_papers_the_matcher_was_not_given_are_ignored() -> None:
    similar = (SimilarPaper(42, 0.5, _ATTENTION, 0.6),)

    assert (
        Matcher([_paper(1, "Linear attention")]).match([Rule(7, liked=(9,), similar=similar)]) == []
    )

"""Words and their normal forms: the one place that decides when two words are the same.

Paper text and keywords go through the same functions, so a rule applied to one
side is always applied to the other. Every word has three forms:

- `literal`: case folded only (what a quoted keyword compares);
- `fold`: case and accents folded ("Schrödinger" -> "schrodinger");
- `key`: the fold with British spellings made American and plurals made
  singular ("Optimisations" -> "optimization", "GANs" -> "gan"). Keys are
  compared, not shown: they need not be English ("response" -> "respons").
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# A word: letters and digits of any script; underscores inside it bind it into one
# identifier ("rl_reach" is not the word "RL"). Combining accents are not word
# characters, but text that arrives decomposed ("e" + U+0301) must not split a word.
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_PIECE = rf"[^\W_]+(?:[{_COMBINING}]+[^\W_]*)*"
WORD = re.compile(rf"{_PIECE}(?:_+{_PIECE})*")

# What may stand between two words of one phrase: spaces, hyphens and dashes used
# inside compounds, slashes and apostrophes. Anything else (a full stop, a comma,
# a bracket, an em dash) ends the phrase.
_HYPHENS = "-\u00ad\u2010\u2011\u2012\u2013\u2212"
_JOINERS = frozenset(_HYPHENS + "/'\u2019\u02bc")
_HYPHEN_RUN = re.compile(f"[{_HYPHENS}]+")
_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s+")

# Singular words that end in an "s" the plural rules would otherwise remove.
_SINGULAR_S = (
    "alias", "atlas", "bias", "canvas", "chaos", "cosmos", "ethos", "kudos", "lens",
    "news", "pancreas", "pathos", "thermos",
)  # fmt: skip
# Plurals no suffix rule undoes, mostly Latin and Greek ones common in papers.
_IRREGULAR = {
    "analyses": "analysis", "appendices": "appendix", "automata": "automaton",
    "axes": "axis", "buses": "bus", "children": "child", "corpora": "corpus",
    "crises": "crisis", "criteria": "criterion", "curricula": "curriculum",
    "diagnoses": "diagnosis", "extrema": "extremum", "foci": "focus", "formulae": "formula",
    "gases": "gas", "genera": "genus", "hypotheses": "hypothesis", "indices": "index",
    "loci": "locus", "matrices": "matrix", "maxima": "maximum", "mice": "mouse",
    "minima": "minimum", "moduli": "modulus", "nuclei": "nucleus", "optima": "optimum",
    "parentheses": "parenthesis", "phenomena": "phenomenon", "polyhedra": "polyhedron",
    "radii": "radius", "simplices": "simplex", "spectra": "spectrum", "stimuli": "stimulus",
    "syntheses": "synthesis", "theses": "thesis", "vertices": "vertex",
} | {word: word for word in _SINGULAR_S} | {word + "es": word for word in _SINGULAR_S}  # fmt: skip
_SIBILANTS = ("s", "x", "z", "ch", "sh")

# British spellings and their American form, as (suffix, replacement, shortest word).
_BRITISH_SUFFIXES = (
    ("isations", "izations", 9), ("isation", "ization", 8),
    ("ising", "izing", 8), ("ised", "ized", 7), ("isers", "izers", 8), ("iser", "izer", 7),
    ("ises", "izes", 7), ("ise", "ize", 6),
    ("ours", "ors", 7), ("our", "or", 6),
    ("ogues", "ogs", 8), ("ogue", "og", 7),
    ("elling", "eling", 8), ("elled", "eled", 7),
    ("tres", "ters", 7), ("tre", "ter", 6),
)  # fmt: skip
_BRITISH_WORDS = {
    "acknowledgement": "acknowledgment", "ageing": "aging", "analyse": "analyze",
    "analysed": "analyzed", "analysing": "analyzing", "artefact": "artifact",
    "artefacts": "artifacts", "defence": "defense", "defences": "defenses", "grey": "gray",
    "judgement": "judgment", "judgements": "judgments", "licence": "license",
    "offence": "offense", "programme": "program", "programmes": "programs",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text and where it is: `text[start:end]` of the original string."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Forms:
    """The three forms of a word (see the module's docstring)."""

    literal: str
    fold: str
    key: str


def tokenise(text: str) -> list[Token]:
    """Split `text` into its words (runs of letters and digits), with their offsets."""
    return [Token(found.group(), found.start(), found.end()) for found in WORD.finditer(text)]


@lru_cache(maxsize=1 << 17)
def forms(word: str) -> Forms:
    """Return the literal, folded and key forms of one word as it appears in a text."""
    if word.isascii():
        literal = folded = word.lower()
    else:
        literal = unicodedata.normalize("NFC", word).casefold()
        decomposed = unicodedata.normalize("NFKD", word.casefold())
        folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    # "GPUs", "LLMs", "APIs": a lower-case "s" after a capital is a plural ending,
    # even where the general rules keep the "s" ("-us", "-is").
    acronym_plural = len(word) >= 3 and word[-1] == "s" and word[-2].isupper()
    key = folded[:-1] if acronym_plural else singular(american(folded))
    # One object when the forms are equal: the index tells them apart by identity.
    return Forms(literal, folded, folded if key == folded else key)


def american(word: str) -> str:
    """Return the American spelling of a folded word ("optimisation" -> "optimization")."""
    if (spelling := _BRITISH_WORDS.get(word)) is not None:
        return spelling
    for suffix, replacement, shortest in _BRITISH_SUFFIXES:
        if word.endswith(suffix):
            # "noise", "rise", "hour", "metre": too short to be the pattern.
            return word[: -len(suffix)] + replacement if len(word) >= shortest else word
    return word


def singular(word: str) -> str:
    """Return the key under which a folded word and its plural are the same.

    Rules, in order: words of three letters or fewer are kept; irregular plurals
    and singulars ending in "s" come from a table; "-ies" and "-ie" become "-y";
    "-es" after s, x, z, ch, sh is dropped, and so is a final "e" after them, so
    "responses" and "response", "approaches" and "approach" meet (but "cases"
    and "case" meet on "case"); otherwise a final "s" is dropped except after
    s, u or i ("class", "corpus", "analysis").
    """
    if len(word) <= 3:
        return word
    if (irregular := _IRREGULAR.get(word)) is not None:
        return irregular
    if len(word) >= 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) >= 5 and word.endswith("ie"):
        return word[:-2] + "y"
    if word.endswith("es") and _sibilant_stem(word[:-2]):
        return word[:-2]
    if word.endswith("e") and _sibilant_stem(word[:-1]):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _sibilant_stem(stem: str) -> bool:
    # "boxes" and "box", "approaches" and "approach", "responses" and "response"
    # meet on the stem. Three-letter stems in s or z keep their "e" instead
    # ("cases" -> "case"), or "pose" would meet the acronym "POS".
    if stem.endswith(("x", "ch", "sh")):
        return len(stem) >= 3
    return len(stem) >= 4 and stem.endswith(("s", "z"))


def joins(text: str, end: int, start: int) -> bool:
    """Tell whether the word ending at `end` and the next one, at `start`, are one phrase.

    They are when only spaces, hyphens, en dashes, slashes or apostrophes
    separate them, or a single "&" ("Q&A"), or a single "." or "," between two
    digits ("3.5").
    """
    gap = text[end:start]
    if gap in (" ", "&"):
        return True
    if gap in (".", ","):
        return text[end - 1].isdigit() and text[start].isdigit()
    return all(char in _JOINERS or char.isspace() for char in gap)


def separator(gap: str) -> str:
    """Return what separates two words, by kind: " " for any white space, "-" for any hyphen.

    Quoted keywords compare separators: "state of the art" is not "state-of-the-art".
    """
    return _HYPHEN_RUN.sub("-", _SPACES.sub(" ", gap))


@lru_cache(maxsize=8192)  # a digest run asks for the same paper's snippet many times
def snippet(text: str, start: int, end: int, context: int = 60) -> tuple[str, int, int]:
    """Return the text around `text[start:end]`, ready to show, and where the match is in it.

    About `context` characters are kept on each side, cut at a space so no word is
    cut in two; a cut side gets "…"; runs of white space become one space. The
    result is `(snippet, match_start, match_end)` with
    `snippet[match_start:match_end]` the matched text (its spaces collapsed).
    """
    left = _cut_left(text, max(0, start - context), start)
    right = _cut_right(text, min(len(text), end + context), end)
    before = ("…" if left > 0 else "") + _collapse(text[left:start]).lstrip()
    middle = _collapse(text[start:end])
    after = _collapse(text[end:right]).rstrip() + ("…" if right < len(text) else "")
    return before + middle + after, len(before), len(before) + len(middle)


def _cut_left(text: str, left: int, start: int) -> int:
    # Start after the first space at or after `left`, never past the match.
    if left == 0 or text[left - 1].isspace():
        return left
    space = _SPACE.search(text, left, start)
    return space.end() if space else start


def _cut_right(text: str, right: int, end: int) -> int:
    # Stop at the last space before `right`, never before the end of the match.
    if right == len(text) or text[right].isspace():
        return right
    for position in range(right - 1, end - 1, -1):
        if text[position].isspace():
            return position
    return end


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text)

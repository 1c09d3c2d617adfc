"""The words of many papers, in flat lists, and the index that finds phrases among them.

A *target* is a keyword turned into one string: its words' forms joined with
nothing between them ("in-context learning" -> "incontextlearning"). A target
matches at token `p` when consecutive, joined tokens `p..q` spell it: each
token but the last contributes its key or its fold, the last one its key
(`TokenTable.walk`). So hyphens, spaces and missing spaces do not matter, a
token is never cut in two (whole words only), and plurals meet singulars.
"""

from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.matching.text import WORD, forms, joins, separator

TITLE = 0
ABSTRACT = 1


@dataclass(frozen=True, slots=True)
class Fields:
    """The two searchable fields of one paper."""

    title: str
    abstract: str


class TokenTable:
    """Every word of every paper's title and abstract, one after another, in flat lists.

    Token `i` belongs to segment `segments[i]`: paper number `segment // 2`,
    field `segment % 2` (`TITLE` or `ABSTRACT`). `joins[i]` tells whether token
    `i` and token `i + 1` may be read as one phrase (same field, and only a
    space, hyphen... between them; see `bot.matching.text.joins`).
    """

    def __init__(self, papers: Sequence[Fields]) -> None:
        self.papers = papers
        self.literals: list[str] = []
        self.folds: list[str] = []
        self.keys: list[str] = []
        # Offsets and segments as 4-byte machine integers: a list would hold an
        # int object per token, about ten times the memory for a large corpus.
        self.starts = array("I")
        self.ends = array("I")
        self.segments = array("I")
        self.joins = bytearray()
        for number, paper in enumerate(papers):
            self._add(paper.title, 2 * number + TITLE)
            self._add(paper.abstract, 2 * number + ABSTRACT)

    def __len__(self) -> int:
        return len(self.keys)

    def text(self, segment: int) -> str:
        """The text of one segment (a paper's title or abstract)."""
        paper = self.papers[segment // 2]
        return paper.title if segment % 2 == TITLE else paper.abstract

    def walk(self, target: str, first: int, unsplit: frozenset[int] = frozenset()) -> int:
        """Return the last token of a match of `target` starting at token `first`, or -1.

        No token may end at an offset of `unsplit`: those fall inside keyword
        words that must not be cut ("AI" is not "a-i").
        """
        keys, folds, joined = self.keys, self.folds, self.joins
        size = len(target)
        token, done = first, 0
        # While each token has one form there is one way on: no need for a stack.
        while (fold := folds[token]) is keys[token] or fold == keys[token]:
            key = keys[token]
            reached = done + len(key)
            if reached == size:
                return token if target.endswith(key) else -1
            if (
                reached > size
                or not joined[token]
                or not target.startswith(key, done)
                or reached in unsplit
            ):
                return -1
            token, done = token + 1, reached
        pending = [(token, done)]
        while pending:
            token, done = pending.pop()
            key = keys[token]
            rest = size - done
            if len(key) == rest and target.endswith(key):
                return token
            if not joined[token]:
                continue
            fold = folds[token]
            for form in (fold, key) if fold != key else (key,):  # the key is tried first
                if (
                    len(form) < rest
                    and target.startswith(form, done)
                    and done + len(form) not in unsplit
                ):
                    pending.append((token + 1, done + len(form)))
        return -1

    def walk_literal(self, words: Sequence[str], separators: Sequence[str], first: int) -> int:
        """Return the last token of `words` found literally from token `first` on, or -1.

        Consecutive words must be in one field, separated as in `separators`.
        """
        literals, segments = self.literals, self.segments
        token = first
        for number, word in enumerate(words):
            if literals[token] != word:
                return -1
            if number < len(separators):
                following = token + 1
                if following == len(literals) or segments[following] != segments[token]:
                    return -1
                gap = self.text(segments[token])[self.ends[token] : self.starts[following]]
                if separator(gap) != separators[number]:
                    return -1
                token = following
        return token

    def _add(self, text: str, segment: int) -> None:
        found = list(WORD.finditer(text))
        if not found:
            return
        words = [forms(match.group()) for match in found]
        starts = [match.start() for match in found]
        ends = [match.end() for match in found]
        self.literals += [word.literal for word in words]
        self.folds += [word.fold for word in words]
        self.keys += [word.key for word in words]
        self.starts.extend(starts)
        self.ends.extend(ends)
        self.segments.extend([segment] * len(found))
        self.joins += bytes(
            joins(text, end, start) for end, start in zip(ends[:-1], starts[1:], strict=True)
        )
        self.joins.append(False)  # the field ends: no phrase goes on into the next one


class PaperIndex(TokenTable):
    """A `TokenTable` with the lookups that find targets without reading every token.

    - `firsts`: key -> the first token with that key in each segment (one-token matches);
    - `pairs`: form -> form of the next token -> tokens where that joined pair
      starts (every match of two tokens or more starts at one of them);
    - `literal_postings`: literal form -> tokens (quoted keywords);
    - `frequency`: key -> how many tokens have it (to choose among typo corrections).
    """

    def __init__(self, papers: Sequence[Fields]) -> None:
        super().__init__(papers)
        self.firsts: dict[str, array[int]] = {}
        self.pairs: dict[str, dict[str, array[int]]] = {}
        self.literal_postings: dict[str, array[int]] = {}
        self.frequency: dict[str, int] = {}
        self._build()
        self._by_initial: dict[str, list[str]] = {}
        for key in self.frequency:
            self._by_initial.setdefault(key[0], []).append(key)

    def singles(self, target: str) -> Sequence[int]:
        """Tokens that match `target` alone (the first such token of each segment)."""
        return self.firsts.get(target, ())

    def starts_of(self, target: str) -> list[tuple[Sequence[int], int]]:
        """Groups of tokens where a match of `target` over two tokens or more may start.

        Each group comes with the length of the first token's form when the
        pair spells the whole target (then only their forms need checking), else 0.
        """
        groups: list[tuple[Sequence[int], int]] = []
        size = len(target)
        for cut in range(1, size):
            following = self.pairs.get(target[:cut])
            if following is None:
                continue
            for second in range(cut + 1, size + 1):
                found = following.get(target[cut:second])
                if found is not None:
                    groups.append((found, cut if second == size else 0))
        return groups

    def literal_starts(self, words: Sequence[str]) -> list[int]:
        """Tokens where `words` may start literally: the rarest word's tokens, moved back."""
        postings = [self.literal_postings.get(word, array("I")) for word in words]
        offset = min(range(len(words)), key=lambda number: len(postings[number]))
        return [token - offset for token in postings[offset] if token >= offset]

    def nearest(self, key: str, bound: int) -> str | None:
        """The vocabulary key closest to `key` within `bound` edits, starting with the same letter.

        Among the closest, the most frequent wins ("lerning" -> "learning", not
        "leaning"); then the alphabetically first, so the choice is stable.
        """
        found = process.extract(
            key,
            self._by_initial.get(key[0], []),
            scorer=OSA.distance,
            score_cutoff=bound,
            limit=None,
        )
        if not found:
            return None
        best = min(found, key=lambda hit: (hit[1], -self.frequency[hit[0]], hit[0]))
        return str(best[0])

    def _build(self) -> None:
        keys, folds, segments, joined = self.keys, self.folds, self.segments, self.joins
        firsts: defaultdict[str, list[int]] = defaultdict(list)
        pairs: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        postings: defaultdict[str, list[int]] = defaultdict(list)
        segment, seen = -1, set[str]()
        for token, key in enumerate(keys):
            if segments[token] != segment:
                segment, seen = segments[token], set()
            if key not in seen:
                seen.add(key)
                firsts[key].append(token)
            if not joined[token]:
                continue
            next_key, next_fold = keys[token + 1], folds[token + 1]
            fold = folds[token]
            for form in (key,) if fold is key else (key, fold):
                following = pairs[form]
                following[next_key].append(token)
                if next_fold is not next_key:
                    following[next_fold].append(token)
        for token, literal in enumerate(self.literals):
            postings[literal].append(token)
        # Kept as arrays for the reason the offsets are (see `TokenTable`).
        self.firsts = {key: array("I", tokens) for key, tokens in firsts.items()}
        self.pairs = {
            form: {key: array("I", tokens) for key, tokens in following.items()}
            for form, following in pairs.items()
        }
        self.literal_postings = {key: array("I", tokens) for key, tokens in postings.items()}
        self.frequency = dict(Counter(keys))

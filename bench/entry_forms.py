"""Entry rendering benchmark: 10,000 digests' text and HTML parts, entries from forms or whole.

The digests are `bench/selection.py`'s (500 papers, topics of 1 to 5 keywords as
users type them, up to 25 entries each), chosen once, untimed. Then, alternately
and each with a new renderer, every digest's context, text part and HTML part:

- with each entry rendered by its template and kept for the digests that show it
  again (as every entry was before forms; the user's own templates still are);
- with the packaged templates' entries filled in from a form per shape of entry
  (`bot.digest.entry_forms`), as now.

Prints both CPU times, their ratio, and whether the parts are identical.

    python bench/entry_forms.py [--subscribers N] [--papers N] [--repeat N]
"""

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selection import prepare, select_all

from bot.digest.entry_forms import EntryForm, FormKey
from bot.digest.model import Digest
from bot.digest.render import DigestRenderer
from bot.digest.select import select_digest


class _NoForms(dict[FormKey, EntryForm | None]):
    """A renderer's forms when it has none: every entry is rendered whole, and kept."""

    def __getitem__(self, key: FormKey) -> EntryForm | None:
        return None


def render_all(digests: list[Digest], *, forms: bool) -> tuple[float, list[str]]:
    """CPU seconds to render every digest's text and HTML parts, and the parts."""
    renderer = DigestRenderer()
    if not forms:
        renderer._forms = _NoForms()
    parts = []
    gc.collect()
    started = time.process_time()
    for digest in digests:
        context = renderer.context(digest)
        parts.append(renderer.text(digest, context))
        parts.append(renderer.html(digest, context))
    return time.process_time() - started, parts


def main() -> None:
    """Choose the digests, time both ways alternately, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    subscribers, views = prepare(args.subscribers, args.papers, seed=7)
    digests = [d for d in select_all(select_digest, subscribers, views, 25) if d is not None]
    entries = sum(len(d.entries) for d in digests)
    print(f"{len(digests)} digests, {entries} entries ({entries / len(digests):.1f} each)")
    ratios = []
    for _ in range(args.repeat):
        whole, expected = render_all(digests, forms=False)
        filled, got = render_all(digests, forms=True)
        ratios.append(filled / whole)
        print(f"  entries rendered whole {whole:6.2f} s CPU, filled in from forms {filled:6.2f} s"
              f"  ({filled / whole:.2f}x)  identical: {got == expected}")  # fmt: skip
    print(f"median: forms take {statistics.median(ratios):.2f}x the time of whole entries")


if __name__ == "__main__":
    main()

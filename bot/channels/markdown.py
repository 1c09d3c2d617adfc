"""The Markdown outlet: each digest as a file in the digests folder, `<date>-<address>.md`.

Written atomically (`write_markdown`); a digest written again replaces its file,
so a reader never finds one twice.
"""

from collections.abc import Iterable
from pathlib import Path

from bot.channels.outlet import OutletRun
from bot.delivery.plan import PlannedDigest
from bot.delivery.transports import write_markdown
from bot.digest.render import DigestRenderer


class MarkdownOutlet:
    """A run's digests as Markdown files in `folder`."""

    twice: str | None = None

    def __init__(self, folder: Path, renderer: DigestRenderer) -> None:
        """Write into `folder`, with `renderer`'s templates."""
        self.folder = folder
        self.renderer = renderer

    def describe(self, item: PlannedDigest) -> str:
        """What a dry run says."""
        return "Markdown digest"

    def send(self, items: Iterable[PlannedDigest], run: OutletRun) -> None:
        """Write each digest whose subscriber the run still holds; record it."""
        for item in items:
            if not run.still_held(item):
                continue
            text = self.renderer.markdown(item.digest)
            subscriber = item.subscriber
            path = write_markdown(
                self.folder, email=subscriber.email, day=item.digest.day, text=text
            )
            run.record(item, "sent", str(path))

    def close(self) -> None:
        """Nothing held."""

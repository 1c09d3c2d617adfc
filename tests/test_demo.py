"""`make demo`'s commands, as the Makefile lists them, on a copy of the bundled examples."""

import re
import shlex
import shutil
from pathlib import Path

from tests.conftest import ROOT, RunCli
from tests.web.conftest import read_eml


def _demo_commands() -> list[list[str]]:
    """The paperbot commands of the Makefile's demo target, in order."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    return [
        shlex.split(line.strip())[1:]
        for line in recipe.splitlines()
        if line.strip().startswith("$(BIN)/paperbot ")
    ]


def test_the_demo_digests_link_each_paper(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    commands = _demo_commands()
    assert ["ingest", "examples/hf_daily"] in commands
    for args in commands:
        done = run_cli(*args)
        assert done.returncode == 0, done.stderr
    [markdown] = (tmp_path / "paperbot-data" / "digests").glob("*-bo@example-org--*.md")
    text = markdown.read_text(encoding="utf-8")
    # A paper of the bundled Hugging Face list: its page, the PDF, authors, upvotes, code.
    assert (
        "[Stable Video Diffusion: Scaling Latent Video Diffusion Models to Large Datasets]"
        "(https://huggingface.co/papers/2311.15127) · [PDF](https://arxiv.org/pdf/2311.15127)"
    ) in text
    assert (
        "*Andreas Blattmann, Tim Dockhorn, Sumith Kulal, Daniel Mendelevitch, Maciej Kilian" in text
    )
    assert "et al. · Stability AI · 2023-11-25 · 8 upvotes*" in text
    assert "[code](https://github.com/Stability-AI/generative-models)" in text
    # The dumps' other papers link to arXiv's search for their exact titles.
    assert re.search(r"\]\(https://arxiv\.org/search/\?query=%22[^)]+&searchtype=title\)", text)
    # The emails link them the same way.
    htmls = [
        read_eml(path).get_body(("html",)).get_content()  # type: ignore[union-attr]
        for path in (tmp_path / "paperbot-data" / "outbox").glob("*.eml")
    ]
    assert htmls and any('href="https://huggingface.co/papers/' in h for h in htmls)

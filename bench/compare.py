"""Run one benchmark script from two revisions, alternately, and compare one figure of theirs.

Each revision is checked out in a temporary git worktree and its own copy of the
script runs with that worktree first on the path (the virtual environment is
shared), so each measures its own code on its own database. The rounds
alternate (A, B, A, B...) so that a machine growing busier or quieter weighs on
both alike; the medians are compared.

    python bench/compare.py REV_A REV_B [--rounds N] [--figure REGEX] -- SCRIPT [ARGS...]

By default the figure is `bench/delivery.py`'s "delivery run ... s". For
example, email delivery before and after a change:

    python bench/compare.py 1268d3d HEAD -- bench/delivery.py --subscribers 10000
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIGURE = r"delivery run\s+([0-9.]+) s"


def worktree(revision: str, folder: Path) -> Path:
    """`revision` checked out (detached) in `folder`."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), revision],
        check=True,
    )
    return folder


def measure(tree: Path, script: list[str], figure: re.Pattern[str]) -> float:
    """Run `script` from `tree`; the figure its output shows (the last, if several)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, *script], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    # The last: a script that prints its rounds prints their median after them.
    found = next(reversed(list(figure.finditer(done.stdout))), None)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{tree.name}: no figure in its output ({done.returncode}):\n"
                         f"{done.stdout[-1500:]}{done.stderr[-1500:]}")  # fmt: skip
    return float(found.group(1))


def main() -> None:
    """Check both revisions out, run the script from each in turn, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], usage="%(prog)s [-h] A B [options] -- SCRIPT [ARGS]"
    )
    parser.add_argument("a", help="the first revision (the baseline)")
    parser.add_argument("b", help="the second revision")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--figure", default=DEFAULT_FIGURE, help="a regex; group 1 the number")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    script = argv[split + 1 :]
    if not script:
        parser.error("give the script to run after --")
    figure = re.compile(args.figure)
    revisions = (args.a, args.b)  # by position: a revision against itself measures the noise
    figures: tuple[list[float], list[float]] = ([], [])
    with tempfile.TemporaryDirectory(prefix="paperbot-compare-") as name:
        trees = [Path(name, f"rev{n}") for n in range(2)]
        try:
            for revision, folder in zip(revisions, trees, strict=True):
                worktree(revision, folder)
            for round_ in range(1, args.rounds + 1):
                for revision, tree, values in zip(revisions, trees, figures, strict=True):
                    value = measure(tree, script, figure)
                    values.append(value)
                    print(f"round {round_}  {revision:>12}  {value:8.2f}", flush=True)
        finally:
            for folder in trees:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
                    check=False, capture_output=True,
                )  # fmt: skip
    a, b = (statistics.median(values) for values in figures)
    print(f"median: {args.a} {a:.2f}, {args.b} {b:.2f}; {args.b} / {args.a} = {b / a:.3f}")


if __name__ == "__main__":
    main()

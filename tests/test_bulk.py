import gc
import subprocess
import sys

from bot.bulk import YOUNG_COLLECTION_THRESHOLD, collector_paused


def test_the_collector_is_paused_inside_the_block_and_back_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_command_line_freezes_its_start_and_collects_young_objects_less_often() -> None:
    # In a process of its own: the test runner's collector stays as it is.
    probe = (
        "import gc; from bot.bulk import settle_collector; before = gc.get_threshold();"
        " settle_collector(); after = gc.get_threshold();"
        " print(gc.get_freeze_count() > 0, before[1:] == after[1:], after[0])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()

    assert shown == ["True", "True", str(YOUNG_COLLECTION_THRESHOLD)]

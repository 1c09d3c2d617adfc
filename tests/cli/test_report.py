"""`paperbot report` after real ingest runs."""

import json
import shutil
from pathlib import Path

from tests.conftest import RunCli


def test_every_ingest_run_is_reported_with_its_reasons(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    shutil.copy(samples / "compact-2.txt", tmp_path / "good.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    run_cli("ingest", "good.txt", "empty.txt")
    run_cli("ingest", "good.txt")
    result = run_cli("report", "--json")
    assert result.returncode == 0, result.stderr
    latest, first = json.loads(result.stdout)
    assert first["status"] == "partial"
    assert first["counts"]["papers_new"] == 214 and first["counts"]["failed"] == 1
    outcomes = {Path(d["target"]).name: (d["outcome"], d["reason"]) for d in first["details"]}
    assert outcomes["good.txt"] == ("ok", "")
    assert outcomes["empty.txt"][0] == "failed" and "empty file" in outcomes["empty.txt"][1]
    assert latest["status"] == "ok" and latest["counts"]["skipped"] == 1
    assert "unchanged" in latest["details"][0]["reason"]
    table = run_cli("report").stdout
    assert "partial" in table and "empty file" in table


def test_a_report_before_any_run(run_cli: RunCli) -> None:
    assert run_cli("db", "upgrade").returncode == 0
    result = run_cli("report")
    assert result.returncode == 0 and "no runs recorded yet" in result.stdout

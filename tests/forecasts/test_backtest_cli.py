"""``ems forecast-backtest`` on the real Caltech sessions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ems.cli import main
from ems.datasets import CALTECH_SESSION_FILES


def test_the_backtest_command_reports_mae_and_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scores.json"
    code = main([
        "forecast-backtest", "--sessions", str(CALTECH_SESSION_FILES["caltech-2019-fall"]),
        "--timezone", "America/Los_Angeles", "--step-days", "14", "--json", str(out),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "departure MAE" in printed and "arrivals per hour" in printed
    scores = json.loads(out.read_text())
    site = next(s for s in scores["scores"] if s["forecaster"] == "site" and s["subset"] == "all")
    naive = next(s for s in scores["scores"] if s["forecaster"] == "global")
    assert site["sessions"] > 1000
    assert site["departure_mae_h"] < naive["departure_mae_h"]  # the site model beats a median
    assert 0.5 < site["departure_coverage"] <= 1.0


def test_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast-backtest", "--sessions", "/nonexistent.csv"]) == 2
    assert "nonexistent" in capsys.readouterr().err

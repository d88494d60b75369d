"""``ems replay`` end to end: options in, table out, files written; bad input exits 2."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from ems.datasets import SessionRecord, write_sessions_csv
from ems.replay.cli import add_replay_parser


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ems")
    add_replay_parser(parser.add_subparsers())
    args = parser.parse_args(["replay", *argv])
    return int(args.func(args, None))


@pytest.fixture
def sessions_csv(tmp_path: Path, tiny_sessions: list[SessionRecord]) -> Path:
    path = tmp_path / "sessions.csv"
    write_sessions_csv(tiny_sessions, path)
    return path


def test_the_command_prints_a_table_and_writes_results_series_sessions_and_plots(
    tmp_path: Path, tiny_site_path: Path, sessions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    status = _main([
        "--sessions", str(sessions_csv), "--site", str(tiny_site_path),
        "--policy", "uncontrolled,edf", "--start", "2024-01-08", "--days", "1",
        "--sweep", "capacity_kw=3:6:3", "--jobs", "1", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "edf @ 3 kW" in printed and "uncontrolled @ 6 kW" in printed
    results = json.loads((out / "results.json").read_text())
    labels = [run["label"] for run in results["runs"]]
    assert labels == ["uncontrolled @ 3 kW", "edf @ 3 kW", "uncontrolled @ 6 kW", "edf @ 6 kW"]
    edf_3 = results["runs"][1]
    assert edf_3["capacity_kw"] == 3.0 and edf_3["violation_steps"] == 0
    assert edf_3["peak_kw"] <= 3.0 + 1e-9
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == labels
    with (out / "sessions.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4 * 3
    for name in ("series.csv", "load.png", "load.html", "comparison.png", "sweep.png",
                 "sweep.html", "plotly.min.js"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "cheapest"], "unknown policy 'cheapest'"),
        (["--sweep", "voltage=1:2:1"], "KEY one of capacity_kw, policy, tariff"),
        (["--sweep", "capacity_kw=140:10:10"], "start:stop:step"),
        (["--start", "yesterday"], "--start: not a date"),
        (["--knowledge", "forecast"], "knowledge forecast: needs at least 20 sessions"),
        (["--capacity-kw", "-5"], "--capacity-kw: must be positive"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    tiny_site_path: Path,
    sessions_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    base = {"--sessions": str(sessions_csv), "--site": str(tiny_site_path),
            "--start": "2024-01-08", "--policy": "edf", "--out": str(tmp_path / "out")}  # fmt: skip
    for key, value in zip(argv[::2], argv[1::2], strict=True):
        base[key] = value
    status = _main([*[x for kv in base.items() for x in kv], "--quiet", "--no-plots"])
    assert status == 2
    assert message in capsys.readouterr().err

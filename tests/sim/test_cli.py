"""``ems sim`` end to end: arguments, a session dataset, a run against a CSMS, bad input."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ems.sim.cli import add_sim_parser, run_sim, stations_from_args
from tests.sim.csms import csms_server


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ems")
    add_sim_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["sim", *argv])


def test_arguments_describe_the_stations() -> None:
    args = parse(
        "--url", "ws://x/ocpp", "--count", "4", "--version", "mixed", "--rate-units", "W",
        "--reject-profiles", "1", "--no-meter-values", "1", "--password", "p" * 16,
    )  # fmt: skip
    stations = stations_from_args(args)
    assert [s.id for s in stations] == ["SIM-001", "SIM-002", "SIM-003", "SIM-004"]
    assert [s.version.value for s in stations] == ["ocpp1.6", "ocpp2.0.1"] * 2
    assert [s.rejects_profiles for s in stations] == [True, False, False, False]
    assert [s.sends_meter_values for s in stations] == [True, True, True, False]
    assert all(s.rate_units == {"W"} and s.password == "p" * 16 for s in stations)


def test_bad_rate_unit_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--url", "ws://x/ocpp", "--rate-units", "kW")
    assert "--rate-units" in capsys.readouterr().err


async def test_sim_replays_a_dataset_against_a_csms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = tmp_path / "sessions.csv"
    sessions.write_text(
        "arrival,departure,energy_kwh\n2026-01-05T08:00:00+01:00,2026-01-05T08:30:00+01:00,10\n",
        encoding="utf-8",
    )
    async with csms_server() as csms:
        args = parse(
            "--url", csms.url, "--count", "2", "--version", "2.0.1", "--sessions", str(sessions),
            "--speed", "1200", "--duration-s", "2400", "--report-every-s", "1",
            "--start", "2026-11-02T08:00:00+00:00",
        )  # fmt: skip
        assert await run_sim(args) == 0
    started = [r for r in csms.records.values() if r.started]
    assert len(started) == 1
    assert len(started[0].stopped) == 1  # departed after 30 simulated minutes
    out = capsys.readouterr().out
    assert "2 stations" in out
    assert "arrivals 1" in out


async def test_sim_refuses_a_bad_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = tmp_path / "bad.csv"
    sessions.write_text("arrival,energy_kwh\n", encoding="utf-8")
    args = parse("--url", "ws://127.0.0.1:9/ocpp", "--sessions", str(sessions))
    assert await run_sim(args) == 2
    assert "missing column(s) departure" in capsys.readouterr().err

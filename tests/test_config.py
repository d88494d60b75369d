"""Configuration: TOML plus environment, validated at start with errors that name the key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ems.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ems.toml"
    path.write_text(text)
    return path


def test_sample_configuration_is_valid() -> None:
    settings = load_settings(ROOT / "data" / "sample.toml")
    assert settings.server.port == 9000
    assert settings.database.url.startswith("sqlite:////")  # made absolute next to the file
    assert {cp.id for cp in settings.charge_points} == {"CP-1", "CP-2"}


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ("[server]\nport = 'nine'\n", "server.port", "valid integer"),
        ("[server]\nport = 70000\n", "server.port", "less than or equal to 65535"),
        ("[server]\nprot = 9000\n", "server.prot", "unknown key"),
        (
            "[ocpp]\nheartbeat_interval_s = 0\n",
            "ocpp.heartbeat_interval_s",
            "greater than or equal",
        ),
        (
            "[[charge_points]]\nid = 'A'\nsecurity_profile = 1\n",
            "charge_points.0",
            "security_profile 1 needs a password",
        ),
        (
            "[[charge_points]]\nid = 'A'\nsecurity_profile = 1\npassword = 'short'\n",
            "charge_points.0.password",
            "at least 16 characters",
        ),
        ("[server]\ntls_port = 9443\n", "server", "tls_port needs tls_cert_file and tls_key_file"),
        ("[logging]\nlevel = 'LOUD'\n", "logging.level", "'DEBUG'"),
    ],
)
def test_bad_values_are_reported_with_their_key(
    tmp_path: Path, toml: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, toml))
    line = next(line for line in str(error.value).splitlines() if line.strip().startswith(key))
    assert message in line


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[server]\nport = 9100\n[database]\nurl = 'sqlite:///a.db'\n")
    monkeypatch.setenv("EMS_SERVER__PORT", "9200")
    monkeypatch.setenv("EMS_DATABASE_URL", "postgresql+psycopg://ems@db/ems")
    settings = load_settings(path)
    assert settings.server.port == 9200
    assert settings.database.url == "postgresql+psycopg://ems@db/ems"


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMS_OCPP__CALL_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"ocpp\.call_timeout_s: Input should be a valid number"):
        load_settings(None)


def test_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"))


def test_cli_rejects_a_bad_config_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "ems", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_ems_serve_starts_prints_its_urls_and_stops_cleanly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[server]\nport = 0\n[database]\nurl = 'sqlite:///ems.db'\n"
        "[api]\nbootstrap_admin_token = 'cli-test-admin-token-0001'\n",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ems", "serve", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("REST API:"):
                break
        api = lines[-1].split()[2]
        assert (
            httpx.get(api.removesuffix("/api/v1") + "/openapi.json", timeout=10).status_code == 200
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert (tmp_path / "ems.db").exists()

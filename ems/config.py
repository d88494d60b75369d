"""Settings of a running ems: a TOML file plus ``EMS_*`` environment variables, checked at start.

Precedence, highest first: environment variables, the TOML file, defaults. Nested keys are
reached with a double underscore (``EMS_SERVER__PORT=9100``); ``EMS_DATABASE_URL`` sets
``database.url``. Every error names the key it is about (``server.port: ...``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ems.domain import Registration


class ConfigError(Exception):
    """The configuration cannot be used; the message names every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The one HTTP port (OCPP WebSocket, REST API, pages) and the optional TLS port."""

    host: str = "127.0.0.1"
    port: int = Field(9000, ge=0, le=65535)
    tls_port: int | None = Field(None, ge=0, le=65535)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    ws_ping_interval_s: float | None = Field(60.0, gt=0)
    ws_max_message_bytes: int = Field(1 << 20, ge=1024)
    # On SIGTERM/SIGINT: the time to finish answering, close connections and write the queue.
    shutdown_timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _tls_complete(self) -> ServerSettings:
        if self.tls_port is not None and (self.tls_cert_file is None or self.tls_key_file is None):
            raise ValueError("tls_port needs tls_cert_file and tls_key_file")
        for name in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: no such file {path}")
        return self


class DatabaseSettings(_Section):
    """Where ems stores everything, and how the recorder commits OCPP traffic.

    ``max_backlog``: writes waiting for the database above which connections stop reading.
    ``sqlite_synchronous``: FULL makes every acknowledged message survive a power cut, not only
    a crash of ems (NORMAL); it costs one fsync per commit, shared by a whole batch.
    """

    url: str = "sqlite:///var/ems.db"
    batch_size: int = Field(2000, ge=1)
    flush_interval_s: float = Field(0.05, gt=0)
    max_backlog: int = Field(50_000, ge=100)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"


class OcppSettings(_Section):
    """Behaviour of the central system towards charge points."""

    heartbeat_interval_s: int = Field(300, ge=1)
    pending_retry_interval_s: int = Field(60, ge=1)
    call_timeout_s: float = Field(30.0, gt=0)
    auto_register: bool = False
    auto_register_status: Registration = Registration.PENDING
    accept_unknown_id_tokens: bool = False
    log_frames: bool = True


class AdmissionSettings(_Section):
    """Limits on wrong HTTP Basic passwords (security profiles 1 and 2), see ``ems.ocpp.admission``.

    ``failures_per_id`` wrong passwords for one charge point id, or ``failures_per_address`` from
    one remote address (an IPv6 /64), within ``window_s`` lock that id or address out for
    ``lockout_s``, doubled at each lockout that follows up to ``max_lockout_s``; 0 turns a limit
    off. At most ``max_pending_checks`` password checks (Argon2) run or wait; handshakes beyond
    that are refused at once.
    """

    failures_per_id: int = Field(5, ge=0)
    failures_per_address: int = Field(20, ge=0)
    window_s: float = Field(60.0, gt=0)
    lockout_s: float = Field(60.0, gt=0)
    max_lockout_s: float = Field(900.0, gt=0)
    max_pending_checks: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _cap_above_first_lockout(self) -> AdmissionSettings:
        if self.max_lockout_s < self.lockout_s:
            raise ValueError("max_lockout_s must be at least lockout_s")
        return self


class RetentionSettings(_Section):
    """How long the logs are kept [days], 0 = forever; see ``ems.store.retention``.

    Only the raw frame log, the status history and the notifications are pruned, every
    ``interval_h`` hours, ``batch_rows`` rows per transaction. Meter samples, transactions,
    control cycles and the payment ledger are billing data and never pruned.
    """

    frames_days: int = Field(30, ge=0)
    status_history_days: int = Field(365, ge=0)
    events_days: int = Field(365, ge=0)
    interval_h: float = Field(1.0, gt=0)
    batch_rows: int = Field(10_000, ge=1)


class ChargePointSettings(_Section):
    """A charge point known in advance; the API can register more at run time."""

    id: str = Field(min_length=1, max_length=48, pattern=r"^[^/\s]+$")
    security_profile: int = Field(1, ge=0, le=3)
    password: str | None = Field(None, min_length=16, max_length=40)
    registration: Registration = Registration.ACCEPTED

    @model_validator(mode="after")
    def _password_for_basic_auth(self) -> ChargePointSettings:
        if self.security_profile in (1, 2) and self.password is None:
            raise ValueError(f"security_profile {self.security_profile} needs a password")
        return self


class IdTokenSettings(_Section):
    id: str = Field(min_length=1, max_length=36)
    type: str = "ISO14443"
    status: Literal["Accepted", "Blocked", "Expired", "Invalid"] = "Accepted"


class ApiSettings(_Section):
    """``bootstrap_admin_token``: created at start when no API token exists yet (for demos)."""

    bootstrap_admin_token: str | None = Field(None, min_length=16)


class ControlSettings(_Section):
    """Smart charging: ``sites`` lists site files (see ``data/sites/README.md``) to control.

    ``time_scale`` > 1 runs the control intervals faster than real time; only for demos and
    simulations whose clock runs at the same pace.
    """

    sites: list[Path] = []
    enabled: bool = True
    time_scale: float = Field(1.0, gt=0)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class Settings(BaseSettings):
    """All settings of one ems process."""

    model_config = SettingsConfigDict(
        env_prefix="EMS_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    ocpp: OcppSettings = OcppSettings()
    admission: AdmissionSettings = AdmissionSettings()
    retention: RetentionSettings = RetentionSettings()
    api: ApiSettings = ApiSettings()
    logging: LoggingSettings = LoggingSettings()
    control: ControlSettings = ControlSettings()
    charge_points: list[ChargePointSettings] = []
    id_tokens: list[IdTokenSettings] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        seen: set[str] = set()
        for cp in self.charge_points:
            if cp.id in seen:
                raise ValueError(f"charge point id {cp.id!r} appears twice")
            seen.add(cp.id)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file: the file's values arrive as init arguments.
        return (env_settings, init_settings)


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any), apply environment variables and validate everything.

    ``EMS_CONFIG`` names the file when ``path`` is None. Relative paths in the file (TLS files,
    a SQLite database) are taken relative to the file's folder.
    """
    source = str(path or os.environ.get("EMS_CONFIG") or "defaults")
    data: dict[str, Any] = {}
    file = (
        Path(path or os.environ.get("EMS_CONFIG", ""))
        if (path or "EMS_CONFIG" in os.environ)
        else None
    )
    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file not found: {file}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {file} is not valid TOML: {exc}") from exc
        _resolve_relative_paths(data, file.parent)
    if url := os.environ.get("EMS_DATABASE_URL"):
        data.setdefault("database", {})["url"] = url
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    server = data.get("server")
    if isinstance(server, dict):
        for key in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
            value = server.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                server[key] = str(base / value)
    control = data.get("control")
    if isinstance(control, dict) and isinstance(control.get("sites"), list):
        control["sites"] = [
            str(base / site) if isinstance(site, str) and not Path(site).is_absolute() else site
            for site in control["sites"]
        ]
    database = data.get("database")
    if isinstance(database, dict):
        url = database.get("url")
        prefix = "sqlite:///"
        if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
            relative = url.removeprefix(prefix)
            if relative and relative != ":memory:":
                database["url"] = prefix + str((base / relative).resolve())

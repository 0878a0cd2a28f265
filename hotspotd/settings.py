"""Settings: one TOML file validated into a frozen pydantic model."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

CONFIG_ENV = "HOTSPOTD_CONFIG"
DEFAULT_CONFIG_PATH = Path("/etc/hotspotd/hotspotd.toml")


class SettingsError(Exception):
    """The settings file is missing, unreadable or invalid (one clear line)."""


class _Section(BaseModel):
    # Unknown keys are typos: stop start-up instead of ignoring them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    path: Path = Path("/var/lib/hotspotd/hotspotd.sqlite3")


class RedisSettings(_Section):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    key_prefix: str = "hotspotd:"
    connect_timeout_s: float = Field(default=3.0, gt=0)


class RadiusSettings(_Section):
    listen_address: str = "127.0.0.1"
    auth_port: int = Field(default=1812, ge=1, le=65535)
    acct_port: int = Field(default=1813, ge=1, le=65535)
    local_secret: SecretStr = SecretStr("change-me-local")
    nas_networks: tuple[str, ...] = ("0.0.0.0/0",)
    client_lifetime_s: int = Field(default=300, ge=1)
    config_dir: Path = Path("/etc/freeradius/3.0")
    log_dir: Path = Path("/var/log/freeradius")
    run_dir: Path = Path("/var/run/freeradius")
    user: str | None = "freerad"
    coa_port: int = Field(default=3799, ge=1, le=65535)
    coa_timeout_s: float = Field(default=3.0, gt=0)
    interim_interval_s: int = Field(default=300, ge=60)
    # Also record accepted logins in radpostauth (rejects always are). Off by default:
    # the insert costs about a third of FreeRADIUS's throughput, and radacct has sessions.
    log_accepts: bool = False
    # The address routers send RADIUS to (registration configures it); "": listen_address.
    public_address: str = ""


class PortalSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    session_secret: SecretStr = SecretStr("change-me-session-secret-at-least-32-characters")
    registration_open: bool = False


class WorkerSettingsModel(_Section):
    poll_delay_s: float = Field(default=0.05, gt=0)
    max_jobs: int = Field(default=20, ge=1)
    max_tries: int = Field(default=3, ge=1)
    job_timeout_s: float = Field(default=60.0, gt=0)
    retry_backoff_s: float = Field(default=2.0, ge=0)


class RouterSettings(_Section):
    connect_timeout_s: float = Field(default=5.0, gt=0)
    register_timeout_s: float = Field(default=10.0, gt=0)
    command_timeout_s: float = Field(default=10.0, gt=0)
    credentials_key: SecretStr = SecretStr("")
    sync_interval_s: int = Field(default=60, ge=5)
    # Routers synced at once (each on its own connection thread).
    sync_concurrency: int = Field(default=20, ge=1, le=200)
    # Hosts allowed before login besides the portal's (payment pages, ...).
    walled_garden_hosts: tuple[str, ...] = ()
    # RouterOS 7.15+: drop RADIUS replies without Message-Authenticator (Blast-RADIUS).
    require_message_auth: bool = True


class AuthSettings(_Section):
    """Admin panel sign-in: sessions, lockout, password hashing."""

    session_idle_timeout_s: int = Field(default=1800, ge=1)
    session_absolute_timeout_s: int = Field(default=12 * 3600, ge=1)
    # Failed sign-ins per user name (and per source address) within the window
    # before that name (address) is locked for lockout_s.
    lockout_threshold: int = Field(default=5, ge=1)
    address_lockout_threshold: int = Field(default=20, ge=1)
    lockout_window_s: int = Field(default=900, ge=1)
    lockout_s: int = Field(default=900, ge=1)
    password_min_length: int = Field(default=10, ge=8)
    # scrypt cost (RFC 7914 "interactive" is 2**14); stored with each hash.
    password_scrypt_n: int = Field(default=16384, ge=2)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    radius: RadiusSettings = RadiusSettings()
    portal: PortalSettings = PortalSettings()
    worker: WorkerSettingsModel = WorkerSettingsModel()
    routers: RouterSettings = RouterSettings()
    auth: AuthSettings = AuthSettings()
    logging: LoggingSettings = LoggingSettings()


def _describe(exc: ValidationError, path: Path) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{path}: unknown setting '{where}'"
    return f"{path}: setting '{where}': {first['msg']}"


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the settings file (argument, $HOTSPOTD_CONFIG or the default)."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, path)


def settings_from_dict(raw: dict[str, object], path: Path = Path("<settings>")) -> Settings:
    """Validate a settings mapping; errors name the key and the file."""
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    db_dir = settings.database.path.parent
    if not db_dir.is_dir():
        raise SettingsError(f"{path}: setting 'database.path': directory {db_dir} does not exist")
    return settings

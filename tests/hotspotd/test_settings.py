"""Settings: the example documents every setting; bad files fail with one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from hotspotd.settings import Settings, SettingsError, load_settings

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _model_keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _file_keys(raw: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in raw.items():
        if isinstance(value, dict):
            keys |= _file_keys(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_settings_are_documented_in_the_example() -> None:
    documented = _file_keys(tomllib.loads(EXAMPLE.read_text()))
    assert documented == _model_keys(Settings)


def test_settings_example_has_a_comment_above_every_key() -> None:
    previous = ""
    for line in EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "[")):
            assert previous.startswith("#"), f"no comment above: {stripped}"
        if stripped:
            previous = stripped


def test_settings_example_values_are_the_defaults() -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings()
    for section, values in raw.items():
        for key, value in values.items():
            default = getattr(getattr(defaults, section), key)
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            if isinstance(default, tuple):
                default = list(default)
            assert str(default) == str(value), f"{section}.{key}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotspotd.toml"
    path.write_text(f'[database]\npath = "{tmp_path}/db.sqlite3"\n' + text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[redis]\nurll = 'redis://x'\n", "unknown setting 'redis.urll'"),
        ("[portl]\nport = 1\n", "unknown setting 'portl'"),
        ("[portal]\nport = 'eighty'\n", "setting 'portal.port': Input should be a valid integer"),
        ("[portal]\nport = 70000\n", "setting 'portal.port'"),
        ("[worker]\nmax_tries = 0\n", "setting 'worker.max_tries'"),
        ("[logging]\nlevel = 'LOUD'\n", "setting 'logging.level'"),
        ("[portal\n", "not valid TOML"),
    ],
)
def test_settings_bad_file_names_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_settings_missing_database_directory(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'[database]\npath = "{tmp_path}/nope/db.sqlite3"\n')
    with pytest.raises(SettingsError, match=r"directory .*nope does not exist"):
        load_settings(path)


def test_settings_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "absent.toml")


def test_settings_secrets_do_not_print(tmp_path: Path) -> None:
    path = _write(tmp_path, "[portal]\nsession_secret = 'very-secret-value-0123456789abcdef'\n")
    settings = load_settings(path)
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings.model_dump())

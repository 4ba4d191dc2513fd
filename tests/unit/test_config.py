"""Settings: flags over environment over config file over defaults; errors name their source."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from rekor_py.config import Settings, SettingsError, load_settings
from rekor_py.limits import Limits

EXAMPLE_CONFIG = Path(__file__).parents[2] / "deploy" / "example-config.toml"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rekor-py.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings({}, {})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 3000, 1)
    assert settings.limits == Limits()
    assert settings.max_body_bytes == Limits().max_body_bytes


def test_flag_beats_environment_beats_config_file(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'port = 1111\nhost = "10.0.0.1"\nhostname = "from-file"\n')
    env = {"REKOR_PY_PORT": "2222", "REKOR_PY_HOST": "10.0.0.2"}
    settings = load_settings({"port": 3333, "host": None}, env, config_file=config)
    assert settings.port == 3333  # flag
    assert settings.host == "10.0.0.2"  # environment (the None flag is absent)
    assert settings.hostname == "from-file"  # config file
    assert settings.batch_max_size == 512  # default


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = _toml(tmp_path, "workers = 3\n")
    assert load_settings({}, {"REKOR_PY_CONFIG": str(config)}).workers == 3


def test_every_limit_is_a_setting_of_the_same_name(tmp_path: Path) -> None:
    """Derived from the Limits dataclass: a field added there is covered here too."""
    changed = {f.name: f.default + 1 for f in dataclasses.fields(Limits)}
    env = {f"REKOR_PY_{name.upper()}": str(value) for name, value in changed.items()}
    assert load_settings({}, env).limits == Limits(**changed)
    config = _toml(tmp_path, "".join(f"{k} = {v}\n" for k, v in changed.items()))
    assert load_settings({}, {}, config_file=config).limits == Limits(**changed)
    assert Settings(**changed).limits == Limits(**changed)


def test_environment_values_are_converted() -> None:
    settings = load_settings({}, {
        "REKOR_PY_FSYNC": "0", "REKOR_PY_READ_ONLY": "true",
        "REKOR_PY_INSERTABLE_KINDS": "dsse, hashedrekord,",
        "REKOR_PY_BATCH_MAX_DELAY_MS": "2", "REKOR_PY_DATA_DIR": "/srv/log",
        "rekor_py_workers": "2",  # names are not case-sensitive, as before
        "REKOR_PY_SERVER": "http://elsewhere",  # a client variable, not a server setting
    })
    assert settings.fsync is False and settings.read_only is True
    assert settings.insertable_kinds == frozenset({"dsse", "hashedrekord"})
    assert settings.batch_max_delay_ms == 2.0
    assert settings.data_dir == Path("/srv/log")
    assert settings.workers == 2


def test_config_file_lists_and_example(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'insertable_kinds = ["rekord"]\ndata_dir = "/srv/x"\n')
    settings = load_settings({}, {}, config_file=config)
    assert settings.insertable_kinds == frozenset({"rekord"})
    assert settings.data_dir == Path("/srv/x")
    example = load_settings({}, {}, config_file=EXAMPLE_CONFIG)
    assert example.hostname == "rekor.example.org"
    assert example.limits.max_body_bytes == 4 * 1024 * 1024


@pytest.mark.parametrize(("flags", "env", "config", "message"), [
    ({}, {"REKOR_PY_PORT": "abc"}, None,
     "REKOR_PY_PORT: input should be a valid integer, unable to parse string as an integer"),
    ({"port": 70000}, {}, None, "--port: input should be less than or equal to 65535"),
    ({}, {"REKOR_PY_FSYNC": "maybe"}, None, "REKOR_PY_FSYNC: input should be a valid boolean"),
    ({}, {"REKOR_PY_MAX_KEY_BYTES": "-1"}, None,
     "REKOR_PY_MAX_KEY_BYTES: input should be greater than or equal to 0"),
    ({}, {}, 'port = "x"\n',
     "{config}: port: input should be a valid integer, unable to parse string as an integer"),
    ({}, {}, "prot = 3000\n", "{config}: unknown setting 'prot'"),
    ({}, {}, "port = \n", "{config}: not a readable TOML file"),
    # The bad value is reported from the source that won, not from one it overrode.
    ({}, {"REKOR_PY_WORKERS": "0"}, "workers = 2\n",
     "REKOR_PY_WORKERS: input should be greater than or equal to 1"),
])
def test_bad_setting_names_itself_and_its_source(
        tmp_path: Path, flags: dict[str, object], env: dict[str, str], config: str | None,
        message: str) -> None:
    path = _toml(tmp_path, config) if config is not None else None
    with pytest.raises(SettingsError) as e:
        load_settings(flags, env, config_file=path)
    assert str(e.value).startswith(message.format(config=path))


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings({}, {"REKOR_PY_CONFIG": str(tmp_path / "absent.toml")})


def test_direct_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKOR_PY_PORT", "4444")
    assert Settings(host="h").port == 3000
    assert load_settings({}).port == 4444


def test_frozen_and_replace_validates() -> None:
    settings = Settings(port=5000)
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
    assert settings.replace(workers=2, max_body_bytes=10).limits.max_body_bytes == 10
    assert settings.replace(workers=2).port == 5000
    with pytest.raises(ValidationError):
        settings.replace(workers="many")
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKOR_PY_")}
    env["REKOR_PY_PORT"] = "abc"
    done = subprocess.run([sys.executable, "-m", "rekor_py", "serve", "--data-dir",
                           str(tmp_path)], check=False, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr == ("rekor-py serve: error: REKOR_PY_PORT: input should be a valid integer, "
                           "unable to parse string as an integer\n")
    config = _toml(tmp_path, "workers = -1\n")
    done = subprocess.run([sys.executable, "-m", "rekor_py", "migrate", "--config", str(config)],
                          env={k: v for k, v in env.items() if k != "REKOR_PY_PORT"},
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"rekor-py migrate: error: {config}: workers: input should be greater than "
                           "or equal to 1\n")

"""Configuration mistakes become one line naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.config import load
from etl.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[owners]\noverride = "x.toml"\n',
            "unknown key(s) override in owners; known keys: labels, overrides",
        ),
        ('[warehouse]\npaht = "x"\n', "unknown key(s) paht in warehouse"),
        ('[[exports]]\npath = "x"\n', "unknown section(s) exports"),
        (
            '[github]\norganizations = "contoso"\n',
            'github key organizations must be a list of strings, like ["a", "b"]',
        ),
        ("[github]\nsince_days = -5\n", "github key since_days must be 1 or more"),
        (
            '[github]\nscan_all_jobs = "no"\n',
            "github key scan_all_jobs must be true or false, not 'no'",
        ),
        ("[[export]]\npath = 5\n", "export #1 key path must be a string, not 5"),
        (
            '[[registry]]\ntype = "oci"\nurl = "127.0.0.1:5000"\n',
            "registry #1 key url must start with https:// or http://",
        ),
        ('[[registry]]\nurl = "https://r.example"\n', "registry #1 needs type"),
        (
            '[[registry]]\ntype = "harbor"\nurl = "https://r.example"\n',
            "registry #1 type 'harbor' is not one of acr, ecr, gar, oci",
        ),
        ('[mapping]\nthreshold = "high"\n', "mapping key threshold must be a number"),
        ("[mapping]\nthreshold = 2\n", "[mapping] threshold must be a number from 0"),
        (
            '[azure_devops]\nprojects = ["Web"]\n',
            "[azure_devops] needs organization_url",
        ),
    ],
    ids=lambda v: v.splitlines()[0] if "\n" in v else v[:30],
)
def test_mistake_is_named(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(cfg)
    assert str(err.value).startswith(f"{cfg}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_binary_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="cannot read it as a UTF-8 TOML file"):
        load(cfg)


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_text(
        '[warehouse]\npath = "w.duckdb"\n[[export]]\npath = "estate"\n'
        '[owners]\noverrides = "owners.toml"\nlabels = ["squad"]\n'
    )
    settings = load(cfg)
    assert settings.warehouse_path == tmp_path / "w.duckdb"
    assert [e.path for e in settings.exports] == [tmp_path / "estate"]
    assert settings.owners.overrides == tmp_path / "owners.toml"
    assert settings.owners.labels == ["squad"]

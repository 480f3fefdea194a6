"""The command line as a user meets it: help, errors, exit codes, output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.warehouse import LOAD_POLICY, Warehouse

REPO = Path(__file__).resolve().parent.parent
COMMANDS = sorted(cli.commands)


def imagetrail(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as cron would run it."""
    exe = Path(sys.executable).with_name("imagetrail")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    help_line = cli.commands[command].help or ""
    assert len(help_line) > 20
    assert f"imagetrail {command}" in (REPO / "README.md").read_text()


def test_unknown_config_key_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_text('[github]\norganisations = ["contoso"]\n')
    result = imagetrail("run", "--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {cfg}: unknown key(s) organisations in github; known keys: base_url, "
        "organizations, repositories, scan_all_jobs, since_days, token_env"
    ]


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_text("[warehouse\npath = 1\n")
    result = imagetrail("run", "--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {cfg}: not valid TOML")
    assert "Traceback" not in result.stderr


def test_sql_on_a_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    result = imagetrail("sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 1
    assert "run 'imagetrail run' first" in result.stderr


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    path = tmp_path / "small.duckdb"
    wh = Warehouse(path)
    sweep = wh.begin_sweep("job", "acr", "test")
    sweep.add(
        "image_tags",
        [
            {
                "registry": "r.example",
                "repository": "a",
                "tag": "1,2",
                "digest": "sha256:" + "a" * 64,
                "observed_at": "2024-05-01T10:00:00Z",
            },
        ],
    )
    wh.commit_sweep(sweep)
    wh.close()
    return path


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", [{"repository": "a", "tag": "1,2"}]),
        ("csv", 'repository,tag\na,"1,2"\n'),
        ("table", "repository  tag\n----------  ---\na           1,2\n(1 rows)\n"),
    ],
)
def test_sql_formats(small_db: Path, fmt: str, expected: object) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "sql",
            "SELECT repository, tag FROM image_tags",
            "--db",
            str(small_db),
            "--format",
            fmt,
        ],
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.output) if fmt == "json" else result.output
    assert output == expected


def test_bad_sql_is_one_line_with_the_saved_queries(small_db: Path) -> None:
    result = imagetrail("sql", "SELEC nonsense", "--db", str(small_db))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("Error: query failed:") and "\n" not in line
    assert "exposed-high-cve-to-pipeline" in line


def test_table_reference_describes_every_column() -> None:
    result = CliRunner().invoke(cli, ["tables", "--db", "/nonexistent/x.duckdb"])
    assert result.exit_code == 0
    for table in LOAD_POLICY:
        assert f"## {table}" in result.output
    undescribed = [
        line
        for line in result.output.splitlines()
        if line.startswith("| `") and line.endswith("|  |")
    ]
    assert undescribed == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sql", ""], "Error: empty query; give SQL or one of"),
        (["sql", "unmaped-images"], "Error: no saved query named 'unmaped-images'"),
        (["explain", "sha256:"], "give at least 7 hex characters"),
        (["explain", "r.example/a@sha256:zzzz"], "is not a sha256 digest"),
    ],
)
def test_user_mistakes_are_one_line(
    small_db: Path, args: list[str], message: str
) -> None:
    result = imagetrail(*args, "--db", str(small_db))
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_owner_in_the_override_file_is_refused(tmp_path: Path) -> None:
    from etl.errors import InputError
    from etl.owners import read_overrides

    path = tmp_path / "owners.toml"
    path.write_text('"contoso/api" = ""\n')
    with pytest.raises(InputError, match="must be an owner string"):
        read_overrides(path)

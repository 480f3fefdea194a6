"""`imagetrail run` and `doctor` against fake GitHub and Azure DevOps servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from etl.cli import cli
from etl.sources import azure_devops, github, http
from etl.warehouse import Warehouse
from tests.fakes.azure_devops import FakeAzureDevOps
from tests.fakes.github import FakeGitHub, stub_parse
from tests.sources import test_azure_devops_live as ado_case
from tests.sources import test_github_live as gh_case


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(http, "GITHUB_PAUSE_SECONDS", None)
    monkeypatch.setattr(github, "default_parser", lambda: stub_parse)
    monkeypatch.setattr(azure_devops, "default_parser", lambda: stub_parse)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    monkeypatch.setenv("AZURE_DEVOPS_PAT", "p" * 52)


@pytest.fixture
def servers() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    """Two servers of this test's own, so that stopping them harms no other test."""
    pair = (HTTPServer(host="127.0.0.1", port=0), HTTPServer(host="127.0.0.1", port=0))
    for server in pair:
        server.start()
    yield pair
    for server in pair:
        if server.is_running():
            server.stop()


def config_file(tmp_path: Path, gh: FakeGitHub, ado: FakeAzureDevOps) -> Path:
    path = tmp_path / "imagetrail.toml"
    path.write_text(
        f"""
[warehouse]
path = "{tmp_path / "w.duckdb"}"

[reports]
out = "{tmp_path / "out"}"

[github]
base_url = "{gh.api}"
token_env = "GITHUB_TOKEN"
organizations = ["contoso"]
repositories = ["contoso/*", "!contoso/sandbox-*"]
since_days = 7

[azure_devops]
organization_url = "{ado.url}"
token_env = "AZURE_DEVOPS_PAT"
projects = ["Payments"]
since_days = 7
"""
    )
    return path


def counts(db: Path) -> tuple[int, int]:
    wh = Warehouse(db, read_only=True)
    try:
        runs = wh.con.execute("SELECT count(*) FROM ci_runs").fetchone()
        pushes = wh.con.execute("SELECT count(*) FROM push_events").fetchone()
    finally:
        wh.close()
    assert runs and pushes
    return runs[0], pushes[0]


def test_run_twice_then_with_the_servers_gone(
    tmp_path: Path, servers: tuple[HTTPServer, HTTPServer]
) -> None:
    gh = gh_case.estate(FakeGitHub(servers[0]))
    ado = ado_case.estate(FakeAzureDevOps(servers[1]))
    config = config_file(tmp_path, gh, ado)
    runner = CliRunner()

    first = runner.invoke(cli, ["run", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert counts(tmp_path / "w.duckdb") == (6, 4)

    gh.reset_calls()
    ado.reset_calls()
    second = runner.invoke(cli, ["run", "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert dict(gh.calls) == {"org_repos": 1, "runs": 1}
    assert ado_case.api_calls(ado) == {"builds": 1}
    assert counts(tmp_path / "w.duckdb") == (6, 4)

    for server in servers:
        server.stop()
    # -q is how cron runs it: the failed sources are then named on stderr.
    third = runner.invoke(cli, ["-q", "run", "--config", str(config)])
    assert third.exit_code == 3, third.output
    assert "failed (previous data kept): github" in third.output
    assert "failed (previous data kept): azure_devops" in third.output
    assert counts(tmp_path / "w.duckdb") == (6, 4)


def test_doctor_prints_one_line_per_check(
    tmp_path: Path, servers: tuple[HTTPServer, HTTPServer]
) -> None:
    gh = FakeGitHub(servers[0])
    gh.orgs["contoso"] = ["contoso/api"]
    ado = ado_case.estate(FakeAzureDevOps(servers[1]))
    result = CliRunner().invoke(
        cli, ["doctor", "--config", str(config_file(tmp_path, gh, ado))]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("ok   github") for line in lines) == 3
    assert sum(line.startswith("ok   azure_devops") for line in lines) == 2


def test_doctor_fails_when_a_token_is_missing(
    tmp_path: Path,
    servers: tuple[HTTPServer, HTTPServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    gh = FakeGitHub(servers[0])
    ado = ado_case.estate(FakeAzureDevOps(servers[1]))
    result = CliRunner().invoke(
        cli, ["doctor", "--config", str(config_file(tmp_path, gh, ado))]
    )

    assert result.exit_code == 1
    assert "FAIL github" in result.output and "set GITHUB_TOKEN" in result.output

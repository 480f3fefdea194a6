"""Azure DevOps export folders: builds, PR builds, task push events, owners."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.sources import SweepContext, azure_devops
from tests.fakes.github import stub_parse

DATA = Path(__file__).resolve().parent.parent / "data" / "azure_devops" / "export"
PROJECT_DIR = DATA / "azure_devops" / "contoso" / "Payments"
PREFIX = "azure_devops/dev.azure.com/contoso/Payments"


@pytest.fixture(autouse=True)
def _stub_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(azure_devops, "default_parser", lambda: stub_parse)


def test_export_scopes_one_per_project() -> None:
    assert [(s.source, s.scope) for s in azure_devops.export_scopes(DATA)] == [
        ("azure_devops", "export:azure_devops/contoso/Broken"),
        ("azure_devops", "export:azure_devops/contoso/Payments"),
    ]


def test_builds_as_runs() -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    runs = {
        (
            r["run_key"],
            r["repo"],
            r["pipeline"],
            r["reason"],
            r["branch"],
            r["commit_sha"],
            r["pr_head_sha"],
            r["requested_for"],
            r["triggering_actor"],
        )
        for r in out.tables["ci_runs"]
    }
    ann, bob = "ann@contoso.example", "bob@contoso.example"
    assert runs == {
        (
            f"{PREFIX}/101/1",
            "contoso/Payments/api",
            "api-ci",
            "individualCI",
            "main",
            "a" * 40,
            None,
            ann,
            None,
        ),
        # PR builds build the merge commit; the PR head comes from the trigger.
        (
            f"{PREFIX}/102/1",
            "contoso/Payments/api",
            "api-ci",
            "pullRequest",
            "refs/pull/12/merge",
            "2" * 40,
            "1" * 40,
            ann,
            None,
        ),
        # A build of a GitHub repository names it OWNER/REPO.
        (
            f"{PREFIX}/103/1",
            "contoso/web",
            "api-ci",
            "manual",
            "main",
            "5" * 40,
            None,
            bob,
            None,
        ),
    }


def test_build_row_urls_and_times() -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    row = next(r for r in out.tables["ci_runs"] if r["run_id"] == 101)
    assert row["web_url"].endswith("/_build/results?buildId=101")
    assert row["repo_url"] == "https://dev.azure.com/contoso/Payments/_git/api"
    assert str(row["queued_at"]) == "2024-05-01 10:00:00.123456+00:00"
    assert (row["status"], row["result"], row["pipeline_id"]) == (
        "completed",
        "succeeded",
        "7",
    )


def test_push_events_from_task_logs() -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    pushes = {
        (r["run_key"], r["job"], r["log_id"], r["image"], r["tag"], r["digest"])
        for r in out.tables["push_events"]
    }
    assert pushes == {
        (
            f"{PREFIX}/101/1",
            "Build and push api",
            "6",
            "contosoacr.azurecr.io/payments/api",
            "1.4.0",
            "sha256:" + "3" * 64,
        )
    }


def test_garbled_timeline_is_one_problem() -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    assert len(out.problems) == 1
    assert out.problems[0].startswith(f"{PROJECT_DIR}/timelines/102.json: not a build")


def test_owner_rules_of_each_repository_folder() -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    rules = {
        (r["repo"], r["kind"], r["pattern"], r["owners"], r["line"])
        for r in out.tables["owner_rules"]
    }
    assert rules == {
        ("contoso/Payments/api", "codeowners", "*", "@contoso/payments", 1),
        ("contoso/Payments/api", "codeowners", "/charts/", "ops@contoso.example", 2),
        ("contoso/Payments/api", "catalog", "*", "group:payments", None),
    }


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("catalog-info.yaml", b"- a list, not an entity\n"),
        ("catalog-info.yaml", b"\x00\xff\xfe\x81\x82"),
        ("CODEOWNERS", b"\xff\xfe\x00\x81garbage"),
    ],
)
def test_a_garbled_owner_file_fails_the_project_scope(
    tmp_path: Path, file: str, content: bytes
) -> None:
    project = tmp_path / "azure_devops" / "contoso" / "Payments"
    shutil.copytree(PROJECT_DIR, project)
    path = project / "api" / file
    path.write_bytes(content)
    with pytest.raises(InputError) as failed:
        azure_devops.export_scopes(tmp_path)[0].extract(SweepContext())
    message = str(failed.value)
    assert str(path) in message and "\n" not in message


def test_garbled_builds_file_fails_the_scope_naming_the_file() -> None:
    scope = azure_devops.export_scopes(DATA)[0]
    with pytest.raises(InputError, match=r"Broken/builds.json: not a builds listing"):
        scope.extract(SweepContext())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://dev.azure.com/contoso", ("dev.azure.com", "contoso")),
        ("https://dev.azure.com/contoso/", ("dev.azure.com", "contoso")),
        ("https://contoso.visualstudio.com", ("contoso.visualstudio.com", "contoso")),
        ("https://ado.contoso.example/tfs/Main", ("ado.contoso.example", "Main")),
    ],
    ids=["services", "trailing-slash", "visualstudio", "server-collection"],
)
def test_org_of_organization_urls(url: str, expected: tuple[str, str]) -> None:
    assert azure_devops.org_of(url) == expected


def test_the_real_build_log_parser_reads_the_exported_logs() -> None:
    from etl.buildlogs import parse_lines

    out = azure_devops.extract_export(PROJECT_DIR, parse_lines)
    pushes = {
        (r["job"], r["image"], r["tag"], r["digest"], r["pushed"])
        for r in out.tables["push_events"]
    }
    assert pushes == {
        (
            "Build and push api",
            "contosoacr.azurecr.io/payments/api",
            "1.4.0",
            "sha256:" + "3" * 64,
            True,
        )
    }


def test_log_status_of_each_exported_build(tmp_path: Path) -> None:
    out = azure_devops.extract_export(PROJECT_DIR, stub_parse)
    assert {(r["run_id"], r["log_status"]) for r in out.tables["ci_runs"]} == {
        (101, "scanned"),
        (102, "unreadable"),
        (103, "no-push-step"),
    }
    project = tmp_path / "azure_devops" / "contoso" / "Payments"
    shutil.copytree(PROJECT_DIR, project)
    shutil.rmtree(project / "logs" / "101")
    (project / "timelines" / "102.json").unlink()
    out = azure_devops.extract_export(project, stub_parse)
    assert {(r["run_id"], r["log_status"]) for r in out.tables["ci_runs"]} == {
        (101, "expired"),
        (102, "no-push-step"),
        (103, "no-push-step"),
    }
    assert out.problems == []

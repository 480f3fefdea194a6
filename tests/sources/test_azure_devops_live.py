"""Live Azure DevOps sweeps: the azure-devops SDK against a fake organisation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from etl.config import AzureDevOpsSettings, Settings
from etl.normalize import parse_time
from etl.pipeline import RunResult, sweep_scope
from etl.sources import azure_devops, http
from etl.warehouse import Warehouse
from tests.fakes.azure_devops import (
    FakeAzureDevOps,
    make_build,
    make_timeline,
    task_log,
)
from tests.fakes.github import stub_parse

PAT = "p" * 52
REPO_ID = "1111aaaa-0000-0000-0000-000000000001"
D1, D2, D3 = ("sha256:" + c * 64 for c in "345")
MERGE, HEAD = "2" * 40, "1" * 40
IMAGE = "contosoacr.azurecr.io/payments/api"
# The SDK's one-off discovery calls, cached per process and on disk.
BOOTSTRAP = {"options", "areas"}


def ago(hours: float) -> str:
    moment = datetime.now(UTC) - timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "1234567Z"


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(azure_devops, "default_parser", lambda: stub_parse)
    monkeypatch.setenv("AZURE_DEVOPS_PAT", PAT)


def estate(fake: FakeAzureDevOps) -> FakeAzureDevOps:
    payments = fake.project("Payments")
    github_repo = {
        "id": "contoso/web",
        "type": "GitHub",
        "name": "contoso/web",
        "url": "https://github.com/contoso/web.git",
    }
    pr_trigger = {
        "pr.number": "12",
        "pr.sourceSha": HEAD,
        "pr.sourceBranch": "refs/heads/x",
    }
    payments.builds = [
        make_build(fake, "Payments", 101, ago(30)),
        make_build(
            fake,
            "Payments",
            102,
            ago(20),
            version=MERGE,
            reason="pullRequest",
            branch="refs/pull/12/merge",
            trigger=pr_trigger,
        ),
        make_build(
            fake, "Payments", 103, ago(10), version="5" * 40, repository=github_repo
        ),
    ]
    payments.timelines[101] = make_timeline(
        [
            ("Checkout", "Checkout", 4),
            ("Build and push api", "Docker", 6),
            ("Helm", "HelmDeploy", None),
        ]
    )
    payments.timelines[102] = make_timeline([("Push with script", "Bash", 7)])
    payments.timelines[103] = make_timeline([("Run unit tests", "DotNetCoreCLI", 8)])
    payments.logs[(101, 4)] = b"2024-05-01T10:01:00.1234567Z Syncing repository\n"
    payments.logs[(101, 6)] = task_log(IMAGE, "1.4.0", D1)
    payments.logs[(102, 7)] = task_log(IMAGE, "pr-12", D2)
    payments.logs[(103, 8)] = task_log(IMAGE, "never-read", D3)
    payments.items[(REPO_ID, "CODEOWNERS", MERGE)] = "* @contoso/payments\n"
    payments.items[(REPO_ID, "catalog-info.yaml", MERGE)] = "spec:\n  owner: team-pay\n"
    fake.project("Web")
    return fake


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeAzureDevOps:
    return estate(FakeAzureDevOps(httpserver))


def settings(tmp_path: Path, fake: FakeAzureDevOps, **extra: object) -> Settings:
    config = AzureDevOpsSettings(
        organization_url=fake.url,
        projects=["Payments"],
        since_days=7,
        **extra,  # type: ignore[arg-type]
    )
    return Settings(tmp_path / "w.duckdb", tmp_path / "out", azure_devops=config)


def nightly(wh: Warehouse, config: Settings) -> RunResult:
    result = RunResult(job_id="job")
    for scope in azure_devops.live_scopes(config):
        sweep_scope(wh, scope, result)
    return result


def api_calls(fake: FakeAzureDevOps) -> dict[str, int]:
    return {k: v for k, v in fake.calls.items() if k not in BOOTSTRAP}


def runs_in(wh: Warehouse) -> set[tuple[object, ...]]:
    return set(
        wh.con.execute(
            "SELECT run_id, repo, reason, branch, commit_sha, pr_head_sha,"
            " requested_for, log_status FROM ci_runs"
        ).fetchall()
    )


def pushes_in(wh: Warehouse) -> set[tuple[object, ...]]:
    return set(
        wh.con.execute(
            "SELECT c.run_id, p.job, p.log_id, p.image, p.tag, p.digest"
            " FROM push_events p JOIN ci_runs c USING (run_key)"
        ).fetchall()
    )


def test_first_sweep_loads_builds_pushes_and_owners(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    result = nightly(fresh_db, settings(tmp_path, fake))

    ann = "ann@contoso.example"
    api = "contoso/Payments/api"
    assert (result.failed, result.problems) == ([], [])
    assert runs_in(fresh_db) == {
        (101, api, "individualCI", "main", "a" * 40, None, ann, "scanned"),
        (102, api, "pullRequest", "refs/pull/12/merge", MERGE, HEAD, ann, "scanned"),
        (
            103,
            "contoso/web",
            "individualCI",
            "main",
            "5" * 40,
            None,
            ann,
            "no-push-step",
        ),
    }
    assert pushes_in(fresh_db) == {
        (101, "Build and push api", "6", IMAGE, "1.4.0", D1),
        (102, "Push with script", "7", IMAGE, "pr-12", D2),
    }
    rules = fresh_db.con.execute(
        "SELECT repo, kind, pattern, owners, file, commit_sha FROM owner_rules"
    ).fetchall()
    assert set(rules) == {
        (api, "codeowners", "*", "@contoso/payments", "CODEOWNERS", MERGE),
        (api, "catalog", "*", "team-pay", "catalog-info.yaml", MERGE),
    }
    assert api_calls(fake) == {"builds": 1, "timeline": 3, "log": 2, "items": 3}
    assert fake.auth == {"Basic " + base64.b64encode(f":{PAT}".encode()).decode()}


def test_run_key_names_host_org_and_project(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    nightly(fresh_db, settings(tmp_path, fake))
    host = fake.url.split("/")[2]
    keys = {
        r[0] for r in fresh_db.con.execute("SELECT run_key FROM ci_runs").fetchall()
    }
    assert f"azure_devops/{host}/contoso/Payments/101/1" in keys


def test_second_night_with_nothing_new_makes_only_listing_calls(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    config = settings(tmp_path, fake)
    nightly(fresh_db, config)
    fake.reset_calls()

    result = nightly(fresh_db, config)

    assert api_calls(fake) == {"builds": 1}
    assert (result.failed, result.problems) == ([], [])
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2


def test_builds_follow_the_continuation_token(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    fake.page_size = 1
    nightly(fresh_db, settings(tmp_path, fake))

    assert fake.calls["builds"] == 3
    assert {r[0] for r in runs_in(fresh_db)} == {101, 102, 103}


def test_every_project_when_none_configured(
    tmp_path: Path, fake: FakeAzureDevOps
) -> None:
    config = settings(tmp_path, fake)
    assert config.azure_devops is not None
    config.azure_devops.projects = []
    host = fake.url.split("/")[2]
    scopes = azure_devops.live_scopes(config)
    assert [s.scope for s in scopes] == [
        f"{host}/contoso/Payments",
        f"{host}/contoso/Web",
    ]


@pytest.mark.parametrize(
    ("route", "status", "times", "headers"),
    [
        ("builds", 429, 1, {"Retry-After": "0"}),
        ("builds", 503, http.RETRIES, {}),
        ("timeline", 500, 2, {}),
        ("log", 502, 1, {}),
    ],
    ids=["429-retry-after", "503-until-the-last-retry", "timeline-500", "log-502"],
)
def test_rate_limits_and_server_errors_are_retried(
    tmp_path: Path,
    fake: FakeAzureDevOps,
    fresh_db: Warehouse,
    route: str,
    status: int,
    times: int,
    headers: dict[str, str],
) -> None:
    body = {"message": "TF400733: The request has been canceled", "typeKey": "X"}
    fake.fail(route, status, times=times, headers=headers, body=body)

    result = nightly(fresh_db, settings(tmp_path, fake))

    assert (result.failed, result.problems) == ([], [])
    assert len(pushes_in(fresh_db)) == 2
    normal = {"builds": 1, "timeline": 3, "log": 2}[route]
    assert fake.calls[route] == normal + times


def test_failure_past_the_retries_fails_the_scope_and_keeps_old_rows(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    config = settings(tmp_path, fake)
    nightly(fresh_db, config)
    fake.fail("builds", 503, times=http.RETRIES + 1)

    result = nightly(fresh_db, config)

    assert len(result.failed) == 1
    assert result.failed[0].startswith("azure_devops ")
    assert "Azure DevOps Payments:" in result.failed[0]
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2


def test_expired_log_is_a_recorded_reason_not_a_problem(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    del fake.project("Payments").logs[(102, 7)]

    result = nightly(fresh_db, settings(tmp_path, fake))

    assert (result.failed, result.problems) == ([], [])
    row = next(r for r in runs_in(fresh_db) if r[0] == 102)
    assert row[-1] == "expired"
    assert {p[0] for p in pushes_in(fresh_db)} == {101}


def test_running_build_is_revisited_until_it_completes(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    payments = fake.project("Payments")
    running = make_build(fake, "Payments", 104, ago(2), status="inProgress")
    payments.builds.append(running)
    config = settings(tmp_path, fake)

    nightly(fresh_db, config)
    assert next(r for r in runs_in(fresh_db) if r[0] == 104)[-1] == "unfinished"
    mark = json.loads(fresh_db.watermark("azure_devops", _scope(fake)) or "{}")
    since, queued = parse_time(mark["since"]), parse_time(running["queueTime"])
    assert "104" not in mark["done"] and since and queued and since <= queued

    running.update(status="completed", result="succeeded", finishTime=ago(1))
    payments.timelines[104] = make_timeline([("docker push", "CmdLine", 9)])
    payments.logs[(104, 9)] = task_log(IMAGE, "1.5.0", D3)
    fake.reset_calls()
    nightly(fresh_db, config)

    assert (104, "docker push", "9", IMAGE, "1.5.0", D3) in pushes_in(fresh_db)
    fake.reset_calls()
    nightly(fresh_db, config)
    assert api_calls(fake) == {"builds": 1}


def test_scan_all_tasks_reads_every_task_log(
    tmp_path: Path, fake: FakeAzureDevOps, fresh_db: Warehouse
) -> None:
    nightly(fresh_db, settings(tmp_path, fake, scan_all_tasks=True))
    assert (103, "Run unit tests", "8", IMAGE, "never-read", D3) in pushes_in(fresh_db)


def test_server_collection_url(httpserver: HTTPServer, tmp_path: Path) -> None:
    fake = estate(FakeAzureDevOps(httpserver, org="tfs/Main"))
    wh = Warehouse(tmp_path / "server.duckdb")
    try:
        result = nightly(wh, settings(tmp_path, fake))
        keys = {r[0] for r in wh.con.execute("SELECT run_key FROM ci_runs").fetchall()}
    finally:
        wh.close()
    assert result.failed == []
    host = fake.url.split("/")[2]
    assert f"azure_devops/{host}/Main/Payments/101/1" in keys


def test_system_access_token_is_the_fallback(
    tmp_path: Path,
    fake: FakeAzureDevOps,
    fresh_db: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_DEVOPS_PAT")
    monkeypatch.setenv("SYSTEM_ACCESSTOKEN", "job-token")
    nightly(fresh_db, settings(tmp_path, fake))
    assert fake.auth == {"Basic " + base64.b64encode(b":job-token").decode()}


def test_missing_token_fails_with_the_variable_named(
    tmp_path: Path, fake: FakeAzureDevOps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_DEVOPS_PAT")
    [scope] = azure_devops.live_scopes(settings(tmp_path, fake))
    with pytest.raises(azure_devops.SourceError, match="set AZURE_DEVOPS_PAT"):
        scope.extract(azure_devops.SweepContext())


def test_doctor_reports_reach_and_permissions(
    tmp_path: Path, fake: FakeAzureDevOps
) -> None:
    checks = azure_devops.doctor_checks(settings(tmp_path, fake))
    assert [ok for _, ok, _ in checks] == [True, True]
    assert checks[0][2] == "reached; 2 projects visible"


def test_doctor_explains_a_rejected_token(
    tmp_path: Path, fake: FakeAzureDevOps
) -> None:
    fake.fail("projects", 401, body={"message": "unauthorized", "typeKey": "X"})
    [(_, ok, message)] = azure_devops.doctor_checks(settings(tmp_path, fake))
    assert not ok and "Project and Team: Read" in message


def test_throttle_waits_as_long_as_delay_headers_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(http.time, "sleep", slept.append)
    monkeypatch.setattr(http.time, "monotonic", lambda: 100.0)
    throttle = http.Throttle()

    class Answer:
        headers = {"X-RateLimit-Delay": "2.500", "X-RateLimit-Remaining": "0"}

    throttle.hook(Answer())  # type: ignore[arg-type]
    throttle.wait()
    assert slept == [2.5]


def _scope(fake: FakeAzureDevOps) -> str:
    return f"{fake.url.split('/')[2]}/contoso/Payments"

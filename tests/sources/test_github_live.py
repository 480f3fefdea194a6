"""Live GitHub sweeps: PyGithub against a fake API in the shapes of apis.md."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from etl.config import GitHubSettings, Settings
from etl.pipeline import RunResult, sweep_scope
from etl.sources import github, http
from etl.warehouse import Warehouse
from tests.fakes.github import (
    FakeGitHub,
    attestation,
    make_job,
    make_run,
    push_log,
    stub_parse,
)

API = "contoso/api"
A, B, Z = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "f" * 64
C, D = "c" * 40, "d" * 40
IMAGE = "ghcr.io/contoso/api"


def ago(hours: float) -> str:
    moment = datetime.now(UTC) - timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(http, "GITHUB_PAUSE_SECONDS", None)
    monkeypatch.setattr(github, "default_parser", lambda: stub_parse)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)


def estate(fake: FakeGitHub) -> FakeGitHub:
    """A re-run, a pull-request run, owner files and an attestation."""
    fake.orgs["contoso"] = [API, "contoso/sandbox-x", "contoso/old-archived"]
    repo = fake.repo(API)
    rerun = make_run(fake, API, 101, ago(30), attempt=2, triggering_actor="bob")
    first = make_run(fake, API, 101, ago(30), conclusion="failure")
    pr = make_run(fake, API, 102, ago(20), sha=D, event="pull_request")
    repo.runs = [rerun, pr]
    repo.attempts[(101, 1)] = first
    build = ["Set up job", "Run docker/build-push-action@v5"]
    repo.jobs[101] = [
        make_job(fake, API, 101, 1001, "build", build, conclusion="failure"),
        make_job(fake, API, 101, 1002, "build", build, attempt=2),
        make_job(
            fake, API, 101, 1003, "lint", ["Set up job", "Run ruff check ."], attempt=2
        ),
    ]
    repo.jobs[102] = [make_job(fake, API, 102, 1004, "image", ["Run docker push"])]
    repo.logs[1001] = b"2024-05-01T10:00:05.1234567Z ##[error]buildx failed\n"
    repo.logs[1002] = push_log(IMAGE, "1.4.0", A)
    repo.logs[1004] = push_log(IMAGE, "pr-7", B)
    repo.files[(".github/CODEOWNERS", D)] = (
        "*  @contoso/platform\n/svc/ @contoso/payments\n"
    )
    repo.files[("catalog-info.yaml", D)] = "kind: Component\nspec:\n  owner: team-api\n"
    repo.attestations[A] = [attestation(f"{fake.root}/{API}", IMAGE, A, 101)]
    return fake


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return estate(FakeGitHub(httpserver))


def settings(tmp_path: Path, fake: FakeGitHub, **extra: object) -> Settings:
    config = GitHubSettings(
        base_url=fake.api,
        organizations=["contoso"],
        repositories=["contoso/*", "!contoso/sandbox-*"],
        since_days=7,
        **extra,  # type: ignore[arg-type]
    )
    return Settings(tmp_path / "w.duckdb", tmp_path / "out", github=config)


def nightly(wh: Warehouse, config: Settings) -> RunResult:
    result = RunResult(job_id="job")
    for scope in github.live_scopes(config):
        sweep_scope(wh, scope, result)
    return result


def runs_in(wh: Warehouse) -> set[tuple[object, ...]]:
    return set(
        wh.con.execute(
            "SELECT run_id, attempt, reason, commit_sha, pr_head_sha, triggering_actor,"
            " result, log_status FROM ci_runs"
        ).fetchall()
    )


def pushes_in(wh: Warehouse) -> set[tuple[object, ...]]:
    return set(
        wh.con.execute(
            "SELECT c.run_id, c.attempt, p.job, p.log_id, p.image, p.tag, p.digest"
            " FROM push_events p JOIN ci_runs c USING (run_key)"
        ).fetchall()
    )


def test_first_sweep_loads_runs_attempts_pushes_owners_and_attestations(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    result = nightly(fresh_db, settings(tmp_path, fake))

    assert (result.failed, result.problems) == ([], [])
    assert runs_in(fresh_db) == {
        (101, 1, "push", C, None, "ann", "failure", "scanned"),
        (101, 2, "push", C, None, "bob", "success", "scanned"),
        (102, 1, "pull_request", D, D, "ann", "success", "scanned"),
    }
    assert pushes_in(fresh_db) == {
        (101, 2, "build", "1002", IMAGE, "1.4.0", A),
        (102, 1, "image", "1004", IMAGE, "pr-7", B),
    }
    rules = fresh_db.con.execute(
        "SELECT repo, kind, pattern, owners, file, commit_sha FROM owner_rules"
    ).fetchall()
    assert set(rules) == {
        (API, "codeowners", "*", "@contoso/platform", ".github/CODEOWNERS", D),
        (API, "codeowners", "/svc/", "@contoso/payments", ".github/CODEOWNERS", D),
        (API, "catalog", "*", "team-api", "catalog-info.yaml", D),
    }
    provenance = fresh_db.con.execute(
        "SELECT subject_digest, repository, commit_sha, run_id, run_attempt, kind"
        " FROM provenance"
    ).fetchall()
    assert provenance == [(A, "contoso/api", C, 101, 1, "github-attestation")]


def test_first_sweep_calls_and_logs_fetched_without_github_credentials(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    nightly(fresh_db, settings(tmp_path, fake))

    assert dict(fake.calls) == {
        "org_repos": 1,
        "runs": 1,
        "attempt": 1,
        "jobs": 2,
        "job_log": 3,
        "blob_job": 3,
        "contents": 2,
        "attestations": 2,
    }
    assert fake.blob_auth == 0


def test_second_night_with_nothing_new_makes_only_listing_calls(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    config = settings(tmp_path, fake)
    nightly(fresh_db, config)
    fake.reset_calls()

    result = nightly(fresh_db, config)

    assert dict(fake.calls) == {"org_repos": 1, "runs": 1}
    assert (result.failed, result.problems) == ([], [])
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2


def test_repository_selection_by_globs_skips_excluded_and_archived(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    scopes = github.live_scopes(settings(tmp_path, fake))
    host = fake.api.split("/")[2]
    assert [s.scope for s in scopes] == [f"{host}/contoso/api"]


def test_runs_and_jobs_follow_link_pages(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    fake.page_size = 1
    nightly(fresh_db, settings(tmp_path, fake))

    assert (fake.calls["runs"], fake.calls["jobs"]) == (2, 4)
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2


def test_created_window_is_split_under_the_result_cap(
    tmp_path: Path,
    fake: FakeGitHub,
    fresh_db: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(github, "RUN_CAP", 1)
    nightly(fresh_db, settings(tmp_path, fake))

    assert fake.calls["runs"] > 2
    assert {r[:2] for r in runs_in(fresh_db)} == {(101, 1), (101, 2), (102, 1)}


@pytest.mark.parametrize(
    ("route", "status", "headers", "message"),
    [
        ("runs", 429, {"Retry-After": "0"}, "Too many requests"),
        (
            "runs",
            403,
            {"retry-after": "0"},
            "You have exceeded a secondary rate limit. Please wait a few minutes.",
        ),
        (
            "runs",
            429,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "PAST"},
            "API rate limit exceeded for user ID 1.",
        ),
        (
            "jobs",
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "PAST"},
            "API rate limit exceeded for user ID 1.",
        ),
        ("jobs", 502, {}, "Server Error"),
        ("job_log", 503, {}, "Server Error"),
        ("blob_job", 500, {}, "Server Error"),
    ],
    ids=[
        "429-retry-after",
        "secondary-403",
        "primary-429",
        "primary-403",
        "jobs-502",
        "job-log-503",
        "download-500",
    ],
)
def test_rate_limits_and_server_errors_are_retried(
    tmp_path: Path,
    fake: FakeGitHub,
    fresh_db: Warehouse,
    route: str,
    status: int,
    headers: dict[str, str],
    message: str,
) -> None:
    if headers.get("x-ratelimit-reset") == "PAST":
        headers = {**headers, "x-ratelimit-reset": str(int(time.time()) - 10)}
    fake.fail(route, status, headers=headers, body={"message": message})

    result = nightly(fresh_db, settings(tmp_path, fake))

    assert (result.failed, result.problems) == ([], [])
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2
    expected = {"runs": 1, "jobs": 2, "job_log": 3, "blob_job": 3}[route] + 1
    assert fake.calls[route] == expected


def test_server_errors_past_the_retries_fail_the_scope_and_keep_old_rows(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    config = settings(tmp_path, fake)
    nightly(fresh_db, config)
    fake.repo(API).runs.append(make_run(fake, API, 105, ago(1)))
    fake.fail("runs", 502, times=http.RETRIES + 1)

    result = nightly(fresh_db, config)

    assert len(result.failed) == 1 and "HTTP 502" in result.failed[0]
    assert len(runs_in(fresh_db)) == 3 and len(pushes_in(fresh_db)) == 2


def test_expired_log_is_a_recorded_reason_not_a_problem(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    fake.repo(API).gone_logs.add(1004)
    config = settings(tmp_path, fake)

    result = nightly(fresh_db, config)

    assert (result.failed, result.problems) == ([], [])
    assert (102, 1, "pull_request", D, D, "ann", "success", "expired") in runs_in(
        fresh_db
    )
    assert {p[0] for p in pushes_in(fresh_db)} == {101}
    fake.reset_calls()
    nightly(fresh_db, config)
    assert dict(fake.calls) == {"org_repos": 1, "runs": 1}


def test_run_log_zip_without_step_files_serves_three_pushing_jobs(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    repo = fake.repo(API)
    repo.runs = [make_run(fake, API, 103, ago(5))]
    names = ["push api", "push web", "push docs/site"]
    repo.jobs[103] = [
        make_job(fake, API, 103, 1100 + i, name, ["Run docker push"])
        for i, name in enumerate(names)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # Top-level job files only: the per-step folders are missing, and "/" in
        # a job name is sanitised.
        archive.writestr("0_push api.txt", push_log(IMAGE, "api", A))
        archive.writestr("1_push web.txt", push_log(IMAGE, "web", B))
        archive.writestr("2_push docs_site.txt", push_log(IMAGE, "docs", Z))
    repo.zips[(103, 1)] = buffer.getvalue()

    result = nightly(fresh_db, settings(tmp_path, fake))

    assert (result.failed, result.problems) == ([], [])
    assert pushes_in(fresh_db) == {
        (103, 1, "push api", "1100", IMAGE, "api", A),
        (103, 1, "push web", "1101", IMAGE, "web", B),
        (103, 1, "push docs/site", "1102", IMAGE, "docs", Z),
    }
    assert (fake.calls["run_zip"], fake.calls["job_log"], fake.blob_auth) == (1, 0, 0)


def test_unfinished_run_is_revisited_until_it_completes(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    repo = fake.repo(API)
    running = make_run(fake, API, 104, ago(2), status="in_progress")
    repo.runs.append(running)
    config = settings(tmp_path, fake)

    nightly(fresh_db, config)
    mark = json.loads(fresh_db.watermark("github", _scope(fake)) or "{}")
    assert mark["since"] <= running["created_at"]
    assert (104, 1, "push", C, None, "ann", None, "unfinished") in runs_in(fresh_db)

    running.update(status="completed", conclusion="success")
    repo.jobs[104] = [make_job(fake, API, 104, 1005, "build", ["Run docker push"])]
    repo.logs[1005] = push_log(IMAGE, "1.5.0", Z)
    fake.reset_calls()
    nightly(fresh_db, config)

    assert fake.calls["jobs"] == 1
    assert (104, 1, "build", "1005", IMAGE, "1.5.0", Z) in pushes_in(fresh_db)
    fake.reset_calls()
    nightly(fresh_db, config)
    assert dict(fake.calls) == {"org_repos": 1, "runs": 1}


def test_binary_log_is_a_problem_and_the_run_is_read_again(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    fake.repo(API).logs[1004] = b"\x00\x01binary"
    config = settings(tmp_path, fake)

    result = nightly(fresh_db, config)

    assert result.failed == []
    assert len(result.problems) == 1
    assert "/102/1: job 1004 log: binary content" in result.problems[0]
    fake.repo(API).logs[1004] = push_log(IMAGE, "pr-7", B)
    nightly(fresh_db, config)
    assert (102, 1, "image", "1004", IMAGE, "pr-7", B) in pushes_in(fresh_db)


def test_doctor_reports_reach_and_permissions(tmp_path: Path, fake: FakeGitHub) -> None:
    checks = github.doctor_checks(settings(tmp_path, fake))
    assert [ok for _, ok, _ in checks] == [True, True, True]
    assert "workflow runs of contoso/api readable" in checks[-1][2]


def test_doctor_names_the_missing_token_variable(
    tmp_path: Path, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    [(name, ok, message)] = github.doctor_checks(settings(tmp_path, fake))
    assert not ok and "set GITHUB_TOKEN" in message


def test_doctor_explains_a_forbidden_actions_api(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    fake.fail("runs", 403, body={"message": "Resource not accessible by integration"})
    checks = github.doctor_checks(settings(tmp_path, fake))
    assert checks[-1][1] is False
    assert "HTTP 403" in checks[-1][2] and "Actions: read" in checks[-1][2]


def _scope(fake: FakeGitHub) -> str:
    return f"{fake.api.split('/')[2]}/{API}"


def test_new_attestations_keep_the_stored_ones(
    tmp_path: Path, fake: FakeGitHub, fresh_db: Warehouse
) -> None:
    config = settings(tmp_path, fake)
    nightly(fresh_db, config)
    repo = fake.repo(API)
    repo.runs.append(make_run(fake, API, 106, ago(0)))
    repo.jobs[106] = [make_job(fake, API, 106, 1006, "build", ["Run docker push"])]
    repo.logs[1006] = push_log(IMAGE, "1.6.0", Z)
    repo.attestations[Z] = [attestation(f"{fake.root}/{API}", IMAGE, Z, 106)]

    nightly(fresh_db, config)

    provenance = fresh_db.con.execute(
        "SELECT subject_digest, run_id FROM provenance"
    ).fetchall()
    assert set(provenance) == {(A, 101), (Z, 106)}


def test_personal_account_repositories_are_listed_too(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    fake.users["ann"] = ["ann/tools", "ann/dotfiles"]
    config = settings(tmp_path, fake)
    assert config.github is not None
    config.github.organizations = []
    config.github.repositories = ["ann/*", "!ann/dot*", "*/ignored-owner-glob"]

    scopes = github.live_scopes(config)

    assert [s.scope.split("/", 1)[1] for s in scopes] == ["ann/tools"]
    assert (fake.calls["org_repos"], fake.calls["user_repos"]) == (1, 1)

"""A fake GitHub REST API (pytest-httpserver) and a stand-in build-log parser.

The fake answers in the shapes of the GitHub REST API 2022-11-28 as
reference/apis.md describes them, counts every request by route, and can be told
to fail a route a given number of times (429, secondary limit, 5xx).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from etl.normalize import parse_ref, parse_time

_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT[\d:.]+Z ")
_REPOSITORY = re.compile(r"The push refers to repository \[([^\]]+)\]")
_DIGEST = re.compile(r"^(\S+): digest: (sha256:[0-9a-f]{64}) size: \d+")


@dataclass
class StubPushEvent:
    """The fields of etl.buildlogs.PushEvent."""

    image: str
    tag: str | None
    digest: str | None
    pushed: bool | None
    tool: str
    line_no: int
    evidence: str
    dockerfile: str | None = None


def stub_parse(lines: Iterable[str]) -> Iterator[StubPushEvent]:
    """Just `docker push` output: enough to tell which logs a source handed over."""
    repository = None
    for number, raw in enumerate(lines, start=1):
        line = _TIMESTAMP.sub("", raw)
        if match := _REPOSITORY.search(line):
            repository = match.group(1)
        elif (match := _DIGEST.match(line)) and repository:
            image = parse_ref(repository).image
            yield StubPushEvent(
                image, match.group(1), match.group(2), True, "docker", number, line
            )


@dataclass
class FakeRepo:
    """What the fake knows of one repository."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    # Earlier attempts of a run as GET .../attempts/N returns them.
    attempts: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    logs: dict[int, bytes] = field(default_factory=dict)
    gone_logs: set[int] = field(default_factory=set)
    zips: dict[tuple[int, int], bytes] = field(default_factory=dict)
    files: dict[tuple[str, str], str] = field(default_factory=dict)
    attestations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class FakeGitHub:
    """GitHub Enterprise Server-like API under ``/api/v3`` on a pytest-httpserver.

    Every request is counted by route name in ``calls``; ``fail(route, ...)``
    makes the next requests of a route fail before it answers normally again.
    Downloads (``/blob/...``) stand for the signed storage URLs the logs
    endpoints redirect to; ``blob_auth`` counts those that carried credentials.
    """

    PAGE = 100

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.orgs: dict[str, list[str]] = {}
        self.users: dict[str, list[str]] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.calls: Counter[str] = Counter()
        self.blob_auth = 0
        self.faults: dict[str, list[Fault]] = {}
        self.page_size = self.PAGE
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def root(self) -> str:
        return self.server.url_for("/").rstrip("/")

    @property
    def api(self) -> str:
        return f"{self.root}/api/v3"

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos.setdefault(full_name, FakeRepo())

    def fail(self, route: str, status: int, times: int = 1, **kw: Any) -> None:
        """Answer the next ``times`` requests of a route with an error."""
        headers = {
            k.replace("_", "-"): str(v) for k, v in kw.pop("headers", {}).items()
        }
        body = kw.pop("body", {"message": "Server Error"})
        self.faults.setdefault(route, []).extend(
            Fault(status, headers, body) for _ in range(times)
        )

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- routing --------------------------------------------------------------

    ROUTES: list[tuple[str, str]] = [
        ("rate_limit", r"/api/v3/rate_limit"),
        ("org_repos", r"/api/v3/orgs/(?P<org>[^/]+)/repos"),
        ("user_repos", r"/api/v3/users/(?P<user>[^/]+)/repos"),
        ("runs", r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/actions/runs"),
        (
            "run_zip",
            r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/actions/runs/(?P<run>\d+)"
            r"/attempts/(?P<attempt>\d+)/logs",
        ),
        (
            "attempt",
            r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/actions/runs/(?P<run>\d+)"
            r"/attempts/(?P<attempt>\d+)",
        ),
        ("jobs", r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/actions/runs/(?P<run>\d+)/jobs"),
        (
            "job_log",
            r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/actions/jobs/(?P<job>\d+)/logs",
        ),
        ("contents", r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/contents/(?P<path>.+)"),
        (
            "attestations",
            r"/api/v3/repos/(?P<repo>[^/]+/[^/]+)/attestations/(?P<digest>.+)",
        ),
        ("blob_job", r"/blob/(?P<repo>[^/]+/[^/]+)/jobs/(?P<job>\d+)"),
        ("blob_zip", r"/blob/(?P<repo>[^/]+/[^/]+)/runs/(?P<run>\d+)/(?P<attempt>\d+)"),
    ]

    def handle(self, request: Request) -> Response:
        for name, pattern in self.ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match:
                self.calls[name] += 1
                queued = self.faults.get(name)
                if queued:
                    fault = queued.pop(0)
                    return self._json(fault.body, fault.status, fault.headers)
                answer: Response = getattr(self, f"_{name}")(
                    request, **match.groupdict()
                )
                return answer
        self.calls["unknown"] += 1
        return self._json({"message": "Not Found"}, 404)

    def _json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        reset = str(int(time.time()) + 3600)
        base = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-used": "1",
            "x-ratelimit-reset": reset,
            "x-ratelimit-resource": "core",
        }
        base.update(headers or {})
        return Response(
            json.dumps(body), status, headers=base, content_type="application/json"
        )

    def _page(
        self, request: Request, path: str, items: list[Any], key: str | None
    ) -> Response:
        """One page of a list, with a Link header carrying every query parameter."""
        per_page = min(int(request.args.get("per_page", 30)), self.page_size)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            params = {k: v for k, v in request.args.items() if k != "page"}
            params["page"] = str(page + 1)
            nxt = f"{self.api}{path}?{urlencode(params)}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = chunk if key is None else {"total_count": len(items), key: chunk}
        return self._json(body, 200, headers)

    # -- API routes -----------------------------------------------------------

    def _rate_limit(self, request: Request) -> Response:
        core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600}
        return self._json({"resources": {"core": core}, "rate": core})

    def _org_repos(self, request: Request, org: str) -> Response:
        repos = [
            {
                "id": i,
                "name": name.split("/")[1],
                "full_name": name,
                "archived": name.endswith("-archived"),
                "default_branch": "main",
                "url": f"{self.api}/repos/{name}",
            }
            for i, name in enumerate(self.orgs.get(org, []), start=1)
        ]
        if org not in self.orgs:
            return self._json({"message": "Not Found"}, 404)
        return self._page(request, f"/orgs/{org}/repos", repos, None)

    def _user_repos(self, request: Request, user: str) -> Response:
        names = self.users.get(user, [])
        repos = [{"id": i, "full_name": n} for i, n in enumerate(names, start=1)]
        return self._page(request, f"/users/{user}/repos", repos, None)

    def _runs(self, request: Request, repo: str) -> Response:
        runs = self.repo(repo).runs
        created = request.args.get("created")
        if created:
            start, _, end = created.partition("..")
            low, high = _bound(start), _bound(end)
            runs = [r for r in runs if low <= _created(r) <= high]
        runs = sorted(runs, key=lambda r: r["created_at"], reverse=True)
        return self._page(request, f"/repos/{repo}/actions/runs", runs, "workflow_runs")

    def _attempt(self, request: Request, repo: str, run: str, attempt: str) -> Response:
        found = self.repo(repo).attempts.get((int(run), int(attempt)))
        if found is None:
            latest = next(r for r in self.repo(repo).runs if r["id"] == int(run))
            found = latest if latest["run_attempt"] == int(attempt) else None
        if found is None:
            return self._json({"message": "Not Found"}, 404)
        return self._json(found)

    def _jobs(self, request: Request, repo: str, run: str) -> Response:
        jobs = self.repo(repo).jobs.get(int(run), [])
        if request.args.get("filter", "latest") != "all":
            latest = max((j["run_attempt"] for j in jobs), default=1)
            jobs = [j for j in jobs if j["run_attempt"] == latest]
        path = f"/repos/{repo}/actions/runs/{run}/jobs"
        return self._page(request, path, jobs, "jobs")

    def _job_log(self, request: Request, repo: str, job: str) -> Response:
        if int(job) in self.repo(repo).gone_logs:
            return self._json({"message": "Not Found"}, 410)
        location = f"{self.root}/blob/{repo}/jobs/{job}?sig=s3cr3t"
        return self._json({}, 302, {"Location": location})

    def _run_zip(self, request: Request, repo: str, run: str, attempt: str) -> Response:
        if (int(run), int(attempt)) not in self.repo(repo).zips:
            return self._json({"message": "Not Found"}, 404)
        location = f"{self.root}/blob/{repo}/runs/{run}/{attempt}?sig=s3cr3t"
        return self._json({}, 302, {"Location": location})

    def _contents(self, request: Request, repo: str, path: str) -> Response:
        text = self.repo(repo).files.get((path, request.args.get("ref", "")))
        if text is None:
            return self._json({"message": "Not Found"}, 404)
        body = {
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "encoding": "base64",
            "content": base64.b64encode(text.encode()).decode(),
        }
        return self._json(body)

    def _attestations(self, request: Request, repo: str, digest: str) -> Response:
        found = self.repo(repo).attestations.get(digest)
        if not found:
            return self._json({"message": "Not Found"}, 404)
        return self._json({"attestations": found})

    # -- storage routes (no GitHub credentials expected) -----------------------

    def _blob(self, request: Request, body: bytes, content_type: str) -> Response:
        if "Authorization" in request.headers:
            self.blob_auth += 1
        return Response(body, 200, content_type=content_type)

    def _blob_job(self, request: Request, repo: str, job: str) -> Response:
        return self._blob(request, self.repo(repo).logs[int(job)], "text/plain")

    def _blob_zip(
        self, request: Request, repo: str, run: str, attempt: str
    ) -> Response:
        body = self.repo(repo).zips[(int(run), int(attempt))]
        return self._blob(request, body, "application/zip")


def _bound(text: str) -> datetime:
    value = parse_time(text)
    assert value is not None, text
    return value


def _created(run: dict[str, Any]) -> datetime:
    return _bound(run["created_at"])


def make_run(
    fake: FakeGitHub,
    repo: str,
    run_id: int,
    created: str,
    *,
    sha: str = "c" * 40,
    event: str = "push",
    attempt: int = 1,
    status: str = "completed",
    conclusion: str | None = "success",
    actor: str = "ann",
    triggering_actor: str | None = None,
    branch: str = "main",
) -> dict[str, Any]:
    """A workflow run as GET /repos/{owner}/{repo}/actions/runs lists it."""
    api = f"{fake.api}/repos/{repo}/actions/runs/{run_id}"
    return {
        "id": run_id,
        "name": "release",
        "node_id": "WFR_kwLOAAAA",
        "head_branch": branch,
        "head_sha": sha,
        "path": ".github/workflows/release.yml",
        "display_title": "Release",
        "run_number": run_id % 1000,
        "run_attempt": attempt,
        "event": event,
        "status": status,
        "conclusion": conclusion if status == "completed" else None,
        "workflow_id": 77,
        "check_suite_id": 123,
        "url": api,
        "html_url": f"{fake.root}/{repo}/actions/runs/{run_id}",
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "previous_attempt_url": f"{api}/attempts/{attempt - 1}"
        if attempt > 1
        else None,
        "pull_requests": [],
        "created_at": created,
        "updated_at": created.replace("T10:", "T11:"),
        "run_started_at": created,
        "actor": {"login": actor, "id": 1, "type": "User"},
        "triggering_actor": {
            "login": triggering_actor or actor,
            "id": 2,
            "type": "User",
        },
        "head_commit": {
            "id": sha,
            "message": "Release",
            "timestamp": created,
            "author": {"name": "Ann Dev", "email": "ann@contoso.example"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": {"id": 5, "full_name": repo},
        "head_repository": {"id": 5, "full_name": repo},
    }


def make_job(
    fake: FakeGitHub,
    repo: str,
    run_id: int,
    job_id: int,
    name: str,
    steps: list[str],
    *,
    attempt: int = 1,
    status: str = "completed",
    conclusion: str = "success",
) -> dict[str, Any]:
    """A job as GET .../actions/runs/{run_id}/jobs?filter=all lists it."""
    return {
        "id": job_id,
        "run_id": run_id,
        "run_attempt": attempt,
        "node_id": "CR_x",
        "name": name,
        "workflow_name": "release",
        "head_sha": "c" * 40,
        "head_branch": "main",
        "status": status,
        "conclusion": conclusion,
        "created_at": "2024-05-01T10:00:01Z",
        "started_at": "2024-05-01T10:00:05Z",
        "completed_at": "2024-05-01T10:04:00Z",
        "url": f"{fake.api}/repos/{repo}/actions/jobs/{job_id}",
        "html_url": f"{fake.root}/{repo}/actions/runs/{run_id}/job/{job_id}",
        "run_url": f"{fake.api}/repos/{repo}/actions/runs/{run_id}",
        "labels": ["ubuntu-latest"],
        "runner_name": "GitHub Actions 3",
        "steps": [
            {
                "name": step,
                "status": "completed",
                "conclusion": "success",
                "number": number,
                "started_at": "2024-05-01T10:00:05Z",
                "completed_at": "2024-05-01T10:00:06Z",
            }
            for number, step in enumerate(steps, start=1)
        ],
    }


def push_log(image: str, tag: str, digest: str) -> bytes:
    """A job log (text at the signed URL) with one `docker push`."""
    return (
        "\ufeff2024-05-01T10:00:05.1234567Z ##[group]Run docker push\n"
        f"2024-05-01T10:01:00.1234567Z The push refers to repository [{image}]\n"
        f"2024-05-01T10:01:09.1234567Z {tag}: digest: {digest} size: 1573\n"
        "2024-05-01T10:01:10.1234567Z ##[endgroup]\n"
    ).encode()


def attestation(repo_url: str, image: str, digest: str, run_id: int) -> dict[str, Any]:
    """One entry of GET /repos/{owner}/{repo}/attestations/{digest}."""
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": image, "digest": {"sha256": digest.split(":")[1]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {
                        "ref": "refs/heads/main",
                        "repository": repo_url,
                        "path": ".github/workflows/release.yml",
                    }
                },
                "resolvedDependencies": [
                    {
                        "uri": f"git+{repo_url}@refs/heads/main",
                        "digest": {"gitCommit": "c" * 40},
                    }
                ],
            },
            "runDetails": {
                "builder": {
                    "id": f"{repo_url}/.github/workflows/release.yml@refs/heads/main"
                },
                "metadata": {
                    "invocationId": f"{repo_url}/actions/runs/{run_id}/attempts/1"
                },
            },
        },
    }
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return {
        "repository_id": 123456,
        "bundle_url": "https://attestations.example.net/bundles/x?sig=y",
        "bundle": {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"tlogEntries": [{"logIndex": "1234"}]},
            "dsseEnvelope": {
                "payloadType": "application/vnd.in-toto+json",
                "payload": payload,
                "signatures": [{"sig": "MEUCIQ"}],
            },
        },
    }

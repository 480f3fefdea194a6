"""A fake Azure DevOps organisation (pytest-httpserver) for the azure-devops SDK.

It answers the SDK's bootstrap (``OPTIONS {org}/_apis`` and ResourceAreas, the
on-premises path), projects, builds with ``x-ms-continuationtoken`` paging,
timelines, task logs as text, and Git items, in the shapes of reference/apis.md
section 1. Paths match case-insensitively, as Azure DevOps routing does. Every
request is counted by route name; ``fail(route, ...)`` queues error answers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from etl.normalize import parse_time

PROJECT_ID = "6f1e0000-0000-0000-0000-000000000001"
LOCATIONS = [
    # (id, area, resourceName, routeTemplate)
    (
        "e81700f7-3be2-46de-8624-2eb35882fcaa",
        "Location",
        "ResourceAreas",
        "_apis/{resource}/{areaId}",
    ),
    (
        "603fe2ac-9723-48b9-88ad-09305aa6c6e1",
        "core",
        "projects",
        "_apis/{resource}/{*projectId}",
    ),
    (
        "0cd358e1-9217-4d94-8269-1c1ee6f93dcf",
        "build",
        "builds",
        "{project}/_apis/{area}/{resource}/{buildId}",
    ),
    (
        "8baac422-4c6e-4de5-8532-db96d92acffa",
        "build",
        "Timeline",
        "{project}/_apis/{area}/builds/{buildId}/{resource}/{timelineId}",
    ),
    (
        "35a80daf-7f30-45fc-86e8-6b813d9c90df",
        "build",
        "logs",
        "{project}/_apis/{area}/builds/{buildId}/{resource}/{logId}",
    ),
    (
        "fb93c0db-47ed-4a31-8c20-47552878fb44",
        "git",
        "items",
        "{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*path}",
    ),
]


@dataclass
class FakeProject:
    builds: list[dict[str, Any]] = field(default_factory=list)
    timelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    # Git items by (repository id, path, commit).
    items: dict[tuple[str, str, str], str] = field(default_factory=dict)


class FakeAzureDevOps:
    """One organisation (or Server collection) at ``{root}/{org}``."""

    def __init__(self, server: HTTPServer, org: str = "contoso") -> None:
        self.server = server
        self.org = org
        self.projects: dict[str, FakeProject] = {}
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, list[tuple[int, dict[str, str], Any]]] = {}
        self.page_size = 1000
        self.auth: set[str] = set()
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for(f"/{self.org}")

    def project(self, name: str) -> FakeProject:
        return self.projects.setdefault(name, FakeProject())

    def fail(self, route: str, status: int, times: int = 1, **kw: Any) -> None:
        headers = dict(kw.pop("headers", {}))
        body = kw.pop("body", {"message": "Service Unavailable", "typeKey": "X"})
        self.faults.setdefault(route, []).extend(
            (status, headers, body) for _ in range(times)
        )

    def reset_calls(self) -> None:
        self.calls.clear()

    ROUTES = [
        ("options", "OPTIONS", r"/_apis"),
        ("areas", "GET", r"/_apis/resourceareas"),
        ("projects", "GET", r"/_apis/projects"),
        ("builds", "GET", r"/(?P<project>[^/]+)/_apis/build/builds"),
        (
            "timeline",
            "GET",
            r"/(?P<project>[^/]+)/_apis/build/builds/(?P<build>\d+)/timeline",
        ),
        (
            "log",
            "GET",
            r"/(?P<project>[^/]+)/_apis/build/builds/(?P<build>\d+)/logs/(?P<log>\d+)",
        ),
        (
            "items",
            "GET",
            r"/(?P<project>[^/]+)/_apis/git/repositories/(?P<repo>[^/]+)/items",
        ),
    ]

    def handle(self, request: Request) -> Response:
        self.auth.add(request.headers.get("Authorization", ""))
        prefix = f"/{self.org}".lower()
        path = request.path.lower()
        if path.startswith(prefix):
            path = path[len(prefix) :]
        for name, method, pattern in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if match and request.method == method:
                self.calls[name] += 1
                queued = self.faults.get(name)
                if queued:
                    status, headers, body = queued.pop(0)
                    return self._json(body, status, headers)
                answer: Response = getattr(self, f"_{name}")(
                    request, **match.groupdict()
                )
                return answer
        self.calls["unknown"] += 1
        return self._json({"message": "not found", "typeKey": "NotFoundException"}, 404)

    def _json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        return Response(
            json.dumps(body),
            status,
            headers=headers or {},
            content_type="application/json",
        )

    def _options(self, request: Request) -> Response:
        value = [
            {
                "id": id_,
                "area": area,
                "resourceName": resource,
                "routeTemplate": template,
                "resourceVersion": 7,
                "minVersion": "1.0",
                "maxVersion": "7.1",
                "releasedVersion": "7.0",
            }
            for id_, area, resource, template in LOCATIONS
        ]
        return self._json({"count": len(value), "value": value})

    def _areas(self, request: Request) -> Response:
        # An empty list sends every area to the base URL, as on Server.
        return self._json({"count": 0, "value": []})

    def _projects(self, request: Request) -> Response:
        value = [
            {
                "id": f"{i:08d}-0000-0000-0000-000000000000",
                "name": name,
                "state": "wellFormed",
            }
            for i, name in enumerate(sorted(self.projects), start=1)
        ]
        return self._json({"count": len(value), "value": value})

    def _find(self, project: str) -> FakeProject | None:
        for name, found in self.projects.items():
            if name.lower() == project:
                return found
        return None

    def _builds(self, request: Request, project: str) -> Response:
        found = self._find(project)
        if found is None:
            return self._json(
                {
                    "message": "project not found",
                    "typeKey": "ProjectDoesNotExistException",
                },
                404,
            )
        builds = sorted(found.builds, key=lambda b: b["queueTime"])
        low = parse_time(request.args.get("minTime"))
        if low is not None:
            builds = [b for b in builds if (parse_time(b["queueTime"]) or low) >= low]
        start = int(request.args.get("continuationToken") or 0)
        size = min(int(request.args.get("$top") or 1000), self.page_size)
        page = builds[start : start + size]
        headers = {}
        if start + size < len(builds):
            headers["x-ms-continuationtoken"] = str(start + size)
        return self._json({"count": len(page), "value": page}, 200, headers)

    def _timeline(self, request: Request, project: str, build: str) -> Response:
        found = self._find(project)
        timeline = found.timelines.get(int(build)) if found else None
        if timeline is None:
            return Response("", 204)
        return self._json(timeline)

    def _log(self, request: Request, project: str, build: str, log: str) -> Response:
        found = self._find(project)
        text = found.logs.get((int(build), int(log))) if found else None
        if text is None:
            body = {
                "message": f"Build log {log} not found.",
                "typeKey": "BuildLogNotFoundException",
            }
            return self._json(body, 404)
        assert request.headers.get("Accept", "").startswith("text/plain")
        return Response(text, 200, content_type="text/plain")

    def _items(self, request: Request, project: str, repo: str) -> Response:
        found = self._find(project)
        key = (
            repo,
            request.args.get("path", "").lstrip("/"),
            request.args.get("versionDescriptor.version", ""),
        )
        text = found.items.get(key) if found else None
        if text is None:
            body = {
                "message": "TF401174: The item could not be found.",
                "typeKey": "GitItemNotFoundException",
            }
            return self._json(body, 404)
        return Response(text, 200, content_type="text/plain")


def make_build(
    fake: FakeAzureDevOps,
    project: str,
    build_id: int,
    queued: str,
    *,
    version: str = "a" * 40,
    reason: str = "individualCI",
    branch: str = "refs/heads/main",
    status: str = "completed",
    trigger: dict[str, str] | None = None,
    repository: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A build as GET {org}/{project}/_apis/build/builds lists it."""
    base = f"{fake.url}/{PROJECT_ID}"
    build: dict[str, Any] = {
        "_links": {
            "self": {"href": f"{base}/_apis/build/Builds/{build_id}"},
            "web": {"href": f"{base}/_build/results?buildId={build_id}"},
            "timeline": {"href": f"{base}/_apis/build/builds/{build_id}/Timeline"},
        },
        "properties": {},
        "tags": [],
        "triggerInfo": trigger or {"ci.sourceBranch": branch, "ci.sourceSha": version},
        "id": build_id,
        "buildNumber": f"20240501.{build_id}",
        "status": status,
        "queueTime": queued,
        "startTime": queued,
        "url": f"{base}/_apis/build/Builds/{build_id}",
        "definition": {"id": 7, "name": "api-ci", "path": "\\", "type": "build"},
        "project": {"id": PROJECT_ID, "name": project, "state": "wellFormed"},
        "uri": f"vstfs:///Build/Build/{build_id}",
        "sourceBranch": branch,
        "sourceVersion": version,
        "priority": "normal",
        "reason": reason,
        "requestedFor": {
            "displayName": "Ann Dev",
            "id": "2222",
            "uniqueName": "ann@contoso.example",
        },
        "requestedBy": {
            "displayName": "Microsoft.VisualStudio.Services.TFS",
            "id": "00000002-0000-8888-8000-000000000000",
            "uniqueName": "00000002-0000-8888-8000-000000000000"
            "@2c895908-0000-0000-0000-000000000000",
        },
        "parameters": "{}",
        "repository": repository
        or {
            "id": "1111aaaa-0000-0000-0000-000000000001",
            "type": "TfsGit",
            "name": "api",
            "url": f"{fake.url}/{project}/_git/api",
        },
    }
    if status == "completed":
        build["result"] = "succeeded"
        build["finishTime"] = queued
    return build


def make_timeline(tasks: list[tuple[str, str, int | None]]) -> dict[str, Any]:
    """A timeline whose job holds the given (display name, task type, log id) tasks."""
    records: list[dict[str, Any]] = [
        {
            "id": "stage",
            "parentId": None,
            "type": "Stage",
            "name": "Build",
            "order": 1,
            "state": "completed",
            "result": "succeeded",
            "log": None,
            "task": None,
        },
        {
            "id": "job",
            "parentId": "stage",
            "type": "Job",
            "name": "Build image",
            "order": 1,
            "state": "completed",
            "result": "succeeded",
            "task": None,
            "log": {"id": 1, "type": "Container", "url": "..."},
        },
    ]
    for order, (name, task_type, log_id) in enumerate(tasks, start=2):
        records.append(
            {
                "previousAttempts": [],
                "id": f"task-{order}",
                "parentId": "job",
                "type": "Task",
                "name": name,
                "startTime": f"2024-05-01T10:0{order}:00.1234567Z",
                "finishTime": "2024-05-01T10:09:00Z",
                "state": "completed",
                "result": "succeeded" if log_id is not None else "skipped",
                "order": order,
                "attempt": 1,
                "lastModified": "0001-01-01T00:00:00",
                "log": None
                if log_id is None
                else {"id": log_id, "type": "Container", "url": "..."},
                "task": {"id": "0000", "name": task_type, "version": "2.240.2"},
            }
        )
    return {
        "records": records,
        "id": "8d8d",
        "changeId": 57,
        "lastChangedOn": "2024-05-01T10:07:00.8Z",
    }


def task_log(image: str, tag: str, digest: str) -> bytes:
    """A Docker@2 push task's log text."""
    return (
        "\ufeff2024-05-01T10:04:00.1234567Z ##[section]Starting: Build and push\n"
        f"2024-05-01T10:05:00.1234567Z The push refers to repository [{image}]\r\n"
        f"2024-05-01T10:05:09.1234567Z {tag}: digest: {digest} size: 1573\r\n"
        "2024-05-01T10:05:10.1234567Z ##[section]Finishing: Build and push\n"
    ).encode()

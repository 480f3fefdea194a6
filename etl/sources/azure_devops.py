"""Azure DevOps Pipelines: builds, the image pushes their task logs show, owners.

Export mode reads ``azure_devops/ORG/PROJECT/`` as DESIGN.md lays it out; live
mode asks Azure DevOps Services or Server through the azure-devops SDK (v7.1
clients). Both feed the same transforms: builds and timelines stay in the REST
JSON shape, since that is what ``az pipelines runs list`` and ``az devops
invoke`` write.

Which logs are read. A task's log is fetched only when the task can have pushed
an image: its task type is Docker, DockerCompose, AzureCLI, AzurePowerShell,
Bash, PowerShell, CmdLine, ShellScript or BatchScript (where ``docker push``,
``az acr build``, kaniko, buildah and the like run), or its display name
mentions docker, buildx, push, publish, image, container, kaniko, buildah,
podman, skopeo, crane, ko, jib, oras, a registry, release or deploy.
``scan_all_tasks = true`` reads every task log instead. Task logs of one build
are fetched a few at a time, streamed, and only the lines that prove a push are
kept.

Incremental sweeps. The watermark of a project is the queue time from which the
next sweep lists builds, plus the builds already done after it; a build still
running holds it back and is revisited. Known gap: a build whose stage is
retried after it completed is not read again.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from etl.config import AzureDevOpsSettings, Settings, secret
from etl.errors import InputError, SourceError
from etl.normalize import parse_time
from etl.sources import Extracted, Rows, Scope, SweepContext, http
from etl.sources.github import (
    CAN_PUSH,
    CATALOG_FILE,
    CODEOWNERS_PATHS,
    LogGone,
    Parser,
    Watermark,
    add_export_run,
    add_run,
    catalog_rules,
    codeowners_rules,
    decode_lines,
    default_parser,
    export_owner_rules,
    next_watermark,
    push_rows,
)

logger = logging.getLogger(__name__)

SOURCE = "azure_devops"
PAGE_SIZE = 100
LOG_WORKERS = 4
FALLBACK_TOKEN_ENV = "SYSTEM_ACCESSTOKEN"
BUILDS = "0cd358e1-9217-4d94-8269-1c1ee6f93dcf"
TIMELINE = "8baac422-4c6e-4de5-8532-db96d92acffa"
PROJECTS = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
PUSH_TASKS = {
    "docker",
    "dockercompose",
    "azurecli",
    "azurepowershell",
    "bash",
    "powershell",
    "cmdline",
    "shellscript",
    "batchscript",
}
SERVICE_IDENTITY = re.compile(r"^[0-9a-f-]{36}@|^Microsoft\.VisualStudio\.Services")


# -- fetch --------------------------------------------------------------------


class Clients:
    """The SDK clients one organisation needs, sharing retries and a throttle."""

    def __init__(self, settings: AzureDevOpsSettings) -> None:
        from azure.devops.connection import Connection
        from msrest.authentication import BasicAuthentication

        token = secret(settings.token_env) or os.environ.get(FALLBACK_TOKEN_ENV)
        if not token:
            raise SourceError(
                f"Azure DevOps token missing: set {settings.token_env} to a PAT "
                f"(Build, Code, Project and Team: Read) or run inside a pipeline "
                f"with {FALLBACK_TOKEN_ENV} mapped"
            )
        self.url = settings.organization_url.rstrip("/")
        self.connection = Connection(self.url, BasicAuthentication("", token))
        self.throttle = http.Throttle()
        factory = self.connection.clients_v7_1
        self.build = http.configure_ado_client(
            factory.get_build_client(), self.throttle
        )
        self.core = http.configure_ado_client(factory.get_core_client(), self.throttle)
        self.git = http.configure_ado_client(factory.get_git_client(), self.throttle)


def _get_pages(
    client: Any,
    location: str,
    version: str,
    route: dict[str, Any],
    query: dict[str, Any],
    throttle: http.Throttle,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a list endpoint, following ``x-ms-continuationtoken``.

    The 7.x SDK drops the continuation header its list methods receive, so the
    pages are read through the client's low-level ``_send``. Pages may come back
    short, so the loop follows the header rather than counting rows.
    """
    query = dict(query)
    while True:
        throttle.wait()
        response = client._send(
            http_method="GET",
            location_id=location,
            version=version,
            route_values=route,
            query_parameters=query,
        )
        yield list(response.json().get("value") or [])
        token = response.headers.get("x-ms-continuationtoken")
        if not token:
            return
        query["continuationToken"] = token


def fetch_projects(clients: Clients) -> Iterator[dict[str, Any]]:
    """GET {org}/_apis/projects"""
    pages = _get_pages(
        clients.core,
        PROJECTS,
        "7.1-preview.4",
        {},
        {"$top": PAGE_SIZE},
        clients.throttle,
    )
    for page in pages:
        yield from page


def fetch_builds(
    clients: Clients, project: str, since: datetime
) -> Iterator[dict[str, Any]]:
    """GET {org}/{project}/_apis/build/builds?minTime=&queryOrder=queueTimeAscending"""
    query = {
        "minTime": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        # minTime filters on the column the order names; queue time is the one
        # every build has, queued or not.
        "queryOrder": "queueTimeAscending",
        "$top": PAGE_SIZE,
    }
    route = {"project": project}
    for page in _get_pages(
        clients.build, BUILDS, "7.1-preview.7", route, query, clients.throttle
    ):
        yield from page


def fetch_timeline(clients: Clients, project: str, build_id: int) -> dict[str, Any]:
    """GET {org}/{project}/_apis/build/builds/{buildId}/timeline"""
    clients.throttle.wait()
    response = clients.build._send(
        http_method="GET",
        location_id=TIMELINE,
        version="7.1-preview.2",
        route_values={"project": project, "buildId": build_id},
    )
    data = response.json() if response.content else None
    return data if isinstance(data, dict) else {"records": []}


def fetch_log(
    clients: Clients, project: str, build_id: int, log_id: int
) -> Iterator[str]:
    """GET {org}/{project}/_apis/build/builds/{buildId}/logs/{logId}, streamed."""
    clients.throttle.wait()
    try:
        chunks = clients.build.get_build_log(project, build_id, log_id)
    except Exception as exc:
        if _is_gone(exc):
            raise LogGone(f"build {build_id} log {log_id}: {exc}") from exc
        raise
    yield from decode_lines(_split_lines(chunks), f"build {build_id} log {log_id}")


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r")
    if rest:
        yield rest.rstrip(b"\r")


def fetch_file(
    clients: Clients, project: str, repo_id: str, path: str, commit: str
) -> str | None:
    """GET {org}/{project}/_apis/git/repositories/{repo}/items?path=; None if absent."""
    from azure.devops.v7_1.git.models import GitVersionDescriptor

    version = GitVersionDescriptor(version=commit, version_type="commit")
    clients.throttle.wait()
    try:
        chunks = clients.git.get_item_text(
            repo_id, path, project=project, version_descriptor=version
        )
        return b"".join(chunks).decode("utf-8-sig", "replace")
    except Exception as exc:
        if _is_gone(exc):
            return None
        raise


def _is_gone(exc: Exception) -> bool:
    """Whether an SDK error says the thing asked for does not exist (any more)."""
    type_key = str(getattr(exc, "type_key", "") or "")
    text = str(exc)
    return type_key.endswith("NotFoundException") or bool(
        re.search(r"\b(404|410) status code", text)
    )


# -- transforms ---------------------------------------------------------------


def build_row(build: dict[str, Any], host: str, org: str) -> dict[str, Any]:
    """A build as a ci_runs row (Azure DevOps has one attempt per build id)."""
    project = (build.get("project") or {}).get("name") or ""
    repository = build.get("repository") or {}
    trigger = build.get("triggerInfo") or {}
    is_pr = build.get("reason") == "pullRequest"
    requested_for = _identity(build.get("requestedFor"))
    return {
        "run_key": f"azure_devops/{host}/{org}/{project}/{build['id']}/1",
        "system": SOURCE,
        "host": host,
        "org": org,
        "project": project,
        "repo": _repo_name(repository, org, project),
        "repo_url": _repo_url(repository),
        "pipeline": (build.get("definition") or {}).get("name"),
        "pipeline_id": _str((build.get("definition") or {}).get("id")),
        "run_id": int(build["id"]),
        "run_number": _str(build.get("buildNumber")),
        "attempt": 1,
        "reason": build.get("reason"),
        "branch": _branch(build.get("sourceBranch")),
        # On PR builds sourceVersion is the merge commit the agent built (and the
        # one Docker@2 labels name); the PR head only shows in the trigger info.
        "commit_sha": build.get("sourceVersion"),
        "pr_head_sha": trigger.get("pr.sourceSha") if is_pr else None,
        "commit_author": None,
        "requested_for": requested_for,
        "actor": requested_for,
        "triggering_actor": _identity(build.get("requestedBy")),
        "status": build.get("status"),
        "result": build.get("result"),
        "queued_at": parse_time(build.get("queueTime")),
        "started_at": parse_time(build.get("startTime")),
        "finished_at": parse_time(build.get("finishTime")),
        "web_url": ((build.get("_links") or {}).get("web") or {}).get("href"),
    }


def _repo_name(repository: dict[str, Any], org: str, project: str) -> str | None:
    """ORG/PROJECT/REPO for Azure Repos, OWNER/REPO for GitHub repositories."""
    name = repository.get("name")
    if str(repository.get("type") or "").lower().startswith("github"):
        if name and "/" in name:
            return str(name)
        path = urlparse(repository.get("url") or "").path.strip("/")
        return path.removesuffix(".git") or name
    return f"{org}/{project}/{name}" if name else None


def _repo_url(repository: dict[str, Any]) -> str | None:
    url = repository.get("url")
    return str(url).removesuffix(".git") if url else None


def _branch(ref: str | None) -> str | None:
    return ref.removeprefix("refs/heads/") if ref else ref


def _identity(identity: dict[str, Any] | None) -> str | None:
    """A person's unique name; None for the service identities CI runs as."""
    identity = identity or {}
    name = identity.get("uniqueName") or identity.get("displayName")
    if not name or SERVICE_IDENTITY.search(str(name)):
        return None
    return str(name)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def can_push(record: dict[str, Any]) -> bool:
    """Whether a timeline task's type or display name suggests it can push."""
    task_type = str((record.get("task") or {}).get("name") or "").lower()
    return task_type in PUSH_TASKS or bool(CAN_PUSH.search(record.get("name") or ""))


def tasks_to_scan(timeline: dict[str, Any], scan_all: bool) -> list[dict[str, Any]]:
    """Task records that have a log and may show a push, in timeline order."""
    tasks = [
        r
        for r in timeline.get("records") or []
        if r.get("type") == "Task"
        and (r.get("log") or {}).get("id") is not None
        and r.get("result") != "skipped"
        and (scan_all or can_push(r))
    ]
    return sorted(tasks, key=lambda r: (r.get("startTime") or "", r.get("order") or 0))


def org_of(url: str) -> tuple[str, str]:
    """Host and organisation (or Server collection) of an organization URL."""
    parsed = urlparse(url)
    host = parsed.netloc.lower()
    segments = [s for s in parsed.path.split("/") if s]
    if host.endswith(".visualstudio.com") and not segments:
        return host, host.split(".")[0]
    return host, segments[-1] if segments else host


# -- export scopes ------------------------------------------------------------


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``azure_devops/ORG/PROJECT`` folder of an export."""
    base = root / "azure_devops"
    if not base.is_dir():
        return []
    scopes = []
    for project_dir in sorted(p for p in base.glob("*/*") if p.is_dir()):
        name = f"{project_dir.parent.name}/{project_dir.name}"
        scopes.append(
            Scope(SOURCE, f"export:azure_devops/{name}", _export_extractor(project_dir))
        )
    return scopes


def _export_extractor(
    project_dir: Path, parse: Parser | None = None
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        try:
            return extract_export(project_dir, parse or default_parser())
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{project_dir}: a build lacks a field the API always sends "
                f"({type(exc).__name__}: {exc}); re-export the folder"
            ) from exc

    return extract


def extract_export(project_dir: Path, parse: Parser) -> Extracted:
    """Everything an exported project folder holds, as raw rows."""
    out = Extracted()
    org, project = project_dir.parent.name, project_dir.name
    for build in _read_builds(project_dir / "builds.json"):
        host = urlparse(_build_href(build)).netloc.lower() or "dev.azure.com"
        row = build_row(build, host, org)
        timeline = _read_export_timeline(project_dir, build, out)
        if timeline is None:  # garbled: a problem already
            out.add("ci_runs", [{**row, "log_status": "unreadable"}])
            continue
        logs = [
            (
                task.get("name") or "",
                str(task["log"]["id"]),
                project_dir / "logs" / str(row["run_id"]) / f"{task['log']['id']}.txt",
            )
            for task in tasks_to_scan(timeline, scan_all=True)
        ]
        add_export_run(out, row, logs, parse, "the build's push events")
    _export_owners(project_dir, f"{org}/{project}", out)
    logger.info(
        "azure_devops export %s/%s: %s builds, %s push events",
        org,
        project,
        len(out.tables.get("ci_runs", [])),
        len(out.tables.get("push_events", [])),
    )
    return out


def _build_href(build: dict[str, Any]) -> str:
    web = ((build.get("_links") or {}).get("web") or {}).get("href")
    return str(web or build.get("url") or "")


def _read_builds(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        return _builds_of(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a builds listing ({type(exc).__name__}); re-export it with "
            "`az pipelines runs list --org URL --project PROJECT -o json`"
        ) from exc


def _builds_of(data: Any) -> list[dict[str, Any]]:
    """Builds from a CLI array, one REST page, or an array of REST pages."""
    if not isinstance(data, list | dict):
        raise TypeError("expected a JSON array or object")
    builds: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else [data]:
        builds += list(item["value"]) if "value" in item else [item]
    for build in builds:
        int(build["id"])
    return builds


def _read_export_timeline(
    project_dir: Path, build: dict[str, Any], out: Extracted
) -> dict[str, Any] | None:
    path = project_dir / "timelines" / f"{build['id']}.json"
    if not path.exists():
        return {"records": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if not isinstance(data.get("records", []), list):
            raise TypeError("records is not a list")
        return dict(data)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        out.problems.append(
            f"{path}: not a build timeline ({type(exc).__name__}); the build's push "
            "events were left as they were; re-export it with `az devops invoke "
            "--area build --resource timeline`"
        )
        return None


def _export_owners(project_dir: Path, prefix: str, out: Extracted) -> None:
    skip = {"timelines", "logs"}
    for repo_dir in sorted(p for p in project_dir.iterdir() if p.is_dir()):
        if repo_dir.name in skip:
            continue
        repo = f"{prefix}/{repo_dir.name}"
        for file, reader in (
            ("CODEOWNERS", codeowners_rules),
            (CATALOG_FILE, catalog_rules),
        ):
            path = repo_dir / file
            if path.exists():
                export_owner_rules(path, repo, reader, out)


# -- live scopes --------------------------------------------------------------


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per selected project of the ``[azure_devops]`` section."""
    config = settings.azure_devops
    if config is None:
        return []
    host, org = org_of(config.organization_url)
    try:
        clients = Clients(config)
        projects = select_projects(clients, config)
    except Exception as exc:
        return [Scope(SOURCE, f"{host}/{org}", _failing(_source_error(org, exc)))]
    logger.info("azure_devops %s/%s: %s projects selected", host, org, len(projects))
    return [
        Scope(SOURCE, f"{host}/{org}/{p}", _live_extractor(clients, config, p))
        for p in projects
    ]


def select_projects(clients: Clients, config: AzureDevOpsSettings) -> list[str]:
    """The configured projects, or every project of the organisation."""
    if config.projects:
        return list(config.projects)
    return sorted(p["name"] for p in fetch_projects(clients))


def _failing(error: Exception) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        raise error

    return extract


def _source_error(what: str, exc: Exception) -> SourceError:
    if isinstance(exc, SourceError):
        return exc
    name = type(exc).__name__
    if "Authentication" in name:
        hint = (
            "the token is invalid, expired or lacks a scope "
            "(Build, Code, Project and Team: Read)"
        )
    elif _is_gone(exc):
        hint = "not found: check organization_url and projects"
    else:
        hint = "check the server and the network; the last good data is kept"
    detail = str(exc).splitlines()[0][:200] if str(exc) else name
    return SourceError(f"Azure DevOps {what}: {detail}: {hint}")


def _live_extractor(
    clients: Clients,
    config: AzureDevOpsSettings,
    project: str,
    parse: Parser | None = None,
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        sweep = ProjectSweep(clients, config, project, parse or default_parser())
        try:
            return sweep.run(ctx)
        except (SourceError, InputError):
            raise
        except Exception as exc:
            raise _source_error(project, exc) from exc

    return extract


class ProjectSweep:
    """One incremental sweep of one project."""

    def __init__(
        self, clients: Clients, config: AzureDevOpsSettings, project: str, parse: Parser
    ) -> None:
        self.clients = clients
        self.config = config
        self.project = project
        self.parse = parse
        self.host, self.org = org_of(config.organization_url)
        self.out = Extracted()

    def run(self, ctx: SweepContext) -> Extracted:
        until = datetime.now(UTC).replace(microsecond=0)
        mark = Watermark.parse(
            ctx.watermark, until - timedelta(days=self.config.since_days)
        )
        settled: dict[str, tuple[datetime, int]] = {}
        pending: dict[str, datetime] = {}
        builds = list(fetch_builds(self.clients, self.project, mark.since))
        fresh = [b for b in builds if not mark.attempts_done(b["id"])]
        for build in fresh:
            queued = parse_time(build.get("queueTime")) or until
            if not self.sweep_build(build):
                pending[str(build["id"])] = queued
        for build in builds:
            if str(build["id"]) not in pending:
                settled[str(build["id"])] = (
                    parse_time(build.get("queueTime")) or until,
                    1,
                )
        if fresh:
            self.read_owners(fresh)
        self.out.watermark = next_watermark(mark, settled, pending, until).dump()
        logger.info(
            "azure_devops %s: %s builds listed, %s read, %s push events, %s pending",
            self.project,
            len(builds),
            len(fresh),
            len(self.out.tables.get("push_events", [])),
            len(pending),
        )
        return self.out

    def sweep_build(self, build: dict[str, Any]) -> bool:
        """Rows for one build; False when it must be revisited."""
        row = build_row(build, self.host, self.org)
        if build.get("status") != "completed":
            self.out.add("ci_runs", [{**row, "log_status": "unfinished"}])
            return False
        timeline = fetch_timeline(self.clients, self.project, row["run_id"])
        tasks = tasks_to_scan(timeline, self.config.scan_all_tasks)
        return add_run(
            self.out,
            row,
            "Azure DevOps",
            lambda: self.read_logs(row, tasks),
            bool(tasks),
        )

    def read_logs(self, row: dict[str, Any], tasks: list[dict[str, Any]]) -> Rows:
        def read(task: dict[str, Any]) -> Rows:
            log_id = int(task["log"]["id"])
            lines = fetch_log(self.clients, self.project, row["run_id"], log_id)
            return push_rows(
                row["run_key"], task.get("name") or "", str(log_id), lines, self.parse
            )

        with ThreadPoolExecutor(max_workers=LOG_WORKERS) as pool:
            return [r for rows in pool.map(read, tasks) for r in rows]

    def read_owners(self, builds: list[dict[str, Any]]) -> None:
        """CODEOWNERS and catalog-info.yaml of each Azure Repos repository built."""
        newest: dict[str, dict[str, Any]] = {}
        for build in sorted(builds, key=lambda b: b.get("queueTime") or ""):
            repository = build.get("repository") or {}
            if repository.get("type") == "TfsGit" and build.get("sourceVersion"):
                newest[repository["id"]] = build
        rows: Rows = []
        for repo_id, build in newest.items():
            rows += self.read_repo_owners(repo_id, build)
        if rows or newest:
            self.out.add("owner_rules", rows)

    def read_repo_owners(self, repo_id: str, build: dict[str, Any]) -> Rows:
        repo = _repo_name(build["repository"], self.org, self.project) or repo_id
        commit = build["sourceVersion"]
        rows: Rows = []
        for path in CODEOWNERS_PATHS:
            text = fetch_file(self.clients, self.project, repo_id, path, commit)
            if text is not None:
                found, problems = codeowners_rules(repo, text, path, commit)
                rows += found
                self.out.problems += [f"{repo} {path}: {p}" for p in problems]
                break
        text = fetch_file(self.clients, self.project, repo_id, CATALOG_FILE, commit)
        if text is not None:
            found, problems = catalog_rules(repo, text, CATALOG_FILE, commit)
            rows += found
            self.out.problems += [f"{repo} {CATALOG_FILE}: {p}" for p in problems]
        return rows


# -- doctor -------------------------------------------------------------------


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Credentials, reach and permissions of the ``[azure_devops]`` section."""
    config = settings.azure_devops
    if config is None:
        return []
    host, org = org_of(config.organization_url)
    name = f"azure_devops {host}/{org}"
    if not (secret(config.token_env) or os.environ.get(FALLBACK_TOKEN_ENV)):
        return [
            (
                name,
                False,
                f"no token: set {config.token_env} to a PAT, "
                f"or map {FALLBACK_TOKEN_ENV}",
            )
        ]
    try:
        clients = Clients(config)
        projects = sorted(p["name"] for p in fetch_projects(clients))
    except Exception as exc:
        return [
            (
                name,
                False,
                str(_source_error("projects", exc)) + "; grant Project and Team: Read",
            )
        ]
    checks = [(name, True, f"reached; {len(projects)} projects visible")]
    wanted = config.projects or projects[:1]
    missing = [p for p in config.projects if p not in projects]
    if missing:
        checks.append(
            (
                f"{name} projects",
                False,
                f"not visible: {', '.join(missing)}; fix projects",
            )
        )
    for project in [p for p in wanted if p in projects][:1]:
        try:
            next(
                iter(
                    _get_pages(
                        clients.build,
                        BUILDS,
                        "7.1-preview.7",
                        {"project": project},
                        {"$top": 1},
                        clients.throttle,
                    )
                )
            )
            checks.append((f"{name} builds", True, f"builds of {project} readable"))
        except Exception as exc:
            checks.append(
                (
                    f"{name} builds",
                    False,
                    str(_source_error(project, exc)) + "; grant Build: Read",
                )
            )
    return checks

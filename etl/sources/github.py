"""GitHub Actions: workflow runs, the image pushes their job logs show, repo owners.

Export mode reads ``github/OWNER/REPO/`` as DESIGN.md lays it out; live mode asks
the REST API through PyGithub (github.com or Enterprise Server via ``base_url``).
Both feed the same transforms, since export files hold what the API returns.

Which logs are read. A job's log is fetched only when the job can have pushed an
image: its name or one of its step names mentions docker, buildx,
build-push-action, push, publish, image, container, kaniko, buildah, podman,
skopeo, crane, ko, jib, oras, a registry (acr, ecr, gcr, ghcr, artifact
registry), release or deploy. Step names of ``uses:`` steps default to
``Run owner/action@ref`` and those of ``run:`` steps to the script's first line,
so the heuristic sees actions and commands even when a workflow names no step.
``scan_all_jobs = true`` reads every finished job instead. Logs are streamed and
only the lines that prove a push are kept.

Incremental sweeps. The watermark of a repository is the creation time from
which the next sweep lists runs, plus the runs at or after it that are already
done, so a quiet night costs one listing call per repository. A run that is
unfinished, or whose log could not be read, holds the watermark back and is
revisited, for up to a week. Known gap: GitHub can list runs by creation time
only, so a re-run of a run created before the watermark is not seen.

Requests. API calls go one at a time with a short pause, as GitHub asks of
integrations (concurrent calls are what trips its secondary limits); retries
and rate-limit waits live in ``etl.sources.http``. An attempt with three or
more jobs to read is fetched as one run-log zip instead of one call per job.
Signed download URLs are fetched without the GitHub token.

Attestations are read for the digests a sweep saw pushed, one call per digest.
Known gaps: attestations whose bundle is not inlined (newer API versions only
give a ``bundle_url`` to a snappy-compressed copy) are skipped, and the
organisation bulk-by-digest endpoint is not used.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import fnmatch
import io
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, AnyStr, Protocol
from urllib.parse import urlparse

import requests
import yaml

from etl.config import GitHubSettings, Settings, secret
from etl.errors import InputError, SourceError
from etl.normalize import mask_secrets, parse_ref, parse_time
from etl.sources import Extracted, Rows, Scope, SweepContext, http

if TYPE_CHECKING:
    from github import Github
    from github.Requester import Requester

logger = logging.getLogger(__name__)

SOURCE = "github"
RUN_CAP = 1000
PAGE_SIZE = 100
# One zip per attempt is cheaper than this many separate job-log calls.
ZIP_MIN_JOBS = 3
MAX_PENDING = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)
PR_EVENTS = {"pull_request", "pull_request_target"}
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
CATALOG_FILE = "catalog-info.yaml"
CAN_PUSH = re.compile(
    r"docker|buildx|build-push|push|publish|image|container|kaniko|buildah"
    r"|podman|skopeo|crane|\bko\b|\bjib|oras|\bacr\b|\becr\b|gcr|ghcr"
    r"|artifact registry|release|deploy",
    re.IGNORECASE,
)
GONE_STATUSES = {404, 410}
# The longest log line read, as etl.buildlogs reads files: no push proof is longer.
MAX_LINE_BYTES = 64 * 1024
SKIP_BYTES = 1 << 20


class PushEvent(Protocol):
    """What ``etl.buildlogs.parse_lines`` yields for each push a log shows."""

    @property
    def image(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def pushed(self) -> bool | None: ...
    @property
    def tool(self) -> str: ...
    @property
    def line_no(self) -> int: ...
    @property
    def evidence(self) -> str: ...
    @property
    def dockerfile(self) -> str | None: ...


Parser = Callable[[Iterable[str]], Iterable[PushEvent]]


class LogGone(Exception):
    """The log is no longer kept (retention expired or the run was deleted)."""


class LogUnreadable(Exception):
    """The log is not text (binary, wrong encoding) or could not be read."""


def add_run(
    out: Extracted,
    row: dict[str, Any],
    system: str,
    read: Callable[[], Rows],
    scanned: bool,
) -> bool:
    """Add a run with the pushes its logs show; False when it must be revisited.

    Expired logs are retention doing its job, not a failure: the run is kept without
    pushes. Unreadable logs are a problem, and the run is read again next night.
    """
    try:
        rows = read()
    except LogGone as exc:
        logger.info(
            "%s %s: logs gone (%s), run kept without pushes",
            system,
            row["run_key"],
            exc,
        )
        out.add("ci_runs", [{**row, "log_status": "expired"}])
        return True
    except LogUnreadable as exc:
        out.problems.append(f"{system} {row['run_key']}: {exc}; revisited next run")
        out.add("ci_runs", [{**row, "log_status": "unreadable"}])
        return False
    status = "scanned" if scanned else "no-push-step"
    out.add("ci_runs", [{**row, "log_status": status}])
    out.add("push_events", rows)
    return True


def default_parser() -> Parser:
    from etl.buildlogs import parse_lines

    return parse_lines


# -- fetch --------------------------------------------------------------------


def connect(settings: GitHubSettings) -> Github:
    """A PyGithub client for ``base_url`` with the token named by ``token_env``."""
    from github import Auth, Github

    token = secret(settings.token_env)
    if not token:
        raise SourceError(
            f"GitHub token missing: set the environment variable "
            f"{settings.token_env} (a fine-grained token with Actions, Contents, "
            "Metadata and Attestations read)"
        )
    return Github(
        auth=Auth.Token(token),
        base_url=settings.base_url.rstrip("/"),
        per_page=PAGE_SIZE,
        retry=http.github_retry(),
        timeout=http.TIMEOUT_SECONDS,
        seconds_between_requests=http.GITHUB_PAUSE_SECONDS,
    )


def _pages(
    requester: Requester, url: str, params: dict[str, Any] | None
) -> Iterator[dict[str, Any]]:
    """Each page of a list endpoint, following ``Link: rel="next"``."""
    next_url: str | None = url
    while next_url:
        headers, page = requester.requestJsonAndCheck("GET", next_url, params)
        logger.debug("GET %s: page read", next_url)
        yield page if isinstance(page, dict) else {"items": page}
        next_url, params = _next_link(headers.get("link")), None


def _next_link(header: str | None) -> str | None:
    for part in (header or "").split(","):
        match = re.match(r'\s*<([^>]+)>;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def fetch_repositories(requester: Requester, owner: str) -> list[dict[str, Any]]:
    """GET /orgs/{org}/repos, or /users/{user}/repos for a personal account."""
    from github import GithubException

    params = {"per_page": PAGE_SIZE}
    try:
        pages = list(_pages(requester, f"/orgs/{owner}/repos", params))
    except GithubException as exc:
        if exc.status != 404:
            raise
        pages = list(_pages(requester, f"/users/{owner}/repos", params))
    return [repo for page in pages for repo in page["items"]]


def fetch_runs(
    requester: Requester, repo: str, since: datetime, until: datetime
) -> Iterator[dict[str, Any]]:
    """GET /repos/{owner}/{repo}/actions/runs?created=A..B, windows under the cap."""
    windows = [(since, until)]
    while windows:
        start, end = windows.pop()
        created = f"{_iso(start)}..{_iso(end)}"
        params = {"created": created, "per_page": PAGE_SIZE}
        pages = _pages(requester, f"/repos/{repo}/actions/runs", params)
        first = next(pages)
        if first.get("total_count", 0) > RUN_CAP and end - start > timedelta(seconds=2):
            # Filtered queries stop at 1,000 runs: halve the window until each fits.
            middle = start + (end - start) / 2
            windows += [(middle + timedelta(seconds=1), end), (start, middle)]
            logger.debug(
                "%s: %s runs in %s, splitting", repo, first["total_count"], created
            )
            continue
        yield from first.get("workflow_runs", [])
        for page in pages:
            yield from page.get("workflow_runs", [])


def fetch_attempt(
    requester: Requester, repo: str, run_id: int, attempt: int
) -> dict[str, Any]:
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}"""
    url = f"/repos/{repo}/actions/runs/{run_id}/attempts/{attempt}"
    return dict(requester.requestJsonAndCheck("GET", url)[1])


def fetch_jobs(requester: Requester, repo: str, run_id: int) -> list[dict[str, Any]]:
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=all"""
    url = f"/repos/{repo}/actions/runs/{run_id}/jobs"
    params = {"filter": "all", "per_page": PAGE_SIZE}
    return [job for page in _pages(requester, url, params) for job in page["jobs"]]


def _redirect(requester: Requester, url: str) -> str:
    """The signed download URL a logs endpoint answers with (302 Location)."""
    from github import GithubException

    try:
        headers, _ = requester.requestBlobAndCheck("GET", url)
    except GithubException as exc:
        if exc.status in GONE_STATUSES:
            raise LogGone(f"{url}: {exc.status}") from exc
        raise
    location = headers.get("location")
    if not location:
        raise LogUnreadable(f"{url}: no download location in the answer")
    return str(location)


def _download(session: requests.Session, location: str) -> requests.Response:
    # The signed URL carries its own authority; GitHub's token must not follow it.
    response = session.get(location, stream=True, timeout=http.TIMEOUT_SECONDS)
    if response.status_code in GONE_STATUSES:
        raise LogGone(f"download answered {response.status_code}")
    response.raise_for_status()
    return response


def fetch_job_log(
    requester: Requester, session: requests.Session, repo: str, job_id: int
) -> Iterator[str]:
    """GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs, streamed by line."""
    location = _redirect(requester, f"/repos/{repo}/actions/jobs/{job_id}/logs")
    response = _download(session, location)
    with response:
        yield from decode_lines(response.iter_lines(), f"job {job_id} log")


def fetch_run_log_zip(
    requester: Requester,
    session: requests.Session,
    repo: str,
    run_id: int,
    attempt: int,
) -> zipfile.ZipFile:
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/logs"""
    url = f"/repos/{repo}/actions/runs/{run_id}/attempts/{attempt}/logs"
    response = _download(session, _redirect(requester, url))
    # The archive stays open after this returns; read_zip closes it.
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115
    with response:
        for chunk in response.iter_content(chunk_size=1 << 16):
            spool.write(chunk)
    try:
        return zipfile.ZipFile(spool)
    except zipfile.BadZipFile as exc:
        raise LogUnreadable(f"run {run_id} attempt {attempt} logs: not a zip") from exc


def fetch_file(requester: Requester, repo: str, path: str, ref: str) -> str | None:
    """GET /repos/{owner}/{repo}/contents/{path}?ref={ref}; None when absent."""
    from github import GithubException

    try:
        _, data = requester.requestJsonAndCheck(
            "GET", f"/repos/{repo}/contents/{path}", {"ref": ref}
        )
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise
    if not isinstance(data, dict) or data.get("encoding") != "base64":
        return None
    return base64.b64decode(data.get("content") or "").decode("utf-8", "replace")


def fetch_attestations(
    requester: Requester, repo: str, digest: str
) -> list[dict[str, Any]]:
    """GET /repos/{owner}/{repo}/attestations/{digest}; none on 404."""
    from github import GithubException

    try:
        _, data = requester.requestJsonAndCheck(
            "GET", f"/repos/{repo}/attestations/{digest}", {"per_page": PAGE_SIZE}
        )
    except GithubException as exc:
        if exc.status == 404:
            return []
        raise
    return list((data or {}).get("attestations") or [])


# -- transforms ---------------------------------------------------------------


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    """A workflow run (one attempt) as a ci_runs row."""
    host, owner, repo = _run_location(run)
    attempt = int(run.get("run_attempt") or 1)
    completed = run.get("status") == "completed"
    head_sha = run.get("head_sha")
    return {
        "run_key": f"github/{host}/{owner}/{repo}/{run['id']}/{attempt}",
        "system": SOURCE,
        "host": host,
        "org": owner,
        "repo": f"{owner}/{repo}",
        "repo_url": _repo_url(run, host, owner, repo),
        "pipeline": run.get("path"),
        "pipeline_id": _str(run.get("workflow_id")),
        "run_id": int(run["id"]),
        "run_number": _str(run.get("run_number")),
        "attempt": attempt,
        "reason": run.get("event"),
        "branch": run.get("head_branch"),
        # GITHUB_SHA (what provenance and labels name) is the merge commit on PR
        # runs; the API only states the PR head, so both columns hold head_sha.
        "commit_sha": head_sha,
        "pr_head_sha": head_sha if run.get("event") in PR_EVENTS else None,
        "commit_author": _author(run.get("head_commit")),
        "requested_for": _login(run.get("actor")),
        "actor": _login(run.get("actor")),
        "triggering_actor": _login(run.get("triggering_actor")),
        "status": run.get("status"),
        "result": run.get("conclusion"),
        "queued_at": parse_time(run.get("created_at")),
        "started_at": parse_time(run.get("run_started_at")),
        "finished_at": parse_time(run.get("updated_at")) if completed else None,
        "web_url": run.get("html_url"),
    }


def _run_location(run: dict[str, Any]) -> tuple[str, str, str]:
    """Host, owner and repo of a run, from its web URL and repository name."""
    url = urlparse(run.get("html_url") or "")
    host = url.netloc or "github.com"
    full_name = (run.get("repository") or {}).get("full_name")
    if not full_name:
        full_name = "/".join(url.path.strip("/").split("/")[:2])
    owner, _, repo = full_name.partition("/")
    return host, owner, repo


def _repo_url(run: dict[str, Any], host: str, owner: str, repo: str) -> str:
    html = (run.get("repository") or {}).get("html_url")
    return str(html) if html else f"https://{host}/{owner}/{repo}"


def _author(commit: dict[str, Any] | None) -> str | None:
    author = (commit or {}).get("author") or {}
    name, email = author.get("name"), author.get("email")
    if name and email:
        return f"{name} <{email}>"
    return name or email


def _login(user: dict[str, Any] | None) -> str | None:
    return (user or {}).get("login")


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def earlier_attempt(
    run: dict[str, Any], attempt: int, jobs: list[dict[str, Any]]
) -> dict[str, Any]:
    """An earlier attempt of a run, pieced together from the latest one and its jobs.

    Exports hold only the latest attempt of each run; its jobs (``filter=all``)
    carry the earlier attempts' times. Who started an earlier attempt is unknown.
    """
    mine = [j for j in jobs if int(j.get("run_attempt") or 1) == attempt]
    started = sorted(j["started_at"] for j in mine if j.get("started_at"))
    finished = sorted(j["completed_at"] for j in mine if j.get("completed_at"))
    return {
        **run,
        "run_attempt": attempt,
        "status": "completed",
        "conclusion": _attempt_conclusion(mine),
        "run_started_at": started[0] if started else None,
        "updated_at": finished[-1] if finished else None,
        "triggering_actor": run.get("actor") if attempt == 1 else None,
    }


def _attempt_conclusion(jobs: list[dict[str, Any]]) -> str | None:
    conclusions = {j.get("conclusion") for j in jobs}
    for worst in ("failure", "cancelled", "timed_out"):
        if worst in conclusions:
            return worst
    return "success" if conclusions == {"success"} else None


def can_push(job: dict[str, Any]) -> bool:
    """Whether a job's name or a step's name suggests it can push an image."""
    names = [job.get("name") or ""] + [
        s.get("name") or "" for s in job.get("steps") or []
    ]
    return any(CAN_PUSH.search(name) for name in names)


def jobs_to_scan(jobs: list[dict[str, Any]], scan_all: bool) -> list[dict[str, Any]]:
    """Finished, not skipped jobs whose logs may show a push."""
    return [
        job
        for job in jobs
        if job.get("status") == "completed"
        and job.get("conclusion") != "skipped"
        and (scan_all or can_push(job))
    ]


def push_rows(
    run_key: str, job: str, log_id: str, lines: Iterable[str], parse: Parser
) -> Rows:
    """The push events of one log as push_events rows."""
    return [
        {
            "run_key": run_key,
            "job": job,
            "log_id": log_id,
            "line_no": event.line_no,
            "tool": event.tool,
            "image": event.image,
            "tag": event.tag,
            "digest": event.digest,
            "pushed": event.pushed,
            "dockerfile": event.dockerfile,
            "evidence": mask_secrets(event.evidence),
        }
        for event in parse(lines)
    ]


def decode_lines(raw_lines: Iterable[bytes], name: str) -> Iterator[str]:
    """Text lines of a log; raises LogUnreadable when the content is binary.

    A stray byte that is not UTF-8 (a Windows console code page, say) is
    replaced rather than failing the log: the push lines around it still count.
    """
    for number, raw in enumerate(raw_lines, start=1):
        if b"\x00" in raw:
            raise LogUnreadable(f"{name}: binary content at line {number}")
        line = raw.decode("utf-8", "replace")
        yield line.lstrip("\ufeff") if number == 1 else line


def read_log_file(path: Path) -> Iterator[str]:
    """The lines of an exported log file, streamed; raises LogUnreadable.

    Memory stays bounded whatever the file holds: a line longer than
    ``MAX_LINE_BYTES`` is cut there (as ``imagetrail parse-log`` does) and the
    rest of it skipped unread.
    """
    try:
        with path.open("rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                # Windows PowerShell's `>` writes UTF-16; the text is still a log.
                handle.seek(0)
                text = io.TextIOWrapper(handle, encoding="utf-16", errors="replace")
                yield from _capped_lines(text, "\n", path)
                return
            handle.seek(0)
            yield from decode_lines(_capped_lines(handle, b"\n", path), str(path))
    except OSError as exc:
        raise LogUnreadable(f"{path}: {exc.strerror or exc}") from exc


def _capped_lines(handle: IO[AnyStr], newline: AnyStr, path: Path) -> Iterator[AnyStr]:
    """Lines split as ``splitlines`` does, each at most ``MAX_LINE_BYTES`` long."""
    cut = 0
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(newline):
            cut += 1
            # Without its partial last word, as etl.buildlogs cuts a line.
            head = line[:MAX_LINE_BYTES]
            space, tab = (b" ", b"\t") if isinstance(head, bytes) else (" ", "\t")
            line = head[: max(head.rfind(space), head.rfind(tab), 0)]
            while (rest := handle.readline(SKIP_BYTES)) and not rest.endswith(newline):
                pass
        yield from line.splitlines()
    if cut:
        logger.warning(
            "%s: %s over-long lines cut to their first %s bytes",
            path,
            cut,
            MAX_LINE_BYTES,
        )


def zip_job_lines(archive: zipfile.ZipFile, job_name: str) -> list[str] | None:
    """A job's log from a run-log zip: the top-level file, else its step files.

    The zip holds ``<n>_<job>.txt`` per job and usually a ``<job>/`` folder of
    step files; either may be missing, and names are sanitised, so both are
    matched on letters and digits only.
    """
    want = _plain(job_name)
    names = archive.namelist()
    top = [n for n in names if "/" not in n and _plain(_strip_index(n)) == want]
    members = top or sorted(
        (n for n in names if n.count("/") == 1 and _plain(n.split("/")[0]) == want),
        key=_step_number,
    )
    if not members:
        return None
    lines: list[str] = []
    for member in members:
        with archive.open(member) as handle:
            lines += decode_lines(handle.read().splitlines(), member)
    return lines


def _plain(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.removesuffix(".txt").lower())


def _strip_index(name: str) -> str:
    return re.sub(r"^\d+_", "", name)


def _step_number(name: str) -> int:
    match = re.match(r"(\d+)_", name.split("/")[-1])
    return int(match.group(1)) if match else 0


def codeowners_rules(
    repo: str, text: str, file: str, commit: str | None
) -> tuple[Rows, list[str]]:
    """One owner_rules row per CODEOWNERS rule; bad lines become problems."""
    from codeowners import path_to_regex

    rows: Rows = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line or (line.startswith("[") and line.endswith("]")):
            continue
        pattern, *owners = line.split()
        try:
            path_to_regex(pattern)
        except (ValueError, re.error) as exc:
            problems.append(f"line {number}: skipped ({exc})")
            continue
        rows.append(
            {
                "repo": repo,
                "kind": "codeowners",
                "pattern": pattern,
                "owners": " ".join(owners),
                "file": file,
                "line": number,
                "commit_sha": commit,
            }
        )
    return rows, problems


def catalog_rules(
    repo: str, text: str, file: str, commit: str | None
) -> tuple[Rows, list[str]]:
    """The Backstage owner of a catalog-info.yaml as one owner_rules row."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        return [], [f"not valid YAML ({str(exc).splitlines()[0]})"]
    if not documents:
        return [], ["not a catalog entity (no YAML mapping)"]
    for document in documents:
        owner = (document.get("spec") or {}).get("owner")
        if owner:
            row = {
                "repo": repo,
                "kind": "catalog",
                "pattern": "*",
                "owners": str(owner),
                "file": file,
                "line": None,
                "commit_sha": commit,
            }
            return [row], []
    return [], ["no spec.owner; add one or drop the file"]


def provenance_rows(attestation: dict[str, Any], repo: str) -> Rows:
    """The subjects of a GitHub artifact attestation as provenance rows."""
    envelope = ((attestation.get("bundle") or {}).get("dsseEnvelope")) or {}
    try:
        statement = json.loads(base64.b64decode(envelope.get("payload") or ""))
    except (binascii.Error, ValueError):
        return []
    predicate = statement.get("predicate") or {}
    build = predicate.get("buildDefinition") or {}
    workflow = (build.get("externalParameters") or {}).get("workflow") or {}
    deps = build.get("resolvedDependencies") or [{}]
    details = predicate.get("runDetails") or {}
    invocation = (details.get("metadata") or {}).get("invocationId") or ""
    match = re.search(r"/runs/(\d+)/attempts/(\d+)", invocation)
    rows: Rows = []
    for subject in statement.get("subject") or []:
        hexdigest = (subject.get("digest") or {}).get("sha256")
        if not hexdigest:
            continue
        ref = parse_ref(subject.get("name") or "") if subject.get("name") else None
        rows.append(
            {
                "subject_digest": f"sha256:{hexdigest}",
                "registry": ref.registry if ref else None,
                "repository": ref.repository if ref else None,
                "source_repo": workflow.get("repository"),
                "commit_sha": (deps[0].get("digest") or {}).get("gitCommit"),
                "builder_id": (details.get("builder") or {}).get("id"),
                "run_id": int(match.group(1)) if match else None,
                "run_attempt": int(match.group(2)) if match else None,
                "workflow_path": workflow.get("path"),
                "dockerfile": None,
                "kind": "github-attestation",
                "evidence": f"GitHub attestation of {repo} ({invocation or 'no run'})",
            }
        )
    return rows


# -- watermark ----------------------------------------------------------------


@dataclass
class Watermark:
    """Where the next sweep of a repository starts, and the runs already done.

    ``attested`` lists the image repositories (registry, repository) that this
    repository's attestations have named, so a sweep that adds attestations can
    carry the stored ones along when it replaces the scope's provenance.
    """

    since: datetime
    done: dict[str, int] = field(default_factory=dict)
    attested: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None, horizon: datetime) -> Watermark:
        if not text:
            return cls(horizon)
        try:
            data = json.loads(text)
            since = parse_time(data["since"])
            done = {str(k): int(v) for k, v in (data.get("done") or {}).items()}
            attested = [(str(r), str(p)) for r, p in data.get("attested") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("unreadable watermark %r: starting from the horizon", text)
            return cls(horizon)
        return cls(since or horizon, done, attested)

    def dump(self) -> str:
        data: dict[str, Any] = {"since": _iso(self.since), "done": self.done}
        if self.attested:
            data["attested"] = sorted(self.attested)
        return json.dumps(data, sort_keys=True)

    def attempts_done(self, run_id: object) -> int:
        return self.done.get(str(run_id), 0)


def next_watermark(
    previous: Watermark,
    settled: dict[str, tuple[datetime, int]],
    pending: dict[str, datetime],
    until: datetime,
) -> Watermark:
    """Move the watermark to the oldest run still pending, else to ``until``.

    ``settled`` maps the runs now done to (created, attempt), ``pending`` the
    runs to revisit to their creation time. Runs pending for longer than a
    week stop holding the watermark back, so one stuck run cannot pin it.
    """
    holding = [t for t in pending.values() if until - t <= MAX_PENDING]
    for run_id, created in pending.items():
        if until - created > MAX_PENDING:
            logger.warning(
                "run %s unfinished for over a week: no longer revisited", run_id
            )
    since = max(previous.since, min([*holding, until - CLOCK_SKEW]))
    done = {k: attempt for k, (created, attempt) in settled.items() if created >= since}
    return Watermark(since, done, previous.attested)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- export scopes ------------------------------------------------------------


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``github/OWNER/REPO`` folder of an export."""
    base = root / "github"
    if not base.is_dir():
        return []
    scopes = []
    for repo_dir in sorted(p for p in base.glob("*/*") if p.is_dir()):
        name = f"{repo_dir.parent.name}/{repo_dir.name}"
        scopes.append(
            Scope(SOURCE, f"export:github/{name}", _export_extractor(repo_dir, name))
        )
    return scopes


def _export_extractor(
    repo_dir: Path, repo: str, parse: Parser | None = None
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        try:
            return extract_export(repo_dir, repo, parse or default_parser())
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{repo_dir}: a run or job lacks a field the API always sends "
                f"({type(exc).__name__}: {exc}); re-export the folder"
            ) from exc

    return extract


def extract_export(repo_dir: Path, repo: str, parse: Parser) -> Extracted:
    """Everything an exported repository folder holds, as raw rows."""
    out = Extracted()
    runs = _read_runs(repo_dir / "runs.json")
    for run in runs:
        jobs = _read_export_jobs(repo_dir, run, out)
        attempts = _export_attempts(run, jobs)
        for attempt in attempts:
            _export_attempt(repo_dir, attempt, jobs, parse, out)
    _export_owners(repo_dir, repo, out)
    logger.info(
        "github export %s: %s runs, %s push events",
        repo,
        len(out.tables.get("ci_runs", [])),
        len(out.tables.get("push_events", [])),
    )
    return out


def _read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        pages = data if isinstance(data, list) else [data]
        return [run for page in pages for run in page["workflow_runs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a workflow-runs listing ({type(exc).__name__}); "
            "re-export it with "
            "`gh api --paginate --slurp repos/OWNER/REPO/actions/runs`"
        ) from exc


def _read_export_jobs(
    repo_dir: Path, run: dict[str, Any], out: Extracted
) -> list[dict[str, Any]] | None:
    path = repo_dir / "jobs" / f"{run['id']}.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        pages = data if isinstance(data, list) else [data]
        return [job for page in pages for job in page["jobs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out.problems.append(
            f"{path}: not a jobs listing ({type(exc).__name__}); its run's push "
            "events were left as they were; re-export it with `gh api "
            "repos/OWNER/REPO/actions/runs/RUN_ID/jobs?filter=all`"
        )
        return None


def _export_attempts(
    run: dict[str, Any], jobs: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    latest = int(run.get("run_attempt") or 1)
    earlier = [earlier_attempt(run, n, jobs or []) for n in range(1, latest)]
    return [*earlier, run]


def _export_attempt(
    repo_dir: Path,
    run: dict[str, Any],
    jobs: list[dict[str, Any]] | None,
    parse: Parser,
    out: Extracted,
) -> None:
    row = run_row(run)
    if jobs is None:  # the jobs file was garbled: a problem already
        out.add("ci_runs", [{**row, "log_status": "unreadable"}])
        return
    mine = [j for j in jobs if int(j.get("run_attempt") or 1) == row["attempt"]]
    logs = [
        (job.get("name") or "", str(job["id"]), repo_dir / "logs" / f"{job['id']}.txt")
        for job in jobs_to_scan(mine, scan_all=True)
    ]
    add_export_run(out, row, logs, parse, "its run's push events")


def add_export_run(
    out: Extracted,
    row: dict[str, Any],
    logs: list[tuple[str, str, Path]],
    parse: Parser,
    what: str,
) -> None:
    """An exported run with the pushes its log files show, and why it has them.

    ``logs`` are (job name, log id, file) of the jobs to scan. Exporters often
    skip the logs of steps that cannot push, so only a run without any log has
    expired, as in live mode: it keeps the push events it had. An unreadable log
    is a problem and keeps them too.
    """
    if not logs:
        out.add("ci_runs", [{**row, "log_status": "no-push-step"}])
        return
    present = [log for log in logs if log[2].exists()]
    if not present:
        logger.info(
            "%s: no log in the export (expired); run kept without pushes",
            row["run_key"],
        )
        out.add("ci_runs", [{**row, "log_status": "expired"}])
        return
    rows: Rows = []
    try:
        for name, log_id, path in present:
            lines = read_log_file(path)
            rows += push_rows(row["run_key"], name, log_id, lines, parse)
    except LogUnreadable as exc:
        out.problems.append(f"{exc}; {what} were left as they were")
        out.add("ci_runs", [{**row, "log_status": "unreadable"}])
        return
    out.add("ci_runs", [{**row, "log_status": "scanned"}])
    out.add("push_events", rows)


def _export_owners(repo_dir: Path, repo: str, out: Extracted) -> None:
    for file, reader in (
        ("CODEOWNERS", codeowners_rules),
        (CATALOG_FILE, catalog_rules),
    ):
        path = repo_dir / file
        if path.exists():
            export_owner_rules(path, repo, reader, out)


def export_owner_rules(
    path: Path,
    repo: str,
    reader: Callable[[str, str, str, str | None], tuple[Rows, list[str]]],
    out: Extracted,
) -> None:
    """An exported owner file's rules; one that yields none fails the scope.

    Loading the scope without them would drop the owners this file gave last time,
    so a garbled file keeps the last good rules (and the rest of the scope) instead.
    """
    how = "re-export it from the repository's default branch"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); {how}") from exc
    rows, problems = reader(repo, text, path.name, None)
    if problems and not rows:
        raise InputError(f"{path}: no owner rule read ({problems[0]}); {how}")
    out.add("owner_rules", rows)
    out.problems += [f"{path}: {p}" for p in problems]


# -- live scopes --------------------------------------------------------------


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per selected repository of the ``[github]`` section."""
    config = settings.github
    if config is None:
        return []
    host = _api_host(config.base_url)
    try:
        client = connect(config)
        repos = select_repositories(client.requester, config)
    except Exception as exc:
        return [Scope(SOURCE, host, _failing(_source_error(host, exc)))]
    logger.info("github %s: %s repositories selected", host, len(repos))
    return [
        Scope(SOURCE, f"{host}/{repo}", _live_extractor(client, config, repo))
        for repo in repos
    ]


def _api_host(base_url: str) -> str:
    host = urlparse(base_url).netloc or base_url
    return "github.com" if host == "api.github.com" else host


def _failing(error: Exception) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        raise error

    return extract


def select_repositories(requester: Requester, config: GitHubSettings) -> list[str]:
    """OWNER/REPO names of the configured organisations, filtered by the globs."""
    includes = [g for g in config.repositories if not g.startswith("!")]
    excludes = [g[1:] for g in config.repositories if g.startswith("!")]
    names = {g for g in includes if not any(c in g for c in "*?[")}
    orgs = set(config.organizations)
    owners = {g.split("/")[0] for g in includes if g not in names and "/" in g}
    orgs |= {o for o in owners if not any(c in o for c in "*?[")}
    for org in sorted(orgs):
        for repo in fetch_repositories(requester, org):
            if not repo.get("archived"):
                names.add(repo["full_name"])
    return sorted(n for n in names if _selected(n, includes, excludes))


def _selected(name: str, includes: list[str], excludes: list[str]) -> bool:
    lower = name.lower()
    if includes and not any(fnmatch.fnmatchcase(lower, g.lower()) for g in includes):
        return False
    return not any(fnmatch.fnmatchcase(lower, g.lower()) for g in excludes)


def _live_extractor(
    client: Github, config: GitHubSettings, repo: str, parse: Parser | None = None
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        sweep = RepoSweep(client.requester, config, repo, parse or default_parser())
        try:
            return sweep.run(ctx)
        except (SourceError, InputError):
            raise
        except Exception as exc:
            raise _source_error(repo, exc) from exc

    return extract


def _source_error(what: str, exc: Exception) -> SourceError:
    status = getattr(exc, "status", None)
    hint = {
        401: "the token is invalid or expired; renew it",
        403: "the token lacks a permission (Actions, Contents, Metadata read)",
        404: "not found, or the token cannot see it",
    }.get(status or 0, "check the server and the network; the last good data is kept")
    detail = f"HTTP {status}" if status else type(exc).__name__
    return SourceError(f"GitHub {what}: {detail}: {hint}")


class RepoSweep:
    """One incremental sweep of one repository."""

    def __init__(
        self, requester: Requester, config: GitHubSettings, repo: str, parse: Parser
    ) -> None:
        self.requester = requester
        self.config = config
        self.repo = repo
        self.parse = parse
        self.session = http.download_session()
        self.out = Extracted()

    def run(self, ctx: SweepContext) -> Extracted:
        until = datetime.now(UTC).replace(microsecond=0)
        horizon = until - timedelta(days=self.config.since_days)
        mark = Watermark.parse(ctx.watermark, horizon)
        settled: dict[str, tuple[datetime, int]] = {}
        pending: dict[str, datetime] = {}
        runs = list(fetch_runs(self.requester, self.repo, mark.since, until))
        fresh = []
        for run in runs:
            created = parse_time(run.get("created_at")) or until
            attempt = int(run.get("run_attempt") or 1)
            done = mark.attempts_done(run["id"])
            if done < attempt or run.get("status") != "completed":
                fresh.append(run)
                if not self.sweep_run(run, done):
                    pending[str(run["id"])] = created
                    continue
            settled[str(run["id"])] = (created, attempt)
        if fresh:
            self.read_owners(fresh)
            self.read_attestations(ctx, mark)
        self.out.watermark = next_watermark(mark, settled, pending, until).dump()
        logger.info(
            "github %s: %s runs listed, %s read, %s push events, %s pending",
            self.repo,
            len(runs),
            len(fresh),
            len(self.out.tables.get("push_events", [])),
            len(pending),
        )
        return self.out

    def sweep_run(self, run: dict[str, Any], done: int) -> bool:
        """Rows for the attempts of a run not yet done; False to revisit it."""
        latest = int(run.get("run_attempt") or 1)
        attempts = [
            fetch_attempt(self.requester, self.repo, run["id"], n)
            for n in range(done + 1, latest)
        ] + [run]
        if run.get("status") != "completed":
            self.out.add(
                "ci_runs",
                [{**run_row(a), "log_status": "unfinished"} for a in attempts],
            )
            return False
        jobs = fetch_jobs(self.requester, self.repo, run["id"])
        ok = True
        for attempt in attempts:
            ok = self.sweep_attempt(attempt, jobs) and ok
        return ok

    def sweep_attempt(self, run: dict[str, Any], jobs: list[dict[str, Any]]) -> bool:
        row = run_row(run)
        mine = [j for j in jobs if int(j.get("run_attempt") or 1) == row["attempt"]]
        scan = jobs_to_scan(mine, self.config.scan_all_jobs)
        return add_run(
            self.out, row, "GitHub", lambda: self.read_logs(row, scan), bool(scan)
        )

    def read_logs(self, row: dict[str, Any], jobs: list[dict[str, Any]]) -> Rows:
        if len(jobs) >= ZIP_MIN_JOBS:
            return self.read_zip(row, jobs)
        rows: Rows = []
        for job in jobs:
            lines = fetch_job_log(self.requester, self.session, self.repo, job["id"])
            rows += push_rows(
                row["run_key"], job["name"], str(job["id"]), lines, self.parse
            )
        return rows

    def read_zip(self, row: dict[str, Any], jobs: list[dict[str, Any]]) -> Rows:
        archive = fetch_run_log_zip(
            self.requester, self.session, self.repo, row["run_id"], row["attempt"]
        )
        rows: Rows = []
        with archive:
            for job in jobs:
                lines = zip_job_lines(archive, job["name"])
                if lines is None:
                    logger.warning(
                        "%s: no log for job %r in the run zip",
                        row["run_key"],
                        job["name"],
                    )
                    continue
                rows += push_rows(
                    row["run_key"], job["name"], str(job["id"]), lines, self.parse
                )
        return rows

    def read_owners(self, runs: list[dict[str, Any]]) -> None:
        """CODEOWNERS and catalog-info.yaml at the newest commit built."""
        newest = max(runs, key=lambda r: r.get("created_at") or "")
        commit = newest.get("head_sha")
        if not commit:
            return
        rows: Rows = []
        for path in CODEOWNERS_PATHS:
            text = fetch_file(self.requester, self.repo, path, commit)
            if text is not None:
                found, problems = codeowners_rules(self.repo, text, path, commit)
                rows += found
                self.out.problems += [f"{self.repo} {path}: {p}" for p in problems]
                break
        text = fetch_file(self.requester, self.repo, CATALOG_FILE, commit)
        if text is not None:
            found, problems = catalog_rules(self.repo, text, CATALOG_FILE, commit)
            rows += found
            self.out.problems += [f"{self.repo} {CATALOG_FILE}: {p}" for p in problems]
        self.out.add("owner_rules", rows)

    def read_attestations(self, ctx: SweepContext, mark: Watermark) -> None:
        """Attestations of the digests this sweep saw pushed, with the stored ones.

        Provenance is replaced per scope, so once a sweep finds new attestations
        it re-emits those stored by earlier sweeps of this repository too.
        """
        digests = sorted(
            {r["digest"] for r in self.out.tables.get("push_events", []) if r["digest"]}
        )
        found: Rows = []
        for digest in digests:
            for attestation in fetch_attestations(self.requester, self.repo, digest):
                found += provenance_rows(attestation, self.repo)
        if not found:
            return
        seen = {(r["subject_digest"], r["evidence"]) for r in found}
        images = {(r["registry"], r["repository"]) for r in found if r["registry"]}
        images |= set(mark.attested)
        prefix = f"GitHub attestation of {self.repo} ("
        for registry, repository in sorted(images):
            for row in ctx.known_provenance(registry, repository):
                key = (row["subject_digest"], row["evidence"])
                mine = row["kind"] == "github-attestation"
                if mine and str(row["evidence"]).startswith(prefix) and key not in seen:
                    found.append(row)
                    seen.add(key)
        self.out.add("provenance", found)
        mark.attested = sorted(images)


# -- doctor -------------------------------------------------------------------


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Credentials, reach and permissions of the ``[github]`` section."""
    config = settings.github
    if config is None:
        return []
    name = f"github {_api_host(config.base_url)}"
    if not secret(config.token_env):
        return [(name, False, f"no token: set {config.token_env} to a GitHub token")]
    checks: list[tuple[str, bool, str]] = []
    try:
        client = connect(config)
        client.requester.requestJsonAndCheck("GET", "/rate_limit")
        remaining, limit = client.rate_limiting
        checks.append((name, True, f"reached; {remaining}/{limit} API calls left"))
        repos = select_repositories(client.requester, config)
    except Exception as exc:
        return [*checks, (name, False, str(_source_error("API", exc)))]
    if not repos:
        return [
            *checks,
            (
                name,
                False,
                "no repository selected: check organizations and repositories",
            ),
        ]
    checks.append((f"{name} repositories", True, f"{len(repos)} selected"))
    repo = repos[0]
    try:
        client.requester.requestJsonAndCheck(
            "GET", f"/repos/{repo}/actions/runs", {"per_page": 1}
        )
        checks.append((f"{name} actions", True, f"workflow runs of {repo} readable"))
    except Exception as exc:
        checks.append(
            (
                f"{name} actions",
                False,
                str(_source_error(repo, exc)) + "; grant Actions: read",
            )
        )
    return checks

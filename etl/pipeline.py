"""The nightly job: extract -> load -> transform -> report."""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from etl import owners
from etl.config import SQL_DIR, Settings
from etl.errors import ImagetrailError
from etl.sources import SOURCE_MODULES, Scope, SweepContext, source_module
from etl.sources.exports import export_scopes
from etl.warehouse import Warehouse, run_lock

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


@dataclass
class RunResult:
    """What one run did: scopes loaded and failed, problems met, reports written."""

    job_id: str
    loaded: int = 0
    failed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.failed or self.problems else EXIT_OK


def run(settings: Settings, wait: bool = False) -> RunResult:
    """The whole nightly job under the warehouse lock."""
    with run_lock(settings.warehouse_path, wait=wait):
        wh = Warehouse(settings.warehouse_path)
        try:
            result = RunResult(job_id=uuid.uuid4().hex[:12])
            with _stage("extract and load"):
                for scope in collect_scopes(settings, result):
                    sweep_scope(wh, scope, result)
            with _stage("transform"):
                transform(wh, settings)
            with _stage("report"):
                from etl import report

                try:
                    result.reports = report.write_reports(wh, settings.reports_out)
                except OSError as exc:
                    raise ImagetrailError(
                        f"cannot write the reports to {settings.reports_out} "
                        f"({exc.strerror or exc}); the warehouse is up to date, fix "
                        "the folder and run `imagetrail report`"
                    ) from exc
            return result
        finally:
            wh.close()


class _stage:
    """Logs one line when a stage starts and one with its seconds when it ends."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.monotonic()
        logger.info("stage %s: started", self.name)

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.started
        logger.info("stage %s: done in %.1fs", self.name, seconds)


def collect_scopes(settings: Settings, result: RunResult) -> list[Scope]:
    """Export folders, live systems and the override file, as scopes to sweep."""
    scopes: list[Scope] = []
    for export in settings.exports:
        try:
            scopes.extend(export_scopes(export.path))
        except ImagetrailError as exc:
            logger.error("%s", exc)
            result.failed.append(f"export:{export.path}")
    for name in SOURCE_MODULES:
        live = getattr(source_module(name), "live_scopes", None)
        if live is not None:
            scopes.extend(live(settings))
    if settings.owners.overrides is not None:
        scopes.append(owners.override_scope(settings.owners.overrides))
    return scopes


def sweep_scope(wh: Warehouse, scope: Scope, result: RunResult) -> None:
    """Extract one scope and load it in one transaction; failing keeps old rows."""
    sweep = wh.begin_sweep(result.job_id, scope.source, scope.scope)
    ctx = SweepContext(
        watermark=sweep.watermark_before,
        known_digests=lambda reg, repo: wh.known_digests(reg, repo),
        known_images=lambda reg, repo: wh.known_images(reg, repo),
        known_provenance=lambda reg, repo: wh.known_provenance(reg, repo),
    )
    try:
        extracted = scope.extract(ctx)
        for table, rows in extracted.tables.items():
            sweep.add(table, rows)
        sweep.watermark_after = extracted.watermark
        count = wh.commit_sweep(sweep)
    except ImagetrailError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logger.warning(
            "%s %s failed, keeping its last good data: %s",
            scope.source,
            scope.scope,
            message,
        )
        wh.fail_sweep(sweep, message)
        result.failed.append(f"{scope.source} {scope.scope}: {message}")
        return
    for problem in extracted.problems:
        logger.warning("%s", problem)
    result.problems.extend(extracted.problems)
    result.loaded += count
    logger.info("%s %s: %s rows", scope.source, scope.scope, count)


def transform(wh: Warehouse, settings: Settings) -> None:
    """Run sql/models in order; CODEOWNERS matching sits between links and owners."""
    wh.con.execute("SET VARIABLE threshold = ?", [settings.threshold])
    wh.con.execute(
        "CREATE OR REPLACE TABLE owner_label_keys (key VARCHAR, ord INTEGER)"
    )
    for i, key in enumerate(settings.owners.labels):
        wh.con.execute("INSERT INTO owner_label_keys VALUES (?, ?)", [key, i])
    for path in sorted((SQL_DIR / "models").glob("*.sql")):
        if path.name.startswith("030"):
            match_codeowners(wh)
        logger.debug("model %s", path.name)
        wh.run_script(path)


def match_codeowners(wh: Warehouse) -> None:
    """Fill codeowner_matches: the CODEOWNERS rule owning each image's Dockerfile."""
    rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in wh.records(
        "SELECT repo, pattern, owners, file, line, commit_sha FROM owner_rules "
        "WHERE kind = 'codeowners'"
    ):
        rules[rule["repo"]].append(rule)
    rows = []
    for item in wh.records("SELECT * FROM owner_inputs"):
        match = owners.match_codeowners(rules.get(item["repo"], []), item["dockerfile"])
        if match is None:
            continue
        rows.append(
            {
                "registry": item["registry"],
                "repository": item["repository"],
                "digest": item["digest"],
                "repo": item["repo"],
                "commit_sha": match.get("commit_sha") or item["commit_sha"],
                "owners": match["owners"],
                "file": match["file"],
                "line": match["line"],
                "pattern": match["pattern"],
                "path": match["path"],
                "why": match["why"],
            }
        )
    frame = pd.DataFrame(rows, columns=CODEOWNER_MATCH_COLUMNS, dtype="object")
    wh.con.register("_matches", frame)
    wh.run_script(SQL_DIR / "models" / "helpers" / "codeowner_matches.sql")
    wh.con.unregister("_matches")


CODEOWNER_MATCH_COLUMNS = [
    "registry",
    "repository",
    "digest",
    "repo",
    "commit_sha",
    "owners",
    "file",
    "line",
    "pattern",
    "path",
    "why",
]

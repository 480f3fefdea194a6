"""The DuckDB warehouse: schema migrations, bulk loads by sweep, and the run lock."""

from __future__ import annotations

import fcntl
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from etl.config import SQL_DIR
from etl.errors import ImagetrailError, LockedError

logger = logging.getLogger(__name__)

Row = Mapping[str, Any]

# How a sweep's rows replace what is stored. "scope": the scope's rows are
# replaced as a whole (a snapshot). "key": rows sharing the key columns are
# replaced (incremental sources). "append": rows are history and never replaced.
LOAD_POLICY: dict[str, tuple[str, tuple[str, ...]]] = {
    "ci_runs": ("key", ("run_key",)),
    "push_events": ("key", ("run_key",)),
    "images": ("scope", ()),
    "image_tags": ("append", ()),
    "provenance": ("scope", ()),
    "workloads": ("scope", ()),
    "findings": ("scope", ()),
    "scans": ("scope", ()),
    "owner_rules": ("scope", ()),
}


@dataclass
class Sweep:
    """One extraction of one source scope; collects rows until it is committed."""

    sweep_id: str
    job_id: str
    source: str
    scope: str
    started_at: datetime
    watermark_before: str | None = None
    watermark_after: str | None = None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, rows: Iterable[Row]) -> None:
        if table not in LOAD_POLICY:
            raise ValueError(f"unknown raw table {table!r}")
        bucket = self.rows.setdefault(table, [])
        bucket.extend(dict(r) for r in rows)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


class Warehouse:
    """A DuckDB file with imagetrail's schema applied."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise ImagetrailError(
                f"no warehouse at {self.path}: run 'imagetrail run' first "
                "or pass --db with the path of an existing one"
            )
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                raise ImagetrailError(
                    f"warehouse {self.path} is in use by a running imagetrail run; "
                    "try again when it has finished"
                ) from exc
            raise ImagetrailError(
                f"cannot open warehouse {self.path}: {exc}".splitlines()[0]
            ) from exc
        if not read_only:
            self.migrate()

    def close(self) -> None:
        self.con.close()

    def migrate(self) -> None:
        """Apply every file of sql/schema in name order; each is idempotent."""
        for path in sorted((SQL_DIR / "schema").glob("*.sql")):
            self.con.execute(path.read_text())

    # -- sweeps ---------------------------------------------------------------

    def begin_sweep(self, job_id: str, source: str, scope: str) -> Sweep:
        return Sweep(
            sweep_id=uuid.uuid4().hex,
            job_id=job_id,
            source=source,
            scope=scope,
            started_at=datetime.now(UTC),
            watermark_before=self.watermark(source, scope),
        )

    def watermark(self, source: str, scope: str) -> str | None:
        """The watermark of the last successful sweep of a scope."""
        row = self.con.execute(
            "SELECT watermark_after FROM sweeps WHERE source = ? AND scope = ? "
            "AND status = 'ok' ORDER BY started_at DESC LIMIT 1",
            [source, scope],
        ).fetchone()
        return row[0] if row else None

    def commit_sweep(self, sweep: Sweep) -> int:
        """Load a sweep's rows in one transaction and record it as ok."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, rows in sweep.rows.items():
                self._load(table, rows, sweep)
            self._record(sweep, "ok", None)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return sweep.row_count

    def fail_sweep(self, sweep: Sweep, error: str) -> None:
        """Record a failed sweep; the scope's stored rows stay as they were."""
        self._record(sweep, "failed", error)

    def _record(self, sweep: Sweep, status: str, error: str | None) -> None:
        self.con.execute(
            "INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sweep.sweep_id,
                sweep.job_id,
                sweep.source,
                sweep.scope,
                status,
                sweep.row_count if status == "ok" else 0,
                error,
                sweep.watermark_before,
                sweep.watermark_after if status == "ok" else sweep.watermark_before,
                sweep.started_at,
                datetime.now(UTC),
            ],
        )

    def _load(self, table: str, rows: list[dict[str, Any]], sweep: Sweep) -> None:
        policy, key = LOAD_POLICY[table]
        columns = self.columns(table)
        frame = _frame(rows, columns, sweep)
        if policy == "scope":
            self.con.execute(
                f"DELETE FROM {table} WHERE source = ? AND scope = ?",
                [sweep.source, sweep.scope],
            )
        elif policy == "key" and len(frame):
            keys = frame[list(key)].drop_duplicates()
            self.con.register("_keys", keys)
            cond = " AND ".join(f"t.{k} = k.{k}" for k in key)
            self.con.execute(
                f"DELETE FROM {table} t WHERE EXISTS "
                f"(SELECT 1 FROM _keys k WHERE {cond})"
            )
            self.con.unregister("_keys")
        if len(frame):
            self.con.register("_rows", frame)
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
            self.con.unregister("_rows")
        logger.debug("loaded %s rows into %s for %s", len(frame), table, sweep.scope)

    def columns(self, table: str) -> list[tuple[str, str]]:
        return [
            (name, dtype)
            for name, dtype in self.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = ? AND schema_name = 'main' ORDER BY column_index",
                [table],
            ).fetchall()
        ]

    # -- what earlier sweeps stored --------------------------------------------

    def known_digests(self, registry: str, repository: str) -> set[str]:
        """Digests already stored for a repository (manifests are immutable)."""
        rows = self.con.execute(
            "SELECT digest FROM images WHERE registry = ? AND repository = ?",
            [registry, repository],
        ).fetchall()
        return {r[0] for r in rows}

    def known_images(self, registry: str, repository: str) -> list[dict[str, Any]]:
        """The stored images rows of a repository, without the sweep stamps."""
        rows = self.records(
            "SELECT * EXCLUDE (source, scope, sweep_id) FROM images "
            "WHERE registry = ? AND repository = ?",
            [registry, repository],
        )
        for row in rows:
            for key in ("labels", "annotations"):
                if isinstance(row.get(key), str):
                    row[key] = json.loads(row[key])
        return rows

    def known_provenance(self, registry: str, repository: str) -> list[dict[str, Any]]:
        """The stored provenance rows of a repository, without the sweep stamps."""
        return self.records(
            "SELECT * EXCLUDE (source, scope, sweep_id) FROM provenance "
            "WHERE registry = ? AND repository = ?",
            [registry, repository],
        )

    # -- queries --------------------------------------------------------------

    def run_script(self, path: Path) -> None:
        self.con.execute(path.read_text())

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def records(
        self, sql: str, params: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _frame(
    rows: list[dict[str, Any]], columns: list[tuple[str, str]], sweep: Sweep
) -> pd.DataFrame:
    """Rows as a frame with the table's columns; JSON columns serialised."""
    names = [c for c, _ in columns]
    data: dict[str, list[Any]] = {name: [] for name in names}
    stamp = {"source": sweep.source, "scope": sweep.scope, "sweep_id": sweep.sweep_id}
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        for name, dtype in columns:
            value = stamp[name] if name in stamp else row.get(name)
            if dtype == "JSON" and value is not None and not isinstance(value, str):
                value = json.dumps(value, sort_keys=True)
            data[name].append(value)
    return pd.DataFrame({n: pd.Series(v, dtype="object") for n, v in data.items()})


@contextmanager
def run_lock(db_path: Path, wait: bool = False) -> Iterator[None]:
    """One run at a time per warehouse: an advisory lock beside the DuckDB file."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError as exc:
            raise LockedError(
                f"another imagetrail run holds {lock_path}; wait for it to finish "
                "or pass --wait to queue behind it"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""The job's run lock and sweep bookkeeping, as cron sees them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from etl.errors import SourceError
from etl.pipeline import RunResult, sweep_scope
from etl.sources import Extracted, Scope, SweepContext
from etl.warehouse import Warehouse, run_lock


def test_a_second_run_exits_at_once_while_one_holds_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with run_lock(db):
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("imagetrail")),
                "run",
                "--db",
                str(db),
                "--out",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: another imagetrail run holds {db}.lock; wait for it to finish "
        "or pass --wait to queue behind it"
    )


def _scope(rows: list[dict[str, object]] | None, watermark: str) -> Scope:
    def extract(ctx: SweepContext) -> Extracted:
        if rows is None:
            raise SourceError("registry.example.com: 503 Service Unavailable")
        return Extracted(tables={"image_tags": rows}, watermark=watermark)

    return Scope("oci", "registry.example.com/app", extract)


def test_failed_sweep_keeps_rows_and_watermark(fresh_db: Warehouse) -> None:
    row = {
        "registry": "registry.example.com",
        "repository": "app",
        "tag": "1",
        "digest": "sha256:" + "a" * 64,
        "observed_at": "2024-05-01T00:00:00Z",
    }
    result = RunResult(job_id="j1")
    sweep_scope(fresh_db, _scope([row], "w1"), result)
    sweep_scope(fresh_db, _scope(None, "w2"), result)
    assert result.failed == [
        "oci registry.example.com/app: registry.example.com: 503 Service Unavailable"
    ]
    assert result.exit_code == 3
    assert fresh_db.watermark("oci", "registry.example.com/app") == "w1"
    assert fresh_db.records("SELECT tag FROM image_tags") == [{"tag": "1"}]
    statuses = fresh_db.records("SELECT status, error FROM sweeps ORDER BY started_at")
    assert statuses == [
        {"status": "ok", "error": None},
        {"status": "failed", "error": "registry.example.com: 503 Service Unavailable"},
    ]

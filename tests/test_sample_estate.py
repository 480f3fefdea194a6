"""`imagetrail run` end to end on the bundled sample estate, checked against
examples/contoso/EXPECTED.json, and with parts of the estate broken."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.warehouse import Warehouse

REPO = Path(__file__).resolve().parent.parent
ESTATE = REPO / "examples" / "contoso"
EXPECTED = json.loads((ESTATE / "EXPECTED.json").read_text())


def imagetrail(*args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("imagetrail")
    return subprocess.run(
        [str(exe), *map(str, args)], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One `imagetrail run` on the sample estate, as `make run` does it."""
    tmp = tmp_path_factory.mktemp("sample")
    db, out = tmp / "imagetrail.duckdb", tmp / "out"
    result = imagetrail("-q", "run", "--db", db, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return {"db": db, "out": out}


def query(db: Path, name: str) -> list[dict[str, Any]]:
    result = imagetrail("sql", name, "--db", db, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def test_run_writes_the_warehouse_and_both_reports(sample_run: dict[str, Path]) -> None:
    assert sample_run["db"].stat().st_size > 0
    assert (sample_run["out"] / "index.html").stat().st_size > 0
    assert (sample_run["out"] / "remediation.md").stat().st_size > 0
    assert list((sample_run["out"] / "owners").glob("*.md"))
    # Images no scanner looked at are not shown as clean.
    html = (sample_run["out"] / "index.html").read_text()
    assert "not scanned" in html


def test_exposed_high_cve_query_matches_expected(sample_run: dict[str, Path]) -> None:
    rows = query(sample_run["db"], "exposed-high-cve-to-pipeline")
    assert canonical(rows) == canonical(EXPECTED["exposed_high_cve_to_pipeline"])


IMAGE_KEYS = ("status", "method", "run_url", "repo", "commit", "owner", "owner_source")


@pytest.mark.parametrize(
    "expected", EXPECTED["images"], ids=lambda e: f"{e['image']}@{e['digest'][7:15]}"
)
def test_every_sample_image_maps_as_expected(
    sample_run: dict[str, Path], expected: dict[str, Any]
) -> None:
    wh = Warehouse(sample_run["db"], read_only=True)
    try:
        rows = wh.records(
            "SELECT * FROM remediation WHERE image = ? AND digest = ?",
            [expected["image"], expected["digest"]],
        )
    finally:
        wh.close()
    assert len(rows) == 1, "image missing from the mapping"
    got = rows[0]
    assert {k: got[k] for k in IMAGE_KEYS} == {k: expected[k] for k in IMAGE_KEYS}
    assert sorted(got["tags"]) == sorted(expected["tags"])
    if expected["status"] != "mapped":
        assert got["reason"]


def test_no_image_is_missing_from_expected(sample_run: dict[str, Path]) -> None:
    wh = Warehouse(sample_run["db"], read_only=True)
    try:
        got = {
            (r["image"], r["digest"]) for r in wh.records("SELECT * FROM remediation")
        }
    finally:
        wh.close()
    assert got == {(e["image"], e["digest"]) for e in EXPECTED["images"]}


@pytest.mark.parametrize(
    "expected", EXPECTED["images"], ids=lambda e: f"{e['image']}@{e['digest'][7:15]}"
)
def test_explain_prints_the_chain(
    sample_run: dict[str, Path], expected: dict[str, Any]
) -> None:
    result = CliRunner().invoke(
        cli, ["explain", expected["digest"], "--db", str(sample_run["db"])]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{expected['image']}@{expected['digest']}" in out
    assert f"status: {expected['status']}" in out
    if expected["status"] == "mapped":
        assert f"run:    {expected['run_url']}" in out
        assert expected["commit"] in out
        assert f"owner: {expected['owner']}" in out
        assert f"* {expected['method']}" in out
    else:
        assert f"why {expected['status']}:" in out


def test_explain_by_reference_and_unknown_reference(
    sample_run: dict[str, Path],
) -> None:
    mapped = next(
        e for e in EXPECTED["images"] if e["status"] == "mapped" and e["tags"]
    )
    ref = f"{mapped['image']}:{mapped['tags'][0]}"
    result = imagetrail("explain", ref, "--db", sample_run["db"])
    assert result.returncode == 0, result.stderr
    assert mapped["digest"] in result.stdout
    result = imagetrail("explain", "nowhere.example/none:1", "--db", sample_run["db"])
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no image in the warehouse matches")


def test_the_estate_matches_its_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "build_contoso.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _copy_estate(tmp_path: Path) -> Path:
    estate = tmp_path / "estate"
    shutil.copytree(ESTATE, estate)
    cfg = tmp_path / "imagetrail.toml"
    cfg.write_text(
        f'[warehouse]\npath = "{tmp_path / "w.duckdb"}"\n'
        f'[reports]\nout = "{tmp_path / "out"}"\n'
        f'[[export]]\npath = "{estate}"\n'
        f'[owners]\noverrides = "{estate / "owners.toml"}"\n'
    )
    return cfg


def _counts(db: Path) -> dict[str, int]:
    wh = Warehouse(db, read_only=True)
    try:
        return {
            t: wh.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("ci_runs", "push_events", "images", "workloads", "findings")
        }
    finally:
        wh.close()


def test_garbled_files_fail_alone_and_keep_their_last_good_data(tmp_path: Path) -> None:
    cfg = _copy_estate(tmp_path)
    estate = tmp_path / "estate"
    assert imagetrail("-q", "run", "--config", cfg).returncode == 0
    before = _counts(tmp_path / "w.duckdb")

    registry_file = sorted((estate / "acr").rglob("*.json"))[0]
    registry_file.write_text('{"truncated": [')
    log_file = sorted((estate / "github").rglob("logs/*.txt"))[0]
    log_file.write_bytes(b"\x00\x01\x02\xff\xfe" * 2000)

    result = imagetrail("-q", "run", "--config", cfg)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert any(str(registry_file) in line for line in errors)
    assert any(str(log_file) in line for line in errors)
    # Nothing already loaded is lost: the broken scopes keep their previous rows.
    assert _counts(tmp_path / "w.duckdb") == before
    assert (tmp_path / "out" / "index.html").exists()

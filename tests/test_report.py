"""The reports: context, Markdown files and owner slugs, from the report estate."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from etl import pipeline, report
from etl.cli import cli, main
from etl.config import Settings
from etl.warehouse import Warehouse
from tests.test_report_estate import (
    ACR,
    AKS_DEV_ERROR,
    ECR,
    EXPECTED_WORKLISTS,
    NAME_BY_DIGEST,
    build_estate,
    digest,
)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = build_estate(tmp_path_factory.mktemp("estate") / "estate.duckdb")
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def context(estate: Warehouse) -> dict[str, Any]:
    return report.build_context(estate)


@pytest.fixture(scope="module")
def written(estate: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    report.write_reports(estate, out)
    return out


# -- the context -----------------------------------------------------------------------


def _kinds(value: Any) -> set[type]:
    if isinstance(value, dict):
        return set().union(*(_kinds(v) for v in value.values()), {dict})
    if isinstance(value, list):
        return set().union(*(_kinds(v) for v in value), {list})
    return {type(value)}


def test_context_is_plain_data(context: dict[str, Any]) -> None:
    assert _kinds(context) <= {dict, list, str, int, bool}


def test_coverage_counts_images_by_registry(context: dict[str, Any]) -> None:
    rows = {
        (
            r["registry"],
            r["images"],
            r["mapped"],
            r["ambiguous"],
            r["unmapped"],
            r["vulnerable"],
            r["exposed"],
        )
        for r in context["coverage"]
    }
    assert rows == {
        (ACR, 6, 5, 0, 1, 6, 2),
        (ECR, 3, 2, 1, 0, 2, 1),
    }
    total = context["coverage_total"]
    assert (total["images"], total["mapped"], total["mapped_pct"]) == (9, 7, 78)


def test_activity_counts_runs_and_push_events(context: dict[str, Any]) -> None:
    rows = {
        (r["system"], r["runs"], r["runs_pushing"], r["push_events"])
        for r in context["activity"]
    }
    assert rows == {("github", 5, 5, 7), ("azure_devops", 2, 2, 2)}
    assert context["activity_total"]["push_events"] == 9


def test_failed_scope_is_reported_with_its_error(context: dict[str, Any]) -> None:
    failed = [
        (s["source"], s["scope"], s["error"], bool(s["last_ok_at"]))
        for s in context["failed_sweeps"]
    ]
    assert failed == [("kubernetes", "aks-dev", AKS_DEV_ERROR, True)]
    assert context["job_id"] == "job-two"


def test_worklists_are_ordered_worst_first(context: dict[str, Any]) -> None:
    lists = {
        o["slug"]: [NAME_BY_DIGEST[i["digest"]] for i in o["worklist"]]
        for o in context["worklists"]
    }
    assert lists == EXPECTED_WORKLISTS
    # Owners with vulnerable images running exposed come first.
    assert [o["slug"] for o in context["worklists"]][:3] == [
        "contoso-payments-oncall",
        "unowned",
        "legacy-team",
    ]


def test_worklist_item_names_run_commit_evidence_owner(
    context: dict[str, Any],
) -> None:
    payments = next(o for o in context["worklists"] if o["slug"].startswith("contoso"))
    first = payments["worklist"][0]
    assert (
        first["run_label"],
        first["run_url"],
        first["commit_short"],
        first["method"],
        first["owner_source"],
        first["exposure"],
    ) == (
        ".github/workflows/api-ci.yml #413",
        "https://github.com/contoso/payments-api/actions/runs/9002",
        "77aa9c1",
        "log-digest",
        "override",
        "load-balancer",
    )
    assert [v["vuln_id"] for v in first["serious_vulns"]] == [
        "CVE-2024-0002",
        "CVE-2024-0003",
    ]


def test_a_run_url_that_is_not_a_web_link_is_dropped(
    context: dict[str, Any],
) -> None:
    items = [i for o in context["worklists"] for i in o["worklist"]]
    worker = next(i for i in items if i["digest"] == digest("worker-c"))
    assert (worker["run_label"], worker["run_url"]) == ("worker-ci #20240502.4", "")


def test_unresolved_images_carry_reason_fix_and_candidates(
    context: dict[str, Any],
) -> None:
    (ambiguous,) = context["ambiguous"]
    assert {c["run_url"] for c in ambiguous["candidates"]} == {
        "https://github.com/contoso/web/actions/runs/5001",
        "https://github.com/contoso/web/actions/runs/5002",
    }
    (unmapped,) = context["unmapped"]
    assert unmapped["image"] == f"{ACR}/legacy/tool"
    assert "pushed by hand" in unmapped["reason"]
    assert unmapped["fix"]
    assert unmapped["owner_name"] == "legacy-team"


# -- the files -------------------------------------------------------------------------


def test_write_reports_writes_index_remediation_and_one_file_per_owner(
    written: Path,
) -> None:
    files = {str(p.relative_to(written)) for p in written.rglob("*") if p.is_file()}
    assert files == {
        "index.html",
        "remediation.md",
        "owners/contoso-payments-oncall.md",
        "owners/legacy-team.md",
        "owners/ann-contoso.example.md",
        "owners/unowned.md",
    }


def _cells(row: str) -> list[str]:
    """A GFM table row split on its unescaped pipes."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


@pytest.mark.parametrize(
    "name",
    ["remediation.md", "owners/contoso-payments-oncall.md", "owners/unowned.md"],
)
def test_markdown_tables_keep_their_columns(written: Path, name: str) -> None:
    """A | in an evidence line or package name must not add a column."""
    lines = (written / name).read_text().splitlines()
    tables, current = [], []
    for line in lines + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert tables
    for table in tables:
        width = len(_cells(table[0]))
        assert [len(_cells(row)) for row in table] == [width] * len(table)


def test_owner_file_lists_the_owners_images(written: Path) -> None:
    text = (written / "owners/contoso-payments-oncall.md").read_text()
    assert text.startswith("# Image remediation for @contoso/payments-oncall\n")
    order = [
        text.index(f"`{digest(n)[:19]}`")
        for n in EXPECTED_WORKLISTS["contoso-payments-oncall"]
    ]
    assert order == sorted(order)
    assert "[.github/workflows/api-ci.yml \\#413](" in text
    assert "https://github.com/contoso/payments-api/actions/runs/9002)" in text
    assert "libxml2\\|dev" in text
    assert "line 40: 2024-05-02T09:10:00Z \\| 2.0.1: digest:" in text


def _outside_code_spans(text: str) -> str:
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text)


def test_markdown_shows_upstream_html_only_as_text(written: Path) -> None:
    """Markdown shows <script> in a code span as text; elsewhere only <br> is raw."""
    for path in written.rglob("*.md"):
        text = path.read_text()
        assert "<script>" in text or path.name != "remediation.md"
        outside = _outside_code_spans(text).replace("<br>", "")
        assert re.findall(r"(?<!\\)<", outside) == [], path.name


def test_unowned_file_lists_the_ambiguous_image(written: Path) -> None:
    text = (written / "owners/unowned.md").read_text()
    assert f"`{ECR}/web/frontend`" in text
    assert "2 runs match equally on log-digest" in text


def test_remediation_md_warns_about_the_failed_scope(written: Path) -> None:
    text = (written / "remediation.md").read_text()
    assert "1 source scope(s) failed in the last run; previous data kept." in text
    assert "401 Unauthorized" in text


def test_files_of_owners_that_own_nothing_now_are_removed(
    estate: Warehouse, tmp_path: Path
) -> None:
    stale = tmp_path / "owners" / "former-team.md"
    stale.parent.mkdir()
    stale.write_text("# old\n")
    paths = report.write_reports(estate, tmp_path)
    assert not stale.exists()
    assert tmp_path / "owners" / "legacy-team.md" in paths


def test_an_empty_warehouse_still_renders(fresh_db: Warehouse, tmp_path: Path) -> None:
    pipeline.transform(fresh_db, Settings(fresh_db.path, tmp_path))
    paths = report.write_reports(fresh_db, tmp_path / "out")
    assert {p.name for p in paths} == {"index.html", "remediation.md"}
    assert "No image has findings." in (tmp_path / "out/remediation.md").read_text()


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owners", "expected"),
    [
        pytest.param(
            ["@contoso/payments-oncall"], ["contoso-payments-oncall"], id="github-team"
        ),
        pytest.param(["ann@contoso.example"], ["ann-contoso.example"], id="email"),
        pytest.param([""], ["unowned"], id="no-owner"),
        pytest.param(["../../etc/passwd"], ["etc-passwd"], id="path-traversal"),
        pytest.param(["Équipe Paiements"], ["equipe-paiements"], id="accents"),
        pytest.param(
            ["@a/b", "a-b"],
            ["a-b", "a-b-" + hashlib.sha256(b"a-b").hexdigest()[:8]],
            id="collision",
        ),
        pytest.param(
            ["", "unowned"],
            ["unowned", "unowned-" + hashlib.sha256(b"unowned").hexdigest()[:8]],
            id="owner-named-unowned",
        ),
        pytest.param(["@@@"], ["owner"], id="nothing-left"),
    ],
)
def test_owner_slugs(owners: list[str], expected: list[str]) -> None:
    slugs = report.owner_slugs(owners)
    assert [slugs[o] for o in owners] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a|b", "`a\\|b`", id="pipe"),
        pytest.param("run `make`", "`` run `make` ``", id="backticks"),
        pytest.param("line\nbreak", "`line break`", id="newline"),
        pytest.param("", "", id="empty"),
    ],
)
def test_md_code(text: str, expected: str) -> None:
    assert report.md_code(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a|b", "a\\|b", id="pipe"),
        pytest.param("<img src=x>", "\\<img src=x\\>", id="html"),
        pytest.param("[x](javascript:y)", "\\[x\\]\\(javascript:y\\)", id="link"),
        pytest.param("`tick`", "\\`tick\\`", id="backtick"),
    ],
)
def test_md_text(text: str, expected: str) -> None:
    assert report.md_text(text) == expected


def test_report_command_rewrites_reports_from_a_read_only_warehouse(
    estate: Warehouse, tmp_path: Path
) -> None:
    """`imagetrail report` opens the warehouse read-only; report SQL only reads."""
    estate.con.execute("CHECKPOINT")
    db = tmp_path / "copy.duckdb"
    shutil.copy(estate.path, db)
    out = tmp_path / "again"
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'owners' / 'legacy-team.md'}" in result.output
    assert "legacy-team" in (out / "index.html").read_text()


def test_report_on_a_warehouse_never_transformed_says_what_to_do(
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fresh_db.close()
    argv = ["imagetrail", "report", "--db", str(fresh_db.path), "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"Error: warehouse {fresh_db.path} has no mapping tables yet: "
        "run 'imagetrail run' before writing reports from it\n"
    )

"""GitHub export folders: runs, attempts, push events, owners and broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.sources import SweepContext, github
from etl.warehouse import Warehouse
from tests.fakes.github import stub_parse

DATA = Path(__file__).resolve().parent.parent / "data" / "github" / "export"
REPO_DIR = DATA / "github" / "contoso"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
C, D = "c" * 40, "d" * 40


@pytest.fixture(autouse=True)
def _stub_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github, "default_parser", lambda: stub_parse)


def test_export_scopes_one_per_repository() -> None:
    scopes = github.export_scopes(DATA)
    assert [(s.source, s.scope) for s in scopes] == [
        ("github", "export:github/contoso/api"),
        ("github", "export:github/contoso/broken"),
        ("github", "export:github/contoso/web"),
    ]


def test_export_without_github_folder_has_no_scopes(tmp_path: Path) -> None:
    assert github.export_scopes(tmp_path) == []


def test_runs_and_attempts() -> None:
    out = github.extract_export(REPO_DIR / "api", "contoso/api", stub_parse)
    runs = {
        (
            r["run_key"],
            r["repo"],
            r["pipeline"],
            r["attempt"],
            r["reason"],
            r["commit_sha"],
            r["pr_head_sha"],
            r["triggering_actor"],
            r["result"],
        )
        for r in out.tables["ci_runs"]
    }
    release = ".github/workflows/release.yml"
    prefix = "github/github.com/contoso/api"
    assert runs == {
        (
            f"{prefix}/9000000011/1",
            "contoso/api",
            release,
            1,
            "push",
            C,
            None,
            "ann",
            "failure",
        ),
        (
            f"{prefix}/9000000011/2",
            "contoso/api",
            release,
            2,
            "push",
            C,
            None,
            "bob",
            "success",
        ),
        (
            f"{prefix}/9000000012/1",
            "contoso/api",
            ".github/workflows/pr.yml",
            1,
            "pull_request",
            D,
            D,
            "ann",
            "success",
        ),
    }


def test_run_row_people_and_times() -> None:
    out = github.extract_export(REPO_DIR / "api", "contoso/api", stub_parse)
    row = next(r for r in out.tables["ci_runs"] if r["run_key"].endswith("11/2"))
    assert row["commit_author"] == "Ann Dev <ann@contoso.example>"
    assert row["requested_for"] == "ann"
    assert row["web_url"] == "https://github.com/contoso/api/actions/runs/9000000011"
    assert row["repo_url"] == "https://github.com/contoso/api"
    assert str(row["queued_at"]) == "2024-05-01 10:00:00+00:00"
    assert str(row["finished_at"]) == "2024-05-01 11:05:00+00:00"


def test_push_events_per_attempt() -> None:
    out = github.extract_export(REPO_DIR / "api", "contoso/api", stub_parse)
    pushes = {
        (
            r["run_key"].split("/", 4)[-1],
            r["job"],
            r["log_id"],
            r["image"],
            r["tag"],
            r["digest"],
        )
        for r in out.tables["push_events"]
    }
    assert pushes == {
        ("9000000011/2", "build", "24000000901", "ghcr.io/contoso/api", "1.4.0", A),
        ("9000000012/1", "image", "24000000910", "ghcr.io/contoso/api", "pr-7", B),
    }
    assert out.problems == [
        f"{REPO_DIR}/api/CODEOWNERS: line 4: skipped "
        "(unterminated character class in pattern bad[range)"
    ]


def test_owner_rules_and_bad_codeowners_line() -> None:
    out = github.extract_export(REPO_DIR / "api", "contoso/api", stub_parse)
    rules = {
        (r["repo"], r["kind"], r["pattern"], r["owners"], r["file"], r["line"])
        for r in out.tables["owner_rules"]
    }
    assert rules == {
        ("contoso/api", "codeowners", "*", "@contoso/platform", "CODEOWNERS", 2),
        (
            "contoso/api",
            "codeowners",
            "/services/api/",
            "@contoso/payments ann@contoso.example",
            "CODEOWNERS",
            3,
        ),
        ("contoso/api", "catalog", "*", "team-payments", "catalog-info.yaml", None),
    }


def test_garbled_jobs_and_binary_log_are_problems_and_runs_still_load() -> None:
    out = github.extract_export(REPO_DIR / "web", "contoso/web", stub_parse)
    assert {r["run_id"] for r in out.tables["ci_runs"]} == {9100000001, 9100000002}
    assert out.tables.get("push_events", []) == []
    assert len(out.problems) == 2
    assert any("jobs/9100000001.json" in p for p in out.problems)
    assert any("24100000020.txt: binary content" in p for p in out.problems)


def test_garbled_runs_file_fails_the_scope_naming_the_file() -> None:
    scope = next(s for s in github.export_scopes(DATA) if s.scope.endswith("broken"))
    with pytest.raises(
        InputError, match=r"broken/runs.json: not a workflow-runs listing"
    ):
        scope.extract(SweepContext())


def test_broken_log_keeps_the_run_s_last_good_push_events(
    tmp_path: Path, fresh_db: Warehouse
) -> None:
    root = tmp_path / "export"
    shutil.copytree(
        DATA / "github" / "contoso" / "api", root / "github" / "contoso" / "api"
    )
    scope = github.export_scopes(root)[0]

    _sweep(fresh_db, scope)
    (root / "github/contoso/api/logs/24000000901.txt").write_bytes(b"\x00\x01\x02")
    problems = _sweep(fresh_db, scope)

    assert (
        f"{root}/github/contoso/api/logs/24000000901.txt: binary content at line 1; "
        "its run's push events were left as they were"
    ) in problems
    stored = fresh_db.con.execute(
        "SELECT run_id, attempt, tag FROM push_events JOIN ci_runs USING (run_key)"
    ).fetchall()
    assert set(stored) == {(9000000011, 2, "1.4.0"), (9000000012, 1, "pr-7")}


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("catalog-info.yaml", b"just a string\n"),
        ("catalog-info.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
        ("catalog-info.yaml", b"spec: [owner\n"),
        ("CODEOWNERS", b"\xff\xfe\x00\x81garbage"),
    ],
)
def test_a_garbled_owner_file_fails_the_scope_and_keeps_the_owner_rules(
    tmp_path: Path, fresh_db: Warehouse, file: str, content: bytes
) -> None:
    root = tmp_path / "export"
    shutil.copytree(REPO_DIR / "api", root / "github" / "contoso" / "api")
    scope = github.export_scopes(root)[0]
    _sweep(fresh_db, scope)
    query = "SELECT kind, pattern, owners FROM owner_rules"
    before = set(fresh_db.con.execute(query).fetchall())

    path = root / "github" / "contoso" / "api" / file
    path.write_bytes(content)
    with pytest.raises(InputError) as failed:
        scope.extract(SweepContext())

    message = str(failed.value)
    assert str(path) in message and "\n" not in message
    assert ("catalog", "*", "team-payments") in before
    assert set(fresh_db.con.execute(query).fetchall()) == before


def _sweep(wh: Warehouse, scope: github.Scope) -> list[str]:
    sweep = wh.begin_sweep("job", scope.source, scope.scope)
    out = scope.extract(SweepContext())
    for table, rows in out.tables.items():
        sweep.add(table, rows)
    wh.commit_sweep(sweep)
    return out.problems


def test_the_real_build_log_parser_reads_the_exported_logs() -> None:
    from etl.buildlogs import parse_lines

    out = github.extract_export(REPO_DIR / "api", "contoso/api", parse_lines)
    pushes = {
        (r["image"], r["tag"], r["digest"], r["pushed"])
        for r in out.tables["push_events"]
    }
    assert pushes == {
        ("ghcr.io/contoso/api", "1.4.0", A, True),
        ("ghcr.io/contoso/api", "pr-7", B, True),
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("utf-16".encode("utf-16"), ["utf-16"]),
        (b"\xef\xbb\xbfbom\r\nnext", ["bom", "next"]),
        (b"cp1252 \x96 dash", ["cp1252 \ufffd dash"]),
    ],
    ids=["powershell-utf16", "utf8-bom-crlf", "stray-byte-replaced"],
)
def test_log_files_in_the_encodings_exporters_write(
    tmp_path: Path, content: bytes, expected: list[str]
) -> None:
    path = tmp_path / "1.txt"
    path.write_bytes(content)
    assert list(github.read_log_file(path)) == expected


def test_log_status_of_each_exported_attempt(tmp_path: Path) -> None:
    def statuses(repo_dir: Path) -> tuple[set[tuple[int, int, str]], list[str]]:
        out = github.extract_export(repo_dir, "contoso/x", stub_parse)
        rows = out.tables["ci_runs"]
        return {(r["run_id"], r["attempt"], r["log_status"]) for r in rows}, (
            out.problems
        )

    api, _ = statuses(REPO_DIR / "api")
    assert api == {
        (9000000011, 1, "scanned"),
        (9000000011, 2, "scanned"),
        (9000000012, 1, "scanned"),
    }
    web, _ = statuses(REPO_DIR / "web")
    assert web == {(9100000001, 1, "unreadable"), (9100000002, 1, "unreadable")}

    # Logs past retention are absent from an export: expired, and not a problem.
    repo_dir = tmp_path / "api"
    shutil.copytree(REPO_DIR / "api", repo_dir)
    shutil.rmtree(repo_dir / "logs")
    (repo_dir / "CODEOWNERS").unlink()
    expired, problems = statuses(repo_dir)
    assert {s for _, _, s in expired} == {"expired"} and problems == []


def test_an_over_long_log_line_is_streamed_cut_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import tracemalloc

    from etl.buildlogs import parse_lines

    repo_dir = tmp_path / "api"
    shutil.copytree(REPO_DIR / "api", repo_dir)
    expected = github.extract_export(repo_dir, "contoso/api", parse_lines)
    log = repo_dir / "logs" / "24000000901.txt"
    with log.open("ab") as handle:
        for _ in range(40):  # one 40 MiB line without a newline
            handle.write(b"x" * (1 << 20))

    tracemalloc.start()
    try:
        out = github.extract_export(repo_dir, "contoso/api", parse_lines)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 8 << 20
    assert out.tables["push_events"] == expected.tables["push_events"]
    assert f"{log}: 1 over-long lines cut" in caplog.text

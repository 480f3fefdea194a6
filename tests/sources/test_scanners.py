"""Scanner findings: Trivy, grype and trivy-operator reports, and their digests."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from etl.config import ScannerSettings, Settings
from etl.errors import InputError
from etl.sources import SweepContext, scanners
from etl.warehouse import Warehouse

DATA = Path(__file__).resolve().parent.parent / "data" / "scanners"
D = "sha256:{}".format


def rows_of(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    return scanners.finding_rows(json.loads(path.read_text()), path)


def rows_from_doc(tmp_path: Path, doc: Any) -> list[dict[str, Any]]:
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(doc))
    return scanners.finding_rows(doc, path)


# -- the real cases, against the facts in oracle.json --------------------------

ORACLE = [
    pytest.param(
        {
            "file": "case30-trivy-image.json",
            "scanner": "trivy",
            "image": "docker.io/contoso/poros-week1-web",
            "digest": (
                "sha256:bd7ea74c0ade8689c4ed0ed0c480619fe0352126306b712059233a39ccf8c564"
            ),
            "image_id": (
                "sha256:07dc1a1e55ae17c25401f6eff26d06444505cafdb19d7aa333230e81f927eda9"
            ),
            "by_severity": {"HIGH": 1, "MEDIUM": 2, "LOW": 2, "UNKNOWN": 2},
            "findings": {
                ("CVE-2024-13176", "libcrypto3", "3.1.7-r0", "3.1.8-r0", "MEDIUM"),
                ("CVE-2024-9143", "libcrypto3", "3.1.7-r0", "3.1.7-r1", "LOW"),
                ("CVE-2024-13176", "libssl3", "3.1.7-r0", "3.1.8-r0", "MEDIUM"),
                ("CVE-2024-9143", "libssl3", "3.1.7-r0", "3.1.7-r1", "LOW"),
                (
                    "CVE-2025-26519",
                    "musl",
                    "1.2.4_git20230717-r4",
                    "1.2.4_git20230717-r5",
                    "UNKNOWN",
                ),
                (
                    "CVE-2025-26519",
                    "musl-utils",
                    "1.2.4_git20230717-r4",
                    "1.2.4_git20230717-r5",
                    "UNKNOWN",
                ),
                ("CVE-2024-21538", "cross-spawn", "7.0.3", "7.0.5, 6.0.6", "HIGH"),
            },
            "forbidden": {
                "sha256:07dc1a1e55ae17c25401f6eff26d06444505cafdb19d7aa333230e81f927eda9",
                "sha256:ba79b2c0127890636a791eb3ec3993cce08a50cc01fcb1513f0e8fbae41977af",
                "sha256:fc228dab618f8609f9c81ead72f37cc3f007c929c746c22a559eac13275627df",
                "sha256:66d247e9f489d6e40c62ebb34f1f2d7e14058b9f398e9551e226b551b95dd98f",
                "sha256:85547fed3bc5caba458e8ba304198de7a46dccdd6a2209db523d45404b13f95b",
                "sha256:815d3ced45c18a3c8b72e66b3f3aa896fd8d44326efcc87419bd5acf81673504",
                "sha256:cd02cdb78793b77a72b22754e2bd9e684a45738412fa675a5999d18a0683645e",
                "sha256:4001424fac462a4a61417ddc4ce4d8137d1f946b6ec1c8be636c9cbe6ef4b336",
                "sha256:fa7bae509db1d774e4d673c1d4aef9b4274b20048c9c260ca4e5eebfc4c532db",
                "sha256:5ebbebaf673652c1868a05b442e82ed5b3f536aa03231f285e739d35b912dc5d",
            },
        },
        id="case30-trivy",
    ),
    pytest.param(
        {
            "file": "case33-grype-image.json",
            "scanner": "grype",
            "image": "ghcr.io/contoso/git-init",
            "digest": (
                "sha256:322e3502c1e6fba5f1869efb55cfd998a3679e073840d33eb0e3c482b5d5609b"
            ),
            "image_id": (
                "sha256:ebbe9df4abf4dd9a739b33ab75d1fee2086713829a437f9d1e5e3de7b21e8d5f"
            ),
            "by_severity": {"HIGH": 1},
            "findings": {
                ("CVE-2021-22946", "libcurl", "7.67.0-r3", "7.79.0-r0", "HIGH"),
            },
            "forbidden": {
                "sha256:ebbe9df4abf4dd9a739b33ab75d1fee2086713829a437f9d1e5e3de7b21e8d5f",
                "sha256:5fe577767eba4cca2fe7594f6df94ca2b0f639a2ee8794f99f2ac49b81b5d419",
                "sha256:0fcbbeeeb0d7fc5c06362d7a6717b999e605574c7210eff4f7418f6e9be9fbfe",
                "sha256:8f1d7de99bcffd39d4461b917a5313cfa0415f33eac9412a9b6138a27121c7e6",
                "sha256:165c22a332e306497ffa210ce9f284906fe0bf6340d20c5f8521e064323ba52a",
                "sha256:0519ec3ee06ceaaa19b5682db6a01d408f9be6d74dc0f453e416fc92b654ce2f",
                "sha256:a79b016ff7714845775dd921c15fab70652344015e91ebff2ccec49d6792ac11",
                "sha256:4e6836ac8db4fbe1488c6a81f37cdc044e3d22041573c7a552aa0e053efa5c29",
            },
        },
        id="case33-grype",
    ),
]


@pytest.mark.parametrize("case", ORACLE)
def test_case_names_the_image_its_repo_digest_and_image_id(case: dict) -> None:
    rows = rows_of(case["file"])
    assert {
        (r["scanner"], r["image"], r["digest"], r["config_digest"]) for r in rows
    } == {(case["scanner"], case["image"], case["digest"], case["image_id"])}


@pytest.mark.parametrize("case", ORACLE)
def test_case_counts_by_severity(case: dict) -> None:
    counts = Counter(r["severity"] for r in rows_of(case["file"]))
    assert counts == Counter(case["by_severity"])


@pytest.mark.parametrize("case", ORACLE)
def test_case_lists_exactly_the_oracle_findings(case: dict) -> None:
    rows = rows_of(case["file"])
    got = [
        (
            r["vuln_id"],
            r["package"],
            r["installed_version"],
            r["fixed_version"],
            r["severity"],
        )
        for r in rows
    ]
    assert len(got) == len(case["findings"])
    assert set(got) == case["findings"]


@pytest.mark.parametrize("case", ORACLE)
def test_case_forbidden_digests_are_never_the_digest(case: dict) -> None:
    for row in rows_of(case["file"]):
        assert row["digest"] not in case["forbidden"]
        # The image id may appear only under its own name, config_digest.
        others = {k: v for k, v in row.items() if k != "config_digest"}
        assert not set(map(str, others.values())) & case["forbidden"]


# -- Trivy ----------------------------------------------------------------------


def test_trivy_digest_comes_from_the_pinned_ref_not_a_mirror() -> None:
    rows = rows_of("trivy-digest-ref.json")
    assert {(r["image"], r["digest"], r["config_digest"]) for r in rows} == {
        ("contoso.azurecr.io/shop/web", D("a1" * 32), D("c0" * 32))
    }


def test_trivy_one_package_at_two_paths_is_one_finding() -> None:
    rows = rows_of("trivy-digest-ref.json")
    assert sorted((r["vuln_id"], r["package"]) for r in rows) == [
        ("CVE-2011-3374", "apt"),
        ("CVE-2022-42003", "com.fasterxml.jackson.core:jackson-databind"),
        ("CVE-2024-2961", "libc6"),
        ("GHSA-xxxx-yyyy-zzzz", "org.example:tiny"),
    ]


@pytest.mark.parametrize(
    ("vuln_id", "cvss"),
    [
        ("CVE-2024-2961", 8.8),  # severity source has no score: NVD's
        ("CVE-2022-42003", 7.5),  # the severity source's (ghsa)
        ("GHSA-xxxx-yyyy-zzzz", 6.1),  # neither: the highest
    ],
)
def test_trivy_cvss_prefers_the_severity_source_then_nvd(
    vuln_id: str, cvss: float
) -> None:
    scores = {r["vuln_id"]: r["cvss"] for r in rows_of("trivy-digest-ref.json")}
    assert scores[vuln_id] == cvss


def test_trivy_unfixed_finding_has_no_fixed_version() -> None:
    fixed = {r["vuln_id"]: r["fixed_version"] for r in rows_of("trivy-digest-ref.json")}
    assert fixed["CVE-2011-3374"] is None
    assert fixed["CVE-2022-42003"] == "2.12.7.1, 2.13.4.2"


def test_trivy_repo_digest_of_another_repository_is_not_the_digest(
    tmp_path: Path,
) -> None:
    doc = json.loads((DATA / "trivy-digest-ref.json").read_text())
    doc["ArtifactName"] = "contoso.azurecr.io/shop/web:1.4.0"
    doc["Metadata"]["RepoDigests"] = ["mirror.example.com/shop/web@" + D("b2" * 32)]
    rows = rows_from_doc(tmp_path, doc)
    assert {(r["image"], r["digest"], r["config_digest"]) for r in rows} == {
        ("contoso.azurecr.io/shop/web", None, D("c0" * 32))
    }


def test_trivy_tag_ref_takes_the_matching_repo_digest(tmp_path: Path) -> None:
    doc = json.loads((DATA / "trivy-digest-ref.json").read_text())
    doc["ArtifactName"] = "contoso.azurecr.io/shop/web:1.4.0"
    rows = rows_from_doc(tmp_path, doc)
    assert {r["digest"] for r in rows} == {D("a1" * 32)}


# -- grype ------------------------------------------------------------------------


def test_grype_digest_is_the_repo_digest_of_the_scanned_repository() -> None:
    rows = rows_of("grype-registry-ref.json")
    assert {(r["image"], r["digest"], r["config_digest"]) for r in rows} == {
        ("contoso.azurecr.io/shop/api", D("a6" * 32), D("c3" * 32))
    }
    assert D("f4" * 32) not in json.dumps(rows)  # the platform manifestDigest


def test_grype_severity_fix_state_and_cvss() -> None:
    got = {
        (r["vuln_id"], r["severity"], r["fixed_version"], r["cvss"])
        for r in rows_of("grype-registry-ref.json")
    }
    assert got == {
        ("CVE-2023-4911", "HIGH", "2.36-9+deb12u3", 7.8),
        ("CVE-2005-2541", "LOW", None, 9.8),  # Negligible, not fixed; NVD's score
        ("CVE-2023-50495", "MEDIUM", None, 6.5),  # wont-fix
    }


def test_grype_title_is_the_first_sentence_of_the_description() -> None:
    titles = {r["vuln_id"]: r["title"] for r in rows_of("grype-registry-ref.json")}
    assert titles["CVE-2023-50495"] == (
        "NCurse v6.4-20230418 was discovered to contain a segmentation fault "
        "via the component _nc_wrap_entry()"
    )


def test_grype_archive_scan_takes_the_image_from_its_tags(tmp_path: Path) -> None:
    doc = json.loads((DATA / "grype-registry-ref.json").read_text())
    doc["source"]["target"]["userInput"] = "docker-archive:/tmp/api.tar"
    rows = rows_from_doc(tmp_path, doc)
    assert {(r["image"], r["digest"]) for r in rows} == {
        ("contoso.azurecr.io/shop/api", D("a6" * 32))
    }


# -- trivy-operator ---------------------------------------------------------------


def test_trivy_operator_reports_name_registry_repository_and_digest() -> None:
    got = {
        (
            r["scanner"],
            r["image"],
            r["digest"],
            r["config_digest"],
            r["vuln_id"],
            r["severity"],
            r["cvss"],
            r["fixed_version"],
        )
        for r in rows_of("trivy-operator-reports.json")
    }
    assert got == {
        (
            "trivy-operator",
            "contoso.azurecr.io/shop/web",
            D("1f" * 32),
            None,
            "CVE-2024-2961",
            "HIGH",
            8.8,
            "2.36-9+deb12u7",
        ),
        (
            "trivy-operator",
            "contoso.azurecr.io/shop/web",
            D("1f" * 32),
            None,
            "CVE-2011-3374",
            "LOW",
            3.7,
            None,
        ),
        (
            "trivy-operator",
            "docker.io/library/nginx",
            None,
            None,
            "CVE-2023-52425",
            "MEDIUM",
            7.5,
            None,
        ),
    }


def test_a_single_trivy_operator_report_is_read_too(tmp_path: Path) -> None:
    doc = json.loads((DATA / "trivy-operator-reports.json").read_text())
    rows = rows_from_doc(tmp_path, doc["items"][1])
    assert [(r["image"], r["vuln_id"]) for r in rows] == [
        ("docker.io/library/nginx", "CVE-2023-52425")
    ]


# -- severities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Critical", "CRITICAL"),
        ("HIGH", "HIGH"),
        ("medium", "MEDIUM"),
        ("Low", "LOW"),
        ("Negligible", "LOW"),
        ("Unknown", "UNKNOWN"),
        ("", "UNKNOWN"),
        (None, "UNKNOWN"),
        ("important", "UNKNOWN"),
    ],
)
def test_severity_is_one_of_five(given: str | None, expected: str) -> None:
    assert scanners.normalize_severity(given) == expected


# -- files and scopes ---------------------------------------------------------------


def export_with_scans(tmp_path: Path, files: dict[str, Path | str | bytes]) -> Path:
    root = tmp_path / "export"
    for rel, source in files.items():
        target = root / "scans" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copy(source, target)
        elif isinstance(source, bytes):
            target.write_bytes(source)
        else:
            target.write_text(source)
    return root


def test_one_scope_per_scan_file_under_scans(tmp_path: Path) -> None:
    root = export_with_scans(
        tmp_path,
        {
            "web.json": DATA / "trivy-digest-ref.json",
            "team-a/git-init.json": DATA / "case33-grype-image.json",
            "cluster/reports.json": DATA / "trivy-operator-reports.json",
        },
    )
    scopes = scanners.export_scopes(root)
    assert [(s.source, s.scope) for s in scopes] == [
        ("scanner", "export:scans/cluster/reports.json"),
        ("scanner", "export:scans/team-a/git-init.json"),
        ("scanner", "export:scans/web.json"),
    ]
    counts = {
        s.scope: len(s.extract(SweepContext()).tables["findings"]) for s in scopes
    }
    assert counts == {
        "export:scans/cluster/reports.json": 3,
        "export:scans/team-a/git-init.json": 1,
        "export:scans/web.json": 4,
    }


def test_no_scans_folder_means_no_scopes(tmp_path: Path) -> None:
    assert scanners.export_scopes(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"SchemaVersion": 2, "Results": [', "not readable JSON"),
        (b"\xff\xfe\x00\x81", "not readable JSON"),
        ('{"bomFormat": "CycloneDX", "components": []}', "not a recognised"),
        ("[1, 2, 3]", "not a recognised"),
        (
            '{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem",'
            ' "Results": []}',
            "a Trivy filesystem scan, not a container image",
        ),
        (
            '{"matches": [], "source": {"type": "directory", "target": "/src"}}',
            "a grype directory scan, not a container image",
        ),
    ],
    ids=["cut-json", "binary", "sbom", "array", "trivy-fs", "grype-dir"],
)
def test_bad_scan_file_fails_its_scope_in_one_line(
    tmp_path: Path, content: str | bytes, says: str
) -> None:
    root = export_with_scans(tmp_path, {"team-a/bad.json": content})
    (scope,) = scanners.export_scopes(root)
    with pytest.raises(InputError) as err:
        scope.extract(SweepContext())
    message = str(err.value)
    assert "scans/team-a/bad.json" in message
    assert says in message
    assert "\n" not in message
    if says.startswith("not"):
        assert "accepted formats: 'trivy image --format json'" in message


def settings_with(*entries: ScannerSettings) -> Settings:
    return Settings(
        warehouse_path=Path("w.duckdb"), reports_out=Path("out"), scanners=list(entries)
    )


def test_configured_globs_give_one_scope_per_file(tmp_path: Path) -> None:
    root = export_with_scans(
        tmp_path,
        {
            "a/web.json": DATA / "trivy-digest-ref.json",
            "b/api.json": DATA / "grype-registry-ref.json",
        },
    )
    settings = settings_with(
        ScannerSettings("trivy", str(root / "scans" / "**" / "*.json")),
        ScannerSettings("ecr"),
    )
    scopes = scanners.live_scopes(settings)
    assert [s.scope for s in scopes] == [
        f"trivy:{root}/scans/a/web.json",
        f"trivy:{root}/scans/b/api.json",
    ]
    scanned = {
        (r["scanner"], r["image"])
        for s in scopes
        for r in s.extract(SweepContext()).tables["findings"]
    }
    assert scanned == {
        ("trivy", "contoso.azurecr.io/shop/web"),
        ("grype", "contoso.azurecr.io/shop/api"),
    }


def test_a_glob_matching_nothing_is_a_failed_scope(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nowhere" / "*.json")
    (scope,) = scanners.live_scopes(settings_with(ScannerSettings("grype", pattern)))
    assert scope.scope == f"grype:{pattern}"
    with pytest.raises(InputError, match="matches no file"):
        scope.extract(SweepContext())


def test_findings_load_into_the_warehouse(fresh_db: Warehouse, tmp_path: Path) -> None:
    root = export_with_scans(
        tmp_path, {"git-init.json": DATA / "case33-grype-image.json"}
    )
    (scope,) = scanners.export_scopes(root)
    sweep = fresh_db.begin_sweep("job-1", scope.source, scope.scope)
    for table, rows in scope.extract(SweepContext()).tables.items():
        sweep.add(table, rows)
    fresh_db.commit_sweep(sweep)
    got = fresh_db.con.execute(
        "SELECT image, digest, scanner, vuln_id, severity, cvss, package, "
        "installed_version, fixed_version FROM findings WHERE scope = ?",
        [scope.scope],
    ).fetchall()
    assert set(got) == {
        (
            "ghcr.io/contoso/git-init",
            "sha256:322e3502c1e6fba5f1869efb55cfd998a3679e073840d33eb0e3c482b5d5609b",
            "grype",
            "CVE-2021-22946",
            "HIGH",
            7.5,
            "libcurl",
            "7.67.0-r3",
            "7.79.0-r0",
        )
    }


def test_doctor_counts_the_files_each_glob_matches(tmp_path: Path) -> None:
    root = export_with_scans(tmp_path, {"a/web.json": DATA / "trivy-digest-ref.json"})
    found = str(root / "scans" / "**" / "*.json")
    missing = str(tmp_path / "nowhere" / "*.json")
    settings = settings_with(
        ScannerSettings("trivy", found),
        ScannerSettings("grype", missing),
        ScannerSettings("ecr"),
    )
    assert scanners.doctor_checks(settings) == [
        (f"scanner trivy {found}", True, "matches 1 report file(s)"),
        (
            f"scanner grype {missing}",
            False,
            "no file matches; fix [[scanner]] path or write reports",
        ),
    ]

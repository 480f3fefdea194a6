"""ACR export mode: ``az acr manifest list-metadata`` files plus skopeo manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from etl.sources import acr
from etl.warehouse import Warehouse
from tests.conftest import SHARED_CASES
from tests.fakes.registry import load_scopes

EXPORT = Path(__file__).resolve().parent.parent / "data" / "registries" / "export"
HOST, REPO = "contosoacr.azurecr.io", "payments/api"
INDEX = "sha256:a04ae4a87501f294f403eb5dcb8657ada0ee872958d5a8a8b3ed4d5d4e564a7d"
AMD64 = "sha256:a9eb70de3ec228d83be4faeda1590884ec83b54d7436c72d7bc3eb1074836989"
ARM64 = "sha256:71696c4ce8315fa929f62080ba4263693be3dd8a245ead2e764499160dd28f10"
ATTESTATION = "sha256:84f83665a0c33e6ad2c47682a9580dbe90ef731ceed46452cac2a8d6934bdde5"
OLD = "sha256:d28c583145e0a9d739781c707c1443bde97551e43cdde2fbd0aadb08c7aca598"
SIGNATURE = "sha256:" + "5" * 64


def test_listing_with_manifests_gives_kinds_parents_labels_and_provenance(
    fresh_db: Warehouse,
) -> None:
    result = load_scopes(fresh_db, acr.export_scopes(EXPORT))
    assert result.failed == [] and result.problems == []
    images = fresh_db.records(
        "SELECT digest, kind, platform, parent_digest, labels IS NOT NULL AS labelled, "
        "strftime(pushed_at, '%Y-%m-%dT%H:%M:%S') AS pushed FROM images "
        "WHERE registry = ? AND repository = ?",
        [HOST, REPO],
    )
    assert {tuple(r.values()) for r in images} == {
        (INDEX, "index", None, None, False, "2024-05-01T10:03:00"),
        (AMD64, "image", "linux/amd64", INDEX, True, "2024-05-01T10:02:59"),
        (ARM64, "image", "linux/arm64/v8", INDEX, True, "2024-05-01T10:02:59"),
        (
            ATTESTATION,
            "attestation",
            "unknown/unknown",
            INDEX,
            False,
            "2024-05-01T10:02:59",
        ),
        (SIGNATURE, "artifact", None, None, False, "2024-05-01T10:05:00"),
        (OLD, "image", "linux/amd64", None, True, "2024-04-01T09:00:00"),
    }
    provenance = fresh_db.records(
        "SELECT subject_digest, kind, run_id, commit_sha, source_repo FROM provenance"
    )
    assert {tuple(r.values()) for r in provenance} == {
        (
            AMD64,
            "ado-labels",
            101,
            "a" * 40,
            "https://dev.azure.com/contoso/Payments/_git/api",
        ),
        (
            ARM64,
            "ado-labels",
            101,
            "a" * 40,
            "https://dev.azure.com/contoso/Payments/_git/api",
        ),
        (OLD, "oci-labels", None, "b" * 40, "https://github.com/contoso/payments-api"),
    }
    tags = fresh_db.records("SELECT registry, repository, tag, digest FROM image_tags")
    assert {tuple(r.values()) for r in tags} == {
        (HOST, REPO, "1.4.0", INDEX),
        (HOST, REPO, "latest", INDEX),
        (HOST, REPO, "1.3.0", OLD),
    }
    scopes = fresh_db.records("SELECT source, scope, status FROM sweeps")
    assert {tuple(r.values()) for r in scopes} == {
        ("acr", "export:acr/contosoacr/payments/api", "ok")
    }


def test_a_garbled_listing_fails_its_scope_only(
    fresh_db: Warehouse, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    broken = root / "acr" / "contosoacr" / "web.json"
    broken.write_text('[{"digest": "sha256:')
    result = load_scopes(fresh_db, acr.export_scopes(root))
    assert len(result.failed) == 1
    message = result.failed[0]
    assert (
        "\n" not in message and str(broken) in message and "not valid JSON" in message
    )
    assert fresh_db.records("SELECT DISTINCT repository FROM images") == [
        {"repository": REPO}
    ]


@pytest.mark.parametrize(
    "content", ["null", "42", '"hello"', '{"foo": 1}', '[{"digest": "nope"}]']
)
def test_a_listing_of_the_wrong_shape_fails_and_keeps_its_rows(
    fresh_db: Warehouse, tmp_path: Path, content: str
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    load_scopes(fresh_db, acr.export_scopes(root))
    before = _image_rows(fresh_db)
    listing = root / "acr" / "contosoacr" / "payments" / "api.json"
    listing.write_text(content)
    result = load_scopes(fresh_db, acr.export_scopes(root))
    assert len(result.failed) == 1
    message = result.failed[0]
    assert "\n" not in message and str(listing) in message
    assert "az acr manifest list-metadata" in message
    assert _image_rows(fresh_db) == before and (AMD64, INDEX) in before


@pytest.mark.parametrize(
    ("folder", "digest", "content"),
    [
        ("manifests", ARM64, "{oops"),
        ("manifests", ARM64, '"oops"'),
        ("manifests", INDEX, None),
        ("configs", AMD64, b"\x89\xff\x00garbage"),
    ],
)
def test_an_unreadable_manifest_or_config_fails_the_scope_and_keeps_its_rows(
    fresh_db: Warehouse,
    tmp_path: Path,
    folder: str,
    digest: str,
    content: str | bytes | None,
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    load_scopes(fresh_db, acr.export_scopes(root))
    before = _image_rows(fresh_db), _provenance_rows(fresh_db)
    path = root / folder / (digest.removeprefix("sha256:") + ".json")
    if content is None:  # cut in half
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = load_scopes(fresh_db, acr.export_scopes(root))
    assert len(result.failed) == 1
    assert str(path) in result.failed[0] and "\n" not in result.failed[0]
    assert (_image_rows(fresh_db), _provenance_rows(fresh_db)) == before
    assert (ARM64, INDEX) in before[0] and before[1]


def _image_rows(db: Warehouse) -> set[tuple[object, ...]]:
    rows = db.records("SELECT digest, parent_digest FROM images")
    return {tuple(r.values()) for r in rows}


def _provenance_rows(db: Warehouse) -> set[tuple[object, ...]]:
    rows = db.records("SELECT subject_digest, kind, commit_sha FROM provenance")
    return {tuple(r.values()) for r in rows}


def test_shared_case_37_untagged_artifacts() -> None:
    path = SHARED_CASES / "37-az-acr-show-manifests-untagged-artifacts.json"
    if not path.exists():
        pytest.skip("shared cases not present")
    oracle = {
        c["case"]: c for c in json.loads((SHARED_CASES / "oracle.json").read_text())
    }
    expected = oracle[path.name]["export"]["manifests"]
    listed = acr.listing_from_metadata(json.loads(path.read_text()))
    assert [(x.digest, x.tags, x.pushed_at.isoformat()[:19]) for x in listed] == [
        (m["digest"], m["tags"], m["timestamp"][:19]) for m in expected
    ]


def test_registry_names_become_hosts() -> None:
    assert acr.registry_host("ContosoACR") == "contosoacr.azurecr.io"
    assert acr.registry_host("contoso.azurecr.cn") == "contoso.azurecr.cn"

"""Artifact Registry export mode: ``gcloud artifacts docker images list`` files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from etl.sources import gar
from etl.warehouse import Warehouse
from tests.conftest import SHARED_CASES
from tests.fakes.registry import load_scopes

EXPORT = Path(__file__).resolve().parent.parent / "data" / "registries" / "export"
HOST = "europe-west1-docker.pkg.dev"
WORKER = "sha256:e23661f037d9644e6ed9edea27e6ddd681feaf501c29261505f984aab736550c"
DEBUG = "sha256:" + "e" * 64


def test_gcloud_listing_with_preamble_and_padded_package(fresh_db: Warehouse) -> None:
    result = load_scopes(fresh_db, gar.export_scopes(EXPORT))
    assert result.failed == [] and result.problems == []
    images = fresh_db.records(
        "SELECT registry, repository, digest, kind, size_bytes, "
        "labels IS NOT NULL AS l FROM images"
    )
    assert {tuple(r.values()) for r in images} == {
        (HOST, "contoso-prod/apps/worker", WORKER, "image", 31457280, True),
        (HOST, "contoso-prod/apps/tools/debug", DEBUG, "image", 1024, False),
    }
    tags = fresh_db.records("SELECT repository, tag, digest FROM image_tags")
    assert {tuple(r.values()) for r in tags} == {
        ("contoso-prod/apps/worker", "2.1.0", WORKER),
        ("contoso-prod/apps/worker", "stable", WORKER),
    }
    provenance = fresh_db.records(
        "SELECT subject_digest, kind, run_id, builder_id FROM provenance"
    )
    assert {tuple(r.values()) for r in provenance} == {
        (WORKER, "ado-labels", 202, "https://contoso.visualstudio.com/")
    }
    assert fresh_db.records("SELECT scope FROM sweeps") == [
        {"scope": "export:gar/contoso-prod/europe-west1/apps"}
    ]


def test_a_garbled_listing_fails_its_scope(fresh_db: Warehouse, tmp_path: Path) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    broken = root / "gar" / "contoso-prod" / "us" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "Listing items under project contoso-prod.\nERROR: (gcloud) denied\n"
    )
    result = load_scopes(fresh_db, gar.export_scopes(root))
    assert len(result.failed) == 1 and str(broken) in result.failed[0]
    assert fresh_db.records("SELECT count(*) AS n FROM images") == [{"n": 2}]


def test_shared_case_39(tmp_path: Path) -> None:
    path = SHARED_CASES / "39-gcloud-artifacts-docker-images-list-json.log"
    if not path.exists():
        pytest.skip("shared cases not present")
    oracle = {
        c["case"]: c for c in json.loads((SHARED_CASES / "oracle.json").read_text())
    }
    expected = oracle[path.name]["export"]["registry_images"]
    items = gar.load_json(path, "gcloud", preamble=True)
    groups = gar.listing_from_gcloud(items)
    got = {
        (f"{registry}/{repository}", tuple(x.tags), x.digest, x.pushed_at)
        for (registry, repository), listed in groups.items()
        for x in listed
    }
    from etl.normalize import parse_time

    assert got == {
        (e["image"], tuple(e["tags"]), e["digest"], parse_time(e["created"]))
        for e in expected
    }


def test_tags_as_a_list_are_accepted_too() -> None:
    groups = gar.listing_from_gcloud(
        [
            {
                "package": "gcr.io/p/app",
                "version": DEBUG,
                "tags": ["a", "b"],
                "createTime": "2024-01-01T00:00:00Z",
            }
        ]
    )
    assert {k: [x.tags for x in v] for k, v in groups.items()} == {
        ("gcr.io", "p/app"): [["a", "b"]]
    }


@pytest.mark.parametrize("content", ["42", "null", '{"foo": 1}', '[{"foo": 1}]'])
def test_a_listing_of_the_wrong_shape_fails_and_keeps_its_rows(
    fresh_db: Warehouse, tmp_path: Path, content: str
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    load_scopes(fresh_db, gar.export_scopes(root))
    listing = root / "gar" / "contoso-prod" / "europe-west1" / "apps.json"
    listing.write_text(content)
    result = load_scopes(fresh_db, gar.export_scopes(root))
    assert len(result.failed) == 1
    assert str(listing) in result.failed[0] and "gcloud artifacts" in result.failed[0]
    digests = fresh_db.records("SELECT digest FROM images")
    assert {"digest": WORKER} in digests

"""ECR export mode: ``aws ecr describe-images`` files plus skopeo manifests."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from etl.sources import ecr
from etl.warehouse import Warehouse
from tests.conftest import SHARED_CASES
from tests.fakes.registry import load_scopes

EXPORT = Path(__file__).resolve().parent.parent / "data" / "registries" / "export"
HOST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
INDEX = "sha256:c1a85b08093b47e413831c215d6a66915d4ca7999ce7c6cdbb832fc3764daa5b"
IMAGE = "sha256:c195de795906da39f93b1775dccac565077f3cd2003c573f16cbc0df8a998d41"
ATTESTATION = "sha256:718166acaefe668ff0b44ae1ae1aee669944bca5392574c2d7412d7d970dc24c"


def test_describe_images_with_an_index_manifest(fresh_db: Warehouse) -> None:
    result = load_scopes(fresh_db, ecr.export_scopes(EXPORT))
    assert result.failed == [] and result.problems == []
    images = fresh_db.records(
        "SELECT registry, repository, digest, kind, platform, parent_digest, "
        "size_bytes, strftime(pushed_at, '%H:%M:%S.%g') AS pushed FROM images"
    )
    assert {tuple(r.values()) for r in images} == {
        (HOST, "contoso/web", INDEX, "index", None, None, 75387102, "15:47:53.707"),
        (
            HOST,
            "contoso/web",
            IMAGE,
            "image",
            "linux/amd64",
            INDEX,
            75387102,
            "15:47:53.161",
        ),
        (
            HOST,
            "contoso/web",
            ATTESTATION,
            "attestation",
            "unknown/unknown",
            INDEX,
            1348,
            "15:47:53.153",
        ),
    }
    # The platform image's config was exported without its manifest: labels still count.
    provenance = fresh_db.records(
        "SELECT subject_digest, kind, source_repo, commit_sha FROM provenance"
    )
    assert {tuple(r.values()) for r in provenance} == {
        (IMAGE, "oci-labels", "https://github.com/contoso/web", "d" * 40)
    }
    tags = fresh_db.records("SELECT tag, digest FROM image_tags")
    assert {tuple(r.values()) for r in tags} == {("d" * 40, INDEX), ("latest", INDEX)}


def test_a_listing_without_image_details_fails_its_scope(
    fresh_db: Warehouse, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    broken = root / "ecr" / "111122223333" / "eu-west-1" / "other.json"
    broken.write_text('{"repositories": []}')
    result = load_scopes(fresh_db, ecr.export_scopes(root))
    assert len(result.failed) == 1 and str(broken) in result.failed[0]
    assert "imageDetails" in result.failed[0]
    assert fresh_db.records("SELECT count(*) AS n FROM images") == [{"n": 3}]


def test_china_regions_use_the_cn_domain() -> None:
    assert ecr.registry_host("111122223333", "cn-north-1") == (
        "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn"
    )


def test_shared_case_35_describe_images_shapes() -> None:
    path = SHARED_CASES / "35-ecr-push-oci-index-list-describe.log"
    if not path.exists():
        pytest.skip("shared cases not present")
    text = path.read_text()
    start = text.index("{", text.index("aws ecr describe-images"))
    details = json.loads(text[start:])["imageDetails"]
    oracle = {
        c["case"]: c for c in json.loads((SHARED_CASES / "oracle.json").read_text())
    }
    expected = oracle[path.name]["export"]["registry_images"]
    listed = ecr.listing_from_details(details)
    got = {(x.digest, tuple(x.tags), x.size_bytes, x.pushed_at) for x in listed}
    from etl.normalize import parse_time

    assert got == {
        (e["digest"], tuple(e["tags"]), e["size_bytes"], parse_time(e["pushed_at"]))
        for e in expected
    }
    assert all(re.match(r"^sha256:[0-9a-f]{64}$", x.digest) for x in listed)


def test_a_listing_of_the_wrong_shape_fails_and_keeps_its_rows(
    fresh_db: Warehouse, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    load_scopes(fresh_db, ecr.export_scopes(root))
    before = fresh_db.records("SELECT digest, parent_digest FROM images")
    listing = root / "ecr" / "111122223333" / "eu-west-1" / "contoso" / "web.json"
    for content in ("null", "7", '{"imageDetails": [{"imageTags": ["x"]}]}'):
        listing.write_text(content)
        result = load_scopes(fresh_db, ecr.export_scopes(root))
        assert len(result.failed) == 1, content
        assert str(listing) in result.failed[0] and "aws ecr" in result.failed[0]
        assert fresh_db.records("SELECT digest, parent_digest FROM images") == before
    assert before

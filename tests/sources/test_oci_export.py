"""OCI export mode: ``skopeo inspect`` arrays for any other registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from etl.sources import acr, ecr, gar, oci
from etl.warehouse import Warehouse
from tests.fakes.registry import load_scopes

EXPORT = Path(__file__).resolve().parent.parent / "data" / "registries" / "export"
INDEX = "sha256:ca9ee63581b722072f92369276fa486375cd9b166b621d8f4b0259e5d5a239a7"
AMD64 = "sha256:c9c5b6f014793fbd75b7ee34bdeac993b07116c1b0b2b8a98613de0fa47a10f9"
ARM64 = "sha256:815a13e816b3fbcbb1f741914ac79032d454fc5fff4a6347f87b378fa101200f"
OLD = "sha256:81e78e1751be12b51ff6a7f4f578993f5e4cd4616523fcbb982ec4df9fbe7d97"


def test_skopeo_inspect_array_with_a_multi_arch_tag(fresh_db: Warehouse) -> None:
    result = load_scopes(fresh_db, oci.export_scopes(EXPORT))
    assert result.failed == [] and result.problems == []
    images = fresh_db.records(
        "SELECT registry, repository, digest, kind, platform, parent_digest, "
        "labels IS NOT NULL AS l FROM images"
    )
    # skopeo shows the labels of the platform it resolved (amd64): they belong
    # to that child, not to the index.
    assert {tuple(r.values()) for r in images} == {
        ("ghcr.io", "contoso/tools", INDEX, "index", None, None, False),
        ("ghcr.io", "contoso/tools", AMD64, "image", "linux/amd64", INDEX, True),
        ("ghcr.io", "contoso/tools", ARM64, "image", "linux/arm64", INDEX, False),
        ("ghcr.io", "contoso/tools", OLD, "image", "linux/amd64", None, False),
    }
    tags = fresh_db.records("SELECT tag, digest FROM image_tags")
    assert {tuple(r.values()) for r in tags} == {("1.9", OLD), ("2.0", INDEX)}
    provenance = fresh_db.records(
        "SELECT subject_digest, kind, source_repo FROM provenance"
    )
    assert {tuple(r.values()) for r in provenance} == {
        (AMD64, "oci-labels", "https://github.com/contoso/tools")
    }
    assert fresh_db.records("SELECT source, scope FROM sweeps") == [
        {"source": "oci", "scope": "export:oci/ghcr.io/contoso/tools"}
    ]


def test_docker_hub_names_are_normalised(fresh_db: Warehouse, tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "oci" / "index.docker.io").mkdir(parents=True)
    entry = {
        "Name": "docker.io/library/nginx",
        "Digest": "sha256:" + "4" * 64,
        "Tag": "1.25",
        "RepoTags": [],
        "Architecture": "amd64",
        "Os": "linux",
    }
    (root / "oci" / "index.docker.io" / "nginx.json").write_text(json.dumps([entry]))
    load_scopes(fresh_db, oci.export_scopes(root))
    rows = fresh_db.records(
        "SELECT i.registry, i.repository, t.tag "
        "FROM images i JOIN image_tags t USING (digest)"
    )
    assert rows == [
        {"registry": "docker.io", "repository": "library/nginx", "tag": "1.25"}
    ]


def test_whole_export_one_garbled_file_fails_only_its_scope(
    fresh_db: Warehouse, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    broken = root / "oci" / "quay.io" / "contoso" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("[{]")
    scopes = [s for m in (acr, ecr, gar, oci) for s in m.export_scopes(root)]
    result = load_scopes(fresh_db, scopes)
    assert len(result.failed) == 1
    assert result.failed[0].startswith("oci export:oci/quay.io/contoso/broken: ")
    loaded = fresh_db.records(
        "SELECT source, count(*) AS n FROM images GROUP BY source"
    )
    assert {tuple(r.values()) for r in loaded} == {
        ("acr", 6),
        ("ecr", 3),
        ("gar", 2),
        ("oci", 4),
    }


def test_the_sample_estate_loads_and_case_35_keeps_its_index_apart(
    fresh_db: Warehouse,
) -> None:
    estate = Path(__file__).resolve().parents[2] / "examples" / "contoso"
    scopes = [s for m in (acr, ecr, gar, oci) for s in m.export_scopes(estate)]
    result = load_scopes(fresh_db, scopes)
    assert scopes and result.failed == [] and result.problems == []
    # Case 35: the tag names an OCI index; the two untagged listings are its
    # platform manifest and its attestation manifest, never images of their own.
    django = fresh_db.records(
        "SELECT digest, kind, platform, parent_digest FROM images "
        "WHERE repository = 'django-webapp-code'"
    )
    index = "sha256:79e93509f63df0e0808ba8780fdd08bb5dc597b400807637c77044c04f361125"
    platform = "sha256:8f1ee7414d796b6ed70dcfa9facff56438bba6b2665066362eea9b5dca2c667d"
    att = "sha256:e33b3087f42f9b5b23ee5ce33a8a279fc1c2a2d1070a9eaae3c298cd8d3c803f"
    assert {tuple(r.values()) for r in django} == {
        (index, "index", None, None),
        (platform, "image", "linux/amd64", index),
        (att, "attestation", "unknown/unknown", index),
    }


def test_a_listing_of_the_wrong_shape_fails_and_keeps_its_rows(
    fresh_db: Warehouse, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORT, root)
    load_scopes(fresh_db, oci.export_scopes(root))
    before = fresh_db.records("SELECT digest, parent_digest FROM images")
    for content in ("null", "42", '"hello"', '[{"Tag": "1.0"}]'):
        listing = root / "oci" / "ghcr.io" / "contoso" / "tools.json"
        listing.write_text(content)
        result = load_scopes(fresh_db, oci.export_scopes(root))
        assert len(result.failed) == 1, content
        assert str(listing) in result.failed[0] and "skopeo" in result.failed[0]
        assert fresh_db.records("SELECT digest, parent_digest FROM images") == before
    assert {"digest": AMD64, "parent_digest": INDEX} in before

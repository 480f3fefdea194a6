"""Pure transforms of the registry sources: manifests, labels, statements -> rows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.sources.oci import (
    Listed,
    Manifest,
    classify,
    describe_repository,
    label_provenance,
    parse_manifest,
    platform_text,
    read_statements,
    skopeo_listing,
    statement_provenance,
)
from tests.fakes.registry import attestation, image, index, referrer, slsa_v02

REG, REPO = "registry.example.com", "contoso/api"

ADO_LABELS = {
    "com.azure.dev.image.system.teamfoundationcollectionuri": "https://dev.azure.com/contoso/",
    "com.azure.dev.image.build.sourceversion": "a" * 40,
    "com.azure.dev.image.build.repository.uri": "https://dev.azure.com/contoso/P/_git/api",
    "com.azure.dev.image.build.definitionname": "api-ci",
    "com.azure.dev.image.build.builduri": "vstfs:///Build/Build/101",
}


def _facts(rows: list[dict]) -> set[tuple]:
    return {
        (
            r["subject_digest"],
            r["kind"],
            r["run_id"],
            r["run_attempt"],
            r["source_repo"],
            r["commit_sha"],
            r["workflow_path"],
            r["dockerfile"],
        )
        for r in rows
    }


@pytest.mark.parametrize(
    ("prefix", "collection"),
    [
        ("com.azure.dev", "https://dev.azure.com/contoso/"),
        ("com.visualstudio.contoso", "https://contoso.visualstudio.com/"),
        ("example.contoso.ado", "https://ado.contoso.example/tfs/"),
    ],
    ids=["dev.azure.com", "visualstudio.com", "on-prem"],
)
def test_docker2_labels_match_on_the_suffix_whatever_the_prefix(
    prefix: str, collection: str
) -> None:
    labels = {
        f"{prefix}.image.system.teamfoundationcollectionuri": collection,
        f"{prefix}.image.build.builduri": "vstfs:///Build/Build/77",
        f"{prefix}.image.build.sourceversion": "b" * 40,
        f"{prefix}.image.build.repository.uri": "https://example/_git/api",
    }
    rows = label_provenance("sha256:" + "1" * 64, REG, REPO, labels)
    assert [
        (r["kind"], r["run_id"], r["commit_sha"], r["builder_id"]) for r in rows
    ] == [("ado-labels", 77, "b" * 40, collection)]
    assert rows[0]["evidence"] == (
        f"label {prefix}.image.build.builduri=vstfs:///Build/Build/77"
    )


def test_release_pipeline_labels_and_foreign_uris_make_no_ado_row() -> None:
    labels = {
        "com.azure.dev.image.release.releaseid": "9",
        "com.azure.dev.image.build.builduri": "https://not-a-vstfs-uri/1",
    }
    assert label_provenance("sha256:" + "1" * 64, REG, REPO, labels) == []


def test_oci_and_legacy_label_schema_labels() -> None:
    oci = label_provenance(
        "sha256:" + "1" * 64,
        REG,
        REPO,
        {
            "org.opencontainers.image.source": "https://github.com/contoso/api",
            "org.opencontainers.image.revision": "c" * 40,
            "com.docker.image.source.entrypoint": "services/api/Dockerfile",
        },
    )
    legacy = label_provenance(
        "sha256:" + "2" * 64,
        REG,
        REPO,
        {
            "org.label-schema.vcs-url": "git@github.com:contoso/old.git",
            "org.label-schema.vcs-ref": "abc1234",
        },
    )
    assert _facts(oci + legacy) == {
        (
            "sha256:" + "1" * 64,
            "oci-labels",
            None,
            None,
            "https://github.com/contoso/api",
            "c" * 40,
            None,
            "services/api/Dockerfile",
        ),
        (
            "sha256:" + "2" * 64,
            "oci-labels",
            None,
            None,
            "git@github.com:contoso/old.git",
            "abc1234",
            None,
            None,
        ),
    }


def test_a_token_in_a_source_label_is_masked() -> None:
    rows = label_provenance(
        "sha256:" + "1" * 64,
        REG,
        REPO,
        {
            "org.opencontainers.image.source": "https://x-access:ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/c/a"
        },
    )
    assert "ghp_" not in rows[0]["source_repo"] and "ghp_" not in rows[0]["evidence"]
    assert rows[0]["source_repo"] == "https://x-access:***@github.com/c/a"


def test_buildkit_slsa_v02_statement() -> None:
    subject = "sha256:" + "5" * 64
    rows = statement_provenance(
        slsa_v02(subject, run_id=42, attempt=3),
        REG,
        REPO,
        "attestation sha256:" + "6" * 64,
    )
    assert _facts(rows) == {
        (
            subject,
            "slsa",
            42,
            3,
            "https://github.com/contoso/api",
            "c" * 40,
            None,
            "services/api/Dockerfile",
        )
    }
    assert (
        rows[0]["builder_id"]
        == "https://github.com/contoso/api/actions/runs/42/attempts/3"
    )


def test_buildkit_slsa_v1_remote_git_build() -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [{"name": "pkg:docker/x", "digest": {"sha256": "7" * 64}}],
        "predicate": {
            "buildDefinition": {
                "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
                "externalParameters": {
                    "configSource": {
                        "uri": "https://github.com/contoso/web.git#refs/heads/main",
                        "digest": {"sha1": "e" * 40},
                        "path": "docker/Dockerfile",
                    },
                    "request": {"frontend": "dockerfile.v0"},
                },
            },
            "runDetails": {
                "builder": {
                    "id": "https://github.com/contoso/web/actions/runs/9000000012"
                },
                "metadata": {"invocationID": "abc"},
            },
        },
    }
    rows = statement_provenance(statement, REG, REPO, "attestation x")
    assert _facts(rows) == {
        (
            "sha256:" + "7" * 64,
            "slsa",
            9000000012,
            None,
            "https://github.com/contoso/web.git",
            "e" * 40,
            None,
            "docker/Dockerfile",
        )
    }


def test_github_attestation_v1_names_workflow_run_and_commit() -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "ghcr.io/contoso/api", "digest": {"sha256": "b" * 64}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {
                        "ref": "refs/heads/main",
                        "repository": "https://github.com/contoso/api",
                        "path": ".github/workflows/release.yml",
                    }
                },
                "resolvedDependencies": [
                    {
                        "uri": "git+https://github.com/contoso/api@refs/heads/main",
                        "digest": {"gitCommit": "c" * 40},
                    }
                ],
            },
            "runDetails": {
                "builder": {
                    "id": "https://github.com/contoso/shared/.github/workflows/build.yml@refs/heads/main"
                },
                "metadata": {
                    "invocationId": "https://github.com/contoso/api/actions/runs/9000000011/attempts/2"
                },
            },
        },
    }
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [{"sig": "MEUCIQ"}],
    }
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "dsseEnvelope": envelope,
    }
    [read] = read_statements(json.dumps(bundle).encode())
    rows = statement_provenance(read, REG, REPO, "attestation x")
    assert _facts(rows) == {
        (
            "sha256:" + "b" * 64,
            "slsa",
            9000000011,
            2,
            "https://github.com/contoso/api",
            "c" * 40,
            ".github/workflows/release.yml",
            None,
        )
    }


def test_slsa_generator_v02_takes_run_and_workflow_from_the_environment() -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "ghcr.io/contoso/api", "digest": {"sha256": "d" * 64}}],
        "predicate": {
            "builder": {
                "id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"
            },
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
            "invocation": {
                "configSource": {
                    "uri": "git+https://github.com/contoso/api@refs/heads/main",
                    "digest": {"sha1": "f" * 40},
                    "entryPoint": ".github/workflows/release.yml",
                },
                "environment": {"github_run_id": "555", "github_run_attempt": "1"},
            },
        },
    }
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
    }
    [read] = read_statements(json.dumps(envelope).encode())
    assert _facts(statement_provenance(read, REG, REPO, "x")) == {
        (
            "sha256:" + "d" * 64,
            "slsa",
            555,
            1,
            "https://github.com/contoso/api",
            "f" * 40,
            ".github/workflows/release.yml",
            None,
        )
    }


def test_sbom_statements_and_garbage_make_no_provenance() -> None:
    spdx = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [],
        "predicate": {},
    }
    assert statement_provenance(spdx, REG, REPO, "x") == []
    assert read_statements(b"not json") == []
    assert read_statements(b'{"payloadType": "x", "payload": "%%%"}') == []


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ({"architecture": "arm64", "os": "linux", "variant": "v8"}, "linux/arm64/v8"),
        ({"Architecture": "amd64", "Os": "linux"}, "linux/amd64"),
        ({"architecture": "unknown", "os": "unknown"}, "unknown/unknown"),
        ({"os": "linux"}, None),
        (None, None),
    ],
    ids=["oci-variant", "skopeo-keys", "attestation", "no-arch", "none"],
)
def test_platform_text(platform: dict | None, expected: str | None) -> None:
    assert platform_text(platform) == expected


def test_classify_kinds() -> None:
    single = image({"a": "b"})
    att, att_desc = attestation(slsa_v02(single.digest), single.digest)
    idx = index([single], [(att, att_desc)])
    sig = referrer(single, "application/vnd.dev.cosign.artifact.sig.v1+json", b"sig")

    def parsed(img):
        return parse_manifest(img.manifest.data, img.digest)

    assert classify(parsed(idx)) == "index"
    assert classify(parsed(single)) == "image"
    assert classify(parsed(att), att_desc) == "attestation"
    assert classify(parsed(sig)) == "artifact"
    assert (
        classify(
            None,
            None,
            Listed(
                "sha256:" + "1" * 64,
                config_media_type="application/vnd.cncf.notary.signature",
            ),
        )
        == "artifact"
    )
    assert (
        classify(
            None,
            None,
            Listed("sha256:" + "1" * 64, tags=["sha256-" + "2" * 64 + ".sig"]),
        )
        == "artifact"
    )


def test_manifest_without_media_type_uses_the_header_or_its_shape() -> None:
    body = json.dumps(
        {"schemaVersion": 2, "config": {"digest": "sha256:" + "1" * 64}, "layers": []}
    ).encode()
    assert (
        parse_manifest(body, "sha256:x").media_type
        == "application/vnd.oci.image.manifest.v1+json"
    )
    assert parse_manifest(
        body, "sha256:x", "application/vnd.docker.distribution.manifest.v2+json"
    ).media_type == ("application/vnd.docker.distribution.manifest.v2+json")
    with pytest.raises(InputError, match="not valid JSON"):
        parse_manifest(b"<html>", "sha256:x")


class _Store:
    """A dict-backed ContentStore that counts what it serves."""

    def __init__(self, *images) -> None:
        self.manifests: dict[str, Manifest] = {}
        self.blobs: dict[str, bytes] = {}
        self.reads: list[str] = []
        for img in images:
            self.add(img)

    def add(self, img) -> None:
        self.manifests[img.digest] = parse_manifest(img.manifest.data, img.digest)
        for blob in img.blobs:
            self.blobs[blob.digest] = blob.data
        for child in img.children:
            self.add(child)

    def manifest(self, repository, digest):
        self.reads.append(digest)
        return self.manifests.get(digest)

    def config(self, repository, manifest_digest, config_digest):
        return (
            json.loads(self.blobs[config_digest])
            if config_digest in self.blobs
            else None
        )

    def blob(self, repository, digest):
        self.reads.append(digest)
        return self.blobs.get(digest)

    def referrers(self, repository, digest):
        return None


def test_known_digests_are_reemitted_without_reading_anything() -> None:
    amd = image(ADO_LABELS, "amd64")
    att = attestation(slsa_v02(amd.digest), amd.digest)
    idx = index([amd], [att])
    store = _Store(idx)
    first = describe_repository(REG, REPO, [Listed(idx.digest, tags=["1.0"])], store)
    assert store.reads  # the first sweep reads manifests and the statement
    second_store = _Store()
    second = describe_repository(
        REG,
        REPO,
        [Listed(idx.digest, tags=["1.0", "stable"])],
        second_store,
        known=first.tables["images"],
        known_provenance=first.tables["provenance"],
    )
    assert second_store.reads == []

    def key(r: dict) -> tuple:
        return (
            r["digest"],
            r["kind"],
            r["parent_digest"],
            json.dumps(r["labels"]),
        )

    assert {key(r) for r in second.tables["images"]} == {
        key(r) for r in first.tables["images"]
    }
    assert {(r["subject_digest"], r["kind"]) for r in second.tables["provenance"]} == {
        (amd.digest, "ado-labels"),
        (amd.digest, "slsa"),
    }
    assert {(t["tag"], t["digest"]) for t in second.tables["image_tags"]} == {
        ("1.0", idx.digest),
        ("stable", idx.digest),
    }


def test_skopeo_tags_follow_repotags_order_or_stay_unclaimed(tmp_path: Path) -> None:
    def entry(digest: str, tags: list[str]) -> dict:
        return {
            "Name": "ghcr.io/c/a",
            "Digest": digest,
            "RepoTags": tags,
            "Architecture": "amd64",
            "Os": "linux",
        }

    d1, d2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    by_position = skopeo_listing(
        [entry(d1, ["a", "b"]), entry(d2, ["a", "b"])], tmp_path
    )
    disjoint = skopeo_listing([entry(d1, ["a"]), entry(d2, ["b", "c"])], tmp_path)
    unclear = skopeo_listing(
        [entry(d1, ["a", "b", "c"]), entry(d2, ["a", "b", "c"])], tmp_path
    )
    assert [x.tags for x in by_position] == [["a"], ["b"]]
    assert [x.tags for x in disjoint] == [["a"], ["b", "c"]]
    assert [x.tags for x in unclear] == [[], []]

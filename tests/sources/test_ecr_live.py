"""ECR live mode: boto3 against moto, with configs served by a real docker-registry.

moto has no ``/v2`` API, so the same images are pushed to moto (``put_image``,
passing ``imageDigest`` since moto would otherwise invent one) and to a local
docker-registry that the entry's ``url`` names as the registry endpoint.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from etl.config import RegistrySettings, Settings
from etl.sources import ecr
from etl.warehouse import Warehouse
from tests.conftest import require_sysdep
from tests.fakes.registry import (
    Image,
    Pusher,
    RegistryServer,
    attestation,
    content_reads,
    image,
    index,
    load_scopes,
    recorded_requests,
    registries,
    slsa_v02,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "registries" / "ecr"
REGION = "eu-west-1"
HOST = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
ADO = {"com.azure.dev.image.build.builduri": "vstfs:///Build/Build/101"}
OCI = {
    "org.opencontainers.image.source": "https://github.com/contoso/web",
    "org.opencontainers.image.revision": "d" * 40,
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with registries(tmp_path, require_sysdep("docker-registry")) as start:
        yield start()


def push(
    api: Any, pusher: Pusher, repository: str, img: Image, tag: str | None = None
) -> None:
    """The image in moto (listing, manifests) and in the registry (blobs)."""
    for child in img.children:
        push(api, pusher, repository, child)
    pusher.push(repository, img, tag)
    extra = {"imageTag": tag} if tag else {}
    api.put_image(
        repositoryName=repository,
        imageManifest=img.manifest.data.decode(),
        imageManifestMediaType=img.manifest.media_type,
        imageDigest=img.digest,
        **extra,
    )


def scan_result(name: str, repository: str, digest: str) -> dict[str, Any]:
    result = json.loads((DATA / name).read_text())
    result.pop("_comment")
    result["repositoryName"] = repository
    result["imageId"] = {"imageDigest": digest}
    return result


def set_findings(api: Any, *results: dict[str, Any]) -> None:
    """moto's hook for the exact DescribeImageScanFindings answers to give."""
    for result in results:
        api.start_image_scan(
            repositoryName=result["repositoryName"], imageId=result["imageId"]
        )
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
        json={"results": list(results), "region": REGION},
    ).raise_for_status()


def settings(tmp_path: Path, *entries: RegistrySettings) -> Settings:
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        reports_out=tmp_path / "out",
        registries=list(entries),
    )


def rows(wh: Warehouse, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r.values()) for r in wh.records(sql)}


class Estate:
    def __init__(self) -> None:
        self.amd64 = image(ADO, "amd64", content="api")
        self.att = attestation(
            slsa_v02(self.amd64.digest, run_id=42), self.amd64.digest
        )
        self.index = index([self.amd64], [self.att])
        self.web = image(OCI, docker=True, content="web")

    def push(self, api: Any, pusher: Pusher) -> None:
        for name in ("contoso/api", "contoso/web"):
            api.create_repository(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
            )
        push(api, pusher, "contoso/api", self.index, "1.0")
        push(api, pusher, "contoso/web", self.web, "2.0")
        set_findings(
            api,
            scan_result(
                "scan-findings-enhanced.json", "contoso/api", self.amd64.digest
            ),
            scan_result("scan-findings-basic.json", "contoso/web", self.web.digest),
        )


@pytest.mark.registry
def test_sweep_lists_reads_new_manifests_and_collects_findings(
    aws: Any, registry: RegistryServer, fresh_db: Warehouse, tmp_path: Path
) -> None:
    e = Estate()
    e.push(aws, Pusher(registry.url))
    entry = RegistrySettings(type="ecr", region=REGION, url=registry.url)

    result = load_scopes(fresh_db, ecr.live_scopes(settings(tmp_path, entry)))

    assert result.failed == [] and result.problems == []
    assert rows(fresh_db, "SELECT DISTINCT registry FROM images") == {(HOST,)}
    images = "SELECT repository, digest, kind, platform, parent_digest FROM images"
    api, web = "contoso/api", "contoso/web"
    assert rows(fresh_db, images) == {
        (api, e.index.digest, "index", None, None),
        (api, e.amd64.digest, "image", "linux/amd64", e.index.digest),
        (api, e.att[0].digest, "attestation", "unknown/unknown", e.index.digest),
        (web, e.web.digest, "image", "linux/amd64", None),
    }
    assert rows(fresh_db, "SELECT subject_digest, kind, run_id FROM provenance") == {
        (e.amd64.digest, "ado-labels", 101),
        (e.amd64.digest, "slsa", 42),
        (e.web.digest, "oci-labels", None),
    }
    assert rows(fresh_db, "SELECT repository, tag, digest FROM image_tags") == {
        (api, "1.0", e.index.digest),
        (web, "2.0", e.web.digest),
    }
    assert rows(fresh_db, "SELECT DISTINCT image, scanner FROM findings") == {
        (f"{HOST}/{api}", "ecr"),
        (f"{HOST}/{web}", "ecr"),
    }
    findings = (
        "SELECT digest, vuln_id, severity, cvss, package, installed_version, "
        "fixed_version FROM findings"
    )
    zlib = (e.amd64.digest, "CVE-2024-0002", "CRITICAL", 9.8)
    assert rows(fresh_db, findings) == {
        (*zlib, "zlib", "1.2.13-1.el9", "1.3.1"),
        (*zlib, "zlib-devel", "1.2.13-1.el9", None),
        (e.web.digest, "CVE-2024-0001", "HIGH", 7.5, "openssl", "3.0.1-1", None),
        (e.web.digest, "CVE-2023-9999", "LOW", None, "glibc", "2.36-9", None),
    }
    configs = fresh_db.records(
        "SELECT DISTINCT config_digest IS NOT NULL AS c FROM findings"
    )
    assert configs == [{"c": True}]


@pytest.mark.registry
def test_a_quiet_night_calls_no_batch_get_image_and_reads_no_blob(
    aws: Any, registry: RegistryServer, fresh_db: Warehouse, tmp_path: Path
) -> None:
    Estate().push(aws, Pusher(registry.url))
    config = settings(
        tmp_path, RegistrySettings(type="ecr", region=REGION, url=registry.url)
    )
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    events = boto3.DEFAULT_SESSION.events
    events.register("before-call.ecr", record)
    try:
        with recorded_requests() as first:
            load_scopes(fresh_db, ecr.live_scopes(config))
        first_calls, calls[:] = list(calls), []
        before = rows(fresh_db, "SELECT digest, kind, labels::VARCHAR FROM images")
        findings = rows(fresh_db, "SELECT digest, vuln_id, package FROM findings")
        with recorded_requests() as second:
            result = load_scopes(fresh_db, ecr.live_scopes(config))
    finally:
        events.unregister("before-call.ecr", record)

    assert result.failed == []
    assert "BatchGetImage" in first_calls and content_reads(first)
    assert "BatchGetImage" not in calls and content_reads(second) == []
    assert rows(fresh_db, "SELECT digest, kind, labels::VARCHAR FROM images") == before
    assert rows(fresh_db, "SELECT digest, vuln_id, package FROM findings") == findings


@pytest.mark.registry
def test_a_missing_repository_fails_only_its_scope(
    aws: Any, registry: RegistryServer, fresh_db: Warehouse, tmp_path: Path
) -> None:
    e = Estate()
    e.push(aws, Pusher(registry.url))
    entry = RegistrySettings(
        type="ecr",
        region=REGION,
        url=registry.url,
        repositories=["contoso/web", "contoso/gone"],
    )

    result = load_scopes(fresh_db, ecr.live_scopes(settings(tmp_path, entry)))

    gone = f"{HOST}/contoso/gone"
    assert result.failed == [
        f"ecr {gone}: {gone}: repository not found; fix repositories"
    ]
    assert rows(fresh_db, "SELECT repository, digest FROM images") == {
        ("contoso/web", e.web.digest)
    }


def test_no_credentials_is_one_line_with_the_fix(
    fresh_db: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # A dead loopback endpoint: nothing leaves the machine, credential or not.
    entry = RegistrySettings(
        type="ecr", region=REGION, endpoint_url="http://127.0.0.1:9"
    )
    config = settings(tmp_path, entry)

    result = load_scopes(fresh_db, ecr.live_scopes(config))
    checks = ecr.doctor_checks(config)

    assert len(result.failed) == 1 and "\n" not in result.failed[0]
    assert result.failed[0].startswith(
        f"ecr {REGION}: ECR {REGION}: no AWS credentials found"
    )
    assert checks == [
        (f"registry ecr {REGION}", False, f"ECR {REGION}: {ecr.NO_CREDENTIALS}")
    ]


def test_doctor_checks_pass_with_access(aws: Any, tmp_path: Path) -> None:
    config = settings(tmp_path, RegistrySettings(type="ecr", region=REGION))
    assert ecr.doctor_checks(config) == [
        (f"registry ecr {REGION}", True, "token and repository listing allowed")
    ]


def test_findings_shapes_from_the_data_files() -> None:
    basic = scan_result("scan-findings-basic.json", "r", "sha256:" + "1" * 64)
    enhanced = scan_result("scan-findings-enhanced.json", "r", "sha256:" + "2" * 64)
    second_page = copy.deepcopy(basic)
    rows_ = ecr.findings_from_scan(
        [basic, second_page, enhanced], "h/r", "sha256:x", None
    )
    assert {(r["vuln_id"], r["package"], r["severity"], r["title"]) for r in rows_} == {
        (
            "CVE-2024-0001",
            "openssl",
            "HIGH",
            "Issue summary: a crafted certificate can crash the parser.",
        ),
        ("CVE-2023-9999", "glibc", "LOW", "CVE-2023-9999"),
        ("CVE-2024-0002", "zlib", "CRITICAL", "CVE-2024-0002 - zlib"),
        ("CVE-2024-0002", "zlib-devel", "CRITICAL", "CVE-2024-0002 - zlib"),
    }

"""Artifact Registry live mode: the real SDK (REST transport) against a local fake,
with labels read through /v2 from a real docker-registry holding the same images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from pytest_httpserver import HTTPServer

from etl.config import RegistrySettings, Settings
from etl.sources import gar
from etl.warehouse import Warehouse
from tests.conftest import require_sysdep
from tests.fakes.gar import FakeArtifactRegistry, Repo
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

PROJECT, LOCATION = "contoso-prod", "europe-west1"
HOST = f"{LOCATION}-docker.pkg.dev"
ADO = {"com.visualstudio.contoso.image.build.builduri": "vstfs:///Build/Build/202"}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with registries(tmp_path, require_sysdep("docker-registry")) as start:
        yield start()


@pytest.fixture
def fake(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> FakeArtifactRegistry:
    monkeypatch.setattr(gar, "google_credentials", AnonymousCredentials)
    return FakeArtifactRegistry(httpserver, PROJECT, LOCATION)


def entry(fake_url: str, registry_url: str, **extra: Any) -> RegistrySettings:
    return RegistrySettings(
        type="gar",
        project=PROJECT,
        location=LOCATION,
        endpoint_url=fake_url,
        url=registry_url,
        **extra,
    )


def settings(tmp_path: Path, *entries: RegistrySettings) -> Settings:
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        reports_out=tmp_path / "out",
        registries=list(entries),
    )


def publish(
    fake: FakeArtifactRegistry,
    pusher: Pusher,
    repo: str,
    name: str,
    img: Image,
    tags: list[str],
) -> None:
    pusher.push(f"{PROJECT}/{repo}/{name}", img, tags[0] if tags else None)
    fake.add(repo, name, img, tags)


def rows(wh: Warehouse, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r.values()) for r in wh.records(sql)}


class Estate:
    def __init__(self) -> None:
        self.amd64 = image(ADO, "amd64", content="api")
        self.att = attestation(
            slsa_v02(self.amd64.digest, run_id=77), self.amd64.digest
        )
        self.index = index([self.amd64], [self.att])
        self.worker = image(ADO, docker=True, content="worker")

    def publish(self, fake: FakeArtifactRegistry, pusher: Pusher) -> None:
        publish(fake, pusher, "apps", "api", self.index, ["1.0"])
        publish(fake, pusher, "apps", "tools/worker", self.worker, ["2.1.0"])
        fake.repos["charts"] = Repo(format="MAVEN")


@pytest.mark.registry
def test_sweep_lists_docker_repositories_and_reads_labels_through_v2(
    fake: FakeArtifactRegistry,
    registry: RegistryServer,
    httpserver: HTTPServer,
    fresh_db: Warehouse,
    tmp_path: Path,
) -> None:
    e = Estate()
    e.publish(fake, Pusher(registry.url))
    config = settings(tmp_path, entry(httpserver.url_for(""), registry.url))

    scopes = gar.live_scopes(config)
    result = load_scopes(fresh_db, scopes)

    assert [s.scope for s in scopes] == [f"{HOST}/{PROJECT}/apps"]
    assert result.failed == [] and result.problems == []
    assert rows(fresh_db, "SELECT DISTINCT registry FROM images") == {(HOST,)}
    api, worker = f"{PROJECT}/apps/api", f"{PROJECT}/apps/tools/worker"
    images = "SELECT repository, digest, kind, platform, parent_digest FROM images"
    assert rows(fresh_db, images) == {
        (api, e.index.digest, "index", None, None),
        (api, e.amd64.digest, "image", "linux/amd64", e.index.digest),
        (api, e.att[0].digest, "attestation", "unknown/unknown", e.index.digest),
        (worker, e.worker.digest, "image", "linux/amd64", None),
    }
    assert rows(fresh_db, "SELECT subject_digest, kind, run_id FROM provenance") == {
        (e.amd64.digest, "ado-labels", 202),
        (e.amd64.digest, "slsa", 77),
        (e.worker.digest, "ado-labels", 202),
    }
    assert rows(fresh_db, "SELECT repository, tag, digest FROM image_tags") == {
        (api, "1.0", e.index.digest),
        (worker, "2.1.0", e.worker.digest),
    }
    pushed = fresh_db.records(
        "SELECT DISTINCT strftime(pushed_at, '%Y-%m-%d %H:%M:%S.%f') AS t FROM images"
    )
    assert pushed == [{"t": "2024-05-01 10:00:00.123456"}]
    # Four manifests listed two per page: the SDK followed nextPageToken.
    listing = f"/v1/projects/{PROJECT}/locations/{LOCATION}/repositories/apps"
    assert fake.log.count(f"{listing}/dockerImages") == 2


@pytest.mark.registry
def test_a_quiet_night_reads_only_the_listing(
    fake: FakeArtifactRegistry,
    registry: RegistryServer,
    httpserver: HTTPServer,
    fresh_db: Warehouse,
    tmp_path: Path,
) -> None:
    Estate().publish(fake, Pusher(registry.url))
    config = settings(tmp_path, entry(httpserver.url_for(""), registry.url))
    with recorded_requests() as first:
        load_scopes(fresh_db, gar.live_scopes(config))
    before = rows(fresh_db, "SELECT digest, kind, labels::VARCHAR FROM images")

    with recorded_requests() as second:
        result = load_scopes(fresh_db, gar.live_scopes(config))

    assert result.failed == []
    assert content_reads(first) and content_reads(second) == []
    assert rows(fresh_db, "SELECT digest, kind, labels::VARCHAR FROM images") == before


@pytest.mark.registry
def test_missing_refused_and_garbled_repositories_fail_only_their_scopes(
    fake: FakeArtifactRegistry,
    registry: RegistryServer,
    httpserver: HTTPServer,
    fresh_db: Warehouse,
    tmp_path: Path,
) -> None:
    e = Estate()
    e.publish(fake, Pusher(registry.url))
    fake.add("locked", "x", image())
    fake.add("broken", "x", image())
    fake.repos["locked"].broken = "denied"
    fake.repos["broken"].broken = "garbage"
    names = ["apps", "gone", "locked", "broken"]
    config = settings(
        tmp_path, entry(httpserver.url_for(""), registry.url, repositories=names)
    )

    result = load_scopes(fresh_db, gar.live_scopes(config))

    base = f"{HOST}/{PROJECT}"
    assert sorted(result.failed) == [
        f"gar {base}/broken: {base}/broken: "
        "Artifact Registry answered with invalid JSON",
        f"gar {base}/gone: {base}/gone: repository not found (404); fix repositories",
        f"gar {base}/locked: {base}/locked: access refused (403); "
        "grant roles/artifactregistry.reader",
    ]
    assert rows(fresh_db, "SELECT DISTINCT repository FROM images") == {
        (f"{PROJECT}/apps/api",),
        (f"{PROJECT}/apps/tools/worker",),
    }


def test_without_application_default_credentials(
    fresh_db: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_adc() -> None:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(gar, "google_credentials", no_adc)
    config = settings(tmp_path, entry("http://127.0.0.1:9", "http://127.0.0.1:9"))

    result = load_scopes(fresh_db, gar.live_scopes(config))

    assert result.failed == [f"gar {HOST}/{PROJECT}: {HOST}/{PROJECT}: {gar.NO_ADC}"]
    assert gar.doctor_checks(config) == [
        (f"registry gar {HOST}/{PROJECT}", False, f"{HOST}/{PROJECT}: {gar.NO_ADC}")
    ]


def test_doctor_checks_pass_with_access(
    fake: FakeArtifactRegistry, httpserver: HTTPServer, tmp_path: Path
) -> None:
    fake.add("apps", "api", image())
    config = settings(tmp_path, entry(httpserver.url_for(""), "http://127.0.0.1:9"))
    assert gar.doctor_checks(config) == [
        (f"registry gar {HOST}/{PROJECT}", True, "repositories readable")
    ]

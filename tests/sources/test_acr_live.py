"""ACR live mode: the real azure-containerregistry SDK against an HTTPS fake ACR."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from etl.config import RegistrySettings, Settings
from etl.sources import acr
from etl.warehouse import Warehouse
from tests.fakes.acr import FakeAcr, jwt_like
from tests.fakes.registry import (
    attestation,
    image,
    index,
    load_scopes,
    referrer,
    slsa_v02,
)

ADO = {
    "com.azure.dev.image.build.builduri": "vstfs:///Build/Build/101",
    "com.azure.dev.image.build.sourceversion": "a" * 40,
}


class FakeIdentity:
    """A TokenCredential standing in for DefaultAzureCredential."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(
            jwt_like({"exp": time.time() + 3600}), int(time.time()) + 3600
        )


@pytest.fixture
def fake_acr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAcr]:
    fake = FakeAcr(tmp_path / "acr")
    # The SDK verifies TLS; requests under it trusts this bundle.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.cert_path))
    yield fake
    fake.stop()


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
        self.arm64 = image(ADO, "arm64", content="api")
        self.att = attestation(slsa_v02(self.amd64.digest, run_id=5), self.amd64.digest)
        self.index = index([self.amd64, self.arm64], [self.att])
        self.sbom = referrer(
            self.index, "application/spdx+json", b'{"spdxVersion": "SPDX-2.3"}'
        )
        self.old = image({"org.opencontainers.image.source": "https://github.com/c/a"})

    def push(self, fake: FakeAcr) -> None:
        fake.push("payments/api", self.old, ["1.4.0"], "2024-04-01T09:00:00.1234567Z")
        fake.push(
            "payments/api",
            self.index,
            ["1.4.0", "latest"],
            "2024-05-01T10:03:00.1234567Z",
        )
        fake.push("payments/api", self.sbom, [], "2024-05-01T10:05:00Z")


def test_anonymous_sweep_reads_listing_manifests_and_configs(
    fake_acr: FakeAcr,
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(acr, "azure_credential", lambda: None)
    e = Estate()
    e.push(fake_acr)

    result = load_scopes(
        fresh_db,
        acr.live_scopes(
            settings(tmp_path, RegistrySettings(type="acr", url=fake_acr.url))
        ),
    )

    assert result.failed == [] and result.problems == []
    assert rows(fresh_db, "SELECT DISTINCT registry, repository FROM images") == {
        (fake_acr.host, "payments/api")
    }
    images = (
        "SELECT digest, kind, platform, parent_digest, "
        "strftime(pushed_at, '%d %H:%M') FROM images"
    )
    assert rows(fresh_db, images) == {
        (e.index.digest, "index", None, None, "01 10:03"),
        (e.amd64.digest, "image", "linux/amd64", e.index.digest, "01 10:03"),
        (e.arm64.digest, "image", "linux/arm64", e.index.digest, "01 10:03"),
        (e.att[0].digest, "attestation", "unknown/unknown", e.index.digest, "01 10:03"),
        (e.sbom.digest, "artifact", None, e.index.digest, "01 10:05"),
        (e.old.digest, "image", "linux/amd64", None, "01 09:00"),
    }
    assert rows(fresh_db, "SELECT subject_digest, kind, run_id FROM provenance") == {
        (e.amd64.digest, "ado-labels", 101),
        (e.arm64.digest, "ado-labels", 101),
        (e.amd64.digest, "slsa", 5),
        (e.old.digest, "oci-labels", None),
    }
    # The tag moved from the old image to the index before this sweep.
    assert rows(fresh_db, "SELECT tag, digest FROM image_tags") == {
        ("1.4.0", e.index.digest),
        ("latest", e.index.digest),
    }


def test_an_azure_identity_goes_through_the_token_exchange(
    fake_acr: FakeAcr,
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity = FakeIdentity()
    monkeypatch.setattr(acr, "azure_credential", lambda: identity)
    app = image(ADO)
    fake_acr.push("web", app, ["1.0"])
    entry = RegistrySettings(type="acr", url=fake_acr.url, repositories=["web"])

    result = load_scopes(fresh_db, acr.live_scopes(settings(tmp_path, entry)))

    assert result.failed == []
    assert rows(fresh_db, "SELECT digest, kind FROM images") == {(app.digest, "image")}
    assert ("https://containerregistry.azure.net/.default",) in identity.scopes
    posts = {path.split("?")[0] for method, path, _ in fake_acr.log if method == "POST"}
    assert posts == {"/oauth2/exchange", "/oauth2/token"}


def test_a_quiet_night_reads_only_the_listing(
    fake_acr: FakeAcr,
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(acr, "azure_credential", lambda: None)
    Estate().push(fake_acr)
    config = settings(tmp_path, RegistrySettings(type="acr", url=fake_acr.url))
    load_scopes(fresh_db, acr.live_scopes(config))
    first = rows(
        fresh_db, "SELECT digest, kind, parent_digest, labels::VARCHAR FROM images"
    )
    first_provenance = rows(
        fresh_db, "SELECT subject_digest, kind, evidence FROM provenance"
    )
    reads_before = len(fake_acr.log)

    result = load_scopes(fresh_db, acr.live_scopes(config))

    second = [(m, p) for m, p, status in fake_acr.log[reads_before:] if status == 200]
    assert result.failed == []
    assert [p for _, p in second if p.startswith("/v2/")] == []
    assert {p.split("?")[0] for _, p in second} == {
        "/acr/v1/_catalog",
        "/acr/v1/payments/api/_manifests",
        "/oauth2/token",
    }
    assert (
        rows(
            fresh_db, "SELECT digest, kind, parent_digest, labels::VARCHAR FROM images"
        )
        == first
    )
    assert (
        rows(fresh_db, "SELECT subject_digest, kind, evidence FROM provenance")
        == first_provenance
    )


def test_no_identity_and_no_anonymous_pull_is_one_line(
    tmp_path: Path, fresh_db: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeAcr(tmp_path / "locked", anonymous_pull=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.cert_path))
    monkeypatch.setattr(acr, "azure_credential", lambda: None)
    fake.push("web", image(), ["1.0"])
    try:
        result = load_scopes(
            fresh_db,
            acr.live_scopes(
                settings(tmp_path, RegistrySettings(type="acr", url=fake.url))
            ),
        )
    finally:
        fake.stop()

    assert len(result.failed) == 1
    message = result.failed[0]
    assert message.startswith(f"acr {fake.host}: ")
    assert (
        "\n" not in message
        and "az login" in message
        and "refused access (401)" in message
    )


def test_missing_repository_and_garbage_listing_fail_only_their_scopes(
    fake_acr: FakeAcr,
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(acr, "azure_credential", lambda: None)
    app = image(ADO)
    fake_acr.push("web", app, ["1.0"])
    fake_acr.push("broken", image(), ["1.0"])
    fake_acr.garbage.add("broken")
    entry = RegistrySettings(
        type="acr", url=fake_acr.url, repositories=["web", "gone", "broken"]
    )

    result = load_scopes(fresh_db, acr.live_scopes(settings(tmp_path, entry)))

    host = fake_acr.host
    assert sorted(result.failed) == [
        f"acr {host}/broken: {host}/broken: ACR answered with invalid JSON",
        f"acr {host}/gone: {host}/gone: repository not found (404); fix repositories",
    ]
    assert rows(fresh_db, "SELECT repository, digest FROM images") == {
        ("web", app.digest)
    }


def test_listing_properties_become_listed_manifests(
    fake_acr: FakeAcr, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = Estate()
    e.push(fake_acr)
    client = acr.acr_client(RegistrySettings(type="acr", url=fake_acr.url), None)
    listed = acr.listing_from_properties(
        client.list_manifest_properties("payments/api")
    )
    by_digest = {x.digest: x for x in listed}
    assert by_digest[e.index.digest].tags == ["1.4.0", "latest"]
    assert by_digest[e.index.digest].platform is None
    assert by_digest[e.arm64.digest].platform == "linux/arm64"
    assert by_digest[e.old.digest].tags == []


def test_doctor_checks(
    fake_acr: FakeAcr, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acr, "azure_credential", lambda: None)
    fake_acr.push("web", image(), ["1.0"])
    locked = FakeAcr(tmp_path / "locked", anonymous_pull=False)
    try:
        checks = acr.doctor_checks(
            settings(
                tmp_path,
                RegistrySettings(type="acr", url=fake_acr.url),
                RegistrySettings(type="acr", url=locked.url),
            )
        )
    finally:
        locked.stop()
    assert [(name, ok) for name, ok, _ in checks] == [
        (f"registry acr {fake_acr.url}", True),
        (f"registry acr {locked.url}", False),
    ]
    assert checks[0][2] == "repositories readable anonymously"
    assert "refused access (401)" in checks[1][2] and "az login" in checks[1][2]

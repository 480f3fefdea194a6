"""Live OCI reader against a real registry (Debian's docker-registry) on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from etl.config import RegistrySettings, Settings
from etl.pipeline import RunResult, collect_scopes, sweep_scope
from etl.sources import oci
from etl.warehouse import Warehouse
from tests.conftest import require_sysdep
from tests.fakes.registry import (
    Pusher,
    RegistryServer,
    attestation,
    content_reads,
    cosign_signature,
    github_attestation_bundle,
    image,
    index,
    recorded_requests,
    referrer,
    referrers_index,
    registries,
    slsa_v02,
)

pytestmark = pytest.mark.registry

DATA = Path(__file__).resolve().parent.parent / "data" / "registries"

ADO = {
    "com.azure.dev.image.system.teamfoundationcollectionuri": "https://dev.azure.com/contoso/",
    "com.azure.dev.image.build.builduri": "vstfs:///Build/Build/101",
    "com.azure.dev.image.build.sourceversion": "a" * 40,
    "com.azure.dev.image.build.repository.uri": "https://dev.azure.com/contoso/P/_git/api",
}
OCI_LABELS = {
    "org.opencontainers.image.source": "https://github.com/contoso/web",
    "org.opencontainers.image.revision": "d" * 40,
}


@pytest.fixture
def start_registry(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    binary = require_sysdep("docker-registry")
    require_sysdep("htpasswd")
    with registries(tmp_path, binary) as start:
        yield start


def settings(tmp_path: Path, *entries: RegistrySettings) -> Settings:
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        reports_out=tmp_path / "out",
        registries=list(entries),
    )


def sweep(wh: Warehouse, config: Settings) -> RunResult:
    """One nightly extract and load, through the pipeline's own functions."""
    result = RunResult(job_id="test")
    for scope in collect_scopes(config, result):
        sweep_scope(wh, scope, result)
    return result


def rows(wh: Warehouse, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r.values()) for r in wh.records(sql)}


class Estate:
    """What the tests push: every shape the reader has to tell apart."""

    def __init__(self) -> None:
        self.amd64 = image(ADO, "amd64", content="api")
        self.arm64 = image(ADO, "arm64", variant="v8", content="api")
        self.att = attestation(
            slsa_v02(self.amd64.digest, run_id=42, attempt=2), self.amd64.digest
        )
        self.index = index([self.amd64, self.arm64], [self.att])
        self.web = image(OCI_LABELS, docker=True, content="web")
        self.signature = cosign_signature(self.index)
        bundle = github_attestation_bundle(self.web.digest, run_id=7, attempt=1)
        self.bundle = referrer(
            self.web, "application/vnd.dev.sigstore.bundle.v0.3+json", bundle
        )
        self.referrers = referrers_index([self.bundle])

    def push(self, pusher: Pusher) -> None:
        pusher.push("contoso/api", self.index, "1.0")
        pusher.push("contoso/api", self.index, "latest")
        pusher.push(
            "contoso/api", self.signature, f"sha256-{self.index.manifest.hex}.sig"
        )
        pusher.push("contoso/web", self.web, "2.0")
        # The OCI referrers tag schema: what clients write where the API is missing.
        pusher.push("contoso/web", self.referrers, f"sha256-{self.web.manifest.hex}")


def test_whole_catalog_loads_every_manifest_with_labels_and_provenance(
    start_registry: Callable[..., RegistryServer], fresh_db: Warehouse, tmp_path: Path
) -> None:
    registry = start_registry()
    estate = Estate()
    estate.push(Pusher(registry.url))
    result = sweep(
        fresh_db, settings(tmp_path, RegistrySettings(type="oci", url=registry.url))
    )

    assert result.failed == [] and result.problems == []
    e = estate
    assert rows(fresh_db, "SELECT DISTINCT registry FROM images") == {(registry.host,)}
    images = "SELECT digest, kind, platform, parent_digest FROM images"
    assert rows(fresh_db, images) == {
        (e.index.digest, "index", None, None),
        (e.amd64.digest, "image", "linux/amd64", e.index.digest),
        (e.arm64.digest, "image", "linux/arm64/v8", e.index.digest),
        (e.att[0].digest, "attestation", "unknown/unknown", e.index.digest),
        (e.signature.digest, "artifact", None, e.index.digest),
        (e.web.digest, "image", "linux/amd64", None),
        (e.referrers.digest, "artifact", None, e.web.digest),
        (e.bundle.digest, "artifact", None, e.web.digest),
    }
    labelled = fresh_db.records(
        "SELECT digest, config_digest, "
        "labels->>'$.\"com.azure.dev.image.build.builduri\"' AS uri "
        "FROM images WHERE labels IS NOT NULL"
    )
    assert {(r["digest"], r["uri"]) for r in labelled} == {
        (e.amd64.digest, "vstfs:///Build/Build/101"),
        (e.arm64.digest, "vstfs:///Build/Build/101"),
        (e.web.digest, None),
    }
    assert all(r["config_digest"].startswith("sha256:") for r in labelled)
    provenance = (
        "SELECT subject_digest, kind, run_id, run_attempt, source_repo, commit_sha, "
        "dockerfile FROM provenance"
    )
    ado, gh = "https://dev.azure.com/contoso/P/_git/api", "https://github.com/contoso"
    assert rows(fresh_db, provenance) == {
        (e.amd64.digest, "ado-labels", 101, None, ado, "a" * 40, None),
        (e.arm64.digest, "ado-labels", 101, None, ado, "a" * 40, None),
        (
            e.amd64.digest,
            "slsa",
            42,
            2,
            f"{gh}/api",
            "c" * 40,
            "services/api/Dockerfile",
        ),
        (e.web.digest, "oci-labels", None, None, f"{gh}/web", "d" * 40, None),
        (e.web.digest, "slsa", 7, 1, f"{gh}/api", "c" * 40, None),
    }
    assert rows(fresh_db, "SELECT repository, tag, digest FROM image_tags") == {
        ("contoso/api", "1.0", e.index.digest),
        ("contoso/api", "latest", e.index.digest),
        ("contoso/api", f"sha256-{e.index.manifest.hex}.sig", e.signature.digest),
        ("contoso/web", "2.0", e.web.digest),
        ("contoso/web", f"sha256-{e.web.manifest.hex}", e.referrers.digest),
    }
    assert rows(fresh_db, "SELECT scope, status FROM sweeps") == {
        (f"{registry.host}/contoso/api", "ok"),
        (f"{registry.host}/contoso/web", "ok"),
    }


def test_a_quiet_night_reads_no_manifest_or_blob(
    start_registry: Callable[..., RegistryServer], fresh_db: Warehouse, tmp_path: Path
) -> None:
    registry = start_registry()
    Estate().push(Pusher(registry.url))
    config = settings(tmp_path, RegistrySettings(type="oci", url=registry.url))
    with recorded_requests() as first_log:
        sweep(fresh_db, config)
    before = [
        rows(
            fresh_db, "SELECT digest, kind, parent_digest, labels::VARCHAR FROM images"
        ),
        rows(fresh_db, "SELECT subject_digest, kind, run_id, evidence FROM provenance"),
    ]
    with recorded_requests() as second_log:
        result = sweep(fresh_db, config)

    assert len(content_reads(first_log)) >= 10
    assert content_reads(second_log) == []
    assert result.failed == [] and result.problems == []
    after = [
        rows(
            fresh_db, "SELECT digest, kind, parent_digest, labels::VARCHAR FROM images"
        ),
        rows(fresh_db, "SELECT subject_digest, kind, run_id, evidence FROM provenance"),
    ]
    assert after == before
    # Tags are observed again every night: the tag history grows by one sweep.
    counts = fresh_db.records(
        "SELECT tag, count(*) AS n FROM image_tags WHERE tag = '1.0' GROUP BY tag"
    )
    assert counts == [{"tag": "1.0", "n": 2}]


def test_a_repointed_tag_keeps_its_history_and_the_old_digest_while_served(
    start_registry: Callable[..., RegistryServer], fresh_db: Warehouse, tmp_path: Path
) -> None:
    registry = start_registry()
    pusher = Pusher(registry.url)
    old, new = image(OCI_LABELS, content="v1"), image(OCI_LABELS, content="v2")
    untagged = image(OCI_LABELS, content="pushed by digest only")
    config = settings(
        tmp_path,
        RegistrySettings(type="oci", url=registry.url, repositories=["contoso/web"]),
    )
    pusher.push("contoso/web", old, "latest")
    sweep(fresh_db, config)
    pusher.push("contoso/web", new, "latest")
    pusher.push("contoso/web", untagged)
    with recorded_requests() as log:
        sweep(fresh_db, config)

    assert rows(fresh_db, "SELECT tag, digest FROM image_tags") == {
        ("latest", old.digest),
        ("latest", new.digest),
    }
    # The old digest stays current without being read again; the registry cannot
    # list a manifest that no tag and no index names.
    assert rows(fresh_db, "SELECT digest, labels IS NOT NULL FROM images") == {
        (old.digest, True),
        (new.digest, True),
    }
    assert not any(old.digest in url for url in content_reads(log))

    pusher.delete("contoso/web", old.digest)
    sweep(fresh_db, config)
    assert rows(fresh_db, "SELECT digest FROM images") == {(new.digest,)}


def test_basic_auth_with_credentials_from_the_environment(
    start_registry: Callable[..., RegistryServer],
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = start_registry("htpasswd")
    pusher = Pusher(registry.url, "ci-reader", "s3cret-pass")
    app = image(OCI_LABELS)
    pusher.push("contoso/web", app, "1.0")
    monkeypatch.setenv("REG_USER", "ci-reader")
    monkeypatch.setenv("REG_PASS", "s3cret-pass")
    entry = RegistrySettings(
        type="oci", url=registry.url, username_env="REG_USER", password_env="REG_PASS"
    )

    result = sweep(fresh_db, settings(tmp_path, entry))

    assert result.failed == []
    assert rows(fresh_db, "SELECT repository, digest, kind FROM images") == {
        ("contoso/web", app.digest, "image")
    }


@pytest.mark.parametrize(
    "password", [None, "wrong"], ids=["no-credentials", "wrong-password"]
)
def test_basic_auth_refused_is_one_line_for_that_scope(
    start_registry: Callable[..., RegistryServer],
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str | None,
) -> None:
    registry = start_registry("htpasswd")
    Pusher(registry.url, "ci-reader", "s3cret-pass").push("contoso/web", image(), "1.0")
    entry = RegistrySettings(type="oci", url=registry.url, repositories=["contoso/web"])
    if password:
        monkeypatch.setenv("REG_USER", "ci-reader")
        monkeypatch.setenv("REG_PASS", password)
        entry.username_env, entry.password_env = "REG_USER", "REG_PASS"

    result = sweep(fresh_db, settings(tmp_path, entry))

    assert len(result.failed) == 1
    message = result.failed[0]
    assert "\n" not in message and "401" in message and "username_env" in message
    assert message.startswith(f"oci {registry.host}/contoso/web: ")
    assert password is None or password not in message
    assert fresh_db.records("SELECT status FROM sweeps") == [{"status": "failed"}]


def test_token_auth_reads_the_catalog_with_credentials(
    start_registry: Callable[..., RegistryServer],
    fresh_db: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = start_registry("token")
    app = image(ADO)
    Pusher(registry.url, "ci-reader", "s3cret-pass").push("contoso/api", app, "1.0")
    monkeypatch.setenv("REG_USER", "ci-reader")
    monkeypatch.setenv("REG_PASS", "s3cret-pass")
    entry = RegistrySettings(
        type="oci", url=registry.url, username_env="REG_USER", password_env="REG_PASS"
    )

    result = sweep(fresh_db, settings(tmp_path, entry))

    assert result.failed == []
    assert rows(fresh_db, "SELECT digest, kind FROM images") == {(app.digest, "image")}
    assert rows(fresh_db, "SELECT kind, run_id FROM provenance") == {
        ("ado-labels", 101)
    }
    token_server = registry.token_server
    assert token_server is not None
    assert {
        tuple(r["scope"]) for r in token_server.requests if r["user"] == "ci-reader"
    } >= {
        ("registry:catalog:*",),
        ("repository:contoso/api:pull",),
    }


def test_token_auth_anonymous_pulls_named_repositories_but_not_the_catalog(
    start_registry: Callable[..., RegistryServer], fresh_db: Warehouse, tmp_path: Path
) -> None:
    registry = start_registry("token")
    app = image(ADO)
    Pusher(registry.url, "ci-reader", "s3cret-pass").push("contoso/api", app, "1.0")
    named = RegistrySettings(type="oci", url=registry.url, repositories=["contoso/api"])
    whole = RegistrySettings(type="oci", url=registry.url)

    result = sweep(fresh_db, settings(tmp_path, named, whole))

    assert len(result.failed) == 1
    assert result.failed[0].startswith(f"oci {registry.host}: ")
    assert "401" in result.failed[0]
    assert rows(fresh_db, "SELECT repository, digest FROM images") == {
        ("contoso/api", app.digest)
    }


def test_missing_repository_and_garbage_json_fail_only_their_scopes(
    start_registry: Callable[..., RegistryServer],
    fresh_db: Warehouse,
    tmp_path: Path,
    httpserver: HTTPServer,
) -> None:
    registry = start_registry()
    app = image(OCI_LABELS)
    Pusher(registry.url).push("contoso/web", app, "1.0")
    httpserver.expect_request("/v2/contoso/broken/tags/list").respond_with_data(
        '{"name": "contoso/broken", "tags": [', content_type="application/json"
    )
    good = RegistrySettings(
        type="oci", url=registry.url, repositories=["contoso/web", "contoso/gone"]
    )
    bad = RegistrySettings(
        type="oci", url=httpserver.url_for("/"), repositories=["contoso/broken"]
    )

    result = sweep(fresh_db, settings(tmp_path, good, bad))

    fake = f"localhost:{httpserver.port}"
    assert sorted(result.failed) == sorted(
        [
            f"oci {registry.host}/contoso/gone: {registry.host}/contoso/gone: "
            "repository not found (404); fix its name in repositories",
            f"oci {fake}/contoso/broken: {fake}/contoso/broken: "
            "/v2/contoso/broken/tags/list answered with invalid JSON",
        ]
    )
    assert rows(fresh_db, "SELECT repository, digest FROM images") == {
        ("contoso/web", app.digest)
    }


def test_repository_globs_filter_the_catalog(
    start_registry: Callable[..., RegistryServer], tmp_path: Path
) -> None:
    registry = start_registry()
    pusher = Pusher(registry.url)
    for name in ("contoso/api", "contoso/web", "contoso/sandbox-x", "other/tool"):
        pusher.push(name, image(content=name), "1")
    entry = RegistrySettings(
        type="oci", url=registry.url, repositories=["contoso/*", "!contoso/sandbox-*"]
    )

    scopes = oci.live_scopes(settings(tmp_path, entry))

    assert [s.scope for s in scopes] == [
        f"{registry.host}/contoso/api",
        f"{registry.host}/contoso/web",
    ]


def test_catalog_pages_follow_the_link_header(
    start_registry: Callable[..., RegistryServer],
) -> None:
    registry = start_registry()
    pusher = Pusher(registry.url)
    for name in ("a/one", "b/two", "c/three"):
        pusher.push(name, image(content=name), "1")
    client = oci.RegistryClient(registry.url, page_size=1)
    with recorded_requests() as log:
        assert client.catalog() == ["a/one", "b/two", "c/three"]
    assert len([u for _, u in log if "/_catalog" in u]) >= 3


def test_doctor_checks_name_the_fix(
    start_registry: Callable[..., RegistryServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_registry = start_registry()
    locked = start_registry("htpasswd")
    monkeypatch.setenv("REG_USER", "ci-reader")
    monkeypatch.setenv("REG_PASS", "wrong")
    config = settings(
        tmp_path,
        RegistrySettings(type="oci", url=open_registry.url),
        RegistrySettings(
            type="oci", url=locked.url, username_env="REG_USER", password_env="REG_PASS"
        ),
        RegistrySettings(
            type="oci", url=locked.url, username_env="NOT_SET", password_env="REG_PASS"
        ),
    )

    checks = oci.doctor_checks(config)

    assert [(name, ok) for name, ok, _ in checks] == [
        (f"registry oci {open_registry.url}", True),
        (f"registry oci {locked.url}", False),
        (f"registry oci {locked.url}", False),
    ]
    assert "check the credentials" in checks[1][2]
    assert checks[2][2] == "set NOT_SET (named in the config)"


def test_imagetrail_run_with_one_registry_links_the_attested_image(
    start_registry: Callable[..., RegistryServer], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from etl.cli import cli

    registry = start_registry()
    estate = Estate()
    estate.push(Pusher(registry.url))
    export = tmp_path / "export" / "github" / "contoso" / "api"
    export.mkdir(parents=True)
    runs = json.loads((DATA / "github-runs.json").read_text())
    (export / "runs.json").write_text(json.dumps(runs))
    config = tmp_path / "imagetrail.toml"
    config.write_text(
        f'[warehouse]\npath = "{tmp_path / "w.duckdb"}"\n'
        f'[reports]\nout = "{tmp_path / "out"}"\n'
        f'[[registry]]\ntype = "oci"\nurl = "{registry.url}"\n'
        f'[[export]]\npath = "{tmp_path / "export"}"\n'
    )

    outcome = CliRunner().invoke(cli, ["run", "--config", str(config)])

    assert outcome.exit_code == 0, outcome.output
    wh = Warehouse(tmp_path / "w.duckdb", read_only=True)
    try:
        mapped = rows(
            wh,
            "SELECT m.digest, m.status, m.method, r.run_id, r.attempt "
            "FROM image_mapping m LEFT JOIN ci_runs r USING (run_key) "
            "WHERE m.repository = 'contoso/api' AND m.kind IN ('index', 'image')",
        )
        kinds = rows(wh, "SELECT kind, count(*) FROM images GROUP BY kind")
    finally:
        wh.close()
    assert mapped == {
        (estate.index.digest, "mapped", "attestation", 42, 2),
        (estate.amd64.digest, "mapped", "attestation", 42, 2),
        # Its Docker@2 labels name an Azure DevOps build this estate does not hold.
        (estate.arm64.digest, "unmapped", None, None, None),
    }
    assert kinds == {("index", 1), ("image", 3), ("attestation", 1), ("artifact", 3)}

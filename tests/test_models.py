"""The SQL models on hand-made raw rows: each rung of the evidence ladder, the owner
chain, and the remediation rows a report reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.config import sample_settings
from etl.pipeline import transform
from etl.warehouse import Warehouse

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
REG = "contosoacr.azurecr.io"


def d(ch: str) -> str:
    return "sha256:" + ch * 64


def sha(ch: str) -> str:
    return ch * 40


def gh_run(n: int, repo: str, commit: str, **kw: Any) -> dict[str, Any]:
    row = {
        "run_key": f"github/github.com/{repo}/{n}/1",
        "system": "github",
        "host": "github.com",
        "repo": repo,
        "repo_url": f"https://github.com/{repo}",
        "pipeline": ".github/workflows/build.yml",
        "run_id": n,
        "run_number": str(n),
        "attempt": 1,
        "commit_sha": commit,
        "commit_author": "Ann Dev <ann@contoso.example>",
        "requested_for": "ann",
        "started_at": T0,
        "finished_at": T0 + timedelta(minutes=10),
        "web_url": f"https://github.com/{repo}/actions/runs/{n}",
    }
    row.update(kw)
    return row


def push(
    run: dict[str, Any], image: str, tag: str | None, digest: str | None, **kw: Any
) -> dict[str, Any]:
    row = {
        "run_key": run["run_key"],
        "job": "build",
        "line_no": 7,
        "tool": "docker",
        "image": image,
        "tag": tag,
        "digest": digest,
        "pushed": True,
        "evidence": f"{tag}: digest: {digest}",
    }
    row.update(kw)
    return row


def image(repo: str, digest: str, **kw: Any) -> dict[str, Any]:
    row = {
        "registry": REG,
        "repository": repo,
        "digest": digest,
        "kind": "image",
        "pushed_at": T0 + timedelta(minutes=5),
    }
    row.update(kw)
    return row


def tag(repo: str, name: str, digest: str) -> dict[str, Any]:
    return {
        "registry": REG,
        "repository": repo,
        "tag": name,
        "digest": digest,
        "observed_at": T0 + timedelta(days=1),
    }


def load(wh: Warehouse, source: str, **tables: list[dict[str, Any]]) -> None:
    sweep = wh.begin_sweep("job", source, f"test:{source}")
    for table, rows in tables.items():
        sweep.add(table, rows)
    wh.commit_sweep(sweep)


def mapping(wh: Warehouse) -> dict[str, dict[str, Any]]:
    rows = wh.records("SELECT * FROM remediation")
    return {r["repository"] + "@" + r["digest"][7:9]: r for r in rows}


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """One raw estate that exercises every rung; see each test for the story."""
    wh = Warehouse(tmp_path_factory.mktemp("estate") / "models.duckdb")
    fill_estate(wh)
    transform(wh, sample_settings())
    yield wh
    wh.close()


def fill_estate(fresh_db: Warehouse) -> None:
    api1 = gh_run(1, "contoso/api", sha("1"))
    api2 = gh_run(
        2,
        "contoso/api",
        sha("2"),
        started_at=T0 + timedelta(days=1),
        finished_at=T0 + timedelta(days=1, minutes=10),
    )
    web = gh_run(3, "contoso/web", sha("3"), commit_author=None, requested_for="bob")
    web_b = gh_run(4, "contoso/web-b", sha("4"))
    tool = gh_run(5, "contoso/tools", sha("5"))
    ado = {
        "run_key": "azure_devops/dev.azure.com/contoso/Payments/101/1",
        "system": "azure_devops",
        "repo": "contoso/Payments/pay",
        "repo_url": "https://dev.azure.com/contoso/Payments/_git/pay",
        "pipeline": "pay-ci",
        "run_id": 101,
        "run_number": "20240501.1",
        "attempt": 1,
        "commit_sha": sha("a"),
        "requested_for": "carol@contoso.example",
        "started_at": T0,
        "finished_at": T0 + timedelta(minutes=9),
        "web_url": "https://dev.azure.com/contoso/Payments/_build/results?buildId=101",
    }
    load(
        fresh_db,
        "github",
        ci_runs=[api1, api2, web, web_b, tool, ado],
        push_events=[
            # log-digest via a masked host; the Dockerfile picks the CODEOWNERS rule.
            push(
                api1,
                "***.azurecr.io/api",
                "1.4",
                d("a"),
                dockerfile="/home/runner/work/api/api/services/api/Dockerfile",
            ),
            push(api2, "***.azurecr.io/api", "1.4", d("b")),
            # tag-time: no digest printed.
            push(web, f"{REG}/web", "2.0", None),
            # ambiguous: two runs pushed shared:latest in the same window, no digest.
            push(web, f"{REG}/shared", "latest", None),
            push(web_b, f"{REG}/shared", "latest", None),
            # oci-labels and tag-commit need a push of the repository without digest.
            push(tool, f"{REG}/tools", None, None, pushed=None),
            # the index of a multi-arch image.
            push(api1, f"{REG}/multi", "1", d("m")),
        ],
    )
    load(
        fresh_db,
        "acr",
        images=[
            image("api", d("a"), config_digest=d("0")),
            image("api", d("b")),
            image("web", d("w")),
            image("shared", d("s")),
            image("tools", d("t")),
            image("tools", d("c")),
            image("pay", d("p")),
            image("byhand", d("h")),
            image("multi", d("m"), kind="index"),
            image(
                "multi",
                d("n"),
                parent_digest=d("m"),
                platform="linux/amd64",
                pushed_at=None,
            ),
        ],
        image_tags=[
            tag("api", "1.4", d("b")),
            tag("web", "2.0", d("w")),
            tag("shared", "latest", d("s")),
            tag("tools", "sha-" + sha("5")[:7], d("c")),
            tag("multi", "1", d("m")),
            tag("byhand", "x", d("h")),
        ],
        provenance=[
            {
                "subject_digest": d("t"),
                "kind": "oci-labels",
                "source_repo": "https://github.com/contoso/tools.git",
                "commit_sha": sha("5"),
                "evidence": "labels",
            },
            {
                "subject_digest": d("p"),
                "kind": "ado-labels",
                "run_id": 101,
                "source_repo": "https://dev.azure.com/contoso/Payments/_git/pay",
                "commit_sha": sha("a"),
                "evidence": "label com.azure.dev.image.build.builduri=vstfs:///Build/Build/101",
            },
        ],
    )
    load(
        fresh_db,
        "owners",
        owner_rules=[
            {
                "kind": "override",
                "pattern": f"{REG}/byhand*",
                "owners": "legacy-team",
                "file": "owners.toml",
                "line": 1,
            },
            {
                "kind": "override",
                "pattern": "contoso/tools",
                "owners": "tools-oncall",
                "file": "owners.toml",
                "line": 2,
            },
            {
                "repo": "contoso/api",
                "kind": "codeowners",
                "pattern": "*",
                "owners": "@contoso/platform",
                "file": "CODEOWNERS",
                "line": 1,
            },
            {
                "repo": "contoso/api",
                "kind": "codeowners",
                "pattern": "/services/api/",
                "owners": "@contoso/payments",
                "file": "CODEOWNERS",
                "line": 3,
            },
            {
                "repo": "contoso/Payments/pay",
                "kind": "catalog",
                "pattern": "*",
                "owners": "group:payments",
                "file": "catalog-info.yaml",
            },
        ],
    )
    load(
        fresh_db,
        "kubernetes",
        workloads=[
            {
                "cluster": "aks",
                "namespace": "prod",
                "owner_kind": "Deployment",
                "owner_name": "api",
                "container": "api",
                "image": f"{REG}/api",
                "digest": d("a"),
                "exposure": "load-balancer",
                "exposure_reason": "Service prod/api type LoadBalancer",
                "labels": {"team": "api-team"},
            },
            {
                "cluster": "aks",
                "namespace": "prod",
                "owner_kind": "Deployment",
                "owner_name": "multi",
                "container": "m",
                "image": f"{REG}/multi",
                "digest": d("m"),
                "exposure": "node-port",
                "labels": {},
            },
            {
                "cluster": "aks",
                "namespace": "web",
                "owner_kind": "Deployment",
                "owner_name": "web",
                "container": "web",
                "image": f"{REG}/web",
                "digest": d("w"),
                "exposure": "none",
                "labels": {},
            },
        ],
    )
    load(
        fresh_db,
        "scanner",
        findings=[
            # The scanner names the platform child; the pod runs the index.
            {
                "digest": d("n"),
                "image": f"{REG}/multi",
                "scanner": "trivy",
                "vuln_id": "CVE-1",
                "severity": "CRITICAL",
                "package": "openssl",
                "fixed_version": "3.0.2",
            },
            # Named only by config digest (image ID).
            {
                "config_digest": d("0"),
                "scanner": "trivy",
                "vuln_id": "CVE-2",
                "severity": "HIGH",
                "package": "zlib",
            },
            {
                "config_digest": d("0"),
                "scanner": "grype",
                "vuln_id": "CVE-2",
                "severity": "HIGH",
                "package": "zlib",
            },
        ],
    )


@pytest.mark.parametrize(
    ("key", "status", "method", "run_id"),
    [
        ("api@aa", "mapped", "log-digest", 1),
        ("api@bb", "mapped", "log-digest", 2),
        ("web@ww", "mapped", "tag-time", 3),
        ("shared@ss", "ambiguous", "tag-time", None),
        ("tools@tt", "mapped", "oci-labels", 5),
        ("tools@cc", "mapped", "tag-commit", 5),
        ("pay@pp", "mapped", "ado-labels", 101),
        ("byhand@hh", "unmapped", None, None),
        ("multi@mm", "mapped", "log-digest", 1),
    ],
    ids=lambda v: str(v),
)
def test_each_rung_maps_its_image(
    estate: Warehouse, key: str, status: str, method: str | None, run_id: int | None
) -> None:
    row = mapping(estate)[key]
    assert (row["status"], row["method"]) == (status, method)
    assert row["run_key"] == (
        None
        if run_id is None
        else next(
            r["run_key"]
            for r in estate.records("SELECT * FROM ci_runs")
            if r["run_id"] == run_id
        )
    )


def test_ambiguous_names_both_runs_and_picks_none(estate: Warehouse) -> None:
    row = mapping(estate)["shared@ss"]
    assert len(row["candidate_runs"]) == 2
    assert "2 runs match equally on tag-time" in row["reason"]
    assert row["run_url"] is None


def test_unmapped_image_says_why_and_how_to_fix(estate: Warehouse) -> None:
    row = mapping(estate)["byhand@hh"]
    assert "pushed by hand" in row["reason"]
    assert "org.opencontainers.image.source" in row["fix"]


def test_platform_child_inherits_the_index_link(estate: Warehouse) -> None:
    child = estate.records(
        "SELECT status, method, run_key FROM image_mapping WHERE digest = ?", [d("n")]
    )[0]
    assert child["status"] == "mapped"
    assert child["run_key"] == "github/github.com/contoso/api/1/1"


@pytest.mark.parametrize(
    ("key", "owner", "source", "reason_part"),
    [
        ("byhand@hh", "legacy-team", "override", "override file owners.toml"),
        ("tools@tt", "tools-oncall", "override", "maps contoso/tools"),
        ("pay@pp", "group:payments", "catalog", "spec.owner"),
        (
            "api@aa",
            "@contoso/payments",
            "codeowners",
            "CODEOWNERS line 3 (/services/api/) matches services/api/Dockerfile",
        ),
        ("api@bb", "@contoso/platform", "codeowners", "catch-all"),
        # The run names one Dockerfile only, so it is taken for both its images.
        ("multi@mm", "@contoso/payments", "codeowners", "matches services/api/"),
        ("shared@ss", None, None, None),
        ("web@ww", "bob", "requester", "requested"),
    ],
    ids=lambda v: str(v),
)
def test_owner_chain_takes_the_first_answer(
    estate: Warehouse,
    key: str,
    owner: str | None,
    source: str | None,
    reason_part: str | None,
) -> None:
    row = mapping(estate)[key]
    assert (row["owner"], row["owner_source"]) == (owner, source)
    if reason_part:
        assert reason_part in row["owner_reason"]


def test_findings_reach_the_image_that_runs(estate: Warehouse) -> None:
    rows = mapping(estate)
    multi, api = rows["multi@mm"], rows["api@aa"]
    assert (multi["critical"], multi["fixable"], multi["exposure"]) == (
        1,
        1,
        "node-port",
    )
    # The same CVE from two scanners counts once.
    assert (api["high"], api["exposure"], api["exposed"]) == (1, "load-balancer", True)
    assert rows["web@ww"]["exposed"] is False


def test_threshold_drops_weak_links(fresh_db: Warehouse) -> None:
    fill_estate(fresh_db)
    settings = sample_settings()
    settings.threshold = 0.7
    transform(fresh_db, settings)
    row = mapping(fresh_db)["web@ww"]
    assert row["status"] == "unmapped"
    assert "below the mapping threshold 0.7" in row["reason"]


def test_no_label_keys_means_no_label_owners(fresh_db: Warehouse) -> None:
    fill_estate(fresh_db)
    settings = sample_settings()
    settings.owners.labels = []
    transform(fresh_db, settings)
    assert mapping(fresh_db)["api@aa"]["owner_source"] == "codeowners"

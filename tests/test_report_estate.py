"""The small estate the report tests render, and a check that it maps as they assume.

It goes through the real loader (sweeps) and the real SQL models, so the reports read
exactly the tables the nightly job builds. Two jobs run: in the second the aks-dev
cluster (FLAKY) fails, so its rows from the first are kept and the report must say so.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from etl import pipeline
from etl.config import OwnerSettings, Settings
from etl.errors import SourceError
from etl.sources import Extracted, Scope, SweepContext
from etl.warehouse import Warehouse

Rows = list[dict[str, Any]]

ACR = "contosoacr.azurecr.io"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
T0 = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
INJECTED_TAG = '<script>window.__pwned=1</script>"x'
AKS_DEV_ERROR = (
    "kubernetes aks-dev: 401 Unauthorized from https://aks-dev.hcp.westeurope"
    ".azmk8s.io; refresh the kubeconfig credentials"
)
FLAKY = "kubernetes aks-dev"
PAYMENTS = "@contoso/payments-oncall"
GH = "https://github.com/contoso"
ADO = "https://dev.azure.com/contoso/Payments/_build/results?buildId="

# fmt: off
# name: (system, repo, pipeline, run id, run number, commit, commit author, web URL)
RUNS = {
    "api-412": ("github", "contoso/payments-api", ".github/workflows/api-ci.yml",
                9001, "412", "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a",
                "dev-one@contoso.example", f"{GH}/payments-api/actions/runs/9001"),
    "api-413": ("github", "contoso/payments-api", ".github/workflows/api-ci.yml",
                9002, "413", "77aa9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0b",
                "dev-one@contoso.example", f"{GH}/payments-api/actions/runs/9002"),
    "checkout-77": ("azure_devops", "contoso/Payments/checkout", "checkout-ci",
                    77, "20240502.3", "c0ffee1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0c",
                    "bob@contoso.example", f"{ADO}77"),
    # A web URL that must never become a link.
    "worker-78": ("azure_devops", "contoso/Payments/worker", "worker-ci",
                  78, "20240502.4", "beef001e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0d",
                  "bob@contoso.example", "javascript:alert(document.domain)"),
    "web-5001": ("github", "contoso/web", ".github/workflows/build.yml",
                 5001, "88", "aaaa111e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0e",
                 "cy@contoso.example", f"{GH}/web/actions/runs/5001"),
    "web-5002": ("github", "contoso/web", ".github/workflows/release.yml",
                 5002, "12", "aaaa111e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0e",
                 "cy@contoso.example", f"{GH}/web/actions/runs/5002"),
    "tools-7001": ("github", "contoso/tools", ".github/workflows/tools.yml",
                   7001, "5", "dddd111e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0f",
                   "ann@contoso.example", f"{GH}/tools/actions/runs/7001"),
}

# name: (registry, repository, tags, runs whose log printed its digest, log line)
IMAGES = {
    "api-a": (ACR, "payments/api", ["1.4.0"], ["api-412"],
              "1.4.0: digest: {d} size: 1570"),
    "api-b": (ACR, "payments/api", ["1.5.0", INJECTED_TAG], ["api-413"],
              "1.5.0: digest: {d} size: 1570"),
    "checkout-e": (ACR, "payments/checkout", ["20240502.3"], ["checkout-77"],
                   "20240502.3: digest: {d} size: 2204"),
    "worker-c": (ACR, "payments/worker", ["2.0.1"], ["worker-78"],
                 '2024-05-02T09:10:00Z | 2.0.1: digest: {d} "quoted" <b>bold</b>'),
    "batch-d": (ACR, "payments/batch", ["0.9"], ["api-413"],
                "0.9: digest: {d} size: 990"),
    "web-w": (ECR, "web/frontend", ["v3"], ["web-5001", "web-5002"],
              "v3: digest: {d} size: 3000"),
    "tools-f": (ECR, "tools/reporter", ["1.0"], ["tools-7001"],
                "1.0: digest: {d} size: 500"),
    "tools-h": (ECR, "tools/cli", ["1.0"], ["tools-7001"],
                "1.0: digest: {d} size: 400"),
    "legacy-g": (ACR, "legacy/tool", ["latest"], [], ""),
}

# image: [(vuln id, severity, cvss, package, installed, fixed)]
FINDINGS = {
    "api-a": [("CVE-2024-0001", "CRITICAL", 9.8, "openssl", "3.0.1", None)],
    "api-b": [("CVE-2024-0002", "CRITICAL", 9.1, "zlib", "1.2.11", "1.2.13"),
              ("CVE-2024-0003", "CRITICAL", 9.0, "glibc", "2.31", None),
              ("CVE-2024-0004", "MEDIUM", 5.0, "curl", "7.1", "7.2")],
    "checkout-e": [("CVE-2024-0005", "CRITICAL", 9.3, "log4j", "2.14", "2.17")],
    "worker-c": [("CVE-2024-0006", "HIGH", 7.5, "libxml2|dev", "2.9", "2.10")],
    "batch-d": [("CVE-2024-0007", "MEDIUM", 5.3, "bash", "5.0", "5.1")],
    "web-w": [("CVE-2024-0008", "HIGH", 8.1, "nginx", "1.20", "1.22")],
    "tools-f": [("CVE-2024-0009", "LOW", 2.0, "tar", "1.30", None)],
    "legacy-g": [("CVE-2024-0010", "CRITICAL", 9.9, "struts", "2.3", "2.5")],
}

# (cluster, namespace, workload, image, exposure, why)
WORKLOADS = [
    ("aks-prod", "payments", "api-internal", "api-a", "none", "no Service"),
    ("aks-prod", "payments", "api", "api-b", "load-balancer",
     'Service "api-public" type LoadBalancer'),
    ("aks-prod", "payments", "worker", "worker-c", "ingress",
     'Ingress "worker" host worker.contoso.example'),
    ("aks-prod", "web", "frontend", "web-w", "node-port", 'Service "web" NodePort'),
    ("aks-dev", "legacy", "tool", "legacy-g", "none", "no Service"),
]

OVERRIDES = [
    ("contoso/payments-api", PAYMENTS),
    ("contoso/Payments/*", PAYMENTS),
    (f"{ACR}/legacy/*", "legacy-team"),
]
# fmt: on

# Owner slug -> its worklist in report order: criticals, then highs, then the rest;
# within each, a fix available first, then running exposed first.
EXPECTED_WORKLISTS = {
    "contoso-payments-oncall": ["api-b", "checkout-e", "api-a", "worker-c", "batch-d"],
    "legacy-team": ["legacy-g"],
    "unowned": ["web-w"],
    "ann-contoso.example": ["tools-f"],
}


def digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


NAME_BY_DIGEST = {digest(name): name for name in IMAGES}


def run_key(name: str) -> str:
    system, repo, _, run_id, *_ = RUNS[name]
    return f"{system}/{repo}/{run_id}/1"


def ci_run_rows(names: list[str]) -> Rows:
    rows = []
    for name in names:
        system, repo, workflow, run_id, number, commit, author, url = RUNS[name]
        rows.append(
            {
                "run_key": run_key(name),
                "system": system,
                "repo": repo,
                "repo_url": f"https://example.invalid/{repo}",
                "pipeline": workflow,
                "run_id": run_id,
                "run_number": number,
                "attempt": 1,
                "branch": "main",
                "commit_sha": commit,
                "commit_author": author,
                "requested_for": author,
                "status": "completed",
                "result": "succeeded",
                "started_at": T0,
                "finished_at": T0 + timedelta(minutes=20),
                "web_url": url,
            }
        )
    return rows


def push_rows(names: list[str]) -> Rows:
    return [
        {
            "run_key": run_key(run),
            "job": "build",
            "log_id": "1",
            "line_no": 40,
            "tool": "docker",
            "image": f"{registry}/{repository}",
            "tag": tags[0],
            "digest": digest(image),
            "pushed": True,
            "evidence": line.format(d=digest(image)),
        }
        for image, (registry, repository, tags, runs, line) in IMAGES.items()
        for run in runs
        if run in names
    ]


def registry_tables(registry: str) -> dict[str, Rows]:
    mine = {n: i for n, i in IMAGES.items() if i[0] == registry}
    images = [
        {
            "registry": registry,
            "repository": repository,
            "digest": digest(name),
            "kind": "image",
            "pushed_at": T0 + timedelta(minutes=10),
        }
        for name, (_, repository, *_) in mine.items()
    ]
    tags = [
        {
            "registry": registry,
            "repository": repository,
            "tag": tag,
            "digest": digest(name),
            "observed_at": T0 + timedelta(hours=1),
        }
        for name, (_, repository, image_tags, *_) in mine.items()
        for tag in image_tags
    ]
    return {"images": images, "image_tags": tags}


def workload_rows(cluster: str) -> Rows:
    rows = []
    for name, namespace, workload, image, exposure, why in WORKLOADS:
        if name != cluster:
            continue
        registry, repository, tags, *_ = IMAGES[image]
        rows.append(
            {
                "cluster": cluster,
                "namespace": namespace,
                "owner_kind": "Deployment",
                "owner_name": workload,
                "pod": f"{workload}-7d9f8-abcde",
                "container": workload,
                "image_ref": f"{registry}/{repository}:{tags[0]}",
                "image": f"{registry}/{repository}",
                "tag": tags[0],
                "digest": digest(image),
                "exposure": exposure,
                "exposure_reason": why,
            }
        )
    return rows


def finding_rows() -> Rows:
    return [
        {
            "digest": digest(image),
            "scanner": "trivy",
            "vuln_id": vuln,
            "severity": severity,
            "cvss": cvss,
            "package": package,
            "installed_version": installed,
            "fixed_version": fixed,
            "title": f"{package}: {vuln}",
        }
        for image, rows in FINDINGS.items()
        for vuln, severity, cvss, package, installed, fixed in rows
    ]


def override_rows() -> Rows:
    return [
        {
            "kind": "override",
            "pattern": glob,
            "owners": owner,
            "file": "owners.toml",
            "line": line,
        }
        for line, (glob, owner) in enumerate(OVERRIDES, start=1)
    ]


def estate_tables() -> dict[str, dict[str, Rows]]:
    """Rows per "source scope", the way the source modules would hand them over."""
    by_repo: dict[str, list[str]] = {}
    for name, (system, repo, *_) in RUNS.items():
        by_repo.setdefault(f"{system} {repo}", []).append(name)
    tables = {
        key: {"ci_runs": ci_run_rows(names), "push_events": push_rows(names)}
        for key, names in by_repo.items()
    }
    tables[f"acr {ACR}"] = registry_tables(ACR)
    tables[f"ecr {ECR}"] = registry_tables(ECR)
    tables["kubernetes aks-prod"] = {"workloads": workload_rows("aks-prod")}
    tables["kubernetes aks-dev"] = {"workloads": workload_rows("aks-dev")}
    tables["scanner trivy"] = {"findings": finding_rows()}
    tables["owners override:owners.toml"] = {"owner_rules": override_rows()}
    return tables


def _scope(key: str, rows: dict[str, Rows], fails: bool) -> Scope:
    source, scope = key.split(" ", 1)

    def extract(ctx: SweepContext) -> Extracted:
        if fails:
            raise SourceError(AKS_DEV_ERROR)
        return Extracted(tables=rows)

    return Scope(source=source, scope=scope, extract=extract)


def build_estate(path: Path) -> Warehouse:
    """A job that loads the aks-dev cluster, then one that sweeps all and it fails."""
    wh = Warehouse(path)
    tables = estate_tables()
    first = pipeline.RunResult(job_id="job-one")
    pipeline.sweep_scope(wh, _scope(FLAKY, tables[FLAKY], False), first)
    second = pipeline.RunResult(job_id="job-two")
    for key, rows in tables.items():
        pipeline.sweep_scope(wh, _scope(key, rows, key == FLAKY), second)
    settings = Settings(
        warehouse_path=path,
        reports_out=path.parent / "out",
        owners=OwnerSettings(labels=["team"]),
    )
    pipeline.transform(wh, settings)
    return wh


def test_estate_maps_as_the_report_tests_assume(tmp_path: Path) -> None:
    wh = build_estate(tmp_path / "estate.duckdb")
    try:
        rows = wh.records("SELECT digest, status, owner, owner_source FROM remediation")
    finally:
        wh.close()
    assert {
        (NAME_BY_DIGEST[r["digest"]], r["status"], r["owner"], r["owner_source"])
        for r in rows
    } == {
        ("api-a", "mapped", PAYMENTS, "override"),
        ("api-b", "mapped", PAYMENTS, "override"),
        ("checkout-e", "mapped", PAYMENTS, "override"),
        ("worker-c", "mapped", PAYMENTS, "override"),
        ("batch-d", "mapped", PAYMENTS, "override"),
        ("web-w", "ambiguous", None, None),
        ("tools-f", "mapped", "ann@contoso.example", "commit-author"),
        ("tools-h", "mapped", "ann@contoso.example", "commit-author"),
        ("legacy-g", "unmapped", "legacy-team", "override"),
    }

"""Live Kubernetes sweeps: the real client against a fake API server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from urllib3.util.retry import Retry

from etl.config import ClusterSettings, Settings
from etl.errors import InputError, SourceError
from etl.sources import SweepContext
from etl.sources import kubernetes as k8s
from tests.fakes.kubernetes import FakeKubeApi, write_kubeconfig

DATA = Path(__file__).resolve().parent.parent / "data" / "kubernetes"
SHOP = k8s.read_export(DATA / "shop.json")


def settings_for(kubeconfig: Path, contexts: list[str] | None = None) -> Settings:
    return Settings(
        warehouse_path=kubeconfig.parent / "w.duckdb",
        reports_out=kubeconfig.parent / "out",
        clusters=[ClusterSettings(str(kubeconfig), contexts or [])],
    )


def row_facts(rows: list[dict]) -> set[tuple]:
    return {
        (
            r["cluster"],
            r["namespace"],
            r["pod"],
            r["container"],
            r["owner_kind"],
            r["owner_name"],
            r["image"],
            r["tag"],
            r["digest"],
            r["exposure"],
            r["exposure_reason"],
        )
        for r in rows
    }


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeKubeApi:
    return FakeKubeApi(httpserver, SHOP, page_size=3)


@pytest.fixture
def kubeconfig(tmp_path: Path, fake: FakeKubeApi) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})


def test_live_rows_equal_the_export_rows(kubeconfig: Path) -> None:
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    extracted = scope.extract(SweepContext())
    assert (scope.source, scope.scope) == ("kubernetes", "context:aks-prod")
    assert extracted.problems == []
    assert row_facts(extracted.tables["workloads"]) == row_facts(
        k8s.workload_rows("aks-prod", SHOP)
    )


def test_pod_list_is_read_page_by_page(kubeconfig: Path, fake: FakeKubeApi) -> None:
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    rows = scope.extract(SweepContext()).tables["workloads"]
    pod_requests = fake.requests("Pod")
    # 8 pods in pages of 3: the first call has no token, the rest follow it.
    assert [r.args.get("continue") for r in pod_requests] == [None, "3", "6"]
    assert {r.args.get("limit") for r in pod_requests} == {str(k8s.PAGE_SIZE)}
    assert {r["pod"] for r in rows} == {
        r["pod"] for r in k8s.workload_rows("aks-prod", SHOP)
    }


def test_every_context_is_swept_unless_contexts_are_named(
    tmp_path: Path, fake: FakeKubeApi
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", {"aks-prod": fake.url, "aks-dev": fake.url}
    )
    every = k8s.live_scopes(settings_for(kubeconfig))
    named = k8s.live_scopes(settings_for(kubeconfig, ["aks-dev"]))
    assert [s.scope for s in every] == ["context:aks-prod", "context:aks-dev"]
    assert [s.scope for s in named] == ["context:aks-dev"]
    rows = named[0].extract(SweepContext()).tables["workloads"]
    assert {r["cluster"] for r in rows} == {"aks-dev"}


def test_missing_gateway_api_is_skipped_quietly(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    fake = FakeKubeApi(httpserver, SHOP, gateway_api=False)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    extracted = scope.extract(SweepContext())
    exposure = {r["pod"]: r["exposure"] for r in extracted.tables["workloads"]}
    assert extracted.problems == []
    assert exposure["cart-5c6d7e8f94-q8w7e"] == "none"  # only an HTTPRoute reached it
    assert exposure["web-7d9f8b6c5d-x2k9p"] == "ingress"


def test_forbidden_resource_fails_the_context_with_the_missing_verb(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    fake = FakeKubeApi(httpserver, SHOP, forbidden={"Service"})
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    with pytest.raises(SourceError) as err:
        scope.extract(SweepContext())
    message = str(err.value)
    assert "'aks-prod'" in message
    assert "RBAC verb 'list' on 'services'" in message
    assert "--verb=list --resource=services" in message
    assert "\n" not in message


def test_forbidden_gateway_routes_load_the_rest_with_a_problem(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    fake = FakeKubeApi(httpserver, SHOP, forbidden={"HTTPRoute"})
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    extracted = scope.extract(SweepContext())
    assert len(extracted.tables["workloads"]) == 8
    (problem,) = extracted.problems
    assert "'httproutes'" in problem
    assert "Gateway API exposure not computed" in problem


def test_rejected_token_is_a_one_line_source_error(
    tmp_path: Path, fake: FakeKubeApi
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", {"aks-prod": fake.url}, token="expired"
    )
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    with pytest.raises(SourceError, match=r"rejected the credentials \(HTTP 401\)"):
        scope.extract(SweepContext())


def test_unknown_context_fails_only_its_own_scope(
    tmp_path: Path, fake: FakeKubeApi
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    prod, qa = k8s.live_scopes(settings_for(kubeconfig, ["aks-prod", "aks-qa"]))
    assert (prod.scope, qa.scope) == ("context:aks-prod", "context:aks-qa")
    assert len(prod.extract(SweepContext()).tables["workloads"]) == 8
    with pytest.raises(InputError, match="no context named aks-qa; it has aks-prod"):
        qa.extract(SweepContext())


def test_missing_kubeconfig_fails_its_scope(tmp_path: Path) -> None:
    (scope,) = k8s.live_scopes(settings_for(tmp_path / "nope"))
    assert scope.scope == f"kubeconfig:{tmp_path / 'nope'}"
    with pytest.raises(InputError, match="cannot read it"):
        scope.extract(SweepContext())


def test_unreachable_server_is_a_one_line_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k8s, "RETRIES", Retry(total=0))  # fail at once, no backoff
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", {"aks-prod": f"http://127.0.0.1:{closed_port}"}
    )
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    with pytest.raises(SourceError) as err:
        scope.extract(SweepContext())
    message = str(err.value)
    assert message.startswith("cluster context 'aks-prod': cannot reach the API server")
    assert "\n" not in message


def test_garbled_kubeconfig_fails_its_scope(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n  - {name: x\n")
    (scope,) = k8s.live_scopes(settings_for(kubeconfig))
    with pytest.raises(InputError) as err:
        scope.extract(SweepContext())
    assert str(err.value).startswith(f"kubeconfig {kubeconfig}: cannot read it (")
    assert "\n" not in str(err.value)


def test_doctor_reports_each_context(httpserver: HTTPServer, tmp_path: Path) -> None:
    fake = FakeKubeApi(httpserver, SHOP, forbidden={"Job"}, gateway_api=False)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    ((name, ok, message),) = k8s.doctor_checks(settings_for(kubeconfig))
    assert (name, ok) == ("kubernetes context aks-prod", False)
    assert "--verb=list --resource=jobs" in message


def test_doctor_passes_and_notes_a_missing_gateway_api(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    fake = FakeKubeApi(httpserver, SHOP, gateway_api=False)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"aks-prod": fake.url})
    assert k8s.doctor_checks(settings_for(kubeconfig)) == [
        (
            "kubernetes context aks-prod",
            True,
            "can list namespaces, pods, replicasets, jobs, services, ingresses; "
            "no httproutes API (Gateway API not installed); "
            "no gateways API (Gateway API not installed)",
        )
    ]
    assert {r.args.get("limit") for r in fake.requests("Pod")} == {"1"}

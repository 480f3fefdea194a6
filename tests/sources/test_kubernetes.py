"""Kubernetes workloads from kubectl exports: owners, digests, exposure, labels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from etl.errors import InputError
from etl.sources import SweepContext
from etl.sources import kubernetes as k8s
from etl.warehouse import Warehouse

DATA = Path(__file__).resolve().parent.parent / "data" / "kubernetes"


def export_dir(tmp_path: Path, **files: Path | str | bytes) -> Path:
    """An export folder whose kubernetes/ holds the given files (name -> source)."""
    folder = tmp_path / "export" / "kubernetes"
    folder.mkdir(parents=True)
    for name, source in files.items():
        target = folder / f"{name}.json"
        if isinstance(source, Path):
            shutil.copy(source, target)
        elif isinstance(source, bytes):
            target.write_bytes(source)
        else:
            target.write_text(source)
    return folder.parent


def extract(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        scope.scope: scope.extract(SweepContext()).tables["workloads"]
        for scope in k8s.export_scopes(root)
    }


# -- the real case: kubectl PodList from a docker-runtime cluster --------------

CASE40_PODS = {
    # (namespace, pod, container, image, tag, digest) from oracle.json export.pods
    (
        "kube-system",
        "skipper-ingress-03zmn",
        "skipper-ingress",
        "registry.example.com/platform/skipper",
        "v0.9.120",
        "sha256:65e409ae5b2d553181bd086cc59aaaaa19c9b5b6e9aadd3c7b8122606f03744a",
    ),
    (
        "kube-system",
        "skipper-ingress-6dk5n",
        "skipper-ingress",
        "registry.example.com/platform/skipper",
        "v0.9.120",
        "sha256:65e409ae5b2d553181bd086cc59aaaaa19c9b5b6e9aadd3c7b8122606f03744a",
    ),
}
CASE40_FORBIDDEN = (
    "fe69c8b4ec6e2f99aa4177a8ce759aba25edb505689f0ba8ec48cd948c146f7a",
    "d1f8f9e1dd2bbd33e871f50b442fd236bb3e43071e4a3b5451e5f7a311c25e19",
)


def test_case40_pods_run_the_docker_pullable_repo_digest(tmp_path: Path) -> None:
    root = export_dir(tmp_path, edge=DATA / "case40-podlist-docker-pullable.json")
    rows = extract(root)["export:kubernetes/edge"]
    got = {
        (r["namespace"], r["pod"], r["container"], r["image"], r["tag"], r["digest"])
        for r in rows
    }
    assert got == CASE40_PODS
    assert {(r["cluster"], r["owner_kind"], r["owner_name"]) for r in rows} == {
        ("edge", "DaemonSet", "skipper-ingress")
    }


def test_case40_container_ids_never_appear(tmp_path: Path) -> None:
    root = export_dir(tmp_path, edge=DATA / "case40-podlist-docker-pullable.json")
    text = json.dumps(extract(root))
    for container_id in CASE40_FORBIDDEN:
        assert container_id not in text


def test_case40_host_port_pods_are_exposed_on_the_node(tmp_path: Path) -> None:
    root = export_dir(tmp_path, edge=DATA / "case40-podlist-docker-pullable.json")
    rows = extract(root)["export:kubernetes/edge"]
    assert {(r["pod"], r["exposure"], r["exposure_reason"]) for r in rows} == {
        (p, "node-port", f"Pod kube-system/{p} hostPort 9999")
        for p in ("skipper-ingress-03zmn", "skipper-ingress-6dk5n")
    }


# -- the invented estate: every owner, digest and exposure path ----------------

D = "sha256:{}".format
SHOP_ROWS = {
    # pod, container, owner, image, tag, digest, exposure
    (
        "web-7d9f8b6c5d-x2k9p",
        "migrate",
        "Deployment/web",
        "contoso.azurecr.io/shop/migrate",
        "1.4.0",
        D("2e" * 32),
        "ingress",
    ),
    (
        "web-7d9f8b6c5d-x2k9p",
        "web",
        "Deployment/web",
        "contoso.azurecr.io/shop/web",
        "1.4.0",
        D("1f" * 32),
        "ingress",
    ),
    (
        "cart-5c6d7e8f94-q8w7e",
        "cart",
        "Deployment/cart",
        "contoso.azurecr.io/shop/cart",
        None,
        D("3d" * 32),
        "gateway",
    ),
    (
        "api-0",
        "api",
        "StatefulSet/api",
        "docker.io/contoso/payments-api",
        "2.0",
        D("5b" * 32),
        "load-balancer",
    ),
    (
        "worker-6f7c8d9b5-k1l2m",
        "worker",
        "Deployment/worker",
        "docker.io/library/nginx",
        "latest",
        D("6a" * 32),
        "none",
    ),
    (
        "report-28599040-q7x8z",
        "report",
        "CronJob/report",
        "contoso.azurecr.io/batch/report",
        "2024.05",
        D("79" * 32),
        "none",
    ),
    (
        "debug",
        "shell",
        "Pod/debug",
        "docker.io/library/busybox",
        "1.36",
        None,
        "node-port",
    ),
    (
        "legacy",
        "app",
        "Pod/legacy",
        "registry.example.com:5000/legacy/app",
        "v3",
        D("97" * 32),
        "load-balancer",
    ),
}


def shop_rows() -> list[dict[str, Any]]:
    return k8s.workload_rows("shop", k8s.read_export(DATA / "shop.json"))


def test_shop_rows_name_owner_image_digest_and_exposure() -> None:
    got = {
        (
            r["pod"],
            r["container"],
            f"{r['owner_kind']}/{r['owner_name']}",
            r["image"],
            r["tag"],
            r["digest"],
            r["exposure"],
        )
        for r in shop_rows()
    }
    assert got == SHOP_ROWS


def test_evicted_pods_are_left_out_but_finished_job_pods_stay() -> None:
    pods = {r["pod"] for r in shop_rows()}
    assert "loader-55d4c3b2a1-zz9yy" not in pods
    assert "report-28599040-q7x8z" in pods


@pytest.mark.parametrize(
    ("pod", "reason"),
    [
        ("api-0", "Service payments/api type LoadBalancer 203.0.113.7"),
        (
            "worker-6f7c8d9b5-k1l2m",
            "Service payments/worker is an internal load balancer",
        ),
        (
            "web-7d9f8b6c5d-x2k9p",
            "Ingress shop/web (shop.example.com) routes to Service shop/web",
        ),
        (
            "cart-5c6d7e8f94-q8w7e",
            "HTTPRoute shop/storefront via Gateway infra/public 203.0.113.30 "
            "routes to Service shop/cart",
        ),
        ("debug", "Service infra/debug type NodePort 31080"),
        ("legacy", "Service infra/legacy externalIPs 198.51.100.20"),
        ("report-28599040-q7x8z", "no Service selects this pod"),
    ],
    ids=[
        "public-lb",
        "internal-lb",
        "ingress",
        "gateway",
        "nodeport",
        "external-ip",
        "none",
    ],
)
def test_exposure_reason_names_the_winning_path(pod: str, reason: str) -> None:
    reasons = {r["pod"]: r["exposure_reason"] for r in shop_rows()}
    assert reasons[pod] == reason


def test_labels_merge_pod_over_namespace() -> None:
    labels = {(r["pod"], r["container"]): r["labels"] for r in shop_rows()}
    assert labels[("web-7d9f8b6c5d-x2k9p", "web")] == {
        "kubernetes.io/metadata.name": "shop",
        "team": "web-team",
        "app": "web",
        "pod-template-hash": "7d9f8b6c5d",
    }
    assert labels[("api-0", "api")]["team"] == "payments"


def test_without_namespaces_only_pod_labels_are_kept(tmp_path: Path) -> None:
    doc = json.loads((DATA / "shop.json").read_text())
    doc["items"] = [i for i in doc["items"] if i["kind"] != "Namespace"]
    root = export_dir(tmp_path, shop=json.dumps(doc))
    rows = extract(root)["export:kubernetes/shop"]
    labels = {r["pod"]: r["labels"] for r in rows}
    assert labels["api-0"] == {
        "app": "api",
        "statefulset.kubernetes.io/pod-name": "api-0",
    }


def test_image_ref_is_kept_as_written_in_the_spec() -> None:
    refs = {r["pod"]: r["image_ref"] for r in shop_rows()}
    assert refs["api-0"] == "contoso/payments-api:2.0"
    assert refs["worker-6f7c8d9b5-k1l2m"] == "nginx"


def test_rows_load_into_the_warehouse(fresh_db: Warehouse, tmp_path: Path) -> None:
    root = export_dir(tmp_path, shop=DATA / "shop.json")
    (scope,) = k8s.export_scopes(root)
    sweep = fresh_db.begin_sweep("job-1", scope.source, scope.scope)
    for table, rows in scope.extract(SweepContext()).tables.items():
        sweep.add(table, rows)
    fresh_db.commit_sweep(sweep)
    got = fresh_db.con.execute(
        "SELECT cluster, namespace, owner_kind || '/' || owner_name, container, "
        "exposure, labels->>'team' FROM workloads WHERE scope = ? "
        "AND namespace = 'payments'",
        [scope.scope],
    ).fetchall()
    assert set(got) == {
        ("shop", "payments", "StatefulSet/api", "api", "load-balancer", "payments"),
        ("shop", "payments", "Deployment/worker", "worker", "none", "payments"),
    }


# -- export files ----------------------------------------------------------------


def test_one_scope_per_cluster_file(tmp_path: Path) -> None:
    root = export_dir(
        tmp_path,
        prod=DATA / "shop.json",
        edge=DATA / "case40-podlist-docker-pullable.json",
    )
    scopes = k8s.export_scopes(root)
    assert [(s.source, s.scope) for s in scopes] == [
        ("kubernetes", "export:kubernetes/edge"),
        ("kubernetes", "export:kubernetes/prod"),
    ]


def test_no_kubernetes_folder_means_no_scopes(tmp_path: Path) -> None:
    assert k8s.export_scopes(tmp_path) == []


def test_an_array_of_pages_reads_like_one_list(tmp_path: Path) -> None:
    doc = json.loads((DATA / "shop.json").read_text())
    half = len(doc["items"]) // 2
    pages = [
        {**doc, "items": doc["items"][:half]},
        {**doc, "items": doc["items"][half:]},
    ]
    root = export_dir(tmp_path, shop=json.dumps(pages))
    rows = extract(root)["export:kubernetes/shop"]
    assert {(r["pod"], r["container"], r["exposure"]) for r in rows} == {
        (t[0], t[1], t[6]) for t in SHOP_ROWS
    }


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"kind": "List", "items": [', "not readable JSON"),
        ('{"kind": "Pod", "metadata": {"name": "x"}}', "not 'kubectl get -o json'"),
        (b"\xff\xfe\x00\x81 garbage", "not readable JSON"),
    ],
    ids=["cut-json", "single-object", "binary"],
)
def test_garbled_file_fails_its_scope_in_one_line(
    tmp_path: Path, content: str | bytes, says: str
) -> None:
    root = export_dir(tmp_path, broken=content)
    (scope,) = k8s.export_scopes(root)
    with pytest.raises(InputError) as err:
        scope.extract(SweepContext())
    message = str(err.value)
    assert "kubernetes/broken.json" in message
    assert says in message
    assert "\n" not in message


# -- pure rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec_digest", "image_id", "expected"),
    [
        (
            None,
            "docker-pullable://contoso.azurecr.io/api@" + D("1f" * 32),
            D("1f" * 32),
        ),
        (None, "docker://" + D("ab" * 32), D("ab" * 32)),
        (None, "docker.io/library/nginx@" + D("cd" * 32), D("cd" * 32)),
        (None, D("ef" * 32), D("ef" * 32)),
        (None, "", None),
        (None, None, None),
        (D("12" * 32), "", D("12" * 32)),
        (D("12" * 32), D("ef" * 32), D("12" * 32)),
        (D("12" * 32), "contoso.azurecr.io/api@" + D("34" * 32), D("34" * 32)),
        (None, "docker://not-a-digest", None),
    ],
    ids=[
        "docker-pullable",
        "docker-config-id",
        "containerd-repo-digest",
        "bare-config-id",
        "waiting",
        "not-scheduled",
        "spec-pin-while-waiting",
        "spec-pin-beats-config-id",
        "runtime-repo-digest-wins",
        "garbage",
    ],
)
def test_running_digest(
    spec_digest: str | None, image_id: str | None, expected: str | None
) -> None:
    assert k8s.running_digest(spec_digest, image_id) == expected


def pod(name: str, labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "prod", "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "contoso/app:1"}], **spec},
        "status": {"phase": "Running"},
    }


def service(name: str, type_: str = "ClusterIP", **extra: Any) -> dict[str, Any]:
    annotations = extra.pop("annotations", {})
    status = extra.pop("status", {})
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "prod", "annotations": annotations},
        "spec": {"type": type_, "selector": {"app": "api"}, **extra},
        "status": status,
    }


def ingress(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "annotations": annotations or {},
        },
        "spec": {
            "defaultBackend": {"service": {"name": "api", "port": {"number": 80}}}
        },
    }


ROUTE = {
    "kind": "HTTPRoute",
    "metadata": {"name": "r", "namespace": "prod"},
    "spec": {
        "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "rules": [{"backendRefs": [{"name": "api", "port": 80}]}],
    },
}
LB_STATUS = {"loadBalancer": {"ingress": [{"hostname": "a1b2.elb.amazonaws.com"}]}}


def exposure_of(*objects: dict[str, Any]) -> tuple[str, str]:
    grouped: dict[str, list[dict[str, Any]]] = {"Pod": [pod("api-1", {"app": "api"})]}
    for obj in objects:
        grouped.setdefault(obj["kind"], []).append(obj)
    (row,) = k8s.workload_rows("c1", grouped)
    return row["exposure"], row["exposure_reason"]


@pytest.mark.parametrize(
    ("objects", "exposure", "reason"),
    [
        (
            [service("api", "LoadBalancer", status=LB_STATUS)],
            "load-balancer",
            "Service prod/api type LoadBalancer a1b2.elb.amazonaws.com",
        ),
        (
            [service("api", "LoadBalancer")],
            "load-balancer",
            "Service prod/api type LoadBalancer (address pending)",
        ),
        (
            [
                service(
                    "api",
                    "LoadBalancer",
                    status=LB_STATUS,
                    loadBalancerSourceRanges=["198.51.100.0/24"],
                )
            ],
            "load-balancer",
            "Service prod/api type LoadBalancer a1b2.elb.amazonaws.com, "
            "source ranges 198.51.100.0/24",
        ),
        (
            [
                service(
                    "api",
                    "LoadBalancer",
                    annotations={
                        "service.beta.kubernetes.io/aws-load-balancer-scheme": (
                            "internet-facing"
                        )
                    },
                    status=LB_STATUS,
                )
            ],
            "load-balancer",
            "Service prod/api type LoadBalancer a1b2.elb.amazonaws.com",
        ),
        (
            [service("api", "NodePort", ports=[{"port": 80, "nodePort": 30080}])],
            "node-port",
            "Service prod/api type NodePort 30080",
        ),
        (
            [service("api")],
            "none",
            "Service prod/api type ClusterIP is cluster-internal",
        ),
        (
            [service("api"), ingress("web")],
            "ingress",
            "Ingress prod/web (*) routes to Service prod/api",
        ),
        (
            [
                service("api"),
                ingress("web", {"alb.ingress.kubernetes.io/scheme": "internal"}),
            ],
            "none",
            "Ingress prod/web is an internal load balancer",
        ),
        (
            [service("api"), ROUTE],
            "gateway",
            "HTTPRoute prod/r via Gateway infra/gw routes to Service prod/api",
        ),
        (
            [service("api", "LoadBalancer", status=LB_STATUS), ingress("web"), ROUTE],
            "load-balancer",
            "Service prod/api type LoadBalancer a1b2.elb.amazonaws.com",
        ),
        (
            [service("api"), ROUTE, ingress("web")],
            "ingress",
            "Ingress prod/web (*) routes to Service prod/api",
        ),
        (
            [
                service("api", "NodePort", ports=[{"port": 80, "nodePort": 30080}]),
                ROUTE,
            ],
            "gateway",
            "HTTPRoute prod/r via Gateway infra/gw routes to Service prod/api",
        ),
        ([], "none", "no Service selects this pod"),
    ],
    ids=[
        "public-lb",
        "lb-pending",
        "lb-source-ranges",
        "aws-internet-facing",
        "nodeport",
        "clusterip",
        "ingress-default-backend",
        "alb-internal-ingress",
        "gateway-route",
        "lb-beats-ingress-and-gateway",
        "ingress-beats-gateway",
        "gateway-beats-nodeport",
        "nothing",
    ],
)
def test_exposure_rules(
    objects: list[dict[str, Any]], exposure: str, reason: str
) -> None:
    assert exposure_of(*objects) == (exposure, reason)


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("service.beta.kubernetes.io/azure-load-balancer-internal", "true"),
        ("networking.gke.io/load-balancer-type", "Internal"),
        ("cloud.google.com/load-balancer-type", "Internal"),
        ("service.beta.kubernetes.io/aws-load-balancer-internal", "true"),
        ("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal"),
    ],
    ids=["azure", "gke", "gke-legacy", "aws-in-tree", "aws-lbc-scheme"],
)
def test_internal_load_balancer_is_not_exposed(annotation: str, value: str) -> None:
    lb = service(
        "api", "LoadBalancer", annotations={annotation: value}, status=LB_STATUS
    )
    assert exposure_of(lb) == ("none", "Service prod/api is an internal load balancer")


@pytest.mark.parametrize(
    ("labels", "namespace"),
    [({"app": "web"}, "prod"), ({"app": "api"}, "staging"), ({}, "prod")],
    ids=["other-labels", "other-namespace", "no-labels"],
)
def test_a_service_selects_only_matching_pods_in_its_namespace(
    labels: dict[str, str], namespace: str
) -> None:
    other = pod("other-1", labels)
    other["metadata"]["namespace"] = namespace
    lb = service("api", "LoadBalancer", status=LB_STATUS)
    (row,) = k8s.workload_rows("c1", {"Pod": [other], "Service": [lb]})
    assert row["exposure"] == "none"


def test_owner_chain_stops_at_a_controller_that_is_not_listed() -> None:
    rollout_pod = pod("api-7f8d9c-abcde", {"app": "api"})
    rollout_pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "api-7f8d9c", "controller": True}
    ]
    replica_set = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "api-7f8d9c",
            "namespace": "prod",
            "ownerReferences": [{"kind": "Rollout", "name": "api", "controller": True}],
        },
    }
    (row,) = k8s.workload_rows(
        "c1", {"Pod": [rollout_pod], "ReplicaSet": [replica_set]}
    )
    assert (row["owner_kind"], row["owner_name"]) == ("Rollout", "api")

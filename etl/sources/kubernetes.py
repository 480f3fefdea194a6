"""Kubernetes: which containers run where, under which controller, and how exposed.

Both modes read the API's own JSON: export mode from ``kubectl get ... -A -o json``
files, live mode from the list endpoints (kept raw, so one transform serves both).
Each pod container becomes a ``workloads`` row with its top controller, the image
as written in the spec, the digest the runtime resolved, and the most exposed path
from the internet to the pod (Service, Ingress, Gateway API route, hostPort).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from urllib3.util.retry import Retry

from etl.config import ClusterSettings, Settings
from etl.errors import InputError, SourceError
from etl.normalize import normalize_digest, parse_ref
from etl.sources import Extracted, Rows, Scope, SweepContext

logger = logging.getLogger(__name__)

SOURCE = "kubernetes"
Obj = dict[str, Any]
Objects = dict[str, list[Obj]]

EXPOSURE_RANK = {
    "none": 0,
    "node-port": 1,
    "gateway": 2,
    "ingress": 3,
    "load-balancer": 4,
}

# Annotations that make a LoadBalancer Service private to the VPC/VNet.
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "internal",
    "cloud.google.com/load-balancer-type": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
}
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"

CONTAINER_KINDS = (
    ("initContainers", "initContainerStatuses"),
    ("containers", "containerStatuses"),
    ("ephemeralContainers", "ephemeralContainerStatuses"),
)
FINISHED_PHASES = {"Succeeded", "Failed"}
IMAGE_ID_PREFIXES = ("docker-pullable://", "docker://")


# -- export mode --------------------------------------------------------------


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``kubernetes/CLUSTER.json`` in an export folder."""
    folder = root / "kubernetes"
    if not folder.is_dir():
        return []
    return [
        Scope(
            SOURCE,
            f"export:kubernetes/{path.stem}",
            partial(_extract_export, path, path.stem),
        )
        for path in sorted(folder.glob("*.json"))
    ]


def _extract_export(path: Path, cluster: str, ctx: SweepContext) -> Extracted:
    objects = read_export(path)
    rows = workload_rows(cluster, objects)
    logger.info("cluster %r: %s workload rows from %s", cluster, len(rows), path)
    return Extracted(tables={"workloads": rows})


def read_export(path: Path) -> Objects:
    """Objects of a ``kubectl get -o json`` file (a List, a typed list, or pages)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: not readable JSON ({_first_line(exc)}); "
            "re-export it with 'kubectl get ... -A -o json'"
        ) from exc
    pages = doc if isinstance(doc, list) else [doc]
    objects: Objects = {}
    for page in pages:
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise InputError(
                f"{path}: not 'kubectl get -o json' output (no List with items); "
                "re-export it with 'kubectl get pods,replicasets,... -A -o json'"
            )
        _group_by_kind(page, objects)
    return objects


def _group_by_kind(page: Obj, objects: Objects) -> None:
    # Typed lists (PodList) omit the kind on each item; a mixed List keeps it.
    list_kind = str(page.get("kind") or "")
    default = list_kind[: -len("List")] if list_kind.endswith("List") else ""
    for item in page["items"]:
        if isinstance(item, dict):
            objects.setdefault(item.get("kind") or default, []).append(item)


# -- transform ----------------------------------------------------------------


def workload_rows(cluster: str, objects: Objects) -> Rows:
    """One row per container of every pod that runs or belongs to a Job."""
    ns_labels = {_name(ns): _labels(ns) for ns in objects.get("Namespace", [])}
    owners = OwnerIndex(objects)
    exposures = pod_exposures(objects)
    rows: Rows = []
    for pod in objects.get("Pod", []):
        if _is_finished(pod, owners):
            continue
        key = (_namespace(pod), _name(pod))
        owner = owners.top_owner(pod)
        exposure = exposures.get(key, NOT_EXPOSED)
        labels = {**ns_labels.get(key[0], {}), **_labels(pod)}
        for spec, status in _containers(pod):
            rows.append(_row(cluster, pod, owner, exposure, labels, spec, status))
    return rows


def _is_finished(pod: Obj, owners: OwnerIndex) -> bool:
    # Evicted and completed pods keep their old image in the API for days; only
    # Job pods are worth keeping after they finish (a CronJob runs that image).
    if pod.get("status", {}).get("phase") not in FINISHED_PHASES:
        return False
    return owners.controller_ref(pod).get("kind") != "Job"


def _containers(pod: Obj) -> Iterator[tuple[Obj, Obj]]:
    """(spec container, its status or {}) for init, app and ephemeral containers."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    for spec_key, status_key in CONTAINER_KINDS:
        by_name = {s.get("name"): s for s in status.get(status_key) or []}
        for container in spec.get(spec_key) or []:
            yield container, by_name.get(container.get("name"), {})


def _row(
    cluster: str,
    pod: Obj,
    owner: tuple[str, str],
    exposure: tuple[str, str],
    labels: dict[str, str],
    spec: Obj,
    status: Obj,
) -> dict[str, Any]:
    image_ref = spec.get("image") or ""
    ref = parse_ref(image_ref) if image_ref else None
    tag = ref.tag if ref else None
    if ref and not ref.tag and not ref.digest:
        tag = "latest"  # what the kubelet pulls for an untagged reference
    return {
        "cluster": cluster,
        "namespace": _namespace(pod),
        "owner_kind": owner[0],
        "owner_name": owner[1],
        "pod": _name(pod),
        "container": spec.get("name") or "",
        "image_ref": image_ref or None,
        "image": ref.image if ref else None,
        "tag": tag,
        "digest": running_digest(ref.digest if ref else None, status.get("imageID")),
        "exposure": exposure[0],
        "exposure_reason": exposure[1],
        "labels": labels,
    }


def running_digest(spec_digest: str | None, image_id: str | None) -> str | None:
    """The digest a container runs: the runtime's repo digest, else the spec pin.

    ``imageID`` is ``repo@sha256:`` when the runtime pulled from a registry, but a
    bare ``sha256:`` (the config id) for side-loaded images; a digest pinned in the
    spec is a registry digest, so it beats a config id. Container ids are never read.
    """
    value = image_id or ""
    for prefix in IMAGE_ID_PREFIXES:
        value = value.removeprefix(prefix)
    repo_part, at, digest_part = value.rpartition("@")
    if at and repo_part:
        repo_digest = normalize_digest(digest_part)
        if repo_digest:
            return repo_digest
    return spec_digest or normalize_digest(value)


# -- owners -------------------------------------------------------------------


class OwnerIndex:
    """Follows ownerReferences to the top controller: Pod, ReplicaSet, Deployment."""

    def __init__(self, objects: Objects) -> None:
        self.by_key: dict[tuple[str, str, str], Obj] = {}
        for kind, items in objects.items():
            for item in items:
                self.by_key[(kind, _namespace(item), _name(item))] = item

    @staticmethod
    def controller_ref(obj: Obj) -> Obj:
        refs = obj.get("metadata", {}).get("ownerReferences") or []
        controllers = [r for r in refs if r.get("controller")]
        return (controllers or refs or [{}])[0]

    def top_owner(self, pod: Obj) -> tuple[str, str]:
        namespace = _namespace(pod)
        kind, name, obj = "Pod", _name(pod), pod
        for _ in range(8):  # owner chains are short; this guards against cycles
            ref = self.controller_ref(obj)
            if not ref.get("kind") or not ref.get("name"):
                break
            kind, name = ref["kind"], ref["name"]
            found = self.by_key.get((kind, namespace, name))
            if found is None:
                return _guess_deployment(kind, name, pod)
            obj = found
        return kind, name


def _guess_deployment(kind: str, name: str, pod: Obj) -> tuple[str, str]:
    # Exports of pods alone lack ReplicaSets. The Deployment controller names
    # each ReplicaSet "<deployment>-<pod-template-hash>" and labels the pods with
    # that hash, so the Deployment is known without the ReplicaSet.
    template_hash = _labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


# -- exposure -----------------------------------------------------------------

NOT_EXPOSED = ("none", "no Service selects this pod")


@dataclass
class _Candidate:
    exposure: str
    reason: str
    # Among equals, an internal load balancer says more than a ClusterIP Service.
    weight: int = 1

    @property
    def rank(self) -> tuple[int, int]:
        return EXPOSURE_RANK[self.exposure], self.weight


def pod_exposures(objects: Objects) -> dict[tuple[str, str], tuple[str, str]]:
    """(namespace, pod) → (exposure, reason): the most exposed path that reaches it."""
    pods = objects.get("Pod", [])
    services = {(_namespace(s), _name(s)): s for s in objects.get("Service", [])}
    backends = _service_pods(services, pods)
    best: dict[tuple[str, str], _Candidate] = {}

    def offer(pod_keys: set[tuple[str, str]], candidate: _Candidate) -> None:
        for key in sorted(pod_keys):
            current = best.get(key)
            if current is None or candidate.rank > current.rank:
                best[key] = candidate

    for key, service in services.items():
        offer(backends.get(key, set()), _service_exposure(service))
    for ingress in objects.get("Ingress", []):
        candidate = _ingress_exposure(ingress)
        for svc in _ingress_backends(ingress):
            offer(backends.get(svc, set()), _via(candidate, svc))
    gateways = {(_namespace(g), _name(g)): g for g in objects.get("Gateway", [])}
    for route in objects.get("HTTPRoute", []):
        for gateway_key in _route_gateways(route):
            candidate = _gateway_exposure(route, gateway_key, gateways)
            for svc in _route_backends(route):
                offer(backends.get(svc, set()), _via(candidate, svc))
    for pod in pods:
        host_ports = _host_ports(pod)
        if host_ports:
            reason = f"Pod {_namespace(pod)}/{_name(pod)} hostPort {host_ports}"
            offer({(_namespace(pod), _name(pod))}, _Candidate("node-port", reason))
    return {key: (c.exposure, c.reason) for key, c in best.items()}


def _service_pods(
    services: dict[tuple[str, str], Obj], pods: list[Obj]
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Service → the pods its selector picks (all pairs match, same namespace)."""
    result: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, service in services.items():
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            continue  # endpoints managed by hand; no pods to name
        result[key] = {
            (_namespace(p), _name(p))
            for p in pods
            if _namespace(p) == key[0] and selector.items() <= _labels(p).items()
        }
    return result


def _service_exposure(service: Obj) -> _Candidate:
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    where = f"Service {_namespace(service)}/{_name(service)}"
    if kind == "LoadBalancer":
        if _is_internal_lb(service):
            return _Candidate("none", f"{where} is an internal load balancer")
        reason = f"{where} type LoadBalancer {_lb_address(service)}"
        ranges = spec.get("loadBalancerSourceRanges") or []
        if ranges:
            reason += f", source ranges {', '.join(ranges)}"
        return _Candidate("load-balancer", reason)
    if spec.get("externalIPs"):
        # Traffic to these addresses reaches the pods like a load balancer's would.
        ips = ", ".join(spec["externalIPs"])
        return _Candidate("load-balancer", f"{where} externalIPs {ips}")
    if kind == "NodePort":
        ports = ", ".join(
            str(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")
        )
        return _Candidate("node-port", f"{where} type NodePort {ports}".rstrip())
    return _Candidate("none", f"{where} type {kind} is cluster-internal", weight=0)


def _is_internal_lb(service: Obj) -> bool:
    annotations = _annotations(service)
    return any(
        str(annotations.get(key, "")).lower() == value
        for key, value in INTERNAL_LB_ANNOTATIONS.items()
    )


def _lb_address(service: Obj) -> str:
    entries = ((service.get("status") or {}).get("loadBalancer") or {}).get(
        "ingress"
    ) or []
    addresses = [e.get("ip") or e.get("hostname") for e in entries]
    return ", ".join(a for a in addresses if a) or "(address pending)"


def _ingress_exposure(ingress: Obj) -> _Candidate:
    # Only the AWS controller's scheme annotation marks an Ingress internal; an
    # internal class of another controller still counts as exposed, erring on the
    # side a security team would rather see.
    where = f"Ingress {_namespace(ingress)}/{_name(ingress)}"
    if str(_annotations(ingress).get(ALB_SCHEME, "")).lower() == "internal":
        return _Candidate("none", f"{where} is an internal load balancer")
    rules = (ingress.get("spec") or {}).get("rules") or []
    hosts = sorted({r["host"] for r in rules if r.get("host")})
    return _Candidate("ingress", f"{where} ({', '.join(hosts) or '*'})")


def _ingress_backends(ingress: Obj) -> set[tuple[str, str]]:
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            backends.append(path.get("backend") or {})
    names = {(b.get("service") or {}).get("name") for b in backends}
    return {(_namespace(ingress), n) for n in names if n}


def _route_gateways(route: Obj) -> set[tuple[str, str]]:
    refs = (route.get("spec") or {}).get("parentRefs") or []
    return {
        (ref.get("namespace") or _namespace(route), ref["name"])
        for ref in refs
        if ref.get("name") and ref.get("kind", "Gateway") == "Gateway"
    }


def _gateway_exposure(
    route: Obj, gateway_key: tuple[str, str], gateways: dict[tuple[str, str], Obj]
) -> _Candidate:
    # Every route attached to a Gateway counts as exposed: the GatewayClass (which
    # could say internal), route acceptance and ReferenceGrants are not read, so
    # this errs toward too much exposure rather than too little.
    gateway = gateways.get(gateway_key)
    addresses = ((gateway or {}).get("status") or {}).get("addresses") or []
    address = ", ".join(a["value"] for a in addresses if a.get("value"))
    reason = (
        f"HTTPRoute {_namespace(route)}/{_name(route)} via Gateway "
        f"{gateway_key[0]}/{gateway_key[1]}"
    )
    if address:
        reason += f" {address}"
    return _Candidate("gateway", reason)


def _route_backends(route: Obj) -> set[tuple[str, str]]:
    result = set()
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("name") and ref.get("kind", "Service") == "Service":
                result.add((ref.get("namespace") or _namespace(route), ref["name"]))
    return result


def _via(candidate: _Candidate, service: tuple[str, str]) -> _Candidate:
    if candidate.exposure == "none":
        return candidate
    reason = f"{candidate.reason} routes to Service {service[0]}/{service[1]}"
    return _Candidate(candidate.exposure, reason)


def _host_ports(pod: Obj) -> str:
    ports = [
        str(port["hostPort"])
        for kind, _ in CONTAINER_KINDS
        for container in (pod.get("spec") or {}).get(kind) or []
        for port in container.get("ports") or []
        if port.get("hostPort")
    ]
    return ", ".join(ports)


# -- small accessors ----------------------------------------------------------


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- live mode ----------------------------------------------------------------

PAGE_SIZE = 500
REQUEST_TIMEOUT = (10, 120)  # seconds: connect, read
# Transient API server trouble (throttling, a restarting control plane) is retried
# by the client's own urllib3 pool, honouring Retry-After.
RETRIES = Retry(
    total=3,
    backoff_factor=0.5,
    status_forcelist=(429, 502, 503, 504),
    allowed_methods=frozenset({"GET"}),
)
GATEWAY_API = ("gateway.networking.k8s.io", "v1")


@dataclass(frozen=True)
class _Resource:
    """A list endpoint: the kind it returns, its plural, and the client method."""

    kind: str
    plural: str
    api: str
    method: str
    optional: bool = False  # a CRD that may not be installed

    def call(self, apis: _Apis) -> Callable[..., Any]:
        method = getattr(getattr(apis, self.api), self.method)
        if self.api == "custom":
            return partial(method, *GATEWAY_API, self.plural)
        return method


RESOURCES = (
    _Resource("Namespace", "namespaces", "core", "list_namespace"),
    _Resource("Pod", "pods", "core", "list_pod_for_all_namespaces"),
    _Resource(
        "ReplicaSet", "replicasets", "apps", "list_replica_set_for_all_namespaces"
    ),
    _Resource("Job", "jobs", "batch", "list_job_for_all_namespaces"),
    _Resource("Service", "services", "core", "list_service_for_all_namespaces"),
    _Resource("Ingress", "ingresses", "networking", "list_ingress_for_all_namespaces"),
    _Resource("HTTPRoute", "httproutes", "custom", "list_cluster_custom_object", True),
    _Resource("Gateway", "gateways", "custom", "list_cluster_custom_object", True),
)


@dataclass
class _Apis:
    core: Any
    apps: Any
    batch: Any
    networking: Any
    custom: Any


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per kubeconfig context of every ``[[cluster]]`` entry."""
    scopes = []
    for cluster in settings.clusters:
        kubeconfig = _kubeconfig_path(cluster, settings)
        try:
            known = _contexts(kubeconfig)
        except InputError as exc:
            scopes.append(
                Scope(SOURCE, f"kubeconfig:{kubeconfig}", partial(_raise, exc))
            )
            continue
        for context in cluster.contexts or known:
            extract = (
                partial(_extract_live, kubeconfig, context)
                if context in known
                else partial(_raise, _no_context(kubeconfig, context, known))
            )
            scopes.append(Scope(SOURCE, f"context:{context}", extract))
    return scopes


def _raise(exc: Exception, ctx: SweepContext) -> Extracted:
    raise exc


def _kubeconfig_path(cluster: ClusterSettings, settings: Settings) -> Path:
    path = Path(cluster.kubeconfig).expanduser()
    if not path.is_absolute() and settings.source_file is not None:
        path = settings.source_file.parent / path
    return path


def _contexts(kubeconfig: Path) -> list[str]:
    """The context names a kubeconfig file defines."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        listed, _ = config.list_kube_config_contexts(config_file=str(kubeconfig))
    except (ConfigException, OSError, yaml.YAMLError) as exc:
        raise InputError(
            f"kubeconfig {kubeconfig}: cannot read it ({_first_line(exc)}); "
            "fix [[cluster]] kubeconfig or write the file with 'az aks "
            "get-credentials' / 'gcloud container clusters get-credentials'"
        ) from exc
    return [c["name"] for c in listed or []]


def _no_context(kubeconfig: Path, context: str, known: list[str]) -> InputError:
    return InputError(
        f"kubeconfig {kubeconfig}: no context named {context}; "
        f"it has {', '.join(known) or 'none'}"
    )


def _connect(kubeconfig: Path, context: str) -> _Apis:
    """API clients for one context; the SDK's urllib3 pool does the retries."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    configuration.retries = RETRIES
    try:
        api_client = config.new_client_from_config(
            config_file=str(kubeconfig),
            context=context,
            persist_config=False,  # never rewrite the user's kubeconfig
            client_configuration=configuration,
        )
    except (ConfigException, OSError) as exc:
        raise InputError(
            f"kubeconfig {kubeconfig}: context {context!r} is unusable "
            f"({_first_line(exc)}); fix the context or drop it from contexts"
        ) from exc
    return _Apis(
        core=client.CoreV1Api(api_client),
        apps=client.AppsV1Api(api_client),
        batch=client.BatchV1Api(api_client),
        networking=client.NetworkingV1Api(api_client),
        custom=client.CustomObjectsApi(api_client),
    )


def _extract_live(kubeconfig: Path, context: str, ctx: SweepContext) -> Extracted:
    apis = _connect(kubeconfig, context)
    objects: Objects = {}
    problems: list[str] = []
    for resource in RESOURCES:
        try:
            objects[resource.kind] = _list_all(apis, resource, context)
        except _Missing:
            logger.debug("context %r: no %s API; skipped", context, resource.plural)
        except SourceError as exc:
            if not resource.optional:
                raise
            logger.warning("context %r: %s skipped: %s", context, resource.plural, exc)
            problems.append(f"{exc}; Gateway API exposure not computed")
    rows = workload_rows(context, objects)
    logger.info(
        "context %r: %s pods, %s workload rows",
        context,
        len(objects.get("Pod", [])),
        len(rows),
    )
    return Extracted(tables={"workloads": rows}, problems=problems)


class _Missing(Exception):
    """The API server does not serve this resource (its CRD is not installed)."""


def _list_all(apis: _Apis, resource: _Resource, context: str) -> list[Obj]:
    """GET the resource's list endpoint page by page (``limit`` / ``continue``)."""
    call = resource.call(apis)
    items: list[Obj] = []
    token: str | None = None
    while True:
        page = _get_page(call, resource, context, PAGE_SIZE, token)
        for item in page.get("items") or []:
            items.append({"kind": resource.kind, **item})
        token = (page.get("metadata") or {}).get("continue") or None
        logger.debug("context %r: %s page of %s", context, resource.plural, len(items))
        if not token:
            return items


def _get_page(
    call: Callable[..., Any],
    resource: _Resource,
    context: str,
    limit: int,
    token: str | None = None,
) -> Obj:
    """One list page, raw JSON, so live rows go through the export transform."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    params: dict[str, Any] = {"limit": limit}
    if token:
        params["_continue"] = token
    try:
        response = call(
            **params,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return dict(json.loads(response.data))
    except ApiException as exc:
        if exc.status == 404 and resource.optional:
            raise _Missing(resource.plural) from exc
        raise SourceError(_api_error(context, resource.plural, exc)) from exc
    except HTTPError as exc:
        raise SourceError(
            f"cluster context {context!r}: cannot reach the API server "
            f"({_first_line(exc)}); check the network and the kubeconfig server URL"
        ) from exc
    except ValueError as exc:
        raise SourceError(
            f"cluster context {context!r}: listing {resource.plural} returned "
            f"no JSON ({_first_line(exc)}); check the kubeconfig server URL"
        ) from exc


def _api_error(context: str, plural: str, exc: Any) -> str:
    where = f"cluster context {context!r}"
    if exc.status == 403:
        return (
            f"{where}: forbidden to list {plural} (RBAC verb 'list' on "
            f"'{plural}' in all namespaces is missing); grant it with a "
            f"ClusterRole such as 'kubectl create clusterrole imagetrail-reader "
            f"--verb=list --resource={plural}' bound to this identity"
        )
    if exc.status == 401:
        return (
            f"{where}: the API server rejected the credentials (HTTP 401); "
            "refresh the kubeconfig credentials and retry"
        )
    return f"{where}: listing {plural} failed with HTTP {exc.status} {exc.reason}"


# -- doctor -------------------------------------------------------------------


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Can each configured context be reached and list what the sweep needs?"""
    checks = []
    for cluster in settings.clusters:
        kubeconfig = _kubeconfig_path(cluster, settings)
        try:
            known = _contexts(kubeconfig)
        except InputError as exc:
            checks.append((f"kubeconfig {kubeconfig}", False, str(exc)))
            continue
        for context in cluster.contexts or known:
            if context in known:
                checks.append(_check_context(kubeconfig, context))
            else:
                error = _no_context(kubeconfig, context, known)
                checks.append((f"kubernetes context {context}", False, str(error)))
    return checks


def _check_context(kubeconfig: Path, context: str) -> tuple[str, bool, str]:
    name = f"kubernetes context {context}"
    notes = []
    try:
        apis = _connect(kubeconfig, context)
        for resource in RESOURCES:
            try:
                _get_page(resource.call(apis), resource, context, limit=1)
            except _Missing:
                notes.append(f"no {resource.plural} API (Gateway API not installed)")
            except SourceError as exc:
                if not resource.optional:
                    raise
                notes.append(str(exc))
    except (InputError, SourceError) as exc:
        return name, False, str(exc)
    plurals = ", ".join(r.plural for r in RESOURCES if not r.optional)
    return name, True, "; ".join([f"can list {plurals}", *dict.fromkeys(notes)])

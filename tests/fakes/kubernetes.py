"""A Kubernetes API server fake: the list endpoints a workload sweep reads.

It answers like kube-apiserver: typed lists (``PodList``) whose items carry no
``kind``, ``limit``/``continue`` chunking, ``Status`` bodies for 403 and 404, and
custom-object lists (Gateway API) that keep ``kind`` on each item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

# kind -> (list path, apiVersion, is a custom resource)
ENDPOINTS = {
    "Namespace": ("/api/v1/namespaces", "v1", False),
    "Pod": ("/api/v1/pods", "v1", False),
    "Service": ("/api/v1/services", "v1", False),
    "ReplicaSet": ("/apis/apps/v1/replicasets", "apps/v1", False),
    "Job": ("/apis/batch/v1/jobs", "batch/v1", False),
    "Ingress": ("/apis/networking.k8s.io/v1/ingresses", "networking.k8s.io/v1", False),
    "HTTPRoute": (
        "/apis/gateway.networking.k8s.io/v1/httproutes",
        "gateway.networking.k8s.io/v1",
        True,
    ),
    "Gateway": (
        "/apis/gateway.networking.k8s.io/v1/gateways",
        "gateway.networking.k8s.io/v1",
        True,
    ),
}
PLURALS = {kind: path.rsplit("/", 1)[1] for kind, (path, _, _) in ENDPOINTS.items()}


class FakeKubeApi:
    """Serves the given objects (grouped by kind) on their list endpoints."""

    def __init__(
        self,
        server: HTTPServer,
        objects: dict[str, list[dict[str, Any]]],
        *,
        page_size: int | None = None,
        forbidden: Iterable[str] = (),
        gateway_api: bool = True,
        token: str = "fake-token-123",
    ) -> None:
        self.server = server
        self.objects = objects
        self.page_size = page_size
        self.forbidden = set(forbidden)
        self.gateway_api = gateway_api
        self.token = token
        for kind, (path, _, custom) in ENDPOINTS.items():
            if custom and not gateway_api:
                server.expect_request(path).respond_with_json(
                    _status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                    status=404,
                )
            else:
                server.expect_request(path).respond_with_handler(self._handler(kind))

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def requests(self, kind: str) -> list[Request]:
        path = ENDPOINTS[kind][0]
        return [req for req, _ in self.server.log if req.path == path]

    def _handler(self, kind: str) -> Any:
        def handle(request: Request) -> Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _json(_status(401, "Unauthorized", "Unauthorized"), 401)
            if kind in self.forbidden:
                plural = PLURALS[kind]
                group = ENDPOINTS[kind][1].rpartition("/")[0]
                message = (
                    f"{plural} is forbidden: "
                    'User "system:serviceaccount:ops:imagetrail" '
                    f'cannot list resource "{plural}" in API group "{group}" '
                    "at the cluster scope"
                )
                return _json(_status(403, "Forbidden", message, plural), 403)
            return _json(self._page(kind, request), 200)

        return handle

    def _page(self, kind: str, request: Request) -> dict[str, Any]:
        path, api_version, custom = ENDPOINTS[kind]
        items = [dict(item) for item in self.objects.get(kind, [])]
        if not custom:
            for item in items:  # typed lists drop kind and apiVersion per item
                item.pop("kind", None)
                item.pop("apiVersion", None)
        start = int(request.args.get("continue") or 0)
        limit = int(request.args.get("limit") or len(items) or 1)
        if self.page_size:
            limit = min(limit, self.page_size)
        end = start + limit
        metadata: dict[str, Any] = {"resourceVersion": "987654"}
        if end < len(items):
            metadata["continue"] = str(end)
            metadata["remainingItemCount"] = len(items) - end
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": metadata,
            "items": items[start:end],
        }


def _status(code: int, reason: str, message: str, kind: str = "") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"kind": kind} if kind else {},
        "code": code,
    }


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def write_kubeconfig(
    path: Path, servers: dict[str, str], token: str = "fake-token-123"
) -> Path:
    """A kubeconfig with one context (and cluster) per name, all using a token."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": url}} for name, url in servers.items()
        ],
        "users": [{"name": "imagetrail", "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "imagetrail"}}
            for name in servers
        ],
        "current-context": next(iter(servers)),
    }
    path.write_text(yaml.safe_dump(doc))
    return path

"""A REST fake of the Artifact Registry API for google-cloud-artifact-registry.

Serves, in the camelCase JSON of apis.md section 5 (int64 fields as strings,
RFC 3339 times with 9 fractional digits, ``nextPageToken`` paging):

- ``GET /v1/projects/P/locations/L/repositories``;
- ``GET /v1/projects/P/locations/L/repositories/R/dockerImages``, every manifest
  of the repository, platform children and referrers untagged, and
  ``imageManifests`` on multi-platform images.

Image bytes live in a real docker-registry under ``P/R/IMAGE``; this fake only
lists them, as the API does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.registry import Image


@dataclass
class Repo:
    format: str = "DOCKER"
    images: list[tuple[str, Image, list[str], str]] = field(default_factory=list)
    broken: str | None = None


class FakeArtifactRegistry:
    """Repositories of one project and location; ``log`` holds every request path."""

    def __init__(
        self, server: HTTPServer, project: str, location: str, page_size: int = 2
    ) -> None:
        self.project, self.location, self.page_size = project, location, page_size
        self.repos: dict[str, Repo] = {}
        self.log: list[str] = []
        server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self.handle)

    @property
    def host(self) -> str:
        return f"{self.location}-docker.pkg.dev"

    def add(
        self,
        repo: str,
        name: str,
        image: Image,
        tags: list[str] = (),  # type: ignore[assignment]
        uploaded: str = "2024-05-01T10:00:00.123456789Z",
    ) -> None:
        """List an image (and, untagged, its children) under repo/name."""
        entry = self.repos.setdefault(repo, Repo())
        for child in image.children:
            self.add(repo, name, child, [], uploaded)
        entry.images = [x for x in entry.images if x[1].digest != image.digest]
        for _, _, other_tags, _ in entry.images:
            for tag in tags:
                if tag in other_tags:
                    other_tags.remove(tag)
        entry.images.append((name, image, list(tags), uploaded))

    def handle(self, request: Request) -> Response:
        self.log.append(request.path)
        prefix = f"/v1/projects/{self.project}/locations/{self.location}/repositories"
        if request.path == prefix:
            return self._page(request, "repositories", self._repositories())
        match = re.match(rf"^{re.escape(prefix)}/([^/]+)/dockerImages$", request.path)
        if not match:
            return _error(404, "NOT_FOUND", request.path)
        repo = self.repos.get(match.group(1))
        if repo is None:
            return _error(
                404, "NOT_FOUND", f"Requested entity was not found: {match.group(1)}"
            )
        if repo.broken == "denied":
            return _error(
                403, "PERMISSION_DENIED", "artifactregistry.dockerimages.list denied"
            )
        if repo.broken == "garbage":
            return Response(
                '{"dockerImages": [{"name": ', 200, {"Content-Type": "application/json"}
            )
        return self._page(request, "dockerImages", self._images(match.group(1), repo))

    def _repositories(self) -> list[dict[str, Any]]:
        base = f"projects/{self.project}/locations/{self.location}/repositories"
        return [
            {
                "name": f"{base}/{name}",
                "format": repo.format,
                "mode": "STANDARD_REPOSITORY",
                "createTime": "2024-01-01T00:00:00Z",
                "updateTime": "2024-01-02T00:00:00.123456789Z",
                "sizeBytes": "123456",
            }
            for name, repo in sorted(self.repos.items())
        ]

    def _images(self, name: str, repo: Repo) -> list[dict[str, Any]]:
        base = f"projects/{self.project}/locations/{self.location}/repositories/{name}"
        items = []
        for path, image, tags, uploaded in repo.images:
            body = image.body
            escaped = path.replace("/", "%2F")
            item: dict[str, Any] = {
                "name": f"{base}/dockerImages/{escaped}@{image.digest}",
                "uri": f"{self.host}/{self.project}/{name}/{path}@{image.digest}",
                "imageSizeBytes": str(sum(len(b.data) for b in image.blobs)),
                "uploadTime": uploaded,
                "mediaType": body.get("mediaType"),
                "updateTime": uploaded,
            }
            if tags:
                item["tags"] = list(tags)
            if body.get("manifests"):
                item["imageManifests"] = [
                    {
                        "architecture": d["platform"]["architecture"],
                        "os": d["platform"]["os"],
                        "digest": d["digest"],
                        "mediaType": d["mediaType"],
                    }
                    for d in body["manifests"]
                ]
            items.append(item)
        return items

    def _page(
        self, request: Request, key: str, items: list[dict[str, Any]]
    ) -> Response:
        start = int(request.args.get("pageToken") or 0)
        size = min(int(request.args.get("pageSize") or self.page_size), self.page_size)
        body: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return Response(json.dumps(body), 200, {"Content-Type": "application/json"})


def _error(code: int, status: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return Response(json.dumps(body), code, {"Content-Type": "application/json"})

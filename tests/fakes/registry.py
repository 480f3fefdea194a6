"""A real OCI registry for tests, and images to push into it without a daemon.

- Image builders: config blobs, image manifests, indexes, buildx-style
  attestation manifests carrying a SLSA statement, and referrer artifacts,
  all as the exact bytes a registry stores (so digests are real).
- ``Pusher``: pushes those with nothing but ``requests`` (the blob upload
  ``POST``/``PUT`` and manifest ``PUT`` of the distribution spec), following a
  basic or Bearer challenge by itself.
- ``RegistryServer``: Debian's ``docker-registry`` on a free loopback port with
  a config written to a temporary folder, without auth, with htpasswd basic
  auth, or with token auth served by ``TokenServer`` (RS256 JWTs signed with a
  key made by ``cryptography``), as docs/test-infra section 1 describes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"


# -- images as bytes -------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """Bytes with the media type they are stored under."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
            **extra,
        }


@dataclass
class Image:
    """A manifest with the blobs and child manifests it needs in the registry."""

    manifest: Blob
    blobs: list[Blob] = field(default_factory=list)
    children: list[Image] = field(default_factory=list)
    config: dict[str, Any] | None = None

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.manifest.data)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=False).encode()


def layer(text: str) -> Blob:
    """A gzipped tar with one file; fixed times so the digest is reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    return Blob(gzip.compress(raw.getvalue(), mtime=0), OCI_LAYER)


def image(
    labels: dict[str, str] | None = None,
    arch: str = "amd64",
    os: str = "linux",
    variant: str | None = None,
    content: str = "hello",
    docker: bool = False,
) -> Image:
    """A single-platform image: one layer, a config with labels, its manifest."""
    files = layer(f"{content} {os}/{arch}")
    config: dict[str, Any] = {
        "architecture": arch,
        "os": os,
        "created": "2024-05-01T10:02:00Z",
        "config": {"Cmd": ["/hello.txt"], "Labels": labels or None},
        "rootfs": {
            "type": "layers",
            "diff_ids": [
                "sha256:" + hashlib.sha256(gzip.decompress(files.data)).hexdigest()
            ],
        },
    }
    if variant:
        config["variant"] = variant
    config_blob = Blob(_json(config), DOCKER_CONFIG if docker else OCI_CONFIG)
    files = Blob(files.data, DOCKER_LAYER if docker else OCI_LAYER)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [files.descriptor()],
    }
    return Image(
        Blob(_json(manifest), manifest["mediaType"]),
        [config_blob, files],
        config=config,
    )


def slsa_v02(
    subject: str,
    repo: str = "https://github.com/contoso/api",
    commit: str = "c" * 40,
    run_id: int = 9000000011,
    attempt: int = 1,
) -> dict[str, Any]:
    """A BuildKit SLSA v0.2 statement, as buildx writes it from GitHub Actions."""
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA_V02,
        "subject": [
            {
                "name": "pkg:docker/contoso/api@1.0",
                "digest": {"sha256": subject.removeprefix("sha256:")},
            }
        ],
        "predicate": {
            "builder": {"id": f"{repo}/actions/runs/{run_id}/attempts/{attempt}"},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [
                {"uri": "pkg:docker/python@3.12-slim", "digest": {"sha256": "7" * 64}}
            ],
            "invocation": {
                "configSource": {"entryPoint": "Dockerfile"},
                "parameters": {"frontend": "dockerfile.v0"},
                "environment": {"platform": "linux/amd64"},
            },
            "metadata": {
                "buildInvocationID": "rpv7a389uzil5lqmrgwhijwjz",
                "https://mobyproject.org/buildkit@v1#metadata": {
                    "vcs": {
                        "source": repo,
                        "revision": commit,
                        "localdir:dockerfile": "services/api",
                    }
                },
            },
        },
    }


def attestation(
    statement: dict[str, Any], subject: str
) -> tuple[Image, dict[str, Any]]:
    """A buildx attestation manifest and the index descriptor that lists it."""
    payload = Blob(_json(statement), IN_TOTO)
    config = Blob(
        _json(
            {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ),
        OCI_CONFIG,
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [
            payload.descriptor(
                annotations={"in-toto.io/predicate-type": statement["predicateType"]}
            )
        ],
    }
    att = Image(Blob(_json(manifest), OCI_MANIFEST), [config, payload])
    descriptor = att.manifest.descriptor(
        platform={"architecture": "unknown", "os": "unknown"},
        annotations={
            "vnd.docker.reference.digest": subject,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )
    return att, descriptor


def index(
    children: list[Image],
    attestations: list[tuple[Image, dict[str, Any]]] = (),  # type: ignore[assignment]
    docker: bool = False,
) -> Image:
    """A multi-platform index over images, with attestation manifests after them."""
    manifests = []
    for child in children:
        config = child.config or {}
        platform = {"architecture": config.get("architecture"), "os": config.get("os")}
        if config.get("variant"):
            platform["variant"] = config["variant"]
        manifests.append(child.manifest.descriptor(platform=platform))
    manifests.extend(desc for _, desc in attestations)
    media_type = DOCKER_LIST if docker else OCI_INDEX
    body = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    return Image(
        Blob(_json(body), media_type),
        children=[*children, *(att for att, _ in attestations)],
    )


def referrer(subject: Image, artifact_type: str, payload: bytes) -> Image:
    """An OCI 1.1 referrer artifact (a signature, an SBOM) naming its subject."""
    empty = Blob(b"{}", "application/vnd.oci.empty.v1+json")
    data = Blob(payload, artifact_type)
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty.descriptor(),
        "layers": [data.descriptor()],
        "subject": subject.manifest.descriptor(),
    }
    return Image(Blob(_json(body), OCI_MANIFEST), [empty, data])


# -- pushing -----------------------------------------------------------------------


class Pusher:
    """Pushes images with plain ``requests``, answering auth challenges itself."""

    def __init__(
        self, url: str, username: str | None = None, password: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.auth = (username, password) if username else None
        self.session = requests.Session()
        self._token: dict[str, str] = {}

    def push(self, repo: str, img: Image, tag: str | None = None) -> str:
        """Children first, then blobs, then the manifest under tag (or digest)."""
        for child in img.children:
            self.push(repo, child)
        for blob in img.blobs:
            self._blob(repo, blob)
        ref = tag or img.digest
        response = self._send(
            "PUT",
            repo,
            f"/v2/{repo}/manifests/{ref}",
            data=img.manifest.data,
            headers={"Content-Type": img.manifest.media_type},
        )
        assert response.headers["Docker-Content-Digest"] == img.digest
        return img.digest

    def delete(self, repo: str, digest: str) -> None:
        self._send("DELETE", repo, f"/v2/{repo}/manifests/{digest}")

    def _blob(self, repo: str, blob: Blob) -> None:
        head = self._send(
            "HEAD", repo, f"/v2/{repo}/blobs/{blob.digest}", ok=(200, 404)
        )
        if head.status_code == 200:
            return
        start = self._send("POST", repo, f"/v2/{repo}/blobs/uploads/")
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        self._send(
            "PUT",
            repo,
            f"{location}{sep}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def _send(
        self, method: str, repo: str, path: str, ok: tuple[int, ...] = (), **kw: Any
    ) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        response = self.session.request(method, url, **self._auth(repo), **kw)
        if response.status_code == 401:
            self._answer(response.headers.get("WWW-Authenticate", ""), repo)
            response = self.session.request(method, url, **self._auth(repo), **kw)
        if response.status_code >= 400 and response.status_code not in ok:
            raise AssertionError(
                f"{method} {url}: {response.status_code} {response.text}"
            )
        return response

    def _auth(self, repo: str) -> dict[str, Any]:
        if repo in self._token:
            return {"auth": _Bearer(self._token[repo])}
        return {"auth": self.auth}

    def _answer(self, challenge: str, repo: str) -> None:
        if not challenge.startswith("Bearer"):
            return
        params = dict(
            part.split("=", 1)
            for part in challenge[len("Bearer ") :].replace('"', "").split(",")
        )
        response = requests.get(
            params["realm"],
            params={
                "service": params["service"],
                "scope": f"repository:{repo}:pull,push,delete",
            },
            auth=self.auth,
        )
        response.raise_for_status()
        self._token[repo] = response.json()["token"]


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


# -- loading scopes as the nightly job does -----------------------------------------


def load_scopes(wh: Any, scopes: list[Any]) -> Any:
    """Sweep scopes into a warehouse with the pipeline's own sweep_scope."""
    from etl.pipeline import RunResult, sweep_scope

    result = RunResult(job_id=uuid.uuid4().hex[:12])
    for scope in scopes:
        sweep_scope(wh, scope, result)
    return result

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

import base64
import gzip
import hashlib
import io
import json
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

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


# -- the registry process and its token server ----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RegistryServer:
    """``docker-registry serve`` on loopback, its config in a temporary folder."""

    def __init__(
        self,
        binary: str,
        root: Path,
        auth: str | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.token_server: TokenServer | None = None
        root.mkdir(parents=True, exist_ok=True)
        config = [
            "version: 0.1",
            "log: {level: info, accesslog: {disabled: true}}",
            "storage:",
            f"  filesystem: {{rootdirectory: {root / 'data'}}}",
            "  delete: {enabled: true}",
            f"http: {{addr: 127.0.0.1:{self.port}, secret: not-a-secret}}",
        ]
        if auth == "htpasswd":
            htpasswd = self._htpasswd(users or {})
            config += ["auth:", f"  htpasswd: {{realm: test-realm, path: {htpasswd}}}"]
        elif auth == "token":
            self.token_server = TokenServer(root / "token", users or {})
            config += [
                "auth:",
                f'  token: {{realm: "{self.token_server.url}/token", '
                "service: test-registry, "
                f"issuer: test-issuer, rootcertbundle: {self.token_server.cert_path}}}",
            ]
        (root / "config.yml").write_text("\n".join(config) + "\n")
        self.process = subprocess.Popen(
            [binary, "serve", str(root / "config.yml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._ready = threading.Event()
        self.log: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(timeout=10):
            self.stop()
            raise RuntimeError("docker-registry did not start:\n" + "\n".join(self.log))

    def _htpasswd(self, users: dict[str, str]) -> Path:
        lines = [
            subprocess.run(
                ["htpasswd", "-Bbn", user, password],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            for user, password in users.items()
        ]
        path = self.root / "htpasswd"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _drain(self) -> None:
        # The registry logs every request; the pipe must keep flowing.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip())
            if "listening on" in line:
                self._ready.set()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.token_server:
            self.token_server.stop()


class TokenServer:
    """A Docker token server: RS256 JWTs the registry verifies against its cert.

    Authenticated users get what they ask for; anonymous callers get pull only,
    and nothing on the catalog.
    """

    def __init__(self, root: Path, users: dict[str, str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        root.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-issuer")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = root / "cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # libtrust key id: base32 of the first 30 bytes of sha256(SPKI), in 4s.
        b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = parse_qs(urlsplit(self.path).query)
                user = server.user(self.headers.get("Authorization"))
                server.requests.append({"user": user, "scope": query.get("scope", [])})
                if user is False:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps(server.token(user, query)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def user(self, header: str | None) -> str | None | bool:
        """The authenticated user, None when anonymous, False when wrong."""
        if not header or not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.users.get(user) == password else False

    def token(self, user: Any, query: dict[str, list[str]]) -> dict[str, Any]:
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            wanted = actions.split(",")
            granted = (
                wanted
                if user
                else [a for a in wanted if a == "pull" and kind == "repository"]
            )
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": "test-issuer",
            "sub": user or "",
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = self._sign({"typ": "JWT", "alg": "RS256", "kid": self.kid}, claims)
        return {"token": token, "access_token": token, "expires_in": 300}

    def _sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def part(obj: dict[str, Any]) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        signing_input = f"{part(header)}.{part(claims)}"
        signature = self.key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return (
            signing_input
            + "."
            + base64.urlsafe_b64encode(signature).decode().rstrip("=")
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def recorded_requests() -> Iterator[list[tuple[str, str]]]:
    """Every HTTP request any ``requests`` session sends, as (method, URL)."""
    log: list[tuple[str, str]] = []
    real = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        log.append((request.method, request.url))
        return real(self, request, **kwargs)

    with patch.object(requests.Session, "send", send):
        yield log


def content_reads(log: list[tuple[str, str]]) -> list[str]:
    """The manifest and blob bodies fetched: what a quiet night must not do."""
    return [
        url
        for method, url in log
        if method == "GET" and ("/manifests/" in url or "/blobs/" in url)
    ]


def cosign_signature(subject: Image) -> Image:
    """A legacy cosign signature, pushed under the tag ``sha256-<hex>.sig``."""
    payload = Blob(
        _json({"critical": {"image": {"docker-manifest-digest": subject.digest}}}),
        "application/vnd.dev.cosign.simplesigning.v1+json",
    )
    config = Blob(_json({"architecture": "", "os": "", "config": {}}), OCI_CONFIG)
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [
            payload.descriptor(
                annotations={"dev.cosignproject.cosign/signature": "MEUC"}
            )
        ],
    }
    return Image(Blob(_json(body), OCI_MANIFEST), [config, payload])


def referrers_index(referrers: list[Image]) -> Image:
    """The index a client writes under ``sha256-<hex>`` where the API is missing."""
    manifests = [
        r.manifest.descriptor(artifactType=r.body.get("artifactType"))
        for r in referrers
    ]
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return Image(Blob(_json(body), OCI_INDEX), children=list(referrers))


def github_attestation_bundle(subject: str, run_id: int, attempt: int) -> bytes:
    """A sigstore bundle holding a GitHub Actions SLSA v1 statement (actions/attest)."""
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {
                "name": "contoso/api",
                "digest": {"sha256": subject.removeprefix("sha256:")},
            }
        ],
        "predicateType": SLSA_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {
                        "ref": "refs/heads/main",
                        "repository": "https://github.com/contoso/api",
                        "path": ".github/workflows/release.yml",
                    }
                },
                "resolvedDependencies": [
                    {
                        "uri": "git+https://github.com/contoso/api@refs/heads/main",
                        "digest": {"gitCommit": "c" * 40},
                    }
                ],
            },
            "runDetails": {
                "builder": {
                    "id": "https://github.com/contoso/api/.github/workflows/release.yml@refs/heads/main"
                },
                "metadata": {
                    "invocationId": f"https://github.com/contoso/api/actions/runs/{run_id}/attempts/{attempt}"
                },
            },
        },
    }
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [{"sig": "MEUCIQ"}],
    }
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "dsseEnvelope": envelope,
    }
    return json.dumps(bundle).encode()


@contextmanager
def registries(folder: Path, binary: str) -> Iterator[Any]:
    """A ``start(auth=None)`` function; every registry it started stops at exit."""
    started: list[RegistryServer] = []

    def start(auth: str | None = None) -> RegistryServer:
        server = RegistryServer(
            binary, folder / f"registry-{len(started)}", auth, USERS
        )
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


USERS = {"ci-reader": "s3cret-pass"}

"""An HTTPS fake of Azure Container Registry's data plane, for the real SDK.

azure-containerregistry refuses plain http, and docker-registry has no
``/acr/v1`` listing API, so this fake serves over TLS with a self-signed
certificate (made with ``cryptography``) exactly the shapes apis.md section 3
describes:

- ``GET /acr/v1/_catalog?n=&last=`` -> ``{"repositories": [...]}``, Link paging;
- ``GET /acr/v1/<repo>/_manifests`` -> ``{"registry", "imageName", "manifests"}``
  with every manifest of the repository (children and referrers included, tags
  only where tagged, 7-digit fractional seconds);
- ``GET /v2/<repo>/manifests/<digest>`` and ``/v2/<repo>/blobs/<digest>``
  (ranged, 206 + Content-Range, as the SDK downloads in chunks);
- the ``/oauth2/exchange`` and ``/oauth2/token`` token exchange behind a
  ``401 WWW-Authenticate: Bearer`` challenge, with JWT-shaped tokens.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.registry import Image


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    cert, key = _certificate()
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert)
    key_path.write_bytes(key)
    return cert_path, key_path


@functools.cache
def _certificate() -> tuple[bytes, bytes]:
    """One key per test session: RSA key generation is the slow part."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def jwt_like(claims: dict[str, Any]) -> str:
    """A token the SDK can parse (it reads ``exp``); the signature is not checked."""

    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@dataclass
class Entry:
    """One manifest of a repository, as ACR lists it."""

    image: Image
    tags: list[str] = field(default_factory=list)
    created: str = "2024-05-01T10:00:00.1234567Z"


class FakeAcr:
    """The fake registry; ``push`` fills it, ``log`` holds every request."""

    def __init__(self, folder: Path, anonymous_pull: bool = True) -> None:
        self.cert_path, key_path = self_signed_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)
        self.server.start()
        self.host = f"127.0.0.1:{self.server.port}"
        self.url = f"https://{self.host}"
        self.anonymous_pull = anonymous_pull
        self.repositories: dict[str, dict[str, Entry]] = {}
        self.manifests: dict[str, Image] = {}
        self.blobs: dict[str, bytes] = {}
        self.garbage: set[str] = set()
        self.log: list[tuple[str, str, int]] = []

    def push(
        self,
        repository: str,
        image: Image,
        tags: list[str] = (),  # type: ignore[assignment]
        created: str = "2024-05-01T10:00:00.1234567Z",
    ) -> None:
        """Store an image and its children; each is a listed manifest, as in ACR."""
        entries = self.repositories.setdefault(repository, {})
        for child in image.children:
            self.push(repository, child, [], created)
        self.manifests[image.digest] = image
        for blob in image.blobs:
            self.blobs[blob.digest] = blob.data
        entry = entries.setdefault(image.digest, Entry(image, [], created))
        for tag in tags:
            for other in entries.values():
                if tag in other.tags:
                    other.tags.remove(tag)
            entry.tags.append(tag)

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    # Request handling.

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        self.log.append(
            (request.method, request.full_path.rstrip("?"), response.status_code)
        )
        return response

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/oauth2/exchange":
            return _json({"refresh_token": jwt_like({"exp": time.time() + 3600})})
        if path == "/oauth2/token":
            form = parse_qs(request.get_data(as_text=True))
            if form.get("grant_type") == ["password"] and not self.anonymous_pull:
                return _json({"errors": [{"code": "UNAUTHORIZED"}]}, 401)
            return _json({"access_token": jwt_like({"exp": time.time() + 3600})})
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            challenge = (
                f'Bearer realm="{self.url}/oauth2/token",service="{self.host}",'
                'scope="registry:catalog:*"'
            )
            return Response(
                json.dumps({"errors": [{"code": "UNAUTHORIZED"}]}),
                401,
                {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
            )
        if path == "/acr/v1/_catalog":
            return self._catalog(request)
        match = re.match(r"^/acr/v1/(.+)/_manifests$", path)
        if match:
            return self._manifest_list(match.group(1))
        match = re.match(r"^/v2/(.+)/manifests/(sha256:[0-9a-f]{64})$", path)
        if match and match.group(2) in self.manifests:
            manifest = self.manifests[match.group(2)].manifest
            return Response(
                manifest.data,
                200,
                {
                    "Content-Type": manifest.media_type,
                    "Docker-Content-Digest": manifest.digest,
                },
            )
        match = re.match(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$", path)
        if match and match.group(2) in self.blobs:
            return _ranged(self.blobs[match.group(2)], request.headers.get("Range"))
        return _json({"errors": [{"code": "NAME_UNKNOWN", "message": path}]}, 404)

    def _catalog(self, request: Request) -> Response:
        names = sorted(self.repositories)
        last = request.args.get("last")
        size = int(request.args.get("n", "100"))
        rest = [n for n in names if last is None or n > last]
        page = rest[:size]
        headers = {}
        if len(rest) > size:
            headers["Link"] = (
                f'</acr/v1/_catalog?last={page[-1]}&n={size}&orderby=>; rel="next"'
            )
        return _json({"repositories": page}, 200, headers)

    def _manifest_list(self, repository: str) -> Response:
        if repository in self.garbage:
            return Response(
                '{"manifests": [', 200, {"Content-Type": "application/json"}
            )
        if repository not in self.repositories:
            return _json(
                {"errors": [{"code": "NAME_UNKNOWN", "message": repository}]}, 404
            )
        items = []
        for entry in self.repositories[repository].values():
            body = entry.image.body
            config = entry.image.config or {}
            item: dict[str, Any] = {
                "digest": entry.image.digest,
                "imageSize": sum(len(b.data) for b in entry.image.blobs)
                or len(entry.image.manifest.data),
                "createdTime": entry.created,
                "lastUpdateTime": entry.created,
                "mediaType": body.get("mediaType"),
                "changeableAttributes": {
                    "deleteEnabled": True,
                    "writeEnabled": True,
                    "readEnabled": True,
                    "listEnabled": True,
                },
            }
            if config.get("architecture"):
                item["architecture"] = config["architecture"]
                item["os"] = config["os"]
            if entry.tags:
                item["tags"] = list(entry.tags)
            items.append(item)
        return _json(
            {"registry": self.host, "imageName": repository, "manifests": items}
        )


def _json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body),
        status,
        {"Content-Type": "application/json", **(headers or {})},
    )


def _ranged(data: bytes, header: str | None) -> Response:
    match = re.match(r"bytes=(\d+)-(\d+)", header or "")
    if not match:
        return Response(data, 200, {"Content-Type": "application/octet-stream"})
    start, end = int(match.group(1)), min(int(match.group(2)), len(data) - 1)
    return Response(
        data[start : end + 1],
        206,
        {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{end}/{len(data)}",
        },
    )

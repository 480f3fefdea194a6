"""Azure Container Registry: manifests and tags via the ACR data-plane API.

Export mode reads ``acr/REGISTRY/REPOSITORY.json`` (``az acr manifest
list-metadata`` output); live mode lists repositories and manifest properties
with azure-containerregistry and reads the manifests and configs of digests not
stored yet. Both describe what they list with the engine in ``etl.sources.oci``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.containerregistry import ContainerRegistryClient, DigestValidationError
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from etl.config import RegistrySettings, Settings
from etl.errors import InputError, SourceError
from etl.normalize import normalize_digest, parse_time
from etl.sources import Extracted, Scope, SweepContext
from etl.sources.oci import (
    MAX_BLOB_BYTES,
    ExportStore,
    Listed,
    Manifest,
    describe_repository,
    export_files,
    export_scope_name,
    failing,
    flatten_pages,
    known_provenance,
    load_json,
    manifest_from_body,
    platform_text,
    require_usable,
    select_repositories,
)

logger = logging.getLogger(__name__)

SOURCE = "acr"
EXPORT_HOW = (
    "`az acr manifest list-metadata --registry REGISTRY --name REPOSITORY -o json`"
)


def registry_host(name: str) -> str:
    """``contosoacr`` -> ``contosoacr.azurecr.io``; a full host stays as it is."""
    name = name.lower()
    return name if "." in name else f"{name}.azurecr.io"


def listing_from_metadata(items: list[dict[str, Any]]) -> list[Listed]:
    """``list-metadata`` items (or ``/acr/v1/REPO/_manifests`` ones) -> listing."""
    listed = []
    for item in items:
        digest = normalize_digest(item.get("digest"))
        if not digest:
            logger.warning("ACR listing item without a valid digest skipped")
            continue
        listed.append(
            Listed(
                digest=digest,
                tags=[str(t) for t in item.get("tags") or []],
                size_bytes=_int(item.get("imageSize")),
                # Older CLI versions print only "timestamp".
                pushed_at=parse_time(
                    item.get("createdTime")
                    or item.get("timestamp")
                    or item.get("lastUpdateTime")
                ),
                media_type=item.get("mediaType"),
                config_media_type=item.get("configMediaType"),
                platform=platform_text(item),
                children=[_reference(r) for r in item.get("references") or []],
            )
        )
    return listed


def _reference(ref: dict[str, Any]) -> dict[str, Any]:
    """An index's ``references`` item as the OCI descriptor it stands for."""
    platform = {k: ref[k] for k in ("architecture", "os", "variant") if ref.get(k)}
    return {"digest": ref.get("digest"), "platform": platform or None}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``acr/REGISTRY/REPOSITORY.json`` of an export folder."""
    return [
        Scope(
            SOURCE,
            export_scope_name(root, path),
            _export_extractor(root, path, registry_host(name), repository),
        )
        for path, (name,), repository in export_files(root / "acr", 1)
    ]


def _export_extractor(
    root: Path, path: Path, registry: str, repository: str
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        items = []
        for page in flatten_pages(load_json(path, EXPORT_HOW), path, EXPORT_HOW):
            if isinstance(page, dict) and isinstance(page.get("manifests"), list):
                items.extend(page["manifests"])
            elif isinstance(page, dict) and "digest" in page:
                items.append(page)
            else:
                raise InputError(
                    f"{path}: not a manifest listing; re-export it with {EXPORT_HOW}"
                )
        listed = listing_from_metadata(items)
        require_usable(items, len(listed), path, EXPORT_HOW)
        return describe_repository(registry, repository, listed, ExportStore(root))

    return extract


# -- live mode ---------------------------------------------------------------------

AUDIENCE = "https://containerregistry.azure.net"
NO_IDENTITY = (
    "no Azure identity signed in (az login, a managed identity, or "
    "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)"
)


def azure_credential() -> TokenCredential | None:
    """DefaultAzureCredential, or None (anonymous pull) when no identity is found."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    try:
        credential.get_token(f"{AUDIENCE}/.default")
    except ClientAuthenticationError:
        logger.info("acr: %s; reading registries anonymously", NO_IDENTITY)
        return None
    return credential


def acr_client(
    entry: RegistrySettings, credential: TokenCredential | None
) -> ContainerRegistryClient:
    return ContainerRegistryClient(_endpoint(entry), credential, audience=AUDIENCE)


def _endpoint(entry: RegistrySettings) -> str:
    url = (entry.url or "").rstrip("/")
    return url if "://" in url else f"https://{url}"


def listing_from_properties(properties: Iterable[Any]) -> list[Listed]:
    """SDK ``ArtifactManifestProperties`` -> listing (media types are not kept)."""
    listed = []
    for prop in properties:
        digest = normalize_digest(prop.digest)
        if not digest:
            continue
        platform = {
            "architecture": _text(prop.architecture),
            "os": _text(prop.operating_system),
        }
        listed.append(
            Listed(
                digest=digest,
                tags=list(prop.tags or []),
                size_bytes=prop.size_in_bytes,
                pushed_at=parse_time(prop.created_on),
                platform=platform_text(platform),
            )
        )
    return listed


def _text(value: Any) -> str | None:
    """An SDK enum (ArtifactArchitecture, ...) or a raw string, as its text."""
    return None if value is None else str(getattr(value, "value", value))


class AcrStore:
    """ContentStore over the ACR SDK: manifests and blobs, digests checked."""

    def __init__(
        self, client: ContainerRegistryClient, host: str, anonymous: bool = False
    ) -> None:
        self.client = client
        self.host = host
        self.anonymous = anonymous

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        """GET /v2/<repo>/manifests/<digest> (get_manifest)."""
        try:
            result = self.client.get_manifest(repository, digest)
        except ResourceNotFoundError:
            return None
        except (DigestValidationError, DecodeError, ValueError) as exc:
            raise InputError(f"manifest {digest}: {exc}") from exc
        except AzureError as exc:
            raise source_error(self.host, repository, exc, self.anonymous) from exc
        if not isinstance(result.manifest, dict):
            raise InputError(f"manifest {digest} is not a JSON object")
        return manifest_from_body(result.manifest, digest, result.media_type)

    def config(
        self, repository: str, manifest_digest: str, config_digest: str | None
    ) -> dict[str, Any] | None:
        data = self.blob(repository, config_digest) if config_digest else None
        if data is None:
            return None
        try:
            config = json.loads(data)
        except ValueError as exc:
            raise InputError(f"config {config_digest} is not valid JSON") from exc
        return config if isinstance(config, dict) else None

    def blob(self, repository: str, digest: str) -> bytes | None:
        """GET /v2/<repo>/blobs/<digest> (download_blob, in ranged chunks)."""
        data = bytearray()
        try:
            for chunk in self.client.download_blob(repository, digest):
                data += chunk
                if len(data) > MAX_BLOB_BYTES:
                    raise InputError(f"blob {digest} is larger than {MAX_BLOB_BYTES}")
        except ResourceNotFoundError:
            return None
        except (DigestValidationError, ValueError) as exc:
            raise InputError(f"blob {digest}: {exc}") from exc
        except AzureError as exc:
            raise source_error(self.host, repository, exc, self.anonymous) from exc
        return bytes(data)

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        # ACR lists referrers (signatures, SBOMs) among the manifests themselves.
        return None


def source_error(
    host: str, repository: str, exc: AzureError, anonymous: bool = False
) -> SourceError:
    """One line naming the registry, what failed and the fix."""
    where = f"{host}/{repository}" if repository else host
    if isinstance(exc, ClientAuthenticationError) or _status(exc) in (401, 403):
        fix = (
            f"{NO_IDENTITY} and anonymous pull is off"
            if anonymous
            else "grant the identity AcrPull on the registry"
        )
        return SourceError(
            f"{where}: ACR refused access ({_status(exc) or 401}); {fix}"
        )
    if isinstance(exc, ResourceNotFoundError):
        return SourceError(f"{where}: repository not found (404); fix repositories")
    if isinstance(exc, DecodeError):
        return SourceError(f"{where}: ACR answered with invalid JSON")
    if isinstance(exc, ServiceRequestError):
        return SourceError(f"{where}: cannot reach the registry ({type(exc).__name__})")
    if isinstance(exc, HttpResponseError):
        return SourceError(f"{where}: ACR answered {exc.status_code}")
    return SourceError(f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def _status(exc: AzureError) -> int | None:
    return getattr(exc, "status_code", None)


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per repository of each ``[[registry]]`` entry of type ``acr``."""
    entries = [e for e in settings.registries if e.type == SOURCE]
    if not entries:
        return []
    credential = azure_credential()
    scopes: list[Scope] = []
    for entry in entries:
        scopes.extend(_registry_scopes(entry, credential))
    return scopes


def _registry_scopes(
    entry: RegistrySettings, credential: TokenCredential | None
) -> list[Scope]:
    client = acr_client(entry, credential)
    host = urlsplit(_endpoint(entry)).netloc.lower()
    try:
        names = select_repositories(entry.repositories, client.list_repository_names)
    except AzureError as exc:
        error = source_error(host, "", exc, anonymous=credential is None)
        return [Scope(SOURCE, host, failing(error))]
    logger.info("acr %s: %s repositories selected", host, len(names))
    return [
        Scope(
            SOURCE,
            f"{host}/{name}",
            _live_extractor(client, host, name, credential is None),
        )
        for name in names
    ]


def _live_extractor(
    client: ContainerRegistryClient, host: str, repository: str, anonymous: bool
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        try:
            # GET /acr/v1/<repo>/_manifests, every page.
            properties = list(client.list_manifest_properties(repository))
        except AzureError as exc:
            raise source_error(host, repository, exc, anonymous) from exc
        return describe_repository(
            host,
            repository,
            listing_from_properties(properties),
            AcrStore(client, host, anonymous),
            known=ctx.known_images(host, repository),
            known_provenance=known_provenance(ctx, host, repository),
        )

    return extract


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Identity and read access of every ``acr`` registry entry."""
    entries = [e for e in settings.registries if e.type == SOURCE]
    if not entries:
        return []
    credential = azure_credential()
    checks = []
    for entry in entries:
        name = f"registry acr {entry.url}"
        host = urlsplit(_endpoint(entry)).netloc.lower()
        client = acr_client(entry, credential)
        try:
            next(iter(client.list_repository_names(results_per_page=1)), None)
        except AzureError as exc:
            error = source_error(host, "", exc, anonymous=credential is None)
            checks.append((name, False, str(error)))
            continue
        who = "anonymously" if credential is None else "with the Azure identity"
        checks.append((name, True, f"repositories readable {who}"))
    return checks

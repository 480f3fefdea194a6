"""Google Artifact Registry: Docker images and tags via the Artifact Registry API.

Export mode reads ``gar/PROJECT/LOCATION/REPOSITORY.json`` (``gcloud artifacts
docker images list --include-tags --format=json`` output); live mode lists
Docker-format repositories and ``list_docker_images`` with
google-cloud-artifact-registry and reads labels through the registry's ``/v2``
API with Application Default Credentials. Both describe what they list with the
engine in ``etl.sources.oci``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import (
    Forbidden,
    GoogleAPICallError,
    GoogleAPIError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unauthorized,
)
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from google.cloud.artifactregistry_v1 import ArtifactRegistryClient, Repository
from google.protobuf.json_format import ParseError

from etl.config import RegistrySettings, Settings
from etl.errors import InputError, SourceError
from etl.normalize import normalize_digest, parse_ref, parse_time
from etl.sources import Extracted, Scope, SweepContext
from etl.sources.oci import (
    ContentStore,
    ExportStore,
    Listed,
    RegistryClient,
    RegistryStore,
    describe_repository,
    export_files,
    export_scope_name,
    failing,
    flatten_pages,
    known_provenance,
    load_json,
    require_usable,
    select_repositories,
)

logger = logging.getLogger(__name__)

SOURCE = "gar"
EXPORT_HOW = (
    "`gcloud artifacts docker images list LOCATION-docker.pkg.dev/PROJECT/REPOSITORY "
    "--include-tags --format=json`"
)


def listing_from_gcloud(
    items: list[dict[str, Any]],
) -> dict[tuple[str, str], list[Listed]]:
    """gcloud items -> listings keyed by (registry, image repository)."""
    groups: dict[tuple[str, str], list[Listed]] = defaultdict(list)
    for item in items:
        digest = normalize_digest(item.get("version"))
        package = str(item.get("package") or "").strip()
        if not digest or not package:
            logger.warning("gcloud item without package or digest skipped")
            continue
        metadata = item.get("metadata") or {}
        ref = parse_ref(package)
        groups[(ref.registry, ref.repository)].append(
            Listed(
                digest=digest,
                tags=_tags(item.get("tags")),
                size_bytes=_int(metadata.get("imageSizeBytes")),
                pushed_at=parse_time(
                    item.get("createTime") or metadata.get("uploadTime")
                ),
                media_type=metadata.get("mediaType"),
            )
        )
    return groups


def _tags(value: Any) -> list[str]:
    """gcloud prints tags as one comma-separated string; newer versions as a list."""
    if isinstance(value, list):
        return [str(t).strip() for t in value if str(t).strip()]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def describe_groups(
    groups: dict[tuple[str, str], list[Listed]],
    store_for: Callable[[str], ContentStore],
    ctx: SweepContext | None = None,
) -> Extracted:
    """One Artifact Registry repository holds many images: describe each, merged."""
    merged = Extracted()
    for (registry, repository), listed in sorted(groups.items()):
        part = describe_repository(
            registry,
            repository,
            listed,
            store_for(registry),
            known=ctx.known_images(registry, repository) if ctx else (),
            known_provenance=known_provenance(ctx, registry, repository) if ctx else (),
        )
        for table, rows in part.tables.items():
            merged.add(table, rows)
        merged.problems.extend(part.problems)
    for table in ("images", "image_tags", "provenance"):
        merged.tables.setdefault(table, [])
    return merged


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``gar/PROJECT/LOCATION/REPOSITORY.json`` of an export folder."""
    return [
        Scope(SOURCE, export_scope_name(root, path), _export_extractor(root, path))
        for path, _, _ in export_files(root / "gar", 2)
    ]


def _export_extractor(root: Path, path: Path) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        items = flatten_pages(
            load_json(path, EXPORT_HOW, preamble=True), path, EXPORT_HOW
        )
        if not all(isinstance(i, dict) for i in items):
            raise InputError(
                f"{path}: not a list of images; re-export it with {EXPORT_HOW}"
            )
        groups = listing_from_gcloud(items)
        require_usable(items, sum(map(len, groups.values())), path, EXPORT_HOW)
        store = ExportStore(root)
        return describe_groups(groups, lambda registry: store)

    return extract


# -- live mode ---------------------------------------------------------------------

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
NO_ADC = (
    "no Google credentials (gcloud auth application-default login, "
    "GOOGLE_APPLICATION_CREDENTIALS, or an attached service account)"
)
PAGE_SIZE = 1000


def google_credentials() -> Any:
    """Application Default Credentials, scoped for Artifact Registry."""
    import google.auth

    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    return credentials


def gar_client(entry: RegistrySettings, credentials: Any) -> ArtifactRegistryClient:
    """The REST client (endpoint_url for private endpoints and tests)."""
    options = (
        ClientOptions(api_endpoint=entry.endpoint_url) if entry.endpoint_url else None
    )
    return ArtifactRegistryClient(
        credentials=credentials, transport="rest", client_options=options
    )


def docker_repositories(client: ArtifactRegistryClient, parent: str) -> list[str]:
    """GET /v1/{parent}/repositories, every page; Docker-format ones only."""
    found = client.list_repositories(request={"parent": parent, "page_size": PAGE_SIZE})
    return [
        repo.name.rsplit("/", 1)[-1]
        for repo in found
        if repo.format_ == Repository.Format.DOCKER
    ]


def docker_images(client: ArtifactRegistryClient, repository: str) -> list[Any]:
    """GET /v1/{repository}/dockerImages, every page."""
    found = client.list_docker_images(
        request={"parent": repository, "page_size": PAGE_SIZE}
    )
    return list(found)


def listing_from_docker_images(
    images: Iterable[Any],
) -> dict[tuple[str, str], list[Listed]]:
    """SDK DockerImage objects -> listings keyed by (registry, image repository)."""
    groups: dict[tuple[str, str], list[Listed]] = defaultdict(list)
    for found in images:
        ref = parse_ref(found.uri)
        if not ref.digest:
            logger.warning(
                "Artifact Registry image %r has no digest; skipped", found.uri
            )
            continue
        groups[(ref.registry, ref.repository)].append(
            Listed(
                digest=ref.digest,
                tags=list(found.tags),
                size_bytes=found.image_size_bytes or None,
                pushed_at=parse_time(found.upload_time),
                media_type=found.media_type or None,
                # Set on referrer artifacts (signatures, SBOMs), not on images.
                config_media_type=found.artifact_type or None,
                children=[_descriptor(m) for m in found.image_manifests],
            )
        )
    return groups


def _descriptor(manifest: Any) -> dict[str, Any]:
    """An ``imageManifests`` item as the OCI descriptor it stands for."""
    platform = {"architecture": manifest.architecture, "os": manifest.os}
    if manifest.variant:
        platform["variant"] = manifest.variant
    return {
        "digest": manifest.digest,
        "mediaType": manifest.media_type or None,
        "platform": platform,
    }


def source_error(where: str, exc: Exception) -> SourceError:
    """One line naming the repository, what failed and the fix."""
    if isinstance(exc, DefaultCredentialsError):
        return SourceError(f"{where}: {NO_ADC}")
    # REST answers raise Forbidden/Unauthorized, gRPC ones their status names.
    if isinstance(exc, Forbidden | Unauthorized | PermissionDenied | Unauthenticated):
        return SourceError(
            f"{where}: access refused ({exc.code}); grant roles/artifactregistry.reader"
        )
    if isinstance(exc, NotFound):
        return SourceError(f"{where}: repository not found (404); fix repositories")
    if isinstance(exc, ParseError):
        return SourceError(f"{where}: Artifact Registry answered with invalid JSON")
    if isinstance(exc, GoogleAPICallError):
        return SourceError(f"{where}: Artifact Registry answered {exc.code}")
    return SourceError(f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


API_ERRORS = (GoogleAPIError, GoogleAuthError, ParseError)


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per repository of each ``[[registry]]`` entry of type ``gar``."""
    entries = [e for e in settings.registries if e.type == SOURCE]
    if not entries:
        return []
    try:
        credentials = google_credentials()
    except DefaultCredentialsError as exc:
        return [
            Scope(SOURCE, _base(e), failing(source_error(_base(e), exc)))
            for e in entries
        ]
    scopes: list[Scope] = []
    for entry in entries:
        scopes.extend(_registry_scopes(entry, credentials))
    return scopes


def _base(entry: RegistrySettings) -> str:
    return f"{entry.location}-docker.pkg.dev/{entry.project}"


def _registry_scopes(entry: RegistrySettings, credentials: Any) -> list[Scope]:
    client = gar_client(entry, credentials)
    parent = f"projects/{entry.project}/locations/{entry.location}"
    try:
        names = select_repositories(
            entry.repositories, lambda: docker_repositories(client, parent)
        )
    except API_ERRORS as exc:
        return [Scope(SOURCE, _base(entry), failing(source_error(_base(entry), exc)))]
    logger.info("gar %s: %s repositories selected", _base(entry), len(names))
    stores = _Stores(entry, credentials)
    return [
        Scope(
            SOURCE,
            f"{_base(entry)}/{name}",
            _live_extractor(client, stores, f"{parent}/repositories/{name}", entry),
        )
        for name in names
    ]


class _Stores:
    """One /v2 store per registry host, signed in with the ADC access token."""

    def __init__(self, entry: RegistrySettings, credentials: Any) -> None:
        self.entry = entry
        self.credentials = credentials
        self._stores: dict[str, RegistryStore] = {}

    def __call__(self, registry: str) -> ContentStore:
        if registry not in self._stores:
            # Artifact Registry takes the access token as the password of this user.
            token = _access_token(self.credentials)
            user = "oauth2accesstoken" if token else None
            client = RegistryClient(
                self.entry.url or f"https://{registry}", user, token
            )
            self._stores[registry] = RegistryStore(client)
        return self._stores[registry]


def _access_token(credentials: Any) -> str | None:
    """A fresh ADC access token; None for anonymous credentials (public repos)."""
    if not getattr(credentials, "valid", False):
        from google.auth.transport.requests import Request

        try:
            credentials.refresh(Request())
        except GoogleAuthError as exc:
            raise SourceError(f"Artifact Registry: {NO_ADC} ({exc})") from exc
    return getattr(credentials, "token", None)


def _live_extractor(
    client: ArtifactRegistryClient,
    stores: Callable[[str], ContentStore],
    repository: str,
    entry: RegistrySettings,
) -> Callable[[SweepContext], Extracted]:
    where = f"{_base(entry)}/{repository.rsplit('/', 1)[-1]}"

    def extract(ctx: SweepContext) -> Extracted:
        try:
            images = docker_images(client, repository)
        except API_ERRORS as exc:
            raise source_error(where, exc) from exc
        return describe_groups(listing_from_docker_images(images), stores, ctx)

    return extract


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Credentials and read access of every ``gar`` registry entry."""
    entries = [e for e in settings.registries if e.type == SOURCE]
    checks = []
    for entry in entries:
        name = f"registry gar {_base(entry)}"
        try:
            client = gar_client(entry, google_credentials())
            parent = f"projects/{entry.project}/locations/{entry.location}"
            next(
                iter(
                    client.list_repositories(request={"parent": parent, "page_size": 1})
                ),
                None,
            )
        except API_ERRORS as exc:
            checks.append((name, False, str(source_error(_base(entry), exc))))
            continue
        checks.append((name, True, "repositories readable"))
    return checks

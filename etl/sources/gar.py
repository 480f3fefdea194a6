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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl.errors import InputError
from etl.normalize import normalize_digest, parse_ref, parse_time
from etl.sources import Extracted, Scope, SweepContext
from etl.sources.oci import (
    ContentStore,
    ExportStore,
    Listed,
    describe_repository,
    export_files,
    export_scope_name,
    flatten_pages,
    known_provenance,
    load_json,
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
    store: ContentStore,
    ctx: SweepContext | None = None,
) -> Extracted:
    """One Artifact Registry repository holds many images: describe each, merged."""
    merged = Extracted()
    for (registry, repository), listed in sorted(groups.items()):
        part = describe_repository(
            registry,
            repository,
            listed,
            store,
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
        items = flatten_pages(load_json(path, EXPORT_HOW, preamble=True))
        if not all(isinstance(i, dict) for i in items):
            raise InputError(
                f"{path}: not a list of images; re-export it with {EXPORT_HOW}"
            )
        return describe_groups(listing_from_gcloud(items), ExportStore(root))

    return extract

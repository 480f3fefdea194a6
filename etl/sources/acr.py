"""Azure Container Registry: manifests and tags via the ACR data-plane API.

Export mode reads ``acr/REGISTRY/REPOSITORY.json`` (``az acr manifest
list-metadata`` output); live mode lists repositories and manifest properties
with azure-containerregistry and reads the manifests and configs of digests not
stored yet. Both describe what they list with the engine in ``etl.sources.oci``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl.errors import InputError
from etl.normalize import normalize_digest, parse_time
from etl.sources import Extracted, Scope, SweepContext
from etl.sources.oci import (
    ExportStore,
    Listed,
    describe_repository,
    export_files,
    export_scope_name,
    flatten_pages,
    load_json,
    platform_text,
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
        for page in flatten_pages(load_json(path, EXPORT_HOW)):
            if isinstance(page, dict) and isinstance(page.get("manifests"), list):
                items.extend(page["manifests"])
            elif isinstance(page, dict) and "digest" in page:
                items.append(page)
            else:
                raise InputError(
                    f"{path}: not a manifest listing; re-export it with {EXPORT_HOW}"
                )
        listed = listing_from_metadata(items)
        return describe_repository(registry, repository, listed, ExportStore(root))

    return extract

"""Amazon ECR: images, tags and scan findings via boto3.

Export mode reads ``ecr/ACCOUNT/REGION/REPOSITORY.json`` (``aws ecr
describe-images`` output); live mode pages ``describe_images``, reads new
manifests with ``batch_get_image`` and their configs through the registry's
``/v2`` API with an ECR auth token, and collects basic and enhanced scan
findings. Both describe what they list with the engine in ``etl.sources.oci``.
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
)

logger = logging.getLogger(__name__)

SOURCE = "ecr"
EXPORT_HOW = "`aws ecr describe-images --repository-name REPOSITORY --region REGION`"


def registry_host(account: str, region: str) -> str:
    """The registry host of an account and region (China regions end in .cn)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}".lower()


def listing_from_details(details: list[dict[str, Any]]) -> list[Listed]:
    """``imageDetails`` items (CLI JSON or boto3 dicts) -> listing."""
    listed = []
    for detail in details:
        digest = normalize_digest(detail.get("imageDigest"))
        if not digest:
            logger.warning("ECR image detail without a valid digest skipped")
            continue
        listed.append(
            Listed(
                digest=digest,
                tags=[str(t) for t in detail.get("imageTags") or []],
                size_bytes=detail.get("imageSizeInBytes"),
                pushed_at=parse_time(detail.get("imagePushedAt")),
                media_type=detail.get("imageManifestMediaType"),
                config_media_type=detail.get("artifactMediaType"),
                subject=normalize_digest(detail.get("subjectManifestDigest")),
            )
        )
    return listed


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``ecr/ACCOUNT/REGION/REPOSITORY.json`` of an export folder."""
    return [
        Scope(
            SOURCE,
            export_scope_name(root, path),
            _export_extractor(root, path, registry_host(account, region), repository),
        )
        for path, (account, region), repository in export_files(root / "ecr", 2)
    ]


def _export_extractor(
    root: Path, path: Path, registry: str, repository: str
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        details = []
        for page in flatten_pages(load_json(path, EXPORT_HOW)):
            if not isinstance(page, dict) or not isinstance(
                page.get("imageDetails"), list
            ):
                raise InputError(
                    f"{path}: no imageDetails array; re-export it with {EXPORT_HOW}"
                )
            details.extend(page["imageDetails"])
        names = {d.get("repositoryName") for d in details} - {None}
        # The listing names its repository; the file name may only approximate it.
        name = names.pop() if len(names) == 1 else repository
        listed = listing_from_details(details)
        return describe_repository(registry, str(name), listed, ExportStore(root))

    return extract

"""Amazon ECR: images, tags and scan findings via boto3.

Export mode reads ``ecr/ACCOUNT/REGION/REPOSITORY.json`` (``aws ecr
describe-images`` output); live mode pages ``describe_images``, reads new
manifests with ``batch_get_image`` and their configs through the registry's
``/v2`` API with an ECR auth token, and collects basic and enhanced scan
findings. Both describe what they list with the engine in ``etl.sources.oci``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from etl.config import RegistrySettings, Settings
from etl.errors import InputError, SourceError
from etl.normalize import normalize_digest, parse_time
from etl.sources import Extracted, Rows, Scope, SweepContext
from etl.sources.http import TIMEOUT_SECONDS
from etl.sources.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ExportStore,
    Listed,
    Manifest,
    RegistryClient,
    RegistryStore,
    describe_repository,
    export_files,
    export_scope_name,
    failing,
    flatten_pages,
    known_provenance,
    load_json,
    parse_manifest,
    require_usable,
    select_repositories,
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
        for page in flatten_pages(load_json(path, EXPORT_HOW), path, EXPORT_HOW):
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
        require_usable(details, len(listed), path, EXPORT_HOW)
        return describe_repository(registry, str(name), listed, ExportStore(root))

    return extract


# -- live mode ---------------------------------------------------------------------

ACCEPTED_TYPES = [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST]
BATCH = 100
SEVERITIES = {"CRITICAL", "HIGH", "MEDIUM", "LOW"}
SCANNED = {"COMPLETE", "ACTIVE"}
NO_CREDENTIALS = (
    "no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or an instance or task role)"
)


def ecr_client(entry: RegistrySettings) -> Any:
    """boto3's ECR client: boto3's credential chain, standard retries, timeouts."""
    return boto3.client(
        "ecr",
        region_name=entry.region,
        endpoint_url=entry.endpoint_url or None,
        config=Config(
            retries={"mode": "standard", "max_attempts": 5},
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
        ),
    )


def repository_names(api: Any) -> list[str]:
    """DescribeRepositories, every page."""
    paginator = api.get_paginator("describe_repositories")
    return [
        r["repositoryName"]
        for page in paginator.paginate()
        for r in page["repositories"]
    ]


def describe_images(api: Any, repository: str) -> list[dict[str, Any]]:
    """DescribeImages, every page (tagged and untagged)."""
    paginator = api.get_paginator("describe_images")
    pages = paginator.paginate(repositoryName=repository)
    return [detail for page in pages for detail in page["imageDetails"]]


def scan_pages(api: Any, repository: str, digest: str) -> list[dict[str, Any]]:
    """DescribeImageScanFindings, every page; none when the image was not scanned."""
    paginator = api.get_paginator("describe_image_scan_findings")
    try:
        return list(
            paginator.paginate(
                repositoryName=repository, imageId={"imageDigest": digest}
            )
        )
    except ClientError as exc:
        if _code(exc) == "ScanNotFoundException":
            return []
        raise


def findings_from_scan(
    pages: Iterable[dict[str, Any]], image: str, digest: str, config_digest: str | None
) -> Rows:
    """Basic and enhanced (Inspector) findings: a row per vulnerability, package."""
    rows: dict[tuple[str, str | None], dict[str, Any]] = {}
    for page in pages:
        found = page.get("imageScanFindings") or {}
        for finding in found.get("findings") or []:
            row = _basic_finding(finding)
            rows[(row["vuln_id"], row["package"])] = row
        for finding in found.get("enhancedFindings") or []:
            if finding.get("status", "ACTIVE") != "ACTIVE":
                continue
            for row in _enhanced_findings(finding):
                rows[(row["vuln_id"], row["package"])] = row
    common = {
        "digest": digest,
        "config_digest": config_digest,
        "image": image,
        "scanner": "ecr",
    }
    return [{**common, **row} for row in rows.values()]


def _basic_finding(finding: dict[str, Any]) -> dict[str, Any]:
    attributes = {a.get("key"): a.get("value") for a in finding.get("attributes") or []}
    score = attributes.get("CVSS3_SCORE") or attributes.get("CVSS2_SCORE")
    description = str(finding.get("description") or "").strip().splitlines()
    return {
        "vuln_id": finding.get("name"),
        "severity": _severity(finding.get("severity")),
        "cvss": _float(score),
        "package": attributes.get("package_name"),
        "installed_version": attributes.get("package_version"),
        # Basic scanning does not say which version fixes it.
        "fixed_version": None,
        "title": (description[0][:200] if description else finding.get("name")),
    }


def _enhanced_findings(finding: dict[str, Any]) -> Rows:
    details = finding.get("packageVulnerabilityDetails") or {}
    cvss = (finding.get("scoreDetails") or {}).get("cvss") or {}
    vendor = details.get("cvss") or [{}]
    score = finding.get("score") or cvss.get("score") or vendor[0].get("baseScore")
    vuln_id = (
        details.get("vulnerabilityId") or str(finding.get("title", "")).split(" ")[0]
    )
    rows = []
    for package in details.get("vulnerablePackages") or [{}]:
        version = package.get("version")
        if version and package.get("release"):
            version = f"{version}-{package['release']}"
        fixed = package.get("fixedInVersion")
        rows.append(
            {
                "vuln_id": vuln_id,
                "severity": _severity(finding.get("severity")),
                "cvss": _float(score),
                "package": package.get("name"),
                "installed_version": version,
                "fixed_version": None if fixed in (None, "", "NotAvailable") else fixed,
                "title": finding.get("title"),
            }
        )
    return rows


def _severity(value: Any) -> str:
    text = str(value or "").upper()
    if text in SEVERITIES:
        return text
    # ECR's INFORMATIONAL sits below LOW; UNDEFINED and UNTRIAGED say nothing.
    return "LOW" if text == "INFORMATIONAL" else "UNKNOWN"


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class EcrStore(RegistryStore):
    """Manifests through BatchGetImage; config and statement blobs through /v2."""

    def __init__(self, api: Any, content: RegistryClient, where: str) -> None:
        super().__init__(content)
        self.api = api
        self.where = where
        self._manifests: dict[str, Manifest | None] = {}
        self._broken: dict[str, InputError] = {}

    def prefetch(self, repository: str, digests: list[str]) -> None:
        for start in range(0, len(digests), BATCH):
            self._batch(repository, digests[start : start + BATCH])

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        if digest not in self._manifests and digest not in self._broken:
            self._batch(repository, [digest])
        if digest in self._broken:
            raise self._broken.pop(digest)
        return self._manifests.get(digest)

    def _batch(self, repository: str, digests: list[str]) -> None:
        """BatchGetImage for up to 100 digests, every manifest type accepted."""
        try:
            answer = self.api.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageDigest": d} for d in digests],
                acceptedMediaTypes=ACCEPTED_TYPES,
            )
        except (ClientError, BotoCoreError) as exc:
            raise source_error(self.where, exc) from exc
        for found in answer.get("images") or []:
            digest = found["imageId"]["imageDigest"]
            try:
                self._manifests[digest] = parse_manifest(
                    found["imageManifest"].encode(),
                    digest,
                    found.get("imageManifestMediaType"),
                )
            except InputError as exc:
                self._broken[digest] = exc
        for digest in digests:
            if digest not in self._broken:
                self._manifests.setdefault(digest, None)


def source_error(where: str, exc: Exception) -> SourceError:
    """One line naming the repository, what failed and the fix."""
    if isinstance(exc, NoCredentialsError):
        return SourceError(f"{where}: {NO_CREDENTIALS}")
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code == "RepositoryNotFoundException":
            return SourceError(f"{where}: repository not found; fix repositories")
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            operation = exc.operation_name
            return SourceError(f"{where}: {code} on {operation}; allow ecr:{operation}")
        message = exc.response.get("Error", {}).get("Message", "")
        return SourceError(f"{where}: {code}: {message}".rstrip(": "))
    return SourceError(f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _basic_auth(token: str) -> tuple[str | None, str | None]:
    """An ECR authorization token is base64 of ``AWS:<password>``."""
    user, _, password = base64.b64decode(token).decode().partition(":")
    return user, password


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per repository of each ``[[registry]]`` entry of type ``ecr``."""
    scopes: list[Scope] = []
    for entry in settings.registries:
        if entry.type == SOURCE:
            scopes.extend(_registry_scopes(entry))
    return scopes


def _registry_scopes(entry: RegistrySettings) -> list[Scope]:
    api = ecr_client(entry)
    try:
        # GetAuthorizationToken: the /v2 credentials, and the registry host.
        auth = api.get_authorization_token()["authorizationData"][0]
        names = select_repositories(entry.repositories, lambda: repository_names(api))
    except (ClientError, BotoCoreError) as exc:
        where = f"ECR {entry.region}"
        return [Scope(SOURCE, str(entry.region), failing(source_error(where, exc)))]
    registry = urlsplit(auth["proxyEndpoint"]).netloc.lower()
    # url overrides the /v2 endpoint (a private DNS name, a test registry).
    content = RegistryClient(
        entry.url or auth["proxyEndpoint"], *_basic_auth(auth["authorizationToken"])
    )
    logger.info("ecr %s: %s repositories selected", registry, len(names))
    return [
        Scope(
            SOURCE, f"{registry}/{name}", _live_extractor(api, content, registry, name)
        )
        for name in names
    ]


def _live_extractor(
    api: Any, content: RegistryClient, registry: str, repository: str
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        where = f"{registry}/{repository}"
        try:
            info = api.describe_repositories(repositoryNames=[repository])
            details = describe_images(api, repository)
        except (ClientError, BotoCoreError) as exc:
            raise source_error(where, exc) from exc
        listed = listing_from_details(details)
        known = ctx.known_images(registry, repository)
        store = EcrStore(api, content, where)
        stored = {r["digest"] for r in known}
        store.prefetch(repository, [x.digest for x in listed if x.digest not in stored])
        result = describe_repository(
            registry,
            repository,
            listed,
            store,
            known=known,
            known_provenance=known_provenance(ctx, registry, repository),
        )
        scan_on_push = bool(
            info["repositories"][0]
            .get("imageScanningConfiguration", {})
            .get("scanOnPush")
        )
        result.add(
            "findings",
            _findings(api, where, details, result.tables["images"], scan_on_push),
        )
        return result

    return extract


def _findings(
    api: Any,
    where: str,
    details: list[dict[str, Any]],
    images: Rows,
    scan_on_push: bool,
) -> Rows:
    """Findings of every scanned platform image (they change, so every night)."""
    by_digest = {r["digest"]: r for r in images if r["kind"] == "image"}
    registry, _, repository = where.partition("/")
    rows: Rows = []
    for detail in details:
        image = by_digest.get(detail["imageDigest"])
        if image is None or not _scanned(detail, scan_on_push):
            continue
        try:
            pages = scan_pages(api, repository, image["digest"])
        except (ClientError, BotoCoreError) as exc:
            raise source_error(where, exc) from exc
        rows.extend(
            findings_from_scan(pages, where, image["digest"], image["config_digest"])
        )
    return rows


def _scanned(detail: dict[str, Any], scan_on_push: bool) -> bool:
    status = (detail.get("imageScanStatus") or {}).get("status")
    if status is not None:
        return status in SCANNED
    return "imageScanFindingsSummary" in detail or scan_on_push


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Credentials and read access of every ``ecr`` registry entry."""
    checks = []
    for entry in settings.registries:
        if entry.type != SOURCE:
            continue
        name = f"registry ecr {entry.region}"
        api = ecr_client(entry)
        try:
            api.get_authorization_token()
            api.describe_repositories(maxResults=1)
        except (ClientError, BotoCoreError) as exc:
            checks.append((name, False, str(source_error(f"ECR {entry.region}", exc))))
            continue
        checks.append((name, True, "token and repository listing allowed"))
    return checks

"""Any OCI registry, and the core every registry source shares.

A registry says which manifests exist and which tags point at them; the
manifests, their config blobs and their attestations say what each one is and,
often, who built it. This module holds:

- the pure transforms: manifest bytes, config blobs, labels and in-toto
  statements -> ``images`` and ``provenance`` rows;
- the describing engine, which turns a repository's listing into rows, reading
  manifests and blobs through a ``ContentStore`` (the OCI ``/v2`` API, a cloud
  SDK, or export files) and never reading a digest it already stored;
- the generic OCI Distribution reader for live mode, with basic auth and the
  Bearer token flow;
- the ``oci/HOST/REPOSITORY.json`` export reader (``skopeo inspect`` output).

ACR, ECR and Artifact Registry list their manifests through their own APIs and
then describe them with the same engine.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from etl.config import RegistrySettings, Settings, secret
from etl.errors import ImagetrailError, InputError, SourceError
from etl.normalize import mask_secrets, normalize_digest, parse_ref
from etl.sources import Extracted, Rows, Scope, SweepContext
from etl.sources.http import TIMEOUT_SECONDS, plain_retry

logger = logging.getLogger(__name__)

SOURCE = "oci"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
# Registries answer 404, or convert the manifest (changing its digest), unless
# the request accepts every manifest and index type.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
IN_TOTO = "application/vnd.in-toto+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle"
PREDICATE_TYPE = "in-toto.io/predicate-type"
SLSA_PREFIX = "https://slsa.dev/provenance/"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 16 * 1024 * 1024
MAX_STATEMENT_LAYERS = 8

IMAGE_COLUMNS = (
    "registry",
    "repository",
    "digest",
    "kind",
    "media_type",
    "platform",
    "parent_digest",
    "size_bytes",
    "pushed_at",
    "config_digest",
    "labels",
    "annotations",
)

PROVENANCE_COLUMNS = (
    "subject_digest",
    "registry",
    "repository",
    "source_repo",
    "commit_sha",
    "builder_id",
    "run_id",
    "run_attempt",
    "workflow_path",
    "dockerfile",
    "kind",
    "evidence",
)

# cosign's tag schema (sha256-<hex>.sig/.att/.sbom) and the OCI referrers tag
# schema (sha256-<hex>) name the subject in the tag itself.
SUBJECT_TAG = re.compile(r"^sha256-([0-9a-f]{64})(?:\.(sig|att|sbom))?$")
VSTFS_BUILD = re.compile(r"^vstfs:///Build/Build/(\d+)$", re.IGNORECASE)
GITHUB_RUN = re.compile(r"/actions/runs/(\d+)(?:/attempts/(\d+))?")
GITHUB_WORKFLOW = re.compile(
    r"^https?://[^/]+/([^/]+/[^/]+)/(\.github/workflows/[^@]+)@"
)
ANY_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

OCI_SOURCE_LABELS = ("org.opencontainers.image.source", "org.label-schema.vcs-url")
OCI_REVISION_LABELS = ("org.opencontainers.image.revision", "org.label-schema.vcs-ref")
# buildx writes the Dockerfile path here when BUILDX_GIT_LABELS=full.
DOCKERFILE_LABEL = "com.docker.image.source.entrypoint"


# -- what a registry lists -------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """A manifest as served: its digest, media type and parsed body."""

    digest: str
    media_type: str | None
    body: dict[str, Any]
    size: int | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.body

    @property
    def config_digest(self) -> str | None:
        config = self.body.get("config")
        return (
            normalize_digest(config.get("digest")) if isinstance(config, dict) else None
        )


@dataclass
class Listed:
    """One manifest as a registry's listing states it, before its bytes are read."""

    digest: str
    tags: list[str] = field(default_factory=list)
    size_bytes: int | None = None
    pushed_at: datetime | None = None
    media_type: str | None = None
    platform: str | None = None
    config_media_type: str | None = None
    subject: str | None = None
    # Descriptors of an index's children when the listing names them (ACR
    # references, Artifact Registry imageManifests): used when the manifest
    # itself cannot be read.
    children: list[dict[str, Any]] = field(default_factory=list)
    # Labels the listing already carries (skopeo inspect shows the config's).
    labels: dict[str, str] | None = None
    # True when platform, labels and size describe the image a tool resolved the
    # tag to for its own platform (skopeo inspect): for an index, one child's.
    per_platform: bool = False


class ContentStore(Protocol):
    """Where the engine reads manifest and blob bytes from.

    Methods return None for content that is not there, raise ``InputError`` for
    content that is there but unreadable (one problem line, the rest loads),
    and ``SourceError`` when the registry itself fails (the scope fails).
    """

    def manifest(self, repository: str, digest: str) -> Manifest | None: ...

    def config(
        self, repository: str, manifest_digest: str, config_digest: str | None
    ) -> dict[str, Any] | None: ...

    def blob(self, repository: str, digest: str) -> bytes | None: ...

    def referrers(
        self, repository: str, digest: str
    ) -> list[dict[str, Any]] | None: ...


# -- pure transforms -------------------------------------------------------------


def parse_manifest(
    data: bytes, digest: str, content_type: str | None = None
) -> Manifest:
    """Manifest bytes -> Manifest; the body's mediaType wins over the header."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest {digest} is not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InputError(f"manifest {digest} is not a JSON object")
    return manifest_from_body(body, digest, content_type, len(data))


def manifest_from_body(
    body: dict[str, Any],
    digest: str,
    content_type: str | None = None,
    size: int | None = None,
) -> Manifest:
    """A parsed manifest body -> Manifest, with its media type settled."""
    header = (content_type or "").split(";")[0].strip() or None
    media_type = body.get("mediaType") or header
    if media_type in (None, "application/json", "application/octet-stream"):
        # umoci and other OCI writers may omit the optional mediaType field.
        media_type = OCI_INDEX if "manifests" in body else OCI_MANIFEST
    return Manifest(digest, media_type, body, size)


def platform_text(platform: dict[str, Any] | None) -> str | None:
    """``os/arch[/variant]`` from an OCI platform, a config blob or skopeo output."""
    if not platform:
        return None
    keys = {str(k).lower(): v for k, v in platform.items()}
    os_name, arch = keys.get("os"), keys.get("architecture")
    if not os_name or not arch:
        return None
    variant = keys.get("variant")
    return f"{os_name}/{arch}/{variant}" if variant else f"{os_name}/{arch}"


def labels_of(config: dict[str, Any] | None) -> dict[str, str] | None:
    """The Labels of an image config blob (Dockerfile LABEL, --label)."""
    if not isinstance(config, dict):
        return None
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict) or not labels:
        return None
    return {str(k): str(v) for k, v in labels.items()}


def classify(
    manifest: Manifest | None,
    descriptor: dict[str, Any] | None = None,
    listing: Listed | None = None,
) -> str:
    """index, image, attestation (buildx) or artifact (referrers, signatures, ORAS)."""
    desc = descriptor or {}
    body = manifest.body if manifest else {}
    media_type = (
        (manifest.media_type if manifest else None)
        or desc.get("mediaType")
        or (listing.media_type if listing else None)
    )
    if media_type in INDEX_TYPES or "manifests" in body:
        return "index"
    annotations = desc.get("annotations") or {}
    if annotations.get(REFERENCE_TYPE) == "attestation-manifest":
        return "attestation"
    platform = platform_text(desc.get("platform")) or (
        listing.platform if listing else None
    )
    if platform == "unknown/unknown":
        return "attestation"
    if body.get("subject") or body.get("artifactType") or desc.get("artifactType"):
        return "artifact"
    if listing and (listing.subject or subject_from_tags(listing.tags)):
        return "artifact"
    layers = [x for x in body.get("layers") or [] if isinstance(x, dict)]
    if layers and all(x.get("mediaType") == IN_TOTO for x in layers):
        return "attestation"
    config_type = _dict(body.get("config")).get("mediaType") or (
        listing.config_media_type if listing else None
    )
    if config_type and config_type not in IMAGE_CONFIG_TYPES:
        return "artifact"
    return "image"


def subject_from_tags(tags: Iterable[str]) -> str | None:
    """The subject digest a cosign or referrers-schema tag names."""
    for tag in tags:
        m = SUBJECT_TAG.match(tag)
        if m:
            return "sha256:" + m.group(1)
    return None


def referrers_subject(tags: Iterable[str]) -> str | None:
    """The subject of an index kept under the referrers tag (``sha256-<hex>``)."""
    for tag in tags:
        m = SUBJECT_TAG.match(tag)
        if m and not m.group(2):
            return "sha256:" + m.group(1)
    return None


def manifest_size(manifest: Manifest) -> int | None:
    """Bytes a pull moves for an image manifest: config plus layers."""
    if manifest.is_index:
        return None
    parts = [manifest.body.get("config"), *(manifest.body.get("layers") or [])]
    sizes = [p.get("size") for p in parts if isinstance(p, dict)]
    known = [s for s in sizes if isinstance(s, int)]
    return sum(known) if known else None


def label_provenance(
    digest: str, registry: str, repository: str, labels: dict[str, str]
) -> Rows:
    """Provenance stated by config labels: Docker@2 pipeline data and OCI labels."""
    rows = []
    lowered = {k.lower(): v for k, v in labels.items()}
    for key, value in sorted(lowered.items()):
        # The prefix is the collection host reversed (com.azure.dev,
        # com.visualstudio.contoso, an on-prem host), so only the suffix is fixed.
        if not key.endswith(".image.build.builduri"):
            continue
        match = VSTFS_BUILD.match(value.strip())
        if not match:
            continue
        prefix = key[: -len("build.builduri")]
        rows.append(
            provenance_row(
                digest,
                registry,
                repository,
                kind="ado-labels",
                run_id=int(match.group(1)),
                source_repo=lowered.get(prefix + "build.repository.uri"),
                commit_sha=lowered.get(prefix + "build.sourceversion"),
                builder_id=lowered.get(prefix + "system.teamfoundationcollectionuri"),
                workflow_path=lowered.get(prefix + "build.definitionname"),
                evidence=f"label {key}={value}",
            )
        )
    rows.extend(_oci_label_provenance(digest, registry, repository, lowered))
    return rows


def _oci_label_provenance(
    digest: str, registry: str, repository: str, labels: dict[str, str]
) -> Rows:
    used = []
    source = revision = None
    for key in OCI_SOURCE_LABELS:
        if labels.get(key):
            source = labels[key]
            used.append(key)
            break
    for key in OCI_REVISION_LABELS:
        if labels.get(key):
            revision = labels[key]
            used.append(key)
            break
    if not used:
        return []
    return [
        provenance_row(
            digest,
            registry,
            repository,
            kind="oci-labels",
            source_repo=source,
            commit_sha=revision,
            dockerfile=labels.get(DOCKERFILE_LABEL),
            evidence="; ".join(f"label {k}={labels[k]}" for k in used),
        )
    ]


def provenance_row(
    subject: str, registry: str, repository: str, *, kind: str, **facts: Any
) -> dict[str, Any]:
    """A provenance row; URLs and evidence pass through secret masking."""
    row: dict[str, Any] = {
        "subject_digest": subject,
        "registry": registry,
        "repository": repository,
        "source_repo": None,
        "commit_sha": None,
        "builder_id": None,
        "run_id": None,
        "run_attempt": None,
        "workflow_path": None,
        "dockerfile": None,
        "kind": kind,
        "evidence": None,
    }
    row.update(facts)
    for key in ("source_repo", "builder_id", "evidence"):
        if row[key]:
            row[key] = mask_secrets(str(row[key]))
    return row


def read_statements(data: bytes) -> list[dict[str, Any]]:
    """In-toto statements from a layer: plain, DSSE-wrapped or in a sigstore bundle."""
    try:
        doc = json.loads(data)
        if isinstance(doc, dict) and isinstance(doc.get("dsseEnvelope"), dict):
            doc = doc["dsseEnvelope"]
        if isinstance(doc, dict) and "payload" in doc and "payloadType" in doc:
            doc = json.loads(base64.b64decode(doc["payload"]))
    except (ValueError, UnicodeDecodeError, binascii.Error, TypeError):
        return []
    if isinstance(doc, dict) and "predicateType" in doc:
        return [doc]
    return []


def statement_provenance(
    statement: dict[str, Any],
    registry: str,
    repository: str,
    evidence: str,
    default_subject: str | None = None,
) -> Rows:
    """SLSA provenance (v0.2 or v1) -> one ``slsa`` row per subject digest."""
    predicate_type = str(statement.get("predicateType") or "")
    predicate = statement.get("predicate")
    if not predicate_type.startswith(SLSA_PREFIX) or not isinstance(predicate, dict):
        return []
    if "buildDefinition" in predicate:
        facts = _slsa_v1(predicate)
    else:
        facts = _slsa_v02(predicate)
    subjects = []
    for subject in statement.get("subject") or []:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict):
            subjects.append(normalize_digest(digests.get("sha256")))
    found = [s for s in subjects if s] or ([default_subject] if default_subject else [])
    return [
        provenance_row(
            subject,
            registry,
            repository,
            kind="slsa",
            evidence=f"{evidence} predicate {predicate_type}",
            **facts,
        )
        for subject in dict.fromkeys(found)
    ]


def _slsa_v02(predicate: dict[str, Any]) -> dict[str, Any]:
    invocation = _dict(predicate.get("invocation"))
    config_source = _dict(invocation.get("configSource"))
    environment = _dict(invocation.get("environment"))
    metadata = _dict(predicate.get("metadata"))
    vcs = _dict(
        _dict(metadata.get("https://mobyproject.org/buildkit@v1#metadata")).get("vcs")
    )
    buildkit = "mobyproject.org/buildkit" in str(predicate.get("buildType") or "")
    builder = _dict(predicate.get("builder")).get("id")
    entry_point = config_source.get("entryPoint")
    facts = {
        "source_repo": _repo_url(config_source.get("uri"))
        or _repo_url(vcs.get("source")),
        "commit_sha": _dict(config_source.get("digest")).get("sha1")
        or vcs.get("revision")
        or environment.get("github_sha1"),
        "builder_id": builder,
        # BuildKit's entry point is the Dockerfile; SLSA's GitHub generators put
        # the calling workflow there instead.
        "dockerfile": _dockerfile(entry_point, vcs) if buildkit else None,
        "workflow_path": None if buildkit else entry_point,
    }
    facts.update(_github_run(builder, environment))
    return _with_builder_workflow(facts, builder)


def _slsa_v1(predicate: dict[str, Any]) -> dict[str, Any]:
    definition = _dict(predicate.get("buildDefinition"))
    details = _dict(predicate.get("runDetails"))
    external = _dict(definition.get("externalParameters"))
    config_source = _dict(external.get("configSource"))
    workflow = _dict(external.get("workflow"))
    metadata = _dict(details.get("metadata"))
    vcs = _dict(_dict(metadata.get("buildkit_metadata")).get("vcs"))
    git = _git_dependency(definition.get("resolvedDependencies"))
    builder = _dict(details.get("builder")).get("id")
    facts = {
        "source_repo": _repo_url(config_source.get("uri"))
        or _repo_url(workflow.get("repository"))
        or _repo_url(git.get("uri"))
        or _repo_url(vcs.get("source")),
        "commit_sha": _dict(config_source.get("digest")).get("sha1")
        or _dict(git.get("digest")).get("gitCommit")
        or _dict(git.get("digest")).get("sha1")
        or vcs.get("revision"),
        "builder_id": builder,
        "dockerfile": _dockerfile(config_source.get("path"), vcs),
        "workflow_path": workflow.get("path"),
    }
    invocation = metadata.get("invocationId") or metadata.get("invocationID")
    facts.update(_github_run(invocation, {}) or _github_run(builder, {}))
    return _with_builder_workflow(facts, builder)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _git_dependency(dependencies: Any) -> dict[str, Any]:
    for dep in dependencies or []:
        if not isinstance(dep, dict):
            continue
        digest = _dict(dep.get("digest"))
        if "gitCommit" in digest or str(dep.get("uri", "")).startswith("git+"):
            return dep
    return {}


def _repo_url(uri: Any) -> str | None:
    """A source URI without git+ and the ref it names; the rest as stated."""
    if not uri or not isinstance(uri, str):
        return None
    text = uri.removeprefix("git+").split("#", 1)[0]
    return re.sub(r"@(refs/|[0-9a-f]{40}).*$", "", text) or None


def _dockerfile(path: Any, vcs: dict[str, Any]) -> str | None:
    """The Dockerfile path relative to the repository, as CODEOWNERS sees it."""
    if not path or not isinstance(path, str):
        return None
    folder = str(vcs.get("localdir:dockerfile") or "").strip("./")
    return f"{folder}/{path}" if folder and "/" not in path else path


def _github_run(text: Any, environment: dict[str, Any]) -> dict[str, Any]:
    run_id = environment.get("github_run_id")
    attempt = environment.get("github_run_attempt")
    if run_id and str(run_id).isdigit():
        found = {"run_id": int(run_id)}
        if attempt and str(attempt).isdigit():
            found["run_attempt"] = int(attempt)
        return found
    match = GITHUB_RUN.search(str(text or ""))
    if not match:
        return {}
    found = {"run_id": int(match.group(1))}
    if match.group(2):
        found["run_attempt"] = int(match.group(2))
    return found


def _with_builder_workflow(facts: dict[str, Any], builder: Any) -> dict[str, Any]:
    """The workflow path a GitHub builder id names, when it is the source's own.

    A reusable workflow's builder id names the called workflow, which may live
    in another repository; only a workflow of the built repository is kept.
    """
    if facts.get("workflow_path"):
        return facts
    match = GITHUB_WORKFLOW.match(str(builder or ""))
    source = (facts.get("source_repo") or "").lower().removesuffix(".git")
    if match and source.endswith("/" + match.group(1).lower()):
        facts["workflow_path"] = match.group(2)
    return facts


def tag_rows(
    registry: str, repository: str, listed: Iterable[Listed], observed_at: datetime
) -> Rows:
    """image_tags rows: every tag of the listing, as this sweep saw it."""
    return [
        {
            "registry": registry,
            "repository": repository,
            "tag": tag,
            "digest": entry.digest,
            "observed_at": observed_at,
        }
        for entry in listed
        for tag in dict.fromkeys(entry.tags)
    ]


# -- the describing engine ---------------------------------------------------------


def describe_repository(
    registry: str,
    repository: str,
    listed: Sequence[Listed],
    store: ContentStore,
    *,
    known: Sequence[dict[str, Any]] = (),
    known_provenance: Sequence[dict[str, Any]] = (),
    observed_at: datetime | None = None,
) -> Extracted:
    """A repository's listing -> images, image_tags and provenance rows.

    Digests are immutable: a digest found in ``known`` (the stored rows) is
    re-emitted as stored, with its children, and none of its bytes is read again.
    """
    describer = _Describer(registry, repository, listed, store, known, known_provenance)
    for entry in listed:
        describer.listed(entry)
    result = Extracted(problems=describer.problems)
    images = describer.image_rows()
    result.add("images", images)
    result.add("provenance", describer.provenance_rows(images))
    when = observed_at or datetime.now(UTC)
    result.add("image_tags", tag_rows(registry, repository, listed, when))
    logger.info(
        "%s/%s: %s manifests (%s read, %s already stored), %s tags",
        registry,
        repository,
        len({r["digest"] for r in images}),
        describer.read,
        len(describer.reused),
        len(result.tables["image_tags"]),
    )
    return result


class _Describer:
    """State of one repository's description: rows so far and what was read."""

    def __init__(
        self,
        registry: str,
        repository: str,
        listed: Sequence[Listed],
        store: ContentStore,
        known: Sequence[dict[str, Any]],
        known_provenance: Sequence[dict[str, Any]],
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.listing = {entry.digest: entry for entry in listed}
        self.store = store
        self.known: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.known_children: dict[str, list[str]] = defaultdict(list)
        for row in known:
            clean = _clean_known(row)
            self.known[clean["digest"]].append(clean)
            if clean.get("parent_digest"):
                self.known_children[clean["parent_digest"]].append(clean["digest"])
        self.known_provenance = list(known_provenance)
        self.rows: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.statements: Rows = []
        self.problems: list[str] = []
        self.reused: set[str] = set()
        self.read = 0
        self._manifests: dict[str, Manifest | None] = {}
        self._reads: dict[tuple[str, str, str | None], Any] = {}

    # Entry points, in the order data flows.

    def listed(self, entry: Listed) -> None:
        if entry.digest in self.known:
            self._reuse(entry.digest)
            return
        manifest = self._manifest(entry.digest)
        if manifest is None:
            self._from_listing(entry)
            return
        kind = self._describe(manifest, listing=entry)
        if kind in ("index", "image"):
            self._referrers(entry.digest)

    def image_rows(self) -> Rows:
        """Rows without stale parents or duplicate parentless twins."""
        digests = {d for d, _ in self.rows}
        kept = [
            row
            for (_, parent), row in self.rows.items()
            if parent is None or parent in digests or row["kind"] == "artifact"
        ]
        with_parent = {r["digest"] for r in kept if r["parent_digest"]}
        rows = [r for r in kept if r["parent_digest"] or r["digest"] not in with_parent]
        present = {r["digest"] for r in rows}
        for (digest, parent), row in self.rows.items():
            if digest not in present and parent is not None:
                rows.append({**row, "parent_digest": None})
                present.add(digest)
        return rows

    def provenance_rows(self, images: Rows) -> Rows:
        rows: Rows = []
        for image in images:
            if image.get("labels"):
                rows.extend(
                    label_provenance(
                        image["digest"], self.registry, self.repository, image["labels"]
                    )
                )
        rows.extend(self.statements)
        for row in self.known_provenance:
            found = ANY_DIGEST.search(str(row.get("evidence") or ""))
            if row.get("kind") == "slsa" and found and found.group(0) in self.reused:
                rows.append({k: row.get(k) for k in PROVENANCE_COLUMNS})
        unique: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            key = (row["subject_digest"], row["kind"], row["evidence"])
            unique.setdefault(key, row)
        return list(unique.values())

    # Describing.

    def _describe(
        self,
        manifest: Manifest,
        *,
        parent: str | None = None,
        descriptor: dict[str, Any] | None = None,
        listing: Listed | None = None,
        fallback: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        desc = descriptor or {}
        listing = listing or self.listing.get(manifest.digest)
        kind = classify(manifest, desc, listing)
        referrers_of = referrers_subject(listing.tags) if listing else None
        if kind == "index" and referrers_of:
            kind = "artifact"
        annotations = {
            **(desc.get("annotations") or {}),
            **(manifest.body.get("annotations") or {}),
        }
        # An index has no platform; a tool's per-platform view of it is a child's.
        own = (
            listing
            if listing and not (listing.per_platform and kind == "index")
            else None
        )
        platform = None
        if kind != "index":
            platform = platform_text(desc.get("platform")) or (
                own.platform if own else None
            )
        row = self._row(
            manifest.digest,
            kind,
            media_type=manifest.media_type,
            platform=platform,
            parent=parent or referrers_of or self._subject(kind, manifest, listing),
            size=(own.size_bytes if own else None) or manifest_size(manifest),
            pushed_at=listing.pushed_at if listing else None,
            config_digest=None if kind == "index" else manifest.config_digest,
            annotations=annotations or None,
        )
        if manifest.is_index:
            self._children(manifest, listing, referrers_of)
        elif kind == "image":
            self._labels(row, manifest, listing, fallback)
        else:
            self._statements(manifest, desc)
        self._emit(row)
        return kind

    def _children(
        self, index: Manifest, listing: Listed | None, referrers_of: str | None
    ) -> None:
        fallback = self._index_fallback(index, listing)
        for desc in index.body.get("manifests") or []:
            if not isinstance(desc, dict):
                continue
            if referrers_of:
                self._referrer(desc, referrers_of)
            else:
                self._child(desc, index.digest, fallback)

    def _child(
        self,
        desc: dict[str, Any],
        parent: str,
        fallback: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        digest = normalize_digest(desc.get("digest"))
        if not digest:
            return
        if digest in self.known:
            self._reuse(digest, parent)
            return
        manifest = self._manifest(digest)
        if manifest is not None:
            self._describe(manifest, parent=parent, descriptor=desc, fallback=fallback)
        else:
            listing = self.listing.get(digest)
            self._without_manifest(digest, desc, parent, listing, fallback)

    def _labels(
        self,
        row: dict[str, Any],
        manifest: Manifest,
        listing: Listed | None,
        fallback: dict[str, dict[str, Any]] | None,
    ) -> None:
        config = self._config(manifest.digest, manifest.config_digest)
        if config is None and fallback and row["platform"] in fallback:
            config = fallback[row["platform"]]
        if config is not None:
            row["labels"] = labels_of(config)
            row["platform"] = row["platform"] or platform_text(config)
        elif listing and listing.labels:
            row["labels"] = listing.labels

    def _index_fallback(
        self, index: Manifest, listing: Listed | None
    ) -> dict[str, dict[str, Any]]:
        """The one platform's config that tools show for a multi-arch tag.

        ``skopeo inspect`` of an index prints the labels of the platform it
        would pull, and ``skopeo inspect --config`` its config: both describe
        that child, never the index.
        """
        fallback: dict[str, dict[str, Any]] = {}
        config = self._config(index.digest, None)
        if config is not None and platform_text(config):
            fallback[platform_text(config) or ""] = config
        if listing and listing.labels and listing.platform:
            fallback.setdefault(
                listing.platform, {"config": {"Labels": listing.labels}}
            )
        return fallback

    def _statements(self, manifest: Manifest, desc: dict[str, Any]) -> None:
        """Provenance from an attestation manifest's or a referrer's layers."""
        subject = normalize_digest(
            (desc.get("annotations") or {}).get(REFERENCE_DIGEST)
        ) or normalize_digest(_dict(manifest.body.get("subject")).get("digest"))
        layers = [x for x in manifest.body.get("layers") or [] if _may_be_slsa(x)]
        for layer in layers[:MAX_STATEMENT_LAYERS]:
            digest = normalize_digest(layer.get("digest"))
            data = self._blob(digest) if digest else None
            for statement in read_statements(data or b""):
                self.statements.extend(
                    statement_provenance(
                        statement,
                        self.registry,
                        self.repository,
                        f"attestation {manifest.digest}",
                        subject,
                    )
                )

    def _referrers(self, digest: str) -> None:
        for desc in (
            self._call(lambda: self.store.referrers(self.repository, digest)) or []
        ):
            if isinstance(desc, dict):
                self._referrer(desc, digest)

    def _referrer(self, desc: dict[str, Any], subject: str) -> None:
        digest = normalize_digest(desc.get("digest"))
        if not digest:
            return
        if digest in self.known:
            self._reuse(digest, subject)
            return
        manifest = self._manifest(digest) if _may_be_slsa(desc) else None
        row = self._row(
            digest,
            "artifact",
            media_type=desc.get("mediaType"),
            parent=subject,
            size=desc.get("size") if isinstance(desc.get("size"), int) else None,
            annotations={
                **(
                    {"artifactType": desc["artifactType"]}
                    if desc.get("artifactType")
                    else {}
                ),
                **(desc.get("annotations") or {}),
            }
            or None,
        )
        if manifest is not None:
            row["config_digest"] = manifest.config_digest
            self._statements(manifest, {})
        self._emit(row)

    def _from_listing(self, entry: Listed) -> None:
        """A manifest known only from the listing (its bytes are not available)."""
        self._without_manifest(entry.digest, {}, None, entry, None)
        for desc in entry.children:
            self._child(desc, entry.digest)

    def _without_manifest(
        self,
        digest: str,
        desc: dict[str, Any],
        parent: str | None,
        listing: Listed | None,
        fallback: dict[str, dict[str, Any]] | None,
    ) -> None:
        """A row from what the index descriptor and the listing say of a digest."""
        kind = classify(None, desc, listing)
        platform = platform_text(desc.get("platform")) or (
            listing.platform if listing else None
        )
        size = desc.get("size") if isinstance(desc.get("size"), int) else None
        row = self._row(
            digest,
            kind,
            media_type=desc.get("mediaType")
            or (listing.media_type if listing else None),
            platform=None if kind == "index" else platform,
            parent=parent or self._subject(kind, None, listing),
            size=(listing.size_bytes if listing else None) or size,
            pushed_at=listing.pushed_at if listing else None,
            annotations=desc.get("annotations") or None,
        )
        if kind == "image":
            config = self._config(digest, None)
            if config is None and fallback and platform in fallback:
                config = fallback[platform]
            if config is not None:
                row["labels"] = labels_of(config)
                row["platform"] = row["platform"] or platform_text(config)
            elif listing and listing.labels:
                row["labels"] = listing.labels
        self._emit(row)

    def _reuse(self, digest: str, parent: str | None = None) -> None:
        if digest in self.reused:
            if parent is not None:
                self._reparent(digest, parent)
            return
        self.reused.add(digest)
        for row in self.known[digest]:
            self._emit(dict(row))
        if parent is not None:
            self._reparent(digest, parent)
        for child in self.known_children.get(digest, []):
            self._reuse(child)

    def _reparent(self, digest: str, parent: str) -> None:
        if (digest, parent) not in self.rows and self.known.get(digest):
            self._emit({**self.known[digest][0], "parent_digest": parent})

    # Rows and reads.

    def _subject(
        self, kind: str, manifest: Manifest | None, listing: Listed | None
    ) -> str | None:
        if kind != "artifact":
            return None
        body = manifest.body if manifest else {}
        return (
            normalize_digest(_dict(body.get("subject")).get("digest"))
            or (listing.subject if listing else None)
            or (subject_from_tags(listing.tags) if listing else None)
        )

    def _row(self, digest: str, kind: str, **facts: Any) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "repository": self.repository,
            "digest": digest,
            "kind": kind,
            "media_type": facts.get("media_type"),
            "platform": facts.get("platform"),
            "parent_digest": facts.get("parent"),
            "size_bytes": facts.get("size"),
            "pushed_at": facts.get("pushed_at"),
            "config_digest": facts.get("config_digest"),
            "labels": None,
            "annotations": facts.get("annotations"),
        }

    def _emit(self, row: dict[str, Any]) -> None:
        self.rows[(row["digest"], row.get("parent_digest"))] = row

    def _manifest(self, digest: str) -> Manifest | None:
        if digest not in self._manifests:
            self._manifests[digest] = self._call(
                lambda: self.store.manifest(self.repository, digest)
            )
            self.read += self._manifests[digest] is not None
        return self._manifests[digest]

    def _config(self, manifest_digest: str, config_digest: str | None) -> Any:
        key = ("config", manifest_digest, config_digest)
        if key not in self._reads:
            self._reads[key] = self._call(
                lambda: self.store.config(
                    self.repository, manifest_digest, config_digest
                )
            )
        return self._reads[key]

    def _blob(self, digest: str) -> bytes | None:
        key = ("blob", digest, None)
        if key not in self._reads:
            self._reads[key] = self._call(
                lambda: self.store.blob(self.repository, digest)
            )
        return self._reads[key]

    def _call(self, read: Callable[[], Any]) -> Any:
        """A store read; unreadable content becomes one problem line.

        A garbled export file fails the scope instead: the rows it would give
        (platform children, provenance) must not vanish from the warehouse.
        """
        try:
            return read()
        except GarbledExportFile:
            raise
        except InputError as exc:
            self.problems.append(f"{self.registry}/{self.repository}: {exc}")
            return None


def _clean_known(row: dict[str, Any]) -> dict[str, Any]:
    clean = {k: row.get(k) for k in IMAGE_COLUMNS}
    for key in ("labels", "annotations"):
        value = clean[key]
        if isinstance(value, str):
            clean[key] = json.loads(value)
    return clean


def _may_be_slsa(descriptor: dict[str, Any]) -> bool:
    """Whether a layer or referrer may hold SLSA provenance (worth reading)."""
    if not isinstance(descriptor, dict):
        return False
    predicate = (descriptor.get("annotations") or {}).get(PREDICATE_TYPE)
    if predicate and not str(predicate).startswith(SLSA_PREFIX):
        return False
    kinds = (str(descriptor.get("mediaType")), str(descriptor.get("artifactType")))
    return any(k in (IN_TOTO, DSSE) or k.startswith(SIGSTORE_BUNDLE) for k in kinds)


# -- export mode -------------------------------------------------------------------


class GarbledExportFile(InputError):
    """A manifest or config file of an export that cannot be read."""


class ExportStore:
    """Manifests and configs saved by ``skopeo inspect --raw`` beside the listings.

    ``manifests/HEX.json`` holds the manifest of ``sha256:HEX`` and
    ``configs/HEX.json`` the config of the image that manifest names (keyed by
    the manifest digest, not the config digest). Layer blobs are not exported,
    so attestation statements are not read in export mode.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        path = self.root / "manifests" / f"{digest.removeprefix('sha256:')}.json"
        if not path.is_file():
            return None
        try:
            return parse_manifest(path.read_bytes(), digest)
        except (OSError, InputError) as exc:
            raise GarbledExportFile(
                f"{path}: not a manifest ({exc}); re-export it with "
                "`skopeo inspect --raw REF@DIGEST`"
            ) from exc

    def config(
        self, repository: str, manifest_digest: str, config_digest: str | None
    ) -> dict[str, Any] | None:
        name = manifest_digest.removeprefix("sha256:")
        path = self.root / "configs" / f"{name}.json"
        if not path.is_file():
            return None
        how = "`skopeo inspect --config --raw REF@DIGEST`"
        try:
            data = load_json(path, how)
        except InputError as exc:
            raise GarbledExportFile(str(exc)) from exc
        if not isinstance(data, dict):
            raise GarbledExportFile(
                f"{path}: not an image config object; re-export it with {how}"
            )
        return data

    def blob(self, repository: str, digest: str) -> bytes | None:
        return None

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        return None


def load_json(path: Path, how: str, preamble: bool = False) -> Any:
    """A JSON export file; a garbled one is an InputError naming it and the fix."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read ({exc}); re-export it with {how}"
        ) from exc
    if preamble:
        # gcloud prints "Listing items under ..." before the JSON on the same stream.
        start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=0)
        text = text[start:]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(
            f"{path}: not valid JSON ({exc}); re-export it with {how}"
        ) from exc


def flatten_pages(data: Any, path: Path, how: str) -> list[Any]:
    """An array of items, or an array of such arrays (one per page)."""
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        kind = {bool: "boolean", int: "number", float: "number", str: "string"}
        raise InputError(
            f"{path}: holds a JSON {kind.get(type(data), 'null')}, not a listing; "
            f"re-export it with {how}"
        )
    if data and all(isinstance(page, list) for page in data):
        return [item for page in data for item in page]
    return data


def export_files(base: Path, depth: int) -> Iterator[tuple[Path, list[str], str]]:
    """``(file, leading folder names, repository)`` for each JSON file under base.

    The first ``depth`` folders name the registry (and account, region ...); the
    rest of the path, without ``.json``, is the repository, which may span folders.
    """
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.json")):
        parts = path.relative_to(base).with_suffix("").parts
        if len(parts) <= depth:
            logger.warning("%s: not at %s folder(s) deep; skipped", path, depth + 1)
            continue
        yield path, list(parts[:depth]), "/".join(parts[depth:])


def export_scope_name(root: Path, path: Path) -> str:
    return "export:" + path.relative_to(root).with_suffix("").as_posix()


def require_usable(items: list[Any], usable: int, path: Path, how: str) -> None:
    """A listing whose every item was skipped is garbled, not an empty repository."""
    if items and not usable:
        raise InputError(
            f"{path}: none of its {len(items)} item(s) names an image digest; "
            f"re-export it with {how}"
        )


SKOPEO_HOW = "`skopeo inspect docker://HOST/REPOSITORY:TAG` per tag, as a JSON array"


def skopeo_listing(entries: list[dict[str, Any]], where: Path) -> list[Listed]:
    """``skopeo inspect`` outputs -> listing entries with their tags.

    skopeo's RepoTags lists every tag of the repository, not the inspected one's.
    The tag an entry describes is its ``Tag`` when skopeo printed one; else, when
    the file holds one entry per RepoTags item in that order (what
    ``for t in $(skopeo list-tags ...)`` writes), the tag at the entry's position;
    else RepoTags only when no two digests claim the same tag.
    """
    listed = []
    for entry in entries:
        digest = normalize_digest(entry.get("Digest"))
        if not digest:
            raise InputError(
                f"{where}: an entry has no valid Digest; re-export it with {SKOPEO_HOW}"
            )
        layers = entry.get("LayersData") or []
        sizes = [x.get("Size") for x in layers if isinstance(x, dict)]
        listed.append(
            Listed(
                digest=digest,
                platform=platform_text(entry),
                labels={str(k): str(v) for k, v in (entry.get("Labels") or {}).items()}
                or None,
                size_bytes=sum(s for s in sizes if isinstance(s, int)) or None,
                per_platform=True,
            )
        )
    for item, tags in zip(listed, _skopeo_tags(entries, where), strict=True):
        item.tags = tags
    return listed


def _skopeo_tags(entries: list[dict[str, Any]], where: Path) -> list[list[str]]:
    repo_tags = [list(e.get("RepoTags") or []) for e in entries]
    if all(e.get("Tag") for e in entries):
        return [[str(e["Tag"])] for e in entries]
    if len(entries) > 1 and all(t == repo_tags[0] for t in repo_tags):
        if len(repo_tags[0]) == len(entries):
            return [[t] for t in repo_tags[0]]
        logger.warning(
            "%s: every entry lists the same %s RepoTags for %s entries; "
            "tags not recorded (write one entry per tag, in RepoTags order)",
            where,
            len(repo_tags[0]),
            len(entries),
        )
        return [[] for _ in entries]
    claims: dict[str, set[str]] = defaultdict(set)
    for entry, tags in zip(entries, repo_tags, strict=True):
        for tag in tags:
            claims[tag].add(str(entry.get("Digest")))
    return [[t for t in tags if len(claims[t]) == 1] for tags in repo_tags]


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``oci/HOST/REPOSITORY.json`` of an export folder."""
    scopes = []
    for path, (host,), repository in export_files(root / "oci", 1):
        ref = parse_ref(f"{host}/{repository}")
        scopes.append(
            Scope(
                SOURCE,
                export_scope_name(root, path),
                _export_extractor(root, path, ref.registry, ref.repository),
            )
        )
    return scopes


def _export_extractor(
    root: Path, path: Path, registry: str, repository: str
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        how = SKOPEO_HOW
        entries = flatten_pages(load_json(path, how), path, how)
        if not all(isinstance(e, dict) for e in entries):
            raise InputError(f"{path}: not an array of skopeo inspect outputs; {how}")
        listed = skopeo_listing(entries, path)
        return describe_repository(registry, repository, listed, ExportStore(root))

    return extract


# -- live mode: the OCI Distribution API ------------------------------------------


class RegistryClient:
    """The ``/v2`` API of one registry, with basic auth and the Bearer token flow.

    Credentials are sent only where the registry asks for them: as Basic when it
    challenges with Basic (ECR), or to its token realm when it challenges with
    Bearer (Docker Hub, GHCR, ACR, Artifact Registry, Harbor, Quay). Tokens are
    kept per scope and fetched again when the registry refuses an expired one.
    """

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        page_size: int = 1000,
        session: requests.Session | None = None,
    ) -> None:
        self.base = url.rstrip("/")
        self.host = urlsplit(self.base).netloc.lower()
        self.credentials = (username, password) if username and password else None
        self.session = session or registry_session()
        self.page_size = page_size
        self.referrers_supported: bool | None = None
        self._tokens: dict[str, str] = {}
        self._basic = False

    def ping(self) -> None:
        """GET /v2/: the registry answers and accepts the credentials."""
        self._request("GET", "/v2/", "", "/v2/")

    def catalog(self) -> list[str]:
        """GET /v2/_catalog, every page (Link: rel="next")."""
        return self._pages("/v2/_catalog", "registry:catalog:*", "repositories", "")

    def tags(self, repository: str) -> list[str]:
        """GET /v2/<name>/tags/list, every page (Link: rel="next")."""
        path = f"/v2/{repository}/tags/list"
        return self._pages(path, _pull(repository), "tags", repository)

    def resolve(self, repository: str, tag: str) -> str | None:
        """HEAD /v2/<name>/manifests/<tag>: the digest a tag points at now."""
        response = self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{tag}",
            _pull(repository),
            repository,
            accept=MANIFEST_ACCEPT,
            ok=(200, 404),
        )
        if response.status_code == 404:
            return None
        digest = normalize_digest(response.headers.get("Docker-Content-Digest"))
        if digest:
            return digest
        # Some registries leave the header off a HEAD; the body's hash is the digest.
        manifest = self.manifest(repository, tag)
        return manifest.digest if manifest else None

    def exists(self, repository: str, digest: str) -> bool:
        """HEAD /v2/<name>/manifests/<digest>: the registry still serves it."""
        response = self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{digest}",
            _pull(repository),
            repository,
            accept=MANIFEST_ACCEPT,
            ok=(200, 404),
        )
        return response.status_code == 200

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """GET /v2/<name>/manifests/<reference>, accepting every manifest type."""
        response = self._request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            _pull(repository),
            repository,
            accept=MANIFEST_ACCEPT,
            ok=(200, 404),
            stream=True,
        )
        if response.status_code == 404:
            return None
        data = _read(response, MAX_MANIFEST_BYTES, f"manifest {reference}")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if normalize_digest(reference) and digest != reference:
            raise InputError(f"manifest {reference} arrived with digest {digest}")
        return parse_manifest(data, digest, response.headers.get("Content-Type"))

    def blob(self, repository: str, digest: str) -> bytes | None:
        """GET /v2/<name>/blobs/<digest>; redirects to storage are followed."""
        response = self._request(
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            _pull(repository),
            repository,
            ok=(200, 404),
            stream=True,
        )
        if response.status_code == 404:
            return None
        data = _read(response, MAX_BLOB_BYTES, f"blob {digest}")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InputError(f"blob {digest} arrived with other content")
        return data

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        """GET /v2/<name>/referrers/<digest>; None when the registry lacks the API.

        Registries without it (404) keep referrers under the ``sha256-<hex>`` tag
        schema instead, which the tag listing already brings in.
        """
        if self.referrers_supported is False:
            return None
        path = f"/v2/{repository}/referrers/{digest}"
        try:
            found = self._pages(path, _pull(repository), "manifests", repository)
        except _NotFound:
            self.referrers_supported = False
            logger.debug("%s has no referrers API; using the tag schema", self.host)
            return None
        self.referrers_supported = True
        return [d for d in found if isinstance(d, dict)]

    # Requests, paging and auth.

    def _pages(self, path: str, scope: str, key: str, repository: str) -> list[Any]:
        items: list[Any] = []
        url: str | None = f"{path}?n={self.page_size}"
        while url:
            response = self._request("GET", url, scope, repository, not_found=True)
            try:
                page = response.json()
            except ValueError as exc:
                raise self._fail(
                    repository, f"{path} answered with invalid JSON"
                ) from exc
            if not isinstance(page, dict):
                raise self._fail(
                    repository, f"{path} answered with an unexpected shape"
                )
            items.extend(page.get(key) or [])
            logger.debug("%s%s: %s items so far", self.host, path, len(items))
            following = response.links.get("next", {}).get("url")
            url = urljoin(self.base + path, following) if following else None
        return items

    def _request(
        self,
        method: str,
        path: str,
        scope: str,
        repository: str,
        *,
        accept: str | None = None,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
        not_found: bool = False,
    ) -> requests.Response:
        url = path if "://" in path else self.base + path
        headers = {"Accept": accept} if accept else {}
        response = self._send(method, url, scope, headers, stream)
        if response.status_code == 401:
            self._authenticate(response, scope, repository)
            response = self._send(method, url, scope, headers, stream)
        if response.status_code in ok:
            return response
        if response.status_code == 404 and not_found:
            raise _NotFound(str(self._fail(repository, _not_found_hint(path))))
        raise self._fail(
            repository, _status_text(response, self.credentials is not None)
        )

    def _send(
        self,
        method: str,
        url: str,
        scope: str,
        headers: dict[str, str],
        stream: bool,
    ) -> requests.Response:
        auth: Any = None
        if scope in self._tokens:
            auth = _Bearer(self._tokens[scope])
        elif self._basic:
            auth = self.credentials
        try:
            return self.session.request(
                method,
                url,
                headers=headers,
                auth=auth,
                stream=stream,
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise SourceError(
                f"{self.host}: cannot reach {self.base} ({reason})"
            ) from exc

    def _authenticate(
        self, response: requests.Response, scope: str, repository: str
    ) -> None:
        scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if not self.credentials or self._basic:
                raise self._fail(repository, _status_text(response, self._basic))
            self._basic = True
            return
        if scheme != "bearer" or "realm" not in params:
            raise self._fail(repository, _status_text(response, False))
        query = {
            "service": params.get("service", ""),
            "scope": params.get("scope") or scope,
        }
        try:
            answer = self.session.get(
                params["realm"],
                params={k: v for k, v in query.items() if v},
                auth=self.credentials,
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise self._fail(repository, f"token server unreachable ({exc})") from exc
        if answer.status_code != 200:
            raise self._fail(
                repository,
                f"token server refused ({answer.status_code}); check the credentials "
                "in username_env/password_env",
            )
        try:
            token = answer.json().get("token") or answer.json().get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise self._fail(repository, "token server answered without a token")
        self._tokens[scope] = token

    def _fail(self, repository: str, what: str) -> SourceError:
        where = f"{self.host}/{repository}" if repository else self.host
        return SourceError(f"{where}: {what}")


class _NotFound(SourceError):
    """A 404 for a listing: an unknown repository, or an API the registry lacks."""


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def registry_session() -> requests.Session:
    """A session with the project's retry policy (etl.sources.http)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=plain_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def _status_text(response: requests.Response, had_credentials: bool) -> str:
    code = response.status_code
    detail = _error_detail(response)
    if code in (401, 403):
        fix = (
            "check the credentials in username_env/password_env and their pull access"
            if had_credentials
            else "set username_env and password_env to a user with pull access"
        )
        return f"registry refused access ({code}{detail}); {fix}"
    return f"registry answered {code}{detail}"


def _not_found_hint(path: str) -> str:
    if "/tags/list" in path:
        return "repository not found (404); fix its name in repositories"
    if "/_catalog" in path:
        return "registry has no catalog API (404); list repositories in the config"
    return f"{path.split('?')[0]} not found (404)"


def _error_detail(response: requests.Response) -> str:
    """The first error code of a distribution-spec error body, if any."""
    try:
        errors = response.json().get("errors") or []
        code = errors[0].get("code")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
    return f" {code}" if code else ""


def _read(response: requests.Response, limit: int, what: str) -> bytes:
    data = bytearray()
    for chunk in response.iter_content(64 * 1024):
        data += chunk
        if len(data) > limit:
            response.close()
            raise InputError(f"{what} is larger than {limit} bytes; skipped")
    return bytes(data)


class RegistryStore:
    """ContentStore over a registry's /v2 API."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        return self.client.manifest(repository, digest)

    def config(
        self, repository: str, manifest_digest: str, config_digest: str | None
    ) -> dict[str, Any] | None:
        if not config_digest:
            return None
        data = self.client.blob(repository, config_digest)
        if data is None:
            return None
        try:
            config = json.loads(data)
        except ValueError as exc:
            raise InputError(f"config {config_digest} is not valid JSON") from exc
        return config if isinstance(config, dict) else None

    def blob(self, repository: str, digest: str) -> bytes | None:
        return self.client.blob(repository, digest)

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        return self.client.referrers(repository, digest)


def select_repositories(
    patterns: list[str], listing: Callable[[], Iterable[str]]
) -> list[str]:
    """The configured repositories, or the listed ones matching the globs.

    Plain names are used as they are (no listing call); globs and ``!``
    exclusions are matched against the listing; no patterns means all of it.
    """
    if patterns and not any(set(p) & set("*?[!") for p in patterns):
        return list(dict.fromkeys(patterns))
    include = [p for p in patterns if not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    return [
        name
        for name in sorted(set(listing()))
        if (not include or any(fnmatch.fnmatchcase(name, p) for p in include))
        and not any(fnmatch.fnmatchcase(name, p) for p in exclude)
    ]


def failing(error: ImagetrailError) -> Callable[[SweepContext], Extracted]:
    """An extract that fails as the listing before it failed."""

    def extract(ctx: SweepContext) -> Extracted:
        raise error

    return extract


def known_provenance(ctx: SweepContext, registry: str, repository: str) -> Rows:
    """Stored provenance of a repository (attestations are read only once)."""
    return list(ctx.known_provenance(registry, repository))


def client_for(entry: RegistrySettings) -> RegistryClient:
    """A client for an ``oci`` entry; the secrets come from the named env vars."""
    return RegistryClient(
        entry.url or "", secret(entry.username_env), secret(entry.password_env)
    )


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per repository of each ``[[registry]]`` entry of type ``oci``."""
    scopes: list[Scope] = []
    for entry in settings.registries:
        if entry.type == SOURCE:
            scopes.extend(_registry_scopes(entry))
    return scopes


def _registry_scopes(entry: RegistrySettings) -> list[Scope]:
    client = client_for(entry)
    registry = parse_ref(f"{client.host}/x").registry
    try:
        names = select_repositories(entry.repositories, client.catalog)
    except SourceError as exc:
        return [Scope(SOURCE, registry, failing(exc))]
    repositories = [parse_ref(f"{registry}/{name}").repository for name in names]
    logger.info("oci %s: %s repositories selected", registry, len(repositories))
    return [
        Scope(SOURCE, f"{registry}/{repo}", _live_extractor(client, registry, repo))
        for repo in repositories
    ]


def _live_extractor(
    client: RegistryClient, registry: str, repository: str
) -> Callable[[SweepContext], Extracted]:
    def extract(ctx: SweepContext) -> Extracted:
        known = ctx.known_images(registry, repository)
        listed = live_listing(client, repository, known)
        return describe_repository(
            registry,
            repository,
            listed,
            RegistryStore(client),
            known=known,
            known_provenance=known_provenance(ctx, registry, repository),
        )

    return extract


def live_listing(client: RegistryClient, repository: str, known: Rows) -> list[Listed]:
    """Tags and the digests they point at, plus stored digests still served.

    The distribution API cannot list untagged manifests. A digest an earlier
    sweep saw (a tag since moved, say) stays listed while the registry still
    serves it, which one HEAD per night tells.
    """
    by_digest: dict[str, Listed] = {}
    for tag in client.tags(repository):
        digest = client.resolve(repository, tag)
        if digest:
            by_digest.setdefault(digest, Listed(digest)).tags.append(tag)
    earlier = {r["digest"] for r in known if not r.get("parent_digest")}
    for digest in sorted(earlier - set(by_digest)):
        if client.exists(repository, digest):
            by_digest[digest] = Listed(digest)
    return list(by_digest.values())


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Reach and credentials of every ``oci`` registry entry."""
    checks = []
    for entry in settings.registries:
        if entry.type != SOURCE:
            continue
        name = f"registry oci {entry.url}"
        missing = [
            env
            for env in (entry.username_env, entry.password_env)
            if env and not secret(env)
        ]
        if missing:
            checks.append(
                (name, False, f"set {', '.join(missing)} (named in the config)")
            )
            continue
        try:
            client_for(entry).ping()
        except SourceError as exc:
            checks.append((name, False, str(exc)))
            continue
        checks.append((name, True, "reachable; credentials accepted"))
    return checks

"""Scanner reports: Trivy JSON, grype JSON and trivy-operator VulnerabilityReports.

Each scan file is one scope. The format is told by the document's shape, not its
name. Every finding names the image's registry digest only when the scanner states
one for that repository: a Trivy ``ImageID`` or grype ``imageID`` is the config
digest and goes to ``config_digest``; layer ids and a platform's
``manifestDigest`` are never kept.
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from etl.config import Settings
from etl.errors import InputError
from etl.normalize import normalize_digest, parse_ref
from etl.sources import Extracted, Rows, Scope, SweepContext

logger = logging.getLogger(__name__)

SOURCE = "scanner"
FILE_SCANNERS = ("trivy", "grype", "trivy-operator")
ACCEPTED = (
    "accepted formats: 'trivy image --format json' (SchemaVersion 2), "
    "'grype IMAGE -o json', trivy-operator VulnerabilityReport "
    "('kubectl get vulnerabilityreports -A -o json')"
)
SEVERITIES = {"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
# grype's lowest rung has no Trivy counterpart; it is still worth a look, not noise.
SEVERITY_ALIASES = {"NEGLIGIBLE": "LOW", "NONE": "LOW"}
GRYPE_SCHEMES = ("docker:", "podman:", "registry:", "containerd:")
GRYPE_ARCHIVES = ("docker-archive:", "oci-archive:", "oci-dir:", "singularity:")

Doc = dict[str, Any]


@dataclass(frozen=True)
class ScannedImage:
    """What a report says about the image it scanned."""

    image: str | None
    digest: str | None
    config_digest: str | None


# -- scopes -------------------------------------------------------------------


def export_scopes(root: Path) -> list[Scope]:
    """One scope per ``scans/**/*.json`` file of an export folder."""
    folder = root / "scans"
    if not folder.is_dir():
        return []
    return [
        Scope(
            SOURCE,
            f"export:scans/{path.relative_to(folder).as_posix()}",
            partial(_extract_file, path),
        )
        for path in sorted(folder.rglob("*.json"))
    ]


def live_scopes(settings: Settings) -> list[Scope]:
    """One scope per file that a file-based ``[[scanner]]`` path glob matches."""
    scopes = []
    for scanner in settings.scanners:
        if scanner.type not in FILE_SCANNERS or not scanner.path:
            continue  # API scanners are read with their registry
        paths = sorted(glob.glob(scanner.path, recursive=True))
        if not paths:
            error = InputError(
                f"[[scanner]] path {scanner.path!r} matches no file; fix the glob "
                f"or write {scanner.type} JSON reports there"
            )
            scopes.append(
                Scope(SOURCE, f"{scanner.type}:{scanner.path}", partial(_raise, error))
            )
        for path in paths:
            scopes.append(
                Scope(
                    SOURCE,
                    f"{scanner.type}:{path}",
                    partial(_extract_file, Path(path)),
                )
            )
    return scopes


def doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Does each file-based ``[[scanner]]`` path glob match report files?"""
    checks = []
    for scanner in settings.scanners:
        if scanner.type not in FILE_SCANNERS:
            continue
        name = f"scanner {scanner.type} {scanner.path}"
        count = len(glob.glob(scanner.path, recursive=True)) if scanner.path else 0
        if count:
            checks.append((name, True, f"matches {count} report file(s)"))
        else:
            checks.append(
                (name, False, "no file matches; fix [[scanner]] path or write reports")
            )
    return checks


def _raise(error: Exception, ctx: SweepContext) -> Extracted:
    raise error


def _extract_file(path: Path, ctx: SweepContext) -> Extracted:
    doc = _read(path)
    rows = finding_rows(doc, path)
    logger.info("scan %s: %s findings", path, len(rows))
    return Extracted(tables={"findings": rows, "scans": scan_rows(doc, rows)})


def scan_rows(doc: Any, findings: Rows) -> Rows:
    """One row per image a report looked at, so a clean scan still counts as a scan."""
    if isinstance(doc, dict) and "SchemaVersion" in doc:
        scanned = [("trivy", trivy_image(doc))]
    elif isinstance(doc, dict) and "matches" in doc:
        scanned = [
            ("grype", grype_image((doc.get("source") or {}).get("target") or {}))
        ]
    else:
        scanned = [
            ("trivy-operator", operator_image(r.get("report") or {}))
            for r in _operator_reports(doc) or []
        ]
    rows = []
    for scanner, image in scanned:
        count = sum(
            1
            for f in findings
            if (f["digest"], f["config_digest"], f["image"])
            == (image.digest, image.config_digest, image.image)
        )
        rows.append(
            {
                "digest": image.digest,
                "config_digest": image.config_digest,
                "image": image.image,
                "scanner": scanner,
                "findings": count,
            }
        )
    return rows


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        text = str(exc).strip().splitlines()
        raise InputError(
            f"{path}: not readable JSON ({text[0] if text else type(exc).__name__}); "
            f"{ACCEPTED}"
        ) from exc


# -- format detection ---------------------------------------------------------


def finding_rows(doc: Any, path: Path) -> Rows:
    """Findings of any accepted report, told apart by shape."""
    if isinstance(doc, dict) and "SchemaVersion" in doc and "Results" in doc:
        return trivy_rows(doc, path)
    if isinstance(doc, dict) and "matches" in doc and "source" in doc:
        return grype_rows(doc, path)
    reports = _operator_reports(doc)
    if reports is not None:
        return [row for report in reports for row in operator_rows(report)]
    raise InputError(f"{path}: not a recognised vulnerability report; {ACCEPTED}")


def _operator_reports(doc: Any) -> list[Doc] | None:
    """VulnerabilityReport CRs in a document (one CR, a List, or a typed list)."""
    if not isinstance(doc, dict):
        return None
    if doc.get("kind") == "VulnerabilityReport":
        return [doc]
    if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        items = [i for i in doc["items"] if isinstance(i, dict) and "report" in i]
        if items or doc.get("kind") == "VulnerabilityReportList":
            return items
    return None


# -- Trivy --------------------------------------------------------------------


def trivy_rows(doc: Doc, path: Path) -> Rows:
    """Findings of ``trivy image --format json`` (SchemaVersion 2)."""
    artifact_type = doc.get("ArtifactType")
    if artifact_type not in (None, "container_image"):
        raise InputError(
            f"{path}: a Trivy {artifact_type} scan, not a container image; "
            "only 'trivy image' reports map to images"
        )
    scanned = trivy_image(doc)
    rows = [
        _finding(
            scanned,
            "trivy",
            vuln_id=v.get("VulnerabilityID"),
            severity=v.get("Severity"),
            cvss=_trivy_cvss(v),
            package=v.get("PkgName"),
            installed=v.get("InstalledVersion"),
            fixed=v.get("FixedVersion"),
            title=v.get("Title"),
        )
        for result in doc.get("Results") or []
        for v in result.get("Vulnerabilities") or []
    ]
    return _distinct(rows)


def trivy_image(doc: Doc) -> ScannedImage:
    """The scanned image: ArtifactName's repository and its registry digest."""
    metadata = doc.get("Metadata") or {}
    ref = parse_ref(str(doc.get("ArtifactName") or ""))
    digest = ref.digest or _repo_digest(ref.image, metadata.get("RepoDigests"))
    return ScannedImage(ref.image, digest, normalize_digest(metadata.get("ImageID")))


def _trivy_cvss(vuln: Doc) -> float | None:
    # Prefer the vendor whose severity Trivy reports, then NVD, then the highest.
    scores = {
        vendor: float(entry["V3Score"])
        for vendor, entry in (vuln.get("CVSS") or {}).items()
        if isinstance(entry, dict) and entry.get("V3Score") is not None
    }
    for vendor in (vuln.get("SeveritySource"), "nvd"):
        if vendor in scores:
            return scores[vendor]
    return max(scores.values(), default=None)


# -- grype --------------------------------------------------------------------


def grype_rows(doc: Doc, path: Path) -> Rows:
    """Findings of ``grype IMAGE -o json`` for an image source."""
    source = doc.get("source") or {}
    if source.get("type") != "image":
        raise InputError(
            f"{path}: a grype {source.get('type')} scan, not a container image; "
            "only image scans map to images"
        )
    scanned = grype_image(source.get("target") or {})
    rows = []
    for match in doc.get("matches") or []:
        vuln, artifact = match.get("vulnerability") or {}, match.get("artifact") or {}
        related = match.get("relatedVulnerabilities") or []
        rows.append(
            _finding(
                scanned,
                "grype",
                vuln_id=vuln.get("id"),
                severity=vuln.get("severity"),
                cvss=_grype_cvss(vuln, related),
                package=artifact.get("name"),
                installed=artifact.get("version"),
                fixed=_grype_fix(vuln.get("fix") or {}),
                title=_grype_title(vuln, related),
            )
        )
    return _distinct(rows)


def grype_image(target: Doc) -> ScannedImage:
    """The scanned image: userInput's repository and its registry digest."""
    user_input = str(target.get("userInput") or "")
    for scheme in GRYPE_SCHEMES:
        user_input = user_input.removeprefix(scheme)
    if user_input.startswith(GRYPE_ARCHIVES):
        # An archive path names no repository; the tags inside it do.
        user_input = next(iter(target.get("tags") or []), "")
    ref = parse_ref(user_input) if user_input else None
    image = ref.image if ref else None
    digest = (ref.digest if ref else None) or _repo_digest(
        image, target.get("repoDigests")
    )
    return ScannedImage(image, digest, normalize_digest(target.get("imageID")))


def _grype_cvss(vuln: Doc, related: list[Doc]) -> float | None:
    # The matched advisory's own score first, then NVD's, then any other.
    groups = [[vuln]]
    groups.append([r for r in related if r.get("namespace") == "nvd"])
    groups.append(related)
    for group in groups:
        scores = [
            float(c["metrics"]["baseScore"])
            for entry in group
            for c in entry.get("cvss") or []
            if str(c.get("version", "")).startswith("3")
            and (c.get("metrics") or {}).get("baseScore") is not None
        ]
        if scores:
            return max(scores)
    return None


def _grype_fix(fix: Doc) -> str | None:
    versions = [v for v in fix.get("versions") or [] if v]
    if fix.get("state") != "fixed" or not versions:
        return None
    return ", ".join(versions)


def _grype_title(vuln: Doc, related: list[Doc]) -> str | None:
    # grype has no titles; the first sentence of the description stands in.
    for entry in (vuln, *related):
        text = " ".join(str(entry.get("description") or "").split())
        if text:
            sentence = text.split(". ")[0].rstrip(".")
            return sentence if len(sentence) <= 160 else sentence[:157] + "..."
    return None


# -- trivy-operator -----------------------------------------------------------


def operator_rows(report_cr: Doc) -> Rows:
    """Findings of one trivy-operator VulnerabilityReport custom resource."""
    report = report_cr.get("report") or {}
    scanned = operator_image(report)
    rows = [
        _finding(
            scanned,
            "trivy-operator",
            vuln_id=v.get("vulnerabilityID"),
            severity=v.get("severity"),
            cvss=v.get("score"),
            package=v.get("resource"),
            installed=v.get("installedVersion"),
            fixed=v.get("fixedVersion"),
            title=v.get("title"),
        )
        for v in report.get("vulnerabilities") or []
    ]
    return _distinct(rows)


def operator_image(report: Doc) -> ScannedImage:
    """The scanned image: registry server + artifact repository, artifact digest."""
    artifact = report.get("artifact") or {}
    server = (report.get("registry") or {}).get("server") or ""
    repository = artifact.get("repository") or ""
    if not repository:
        return ScannedImage(None, None, None)
    image = parse_ref(f"{server}/{repository}" if server else repository).image
    return ScannedImage(image, normalize_digest(artifact.get("digest")), None)


# -- shared -------------------------------------------------------------------


def _repo_digest(image: str | None, repo_digests: Iterable[str] | None) -> str | None:
    """The digest of the RepoDigests entry for the same repository, if any."""
    for entry in repo_digests or []:
        ref = parse_ref(entry)
        if image and ref.image == image and ref.digest:
            return ref.digest
    return None


def _finding(
    scanned: ScannedImage,
    scanner: str,
    *,
    vuln_id: Any,
    severity: Any,
    cvss: Any,
    package: Any,
    installed: Any,
    fixed: Any,
    title: Any,
) -> dict[str, Any]:
    return {
        "digest": scanned.digest,
        "config_digest": scanned.config_digest,
        "image": scanned.image,
        "scanner": scanner,
        "vuln_id": str(vuln_id or ""),
        "severity": normalize_severity(severity),
        "cvss": float(cvss) if isinstance(cvss, int | float) and cvss > 0 else None,
        "package": package or None,
        "installed_version": installed or None,
        "fixed_version": fixed or None,
        "title": title or None,
    }


def normalize_severity(value: Any) -> str:
    """CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN from any scanner's spelling."""
    text = str(value or "").strip().upper()
    text = SEVERITY_ALIASES.get(text, text)
    return text if text in SEVERITIES else "UNKNOWN"


def _distinct(rows: Rows) -> Rows:
    # A package found at two paths (two copies of one jar) is one finding here.
    seen: set[tuple[Any, ...]] = set()
    result = []
    for row in rows:
        if not row["vuln_id"]:
            continue
        key = (row["vuln_id"], row["package"], row["installed_version"])
        if key not in seen:
            seen.add(key)
            result.append(row)
    return result

"""`imagetrail explain`: image -> run -> commit -> owner, with the evidence."""

from __future__ import annotations

from typing import Any

from etl.errors import ImagetrailError
from etl.normalize import parse_ref
from etl.warehouse import Warehouse


def find_images(wh: Warehouse, ref: str) -> list[dict[str, Any]]:
    """Images a reference, a digest or a digest prefix names (top-level first)."""
    text = ref.strip()
    hex_part = text.removeprefix("sha256:")
    if text.startswith("sha256:") or _is_hex(text):
        if len(hex_part) < 7 or not _is_hex(hex_part):
            raise ImagetrailError(
                f"{ref!r} is not a digest or a prefix of one: give at least 7 hex "
                "characters (sha256:16e7a23 or 16e7a23)"
            )
        prefix = "sha256:" + hex_part.lower()
        return wh.records(
            "SELECT * FROM image_mapping WHERE starts_with(digest, ?) "
            "ORDER BY top_level DESC, image",
            [prefix],
        )
    parsed = parse_ref(text)
    if "@" in text and not parsed.digest:
        raise ImagetrailError(
            f"{ref!r}: the part after @ is not a sha256 digest of 64 hex characters"
        )
    if parsed.digest:
        return wh.records(
            "SELECT * FROM image_mapping WHERE image = ? AND digest = ?",
            [parsed.image, parsed.digest],
        )
    tag = parsed.tag or "latest"
    found = wh.records(
        "SELECT * FROM image_mapping WHERE image = ? AND list_contains(tags, ?)",
        [parsed.image, tag],
    )
    if found or parsed.tag:
        return found
    return wh.records(
        "SELECT * FROM image_mapping WHERE image = ? AND top_level "
        "ORDER BY pushed_at DESC NULLS LAST",
        [parsed.image],
    )


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text.lower())


def explain(wh: Warehouse, ref: str) -> str:
    images = find_images(wh, ref)
    if not images:
        raise ImagetrailError(
            f"no image in the warehouse matches {ref!r}; try a digest, a prefix of "
            "one, or REGISTRY/REPOSITORY[:TAG] (see `imagetrail sql unmapped-images`)"
        )
    return "\n\n".join(_explain_one(wh, image) for image in images)


def _explain_one(wh: Warehouse, image: dict[str, Any]) -> str:
    lines = [f"{image['image']}@{image['digest']}"]
    lines.append(
        f"  kind {image['kind']}"
        + (f" ({image['platform']})" if image.get("platform") else "")
        + (f", tags {', '.join(image['tags'])}" if image["tags"] else ", untagged")
        + (
            f", pushed {image['pushed_at']:%Y-%m-%d %H:%M} UTC"
            if image["pushed_at"]
            else ""
        )
    )
    if image["parent_digest"]:
        lines.append(f"  platform child of index {image['parent_digest']}")
    lines.append(f"  status: {image['status']}")
    lines += _run_lines(wh, image)
    lines += _evidence_lines(wh, image)
    lines += _owner_lines(wh, image)
    if image["kind"] in ("image", "index", "unlisted"):
        # Clusters and scanners may name the index or a platform image: both count
        # for the whole family, and the lines say so.
        family = "" if image["top_level"] else " (the index and its platform images)"
        lines += _where_lines(wh, image, family)
        lines += _vuln_lines(wh, image, family)
    if image["reason"]:
        lines.append(f"  why {image['status']}: {image['reason']}")
        lines.append(f"  how to fix: {image['fix']}")
    return "\n".join(lines)


def _run_lines(wh: Warehouse, image: dict[str, Any]) -> list[str]:
    if not image["run_key"]:
        return []
    run = wh.records("SELECT * FROM stg_runs WHERE run_key = ?", [image["run_key"]])[0]
    lines = [
        f"  built by: {run['pipeline']} #{run['run_number']} "
        f"(attempt {run['attempt']}, {run['system']}) "
        f"{run['result'] or run['status'] or ''}",
        f"    run:    {run['web_url']}",
        f"    repo:   {run['repo']} branch {run['branch'] or '?'}",
        f"    commit: {run['commit_sha']}"
        + (f" (PR head {run['pr_head_sha']})" if run["pr_head_sha"] else ""),
    ]
    if run["commit_author"]:
        lines.append(f"    author: {run['commit_author']}")
    who = run["requested_for"] or run["triggering_actor"] or run["actor"]
    if who:
        lines.append(f"    requested by: {who}")
    return lines


def _evidence_lines(wh: Warehouse, image: dict[str, Any]) -> list[str]:
    links = wh.records(
        "SELECT * FROM links WHERE registry = ? AND repository = ? AND digest = ? "
        "ORDER BY confidence DESC, run_key",
        [image["registry"], image["repository"], image["digest"]],
    )
    if not links:
        return ["  evidence: none"]
    lines = ["  evidence:"]
    for link in links:
        chosen = "*" if link["run_key"] == image["run_key"] else " "
        via = f" (via {link['via_digest'][:19]})" if link["via_digest"] else ""
        lines.append(
            f"   {chosen} {link['method']} {link['confidence']:.2f} "
            f"-> {link['run_key']}{via}"
        )
        lines.append(f"        {link['evidence']}")
    return lines


def _owner_lines(wh: Warehouse, image: dict[str, Any]) -> list[str]:
    owner = wh.records(
        "SELECT * FROM image_owners "
        "WHERE registry = ? AND repository = ? AND digest = ?",
        [image["registry"], image["repository"], image["digest"]],
    )
    if not owner or not owner[0]["owner"]:
        return [
            "  owner: none found (no override, CODEOWNERS, label, author or requester)"
        ]
    return [
        f"  owner: {owner[0]['owner']} [{owner[0]['owner_source']}]",
        f"    why: {owner[0]['reason']}",
    ]


def _where_lines(wh: Warehouse, image: dict[str, Any], family: str) -> list[str]:
    rows = wh.records(
        "SELECT DISTINCT cluster, namespace, workload, container, exposure, "
        "exposure_reason FROM running_images WHERE registry = ? AND repository = ? "
        "AND digest = ? ORDER BY ALL",
        [image["registry"], image["repository"], image["family_digest"]],
    )
    if not rows:
        return [f"  runs in{family}: not running in any cluster read"]
    lines = [f"  runs in{family}:"]
    for r in rows:
        lines.append(
            f"    {r['cluster']}/{r['namespace']}/{r['workload']} ({r['container']}): "
            f"{r['exposure']}"
            + (f" - {r['exposure_reason']}" if r["exposure_reason"] else "")
        )
    return lines


def _vuln_lines(wh: Warehouse, image: dict[str, Any], family: str) -> list[str]:
    rows = wh.records(
        "SELECT * FROM image_vulns "
        "WHERE registry = ? AND repository = ? AND digest = ?",
        [image["registry"], image["repository"], image["family_digest"]],
    )
    if not rows:
        return [f"  findings{family}: no scan read"]
    v = rows[0]
    return [
        f"  findings{family}: {v['critical']} critical, {v['high']} high, "
        f"{v['medium']} medium, "
        f"{v['low']} low; {v['fixable']} critical/high with a fix"
    ]

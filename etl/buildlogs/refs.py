"""Digests and image references as build tools print them.

A value is reported as a digest only when all 64 hex digits are on the line:
abbreviated (``sha256:635897f0...``), redacted (``...xxxx``) and cut values
give None, and so do cosign's ``sha256-<hex>.sig`` tags and 12-hex image ids.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from etl.normalize import NAME_MAX, parse_ref

FULL_DIGEST_RE = re.compile(r"sha256:([0-9a-fA-F]{64})(?![0-9A-Za-z])")
DIGEST_TOKEN_RE = re.compile(r"sha256:[0-9a-fA-F]*")
# A digest printed alone on a line (a manifest list's, push-to-registry's).
BARE_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
COSIGN_TAG_RE = re.compile(r"^sha256-[0-9a-fA-F]{64}\.(?:sig|att|sbom)$")
# A secret in a tag is masked: ``***`` or ``***.0``.
TAG_RE = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$")
# Hosts may be masked (``***.azurecr.io``) or a placeholder (``<registry-id>``).
NAME_RE = re.compile(r"^[A-Za-z0-9*<>_.-]+(?::[0-9]+)?(?:/[A-Za-z0-9*<>_.-]+)*$")
TRANSPORTS = ("docker://", "//")
EDGE_CHARS = "\"'`,;()[]{}"


@dataclass(frozen=True)
class Ref:
    """A pushed reference: normalised image, tag as printed, full digest or None.

    ``digest_text`` keeps what followed ``@`` when it was not a full digest, so a
    parser can still match an abbreviation against a digest it saw in full.
    """

    image: str
    tag: str | None
    digest: str | None
    digest_text: str | None = None

    def with_tag(self, default: str | None) -> Ref:
        return self if self.tag else Ref(self.image, default, self.digest)


def full_digest(text: str | None) -> str | None:
    """``sha256:<64 lower hex>`` when text holds one complete digest, else None."""
    if not text:
        return None
    m = FULL_DIGEST_RE.search(text)
    return "sha256:" + m.group(1).lower() if m else None


def is_cosign_tag(tag: str | None) -> bool:
    """Signature, attestation and SBOM artefacts that cosign stores as tags."""
    return bool(tag) and COSIGN_TAG_RE.match(tag or "") is not None


@functools.lru_cache(maxsize=4096)
def parse_image_ref(token: str) -> Ref | None:
    """The reference in one whitespace-free token, or None when it is not one."""
    token = token.strip().strip(EDGE_CHARS).rstrip(".:")
    for prefix in TRANSPORTS:
        if token.startswith(prefix):
            token = token[len(prefix) :]
    name, _, digest_text = token.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        name = name[: -len(tag) - 1]
        if not TAG_RE.match(tag):
            return None
    if not name or len(name) > NAME_MAX or not NAME_RE.match(name):
        return None
    image = parse_ref(name).image
    digest = full_digest(digest_text) if digest_text.startswith("sha256:") else None
    return Ref(image, tag, digest, None if digest else digest_text or None)


def expand_abbreviation(text: str | None, known: list[str]) -> str | None:
    """The one known full digest that an abbreviated ``sha256:<prefix>`` stands for."""
    if not text:
        return None
    m = DIGEST_TOKEN_RE.match(text)
    prefix = m.group(0).lower() if m else ""
    if len(prefix) < len("sha256:") + 8:
        return None
    matches = {d for d in known if d.startswith(prefix)}
    return matches.pop() if len(matches) == 1 else None

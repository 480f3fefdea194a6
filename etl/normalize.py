"""One way to spell references, digests, times and secrets everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from docker_image import reference as dockerref

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
DOCKER_HUB_ALIASES = {
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
}


@dataclass(frozen=True)
class ImageRef:
    """A reference split into its normalised parts."""

    image: str
    tag: str | None
    digest: str | None

    @property
    def registry(self) -> str:
        return self.image.split("/", 1)[0]

    @property
    def repository(self) -> str:
        return self.image.split("/", 1)[1] if "/" in self.image else self.image


def is_digest(value: str | None) -> bool:
    return bool(value) and DIGEST_RE.match(value or "") is not None


def normalize_digest(value: str | None) -> str | None:
    """``sha256:<64 hex>`` in lower case, or None for anything that is not one."""
    if not value:
        return None
    value = value.strip().lower()
    if HEX64_RE.match(value):
        value = "sha256:" + value
    return value if DIGEST_RE.match(value) else None


def _looks_like_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def _split_name(name: str) -> str:
    """Lower-case host, Docker Hub as ``docker.io``, library/ for official images."""
    first, _, rest = name.partition("/")
    if not rest or not _looks_like_host(first):
        host, path = "docker.io", name
    else:
        host, path = first.lower(), rest
    if host in DOCKER_HUB_ALIASES:
        host = "docker.io"
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    return f"{host}/{path}"


# The distribution spec caps a repository name, registry included, at 255.
NAME_MAX = 255
# Such a name, a 128-character tag and a sha512 digest.
REF_GRAMMAR_MAX = NAME_MAX + 1 + 128 + 1 + len("sha512:") + 128


def parse_ref(text: str) -> ImageRef:
    """Split ``[host/]path[:tag][@digest]`` and normalise it.

    The distribution grammar is tried first; masked or placeholder hosts that
    CI systems print (``***.azurecr.io``, ``<registry-id>.dkr.ecr...``) fall back
    to a plain split, since they still name the registry the log pushed to.
    """
    text = text.strip().lstrip("/")
    # Longer than any valid reference, the grammar would backtrack for seconds.
    if len(text) > REF_GRAMMAR_MAX:
        name, tag, digest = _plain_split(text)
    else:
        try:
            parsed = dockerref.Reference.parse(text)
            name, tag, digest = parsed["name"], parsed["tag"], parsed["digest"]
        except Exception:
            name, tag, digest = _plain_split(text)
    return ImageRef(_split_name(name), tag, normalize_digest(digest))


def _plain_split(text: str) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in text:
        text, _, digest = text.partition("@")
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, _, tag = text.rpartition(":")
    return text, tag, digest


def normalize_image(text: str) -> str:
    """The repository part of a reference, normalised (no tag, no digest)."""
    return parse_ref(text).image


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from the widths every API emits (0-9 fraction digits)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    else:
        text = str(value).strip()
        if text.startswith("0001-01-01"):
            return None  # .NET's minimum date stands for "not set"
        m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
        if m:
            # Python parses at most 6 fraction digits; ADO and ACR send 7, GAR 9.
            micro = (m.group(2) or "")[:7]
            zone = (m.group(3) or "Z").replace("Z", "+00:00")
            text = m.group(1) + micro + zone
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)\S+"),
    re.compile(r"(?i)((?:password|passwd|token|secret|api[_-]?key)[=:]\s*)\S+"),
    re.compile(r"(?i)(-p\s+|--password[= ])\S+"),
    re.compile(r"(--(?:src-|dest-)?(?:creds|registry-token)(?:=|\s+))\S+"),
    re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}"),
    re.compile(r"\b(github_pat_)[A-Za-z0-9_]{20,}"),
    re.compile(r"\b(AKIA)[0-9A-Z]{16}\b"),
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"),
    re.compile(r"([?&](?:sig|token|X-Amz-Signature|code)=)[^&\s]+"),
]


def mask_secrets(line: str) -> str:
    """Replace credentials that can appear in a log line with ``***``."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 2:
            line = pattern.sub(lambda m: m.group(1) + "***" + m.group(2), line)
        else:
            line = pattern.sub(lambda m: m.group(1) + "***", line)
    return line

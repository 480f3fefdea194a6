"""Owner statements that need more than SQL: the override file and CODEOWNERS matching.

The owner chain itself is SQL (sql/models/030_owners.sql); this module feeds it the
rows it cannot compute: which CODEOWNERS line matches the Dockerfile a build used.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codeowners import CodeOwners

from etl.errors import InputError
from etl.sources import Extracted, Scope, SweepContext

logger = logging.getLogger(__name__)

# Workspace roots CI agents build in; a Dockerfile path below one is repo-relative
# after it. ADO: .../_work/1/s/ or D:\a\1\s\; GitHub: /home/runner/work/REPO/REPO/.
_WORKSPACE_RES = (
    re.compile(r"^.*?/(?:_work|work)/\d+/s/"),
    re.compile(r"^[A-Za-z]:/a/\d+/s/"),
    re.compile(r"^.*?/work/([^/]+)/\1/"),
    re.compile(r"^/__w/([^/]+)/\1/"),
    re.compile(r"^/workspace/"),
    re.compile(r"^/kaniko/buildcontext/"),
)
_CATCH_ALL = {"*", "**", "/*", "/**"}


def override_scope(path: Path) -> Scope:
    """The override file as a scope: a broken file keeps the last good rules."""

    def extract(ctx: SweepContext) -> Extracted:
        return Extracted(tables={"owner_rules": read_overrides(path)})

    return Scope(source="owners", scope=f"override:{path.name}", extract=extract)


def read_overrides(path: Path) -> list[dict[str, Any]]:
    """Rows of owner_rules from a flat TOML table of glob = owner, in file order."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(
            f"{path}: override file not found; fix [owners] overrides"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); fix the line named") from exc
    rows = []
    for order, (glob, owner) in enumerate(data.items(), start=1):
        if not isinstance(owner, str) or not owner.strip():
            raise InputError(
                f'{path}: value of {glob!r} must be an owner string, like "team-a"'
            )
        rows.append(
            {
                "repo": None,
                "kind": "override",
                "pattern": glob,
                "owners": owner,
                "file": path.name,
                "line": order,
            }
        )
    return rows


def repo_relative(dockerfile: str | None) -> str | None:
    """A Dockerfile path as CODEOWNERS sees it: relative to the repository root."""
    if not dockerfile:
        return None
    path = dockerfile.strip().strip("'\"").replace("\\", "/")
    for pattern in _WORKSPACE_RES:
        cut = pattern.sub("", path, count=1)
        if cut != path:
            path = cut
            break
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/") or None


def match_codeowners(
    rules: Iterable[dict[str, Any]], dockerfile: str | None
) -> dict[str, Any] | None:
    """The CODEOWNERS rule owning a Dockerfile: last matching line, else the catch-all.

    ``rules`` are one repo's owner_rules rows of kind codeowners (pattern, owners, line,
    file). The file is rebuilt line for line so the library reports real line numbers.
    """
    rules = sorted(rules, key=lambda r: r["line"] or 0)
    if not rules:
        return None
    path = repo_relative(dockerfile)
    if path:
        lines = [""] * max(r["line"] or 0 for r in rules)
        for r in rules:
            lines[(r["line"] or 1) - 1] = f"{r['pattern']} {r['owners'] or ''}".strip()
        found = CodeOwners("\n".join(lines)).matching_line(path)
        if found and found[1] is not None:
            rule = next(r for r in rules if r["line"] == found[1])
            if not rule["owners"]:
                return None  # a matching line with no owners leaves the path unowned
            return {**rule, "path": path, "why": "matches"}
    catch_all = [r for r in rules if r["pattern"] in _CATCH_ALL and r["owners"]]
    if catch_all:
        return {**catch_all[-1], "path": path, "why": "catch-all"}
    return None

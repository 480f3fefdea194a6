"""Source modules: each turns one upstream system into plain rows for the raw tables.

A source offers its work as scopes. A scope is the unit that succeeds or fails as a
whole: one GitHub repository, one Azure DevOps project, one registry repository, one
cluster, one scan file. The pipeline runs each scope's ``extract`` and loads what it
returns in one transaction; a scope that raises keeps its last good rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

Rows = list[dict[str, Any]]

# The source modules under etl.sources, in the order they are swept. Each may offer
# export_scopes (its part of an export folder), live_scopes and doctor_checks.
SOURCE_MODULES = (
    "github",
    "azure_devops",
    "oci",
    "acr",
    "ecr",
    "gar",
    "kubernetes",
    "scanners",
)


@dataclass
class Extracted:
    """What one scope produced."""

    tables: dict[str, Rows] = field(default_factory=dict)
    watermark: str | None = None
    # Inputs inside the scope that could not be read (a garbled log, say): one line
    # each, naming the input and what to do. The rest of the scope still loads, and
    # the run ends as partial (exit 3).
    problems: list[str] = field(default_factory=list)

    def add(self, table: str, rows: Rows) -> None:
        self.tables.setdefault(table, []).extend(rows)


@dataclass
class SweepContext:
    """What a scope may know of earlier sweeps, without touching SQL itself."""

    watermark: str | None = None
    known_digests: Callable[[str, str], set[str]] = lambda registry, repo: set()
    known_images: Callable[[str, str], Rows] = lambda registry, repo: []
    # Stored provenance of a repository: attestation statements are read once,
    # with their digest, and re-emitted from here on later sweeps.
    known_provenance: Callable[[str, str], Rows] = lambda registry, repo: []


@dataclass
class Scope:
    source: str
    scope: str
    extract: Callable[[SweepContext], Extracted]


def source_module(name: str) -> ModuleType | None:
    """etl.sources.<name>, or None when this build has no such reader."""
    try:
        return importlib.import_module(f"etl.sources.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"etl.sources.{name}":
            raise
        return None

"""Export mode: a folder of files in the upstream APIs' own shapes.

Each source module reads its own part of the folder; this module only gathers them, so
an export folder and a live system go through the same transforms.
"""

from __future__ import annotations

import logging
from pathlib import Path

from etl.errors import InputError
from etl.sources import SOURCE_MODULES, Scope, source_module

logger = logging.getLogger(__name__)


def export_scopes(root: Path) -> list[Scope]:
    """Every scope an export folder holds, in the order the readers are listed."""
    if not root.is_dir():
        raise InputError(
            f"export folder {root} does not exist; point [[export]] path at a folder "
            "laid out as the README's export layout describes"
        )
    scopes: list[Scope] = []
    for name in SOURCE_MODULES:
        reader = getattr(source_module(name), "export_scopes", None)
        if reader is None:
            logger.debug("etl.sources.%s reads no export files", name)
            continue
        scopes.extend(reader(root))
    return scopes

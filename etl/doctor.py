"""`imagetrail doctor`: one line per configured source, with the fix when it fails."""

from __future__ import annotations

import logging

from etl.config import Settings
from etl.sources import SOURCE_MODULES, source_module

logger = logging.getLogger(__name__)

Check = tuple[str, bool, str]


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    for export in settings.exports:
        ok = export.path.is_dir()
        checks.append(
            (
                f"export {export.path}",
                ok,
                "readable" if ok else "folder missing; fix [[export]] path",
            )
        )
    if settings.owners.overrides is not None:
        ok = settings.owners.overrides.is_file()
        checks.append(
            (
                f"overrides {settings.owners.overrides}",
                ok,
                "readable" if ok else "file missing; fix [owners] overrides",
            )
        )
    for name in SOURCE_MODULES:
        doctor_checks = getattr(source_module(name), "doctor_checks", None)
        if doctor_checks is not None:
            checks.extend(doctor_checks(settings))
    if not checks:
        checks.append(("config", True, "nothing configured beyond the sample estate"))
    return checks

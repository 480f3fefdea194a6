"""A report that found nothing still records that the image was scanned."""

from __future__ import annotations

import json
from pathlib import Path

from etl.sources import SweepContext
from etl.sources.scanners import export_scopes

CLEAN_TRIVY = {
    "_comment": "trivy image --format json, an image with no vulnerabilities",
    "SchemaVersion": 2,
    "ArtifactName": "contosoacr.azurecr.io/app:1.0",
    "ArtifactType": "container_image",
    "Metadata": {
        "ImageID": "sha256:" + "c" * 64,
        "RepoTags": ["contosoacr.azurecr.io/app:1.0"],
        "RepoDigests": ["contosoacr.azurecr.io/app@sha256:" + "a" * 64],
    },
    "Results": [
        {"Target": "app (alpine 3.20.3)", "Class": "os-pkgs", "Type": "alpine"}
    ],
}


def test_clean_scan_is_a_scan_with_no_findings(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "app.json").write_text(json.dumps(CLEAN_TRIVY))
    [scope] = export_scopes(tmp_path)
    extracted = scope.extract(SweepContext())
    assert extracted.tables["findings"] == []
    assert extracted.tables["scans"] == [
        {
            "digest": "sha256:" + "a" * 64,
            "config_digest": "sha256:" + "c" * 64,
            "image": "contosoacr.azurecr.io/app",
            "scanner": "trivy",
            "findings": 0,
        }
    ]

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.warehouse import Warehouse

REPO = Path(__file__).resolve().parent.parent
SHARED_CASES = REPO.parent / "shared" / "cases"

_CREDENTIAL_VARS = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AZURE_DEVOPS_PAT",
    "SYSTEM_ACCESSTOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "KUBECONFIG",
)


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may use a credential of the machine it runs on."""
    for name in _CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_DEVOPS_CACHE_DIR", str(tmp_path / "ado-cache"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[Warehouse]:
    wh = Warehouse(tmp_path / "test.duckdb")
    yield wh
    wh.close()


def require_sysdep(binary: str) -> str:
    """Path of a Debian binary the tests drive; skipped only outside `make test`."""
    from shutil import which

    path = which(binary)
    if path:
        return path
    if os.environ.get("IMAGETRAIL_REQUIRE_SYSDEPS"):
        pytest.fail(f"{binary} is not installed; `make test` installs it with apt")
    pytest.skip(f"{binary} not installed (run `make test` to install it)")

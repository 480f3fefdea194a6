"""imagetrail.toml -> typed settings. Secrets never live here, only env var names."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ESTATE = ROOT / "examples" / "contoso"

REGISTRY_TYPES = ("acr", "ecr", "gar", "oci")
SCANNER_TYPES = (
    "trivy",
    "grype",
    "trivy-operator",
    "ecr",
    "artifact-analysis",
    "defender",
)


@dataclass
class GitHubSettings:
    base_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    organizations: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)
    since_days: int = 30
    scan_all_jobs: bool = False


@dataclass
class AzureDevOpsSettings:
    organization_url: str = ""
    token_env: str = "AZURE_DEVOPS_PAT"
    projects: list[str] = field(default_factory=list)
    since_days: int = 30
    scan_all_tasks: bool = False


@dataclass
class RegistrySettings:
    type: str
    url: str | None = None
    repositories: list[str] = field(default_factory=list)
    username_env: str | None = None
    password_env: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    project: str | None = None
    location: str | None = None


@dataclass
class ClusterSettings:
    kubeconfig: str = "~/.kube/config"
    contexts: list[str] = field(default_factory=list)


@dataclass
class ScannerSettings:
    type: str
    path: str | None = None


@dataclass
class ExportSettings:
    path: Path


@dataclass
class OwnerSettings:
    overrides: Path | None = None
    labels: list[str] = field(default_factory=lambda: ["team", "owner"])


@dataclass
class Settings:
    """Everything one run needs; paths already resolved against the config's folder."""

    warehouse_path: Path
    reports_out: Path
    github: GitHubSettings | None = None
    azure_devops: AzureDevOpsSettings | None = None
    registries: list[RegistrySettings] = field(default_factory=list)
    clusters: list[ClusterSettings] = field(default_factory=list)
    scanners: list[ScannerSettings] = field(default_factory=list)
    exports: list[ExportSettings] = field(default_factory=list)
    owners: OwnerSettings = field(default_factory=OwnerSettings)
    threshold: float = 0.5
    source_file: Path | None = None


def load(path: Path | None) -> Settings:
    """Read a config file, or describe the bundled sample estate when path is None."""
    if path is None:
        return sample_settings()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); fix the line named"
        ) from exc
    return parse(data, path.parent, path)


def sample_settings() -> Settings:
    return Settings(
        warehouse_path=Path("imagetrail.duckdb"),
        reports_out=ROOT / "reports" / "out",
        exports=[ExportSettings(SAMPLE_ESTATE)],
        owners=OwnerSettings(overrides=SAMPLE_ESTATE / "owners.toml"),
    )


def parse(data: dict[str, Any], base: Path, source: Path | None = None) -> Settings:
    where = str(source or "config")

    def table(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{key}] must be a table")
        return value

    def tables(key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{where}: [[{key}]] must be an array of tables")
        return value

    def resolve(p: str) -> Path:
        path = Path(os.path.expanduser(p))
        return path if path.is_absolute() else base / path

    settings = Settings(
        warehouse_path=resolve(table("warehouse").get("path", "imagetrail.duckdb")),
        reports_out=resolve(table("reports").get("out", "reports/out")),
        source_file=source,
    )
    if "github" in data:
        settings.github = _build(GitHubSettings, table("github"), where, "github")
    if "azure_devops" in data:
        ado = _build(AzureDevOpsSettings, table("azure_devops"), where, "azure_devops")
        if not ado.organization_url:
            raise ConfigError(f"{where}: [azure_devops] needs organization_url")
        settings.azure_devops = ado
    for i, reg in enumerate(tables("registry")):
        r = _build(RegistrySettings, reg, where, f"registry #{i + 1}")
        _check_registry(r, where, i + 1)
        settings.registries.append(r)
    for i, cl in enumerate(tables("cluster")):
        settings.clusters.append(
            _build(ClusterSettings, cl, where, f"cluster #{i + 1}")
        )
    for i, sc in enumerate(tables("scanner")):
        s = _build(ScannerSettings, sc, where, f"scanner #{i + 1}")
        if s.type not in SCANNER_TYPES:
            raise ConfigError(
                f"{where}: scanner #{i + 1} type {s.type!r} is not one of "
                + ", ".join(SCANNER_TYPES)
            )
        if s.path:
            s.path = str(resolve(s.path))
        settings.scanners.append(s)
    for i, ex in enumerate(tables("export")):
        if "path" not in ex:
            raise ConfigError(f"{where}: export #{i + 1} needs a path")
        settings.exports.append(ExportSettings(resolve(str(ex["path"]))))
    owners = table("owners")
    settings.owners = OwnerSettings(
        overrides=resolve(owners["overrides"]) if owners.get("overrides") else None,
        labels=list(owners.get("labels", ["team", "owner"])),
    )
    threshold = table("mapping").get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ConfigError(f"{where}: [mapping] threshold must be a number from 0 to 1")
    settings.threshold = float(threshold)
    return settings


def _build(cls: type, values: dict[str, Any], where: str, what: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} in {what}; "
            f"known keys: {', '.join(sorted(known))}"
        )
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {what}: {exc}") from exc


def _check_registry(r: RegistrySettings, where: str, n: int) -> None:
    if r.type not in REGISTRY_TYPES:
        raise ConfigError(
            f"{where}: registry #{n} type {r.type!r} is not one of "
            + ", ".join(REGISTRY_TYPES)
        )
    needs = {
        "oci": ["url"],
        "acr": ["url"],
        "ecr": ["region"],
        "gar": ["project", "location"],
    }
    for key in needs[r.type]:
        if not getattr(r, key):
            raise ConfigError(f"{where}: registry #{n} ({r.type}) needs {key}")


def secret(env_name: str | None) -> str | None:
    """The value of a secret's env var; never logged, never stored."""
    return os.environ.get(env_name) if env_name else None

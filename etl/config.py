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
SQL_DIR = ROOT / "sql"
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
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read it as a UTF-8 TOML file ({exc.__class__.__name__}); "
            "point --config at imagetrail.toml"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); fix the line named"
        ) from exc
    return parse(data, path.parent, path)


def sample_settings() -> Settings:
    return Settings(
        warehouse_path=Path("imagetrail.duckdb"),
        reports_out=Path("reports") / "out",
        exports=[ExportSettings(SAMPLE_ESTATE)],
        owners=OwnerSettings(overrides=SAMPLE_ESTATE / "owners.toml"),
    )


# Keys of the sections that have no settings class of their own.
SECTION_KEYS = {
    "warehouse": {"path": "str"},
    "reports": {"out": "str"},
    "owners": {"overrides": "str", "labels": "list[str]"},
    "mapping": {"threshold": "float"},
    "export": {"path": "str"},
}
TOP_LEVEL = {
    "warehouse",
    "reports",
    "github",
    "azure_devops",
    "registry",
    "cluster",
    "scanner",
    "export",
    "owners",
    "mapping",
}


def parse(data: dict[str, Any], base: Path, source: Path | None = None) -> Settings:
    where = str(source or "config")
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(unknown)}; known sections: "
            + ", ".join(sorted(TOP_LEVEL))
        )

    def table(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{key}] must be a table")
        if key in SECTION_KEYS:
            _check_keys(value, SECTION_KEYS[key], where, key)
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
        _check_keys(ex, SECTION_KEYS["export"], where, f"export #{i + 1}")
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


_KINDS = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "str | None": ("a string", lambda v: isinstance(v, str)),
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "float": (
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    ),
    "list[str]": (
        'a list of strings, like ["a", "b"]',
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    ),
}


def _check_keys(
    values: dict[str, Any], kinds: dict[str, str], where: str, what: str
) -> None:
    """Unknown keys and values of the wrong type, named with the section they are in."""
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} in {what}; "
            f"known keys: {', '.join(sorted(kinds))}"
        )
    for key, value in values.items():
        label, ok = _KINDS[kinds[key]]
        if not ok(value):
            raise ConfigError(
                f"{where}: {what} key {key} must be {label}, not {value!r}"
            )


def _build(cls: type, values: dict[str, Any], where: str, what: str) -> Any:
    kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    _check_keys(values, kinds, where, what)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in values
    ]
    if missing:
        raise ConfigError(f"{where}: {what} needs {', '.join(missing)}")
    settings = cls(**values)
    for key in ("since_days",):
        if key in values and values[key] < 1:
            raise ConfigError(f"{where}: {what} key {key} must be 1 or more")
    for key in ("url", "base_url", "organization_url", "endpoint_url"):
        url = values.get(key)
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{where}: {what} key {key} must start with https:// or http://, "
                f"not {url!r}"
            )
    return settings


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

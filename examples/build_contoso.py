"""Write the bundled sample estate ``examples/contoso/`` and its ``EXPECTED.json``.

Run ``python examples/build_contoso.py`` to (re)write the estate, or
``python examples/build_contoso.py --check`` to verify that the committed files are
exactly what this script writes and that every digest the logs, clusters and scans
name is present in a registry export (apart from the deliberate gaps listed below).

Every file has the shape the named CLI or API writes (see the README's "Export layout").
Six job logs are real excerpts from ``../shared/cases`` copied byte for byte; the
rest is invented and deterministic: digests of synthetic images are the sha256 of
the manifest bytes written under ``manifests/``.

The story, one row per top-level image (what a correct job must conclude):

| # | image (registry / repository : tags)                  | built by (run)                              | evidence that decides       | owner (source)                     | trap it exercises |
|---|--------------------------------------------------------|---------------------------------------------|-----------------------------|------------------------------------|-------------------|
| 1 | contosoacr / payments/api (old digest, untagged)       | GitHub contoso/payments-api release #88     | log-digest (build-push-action) | @contoso/payments (CODEOWNERS, last match) | tag `release` re-pushed; aks-prod still runs this old digest behind a public LB |
| 2 | contosoacr / payments/api : release                    | GitHub contoso/payments-api release #93, attempt 2 | log-digest            | @contoso/payments (CODEOWNERS)     | attempt 1 failed at login; canary runs it behind ClusterIP only |
| 3 | contosoacr / contoso-api : 3.59.0-Fea44846-Development | ADO Payments build 2841 (case 07)           | log-digest, host masked `***` | @contoso/payments-oncall (override, first match wins) | real Docker@2 debug log; internal LB is not internet exposure |
| 4 | contosoacr / retail/storefront : 20250203.2            | ADO Retail build 5120                       | ado-labels only             | @contoso/retail-web (CODEOWNERS catch-all) | build too old for the export: no timeline, no logs; exposed by Ingress |
| 5 | contosoacr / tools/debug-shell : jdoe-test             | nobody (pushed by hand)                     | none -> unmapped            | -                                  | exposed by NodePort with findings, yet unmapped |
| 6 | contosoacr / mirror/ingress-nginx/controller : v1.10.1 | nobody (az acr import)                      | none -> unmapped            | -                                  | OCI labels name a repo no exported run built |
| 7 | contosoacr01 / copilot-usage-advanced-dashboard/cpuad-updater-job | GitHub contoso/copilot-usage-advanced-dashboard (case 03) | log-digest (ACR Tasks) | team-devex (catalog-info.yaml) | catalog beats CODEOWNERS; CronJob workload |
| 8 | ECR us-east-1 / django-webapp-code : latest (index)    | GitHub contoso/django-webapp (case 35)      | log-digest                  | @contoso/web-team (CODEOWNERS catch-all) | index with platform + attestation children; dockershim imageID |
| 9 | ECR eu-west-1 / retail/checkout : 20250610.1, latest   | ADO Retail build 5131                       | ado-labels (log also prints it) | @contoso/retail-checkout (CODEOWNERS, Dockerfile from `-f`) | grype scan; NodePort |
|10 | ECR eu-west-1 / retail/checkout : pr-87                | ADO Retail build 5137 (pull request)        | ado-labels                  | @contoso/retail-checkout (CODEOWNERS) | commit is the merge commit, not the PR head |
|11 | ECR eu-west-1 / retail/worker : 20250612.3             | ADO Retail build 5140                       | log-digest                  | dana.whitfield@contoso.example (requester) | no CODEOWNERS, no label; running with no scan |
|12 | GAR gcr.io (contoso-release-test/us) / image-builder   | GitHub contoso/release-tools (case 43)      | tag-commit (digest cut in log; tag ends with the commit's short SHA) | @contoso/release-eng (CODEOWNERS catch-all) | gcr.io-domain Artifact Registry listing |
|13 | GAR contoso-prod/ml / scorer : 0.9.1                   | GitHub contoso/ml-scorer release #31        | log-digest (classic docker push) | @contoso/ml-platform (override, image glob) | - |
|14 | GAR contoso-prod/ml / scorer : 0.9.2                   | GitHub contoso/ml-scorer release #34        | oci-labels (kaniko printed no digest) | @contoso/ml-platform (override) | `.git`-suffixed source label |
|15 | GAR contoso-prod/shared / base-python : latest         | contoso/platform-images AND contoso/ml-scorer | tag-time, two runs -> ambiguous | -                              | must never be silently picked |
|15b| GAR contoso-prod/shared / base-node : latest           | GitHub contoso/platform-images nightly #140 | tag-time (kaniko printed no digest) | @contoso/platform (CODEOWNERS catch-all) | only time links it |
|16 | docker.io / contoso/hub : master (index)               | GitHub contoso/hub (case 09)                | log-digest                  | hub-maintainers (namespace label)  | pods run the index, trivy scanned a platform child |
|17 | docker.io / contoso/kaniko-demo-image : latest         | GitHub contoso/kaniko-demo (case 17)        | log-digest                  | mei.tanaka@contoso.example (commit author) | no CODEOWNERS, not running |

Deliberate gaps (digests named somewhere that no registry export lists): the base
images and config digests printed in build logs, and the PR build of payments-api,
which never pushed. The sidecar and system images in the clusters (mcr.microsoft.com,
the EKS kube-proxy) are in no registry export either; since they run, they are
images all the same and come out unmapped, each with its reason.
"""

# ruff: noqa: E501
# Long lines here are data: the story table, verbatim log lines, URLs and CVE titles.

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "contoso"
CASES = Path(
    os.environ.get("IMAGETRAIL_CASES", HERE.parent.parent / "shared" / "cases")
)

# Real excerpts copied unchanged: case file -> path in the estate.
CASE_LOGS = {
    "03-acr-task-push-step.log": "github/contoso/copilot-usage-advanced-dashboard/logs/42290011587.txt",
    "07-azdo-docker2-push-debug.log": "azure_devops/contoso/Payments/logs/2841/6.txt",
    "09-buildkit-plain-multiarch-push.log": "github/contoso/hub/logs/37580012345.txt",
    "17-kaniko-windows-console-ansi.log": "github/contoso/kaniko-demo/logs/35620099871.txt",
    "35-ecr-push-oci-index-list-describe.log": "github/contoso/django-webapp/logs/38790045612.txt",
    "43-cloud-build-step-prefix-push-cut.log": "github/contoso/release-tools/logs/289012345.txt",
}

UUID_NS = uuid.UUID("6c0b3a52-6b1e-4c8e-9a55-3d2f1e0c9b77")
ACCOUNT = "111122223333"


# --------------------------------------------------------------------------- helpers


def hex64(label: str) -> str:
    return hashlib.sha256(f"contoso-estate:{label}".encode()).hexdigest()


def sha1(label: str) -> str:
    return hashlib.sha1(f"contoso-estate:{label}".encode()).hexdigest()


def guid(label: str) -> str:
    return str(uuid.uuid5(UUID_NS, label))


def num(label: str, lo: int, hi: int) -> int:
    return lo + int(hex64(label)[:12], 16) % (hi - lo)


def t(text: str) -> datetime:
    """An aware UTC instant from ``2025-06-02T09:14:03.437123Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def seventh(dt: datetime) -> str:
    """The 100 ns digit .NET prints after Python's microseconds (deterministic).

    Instants written by hand with few digits stay round, as .NET trims trailing zeros.
    """
    if dt.microsecond % 1000 == 0:
        return "0"
    return str(int(hashlib.md5(dt.isoformat().encode()).hexdigest()[:4], 16) % 10)


def gh_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def net_time(dt: datetime) -> str:
    """Azure DevOps / ACR style: up to 7 fraction digits, trailing zeros trimmed."""
    frac = (f"{dt.microsecond:06d}" + seventh(dt)).rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def log_time(dt: datetime) -> str:
    """Log line prefix: always 7 fraction digits."""
    return (
        dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}" + seventh(dt) + "Z"
    )


def gcloud_time(dt: datetime, nanos: bool = False) -> str:
    frac = f"{dt.microsecond:06d}" + (
        str(num(dt.isoformat(), 100, 999)) if nanos else ""
    )
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def aws_time(dt: datetime, offset_hours: int) -> str:
    """What the AWS CLI prints: local time of the exporting machine, 6 digits."""
    local = dt.astimezone(timezone(timedelta(hours=offset_hours)))
    return local.isoformat(timespec="microseconds")


def k8s_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def nano_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}" + "417Z"


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    return digest.split(":", 1)[1]


class Estate:
    """Collects every file of the estate in memory; ``write`` puts them on disk."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def raw(self, path: str, data: bytes) -> None:
        if path in self.files and self.files[path] != data:
            raise SystemExit(f"two different contents for {path}")
        self.files[path] = data

    def text(self, path: str, text: str) -> None:
        self.raw(path, text.encode())

    def json(self, path: str, obj: Any, indent: int = 2, sort: bool = False) -> None:
        text = json.dumps(obj, indent=indent, sort_keys=sort, ensure_ascii=False)
        self.text(path, text + "\n")

    def write(self, root: Path) -> None:
        for rel, data in sorted(self.files.items()):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


class Log:
    """A CI log: one timestamp per line, advancing a few milliseconds each line."""

    def __init__(self, start: datetime, bom: bool = False) -> None:
        self.now = start
        self.lines: list[str] = []
        self.bom = bom

    def add(self, text: str = "", gap_ms: int = 41) -> Log:
        """Append lines; the first comes ``gap_ms`` after the previous line."""
        for n, part in enumerate(text.split("\n")):
            gap = gap_ms if n == 0 else 4
            self.now += timedelta(milliseconds=gap, microseconds=num(part, 0, 997))
            self.lines.append(f"{log_time(self.now)} {part}")
        return self

    def wait(self, seconds: float) -> Log:
        self.now += timedelta(seconds=seconds)
        return self

    def until(self, when: datetime) -> Log:
        """Let the clock run on to ``when`` (a slow step, an upload)."""
        self.now = max(self.now, when)
        return self

    def text(self) -> str:
        return ("\ufeff" if self.bom else "") + "\n".join(self.lines) + "\n"


# --------------------------------------------------------------------------- images

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class Image:
    """One top-level manifest in a registry, as the story needs it."""

    key: str
    registry: str  # normalised host
    repository: str
    tags: list[str]
    pushed: datetime
    digest: str = ""
    config_digest: str | None = None
    media_type: str = DOCKER_V2
    size: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    layers: list[tuple[str, int]] = field(default_factory=list)
    arch: str = "amd64"
    children: list[dict[str, Any]] = field(default_factory=list)
    updated: datetime | None = None

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.repository}"


BASES = {
    "python": {
        "env": [
            "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
            "PYTHON_VERSION=3.12.3",
        ],
        "history": [
            "/bin/sh -c #(nop) ADD file:4b1be1de1a1e5aa608c688cad2824587262081866180d7368feb79d33ca05953 in / ",
            '/bin/sh -c #(nop)  CMD ["bash"]',
            "ENV PYTHON_VERSION=3.12.3",
            "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends ca-certificates netbase tzdata; rm -rf /var/lib/apt/lists/* # buildkit",
        ],
    },
    "node": {
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NODE_VERSION=20.14.0",
            "YARN_VERSION=1.22.22",
        ],
        "history": [
            "/bin/sh -c #(nop) ADD file:b24689567a7c604de93e4ef1dc87c372514f692556744da43925c575b4f80df6 in / ",
            '/bin/sh -c #(nop)  CMD ["bash"]',
            "ENV NODE_VERSION=20.14.0",
            'RUN /bin/sh -c ARCH= && dpkgArch="$(dpkg --print-architecture)" && curl -fsSLO --compressed "https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$ARCH.tar.xz" # buildkit',
        ],
    },
    "alpine": {
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "history": [
            "/bin/sh -c #(nop) ADD file:33ebe56b967747a97dcec01bc2559962bee8823686c9739d26be060381bbb3ca in / ",
            '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
        ],
    },
    "dotnet": {
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "APP_UID=1654",
            "ASPNETCORE_HTTP_PORTS=8080",
            "DOTNET_RUNNING_IN_CONTAINER=true",
            "DOTNET_VERSION=8.0.7",
            "ASPNET_VERSION=8.0.7",
        ],
        "history": [
            "/bin/sh -c #(nop) ADD file:4b1be1de1a1e5aa608c688cad2824587262081866180d7368feb79d33ca05953 in / ",
            '/bin/sh -c #(nop)  CMD ["bash"]',
            "ENV ASPNET_VERSION=8.0.7",
        ],
    },
    "distroless": {
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        ],
        "history": ["bazel build ..."],
    },
}


def synthesize(
    img: Image,
    *,
    base: str,
    steps: list[str],
    cmd: list[str],
    workdir: str = "/app",
    oci: bool = False,
) -> Image:
    """Give ``img`` a config blob and a manifest whose sha256 is its digest."""
    spec = BASES[base]
    n_layers = len(spec["history"]) // 2 + len(steps)
    diff_ids = [f"sha256:{hex64(f'{img.key}/diff/{i}')}" for i in range(n_layers)]
    created = img.pushed - timedelta(seconds=num(img.key + "build", 25, 140))
    history = [
        {"created": "2024-05-14T01:28:12Z", "created_by": line}
        for line in spec["history"]
    ]
    history += [
        {
            "created": created.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{created.microsecond:06d}417Z",
            "created_by": step,
            "comment": "buildkit.dockerfile.v0",
        }
        for step in steps
    ]
    config: dict[str, Any] = {
        "Env": spec["env"],
        "Cmd": cmd,
        "WorkingDir": workdir,
    }
    if img.labels:
        config["Labels"] = dict(sorted(img.labels.items()))
    blob = {
        "architecture": img.arch,
        "config": config,
        "created": history[-1]["created"],
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = json.dumps(blob, separators=(",", ":")).encode()
    img.config = blob
    img.config_digest = sha256_of(config_bytes)
    img.layers = [
        (
            f"sha256:{hex64(f'{img.key}/layer/{i}')}",
            num(f"{img.key}/size/{i}", 180, 48_000_000),
        )
        for i in range(n_layers)
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_V2,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "size": len(config_bytes),
            "digest": img.config_digest,
        },
        "layers": [
            {"mediaType": OCI_LAYER if oci else DOCKER_LAYER, "size": s, "digest": d}
            for d, s in img.layers
        ],
    }
    indent = None if oci else 3  # dockerd indents with three spaces, BuildKit does not
    seps = (",", ":") if oci else (",", ": ")
    manifest_bytes = json.dumps(manifest, indent=indent, separators=seps).encode()
    img.media_type = OCI_MANIFEST if oci else DOCKER_V2
    img.digest = sha256_of(manifest_bytes)
    img.size = sum(s for _, s in img.layers) + len(config_bytes)
    MANIFESTS[img.digest] = manifest_bytes
    CONFIGS[img.digest] = config_bytes
    return img


MANIFESTS: dict[str, bytes] = {}
CONFIGS: dict[str, bytes] = {}


# --------------------------------------------------------------------------- people

PEOPLE = {
    "akhan": ("Aisha Khan", "aisha.khan@contoso.example", 58211031),
    "jlee": ("Jun Lee", "jun.lee@contoso.example", 58211544),
    "rgarcia": ("Rosa Garcia", "rosa.garcia@contoso.example", 60122970),
    "tnguyen": ("Thanh Nguyen", "thanh.nguyen@contoso.example", 61877203),
    "sofia-m": ("Sofia Marin", "sofia.marin@contoso.example", 70233118),
    "lobrien": ("Liam O'Brien", "liam.obrien@contoso.example", 45510987),
    "mtanaka": ("Mei Tanaka", "mei.tanaka@contoso.example", 39981274),
    "pkowalski": ("Piotr Kowalski", "piotr.kowalski@contoso.example", 51234876),
    "dvolkov": ("Dmitri Volkov", "dmitri.volkov@contoso.example", 1123581),
    "hbecker": ("Hannah Becker", "hannah.becker@contoso.example", 66001245),
    "ebrown": ("Ethan Brown", "ethan.brown@contoso.example", 47719830),
    "mrossi": ("Marco Rossi", "marco.rossi@contoso.example", 0),
    "praman": ("Priya Raman", "priya.raman@contoso.example", 0),
    "lortega": ("Luis Ortega", "luis.ortega@contoso.example", 0),
    "asouza": ("Ana Souza", "ana.souza@contoso.example", 0),
    "dwhitfield": ("Dana Whitfield", "dana.whitfield@contoso.example", 0),
}


# --------------------------------------------------------------------------- commits


def commit(label: str) -> str:
    return sha1(f"commit/{label}")


SHA = {
    "payments-api/88": commit("payments-api/88"),
    "payments-api/93": commit("payments-api/93"),
    "payments-api/pr212": commit("payments-api/pr212"),
    "cpuad/17": commit("cpuad/17"),
    "hub/204": commit("hub/204"),
    "kaniko-demo/9": commit("kaniko-demo/9"),
    "django/57": commit("django/57"),
    # The image tag v20191021-7fae937ad names this commit by its short SHA.
    "release-tools/311": "7fae937ad" + commit("release-tools/311")[:31],
    "ml-scorer/31": commit("ml-scorer/31"),
    "ml-scorer/34": commit("ml-scorer/34"),
    "ml-scorer/base6": commit("ml-scorer/base6"),
    "platform-images/140": commit("platform-images/140"),
    "ingress-nginx/v1.10.1": commit("ingress-nginx/v1.10.1"),
    "ado/2838": commit("ado/2838"),
    "ado/2841": commit("ado/2841"),
    "ado/5120": commit("ado/5120"),
    "ado/5131": commit("ado/5131"),
    "ado/5137/merge": commit("ado/5137/merge"),
    "ado/5137/head": commit("ado/5137/head"),
    "ado/5140": commit("ado/5140"),
}


# --------------------------------------------------------------------------- registry images

ACR = "contosoacr.azurecr.io"
ACR01 = "contosoacr01.azurecr.io"
ECR_USE1 = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ECR_EUW1 = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
GAR_EUW1 = "europe-west1-docker.pkg.dev"
ADO_COLLECTION = "https://dev.azure.com/contoso/"


def ado_labels(
    project: str,
    repo: str,
    build_id: int,
    number: str,
    definition: str,
    sha: str,
    branch: str,
) -> dict[str, str]:
    """The labels Docker@2 adds on build/buildAndPush (addPipelineData)."""
    p = "com.azure.dev.image"
    return {
        f"{p}.system.teamfoundationcollectionuri": ADO_COLLECTION,
        f"{p}.system.teamproject": project,
        f"{p}.build.repository.name": repo,
        f"{p}.build.sourceversion": sha,
        f"{p}.build.repository.uri": f"https://dev.azure.com/contoso/{project}/_git/{repo}",
        f"{p}.build.sourcebranchname": branch,
        f"{p}.build.definitionname": definition,
        f"{p}.build.buildnumber": number,
        f"{p}.build.builduri": f"vstfs:///Build/Build/{build_id}",
    }


def oci_labels(source: str, revision: str, **extra: str) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.revision": revision,
    }
    labels.update({f"org.opencontainers.image.{k}": v for k, v in extra.items()})
    return labels


PY_APP = [
    "WORKDIR /app",
    "COPY requirements.txt .",
    "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit",
    "COPY . .",
]
DOTNET_APP = [
    "WORKDIR /app",
    "COPY /app/publish .",
    "USER $APP_UID",
]

IMAGES: dict[str, Image] = {}


def add(img: Image) -> Image:
    IMAGES[img.key] = img
    return img


def build_images() -> None:
    add(
        synthesize(
            Image(
                "api-old",
                ACR,
                "payments/api",
                [],
                t("2025-06-02T09:19:14.804117Z"),
                updated=t("2025-06-16T14:07:35.902846Z"),
            ),
            base="python",
            steps=PY_APP,
            cmd=["gunicorn", "api.wsgi:app", "-b", "0.0.0.0:8080"],
        )
    )
    add(
        synthesize(
            Image(
                "api-new",
                ACR,
                "payments/api",
                ["release"],
                t("2025-06-16T14:07:35.383301Z"),
            ),
            base="python",
            steps=PY_APP + ["RUN /bin/sh -c pip install --upgrade urllib3 # buildkit"],
            cmd=["gunicorn", "api.wsgi:app", "-b", "0.0.0.0:8080"],
        )
    )
    add(
        Image(
            "contoso-api",
            ACR,
            "contoso-api",
            ["3.59.0-Fea44846-Development"],
            t("2024-08-08T05:21:39.110417Z"),
            digest="sha256:22706378d06e8f37879b79d4beb78e0c3aec33f601c2a11368fb3782c4c2d389",
            config_digest=f"sha256:{hex64('contoso-api/config')}",
            size=118_274_592,
        )
    )
    add(
        synthesize(
            Image(
                "storefront",
                ACR,
                "retail/storefront",
                ["20250203.2"],
                t("2025-02-03T10:44:27.901234Z"),
                labels=ado_labels(
                    "Retail",
                    "storefront",
                    5120,
                    "20250203.2",
                    "storefront-ci",
                    SHA["ado/5120"],
                    "main",
                ),
            ),
            base="node",
            steps=[
                "WORKDIR /srv",
                "COPY package*.json ./",
                "RUN /bin/sh -c npm ci --omit=dev # buildkit",
                "COPY dist/ ./dist/",
            ],
            cmd=["node", "dist/server.js"],
            workdir="/srv",
        )
    )
    add(
        synthesize(
            Image(
                "debug-shell",
                ACR,
                "tools/debug-shell",
                ["jdoe-test"],
                t("2025-06-09T16:42:05.310552Z"),
                labels={"maintainer": "jdoe"},
            ),
            base="alpine",
            steps=["RUN /bin/sh -c apk add --no-cache curl bind-tools tcpdump openssl"],
            cmd=["/bin/sh"],
            workdir="/",
        )
    )
    add(
        synthesize(
            Image(
                "ingress-controller",
                ACR,
                "mirror/ingress-nginx/controller",
                ["v1.10.1"],
                t("2025-04-01T08:15:33.774109Z"),
                labels=oci_labels(
                    "https://github.com/kubernetes/ingress-nginx",
                    SHA["ingress-nginx/v1.10.1"],
                    version="v1.10.1",
                ),
            ),
            base="alpine",
            steps=[
                "COPY --chown=www-data:www-data rootfs/ /",
                "RUN /bin/sh -c setcap cap_net_bind_service=+ep /nginx-ingress-controller",
            ],
            cmd=["/nginx-ingress-controller"],
            workdir="/etc/nginx",
        )
    )
    add(
        Image(
            "cpuad",
            ACR01,
            "copilot-usage-advanced-dashboard/cpuad-updater-job",
            ["azd-20250517223439"],
            t("2025-05-17T14:35:38.662013Z"),
            digest="sha256:02b1c57f67c796343a09c053cf9afa2ff19863ba51dc0d606852865cfb24d40f",
            config_digest=f"sha256:{hex64('cpuad/config')}",
            size=61_023_311,
        )
    )
    add(
        Image(
            "django",
            ECR_USE1,
            "django-webapp-code",
            ["latest"],
            t("2025-03-15T15:47:53.707000Z"),
            digest="sha256:79e93509f63df0e0808ba8780fdd08bb5dc597b400807637c77044c04f361125",
            media_type=OCI_INDEX,
            size=75_387_102,
            config_digest=f"sha256:{hex64('django/config')}",
            children=[
                {
                    "digest": "sha256:8f1ee7414d796b6ed70dcfa9facff56438bba6b2665066362eea9b5dca2c667d",
                    "size": 1_897,
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "pushed": t("2025-03-15T15:47:53.161000Z"),
                    "bytes": 75_387_102,
                    "config": f"sha256:{hex64('django/config')}",
                },
                {
                    "digest": "sha256:e33b3087f42f9b5b23ee5ce33a8a279fc1c2a2d1070a9eaae3c298cd8d3c803f",
                    "size": 566,
                    "platform": {"architecture": "unknown", "os": "unknown"},
                    "pushed": t("2025-03-15T15:47:53.153000Z"),
                    "bytes": 1_348,
                    "attestation_of": "sha256:8f1ee7414d796b6ed70dcfa9facff56438bba6b2665066362eea9b5dca2c667d",
                },
            ],
        )
    )
    add(
        synthesize(
            Image(
                "checkout",
                ECR_EUW1,
                "retail/checkout",
                ["20250610.1", "latest"],
                t("2025-06-10T08:13:15.104000Z"),
                labels=ado_labels(
                    "Retail",
                    "checkout",
                    5131,
                    "20250610.1",
                    "checkout-ci",
                    SHA["ado/5131"],
                    "main",
                ),
            ),
            base="dotnet",
            steps=DOTNET_APP,
            cmd=["dotnet", "Contoso.Checkout.dll"],
        )
    )
    add(
        synthesize(
            Image(
                "checkout-pr",
                ECR_EUW1,
                "retail/checkout",
                ["pr-87"],
                t("2025-06-11T15:31:42.318000Z"),
                labels=ado_labels(
                    "Retail",
                    "checkout",
                    5137,
                    "20250611.4",
                    "checkout-ci",
                    SHA["ado/5137/merge"],
                    "merge",
                ),
            ),
            base="dotnet",
            steps=DOTNET_APP + ["ENV CHECKOUT_APPLE_PAY=1"],
            cmd=["dotnet", "Contoso.Checkout.dll"],
        )
    )
    add(
        synthesize(
            Image(
                "worker",
                ECR_EUW1,
                "retail/worker",
                ["20250612.3"],
                t("2025-06-12T11:05:46.201000Z"),
            ),
            base="dotnet",
            steps=DOTNET_APP,
            cmd=["dotnet", "Contoso.Retail.Worker.dll"],
        )
    )
    add(
        Image(
            "image-builder",
            "gcr.io",
            "contoso-release-test/image-builder",
            ["latest", "v20191021-7fae937ad"],
            t("2019-10-21T18:07:32.418205Z"),
            # The log shows only the first 21 hex digits of this digest (case 43).
            digest="sha256:dfdd2cd4b1c5dbbb62744" + hex64("image-builder")[:43],
            size=312_776_019,
        )
    )
    add(
        synthesize(
            Image(
                "scorer-091",
                GAR_EUW1,
                "contoso-prod/ml/scorer",
                ["0.9.1"],
                t("2025-05-28T13:20:43.718934Z"),
                labels=oci_labels(
                    "https://github.com/contoso/ml-scorer.git", SHA["ml-scorer/31"]
                ),
            ),
            base="python",
            steps=PY_APP,
            cmd=["python", "-m", "scorer.serve"],
        )
    )
    add(
        synthesize(
            Image(
                "scorer-092",
                GAR_EUW1,
                "contoso-prod/ml/scorer",
                ["0.9.2"],
                t("2025-06-18T10:22:41.907719Z"),
                labels=oci_labels(
                    "https://github.com/contoso/ml-scorer.git", SHA["ml-scorer/34"]
                ),
            ),
            base="python",
            steps=PY_APP + ["ENV SCORER_THRESHOLDS=/app/thresholds.yaml"],
            cmd=["python", "-m", "scorer.serve"],
        )
    )
    add(
        synthesize(
            Image(
                "base-python",
                GAR_EUW1,
                "contoso-prod/shared/base-python",
                ["latest"],
                t("2025-06-20T02:06:31.874512Z"),
                updated=t("2025-06-20T02:06:42.611907Z"),
            ),
            base="python",
            steps=[
                "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends tzdata # buildkit"
            ],
            cmd=["python3"],
        )
    )
    add(
        synthesize(
            Image(
                "base-node",
                GAR_EUW1,
                "contoso-prod/shared/base-node",
                ["latest"],
                t("2025-06-20T02:03:11.920733Z"),
            ),
            base="node",
            steps=[
                "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends tini # buildkit"
            ],
            cmd=["node"],
        )
    )
    add(
        Image(
            "hub",
            "docker.io",
            "contoso/hub",
            ["master"],
            t("2025-02-20T11:02:01Z"),
            digest="sha256:3a5a2d0697ae80eb1abe24bf7651b52b1b7b5c447a0f751d8a70f660c1bd46de",
            media_type=OCI_INDEX,
            children=[
                {
                    "digest": "sha256:c749ca3e30bf6ff614790f982cb1df656650a53d584b076850260f5cf37ec162",
                    "size": 1_612,
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "config": "sha256:508e7b1271f692b624a3cec71ac8d07f523b551aee65e854b21bccf38b94aaab",
                },
                {
                    "digest": "sha256:56b7871df60de063ae3861776eb54592e0616152f57e5c42f15e30d2d905da47",
                    "size": 1_612,
                    "platform": {
                        "architecture": "arm64",
                        "os": "linux",
                        "variant": "v8",
                    },
                    "config": "sha256:ec13edd1fff58517206ddd11b671c959b2933dc81283916b23be986e50548aa9",
                },
            ],
        )
    )
    add(
        Image(
            "kaniko-demo",
            "docker.io",
            "contoso/kaniko-demo-image",
            ["latest"],
            t("2025-01-14T16:21:40Z"),
            digest="sha256:ba64ddfbec0d94e02dc9e5ab88b8cb64dabc59b55eff25d4ea71725687837ea7",
            config_digest=f"sha256:{hex64('kaniko-demo/config')}",
        )
    )


# --------------------------------------------------------------------------- GitHub


@dataclass
class GhJob:
    id: int
    name: str
    attempt: int
    started: datetime
    completed: datetime
    conclusion: str
    steps: list[tuple[str, str]]
    log: str | None = None  # text, or None when a real case file is copied
    labels: list[str] = field(default_factory=lambda: ["ubuntu-latest"])
    runner: str = "GitHub Actions 14"


@dataclass
class GhRun:
    repo: str
    id: int
    number: int
    attempt: int
    workflow: str
    path: str
    workflow_id: int
    event: str
    branch: str
    sha: str
    message: str
    author: str
    actor: str
    triggering_actor: str
    created: datetime
    started: datetime
    updated: datetime
    conclusion: str
    jobs: list[GhJob] = field(default_factory=list)
    pull_request: dict[str, Any] | None = None

    @property
    def html_url(self) -> str:
        return f"https://github.com/{self.repo}/actions/runs/{self.id}"


GH_REPOS = {
    "contoso/payments-api": 781234501,
    "contoso/copilot-usage-advanced-dashboard": 812345602,
    "contoso/hub": 601234703,
    "contoso/kaniko-demo": 702345604,
    "contoso/django-webapp": 745678905,
    "contoso/release-tools": 212345606,
    "contoso/ml-scorer": 798765407,
    "contoso/platform-images": 656789008,
}

ACTION_SHAS = {
    "actions/checkout@v4": sha1("actions/checkout@v4"),
    "docker/login-action@v3": sha1("docker/login-action@v3"),
    "docker/setup-buildx-action@v3": sha1("docker/setup-buildx-action@v3"),
    "docker/build-push-action@v5": sha1("docker/build-push-action@v5"),
    "google-github-actions/auth@v2": sha1("google-github-actions/auth@v2"),
}


def gh_preamble(log: Log, job: str, actions: list[str], packages: str = "read") -> None:
    log.add("Current runner version: '2.317.0'", 0)
    log.add("##[group]Operating System\nUbuntu\n22.04.4\nLTS\n##[endgroup]", 2)
    log.add(
        "##[group]Runner Image\nImage: ubuntu-22.04\nVersion: 20250526.1.0\n"
        "Included Software: https://github.com/actions/runner-images/blob/ubuntu22/20250526.1/images/ubuntu/Ubuntu2204-Readme.md\n"
        "##[endgroup]",
        1,
    )
    log.add(
        f"##[group]GITHUB_TOKEN Permissions\nContents: read\nMetadata: read\nPackages: {packages}\n##[endgroup]",
        1,
    )
    log.add(
        "Secret source: Actions\nPrepare workflow directory\nPrepare all required actions\n"
        "Getting action download info",
        3,
    )
    for action in actions:
        name, _, _ = action.partition("@")
        log.add(
            f"Download action repository '{action}' (SHA:{ACTION_SHAS[action]})", 180
        )
    log.add(f"Complete job name: {job}", 30)


def gh_checkout(log: Log, repo: str, sha: str) -> None:
    log.add(
        f"##[group]Run actions/checkout@v4\nwith:\n  repository: {repo}\n  token: ***\n"
        "  ssh-strict: true\n  persist-credentials: true\n  clean: true\n  fetch-depth: 1\n"
        "##[endgroup]",
        60,
    )
    log.add(f"Syncing repository: {repo}", 20)
    log.add(
        "##[group]Getting Git version info\nWorking directory is "
        f"'/home/runner/work/{repo.split('/')[1]}/{repo.split('/')[1]}'\n"
        "[command]/usr/bin/git version\ngit version 2.49.0\n##[endgroup]",
        15,
    )
    log.add(
        f"[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +{sha}:refs/remotes/origin/main",
        300,
    )
    log.add(f"[command]/usr/bin/git log -1 --format=%H\n{sha}", 900)


def buildkit_steps(
    log: Log,
    dockerfile: str,
    base: str,
    base_digest: str,
    steps: list[str],
    slow_done: datetime | None = None,
) -> int:
    """The build part of BuildKit's plain progress output; returns the next vertex.

    The RUN step takes until ``slow_done`` when given, so that the push that follows
    lands when the registry says it did.
    """
    n = len(steps) + 1
    log.add(
        f"#1 [internal] load build definition from {dockerfile.rsplit('/', 1)[-1]}", 400
    )
    log.add("#1 transferring dockerfile: 612B done\n#1 DONE 0.0s\n", 10)
    log.add(f"#2 [internal] load metadata for docker.io/library/{base}", 20)
    log.add("#2 DONE 0.9s\n", 900)
    log.add(
        "#3 [internal] load .dockerignore\n#3 transferring context: 2B done\n#3 DONE 0.0s\n",
        10,
    )
    log.add(f"#4 [1/{n}] FROM docker.io/library/{base}@{base_digest}", 30)
    log.add(f"#4 resolve docker.io/library/{base}@{base_digest} 0.0s done", 10)
    log.add(f"#4 sha256:{hex64(base + '/l1')} 29.13MB / 29.13MB 0.6s done", 600)
    log.add(
        f"#4 extracting sha256:{hex64(base + '/l1')} 1.1s done\n#4 DONE 2.2s\n", 1100
    )
    log.add(
        "#5 [internal] load build context\n#5 transferring context: 48.21kB done\n#5 DONE 0.0s\n",
        20,
    )
    for i, step in enumerate(steps, start=2):
        vertex = 4 + i
        slow = step.startswith("RUN")
        text = step.removeprefix("RUN /bin/sh -c ").removesuffix(" # buildkit")
        log.add(f"#{vertex} [{i}/{n}] {text if not slow else 'RUN ' + text}", 40)
        began = log.now
        if slow and slow_done:
            log.until(slow_done - timedelta(milliseconds=100))
        took = (log.now - began).total_seconds() + (
            9.4 if slow and not slow_done else 0.1
        )
        log.add(f"#{vertex} DONE {took:.1f}s\n", 100 if slow_done or not slow else 9400)
    return 4 + n + 1


def build_push_action_log(
    start: datetime,
    repo: str,
    sha: str,
    img: Image,
    tag: str,
    dockerfile: str,
    push: bool,
    bom: bool,
) -> str:
    """A docker/build-push-action job: checkout, login, buildx, build and push."""
    log = Log(start, bom=bom)
    gh_preamble(
        log,
        "build-and-push" if push else "build",
        [
            "actions/checkout@v4",
            "docker/login-action@v3",
            "docker/setup-buildx-action@v3",
            "docker/build-push-action@v5",
        ],
    )
    gh_checkout(log, repo, sha)
    ref = f"{img.image}:{tag}"
    if push:
        log.add(
            f"##[group]Run docker/login-action@v3\nwith:\n  registry: {img.registry}\n"
            "  username: ***\n  password: ***\n  ecr: auto\n  logout: true\n##[endgroup]",
            80,
        )
        log.add(f"Logging into {img.registry}...", 30)
        log.add("Login Succeeded!", 700)
    log.add(
        "##[group]Run docker/setup-buildx-action@v3\nwith:\n  driver: docker-container\n"
        "  install: false\n  use: true\n  cleanup: true\n##[endgroup]",
        60,
    )
    builder = f"builder-{guid(repo + sha)}"
    log.add(
        f"##[group]Creating a new builder instance\n[command]/usr/bin/docker buildx create --name {builder} --driver docker-container --buildkitd-flags --allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host --use\n{builder}\n##[endgroup]",
        400,
    )
    log.add(
        f"##[group]Run docker/build-push-action@v5\nwith:\n  context: .\n  file: {dockerfile}\n"
        f"  push: {'true' if push else 'false'}\n  provenance: false\n  tags: {ref}\n"
        "  load: false\n  no-cache: false\n  pull: false\n  github-token: ***\n##[endgroup]",
        1200,
    )
    tmp = f"/home/runner/work/_temp/docker-actions-toolkit-{hex64(ref + 'tmp')[:6]}"
    cmd = (
        f"[command]/usr/bin/docker buildx build --file {dockerfile} --iidfile {tmp}/build-iidfile-{hex64(ref)[:10]}.txt "
        f"--provenance false --tag {ref} --metadata-file {tmp}/build-metadata-{hex64(ref)[10:20]}.json"
    )
    log.add(cmd + (" --push ." if push else " ."), 300)
    log.add(
        f'#0 building with "{builder}" instance using docker-container driver\n', 200
    )
    vertex = buildkit_steps(
        log,
        dockerfile,
        "python:3.12-slim",
        f"sha256:{hex64('python:3.12-slim')}",
        PY_APP,
        img.pushed - timedelta(seconds=7.1) if push else None,
    )
    if not push:
        log.add(
            "WARNING: No output specified with docker-container driver. Build result will "
            "only remain in the build cache. To push result image into registry use --push "
            "or to load image into docker use --load",
            200,
        )
        log.add("Post job cleanup.", 3000)
        return log.text()
    v = f"#{vertex}"
    log.add(f"{v} exporting to image\n{v} exporting layers", 200)
    log.add(f"{v} exporting layers 2.4s done", 2400)
    log.add(f"{v} exporting manifest {img.digest} done", 20)
    log.add(f"{v} exporting config {img.config_digest} done", 20)
    log.add(f"{v} pushing layers", 30)
    log.add(f"{v} pushing layers 3.1s done", 3100)
    log.until(img.pushed - timedelta(milliseconds=420))
    log.add(f"{v} pushing manifest for {ref}@{img.digest}", 20)
    log.add(f"{v} pushing manifest for {ref}@{img.digest} 0.8s done", 800)
    log.add(f"{v} DONE 6.5s", 10)
    log.add(f"##[group]ImageID\n{img.config_digest}\n##[endgroup]", 150)
    log.add(f"##[group]Digest\n{img.digest}\n##[endgroup]", 5)
    meta = json.dumps(
        {
            "buildx.build.ref": f"{builder}/{builder}0/{hex64(ref + 'ref')[:25]}",
            "containerimage.config.digest": img.config_digest,
            "containerimage.descriptor": {
                "mediaType": img.media_type,
                "digest": img.digest,
                "size": len(MANIFESTS[img.digest]),
            },
            "containerimage.digest": img.digest,
            "image.name": ref,
        },
        indent=2,
    )
    log.add(f"##[group]Metadata\n{meta}\n##[endgroup]", 5)
    log.add("Post job cleanup.", 3000)
    log.add(f"Logging out of {img.registry}...", 400)
    log.add("Cleaning up orphan processes", 600)
    return log.text()


def login_failure_log(start: datetime, repo: str, sha: str, registry: str) -> str:
    log = Log(start)
    gh_preamble(
        log,
        "build-and-push",
        [
            "actions/checkout@v4",
            "docker/login-action@v3",
            "docker/setup-buildx-action@v3",
            "docker/build-push-action@v5",
        ],
    )
    gh_checkout(log, repo, sha)
    log.add(
        f"##[group]Run docker/login-action@v3\nwith:\n  registry: {registry}\n"
        "  username: ***\n  password: ***\n  ecr: auto\n  logout: true\n##[endgroup]",
        80,
    )
    log.add(f"Logging into {registry}...", 30)
    log.add(
        f'##[error]Error response from daemon: Get "https://{registry}/v2/": unauthorized: '
        "Application not registered with AAD.",
        900,
    )
    log.add("Post job cleanup.", 400)
    log.add("Cleaning up orphan processes", 500)
    return log.text()


def classic_push_log(
    start: datetime, repo: str, sha: str, img: Image, tag: str, dockerfile: str
) -> str:
    """docker build (default builder) and a classic ``docker push`` to Artifact Registry."""
    log = Log(start)
    gh_preamble(
        log, "publish", ["actions/checkout@v4", "google-github-actions/auth@v2"]
    )
    gh_checkout(log, repo, sha)
    log.add(
        "##[group]Run google-github-actions/auth@v2\nwith:\n"
        "  workload_identity_provider: projects/412345678901/locations/global/workloadIdentityPools/github/providers/contoso\n"
        "  service_account: ml-publisher@contoso-prod.iam.gserviceaccount.com\n"
        "  create_credentials_file: true\n  export_environment_variables: true\n##[endgroup]",
        60,
    )
    log.add(
        'Created credentials file at "/home/runner/work/ml-scorer/ml-scorer/gha-creds-2f1c0e7b5a3d9e14.json"',
        400,
    )
    log.add(
        f"##[group]Run gcloud auth configure-docker {img.registry} --quiet\n"
        f"gcloud auth configure-docker {img.registry} --quiet\n"
        "shell: /usr/bin/bash -e {0}\n##[endgroup]",
        50,
    )
    log.add(
        "Adding credentials for: europe-west1-docker.pkg.dev\nDocker configuration file updated.",
        2100,
    )
    ref = f"{img.image}:{tag}"
    log.add(
        f"##[group]Run docker build -f {dockerfile} -t {ref} "
        f"--build-arg GIT_SHA={sha} .\ndocker build -f {dockerfile} -t {ref} --build-arg GIT_SHA={sha} .\n"
        "shell: /usr/bin/bash -e {0}\n##[endgroup]",
        40,
    )
    log.add('#0 building with "default" instance using docker driver\n', 300)
    vertex = buildkit_steps(
        log,
        dockerfile,
        "python:3.12-slim",
        f"sha256:{hex64('python:3.12-slim')}",
        PY_APP,
        img.pushed - timedelta(seconds=5.0),
    )
    v = f"#{vertex}"
    log.add(f"{v} exporting to image\n{v} exporting layers", 200)
    log.add(f"{v} exporting layers 1.9s done", 1900)
    log.add(f"{v} writing image {img.config_digest} done", 20)
    log.add(f"{v} naming to {ref} done\n{v} DONE 2.0s", 20)
    log.add(
        f"##[group]Run docker push {ref}\ndocker push {ref}\nshell: /usr/bin/bash -e {{0}}\n##[endgroup]",
        300,
    )
    log.add(f"The push refers to repository [{img.image}]", 300)
    ids = [hex64(f"{img.key}/layer/{i}")[:12] for i in range(len(img.layers))]
    for i in reversed(ids):
        log.add(f"{i}: Preparing", 3)
    for n, i in enumerate(ids):
        log.add(f"{i}: {'Layer already exists' if n < 3 else 'Pushed'}", 400)
    size = len(MANIFESTS[img.digest])
    log.until(img.pushed)
    log.add(f"{tag}: digest: {img.digest} size: {size}", 300)
    log.add("Post job cleanup.", 900)
    log.add("Cleaning up orphan processes", 500)
    return log.text()


def old_kaniko_log(
    start: datetime,
    repo: str,
    sha: str,
    destination: str,
    dockerfile: str,
    job: str,
    push_at: datetime,
    build_args: str = "",
    base: str = "python:3.12-slim",
    package: str = "tzdata",
) -> str:
    """A self-hosted runner job running a pinned old kaniko executor (prints no digest)."""
    log = Log(start)
    log.add("Current runner version: '2.317.0'", 0)
    log.add(
        "Runner name: 'gke-runner-7c9f6d5b8-x2q4l'\nRunner group name: 'gke'\n"
        "Machine name: 'gke-runner-7c9f6d5b8-x2q4l'",
        2,
    )
    log.add(
        "##[group]GITHUB_TOKEN Permissions\nContents: read\nMetadata: read\n##[endgroup]",
        1,
    )
    log.add(
        "Secret source: Actions\nPrepare workflow directory\nPrepare all required actions\n"
        "Getting action download info",
        3,
    )
    log.add(
        f"Download action repository 'actions/checkout@v4' (SHA:{ACTION_SHAS['actions/checkout@v4']})",
        180,
    )
    log.add(f"Complete job name: {job}", 30)
    gh_checkout(log, repo, sha)
    args = (
        f"--context dir:///workspace --dockerfile {dockerfile} --destination {destination}"
        f"{build_args} --reproducible --log-timestamp"
    )
    log.add(
        f"##[group]Run /kaniko/executor {args}\n/kaniko/executor {args}\n"
        "shell: /busybox/sh -e {0}\n##[endgroup]",
        60,
    )

    def k(msg: str, gap: float, pad: int = 42) -> None:
        log.wait(gap)
        stamp = log.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        log.add(f"INFO[{stamp}] {msg.ljust(pad)}", 0)

    k(f"Resolved base name {base} to {base}", 0.4)
    k(f"Retrieving image manifest {base}", 0.01)
    k(f"Retrieving image manifest {base}", 0.9)
    k("Built cross stage deps: map[]", 0.01)
    k(f"Retrieving image manifest {base}", 0.01)
    k("Unpacking rootfs as cmd RUN apt-get update requires it.", 0.6)
    k("Taking snapshot of full filesystem...", 9.2)
    k(
        f"RUN apt-get update && apt-get install -y --no-install-recommends {package}",
        0.3,
    )
    k("cmd: /bin/sh", 0.01)
    # The RUN step itself runs until shortly before the push.
    log.until(push_at - timedelta(seconds=1.25))
    k("Taking snapshot of full filesystem...", 0)
    log.until(push_at - timedelta(seconds=0.05))
    k(f"Pushing image to {destination}", 0.05)
    k("Pushed image to 1 destinations", 3.9)
    return log.text()


GH_RUNS: list[GhRun] = []


def build_github_runs() -> None:
    api_old, api_new = IMAGES["api-old"], IMAGES["api-new"]
    pr_head = SHA["payments-api/pr212"]
    GH_RUNS.extend(
        [
            GhRun(
                "contoso/payments-api",
                15640022302,
                93,
                2,
                "release",
                ".github/workflows/release.yml",
                80211345,
                "push",
                "main",
                SHA["payments-api/93"],
                "Release api: bump urllib3 and gunicorn",
                "jlee",
                "jlee",
                "rgarcia",
                t("2025-06-16T13:52:40Z"),
                t("2025-06-16T14:02:55Z"),
                t("2025-06-16T14:07:58Z"),
                "success",
                jobs=[
                    GhJob(
                        43877001101,
                        "build-and-push",
                        1,
                        t("2025-06-16T13:52:48Z"),
                        t("2025-06-16T13:53:20Z"),
                        "failure",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run docker/login-action@v3", "failure"),
                            ("Run docker/setup-buildx-action@v3", "skipped"),
                            ("Run docker/build-push-action@v5", "skipped"),
                            ("Post Run actions/checkout@v4", "success"),
                            ("Complete job", "success"),
                        ],
                        login_failure_log(
                            t("2025-06-16T13:52:49.120331Z"),
                            "contoso/payments-api",
                            SHA["payments-api/93"],
                            ACR,
                        ),
                    ),
                    GhJob(
                        43877455902,
                        "build-and-push",
                        2,
                        t("2025-06-16T14:03:02Z"),
                        t("2025-06-16T14:07:51Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run docker/login-action@v3", "success"),
                            ("Run docker/setup-buildx-action@v3", "success"),
                            ("Run docker/build-push-action@v5", "success"),
                            ("Post Run docker/login-action@v3", "success"),
                            ("Post Run actions/checkout@v4", "success"),
                            ("Complete job", "success"),
                        ],
                        build_push_action_log(
                            t("2025-06-16T14:03:03.508213Z"),
                            "contoso/payments-api",
                            SHA["payments-api/93"],
                            api_new,
                            "release",
                            "services/api/Dockerfile",
                            True,
                            bom=True,
                        ),
                    ),
                ],
            ),
            GhRun(
                "contoso/payments-api",
                15512098765,
                412,
                1,
                "ci",
                ".github/workflows/ci.yml",
                80211344,
                "pull_request",
                "feature/refund-webhook",
                pr_head,
                "Add refund webhook handler",
                "tnguyen",
                "tnguyen",
                "tnguyen",
                t("2025-06-08T13:40:11Z"),
                t("2025-06-08T13:40:14Z"),
                t("2025-06-08T13:44:52Z"),
                "success",
                jobs=[
                    GhJob(
                        43500111203,
                        "build",
                        1,
                        t("2025-06-08T13:40:20Z"),
                        t("2025-06-08T13:44:47Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run docker/setup-buildx-action@v3", "success"),
                            ("Run docker/build-push-action@v5", "success"),
                            ("Post Run actions/checkout@v4", "success"),
                            ("Complete job", "success"),
                        ],
                        build_push_action_log(
                            t("2025-06-08T13:40:21.331872Z"),
                            "contoso/payments-api",
                            pr_head,
                            api_old,
                            "pr-212",
                            "services/api/Dockerfile",
                            False,
                            bom=False,
                        ),
                    )
                ],
                pull_request={
                    "number": 212,
                    "head_ref": "feature/refund-webhook",
                    "head_sha": pr_head,
                },
            ),
            GhRun(
                "contoso/payments-api",
                15330011201,
                88,
                1,
                "release",
                ".github/workflows/release.yml",
                80211345,
                "push",
                "main",
                SHA["payments-api/88"],
                "Release api: idempotent refund retries",
                "akhan",
                "akhan",
                "akhan",
                t("2025-06-02T09:13:58Z"),
                t("2025-06-02T09:14:01Z"),
                t("2025-06-02T09:19:33Z"),
                "success",
                jobs=[
                    GhJob(
                        43011220011,
                        "build-and-push",
                        1,
                        t("2025-06-02T09:14:09Z"),
                        t("2025-06-02T09:19:28Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run docker/login-action@v3", "success"),
                            ("Run docker/setup-buildx-action@v3", "success"),
                            ("Run docker/build-push-action@v5", "success"),
                            ("Post Run docker/login-action@v3", "success"),
                            ("Post Run actions/checkout@v4", "success"),
                            ("Complete job", "success"),
                        ],
                        build_push_action_log(
                            t("2025-06-02T09:14:10.447102Z"),
                            "contoso/payments-api",
                            SHA["payments-api/88"],
                            api_old,
                            "release",
                            "services/api/Dockerfile",
                            True,
                            bom=True,
                        ),
                    )
                ],
            ),
            GhRun(
                "contoso/copilot-usage-advanced-dashboard",
                15062719843,
                17,
                1,
                "Deploy to Azure",
                ".github/workflows/azure-dev.yml",
                79812211,
                "workflow_dispatch",
                "main",
                SHA["cpuad/17"],
                "Updater: page through org metrics",
                "sofia-m",
                "sofia-m",
                "sofia-m",
                t("2025-05-17T14:33:47Z"),
                t("2025-05-17T14:33:51Z"),
                t("2025-05-17T14:41:02Z"),
                "success",
                jobs=[
                    GhJob(
                        42290011587,
                        "build",
                        1,
                        t("2025-05-17T14:33:58Z"),
                        t("2025-05-17T14:40:57Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Install azd", "success"),
                            ("Log in with Azure (Federated Credentials)", "success"),
                            ("Deploy application", "success"),
                            ("Complete job", "success"),
                        ],
                    )
                ],
            ),
            GhRun(
                "contoso/hub",
                13432118876,
                204,
                1,
                "docker",
                ".github/workflows/docker.yml",
                71230998,
                "push",
                "master",
                SHA["hub/204"],
                'Render <pre> blocks & fix "quotes" in previews',
                "lobrien",
                "lobrien",
                "lobrien",
                t("2025-02-20T11:00:09Z"),
                t("2025-02-20T11:00:12Z"),
                t("2025-02-20T11:04:40Z"),
                "success",
                jobs=[
                    GhJob(
                        37580012345,
                        "build-and-push (linux/amd64,linux/arm64)",
                        1,
                        t("2025-02-20T11:00:18Z"),
                        t("2025-02-20T11:04:33Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Set up QEMU", "success"),
                            ("Run docker/setup-buildx-action@v3", "success"),
                            ("Log in to Docker Hub", "success"),
                            ("Build and push", "success"),
                            ("Complete job", "success"),
                        ],
                    )
                ],
            ),
            GhRun(
                "contoso/kaniko-demo",
                12769001234,
                9,
                1,
                "kaniko",
                ".github/workflows/kaniko.yml",
                68812345,
                "push",
                "main",
                SHA["kaniko-demo/9"],
                "Serve /healthz from flask app",
                "mtanaka",
                "mtanaka",
                "mtanaka",
                t("2025-01-14T16:20:01Z"),
                t("2025-01-14T16:20:03Z"),
                t("2025-01-14T16:23:10Z"),
                "success",
                jobs=[
                    GhJob(
                        35620099871,
                        "kaniko",
                        1,
                        t("2025-01-14T16:20:09Z"),
                        t("2025-01-14T16:23:04Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Start kaniko pod", "success"),
                            ("Follow kaniko logs", "success"),
                            ("Complete job", "success"),
                        ],
                    )
                ],
            ),
            GhRun(
                "contoso/django-webapp",
                13876554321,
                57,
                1,
                "Deploy to ECR",
                ".github/workflows/ecr.yml",
                74401287,
                "push",
                "main",
                SHA["django/57"],
                "Pin psycopg and collectstatic at build",
                "pkowalski",
                "pkowalski",
                "pkowalski",
                t("2025-03-15T15:44:07Z"),
                t("2025-03-15T15:44:10Z"),
                t("2025-03-15T15:49:31Z"),
                "success",
                jobs=[
                    GhJob(
                        38790045612,
                        "push",
                        1,
                        t("2025-03-15T15:44:16Z"),
                        t("2025-03-15T15:49:25Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Configure AWS credentials", "success"),
                            ("Build and push", "success"),
                            ("List images", "success"),
                            ("Complete job", "success"),
                        ],
                    )
                ],
            ),
            GhRun(
                "contoso/release-tools",
                283912754,
                311,
                1,
                "image-builder",
                ".github/workflows/image-builder.yml",
                3312876,
                "push",
                "master",
                SHA["release-tools/311"],
                "image-builder: bump google/cloud-sdk to 258.0.0",
                "dvolkov",
                "dvolkov",
                "dvolkov",
                t("2019-10-21T18:02:08Z"),
                t("2019-10-21T18:02:11Z"),
                t("2019-10-21T18:09:45Z"),
                "success",
                jobs=[
                    GhJob(
                        289012345,
                        "build-image",
                        1,
                        t("2019-10-21T18:02:15Z"),
                        t("2019-10-21T18:09:40Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v1", "success"),
                            ("Submit to Cloud Build", "success"),
                            ("Complete job", "success"),
                        ],
                    )
                ],
            ),
            GhRun(
                "contoso/ml-scorer",
                15760011223,
                6,
                1,
                "base-image",
                ".github/workflows/base-image.yml",
                80012876,
                "schedule",
                "main",
                SHA["ml-scorer/base6"],
                "Copy base-image workflow from platform-images",
                "hbecker",
                "hbecker",
                "hbecker",
                t("2025-06-20T02:04:09Z"),
                t("2025-06-20T02:04:12Z"),
                t("2025-06-20T02:12:30Z"),
                "success",
                jobs=[
                    GhJob(
                        44102299001,
                        "base-python",
                        1,
                        t("2025-06-20T02:04:20Z"),
                        t("2025-06-20T02:12:24Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run /kaniko/executor", "success"),
                            ("Complete job", "success"),
                        ],
                        old_kaniko_log(
                            t("2025-06-20T02:04:21.552301Z"),
                            "contoso/ml-scorer",
                            SHA["ml-scorer/base6"],
                            f"{GAR_EUW1}/contoso-prod/shared/base-python:latest",
                            "base/python/Dockerfile",
                            "base-python",
                            t("2025-06-20T02:06:41.004118Z"),
                        ),
                        labels=["self-hosted", "gke"],
                        runner="gke-runner-7c9f6d5b8-x2q4l",
                    )
                ],
            ),
            GhRun(
                "contoso/ml-scorer",
                15712345678,
                34,
                1,
                "release",
                ".github/workflows/release.yml",
                79900456,
                "push",
                "main",
                SHA["ml-scorer/34"],
                "scorer: move image build to the kaniko runner",
                "hbecker",
                "hbecker",
                "hbecker",
                t("2025-06-18T10:19:50Z"),
                t("2025-06-18T10:19:52Z"),
                t("2025-06-18T10:23:20Z"),
                "success",
                jobs=[
                    GhJob(
                        44010022334,
                        "publish",
                        1,
                        t("2025-06-18T10:19:58Z"),
                        t("2025-06-18T10:23:14Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run /kaniko/executor", "success"),
                            ("Complete job", "success"),
                        ],
                        old_kaniko_log(
                            t("2025-06-18T10:19:59.180044Z"),
                            "contoso/ml-scorer",
                            SHA["ml-scorer/34"],
                            f"{GAR_EUW1}/contoso-prod/ml/scorer:0.9.2",
                            "docker/Dockerfile",
                            "publish",
                            t("2025-06-18T10:22:40.981302Z"),
                            f" --build-arg GIT_SHA={SHA['ml-scorer/34']}",
                        ),
                        labels=["self-hosted", "gke"],
                        runner="gke-runner-7c9f6d5b8-m8d2k",
                    )
                ],
            ),
            GhRun(
                "contoso/ml-scorer",
                15301234567,
                31,
                1,
                "release",
                ".github/workflows/release.yml",
                79900456,
                "push",
                "main",
                SHA["ml-scorer/31"],
                "scorer: calibrate thresholds for v0.9.1",
                "hbecker",
                "hbecker",
                "hbecker",
                t("2025-05-28T13:18:30Z"),
                t("2025-05-28T13:18:33Z"),
                t("2025-05-28T13:23:01Z"),
                "success",
                jobs=[
                    GhJob(
                        42930011223,
                        "publish",
                        1,
                        t("2025-05-28T13:18:40Z"),
                        t("2025-05-28T13:22:55Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run google-github-actions/auth@v2", "success"),
                            ("Run gcloud auth configure-docker", "success"),
                            ("Run docker build", "success"),
                            ("Run docker push", "success"),
                            ("Complete job", "success"),
                        ],
                        classic_push_log(
                            t("2025-05-28T13:18:41.004915Z"),
                            "contoso/ml-scorer",
                            SHA["ml-scorer/31"],
                            IMAGES["scorer-091"],
                            "0.9.1",
                            "docker/Dockerfile",
                        ),
                    )
                ],
            ),
            GhRun(
                "contoso/platform-images",
                15759988776,
                140,
                1,
                "nightly",
                ".github/workflows/nightly.yml",
                61234001,
                "schedule",
                "main",
                SHA["platform-images/140"],
                "python: add tzdata",
                "ebrown",
                "ebrown",
                "ebrown",
                t("2025-06-20T02:00:02Z"),
                t("2025-06-20T02:00:05Z"),
                t("2025-06-20T02:09:51Z"),
                "success",
                jobs=[
                    GhJob(
                        44102233445,
                        "base-python",
                        1,
                        t("2025-06-20T02:00:11Z"),
                        t("2025-06-20T02:09:44Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run /kaniko/executor", "success"),
                            ("Complete job", "success"),
                        ],
                        old_kaniko_log(
                            t("2025-06-20T02:00:12.331872Z"),
                            "contoso/platform-images",
                            SHA["platform-images/140"],
                            f"{GAR_EUW1}/contoso-prod/shared/base-python:latest",
                            "python/Dockerfile",
                            "base-python",
                            t("2025-06-20T02:06:30.902277Z"),
                        ),
                        labels=["self-hosted", "gke"],
                        runner="gke-runner-7c9f6d5b8-x2q4l",
                    ),
                    GhJob(
                        44102233446,
                        "base-node",
                        1,
                        t("2025-06-20T02:00:11Z"),
                        t("2025-06-20T02:03:20Z"),
                        "success",
                        [
                            ("Set up job", "success"),
                            ("Run actions/checkout@v4", "success"),
                            ("Run /kaniko/executor", "success"),
                            ("Complete job", "success"),
                        ],
                        old_kaniko_log(
                            t("2025-06-20T02:00:12.873305Z"),
                            "contoso/platform-images",
                            SHA["platform-images/140"],
                            f"{GAR_EUW1}/contoso-prod/shared/base-node:latest",
                            "node/Dockerfile",
                            "base-node",
                            t("2025-06-20T02:03:10.955021Z"),
                            base="node:20-bookworm-slim",
                            package="tini",
                        ),
                        labels=["self-hosted", "gke"],
                        runner="gke-runner-7c9f6d5b8-q7t9n",
                    ),
                ],
            ),
        ]
    )


# --------------------------------------------------------------------------- Azure DevOps

ADO_PROJECTS = {
    "Payments": guid("ado/project/Payments"),
    "Retail": guid("ado/project/Retail"),
}
TASKS = {
    "Docker": ("e28912f1-0114-4464-802a-a3a35437fd16", "Docker", "2.247.2"),
    "Bash": ("6c731c3c-3c68-459a-a5c9-bde6e6595b5b", "Bash", "3.247.0"),
    "Checkout": ("6d15af64-176c-496d-b583-fd2ae21d4df4", "Checkout", "1.0.0"),
    "DotNetCoreCLI": (
        "5541a522-603c-47ad-91fc-a4b1d163081b",
        "DotNetCoreCLI",
        "2.247.1",
    ),
}
TASK_HEADERS = {
    "Docker": (
        "Build or push Docker images, login or logout, start or stop containers, or run a Docker command",
        "https://aka.ms/azpipes-docker-tsg",
    ),
    "Bash": (
        "Run a Bash script on macOS, Linux, or Windows",
        "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/bash",
    ),
    "DotNetCoreCLI": (
        "Build, test, package, or publish a dotnet application, or run a custom dotnet command",
        "https://docs.microsoft.com/azure/devops/pipelines/tasks/build/dotnet-core-cli",
    ),
}


@dataclass
class AdoTask:
    name: str
    task: str | None  # key of TASKS, or None for the agent's own steps
    log_id: int
    start: datetime
    finish: datetime
    body: list[str] | None  # lines after the task header; None = real case log
    result: str = "succeeded"


@dataclass
class AdoBuild:
    project: str
    id: int
    number: str
    definition: str
    definition_id: int
    repo: str
    reason: str
    branch: str
    sha: str
    requested_for: str
    queued: datetime
    started: datetime
    finished: datetime
    result: str = "succeeded"
    message: str = ""
    pr: dict[str, str] | None = None
    job_log_id: int | None = None
    tasks: list[AdoTask] = field(default_factory=list)
    pool: str = "Azure Pipelines"
    agent: str = "Hosted Agent"

    def __post_init__(self) -> None:
        # Build times carry all seven digits; the round values above are for reading.
        self.queued, self.started, self.finished = (
            dt + timedelta(microseconds=num(f"{self.id}/{n}", 1, 999))
            for n, dt in enumerate((self.queued, self.started, self.finished))
        )

    @property
    def web_url(self) -> str:
        return (
            f"https://dev.azure.com/contoso/{ADO_PROJECTS[self.project]}"
            f"/_build/results?buildId={self.id}"
        )


def task_log(task: AdoTask) -> str:
    log = Log(task.start)
    log.add(f"##[section]Starting: {task.name}", 0)
    if task.task in TASK_HEADERS:
        _, name, version = TASKS[task.task]
        description, help_url = TASK_HEADERS[task.task]
        log.add("=" * 78, 1)
        log.add(
            f"Task         : {name}\nDescription  : {description}\nVersion      : {version}\n"
            f"Author       : Microsoft Corporation\nHelp         : {help_url}",
            0,
        )
        log.add("=" * 78, 0)
    for line in task.body or []:
        if line.startswith("@wait "):
            log.wait(float(line.split()[1]))
            continue
        if line.startswith("@until "):
            log.until(datetime.fromisoformat(line.split()[1]))
            continue
        log.add(line, 23)
    log.now = max(log.now, task.finish - timedelta(milliseconds=180))
    log.add(f"##[section]Finishing: {task.name}", 60)
    return log.text()


def agent_steps(
    build: AdoBuild, first_log: int, checkout_start: datetime
) -> list[AdoTask]:
    """Initialize job and checkout: present in every build's timeline."""
    init = AdoTask(
        "Initialize job",
        None,
        first_log,
        build.started + timedelta(seconds=2),
        build.started + timedelta(seconds=5),
        [
            f"Agent name: '{build.agent}'",
            "Agent machine name: 'fv-az1283-402'"
            if build.pool == "Azure Pipelines"
            else "Agent machine name: 'contoso-build-01'",
            "Current agent version: '3.241.0'",
            "##[group]Operating System",
            "Ubuntu",
            "22.04.4",
            "LTS",
            "##[endgroup]",
            "Current image version: '20250526.1.0'",
            "Agent running as: 'vsts'",
            "Prepare build directory.",
            "Set build variables.",
            "Download all required tasks.",
            "Checking job knob settings.",
            "Finished checking job knob settings.",
            "Start tracking orphan processes.",
        ],
    )
    checkout = AdoTask(
        f"Checkout {build.repo}@{build.branch.rsplit('/', 1)[-1]} to s",
        "Checkout",
        first_log + 1,
        checkout_start,
        checkout_start + timedelta(seconds=4),
        [
            "Syncing repository: " + build.repo + " (Git)",
            "##[command]git version",
            "git version 2.49.0",
            f'##[command]git -c http.extraheader="AUTHORIZATION: bearer ***" fetch --force --tags --prune --prune-tags --progress --no-recurse-submodules origin --depth=1 +{build.sha}',
            f"##[command]git checkout --progress --force {build.sha}",
            f"HEAD is now at {build.sha[:7]} {build.message}",
        ],
    )
    return [init, checkout]


def docker_build_push_body(
    build: AdoBuild, img: Image, dockerfile: str, tags: list[str], labels: bool
) -> list[str]:
    """What Docker@2 prints for buildAndPush (labels) or a script build + Docker@2 push."""
    src = "/home/vsts/work/1/s"
    context = f"{src}/{dockerfile.rsplit('/', 1)[0]}"
    refs = [f"{img.image}:{tag}" for tag in tags]
    label_args = (
        "".join(
            f" --label {k}={v}"
            for k, v in ado_labels(
                build.project,
                build.repo,
                build.id,
                build.number,
                build.definition,
                build.sha,
                build.branch.rsplit("/", 1)[-1],
            ).items()
        )
        if labels
        else ""
    )
    tag_args = "".join(f" -t {ref}" for ref in refs)
    lines = [
        f"##[command]/usr/bin/docker build -f {src}/{dockerfile}{label_args}{tag_args} {context}",
        '#0 building with "default" instance using docker driver',
        "",
    ]
    lines += [
        "#1 [internal] load build definition from Dockerfile",
        "#1 transferring dockerfile: 734B done",
        "#1 DONE 0.0s",
        "",
        "#2 [internal] load metadata for mcr.microsoft.com/dotnet/aspnet:8.0",
        "#2 DONE 0.4s",
        "",
        f"#3 [1/3] FROM mcr.microsoft.com/dotnet/aspnet:8.0@sha256:{hex64('aspnet:8.0')}",
        f"#3 resolve mcr.microsoft.com/dotnet/aspnet:8.0@sha256:{hex64('aspnet:8.0')} 0.0s done",
        "#3 DONE 5.1s",
        "",
        "@wait 38",
        "#4 [2/3] WORKDIR /app",
        "#4 DONE 0.1s",
        "",
        "#5 [3/3] COPY /app/publish .",
        "#5 DONE 0.3s",
        "",
        "#6 exporting to image",
        "#6 exporting layers 0.2s done",
        f"#6 writing image {img.config_digest} done",
    ]
    lines += [f"#6 naming to {ref} done" for ref in refs]
    lines += ["#6 DONE 0.3s", "@wait 2"]
    ids = [hex64(f"{img.key}/layer/{i}")[:12] for i in range(len(img.layers))]
    size = len(MANIFESTS[img.digest])
    for n, (ref, tag) in enumerate(zip(refs, tags, strict=True)):
        lines.append(f"##[command]/usr/bin/docker push {ref}")
        lines.append(f"The push refers to repository [{img.image}]")
        lines += [f"{i}: Preparing" for i in reversed(ids)]
        lines += ["@wait 3"] if n == 0 else []
        lines += [
            f"{i}: {'Layer already exists' if n or k < 3 else 'Pushed'}"
            for k, i in enumerate(ids)
        ]
        if n == 0:
            lines.append(f"@until {img.pushed.isoformat()}")
        lines.append(f"{tag}: digest: {img.digest} size: {size}")
    return lines


def docker_login_body(registry: str) -> list[str]:
    return [
        f"##[command]/usr/bin/docker login -u *** --password-stdin {registry}",
        "Login Succeeded",
    ]


ADO_BUILDS: list[AdoBuild] = []


def build_ado() -> None:
    checkout, checkout_pr, worker = (
        IMAGES["checkout"],
        IMAGES["checkout-pr"],
        IMAGES["worker"],
    )

    b2841 = AdoBuild(
        "Payments",
        2841,
        "3.59.0-Fea44846-Development",
        "contoso-api-ci",
        12,
        "contoso-api",
        "individualCI",
        "refs/heads/development",
        SHA["ado/2841"],
        "mrossi",
        t("2024-08-08T05:12:40.2Z"),
        t("2024-08-08T05:12:48.913Z"),
        t("2024-08-08T05:22:05.301Z"),
        message="Fea44846 retry policy for the ledger client",
        job_log_id=10,
        pool="contoso-linux",
        agent="agent1",
    )
    b2841.tasks = agent_steps(b2841, 2, t("2024-08-08T05:12:56.1Z")) + [
        AdoTask(
            "Build contoso-api image",
            "Bash",
            4,
            t("2024-08-08T05:13:02.44Z"),
            t("2024-08-08T05:21:24.9Z"),
            [
                "Generating script.",
                "Script contents:",
                "docker build -f ***Api/Dockerfile.***Api -t ***.azurecr.io/contoso-api:3.59.0-Fea44846-Development .",
                "========================== Starting Command Output ===========================",
                "##[command]/usr/bin/bash /home/agent/azure/agent1/_work/_temp/5b0f5d3e-2a6c-4f1b-9d7e-3c4a1f2e0b9d.sh",
                '#0 building with "default" instance using docker driver',
                "",
                "#1 [internal] load build definition from Dockerfile.***Api",
                "#1 transferring dockerfile: 1.02kB done",
                "#1 DONE 0.0s",
                "",
                "#2 [internal] load metadata for mcr.microsoft.com/dotnet/sdk:8.0",
                "#2 DONE 0.6s",
                "",
                f"#3 [build 1/4] FROM mcr.microsoft.com/dotnet/sdk:8.0@sha256:{hex64('sdk:8.0')}",
                "#3 DONE 31.7s",
                "",
                "@wait 420",
                "#9 [build 4/4] RUN dotnet publish -c Release -o /app/publish",
                "#9 DONE 58.2s",
                "",
                "#12 exporting to image",
                "#12 exporting layers 1.3s done",
                f"#12 writing image {IMAGES['contoso-api'].config_digest} done",
                "#12 naming to ***.azurecr.io/contoso-api:3.59.0-Fea44846-Development done",
                "#12 DONE 1.3s",
            ],
        ),
        AdoTask(
            "Login to ACR",
            "Docker",
            5,
            t("2024-08-08T05:21:25.2Z"),
            t("2024-08-08T05:21:26.7Z"),
            docker_login_body("***.azurecr.io"),
        ),
        AdoTask(
            "Push contoso-api image",
            "Docker",
            6,
            t("2024-08-08T05:21:26.9Z"),
            t("2024-08-08T05:21:40.1Z"),
            None,
        ),
        AdoTask(
            "Post-job: Checkout contoso-api@development to s",
            None,
            7,
            t("2024-08-08T05:21:40.3Z"),
            t("2024-08-08T05:21:41.1Z"),
            [
                "Cleaning any cached credential from repository: contoso-api (Git)",
                "##[command]git config --get-all http.extraheader",
            ],
        ),
        AdoTask(
            "Finalize Job",
            None,
            8,
            t("2024-08-08T05:21:41.3Z"),
            t("2024-08-08T05:21:42.0Z"),
            ["Cleaning up task key", "Start cleaning up orphan processes."],
        ),
    ]
    b2838 = AdoBuild(
        "Payments",
        2838,
        "3.59.0-Fea44831-Development",
        "contoso-api-ci",
        12,
        "contoso-api",
        "individualCI",
        "refs/heads/development",
        SHA["ado/2838"],
        "mrossi",
        t("2024-08-07T16:02:11.507Z"),
        t("2024-08-07T16:02:19.72Z"),
        t("2024-08-07T16:06:50.118Z"),
        result="failed",
        message="Fea44831 ledger client timeouts",
        job_log_id=7,
        pool="contoso-linux",
        agent="agent1",
    )
    b2838.tasks = agent_steps(b2838, 2, t("2024-08-07T16:02:25.3Z")) + [
        AdoTask(
            "Run unit tests",
            "DotNetCoreCLI",
            4,
            t("2024-08-07T16:02:31.0Z"),
            t("2024-08-07T16:06:47.6Z"),
            [
                "##[command]/usr/bin/dotnet test /home/agent/azure/agent1/_work/1/***Api.Tests/***Api.Tests.csproj --logger trx",
                "@wait 230",
                "  Failed ***Api.Tests.LedgerClientTests.Retries_on_timeout [2 s]",
                "Failed!  - Failed:     1, Passed:   412, Skipped:     0, Total:   413, Duration: 41 s",
                "##[error]Error: The process '/usr/bin/dotnet' failed with exit code 1",
            ],
            result="failed",
        ),
        AdoTask(
            "Finalize Job",
            None,
            5,
            t("2024-08-07T16:06:48.0Z"),
            t("2024-08-07T16:06:49.5Z"),
            ["Cleaning up task key", "Start cleaning up orphan processes."],
        ),
    ]

    # Older than the export's 30-day horizon: only the Build record is exported.
    b5120 = AdoBuild(
        "Retail",
        5120,
        "20250203.2",
        "storefront-ci",
        31,
        "storefront",
        "individualCI",
        "refs/heads/main",
        SHA["ado/5120"],
        "praman",
        t("2025-02-03T10:38:02.117Z"),
        t("2025-02-03T10:38:09.5Z"),
        t("2025-02-03T10:45:31.84Z"),
        message="Storefront: lazy-load product images",
    )

    b5131 = AdoBuild(
        "Retail",
        5131,
        "20250610.1",
        "checkout-ci",
        34,
        "checkout",
        "individualCI",
        "refs/heads/main",
        SHA["ado/5131"],
        "lortega",
        t("2025-06-10T08:10:55.61Z"),
        t("2025-06-10T08:11:04.2Z"),
        t("2025-06-10T08:14:22.93Z"),
        message="Checkout: retry card authorisation once",
        job_log_id=8,
    )
    b5131.tasks = agent_steps(b5131, 2, t("2025-06-10T08:11:12.4Z")) + [
        AdoTask(
            "Login to ECR",
            "Docker",
            4,
            t("2025-06-10T08:11:20.1Z"),
            t("2025-06-10T08:11:22.0Z"),
            docker_login_body(ECR_EUW1),
        ),
        AdoTask(
            "Build and push checkout",
            "Docker",
            5,
            t("2025-06-10T08:12:31.5Z"),
            t("2025-06-10T08:13:47.2Z"),
            docker_build_push_body(
                b5131,
                checkout,
                "src/Checkout/Dockerfile",
                ["20250610.1", "latest"],
                labels=True,
            ),
        ),
        AdoTask(
            "Post-job: Checkout checkout@main to s",
            None,
            6,
            t("2025-06-10T08:13:47.5Z"),
            t("2025-06-10T08:13:48.1Z"),
            ["Cleaning any cached credential from repository: checkout (Git)"],
        ),
        AdoTask(
            "Finalize Job",
            None,
            7,
            t("2025-06-10T08:13:48.3Z"),
            t("2025-06-10T08:13:49.0Z"),
            ["Cleaning up task key", "Start cleaning up orphan processes."],
        ),
    ]

    b5137 = AdoBuild(
        "Retail",
        5137,
        "20250611.4",
        "checkout-ci",
        34,
        "checkout",
        "pullRequest",
        "refs/pull/87/merge",
        SHA["ado/5137/merge"],
        "asouza",
        t("2025-06-11T15:28:31.02Z"),
        t("2025-06-11T15:28:40.77Z"),
        t("2025-06-11T15:33:15.4Z"),
        message=f"Merge {SHA['ado/5137/head'][:7]} into 3e1f0c2",
        pr={
            "number": "87",
            "sourceBranch": "refs/heads/feature/apple-pay",
            "sourceSha": SHA["ado/5137/head"],
            "targetBranch": "refs/heads/main",
        },
        job_log_id=8,
    )
    b5137.tasks = agent_steps(b5137, 2, t("2025-06-11T15:28:49.0Z")) + [
        AdoTask(
            "Login to ECR",
            "Docker",
            4,
            t("2025-06-11T15:28:57.3Z"),
            t("2025-06-11T15:28:59.1Z"),
            docker_login_body(ECR_EUW1),
        ),
        AdoTask(
            "Build and push checkout",
            "Docker",
            5,
            t("2025-06-11T15:30:58.6Z"),
            t("2025-06-11T15:32:12.0Z"),
            docker_build_push_body(
                b5137, checkout_pr, "src/Checkout/Dockerfile", ["pr-87"], labels=True
            ),
        ),
        AdoTask(
            "Post-job: Checkout checkout@merge to s",
            None,
            6,
            t("2025-06-11T15:32:12.3Z"),
            t("2025-06-11T15:32:13.0Z"),
            ["Cleaning any cached credential from repository: checkout (Git)"],
        ),
        AdoTask(
            "Finalize Job",
            None,
            7,
            t("2025-06-11T15:32:13.2Z"),
            t("2025-06-11T15:32:14.0Z"),
            ["Cleaning up task key", "Start cleaning up orphan processes."],
        ),
    ]

    b5140 = AdoBuild(
        "Retail",
        5140,
        "20250612.3",
        "worker-ci",
        36,
        "worker",
        "manual",
        "refs/heads/main",
        SHA["ado/5140"],
        "dwhitfield",
        t("2025-06-12T11:01:20.33Z"),
        t("2025-06-12T11:01:26.81Z"),
        t("2025-06-12T11:06:40.5Z"),
        message="Worker: drain queue before shutdown",
        job_log_id=9,
    )
    build_lines = docker_build_push_body(
        b5140, worker, "src/Worker/Dockerfile", ["20250612.3"], labels=False
    )
    split = next(i for i, line in enumerate(build_lines) if "docker push" in line)
    script = [
        "Generating script.",
        "Script contents:",
        f"docker build -f src/Worker/Dockerfile -t {worker.image}:{b5140.number} src/Worker",
        "========================== Starting Command Output ===========================",
        "##[command]/usr/bin/bash /home/vsts/work/_temp/a3c2e1f0-5d4b-4c3a-9e8f-7a6b5c4d3e2f.sh",
    ]
    b5140.tasks = agent_steps(b5140, 2, t("2025-06-12T11:01:33.0Z")) + [
        AdoTask(
            "Build worker image",
            "Bash",
            4,
            t("2025-06-12T11:04:51.2Z"),
            t("2025-06-12T11:05:40.6Z"),
            script + build_lines[1:split],
        ),
        AdoTask(
            "Login to ECR",
            "Docker",
            5,
            t("2025-06-12T11:05:41.0Z"),
            t("2025-06-12T11:05:42.9Z"),
            docker_login_body(ECR_EUW1),
        ),
        AdoTask(
            "Push worker image",
            "Docker",
            6,
            t("2025-06-12T11:05:43.2Z"),
            t("2025-06-12T11:05:53.1Z"),
            build_lines[split:],
        ),
        AdoTask(
            "Post-job: Checkout worker@main to s",
            None,
            7,
            t("2025-06-12T11:05:53.4Z"),
            t("2025-06-12T11:05:54.0Z"),
            ["Cleaning any cached credential from repository: worker (Git)"],
        ),
        AdoTask(
            "Finalize Job",
            None,
            8,
            t("2025-06-12T11:05:54.2Z"),
            t("2025-06-12T11:05:55.0Z"),
            ["Cleaning up task key", "Start cleaning up orphan processes."],
        ),
    ]
    ADO_BUILDS.extend([b2841, b2838, b5140, b5137, b5131, b5120])


# --------------------------------------------------------------------------- writers: GitHub


def gh_user(login: str) -> dict[str, Any]:
    uid = PEOPLE[login][2]
    return {
        "login": login,
        "id": uid,
        "node_id": "MDQ6VXNlcj"
        + base64.b64encode(str(uid).encode()).decode().rstrip("="),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def gh_repo(full: str) -> dict[str, Any]:
    owner, name = full.split("/")
    return {
        "id": GH_REPOS[full],
        "node_id": "R_kgDO"
        + base64.b64encode(str(GH_REPOS[full]).encode()).decode()[:6],
        "name": name,
        "full_name": full,
        "private": True,
        "owner": {
            "login": owner,
            "id": 9919,
            "type": "Organization",
            "site_admin": False,
            "url": f"https://api.github.com/users/{owner}",
            "html_url": f"https://github.com/{owner}",
        },
        "html_url": f"https://github.com/{full}",
        "description": None,
        "fork": False,
        "url": f"https://api.github.com/repos/{full}",
    }


def gh_run_json(run: GhRun) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{run.repo}"
    author_name, author_email, _ = PEOPLE[run.author]
    prs = []
    if run.pull_request:
        pr = run.pull_request
        prs.append(
            {
                "url": f"{api}/pulls/{pr['number']}",
                "id": 2_400_000_000 + pr["number"],
                "number": pr["number"],
                "head": {
                    "ref": pr["head_ref"],
                    "sha": pr["head_sha"],
                    "repo": {
                        "id": GH_REPOS[run.repo],
                        "url": api,
                        "name": run.repo.split("/")[1],
                    },
                },
                "base": {
                    "ref": "main",
                    "sha": commit(run.repo + "/main-base"),
                    "repo": {
                        "id": GH_REPOS[run.repo],
                        "url": api,
                        "name": run.repo.split("/")[1],
                    },
                },
            }
        )
    return {
        "id": run.id,
        "name": run.workflow,
        "node_id": "WFR_kwLO" + base64.b64encode(str(run.id).encode()).decode()[:10],
        "head_branch": run.branch,
        "head_sha": run.sha,
        "path": run.path,
        "display_title": run.message,
        "run_number": run.number,
        "event": run.event,
        "status": "completed",
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.id // 3 + 7,
        "check_suite_node_id": "CS_kwDO"
        + base64.b64encode(str(run.id // 3).encode()).decode()[:12],
        "url": f"{api}/actions/runs/{run.id}",
        "html_url": run.html_url,
        "pull_requests": prs,
        "created_at": gh_time(run.created),
        "updated_at": gh_time(run.updated),
        "actor": gh_user(run.actor),
        "run_attempt": run.attempt,
        "referenced_workflows": [],
        "run_started_at": gh_time(run.started),
        "triggering_actor": gh_user(run.triggering_actor),
        "jobs_url": f"{api}/actions/runs/{run.id}/jobs",
        "logs_url": f"{api}/actions/runs/{run.id}/logs",
        "check_suite_url": f"{api}/check-suites/{run.id // 3 + 7}",
        "artifacts_url": f"{api}/actions/runs/{run.id}/artifacts",
        "cancel_url": f"{api}/actions/runs/{run.id}/cancel",
        "rerun_url": f"{api}/actions/runs/{run.id}/rerun",
        "previous_attempt_url": (
            f"{api}/actions/runs/{run.id}/attempts/{run.attempt - 1}"
            if run.attempt > 1
            else None
        ),
        "workflow_url": f"{api}/actions/workflows/{run.workflow_id}",
        "head_commit": {
            "id": run.sha,
            "tree_id": sha1(run.sha + "/tree"),
            "message": run.message,
            "timestamp": gh_time(
                run.created - timedelta(seconds=num(run.sha, 20, 900))
            ),
            "author": {"name": author_name, "email": author_email},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": gh_repo(run.repo),
        "head_repository": gh_repo(run.repo),
    }


def gh_job_json(run: GhRun, job: GhJob) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{run.repo}"
    steps = []
    at = job.started
    span = (job.completed - job.started) / max(len(job.steps), 1)
    for number, (name, conclusion) in enumerate(job.steps, start=1):
        end = at + span
        skipped = conclusion == "skipped"
        steps.append(
            {
                "name": name,
                "status": "completed",
                "conclusion": conclusion,
                "number": number,
                "started_at": gh_time(at if not skipped else end),
                "completed_at": gh_time(end),
            }
        )
        at = end
    return {
        "id": job.id,
        "run_id": run.id,
        "workflow_name": run.workflow,
        "head_branch": run.branch,
        "run_url": f"{api}/actions/runs/{run.id}",
        "run_attempt": job.attempt,
        "node_id": "CR_kwDO" + base64.b64encode(str(job.id).encode()).decode()[:14],
        "head_sha": run.sha,
        "url": f"{api}/actions/jobs/{job.id}",
        "html_url": f"https://github.com/{run.repo}/actions/runs/{run.id}/job/{job.id}",
        "status": "completed",
        "conclusion": job.conclusion,
        "created_at": gh_time(job.started - timedelta(seconds=3)),
        "started_at": gh_time(job.started),
        "completed_at": gh_time(job.completed),
        "name": job.name,
        "steps": steps,
        "check_run_url": f"{api}/check-runs/{job.id}",
        "labels": job.labels,
        "runner_id": num(job.runner, 2, 90),
        "runner_name": job.runner,
        "runner_group_id": 2 if "self-hosted" not in job.labels else 4,
        "runner_group_name": "GitHub Actions"
        if "self-hosted" not in job.labels
        else "gke",
    }


def write_github(es: Estate) -> None:
    case_jobs = {
        int(Path(p).stem): case
        for case, p in CASE_LOGS.items()
        if p.startswith("github/")
    }
    for repo in GH_REPOS:
        runs = sorted(
            (r for r in GH_RUNS if r.repo == repo),
            key=lambda r: r.created,
            reverse=True,
        )
        base = f"github/{repo}"
        # gh api --paginate --slurp: an array of pages.
        es.json(
            f"{base}/runs.json",
            [
                {
                    "total_count": len(runs),
                    "workflow_runs": [gh_run_json(r) for r in runs],
                }
            ],
        )
        for run in runs:
            es.json(
                f"{base}/jobs/{run.id}.json",
                {
                    "total_count": len(run.jobs),
                    "jobs": [gh_job_json(run, j) for j in run.jobs],
                },
            )
            for job in run.jobs:
                if job.log is not None:
                    es.text(f"{base}/logs/{job.id}.txt", job.log)
                elif job.id not in case_jobs:
                    raise SystemExit(f"job {job.id} has neither a log nor a case file")


# --------------------------------------------------------------------------- writers: Azure DevOps


def ado_identity(key: str) -> dict[str, Any]:
    name, email, _ = PEOPLE[key]
    ident = guid(f"ado/identity/{key}")
    return {
        "_links": {
            "avatar": {
                "href": f"https://dev.azure.com/contoso/_apis/GraphProfile/MemberAvatars/aad.{base64.b64encode(ident.encode()).decode()[:32]}"
            }
        },
        "descriptor": "aad." + base64.b64encode(ident.encode()).decode()[:32],
        "displayName": name,
        "id": ident,
        "imageUrl": f"https://dev.azure.com/contoso/_apis/GraphProfile/MemberAvatars/aad.{base64.b64encode(ident.encode()).decode()[:32]}",
        "uniqueName": email,
        "url": f"https://spsprodweu5.vssps.visualstudio.com/A{guid('ado/account')}/_apis/Identities/{ident}",
    }


def ado_service_identity(project: str) -> dict[str, Any]:
    ident = guid(f"ado/build-service/{project}")
    return {
        "_links": {
            "avatar": {
                "href": f"https://dev.azure.com/contoso/_apis/GraphProfile/MemberAvatars/s2s.{ident[:8]}"
            }
        },
        "descriptor": "s2s." + base64.b64encode(ident.encode()).decode()[:32],
        "displayName": "Microsoft.VisualStudio.Services.TFS",
        "id": "00000002-0000-8888-8000-000000000000",
        "imageUrl": f"https://dev.azure.com/contoso/_apis/GraphProfile/MemberAvatars/s2s.{ident[:8]}",
        "uniqueName": "00000002-0000-8888-8000-000000000000@2c895908-04e0-4952-89fd-54b0046d6288",
        "url": f"https://spsprodweu5.vssps.visualstudio.com/A{guid('ado/account')}/_apis/Identities/00000002-0000-8888-8000-000000000000",
    }


def ado_build_json(b: AdoBuild) -> dict[str, Any]:
    pid = ADO_PROJECTS[b.project]
    base = f"https://dev.azure.com/contoso/{pid}"
    repo_id = guid(f"ado/repo/{b.project}/{b.repo}")
    plan = guid(f"ado/plan/{b.id}")
    if b.pr:
        trigger = {
            "pr.number": b.pr["number"],
            "pr.isFork": "False",
            "pr.triggerRepository": repo_id,
            "pr.triggerRepository.Type": "TfsGit",
            "pr.sourceBranch": b.pr["sourceBranch"],
            "pr.sourceSha": b.pr["sourceSha"],
            "pr.targetBranch": b.pr["targetBranch"],
        }
    elif b.reason == "individualCI":
        trigger = {
            "ci.sourceBranch": b.branch,
            "ci.sourceSha": b.sha,
            "ci.message": b.message,
            "ci.triggerRepository": repo_id,
        }
    else:
        trigger = {}
    requested_by = (
        ado_identity(b.requested_for)
        if b.reason in ("manual", "pullRequest")
        else ado_service_identity(b.project)
    )
    return {
        "_links": {
            "self": {"href": f"{base}/_apis/build/Builds/{b.id}"},
            "web": {"href": b.web_url},
            "sourceVersionDisplayUri": {
                "href": f"{base}/_apis/build/builds/{b.id}/sources"
            },
            "timeline": {"href": f"{base}/_apis/build/builds/{b.id}/Timeline"},
            "badge": {"href": f"{base}/_apis/build/status/{b.definition_id}"},
        },
        "appendCommitMessageToRunName": True,
        "buildNumber": b.number,
        "buildNumberRevision": int(b.number.rsplit(".", 1)[-1])
        if b.number[:2] == "20"
        else None,
        "definition": {
            "drafts": [],
            "id": b.definition_id,
            "name": b.definition,
            "path": "\\",
            "project": {
                "id": pid,
                "lastUpdateTime": "2024-01-09T11:20:37.393Z",
                "name": b.project,
                "revision": 214,
                "state": "wellFormed",
                "url": f"https://dev.azure.com/contoso/_apis/projects/{pid}",
                "visibility": "private",
            },
            "queueStatus": "enabled",
            "revision": num(b.definition, 3, 40),
            "type": "build",
            "uri": f"vstfs:///Build/Definition/{b.definition_id}",
            "url": f"{base}/_apis/build/Definitions/{b.definition_id}?revision={num(b.definition, 3, 40)}",
        },
        "finishTime": net_time(b.finished),
        "id": b.id,
        "keepForever": False,
        "lastChangedBy": ado_service_identity(b.project),
        "lastChangedDate": net_time(b.finished + timedelta(milliseconds=870)),
        "logs": {
            "id": 0,
            "type": "Container",
            "url": f"{base}/_apis/build/builds/{b.id}/logs",
        },
        "orchestrationPlan": {"planId": plan},
        "parameters": '{"system.debug":"true"}' if b.id == 2841 else None,
        "plans": [{"planId": plan}],
        "priority": "normal",
        "project": {
            "id": pid,
            "lastUpdateTime": "2024-01-09T11:20:37.393Z",
            "name": b.project,
            "revision": 214,
            "state": "wellFormed",
            "url": f"https://dev.azure.com/contoso/_apis/projects/{pid}",
            "visibility": "private",
        },
        "properties": {},
        "queue": {
            "id": num(b.pool, 10, 99),
            "name": b.pool,
            "pool": {
                "id": num(b.pool, 1, 30),
                "isHosted": b.pool == "Azure Pipelines",
                "name": b.pool,
            },
        },
        "queueTime": net_time(b.queued),
        "reason": b.reason,
        "repository": {
            "checkoutSubmodules": False,
            "clean": None,
            "id": repo_id,
            "name": b.repo,
            "type": "TfsGit",
            "url": f"https://dev.azure.com/contoso/{b.project}/_git/{b.repo}",
        },
        "requestedBy": requested_by,
        "requestedFor": ado_identity(b.requested_for),
        "result": b.result,
        "retainedByRelease": False,
        "sourceBranch": b.branch,
        "sourceVersion": b.sha,
        "startTime": net_time(b.started),
        "status": "completed",
        "tags": [],
        "templateParameters": {},
        "triggerInfo": trigger,
        "triggeredByBuild": None,
        "uri": f"vstfs:///Build/Build/{b.id}",
        "url": f"{base}/_apis/build/Builds/{b.id}",
        "validationResults": [],
    }


def ado_record(
    b: AdoBuild,
    rid: str,
    parent: str | None,
    kind: str,
    name: str,
    order: int,
    start: datetime,
    finish: datetime,
    result: str,
    log_id: int | None,
    task: str | None,
    identifier: str | None,
) -> dict[str, Any]:
    base = f"https://dev.azure.com/contoso/{ADO_PROJECTS[b.project]}"
    rec: dict[str, Any] = {
        "attempt": 1,
        "changeId": num(rid, 2, 60),
        "currentOperation": None,
        "details": None,
        "errorCount": 1 if result == "failed" else 0,
        "finishTime": net_time(finish),
        "id": rid,
        "identifier": identifier,
        "issues": [
            {
                "category": "General",
                "data": {"logFileLineNumber": "9", "type": "error"},
                "message": "Error: The process '/usr/bin/dotnet' failed with exit code 1",
                "type": "error",
            }
        ]
        if result == "failed" and kind == "Task"
        else [],
        "lastModified": "0001-01-01T00:00:00",
        "log": (
            {
                "id": log_id,
                "type": "Container",
                "url": f"{base}/_apis/build/builds/{b.id}/logs/{log_id}",
            }
            if log_id
            else None
        ),
        "name": name,
        "order": order,
        "parentId": parent,
        "percentComplete": 100,
        "previousAttempts": [],
        "result": result,
        "resultCode": None,
        "startTime": net_time(start),
        "state": "completed",
        "task": (
            {"id": TASKS[task][0], "name": TASKS[task][1], "version": TASKS[task][2]}
            if task
            else None
        ),
        "type": kind,
        "url": None,
        "warningCount": 0,
        "workerName": b.agent if kind in ("Job", "Task") else None,
    }
    if kind == "Job":
        rec["queueId"] = num(b.pool, 10, 99)
    return rec


def write_azure_devops(es: Estate) -> None:
    case_logs = {
        p: case for case, p in CASE_LOGS.items() if p.startswith("azure_devops/")
    }
    for project in ADO_PROJECTS:
        builds = sorted(
            (b for b in ADO_BUILDS if b.project == project),
            key=lambda b: b.queued,
            reverse=True,
        )
        base = f"azure_devops/contoso/{project}"
        es.json(f"{base}/builds.json", [ado_build_json(b) for b in builds], sort=True)
        for b in builds:
            if not b.tasks:
                continue
            stage, phase, job = (
                guid(f"ado/{b.id}/{x}") for x in ("stage", "phase", "job")
            )
            last = b.tasks[-1].finish
            result = (
                "failed"
                if any(tk.result == "failed" for tk in b.tasks)
                else "succeeded"
            )
            records = [
                ado_record(
                    b,
                    stage,
                    None,
                    "Stage",
                    "__default",
                    1,
                    b.started,
                    last,
                    result,
                    None,
                    None,
                    "__default",
                ),
                ado_record(
                    b,
                    phase,
                    stage,
                    "Phase",
                    "Job",
                    1,
                    b.started,
                    last,
                    result,
                    None,
                    None,
                    "Job.__default",
                ),
                ado_record(
                    b,
                    job,
                    phase,
                    "Job",
                    "Job",
                    1,
                    b.started,
                    last,
                    result,
                    b.job_log_id,
                    None,
                    "Job.__default.Job",
                ),
            ]
            for order, tk in enumerate(b.tasks, start=1):
                records.append(
                    ado_record(
                        b,
                        guid(f"ado/{b.id}/task/{tk.log_id}"),
                        job,
                        "Task",
                        tk.name,
                        order,
                        tk.start,
                        tk.finish,
                        tk.result,
                        tk.log_id,
                        tk.task,
                        None,
                    )
                )
                path = f"{base}/logs/{b.id}/{tk.log_id}.txt"
                if tk.body is not None:
                    es.text(path, task_log(tk))
                elif path not in case_logs:
                    raise SystemExit(f"{path} has neither a body nor a case file")
            job_log = Log(b.started + timedelta(seconds=1))
            job_log.add("##[section]Starting: Job", 0)
            job_log.add(
                f"Pool: {b.pool}\nAgent name: '{b.agent}'\nJob preparation parameters",
                40,
            )
            job_log.now = last
            job_log.add("##[section]Finishing: Job", 60)
            es.text(f"{base}/logs/{b.id}/{b.job_log_id}.txt", job_log.text())
            es.json(
                f"{base}/timelines/{b.id}.json",
                {
                    "changeId": 57,
                    "id": guid(f"ado/{b.id}/timeline"),
                    "lastChangedBy": "00000002-0000-8888-8000-000000000000",
                    "lastChangedOn": net_time(b.finished),
                    "records": records,
                    "url": f"https://dev.azure.com/contoso/{ADO_PROJECTS[project]}/_apis/build/builds/{b.id}/Timeline/{guid(f'ado/{b.id}/timeline')}",
                },
                sort=True,
            )


# --------------------------------------------------------------------------- writers: registries


def child_manifest(child: dict[str, Any], key: str) -> bytes:
    """A platform manifest of a real case index (its digest cannot match these bytes)."""
    layers = [
        {
            "mediaType": OCI_LAYER,
            "digest": f"sha256:{hex64(f'{key}/{i}')}",
            "size": num(f"{key}/{i}", 900, 31_000_000),
        }
        for i in range(4)
    ]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": child["config"],
                "size": num(key, 1800, 9000),
            },
            "layers": layers,
        },
        separators=(",", ":"),
    ).encode()


def index_manifest(img: Image) -> bytes:
    manifests = []
    for child in img.children:
        entry: dict[str, Any] = {
            "mediaType": OCI_MANIFEST,
            "digest": child["digest"],
            "size": child["size"],
            "platform": child["platform"],
        }
        if "attestation_of" in child:
            entry["annotations"] = {
                "vnd.docker.reference.digest": child["attestation_of"],
                "vnd.docker.reference.type": "attestation-manifest",
            }
        manifests.append(entry)
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests},
        separators=(",", ":"),
    ).encode()


def write_manifests(es: Estate) -> None:
    for digest, data in MANIFESTS.items():
        es.raw(f"manifests/{digest_hex(digest)}.json", data)
    for digest, data in CONFIGS.items():
        es.raw(f"configs/{digest_hex(digest)}.json", data)
    for key in ("hub", "django"):
        img = IMAGES[key]
        es.raw(f"manifests/{digest_hex(img.digest)}.json", index_manifest(img))
        for child in img.children:
            if "config" in child:
                es.raw(
                    f"manifests/{digest_hex(child['digest'])}.json",
                    child_manifest(child, f"{key}/{child['platform']['architecture']}"),
                )


CHANGEABLE = {
    "deleteEnabled": True,
    "listEnabled": True,
    "readEnabled": True,
    "writeEnabled": True,
}


def acr_item(img: Image) -> dict[str, Any]:
    item: dict[str, Any] = {
        "architecture": img.arch,
        "changeableAttributes": CHANGEABLE,
        "configMediaType": DOCKER_CONFIG if img.media_type == DOCKER_V2 else OCI_CONFIG,
        "createdTime": net_time(img.pushed),
        "digest": img.digest,
        "imageSize": img.size,
        "lastUpdateTime": net_time(img.updated or img.pushed),
        "mediaType": img.media_type,
        "os": "linux",
    }
    if img.tags:
        item["tags"] = img.tags
    return item


def ecr_item(img: Image, offset: int, pulled: datetime | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "registryId": ACCOUNT,
        "repositoryName": img.repository,
        "imageDigest": img.digest,
    }
    if img.tags:
        item["imageTags"] = img.tags
    item["imageSizeInBytes"] = img.size - len(CONFIGS.get(img.digest, b""))
    item["imagePushedAt"] = aws_time(img.pushed, offset)
    item["imageManifestMediaType"] = img.media_type
    item["artifactMediaType"] = (
        DOCKER_CONFIG if img.media_type == DOCKER_V2 else OCI_CONFIG
    )
    if pulled:
        item["lastRecordedPullTime"] = aws_time(pulled, offset)
    return item


def gar_item(
    img: Image, project: str, location: str, repository: str, nanos: bool = False
) -> dict[str, Any]:
    package_path = (
        img.repository.split("/", 2)[2]
        if img.registry != "gcr.io"
        else img.repository.split("/", 1)[1]
    )
    escaped = package_path.replace("/", "%2F")
    return {
        "createTime": gcloud_time(img.pushed, nanos),
        "metadata": {
            "buildTime": gcloud_time(
                img.pushed - timedelta(seconds=num(img.key, 20, 90))
            ),
            "imageSizeBytes": str(img.size),
            "mediaType": img.media_type,
            "name": (
                f"projects/{project}/locations/{location}/repositories/{repository}"
                f"/dockerImages/{escaped}@{img.digest}"
            ),
        },
        "package": img.image,
        "tags": ",".join(img.tags),
        "updateTime": gcloud_time(img.updated or img.pushed, nanos),
        "version": img.digest,
    }


def skopeo_inspect(
    img: Image,
    tag: str,
    created: str,
    layers: list[tuple[str, int]],
    env: list[str],
    labels: dict[str, str] | None,
) -> dict[str, Any]:
    return {
        "Name": img.image,
        "Digest": img.digest,
        "RepoTags": img.tags,
        "Created": created,
        "DockerVersion": "",
        "Labels": labels,
        "Architecture": "amd64",
        "Os": "linux",
        "Layers": [d for d, _ in layers],
        "LayersData": [
            {"MIMEType": OCI_LAYER, "Digest": d, "Size": s, "Annotations": None}
            for d, s in layers
        ],
        "Env": env,
    }


def write_registries(es: Estate) -> None:
    I = IMAGES  # noqa: E741
    by_repo: dict[tuple[str, str], list[Image]] = {}
    for img in I.values():
        by_repo.setdefault((img.registry, img.repository), []).append(img)
    for imgs in by_repo.values():
        imgs.sort(key=lambda i: i.pushed, reverse=True)

    # az acr manifest list-metadata --registry NAME --name REPOSITORY -o json
    for (registry, repository), imgs in by_repo.items():
        if registry.endswith(".azurecr.io"):
            name = registry.split(".")[0]
            es.json(
                f"acr/{name}/{repository}.json", [acr_item(i) for i in imgs], sort=True
            )

    # aws ecr describe-images: the real excerpt of case 35 (account placeholder filled in)
    django = I["django"]
    plat, att = django.children
    es.json(
        f"ecr/{ACCOUNT}/us-east-1/django-webapp-code.json",
        {
            "imageDetails": [
                {
                    "registryId": ACCOUNT,
                    "repositoryName": "django-webapp-code",
                    "imageDigest": att["digest"],
                    "imageSizeInBytes": att["bytes"],
                    "imagePushedAt": "2025-03-15T16:47:53.153000+01:00",
                    "imageManifestMediaType": OCI_MANIFEST,
                    "artifactMediaType": OCI_CONFIG,
                },
                {
                    "registryId": ACCOUNT,
                    "repositoryName": "django-webapp-code",
                    "imageDigest": plat["digest"],
                    "imageSizeInBytes": plat["bytes"],
                    "imagePushedAt": "2025-03-15T16:47:53.161000+01:00",
                    "imageManifestMediaType": OCI_MANIFEST,
                    "artifactMediaType": OCI_CONFIG,
                },
                {
                    "registryId": ACCOUNT,
                    "repositoryName": "django-webapp-code",
                    "imageDigest": django.digest,
                    "imageTags": ["latest"],
                    "imageSizeInBytes": 75387102,
                    "imagePushedAt": "2025-03-15T16:47:53.707000+01:00",
                    "imageManifestMediaType": OCI_INDEX,
                    "lastRecordedPullTime": "2025-06-19T09:12:40.118000+01:00",
                },
            ]
        },
        indent=4,
    )
    pulled = {
        "checkout": t("2025-06-19T06:02:11.337Z"),
        "worker": t("2025-06-19T06:02:15.901Z"),
    }
    for repository in ("retail/checkout", "retail/worker"):
        imgs = by_repo[(ECR_EUW1, repository)]
        es.json(
            f"ecr/{ACCOUNT}/eu-west-1/{repository}.json",
            {"imageDetails": [ecr_item(i, 2, pulled.get(i.key)) for i in imgs]},
            indent=4,
        )

    # gcloud artifacts docker images list LOCATION-docker.pkg.dev/PROJECT/REPO --include-tags --format=json
    es.json(
        "gar/contoso-release-test/us/gcr.io.json",
        [gar_item(I["image-builder"], "contoso-release-test", "us", "gcr.io")],
        sort=True,
    )
    es.json(
        "gar/contoso-prod/europe-west1/ml.json",
        [
            gar_item(
                i, "contoso-prod", "europe-west1", "ml", nanos=i.key == "scorer-092"
            )
            for i in sorted(
                by_repo[(GAR_EUW1, "contoso-prod/ml/scorer")], key=lambda i: i.pushed
            )
        ],
        sort=True,
    )
    es.json(
        "gar/contoso-prod/europe-west1/shared.json",
        [
            gar_item(I[key], "contoso-prod", "europe-west1", "shared")
            for key in ("base-node", "base-python")
        ],
        sort=True,
    )

    # skopeo inspect docker://HOST/REPOSITORY:TAG, one object per tag
    hub = I["hub"]
    es.json(
        "oci/docker.io/contoso/hub.json",
        [
            skopeo_inspect(
                hub,
                "master",
                "2025-02-20T11:02:01.482211095Z",
                [
                    (
                        f"sha256:{hex64(f'hub/amd64/{i}')}",
                        num(f"hub/amd64/{i}", 900, 31_000_000),
                    )
                    for i in range(4)
                ],
                [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HUB_PORT=8080",
                ],
                {"org.opencontainers.image.title": "hub"},
            )
        ],
        indent=4,
    )
    demo = I["kaniko-demo"]
    es.json(
        "oci/docker.io/contoso/kaniko-demo-image.json",
        [
            skopeo_inspect(
                demo,
                "latest",
                "2025-01-14T16:21:38.904871662Z",
                [
                    (
                        f"sha256:{hex64(f'kaniko-demo/{i}')}",
                        num(f"kaniko-demo/{i}", 900, 21_000_000),
                    )
                    for i in range(6)
                ],
                [
                    "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG=C.UTF-8",
                    "PYTHON_VERSION=3.9.7",
                ],
                None,
            )
        ],
        indent=4,
    )


# --------------------------------------------------------------------------- Kubernetes

K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def k8s_suffix(label: str, n: int) -> str:
    h = int(hex64(label), 16)
    out = ""
    for _ in range(n):
        h, r = divmod(h, len(K8S_ALPHABET))
        out += K8S_ALPHABET[r]
    return out


@dataclass
class Container:
    name: str
    image: str  # as written in the pod spec
    digest_ref: str  # repo@sha256:... the runtime resolved
    port: int = 8080


class Cluster:
    """Builds the items of ``kubectl get ... -A -o json`` for one cluster."""

    KINDS = (
        "Namespace",
        "Pod",
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Service",
        "Ingress",
    )

    def __init__(self, name: str, runtime: str, nodes: list[str]) -> None:
        self.name = name
        self.runtime = runtime  # "containerd" or "docker"
        self.nodes = nodes
        self.items: dict[str, list[dict[str, Any]]] = {k: [] for k in self.KINDS}
        self.rv = 4_100_000 if runtime == "containerd" else 81_200_000

    def meta(
        self, kind: str, ns: str | None, name: str, created: datetime, **extra: Any
    ) -> dict[str, Any]:
        self.rv += num(f"{self.name}/{kind}/{ns}/{name}", 3, 900)
        m: dict[str, Any] = {
            "creationTimestamp": k8s_time(created),
            "name": name,
            "resourceVersion": str(self.rv),
            "uid": guid(f"k8s/{self.name}/{kind}/{ns}/{name}"),
        }
        if ns:
            m["namespace"] = ns
        m.update({k: v for k, v in extra.items() if v is not None})
        return m

    def namespace(
        self, name: str, created: datetime, labels: dict[str, str] | None = None
    ) -> None:
        labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
        self.items["Namespace"].append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": self.meta("Namespace", None, name, created, labels=labels),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )

    def container_spec(self, c: Container) -> dict[str, Any]:
        return {
            "image": c.image,
            "imagePullPolicy": "IfNotPresent",
            "name": c.name,
            "ports": [{"containerPort": c.port, "name": "http", "protocol": "TCP"}],
            "resources": {
                "limits": {"memory": "512Mi"},
                "requests": {"cpu": "100m", "memory": "256Mi"},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }

    def container_status(
        self, c: Container, started: datetime, pod: str
    ) -> dict[str, Any]:
        if self.runtime == "containerd":
            from_spec = (
                c.image
                if "/" in c.image.split(":")[0] and "." in c.image.split("/")[0]
                else "docker.io/" + c.image
            )
            status_image, image_id = from_spec, c.digest_ref
            container_id = "containerd://" + hex64(f"{self.name}/{pod}/{c.name}/cid")
        else:
            status_image, image_id = c.image, "docker-pullable://" + c.digest_ref
            container_id = "docker://" + hex64(f"{self.name}/{pod}/{c.name}/cid")
        return {
            "containerID": container_id,
            "image": status_image,
            "imageID": image_id,
            "lastState": {},
            "name": c.name,
            "ready": True,
            "restartCount": 0,
            "started": True,
            "state": {"running": {"startedAt": k8s_time(started)}},
        }

    def pod(
        self,
        ns: str,
        name: str,
        labels: dict[str, str],
        owner: dict[str, Any],
        containers: list[Container],
        started: datetime,
        node: int,
    ) -> None:
        pod_ip = f"10.{244 if self.runtime == 'containerd' else 12}.{num(name, 0, 8)}.{num(name + 'ip', 2, 250)}"
        self.items["Pod"].append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": self.meta(
                    "Pod",
                    ns,
                    name,
                    started - timedelta(seconds=6),
                    generateName=name.rsplit("-", 1)[0] + "-",
                    labels=labels,
                    ownerReferences=[owner],
                ),
                "spec": {
                    "containers": [self.container_spec(c) for c in containers],
                    "dnsPolicy": "ClusterFirst",
                    "enableServiceLinks": True,
                    "nodeName": self.nodes[node % len(self.nodes)],
                    "preemptionPolicy": "PreemptLowerPriority",
                    "priority": 0,
                    "restartPolicy": "Always"
                    if owner["kind"] != "Job"
                    else "OnFailure",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "serviceAccount": "default",
                    "serviceAccountName": "default",
                    "terminationGracePeriodSeconds": 30,
                    "tolerations": [
                        {
                            "effect": "NoExecute",
                            "key": "node.kubernetes.io/not-ready",
                            "operator": "Exists",
                            "tolerationSeconds": 300,
                        },
                        {
                            "effect": "NoExecute",
                            "key": "node.kubernetes.io/unreachable",
                            "operator": "Exists",
                            "tolerationSeconds": 300,
                        },
                    ],
                },
                "status": {
                    "conditions": [
                        {
                            "lastProbeTime": None,
                            "lastTransitionTime": k8s_time(
                                started - timedelta(seconds=5)
                            ),
                            "status": "True",
                            "type": kind,
                        }
                        for kind in (
                            "Initialized",
                            "Ready",
                            "ContainersReady",
                            "PodScheduled",
                        )
                    ],
                    "containerStatuses": [
                        self.container_status(c, started, name) for c in containers
                    ],
                    "hostIP": f"10.{224 if self.runtime == 'containerd' else 0}.0.{4 + node % len(self.nodes)}",
                    "phase": "Running",
                    "podIP": pod_ip,
                    "podIPs": [{"ip": pod_ip}],
                    "qosClass": "Burstable",
                    "startTime": k8s_time(started - timedelta(seconds=5)),
                },
            }
        )

    def owner_ref(
        self, kind: str, ns: str, name: str, api: str = "apps/v1"
    ) -> dict[str, Any]:
        return {
            "apiVersion": api,
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": kind,
            "name": name,
            "uid": guid(f"k8s/{self.name}/{kind}/{ns}/{name}"),
        }

    def template(
        self, labels: dict[str, str], containers: list[Container]
    ) -> dict[str, Any]:
        return {
            "metadata": {"creationTimestamp": None, "labels": labels},
            "spec": {
                "containers": [self.container_spec(c) for c in containers],
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
            },
        }

    def deployment(
        self,
        ns: str,
        name: str,
        labels: dict[str, str],
        containers: list[Container],
        created: datetime,
        rolled: datetime,
        replicas: int = 1,
        workload_labels: dict[str, str] | None = None,
    ) -> None:
        rs_hash = k8s_suffix(f"{self.name}/{ns}/{name}/rs", 10)
        rs_name = f"{name}-{rs_hash}"
        selector = dict(labels)
        pod_labels = {**labels, "pod-template-hash": rs_hash}
        self.items["Deployment"].append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.meta(
                    "Deployment",
                    ns,
                    name,
                    created,
                    generation=3,
                    annotations={"deployment.kubernetes.io/revision": "3"},
                    labels=workload_labels or {"app": labels["app"]},
                ),
                "spec": {
                    "progressDeadlineSeconds": 600,
                    "replicas": replicas,
                    "revisionHistoryLimit": 10,
                    "selector": {"matchLabels": selector},
                    "strategy": {
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                        "type": "RollingUpdate",
                    },
                    "template": self.template(labels, containers),
                },
                "status": {
                    "availableReplicas": replicas,
                    "observedGeneration": 3,
                    "readyReplicas": replicas,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "conditions": [
                        {
                            "lastTransitionTime": k8s_time(rolled),
                            "lastUpdateTime": k8s_time(rolled),
                            "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                            "reason": "NewReplicaSetAvailable",
                            "status": "True",
                            "type": "Progressing",
                        }
                    ],
                },
            }
        )
        self.items["ReplicaSet"].append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": self.meta(
                    "ReplicaSet",
                    ns,
                    rs_name,
                    rolled,
                    generation=1,
                    annotations={
                        "deployment.kubernetes.io/desired-replicas": str(replicas),
                        "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                        "deployment.kubernetes.io/revision": "3",
                    },
                    labels=pod_labels,
                    ownerReferences=[self.owner_ref("Deployment", ns, name)],
                ),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": pod_labels},
                    "template": self.template(pod_labels, containers),
                },
                "status": {
                    "availableReplicas": replicas,
                    "fullyLabeledReplicas": replicas,
                    "observedGeneration": 1,
                    "readyReplicas": replicas,
                    "replicas": replicas,
                },
            }
        )
        for i in range(replicas):
            pod = f"{rs_name}-{k8s_suffix(f'{self.name}/{ns}/{name}/pod/{i}', 5)}"
            self.pod(
                ns,
                pod,
                pod_labels,
                self.owner_ref("ReplicaSet", ns, rs_name),
                containers,
                rolled + timedelta(seconds=14 + 9 * i),
                i,
            )

    def daemonset(
        self,
        ns: str,
        name: str,
        labels: dict[str, str],
        containers: list[Container],
        created: datetime,
    ) -> None:
        self.items["DaemonSet"].append(
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": self.meta(
                    "DaemonSet",
                    ns,
                    name,
                    created,
                    generation=1,
                    annotations={"deprecated.daemonset.template.generation": "1"},
                    labels=labels,
                ),
                "spec": {
                    "revisionHistoryLimit": 10,
                    "selector": {"matchLabels": labels},
                    "template": self.template(labels, containers),
                    "updateStrategy": {
                        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"},
                        "type": "RollingUpdate",
                    },
                },
                "status": {
                    "currentNumberScheduled": len(self.nodes),
                    "desiredNumberScheduled": len(self.nodes),
                    "numberAvailable": len(self.nodes),
                    "numberMisscheduled": 0,
                    "numberReady": len(self.nodes),
                    "observedGeneration": 1,
                    "updatedNumberScheduled": len(self.nodes),
                },
            }
        )
        for i in range(len(self.nodes)):
            pod = f"{name}-{k8s_suffix(f'{self.name}/{ns}/{name}/pod/{i}', 5)}"
            self.pod(
                ns,
                pod,
                {
                    **labels,
                    "controller-revision-hash": k8s_suffix(name, 10),
                    "pod-template-generation": "1",
                },
                self.owner_ref("DaemonSet", ns, name),
                containers,
                created + timedelta(seconds=20 + i),
                i,
            )

    def cronjob(
        self,
        ns: str,
        name: str,
        schedule: str,
        containers: list[Container],
        created: datetime,
        job_started: datetime,
    ) -> None:
        job_name = f"{name}-{int(job_started.timestamp()) // 60}"
        labels = {"app": name}
        job_tpl = {
            "spec": {
                "backoffLimit": 2,
                "template": {
                    "metadata": {"creationTimestamp": None, "labels": labels},
                    "spec": {
                        "containers": [self.container_spec(c) for c in containers],
                        "restartPolicy": "OnFailure",
                        "dnsPolicy": "ClusterFirst",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30,
                    },
                },
            }
        }
        self.items["CronJob"].append(
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": self.meta(
                    "CronJob", ns, name, created, generation=1, labels=labels
                ),
                "spec": {
                    "concurrencyPolicy": "Forbid",
                    "failedJobsHistoryLimit": 1,
                    "jobTemplate": {"metadata": {"creationTimestamp": None}, **job_tpl},
                    "schedule": schedule,
                    "successfulJobsHistoryLimit": 3,
                    "suspend": False,
                },
                "status": {
                    "active": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": job_name,
                            "namespace": ns,
                            "uid": guid(f"k8s/{self.name}/Job/{ns}/{job_name}"),
                        }
                    ],
                    "lastScheduleTime": k8s_time(job_started),
                },
            }
        )
        self.items["Job"].append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": self.meta(
                    "Job",
                    ns,
                    job_name,
                    job_started,
                    generation=1,
                    labels=labels,
                    ownerReferences=[self.owner_ref("CronJob", ns, name, "batch/v1")],
                ),
                "spec": {
                    **job_tpl["spec"],
                    "completionMode": "NonIndexed",
                    "completions": 1,
                    "parallelism": 1,
                    "suspend": False,
                },
                "status": {
                    "active": 1,
                    "ready": 1,
                    "startTime": k8s_time(job_started),
                    "terminating": 0,
                    "uncountedTerminatedPods": {},
                },
            }
        )
        pod = f"{job_name}-{k8s_suffix(f'{self.name}/{ns}/{job_name}/pod', 5)}"
        self.pod(
            ns,
            pod,
            {**labels, "batch.kubernetes.io/job-name": job_name, "job-name": job_name},
            self.owner_ref("Job", ns, job_name, "batch/v1"),
            containers,
            job_started + timedelta(seconds=8),
            0,
        )

    def service(
        self,
        ns: str,
        name: str,
        kind: str,
        selector: dict[str, str],
        port: int,
        created: datetime,
        lb: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        node_port: int | None = None,
        allocate_node_ports: bool = True,
        port_name: str = "http",
    ) -> None:
        p: dict[str, Any] = {
            "name": port_name,
            "port": port,
            "protocol": "TCP",
            "targetPort": port_name,
        }
        if kind == "NodePort" or (kind == "LoadBalancer" and allocate_node_ports):
            p["nodePort"] = node_port or num(
                f"{self.name}/{ns}/{name}/np", 30000, 32767
            )
        cluster_ip = f"10.{0 if self.runtime == 'containerd' else 100}.{num(name, 0, 250)}.{num(ns + name, 2, 250)}"
        spec: dict[str, Any] = {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [p],
            "selector": selector,
            "sessionAffinity": "None",
            "type": kind,
        }
        if kind in ("NodePort", "LoadBalancer"):
            spec["externalTrafficPolicy"] = "Cluster"
        if kind == "LoadBalancer":
            spec["allocateLoadBalancerNodePorts"] = allocate_node_ports
        status: dict[str, Any] = {"loadBalancer": {}}
        if lb:
            status = {
                "loadBalancer": {
                    "ingress": [{**lb, "ipMode": "VIP"} if "ip" in lb else lb]
                }
            }
        self.items["Service"].append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.meta(
                    "Service",
                    ns,
                    name,
                    created,
                    annotations=annotations,
                    labels={"app": name},
                ),
                "spec": spec,
                "status": status,
            }
        )

    def ingress(
        self, ns: str, name: str, host: str, service: str, created: datetime, ip: str
    ) -> None:
        self.items["Ingress"].append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": self.meta(
                    "Ingress",
                    ns,
                    name,
                    created,
                    generation=1,
                    annotations={
                        "cert-manager.io/cluster-issuer": "letsencrypt-prod",
                        "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
                    },
                ),
                "spec": {
                    "ingressClassName": "nginx",
                    "rules": [
                        {
                            "host": host,
                            "http": {
                                "paths": [
                                    {
                                        "backend": {
                                            "service": {
                                                "name": service,
                                                "port": {"name": "http"},
                                            }
                                        },
                                        "path": "/",
                                        "pathType": "Prefix",
                                    }
                                ]
                            },
                        }
                    ],
                    "tls": [{"hosts": [host], "secretName": f"{name}-tls"}],
                },
                "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
            }
        )

    def kubernetes_service(self, created: datetime) -> None:
        self.items["Service"].insert(
            0,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.meta(
                    "Service",
                    "default",
                    "kubernetes",
                    created,
                    labels={"component": "apiserver", "provider": "kubernetes"},
                ),
                "spec": {
                    "clusterIP": "10.0.0.1",
                    "clusterIPs": ["10.0.0.1"],
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "ports": [
                        {
                            "name": "https",
                            "port": 443,
                            "protocol": "TCP",
                            "targetPort": 443,
                        }
                    ],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
                "status": {"loadBalancer": {}},
            },
        )

    def document(self) -> dict[str, Any]:
        items = [item for kind in self.KINDS for item in self.items[kind]]
        return {
            "apiVersion": "v1",
            "items": items,
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }


def ref_at(img: Image, tag: str | None = None) -> str:
    return f"{img.image}@{img.digest}"


def build_clusters() -> list[Cluster]:
    I = IMAGES  # noqa: E741
    aks = Cluster(
        "aks-prod",
        "containerd",
        [f"aks-nodepool1-31718369-vmss00000{i}" for i in range(3)],
    )
    made = t("2024-03-04T09:00:00Z")
    aks.kubernetes_service(made)
    for ns, labels in [
        ("default", None),
        ("kube-system", None),
        ("ingress-nginx", None),
        ("payments", {"team": "payments"}),
        ("retail", {"team": "retail"}),
        ("hub", {"team": "hub-maintainers"}),
        ("tools", None),
        ("cpuad", None),
        ("ml", None),
    ]:
        aks.namespace(ns, made + timedelta(minutes=len(ns)), labels)
    coredns = Container(
        "coredns",
        "mcr.microsoft.com/oss/kubernetes/coredns:v1.11.3-1",
        f"mcr.microsoft.com/oss/kubernetes/coredns@sha256:{hex64('coredns')}",
        53,
    )
    aks.deployment(
        "kube-system",
        "coredns",
        {"k8s-app": "kube-dns", "app": "coredns"},
        [coredns],
        made,
        t("2025-05-02T03:11:09Z"),
        replicas=2,
        workload_labels={
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
        },
    )
    aks.service(
        "kube-system",
        "kube-dns",
        "ClusterIP",
        {"k8s-app": "kube-dns"},
        53,
        made,
        port_name="dns-tcp",
    )
    ctrl = I["ingress-controller"]
    aks.deployment(
        "ingress-nginx",
        "ingress-nginx-controller",
        {"app": "ingress-nginx", "app.kubernetes.io/component": "controller"},
        [Container("controller", f"{ctrl.image}:v1.10.1", ref_at(ctrl), 80)],
        t("2025-04-01T09:02:00Z"),
        t("2025-04-01T09:02:30Z"),
        replicas=2,
    )
    aks.service(
        "ingress-nginx",
        "ingress-nginx-controller",
        "LoadBalancer",
        {"app": "ingress-nginx", "app.kubernetes.io/component": "controller"},
        80,
        t("2025-04-01T09:02:00Z"),
        lb={"ip": "203.0.113.20"},
    )

    api_old, api_new = I["api-old"], I["api-new"]
    aks.deployment(
        "payments",
        "api",
        {"app": "api", "track": "stable"},
        [Container("api", f"{api_old.image}:release", ref_at(api_old))],
        t("2024-11-12T10:00:00Z"),
        t("2025-06-02T10:31:44Z"),
        replicas=3,
    )
    aks.deployment(
        "payments",
        "api-canary",
        {"app": "api", "track": "canary"},
        [Container("api", f"{api_new.image}:release", ref_at(api_new))],
        t("2025-03-03T10:00:00Z"),
        t("2025-06-16T15:02:10Z"),
    )
    aks.service(
        "payments",
        "api",
        "LoadBalancer",
        {"app": "api", "track": "stable"},
        80,
        t("2024-11-12T10:00:00Z"),
        lb={"ip": "203.0.113.10"},
    )
    aks.service(
        "payments",
        "api-canary",
        "ClusterIP",
        {"app": "api", "track": "canary"},
        80,
        t("2025-03-03T10:00:00Z"),
    )
    capi = I["contoso-api"]
    aks.deployment(
        "payments",
        "contoso-api",
        {"app": "contoso-api"},
        [
            Container(
                "contoso-api", f"{capi.image}:3.59.0-Fea44846-Development", ref_at(capi)
            )
        ],
        t("2024-06-20T08:00:00Z"),
        t("2024-08-08T06:40:02Z"),
        replicas=2,
    )
    aks.service(
        "payments",
        "contoso-api",
        "LoadBalancer",
        {"app": "contoso-api"},
        80,
        t("2024-06-20T08:00:00Z"),
        lb={"ip": "10.240.0.97"},
        annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
        allocate_node_ports=False,
    )

    store = I["storefront"]
    fluent = Container(
        "log-shipper",
        "mcr.microsoft.com/oss/fluent/fluent-bit:3.0.4",
        f"mcr.microsoft.com/oss/fluent/fluent-bit@sha256:{hex64('fluent-bit')}",
        2020,
    )
    aks.deployment(
        "retail",
        "storefront",
        {"app": "storefront"},
        [
            Container("storefront", f"{store.image}:20250203.2", ref_at(store), 3000),
            fluent,
        ],
        t("2024-09-30T12:00:00Z"),
        t("2025-02-03T11:20:18Z"),
        replicas=2,
    )
    aks.service(
        "retail",
        "storefront",
        "ClusterIP",
        {"app": "storefront"},
        80,
        t("2024-09-30T12:00:00Z"),
    )
    aks.ingress(
        "retail",
        "storefront",
        "shop.contoso.example",
        "storefront",
        t("2024-09-30T12:00:00Z"),
        "203.0.113.20",
    )

    hub = I["hub"]
    aks.deployment(
        "hub",
        "hub",
        {"app": "hub"},
        [Container("hub", "contoso/hub:master", ref_at(hub))],
        t("2024-10-01T08:00:00Z"),
        t("2025-02-20T11:30:12Z"),
        replicas=2,
    )
    aks.service(
        "hub",
        "hub",
        "LoadBalancer",
        {"app": "hub"},
        80,
        t("2024-10-01T08:00:00Z"),
        lb={"ip": "203.0.113.30"},
    )

    shell = I["debug-shell"]
    aks.deployment(
        "tools",
        "debug-shell",
        {"app": "debug-shell"},
        [Container("shell", f"{shell.image}:jdoe-test", ref_at(shell), 8080)],
        t("2025-06-09T16:50:00Z"),
        t("2025-06-09T16:50:04Z"),
    )
    aks.service(
        "tools",
        "debug-shell",
        "NodePort",
        {"app": "debug-shell"},
        8080,
        t("2025-06-09T16:50:00Z"),
        node_port=31622,
    )

    cpuad = I["cpuad"]
    aks.cronjob(
        "cpuad",
        "cpuad-updater-job",
        "0 * * * *",
        [
            Container(
                "cpuad-updater-job", f"{cpuad.image}:azd-20250517223439", ref_at(cpuad)
            )
        ],
        t("2025-05-17T14:40:00Z"),
        t("2025-06-20T05:00:00Z"),
    )

    scorer = I["scorer-092"]
    aks.deployment(
        "ml",
        "scorer",
        {"app": "scorer"},
        [Container("scorer", f"{scorer.image}:0.9.2", ref_at(scorer))],
        t("2025-05-28T14:00:00Z"),
        t("2025-06-18T11:02:37Z"),
    )
    aks.service(
        "ml", "scorer", "ClusterIP", {"app": "scorer"}, 80, t("2025-05-28T14:00:00Z")
    )

    eks = Cluster(
        "eks-legacy",
        "docker",
        [f"ip-10-0-{n}.eu-west-1.compute.internal" for n in ("1-23", "2-117")],
    )
    made = t("2022-02-14T10:00:00Z")
    eks.kubernetes_service(made)
    for ns in ("default", "kube-system", "web", "retail"):
        eks.namespace(ns, made + timedelta(minutes=len(ns)))
    proxy = Container(
        "kube-proxy",
        "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.21.2-eksbuild.2",
        f"602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy@sha256:{hex64('kube-proxy')}",
        10249,
    )
    eks.daemonset("kube-system", "kube-proxy", {"k8s-app": "kube-proxy"}, [proxy], made)
    django = I["django"]
    eks.deployment(
        "web",
        "django-webapp",
        {"app": "django-webapp"},
        [Container("web", f"{django.image}:latest", ref_at(django), 8000)],
        t("2024-12-02T09:00:00Z"),
        t("2025-03-15T16:20:41Z"),
        replicas=2,
    )
    eks.service(
        "web",
        "django-webapp",
        "LoadBalancer",
        {"app": "django-webapp"},
        80,
        t("2024-12-02T09:00:00Z"),
        lb={
            "hostname": "a3f1c2b9e8d7411e9b0c2a4d6e8f0a1b-1843215772.eu-west-1.elb.amazonaws.com"
        },
        annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
    )
    checkout, worker = I["checkout"], I["worker"]
    eks.deployment(
        "retail",
        "checkout",
        {"app": "checkout"},
        [Container("checkout", f"{checkout.image}:20250610.1", ref_at(checkout))],
        t("2024-12-02T09:00:00Z"),
        t("2025-06-10T08:40:13Z"),
        replicas=2,
    )
    eks.service(
        "retail",
        "checkout",
        "NodePort",
        {"app": "checkout"},
        8080,
        t("2024-12-02T09:00:00Z"),
        node_port=30443,
    )
    eks.deployment(
        "retail",
        "worker",
        {"app": "worker"},
        [Container("worker", f"{worker.image}:20250612.3", ref_at(worker))],
        t("2025-01-20T09:00:00Z"),
        t("2025-06-12T11:31:50Z"),
    )
    return [aks, eks]


def write_kubernetes(es: Estate, clusters: list[Cluster]) -> None:
    for cluster in clusters:
        es.json(
            f"kubernetes/{cluster.name}.json", cluster.document(), indent=4, sort=True
        )


# --------------------------------------------------------------------------- scans

# id: (severity, score, title, published)
CVES = {
    "CVE-2024-45490": (
        "CRITICAL",
        9.8,
        "libexpat: Negative Length Parsing Vulnerability in libexpat",
        "2024-08-30T03:15:03.757Z",
    ),
    "CVE-2024-45491": (
        "CRITICAL",
        9.8,
        "libexpat: Integer Overflow or Wraparound",
        "2024-08-30T03:15:03.85Z",
    ),
    "CVE-2024-2961": (
        "HIGH",
        7.3,
        "glibc: Out of bounds write in iconv may lead to remote code execution",
        "2024-04-17T18:15:15.833Z",
    ),
    "CVE-2023-2953": (
        "HIGH",
        7.5,
        "openldap: null pointer dereference in  ber_memalloc_x  function",
        "2023-05-30T22:15:10.613Z",
    ),
    "CVE-2024-37891": (
        "MEDIUM",
        4.4,
        "urllib3: proxy-authorization request header is not stripped during cross-origin redirects",
        "2024-06-17T20:15:13.203Z",
    ),
    "CVE-2011-3374": (
        "LOW",
        3.7,
        "It was found that apt-key in apt, all versions, do not correctly validate gpg keys with the master keyring, leading to a potential man-in-the-middle attack.",
        "2019-11-26T00:15:11.03Z",
    ),
    "CVE-2023-44487": (
        "HIGH",
        7.5,
        "HTTP/2: Multiple HTTP/2 enabled web servers are vulnerable to a DDoS attack (Rapid Reset Attack)",
        "2023-10-10T14:15:10.883Z",
    ),
    "CVE-2023-50495": (
        "MEDIUM",
        6.5,
        "ncurses: segmentation fault via _nc_wrap_entry()",
        "2023-12-12T15:15:07.867Z",
    ),
    "CVE-2023-38545": (
        "CRITICAL",
        9.8,
        "curl: heap based buffer overflow in the SOCKS5 proxy handshake",
        "2023-10-18T04:15:11.077Z",
    ),
    "CVE-2024-21538": (
        "HIGH",
        7.5,
        "cross-spawn: regular expression denial of service",
        "2024-11-08T05:15:06.453Z",
    ),
    "CVE-2022-0563": (
        "LOW",
        5.5,
        "util-linux: partial disclosure of arbitrary files in chfn and chsh when compiled with libreadline",
        "2022-02-21T19:15:08.393Z",
    ),
    "CVE-2024-6119": (
        "HIGH",
        7.5,
        "openssl: Possible denial of service in X.509 name checks",
        "2024-09-03T16:15:07.177Z",
    ),
    "CVE-2024-0727": (
        "MEDIUM",
        5.5,
        "openssl: denial of service via null dereference",
        "2024-01-26T09:15:07.637Z",
    ),
    "CVE-2024-9143": (
        "LOW",
        4.3,
        "openssl: Low-level invalid GF(2^m) parameters lead to OOB memory access",
        "2024-10-16T17:15:18.13Z",
    ),
    "CVE-2023-45853": (
        "CRITICAL",
        9.8,
        "zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6",
        "2023-10-14T02:15:09.323Z",
    ),
    "CVE-2024-6345": (
        "HIGH",
        8.8,
        "pypa/setuptools: Remote code execution via download functions in the package_index module in pypa/setuptools",
        "2024-07-15T01:15:01.73Z",
    ),
    "CVE-2024-24790": (
        "CRITICAL",
        9.8,
        "golang: net/netip: Unexpected behavior from Is methods for IPv4-mapped IPv6 addresses",
        "2024-06-05T16:15:10.56Z",
    ),
    "CVE-2023-45288": (
        "HIGH",
        7.5,
        "golang: net/http, x/net/http2: unlimited number of CONTINUATION frames causes DoS",
        "2024-04-04T21:15:16.113Z",
    ),
    "CVE-2023-30861": (
        "HIGH",
        7.5,
        "flask: Possible disclosure of permanent session cookie due to missing Vary: Cookie header",
        "2023-05-02T18:15:52.563Z",
    ),
    "CVE-2023-25577": (
        "HIGH",
        7.5,
        "python-werkzeug: high resource usage when parsing multipart form data with many fields",
        "2023-02-14T20:15:08.497Z",
    ),
    "CVE-2024-22195": (
        "MEDIUM",
        5.4,
        "jinja2: HTML attribute injection when passing user input as keys to xmlattr filter",
        "2024-01-11T03:15:11.2Z",
    ),
    "CVE-2024-28182": (
        "MEDIUM",
        5.3,
        "nghttp2: CONTINUATION frames DoS",
        "2024-04-04T15:15:38.427Z",
    ),
}

# (cve, package, installed, fixed or None, class) per scanned image
DEB = "os-pkgs"
LANG = "lang-pkgs"
FINDINGS: dict[str, list[tuple[str, str, str, str | None, str]]] = {
    "api-old": [
        ("CVE-2024-45490", "libexpat1", "2.5.0-1", "2.5.0-1+deb12u1", DEB),
        ("CVE-2024-2961", "libc6", "2.36-9+deb12u4", "2.36-9+deb12u7", DEB),
        ("CVE-2023-2953", "libldap-2.5-0", "2.5.13+dfsg-5", None, DEB),
        ("CVE-2011-3374", "apt", "2.6.1", None, DEB),
        ("CVE-2024-37891", "urllib3", "1.26.18", "1.26.19, 2.2.2", LANG),
    ],
    "api-new": [
        ("CVE-2023-2953", "libldap-2.5-0", "2.5.13+dfsg-5", None, DEB),
        ("CVE-2011-3374", "apt", "2.6.1", None, DEB),
    ],
    "contoso-api": [
        ("CVE-2023-44487", "libnghttp2-14", "1.52.0-1", "1.52.0-1+deb12u1", DEB),
        ("CVE-2023-50495", "libncursesw6", "6.4-4", None, DEB),
    ],
    "storefront": [
        ("CVE-2023-38545", "libcurl4", "7.88.1-10+deb12u1", "7.88.1-10+deb12u4", DEB),
        ("CVE-2022-0563", "util-linux", "2.38.1-5+b1", None, DEB),
        ("CVE-2024-21538", "cross-spawn", "7.0.3", "7.0.5, 6.0.6", LANG),
    ],
    "debug-shell": [
        ("CVE-2024-45491", "expat", "2.6.2-r0", "2.6.3-r0", DEB),
        ("CVE-2024-6119", "libssl3", "3.3.1-r0", "3.3.2-r0", DEB),
        ("CVE-2024-0727", "libcrypto3", "3.3.1-r0", "3.3.2-r0", DEB),
    ],
    "ingress-controller": [
        ("CVE-2024-0727", "libcrypto3", "3.1.4-r6", "3.1.5-r0", DEB),
        ("CVE-2024-9143", "libssl3", "3.1.4-r6", "3.1.7-r1", DEB),
    ],
    "cpuad": [
        ("CVE-2024-0727", "libcrypto3", "3.3.0-r2", "3.3.0-r3", DEB),
        ("CVE-2024-9143", "libssl3", "3.3.0-r2", "3.3.2-r1", DEB),
    ],
    "django": [
        ("CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", None, DEB),
        ("CVE-2022-0563", "util-linux", "2.38.1-5+b1", None, DEB),
        ("CVE-2024-6345", "setuptools", "65.5.1", "70.0.0", LANG),
    ],
    "hub/amd64": [
        ("CVE-2024-2961", "libc6", "2.36-9+deb12u4", "2.36-9+deb12u7", DEB),
        (
            "CVE-2024-28182",
            "libnghttp2-14",
            "1.52.0-1+deb12u1",
            "1.52.0-1+deb12u2",
            DEB,
        ),
    ],
    "kaniko-demo": [
        ("CVE-2023-30861", "Flask", "2.0.3", "2.3.2, 2.2.5", LANG),
        ("CVE-2023-25577", "Werkzeug", "2.0.3", "2.2.3", LANG),
        ("CVE-2024-22195", "Jinja2", "3.1.0", "3.1.3", LANG),
    ],
    "scorer-092": [
        ("CVE-2024-6345", "setuptools", "65.5.1", "70.0.0", LANG),
        ("CVE-2011-3374", "apt", "2.6.1", None, DEB),
    ],
    "checkout": [
        ("CVE-2024-24790", "stdlib", "go1.21.6", "1.21.11, 1.22.4", LANG),
        ("CVE-2023-45288", "golang.org/x/net", "v0.17.0", "0.23.0", LANG),
        ("CVE-2023-50495", "libncursesw6", "6.4-4", None, DEB),
    ],
}


LANG_ECOSYSTEM = {
    "urllib3": "pypi",
    "setuptools": "pypi",
    "Flask": "pypi",
    "Werkzeug": "pypi",
    "Jinja2": "pypi",
    "cross-spawn": "npm",
    "stdlib": "golang",
    "golang.org/x/net": "golang",
}
OS_RELEASE = {
    "debug-shell": ("alpine", "3.20.2"),
    "ingress-controller": ("alpine", "3.19.1"),
    "cpuad": ("alpine", "3.20.0"),
    "kaniko-demo": ("alpine", "3.14.2"),
}


def os_of(key: str) -> tuple[str, str]:
    return OS_RELEASE.get(key, ("debian", "12.5"))


def trivy_vuln(
    cve: str,
    pkg: str,
    installed: str,
    fixed: str | None,
    cls: str,
    family: str,
    diff_id: str,
) -> dict[str, Any]:
    severity, score, title, published = CVES[cve]
    eco = family if cls == DEB else LANG_ECOSYSTEM[pkg]
    purl_type = {"debian": "deb", "alpine": "apk"}.get(eco, eco)
    purl = (
        f"pkg:{purl_type}/{family}/{pkg}@{installed}"
        if cls == DEB
        else f"pkg:{purl_type}/{pkg}@{installed}"
    )
    v: dict[str, Any] = {
        "VulnerabilityID": cve,
        "PkgID": f"{pkg}@{installed}",
        "PkgName": pkg,
        "PkgIdentifier": {"PURL": purl, "UID": hex64(f"{cve}/{pkg}")[:16]},
        "InstalledVersion": installed,
    }
    if fixed:
        v["FixedVersion"] = fixed
    v["Status"] = (
        "fixed"
        if fixed
        else ("will_not_fix" if cve == "CVE-2023-45853" else "affected")
    )
    v["Layer"] = {"DiffID": diff_id}
    if cls == LANG:
        v["SeveritySource"] = "ghsa"
    v["PrimaryURL"] = f"https://avd.aquasec.com/nvd/{cve.lower()}"
    v["DataSource"] = (
        {
            "ID": "debian",
            "Name": "Debian Security Tracker",
            "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
        }
        if family == "debian" and cls == DEB
        else {
            "ID": "alpine",
            "Name": "Alpine Secdb",
            "URL": "https://secdb.alpinelinux.org/",
        }
        if cls == DEB
        else {
            "ID": "ghsa",
            "Name": f"GitHub Security Advisory {eco}",
            "URL": f"https://github.com/advisories?query=type%3Areviewed+ecosystem%3A{eco}",
        }
    )
    v["Title"] = title
    v["Description"] = f"{title}."
    v["Severity"] = severity
    v["VendorSeverity"] = {
        "nvd": {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}[severity]
    }
    v["CVSS"] = {
        "nvd": {
            "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            if score >= 9
            else "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "V3Score": score,
        }
    }
    v["References"] = [
        f"https://nvd.nist.gov/vuln/detail/{cve}",
        f"https://www.cve.org/CVERecord?id={cve}",
    ]
    v["PublishedDate"] = published
    v["LastModifiedDate"] = "2025-03-18T08:15:10.2Z"
    return v


def trivy_report(
    key: str,
    artifact: str,
    repo_tags: list[str],
    repo_digests: list[str],
    image_id: str,
    config: dict[str, Any] | None,
    scanned: datetime,
) -> dict[str, Any]:
    family, release = os_of(key)
    if config is None:
        diff_ids = [f"sha256:{hex64(f'{key}/diff/{i}')}" for i in range(5)]
        config = {
            "architecture": "amd64",
            "created": "2025-01-01T00:00:00Z",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Env": BASES["python"]["env"]},
        }
    diff_ids = config["rootfs"]["diff_ids"]
    results: dict[str, list[dict[str, Any]]] = {DEB: [], LANG: []}
    for n, (cve, pkg, installed, fixed, cls) in enumerate(FINDINGS[key]):
        results[cls].append(
            trivy_vuln(
                cve,
                pkg,
                installed,
                fixed,
                cls,
                family,
                diff_ids[min(n, len(diff_ids) - 1)],
            )
        )
    lang_type = "node-pkg" if key == "storefront" else "python-pkg"
    lang_target = {"node-pkg": "Node.js", "python-pkg": "Python"}[lang_type]
    out = [
        {
            "Target": f"{artifact} ({family} {release})",
            "Class": "os-pkgs",
            "Type": family,
            **({"Vulnerabilities": results[DEB]} if results[DEB] else {}),
        }
    ]
    if results[LANG]:
        out.append(
            {
                "Target": lang_target,
                "Class": "lang-pkgs",
                "Type": lang_type,
                "Vulnerabilities": results[LANG],
            }
        )
    return {
        "SchemaVersion": 2,
        "CreatedAt": nano_time(scanned).replace("Z", "+00:00"),
        "ArtifactName": artifact,
        "ArtifactType": "container_image",
        "Metadata": {
            "OS": {"Family": family, "Name": release},
            "ImageID": image_id,
            "DiffIDs": diff_ids,
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "ImageConfig": config,
        },
        "Results": out,
    }


def grype_report(img: Image, scanned: datetime) -> dict[str, Any]:
    assert img.config is not None, "grype scans a synthetic image"
    matches = []
    for cve, pkg, installed, fixed, _cls in FINDINGS[img.key]:
        severity, score, title, _ = CVES[cve]
        golang = pkg in ("stdlib", "golang.org/x/net")
        matches.append(
            {
                "vulnerability": {
                    "id": cve,
                    "dataSource": (
                        f"https://github.com/advisories/GHSA-{hex64(cve)[:4]}-{hex64(cve)[4:8]}-{hex64(cve)[8:12]}"
                        if golang
                        else f"https://security-tracker.debian.org/tracker/{cve}"
                    ),
                    "namespace": "github:language:go"
                    if golang
                    else "debian:distro:debian:12",
                    "severity": severity.capitalize(),
                    "urls": [f"https://nvd.nist.gov/vuln/detail/{cve}"],
                    "description": title,
                    "cvss": [
                        {
                            "version": "3.1",
                            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                            "metrics": {
                                "baseScore": score,
                                "exploitabilityScore": 3.9,
                                "impactScore": 5.9,
                            },
                            "vendorMetadata": {},
                        }
                    ],
                    "fix": {
                        "versions": [v.strip() for v in fixed.split(",")]
                        if fixed
                        else [],
                        "state": "fixed" if fixed else "not-fixed",
                    },
                    "advisories": [],
                },
                "relatedVulnerabilities": [
                    {
                        "id": cve,
                        "dataSource": f"https://nvd.nist.gov/vuln/detail/{cve}",
                        "namespace": "nvd:cpe",
                        "severity": severity.capitalize(),
                        "urls": [f"https://nvd.nist.gov/vuln/detail/{cve}"],
                        "description": title,
                        "cvss": [
                            {
                                "version": "3.1",
                                "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                "metrics": {
                                    "baseScore": score,
                                    "exploitabilityScore": 3.9,
                                    "impactScore": 5.9,
                                },
                                "vendorMetadata": {},
                            }
                        ],
                    }
                ],
                "matchDetails": [
                    {
                        "type": "exact-direct-match",
                        "matcher": "go-module-matcher" if golang else "dpkg-matcher",
                        "searchedBy": (
                            {
                                "language": "go",
                                "namespace": "github:language:go",
                                "package": {"name": pkg, "version": installed},
                            }
                            if golang
                            else {
                                "distro": {"type": "debian", "version": "12"},
                                "namespace": "debian:distro:debian:12",
                                "package": {"name": pkg, "version": installed},
                            }
                        ),
                        "found": {
                            "versionConstraint": f"< {fixed.split(',')[0]} ({'go' if golang else 'deb'})"
                            if fixed
                            else "none (deb)",
                            "vulnerabilityID": cve,
                        },
                    }
                ],
                "artifact": {
                    "id": hex64(f"grype/{pkg}")[:16],
                    "name": pkg,
                    "version": installed,
                    "type": "go-module" if golang else "deb",
                    "locations": [
                        {
                            "path": "/usr/local/bin/checkout-agent"
                            if golang
                            else "/var/lib/dpkg/status",
                            "layerID": img.config["rootfs"]["diff_ids"][-1],
                        }
                    ],
                    "language": "go" if golang else "",
                    "licenses": ["BSD-3-Clause"] if golang else [],
                    "cpes": [
                        f"cpe:2.3:a:golang:{pkg.split('/')[-1]}:{installed.lstrip('gov')}:*:*:*:*:*:*:*"
                    ],
                    "purl": (
                        f"pkg:golang/{pkg}@{installed}"
                        if golang
                        else f"pkg:deb/debian/{pkg}@{installed}?arch=amd64&distro=debian-12"
                    ),
                    "upstreams": [],
                },
            }
        )
    manifest = MANIFESTS[img.digest]
    return {
        "matches": matches,
        "source": {
            "type": "image",
            "target": {
                "userInput": f"{img.image}:{img.tags[0]}",
                "imageID": img.config_digest,
                "manifestDigest": img.digest,
                "mediaType": img.media_type,
                "tags": [f"{img.image}:{tag}" for tag in img.tags],
                "imageSize": img.size,
                "layers": [
                    {"mediaType": DOCKER_LAYER, "digest": diff, "size": size}
                    for diff, (_, size) in zip(
                        img.config["rootfs"]["diff_ids"], img.layers, strict=True
                    )
                ],
                "manifest": base64.b64encode(manifest).decode(),
                "config": base64.b64encode(CONFIGS[img.digest]).decode(),
                "repoDigests": [f"{img.image}@{img.digest}"],
                "architecture": "amd64",
                "os": "linux",
            },
        },
        "distro": {"name": "debian", "version": "12", "idLike": []},
        "descriptor": {
            "name": "grype",
            "version": "0.79.3",
            "configuration": {
                "output": ["json"],
                "file": "",
                "distro": "",
                "add-cpes-if-none": False,
                "output-template-file": "",
                "check-for-app-update": True,
                "only-fixed": False,
                "only-notfixed": False,
                "ignore-wontfix": "",
                "platform": "",
                "search": {
                    "scope": "squashed",
                    "unindexed-archives": False,
                    "indexed-archives": True,
                },
                "ignore": None,
                "exclude": [],
                "db": {
                    "cache-dir": "/home/runner/.cache/grype/db",
                    "update-url": "https://toolbox-data.anchore.io/grype/databases/listing.json",
                    "ca-cert": "",
                    "auto-update": True,
                    "validate-by-hash-on-start": False,
                    "validate-age": True,
                    "max-allowed-built-age": 432000000000000,
                },
                "fail-on-severity": "",
                "registry": {
                    "insecure-skip-tls-verify": False,
                    "insecure-use-http": False,
                    "auth": None,
                    "ca-cert": "",
                },
            },
            "db": {
                "built": "2025-06-20T01:31:42Z",
                "schemaVersion": 5,
                "location": "/home/runner/.cache/grype/db/5",
                "checksum": "sha256:" + hex64("grype-db"),
                "error": None,
            },
            "timestamp": nano_time(scanned).replace("Z", "+00:00"),
        },
    }


def write_scans(es: Estate) -> None:
    I = IMAGES  # noqa: E741
    scanned = t("2025-06-21T03:12:44.918273Z")

    def by_digest(key: str, tagged: bool) -> None:
        img = I[key]
        artifact = (
            f"{img.image}:{img.tags[0]}" if tagged else f"{img.image}@{img.digest}"
        )
        report = trivy_report(
            key,
            artifact,
            [artifact] if tagged else [],
            [f"{img.image}@{img.digest}"],
            img.config_digest or "",
            img.config,
            scanned + timedelta(seconds=num(key, 5, 900)),
        )
        es.json(f"scans/trivy/{key}.json", report)

    # The old payments/api digest is scanned by digest: its tag has moved on.
    by_digest("api-old", tagged=False)
    for key in (
        "api-new",
        "contoso-api",
        "storefront",
        "debug-shell",
        "ingress-controller",
        "cpuad",
        "django",
        "kaniko-demo",
        "scorer-092",
    ):
        by_digest(key, tagged=True)
    hub = I["hub"]
    child = hub.children[0]
    artifact = f"{hub.image}@{child['digest']}"
    es.json(
        "scans/trivy/hub-linux-amd64.json",
        trivy_report(
            "hub/amd64",
            artifact,
            [],
            [artifact],
            child["config"],
            None,
            scanned + timedelta(seconds=301),
        ),
    )
    es.json(
        "scans/grype/retail-checkout.json",
        grype_report(I["checkout"], scanned),
        indent=4,
    )


# --------------------------------------------------------------------------- owners

OWNERS_TOML = """\
# Ownership overrides for the sample estate: glob = owner, first match in file order wins.
# A glob whose first segment holds a dot or a colon matches image references; any other
# glob matches repositories, spelled OWNER/REPO (GitHub) or ORG/PROJECT/REPO (Azure DevOps).
"contoso/Payments/contoso-api" = "@contoso/payments-oncall"
"contoso/Payments/*" = "payments-team"
"europe-west1-docker.pkg.dev/contoso-prod/ml/*" = "@contoso/ml-platform"
"""

CODEOWNERS = {
    "github/contoso/payments-api/CODEOWNERS": """\
# Code owners for contoso/payments-api. The last matching pattern wins.
*                       @contoso/platform
/services/              @contoso/backend
/services/api/          @contoso/payments
/services/api/*.md      @contoso/tech-writers
/.github/workflows/     @contoso/platform-ci
""",
    "github/contoso/copilot-usage-advanced-dashboard/CODEOWNERS": """\
*                       @contoso/devex
/src/cpuad-updater/     @contoso/devex-jobs
""",
    "github/contoso/django-webapp/CODEOWNERS": """\
# Web team owns the app; docs and deployment have their own reviewers.
*               @contoso/web-team
/docs/          @contoso/tech-writers
/deploy/        @contoso/sre
""",
    "github/contoso/release-tools/CODEOWNERS": """\
*                       @contoso/release-eng
/images/kube-cross/     @contoso/sig-release
""",
    "github/contoso/ml-scorer/CODEOWNERS": """\
*               @contoso/ml
/docker/        @contoso/ml-infra
""",
    "github/contoso/platform-images/CODEOWNERS": """\
*       @contoso/platform
""",
    "azure_devops/contoso/Payments/contoso-api/CODEOWNERS": """\
*                       @contoso/payments-dev
""",
    "azure_devops/contoso/Retail/storefront/CODEOWNERS": """\
*                       @contoso/retail-web
/docs/                  @contoso/tech-writers
/deploy/helm/           @contoso/retail-sre
""",
    "azure_devops/contoso/Retail/checkout/CODEOWNERS": """\
# Retail checkout service. The last matching pattern wins.
*                       @contoso/retail-platform
/src/                   @contoso/retail-devs
/src/Checkout/          @contoso/retail-checkout
*.md                    @contoso/retail-docs
""",
}

CATALOG_INFO = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: copilot-usage-advanced-dashboard
  description: Copilot usage dashboards and the hourly updater job.
  annotations:
    github.com/project-slug: contoso/copilot-usage-advanced-dashboard
spec:
  type: service
  lifecycle: production
  owner: team-devex
  system: developer-insights
"""


def write_owners(es: Estate) -> None:
    es.text("owners.toml", OWNERS_TOML)
    for path, text in CODEOWNERS.items():
        es.text(path, text)
    es.text(
        "github/contoso/copilot-usage-advanced-dashboard/catalog-info.yaml",
        CATALOG_INFO,
    )


# --------------------------------------------------------------------------- expected results


def gh_run(run_id: int) -> GhRun:
    return next(r for r in GH_RUNS if r.id == run_id)


def ado_build(build_id: int) -> AdoBuild:
    return next(b for b in ADO_BUILDS if b.id == build_id)


def run_facts(ref: tuple[str, int]) -> dict[str, str]:
    kind, ident = ref
    if kind == "gh":
        run = gh_run(ident)
        return {"run_url": run.html_url, "repo": run.repo, "commit": run.sha}
    build = ado_build(ident)
    return {
        "run_url": build.web_url,
        "repo": f"contoso/{build.project}/{build.repo}",
        "commit": build.sha,
    }


# key: (status, method, run, owner, owner_source, reason)
MAPPING: dict[
    str,
    tuple[str, str | None, tuple[str, int] | None, str | None, str | None, str | None],
] = {
    "api-old": (
        "mapped",
        "log-digest",
        ("gh", 15330011201),
        "@contoso/payments",
        "codeowners",
        None,
    ),
    "api-new": (
        "mapped",
        "log-digest",
        ("gh", 15640022302),
        "@contoso/payments",
        "codeowners",
        None,
    ),
    "contoso-api": (
        "mapped",
        "log-digest",
        ("ado", 2841),
        "@contoso/payments-oncall",
        "override",
        None,
    ),
    "storefront": (
        "mapped",
        "ado-labels",
        ("ado", 5120),
        "@contoso/retail-web",
        "codeowners",
        None,
    ),
    "debug-shell": (
        "unmapped",
        None,
        None,
        None,
        None,
        "No run pushed contosoacr.azurecr.io/tools/debug-shell: no build log names its "
        "digest or tag and its config has no build labels (it was pushed by hand).",
    ),
    "ingress-controller": (
        "unmapped",
        None,
        None,
        None,
        None,
        "Imported from upstream: its OCI labels name "
        "https://github.com/kubernetes/ingress-nginx, but no exported run of that "
        "repository pushed it and no build log names it.",
    ),
    "cpuad": (
        "mapped",
        "log-digest",
        ("gh", 15062719843),
        "team-devex",
        "catalog",
        None,
    ),
    "django": (
        "mapped",
        "log-digest",
        ("gh", 13876554321),
        "@contoso/web-team",
        "codeowners",
        None,
    ),
    "checkout": (
        "mapped",
        "ado-labels",
        ("ado", 5131),
        "@contoso/retail-checkout",
        "codeowners",
        None,
    ),
    "checkout-pr": (
        "mapped",
        "ado-labels",
        ("ado", 5137),
        "@contoso/retail-checkout",
        "codeowners",
        None,
    ),
    "worker": (
        "mapped",
        "log-digest",
        ("ado", 5140),
        "dana.whitfield@contoso.example",
        "requester",
        None,
    ),
    "image-builder": (
        "mapped",
        "tag-commit",
        ("gh", 283912754),
        "@contoso/release-eng",
        "codeowners",
        None,
    ),
    "base-node": (
        "mapped",
        "tag-time",
        ("gh", 15759988776),
        "@contoso/platform",
        "codeowners",
        None,
    ),
    "scorer-091": (
        "mapped",
        "log-digest",
        ("gh", 15301234567),
        "@contoso/ml-platform",
        "override",
        None,
    ),
    "scorer-092": (
        "mapped",
        "oci-labels",
        ("gh", 15712345678),
        "@contoso/ml-platform",
        "override",
        None,
    ),
    "base-python": (
        "ambiguous",
        "tag-time",
        None,
        None,
        None,
        "Two runs pushed europe-west1-docker.pkg.dev/contoso-prod/shared/base-python:latest "
        "without printing a digest while the tag landed on this digest: "
        "https://github.com/contoso/platform-images/actions/runs/15759988776 and "
        "https://github.com/contoso/ml-scorer/actions/runs/15760011223; "
        "tag-time cannot tell them apart.",
    ),
    "hub": (
        "mapped",
        "log-digest",
        ("gh", 13432118876),
        "hub-maintainers",
        "label",
        None,
    ),
    "kaniko-demo": (
        "mapped",
        "log-digest",
        ("gh", 12769001234),
        "mei.tanaka@contoso.example",
        "commit-author",
        None,
    ),
}

# What the clusters are built to expose; ``check_exposure`` recomputes it from the objects.
EXPECTED_EXPOSURE = {
    ("aks-prod", "hub", "Deployment/hub", "hub"): "load-balancer",
    ("aks-prod", "payments", "Deployment/api", "api"): "load-balancer",
    ("aks-prod", "retail", "Deployment/storefront", "storefront"): "ingress",
    ("aks-prod", "tools", "Deployment/debug-shell", "shell"): "node-port",
    ("eks-legacy", "retail", "Deployment/checkout", "checkout"): "node-port",
    ("eks-legacy", "web", "Deployment/django-webapp", "web"): "load-balancer",
}


def expected_images() -> list[dict[str, Any]]:
    rows = []
    for key, img in IMAGES.items():
        status, method, run, owner, source, reason = MAPPING[key]
        facts = (
            run_facts(run) if run else {"run_url": None, "repo": None, "commit": None}
        )
        rows.append(
            {
                "image": img.image,
                "digest": img.digest,
                "tags": sorted(img.tags),
                "status": status,
                "method": method,
                **facts,
                "owner": owner,
                "owner_source": source,
                "unmapped_reason": reason,
            }
        )
    rows += UNLISTED_EXPECTED
    return sorted(rows, key=lambda r: (r["image"], r["digest"]))


def _unlisted(image: str, label: str, owner: str | None) -> dict[str, Any]:
    """A running image that no registry export lists: unmapped, with its reason."""
    return {
        "image": image,
        "digest": f"sha256:{hex64(label)}",
        "tags": [],
        "status": "unmapped",
        "method": None,
        "run_url": None,
        "repo": None,
        "commit": None,
        "owner": owner,
        "owner_source": "label" if owner else None,
        "unmapped_reason": "no registry read lists it; it runs in a cluster",
    }


UNLISTED_EXPECTED = [
    _unlisted("mcr.microsoft.com/oss/kubernetes/coredns", "coredns", None),
    # The retail namespace's team label owns the sidecar of its storefront.
    _unlisted("mcr.microsoft.com/oss/fluent/fluent-bit", "fluent-bit", "retail"),
    _unlisted("602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy", "kube-proxy", None),
]


def workload_of(cluster: Cluster, pod: dict[str, Any]) -> str:
    owner = pod["metadata"]["ownerReferences"][0]
    kind, name = owner["kind"], owner["name"]
    parents = {
        item["metadata"]["name"]: item
        for k in ("ReplicaSet", "Job")
        for item in cluster.items[k]
        if item["metadata"]["namespace"] == pod["metadata"]["namespace"]
    }
    if kind in ("ReplicaSet", "Job") and name in parents:
        grand = parents[name]["metadata"].get("ownerReferences")
        if grand:
            kind, name = grand[0]["kind"], grand[0]["name"]
    return f"{kind}/{name}"


def exposure_of(cluster: Cluster, pod: dict[str, Any]) -> str:
    """Internet exposure of a pod, from Services (selector) and Ingresses (backends)."""
    ns, labels = pod["metadata"]["namespace"], pod["metadata"]["labels"]
    found = set()
    selecting = []
    for svc in cluster.items["Service"]:
        sel = svc["spec"].get("selector")
        if svc["metadata"]["namespace"] != ns or not sel:
            continue
        if all(labels.get(k) == v for k, v in sel.items()):
            selecting.append(svc["metadata"]["name"])
            annotations = svc["metadata"].get("annotations") or {}
            internal = (
                annotations.get(
                    "service.beta.kubernetes.io/azure-load-balancer-internal"
                )
                == "true"
                or annotations.get(
                    "service.beta.kubernetes.io/aws-load-balancer-internal"
                )
                == "true"
                or annotations.get("networking.gke.io/load-balancer-type") == "Internal"
            )
            if svc["spec"]["type"] == "LoadBalancer" and not internal:
                found.add("load-balancer")
            elif svc["spec"]["type"] == "NodePort":
                found.add("node-port")
    for ing in cluster.items["Ingress"]:
        if ing["metadata"]["namespace"] != ns:
            continue
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if path["backend"]["service"]["name"] in selecting:
                    found.add("ingress")
    for rank in ("ingress", "load-balancer", "node-port"):
        if rank in found:
            return rank
    return "none"


def severity_counts(digest: str) -> tuple[int, int]:
    """Critical and high findings of a digest, counting its index parent and children."""
    related = {digest}
    for img in IMAGES.values():
        kids = {c["digest"] for c in img.children}
        if img.digest == digest:
            related |= kids
        if digest in kids:
            related.add(img.digest)
    crit = high = 0
    for key, findings in FINDINGS.items():
        scanned = (
            IMAGES["hub"].children[0]["digest"]
            if key == "hub/amd64"
            else IMAGES[key].digest
        )
        if scanned in related:
            crit += sum(CVES[f[0]][0] == "CRITICAL" for f in findings)
            high += sum(CVES[f[0]][0] == "HIGH" for f in findings)
    return crit, high


def expected_exposed(clusters: list[Cluster]) -> list[dict[str, Any]]:
    by_digest = {img.digest: img for img in IMAGES.values()}
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for cluster in clusters:
        for pod in cluster.items["Pod"]:
            exposure = exposure_of(cluster, pod)
            workload = workload_of(cluster, pod)
            for status in pod["status"]["containerStatuses"]:
                digest = "sha256:" + status["imageID"].rsplit("@sha256:", 1)[1]
                img = by_digest.get(digest)
                crit, high = severity_counts(digest) if img else (0, 0)
                key = (
                    cluster.name,
                    pod["metadata"]["namespace"],
                    workload,
                    status["name"],
                )
                if exposure == "none" or crit + high == 0:
                    continue
                assert img is not None
                status_, _, run, owner, _, _ = MAPPING[img.key]
                facts = (
                    run_facts(run)
                    if run
                    else {"run_url": None, "repo": None, "commit": None}
                )
                rows[key] = {
                    "cluster": key[0],
                    "namespace": key[1],
                    "workload": key[2],
                    "container": key[3],
                    "exposure": exposure,
                    "image": img.image,
                    "digest": digest,
                    "critical": crit,
                    "high": high,
                    **facts,
                    "owner": owner,
                }
    got = {k: v["exposure"] for k, v in rows.items()}
    if got != EXPECTED_EXPOSURE:
        raise SystemExit(
            f"exposure differs from the story:\n{got}\n{EXPECTED_EXPOSURE}"
        )
    return [rows[k] for k in sorted(rows)]


def write_expected(es: Estate, clusters: list[Cluster]) -> None:
    es.json(
        "EXPECTED.json",
        {
            "_comment": "What a correct `imagetrail run` concludes for this estate; see README.md "
            "for the story and examples/build_contoso.py for how it is generated.",
            "images": expected_images(),
            "exposed_high_cve_to_pipeline": expected_exposed(clusters),
        },
    )


# --------------------------------------------------------------------------- README


def write_readme(es: Estate, clusters: list[Cluster]) -> None:
    lines = [
        "# The contoso sample estate",
        "",
        "`make run` (that is, `imagetrail run` with no config) reads this folder as an export",
        'folder (the README\'s "Export layout") with `owners.toml` as the override file. Every file',
        "has the shape the named CLI or API writes. `EXPECTED.json` states what a correct run",
        "concludes for every image and for every internet-exposed workload with high or",
        "critical findings. The files are written by `examples/build_contoso.py`; edit that",
        "script, not the files, and run `python examples/build_contoso.py --check` to verify.",
        "",
        "## Who builds what",
        "",
        "| image | digest | tags | built by | decided by | owner (source) |",
        "|---|---|---|---|---|---|",
    ]
    for row in expected_images():
        key = next((k for k, i in IMAGES.items() if i.digest == row["digest"]), None)
        if key is None:
            status, method, run = row["status"], row["method"], None
            owner, source = row["owner"], row["owner_source"]
        else:
            status, method, run, owner, source, _ = MAPPING[key]
        if run and run[0] == "gh":
            r = gh_run(run[1])
            built = f"[{r.repo} {r.workflow} #{r.number}]({r.html_url})"
        elif run:
            b = ado_build(run[1])
            built = f"[ADO {b.project}/{b.repo} build {b.id}]({b.web_url})"
        else:
            built = "-"
        decided = (
            method
            if status == "mapped"
            else f"**{status}**" + (f" ({method})" if method else "")
        )
        lines.append(
            f"| `{row['image']}` | `{row['digest'][7:19]}` | {', '.join(row['tags']) or '(untagged)'} "
            f"| {built} | {decided} | {owner or '-'}{f' ({source})' if source else ''} |"
        )
    lines += [
        "",
        "## The traps, image by image",
        "",
        "- **payments/api, tag re-pushed.** Runs #88 and #93 of `contoso/payments-api` both pushed",
        "  `payments/api:release` with docker/build-push-action; each log prints its digest. The",
        "  registry now shows `release` on the new digest and the old one untagged, yet",
        "  `aks-prod/payments/api` (public LoadBalancer) still runs the old digest, which has the",
        "  critical finding. Run #93 is attempt 2: attempt 1 failed at `docker login`. The canary",
        "  runs the new digest behind a ClusterIP Service whose selector the public Service does",
        "  not share. Owner: CODEOWNERS, where `/services/api/` is the last line matching",
        "  `services/api/Dockerfile` (the build-push-action `file:` input).",
        "- **contoso-api (case 07).** The real Docker@2 debug log masks the registry host as `***`;",
        "  the digest is under ACR repository `contoso-api`. The override file's first matching",
        "  line (`contoso/Payments/contoso-api`) wins over the later `contoso/Payments/*` and over",
        "  the repository's CODEOWNERS. Its Service is an internal Azure load balancer: not exposed.",
        "- **retail/storefront, labels only.** Build 5120 is older than the export's horizon, so",
        "  builds.json holds its Build record but there is no timeline and no log. Only the",
        "  Docker@2 config labels (`com.azure.dev.image.build.builduri = vstfs:///Build/Build/5120`)",
        "  tie the digest to it. With no Dockerfile path known, CODEOWNERS gives its catch-all.",
        "  Exposed through an Ingress to a ClusterIP Service; the pod's log-shipper sidecar image",
        "  is in no export.",
        "- **tools/debug-shell** was pushed by hand: exposed by a NodePort, has findings, unmapped.",
        "- **mirror/ingress-nginx/controller** was imported; its OCI labels name a repository that",
        "  no exported run built, so they prove nothing. Unmapped; its findings are medium and low.",
        "- **cpuad-updater-job (case 03).** ACR Tasks push step; `catalog-info.yaml` (`team-devex`)",
        "  wins over the repository's CODEOWNERS. Runs as a CronJob, not exposed.",
        "- **django-webapp-code (case 35).** The log pushes `<registry-id>.dkr.ecr...` (the author's",
        "  placeholder), the export is under account 111122223333: the digest and repository path",
        "  decide. The tag points at an OCI index whose children are a platform manifest and an",
        "  attestation manifest (`manifests/79e9...json`). eks-legacy runs dockershim, so imageID",
        "  reads `docker-pullable://...`.",
        "- **retail/checkout.** Docker@2 buildAndPush adds the labels and its log prints the digest",
        "  twice (two tags); ado-labels is the stronger rung. The Dockerfile path comes from",
        "  `-f /home/vsts/work/1/s/src/Checkout/Dockerfile` (relative to the sources directory",
        "  `/home/vsts/work/1/s`), so the CODEOWNERS line `/src/Checkout/` decides. Scanned by grype.",
        "  The `pr-87` digest comes from pull-request build 5137: its commit is the merge commit",
        "  (`sourceVersion`), not the PR head in `triggerInfo.pr.sourceSha`.",
        "- **retail/worker.** Script `docker build` plus a Docker@2 `push`: no labels. No CODEOWNERS,",
        "  no team label on eks-legacy's `retail` namespace and Azure DevOps states no commit",
        "  author, so the owner is the requester. Running, never scanned.",
        "- **image-builder (case 43).** The Cloud Build log cuts the digest after 21 hex digits, so",
        "  no log-digest link. The gcr.io-domain Artifact Registry listing shows",
        "  `v20191021-7fae937ad` on a digest created inside the run's window (tag-time), and the tag",
        "  ends with `7fae937ad`, the short SHA of the commit the run built: tag-commit, the",
        "  stronger rung, decides.",
        "- **ml/scorer.** 0.9.1 was pushed with a classic `docker push` (log-digest). 0.9.2 was",
        "  pushed by an old kaniko that prints no digest; the config's",
        "  `org.opencontainers.image.source` (`https://github.com/contoso/ml-scorer.git`) and",
        "  `.revision` name run #34's repository and commit. The image glob in `owners.toml` decides",
        "  the owner of both.",
        "- **shared/base-node, tag-time only.** The platform-images nightly pushed",
        "  `base-node:latest` with an old kaniko that prints no digest; the tag is on a digest",
        "  created inside that run's window, no other run pushed the repository, and the config",
        "  has no labels.",
        "- **shared/base-python, ambiguous.** `contoso/platform-images` nightly and a copy of that",
        "  workflow in `contoso/ml-scorer` both pushed `base-python:latest` (kaniko `--reproducible`,",
        "  no digest printed) in overlapping windows; the config has no labels. Neither may be picked.",
        "- **contoso/hub (case 09).** BuildKit pushed a two-platform index (`manifests/3a5a...json`).",
        "  Pods run the index digest; trivy scanned the linux/amd64 child `c749ca3e...`. The repo",
        "  has no CODEOWNERS, so the `team` label of aks-prod's `hub` namespace decides. Its commit",
        "  message holds `<pre>`, `&` and quotes, which reports must escape.",
        "- **kaniko-demo-image (case 17).** Real kaniko output with Windows console arrows. No",
        "  CODEOWNERS, not running anywhere: the commit author owns it.",
        "",
        "## Internet-exposed workloads with high or critical findings",
        "",
        "| cluster | namespace | workload / container | exposure | critical | high | owner |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['cluster']} | {r['namespace']} | {r['workload']} / {r['container']} "
            f"| {r['exposure']} | {r['critical']} | {r['high']} | {r['owner'] or '(unmapped)'} |"
            for r in expected_exposed(clusters)
        ],
        "",
        "Not in that list, on purpose: `payments/contoso-api` (high finding, but its",
        "LoadBalancer is internal), `payments/api-canary` (high finding, ClusterIP only),",
        "`ml/scorer` (ClusterIP), `ingress-nginx` (public, medium and low findings only),",
        "`cpuad` (CronJob, no Service), `retail/worker` on eks-legacy (no scan, no Service).",
        "",
        "## Real excerpts copied unchanged",
        "",
        "| case | file |",
        "|---|---|",
    ]
    lines += [f"| `{case}` | `{path}` |" for case, path in CASE_LOGS.items()]
    lines += [
        "",
        "The ECR listing of case 35 is in `ecr/111122223333/us-east-1/django-webapp-code.json`, with",
        "the account placeholder filled in and the media type fields the CLI prints added.",
        "Digests from the cases are real, so `manifests/` files for them (the two indexes and",
        "their platform children) cannot hash to their names; every synthetic digest is the",
        "sha256 of its `manifests/` file, and `configs/HEX.json` is the config blob of the",
        "manifest `HEX`.",
        "",
        "## Deliberate gaps",
        "",
        "- Digests in logs that are not pushed images: base images (`FROM ...@sha256:`), config",
        "  digests (`writing image`, `exporting config`, build-push-action's `ImageID`).",
        "- Images running in the clusters that no export lists: `mcr.microsoft.com/...` (coredns,",
        "  fluent-bit) and the EKS kube-proxy.",
        "- Run #412 of `contoso/payments-api` (pull request) builds without pushing.",
        "- Failed ADO build 2838 runs tests only.",
        "",
    ]
    es.text("README.md", "\n".join(lines))


# --------------------------------------------------------------------------- main


def reset() -> None:
    for registry in (MANIFESTS, CONFIGS, IMAGES):
        registry.clear()
    GH_RUNS.clear()
    ADO_BUILDS.clear()


def write_case_logs(es: Estate) -> None:
    for case, path in CASE_LOGS.items():
        source = CASES / case
        if not source.exists():
            # Without the shared cases folder, keep the copy already in the estate.
            source = OUT / path
        es.raw(path, source.read_bytes())


def build() -> Estate:
    reset()
    build_images()
    build_github_runs()
    build_ado()
    clusters = build_clusters()
    es = Estate()
    write_case_logs(es)
    write_github(es)
    write_azure_devops(es)
    write_manifests(es)
    write_registries(es)
    write_kubernetes(es, clusters)
    write_scans(es)
    write_owners(es)
    write_expected(es, clusters)
    write_readme(es, clusters)
    return es


DIGEST_IN_TEXT = re.compile(r"sha256:[0-9a-f]{64}")
PUSH_LINE = re.compile(
    r"(?:digest: |pushing manifest for \S+@|Pushed \S+@|exporting manifest list )(sha256:[0-9a-f]{64})"
)
OUTSIDE_EXPORTS = ("mcr.microsoft.com/", "602401143452.dkr.ecr.")


def registry_digests(es: Estate) -> set[str]:
    found: set[str] = set()
    for path, data in es.files.items():
        top = path.split("/", 1)[0]
        if top in ("acr", "gar"):
            for item in json.loads(data):
                found.add(item.get("digest") or item["version"])
        elif top == "ecr":
            found |= {d["imageDigest"] for d in json.loads(data)["imageDetails"]}
        elif top == "oci":
            found |= {d["Digest"] for d in json.loads(data)}
    for path, data in es.files.items():
        if path.startswith("manifests/"):
            doc = json.loads(data)
            if doc.get("mediaType") == OCI_INDEX:
                found |= {m["digest"] for m in doc["manifests"]}
    return found


def validate(es: Estate) -> list[str]:
    errors: list[str] = []
    for path, data in es.files.items():
        if path.endswith(".json"):
            try:
                json.loads(data)
            except ValueError as exc:
                errors.append(f"{path}: not JSON ({exc})")
    known = registry_digests(es)
    for path, data in es.files.items():
        if path.endswith(".txt"):
            for no, line in enumerate(data.decode("utf-8").splitlines(), 1):
                for digest in PUSH_LINE.findall(line):
                    if digest not in known:
                        errors.append(
                            f"{path}:{no}: pushed digest {digest} is in no registry export"
                        )
        elif path.startswith("kubernetes/"):
            for item in json.loads(data)["items"]:
                for status in item.get("status", {}).get("containerStatuses", []):
                    ref = status["imageID"].removeprefix("docker-pullable://")
                    if ref.startswith(OUTSIDE_EXPORTS):
                        continue
                    if "sha256:" + ref.rsplit("@sha256:", 1)[1] not in known:
                        errors.append(
                            f"{path}: {item['metadata']['name']} runs {ref}, in no export"
                        )
        elif path.startswith("scans/"):
            doc = json.loads(data)
            refs = (
                doc["Metadata"]["RepoDigests"]
                if "Metadata" in doc
                else doc["source"]["target"]["repoDigests"]
            )
            for ref in refs:
                if DIGEST_IN_TEXT.search(ref).group(0) not in known:  # type: ignore[union-attr]
                    errors.append(f"{path}: scanned {ref} is in no export")
        elif (
            path.startswith("configs/")
            and path.replace("configs/", "manifests/") not in es.files
        ):
            errors.append(f"{path}: no manifest with that digest")
    real = {IMAGES["hub"].digest, IMAGES["django"].digest} | {
        c["digest"] for k in ("hub", "django") for c in IMAGES[k].children
    }
    for digest, data in MANIFESTS.items():
        if sha256_of(data) != digest:
            errors.append(
                f"manifests/{digest_hex(digest)}.json does not hash to its name"
            )
    for path in es.files:
        if path.startswith("manifests/") and "sha256:" + Path(
            path
        ).stem not in real | set(MANIFESTS):
            errors.append(f"{path}: unexpected manifest")
    expected = json.loads(es.files["EXPECTED.json"])
    unlisted = {r["digest"] for r in UNLISTED_EXPECTED}
    for row in expected["images"]:
        if row["digest"] not in known | unlisted:
            errors.append(
                f"EXPECTED.json: {row['image']}@{row['digest']} is in no export"
            )
    in_big3 = [
        r
        for r in expected["images"]
        if not r["image"].startswith("docker.io/") and r["digest"] not in unlisted
    ]
    if len(in_big3) < 15:
        errors.append(f"only {len(in_big3)} images in ACR, ECR and Artifact Registry")
    errors += check_windows()
    errors += check_log_windows()
    return errors


def window(ref: tuple[str, int]) -> tuple[datetime, datetime]:
    if ref[0] == "gh":
        run = gh_run(ref[1])
        return run.started, run.updated
    build = ado_build(ref[1])
    return build.started, build.finished


def log_span(text: str) -> tuple[datetime, datetime]:
    stamps = [line[:28] for line in text.lstrip("\ufeff").splitlines()]
    return t(stamps[0][:26] + "Z"), t(stamps[-1][:26] + "Z")


def check_log_windows() -> list[str]:
    """Every synthetic log lies inside the job or task that wrote it."""
    errors = []
    spans = [
        (f"job {job.id}", job.log, job.started, job.completed)
        for run in GH_RUNS
        for job in run.jobs
        if job.log
    ]
    spans += [
        (f"build {b.id} log {tk.log_id}", task_log(tk), tk.start, tk.finish)
        for b in ADO_BUILDS
        for tk in b.tasks
        if tk.body is not None
    ]
    for name, text, start, end in spans:
        first, last = log_span(text)
        if not start <= first <= last <= end + timedelta(seconds=1):
            errors.append(f"{name}: log {first}..{last} outside {start}..{end}")
    return errors


def check_windows() -> list[str]:
    """Every mapped image was pushed while the run that built it was running."""
    errors = []
    for key, (status, _, run, *_rest) in MAPPING.items():
        runs = [run] if run else []
        if status == "ambiguous":
            runs = [("gh", 15759988776), ("gh", 15760011223)]
        for ref in runs:
            start, end = window(ref)
            if not start <= IMAGES[key].pushed <= end:
                errors.append(
                    f"{key}: pushed {IMAGES[key].pushed} outside {ref} {start}..{end}"
                )
    return errors


def compare(es: Estate, root: Path) -> list[str]:
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    diffs = [f"missing: {p}" for p in sorted(set(es.files) - on_disk)]
    diffs += [f"not generated: {p}" for p in sorted(on_disk - set(es.files))]
    diffs += [
        f"differs: {p}"
        for p in sorted(set(es.files) & on_disk)
        if (root / p).read_bytes() != es.files[p]
    ]
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the committed estate instead of writing it",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    es = build()
    errors = validate(es)
    if args.check:
        errors += compare(es, args.out)
    else:
        if args.out.exists():
            for stale in sorted(
                set(
                    p.relative_to(args.out).as_posix()
                    for p in args.out.rglob("*")
                    if p.is_file()
                )
                - set(es.files)
            ):
                (args.out / stale).unlink()
        es.write(args.out)
    for error in errors:
        print(error, file=sys.stderr)
    if not errors:
        print(
            f"{len(es.files)} files {'match' if args.check else 'written to'} {args.out}"
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

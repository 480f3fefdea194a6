"""Image pushes read from CI build logs: pure text in, push events out.

``parse_lines`` turns the lines of one log into ``PushEvent``s; ``parse_file``
does the same for a file, streaming it. One module per tool family holds that
tool's state machine; ``clean`` strips CI noise, ``refs`` reads references and
digests, ``core`` holds what the tools share, ``scan`` feeds them the lines.
"""

from __future__ import annotations

from etl.buildlogs.azure import AcrTasks, AzurePipelines
from etl.buildlogs.buildah import ContainersImage
from etl.buildlogs.buildkit import BuildKit
from etl.buildlogs.cloudbuild import CloudBuild
from etl.buildlogs.compose import Compose
from etl.buildlogs.crane import GoContainerRegistry
from etl.buildlogs.docker import DockerManifestPush, DockerPush
from etl.buildlogs.events import PushEvent
from etl.buildlogs.jib import Jib
from etl.buildlogs.kaniko import Kaniko
from etl.buildlogs.ko import Ko

# Announcers run before the tools whose output they name.
TOOLS = (
    AzurePipelines,
    AcrTasks,
    CloudBuild,
    Compose,
    DockerPush,
    DockerManifestPush,
    BuildKit,
    Kaniko,
    ContainersImage,
    GoContainerRegistry,
    Ko,
    Jib,
)

from etl.buildlogs.scan import parse_file, parse_lines  # noqa: E402

__all__ = ["TOOLS", "PushEvent", "parse_file", "parse_lines"]

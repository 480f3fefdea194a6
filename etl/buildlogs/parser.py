"""The parser of one log: every tool's state machine over its cleaned lines."""

from __future__ import annotations

from etl.buildlogs.azure import AcrTasks, AzurePipelines
from etl.buildlogs.buildah import ContainersImage
from etl.buildlogs.buildkit import BuildKit
from etl.buildlogs.clean import clean_line
from etl.buildlogs.cloudbuild import CloudBuild
from etl.buildlogs.compose import Compose
from etl.buildlogs.core import DOCKERFILE_NEEDLE, Context, Lookback
from etl.buildlogs.crane import GoContainerRegistry
from etl.buildlogs.docker import DockerManifestPush, DockerPush, DockerQuietPush
from etl.buildlogs.events import PushEvent
from etl.buildlogs.jib import Jib
from etl.buildlogs.kaniko import Kaniko
from etl.buildlogs.ko import Ko
from etl.buildlogs.nerdctl import Nerdctl
from etl.buildlogs.printed import PrintedRef

# Announcers come before the tools whose output they name.
TOOLS = (
    AzurePipelines,
    AcrTasks,
    CloudBuild,
    Compose,
    DockerPush,
    DockerManifestPush,
    DockerQuietPush,
    Nerdctl,
    BuildKit,
    Kaniko,
    ContainersImage,
    GoContainerRegistry,
    Ko,
    PrintedRef,
    Jib,
)


class Parser:
    """Runs every tool over the lines of one log."""

    def __init__(self, lookback: Lookback) -> None:
        self.ctx = Context(lookback)
        self.tools = [tool(self.ctx) for tool in TOOLS]

    @property
    def busy(self) -> bool:
        """Whether some tool needs the next line whatever it holds."""
        return bool(self.ctx.busy_tools)

    def feed(self, no: int, raw: str) -> None:
        line = clean_line(no, raw)
        if line is None:
            return
        self.ctx.line_no = no
        if line.cloud_build:
            self.ctx.cloud_build = True
        if DOCKERFILE_NEEDLE in line.text:
            self.ctx.note_dockerfile(line)
        for tool in self.tools:
            tool.feed(line)

    def finish(self) -> list[PushEvent]:
        for tool in self.tools:
            tool.finish()
        return self.ctx.ledger.result()

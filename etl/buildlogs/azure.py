"""Azure: the Docker@2 pipeline task and ACR Tasks (``az acr build``/``run``).

Docker@2 runs ``docker push`` itself; with ``system.debug`` it first logs
``##[debug]Pushing ImageNameWithTag: REF`` and afterwards echoes the whole
output again as a multi-line debug message. ACR Tasks log ``Pushing image: REF,
attempt N`` before each try of a ``docker push`` and ``Successfully pushed
image: REF`` after it, then list ``The following dependencies were found``:
the ``image`` entry holds the pushed digest, ``runtime-dependency`` and
``buildtime-dependency`` hold base images and never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Context, Tool
from etl.buildlogs.refs import full_digest, parse_image_ref

DOCKER2_PUSH_RE = re.compile(r"^Pushing ImageNameWithTag: (?P<ref>\S+)")
ACR_PUSHING_RE = re.compile(r"^Pushing image: (?P<ref>[^\s,]+), attempt \d+")
ACR_PUSHED_RE = re.compile(r"^Successfully pushed image: (?P<ref>\S+)")
DEPENDENCY_RE = re.compile(r"^(?P<dash>- )?(?P<key>[a-z-]+):\s*(?P<value>\S*)$")
DEPENDENCY_LINES = 400


@dataclass
class ImageEntry:
    registry: str = ""
    repository: str = ""
    tag: str | None = None
    digest: str | None = None


class AzurePipelines(Tool):
    """Docker@2's debug announcement of the ref it pushes."""

    def feed(self, line: Line) -> None:
        if line.debug and "ImageNameWithTag" in line.text:
            m = DOCKER2_PUSH_RE.match(line.text)
            ref = parse_image_ref(m.group("ref")) if m else None
            if ref is not None:
                self.ctx.announce(ref.with_tag("latest"), "docker2", line)


class AcrTasks(Tool):
    """ACR Tasks push announcements, results and the dependency report."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.since = 0
        self.entry: ImageEntry | None = None
        self.in_image = False

    def feed(self, line: Line) -> None:
        text = line.text
        if "ush" in text:
            if text.startswith("Pushing image: ") and (m := ACR_PUSHING_RE.match(text)):
                ref = parse_image_ref(m.group("ref"))
                if ref is not None:
                    self.ctx.announce(ref.with_tag("latest"), "acr-task", line)
                return
            if text.startswith("Successfully pushed image: ") and (
                m := ACR_PUSHED_RE.match(text)
            ):
                ref = parse_image_ref(m.group("ref"))
                if ref is not None:
                    self.ctx.emit("acr-task", line, ref.with_tag("latest"), True)
                    self.since, self.busy = line.no, True
                return
        if self.busy:
            self._dependency_line(line, text)

    def _dependency_line(self, line: Line, text: str) -> None:
        """Follow the YAML-like dependency report until the run's last line."""
        if text.startswith("Run ID:") or line.no - self.since > DEPENDENCY_LINES:
            self._flush()
            self.busy = False
            return
        m = DEPENDENCY_RE.match(text)
        if m is None:
            return
        # YAML quotes a value that would read as a number ("9", "1.0").
        key, value = m.group("key"), m.group("value").strip("\"'")
        if m.group("dash") or key in (
            "runtime-dependency",
            "buildtime-dependency",
            "git",
        ):
            self._flush()
            self.in_image = key == "image"
            self.entry = ImageEntry() if self.in_image else None
        elif self.in_image and self.entry is not None:
            if key == "registry":
                self.entry.registry = value
            elif key == "repository":
                self.entry.repository = value
            elif key == "tag":
                self.entry.tag = value or None
            elif key == "digest":
                self.entry.digest = full_digest(value)

    def _flush(self) -> None:
        entry, self.entry = self.entry, None
        if entry is None or not entry.digest or not entry.repository:
            return
        name = (
            f"{entry.registry}/{entry.repository}"
            if entry.registry
            else entry.repository
        )
        ref = parse_image_ref(name)
        if ref is not None:
            self.ctx.ledger.learn_digest(ref.image, entry.tag, entry.digest)

    def finish(self) -> None:
        self._flush()

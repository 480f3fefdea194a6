"""Google Cloud Build: the ``images:`` of a build are pushed after its steps.

Cloud Build prefixes step output with ``Step #N:`` (removed by ``clean``) and
then, in its PUSH phase, logs ``Pushing REF`` before the ``docker push`` output
(see ``docker``), whose digest line names only the tag.
"""

from __future__ import annotations

import re

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Tool
from etl.buildlogs.refs import parse_image_ref

# The "/" is checked apart: in the pattern it would let a long word split many ways.
PUSHING_RE = re.compile(r"^Pushing (?P<ref>[^\s\[(]+)$")


class CloudBuild(Tool):
    """``Pushing REF`` announcements of the PUSH phase."""

    def feed(self, line: Line) -> None:
        if not line.text.startswith("Pushing "):
            return
        m = PUSHING_RE.match(line.text)
        if m is None or "/" not in m.group("ref").strip("/"):
            return
        ref = parse_image_ref(m.group("ref"))
        if ref is not None:
            tool = "cloud-build" if self.ctx.cloud_build else "docker"
            self.ctx.announce(ref.with_tag("latest"), tool, line)

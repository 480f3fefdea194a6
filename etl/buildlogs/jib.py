"""Jib (Maven and Gradle): ``Built and pushed image as REF[, REF:TAG...]``.

Jib never logs the pushed digest; the only digest in its output is the base
image's (``Using base image with digest: sha256:...``), which is an input. A
ref without a tag is pushed as ``:latest``. ``Built image to Docker daemon``
and ``Built image tarball`` are local builds.
"""

from __future__ import annotations

import re

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Tool
from etl.buildlogs.refs import parse_image_ref

PUSHED_RE = re.compile(r"\bBuilt and pushed image as (?P<refs>.+)$")


class Jib(Tool):
    """The single success line Jib prints after the registry accepted the image."""

    def feed(self, line: Line) -> None:
        if "Built and pushed" not in line.text:
            return
        m = PUSHED_RE.search(line.text)
        if m is None:
            return
        for token in m.group("refs").split(","):
            ref = parse_image_ref(token.strip())
            if ref is not None:
                self.ctx.emit("jib", line, ref.with_tag("latest"), True)

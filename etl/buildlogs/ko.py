"""ko: ``Publishing REF`` then, after go-containerregistry's ``REF: digest:``
lines (see ``crane``), ``Published REPO@sha256:...`` for the image or index.
"""

from __future__ import annotations

import re

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Tool
from etl.buildlogs.refs import parse_image_ref

PUBLISHED_RE = re.compile(r"\bPublished (?P<ref>\S+@sha256:\S+)")


class Ko(Tool):
    """``Published`` lines; the digest lines before them name the tag."""

    def feed(self, line: Line) -> None:
        if "Published " not in line.text:
            return
        m = PUBLISHED_RE.search(line.text)
        ref = parse_image_ref(m.group("ref")) if m else None
        if ref is not None and ref.digest:
            self.ctx.emit("ko", line, ref, True)

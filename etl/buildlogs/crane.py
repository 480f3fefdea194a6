"""crane and other go-containerregistry clients (ko uses the same writer).

After a manifest is stored the library logs ``REF: digest: sha256:... size: N``
with the full reference. When it writes an index it first writes each platform
manifest by digest (``REPO@sha256:X: digest: sha256:X``): those are children
of the index, not outputs. Blob lines (``pushed blob``, ``mounted blob``,
``existing blob``) and base images named on the command line never are.
"""

from __future__ import annotations

import re

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Tool
from etl.buildlogs.refs import Ref, full_digest, parse_image_ref

DIGEST_RE = re.compile(r"(?:^|\s)(?P<ref>\S*[/:]\S*?): digest: (?P<digest>\S*)")


class GoContainerRegistry(Tool):
    """``REF: digest:`` lines of crane, ko and gcrane."""

    def feed(self, line: Line) -> None:
        text = line.text
        if "digest: " not in text or line.debug:
            return
        m = DIGEST_RE.search(text)
        if m is None or "@" in m.group("ref"):
            return
        ref = parse_image_ref(m.group("ref"))
        if ref is None or ref.tag is None:
            return
        self.ctx.emit(
            "crane", line, Ref(ref.image, ref.tag, full_digest(m.group("digest"))), True
        )

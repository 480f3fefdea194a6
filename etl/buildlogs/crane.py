"""crane and other go-containerregistry clients (ko uses the same writer).

After a manifest is stored the library logs ``REF: digest: sha256:... size: N``
with the full reference. When it writes an index it first writes each platform
manifest by digest (``REPO@sha256:X: digest: sha256:X``): those are children
of the index, not outputs. Blob lines (``pushed blob``, ``mounted blob``,
``existing blob``) and base images named on the command line never are.
"""

from __future__ import annotations

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Tool
from etl.buildlogs.refs import Ref, full_digest, parse_image_ref

DIGEST_MARK = ": digest: "


class GoContainerRegistry(Tool):
    """``REF: digest:`` lines of crane, ko and gcrane."""

    def feed(self, line: Line) -> None:
        text = line.text
        if "digest: " not in text or line.debug:
            return
        at = text.find(DIGEST_MARK)
        if at < 0:
            return
        words = text[:at].split()
        ref_text = words[-1] if words and text[at - 1] not in " \t" else ""
        if not any(c in ref_text for c in "/:") or "@" in ref_text:
            return
        ref = parse_image_ref(ref_text)
        if ref is None or ref.tag is None:
            return
        after = text[at + len(DIGEST_MARK) :]
        digest = full_digest(after.split(maxsplit=1)[0] if after[:1].strip() else "")
        self.ctx.emit("crane", line, Ref(ref.image, ref.tag, digest), True)

"""Docker Compose: ``compose build`` builds locally; ``compose push`` pushes.

Compose v1 logs ``Pushing SERVICE (REF)...`` and then plain ``docker push``
output (see ``docker``). Compose v2 prints one progress line per layer,
``Pushing REF: LAYER STATUS``, and no digest: the push counts once every
layer it showed is stored and no error follows (the errors are those of
``docker push``: an immutable tag is refused only after every layer is
stored). ``compose build`` output (``writing image sha256:...``, ``naming to
...``) names image ids of local builds and is never a push.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Context, Tool
from etl.buildlogs.docker import ERROR_RE
from etl.buildlogs.refs import Ref, parse_image_ref

V1_RE = re.compile(r"^Pushing (?P<service>\S+) \((?P<ref>[^)\s]+)\)\.\.\.")
V2_RE = re.compile(
    r"Pushing (?P<ref>\S+): (?P<layer>[0-9a-f]{12}) (?P<status>.*\S)\s*$"
)
DONE_STATUSES = ("Pushed", "Layer already exists", "Mounted from")
QUIET_LINES = 20


@dataclass
class Upload:
    """The layers of one ``compose push`` ref and whether each is stored."""

    ref: Ref
    first: Line
    last: Line
    layers: dict[str, bool] = field(default_factory=dict)


class Compose(Tool):
    """Compose v1 announcements and v2 per-layer push progress."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.uploads: dict[tuple[str, str | None], Upload] = {}

    def feed(self, line: Line) -> None:
        text = line.text
        if "Pushing " in text:
            if m := V1_RE.match(text):
                ref = parse_image_ref(m.group("ref"))
                if ref is not None:
                    self.ctx.announce(ref.with_tag("latest"), "compose", line)
                return
            if m := V2_RE.search(text):
                self._layer(line, m.group("ref"), m.group("layer"), m.group("status"))
                return
        if not self.uploads:
            return
        if line.marker == "error" or ERROR_RE.match(text):
            self._settle_all(error=line)
        elif all(line.no - u.last.no > QUIET_LINES for u in self.uploads.values()):
            self._settle_all(error=None)

    def finish(self) -> None:
        self._settle_all(error=None)

    def _layer(self, line: Line, ref_text: str, layer: str, status: str) -> None:
        ref = parse_image_ref(ref_text)
        if ref is None:
            return
        ref = ref.with_tag("latest")
        upload = self.uploads.setdefault((ref.image, ref.tag), Upload(ref, line, line))
        upload.last = line
        upload.layers[layer] = status.startswith(DONE_STATUSES)
        self.busy = True

    def _settle_all(self, error: Line | None) -> None:
        """End every open upload: failed on an error, else pushed if all stored."""
        for upload in self.uploads.values():
            if error is not None:
                self.ctx.emit("compose", error, upload.ref, False)
            else:
                stored = bool(upload.layers) and all(upload.layers.values())
                self.ctx.emit("compose", upload.last, upload.ref, stored or None)
        self.uploads.clear()
        self.busy = False

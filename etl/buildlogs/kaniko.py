"""kaniko's executor: ``Pushing image to REF`` then, per destination, ``Pushed
REPO@sha256:...`` (newer releases, with the registry spelled out, e.g.
``index.docker.io``) or only ``Pushed image to N destinations`` (older ones, no
digest). With ``--cache=true`` kaniko also pushes cache layers to the cache repo
through the same code path; those pushes follow ``Pushing layer REF to cache
now`` and are not outputs. An image pushed without a tag is ``:latest``.
"""

from __future__ import annotations

import re
from collections import deque

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Context, Tool
from etl.buildlogs.refs import Ref, parse_image_ref

PUSHING_RE = re.compile(r"\bPushing image to (?P<ref>\S+)")
PUSHED_RE = re.compile(r"\bPushed (?P<ref>\S+@sha256:\S+)")
PUSHED_COUNT_RE = re.compile(r"\bPushed image to \d+ destinations?")
CACHE_RE = re.compile(r"\bPushing layer (?P<ref>\S+) to cache now")
FAILED_RE = re.compile(
    r"failed to push to destination (?P<ref>\S+?):\s"
    r"|checking push permission for \"(?P<quoted>[^\"]+)\""
)
MAX_PENDING = 64


class Kaniko(Tool):
    """Destinations announced by ``Pushing image to`` and waiting for ``Pushed``."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pending: deque[tuple[Ref, Line]] = deque(maxlen=MAX_PENDING)
        self.cache_images: deque[str] = deque(maxlen=MAX_PENDING)

    def feed(self, line: Line) -> None:
        text = line.text
        if "ush" not in text:
            return
        if "Pushing layer " in text and (m := CACHE_RE.search(text)):
            ref = parse_image_ref(m.group("ref"))
            if ref is not None:
                self.cache_images.append(ref.image)
        elif "Pushing image to " in text and (m := PUSHING_RE.search(text)):
            self._pushing(line, m.group("ref"))
        elif "Pushed image to " in text and PUSHED_COUNT_RE.search(text):
            while self.pending:
                ref, _ = self.pending.popleft()
                self.ctx.emit("kaniko", line, ref, True)
        elif "Pushed " in text and (m := PUSHED_RE.search(text)):
            self._pushed(line, m.group("ref"))
        elif "push" in text and (m := FAILED_RE.search(text + " ")):
            ref = parse_image_ref(m.group("ref") or m.group("quoted"))
            if ref is not None:
                self._failed(line, ref.with_tag("latest"))

    def finish(self) -> None:
        while self.pending:
            ref, line = self.pending.popleft()
            self.ctx.emit("kaniko", line, ref, None)

    def _pushing(self, line: Line, text: str) -> None:
        ref = parse_image_ref(text)
        if ref is None:
            return
        if ref.image in self.cache_images:
            return
        self.pending.append((ref.with_tag("latest"), line))

    def _pushed(self, line: Line, text: str) -> None:
        ref = parse_image_ref(text)
        if ref is None or ref.image in self.cache_images:
            return
        # A digest cut short (terminal width) still proves the push, not the digest.
        for i, (pending, _) in enumerate(self.pending):
            if pending.image == ref.image:
                del self.pending[i]
                self.ctx.emit(
                    "kaniko", line, Ref(ref.image, pending.tag, ref.digest), True
                )
                return
        if ref.digest is not None:
            self.ctx.emit("kaniko", line, ref, True)

    def _failed(self, line: Line, ref: Ref) -> None:
        for i, (pending, _) in enumerate(self.pending):
            if pending.image == ref.image and pending.tag == ref.tag:
                del self.pending[i]
                break
        self.ctx.emit("kaniko", line, ref, False)

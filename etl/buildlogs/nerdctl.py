"""nerdctl push: containerd's progress, one ``KIND-sha256:X: STATUS`` line per
object (``index-``, ``manifest-``, ``config-``, ``layer-``), then ``elapsed:``.

The output is the index when there is one (nerdctl names a reduced-platform
index it made in ``pushing as a reduced-platform image (TYPE, sha256:X)``),
else the one manifest; configs and layers never are. The block is redrawn,
each time ending in ``elapsed:``, until every object is ``done``: the push
stands once its output is. A pull prints the same block after ``REF: resolved``
lines; a pull echoed before the push in a script is not the push's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from etl.buildlogs.clean import Line
from etl.buildlogs.core import XTRACE, Context, Tool, subcommand_args
from etl.buildlogs.docker import ERROR_RE, command_ref, echoed_after
from etl.buildlogs.refs import Ref

TOOL_RE = re.compile(r"(?:^|[\s/;&|(\"'])nerdctl\s")
# Global options that take the next word: "-n k8s.io".
VALUE_OPTIONS = frozenset(
    {"-n", "--namespace", "-a", "--address", "-H", "--host", "--snapshotter"}
    | {"--data-root", "--cgroup-manager", "--cni-path", "--hosts-dir"}
)

OBJECT_RE = re.compile(
    r"^(?P<kind>index|manifest)-(?P<digest>sha256:[0-9a-f]{64}):\s+done\b"
)
REDUCED_RE = re.compile(
    r"pushing as a reduced-platform image \([^,]*, (?P<digest>sha256:[0-9a-f]{64})\)"
)
FATAL_RE = re.compile(r"^FATA\[|level=fatal\b")
RESOLVED_RE = re.compile(r"^\S+:\s+resolved\s")
# Commands that print the same progress block.
PROGRESS_COMMAND_RE = re.compile(r"\b(?:nerdctl|ctr)\b.*\b(?:pull|run|push|create)\b")
DONE = "elapsed: "
PUSH_LINES = 5_000


@dataclass
class Upload:
    ref: Ref
    start: Line
    index: str | None = None
    manifests: dict[str, Line] = field(default_factory=dict)
    evidence: Line | None = None  # where the output's digest was printed
    done: set[str] = field(default_factory=set)
    pulling: bool = False
    # Echoed in a script after another command printing such blocks: which
    # block is the push's cannot be told.
    ambiguous: bool = False

    def output(self) -> str | None:
        if self.index:
            return self.index
        return next(iter(self.manifests)) if len(self.manifests) == 1 else None


class Nerdctl(Tool):
    """One ``nerdctl push`` between its command line and ``elapsed:``."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.upload: Upload | None = None

    def feed(self, line: Line) -> None:
        text = line.text
        if "nerdctl" in text and (args := _push_args(text)) is not None:
            self._settle(None, line)
            ref = command_ref(args)
            if ref is not None:
                ambiguous = echoed_after(self.ctx, line, PROGRESS_COMMAND_RE)
                self.upload = Upload(ref.with_tag("latest"), line, ambiguous=ambiguous)
                self.busy = True
            return
        upload = self.upload
        if upload is None or line.debug:
            return
        if RESOLVED_RE.match(text):
            upload.pulling = True  # a pull's block, up to its elapsed: line
        elif m := REDUCED_RE.search(text):
            upload.index, upload.evidence = m.group("digest"), line
        elif (m := OBJECT_RE.match(text)) and not upload.pulling:
            digest = m.group("digest")
            upload.done.add(digest)
            if m.group("kind") == "index" and not upload.index:
                upload.index, upload.evidence = digest, line
            elif m.group("kind") == "manifest":
                upload.manifests.setdefault(digest, line)
        elif text.startswith(DONE):
            if upload.pulling:
                upload.pulling = False
            elif (output := upload.output()) and output in upload.done:
                self._settle(True, upload.evidence or line)
        elif FATAL_RE.search(text) or ERROR_RE.match(text) or line.marker == "error":
            self._settle(False, line)
        elif text.startswith(XTRACE) or line.no - upload.start.no > PUSH_LINES:
            self._settle(None, upload.start)

    def finish(self) -> None:
        if self.upload is not None:
            self._settle(None, self.upload.start)

    def _settle(self, pushed: bool | None, line: Line) -> None:
        upload, self.upload = self.upload, None
        self.busy = False
        if upload is None:
            return
        if upload.ambiguous:
            pushed, line = None, upload.start
        digest = upload.output() if pushed else None
        if pushed and not upload.index and digest:
            line = upload.manifests[digest]
        ref = Ref(upload.ref.image, upload.ref.tag, digest)
        self.ctx.emit("nerdctl", line, ref, pushed)


def _push_args(text: str) -> str | None:
    """The arguments of ``nerdctl [GLOBAL OPTIONS] [image] push ARGS``."""
    for m in TOOL_RE.finditer(text):
        args = subcommand_args(text[m.end() :], "push", VALUE_OPTIONS, ("image",))
        if args is not None:
            return args.split(";")[0]
    return None

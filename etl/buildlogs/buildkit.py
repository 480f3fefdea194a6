"""BuildKit progress output: ``docker buildx build --push``, build-push-action,
``buildctl``, and ``docker buildx imagetools create``.

Plain output prefixes each line with its vertex (``#37``); TTY output nests
``=> =>`` lines under the last ``=>`` line. The image exporter vertex lists what
it built (``exporting manifest sha256:A``, ``exporting config sha256:B``,
``exporting attestation manifest sha256:C``, ``exporting manifest list
sha256:D``) and then ``pushing manifest for REF[@sha256:D]`` per tag. The output
is the manifest list when there is one, else the single manifest; platform
children, configs, attestations, vertex ids and cache exports never are. A push
stands unless its vertex reports ``ERROR`` or ``CANCELED``. BuildKit marks a
manifest push ``done`` before the registry has accepted it, so a push stays
open for a few lines: a ``failed commit on ref "manifest-sha256:D"`` or an
``ERROR`` of its vertex right after still fails it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from etl.buildlogs.clean import Line
from etl.buildlogs.core import Context, Tool
from etl.buildlogs.refs import Ref, expand_abbreviation, full_digest, parse_image_ref

PLAIN_RE = re.compile(r"^#(?P<vertex>\d+) (?P<rest>.*)$")
# A TTY frame shows a step's duration once the step has finished.
DURATION_RE = re.compile(r"\d+(?:\.\d+)?s")
EXPORT_RE = re.compile(
    r"^exporting (?P<kind>manifest list|attestation manifest|manifest)"
    r" (?P<digest>sha256:\S+)"
)
PUSH_RE = re.compile(
    r"^(?:pushing manifest for|\[internal\] pushing) (?P<ref>\S+?)"
    r"(?P<done>\s+(?:\d+(?:\.\d+)?s\s+)?done)?$"
)
FAILED_PUSH_RE = re.compile(r"failed to push (?P<ref>\S+?):\s")
# imagetools logs the new image's digest under its push (after copying the
# sources, whose digests are children).
IMAGETOOLS_DIGEST_RE = re.compile(
    r"^(?:\d+\.\d+ )?pushing (?P<digest>sha256:[0-9a-f]{64}) to (?P<ref>\S+?)"
    r"(?P<done> done)?$"
)
FAILED_COMMIT_RE = re.compile(
    r"failed commit on ref \"(?:manifest|index)-(?P<digest>sha256:[0-9a-f]{64})\""
)
SOLVE_FAILED_RE = re.compile(r"(?i)\bfailed to solve\b")
PENDING_LINES = 1_000
# A GitHub job cancelled, as its runner prints it when the step's log ends.
CANCELED = "Error: The operation was canceled"
RELATED_LINES = 20
MAX_VERTICES = 64
TTY_VERTEX = "tty"


@dataclass
class Pending:
    ref: Ref
    line: Line
    tool: str
    dockerfile: str | None
    done_no: int | None = None  # the line that said "done"


@dataclass
class Vertex:
    """What one exporter vertex built and which pushes of it wait for an outcome."""

    manifest_list: str | None = None
    manifests: list[str] = field(default_factory=list)
    pushed_digests: list[str] = field(default_factory=list)
    pending: dict[tuple[str, str | None], Pending] = field(default_factory=dict)
    settled: set[tuple[str, str | None]] = field(default_factory=set)
    last_no: int = 0
    # TTY output: the exporter's last frame says ERROR before listing what it
    # did; the pushes it lists then failed.
    failed: bool = False

    def output(self) -> str | None:
        if self.manifest_list:
            return self.manifest_list
        return self.manifests[0] if len(self.manifests) == 1 else None

    def known(self) -> list[str]:
        out = self.output()
        return self.pushed_digests + ([out] if out else [])


class BuildKit(Tool):
    """Exporter vertices keyed by vertex number (or one for TTY output), and by
    the job that printed them when a merged log names jobs."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.vertices: dict[str, Vertex] = {}

    def feed(self, line: Line) -> None:
        text = line.text
        m = PLAIN_RE.match(text) if text[0] == "#" else None
        if "failed commit on ref" in text:
            self._failed_commit(line, text)
        if m:
            self._vertex_line(line, _key(line, m.group("vertex")), m.group("rest"))
        elif text.startswith("=> "):
            rest, took = _tty_step(text)
            if took and rest.startswith("pushing "):
                rest += " done"
            self._vertex_line(line, _key(line, TTY_VERTEX), rest)
        elif "failed to " in text:
            if "failed to push" in text:
                self._failed_push(line, text)
            if self.busy and SOLVE_FAILED_RE.search(text):
                self._fail_all(line)
        elif self.busy and (line.marker == "error" or text.startswith(CANCELED)):
            # The job ended (cancelled, timed out) with pushes still running.
            self._settle_open(line)
        if self.busy:
            self._settle_done(line)
            self._expire(line)

    def finish(self) -> None:
        for vertex in self.vertices.values():
            self._settle(vertex, True)
        self.vertices.clear()
        self.busy = False

    def _vertex_line(self, line: Line, key: str, rest: str) -> None:
        if rest.startswith("exporting "):
            m = EXPORT_RE.match(rest)
            if m:
                self._export(key, m.group("kind"), m.group("digest"))
        elif "pushing sha256:" in rest and (m := IMAGETOOLS_DIGEST_RE.match(rest)):
            ref = f"{m.group('ref')}@{m.group('digest')}"
            self._push(line, key, ref, bool(m.group("done")), "imagetools")
        elif rest.startswith(("pushing ", "[internal] pushing ")):
            m = PUSH_RE.match(rest.rstrip())
            if m:
                self._push(line, key, m.group("ref"), bool(m.group("done")))
        elif "failed to push" in rest:
            self._failed_push(line, rest)
            if key in self.vertices and rest.startswith("ERROR"):
                self._settle(self.vertices.pop(key), False, line)
        elif key in self.vertices:
            if rest.startswith("ERROR exporting") and _is_tty(key):
                self.vertices[key].failed = True  # its frame lists the pushes next
            elif rest.startswith(("ERROR", "CANCELED")) and _is_tty(key):
                # Any step's error in TTY output: only open pushes fail.
                self._fail_open(self.vertices.pop(key), line)
            elif rest.startswith(("ERROR", "CANCELED")):
                self._settle(self.vertices.pop(key), False, line)
            elif rest.startswith("DONE") and not _is_tty(key):
                self._settle(self.vertices.pop(key), True)
        self.busy = any(v.pending for v in self.vertices.values())

    def _export(self, key: str, kind: str, digest_text: str) -> None:
        vertex = self.vertices.get(key)
        # A later build (or the next image in TTY output) reuses the number: a
        # manifest after the list, or after pushes, starts a new exporter.
        digest = full_digest(digest_text)
        redrawn = vertex is not None and digest in (
            vertex.manifests + [vertex.manifest_list]
        )
        restart = (
            vertex is not None
            and not redrawn
            and (
                vertex.settled
                or vertex.pending
                or (vertex.manifest_list is not None and kind != "attestation manifest")
            )
        )
        if vertex is None or restart:
            if vertex is not None:
                self._settle(vertex, True)
            vertex = self.vertices[key] = Vertex()
            self._forget_old_vertices()
        if digest is None or kind == "attestation manifest" or redrawn:
            return
        if kind == "manifest list":
            vertex.manifest_list = digest
        else:
            vertex.manifests.append(digest)

    def _forget_old_vertices(self) -> None:
        """Keep the state of the latest exporters only (a log has many builds)."""
        idle = [k for k, v in self.vertices.items() if not v.pending]
        for key in idle[: max(0, len(self.vertices) - MAX_VERTICES)]:
            del self.vertices[key]

    def _push(
        self, line: Line, key: str, ref_text: str, done: bool, tool: str | None = None
    ) -> None:
        ref = parse_image_ref(ref_text)
        if ref is None:
            return
        vertex = self.vertices.setdefault(key, Vertex())
        if tool is None:
            tool = "imagetools" if "[internal] pushing" in line.text else "buildkit"
        digest = ref.digest or expand_abbreviation(ref.digest_text, vertex.known())
        # Older BuildKit names the ref without digest, right after the exporter
        # or its other tags; imagetools and a later build reusing the number
        # (its DONE line unseen) push something else.
        follows = not vertex.settled or line.no - vertex.last_no <= RELATED_LINES
        if (
            ref.digest_text is None
            and digest is None
            and tool == "buildkit"
            and follows
        ):
            digest = vertex.output()
        vertex.last_no = line.no
        ref = Ref(ref.image, ref.tag, digest)
        if digest and digest not in vertex.pushed_digests:
            vertex.pushed_digests.append(digest)
        key_ref = (ref.image, ref.tag)
        if key_ref in vertex.settled:
            return
        if key_ref not in vertex.pending:
            dockerfile = self.ctx.dockerfile_for(ref.image)
            vertex.pending[key_ref] = Pending(ref, line, tool, dockerfile)
        elif digest and vertex.pending[key_ref].ref.digest is None:
            vertex.pending[key_ref].ref = ref
        if done:
            vertex.pending[key_ref].done_no = line.no

    def _settle(self, vertex: Vertex, pushed: bool, line: Line | None = None) -> None:
        for pending in list(vertex.pending.values()):
            self._emit(pending, vertex, pushed, line)
        vertex.pending.clear()

    def _settle_where(
        self,
        vertices: Iterable[Vertex],
        which: Callable[[Pending], bool],
        pushed: bool | None,
        line: Line | None = None,
    ) -> None:
        """Settle the open pushes of vertices that which selects."""
        for vertex in vertices:
            for key_ref, pending in list(vertex.pending.items()):
                if which(pending):
                    self._emit(vertex.pending.pop(key_ref), vertex, pushed, line)

    def _settle_done(self, line: Line) -> None:
        """A push said done that no error followed for a few lines stands."""
        self._settle_where(
            self.vertices.values(),
            lambda p: p.done_no is not None and line.no - p.done_no > RELATED_LINES,
            True,
        )

    def _failed_commit(self, line: Line, text: str) -> None:
        """The registry refused the manifest: every push of that digest failed."""
        m = FAILED_COMMIT_RE.search(text)
        if m is not None:
            digest = m.group("digest")
            self._settle_where(
                self.vertices.values(), lambda p: p.ref.digest == digest, False, line
            )

    def _emit(
        self,
        pending: Pending,
        vertex: Vertex,
        pushed: bool | None,
        line: Line | None = None,
    ) -> None:
        vertex.settled.add((pending.ref.image, pending.ref.tag))
        if vertex.failed and pushed:
            pushed = False
        line = line or pending.line
        self.ctx.emit(pending.tool, line, pending.ref, pushed, pending.dockerfile)

    def _failed_push(self, line: Line, text: str) -> None:
        m = FAILED_PUSH_RE.search(text + " ")
        # BuildKit names the full reference; "failed to push manifest:" of
        # other tools names none.
        ref = parse_image_ref(m.group("ref")) if m and "/" in m.group("ref") else None
        if ref is None:
            return
        for vertex in self.vertices.values():
            pending = vertex.pending.pop((ref.image, ref.tag), None)
            if pending is not None:
                self._emit(pending, vertex, False, line)
                return
        self.ctx.emit("buildkit", line, ref, False)

    def _same_job(self, line: Line) -> list[Vertex]:
        """The vertices a job-wide failure on line can end: those of its job."""
        if line.stream is None:
            return list(self.vertices.values())
        prefix = _key(line, "")
        return [v for k, v in self.vertices.items() if k.startswith(prefix)]

    def _settle_open(self, line: Line) -> None:
        """The job ended with pushes running: their outcome is unknown."""
        self._settle_where(self._same_job(line), lambda p: p.done_no is None, None)

    def _fail_all(self, line: Line) -> None:
        """A build failed: its open pushes failed; pushes said done stand unless
        the failure names their digest (another build may have failed)."""
        for vertex in self._same_job(line):
            self._fail_open(vertex, line)
        self.busy = any(v.pending for v in self.vertices.values())

    def _fail_open(self, vertex: Vertex, line: Line) -> None:
        for pending in list(vertex.pending.values()):
            done = pending.done_no is not None
            self._emit(pending, vertex, done, None if done else line)
        vertex.pending.clear()

    def _expire(self, line: Line) -> None:
        """Stop reading every line for a push whose vertex never reports back."""
        if all(line.no - v.last_no > PENDING_LINES for v in self.vertices.values()):
            self.busy = False


def _key(line: Line, vertex: str) -> str:
    """A vertex's key: its number (or TTY) within the job that printed it."""
    return vertex if line.stream is None else f"{line.stream}\0{vertex}"


def _is_tty(key: str) -> bool:
    return key.rpartition("\0")[2] == TTY_VERTEX


def _tty_step(text: str) -> tuple[str, bool]:
    """A TTY frame line (``=> [=> ]STEP [TOOK]``): the step, and whether it shows
    how long it took (it has finished)."""
    step = text[3:]
    if step.startswith("=> "):
        step = step[3:]
    head, _, last = step.rstrip().rpartition(" ")
    if head.strip() and DURATION_RE.fullmatch(last):
        return head.rstrip(), True
    return step, False

"""Classic ``docker push`` in all its eras, and ``docker manifest push``.

A push prints ``The push refers to [a] repository [REPO]``, one status line per
layer, then ``TAG: digest: sha256:... size: N`` once the manifest is stored.
The repository and the tag are on different lines; the tag comes from the
digest line, or from the command (``docker push REPO:TAG``) or a CI line that
announced the push (ACR ``Pushing image:``, Docker@2, Cloud Build). Layers that
say ``Pushed`` prove nothing: a later ``manifest invalid`` fails the push.
Docker 1.6-1.9 printed ``Digest: sha256:...`` instead; before that, v1
registries printed ``Pushing tag for rev [...] on {URL}``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from etl.buildlogs.clean import Line, clean_line
from etl.buildlogs.core import SCRIPT_ECHO, XTRACE, Context, Tool
from etl.buildlogs.refs import BARE_DIGEST_RE, Ref, full_digest, parse_image_ref

logger = logging.getLogger(__name__)

COMMAND_RE = re.compile(
    r"(?:^|[\s/;&|(\"'])(?:docker|nerdctl)(?:\.exe)?[\"']?\s+(?:image\s+)?push\s+(?P<args>[^;&|]+)"
)
START_RE = re.compile(r"The push refers to (?:a )?repository \[(?P<repo>[^\]\s]+)\]")
LAYER_RE = re.compile(r"^[0-9a-f]{12}: (?P<status>.+)$")
DIGEST_RE = re.compile(
    r"(?:^|\s)(?P<tag>[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}): digest: (?P<digest>\S*)"
)
OLD_DIGEST_RE = re.compile(r"^Digest: (?P<digest>\S+)")
V1_TAG_RE = re.compile(
    r"Pushing tag for rev \[[0-9a-f]+\] on"
    r" \{(?:https?://)?(?P<host>[^/\s]+)/v1/repositories/(?P<repo>\S+)"
    r"/tags/(?P<tag>[^}/\s]+)\}"
)
# Hosts of Docker Hub's v1 registry: a repository there is a Hub image.
HUB_V1_HOST_RE = re.compile(r"(?:^|\.)docker\.(?:io|com)(?::\d+)?$")
# A pull starts: an old client's push that printed no digest is over.
PULL_RE = re.compile(r"(?:^|: )Pulling (?:from|repository) ")
# How the docker CLI and registries word a push that ends without a manifest.
ERROR_RE = re.compile(
    r"(?i)^(?:error\b|errors:|unauthorized|denied|forbidden|unsupported"
    r"|manifest (?:invalid|unknown|blob unknown)|blob (?:upload )?(?:unknown|invalid)"
    r"|name (?:unknown|invalid)|tag invalid|toomanyrequests|unknown:"
    r"|received unexpected HTTP status|received HTTP code|error parsing HTTP|EOF$"
    r"|net/http:|dial tcp"
    r"|(?:get|head|put|patch|post) \"?https?://|an image does not exist locally"
    r"|tag does not exist|failed\b|no basic auth"
    r"|requested access to the resource is denied"
    r"|.*(?:no such host|connection reset by peer|i/o timeout"
    r"|TLS handshake timeout|context deadline exceeded|connection refused))"
)
OLD_ERA_STATUSES = (
    "Image already exists",
    "Image successfully pushed",
    "Buffering to Disk",
)
BOUNDARY_MARKERS = frozenset({"section", "group"})
BOUNDARY_RE = re.compile(
    r"^(?:section_(?:start|end):|(?:Starting|Finished) Step #|Executing step"
    r"|Step ID:|Run ID:)"
)
OPTIONS_WITH_VALUE = frozenset({"--platform"})
SESSION_LINES = 5_000
MAX_SESSIONS = 64
MANIFEST_RE = re.compile(
    r"(?:^|[\s/;&|(\"'])docker(?:\.exe)?[\"']?\s+manifest\s+push\s+(?P<args>.+)"
)
MANIFEST_ERROR_RE = re.compile(
    r"(?i)^(?:error|errors:|failed to|manifest|unauthorized|denied|no such manifest)"
)
MANIFEST_LINES = 200
# Commands that print a bare digest or image id of their own.
PRINTS_DIGEST_RE = re.compile(
    r"(?:^|\s)(?:-q|--quiet)(?:\s|$)|\b(?:images|inspect|digest|imagetools)\b"
    r"|\bmanifest\s+push\b|\bbuildah\b|\bpodman\b|\b(?:commit|import|cat)\b"
    r"|\b(?:echo|printf|oras|az|aws|gcloud|jq|curl|crane|skopeo)\b"
)
# A command line of a script, as echoed before its output.
SCRIPT_COMMAND_RE = re.compile(
    r"^(?:sudo\s+)?(?:docker|crane|az|aws|gcloud|oras|skopeo|podman|buildah|echo"
    r"|printf|cat|jq|curl|regctl)\s"
)
# The docker CLI refusing a manifest list, echoed command or not.
PUT_FAILED_RE = re.compile(r"failed to put manifest (?P<ref>\S+?):\s")
MANIFEST_CREATE_RE = re.compile(r"\bmanifest\s+create\b")
# The output of ``docker manifest create`` or of the push itself, right before
# the list's digest.
LIST_OUTPUT = ("Created manifest list ", "Pushed ref ")
SCRIPT_LOOKBACK_BYTES = 8192
SCRIPT_LOOKBACK_LINES = 64


@dataclass
class Session:
    """One ``docker push`` between its first line and its outcome."""

    image: str
    tag: str | None
    tool: str
    start: Line
    last_no: int
    old_era: bool = False
    done: bool = False


def command_ref(args: str) -> Ref | None:
    """The ref a ``push`` command line names (the first non-option argument)."""
    tokens = args.split()
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in OPTIONS_WITH_VALUE
        else:
            return parse_image_ref(token)
    return None


class DockerPush(Tool):
    """``docker push`` sessions; several may be open when builds run in parallel."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sessions: list[Session] = []

    def feed(self, line: Line) -> None:
        if self.busy:
            self._expire(line)
        if line.debug:
            return  # runner debug messages, and Docker@2 echoing output it printed
        text = line.text
        if "ush" in text and self._push_line(line, text):
            return
        if "igest" in text and self._digest_line(line, text):
            return
        if self.busy:
            self._session_line(line, text)

    def finish(self) -> None:
        for session in self.sessions:
            if not session.done:
                self._settle(session, None, session.start)
        self.sessions.clear()
        self.busy = False

    def _push_line(self, line: Line, text: str) -> bool:
        commands = (
            list(COMMAND_RE.finditer(text))
            if "docker" in text or "nerdctl" in text
            else []
        )
        for command in commands:  # "docker push a & docker push b": both
            ref = command_ref(command.group("args"))
            if ref is not None:
                self.ctx.announce(ref, "docker", line)
        if commands:
            return True
        m = START_RE.search(text) if "push refers to" in text else None
        if m:
            self._open(line, m.group("repo"))
            return True
        m = V1_TAG_RE.search(text) if "Pushing tag for rev" in text else None
        if m:
            host, repo = m.group("host"), m.group("repo")
            ref = parse_image_ref(
                repo if HUB_V1_HOST_RE.search(host) else f"{host}/{repo}"
            )
            if ref is not None:
                session = self._session_for(ref.image)
                tool = session.tool if session else "docker"
                self.ctx.emit(tool, line, Ref(ref.image, m.group("tag"), None), True)
                if session is not None and not session.done:
                    self._close(session)
            return True
        return False

    def _open(self, line: Line, repo: str) -> None:
        ref = parse_image_ref(repo)
        if ref is None:
            return
        claim = self.ctx.claim(ref.image, line)
        tag = claim.ref.tag if claim else None
        tool = claim.tool if claim else "docker"
        if len(self.sessions) >= MAX_SESSIONS:
            oldest = self.sessions.pop(0)
            if not oldest.done:
                self._settle(oldest, None, oldest.start)
        self.sessions.append(Session(ref.image, tag, tool, line, line.no))
        self.busy = True

    def _digest_line(self, line: Line, text: str) -> bool:
        m = DIGEST_RE.search(text) if ": digest: " in text else None
        if m:
            self._digest(line, m.group("tag"), m.group("digest"))
            return True
        m = OLD_DIGEST_RE.match(text) if text.startswith("Digest: ") else None
        open_sessions = [s for s in self._open_sessions(line) if s.old_era]
        if m and open_sessions:
            session = open_sessions[-1]
            ref = Ref(session.image, session.tag, full_digest(m.group("digest")))
            self.ctx.emit(session.tool, line, ref, True)
            self._close(session)
            return True
        return False

    def _digest(self, line: Line, tag: str, digest_text: str) -> None:
        """A ``TAG: digest:`` line: find which repository the tag belongs to."""
        digest = full_digest(digest_text)
        open_sessions = self._open_sessions(line)
        matching = [s for s in open_sessions if s.tag == tag]
        if len(matching) == 1:
            self._pushed(matching[0], line, tag, digest)
            return
        if len(open_sessions) > 1:
            # Interleaved pushes: a tag that names no one of them could belong to
            # any, and a wrong digest is worse than none; they settle unknown.
            logger.debug("line %s: digest of tag %s matches no one push", line.no, tag)
            return
        latest = open_sessions[-1] if open_sessions else None
        # A push whose ``The push refers to`` line is not in the log (Docker@2
        # prints it only in its debug echo): the CI line that announced it.
        announced = self.ctx.announced_tag(tag, line, claimed=False)
        if announced and (latest is None or announced.line_no > latest.start.no):
            announced.claimed = True
            ref = Ref(announced.ref.image, tag, digest)
            self.ctx.emit(announced.tool, line, ref, True)
        elif latest is not None and latest.tag in (None, tag):
            self._pushed(latest, line, tag, digest)
        elif latest is None and (untagged := self._last_untagged(line)):
            # ``docker push -a`` (or an old client pushing every tag of a repo)
            # prints one digest line per tag.
            self._pushed(untagged, line, tag, digest)
        elif announced := self.ctx.announced_tag(tag, line, claimed=True):
            self.ctx.emit(
                announced.tool, line, Ref(announced.ref.image, tag, digest), True
            )

    def _pushed(
        self, session: Session, line: Line, tag: str, digest: str | None
    ) -> None:
        self.ctx.emit(session.tool, line, Ref(session.image, tag, digest), True)
        self._close(session)

    def _open_sessions(self, line: Line) -> list[Session]:
        """The open pushes, without those of other jobs when a merged log of
        parallel jobs names the line's."""
        return [s for s in self.sessions if not s.done and line.in_job(s.start.stream)]

    def _session_for(self, image: str) -> Session | None:
        for session in reversed(self.sessions):
            if session.image == image:
                return session
        return None

    def _last_untagged(self, line: Line) -> Session | None:
        """``docker push -a`` prints a digest line per tag: the latest push of
        the line's job, if it named no tag."""
        same_job = [s for s in self.sessions if line.in_job(s.start.stream)]
        last = same_job[-1] if same_job else None
        return last if last is not None and last.tag is None else None

    def _session_line(self, line: Line, text: str) -> None:
        open_sessions = self._open_sessions(line)
        if not open_sessions:
            return
        session = open_sessions[-1]
        m = LAYER_RE.match(text)
        if m:
            session.last_no = line.no
            session.old_era = session.old_era or m.group("status").startswith(
                OLD_ERA_STATUSES
            )
        elif line.marker == "error" or ERROR_RE.match(text):
            if len(open_sessions) == 1:
                self._settle(session, False, line)
            # Else pushes run in parallel: the error could be any one's.
        elif PULL_RE.search(text):
            for s in open_sessions:
                if s.old_era:
                    self._settle(s, None, s.start)
        elif line.marker in BOUNDARY_MARKERS or BOUNDARY_RE.match(text):
            for s in self.sessions:
                if not s.done:
                    self._settle(s, None, s.start)

    def _expire(self, line: Line) -> None:
        """Give up on pushes whose output stopped long ago (the log was cut)."""
        for s in self.sessions:
            if not s.done and line.no - s.last_no > SESSION_LINES:
                self._settle(s, None, s.start)

    def _settle(self, session: Session, pushed: bool | None, line: Line) -> None:
        """A push that ends without a digest: failed, or with no outcome shown."""
        ref = Ref(session.image, session.tag, None)
        self.ctx.emit(session.tool, line, ref, pushed)
        self._close(session)

    def _close(self, session: Session) -> None:
        session.done = True
        self.busy = any(not s.done for s in self.sessions)


def script_before(ctx: Context, line: Line) -> list[str] | None:
    """The lines of a script echoed before line, nearest first, when line is a
    command echoed in a script (a GitHub ``Run`` group, an Azure Pipelines
    ``Script contents:``) whose output all comes after the whole script."""
    if line.text.startswith(XTRACE):
        return None  # traced as it runs: what follows is its output
    earlier = ctx.lookback.nearest_lines(
        ("",), SCRIPT_LOOKBACK_BYTES, SCRIPT_LOOKBACK_LINES
    )
    # Cleaning every line is costly: first find where the script's echo starts.
    if not any("##[group]" in raw or SCRIPT_ECHO in raw for raw in earlier):
        return None
    script: list[str] = []
    for raw in earlier:
        if "##[endgroup]" in raw or "##[section]" in raw:
            return None  # the output of the script before
        cleaned = clean_line(0, raw)
        if cleaned is None:
            continue
        if cleaned.marker == "group":
            header = cleaned.text.removeprefix("Run ")
            if header == cleaned.text:
                return None
            return script + ([header] if header != line.text else [])
        if cleaned.text.startswith(SCRIPT_ECHO):
            return script
        script.append(cleaned.text)
    return None


def echoed_after(ctx: Context, line: Line, earlier_command: re.Pattern[str]) -> bool:
    """Whether line is a command echoed in a script after one matching
    earlier_command: that command's output, printed later, comes first."""
    script = script_before(ctx, line)
    return script is not None and any(earlier_command.search(s) for s in script)


@dataclass
class ManifestPush:
    ref: Ref
    start: Line
    # Echoed in a script after a command that prints bare digests too: only a
    # digest right after the list's own output is the list's.
    anchored: bool = False
    # Such a command runs between ``manifest create`` and the push, or after
    # the push: no digest can be told to be the list's.
    ambiguous: bool = False


class DockerManifestPush(Tool):
    """``docker manifest push LIST`` prints the list's digest alone on a line.

    Before it, older clients print ``Pushed ref REPO@sha256:X with digest:
    sha256:X`` for each platform manifest: those are children, not outputs.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pending: ManifestPush | None = None
        self.previous = ""

    def feed(self, line: Line) -> None:
        text = line.text
        # Without a push waiting, only a line that also names the push (a
        # wrapper's error) is read: a lone one is not a candidate line, so
        # reading it would depend on what noise surrounds it.
        put_failed = "failed to put manifest" in text and (
            self.pending is not None or "ush" in text
        )
        if put_failed and (m := PUT_FAILED_RE.search(text)):
            self._put_failed(line, m.group("ref"))
            return
        if "manifest" in text and "ush" in text:
            m = MANIFEST_RE.search(text)
            if m:
                self._start(line, m.group("args"))
                return
        if self.pending is None or line.debug:
            return
        previous, self.previous = self.previous, text
        if BARE_DIGEST_RE.match(text):
            if self.pending.ambiguous or (
                self.pending.anchored and not previous.startswith(LIST_OUTPUT)
            ):
                return  # another command's digest or image id
            ref = Ref(self.pending.ref.image, self.pending.ref.tag, text)
            self._end(line, ref, True)
        elif text.startswith(XTRACE):
            # The next command runs: the push printed no digest.
            self._end(self.pending.start, self.pending.ref, None)
        elif line.marker == "error" or MANIFEST_ERROR_RE.match(text):
            self._end(line, self.pending.ref, False)
        elif line.no - self.pending.start.no > MANIFEST_LINES:
            self._end(self.pending.start, self.pending.ref, None)
        elif SCRIPT_COMMAND_RE.match(text) and PRINTS_DIGEST_RE.search(text):
            self.pending.ambiguous = True  # a later command, echoed in the script

    def finish(self) -> None:
        if self.pending is not None:
            self._end(self.pending.start, self.pending.ref, None)

    def _start(self, line: Line, args: str) -> None:
        if self.pending is not None:
            self._end(self.pending.start, self.pending.ref, None)
        ref = command_ref(args)
        if ref is not None:
            self.pending = ManifestPush(ref.with_tag("latest"), line)
            self._place_in_script(self.pending)
            self.previous = ""
            self.busy = True

    def _put_failed(self, line: Line, ref_text: str) -> None:
        ref = parse_image_ref(ref_text)
        if ref is None:
            return
        if self.pending is not None and self.pending.ref.image == ref.image:
            self._end(line, self.pending.ref, False)
        else:
            self.ctx.emit("docker-manifest", line, ref.with_tag("latest"), False)

    def _place_in_script(self, push: ManifestPush) -> None:
        """Where the other commands of an echoed script leave the push's digest."""
        script = script_before(self.ctx, push.start) or []
        for i, script_line in enumerate(script):
            if MANIFEST_CREATE_RE.search(script_line):
                # Between create and push, another digest comes after the anchor.
                between = script[:i]
                push.ambiguous = any(PRINTS_DIGEST_RE.search(s) for s in between)
                push.anchored = any(PRINTS_DIGEST_RE.search(s) for s in script[i:])
                return
        push.anchored = any(PRINTS_DIGEST_RE.search(s) for s in script)

    def _end(self, line: Line, ref: Ref, pushed: bool | None) -> None:
        self.ctx.emit("docker-manifest", line, ref, pushed)
        self.pending = None
        self.busy = False


QUIET_OPTIONS = frozenset({"-q", "--quiet"})
QUIET_LINES = 50


class DockerQuietPush(Tool):
    """``docker push -q REF`` prints only REF, once the push has succeeded."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pending: tuple[Ref, Line] | None = None

    def feed(self, line: Line) -> None:
        text = line.text
        if "push" in text and "docker" in text and (m := COMMAND_RE.search(text)):
            if QUIET_OPTIONS.intersection(m.group("args").split()):
                self._settle(None)
                ref = command_ref(m.group("args"))
                if ref is not None:
                    self.pending = (ref.with_tag("latest"), line)
                    self.busy = True
            return
        if self.pending is None or line.debug:
            return
        ref, start = self.pending
        printed = parse_image_ref(text) if " " not in text else None
        if printed is not None and (printed.image, printed.tag) == (ref.image, ref.tag):
            self._settle(True, line)
        elif line.marker == "error" or ERROR_RE.match(text):
            self._settle(False, line)
        elif text.startswith(XTRACE) or line.no - start.no > QUIET_LINES:
            self._settle(None)

    def finish(self) -> None:
        self._settle(None)

    def _settle(self, pushed: bool | None, line: Line | None = None) -> None:
        """End the pending push, at line or else at its command."""
        if self.pending is not None:
            ref, start = self.pending
            self.ctx.emit("docker", line or start, ref, pushed)
        self.pending = None
        self.busy = False

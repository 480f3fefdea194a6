"""What the tool parsers share: announced refs, Dockerfile mentions, the ledger.

Each tool module holds a small state machine (a subclass of ``Tool``) that sees
the cleaned lines its tool prints; ``parser.Parser`` runs them all over one
log. A tool is ``busy`` while it needs every line (an open ``docker push``
waiting for its digest or its error); otherwise it only needs the lines
``scan`` marks as candidates, which lets a file scan skip noise unread.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from etl.buildlogs.clean import Line
from etl.buildlogs.events import EVIDENCE_CHARS, GENERIC_TOOLS, Ledger, PushEvent
from etl.buildlogs.refs import Ref, is_cosign_tag, parse_image_ref
from etl.normalize import mask_secrets

logger = logging.getLogger(__name__)

# A command as a shell traces it (set -x) or a CI system echoes it as it runs.
XTRACE = ("+ ", "$ ")
# Azure Pipelines' script tasks echo the whole script under this line.
SCRIPT_ECHO = "Script contents:"
MAX_ANNOUNCED = 64
ANNOUNCED_LINES = 20_000
MAX_MENTIONS = 64
DOCKERFILE_NEEDLE = "erfile"
MENTION_LINES = 50_000
PATH_RE = re.compile(r"(?i)(?:docker|container)file")
FILE_OPTION_RE = re.compile(
    r"(?:^|\s)(?:-f|--file|--dockerfile|file:)(?:=|\s+)[\"']?(?P<path>[^\s\"']+)"
)
DOCKERFILE_INPUT_RE = re.compile(
    r"\b(?:dockerFile|dockerfile)=[\"']?(?P<path>[^\s\"']+)"
)
HEX_DIGEST_RE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
ABBREV_HEX = 12
TAG_OPTION_RE = re.compile(r"(?:^|\s)(?:-t|--tag|--destination)(?:=|\s+)(?P<ref>\S+)")


class Lookback(Protocol):
    """Recent raw lines before the one being parsed (bounded)."""

    def nearest_lines(
        self, needles: tuple[str, ...], max_bytes: int, limit: int
    ) -> list[str]:
        """Up to limit earlier lines within max_bytes with a needle, nearest first."""
        ...


@dataclass
class Announcement:
    """A ref a tool said it is about to push; its output may name only part of it."""

    ref: Ref
    tool: str
    line_no: int
    claimed: bool = False
    stream: str | None = None


@dataclass
class Mention:
    """A Dockerfile path a build named, and the images it tagged.

    A build that names no image (a Docker@2 ``dockerFile=`` input, a
    build-push-action ``file:``) is bound to the first image pushed after it.
    """

    path: str
    images: set[str]
    line_no: int = 0


@dataclass
class Context:
    """State shared by the tool parsers of one log."""

    lookback: Lookback
    ledger: Ledger = field(default_factory=Ledger)
    announced: deque[Announcement] = field(
        default_factory=lambda: deque(maxlen=MAX_ANNOUNCED)
    )
    mentions: deque[Mention] = field(default_factory=lambda: deque(maxlen=MAX_MENTIONS))
    cloud_build: bool = False
    line_no: int = 0
    busy_tools: set[Tool] = field(default_factory=set)

    def announce(self, ref: Ref, tool: str, line: Line) -> None:
        for old in self.announced:
            if not old.claimed and old.ref == ref:
                old.claimed = True  # the same command echoed twice
                if tool in GENERIC_TOOLS and old.tool not in GENERIC_TOOLS:
                    tool = old.tool  # the task that ran the docker command
        self.announced.append(Announcement(ref, tool, line.no, stream=line.stream))

    def claim(self, image: str, line: Line) -> Announcement | None:
        """The latest unclaimed announcement of image by line's job, now claimed."""
        for a in reversed(self.announced):
            if not line.in_job(a.stream):
                continue
            if a.ref.image == image and not a.claimed:
                a.claimed = True
                return a
        return None

    def announced_tag(self, tag: str, line: Line, claimed: bool) -> Announcement | None:
        """The latest recent announcement of a ref with this tag, by the job
        that printed line when a merged log names jobs.

        With ``claimed`` false only announcements no push output has used yet;
        with it true any, for output a CI system prints twice.
        """
        for a in reversed(self.announced):
            if line.no - a.line_no > ANNOUNCED_LINES:
                return None
            if not line.in_job(a.stream):
                continue
            if a.ref.tag == tag and (claimed or not a.claimed):
                return a
        return None

    def emit(
        self,
        tool: str,
        line: Line,
        ref: Ref,
        pushed: bool | None,
        dockerfile: str | None = None,
    ) -> None:
        if is_cosign_tag(ref.tag):
            return  # a signature stored next to the image, not an image
        evidence = _evidence(line.text, ref.digest)
        dockerfile = dockerfile or self.dockerfile_for(ref.image)
        event = PushEvent(
            ref.image, ref.tag, ref.digest, pushed, tool, line.no, evidence, dockerfile
        )
        logger.debug("line %s: %s push of %s", line.no, tool, ref.image)
        self.ledger.add(event)

    def note_dockerfile(self, line: Line) -> None:
        mention = dockerfile_mention(line.text)
        if mention is not None:
            mention.line_no = line.no
            self.mentions.append(mention)

    def dockerfile_for(self, image: str) -> str | None:
        """The Dockerfile of the latest build seen that can have made image."""
        for mention in reversed(self.mentions):
            if self.line_no - mention.line_no > MENTION_LINES:
                break
            if not mention.images:
                mention.images.add(image)
            if image in mention.images:
                return mention.path
        return None


@functools.lru_cache(maxsize=64)
def _evidence(text: str, digest: str | None) -> str:
    """The line as kept with an event (cached: one line may name many pushes)."""
    return other_digests_cut(mask_secrets(text), digest)[:EVIDENCE_CHARS]


MAX_GLOBAL_WORDS = 16


def subcommand_args(
    rest: str, subcommand: str, value_options: frozenset[str], groups: tuple[str, ...]
) -> str | None:
    """What follows ``subcommand`` in rest, the words after a tool's name:
    global options before it are skipped (those in value_options with their
    value), and so are group words (``image`` of ``podman image push``)."""
    skip = False
    for n, word in enumerate(re.finditer(r"\S+", rest)):
        token = word.group()
        if n > MAX_GLOBAL_WORDS:
            break
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = "=" not in token and token in value_options
        elif token == subcommand:
            return rest[word.end() :]
        elif token not in groups:
            break
    return None


def other_digests_cut(text: str, digest: str | None) -> str:
    """The text with every full digest but the event's own abbreviated: a layer
    or base digest in an error line must not read as this image's."""
    own = digest.removeprefix("sha256:") if digest else None

    def cut(m: re.Match[str]) -> str:
        hex_ = m.group(0)
        return hex_ if hex_.lower() == own else hex_[:ABBREV_HEX] + "\u2026"

    return HEX_DIGEST_RE.sub(cut, text)


def dockerfile_mention(text: str) -> Mention | None:
    """The Dockerfile path a build line names, and the images it tags."""
    m = DOCKERFILE_INPUT_RE.search(text)
    if m is None:
        m = FILE_OPTION_RE.search(text)
        if m is None or not PATH_RE.search(m.group("path")):
            return None
    images = set(
        r.image
        for t in TAG_OPTION_RE.finditer(text)
        if (r := parse_image_ref(t.group("ref"))) is not None
    )
    return Mention(m.group("path"), images)


class Tool:
    """Base of the per-tool state machines."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def busy(self) -> bool:
        """Whether this tool needs every line, not only candidate lines."""
        return self in self.ctx.busy_tools

    @busy.setter
    def busy(self, value: bool) -> None:
        if value:
            self.ctx.busy_tools.add(self)
        else:
            self.ctx.busy_tools.discard(self)

    def feed(self, line: Line) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Settle what the end of the log leaves open."""

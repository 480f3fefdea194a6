"""What the tool parsers share: announced refs, Dockerfile mentions, the ledger.

Each tool module holds a small state machine (a subclass of ``Tool``) that sees
the cleaned lines its tool prints. ``Parser`` runs them all over one log. A tool
is ``busy`` while it needs every line (an open ``docker push`` waiting for its
digest or its error); otherwise it only needs the lines ``scan`` marks as
candidates, which lets a file scan skip noise without looking at it.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from etl.buildlogs.clean import Line, clean_line
from etl.buildlogs.events import EVIDENCE_CHARS, Ledger, PushEvent
from etl.buildlogs.refs import Ref, is_cosign_tag, parse_image_ref
from etl.normalize import mask_secrets

logger = logging.getLogger(__name__)

MAX_ANNOUNCED = 64
ANNOUNCED_LINES = 20_000
MAX_MENTIONS = 64
MENTION_LINES = 50_000
PATH_RE = re.compile(r"(?i)(?:docker|container)file")
FILE_OPTION_RE = re.compile(
    r"(?:^|\s)(?:-f|--file|--dockerfile|file:)(?:=|\s+)[\"']?(?P<path>[^\s\"']+)"
)
DOCKERFILE_INPUT_RE = re.compile(
    r"\b(?:dockerFile|dockerfile)=[\"']?(?P<path>[^\s\"']+)"
)
TAG_OPTION_RE = re.compile(r"(?:^|\s)(?:-t|--tag|--destination)(?:=|\s+)(?P<ref>\S+)")


class Lookback(Protocol):
    """Recent raw lines before the one being parsed (bounded)."""

    def nearest(self, needle: str, max_bytes: int) -> str | None:
        """The closest earlier line containing needle within max_bytes, if any."""
        ...


@dataclass
class Announcement:
    """A ref a tool said it is about to push; its output may name only part of it."""

    ref: Ref
    tool: str
    line_no: int
    claimed: bool = False


@dataclass(frozen=True)
class Mention:
    """A Dockerfile path a build named, and the images it tagged (none: any)."""

    path: str
    images: frozenset[str]
    line_no: int


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
    busy_tools: set[Tool] = field(default_factory=set)

    def announce(self, ref: Ref, tool: str, line: Line) -> None:
        for old in self.announced:
            if not old.claimed and old.ref == ref:
                old.claimed = True  # the same command echoed twice
        self.announced.append(Announcement(ref, tool, line.no))

    def claim(self, image: str) -> Announcement | None:
        """The latest unclaimed announcement of image, now claimed."""
        for a in reversed(self.announced):
            if a.ref.image == image and not a.claimed:
                a.claimed = True
                return a
        return None

    def announced_tag(self, tag: str, now: int, claimed: bool) -> Announcement | None:
        """The latest recent announcement of a ref with this tag.

        With ``claimed`` false only announcements no push output has used yet;
        with it true any, for output a CI system prints twice.
        """
        for a in reversed(self.announced):
            if now - a.line_no > ANNOUNCED_LINES:
                return None
            if a.ref.tag == tag and (claimed or not a.claimed):
                return a
        return None

    def emit(
        self,
        tool: str,
        line: Line,
        ref: Ref,
        pushed: bool | None,
    ) -> None:
        if is_cosign_tag(ref.tag):
            return  # a signature stored next to the image, not an image
        evidence = mask_secrets(line.text)[:EVIDENCE_CHARS]
        dockerfile = self.dockerfile_for(ref.image, line.no)
        event = PushEvent(
            ref.image, ref.tag, ref.digest, pushed, tool, line.no, evidence, dockerfile
        )
        logger.debug("line %s: %s push of %s", line.no, tool, ref.image)
        self.ledger.add(event)

    def note_dockerfile(self, line: Line) -> None:
        m = DOCKERFILE_INPUT_RE.search(line.text)
        if m is None:
            m = FILE_OPTION_RE.search(line.text)
            if m is None or not PATH_RE.search(m.group("path")):
                return
        images = frozenset(
            r.image
            for t in TAG_OPTION_RE.finditer(line.text)
            if (r := parse_image_ref(t.group("ref"))) is not None
        )
        self.mentions.append(Mention(m.group("path"), images, line.no))

    def dockerfile_for(self, image: str, line_no: int) -> str | None:
        """The Dockerfile of the last build before line_no that can have made image."""
        for mention in reversed(self.mentions):
            if mention.line_no > line_no or line_no - mention.line_no > MENTION_LINES:
                continue
            if not mention.images or image in mention.images:
                return mention.path
        return None


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


def parse_refs(text: str) -> Ref | None:
    """The first token of text read as a reference."""
    token = text.split(None, 1)[0] if text.strip() else ""
    return parse_image_ref(token) if token else None


class Parser:
    """Runs every tool over the lines of one log."""

    def __init__(self, lookback: Lookback) -> None:
        from etl.buildlogs import TOOLS

        self.ctx = Context(lookback)
        self.tools = [tool(self.ctx) for tool in TOOLS]

    @property
    def busy(self) -> bool:
        return bool(self.ctx.busy_tools)

    def feed(self, no: int, raw: str) -> None:
        line = clean_line(no, raw)
        if line is None:
            return
        if line.cloud_build:
            self.ctx.cloud_build = True
        if "erfile" in line.text or "erFile" in line.text:
            self.ctx.note_dockerfile(line)
        for tool in self.tools:
            tool.feed(line)

    def finish(self) -> list[PushEvent]:
        for tool in self.tools:
            tool.finish()
        return self.ctx.ledger.result()

"""Feeding a log to the parser: line by line, or a whole file at C speed.

Almost every line of a build log is noise. A line can matter only if it holds
``push``/``Push`` (``ush`` after ``p`` or ``P``), ``sha256:`` right after
``digest: ``, ``manifest ``, ``list ``, ``@`` or ``blob ``, or a Dockerfile
name (``erfile``). Those lines are the candidates; tools that wait for an
outcome (an open ``docker push``) ask for every line until they have it
(``Parser.busy``). The ``skopeo copy`` command before a copy's output is looked
up backwards when the output appears (``nearest_lines``).

``parse_file`` finds candidates with three scans per 1 MiB block and locates
lines with numpy, so noise is never decoded or copied; ``parse_lines`` tests
each line. Both hand the parser the same lines.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from etl.buildlogs.core import DOCKERFILE_NEEDLE, Parser
from etl.buildlogs.events import PushEvent
from etl.errors import InputError

logger = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 64 * 1024
LOOKBACK_BYTES = 64 * 1024
SNIFF_BYTES = 8192
DIGEST_CONTEXTS = ("igest: ", "anifest ", "list ", "@", "blob ")
PUSH_LEADS = "pP"
# The needle first and its context as lookbehinds: ``re`` then searches for
# the literal at C speed and checks the context without a Python round trip.
B_DIGEST_RE = re.compile(
    b"sha256:(?:"
    + b"|".join(b"(?<=" + re.escape(c.encode()) + b"sha256:)" for c in DIGEST_CONTEXTS)
    + b")"
)
B_PUSH_RE = re.compile(
    b"ush(?:" + b"|".join(b"(?<=" + c.encode() + b"ush)" for c in PUSH_LEADS) + b")"
)
B_DOCKERFILE_NEEDLE = DOCKERFILE_NEEDLE.encode()
DIGEST_RE = re.compile(B_DIGEST_RE.pattern.decode())
PUSH_RE = re.compile(B_PUSH_RE.pattern.decode())
BINARY_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0c\x1b\x08") + b"\x7f"
COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ": "xz",
}


def is_candidate(line: str) -> bool:
    """Whether a line holds a needle (the per-line form of the block scan)."""
    return (
        PUSH_RE.search(line) is not None
        or DIGEST_RE.search(line) is not None
        or DOCKERFILE_NEEDLE in line
    )


class RecentLines:
    """The lines before the current one, up to ``LOOKBACK_BYTES``."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self.size = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > LOOKBACK_BYTES and self.lines:
            self.size -= len(self.lines.popleft()) + 1

    def nearest_lines(
        self, needles: tuple[str, ...], max_bytes: int, limit: int
    ) -> list[str]:
        found: list[str] = []
        seen = 0
        for line in reversed(self.lines):
            seen += len(line) + 1
            if seen > max_bytes or len(found) >= limit:
                break
            if any(n in line for n in needles):
                found.append(line)
        return found


def parse_lines(lines: Iterable[str]) -> Iterator[PushEvent]:
    """The push events a log's lines prove (pure: no I/O, bounded memory)."""
    recent = RecentLines()
    parser = Parser(recent)
    for no, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE_BYTES:
            raw = raw[:MAX_LINE_BYTES]
        if parser.busy or is_candidate(raw):
            parser.feed(no, raw)
        recent.add(raw)
    yield from parser.finish()


def parse_file(path: Path) -> list[PushEvent]:
    """The push events of one log file, streamed; InputError if it is not a text log."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
            fh.seek(0)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return _parse_utf16(fh)
            _check_text(path, head)
            scanner = _BlockScanner()
            while block := fh.read(BLOCK_BYTES):
                scanner.add(block)
            return scanner.finish()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            f"{path}: cannot read the log ({reason}); check the path and permissions"
        ) from exc


def _check_text(path: Path, head: bytes) -> None:
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise InputError(f"{path}: {kind}-compressed, not a log; extract it first")
    if _looks_binary(head):
        raise InputError(
            f"{path}: binary data (control bytes in the first {SNIFF_BYTES} bytes), "
            "not a text build log; pass the log text"
        )


def _looks_binary(head: bytes) -> bool:
    """Mostly control bytes: an executable, an image, an archive, UTF-16 without BOM.

    A little garbage (a program that printed a few stray bytes) is still a log.
    """
    if not head:
        return False
    control = sum(head.count(bytes([b])) for b in BINARY_BYTES)
    return head.count(0) * 100 > len(head) or control * 10 > len(head)


def _parse_utf16(fh: BinaryIO) -> list[PushEvent]:
    """UTF-16 logs (a Windows console redirected to a file); rare, read per line."""
    text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="\n")
    return list(parse_lines(text))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _BlockScanner:
    """Finds candidate lines in blocks read from a file and feeds them to a parser.

    Keeps the blocks of the last ``LOOKBACK_BYTES`` (for lookbacks) and the
    unfinished line after the last block, at most ``MAX_LINE_BYTES`` of it: the
    rest of an over-long line is skipped unread.
    """

    def __init__(self) -> None:
        self.parser = Parser(self)
        self.lines_before = 0
        self.carry = b""
        self.in_long_line = False
        self.cut_lines = 0
        self.blocks: deque[tuple[int, bytes]] = deque()
        self.offset = 0
        self.line_start = 0

    def add(self, data: bytes) -> None:
        self.offset += len(self.blocks[-1][1]) if self.blocks else 0
        self.line_start = -len(self.carry)
        self.blocks.append((self.offset, data))
        first, block = self.blocks[0]
        while first + len(block) < self.offset - LOOKBACK_BYTES:
            self.blocks.popleft()
            first, block = self.blocks[0]
        start = 0
        if self.carry or self.in_long_line:
            end = data.find(b"\n")
            if end < 0:
                self._extend_carry(data)
                return
            if not self.in_long_line:
                self._extend_carry(data[:end])
            self._single_line(self.carry)
            self.carry, self.in_long_line = b"", False
            start = end + 1
        last = data.rfind(b"\n", start)
        if last >= 0:
            self._block(data, start, last + 1)
            start = last + 1
        self._extend_carry(data[start:])

    def finish(self) -> list[PushEvent]:
        if self.carry:
            self._single_line(self.carry)
        if self.cut_lines:
            logger.warning(
                "%s over-long lines cut to %s bytes", self.cut_lines, MAX_LINE_BYTES
            )
        return self.parser.finish()

    def _extend_carry(self, more: bytes) -> None:
        if self.in_long_line:
            return
        self.carry += more
        if len(self.carry) > MAX_LINE_BYTES:
            self.carry, self.in_long_line = self.carry[:MAX_LINE_BYTES], True
            self.cut_lines += 1

    def _single_line(self, raw: bytes) -> None:
        """A line that spans blocks: fed like any other, line by line."""
        self.lines_before += 1
        text = _decode(raw)
        if self.parser.busy or is_candidate(text):
            self.parser.feed(self.lines_before, text)

    def _block(self, data: bytes, start: int, end: int) -> None:
        """Feed the candidate lines of data[start:end], which ends with a newline."""
        hits = [m.start() - start for m in B_DIGEST_RE.finditer(data, start, end)]
        hits += [m.start() - start for m in B_PUSH_RE.finditer(data, start, end)]
        pos = data.find(B_DOCKERFILE_NEEDLE, start, end)
        while pos >= 0:
            hits.append(pos - start)
            pos = data.find(B_DOCKERFILE_NEEDLE, pos + 1, end)
        view = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
        ends = np.flatnonzero(view == 10)
        base = self.lines_before
        i = self._feed_lines(data, start, ends, 0, base, first=False)
        if hits:
            for c in sorted(set(np.searchsorted(ends, hits).tolist())):
                if c >= i:
                    i = self._feed_lines(data, start, ends, c, base, first=True)
        self.lines_before = base + len(ends)

    def _feed_lines(
        self,
        data: bytes,
        offset: int,
        ends: np.ndarray,
        i: int,
        base: int,
        first: bool,
    ) -> int:
        """Feed line i (if first) and the lines after it while the parser is busy."""
        n = len(ends)
        parser = self.parser
        while i < n and (first or parser.busy):
            first = False
            start = offset + (int(ends[i - 1]) + 1 if i else 0)
            end = offset + int(ends[i])
            self.line_start = start
            if end - start > MAX_LINE_BYTES:
                self.cut_lines += 1
                text = _decode(data[start : start + MAX_LINE_BYTES])
                if parser.busy or is_candidate(text):
                    parser.feed(base + i + 1, text)
            else:
                parser.feed(base + i + 1, _decode(data[start:end]))
            i += 1
        return i

    def nearest_lines(
        self, needles: tuple[str, ...], max_bytes: int, limit: int
    ) -> list[str]:
        """Lines before the current one holding a needle, nearest first."""
        window = self._window(max_bytes)
        found: list[str] = []
        hi = len(window)
        while len(found) < limit:
            pos = max(window.rfind(n.encode(), 0, hi) for n in needles)
            if pos < 0:
                break
            lo = window.rfind(b"\n", 0, pos) + 1
            end = window.find(b"\n", pos)
            found.append(_decode(window[lo : end if end >= 0 else hi]))
            hi = lo
        return found

    def _window(self, max_bytes: int) -> bytes:
        """The max_bytes before the current line, from the blocks still kept."""
        pieces = []
        hi = self.offset + self.line_start
        for start, block in reversed(self.blocks):
            lo = max(start, hi - max_bytes)
            if hi > lo:
                pieces.append(block[lo - start : hi - start])
                max_bytes -= hi - lo
                hi = lo
            if max_bytes <= 0 or start == 0:
                break
        return b"".join(reversed(pieces))

"""Feeding a log to the parser: line by line, or a whole file at C speed.

Almost every line of a build log is noise. A line can matter only if it holds
one of three needles: ``push``/``Push`` (as ``ush`` after ``p`` or ``P``), a
Dockerfile name, or ``sha256:`` right after ``digest: ``, ``manifest ``,
``list ``, ``@`` or ``blob ``. Tools that wait for an outcome (an open
``docker push``) ask for every line until they have it (``Parser.busy``).

``parse_file`` finds the needles with ``bytes.find`` over 1 MiB blocks and
locates lines with numpy, so noise is never decoded; ``parse_lines`` tests
each line. Both hand the parser exactly the same lines.
"""

from __future__ import annotations

import codecs
import io
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from etl.buildlogs.core import Parser
from etl.buildlogs.events import PushEvent
from etl.errors import InputError

logger = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 64 * 1024
LOOKBACK_BYTES = 64 * 1024
SNIFF_BYTES = 8192
DIGEST_NEEDLE = "sha256:"
DIGEST_CONTEXTS = ("igest: ", "anifest ", "list ", "@", "blob ")
PUSH_NEEDLE = "ush"
PUSH_LEADS = "pP"
DOCKERFILE_NEEDLE = "erfile"
B_DIGEST_CONTEXTS = tuple(c.encode() for c in DIGEST_CONTEXTS)
B_PUSH_LEADS = frozenset(PUSH_LEADS.encode())
CONTEXT_BYTES = max(len(c) for c in DIGEST_CONTEXTS)
COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ": "xz",
}


def is_candidate(line: str) -> bool:
    """Whether a line holds one of the needles (the per-line form of the scan)."""
    i = line.find(DIGEST_NEEDLE)
    while i >= 0:
        if line[max(0, i - CONTEXT_BYTES) : i].endswith(DIGEST_CONTEXTS):
            return True
        i = line.find(DIGEST_NEEDLE, i + 1)
    i = line.find(PUSH_NEEDLE)
    while i >= 0:
        if i > 0 and line[i - 1] in PUSH_LEADS:
            return True
        i = line.find(PUSH_NEEDLE, i + 1)
    return DOCKERFILE_NEEDLE in line


class RecentLines:
    """The last lines seen, up to ``LOOKBACK_BYTES``, for ``Parser`` lookbacks."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self.size = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > LOOKBACK_BYTES and self.lines:
            self.size -= len(self.lines.popleft()) + 1

    def nearest(self, needle: str, max_bytes: int) -> str | None:
        seen = 0
        for line in reversed(self.lines):
            seen += len(line) + 1
            if seen > max_bytes:
                return None
            if needle in line:
                return line
        return None


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
            return _scan(fh)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            f"{path}: cannot read the log ({reason}); check the path and permissions"
        ) from exc


def _check_text(path: Path, head: bytes) -> None:
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise InputError(f"{path}: {kind}-compressed, not a log; extract it first")
    if b"\x00" in head:
        raise InputError(
            f"{path}: binary data (NUL bytes in the first {SNIFF_BYTES} bytes), "
            "not a text build log; pass the log text"
        )


def _parse_utf16(fh: BinaryIO) -> list[PushEvent]:
    """UTF-16 logs (a Windows console redirected to a file); rare, read per line."""
    text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="\n")
    return list(parse_lines(text))


def _scan(fh: BinaryIO) -> list[PushEvent]:
    scanner = _BlockScanner()
    while True:
        block = fh.read(BLOCK_BYTES)
        if not block:
            break
        scanner.add(block)
    return scanner.finish()


def _needle_positions(work: bytes) -> list[int]:
    """Offsets in work of each needle (``is_candidate`` at C speed)."""
    hits = []
    find = work.find
    pos = find(b"sha256:")
    while pos >= 0:
        if work[max(0, pos - CONTEXT_BYTES) : pos].endswith(B_DIGEST_CONTEXTS):
            hits.append(pos)
        pos = find(b"sha256:", pos + 7)
    pos = find(b"ush")
    while pos >= 0:
        if pos and work[pos - 1] in B_PUSH_LEADS:
            hits.append(pos)
        pos = find(b"ush", pos + 3)
    pos = find(b"erfile")
    while pos >= 0:
        hits.append(pos)
        pos = find(b"erfile", pos + 6)
    return hits


class _BlockScanner:
    """Finds candidate lines in blocks of bytes and feeds them to a ``Parser``.

    Keeps one block, the unfinished line after it (at most ``MAX_LINE_BYTES``;
    the rest of an over-long line is skipped unread) and the last
    ``LOOKBACK_BYTES`` before the block for lookbacks.
    """

    def __init__(self) -> None:
        self.parser = Parser(self)
        self.lines_before = 0
        self.carry = b""
        self.in_long_line = False
        self.cut_lines = 0
        self.tail = b""
        self.work = b""
        self.line_start = 0

    def add(self, block: bytes) -> None:
        if self.in_long_line:
            end = block.find(b"\n")
            if end < 0:
                return
            self._line(self.carry, self.lines_before + 1)
            self.lines_before += 1
            self.carry, self.in_long_line = b"", False
            block = block[end + 1 :]
        data = self.carry + block if self.carry else block
        last = data.rfind(b"\n")
        if last < 0:
            self._hold(data)
            return
        self._block(data[: last + 1])
        self._hold(data[last + 1 :])

    def finish(self) -> list[PushEvent]:
        if self.carry:
            self._line(self.carry, self.lines_before + 1)
        if self.cut_lines:
            logger.warning(
                "%s over-long lines cut to %s bytes", self.cut_lines, MAX_LINE_BYTES
            )
        return self.parser.finish()

    def _hold(self, rest: bytes) -> None:
        if len(rest) > MAX_LINE_BYTES:
            self.carry, self.in_long_line = rest[:MAX_LINE_BYTES], True
            self.cut_lines += 1
        else:
            self.carry = rest

    def _line(self, raw: bytes, no: int) -> None:
        """One line outside a block: an over-long or unterminated last line."""
        self.work, self.line_start = raw, 0
        text = raw[:MAX_LINE_BYTES].decode("utf-8", "replace")
        if self.parser.busy or is_candidate(text):
            self.parser.feed(no, text)

    def _block(self, work: bytes) -> None:
        """Feed the candidate lines of work, and every line while a tool is busy."""
        self.work = work
        hits = _needle_positions(work)
        ends = np.flatnonzero(np.frombuffer(work, dtype=np.uint8) == 10)
        base = self.lines_before
        i = self._feed_while_busy(work, ends, 0, base, first=False)
        if hits:
            for c in sorted(set(np.searchsorted(ends, hits).tolist())):
                if c >= i:
                    i = self._feed_while_busy(work, ends, c, base, first=True)
        self.lines_before = base + len(ends)
        self.tail = (self.tail + work)[-LOOKBACK_BYTES:]

    def _feed_while_busy(
        self, work: bytes, ends: np.ndarray, i: int, base: int, first: bool
    ) -> int:
        """Feed line i (if first) and the lines after it while the parser is busy."""
        n = len(ends)
        parser = self.parser
        while i < n and (first or parser.busy):
            first = False
            start = int(ends[i - 1]) + 1 if i else 0
            end = int(ends[i])
            self.line_start = start
            if end - start > MAX_LINE_BYTES:
                self.cut_lines += 1
                text = work[start : start + MAX_LINE_BYTES].decode("utf-8", "replace")
                if parser.busy or is_candidate(text):
                    parser.feed(base + i + 1, text)
            else:
                parser.feed(base + i + 1, work[start:end].decode("utf-8", "replace"))
            i += 1
        return i

    def nearest(self, needle: str, max_bytes: int) -> str | None:
        """The closest line before the current one containing needle (lookback)."""
        hay = self.work[max(0, self.line_start - max_bytes) : self.line_start]
        if len(hay) < max_bytes:
            hay = (self.tail + hay)[-max_bytes:]
        pos = hay.rfind(needle.encode())
        if pos < 0:
            return None
        start = hay.rfind(b"\n", 0, pos) + 1
        end = hay.find(b"\n", pos)
        line = hay[start : end if end >= 0 else len(hay)]
        return line[:MAX_LINE_BYTES].decode("utf-8", "replace")

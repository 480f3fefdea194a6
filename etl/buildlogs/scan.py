"""Feeding a log to the parser: line by line, or a whole file at C speed.

Almost every line of a build log is noise. A line can matter only if it holds
``push``/``Push`` (``ush`` after ``p`` or ``P``), ``sha256:`` right after
``digest: ``, ``manifest ``, ``list ``, ``@`` or ``blob ``, or a Dockerfile
name (``erfile``). Those lines are the candidates, and so are lines where a
colour code sits next to an ``sh`` and the line holds a needle once clean.
Tools that wait for an outcome (an open ``docker push``) ask for every line
until they have it (``Parser.busy``). The ``skopeo copy`` command before a
copy's output is looked up backwards when the output appears
(``nearest_lines``).

``parse_file`` reads 1 MiB blocks into a reused buffer; numpy finds every "sh"
and "fi" of a block in one pass, keeps the few that can start a needle and
checks those with the needle pattern, so noise is never decoded or copied.
Line ends are only counted. ``parse_lines`` tests each line; both hand the
parser the same lines.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

from etl.buildlogs.clean import strip_escapes
from etl.buildlogs.core import DOCKERFILE_NEEDLE
from etl.buildlogs.events import PushEvent
from etl.buildlogs.parser import Parser
from etl.errors import InputError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 64 * 1024
LOOKBACK_BYTES = 64 * 1024
SNIFF_BYTES = 8192
DIGEST_CONTEXTS = ("igest: ", "anifest ", "list ", "@", "blob ")
PUSH_LEADS = "pP"
DIGEST_CONTEXT_ENDS = {
    c.rstrip(" ")[-1].encode()[0] for c in DIGEST_CONTEXTS if c != "@"
}
# Both needles share "sh": ``re`` searches for that literal at C speed and
# checks the rest, and the context before it as lookbehinds, without a Python
# round trip per hit.
NEEDLES = (
    "sh(?:a256:(?:"
    + "|".join(f"(?<={re.escape(c)}sha256:)" for c in DIGEST_CONTEXTS)
    + ")|"
    + "|".join(f"(?<={c}ush)" for c in PUSH_LEADS)
    + ")"
)
B_NEEDLES_RE = re.compile(NEEDLES.encode())
NEEDLES_RE = re.compile(NEEDLES)
B_DOCKERFILE_NEEDLE = DOCKERFILE_NEEDLE.encode()
# Needles around a "fi": a Dockerfile path, and the config a containers/image
# copy (skopeo, podman) writes ("Copying config ..."), which names no digest in
# newer releases.
FI_NEEDLES = (DOCKERFILE_NEEDLE, "config")
B_FI_NEEDLES = tuple(n.encode() for n in FI_NEEDLES)
# A colour code that hides a needle sits between its words: it ends right
# before the "sh" (or before the space before it), or is inside "sha256:".
# Every escape and residue holds ESC or "[", at most NEAR_BEFORE bytes before
# the "sh" for any code a console prints, and ends in a byte of ESCAPE_ENDS.
NEAR_BEFORE = 24
NEAR_AFTER = len("sha256:")
ESCAPE_MARKS = ("\x1b", "[")
ESCAPE_ENDS = (0x40, 0x7E)  # and BEL, which ends an OSC
BEL = 0x07
NEWLINE = ord("\n")
BINARY_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0c\x1b\x08") + b"\x7f"
# Archive formats by their magic bytes, and the command that decompresses each.
COMPRESSED = {
    b"\x1f\x8b": ("gzip", "zcat"),
    b"PK\x03\x04": ("zip", "unzip -p"),
    b"BZh": ("bzip2", "bzcat"),
    b"\xfd7zXZ": ("xz", "xzcat"),
    b"\x28\xb5\x2f\xfd": ("zstd", "zstdcat"),
    b"7z\xbc\xaf\x27\x1c": ("7z", "7z x -so"),
}


def is_candidate(line: str) -> bool:
    """Whether a line holds a needle (the per-line form of the block scan).

    A colour code can sit between the words of a needle, so a line with an
    escape mark close to an "sh" is tested again without escapes.
    """
    if _has_needle(line):
        return True
    return _escape_near_sh(line) and _has_needle(strip_escapes(line))


def _has_needle(line: str) -> bool:
    return NEEDLES_RE.search(line) is not None or any(n in line for n in FI_NEEDLES)


def _escape_near_sh(line: str) -> bool:
    """Whether an escape can hide a needle at an "sh" of the line.

    In the line's UTF-8, as a block holds it: ESC or "[" is within NEAR_BEFORE
    bytes before the "sh" or NEAR_AFTER after its start, and either is inside
    that "after", or the byte before the "sh" (or before the space before it)
    can end an escape. Or that byte is BEL, which ends a string escape of any
    length.
    """
    if "sh" not in line or not any(m in line for m in ESCAPE_MARKS):
        return False
    raw = line.encode("utf-8", "surrogatepass")
    marks = [m.encode() for m in ESCAPE_MARKS]
    pos = raw.find(b"sh")
    while pos >= 0:
        after = raw[pos : pos + NEAR_AFTER]
        before = raw[max(0, pos - 2) : pos].rjust(2, b"\n")
        if before[1] == BEL or before == b"\x07 ":
            return True  # a string escape (a hyperlink, a title) of any length
        adjacent = _ends_escape(before[1]) or (
            before[1] == ord(" ") and _ends_escape(before[0])
        )
        if adjacent or any(m in after for m in marks):
            near = raw[max(0, pos - NEAR_BEFORE) : pos + NEAR_AFTER]
            if any(m in near for m in marks):
                return True
        pos = raw.find(b"sh", pos + 1)
    return False


def _ends_escape(byte: int) -> bool:
    return ESCAPE_ENDS[0] <= byte <= ESCAPE_ENDS[1] or byte == BEL


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
        every = "" in needles
        for line in reversed(self.lines):
            seen += len(line) + 1
            if seen > max_bytes or len(found) >= limit:
                break
            if every or any(n in line for n in needles):
                found.append(line)
        return found


def cut_line(head: str) -> str:
    """The head of an over-long line without its last, partial word: a ref cut
    short (``repo:1.2`` of ``repo:1.2.3``) would name another image."""
    return head[: max(head.rfind(" "), head.rfind("\t"), 0)]


def parse_lines(lines: Iterable[str]) -> Iterator[PushEvent]:
    """The push events a log's lines prove (pure: no I/O, bounded memory)."""
    recent = RecentLines()
    parser = Parser(recent)
    for no, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE_BYTES:
            raw = cut_line(raw[:MAX_LINE_BYTES])
        if parser.busy or is_candidate(raw):
            parser.feed(no, raw)
        recent.add(raw)
    yield from parser.finish()


def parse_file(path: Path) -> list[PushEvent]:
    """The push events of one log file, streamed; InputError if it is not a text log."""
    path = Path(path)
    try:
        with path.open("rb", buffering=0) as fh:
            return parse_stream(fh, str(path))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            f"{path}: cannot read the log ({reason}); check the path and permissions"
        ) from exc


def parse_stream(fh: io.RawIOBase, name: str) -> list[PushEvent]:
    """The push events of a log read from fh: a file, or a pipe such as stdin.

    name is what errors and warnings call the log.
    """
    if fh.seekable():
        head = fh.read(SNIFF_BYTES)
        fh.seek(0)
        raw: io.RawIOBase = fh
    else:
        head = _read_head(fh)
        raw = _Replayed(head, fh)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _parse_utf16(io.BufferedReader(raw))
    _check_text(name, head)
    scanner = _BlockScanner()
    if b"\r" in head and b"\n" not in head and fh.seekable() and _has_no_newline(fh):
        events = scanner.scan(_CarriageReturnLines(fh))
    else:
        events = scanner.scan(raw)
    if scanner.cut_lines:
        logger.warning(
            "%s: %s over-long lines read only to their first %s bytes",
            name,
            scanner.cut_lines,
            MAX_LINE_BYTES,
        )
    return events


def _read_head(fh: io.RawIOBase) -> bytes:
    """The first SNIFF_BYTES of a pipe, which may come in several reads."""
    head = b""
    while len(head) < SNIFF_BYTES and (more := fh.read(SNIFF_BYTES - len(head))):
        head += more
    return head


class _Replayed(io.RawIOBase):
    """A pipe whose first bytes were read already: those, then the rest."""

    def __init__(self, head: bytes, raw: io.RawIOBase) -> None:
        self.head = head
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.head:
            size = min(len(view), len(self.head))
            view[:size] = self.head[:size]
            self.head = self.head[size:]
            return size
        return self.raw.readinto(view) or 0


def _check_text(path: str, head: bytes) -> None:
    for magic, (kind, decompress) in COMPRESSED.items():
        if head.startswith(magic):
            raise InputError(
                f"{path}: {kind}-compressed, not a log; decompress it first"
                f" ({decompress} FILE | imagetrail parse-log -)"
            )
    if _looks_binary(head):
        raise InputError(
            f"{path}: binary data (control bytes in the first {SNIFF_BYTES} bytes), "
            "not a text build log; pass the log text"
        )


def _has_no_newline(fh: io.RawIOBase) -> bool:
    """Whether the whole file lacks LF (old Mac line ends); leaves fh at its start."""
    try:
        while block := fh.read(BLOCK_BYTES):
            if b"\n" in block:
                return False
        return True
    finally:
        fh.seek(0)


class _CarriageReturnLines(io.RawIOBase):
    """A file whose lines end in a bare CR, read as if they ended in LF."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        size = self.raw.readinto(view) or 0
        view[:size] = view[:size].tobytes().replace(b"\r", b"\n")
        return size


def _looks_binary(head: bytes) -> bool:
    """Mostly control bytes: an executable, an image, an archive, UTF-16 without BOM.

    A little garbage (a program that printed a few stray bytes) is still a log,
    and so is one that starts with NUL bytes: a log rotated with copytruncate
    while its writer went on at its old offset.
    """
    head = head.lstrip(b"\0")
    if not head:
        return False
    control = sum(head.count(bytes([b])) for b in BINARY_BYTES)
    undecodable = head.decode("utf-8", "replace").count("\ufffd")
    return (
        head.count(0) * 100 > len(head)
        or control * 10 > len(head)
        or undecodable * 4 > len(head)
    )


def _parse_utf16(fh: BinaryIO) -> list[PushEvent]:
    """UTF-16 logs (a Windows console redirected to a file); rare, read per line."""
    text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="\n")
    return list(parse_lines(_capped_lines(text)))


def _capped_lines(text: io.TextIOWrapper) -> Iterator[str]:
    """The lines of text, an over-long one read only to just past the limit."""
    while line := text.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith("\n"):
            while (rest := text.readline(BLOCK_BYTES)) and not rest.endswith("\n"):
                pass
        yield line.removesuffix("\n")


def _positions(arr: np.ndarray, needle: bytes) -> np.ndarray:
    """Where needle starts in arr (a block's bytes)."""
    n = len(arr) - len(needle) + 1
    if n <= 0:
        return np.empty(0, np.intp)
    hit = arr[:n] == needle[0]
    for i, byte in enumerate(needle[1:], 1):
        hit &= arr[i : i + n] == byte
    return np.flatnonzero(hit)


def _pair_positions(
    arr: np.ndarray, pairs: tuple[bytes, ...], masks: list[np.ndarray]
) -> np.ndarray:
    """Where any of the two-byte pairs starts in arr, in one pass over the hits.

    masks: boolean arrays at least as long as arr; the first three are scratch.
    """
    n = arr.size - 1
    if n <= 0:
        return np.empty(0, np.intp)
    found, hit, second = (mask[:n] for mask in masks[:3])
    for i, (first_byte, second_byte) in enumerate(pairs):
        target = hit if i else found
        np.equal(arr[:n], first_byte, out=target)
        np.equal(arr[1:], second_byte, out=second)
        target &= second
        if i:
            found |= hit
    return np.flatnonzero(found)


def _fi_hits(arr: np.ndarray, fi: np.ndarray, start: int) -> list[int]:
    """Where a needle of FI_NEEDLES starts in arr (a block at start in the
    buffer), given where its rare "fi" does.

    A byte search for a needle of common letters steps through a block a few
    bytes at a time; numpy checks the letters around each "fi" at once.
    """
    hits: list[int] = []
    for needle in B_FI_NEEDLES:
        at = needle.index(b"fi")
        found = fi[(fi >= at) & (fi + len(needle) - at <= arr.size)]
        for i, byte in enumerate(needle):
            if not at <= i < at + 2:
                found = found[arr[found + i - at] == byte]
        hits += (found - at + start).tolist()
    return hits


def _near_escape(arr: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """Which "sh" (positions in arr) an escape on their line can hide a needle
    at, as ``_escape_near_sh`` tests a line.

    An "sh" too close to an end of arr for a whole window counts as near: one
    more line to test.
    """
    width = NEAR_BEFORE + NEAR_AFTER
    inside = np.flatnonzero((sh >= NEAR_BEFORE) & (sh + NEAR_AFTER <= arr.size))
    near = np.ones(sh.size, bool)
    if not inside.size:
        return near
    near[inside] = False
    strided = as_strided(arr, (arr.size - width + 1, width), (1, 1), writeable=False)
    windows = strided[sh[inside] - NEAR_BEFORE]
    # ESC (0x1b) and "[" (0x5b) differ only in bit 0x40.
    mark = (windows & 0xBF) == 0x1B
    before, lead = windows[:, NEAR_BEFORE - 1], windows[:, NEAR_BEFORE - 2]
    # A string escape (a hyperlink, a title) ends in BEL and can be any length.
    near[inside] = (before == BEL) | ((before == ord(" ")) & (lead == BEL))
    adjacent = _ends_escapes(before) | ((before == ord(" ")) & _ends_escapes(lead))
    adjacent |= mark[:, NEAR_BEFORE:].any(axis=1)
    rows = np.flatnonzero(adjacent & mark.any(axis=1))
    if not rows.size:
        return near
    # A window reaches over line ends: only the columns of the line of its "sh" count.
    windows, mark = windows[rows], mark[rows]
    column = np.arange(width)
    newline = windows == NEWLINE
    after = np.where(newline[:, :NEAR_BEFORE], column[:NEAR_BEFORE], -1).max(axis=1)
    before = np.where(newline[:, NEAR_BEFORE:], column[NEAR_BEFORE:], width).min(axis=1)
    mark &= (column > after[:, None]) & (column < before[:, None])
    near[inside[rows]] |= mark.any(axis=1)
    return near


def _ends_escapes(arr: np.ndarray) -> np.ndarray:
    """Which bytes of arr can end an escape (``_ends_escape`` at once)."""
    low, high = ESCAPE_ENDS
    return ((arr >= low) & (arr <= high)) | (arr == BEL)


def _decode(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", "replace")


class _Scratch(threading.local):
    """A thread's read buffer and numpy masks, reused for every block and file.

    Fresh megabytes for each block would cost a page fault per 4 KiB.
    """

    size = 0

    def get(self) -> tuple[bytearray, list[np.ndarray]]:
        if self.size != BLOCK_BYTES:
            self.buf = bytearray(BLOCK_BYTES)
            self.masks = [np.empty(BLOCK_BYTES, bool) for _ in range(4)]
            self.size = BLOCK_BYTES
        return self.buf, self.masks


_SCRATCH = _Scratch()


class _BlockScanner:
    """Finds candidate lines in blocks read from a file and feeds them to a parser.

    Reads into one reused buffer. Keeps the last ``LOOKBACK_BYTES`` before the
    block (for lookbacks) and the unfinished line after it, at most
    ``MAX_LINE_BYTES`` of it: the rest of an over-long line is skipped unread.
    """

    def __init__(self) -> None:
        self.parser = Parser(self)
        self.line_no = 0  # lines fully read so far
        self.carry = b""
        self.in_long_line = False
        self.cut_lines = 0
        self.buf = bytearray()
        self.masks: list[np.ndarray] = []
        self.offset = 0  # of buf in the file
        self.size = 0  # bytes of buf in use
        self.line_start = 0  # in buf; negative for a line begun in an earlier block
        self.tails: deque[tuple[int, bytes]] = deque()

    def scan(self, fh: io.RawIOBase) -> list[PushEvent]:
        self.buf, self.masks = _SCRATCH.get()
        with memoryview(self.buf) as view:
            while size := fh.readinto(view):
                self._add(size)
        return self._finish()

    def _add(self, size: int) -> None:
        buf = self.buf
        self.offset += self.size
        self.size = size
        self.line_start = -len(self.carry)
        start = 0
        if self.carry or self.in_long_line:
            end = buf.find(b"\n", 0, size)
            if end < 0:
                self._extend_carry(buf, 0, size)
                self._keep_tail()
                return
            self._extend_carry(buf, 0, end)
            self._single_line(self.carry, self.in_long_line)
            self.carry, self.in_long_line = b"", False
            start = end + 1
        last = buf.rfind(b"\n", start, size)
        if last >= 0:
            self._block(start, last + 1)
            start = last + 1
        self._extend_carry(buf, start, size)
        self._keep_tail()

    def _finish(self) -> list[PushEvent]:
        if self.carry:
            # The last line, without a newline, ends the last block read.
            self.line_start = self.size - len(self.carry)
            self._single_line(self.carry, self.in_long_line)
        return self.parser.finish()

    def _extend_carry(self, buf: bytearray, lo: int, hi: int) -> None:
        if self.in_long_line or hi <= lo:
            return
        self.carry += buf[lo : min(hi, lo + MAX_LINE_BYTES)]
        if len(self.carry) > MAX_LINE_BYTES or hi - lo > MAX_LINE_BYTES:
            self.carry, self.in_long_line = self.carry[:MAX_LINE_BYTES], True
            self.cut_lines += 1

    def _keep_tail(self) -> None:
        """Copy the end of the block before the buffer is reused (for lookbacks)."""
        lo = max(0, self.size - LOOKBACK_BYTES)
        self.tails.append((self.offset + lo, bytes(self.buf[lo : self.size])))
        while sum(len(t) for _, t in self.tails) > LOOKBACK_BYTES + len(
            self.tails[-1][1]
        ):
            self.tails.popleft()

    def _single_line(self, raw: bytes, cut: bool) -> None:
        """A line that spans blocks: fed like any other."""
        self.line_no += 1
        text = cut_line(_decode(raw)) if cut else _decode(raw)
        if self.parser.busy or is_candidate(text):
            self.parser.feed(self.line_no, text)

    def _block(self, start: int, end: int) -> None:
        """Feed the candidate lines of buf[start:end], which ends with a newline."""
        buf = self.buf
        arr = np.frombuffer(buf, np.uint8, end - start, start)
        # Line ends are only counted: their positions would cost more than
        # all the rest, and a hit's line start is a short search back.
        newline = np.equal(arr, NEWLINE, out=self.masks[-1][: arr.size])
        # Every needle holds "sh" or the "fi" of "erfile": one pass finds both.
        pairs = _pair_positions(arr, (b"sh", B_DOCKERFILE_NEEDLE[2:4]), self.masks)
        is_sh = arr[pairs] == ord("s")
        sh = pairs[is_sh]
        # A needle hit is a candidate line; an escape near an "sh" makes a
        # line to test when clean.
        hits = [(pos, False) for pos in self._needle_hits(arr, sh, start, end)]
        hits += [(pos, False) for pos in _fi_hits(arr, pairs[~is_sh], start)]
        hits += [(pos, True) for pos in (sh[_near_escape(arr, sh)] + start).tolist()]
        hits.sort()
        lines_at_end = self.line_no + int(np.count_nonzero(newline))
        cursor = self._feed_while_busy(start, end)
        for hit, check in hits:
            if hit < cursor:
                continue  # on a line already fed or tested
            line_start = buf.rfind(b"\n", cursor, hit) + 1 or cursor
            # The cursor is at a line start and self.line_no counts the lines
            # before it (fed or skipped): add the skipped ones up to this line.
            skipped = newline[cursor - start : line_start - start]
            self.line_no += int(np.count_nonzero(skipped))
            cursor = self._feed_line(line_start, end, check)
            cursor = self._feed_while_busy(cursor, end)
        self.line_no = lines_at_end

    def _needle_hits(
        self, arr: np.ndarray, sh: np.ndarray, start: int, end: int
    ) -> list[int]:
        """Where a needle starts in buf[start:end], given where "sh" does.

        numpy keeps the few "sh" after "pu"/"Pu", or after a context and before
        "a256:";
        the needle pattern then checks each exactly, as a search would.
        """
        last = arr.size - 1
        before = arr[np.maximum(sh - 1, 0)]
        lead = arr[np.maximum(sh - 2, 0)]
        push = (before == ord("u")) & ((lead | 0x20) == ord("p"))
        # Layer progress ("#5 sha256:...") is most "sha256:"; a digest needle
        # follows "@" or a space after the last byte of a context word.
        context_end = np.zeros_like(push)
        for byte in DIGEST_CONTEXT_ENDS:
            context_end |= lead == byte
        context = (before == ord("@")) | ((before == ord(" ")) & context_end)
        for i, byte in enumerate(b"a256:", 2):
            context &= arr[np.minimum(sh + i, last)] == byte
        found = []
        for pos in (sh[push | context] + start).tolist():
            if B_NEEDLES_RE.match(self.buf, pos, end):
                found.append(pos)
        return found

    def _feed_while_busy(self, cursor: int, end: int) -> int:
        while cursor < end and self.parser.busy:
            cursor = self._feed_line(cursor, end)
        return cursor

    def _feed_line(self, start: int, end: int, check: bool = False) -> int:
        """Feed the line starting at start (if a candidate, with check).

        Return where the next line starts.
        """
        buf = self.buf
        stop = buf.find(b"\n", start, end)
        self.line_no += 1
        self.line_start = start
        if stop - start > MAX_LINE_BYTES:
            self.cut_lines += 1
            text = cut_line(_decode(buf[start : start + MAX_LINE_BYTES]))
            check = True
        else:
            text = _decode(buf[start:stop])
        if not check or self.parser.busy or is_candidate(text):
            self.parser.feed(self.line_no, text)
        return stop + 1

    def nearest_lines(
        self, needles: tuple[str, ...], max_bytes: int, limit: int
    ) -> list[str]:
        """Lines before the current one holding a needle, nearest first."""
        window = self._window(max_bytes)
        found: list[str] = []
        # Search before the newline that ends the nearest line: an empty needle
        # then finds every line, as in the line-by-line lookback.
        hi = len(window) - window.endswith(b"\n")
        while window and hi >= 0 and len(found) < limit:
            pos = max(window.rfind(n.encode(), 0, hi) for n in needles)
            if pos < 0:
                break
            lo = window.rfind(b"\n", 0, pos) + 1
            end = window.find(b"\n", pos)
            found.append(_decode(window[lo : end if end >= 0 else len(window)]))
            hi = lo - 1
        return found

    def _window(self, max_bytes: int) -> bytes:
        """The max_bytes before the current line, from the buffer and kept tails."""
        pieces = []
        hi = self.offset + self.line_start
        lo = max(self.offset, hi - max_bytes)
        if hi > lo:
            pieces.append(bytes(self.buf[lo - self.offset : hi - self.offset]))
            hi = lo
        for start, tail in reversed(self.tails):
            hi = min(hi, start + len(tail))
            lo = max(start, self.offset + self.line_start - max_bytes)
            if hi > lo:
                pieces.append(tail[lo - start : hi - start])
                hi = lo
            if lo <= self.offset + self.line_start - max_bytes:
                break
        return b"".join(reversed(pieces))

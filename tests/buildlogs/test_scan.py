"""Reading log files: odd inputs, block boundaries, over-long lines, memory."""

from __future__ import annotations

import codecs
import gzip
import textwrap
import tracemalloc
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from etl.buildlogs import parse_file, parse_lines, scan
from etl.errors import InputError
from tests.buildlogs.test_formats import FORMATS
from tests.buildlogs.test_traps import TRAPS

DIGEST = "sha256:" + "a" * 64
PUSH = textwrap.dedent(
    f"""\
    $ docker push ghcr.io/contoso/api:1
    The push refers to repository [ghcr.io/contoso/api]
    5f70bf18a086: Pushed
    1: digest: {DIGEST} size: 1366
    """
)
SAMPLE_LOGS = [textwrap.dedent(t.log).lstrip("\n") for t in TRAPS] + [
    textwrap.dedent(f[1]).lstrip("\n") for f in FORMATS
]


def write(tmp_path: Path, data: bytes, name: str = "job.log") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_empty_file_has_no_events(tmp_path: Path) -> None:
    assert parse_file(write(tmp_path, b"")) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + bytes(range(256)) * 8, "binary data"),
        (
            gzip.compress(PUSH.encode()),
            "gzip-compressed, not a log; decompress it first (zcat",
        ),
        (
            b"PK\x03\x04" + b"\x00" * 40,
            "zip-compressed, not a log; decompress it first (unzip -p",
        ),
    ],
    ids=["binary", "gzip", "zip"],
)
def test_unreadable_content_is_a_one_line_input_error(
    tmp_path: Path, data: bytes, words: str
) -> None:
    path = write(tmp_path, data)

    with pytest.raises(InputError) as err:
        parse_file(path)

    message = str(err.value)
    assert message.startswith(f"{path}: ") and words in message
    assert "\n" not in message


@pytest.mark.parametrize("nuls", [10, 100_000])
def test_log_rotated_with_copytruncate_starts_with_nul_bytes(
    tmp_path: Path, nuls: int
) -> None:
    events = parse_file(write(tmp_path, b"\0" * nuls + PUSH.encode()))

    assert [(e.image, e.digest, e.line_no) for e in events] == [
        ("ghcr.io/contoso/api", DIGEST, 4)
    ]


def test_a_last_line_without_newline_sees_the_lines_before_it(tmp_path: Path) -> None:
    data = "crane push app.tar ghcr.io/org/web:v3\nghcr.io/org/web@" + DIGEST

    events = parse_file(write(tmp_path, data.encode()))

    assert [(e.image, e.tag, e.digest) for e in events] == [
        ("ghcr.io/org/web", "v3", DIGEST)
    ]


@pytest.mark.parametrize("name", ["missing.log", "."], ids=["missing", "directory"])
def test_unopenable_path_is_a_one_line_input_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="cannot read the log") as err:
        parse_file(tmp_path / name)

    assert "\n" not in str(err.value)


def test_utf16_log_from_a_windows_console(tmp_path: Path) -> None:
    path = write(tmp_path, PUSH.replace("\n", "\r\n").encode("utf-16"))

    events = parse_file(path)

    assert [(e.image, e.tag, e.digest, e.line_no) for e in events] == [
        ("ghcr.io/contoso/api", "1", DIGEST, 4)
    ]


def test_crlf_log_reads_like_lf(tmp_path: Path) -> None:
    crlf = parse_file(write(tmp_path, PUSH.replace("\n", "\r\n").encode()))

    assert crlf == parse_file(write(tmp_path, PUSH.encode(), "lf.log"))
    assert crlf[0].evidence == f"1: digest: {DIGEST} size: 1366"


def test_line_without_newline_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one-line.log"
    with path.open("wb") as fh:
        for _ in range(64):
            fh.write(b"x" * (1 << 20))

    tracemalloc.start()
    try:
        events = parse_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert events == []
    assert peak < 8 * (1 << 20)


def test_utf16_line_without_newline_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one-line.log"
    with path.open("wb") as fh:
        fh.write(codecs.BOM_UTF16_LE)
        for _ in range(32):
            fh.write(("x" * (1 << 20)).encode("utf-16-le"))
        fh.write(f"\nghcr.io/x/y:1: digest: {DIGEST} size: 1\n".encode("utf-16-le"))

    tracemalloc.start()
    try:
        events = parse_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(e.tag, e.digest) for e in events] == [("1", DIGEST)]
    assert peak < 16 * (1 << 20)


def test_overlong_line_is_cut_and_later_lines_keep_their_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long_line = (
        "x" * (scan.MAX_LINE_BYTES + 10) + " docker push ghcr.io/contoso/hidden:1\n"
    )
    data = ("noise\n" * 3 + long_line + PUSH).encode()

    path = write(tmp_path, data)

    events = parse_file(path)

    assert [(e.image, e.line_no) for e in events] == [("ghcr.io/contoso/api", 8)]
    assert (
        f"{path}: 1 over-long lines read only to their first 65536 bytes" in caplog.text
    )


def test_push_lines_far_into_a_large_file_keep_their_line_numbers(
    tmp_path: Path,
) -> None:
    noise = "#7 sha256:" + "0" * 64 + " 28.3MB / 28.3MB 1.2s done\n"
    data = (noise * 40_000 + PUSH).encode()  # about 4 MB, several blocks

    events = parse_file(write(tmp_path, data))

    assert [(e.digest, e.line_no) for e in events] == [(DIGEST, 40_004)]


@pytest.mark.parametrize("block", [7, 64, 333, 4096])
def test_any_block_size_reads_like_line_by_line(tmp_path: Path, block: int) -> None:
    for i, log in enumerate(SAMPLE_LOGS):
        path = write(tmp_path, log.encode(), f"{i}.log")
        with mock.patch.object(scan, "BLOCK_BYTES", block):
            by_block = parse_file(path)

        assert by_block == list(parse_lines(log.split("\n"))), log


@pytest.mark.parametrize("block", [7, 1 << 20])
@pytest.mark.parametrize("log", [log for log in SAMPLE_LOGS if "\r" not in log])
def test_bare_carriage_returns_end_lines_when_a_file_has_no_newline(
    tmp_path: Path, log: str, block: int
) -> None:
    path = write(tmp_path, log.replace("\n", "\r").encode())

    with mock.patch.object(scan, "BLOCK_BYTES", block):
        events = parse_file(path)

    assert events == list(parse_lines(log.split("\n")))


def test_carriage_returns_redraw_a_line_when_the_file_has_newlines(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, ("Pushing 10%\rPushing 90%\r\n" + PUSH).encode())

    assert [(e.image, e.tag, e.digest) for e in parse_file(path)] == [
        ("ghcr.io/contoso/api", "1", DIGEST)
    ]


def test_block_needle_hits_are_where_the_needle_pattern_matches() -> None:
    lines = [
        f"@{DIGEST} pulled",
        f"#5 {DIGEST} 1.2MB / 3.4MB 0.3s",
        f"1: digest: {DIGEST} size: 1366",
        f"digest:{DIGEST} no space",
        f"Manifest {DIGEST}, manifest list {DIGEST}",
        f"blob {DIGEST} exists; ghcr.io/a/b@{DIGEST}",
        "+ docker Push x; git push; Pushing; fresh shell; bash push",
        f"extracting {DIGEST}",
    ]
    buf = bytearray("\n".join(lines).encode() + b"\n")
    blocks = scan._BlockScanner()
    blocks.buf = buf
    arr = scan.np.frombuffer(buf, scan.np.uint8)
    sh = scan._positions(arr, b"sh")
    expected = [m.start() for m in scan.B_NEEDLES_RE.finditer(buf)]
    assert blocks._needle_hits(arr, sh, 0, len(buf)) == expected
    assert len(expected) == 10


LINE_PIECES = [
    *("sh", "sha256:", "digest:", "#5", " ", "x" * 7, "é"),
    *("\x1b[0m", "[36m", "\u2190[1m", "[", "\x1b]8;;u\x07", "\x1b", "\x07"),
    "\x1b]8;;https://example.com/a/long/link\x07",
]


@settings(max_examples=400, deadline=None, derandomize=True)
@example(["x" * 7] * 3 + ["\x1b]8;;u\x07", "sha256:"])
@given(st.lists(st.sampled_from([*LINE_PIECES, "\n"]), max_size=40))
def test_block_escape_marks_cover_what_the_line_test_finds(pieces: list[str]) -> None:
    text = "".join(pieces) + "\n"
    data = text.encode()
    arr = scan.np.frombuffer(data, scan.np.uint8)
    sh = scan._pair_positions(arr, (b"sh",), [scan.np.empty(arr.size, bool)] * 3)
    near = sh[scan._near_escape(arr, sh)].tolist()
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    flagged_lines = {max(s for s in starts if s <= p) for p in near}
    for start, line in zip(starts, text.split("\n"), strict=True):
        if scan._escape_near_sh(line):
            assert start in flagged_lines, line


def test_colour_code_between_needle_words_is_found_and_a_far_one_is_not() -> None:
    coloured = f"1: digest:\x1b[0m {DIGEST} size: 1366"
    far = f"\x1b[32m{'progress ' * 3}#5 {DIGEST} 1.2MB / 3.4MB"

    assert scan.is_candidate(coloured)
    assert not scan.is_candidate(far)


def test_a_ref_cut_at_the_line_limit_is_dropped_not_shortened(tmp_path: Path) -> None:
    announce = "INFO[0010] Pushing image to ghcr.io/x/y:1.2.3"
    cut_inside_tag = "x" * (scan.MAX_LINE_BYTES - len(announce) + 2) + " " + announce
    log = f"{cut_inside_tag}\nINFO[0012] Pushed ghcr.io/x/y@{DIGEST}\n"

    by_file = parse_file(write(tmp_path, log.encode()))

    assert [e.tag for e in by_file] == [None]
    assert by_file == list(parse_lines(log.split("\n")))

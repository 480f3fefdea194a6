"""Properties: CI noise wrapped around a log does not change what it yields, and
a file read in blocks of any size yields what its lines yield one by one."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl.buildlogs import parse_file, parse_lines, scan
from etl.buildlogs.clean import ANSI_RE
from tests.buildlogs.test_formats import FORMATS
from tests.buildlogs.test_traps import TRAPS
from tests.conftest import SHARED_CASES


def _base_logs() -> list[str]:
    logs = [textwrap.dedent(t.log).strip("\n") for t in TRAPS]
    logs += [textwrap.dedent(f[1]).strip("\n") for f in FORMATS]
    oracle = SHARED_CASES / "oracle.json"
    if oracle.is_file():
        for case in json.loads(oracle.read_text()):
            if case.get("kind") == "log":
                logs.append((SHARED_CASES / case["case"]).read_text(errors="replace"))
    return logs


BASE_LOGS = _base_logs()

# Prefixes CI systems and consoles put before each line of tool output.
PREFIXES = [
    "",
    "2024-05-01T10:00:05.1234567Z ",  # GitHub Actions, Azure Pipelines
    "2024-05-01T10:00:05.123456Z 00O ",  # GitLab
    "[2024-05-01T10:00:05.123Z] ",  # Jenkins timestamper
    "10:00:05 ",
    "[10:00:05] :\t ",  # TeamCity, with a status
    "[10:00:05]W:\t ",
    "    ",
    "\t",
    "\x1b[36m",
    "\u2190[32m",
    "[33m",
]
CRI = "2024-05-01T10:00:05.123456789Z stdout F "  # Kubernetes container logs
# Names of the job that printed a log, the same on each of its lines.
JOB_PREFIXES = [
    "",
    "web-1  | ",  # docker compose service
    "[build-and-push] ",  # job name (act, merged job logs)
    "[CI/build-and-push]   | ",
    "[Step 2/3] ",  # TeamCity build step
]
SUFFIXES = ["", "\x1b[0m", "\r", "\x1b[0m\r", "   ", "[0m", "\u2190[0m"]
# Colour codes between the words of a line, where consoles put them.
INSERTS = ["", "\x1b[33m", "\x1b[0m", "\x1b[1;32m", "[36m", "\u2190[0m", "\x1b[K"]
WORD_ENDS = " :@/"


def _events(lines: list[str]) -> list[dict[str, object]]:
    return [e.to_json() for e in parse_lines(lines)]


@st.composite
def wrapped_log(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    lines = draw(st.sampled_from(BASE_LOGS)).split("\n")
    job = draw(st.sampled_from(JOB_PREFIXES))
    wrapped = []
    for line in lines:
        prefix = draw(st.sampled_from(PREFIXES))
        suffix = draw(st.sampled_from(SUFFIXES))
        wrapped.append(prefix + job + _colour_words(draw, line) + suffix)
    # Several CI layers at once (a Jenkins agent running a TeamCity step...).
    outer = draw(st.sampled_from(["", "[2024-05-01T10:00:05.123Z] ", CRI]))
    wrapped = [outer + w for w in wrapped]
    return lines, wrapped


def _colour_words(draw: st.DrawFn, line: str) -> str:
    """The line with colour codes before and after some of its words (never
    inside an escape the line already holds, such as a hyperlink's address)."""
    inside = {i for m in ANSI_RE.finditer(line) for i in range(m.start() + 1, m.end())}
    cuts = [i + 1 for i, c in enumerate(line) if c in WORD_ENDS and i + 1 not in inside]
    if not cuts:
        return line
    chosen = sorted(draw(st.sets(st.sampled_from(cuts), max_size=3)))
    pieces = []
    last = 0
    for cut in chosen:
        pieces += [line[last:cut], draw(st.sampled_from(INSERTS))]
        last = cut
    return "".join(pieces) + line[last:]


def _format_lines(name: str) -> list[str]:
    log = next(f[1] for f in FORMATS if f[0] == name)
    return textwrap.dedent(log).strip("\n").split("\n")


def _colour_digests(lines: list[str]) -> list[str]:
    return [line.replace("sha256:", "\x1b[33msha256:\x1b[0m") for line in lines]


SKOPEO = _format_lines("skopeo-copy")
KO = _format_lines("ko-index-with-children")
BUILDKIT = _format_lines("buildkit-tty")
DOCKER = _format_lines("docker-push-all-tags")


@settings(max_examples=150, deadline=None, derandomize=True)
@example((SKOPEO, [SKOPEO[0] + "\x1b[0m", *SKOPEO[1:]]))
@example((SKOPEO, _colour_digests(SKOPEO)))
@example((KO, _colour_digests(KO)))
@example((BUILDKIT, _colour_digests(BUILDKIT)))
@example((DOCKER, _colour_digests(DOCKER)))
@given(wrapped_log())
def test_noise_around_lines_does_not_change_events(
    logs: tuple[list[str], list[str]],
) -> None:
    plain, wrapped = logs

    assert _events(wrapped) == _events(plain)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    logs=wrapped_log(),
    block=st.integers(min_value=1, max_value=5000),
    crlf=st.booleans(),
)
def test_blocks_of_any_size_read_like_lines(
    logs: tuple[list[str], list[str]], block: int, crlf: bool
) -> None:
    log = "\n".join(logs[1])
    data = log.replace("\n", "\r\n") if crlf else log
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.log"
        path.write_bytes(data.encode())
        with mock.patch.object(scan, "BLOCK_BYTES", block):
            by_block = parse_file(path)

    assert by_block == list(parse_lines(data.split("\n")))

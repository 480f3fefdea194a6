"""Properties: CI noise wrapped around a log does not change what it yields, and
a file read in blocks of any size yields what its lines yield one by one."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.buildlogs import parse_file, parse_lines, scan
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
    "    ",
    "\t",
    "\x1b[36m",
    "\u2190[32m",
    "[33m",
]
SUFFIXES = ["", "\x1b[0m", "\r", "\x1b[0m\r", "   "]


def _events(lines: list[str]) -> list[dict[str, object]]:
    return [e.to_json() for e in parse_lines(lines)]


@st.composite
def wrapped_log(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    lines = draw(st.sampled_from(BASE_LOGS)).split("\n")
    wrapped = []
    for line in lines:
        prefix = draw(st.sampled_from(PREFIXES))
        suffix = draw(st.sampled_from(SUFFIXES))
        wrapped.append(prefix + line + suffix)
    return lines, wrapped


@settings(max_examples=150, deadline=None)
@given(wrapped_log())
def test_noise_around_lines_does_not_change_events(
    logs: tuple[list[str], list[str]],
) -> None:
    plain, wrapped = logs

    assert _events(wrapped) == _events(plain)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    log=st.sampled_from(BASE_LOGS),
    block=st.integers(min_value=1, max_value=5000),
    crlf=st.booleans(),
)
def test_blocks_of_any_size_read_like_lines(log: str, block: int, crlf: bool) -> None:
    data = log.replace("\n", "\r\n") if crlf else log
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.log"
        path.write_bytes(data.encode())
        with mock.patch.object(scan, "BLOCK_BYTES", block):
            by_block = parse_file(path)

    assert by_block == list(parse_lines(data.split("\n")))

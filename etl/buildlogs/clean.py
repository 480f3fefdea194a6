"""One log line without the noise CI systems wrap around tool output.

Removed: CR and CRLF, a BOM, ANSI escapes and the residues left when a console
drops the ESC byte (``[36m``) or renders it as an arrow (``←[36m``), control
bytes, indentation, and the prefixes of GitHub Actions, Azure Pipelines, GitLab,
Jenkins, Buildkite, TeamCity, Kubernetes container logs, Go's log package (ACR
Tasks, crane, ko), Cloud Build steps, docker compose services (``web-1  | ``)
and job names (``[build-and-push] ``). Azure Pipelines and GitHub markers such
as ``##[debug]`` are kept as ``Line.marker``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# A colour or erase code whose ESC a console dropped: "[36m", "[0;m", "[0K", "[K".
RESIDUE = r"\[\d{1,3}(?:;\d{0,3})*[mK]|\[;?[mK](?![A-Za-z])"
ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    # OSC (titles, hyperlinks) and the other strings: DCS, SOS, PM, APC
    # (Buildkite's "\x1b_bk;t=...\x07" timestamps).
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"  # the rest: "\x1b7" (save cursor), "\x1b(B" (charset)
    r"|\u2190\[[0-9;?]*[A-Za-z]"  # ESC rendered as an arrow by Windows consoles
    r"|" + RESIDUE  # ESC dropped, the colour code left behind
)
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PREFIX_RE = re.compile(
    r"[\s\ufeff]+"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    # ISO: GitHub, Azure; GitLab adds a stream id ("00O ", "00O+" continues a
    # line), Kubernetes CRI logs a stream and a tag ("stdout F ").
    r"(?:\s[0-9a-f]{2}[OE](?:\+|\s|$)|\s(?:stdout|stderr)\s[FP](?:\s|$)|\s|$)"
    r"|\[\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]"
    r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?:\s|$)"  # Go log package
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\]\s"  # klog (OpenShift)
    # A clock; TeamCity adds a status ("[10:21:33]W:\t", "[10:21:33] :\t").
    r"|\[?\d{1,2}:\d\d:\d\d(?:[.,]\d+)?\]?(?: ?[A-Za-z]?:)?\s"
    r"|(?P<step>Step #\d+(?: - \"[^\"]*\")?:)"  # Cloud Build
    r"|##\[(?P<marker>[a-z]+)\]"  # Azure Pipelines and GitHub log commands
    r"|\[command\]"
    r"|(?P<service>[A-Za-z0-9][\w.-]*)\s+\|(?:\s|$)"  # docker compose: "web-1  | "
    # GitHub job names as act and log merges print them; not a log level.
    r"|\[(?:info|warn|error|success|debug)\]\s"  # sbt's levels
    # Any name a job may have: "[CI/build (linux/amd64, 3.11)]", "[Build & Push]".
    r"|\[(?!(?i:INFO|WARN|WARNING|ERROR|DEBUG|TRACE|FATAL|NOTICE|SUCCESS)\])"
    r"(?P<job>[^\s\[\]|=<>+-][^\[\]|]{0,99})\]\s+(?:\|\s+)?"
)
# Levels that make a structured line an error, its wrapper dropped.
ERROR_LEVELS = "error|fatal|panic"
LOGRUS_ERROR_RE = re.compile(rf'^time="[^"]*"\s+level=(?:{ERROR_LEVELS})\b')
JSON_ERROR_RE = re.compile(rf'"level"\s*:\s*"(?:{ERROR_LEVELS})"')
LOGRUS_RE = re.compile(r'^time="[^"]*"\s+level=\w+\s+msg=("(?:[^"\\]|\\.)*")')
JSON_MSG_RE = re.compile(r'"(?:msg|message|log)"\s*:\s*("(?:[^"\\]|\\.)*")')
MAX_PREFIXES = 24


@dataclass(frozen=True, slots=True)
class Line:
    """A cleaned line: its 1-based number, text, and the CI marker it carried."""

    no: int
    text: str
    marker: str | None = None
    cloud_build: bool = False
    # The job, service or build step a merged log says printed the line.
    stream: str | None = None

    def in_job(self, stream: str | None) -> bool:
        """Whether what stream printed can belong with this line: the same job,
        or a line no job was named for."""
        return stream is None or stream == self.stream

    @property
    def debug(self) -> bool:
        return self.marker == "debug"


def clean_line(no: int, raw: str) -> Line | None:
    """The tool output in one raw log line, or None when nothing is left."""
    text = raw.rstrip("\r\n")
    if "\r" in text:
        # A progress line redrawn in place: what the reader last saw counts.
        # What the reader last saw; a last part of escapes only ("\r\x1b[K")
        # shows nothing new.
        parts = [p for p in map(strip_escapes, text.split("\r")) if p.strip()]
        text = parts[-1] if parts else ""
    else:
        text = strip_escapes(text)
    text, marker, cloud_build, stream = _strip_prefixes(text)
    text, error_level = _unwrap_structured(text)
    text = text.rstrip()
    if error_level:
        marker = marker or "error"
    if not text:
        return None
    return Line(no, text, marker, cloud_build, stream)


def strip_escapes(text: str) -> str:
    """Text without ANSI escapes, their residues and control bytes."""
    if "\x1b" in text or "[" in text:
        text = ANSI_RE.sub("", text)
    if not text.isprintable():
        text = CONTROL_RE.sub("", text)
    return text


def _strip_prefixes(text: str) -> tuple[str, str | None, bool, str | None]:
    marker = stream = None
    cloud_build = False
    for _ in range(MAX_PREFIXES):
        m = PREFIX_RE.match(text)
        if not m or not m.end():
            break
        marker = marker or m.group("marker")
        # The innermost name wins: the one nearest the tool's own output.
        stream = m.group("job") or m.group("service") or m.group("step") or stream
        cloud_build = cloud_build or bool(m.group("step"))
        text = text[m.end() :]
    return text, marker, cloud_build, stream


def _unwrap_structured(text: str) -> tuple[str, bool]:
    """The message of a logrus text or JSON log line (kaniko ``--log-format``),
    and whether its level is an error."""
    if text.startswith("time="):
        m = LOGRUS_RE.match(text)
        error = LOGRUS_ERROR_RE.match(text) is not None
    elif text.startswith("{"):
        m = JSON_MSG_RE.search(text)
        error = JSON_ERROR_RE.search(text) is not None
    else:
        return text, False
    if not m:
        return text, error
    try:
        return str(json.loads(m.group(1))), error
    except ValueError:
        return text, error

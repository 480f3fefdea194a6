"""A fake GitHub REST API (pytest-httpserver) and a stand-in build-log parser.

The fake answers in the shapes of the GitHub REST API 2022-11-28 as
reference/apis.md describes them, counts every request by route, and can be told
to fail a route a given number of times (429, secondary limit, 5xx).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from etl.normalize import parse_ref

_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT[\d:.]+Z ")
_REPOSITORY = re.compile(r"The push refers to repository \[([^\]]+)\]")
_DIGEST = re.compile(r"^(\S+): digest: (sha256:[0-9a-f]{64}) size: \d+")


@dataclass
class StubPushEvent:
    """The fields of etl.buildlogs.PushEvent."""

    image: str
    tag: str | None
    digest: str | None
    pushed: bool | None
    tool: str
    line_no: int
    evidence: str
    dockerfile: str | None = None


def stub_parse(lines: Iterable[str]) -> Iterator[StubPushEvent]:
    """Just `docker push` output: enough to tell which logs a source handed over."""
    repository = None
    for number, raw in enumerate(lines, start=1):
        line = _TIMESTAMP.sub("", raw)
        if match := _REPOSITORY.search(line):
            repository = match.group(1)
        elif (match := _DIGEST.match(line)) and repository:
            image = parse_ref(repository).image
            yield StubPushEvent(
                image, match.group(1), match.group(2), True, "docker", number, line
            )

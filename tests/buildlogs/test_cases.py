"""Every real log excerpt in ../shared/cases against its oracle entry.

A case passes when the pushed (image, tag, digest) triples equal the oracle's
``pushed`` list or one of its ``acceptable_alternatives``, and no forbidden
digest appears anywhere in the JSON the CLI would print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.buildlogs import PushEvent, parse_file, parse_lines
from tests.conftest import SHARED_CASES

ORACLE = SHARED_CASES / "oracle.json"


def _log_cases() -> list[dict[str, Any]]:
    if not ORACLE.is_file():
        return []
    return [c for c in json.loads(ORACLE.read_text()) if c.get("kind") == "log"]


LOG_CASES = _log_cases()
needs_cases = pytest.mark.skipif(not LOG_CASES, reason=f"{SHARED_CASES} not present")


def _triples(items: list[dict[str, Any]]) -> set[tuple[Any, Any, Any]]:
    return {(i["image"], i["tag"], i["digest"]) for i in items}


def _pushed(events: list[PushEvent]) -> set[tuple[Any, Any, Any]]:
    return {(e.image, e.tag, e.digest) for e in events if e.pushed is True}


@needs_cases
@pytest.mark.parametrize("case", LOG_CASES, ids=[c["case"] for c in LOG_CASES])
def test_case_pushes_are_exact(case: dict[str, Any]) -> None:
    events = parse_file(SHARED_CASES / case["case"])

    accepted = [_triples(case["pushed"])] + [
        _triples(alt) for alt in case.get("acceptable_alternatives") or []
    ]
    assert _pushed(events) in accepted


@needs_cases
@pytest.mark.parametrize("case", LOG_CASES, ids=[c["case"] for c in LOG_CASES])
def test_case_reports_no_forbidden_digest(case: dict[str, Any]) -> None:
    printed = json.dumps([e.to_json() for e in parse_file(SHARED_CASES / case["case"])])

    leaked = [d for d in case["forbidden_digests"] if d.split(":")[-1] in printed]
    assert leaked == []


@needs_cases
@pytest.mark.parametrize("case", LOG_CASES, ids=[c["case"] for c in LOG_CASES])
def test_case_failed_and_unknown_pushes_are_not_reported_as_pushed(
    case: dict[str, Any],
) -> None:
    events = parse_file(SHARED_CASES / case["case"])

    not_pushed = {(n["image"], n["tag"]) for n in case["not_pushed"]}
    assert not {(e.image, e.tag) for e in events if e.pushed} & not_pushed


@needs_cases
@pytest.mark.parametrize("case", LOG_CASES, ids=[c["case"] for c in LOG_CASES])
def test_case_reads_the_same_line_by_line(case: dict[str, Any]) -> None:
    path: Path = SHARED_CASES / case["case"]
    with path.open(encoding="utf-8", errors="replace", newline="\n") as fh:
        by_line = list(parse_lines(fh))

    assert by_line == parse_file(path)


@needs_cases
def test_failed_push_is_reported_as_failed() -> None:
    events = parse_file(SHARED_CASES / "14-docker-push-manifest-invalid.log")

    assert [(e.image, e.tag, e.pushed, e.line_no) for e in events] == [
        ("quay.io/contoso/test", None, False, 6)
    ]


@needs_cases
def test_docker2_event_names_task_tool_line_and_dockerfile() -> None:
    (event,) = parse_file(SHARED_CASES / "07-azdo-docker2-push-debug.log")

    assert (event.tool, event.line_no, event.dockerfile) == (
        "docker2",
        23,
        "/home/agent/azure/agent1/_work/1/***Api/Dockerfile.***Api",
    )
    assert event.evidence.startswith("3.59.0-Fea44846-Development: digest: sha256:")

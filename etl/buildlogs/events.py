"""Push events and the ledger that folds repeated proof of one push into one event."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

logger = logging.getLogger(__name__)

MAX_EVENTS = 20_000
EVIDENCE_CHARS = 500
# When two lines prove one push, the event names the more specific tool.
GENERIC_TOOLS = frozenset({"docker", "crane"})


@dataclass(frozen=True)
class PushEvent:
    """One image push a build log proves, attempts, or shows failing."""

    image: str
    tag: str | None
    digest: str | None
    pushed: bool | None
    tool: str
    line_no: int
    evidence: str
    dockerfile: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "pushed": self.pushed,
            "tool": self.tool,
            "line": self.line_no,
            "evidence": self.evidence,
            "dockerfile": self.dockerfile,
        }


class Ledger:
    """Collects events; ``result`` merges duplicates. Bounded by ``MAX_EVENTS``."""

    def __init__(self) -> None:
        self._events: list[PushEvent] = []
        self._digests: dict[tuple[str, str | None], str] = {}
        self._full = False

    def add(self, event: PushEvent) -> None:
        if len(self._events) < MAX_EVENTS:
            self._events.append(event)
        elif not self._full:
            self._full = True
            logger.warning("more than %s push events; later ones ignored", MAX_EVENTS)

    def learn_digest(self, image: str, tag: str | None, digest: str) -> None:
        """A digest a tool reports for a ref after the fact (ACR's dependency list)."""
        if len(self._digests) < MAX_EVENTS:
            self._digests[(image, tag)] = digest

    def result(self) -> list[PushEvent]:
        events = [self._with_learned_digest(e) for e in self._events]
        events = _fold(_drop_repeats(events))
        return sorted(events, key=lambda e: e.line_no)

    def _with_learned_digest(self, event: PushEvent) -> PushEvent:
        if event.pushed and not event.digest:
            digest = self._digests.get((event.image, event.tag))
            if digest:
                return replace(event, digest=digest)
        return event


def _drop_repeats(events: list[PushEvent]) -> list[PushEvent]:
    """The first of identical events, naming the most specific tool among them."""
    kept: dict[tuple[object, ...], PushEvent] = {}
    for event in events:
        key = (event.image, event.tag, event.digest, event.pushed)
        first = kept.get(key)
        if first is None:
            kept[key] = event
        else:
            kept[key] = _merge(first, event)
    return list(kept.values())


def _merge(first: PushEvent, other: PushEvent) -> PushEvent:
    if first.tool in GENERIC_TOOLS and other.tool not in GENERIC_TOOLS:
        first = replace(first, tool=other.tool)
    if first.dockerfile is None and other.dockerfile:
        first = replace(first, dockerfile=other.dockerfile)
    return first


def _fold(events: list[PushEvent]) -> list[PushEvent]:
    """Drop events that a stronger event about the same push makes redundant.

    A pushed event without digest gives way to one with the digest for the same
    tag; a tagless one to a tagged one with the same digest; an unknown outcome
    to any decided one for the same ref; a failure to a later success (a retry);
    a failure without digest to one with it (the same error, reported twice).
    """
    pushed = [e for e in events if e.pushed]
    with_digest: dict[tuple[str, str | None], int] = {}
    with_tag: dict[tuple[str, str | None], int] = {}
    any_pushed: dict[str, int] = {}
    last_pushed: dict[tuple[str, str | None], int] = {}
    for i, e in enumerate(pushed):
        if e.digest:
            with_digest.setdefault((e.image, e.tag), i)
        if e.tag:
            with_tag.setdefault((e.image, e.digest), i)
        if e.tag or e.digest:
            any_pushed.setdefault(e.image, i)
        for key in ((e.image, e.tag), (e.image, None)):
            last_pushed[key] = max(last_pushed.get(key, 0), e.line_no)
    decided = {(e.image, e.tag) for e in events if e.pushed is not None}
    failed_with_digest = {
        (e.image, e.tag) for e in events if e.pushed is False and e.digest
    }
    decided_images = {image for image, _ in decided}

    tools = {i: e.tool for i, e in enumerate(pushed)}
    kept_pushed: set[int] = set()
    for i, e in enumerate(pushed):
        j = _stronger(i, e, with_digest, with_tag, any_pushed)
        if j is None:
            kept_pushed.add(i)
        elif tools[j] in GENERIC_TOOLS and e.tool not in GENERIC_TOOLS:
            tools[j] = e.tool
    result = [replace(pushed[i], tool=tools[i]) for i in sorted(kept_pushed)]
    for e in events:
        unknown = e.pushed is None and not _unknown_settled(e, decided, decided_images)
        failed = (
            e.pushed is False
            and last_pushed.get((e.image, e.tag), 0) <= e.line_no
            and (e.digest or (e.image, e.tag) not in failed_with_digest)
        )
        if unknown or failed:
            result.append(e)
    return result


def _stronger(
    i: int,
    e: PushEvent,
    with_digest: dict[tuple[str, str | None], int],
    with_tag: dict[tuple[str, str | None], int],
    any_pushed: dict[str, int],
) -> int | None:
    """Index of a pushed event that proves more about the same push, if any."""
    candidates = []
    if e.digest is None:
        candidates.append(with_digest.get((e.image, e.tag)))
    if e.tag is None and e.digest:
        candidates.append(with_tag.get((e.image, e.digest)))
    if e.tag is None and e.digest is None:
        candidates.append(any_pushed.get(e.image))
    return next((j for j in candidates if j is not None and j != i), None)


def _unknown_settled(
    e: PushEvent, decided: set[tuple[str, str | None]], decided_images: set[str]
) -> bool:
    if e.tag is None:
        return e.image in decided_images
    return (e.image, e.tag) in decided or (e.image, None) in decided

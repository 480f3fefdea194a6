"""References printed alone on a line by ``ko build`` and ``crane push``.

Both write the pushed image as ``REPO@sha256:...`` on stdout; their progress
goes to stderr, which a CI log may not keep. Such a line proves a push only
when the command that printed it is the nearest one before it: ``crane
digest --full-ref`` and ``docker inspect`` print the same shape for an image
they only read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from etl.buildlogs.clean import Line, clean_line
from etl.buildlogs.core import SCRIPT_ECHO, XTRACE, Context, Tool
from etl.buildlogs.refs import Ref, parse_image_ref

PRINTED_RE = re.compile(r"^\S+@sha256:[0-9a-f]{64}$")
PUSH_COMMAND_RE = re.compile(
    r"(?:^|[\s/;&|(\"'])(?P<tool>ko|crane)\s+(?:build|publish|push|mutate|append)\s"
    r"(?P<args>.*)"
)
# Other commands that print a reference by digest, and command lines as
# shells trace them: output after them is theirs.
REF_PRINTING_RE = re.compile(
    r"\bcrane\s+(?:digest|ls|manifest|config|copy|cp)\b"
    r"|\b(?:inspect|imagetools|kubectl)\b|\bskopeo\b|\bdocker\s+images\b"
)
OTHER_COMMAND_RE = re.compile(
    "|".join(f"^{re.escape(t)}" for t in XTRACE) + "|" + REF_PRINTING_RE.pattern
)
TAG_OPTIONS = ("-t", "--tag", "--tags", "--new_tag")
KO_VALUE_OPTIONS = frozenset(
    {
        "-t",
        "--tags",
        "--platform",
        "--image-label",
        "--image-annotation",
        "--image-refs",
        "--sbom",
        "--sbom-dir",
        "--tarball",
        "--oci-layout-path",
        "--image-user",
        "-j",
        "--jobs",
    }
)
# ko options under which it prints a reference but pushes nothing.
NO_PUSH_OPTIONS = ("--push=false", "--local", "-L", "--oci-layout-path")
NO_PUSH_OPTIONS_RE = re.compile(
    r"(?:^|\s)(?:" + "|".join(re.escape(o) for o in NO_PUSH_OPTIONS) + r")(?:[\s=]|$)"
)
# Where an echoed script ends and its output starts (GitHub, Azure Pipelines),
# and where Azure's starts.
ECHO_ENDS_RE = re.compile(r"##\[endgroup\]|Starting Command Output")
# Script lines that print nothing: comments, shell settings, the runner's
# "shell:" and "env:" lines and the variables under them.
QUIET_SCRIPT_RE = re.compile(
    r"^(?:#|set\s|cd\s|export\s|shell:|env:|[A-Z_][A-Z0-9_]*: )"
)
LOOKBACK_BYTES = 8192
LOOKBACK_LINES = 64


class PrintedRef(Tool):
    """``REPO@sha256:...`` lines, tied to the ko or crane command before them.

    The lines in a row after one command are kept until the row ends: a
    command prints one per image it built (one for crane, one per import path
    for ko), and more than that means another command's output is among them.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.command: tuple[str, str] | None = None
        self.printed: list[tuple[Line, Ref]] = []
        self.unbound_no = -1  # a printed line that no command is before

    def feed(self, line: Line) -> None:
        text = line.text
        if "@sha256:" not in text or line.debug or not PRINTED_RE.match(text):
            self._settle()
            return
        ref = parse_image_ref(text)
        if ref is None or ref.digest is None:
            self._settle()
            return
        if line.no == self.unbound_no + 1:
            self.unbound_no = line.no  # a listing (crane ls), not a push
            return
        found = self.command if self.printed else self._command()
        if found is None:
            self.unbound_no = line.no
            return
        if found != self.command:
            self._settle()
        self.command = found
        self.printed.append((line, ref))
        self.busy = True

    def finish(self) -> None:
        self._settle()

    def _settle(self) -> None:
        printed, self.printed = self.printed, []
        self.busy = False
        if not printed or self.command is None:
            return
        tool, args = self.command
        if tool == "ko":
            paths = _import_paths(args)
            if NO_PUSH_OPTIONS_RE.search(args) or (paths and len(printed) != paths):
                return
            for line, ref in printed:
                for tag in _option_values(args, TAG_OPTIONS) or ["latest"]:
                    self.ctx.emit("ko", line, Ref(ref.image, tag, ref.digest), True)
        elif len(printed) == 1:
            # crane: the reference on its command line with the same
            # repository, the new tag of mutate and append first.
            line, ref = printed[0]
            named = _option_values(args, TAG_OPTIONS) + args.split()
            for word in named:
                candidate = parse_image_ref(word) if "/" in word else None
                if candidate is not None and candidate.image == ref.image:
                    tagged = Ref(ref.image, candidate.tag, ref.digest)
                    self.ctx.emit("crane", line, tagged, True)
                    return

    def _command(self) -> tuple[str, str] | None:
        """The ko or crane push command this output follows, if nothing else
        ran in between.

        Past the end of a script's echo (GitHub's ``Run`` group, Azure's
        ``Script contents:``) all the script's output follows the whole
        script: the output is the command's only when no other line of the
        script can print anything.
        """
        earlier = iter(
            self.ctx.lookback.nearest_lines(("",), LOOKBACK_BYTES, LOOKBACK_LINES)
        )
        for raw in earlier:
            if ECHO_ENDS_RE.search(raw):
                lines = (c for r in earlier if (c := clean_line(0, r)) is not None)
                return _only_command(lines)
            cleaned = clean_line(0, raw)
            if cleaned is None:
                continue
            text = cleaned.text
            if PRINTED_RE.match(text):
                continue  # another image of the same command
            if m := PUSH_COMMAND_RE.search(text):
                return _after_output(earlier, (m.group("tool"), m.group("args")))
            if OTHER_COMMAND_RE.search(text):
                return None
        return None


def _after_output(
    earlier: Iterator[str], command: tuple[str, str]
) -> tuple[str, str] | None:
    """The command, unless the line before it is another command that prints
    references: two commands echoed in a row are a script shown before its
    output, whose lines are then not told apart."""
    for raw in earlier:
        cleaned = clean_line(0, raw)
        text = _untraced(cleaned.text) if cleaned else ""
        if not text or QUIET_SCRIPT_RE.match(text):
            continue
        if text.startswith("#!") or REF_PRINTING_RE.search(text):
            return None
        return command
    return command


def _untraced(text: str) -> str:
    for trace in XTRACE:
        text = text.removeprefix(trace)
    return text


def _only_command(script: Iterator[Line]) -> tuple[str, str] | None:
    """The one push command of an echoed script (nearest line first), if every
    other line of it prints nothing."""
    found: tuple[str, str] | None = None
    for cleaned in script:
        text = cleaned.text
        header = cleaned.marker == "group" or text.startswith(SCRIPT_ECHO)
        if header and not text.startswith("Run "):
            return found
        line = text.removeprefix("Run ") if header else text
        if m := PUSH_COMMAND_RE.search(line):
            command = (m.group("tool"), m.group("args"))
            if found not in (None, command):
                return None  # two pushes: whose output is whose is unknown
            found = command
        elif not QUIET_SCRIPT_RE.match(line):
            return None
        if header:
            return found
    return None


def _import_paths(args: str) -> int:
    """How many images ``ko build ARGS`` builds: one per import path; 0 when a
    pattern (``./...``) leaves it unknown."""
    paths = 0
    skip = False
    for word in args.split():
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word in KO_VALUE_OPTIONS
        elif "..." in word:
            return 0
        else:
            paths += 1
    return paths


def _option_values(args: str, options: tuple[str, ...]) -> list[str]:
    """The values of the options (``-t a,b``, ``--tag=a``) in a command line."""
    values: list[str] = []
    words = args.split()
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in options:
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            values += [v for v in value.split(",") if v]
    return values

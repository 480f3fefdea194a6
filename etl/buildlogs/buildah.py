"""buildah, podman, skopeo and OpenShift builds (all copy with containers/image).

``podman push``/``buildah push``/``skopeo copy`` print ``Getting image source
signatures``, ``Copying blob ...``, ``Writing manifest to image destination``
and, when there are signatures, ``Storing signatures``. None of it names the
destination, so the command line has to: it is read from the command echoed
before the output (``$ skopeo copy SRC docker://DEST``). "Writing manifest"
is printed before the upload, so an ``Error:`` after it fails the push.
OpenShift's builder announces ``Pushing image REF ...``, prints ``Successfully
pushed REF@sha256:...`` (old builders with ``//`` and the tag, newer without
the tag) and ends with ``Push successful``; between those it may retry
(``Warning: Push failed, retrying``) and still fail. redhat-actions'
push-to-registry prints ``Successfully pushed "SRC" to "DEST"`` and the digest
on the next line. Pulls print the same copy lines into local storage and are
not pushes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.buildlogs.clean import Line, clean_line
from etl.buildlogs.core import Context, Tool, subcommand_args
from etl.buildlogs.refs import BARE_DIGEST_RE, Ref, parse_image_ref

TOOL_RE = re.compile(r"(?:^|[\s/;&|(\"'])(?P<tool>podman|buildah|skopeo)\s")
SUBCOMMANDS = {"podman": "push", "buildah": "push", "skopeo": "copy"}
# Global options (before the subcommand) that take the next word as their value.
GLOBAL_VALUE_OPTIONS = frozenset(
    {
        "--root",
        "--runroot",
        "--storage-driver",
        "--storage-opt",
        "--connection",
        "-c",
        "--url",
        "--identity",
        "--log-level",
        "--cgroup-manager",
        "--tmpdir",
        "--registries-conf",
        "--registries-conf-dir",
        "--registries.d",
        "--policy",
        "--command-timeout",
        "--override-arch",
        "--override-os",
        "--override-variant",
        "--module",
        "--runtime",
        "--imagestore",
        "--user-agent-prefix",
    }
)
BUILD_STEPS = ("STEP ", "COMMIT ")
BUILD_ENDS = ("Successfully tagged ",)
BARE_ID_RE = re.compile(r"^[0-9a-f]{64}$")
SHELL_END_RE = re.compile(r"\d*[<>]|&|\||;|#")
SUCCESS_RE = re.compile(
    r"\bSuccessfully pushed (?:(?:podman|docker) image )?(?!image:|\")(?P<ref>\S+)"
)
QUOTED_SUCCESS_RE = re.compile(
    r"\bSuccessfully pushed \"[^\"]+\" to \"(?P<ref>[^\"]+)\""
)
# Builders of OpenShift 3 say "Pushing REF image ...".
OPENSHIFT_PUSHING_RE = re.compile(
    r"^Pushing (?:image (?P<ref>\S+)|(?P<s2i_ref>\S+) image) \.\.\."
)
OPENSHIFT_RETRY_RE = re.compile(
    r"^Warning: Push failed|^push for image \S+ failed, will retry"
)
OPENSHIFT_DONE = "Push successful"
PULLING = "Trying to pull "
ERROR_RE = re.compile(r"(?i)^(?:error\b|Error:|fatal\b|FATA\[|failed to push image\b)")
WRITING = "Writing manifest"
WRITING_LIST = "Writing manifest list"
# A push of a list with its images (--all): each image's manifest is written
# before the list's, which alone ends the push.
MULTI_RE = re.compile(
    r"(?:^|\s)--all(?:\s|=true|$)|\bmanifest\s+push\b|--multi-arch[= ]all"
)
STORING = "Storing "
# Options of push/copy that take a value as the next word.
VALUE_OPTIONS = frozenset(
    {
        "--authfile",
        "--cert-dir",
        "--creds",
        "--format",
        "-f",
        "--digestfile",
        "--sign-by",
        "--sign-by-sigstore",
        "--sign-by-sigstore-private-key",
        "--sign-passphrase-file",
        "--compression-format",
        "--compression-level",
        "--retry",
        "--retry-delay",
        "--encryption-key",
        "--src-creds",
        "--dest-creds",
        "--src-authfile",
        "--dest-authfile",
        "--src-cert-dir",
        "--dest-cert-dir",
        "--override-arch",
        "--override-os",
        "--override-variant",
        "--multi-arch",
        "--retry-times",
        "--additional-tag",
        "--src-registry-token",
        "--dest-registry-token",
        "--dest-compress-format",
        "--dest-compress-level",
        "--remove-signatures",
        "--image-parallel-copies",
    }
)
REGISTRY_TRANSPORT = "docker://"
LOCAL_TRANSPORTS = (
    "oci:",
    "oci-archive:",
    "dir:",
    "docker-archive:",
    "docker-daemon:",
    "containers-storage:",
)
SKOPEO_LOOKBACK_BYTES = 4096
AFTER_WRITING_LINES = 20
SUCCESS_LINES = 50
SESSION_LINES = 5_000


@dataclass
class Copy:
    """A copy to a registry between its command and its outcome."""

    ref: Ref
    tool: str
    start: Line
    writing: Line | None = None
    building: bool = False
    multi: bool = False
    # OpenShift's builder: the push stands at "Push successful", not before.
    announced: bool = False
    success: tuple[Line, Ref] | None = None


def _arguments(args: str) -> list[str]:
    """The words of a command line up to where the shell ends the command
    (``;``, ``&&``, a pipe, a redirection such as ``2>/dev/null``, a comment)."""
    words = []
    skip = False
    for token in args.split():
        if SHELL_END_RE.match(token):
            break
        last = token.endswith(";")
        token = token.rstrip(";")
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in VALUE_OPTIONS
        elif token:
            words.append(token)
        if last:
            break
    return words


def command(text: str) -> tuple[str, str] | None:
    """The tool and the arguments of a ``podman|buildah [manifest] push`` or
    ``skopeo copy`` on a command line, global options before it skipped."""
    for m in TOOL_RE.finditer(text):
        tool = m.group("tool")
        groups = () if tool == "skopeo" else ("manifest", "image")
        args = subcommand_args(
            text[m.end() :], SUBCOMMANDS[tool], GLOBAL_VALUE_OPTIONS, groups
        )
        if args is not None:
            return tool, args
    return None


def destination(args: str, tool: str) -> Ref | None:
    """The registry ref a push or copy writes to; None for local destinations."""
    words = _arguments(args)
    if tool == "skopeo":
        if len(words) < 2 or not words[1].startswith(REGISTRY_TRANSPORT):
            return None
        target = words[1]
    elif not words:
        return None
    else:
        target = words[-1] if len(words) > 1 else words[0]
    if target.startswith(LOCAL_TRANSPORTS):
        return None
    ref = parse_image_ref(target)
    return ref.with_tag("latest") if ref else None


class ContainersImage(Tool):
    """podman/buildah push, skopeo copy, and OpenShift builder pushes."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.copy: Copy | None = None
        self.skopeo_command: str | None = None
        self.digest_next: tuple[Line, Ref] | None = None

    def feed(self, line: Line) -> None:
        text = line.text
        if self.digest_next is not None:
            self._digest_line(line, text)
            if BARE_DIGEST_RE.match(text):
                return
        if "ush" in text and self._push_line(line, text):
            return
        if self.copy is None:
            if line.debug:
                return
            if text.startswith(("Copying blob", "Copying config")):
                self._from_skopeo_command(line)
            elif text.startswith("FATA[") and self._from_skopeo_command(line):
                # A copy that failed before it named a config or a full blob.
                self._end(line, False)
            return
        if self.copy.announced and self._openshift_line(line, text):
            return
        if text.startswith(PULLING) and not self.copy.building:
            # Another command's pull: the push is over, or has not begun.
            if self.copy.writing:
                self._end(self.copy.writing, True)
            else:
                self.copy.building = True
        elif text.startswith(BUILD_STEPS):
            # A script echoed before it runs (GitHub's "Run" group) names the
            # push before the build: the build's own commit writes a manifest.
            self.copy.building, self.copy.writing = True, None
        elif self.copy.building:
            if text.startswith(BUILD_ENDS) or BARE_ID_RE.match(text):
                self.copy.building = False
            elif ERROR_RE.match(text) or line.marker == "error":
                self._end(line, False)
        elif text.startswith(WRITING):
            if text.startswith(WRITING_LIST) or not self.copy.multi:
                self.copy.writing = line
        elif text.startswith(STORING) and self.copy.writing:
            self._end(self.copy.writing, True)
        elif ERROR_RE.match(text) or line.marker == "error":
            self._end(line, False)
        elif self.copy.writing and line.no - self.copy.writing.no > AFTER_WRITING_LINES:
            self._end(self.copy.writing, True)
        elif line.no - self.copy.start.no > SESSION_LINES:
            self._end(self.copy.start, None)

    def finish(self) -> None:
        if self.digest_next is not None:
            self._digest_line(None, "")
        if self.copy is not None and self.copy.success is not None:
            line, ref = self.copy.success
            self._end(line, True, ref)
        elif self.copy is not None:
            written = self.copy.writing
            self._end(written or self.copy.start, True if written else None)

    def _openshift_line(self, line: Line, text: str) -> bool:
        """Retries and the final word of an OpenShift build's push."""
        assert self.copy is not None
        if OPENSHIFT_RETRY_RE.match(text):
            self.copy.success, self.copy.writing = None, None
        elif text.startswith(OPENSHIFT_DONE):
            line, ref = self.copy.success or (line, self.copy.ref)
            self._end(line, True, ref)
        elif text.startswith(STORING):
            pass  # the builder has yet to say whether the push stands
        elif self.copy.success and line.no - self.copy.success[0].no > SUCCESS_LINES:
            self._end(self.copy.success[0], True, self.copy.success[1])
        else:
            return False
        return True

    def _push_line(self, line: Line, text: str) -> bool:
        if ("podman" in text or "buildah" in text) and (found := command(text)):
            tool, args = found
            if tool != "skopeo":
                self._start(line, destination(args, tool), tool, text)
                return True
        if "Successfully pushed " in text:
            if m := QUOTED_SUCCESS_RE.search(text):
                self._quoted_success(line, m.group("ref"))
                return True
            if m := SUCCESS_RE.search(text):
                self._success(line, parse_image_ref(m.group("ref")))
                return True
        if text.startswith("Pushing ") and (m := OPENSHIFT_PUSHING_RE.match(text)):
            ref_text = m.group("ref") or m.group("s2i_ref")
            self._start(line, parse_image_ref(ref_text), "buildah")
            if self.copy is not None:
                self.copy.announced = True
            return True
        return False

    def _success(self, line: Line, ref: Ref | None) -> None:
        copy = self.copy
        if copy is not None and ref is not None and copy.ref.image == ref.image:
            # Newer builders drop the tag here; their "Pushing image" line had it.
            ref = Ref(ref.image, ref.tag or copy.ref.tag, ref.digest)
            if copy.announced:
                copy.success = (line, ref)
                return
            self.copy = None
            self.busy = False
        if ref is not None and (ref.digest or ref.tag):
            self.ctx.emit("buildah", line, ref, True)

    def _quoted_success(self, line: Line, text: str) -> None:
        ref = parse_image_ref(text)
        if ref is None:
            return
        ref = ref.with_tag("latest")
        if self.copy is not None and self.copy.ref.image == ref.image:
            self.copy = None
        self.digest_next = (line, ref)
        self.busy = True

    def _digest_line(self, line: Line | None, text: str) -> None:
        """The line after push-to-registry's success: the digest it read back."""
        assert self.digest_next is not None
        success, ref = self.digest_next
        self.digest_next = None
        self.busy = self.copy is not None
        if line is not None and BARE_DIGEST_RE.match(text):
            ref, success = Ref(ref.image, ref.tag, text), line
        self.ctx.emit("podman", success, ref, True)

    def _from_skopeo_command(self, line: Line) -> bool:
        """Start the copy of the nearest ``skopeo copy`` before line, unless its
        copy was read already; whether one started."""
        found = self.ctx.lookback.nearest_lines(("skopeo",), SKOPEO_LOOKBACK_BYTES, 1)
        cleaned = clean_line(0, found[0]) if found else None
        echoed = cleaned.text if cleaned else None
        if echoed is None or echoed == self.skopeo_command:
            return False  # no copy command, or its copy was already read (a pull)
        self.skopeo_command = echoed
        copy_command = command(echoed)
        if copy_command and copy_command[0] == "skopeo":
            target = destination(copy_command[1], "skopeo")
            self._start(line, target, "skopeo", echoed)
        return self.copy is not None

    def _start(self, line: Line, ref: Ref | None, tool: str, command: str = "") -> None:
        if self.copy is not None:
            self.finish()
        if ref is not None:
            multi = bool(MULTI_RE.search(command))
            self.copy = Copy(ref.with_tag("latest"), tool, line, multi=multi)
            self.busy = True

    def _end(self, line: Line, pushed: bool | None, ref: Ref | None = None) -> None:
        if self.copy is not None:
            self.ctx.emit(self.copy.tool, line, ref or self.copy.ref, pushed)
        self.copy = None
        self.busy = self.digest_next is not None

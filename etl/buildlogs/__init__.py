"""Image pushes read from CI build logs: pure text in, push events out.

``parse_lines`` turns the lines of one log into ``PushEvent``s; ``parse_file``
does the same for a file, streaming it. One module per tool family holds that
tool's state machine (``docker``, ``buildkit``, ``azure``, ``kaniko``,
``buildah``, ``crane``, ``ko``, ``jib``, ``cloudbuild``, ``compose``);
``clean`` strips CI noise from a line, ``refs`` reads references and digests,
``core`` holds what the tools share, ``events`` merges repeated proof of one
push, ``parser`` runs the tools and ``scan`` feeds them the lines.
"""

from __future__ import annotations

from etl.buildlogs.events import PushEvent
from etl.buildlogs.scan import parse_file, parse_lines, parse_stream

__all__ = ["PushEvent", "parse_file", "parse_lines", "parse_stream"]

"""`imagetrail parse-log` on the real-world log cases, scored as their oracle says."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from etl.cli import cli
from tests.conftest import SHARED_CASES

ORACLE = SHARED_CASES / "oracle.json"
LOG_CASES = (
    [c for c in json.loads(ORACLE.read_text()) if c["kind"] == "log"]
    if ORACLE.exists()
    else []
)


def triples(pushes: list[dict[str, Any]]) -> set[tuple[Any, Any, Any]]:
    return {(p["image"], p["tag"], p["digest"]) for p in pushes}


@pytest.mark.skipif(not LOG_CASES, reason="no real-world cases beside the repository")
@pytest.mark.parametrize("case", LOG_CASES, ids=lambda c: c["case"])
def test_case_is_exact_and_leaks_no_digest(case: dict[str, Any]) -> None:
    result = CliRunner().invoke(
        cli, ["parse-log", str(SHARED_CASES / case["case"]), "--json"]
    )
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    accepted = [case["pushed"], *case.get("acceptable_alternatives", [])]
    pushed = [e for e in events if e["pushed"] is True]
    assert triples(pushed) in [triples(a) for a in accepted]
    for digest in case["forbidden_digests"]:
        assert digest.removeprefix("sha256:") not in result.output


def test_several_files_name_their_file_and_bad_ones_fail_alone(tmp_path: Path) -> None:
    good = tmp_path / "push.log"
    good.write_text(
        "The push refers to repository [registry.example.com/team/app]\n"
        "1.0: digest: sha256:" + "a" * 64 + " size: 528\n"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("imagetrail")),
            "parse-log",
            str(good),
            str(good),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert [(e["file"], e["image"], e["tag"]) for e in events] == [
        (str(good), "registry.example.com/team/app", "1.0")
    ] * 2
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x00\x00\x01" * 100)
    result = CliRunner().invoke(cli, ["parse-log", str(binary)])
    assert result.exit_code != 0
    assert str(binary) in str(result.exception) or str(binary) in result.output


def _imagetrail(
    *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("imagetrail")), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


PUSH_LOG = (
    "The push refers to repository [registry.example.com/team/app]\n"
    "1.0: digest: sha256:" + "a" * 64 + " size: 528\n"
)


def test_a_log_piped_to_stdin_is_read(tmp_path: Path) -> None:
    packed = gzip.compress(PUSH_LOG.encode())
    (tmp_path / "job.log.gz").write_bytes(packed)

    refused = _imagetrail("parse-log", str(tmp_path / "job.log.gz"))
    piped = _imagetrail("parse-log", "-", "--json", stdin=gzip.decompress(packed))

    assert refused.returncode == 1
    assert b"parse-log -" in refused.stderr
    assert piped.returncode == 0, piped.stderr
    assert [(e["image"], e["tag"]) for e in json.loads(piped.stdout)] == [
        ("registry.example.com/team/app", "1.0")
    ]


def test_a_missing_file_among_several_still_prints_the_others(tmp_path: Path) -> None:
    good = tmp_path / "push.log"
    good.write_text(PUSH_LOG)
    missing = tmp_path / "gone.log"

    result = _imagetrail("parse-log", str(good), str(missing), "--json")

    assert result.returncode == 3
    assert [e["file"] for e in json.loads(result.stdout)] == [str(good)]
    assert str(missing).encode() in result.stderr
    assert _imagetrail("parse-log", str(missing)).returncode == 1


def test_a_file_the_user_may_not_read_fails_alone(tmp_path: Path) -> None:
    good = tmp_path / "push.log"
    good.write_text(PUSH_LOG)
    locked = tmp_path / "locked.log"
    locked.write_text(PUSH_LOG)
    real_open = Path.open

    def refuse(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == locked.name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    # Root reads any file whatever its mode: deny the read itself, and report
    # the file unreadable to any up-front access check too.
    with (
        mock.patch("os.access", lambda p, mode, **kw: Path(p).name != locked.name),
        mock.patch.object(Path, "open", refuse),
    ):
        result = CliRunner().invoke(
            cli, ["parse-log", str(good), str(locked), "--json"]
        )

    assert result.exit_code == 3, result.output
    assert [e["file"] for e in json.loads(result.stdout)] == [str(good)]
    assert f"{locked}: cannot read the log (Permission denied)" in result.stderr


def test_json_output_is_an_empty_list_when_no_file_could_be_read(
    tmp_path: Path,
) -> None:
    result = _imagetrail("parse-log", str(tmp_path / "gone.log"), "--json")

    assert result.returncode == 1
    assert json.loads(result.stdout) == []

"""Benchmarks, run by ``make bench`` (``python -m tests.bench [NAME...]``).

Each benchmark is a named function in ``BENCHMARKS`` that prints its own
report. ``logs`` writes 200+ MB of generated CI logs (deterministic: a fixed
seed; mostly noise, with pushes of every format the parser reads, some failing)
to a temporary folder, then measures, in the same run and over the same files:
``parse_file`` in a child process (wall time, MB/s, peak RSS), and
``grep -cE 'sha256:[0-9a-f]{64}'`` in the inherited locale and with
``LC_ALL=C``. Each is timed three times and the best run counts. It also checks
the events against the pushes it planted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240501
TARGET_BYTES = 200 * 1024 * 1024
FILES = 96
RUNS = 3
GREP_PATTERN = "sha256:[0-9a-f]{64}"
PUSHES_PER_FILE = (2, 9)
FAILED_SHARE = 0.15
# Relative frequency of each kind of noise line in _noise_line, in its order:
# build and test output, BuildKit steps and layer progress (plain, and coloured
# as BuildKit's TTY output is), pulls, minified one-line bundles, and rare lines
# holding a needle (pull digests, Dockerfile names, git push).
# About one line in 700 holds a needle without being a push: a few dozen per
# job log of 25,000 lines.
NOISE_WEIGHTS = (
    400,
    400,
    600,
    300,
    400,
    300,
    150,
    150,
    200,
    200,
    50,
    200,
    200,
    200,
    5,
    2,
    2,
    1,
)


# -- generated logs ---------------------------------------------------------------


@dataclass
class Planted:
    """What the generator put into the logs, to check the parser against."""

    pushed: set[tuple[str, str | None, str | None]] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)
    blocks: int = 0


class LogWriter:
    """Random but reproducible CI log text: noise lines and push blocks."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.noise = [self._noise_line() for _ in range(4000)]
        self.planted = Planted()

    def hex(self, n: int = 64) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def digest(self) -> str:
        return "sha256:" + self.hex()

    def _noise_line(self) -> str:
        r = self.rng
        n = r.randint(1, 60)
        word = r.choice(["api", "web", "worker", "billing", "auth", "search", "core"])
        kind = r.choices(range(len(NOISE_WEIGHTS)), NOISE_WEIGHTS)[0]
        if kind == 0:
            return (
                f"npm WARN deprecated {word}-utils@{n}.{n % 7}.0: no longer supported"
            )
        if kind == 1:
            return (
                "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/"
                f"org/{word}/{word}-core/{n}.0/{word}-core-{n}.0.jar ({n * 7} kB)"
            )
        if kind == 2:
            return f"tests/test_{word}.py::test_case_{n} PASSED{' ' * 30}[{n:3d}%]"
        if kind == 3:
            return f"go: downloading github.com/{word}/{word}-go v1.{n}.0"
        if kind == 4:
            return (
                f"#{n} [build {n % 9 + 1}/9] RUN go build -o /out/{word} ./cmd/{word}"
            )
        if kind == 5:
            mb = r.randint(1, 90)
            return f"#{n} sha256:{self.hex()} {mb}.2MB / {mb}.2MB {n / 10:.1f}s done"
        if kind == 6:
            return f"#{n} extracting sha256:{self.hex()} 0.{n}s done"
        if kind == 7:
            return f"{self.hex(12)}: Pull complete"
        if kind == 8:
            return (
                f"Get:{n} http://deb.debian.org/debian bookworm/main amd64 "
                f"lib{word}{n} amd64 3.0.{n}-1~deb12u2 [{n * 31} kB]"
            )
        if kind == 9:
            return f"src/{word}/main.c:{n * 3}:5: warning: unused variable 'x{n}'"
        if kind == 10:
            return f"HEAD is now at {self.hex(7)} Merge pull request #{n} from {word}"
        if kind == 11:
            return f"\x1b[32m\u2713\x1b[0m {word} renders {n} \x1b[2m({n} ms)\x1b[0m"
        if kind == 12:
            return (
                f"Step {n % 12 + 1}/12 : RUN pip install --no-cache-dir {word}=={n}.0"
            )
        if kind == 13:
            mb = r.randint(1, 90)
            return (
                f"\x1b[34m => => sha256:{self.hex()} {mb}.2MB / {mb}.2MB "
                f"{n / 10:.1f}s\x1b[0m"
            )
        if kind == 14:
            return "".join(r.choices("abcdefghij(){};=+.,", k=r.randint(2000, 8000)))
        # Rare lines that hold a needle without being a push.
        if kind == 15:
            return f"Digest: sha256:{self.hex()}"
        if kind == 16:
            return f"#{n} [internal] load build definition from Dockerfile"
        return f"git push origin HEAD:refs/heads/release/{word}-{n}"

    def ref(self) -> tuple[str, str, str]:
        """(printed repository, normalised image, tag)."""
        r = self.rng
        host = r.choice(
            [
                "ghcr.io/contoso",
                "contosoacr01.azurecr.io/team",
                "111122223333.dkr.ecr.us-east-1.amazonaws.com",
                "europe-docker.pkg.dev/contoso-prod/images",
                "192.0.2.10:5000/ci",
                "contoso",
            ]
        )
        name = r.choice(["api", "web", "worker", "billing", "auth-svc", "search"])
        repo = f"{host}/{name}-{r.randrange(1000)}"
        image = (
            repo if "." in host.split("/")[0] or ":" in host else f"docker.io/{repo}"
        )
        tag = r.choice(
            [f"v1.{r.randrange(99)}.{r.randrange(9)}", "latest", self.hex(40)]
        )
        return repo, image, tag

    def layers(self, status: str = "Pushed") -> list[str]:
        out = []
        for _ in range(self.rng.randint(3, 9)):
            layer = self.hex(12)
            out += [f"{layer}: Preparing", f"{layer}: {status}"]
        return out

    def push_block(self) -> list[str]:
        self.planted.blocks += 1
        repo, image, tag = self.ref()
        d = self.digest()
        failed = self.rng.random() < FAILED_SHARE
        kind = self.rng.randrange(17)
        lines = getattr(self, f"_block_{kind}")(repo, image, tag, d, failed)
        return lines

    def _ok(self, image: str, tag: str | None, digest: str | None) -> None:
        self.planted.pushed.add((image, tag, digest))

    def _block_0(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """docker push"""
        lines = [
            f"$ docker push {repo}:{tag}",
            f"The push refers to repository [{repo}]",
        ]
        lines += self.layers()
        if failed:
            return [*lines, "manifest invalid: manifest invalid"]
        self._ok(image, tag, d)
        return [*lines, f"{tag}: digest: {d} size: {self.rng.randint(500, 3000)}"]

    def _block_1(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """buildkit --progress=plain, multi-platform with attestations"""
        v = self.rng.randint(10, 40)
        base, children = self.digest(), [self.digest() for _ in range(4)]
        self.planted.forbidden.update([base, *children])
        lines = [
            f"#{v - 5} [build 1/6] FROM docker.io/library/golang:1.22@{base}",
            f"#{v} exporting to image",
            f"#{v} exporting layers 2.1s done",
            f"#{v} exporting manifest {children[0]} done",
            f"#{v} exporting config {children[1]} done",
            f"#{v} exporting attestation manifest {children[2]} done",
            f"#{v} exporting manifest {children[3]} done",
            f"#{v} exporting manifest list {d} done",
            f"#{v} pushing layers",
            f"#{v} pushing layers 3.2s done",
            f"#{v} pushing manifest for {repo}:{tag}@{d}",
        ]
        if failed:
            return [*lines, f"#{v} ERROR: failed to push {repo}:{tag}: 403 Forbidden"]
        self._ok(image, tag, d)
        return [
            *lines,
            f"#{v} pushing manifest for {repo}:{tag}@{d} 0.6s done",
            f"#{v} DONE 6.2s",
        ]

    def _block_2(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """buildkit TTY"""
        config = self.digest()
        self.planted.forbidden.add(config)
        self._ok(image, tag, d)
        return [
            " => exporting to image                                    1.1s",
            " => => exporting layers                                   0.6s",
            f" => => exporting manifest {d}                             0.0s",
            f" => => exporting config {config}                          0.0s",
            f" => => naming to {repo}:{tag}                             0.0s",
            f" => => pushing manifest for {repo}:{tag}@{d}              0.4s",
        ]

    def _block_3(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """kaniko, new format"""
        lines = [f"INFO[0012] Pushing image to {repo}:{tag}"]
        if failed:
            return [
                *lines,
                f"error pushing image: failed to push to destination {repo}:{tag}: "
                "UNAUTHORIZED: authentication required",
            ]
        self._ok(image, tag, d)
        return [*lines, f"INFO[0019] Pushed {repo}@{d}"]

    def _block_4(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """kaniko, old format"""
        self._ok(image, tag, None)
        return [
            f"INFO[2021-09-20T21:40:45Z] Pushing image to {repo}:{tag}",
            "INFO[2021-09-20T21:40:46Z] Pushed image to 1 destinations",
        ]

    def _block_5(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """ACR Tasks with the dependency report"""
        base = self.digest()
        self.planted.forbidden.add(base)
        ref = f"{repo}:{tag}"
        lines = [f"2025/05/17 14:35:09 Pushing image: {ref}, attempt 1"]
        lines += [f"The push refers to repository [{repo}]", *self.layers()]
        if failed:
            return [
                *lines,
                "received unexpected HTTP status: 500 Internal Server Error",
            ]
        self._ok(image, tag, d)
        return [
            *lines,
            f"{tag}: digest: {d} size: 1366",
            f"2025/05/17 14:35:43 Successfully pushed image: {ref}",
            "2025/05/17 14:35:43 The following dependencies were found:",
            "- image:",
            f"    registry: {repo.split('/')[0]}",
            f"    repository: {repo.split('/', 1)[1]}",
            f"    tag: {tag}",
            f"    digest: {d}",
            "  runtime-dependency:",
            "    registry: registry.hub.docker.com",
            "    repository: library/node",
            "    tag: 20-alpine",
            f"    digest: {base}",
            "",
            "Run ID: ca12 was successful after 49s",
        ]

    def _block_6(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """Azure Pipelines Docker@2 with system.debug"""
        self._ok(image, tag, d)
        return [
            "##[debug]dockerFile=/home/vsts/work/1/s/src/Dockerfile",
            f"##[debug]Pushing ImageNameWithTag: {repo}:{tag}",
            f"##[debug]/usr/bin/docker arg: {repo}:{tag}",
            *self.layers("Layer already exists"),
            f"{tag}: digest: {d} size: 5332",
            f"##[debug]outputImageName: {repo}:{tag}",
        ]

    def _block_7(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """podman push"""
        blob = self.digest()
        self.planted.forbidden.add(blob)
        lines = [
            f"+ podman push --authfile /tmp/auth.json {repo}:{tag}",
            "Getting image source signatures",
            f"Copying blob {blob}",
            "Writing manifest to image destination",
        ]
        if failed:
            return [*lines, "Error: writing manifest: manifest invalid"]
        self._ok(image, tag, None)
        return [*lines, "", "+ echo done"]

    def _block_8(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """skopeo copy"""
        blob = self.digest()
        self.planted.forbidden.add(blob)
        self._ok(image, tag, None)
        return [
            f"$ skopeo copy docker://quay.io/contoso/src:1 docker://{repo}:{tag}",
            "Getting image source signatures",
            f"Copying blob {blob}",
            "Writing manifest to image destination",
            "Storing signatures",
        ]

    def _block_9(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """OpenShift builder"""
        self._ok(image, tag, d)
        return [
            f"Successfully pushed //{repo}:{tag}@{d}",
            f"Successfully pushed {repo}@{d}",
            "Push successful",
        ]

    def _block_10(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """crane copy"""
        blob, old = self.digest(), self.digest()
        self.planted.forbidden.update([blob, old])
        self._ok(image, tag, d)
        return [
            f"$ crane copy busybox@{old} {repo}:{tag}",
            f"2024/03/01 10:00:00 pushed blob: {blob}",
            f"2024/03/01 10:00:01 {repo}:{tag}: digest: {d} size: 750",
        ]

    def _block_11(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """ko publish of an index"""
        child = self.digest()
        self.planted.forbidden.add(child)
        self._ok(image, tag, d)
        return [
            f"2024/03/01 10:00:00 Publishing {repo}:{tag}",
            f"2024/03/01 10:00:01 {repo}@{child}: digest: {child} size: 2871",
            f"2024/03/01 10:00:01 {repo}:{tag}: digest: {d} size: 833",
            f"2024/03/01 10:00:01 Published {repo}@{d}",
        ]

    def _block_12(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """jib (maven)"""
        base = self.digest()
        self.planted.forbidden.add(base)
        self._ok(image, tag, None)
        return [
            f"[INFO] Using base image with digest: {base}",
            f"[INFO] Built and pushed image as {repo}:{tag}",
        ]

    def _block_13(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """Google Cloud Build PUSH phase"""
        pull = self.digest()
        self.planted.forbidden.add(pull)
        self._ok(image, tag, d)
        return [
            f"Step #0: Digest: {pull}",
            "Finished Step #0",
            "PUSH",
            f"Pushing {repo}:{tag}",
            f"The push refers to repository [{repo}]",
            *self.layers(),
            f"{tag}: digest: {d} size: 2416",
        ]

    def _block_14(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """docker-compose v1 push"""
        self._ok(image, tag, d)
        return [
            f"Pushing api ({repo}:{tag})...",
            f"The push refers to repository [{repo}]",
            *self.layers(),
            f"{tag}: digest: {d} size: 2424",
        ]

    def _block_15(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """docker manifest push"""
        children = [self.digest(), self.digest()]
        self.planted.forbidden.update(children)
        self._ok(image, tag, d)
        return [
            f"$ docker manifest push {repo}:{tag}",
            *(f"Pushed ref {repo}@{c} with digest: {c}" for c in children),
            d,
        ]

    def _block_16(
        self, repo: str, image: str, tag: str, d: str, failed: bool
    ) -> list[str]:
        """docker buildx imagetools create"""
        self._ok(image, tag, None)
        return [f"#1 [internal] pushing {repo}:{tag}", "#1 DONE 0.9s"]


# Line prefixes of GitHub Actions / Azure Pipelines, Jenkins, and none.
PREFIXES: list[Callable[[random.Random], str]] = [
    lambda r: (
        f"2024-05-01T10:{r.randrange(3600) // 60:02d}:{r.randrange(60):02d}"
        f".{r.randrange(10**7):07d}Z "
    ),
    lambda r: f"[2024-05-01T10:{r.randrange(60):02d}:{r.randrange(60):02d}.123Z] ",
    lambda r: "",
]


def write_logs(folder: Path) -> Planted:
    """About TARGET_BYTES of logs in FILES files; returns what was planted."""
    rng = random.Random(SEED)
    writer = LogWriter(rng)
    per_file = TARGET_BYTES // FILES + 1
    for i in range(FILES):
        prefix = PREFIXES[i % len(PREFIXES)]
        stamps = [prefix(rng) for _ in range(64)]
        lines = []
        size = 0
        pushes_at = sorted(rng.sample(range(1000), rng.randint(*PUSHES_PER_FILE)))
        for step in range(1000):
            chunk = rng.choices(writer.noise, k=per_file // 1000 // 90 + 1)
            if step in pushes_at:
                chunk = chunk + writer.push_block()
            for text in chunk:
                line = rng.choice(stamps) + text + "\n"
                lines.append(line)
                size += len(line)
        (folder / f"job-{i:03d}.log").write_text("".join(lines), encoding="utf-8")
    return writer.planted


# -- measurements -----------------------------------------------------------------


@dataclass
class Timing:
    """The best of RUNS runs: wall seconds and CPU seconds (user + system)."""

    wall: float = float("inf")
    cpu: float = float("inf")

    def keep_best(self, wall: float, cpu: float) -> None:
        if wall < self.wall:
            self.wall, self.cpu = wall, cpu


def _child_parse(folder: Path) -> None:
    """In a child process: parse every file; print times, events and peak RSS."""
    from etl.buildlogs import parse_file

    files = sorted(folder.glob("*.log"))
    wall, cpu = time.perf_counter(), time.process_time()
    events = [e.to_json() for path in files for e in parse_file(path)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"wall": wall, "cpu": cpu, "peak_kib": peak_kib, "events": events}
    json.dump(out, sys.stdout)


def time_parser(folder: Path) -> tuple[Timing, int, list[dict[str, object]]]:
    timing, peak_kib, events = Timing(), 0, []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench", "--child-parse", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        run = json.loads(out)
        timing.keep_best(run["wall"], run["cpu"])
        peak_kib, events = max(peak_kib, run["peak_kib"]), run["events"]
    return timing, peak_kib, events


def time_grep(folder: Path, env: dict[str, str]) -> Timing:
    files = sorted(str(p) for p in folder.glob("*.log"))
    timing = Timing()
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        # Output to a pipe: with /dev/null GNU grep stops at the first match.
        subprocess.run(
            ["grep", "-cE", GREP_PATTERN, *files],
            check=False,
            stdout=subprocess.PIPE,
            env=env,
        )
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        timing.keep_best(wall, cpu)
    return timing


def check_events(events: list[dict[str, object]], planted: Planted) -> str:
    found = {(e["image"], e["tag"], e["digest"]) for e in events if e["pushed"] is True}
    digests = {e["digest"] for e in events if e["digest"]}
    leaks = len(digests & planted.forbidden)
    hit = len(found & planted.pushed)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(planted.pushed) if planted.pushed else 1.0
    return (
        f"planted: {len(planted.pushed)} pushes in {planted.blocks} push blocks; "
        f"precision {precision:.3f}, recall {recall:.3f}, "
        f"forbidden digests reported {leaks}"
    )


def bench_logs() -> None:
    """Parse 200+ MB of generated CI logs; compare with grep over the same files."""
    if shutil.which("grep") is None:
        sys.exit("bench logs: grep not found")
    with tempfile.TemporaryDirectory(prefix="imagetrail-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        planted = write_logs(folder)
        mb = sum(p.stat().st_size for p in folder.glob("*.log")) / 1e6
        took = time.perf_counter() - started
        print(f"logs: {FILES} files, {mb:.0f} MB (seed {SEED}), written in {took:.0f}s")
        print(f"best of {RUNS} runs each; ratio = imagetrail time / grep time")

        parsed, peak_kib, events = time_parser(folder)
        print(
            f"imagetrail (parse_file, one process): {parsed.wall:.2f}s wall, "
            f"{parsed.cpu:.2f}s CPU, {mb / parsed.wall:.0f} MB/s, "
            f"peak RSS {peak_kib / 1024:.0f} MB"
        )
        locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or "C"
        for label, env in [
            (f"locale {locale}", dict(os.environ)),
            ("LC_ALL=C", {**os.environ, "LC_ALL": "C"}),
        ]:
            grep = time_grep(folder, env)
            print(
                f"grep -cE '{GREP_PATTERN}' ({label}): {grep.wall:.2f}s wall, "
                f"{grep.cpu:.2f}s CPU; ratio {parsed.wall / grep.wall:.2f} wall, "
                f"{parsed.cpu / grep.cpu:.2f} CPU"
            )
        print(check_events(events, planted))


# Lines of each tool with 60 KiB of one filler put into them: a pattern that can
# split a long run of these many ways takes seconds per line instead of
# microseconds.
LONG_LINE_FILLERS = [
    *(" ", ":", "/", "a", "1 ", "@", "=> ", "\t", "a:", "a/", '\\"'),
    *(" -n", ", a", "[a] "),
]


def bench_long_lines() -> None:
    """Parse log lines stretched to the line limit; report the slowest."""
    import textwrap

    from etl.buildlogs import parse_lines
    from tests.buildlogs.test_formats import FORMATS
    from tests.buildlogs.test_traps import TRAPS

    # A filler list of 20,000 names hits the event cap; that warning is expected.
    logging.getLogger("etl.buildlogs").setLevel(logging.ERROR)
    texts = [f[1] for f in FORMATS] + [t.log for t in TRAPS]
    logs = [textwrap.dedent(t).strip("\n").split("\n") for t in texts]
    started, worst, count = time.perf_counter(), (0.0, ""), 0
    for lines in logs:
        for i, line in enumerate(lines):
            for filler, cut in itertools.product(LONG_LINE_FILLERS, (0.3, 0.7)):
                at = int(len(line) * cut)
                long = line[:at] + filler * (60 * 1024 // len(filler)) + line[at:]
                took = time.perf_counter()
                list(parse_lines([*lines[:i], long, *lines[i + 1 :]]))
                took = time.perf_counter() - took
                worst = max(worst, (took, f"{line[:60]!r} with {filler!r}"))
                count += 1
    print(
        f"long lines: {count} logs with one 60 KiB line in "
        f"{time.perf_counter() - started:.1f}s; slowest {worst[0] * 1000:.0f} ms "
        f"({worst[1]})"
    )


BENCHMARKS: dict[str, Callable[[], None]] = {
    "logs": bench_logs,
    "long-lines": bench_long_lines,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    ap.add_argument(
        "names",
        nargs="*",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    ap.add_argument("--child-parse", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_parse:
        _child_parse(args.child_parse)
        return
    for name in args.names or list(BENCHMARKS):
        if name not in BENCHMARKS:
            ap.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()

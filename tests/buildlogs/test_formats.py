"""The push output of each tool the parser reads, one small log per format.

Each log imitates the tool named in its id (wording from the tools' sources and
public logs); the expected events are what ``imagetrail parse-log`` prints.
"""

from __future__ import annotations

import textwrap

import pytest

from etl.buildlogs import PushEvent, parse_lines
from tests.conftest import SHARED_CASES

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64

Row = tuple[str, str | None, str | None, bool | None, str]


def parse(log: str) -> list[PushEvent]:
    return list(parse_lines(textwrap.dedent(log).strip("\n").split("\n")))


def rows(events: list[PushEvent]) -> list[Row]:
    return [(e.image, e.tag, e.digest, e.pushed, e.tool) for e in events]


FORMATS: list[tuple[str, str, list[Row]]] = [
    (
        "docker-1.6-digest-line",
        f"""
        $ docker push localhost:5000/busybox:1
        The push refers to a repository [localhost:5000/busybox] (len: 1)
        8c2e06607696: Image already exists
        6ce2e90b0bc7: Image successfully pushed
        Digest: {A}
        """,
        [("localhost:5000/busybox", "1", A, True, "docker")],
    ),
    (
        "docker-v1-registry",
        """
        The push refers to a repository [contoso/old] (len: 1)
        Pushing tag for rev [6ce2e90b0bc7] on {https://cdn-registry-1.docker.io/v1/repositories/contoso/old/tags/2014}
        """,  # noqa: E501
        [("docker.io/contoso/old", "2014", None, True, "docker")],
    ),
    (
        "docker-push-all-tags",
        f"""
        The push refers to repository [ghcr.io/contoso/all]
        1: digest: {A} size: 1
        2: digest: {B} size: 1
        """,
        [
            ("ghcr.io/contoso/all", "1", A, True, "docker"),
            ("ghcr.io/contoso/all", "2", B, True, "docker"),
        ],
    ),
    (
        "docker-push-without-outcome",
        """
        $ docker push ghcr.io/contoso/cut:1
        The push refers to repository [ghcr.io/contoso/cut]
        aaaaaaaaaaaa: Pushing
        """,
        [("ghcr.io/contoso/cut", "1", None, None, "docker")],
    ),
    (
        "buildkit-tty",
        f"""
         => exporting to image                                        1.1s
         => => exporting manifest {A}                                 0.0s
         => => exporting config {B}                                   0.0s
         => => pushing manifest for ghcr.io/contoso/tty:1@{A}         0.4s
        """,
        [("ghcr.io/contoso/tty", "1", A, True, "buildkit")],
    ),
    (
        "buildkit-push-by-digest",
        f"""
        #20 exporting manifest {A} done
        #20 pushing manifest for ghcr.io/contoso/matrix@{A} 0.3s done
        """,
        [("ghcr.io/contoso/matrix", None, A, True, "buildkit")],
    ),
    (
        "buildx-imagetools-create",
        """
        #1 [internal] pushing docker.io/contoso/merged:3
        #1 DONE 0.9s
        """,
        [("docker.io/contoso/merged", "3", None, True, "imagetools")],
    ),
    (
        "compose-v1-push",
        f"""
        Pushing api (192.0.2.12:5000/project_api:latest)...
        The push refers to repository [192.0.2.12:5000/project_api]
        362e0645389f: Pushed
        latest: digest: {A} size: 2424
        """,
        [("192.0.2.12:5000/project_api", "latest", A, True, "compose")],
    ),
    (
        "compose-v2-push",
        """
         Pushing ghcr.io/contoso/svc:2: 5f70bf18a086 Layer already exists
         Pushing ghcr.io/contoso/svc:2: 899268416f97 Pushed
        """,
        [("ghcr.io/contoso/svc", "2", None, True, "compose")],
    ),
    (
        "compose-v2-push-refused",
        """
         Pushing ghcr.io/contoso/svc:3: 899268416f97 Pushed
        manifest invalid: manifest invalid
        """,
        [("ghcr.io/contoso/svc", "3", None, False, "compose")],
    ),
    (
        "kaniko-push-refused",
        """
        INFO[0010] Pushing image to registry.example.com/app:5
        error pushing image: failed to push to destination registry.example.com/app:5: UNAUTHORIZED
        """,  # noqa: E501
        [("registry.example.com/app", "5", None, False, "kaniko")],
    ),
    (
        "kaniko-no-outcome",
        """
        INFO[0010] Pushing image to registry.example.com/app:6
        """,
        [("registry.example.com/app", "6", None, None, "kaniko")],
    ),
    (
        "skopeo-copy",
        f"""
        $ skopeo copy --dest-creds user:*** docker://quay.io/src/x:1 docker://ghcr.io/contoso/x:1
        Getting image source signatures
        Copying blob {B}
        Writing manifest to image destination
        Storing signatures
        """,  # noqa: E501
        [("ghcr.io/contoso/x", "1", None, True, "skopeo")],
    ),
    (
        "skopeo-copy-to-local-dir-is-not-a-push",
        f"""
        $ skopeo copy docker://quay.io/src/x:1 dir:/tmp/x
        Getting image source signatures
        Copying blob {B}
        Writing manifest to image destination
        """,
        [],
    ),
    (
        "podman-pull-is-not-a-push",
        f"""
        Trying to pull quay.io/contoso/base:1...
        Getting image source signatures
        Copying blob {B}
        Writing manifest to image destination
        """,
        [],
    ),
    (
        "buildah-manifest-push",
        """
        + buildah manifest push --all localhost/list docker://quay.io/contoso/list:7
        Getting image source signatures
        Writing manifest list to image destination
        Storing list signatures
        """,
        [("quay.io/contoso/list", "7", None, True, "buildah")],
    ),
    (
        "openshift-builder-new-format",
        f"""
        Pushing image image-registry.openshift-image-registry.svc:5000/ns/app:latest ...
        Getting image source signatures
        Writing manifest to image destination
        Successfully pushed image-registry.openshift-image-registry.svc:5000/ns/app@{A}
        Push successful
        """,
        [
            (
                "image-registry.openshift-image-registry.svc:5000/ns/app",
                "latest",
                A,
                True,
                "buildah",
            )
        ],
    ),
    (
        "jib-additional-tags",
        """
        [INFO] Built and pushed image as gcr.io/contoso/orders, gcr.io/contoso/orders:1.2
        """,  # noqa: E501
        [
            ("gcr.io/contoso/orders", "latest", None, True, "jib"),
            ("gcr.io/contoso/orders", "1.2", None, True, "jib"),
        ],
    ),
    (
        "ko-index-with-children",
        f"""
        2026/08/24 02:58:00 Publishing ghcr.io/contoso/ko:v1
        2026/08/24 02:58:00 ghcr.io/contoso/ko@{B}: digest: {B} size: 2871
        2026/08/24 02:58:00 ghcr.io/contoso/ko:v1: digest: {A} size: 833
        2026/08/24 02:58:00 Published ghcr.io/contoso/ko@{A}
        """,
        [("ghcr.io/contoso/ko", "v1", A, True, "ko")],
    ),
    (
        "acr-dependency-report-gives-the-digest",
        f"""
        2019/06/20 18:06:07 Successfully pushed image: hubuser/hubrepo:cf24
        2019/06/20 18:06:09 The following dependencies were found:
        - image:
            registry: registry.hub.docker.com
            repository: hubuser/hubrepo
            tag: cf24
            digest: {A}
          runtime-dependency:
            registry: registry.hub.docker.com
            repository: library/hello-world
            tag: latest
            digest: {B}
        Run ID: cf24 was successful after 15s
        """,
        [("docker.io/hubuser/hubrepo", "cf24", A, True, "acr-task")],
    ),
    (
        "cloud-build-push-phase",
        f"""
        Step #0: Digest: {B}
        Finished Step #0
        PUSH
        Pushing gcr.io/contoso/builder:v1
        The push refers to repository [gcr.io/contoso/builder]
        v1: digest: {A} size: 2416
        """,
        [("gcr.io/contoso/builder", "v1", A, True, "cloud-build")],
    ),
    (
        "gitlab-timestamped-with-sections",
        f"""
        2024-03-20T15:10:39.540172Z 00O section_start:1710947439:step_script\r\x1b[0K$ docker push registry.gitlab.com/contoso/app:9
        2024-03-20T15:10:39.640172Z 00O The push refers to repository [registry.gitlab.com/contoso/app]
        2024-03-20T15:10:40.540172Z 00O 9: digest: {A} size: 1
        """,  # noqa: E501
        [("registry.gitlab.com/contoso/app", "9", A, True, "docker")],
    ),
    (
        "kaniko-json-log-format",
        f"""
        {{"level":"info","msg":"Pushing image to ghcr.io/contoso/j:1","time":"2024-01-01T00:00:00Z"}}
        {{"level":"info","msg":"Pushed ghcr.io/contoso/j@{A}","time":"2024-01-01T00:00:01Z"}}
        """,  # noqa: E501
        [("ghcr.io/contoso/j", "1", A, True, "kaniko")],
    ),
]


@pytest.mark.parametrize(
    ("log", "expected"), [f[1:] for f in FORMATS], ids=[f[0] for f in FORMATS]
)
def test_format(log: str, expected: list[Row]) -> None:
    assert sorted(rows(parse(log)), key=repr) == sorted(expected, key=repr)


DOCKERFILES = [
    (
        "docker-build-f-names-its-tag",
        f"""
        + docker build -f services/api/Dockerfile -t ghcr.io/contoso/api:1 .
        + docker build -f services/web/Dockerfile -t ghcr.io/contoso/web:1 .
        + docker push ghcr.io/contoso/api:1
        The push refers to repository [ghcr.io/contoso/api]
        1: digest: {A} size: 1
        """,
        "services/api/Dockerfile",
    ),
    (
        "azure-docker2-input",
        f"""
        ##[debug]dockerFile=/home/vsts/work/1/s/src/Dockerfile.api
        ##[debug]Pushing ImageNameWithTag: contoso.azurecr.io/api:3
        3: digest: {A} size: 1
        """,
        "/home/vsts/work/1/s/src/Dockerfile.api",
    ),
    (
        "build-push-action-file-input",
        f"""
        ##[group]Run docker/build-push-action@v6
        with:
          file: ./docker/api.Dockerfile
          push: true
        ##[endgroup]
        #25 pushing manifest for ghcr.io/contoso/api:2@{A} 0.5s done
        """,
        "./docker/api.Dockerfile",
    ),
    (
        "kaniko-dockerfile-and-destination",
        f"""
        $ /kaniko/executor --context . --dockerfile build/Dockerfile --destination ghcr.io/contoso/k:1
        INFO[0010] Pushing image to ghcr.io/contoso/k:1
        INFO[0012] Pushed ghcr.io/contoso/k@{A}
        """,  # noqa: E501
        "build/Dockerfile",
    ),
    (
        "untagged-dockerfile-binds-to-the-first-image-only",
        f"""
        ##[debug]dockerFile=src/Dockerfile
        ##[debug]Pushing ImageNameWithTag: contoso.azurecr.io/first:1
        1: digest: {A} size: 1
        The push refers to repository [ghcr.io/contoso/second]
        2: digest: {B} size: 1
        """,
        "src/Dockerfile",
    ),
]


@pytest.mark.parametrize(
    ("log", "path"), [d[1:] for d in DOCKERFILES], ids=[d[0] for d in DOCKERFILES]
)
def test_dockerfile_of_the_first_push(log: str, path: str) -> None:
    events = parse(log)

    assert events[0].dockerfile == path
    assert all(e.dockerfile is None for e in events[1:])


def test_evidence_masks_credentials_on_push_commands() -> None:
    events = parse(
        """
        + podman push --creds ci-bot:hunter2hunter2 quay.io/contoso/app:1
        + docker login -u ci-bot -p hunter2hunter2 quay.io
        """
    )

    assert [(e.evidence, e.pushed) for e in events] == [
        ("+ podman push --creds *** quay.io/contoso/app:1", None)
    ]


@pytest.mark.parametrize(
    "prefix",
    ["web-1  | ", "api_1    | ", "[build-and-push] ", "[CI/build-and-push]   | "],
)
@pytest.mark.parametrize(
    "case",
    [
        "07-azdo-docker2-push-debug.log",
        "09-buildkit-plain-multiarch-push.log",
        "11-gha-buildx-multitag-abbreviated-digest.log",
    ],
)
@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"{SHARED_CASES} not present")
def test_multiplexer_prefixes_do_not_hide_pushes(prefix: str, case: str) -> None:
    lines = (SHARED_CASES / case).read_text().splitlines()

    prefixed = rows(list(parse_lines(prefix + line for line in lines)))

    assert prefixed == rows(list(parse_lines(lines)))
    assert [r for r in prefixed if r[3]] != []

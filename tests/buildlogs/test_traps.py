"""One small synthetic log per kind of trap the issue lists.

Each log imitates the output of the tool named in its id; digests are made
up (``sha256:`` and one repeated hex digit) so the table stays readable.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field

import pytest

from etl.buildlogs import PushEvent, parse_lines


def d(ch: str) -> str:
    return "sha256:" + ch * 64


@dataclass(frozen=True)
class Trap:
    id: str
    log: str
    pushed: set[tuple[str, str | None, str | None]]
    failed: set[tuple[str, str | None]] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)


def parse(log: str) -> list[PushEvent]:
    return list(parse_lines(textwrap.dedent(log).strip("\n").split("\n")))


TRAPS = [
    # -- a reference split across lines ----------------------------------------
    Trap(
        "split-ref-docker-repo-then-tag",
        f"""
        The push refers to repository [registry.example.com/team/api]
        5f70bf18a086: Pushed
        v2: digest: {d("a")} size: 1366
        """,
        {("registry.example.com/team/api", "v2", d("a"))},
    ),
    Trap(
        "split-ref-kaniko-short-name-then-index-docker-io",
        f"""
        INFO[0018] Pushing image to contoso/app:1.4
        INFO[0026] Pushed index.docker.io/contoso/app@{d("b")}
        """,
        {("docker.io/contoso/app", "1.4", d("b"))},
    ),
    Trap(
        "port-ip-host-and-several-colons",
        f"""
        2024/03/01 10:00:01 192.0.2.10:5000/team/app:1.2.3: digest: {d("c")} size: 750
        The push refers to repository [localhost:5000/tools/cli]
        latest: digest: {d("d")} size: 528
        """,
        {
            ("192.0.2.10:5000/team/app", "1.2.3", d("c")),
            ("localhost:5000/tools/cli", "latest", d("d")),
        },
    ),
    # -- digests that are not the output ----------------------------------------
    Trap(
        "base-image-from-and-pull-digest",
        f"""
        Step 1/4 : FROM python:3.12-slim@{d("1")}
        Digest: {d("2")}
        Status: Downloaded newer image for python:3.12-slim
        LABEL image.base.digest={d("3")}
        $ docker push ghcr.io/contoso/api:7
        The push refers to repository [ghcr.io/contoso/api]
        7: digest: {d("a")} size: 1780
        """,
        {("ghcr.io/contoso/api", "7", d("a"))},
        forbidden={d("1"), d("2"), d("3")},
    ),
    Trap(
        "acr-runtime-dependency",
        f"""
        2025/05/17 14:35:09 Successfully pushed image: contosoacr.azurecr.io/api:v1
        The following dependencies were found:
        - image:
            registry: contosoacr.azurecr.io
            repository: api
            tag: v1
            digest: {d("a")}
          runtime-dependency:
            registry: registry.hub.docker.com
            repository: library/node
            tag: 20-alpine
            digest: {d("4")}
        Run ID: ca1 was successful after 30s
        """,
        {("contosoacr.azurecr.io/api", "v1", d("a"))},
        forbidden={d("4")},
    ),
    Trap(
        "jib-base-image",
        f"""
        [INFO] Using base image with digest: {d("5")}
        [INFO] Built and pushed image as gcr.io/contoso/orders
        """,
        {("gcr.io/contoso/orders", "latest", None)},
        forbidden={d("5")},
    ),
    Trap(
        "buildkit-cache-export-and-kaniko-cache-push",
        f"""
        #20 exporting cache to registry
        #20 writing layer {d("6")} done
        #20 writing config {d("7")} done
        #20 writing cache manifest {d("8")} done
        #20 DONE 1.2s
        INFO[0005] Pushing layer ghcr.io/contoso/api/cache:{"9" * 64} to cache now
        INFO[0005] Pushing image to ghcr.io/contoso/api/cache:{"9" * 64}
        INFO[0006] Pushed ghcr.io/contoso/api/cache@{d("9")}
        """,
        set(),
        forbidden={d("6"), d("7"), d("8"), d("9")},
    ),
    Trap(
        "mounted-and-pushed-blobs",
        f"""
        2018/05/31 21:05:49 mounted blob: {d("1")}
        2018/05/31 21:05:50 pushed blob {d("2")}
        7a1d2e9f3c4b: Mounted from library/alpine
        2018/05/31 21:05:51 index.docker.io/contoso/tool:2: digest: {d("a")} size: 750
        {d("a")}
        """,
        {("docker.io/contoso/tool", "2", d("a"))},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "buildkit-vertex-config-children-attestation",
        f"""
        #31 exporting to image
        #31 {d("1")}
        #31 exporting manifest {d("2")} done
        #31 exporting config {d("3")} done
        #31 exporting attestation manifest {d("4")} done
        #31 exporting manifest {d("5")} done
        #31 exporting manifest list {d("a")} done
        #31 pushing layers 2.2s done
        #31 pushing manifest for ghcr.io/contoso/web:1.0@{d("a")} 0.4s done
        #31 DONE 5.0s
        """,
        {("ghcr.io/contoso/web", "1.0", d("a"))},
        forbidden={d("1"), d("2"), d("3"), d("4"), d("5")},
    ),
    Trap(
        "manifest-push-children",
        f"""
        $ docker manifest push contoso/multi:3
        Pushed ref docker.io/contoso/multi@{d("1")} with digest: {d("1")}
        Pushed ref docker.io/contoso/multi@{d("2")} with digest: {d("2")}
        {d("a")}
        """,
        {("docker.io/contoso/multi", "3", d("a"))},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "executor-and-builder-images",
        f"""
        Using docker image {d("1")} for gcr.io/kaniko-project/executor:debug with digest gcr.io/kaniko-project/executor@{d("2")} ...
        Step #0: Already have image (with digest): gcr.io/cloud-builders/docker@{d("3")}
        INFO[0010] Pushing image to registry.example.com/app:5
        INFO[0012] Pushed registry.example.com/app@{d("a")}
        """,  # noqa: E501
        {("registry.example.com/app", "5", d("a"))},
        forbidden={d("1"), d("2"), d("3")},
    ),
    Trap(
        "imagetools-push-after-an-exporter-in-tty-output",
        f"""
         => => exporting manifest {d("1")} 0.0s
         => => pushing manifest for ghcr.io/x/a:1@{d("1")} 0.2s
         => [internal] pushing ghcr.io/x/b:1 0.5s
        """,
        {("ghcr.io/x/a", "1", d("1")), ("ghcr.io/x/b", "1", None)},
    ),
    Trap(
        "later-build-reusing-a-finished-vertex-number",
        f"""
        #8 exporting manifest {d("1")} done
        #8 pushing manifest for ghcr.io/x/a:1 0.2s done
        #8 DONE 1.0s
        {chr(10).join(f"#9 RUN step {i}" for i in range(30))}
        #8 pushing manifest for ghcr.io/x/c:1 0.2s done
        """,
        {("ghcr.io/x/a", "1", d("1")), ("ghcr.io/x/c", "1", None)},
        forbidden=set(),
    ),
    # -- things that look like digests and are not ------------------------------
    Trap(
        "abbreviated-redacted-and-cut-digests",
        f"""
        The push refers to repository [ghcr.io/contoso/a]
        1: digest: sha256:635897f0... size: 1
        The push refers to repository [ghcr.io/contoso/b]
        2: digest: sha256:{"e" * 60}xxxx size: 2
        The push refers to repository [ghcr.io/contoso/c]
        3: digest: sha256:dfdd2cd4b1c5dbbb62744
        """,
        {
            ("ghcr.io/contoso/a", "1", None),
            ("ghcr.io/contoso/b", "2", None),
            ("ghcr.io/contoso/c", "3", None),
        },
    ),
    Trap(
        "git-sha-tag-and-image-ids",
        f"""
        Successfully built 66d5721b094d
        #9 writing image {d("1")} done
        #9 naming to registry.example.com/app:{"f" * 40} done
        $ docker push registry.example.com/app:{"f" * 40}
        The push refers to repository [registry.example.com/app]
        {"f" * 40}: digest: {d("a")} size: 9
        """,
        {("registry.example.com/app", "f" * 40, d("a"))},
        forbidden={d("1")},
    ),
    Trap(
        "cosign-signature-tag",
        f"""
        2024/03/01 10:00:01 ghcr.io/contoso/api:sha256-{"a" * 64}.sig: digest: {d("1")} size: 556
        Pushing signature to: ghcr.io/contoso/api
        """,  # noqa: E501
        set(),
        forbidden={d("1")},
    ),
    # -- success-looking lines before a failure ---------------------------------
    Trap(
        "failure-naming-a-layer-digest",
        f"""
        $ docker push ghcr.io/x/y:1
        The push refers to repository [ghcr.io/x/y]
        5f70bf18a086: Pushed
        blob unknown: blob unknown to registry: {d("e")}
        """,
        set(),
        failed={("ghcr.io/x/y", "1")},
        forbidden={d("e")},
    ),
    Trap(
        "layers-pushed-then-manifest-invalid",
        """
        $ docker push quay.io/contoso/svc:4
        The push refers to repository [quay.io/contoso/svc]
        62491c1227dd: Pushed
        b3f4f4d8f801: Pushed
        manifest invalid: manifest invalid
        """,
        set(),
        failed={("quay.io/contoso/svc", "4")},
    ),
    Trap(
        "writing-manifest-then-error",
        f"""
        + podman push quay.io/contoso/svc:5
        Getting image source signatures
        Copying blob {d("0")}
        Writing manifest to image destination
        Error: writing manifest: uploading manifest 5 to quay.io/contoso/svc: manifest invalid
        """,  # noqa: E501
        set(),
        failed={("quay.io/contoso/svc", "5")},
        forbidden={d("0")},
    ),
    Trap(
        "retries-ending-in-eof",
        """
        The push refers to repository [registry.example.com/big]
        a1b2c3d4e5f6: Retrying in 5 seconds
        a1b2c3d4e5f6: Retrying in 1 second
        EOF
        """,
        set(),
        failed={("registry.example.com/big", None)},
    ),
    Trap(
        "acr-retry-that-succeeded",
        f"""
        2025/05/17 14:35:09 Pushing image: contosoacr.azurecr.io/api:v9, attempt 1
        The push refers to repository [contosoacr.azurecr.io/api]
        received unexpected HTTP status: 500 Internal Server Error
        2025/05/17 14:35:10 Pushing image: contosoacr.azurecr.io/api:v9, attempt 2
        The push refers to repository [contosoacr.azurecr.io/api]
        v9: digest: {d("a")} size: 1366
        2025/05/17 14:35:12 Successfully pushed image: contosoacr.azurecr.io/api:v9
        """,
        {("contosoacr.azurecr.io/api", "v9", d("a"))},
    ),
    Trap(
        "push-succeeded-then-job-failed",
        f"""
        The push refers to repository [ghcr.io/contoso/api]
        8: digest: {d("a")} size: 1
        npm ERR! Test failed.  See above for more details.
        ##[error]Process completed with exit code 1.
        """,
        {("ghcr.io/contoso/api", "8", d("a"))},
    ),
    Trap(
        "buildkit-push-then-vertex-error",
        """
        #12 pushing manifest for ghcr.io/contoso/web:2
        #12 ERROR: failed to push ghcr.io/contoso/web:2: unexpected status: 403 Forbidden
        ------
        ERROR: failed to solve: failed to push ghcr.io/contoso/web:2: 403 Forbidden
        """,  # noqa: E501
        set(),
        failed={("ghcr.io/contoso/web", "2")},
    ),
    Trap(
        "buildkit-manifest-push-done-then-commit-refused",
        f"""
        #24 exporting manifest {d("a")} done
        #24 exporting config {d("1")} done
        #24 pushing layers 3.1s done
        #24 pushing manifest for us.gcr.io/contoso-proj/api:1.4.0
        #24 pushing manifest for us.gcr.io/contoso-proj/api:1.4.0 0.2s done
        #24 ERROR: failed commit on ref "manifest-{d("a")}": unexpected status: 400 Bad Request
        ------
         > exporting to image:
        ------
        failed to solve: rpc error: code = Unknown desc = failed commit on ref "manifest-{d("a")}": unexpected status: 400 Bad Request
        """,  # noqa: E501
        set(),
        failed={("us.gcr.io/contoso-proj/api", "1.4.0")},
    ),
    Trap(
        "buildkit-tty-manifest-push-done-then-commit-refused",
        f"""
         => ERROR exporting to image                                        3.4s
         => => exporting layers                                             0.1s
         => => exporting manifest {d("a")}                                  0.0s
         => => pushing layers                                               2.9s
         => => pushing manifest for ghcr.io/contoso/api:1.4.0@{d("a")}      0.2s
        ------
         > exporting to image:
        ------
        ERROR: failed to solve: failed commit on ref "manifest-{d("a")}": unexpected status: 400 Bad Request
        """,  # noqa: E501
        set(),
        failed={("ghcr.io/contoso/api", "1.4.0")},
    ),
    Trap(
        "buildkit-layer-push-refused-before-any-manifest",
        f"""
        #14 exporting manifest {d("a")} done
        #14 pushing layers
        #14 ERROR: failed to push ghcr.io/contoso/app:main: unexpected status: 403 Forbidden
        """,  # noqa: E501
        set(),
        failed={("ghcr.io/contoso/app", "main")},
    ),
    Trap(
        "buildkit-push-done-then-another-build-fails",
        f"""
         => => exporting manifest {d("a")}                                  0.0s
         => => pushing manifest for ghcr.io/contoso/api:1@{d("a")}          0.2s
         => [web internal] load build definition from Dockerfile            0.0s
         => ERROR [web 1/3] FROM docker.io/library/nod:20                   0.4s
        ERROR: failed to solve: docker.io/library/nod:20: not found
        """,
        {("ghcr.io/contoso/api", "1", d("a"))},
    ),
    Trap(
        "push-to-registry-names-source-and-destination",
        f"""
        2024-05-01T10:00:00.0000000Z ⏳ Pushing "app:v1" to "quay.io/contoso/app:v1" respectively as "contoso+bot"
        2024-05-01T10:00:00.0000000Z [command]/usr/bin/podman --root /tmp/podman-from-docker-x push --quiet --digestfile app-v1_digest.txt docker.io/library/app:v1 quay.io/contoso/app:v1 --tls-verify=true --creds=contoso+bot:***
        2024-05-01T10:00:03.0000000Z ✅ Successfully pushed "app:v1" to "quay.io/contoso/app:v1"
        2024-05-01T10:00:03.0000000Z {d("a")}
        """,  # noqa: E501
        {("quay.io/contoso/app", "v1", d("a"))},
    ),
    Trap(
        "openshift-push-retried-then-failed",
        """
        Pushing image image-registry.openshift-image-registry.svc:5000/foo/busybox:latest ...
        Getting image source signatures
        Successfully pushed image-registry.openshift-image-registry.svc:5000/foo/busybox:latest
        Warning: Push failed, retrying in 5s ...
        Getting image source signatures
        Successfully pushed image-registry.openshift-image-registry.svc:5000/foo/busybox:latest
        Warning: Push failed, retrying in 5s ...
        error: build error: Failed to push image: error copying layers and metadata to "docker://image-registry.openshift-image-registry.svc:5000/foo/busybox:latest": no such host
        """,  # noqa: E501
        set(),
        failed={
            ("image-registry.openshift-image-registry.svc:5000/foo/busybox", "latest")
        },
    ),
    Trap(
        "openshift-4-digest-after-storing-signatures",
        f"""
        Pushing image image-registry.openshift-image-registry.svc:5000/myproj/app:latest ...
        Getting image source signatures
        Copying blob {d("1")}
        Copying config {d("2")}
        Writing manifest to image destination
        Storing signatures
        Successfully pushed image-registry.openshift-image-registry.svc:5000/myproj/app@{d("a")}
        Push successful
        """,  # noqa: E501
        {
            (
                "image-registry.openshift-image-registry.svc:5000/myproj/app",
                "latest",
                d("a"),
            )
        },
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "openshift-3-docker-strategy-layers-only",
        """
        Pushing image 172.30.1.1:5000/myproj/app:latest ...
        Pushed 0/5 layers, 1% complete
        Pushed 5/5 layers, 100% complete
        Push successful
        """,
        {("172.30.1.1:5000/myproj/app", "latest", None)},
    ),
    Trap(
        "podman-pull-output-before-an-echoed-push",
        f"""
        2024-05-01T10:00:00.0000000Z ##[group]Run podman pull quay.io/contoso/base:1
        2024-05-01T10:00:00.0000000Z podman pull quay.io/contoso/base:1
        2024-05-01T10:00:00.0000000Z podman build -t quay.io/contoso/app:1 .
        2024-05-01T10:00:00.0000000Z podman push quay.io/contoso/app:1
        2024-05-01T10:00:00.0000000Z ##[endgroup]
        2024-05-01T10:00:01.0000000Z Trying to pull quay.io/contoso/base:1...
        2024-05-01T10:00:01.0000000Z Getting image source signatures
        2024-05-01T10:00:01.0000000Z Copying blob {d("1")}
        2024-05-01T10:00:01.0000000Z Copying config {d("2")}
        2024-05-01T10:00:01.0000000Z Writing manifest to image destination
        2024-05-01T10:00:01.0000000Z Storing signatures
        2024-05-01T10:00:01.0000000Z {"2" * 64}
        2024-05-01T10:00:02.0000000Z STEP 1/2: FROM quay.io/contoso/base:1
        2024-05-01T10:00:02.0000000Z STEP 2/2: COPY app /app
        2024-05-01T10:00:02.0000000Z COMMIT quay.io/contoso/app:1
        2024-05-01T10:00:02.0000000Z --> 4f5e6a7b8c9d
        2024-05-01T10:00:02.0000000Z Successfully tagged quay.io/contoso/app:1
        2024-05-01T10:00:02.0000000Z {"4" * 64}
        2024-05-01T10:00:03.0000000Z Getting image source signatures
        2024-05-01T10:00:03.0000000Z Copying blob {d("3")}
        2024-05-01T10:00:03.0000000Z Error: writing blob: initiating layer upload to /v2/contoso/app/blobs/uploads/ in quay.io: unauthorized
        """,  # noqa: E501
        set(),
        failed={("quay.io/contoso/app", "1")},
    ),
    Trap(
        "global-options-before-the-subcommand",
        f"""
        $ skopeo --insecure-policy copy docker://docker.io/library/nginx:1.25 docker://registry.example.com/mirror/nginx:1.25
        Getting image source signatures
        Copying blob {d("1")}
        Writing manifest to image destination
        Storing signatures
        $ buildah --storage-driver=vfs push registry.gitlab.com/contoso/app:v1
        Getting image source signatures
        Copying blob {d("2")}
        Writing manifest to image destination
        Storing signatures
        $ podman --remote --connection ci image push quay.io/contoso/app:v2
        Getting image source signatures
        Copying blob {d("3")}
        Writing manifest to image destination
        Storing signatures
        """,  # noqa: E501
        {
            ("registry.example.com/mirror/nginx", "1.25", None),
            ("registry.gitlab.com/contoso/app", "v1", None),
            ("quay.io/contoso/app", "v2", None),
        },
        forbidden={d("1"), d("2"), d("3")},
    ),
    Trap(
        "manifest-push-echoed-after-a-command-printing-an-image-id",
        f"""
        2024-05-01T10:00:00.0000000Z ##[group]Run docker build -q -t contoso/app:v1-amd64 .
        2024-05-01T10:00:00.0000000Z docker build -q -t contoso/app:v1-amd64 .
        2024-05-01T10:00:00.0000000Z docker push contoso/app:v1-amd64
        2024-05-01T10:00:00.0000000Z docker manifest create contoso/app:v1 contoso/app:v1-amd64
        2024-05-01T10:00:00.0000000Z docker manifest push contoso/app:v1
        2024-05-01T10:00:00.0000000Z ##[endgroup]
        2024-05-01T10:00:09.0000000Z {d("1")}
        2024-05-01T10:00:09.0000000Z The push refers to repository [docker.io/contoso/app]
        2024-05-01T10:00:09.0000000Z 5f70bf18a086: Pushed
        2024-05-01T10:00:10.0000000Z v1-amd64: digest: {d("2")} size: 528
        2024-05-01T10:00:10.0000000Z Created manifest list docker.io/contoso/app:v1
        2024-05-01T10:00:11.0000000Z {d("a")}
        """,  # noqa: E501
        {
            ("docker.io/contoso/app", "v1-amd64", d("2")),
            ("docker.io/contoso/app", "v1", d("a")),
        },
        forbidden={d("1")},
    ),
    Trap(
        "manifest-push-traced-then-the-next-command-prints-a-digest",
        f"""
        + docker manifest push --purge contoso/app:v1
        + docker images --no-trunc -q contoso/app:v1-amd64
        {d("1")}
        + crane digest contoso/app:v1-arm64
        {d("2")}
        """,
        set(),
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "compose-push-every-layer-stored-then-tag-refused",
        """
        + docker compose push
         Pushing 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.0: 5f70bf18a086 Preparing
         Pushing 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.0: 5f70bf18a086 Layer already exists
         Pushing 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.0: 8c2e06607696 Layer already exists
        tag invalid: The image tag '1.0' already exists in the 'web' repository and cannot be overwritten because the repository is immutable.
         Pushing harbor.example.com/team/api:2: 994393dc58e7 Pushed
        unknown: Failed to process request due to 'api:2' configured as immutable.
        """,  # noqa: E501
        set(),
        failed={
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web", "1.0"),
            ("harbor.example.com/team/api", "2"),
        },
    ),
    Trap(
        "parallel-jobs-push-the-same-tag",
        f"""
        [api] + docker push contoso/api:1.2
        [web] + docker push contoso/web:1.2
        [api] The push refers to repository [docker.io/contoso/api]
        [web] The push refers to repository [docker.io/contoso/web]
        [api] 994393dc58e7: Pushed
        [web] 8c2e06607696: Pushed
        [web] 1.2: digest: {d("b")} size: 528
        [api] 1.2: digest: {d("a")} size: 528
        [db] 1.2: digest: {d("c")} size: 528
        """,
        {
            ("docker.io/contoso/api", "1.2", d("a")),
            ("docker.io/contoso/web", "1.2", d("b")),
        },
        forbidden={d("c")},
    ),
    Trap(
        "kaniko-pushed-digest-cut-by-terminal-width",
        f"""
        INFO[0010] Pushing image to gcr.io/contoso/app:v3
        INFO[0012] Pushed gcr.io/contoso/app@sha256:{"a" * 20}
        INFO[0013] Pushed gcr.io/contoso/other@sha256:{"b" * 20}
        """,
        {("gcr.io/contoso/app", "v3", None)},
    ),
    Trap(
        "manifest-push-alone-in-a-run-step",
        f"""
        2024-05-01T10:00:00.1234567Z ##[group]Run docker manifest push ghcr.io/contoso/app:1.0
        2024-05-01T10:00:00.1234567Z docker manifest push ghcr.io/contoso/app:1.0
        2024-05-01T10:00:00.1234567Z shell: /usr/bin/bash -e {{0}}
        2024-05-01T10:00:00.1234567Z ##[endgroup]
        2024-05-01T10:00:02.1234567Z {d("a")}
        """,  # noqa: E501
        {("ghcr.io/contoso/app", "1.0", d("a"))},
    ),
    Trap(
        "buildkit-push-running-when-the-job-is-cancelled",
        f"""
        #9 exporting manifest {d("a")} done
        #9 exporting config {d("1")} done
        #9 pushing layers
        #9 pushing manifest for ghcr.io/contoso/app:1.1@{d("a")}
        ##[error]The operation was canceled.
        """,
        set(),
    ),
    Trap(
        "secret-masked-in-the-tag",
        f"""
        ##[debug]Pushing ImageNameWithTag: reg.example.com/app:***
        The push refers to repository [reg.example.com/app]
        5f70bf18a086: Pushed
        ***: digest: {d("a")} size: 1570
        + docker push reg.example.com/api:***.0
        The push refers to repository [reg.example.com/api]
        ***.0: digest: {d("b")} size: 1570
        """,
        {
            ("reg.example.com/app", "***", d("a")),
            ("reg.example.com/api", "***.0", d("b")),
        },
    ),
    Trap(
        "acr-dependency-report-quotes-a-numeric-tag",
        f"""
        2024/05/01 10:00:40 Successfully pushed image: contosoacr.azurecr.io/hello:1.0
        2024/05/01 10:00:42 The following dependencies were found:
        2024/05/01 10:00:42
        - image:
            registry: contosoacr.azurecr.io
            repository: hello
            tag: "1.0"
            digest: {d("a")}
          runtime-dependency:
            registry: registry.hub.docker.com
            repository: library/node
            tag: "20"
            digest: {d("1")}
          git: {{}}

        Run ID: ca1 was successful after 45s
        """,
        {("contosoacr.azurecr.io/hello", "1.0", d("a"))},
        forbidden={d("1")},
    ),
    Trap(
        "teamcity-status-prefix-before-an-error",
        """
        [10:21:00] :\t [Step 2/3] Starting: /usr/bin/docker push registry.example.com/app:1.1
        [10:21:01] :\t [Step 2/3] The push refers to repository [registry.example.com/app]
        [10:21:05] :\t [Step 2/3] e2eb06d8af82: Pushed
        [10:21:06] :\t [Step 2/3] unknown: blob upload invalid
        """,  # noqa: E501
        set(),
        failed={("registry.example.com/app", "1.1")},
    ),
    Trap(
        "ko-and-crane-print-the-pushed-ref-on-stdout-only",
        f"""
        + ko build --bare --tags v1.2.3,latest ./cmd/app
        ghcr.io/contoso/app@{d("a")}
        + crane mutate ghcr.io/contoso/svc:1 --label team=web -t ghcr.io/contoso/svc:2
        ghcr.io/contoso/svc@{d("b")}
        + crane digest --full-ref ghcr.io/contoso/base:1
        ghcr.io/contoso/base@{d("1")}
        """,
        {
            ("ghcr.io/contoso/app", "v1.2.3", d("a")),
            ("ghcr.io/contoso/app", "latest", d("a")),
            ("ghcr.io/contoso/svc", "2", d("b")),
        },
        forbidden={d("1")},
    ),
    Trap(
        "ko-build-echoed-in-a-script-before-a-digest-lookup",
        f"""
        2024-05-01T10:00:00.1234567Z ##[group]Run ko build --bare ./cmd/app
        2024-05-01T10:00:00.1234567Z ko build --bare ./cmd/app
        2024-05-01T10:00:00.1234567Z crane digest --full-ref ghcr.io/contoso/base:1
        2024-05-01T10:00:00.1234567Z ##[endgroup]
        2024-05-01T10:00:09.1234567Z ghcr.io/contoso/app@{d("a")}
        2024-05-01T10:00:09.1234567Z ghcr.io/contoso/base@{d("1")}
        """,
        set(),
        forbidden={d("1")},
    ),
    Trap(
        "v1-registry-push-then-a-pull-and-an-unrelated-error",
        f"""
        $ docker push 192.168.59.104:5000/test
        The push refers to a repository [192.168.59.104:5000/test] (len: 1)
        e45a5af57b00: Image successfully pushed
        Pushing tag for rev [e45a5af57b00] on {{http://192.168.59.104:5000/v1/repositories/test/tags/latest}}
        + docker push myorg/app:1.0
        The push refers to a repository [docker.io/myorg/app] (len: 1)
        3b363fd9d7da: Image successfully pushed
        Pushing tag for rev [3b363fd9d7da] on {{https://cdn-registry-1.docker.io/v1/repositories/myorg/app/tags/1.0}}
        + docker pull busybox:latest
        latest: Pulling from library/busybox
        Digest: {d("1")}
        + ./deploy.sh
        Error: deployment to staging failed
        """,  # noqa: E501
        {
            ("192.168.59.104:5000/test", "latest", None),
            ("docker.io/myorg/app", "1.0", None),
        },
        forbidden={d("1")},
    ),
    Trap(
        "old-client-push-without-digest-then-a-pull",
        f"""
        + docker push myorg/app:1.0
        The push refers to a repository [docker.io/myorg/app]
        511136ea3c5a: Image already exists
        + docker pull busybox:latest
        latest: Pulling from library/busybox
        Digest: {d("1")}
        """,
        set(),
        forbidden={d("1")},
    ),
    Trap(
        "parallel-steps-push-every-tag",
        f"""
        Step #0 - "push-web": The push refers to repository [gcr.io/proj/web]
        Step #1 - "push-api": The push refers to repository [gcr.io/proj/api]
        Step #0 - "push-web": v1: digest: {d("b")} size: 528
        Step #0 - "push-web": latest: digest: {d("b")} size: 528
        Step #1 - "push-api": v1: digest: {d("a")} size: 528
        """,
        {
            ("gcr.io/proj/web", "v1", d("b")),
            ("gcr.io/proj/web", "latest", d("b")),
            ("gcr.io/proj/api", "v1", d("a")),
        },
    ),
    Trap(
        "parallel-pushes-one-error-unattributed",
        f"""
        docker push ghcr.io/acme/a:1
        docker push ghcr.io/acme/b:2
        The push refers to repository [ghcr.io/acme/a]
        The push refers to repository [ghcr.io/acme/b]
        5f70bf18a086: Preparing
        denied: requested access to the resource is denied
        2: digest: {d("b")} size: 528
        """,
        {("ghcr.io/acme/b", "2", d("b"))},
    ),
    Trap(
        "imagetools-create-logs-the-new-index-digest",
        f"""
        #1 [internal] pushing ghcr.io/acme/app:1.0
        #1 0.000 copying {d("b")} from ghcr.io/acme/app@{d("b")} to ghcr.io/acme/app:1.0
        #1 0.000 copying {d("c")} from ghcr.io/acme/app@{d("c")} to ghcr.io/acme/app:1.0
        #1 0.812 pushing {d("a")} to ghcr.io/acme/app:1.0
        #1 DONE 1.1s
        #2 [internal] pushing ghcr.io/acme/web:2
        #2 0.501 pushing {d("e")} to ghcr.io/acme/web:2
        #2 ERROR: unexpected status: 401 Unauthorized
        """,  # noqa: E501
        {("ghcr.io/acme/app", "1.0", d("a"))},
        failed={("ghcr.io/acme/web", "2")},
        forbidden={d("b"), d("c")},
    ),
    Trap(
        "docker-push-quiet-prints-only-the-ref",
        """
        + docker push -q ghcr.io/acme/app:3
        ghcr.io/acme/app:3
        + docker push --quiet ghcr.io/acme/web:4
        denied: requested access to the resource is denied
        """,
        {("ghcr.io/acme/app", "3", None)},
        failed={("ghcr.io/acme/web", "4")},
    ),
    Trap(
        "nerdctl-push-of-an-index-and-of-one-manifest",
        f"""
        $ nerdctl --insecure-registry=true push harbor.example.com/library/nginx
        INFO[0000] pushing as a reduced-platform image (application/vnd.oci.image.index.v1+json, {d("a")})
        index-{d("a")}:    done           |++++++++++++++++++++++++++++++++++++++|
        manifest-{d("1")}: done           |++++++++++++++++++++++++++++++++++++++|
        config-{d("2")}:   done           |++++++++++++++++++++++++++++++++++++++|
        elapsed: 8.5 s                                                                    total:  3.5 Mi (419.7 KiB/s)
        $ nerdctl -n k8s.io push registry.example.com/app:2
        manifest-{d("b")}: done           |++++++++++++++++++++++++++++++++++++++|
        config-{d("3")}:   done           |++++++++++++++++++++++++++++++++++++++|
        elapsed: 1.1 s                                                                    total:  2.0 Ki (1.8 KiB/s)
        $ nerdctl push ghcr.io/acme/app:4
        layer-{d("4")}:    waiting        |--------------------------------------|
        FATA[0001] failed to do request: Head "https://ghcr.io/v2/acme/app/blobs/{d("4")}": denied
        """,  # noqa: E501
        {
            ("harbor.example.com/library/nginx", "latest", d("a")),
            ("registry.example.com/app", "2", d("b")),
        },
        failed={("ghcr.io/acme/app", "4")},
        forbidden={d("1"), d("2"), d("3"), d("4")},
    ),
    Trap(
        "merged-jobs-reuse-a-buildkit-vertex-number",
        f"""
        [job-a] #15 exporting manifest {d("a")} done
        [job-b] #15 exporting manifest list {d("b")} done
        [job-a] #15 pushing manifest for reg.io/a:1 0.4s done
        [job-a] #15 DONE 3.0s
        [job-c] #16 exporting manifest {d("c")} done
        [job-c] #16 pushing manifest for reg.io/c:1@{d("c")}
        [job-d] ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully
        [job-c] #16 pushing manifest for reg.io/c:1@{d("c")} 0.4s done
        [job-c] #16 DONE 3.0s
        """,  # noqa: E501
        {("reg.io/a", "1", d("a")), ("reg.io/c", "1", d("c"))},
        forbidden={d("b")},
    ),
    Trap(
        "matrix-job-names-and-sbt-levels",
        f"""
        [CI/push (a)]   | + docker push reg.io/a:1
        [CI/push (a)]   | The push refers to repository [reg.io/a]
        [CI/push (b)]   | The push refers to repository [reg.io/b]
        [CI/push (b)]   | 1: digest: {d("b")} size: 528
        [CI/push (a)]   | 1: digest: {d("a")} size: 528
        [CI/build (linux/amd64, 3.11)]   | #37 exporting manifest list {d("c")} done
        [CI/build (linux/amd64, 3.11)]   | #37 pushing manifest for docker.io/contoso/hub:master@{d("c")} 0.5s done
        [CI/build (linux/amd64, 3.11)]   | #37 DONE 2.0s
        [info] The push refers to repository [docker.io/org/app1]
        [error] denied: requested access to the resource is denied
        """,  # noqa: E501
        {
            ("reg.io/a", "1", d("a")),
            ("reg.io/b", "1", d("b")),
            ("docker.io/contoso/hub", "master", d("c")),
        },
        failed={("docker.io/org/app1", None)},
    ),
    Trap(
        "two-pushes-in-the-background-on-one-line",
        f"""
        ##[group]Run docker push reg.io/a:1 & docker push reg.io/b:1; wait
        docker push reg.io/a:1 & docker push reg.io/b:1; wait
        ##[endgroup]
        The push refers to repository [reg.io/a]
        The push refers to repository [reg.io/b]
        1: digest: {d("b")} size: 528
        1: digest: {d("a")} size: 528
        """,
        set(),
        forbidden={d("a"), d("b")},
    ),
    Trap(
        "printed-refs-after-other-script-lines-or-without-a-push",
        f"""
        ##[group]Run ko build --bare ./cmd/app
        ko build --bare ./cmd/app
        kubectl get pods -o jsonpath='{{.items[*].spec.containers[0].image}}'
        ##[endgroup]
        ghcr.io/org/app@{d("1")}
        ghcr.io/org/payments@{d("2")}
        ##[group]Run crane push app.tar ghcr.io/org/app:v2
        crane push app.tar ghcr.io/org/app:v2
        cat previous-ref.txt
        ##[endgroup]
        ghcr.io/org/app@{d("3")}
        + ko build ./cmd/app --bare --push=false
        ghcr.io/org/app:latest@{d("4")}
        ##[group]Run crane push app.tar ghcr.io/org/web:v3
        crane push app.tar ghcr.io/org/web:v3
        shell: /usr/bin/bash -e {{0}}
        ##[endgroup]
        ghcr.io/org/web@{d("a")}
        """,
        {("ghcr.io/org/web", "v3", d("a"))},
        forbidden={d("1"), d("2"), d("3"), d("4")},
    ),
    Trap(
        "nerdctl-pull-echoed-before-the-push-and-redrawn-progress",
        f"""
        ##[group]Run nerdctl pull reg.io/base:2
        nerdctl pull reg.io/base:2
        nerdctl push reg.io/app:1
        ##[endgroup]
        index-{d("1")}:    done           |++++++++++++++++++++++++++++++++++++++|
        elapsed: 1.0 s                                                                total:  1.5 Ki (1.2 KiB/s)
        manifest-{d("2")}: done           |++++++++++++++++++++++++++++++++++++++|
        elapsed: 1.2 s                                                                total:  1.5 Ki (1.2 KiB/s)
        $ nerdctl push reg.io/app:2
        manifest-{d("3")}: waiting        |--------------------------------------|
        elapsed: 0.1 s                                       total:   0.0 B (0.0 B/s)
        \x1b[1A\x1b[2K\x1b[1A\x1b[2Kmanifest-{d("3")}: waiting        |--------------------------------------|
        elapsed: 0.3 s                                       total:   0.0 B (0.0 B/s)
        FATA[0001] failed to do request: denied
        """,  # noqa: E501
        set(),
        failed={("reg.io/app", "2")},
        forbidden={d("1"), d("2"), d("3")},
    ),
    Trap(
        "old-client-digest-and-announced-tags-stay-in-their-job",
        f"""
        [job-a] The push refers to a repository [reg.io/org/app] (len: 1)
        [job-a] 3f2a8c1b9d0e: Image already exists
        [job-b] 2: Pulling from org/base
        [job-b] Digest: {d("1")}
        [job-a] Digest: {d("a")}
        [job-c] + docker push reg.io/web:alpine
        [job-d] + docker push reg.io/web:debian
        [job-c] The push refers to repository [reg.io/web]
        [job-d] The push refers to repository [reg.io/web]
        [job-d] debian: digest: {d("b")} size: 528
        [job-c] denied: requested access to the resource is denied
        """,
        {("reg.io/org/app", None, d("a")), ("reg.io/web", "debian", d("b"))},
        failed={("reg.io/web", "alpine")},
        forbidden={d("1")},
    ),
    Trap(
        "manifest-push-after-an-image-id-printing-command-in-a-script",
        f"""
        ##[group]Run docker commit builder reg.io/app:tmp
        docker commit builder reg.io/app:tmp
        docker manifest push reg.io/app:1
        ##[endgroup]
        {d("1")}
        {d("a")}
        ##[section]Starting: Push manifest
        Script contents:
        docker image import rootfs.tar reg.io/web:base
        docker manifest push reg.io/web:1
        ========================== Starting Command Output ===========================
        {d("2")}
        {d("b")}
        """,
        set(),
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "push-all-tags-after-an-earlier-push-of-the-same-tag",
        f"""
        + docker push ghcr.io/acme/base:latest
        The push refers to repository [ghcr.io/acme/base]
        latest: digest: {d("1")} size: 528
        + docker push --all-tags ghcr.io/acme/app
        The push refers to repository [ghcr.io/acme/app]
        1.0: digest: {d("a")} size: 528
        5f70bf18a086: Layer already exists
        latest: digest: {d("b")} size: 528
        """,
        {
            ("ghcr.io/acme/base", "latest", d("1")),
            ("ghcr.io/acme/app", "1.0", d("a")),
            ("ghcr.io/acme/app", "latest", d("b")),
        },
    ),
    Trap(
        "manifest-push-with-lookups-around-it-in-the-script",
        f"""
        ##[group]Run docker manifest create ghcr.io/acme/app:1 ghcr.io/acme/app:1-amd64
        docker manifest create ghcr.io/acme/app:1 ghcr.io/acme/app:1-amd64
        crane digest ghcr.io/acme/app:1-amd64
        docker manifest push ghcr.io/acme/app:1
        ##[endgroup]
        Created manifest list ghcr.io/acme/app:1
        {d("1")}
        {d("a")}
        Script contents:
        docker manifest push contoso.azurecr.io/app:1
        az acr repository show -n contoso --image app:1 --query digest -o tsv
        ========================== Starting Command Output ===========================
        {d("2")}
        """,
        set(),
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "script-echo-without-markers-before-ko-and-crane-output",
        f"""
        #!/bin/bash -eo pipefail
        crane digest --full-ref cgr.dev/chainguard/static:latest
        ko build --bare --tags 1.4.0 ./cmd/app
        cgr.dev/chainguard/static@{d("1")}
        ghcr.io/acme/app@{d("2")}
        #!/bin/bash -eo pipefail
        crane digest --full-ref ghcr.io/acme/web:1
        crane mutate ghcr.io/acme/web:1 --label org.opencontainers.image.revision=abc123
        ghcr.io/acme/web@{d("3")}
        ghcr.io/acme/web@{d("4")}
        + ko build --bare ./cmd/api ./cmd/worker
        ghcr.io/acme/api@{d("a")}
        ghcr.io/acme/worker@{d("b")}
        """,
        {
            ("ghcr.io/acme/api", "latest", d("a")),
            ("ghcr.io/acme/worker", "latest", d("b")),
        },
        forbidden={d("1"), d("2"), d("3"), d("4")},
    ),
    Trap(
        "buildkit-tty-frames-redrawn-before-the-exporter-error",
        f"""
        [+] Building 3.3s (9/10)
         => exporting to image                                        3.4s
         => => exporting manifest {d("a")}                                  0.0s
         => => pushing manifest for ghcr.io/contoso/api:1.4.0@{d("a")}      0.2s
        \x1b[6A\x1b[2K[+] Building 3.4s (10/10) FINISHED
         => ERROR exporting to image                                        3.4s
         => => exporting manifest {d("a")}                                  0.0s
         => => pushing manifest for ghcr.io/contoso/api:1.4.0@{d("a")}      0.2s
        ------
        ERROR: failed to solve: failed commit on ref "manifest-{d("a")}": unexpected status: 400 Bad Request
        """,  # noqa: E501
        set(),
        failed={("ghcr.io/contoso/api", "1.4.0")},
    ),
    Trap(
        "copies-of-lists-end-with-the-list-or-a-fatal-error",
        f"""
        $ skopeo copy docker://docker.io/library/nginx:1.25 docker://ghcr.io/acme/nginx:1.25
        Getting image source signatures
        Copying blob {d("1")}
        Writing manifest to image destination
        FATA[0000] Error writing manifest: received unexpected HTTP status: 500 Internal Server Error
        + podman manifest push --all quay.io/acme/app:1 docker://quay.io/acme/app:1
        Getting image list signatures
        Copying image {d("2")} (1/2)
        Writing manifest to image destination
        Storing signatures
        Copying image {d("3")} (2/2)
        Getting image source signatures
        Error: writing blob: uploading layer chunked: denied
        + podman manifest push --all quay.io/acme/web:1 docker://quay.io/acme/web:1
        Copying image {d("4")} (1/1)
        Writing manifest to image destination
        Writing manifest list to image destination
        Storing list signatures
        """,  # noqa: E501
        {("quay.io/acme/web", "1", None)},
        failed={("ghcr.io/acme/nginx", "1.25"), ("quay.io/acme/app", "1")},
        forbidden={d("1"), d("2"), d("3"), d("4")},
    ),
    Trap(
        "printed-refs-with-other-output-between-them",
        f"""
        #!/bin/bash -eo pipefail
        crane digest --full-ref cgr.dev/chainguard/static:latest
        ko build --bare --tags 1.4.0 ./cmd/app
        cgr.dev/chainguard/static@{d("1")}
        2024/05/01 10:00:01 Building github.com/acme/app for linux/amd64
        ghcr.io/acme/app@{d("2")}
        + export KO_DOCKER_REPO=ghcr.io/acme
        + ko build --bare ./cmd/web
        ghcr.io/acme/web@{d("a")}
        """,
        {("ghcr.io/acme/web", "latest", d("a"))},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "job-names-of-any-shape",
        f"""
        [Build & Push] #31 pushing manifest for ghcr.io/contoso/web:1.0@{d("a")} 0.4s done
        [build #2] #32 pushing manifest for ghcr.io/contoso/api:1.0@{d("b")} 0.4s done
        [1-build] + docker push ghcr.io/contoso/db:1
        [1-build] The push refers to repository [ghcr.io/contoso/db]
        [1-build] denied: requested access to the resource is denied
        """,  # noqa: E501
        {
            ("ghcr.io/contoso/web", "1.0", d("a")),
            ("ghcr.io/contoso/api", "1.0", d("b")),
        },
        failed={("ghcr.io/contoso/db", "1")},
    ),
    Trap(
        "skopeo-copy-with-short-blob-ids",
        f"""
        $ skopeo copy docker://docker.io/library/nginx:1.25 docker://registry.example.com/mirror/nginx:1.25
        Getting image source signatures
        Copying blob 2176639d844b done
        Copying blob 121319d3ac51 skipped: already exists
        Copying config 3333333333 done
        Writing manifest to image destination
        Storing signatures
        $ skopeo copy --all docker://docker.io/library/redis:7 docker://registry.example.com/mirror/redis:7
        Getting image list signatures
        Copying 2 images generated from 2 images in list
        Copying image {d("1")} (1/2)
        Getting image source signatures
        Copying blob 2176639d844b done
        Copying config 4444444444 done
        Writing manifest to image destination
        Copying image {d("2")} (2/2)
        Getting image source signatures
        Copying blob 5555555555aa done
        FATA[0036] writing blob: uploading layer chunked: received unexpected HTTP status: 500
        """,  # noqa: E501
        {("registry.example.com/mirror/nginx", "1.25", None)},
        failed={("registry.example.com/mirror/redis", "7")},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "failures-in-older-and-wrapper-wordings",
        f"""
        failed to put manifest docker.io/andig/gravo:v0.2.0: errors:
        denied: requested access to the resource is denied
        Error: failed to push manifest: &{{/usr/local/bin/docker [docker manifest push andig/gravo:v0.2.0] <nil> failed to put manifest docker.io/andig/gravo:v0.2.0: errors:
        The push refers to a repository [nodeos/nodeos] (len: 1)
        2014/01/19 22:35:03 Received HTTP code 500 while uploading layer: <!DOCTYPE HTML PUBLIC>
        #39 pushing manifest for example.azurecr.io/test-docker-action:e2e@{d("a")}
        #39 149.0 error: failed commit on ref "manifest-{d("a")}": unexpected status: 500 Internal Server Error
        #39 149.0 retrying in 1s
        Error: The operation was canceled.
        """,  # noqa: E501
        set(),
        failed={
            ("docker.io/andig/gravo", "v0.2.0"),
            ("docker.io/nodeos/nodeos", None),
            ("example.azurecr.io/test-docker-action", "e2e"),
        },
    ),
    Trap(
        "openshift-3-source-builds-and-wrapper-messages",
        """
        I0728 12:11:49.102111       1 sti.go:149] Pushing 172.30.160.216:5000/dst/cakephp:latest image ...
        E0728 12:27:30.412386       1 dockerutil.go:50] push for image 172.30.160.216:5000/dst/cakephp:latest failed, will retry in 10s ...
        E0728 12:27:40.412386       1 dockerutil.go:50] push for image 172.30.160.216:5000/dst/cakephp:latest failed, will retry in 10s ...
        2015-04-24T18:34:30.405994381Z I0424 14:34:30.405210       1 sti.go:78] Pushing 172.30.17.52:5000/sinatra/sinatra-example image ...
        2015-04-24T18:34:30.410324691Z E0424 14:34:30.410021       1 sti.go:80] Failed to push image: API error (500): connection reset by peer
        [INFO] [io.quarkus.container.image.docker.common.deployment.CommonProcessor] Successfully pushed podman image gitea.example.com:8443/team/app:1.0.0-SNAPSHOT
        """,  # noqa: E501
        {("gitea.example.com:8443/team/app", "1.0.0-SNAPSHOT", None)},
        failed={("172.30.17.52:5000/sinatra/sinatra-example", "latest")},
    ),
    Trap(
        "skopeo-copy-failing-before-its-config",
        f"""
        $ skopeo copy docker://nexus.example.com:5550/svc:1 docker://registry.example.com:5500/svc:1
        Getting image source signatures
        Copying blob 121319d3ac51 skipped: already exists
        FATA[0036] trying to reuse blob {d("1")} at destination: pinging container registry: 500 (Internal Server Error)
        $ skopeo inspect docker://registry.example.com:5500/svc:1
        FATA[0001] Error parsing image name: reading manifest 1 in registry.example.com:5500/svc: manifest unknown, blob {d("2")}
        """,  # noqa: E501
        set(),
        failed={("registry.example.com:5500/svc", "1")},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "structured-error-levels-fail-the-copy",
        """
        $ skopeo copy docker://docker.io/library/nginx:1.25 docker://ghcr.io/acme/nginx:1.25
        Copying config 3333333333 done
        Writing manifest to image destination
        time="2024-05-01T10:00:00Z" level=fatal msg="writing manifest: received unexpected HTTP status: 500"
        $ skopeo copy docker://docker.io/library/redis:7 docker://ghcr.io/acme/redis:7
        Copying config 4444444444 done
        Writing manifest to image destination
        {"level":"error","msg":"writing manifest: unauthorized","time":"2024-05-01T10:00:01Z"}
        """,  # noqa: E501
        set(),
        failed={("ghcr.io/acme/nginx", "1.25"), ("ghcr.io/acme/redis", "7")},
    ),
    Trap(
        "podman-push-echoed-before-the-build-then-denied",
        f"""
        2024-01-01T12:00:00.0000000Z podman build -t ghcr.io/x/y:1 .
        2024-01-01T12:00:00.0000000Z podman push ghcr.io/x/y:1
        2024-01-01T12:00:01.0000000Z STEP 1/1: FROM docker.io/library/alpine:3.19
        2024-01-01T12:00:01.0000000Z COMMIT ghcr.io/x/y:1
        2024-01-01T12:00:01.0000000Z Getting image source signatures
        2024-01-01T12:00:01.0000000Z Copying config {d("3")}
        2024-01-01T12:00:01.0000000Z Writing manifest to image destination
        2024-01-01T12:00:01.0000000Z Storing signatures
        2024-01-01T12:00:01.0000000Z --> 3333333333333
        2024-01-01T12:00:02.0000000Z Successfully tagged ghcr.io/x/y:1
        2024-01-01T12:00:02.0000000Z {"3" * 64}
        2024-01-01T12:00:03.0000000Z Getting image source signatures
        2024-01-01T12:00:04.0000000Z Error: writing blob: denied: permission_denied
        """,
        set(),
        failed={("ghcr.io/x/y", "1")},
        forbidden={d("3")},
    ),
    # -- noise --------------------------------------------------------------------
    Trap(
        "shell-redirection-after-a-podman-push",
        """
        + podman push ghcr.io/x/y:1 2>/dev/null # release
        Getting image source signatures
        Writing manifest to image destination
        Storing signatures
        """,
        {("ghcr.io/x/y", "1", None)},
    ),
    Trap(
        "escapes-that-are-not-colours",
        f"""
        INFO[0010] Pushing image to ghcr.io/x/y:1\x1b7
        INFO[0012] Pushed ghcr.io/x/y@{d("a")}\x1b8
        2024/01/01 12:00:00 Published \x1b(B\x1b[mghcr.io/x/z:2@{d("b")}
        """,
        {("ghcr.io/x/y", "1", d("a")), ("ghcr.io/x/z", "2", d("b"))},
    ),
    Trap(
        "hyperlink-before-the-digest-of-a-manifest-list",
        f"""
        #12 exporting manifest {d("1")} done
        #12 exporting attestation manifest {d("2")} done
        #12 exporting manifest list \x1b]8;;https://example.com/builds/12/index\x07{d("a")}\x1b]8;;\x07 done
        #12 pushing manifest for ghcr.io/x/a:1 0.2s done
        """,  # noqa: E501
        {("ghcr.io/x/a", "1", d("a"))},
        forbidden={d("1"), d("2")},
    ),
    Trap(
        "buildkite-and-gitlab-continuation-prefixes",
        f"""
        \x1b_bk;t=1700000000000\x07#12 pushing manifest for ghcr.io/x/y:1@{d("a")} 0.5s done
        2024-06-10T12:00:01.123456Z 00O+#13 pushing manifest for ghcr.io/x/z:2@{d("b")} 0.5s done
        """,  # noqa: E501
        {("ghcr.io/x/y", "1", d("a")), ("ghcr.io/x/z", "2", d("b"))},
    ),
    Trap(
        "erase-residues-and-a-redraw-ending-in-escapes",
        f"""
        The push refers to repository [ghcr.io/x/y]
        5f70bf18a086: Pushed
        [0K1: digest: {d("a")} size: 1234\r\x1b[K
        The push refers to repository [ghcr.io/x/z]
        5f70bf18a086: Pushed[0;m
        2: digest: {d("b")} size: 1234[K
        """,
        {("ghcr.io/x/y", "1", d("a")), ("ghcr.io/x/z", "2", d("b"))},
    ),
    Trap(
        "secret-masked-host",
        f"""
        2024-08-08T05:21:27.3689504Z ##[debug]Pushing ImageNameWithTag: ***.azurecr.io/api:12
        2024-08-08T05:21:39.3848099Z 12: digest: {d("a")} size: 5332
        """,  # noqa: E501
        {("***.azurecr.io/api", "12", d("a"))},
    ),
    Trap(
        "debug-echo-of-the-same-push",
        f"""
        2024-08-08T05:21:27.3689504Z ##[debug]Pushing ImageNameWithTag: ***.azurecr.io/api:12
        2024-08-08T05:21:39.3848099Z 12: digest: {d("a")} size: 5332
        2024-08-08T05:21:39.3893345Z ##[debug]outputImageName: ***.azurecr.io/api:12
        commandOutput: The push refers to repository [***.azurecr.io/api]
        12: digest: {d("a")} size: 5332
        2024-08-08T05:21:39.3897888Z ##[debug]which '/usr/local/bin/docker'
        """,  # noqa: E501
        {("***.azurecr.io/api", "12", d("a"))},
    ),
    Trap(
        "ansi-residues-and-step-prefix",
        f"""
        \u2190[36mINFO\u2190[0m[0018] Pushing image to contoso/a:1
        [36mINFO[0m[0026] Pushed index.docker.io/contoso/a@{d("a")}
        Step #2 - "push": The push refers to repository [gcr.io/contoso/b]
        Step #2 - "push": 3: digest: {d("b")} size: 9
        """,
        {("docker.io/contoso/a", "1", d("a")), ("gcr.io/contoso/b", "3", d("b"))},
    ),
    Trap(
        "binary-garbage-between-lines",
        f"""
        \x00\x01\x02\ufffd\ufffd garbage \x7f\x1b[?25l
        The push refers to repository [ghcr.io/contoso/x]
        \ufffd\x08\x08\x08 more garbage
        1: digest: {d("a")} size: 9
        """,
        {("ghcr.io/contoso/x", "1", d("a"))},
    ),
    Trap(
        "interleaved-parallel-docker-pushes",
        f"""
        $ docker push ghcr.io/contoso/a:1 &
        $ docker push ghcr.io/contoso/b:2 &
        The push refers to repository [ghcr.io/contoso/a]
        The push refers to repository [ghcr.io/contoso/b]
        aaaaaaaaaaaa: Pushed
        bbbbbbbbbbbb: Pushed
        2: digest: {d("b")} size: 2
        1: digest: {d("a")} size: 1
        """,
        {("ghcr.io/contoso/a", "1", d("a")), ("ghcr.io/contoso/b", "2", d("b"))},
    ),
    Trap(
        "interleaved-buildkit-vertices",
        f"""
        #40 exporting manifest list {d("a")} done
        #41 exporting manifest list {d("b")} done
        #41 pushing manifest for docker.io/contoso/b:2
        #40 pushing manifest for docker.io/contoso/a:1
        #40 pushing manifest for docker.io/contoso/a:1 0.5s done
        #41 pushing manifest for docker.io/contoso/b:2 0.6s done
        """,
        {("docker.io/contoso/a", "1", d("a")), ("docker.io/contoso/b", "2", d("b"))},
    ),
    Trap(
        "local-build-is-not-a-push",
        f"""
         => [api] exporting to image                                 0.1s
         => => writing image {d("1")}                                0.0s
         => => naming to docker.io/library/api                       0.0s
        Successfully tagged gcr.io/contoso/api:latest
        """,
        set(),
        forbidden={d("1")},
    ),
    Trap(
        "name-longer-than-the-spec-allows",
        f"""
        INFO[0026] Pushed registry.example.com/{"a/" * 200}app@{d("a")}
        The push refers to repository [quay.io/{"b" * 300}]
        latest: digest: {d("b")} size: 528
        """,
        set(),
        forbidden={d("a"), d("b")},
    ),
]


@pytest.mark.parametrize("trap", TRAPS, ids=[t.id for t in TRAPS])
def test_trap(trap: Trap) -> None:
    events = parse(trap.log)

    assert {(e.image, e.tag, e.digest) for e in events if e.pushed} == trap.pushed
    assert {(e.image, e.tag) for e in events if e.pushed is False} == trap.failed
    printed = json.dumps([e.to_json() for e in events])
    assert [x for x in trap.forbidden if x[7:] in printed] == []


def test_reused_vertex_number_does_not_carry_an_earlier_builds_digest() -> None:
    events = parse(
        f"""
        #12 exporting manifest {d("1")} done
        #12 exporting manifest list {d("2")} done
        #12 naming to docker.io/contoso/local:1 done
        #12 exporting manifest {d("a")} done
        #12 exporting config {d("3")} done
        #12 pushing manifest for docker.io/contoso/pushed:2
        #12 pushing manifest for docker.io/contoso/pushed:2 0.2s done
        """
    )

    assert [(e.image, e.tag, e.digest) for e in events] == [
        ("docker.io/contoso/pushed", "2", d("a"))
    ]


def test_interleaved_pushes_without_tags_get_no_digest() -> None:
    events = parse(
        f"""
        The push refers to repository [quay.io/contoso/test]
        The push refers to repository [registry.example.com/team/app]
        5f70bf18a086: Pushed
        v2: digest: {d("a")} size: 528
        """
    )

    assert {(e.image, e.tag, e.digest, e.pushed) for e in events} == {
        ("quay.io/contoso/test", None, None, None),
        ("registry.example.com/team/app", None, None, None),
    }


def test_interleaved_push_digest_pairs_with_the_one_push_of_its_tag() -> None:
    events = parse(
        f"""
        $ docker push registry.example.com/team/app:v2
        The push refers to repository [quay.io/contoso/test]
        The push refers to repository [registry.example.com/team/app]
        v2: digest: {d("a")} size: 528
        """
    )

    assert {(e.image, e.tag, e.digest, e.pushed) for e in events} == {
        ("quay.io/contoso/test", None, None, None),
        ("registry.example.com/team/app", "v2", d("a"), True),
    }


def test_a_refused_push_reported_twice_is_one_failure() -> None:
    events = parse(
        f"""
        #9 exporting manifest {d("a")} done
        #9 pushing manifest for ghcr.io/contoso/app:1.0@{d("a")} 0.6s done
        #9 ERROR: failed to push ghcr.io/contoso/app:1.0: unexpected status: 403 Forbidden
        ------
        ERROR: failed to solve: failed to push ghcr.io/contoso/app:1.0: 403 Forbidden
        """  # noqa: E501
    )

    assert [(e.image, e.tag, e.digest, e.pushed, e.line_no) for e in events] == [
        ("ghcr.io/contoso/app", "1.0", d("a"), False, 3)
    ]


def test_docker_command_run_by_a_task_keeps_the_tasks_name() -> None:
    events = parse(
        f"""
        ##[debug]Pushing ImageNameWithTag: ***.azurecr.io/contoso-api:123
        [command]/usr/bin/docker push ***.azurecr.io/contoso-api:123
        The push refers to repository [***.azurecr.io/contoso-api]
        123: digest: {d("a")} size: 5332
        """
    )

    assert [(e.image, e.tag, e.tool) for e in events] == [
        ("***.azurecr.io/contoso-api", "123", "docker2")
    ]


def test_more_parallel_pushes_than_sessions_kept_take_only_their_own_digest() -> None:
    steps = range(70)
    lines = [
        f'Step #{i} - "s{i}": The push refers to repository [gcr.io/p/svc{i}]'
        for i in steps
    ] + [f'Step #{i} - "s{i}": v1: digest: sha256:{i:064x} size: 1' for i in steps]

    events = list(parse_lines(lines))

    owners = {e.digest: e.image for e in events if e.digest}
    assert owners
    assert all(
        image == f"gcr.io/p/svc{int(digest[7:], 16)}"
        for digest, image in owners.items()
    )

-- The raw tables: facts as the upstream systems state them, one row per thing seen.
-- Every row carries the sweep that saw it (sweeps.sweep_id) and the scope it
-- belongs to, so a failed sweep never removes the last good rows of its scope.

CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id          VARCHAR PRIMARY KEY,
    job_id            VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    scope             VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,
    rows_loaded       BIGINT,
    error             VARCHAR,
    watermark_before  VARCHAR,
    watermark_after   VARCHAR,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);
COMMENT ON TABLE sweeps IS 'One extraction of one source scope in one job run.';
COMMENT ON COLUMN sweeps.job_id IS 'The imagetrail run that made this sweep.';
COMMENT ON COLUMN sweeps.source IS 'Source kind: github, azure_devops, acr, ecr, gar, oci, kubernetes, scanner, owners.';
COMMENT ON COLUMN sweeps.scope IS 'What was swept: an org/project, a registry/repository, a cluster, a file.';
COMMENT ON COLUMN sweeps.status IS 'ok, failed or running.';
COMMENT ON COLUMN sweeps.error IS 'One-line reason when status is failed.';
COMMENT ON COLUMN sweeps.watermark_after IS 'Where the next incremental sweep of this scope starts.';

CREATE TABLE IF NOT EXISTS ci_runs (
    run_key        VARCHAR PRIMARY KEY,
    system         VARCHAR NOT NULL,
    host           VARCHAR,
    org            VARCHAR,
    project        VARCHAR,
    repo           VARCHAR,
    repo_url       VARCHAR,
    pipeline       VARCHAR,
    pipeline_id    VARCHAR,
    run_id         BIGINT,
    run_number     VARCHAR,
    attempt        INTEGER,
    reason         VARCHAR,
    branch         VARCHAR,
    commit_sha     VARCHAR,
    pr_head_sha    VARCHAR,
    commit_author  VARCHAR,
    requested_for  VARCHAR,
    actor          VARCHAR,
    triggering_actor VARCHAR,
    status         VARCHAR,
    result         VARCHAR,
    queued_at      TIMESTAMPTZ,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    web_url        VARCHAR,
    source         VARCHAR NOT NULL,
    scope          VARCHAR NOT NULL,
    sweep_id       VARCHAR NOT NULL
);
COMMENT ON TABLE ci_runs IS 'One pipeline run attempt (GitHub Actions workflow run attempt, Azure DevOps build).';
COMMENT ON COLUMN ci_runs.run_key IS 'system/host/org/project-or-repo/run_id/attempt; unique across systems.';
COMMENT ON COLUMN ci_runs.repo IS 'OWNER/REPO on GitHub, ORG/PROJECT/REPO on Azure DevOps.';
COMMENT ON COLUMN ci_runs.pipeline IS 'Workflow path (GitHub) or definition name (Azure DevOps).';
COMMENT ON COLUMN ci_runs.commit_sha IS 'The commit that was built; for pull requests the merge commit.';
COMMENT ON COLUMN ci_runs.pr_head_sha IS 'For pull-request runs, the head commit of the pull request.';
COMMENT ON COLUMN ci_runs.commit_author IS 'Author of the built commit (name <email>) where the system states it.';
COMMENT ON COLUMN ci_runs.requested_for IS 'The person the run was requested for (ADO requestedFor, GitHub actor).';
COMMENT ON COLUMN ci_runs.triggering_actor IS 'Who started this attempt (differs from actor on re-runs).';

CREATE TABLE IF NOT EXISTS push_events (
    run_key     VARCHAR NOT NULL,
    job         VARCHAR,
    log_id      VARCHAR,
    line_no     BIGINT,
    tool        VARCHAR,
    image       VARCHAR NOT NULL,
    tag         VARCHAR,
    digest      VARCHAR,
    pushed      BOOLEAN,
    dockerfile  VARCHAR,
    evidence    VARCHAR,
    source      VARCHAR NOT NULL,
    scope       VARCHAR NOT NULL,
    sweep_id    VARCHAR NOT NULL
);
COMMENT ON TABLE push_events IS 'An image push seen in a run''s build log.';
COMMENT ON COLUMN push_events.image IS 'Normalised repository reference: host/path, no tag or digest.';
COMMENT ON COLUMN push_events.digest IS 'Manifest digest the log printed for the push, or NULL when it printed none.';
COMMENT ON COLUMN push_events.pushed IS 'true = push succeeded, false = failed, NULL = outcome unknown.';
COMMENT ON COLUMN push_events.dockerfile IS 'Dockerfile path the build used, where the log names it.';
COMMENT ON COLUMN push_events.evidence IS 'The log line that proves the push, secrets masked.';

CREATE TABLE IF NOT EXISTS images (
    registry       VARCHAR NOT NULL,
    repository     VARCHAR NOT NULL,
    digest         VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    media_type     VARCHAR,
    platform       VARCHAR,
    parent_digest  VARCHAR,
    size_bytes     BIGINT,
    pushed_at      TIMESTAMPTZ,
    config_digest  VARCHAR,
    labels         JSON,
    annotations    JSON,
    source         VARCHAR NOT NULL,
    scope          VARCHAR NOT NULL,
    sweep_id       VARCHAR NOT NULL
);
COMMENT ON TABLE images IS 'A manifest in a registry: an index, a platform image or an attestation.';
COMMENT ON COLUMN images.registry IS 'Registry host, lower case, port kept (docker.io for Docker Hub).';
COMMENT ON COLUMN images.kind IS 'index, image, attestation or artifact.';
COMMENT ON COLUMN images.platform IS 'os/architecture[/variant] of a platform image.';
COMMENT ON COLUMN images.parent_digest IS 'Digest of the index that lists this manifest, if any.';
COMMENT ON COLUMN images.config_digest IS 'Config blob digest (Docker image ID, Trivy ImageID).';
COMMENT ON COLUMN images.labels IS 'Config blob Labels as a JSON object.';

CREATE TABLE IF NOT EXISTS image_tags (
    registry     VARCHAR NOT NULL,
    repository   VARCHAR NOT NULL,
    tag          VARCHAR NOT NULL,
    digest       VARCHAR NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    source       VARCHAR NOT NULL,
    scope        VARCHAR NOT NULL,
    sweep_id     VARCHAR NOT NULL
);
COMMENT ON TABLE image_tags IS 'A tag seen pointing at a digest by one sweep: the tag history.';

CREATE TABLE IF NOT EXISTS provenance (
    subject_digest  VARCHAR NOT NULL,
    registry        VARCHAR,
    repository      VARCHAR,
    source_repo     VARCHAR,
    commit_sha      VARCHAR,
    builder_id      VARCHAR,
    run_id          BIGINT,
    run_attempt     INTEGER,
    workflow_path   VARCHAR,
    dockerfile      VARCHAR,
    kind            VARCHAR NOT NULL,
    evidence        VARCHAR,
    source          VARCHAR NOT NULL,
    scope           VARCHAR NOT NULL,
    sweep_id        VARCHAR NOT NULL
);
COMMENT ON TABLE provenance IS 'A statement, signed or not, about who built a digest.';
COMMENT ON COLUMN provenance.kind IS 'slsa, github-attestation, ado-labels or oci-labels.';
COMMENT ON COLUMN provenance.source_repo IS 'Source repository URL as stated.';
COMMENT ON COLUMN provenance.evidence IS 'Where the statement came from: attestation digest, label keys.';

CREATE TABLE IF NOT EXISTS workloads (
    cluster          VARCHAR NOT NULL,
    namespace        VARCHAR NOT NULL,
    owner_kind       VARCHAR,
    owner_name       VARCHAR,
    pod              VARCHAR,
    container        VARCHAR NOT NULL,
    image_ref        VARCHAR,
    image            VARCHAR,
    tag              VARCHAR,
    digest           VARCHAR,
    exposure         VARCHAR NOT NULL,
    exposure_reason  VARCHAR,
    labels           JSON,
    source           VARCHAR NOT NULL,
    scope            VARCHAR NOT NULL,
    sweep_id         VARCHAR NOT NULL
);
COMMENT ON TABLE workloads IS 'A container of a running pod, with its controller and exposure.';
COMMENT ON COLUMN workloads.image_ref IS 'The image as written in the pod spec.';
COMMENT ON COLUMN workloads.image IS 'Normalised repository of image_ref.';
COMMENT ON COLUMN workloads.digest IS 'Digest the runtime resolved (imageID), repo digest or config id.';
COMMENT ON COLUMN workloads.exposure IS 'none, node-port, load-balancer, ingress or gateway.';
COMMENT ON COLUMN workloads.labels IS 'Pod and namespace labels as one JSON object (pod wins).';

CREATE TABLE IF NOT EXISTS findings (
    digest            VARCHAR,
    config_digest     VARCHAR,
    image             VARCHAR,
    scanner           VARCHAR NOT NULL,
    vuln_id           VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,
    cvss              DOUBLE,
    package           VARCHAR,
    installed_version VARCHAR,
    fixed_version     VARCHAR,
    title             VARCHAR,
    source            VARCHAR NOT NULL,
    scope             VARCHAR NOT NULL,
    sweep_id          VARCHAR NOT NULL
);
COMMENT ON TABLE findings IS 'A vulnerability a scanner reported in an image.';
COMMENT ON COLUMN findings.digest IS 'The registry (repo) digest the scanner names, when it names one.';
COMMENT ON COLUMN findings.config_digest IS 'The config digest (Docker image ID, Trivy ImageID) of the scanned image.';
COMMENT ON COLUMN findings.image IS 'Normalised repository of the scanned reference.';
COMMENT ON COLUMN findings.severity IS 'CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN.';

CREATE TABLE IF NOT EXISTS owner_rules (
    repo      VARCHAR,
    kind      VARCHAR NOT NULL,
    pattern   VARCHAR NOT NULL,
    owners    VARCHAR,
    file      VARCHAR,
    line      INTEGER,
    commit_sha VARCHAR,
    source    VARCHAR NOT NULL,
    scope     VARCHAR NOT NULL,
    sweep_id  VARCHAR NOT NULL
);
COMMENT ON TABLE owner_rules IS 'An ownership statement: override, catalog owner, CODEOWNERS line, label.';
COMMENT ON COLUMN owner_rules.kind IS 'override, catalog, codeowners or label.';
COMMENT ON COLUMN owner_rules.pattern IS 'Glob or path pattern the rule applies to.';
COMMENT ON COLUMN owner_rules.owners IS 'Space-separated owners as written.';
COMMENT ON COLUMN owner_rules.commit_sha IS 'Commit the file was read at, when known (else the default branch).';

-- The remaining columns, described once so `imagetrail tables` documents them all.
COMMENT ON COLUMN sweeps.sweep_id IS 'Unique id; every raw row names the sweep that loaded it.';
COMMENT ON COLUMN sweeps.rows_loaded IS 'Rows the sweep loaded (0 when it failed).';
COMMENT ON COLUMN sweeps.watermark_before IS 'Watermark the sweep started from.';
COMMENT ON COLUMN sweeps.started_at IS 'When the sweep started (UTC).';
COMMENT ON COLUMN sweeps.finished_at IS 'When the sweep was committed or failed (UTC).';
COMMENT ON COLUMN ci_runs.system IS 'github or azure_devops.';
COMMENT ON COLUMN ci_runs.host IS 'github.com, a GitHub Enterprise Server host, dev.azure.com or a Server host.';
COMMENT ON COLUMN ci_runs.org IS 'GitHub owner or Azure DevOps organization / collection.';
COMMENT ON COLUMN ci_runs.project IS 'Azure DevOps project; NULL on GitHub.';
COMMENT ON COLUMN ci_runs.repo_url IS 'Web URL of the source repository.';
COMMENT ON COLUMN ci_runs.pipeline_id IS 'Workflow id or build definition id.';
COMMENT ON COLUMN ci_runs.run_id IS 'GitHub run id (shared by attempts) or Azure DevOps build id.';
COMMENT ON COLUMN ci_runs.run_number IS 'Run number (GitHub) or build number (Azure DevOps), as shown to people.';
COMMENT ON COLUMN ci_runs.attempt IS 'Attempt of the run, from 1.';
COMMENT ON COLUMN ci_runs.reason IS 'What started it: GitHub event or Azure DevOps reason.';
COMMENT ON COLUMN ci_runs.branch IS 'Branch or ref that was built.';
COMMENT ON COLUMN ci_runs.actor IS 'GitHub actor of the first attempt.';
COMMENT ON COLUMN ci_runs.status IS 'Run status as the system states it (completed, inProgress, ...).';
COMMENT ON COLUMN ci_runs.result IS 'Run result or conclusion (success, failed, ...); NULL until completed.';
COMMENT ON COLUMN ci_runs.queued_at IS 'When the run was queued or created (UTC).';
COMMENT ON COLUMN ci_runs.started_at IS 'When the run started (UTC).';
COMMENT ON COLUMN ci_runs.finished_at IS 'When the run finished (UTC); NULL while running.';
COMMENT ON COLUMN ci_runs.web_url IS 'The run''s page for people.';
COMMENT ON COLUMN push_events.run_key IS 'The run whose log showed the push (ci_runs.run_key).';
COMMENT ON COLUMN push_events.job IS 'Job name (GitHub) or task display name (Azure DevOps).';
COMMENT ON COLUMN push_events.log_id IS 'Job id (GitHub) or log id (Azure DevOps) of the log.';
COMMENT ON COLUMN push_events.line_no IS 'Line of the evidence in that log, from 1.';
COMMENT ON COLUMN push_events.tool IS 'The tool that pushed: docker, buildkit, kaniko, docker2, acr-task, ...';
COMMENT ON COLUMN push_events.tag IS 'Tag pushed, as printed; NULL when pushed by digest only.';
COMMENT ON COLUMN images.repository IS 'Repository path after the registry host.';
COMMENT ON COLUMN images.digest IS 'Manifest digest (sha256:...).';
COMMENT ON COLUMN images.media_type IS 'Manifest media type.';
COMMENT ON COLUMN images.size_bytes IS 'Size as the registry reports it.';
COMMENT ON COLUMN images.pushed_at IS 'When the registry received it (UTC), where it says.';
COMMENT ON COLUMN images.annotations IS 'Manifest annotations as a JSON object.';
COMMENT ON COLUMN image_tags.registry IS 'Registry host.';
COMMENT ON COLUMN image_tags.repository IS 'Repository path.';
COMMENT ON COLUMN image_tags.tag IS 'Tag name.';
COMMENT ON COLUMN image_tags.digest IS 'Digest the tag pointed at when observed.';
COMMENT ON COLUMN image_tags.observed_at IS 'When the sweep saw it (UTC).';
COMMENT ON COLUMN provenance.subject_digest IS 'Digest the statement is about.';
COMMENT ON COLUMN provenance.registry IS 'Registry host of the image the statement came with.';
COMMENT ON COLUMN provenance.repository IS 'Repository path of that image.';
COMMENT ON COLUMN provenance.commit_sha IS 'Commit the statement names.';
COMMENT ON COLUMN provenance.builder_id IS 'Builder id (SLSA) or collection URI (Azure DevOps).';
COMMENT ON COLUMN provenance.run_id IS 'Run or build id the statement names.';
COMMENT ON COLUMN provenance.run_attempt IS 'Run attempt the statement names.';
COMMENT ON COLUMN provenance.workflow_path IS 'Workflow file the statement names.';
COMMENT ON COLUMN provenance.dockerfile IS 'Dockerfile the statement names.';
COMMENT ON COLUMN workloads.cluster IS 'Cluster (kubeconfig context or export file name).';
COMMENT ON COLUMN workloads.namespace IS 'Namespace.';
COMMENT ON COLUMN workloads.owner_kind IS 'Kind of the top controller: Deployment, StatefulSet, DaemonSet, CronJob, Job or Pod.';
COMMENT ON COLUMN workloads.owner_name IS 'Name of the top controller.';
COMMENT ON COLUMN workloads.pod IS 'Pod name.';
COMMENT ON COLUMN workloads.container IS 'Container name (init containers included).';
COMMENT ON COLUMN workloads.tag IS 'Tag of image_ref, if any.';
COMMENT ON COLUMN workloads.exposure_reason IS 'What exposes it: the Service, Ingress or Gateway.';
COMMENT ON COLUMN findings.scanner IS 'trivy, grype, trivy-operator, ecr, ...';
COMMENT ON COLUMN findings.vuln_id IS 'CVE or advisory id.';
COMMENT ON COLUMN findings.cvss IS 'Best CVSS v3 base score given.';
COMMENT ON COLUMN findings.package IS 'Affected package.';
COMMENT ON COLUMN findings.installed_version IS 'Installed version of the package.';
COMMENT ON COLUMN findings.fixed_version IS 'First fixed version; NULL when no fix is known.';
COMMENT ON COLUMN findings.title IS 'Short title of the vulnerability.';
COMMENT ON COLUMN owner_rules.repo IS 'Repository the rule belongs to; NULL for overrides.';
COMMENT ON COLUMN owner_rules.file IS 'File the rule was read from.';
COMMENT ON COLUMN owner_rules.line IS 'Line in that file (entry number for overrides).';

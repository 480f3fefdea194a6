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

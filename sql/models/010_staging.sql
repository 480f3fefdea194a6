-- Staging: the current state of the raw tables, in the shapes the links and owners need.
-- Produces stg_current_tags, stg_images, stg_runs and stg_pushes, plus URL macros.

-- A repository URL in one spelling: no scheme, credentials, .git, ref or trailing slash.
CREATE OR REPLACE MACRO norm_url(u) AS lower(
    regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(coalesce(u, ''), '^git@([^:]+):', '\1/'),
                '^(git\+)?[a-z]+://([^@/]+@)?', ''),
            '[#@?].*$', ''),
        '(\.git)?/*$', ''));

-- The repository path of a normalised image reference (everything after the host).
CREATE OR REPLACE MACRO repo_path(image) AS regexp_replace(image, '^[^/]+/', '');

-- The run a run_key belongs to, whatever the attempt.
CREATE OR REPLACE MACRO run_group(run_key) AS regexp_replace(run_key, '/[0-9]+$', '');

-- Tags as the latest successful sweep of each scope saw them.
CREATE OR REPLACE TABLE stg_current_tags AS
WITH last_ok AS (
    SELECT source, scope, arg_max(sweep_id, started_at) AS sweep_id
    FROM sweeps
    WHERE status = 'ok'
    GROUP BY source, scope
)
SELECT t.registry, t.repository, t.tag, t.digest, t.observed_at
FROM image_tags t
JOIN last_ok l USING (source, scope, sweep_id);

-- Digests that run in a cluster or were scanned, but that no registry read lists.
-- They are images all the same: a security team must see them, unmapped at worst.
CREATE OR REPLACE TABLE stg_unlisted AS
WITH observed AS (
    SELECT image, digest FROM workloads WHERE digest LIKE 'sha256:%'
    UNION
    SELECT image, digest FROM scans WHERE digest IS NOT NULL AND image IS NOT NULL
)
SELECT split_part(o.image, '/', 1) AS registry, repo_path(o.image) AS repository,
       o.digest
FROM observed o
WHERE NOT EXISTS (
    SELECT 1 FROM images i
    WHERE i.repository = repo_path(o.image)
      AND (i.digest = o.digest OR i.config_digest = o.digest));

-- One row per manifest; top_level marks what a person calls "an image".
CREATE OR REPLACE TABLE stg_images AS
WITH all_images AS (
    SELECT registry, repository, digest, kind, media_type, platform, parent_digest,
           size_bytes, pushed_at, config_digest, labels
    FROM images
    UNION ALL BY NAME
    SELECT registry, repository, digest, 'unlisted' AS kind
    FROM stg_unlisted
)
SELECT DISTINCT ON (i.registry, i.repository, i.digest)
    i.registry,
    i.repository,
    i.registry || '/' || i.repository AS image,
    i.digest,
    i.kind,
    i.media_type,
    i.platform,
    i.parent_digest,
    i.size_bytes,
    coalesce(i.pushed_at, p.pushed_at) AS pushed_at,
    i.config_digest,
    i.labels,
    i.parent_digest IS NULL AND i.kind IN ('index', 'image', 'unlisted') AS top_level,
    coalesce(i.parent_digest, i.digest) AS family_digest,
    coalesce((
        SELECT list(DISTINCT t.tag ORDER BY t.tag)
        FROM stg_current_tags t
        WHERE t.registry = i.registry
          AND t.repository = i.repository
          AND t.digest = i.digest
    ), []) AS tags
FROM all_images i
LEFT JOIN images p
    ON p.registry = i.registry
   AND p.repository = i.repository
   AND p.digest = i.parent_digest
ORDER BY i.registry, i.repository, i.digest, i.pushed_at DESC NULLS LAST;

-- Runs with the window in which they could have pushed.
CREATE OR REPLACE TABLE stg_runs AS
SELECT
    r.*,
    run_group(r.run_key) AS run_group,
    coalesce(r.started_at, r.queued_at) AS window_start,
    coalesce(r.finished_at, now()) AS window_end
FROM ci_runs r;

-- Push events with the repository path they name.
CREATE OR REPLACE TABLE stg_pushes AS
SELECT pe.*, repo_path(pe.image) AS repository
FROM push_events pe;

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

-- One row per manifest; top_level marks what a person calls "an image".
CREATE OR REPLACE TABLE stg_images AS
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
    i.parent_digest IS NULL AND i.kind IN ('index', 'image') AS top_level,
    coalesce(i.parent_digest, i.digest) AS family_digest,
    coalesce((
        SELECT list(DISTINCT t.tag ORDER BY t.tag)
        FROM stg_current_tags t
        WHERE t.registry = i.registry
          AND t.repository = i.repository
          AND t.digest = i.digest
    ), []) AS tags
FROM images i
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

-- Links: every piece of evidence tying an image digest to a run (link_candidates),
-- spread across an index and its platform children (links), and the verdict per
-- image (image_mapping): mapped, ambiguous or unmapped, each with its reason.
-- Needs the variable `threshold` (a link counts when confidence >= threshold).

CREATE OR REPLACE TABLE link_candidates AS
-- attestation: signed provenance whose subject is the digest.
SELECT i.registry, i.repository, i.digest, r.run_key,
       'attestation' AS method, 1.0 AS confidence,
       'provenance (' || p.kind || ') ' || coalesce(p.evidence, '') AS evidence
FROM stg_images i
JOIN provenance p
    ON p.subject_digest = i.digest AND p.kind IN ('slsa', 'github-attestation')
JOIN stg_runs r
    ON (p.run_id IS NOT NULL AND r.run_id = p.run_id
        AND (p.run_attempt IS NULL OR r.attempt = p.run_attempt))
    OR (p.run_id IS NULL AND r.commit_sha = p.commit_sha
        AND norm_url(p.source_repo) = norm_url(r.repo_url))

UNION ALL
-- ado-labels: Docker@2 wrote the build URI into the image config.
SELECT i.registry, i.repository, i.digest, r.run_key,
       'ado-labels', 0.98, p.evidence
FROM stg_images i
JOIN provenance p ON p.subject_digest = i.digest AND p.kind = 'ado-labels'
JOIN stg_runs r
    ON r.system = 'azure_devops' AND r.run_id = p.run_id
   AND (p.source_repo IS NULL OR norm_url(p.source_repo) = norm_url(r.repo_url))

UNION ALL
-- log-digest: the run's log printed this digest as pushed. The host may be masked
-- (***) or a placeholder in the log, so the repository path decides.
SELECT i.registry, i.repository, i.digest, pe.run_key,
       'log-digest', 0.95,
       'log ' || coalesce(pe.job, '') || ' line ' || pe.line_no || ': '
           || coalesce(pe.evidence, '')
FROM stg_images i
JOIN stg_pushes pe
    ON pe.digest = i.digest AND pe.pushed AND pe.repository = i.repository

UNION ALL
-- oci-labels: source + revision labels name a repo and commit; a run of that repo
-- at that commit pushed this repository.
SELECT i.registry, i.repository, i.digest, r.run_key,
       'oci-labels', 0.8,
       'labels source=' || p.source_repo || ' revision=' || p.commit_sha
FROM stg_images i
JOIN provenance p ON p.subject_digest = i.digest AND p.kind = 'oci-labels'
JOIN stg_runs r
    ON norm_url(p.source_repo) = norm_url(r.repo_url)
   AND (r.commit_sha = p.commit_sha OR r.pr_head_sha = p.commit_sha
        OR (length(p.commit_sha) BETWEEN 7 AND 39
            AND starts_with(r.commit_sha, lower(p.commit_sha))))
WHERE EXISTS (
    SELECT 1 FROM stg_pushes pe
    WHERE pe.run_key = r.run_key AND pe.repository = i.repository
      AND pe.pushed IS NOT false)

UNION ALL
-- tag-commit: a tag of this digest is (or ends with) the commit a run built, and that
-- run pushed this repository.
SELECT DISTINCT i.registry, i.repository, i.digest, r.run_key,
       'tag-commit', 0.6,
       'tag ' || t.tag || ' names commit ' || r.commit_sha
FROM stg_images i
JOIN image_tags t
    ON t.registry = i.registry AND t.repository = i.repository AND t.digest = i.digest
JOIN stg_pushes pe ON pe.repository = i.repository AND pe.pushed IS NOT false
JOIN stg_runs r ON r.run_key = pe.run_key
WHERE r.commit_sha IS NOT NULL
  AND (lower(t.tag) = r.commit_sha
       OR ends_with(lower(t.tag), r.commit_sha)
       OR (length(regexp_extract(t.tag, '(^|[-_.])([0-9a-f]{7,39})$', 2)) >= 7
           AND starts_with(r.commit_sha, regexp_extract(t.tag, '(^|[-_.])([0-9a-f]{7,39})$', 2))))

UNION ALL
-- tag-time: the log pushed repo:tag without a digest, and the registry shows that tag
-- on this digest, pushed while the run was running.
SELECT DISTINCT i.registry, i.repository, i.digest, r.run_key,
       'tag-time', 0.5,
       'log ' || coalesce(pe.job, '') || ' line ' || pe.line_no || ' pushed ' || pe.image
           || ':' || pe.tag || '; registry shows it on this digest, pushed '
           || strftime(i.pushed_at, '%Y-%m-%d %H:%M:%S') || ' UTC during the run'
FROM stg_images i
JOIN image_tags t
    ON t.registry = i.registry AND t.repository = i.repository AND t.digest = i.digest
JOIN stg_pushes pe
    ON pe.repository = i.repository AND pe.tag = t.tag
   AND pe.digest IS NULL AND pe.pushed
JOIN stg_runs r ON r.run_key = pe.run_key
WHERE i.pushed_at BETWEEN r.window_start - INTERVAL 2 MINUTE
                      AND r.window_end + INTERVAL 2 MINUTE;

-- Registries, clusters and scanners may each name the index or a platform child, so a
-- link to one is a link to the other.
CREATE OR REPLACE TABLE links AS
WITH spread AS (
    SELECT c.*, NULL::VARCHAR AS via_digest FROM link_candidates c
    UNION ALL
    SELECT ch.registry, ch.repository, ch.digest, c.run_key, c.method,
           c.confidence, c.evidence, c.digest
    FROM stg_images ch
    JOIN link_candidates c
        ON c.registry = ch.registry AND c.repository = ch.repository
       AND c.digest = ch.parent_digest
    WHERE ch.kind = 'image'
    UNION ALL
    SELECT ch.registry, ch.repository, ch.parent_digest, c.run_key, c.method,
           c.confidence, c.evidence, c.digest
    FROM stg_images ch
    JOIN link_candidates c
        ON c.registry = ch.registry AND c.repository = ch.repository
       AND c.digest = ch.digest
    WHERE ch.parent_digest IS NOT NULL AND ch.kind = 'image'
)
SELECT DISTINCT ON (registry, repository, digest, run_key, method) *
FROM spread
ORDER BY registry, repository, digest, run_key, method, via_digest NULLS FIRST, evidence;

CREATE OR REPLACE TABLE image_mapping AS
WITH eligible AS (
    SELECT l.*, r.run_group, r.attempt
    FROM links l JOIN stg_runs r USING (run_key)
    WHERE l.confidence >= getvariable('threshold')
),
best AS (
    SELECT e.*
    FROM eligible e
    QUALIFY e.confidence = max(e.confidence)
        OVER (PARTITION BY registry, repository, digest)
),
verdict AS (
    SELECT registry, repository, digest,
           any_value(method) AS method,
           max(confidence) AS confidence,
           count(DISTINCT run_group) AS run_count,
           -- Several attempts of one run: the first attempt that shows it built it.
           arg_min(run_key, attempt) AS run_key,
           arg_min(evidence, attempt) AS evidence,
           list(DISTINCT run_key ORDER BY run_key) AS candidate_runs
    FROM best
    GROUP BY registry, repository, digest
),
below AS (
    SELECT registry, repository, digest,
           arg_max(method, confidence) AS method, max(confidence) AS confidence
    FROM links
    WHERE confidence < getvariable('threshold')
    GROUP BY ALL
),
repo_pushes AS (
    SELECT repository, count(DISTINCT run_key) AS runs
    FROM stg_pushes WHERE pushed IS NOT false GROUP BY repository
)
SELECT
    i.registry, i.repository, i.image, i.digest, i.kind, i.platform,
    i.parent_digest, i.family_digest, i.top_level, i.tags, i.pushed_at,
    i.config_digest,
    CASE WHEN v.run_count = 1 THEN 'mapped'
         WHEN v.run_count > 1 THEN 'ambiguous'
         ELSE 'unmapped' END AS status,
    v.method,
    v.confidence,
    CASE WHEN v.run_count = 1 THEN v.run_key END AS run_key,
    CASE WHEN v.run_count = 1 THEN v.evidence END AS evidence,
    coalesce(v.candidate_runs, []) AS candidate_runs,
    CASE
        WHEN v.run_count > 1 THEN
            v.run_count || ' runs match equally on ' || v.method || ' ('
            || array_to_string(v.candidate_runs, ', ') || '); imagetrail does not pick one'
        WHEN v.run_count = 1 THEN NULL
        WHEN b.method IS NOT NULL THEN
            'the best evidence, ' || b.method || ' (confidence ' || b.confidence
            || '), is below the mapping threshold ' || getvariable('threshold')
        WHEN i.kind = 'unlisted' AND rp.runs IS NULL THEN
            'no registry read lists ' || i.image || '@' || left(i.digest, 19)
            || ' (it runs in a cluster or was scanned), and no run read pushed it'
        WHEN rp.runs IS NULL THEN
            'no pipeline run in the CI systems read pushed ' || i.image
            || '; it was pushed by hand or by a system imagetrail does not read'
        ELSE rp.runs || ' run(s) pushed ' || i.image
            || ', but none printed this digest and none ran when it was pushed'
            || coalesce(' (' || strftime(i.pushed_at, '%Y-%m-%d %H:%M') || ' UTC)', '')
    END AS reason,
    CASE
        WHEN v.run_count > 1 THEN
            'print the digest in the build log (docker push prints it; buildx: '
            || '--metadata-file) or publish provenance attestations, so one run is proven'
        WHEN v.run_count = 1 THEN NULL
        WHEN b.method IS NOT NULL THEN
            'lower [mapping] threshold, or make the build print the pushed digest'
        WHEN i.kind = 'unlisted' THEN
            'add its registry to the config ([[registry]]) or export its listing, '
            || 'so imagetrail sees its tags, labels and attestations'
        WHEN rp.runs IS NULL THEN
            'build and push it from a pipeline imagetrail reads, or label it with '
            || 'org.opencontainers.image.source and .revision'
        ELSE 'make the build print the pushed digest, or label the image with '
            || 'org.opencontainers.image.source and .revision'
    END AS fix
FROM stg_images i
LEFT JOIN verdict v USING (registry, repository, digest)
LEFT JOIN below b USING (registry, repository, digest)
LEFT JOIN repo_pushes rp ON rp.repository = i.repository;

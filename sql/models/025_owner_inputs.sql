-- Owner inputs: for each mapped image, the repo, commit and Dockerfile path of the run
-- that built it (owner_inputs). CODEOWNERS matching on these happens in Python.

CREATE OR REPLACE TABLE owner_inputs AS
WITH dockerfiles AS (
    -- The Dockerfile the run's log names for this repository; else the one Dockerfile
    -- the run names, when it names only one.
    SELECT m.registry, m.repository, m.digest,
           coalesce(
               arg_min(pe.dockerfile, pe.line_no) FILTER (pe.repository = m.repository),
               CASE WHEN count(DISTINCT pe.dockerfile) = 1
                    THEN any_value(pe.dockerfile) END) AS dockerfile
    FROM image_mapping m
    JOIN stg_pushes pe ON pe.run_key = m.run_key AND pe.dockerfile IS NOT NULL
    GROUP BY ALL
),
attested AS (
    SELECT i.registry, i.repository, i.digest, any_value(p.dockerfile) AS dockerfile
    FROM image_mapping i
    JOIN provenance p
        ON p.subject_digest IN (i.digest, i.family_digest) AND p.dockerfile IS NOT NULL
    GROUP BY ALL
)
SELECT m.registry, m.repository, m.digest, r.repo, r.commit_sha,
       coalesce(d.dockerfile, a.dockerfile) AS dockerfile
FROM image_mapping m
JOIN stg_runs r ON r.run_key = m.run_key
LEFT JOIN dockerfiles d USING (registry, repository, digest)
LEFT JOIN attested a USING (registry, repository, digest)
WHERE m.status = 'mapped';

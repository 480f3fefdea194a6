-- Owners: the first answer of the owner chain for every image, with its source and a
-- sentence saying why (image_owners). Needs codeowner_matches (the CODEOWNERS rule
-- that owns each mapped image's Dockerfile, computed in Python) and owner_label_keys.

CREATE OR REPLACE TABLE image_owners AS
WITH mapped AS (
    SELECT m.registry, m.repository, m.image, m.digest, m.family_digest, m.tags,
           r.run_key, r.repo, r.commit_sha, r.commit_author, r.requested_for,
           r.triggering_actor, r.actor, r.pipeline, r.run_number, r.system
    FROM image_mapping m
    LEFT JOIN stg_runs r ON r.run_key = m.run_key
),
overrides AS (
    SELECT pattern, owners, file, line,
           -- A glob whose first segment holds a dot or colon names image references.
           regexp_matches(split_part(pattern, '/', 1), '[.:]') AS for_images
    FROM owner_rules WHERE kind = 'override'
),
by_override AS (
    SELECT m.registry, m.repository, m.digest,
           arg_min(o.owners, o.line) AS owner,
           arg_min(o.owners || ', because the override file ' || o.file || ' maps '
                   || o.pattern || ' (entry ' || o.line || ')', o.line) AS reason
    FROM mapped m
    JOIN overrides o
        ON (o.for_images AND (m.image GLOB o.pattern
                              OR list_bool_or([m.image || ':' || t GLOB o.pattern
                                               FOR t IN m.tags])))
        OR (NOT o.for_images AND m.repo GLOB o.pattern)
    GROUP BY ALL
),
by_catalog AS (
    SELECT m.registry, m.repository, m.digest,
           any_value(c.owners) AS owner,
           any_value(c.owners || ', because ' || c.file || ' of ' || m.repo
                     || ' names it as spec.owner') AS reason
    FROM mapped m
    JOIN owner_rules c ON c.kind = 'catalog' AND c.repo = m.repo AND c.owners <> ''
    GROUP BY ALL
),
by_codeowners AS (
    SELECT registry, repository, digest, owners AS owner,
           owners || ', because ' || file || ' line ' || line || ' (' || pattern || ') '
           || CASE WHEN why = 'catch-all'
                   THEN 'is the catch-all rule and the Dockerfile path is unknown'
                   ELSE 'matches ' || path END
           || coalesce(' at commit ' || left(commit_sha, 7), '') AS reason
    FROM codeowner_matches
),
by_label AS (
    SELECT m.registry, m.repository, m.digest,
           arg_min(w.labels ->> k.key, k.ord) AS owner,
           arg_min((w.labels ->> k.key) || ', because label ' || k.key || ' on '
                   || w.cluster || '/' || w.namespace || '/' || w.owner_name
                   || ' where the image runs', k.ord) AS reason
    FROM mapped m
    JOIN stg_images fam
        ON fam.registry = m.registry AND fam.repository = m.repository
       AND fam.family_digest = m.family_digest
    JOIN workloads w ON w.digest = fam.digest AND repo_path(w.image) = m.repository
    JOIN owner_label_keys k ON (w.labels ->> k.key) IS NOT NULL
    GROUP BY ALL
),
by_author AS (
    -- The address reaches the author; the name is kept in the reason.
    SELECT registry, repository, digest,
           coalesce(nullif(regexp_extract(commit_author, '<([^>]+)>', 1), ''),
                    commit_author) AS owner,
           commit_author || ' authored commit ' || left(commit_sha, 7)
           || ' that ' || pipeline || ' #' || run_number || ' built' AS reason
    FROM mapped WHERE commit_author IS NOT NULL AND commit_author <> ''
),
by_requester AS (
    SELECT registry, repository, digest,
           coalesce(requested_for, triggering_actor, actor) AS owner,
           coalesce(requested_for, triggering_actor, actor)
           || ', because they requested ' || pipeline || ' #' || run_number AS reason
    FROM mapped WHERE coalesce(requested_for, triggering_actor, actor) IS NOT NULL
),
chain AS (
    SELECT *, 1 AS rank, 'override' AS owner_source FROM by_override
    UNION ALL SELECT *, 2, 'catalog' FROM by_catalog
    UNION ALL SELECT *, 3, 'codeowners' FROM by_codeowners
    UNION ALL SELECT *, 4, 'label' FROM by_label
    UNION ALL SELECT *, 5, 'commit-author' FROM by_author
    UNION ALL SELECT *, 6, 'requester' FROM by_requester
)
SELECT m.registry, m.repository, m.digest,
       arg_min(c.owner, c.rank) AS owner,
       arg_min(c.owner_source, c.rank) AS owner_source,
       arg_min(c.reason, c.rank) AS reason
FROM mapped m
LEFT JOIN chain c USING (registry, repository, digest)
GROUP BY ALL;

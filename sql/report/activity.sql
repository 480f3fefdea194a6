-- What the CI systems gave: runs read, runs whose logs showed a push, push events
-- read and how many of them printed a digest, per CI system. The last row
-- (system '') is the total.
WITH runs AS (
    SELECT r.system, r.run_key,
           count(pe.run_key) AS pushes,
           count(pe.digest) AS pushes_with_digest
    FROM ci_runs r
    LEFT JOIN push_events pe USING (run_key)
    GROUP BY ALL
    UNION ALL
    -- Push events whose run is not stored (yet) still count as read.
    SELECT 'unknown', pe.run_key, count(*), count(pe.digest)
    FROM push_events pe
    WHERE NOT EXISTS (SELECT 1 FROM ci_runs r WHERE r.run_key = pe.run_key)
    GROUP BY ALL
)
SELECT coalesce(system, '') AS system,
       grouping(system) = 1 AS is_total,
       count(*) FILTER (system <> 'unknown') AS runs,
       count(*) FILTER (pushes > 0 AND system <> 'unknown') AS runs_pushing,
       coalesce(sum(pushes), 0)::BIGINT AS push_events,
       coalesce(sum(pushes_with_digest), 0)::BIGINT AS push_events_with_digest
FROM runs
GROUP BY GROUPING SETS ((system), ())
ORDER BY is_total, system;

-- Images no single run could be proven to have built: ambiguous ones (several runs
-- match equally) with their candidate runs, and unmapped ones, each with the reason
-- and how to fix it. Worst findings and running images first.
WITH candidates AS (
    SELECT rem.registry, rem.repository, rem.digest,
           list({'run_key': c.run_key,
                 'run_label': coalesce(r.pipeline || ' #' || r.run_number, c.run_key),
                 'run_url': coalesce(r.web_url, ''),
                 'repo': coalesce(r.repo, ''),
                 'commit_short': coalesce(left(r.commit_sha, 7), '')}
                ORDER BY c.run_key) AS candidates
    FROM remediation rem
    CROSS JOIN unnest(rem.candidate_runs) AS c(run_key)
    LEFT JOIN stg_runs r ON r.run_key = c.run_key
    GROUP BY ALL
)
SELECT coalesce(rem.owner, '') AS owner,
       coalesce(rem.owner, 'unowned') AS owner_name,
       rem.owner_source, rem.owner_reason,
       rem.registry, rem.repository, rem.image, rem.digest,
       left(rem.digest, 19) AS digest_short,
       array_to_string(rem.tags, ', ') AS tags,
       rem.kind,
       strftime(rem.pushed_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M UTC') AS pushed_at,
       rem.status, rem.method,
       coalesce(printf('%.2f', rem.confidence), '') AS confidence,
       rem.reason, rem.fix,
       rem.critical, rem.high, rem.medium, rem.low, rem.fixable,
       rem.critical + rem.high AS serious, rem.scanned,
       rem.running, rem.exposed, rem.exposure,
       coalesce(c.candidates, []) AS candidates
FROM remediation rem
LEFT JOIN candidates c USING (registry, repository, digest)
WHERE rem.status <> 'mapped'
ORDER BY rem.status, rem.critical DESC, rem.high DESC, rem.running DESC,
         rem.image, rem.digest;

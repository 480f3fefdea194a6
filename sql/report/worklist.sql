-- The worklist: every top-level image with findings, with who owns it, where it runs,
-- the run, commit and evidence that built it, and its critical and high findings.
-- Ordered as each owner works through it: images with criticals, then with highs,
-- then the rest; within each, a fix available first, then running exposed first.
WITH vulnerable AS (
    SELECT * FROM remediation WHERE critical + high + medium + low > 0
),
findings AS (
    SELECT registry, repository, digest,
           unnest(vulns, recursive := true)
    FROM vulnerable
),
ranked AS (
    SELECT *,
           CASE severity WHEN 'CRITICAL' THEN 1 WHEN 'HIGH' THEN 2
                         WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 4 ELSE 5 END AS sev_rank,
           {'vuln_id': vuln_id,
            'severity': lower(severity),
            'package': coalesce(package, ''),
            'installed': coalesce(installed, ''),
            'fixed': coalesce(fixed, ''),
            'cvss': coalesce(printf('%.1f', cvss), ''),
            'title': coalesce(title, '')} AS vuln
    FROM findings
),
vuln_lists AS (
    SELECT registry, repository, digest,
           list(vuln ORDER BY sev_rank, cvss DESC NULLS LAST, vuln_id, package)
               FILTER (sev_rank <= 2) AS critical_high
    FROM ranked
    GROUP BY ALL
)
SELECT coalesce(w.owner, '') AS owner,
       w.owner_source, w.owner_reason,
       w.registry, w.repository, w.image, w.digest,
       left(w.digest, 19) AS digest_short,
       array_to_string(w.tags, ', ') AS tags,
       w.kind,
       strftime(w.pushed_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M UTC') AS pushed_at,
       w.status, w.method,
       printf('%.2f', w.confidence) AS confidence,
       w.evidence, w.reason, w.fix,
       w.run_url, w.pipeline || ' #' || w.run_number AS run_label,
       w.repo, w.commit, left(w.commit, 7) AS commit_short, w.branch, w.system,
       w.critical, w.high, w.medium, w.low, w.fixable, w.scanned,
       w.critical + w.high AS serious,
       w.exposed, w.exposure, w.running,
       w.workloads,
       -- The page lists at most 25 critical/high findings per image; the rest are
       -- counted, so one image with hundreds of them cannot swamp the report.
       coalesce(v.critical_high, [])[1:25] AS serious_vulns,
       greatest(coalesce(len(v.critical_high), 0) - 25, 0) AS serious_more,
       coalesce(v.critical_high, [])[1:5] AS top_vulns
FROM vulnerable w
LEFT JOIN vuln_lists v USING (registry, repository, digest)
ORDER BY owner = '', owner,
         w.critical > 0 DESC, w.high > 0 DESC, w.fixable > 0 DESC, w.exposed DESC,
         w.critical DESC, w.high DESC, w.medium DESC, w.low DESC,
         w.image, w.digest;

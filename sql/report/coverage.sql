-- Coverage by registry: images (top-level manifests) in total and by mapping status,
-- how many were scanned, are vulnerable, run in a cluster, run exposed. The last row
-- (registry '') is the total over all registries.
SELECT coalesce(registry, '') AS registry,
       grouping(registry) = 1 AS is_total,
       count(*) AS images,
       count(*) FILTER (status = 'mapped') AS mapped,
       count(*) FILTER (status = 'ambiguous') AS ambiguous,
       count(*) FILTER (status = 'unmapped') AS unmapped,
       coalesce(round(100.0 * count(*) FILTER (status = 'mapped')
                      / nullif(count(*), 0))::INTEGER, 0) AS mapped_pct,
       count(*) FILTER (scanned) AS scanned,
       count(*) FILTER (critical + high + medium + low > 0) AS vulnerable,
       count(*) FILTER (running) AS running,
       count(*) FILTER (exposed) AS exposed
FROM remediation
GROUP BY GROUPING SETS ((registry), ())
ORDER BY is_total, registry;

-- Remediation: where each image runs (running_images), what is wrong with it
-- (image_vulns), and one worklist row per top-level image (remediation).

-- Containers resolved to the image row they run: by digest, or by config digest where
-- the runtime reports only the image ID (side-loaded images).
CREATE OR REPLACE TABLE running_images AS
SELECT w.cluster, w.namespace, w.owner_kind || '/' || w.owner_name AS workload,
       w.pod, w.container, w.image_ref, w.exposure, w.exposure_reason,
       coalesce(i.image, w.image) AS image, w.digest AS running_digest,
       i.registry, i.repository, i.family_digest AS digest
FROM workloads w
LEFT JOIN stg_images i
    ON (i.digest = w.digest OR i.config_digest = w.digest)
   AND i.repository = repo_path(w.image);

-- Findings counted once per vulnerability and package, on the top-level image they
-- belong to, whichever digest the scanner named.
CREATE OR REPLACE TABLE image_vulns AS
WITH matched AS (
    SELECT DISTINCT i.registry, i.repository, i.family_digest AS digest,
           f.vuln_id, f.package, f.severity, f.fixed_version, f.cvss, f.title,
           f.installed_version
    FROM findings f
    JOIN stg_images i
        ON (i.digest = f.digest OR (f.config_digest IS NOT NULL
                                    AND i.config_digest = f.config_digest))
       AND (f.image IS NULL OR repo_path(f.image) = i.repository)
)
SELECT registry, repository, digest,
       count(DISTINCT (vuln_id, package)) FILTER (severity = 'CRITICAL') AS critical,
       count(DISTINCT (vuln_id, package)) FILTER (severity = 'HIGH') AS high,
       count(DISTINCT (vuln_id, package)) FILTER (severity = 'MEDIUM') AS medium,
       count(DISTINCT (vuln_id, package)) FILTER (severity = 'LOW') AS low,
       count(DISTINCT (vuln_id, package)) FILTER (
           severity IN ('CRITICAL', 'HIGH') AND fixed_version IS NOT NULL
           AND fixed_version <> '') AS fixable,
       list(DISTINCT {'vuln_id': vuln_id, 'severity': severity, 'package': package,
                      'installed': installed_version, 'fixed': fixed_version,
                      'cvss': cvss, 'title': title}) AS vulns
FROM matched
GROUP BY ALL;

-- Top-level images some scanner looked at, found something or not.
CREATE OR REPLACE TABLE scanned_images AS
SELECT DISTINCT i.registry, i.repository, i.family_digest AS digest
FROM scans s
JOIN stg_images i
    ON (i.digest = s.digest OR (s.config_digest IS NOT NULL
                                AND i.config_digest = s.config_digest))
   AND (s.image IS NULL OR repo_path(s.image) = i.repository);

CREATE OR REPLACE MACRO exposure_rank(e) AS CASE e
    WHEN 'load-balancer' THEN 4 WHEN 'ingress' THEN 3 WHEN 'gateway' THEN 3
    WHEN 'node-port' THEN 2 ELSE 0 END;

CREATE OR REPLACE TABLE remediation AS
WITH runs_where AS (
    SELECT registry, repository, digest,
           max(exposure_rank(exposure)) > 0 AS exposed,
           arg_max(exposure, exposure_rank(exposure)) AS exposure,
           list_sort(list(DISTINCT {'cluster': cluster, 'namespace': namespace,
                                    'workload': workload, 'container': container,
                                    'exposure': exposure,
                                    'exposure_reason': exposure_reason})) AS workloads
    FROM running_images
    WHERE digest IS NOT NULL
    GROUP BY ALL
)
SELECT m.registry, m.repository, m.image, m.digest, m.kind, m.tags, m.pushed_at,
       m.status, m.method, m.confidence, m.evidence, m.reason, m.fix,
       m.candidate_runs,
       o.owner, o.owner_source, o.reason AS owner_reason,
       r.run_key, r.web_url AS run_url, r.pipeline, r.run_number, r.repo,
       r.commit_sha AS commit, r.system, r.branch,
       coalesce(v.critical, 0) AS critical, coalesce(v.high, 0) AS high,
       coalesce(v.medium, 0) AS medium, coalesce(v.low, 0) AS low,
       coalesce(v.fixable, 0) AS fixable,
       v.digest IS NOT NULL OR sc.digest IS NOT NULL AS scanned,
       coalesce(v.vulns, []) AS vulns,
       coalesce(w.exposed, false) AS exposed, coalesce(w.exposure, 'none') AS exposure,
       w.workloads IS NOT NULL AS running, coalesce(w.workloads, []) AS workloads
FROM image_mapping m
LEFT JOIN image_owners o USING (registry, repository, digest)
LEFT JOIN stg_runs r ON r.run_key = m.run_key
LEFT JOIN image_vulns v USING (registry, repository, digest)
LEFT JOIN runs_where w USING (registry, repository, digest)
LEFT JOIN scanned_images sc USING (registry, repository, digest)
WHERE m.top_level;

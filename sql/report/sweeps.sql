-- Sweep status of the latest job (the one that started last): one row per source
-- scope, failed first, with the error and when the scope last loaded successfully
-- (its rows from then are the ones still reported).
WITH latest AS (
    SELECT arg_max(job_id, started_at) AS job_id FROM sweeps
),
last_ok AS (
    SELECT source, scope, max(finished_at) AS last_ok_at
    FROM sweeps
    WHERE status = 'ok'
    GROUP BY ALL
)
SELECT s.job_id, s.source, s.scope, s.status,
       s.status <> 'ok' AS failed,
       coalesce(s.rows_loaded, 0) AS rows_loaded,
       coalesce(s.error, '') AS error,
       strftime(s.started_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M UTC') AS started_at,
       coalesce(strftime(o.last_ok_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M UTC'), '')
           AS last_ok_at
FROM sweeps s
JOIN latest USING (job_id)
LEFT JOIN last_ok o
    ON o.source = s.source AND o.scope = s.scope AND s.status <> 'ok'
ORDER BY failed DESC, s.source, s.scope;

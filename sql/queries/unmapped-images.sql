-- Images no run could be proven to have built, with the reason and how to fix it.
SELECT image, digest, array_to_string(tags, ',') AS tags, status, reason, fix,
       owner, running, critical, high
FROM remediation
WHERE status <> 'mapped'
ORDER BY status, critical DESC, high DESC, image, digest;

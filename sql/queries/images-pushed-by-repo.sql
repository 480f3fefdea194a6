-- Images pushed by code repositories: every mapped image with the repo, pipeline run
-- and commit that built it, and the evidence of the link.
SELECT repo, pipeline, image, digest, array_to_string(tags, ',') AS tags,
       run_url, commit, method, owner
FROM remediation
WHERE status = 'mapped'
ORDER BY repo, image, pushed_at DESC NULLS LAST, digest;

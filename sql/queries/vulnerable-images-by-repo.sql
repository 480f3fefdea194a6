-- Images pushed by code repositories that have vulnerabilities: the same as
-- images-pushed-by-repo, only images with findings, worst first.
SELECT repo, pipeline, image, digest, array_to_string(tags, ',') AS tags,
       critical, high, medium, low, fixable, run_url, commit, owner
FROM remediation
WHERE status = 'mapped' AND critical + high + medium + low > 0
ORDER BY repo, critical DESC, high DESC, image, digest;

-- The CODEOWNERS rule that owns each mapped image's Dockerfile, from the frame
-- _matches that etl.pipeline.match_codeowners registers.
CREATE OR REPLACE TABLE codeowner_matches AS
SELECT registry::VARCHAR AS registry, repository::VARCHAR AS repository,
       digest::VARCHAR AS digest, repo::VARCHAR AS repo,
       commit_sha::VARCHAR AS commit_sha, owners::VARCHAR AS owners,
       file::VARCHAR AS file, line::INTEGER AS line, pattern::VARCHAR AS pattern,
       path::VARCHAR AS path, why::VARCHAR AS why
FROM _matches;

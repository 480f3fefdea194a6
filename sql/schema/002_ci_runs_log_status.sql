-- Why a run has the push events it has: its logs were read, were gone, or never
-- needed reading. Lets reports tell "built nothing" from "logs expired".
ALTER TABLE ci_runs ADD COLUMN IF NOT EXISTS log_status VARCHAR;
COMMENT ON COLUMN ci_runs.log_status IS 'scanned, no-push-step (no job could push), expired (retention), unreadable, or unfinished.';

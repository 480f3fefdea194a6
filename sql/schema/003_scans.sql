-- Which images a scanner looked at, so "scanned, nothing found" differs from "never
-- scanned" in the reports.
CREATE TABLE IF NOT EXISTS scans (
    digest         VARCHAR,
    config_digest  VARCHAR,
    image          VARCHAR,
    scanner        VARCHAR NOT NULL,
    findings       BIGINT NOT NULL,
    source         VARCHAR NOT NULL,
    scope          VARCHAR NOT NULL,
    sweep_id       VARCHAR NOT NULL
);
COMMENT ON TABLE scans IS 'One scanner report about one image, whether it found anything or not.';
COMMENT ON COLUMN scans.digest IS 'The registry (repo) digest the scanner names, when it names one.';
COMMENT ON COLUMN scans.config_digest IS 'The config digest (image ID) of the scanned image.';
COMMENT ON COLUMN scans.image IS 'Normalised repository of the scanned reference.';
COMMENT ON COLUMN scans.scanner IS 'trivy, grype, trivy-operator, ecr, ...';
COMMENT ON COLUMN scans.findings IS 'How many findings the report held.';

-- Version 5: the warehouse is a DuckLake. Each run's rows are one snapshot, whose id the run keeps;
-- the host and process of a run tell a crashed run (abandoned) from one still writing elsewhere.
ALTER TABLE store.runs ADD COLUMN snapshot_id BIGINT;
ALTER TABLE store.runs ADD COLUMN host VARCHAR;
ALTER TABLE store.runs ADD COLUMN pid INTEGER;

-- the digest of views.sql the views were last built from: they are rebuilt only when it changes
CREATE TABLE store.views_version (digest VARCHAR NOT NULL, built_at TIMESTAMPTZ NOT NULL);

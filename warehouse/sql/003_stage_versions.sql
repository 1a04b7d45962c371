-- Version 3: which version of each stage produced what, and what kind of run a run was.
ALTER TABLE store.articles ADD COLUMN clean_version VARCHAR;
ALTER TABLE store.articles ADD COLUMN dedup_version VARCHAR;
ALTER TABLE store.articles ADD COLUMN summary_version VARCHAR;
ALTER TABLE store.articles ADD COLUMN tag_version VARCHAR;
ALTER TABLE store.stories ADD COLUMN summary_version VARCHAR;
ALTER TABLE store.runs ADD COLUMN kind VARCHAR DEFAULT 'ingest';

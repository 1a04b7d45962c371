-- The public SQL interface, stored in the lake (any DuckDB that attaches it sees them). Rebuilt when
-- this file changes, so a view change needs no migration.
CREATE OR REPLACE VIEW articles AS
SELECT a.article_id, a.source, a.url, a.path, a.guid, a.title, a.title_derived, a.byline, a.dateline,
       a.credit, a.published_at, a.language, a.site_name, a.text, a.word_count, a.content_hash,
       a.text_hash, a.story_id, a.duplicate_of, a.duplicate_kind, a.similarity,
       array_to_string(a.summary, ' ') AS summary, a.summary AS summary_sentences,
       a.run_id, a.ingested_at, a.clean_version, a.dedup_version, a.summary_version, a.tag_version
FROM store.articles a;

CREATE OR REPLACE VIEW article_tags AS
SELECT article_id, issue, score, array_to_string(evidence, ', ') AS evidence,
       evidence AS evidence_terms
FROM store.article_tags;

CREATE OR REPLACE VIEW stories AS
WITH members AS (
    SELECT story_id,
           count(*) AS article_count,
           count(*) FILTER (WHERE duplicate_of IS NULL) AS distinct_articles,
           min(ingested_at) AS first_seen,
           max(ingested_at) AS last_seen,
           min(published_at) AS first_published,
           list(DISTINCT source ORDER BY source) AS sources
    FROM store.articles
    GROUP BY story_id
)
SELECT m.story_id, s.title, m.article_count, m.distinct_articles, m.first_seen, m.last_seen,
       m.first_published, m.sources, array_to_string(s.summary, ' ') AS summary, s.summary_version
FROM members m
LEFT JOIN store.stories s USING (story_id);

CREATE OR REPLACE VIEW runs AS
SELECT run_id, kind, flow_run_id, started_at, finished_at, status, discovered, skipped, new_articles,
       duplicates, rejected, sources, message, snapshot_id
FROM store.runs;

CREATE OR REPLACE VIEW rejects AS
SELECT run_id, source, locator, reason, content_hash, rejected_at
FROM store.rejects;

CREATE OR REPLACE VIEW source_health AS
SELECT source, url, last_status, last_error, last_success, last_polled, consecutive_failures,
       next_poll_at, disabled, disabled_reason,
       (last_status IS NOT NULL AND last_status NOT IN ('ok', 'not modified', 'unchanged')
        AND last_status NOT LIKE 'ok%') AS failing
FROM store.source_state;

-- Every input a run read for the first time (a path or URL with bytes new to it), with its one outcome:
-- stored, duplicate (of an article, or a byte-identical copy of an input read in the same run),
-- already stored (the same bytes stored by an earlier run) or rejected (with the reason).
CREATE OR REPLACE VIEW inputs AS
SELECT run_id, source, locator, content_hash,
       CASE WHEN duplicate_of IS NULL THEN 'stored' ELSE 'duplicate' END AS outcome,
       article_id, run_id AS stored_by_run,
       CASE WHEN duplicate_of IS NULL THEN 'stored as article ' || article_id
            ELSE coalesce(duplicate_kind, 'a') || ' duplicate of article ' || duplicate_of END AS detail,
       ingested_at AS recorded_at
FROM store.articles
UNION ALL
SELECT run_id, source, locator, content_hash, 'rejected', NULL, NULL, reason, rejected_at
FROM store.rejects
UNION ALL
SELECT c.run_id, c.source, c.locator, c.content_hash,
       CASE WHEN a.article_id IS NULL THEN 'rejected' WHEN a.run_id = c.run_id THEN 'duplicate'
            ELSE 'already stored' END,
       a.article_id, a.run_id,
       CASE WHEN a.article_id IS NULL THEN 'the same bytes as ' || c.original || ', rejected: '
                                           || coalesce(r.reason, 'reason not recorded')
            WHEN a.run_id = c.run_id THEN 'exact copy of ' || c.original || ' (article ' || a.article_id
                                          || '), read in the same run'
            ELSE 'the same bytes as ' || c.original || ', stored by run ' || a.run_id || ' as article '
                 || a.article_id END,
       c.recorded_at
FROM store.input_copies AS c
LEFT JOIN store.articles AS a ON a.content_hash = c.content_hash
LEFT JOIN (SELECT content_hash, arg_min(reason, rejected_at) AS reason FROM store.rejects
           WHERE content_hash IS NOT NULL GROUP BY content_hash) AS r ON r.content_hash = c.content_hash;

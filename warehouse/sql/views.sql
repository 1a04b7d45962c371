-- The public SQL interface, stored in the lake (any DuckDB that attaches it sees them). Rebuilt when
-- this file changes, so a view change needs no migration.
-- The UTC date of a timestamp (a run's day, as export counts runs), whatever the session's TimeZone. A
-- timestamp without a time zone, or a date, is taken as UTC already: timezone('UTC', ...) would read it
-- as UTC and give a TIMESTAMPTZ, whose date is then taken in the session's zone (the day before, west of UTC).
CREATE OR REPLACE MACRO utc_day(ts) AS
    CASE WHEN typeof(ts) = 'TIMESTAMP WITH TIME ZONE' THEN CAST(timezone('UTC', ts) AS DATE) ELSE CAST(ts AS DATE) END;

-- An article's day, as the digest's trend, search and export count days: the UTC date of its publication,
-- or of its ingestion when the publication date is unknown.
CREATE OR REPLACE MACRO article_day(published_at, ingested_at) AS utc_day(coalesce(published_at, ingested_at));

CREATE OR REPLACE VIEW articles AS
SELECT a.article_id, a.source, a.url, a.path, a.guid, a.title, a.title_derived, a.byline, a.dateline,
       a.credit, a.published_at, a.language, a.site_name, a.text, a.word_count, a.content_hash,
       a.text_hash, a.story_id, a.duplicate_of, a.duplicate_kind, a.similarity,
       array_to_string(a.summary, ' ') AS summary, a.summary AS summary_sentences,
       a.run_id, a.ingested_at, a.clean_version, a.dedup_version, a.summary_version, a.tag_version,
       a.feed_text_reason
FROM store.articles a;

-- A tag the source gives every article of it ([[sources]] tags, evidence 'source default') has no score:
-- NULL, not the 0.0 stored for it, so that sums, averages and thresholds over score leave it out.
CREATE OR REPLACE VIEW article_tags AS
SELECT article_id, issue, CASE WHEN evidence = ['source default'] THEN NULL ELSE score END AS score,
       array_to_string(evidence, ', ') AS evidence, evidence AS evidence_terms
FROM store.article_tags;

-- An article's issues, best first (score, then name), as search and export list them.
CREATE OR REPLACE MACRO tag_list(id) AS
    (SELECT coalesce(list(t.issue ORDER BY t.score DESC, t.issue), []) FROM article_tags AS t
     WHERE t.article_id = id);

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
       -- a poll that worked: ok, not modified or unchanged, each perhaps with notes, 'unchanged (moved …)'
       (last_status IS NOT NULL
        AND NOT regexp_matches(last_status, '^(ok|not modified|unchanged)( \(|$)')) AS failing
FROM store.source_state;

-- Every input a run read for the first time (a path or URL with bytes new to it), with its one outcome:
-- stored, duplicate (of an article, or a byte-identical copy of an input read in the same run),
-- already stored (the same bytes stored by an earlier run) or rejected (with the reason).
CREATE OR REPLACE VIEW inputs AS
SELECT run_id, source, locator, content_hash,
       CASE WHEN duplicate_of IS NULL THEN 'stored' ELSE 'duplicate' END AS outcome,
       article_id, run_id AS stored_by_run,
       CASE WHEN duplicate_of IS NULL THEN 'stored as article ' || article_id
            ELSE coalesce(duplicate_kind, 'a') || ' duplicate of article ' || duplicate_of END
       || coalesce(', from the feed''s text (' || feed_text_reason || ')', '') AS detail,
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

-- Full-text search (the postings and the token rule are in sql/007_search.sql; README: Search).
-- search_articles(query): every article matching any token of the query, ranked by BM25 (k1 = 1.2,
-- b = 0.75) over its title and text; matched = how many of the query's tokens it holds; root_id = the
-- original it duplicates (else itself); dated_at = its publication time, else its ingestion time.
CREATE OR REPLACE MACRO search_articles(query) AS TABLE
WITH keys AS (SELECT DISTINCT search_key(unnest(search_tokens(query))) AS term_key),
hits AS (SELECT term_key, article_id, tf FROM store.search_terms WHERE term_key IN (SELECT term_key FROM keys)),
corpus AS (SELECT count(*) AS documents, avg(length) AS mean_length FROM store.search_docs),
weights AS (SELECT h.term_key, ln(1 + (any_value(c.documents) - count(*) + 0.5) / (count(*) + 0.5)) AS idf
            FROM hits AS h, corpus AS c GROUP BY h.term_key)
SELECT h.article_id,
       sum(w.idf * h.tf * (1.2 + 1) / (h.tf + 1.2 * (1 - 0.75 + 0.75 * d.length / c.mean_length))) AS score,
       count(*) AS matched, any_value(d.root_id) AS root_id, any_value(d.dated_at) AS dated_at
FROM hits AS h JOIN weights AS w USING (term_key) JOIN store.search_docs AS d USING (article_id), corpus AS c
GROUP BY h.article_id;

-- search_hits(query, since := DATE, issue_name := NAME, top := N): the best `top` hits (default 10) as a
-- reader wants them, one row per original article with the matching duplicates folded under it (copies),
-- its story, tags, source and date (UTC; the publication date, else the ingestion date). since and
-- issue_name keep only the hits dated on or after since and tagged with that issue (in any case), judged on the
-- original shown (its day and tags), not on a matching copy folded under it (the defaults, and
-- NULL, keep all; the defaults are not NULL because a DuckLake catalog cannot store a NULL default, and
-- the parameter is not called issue because a parameter with a default must not share a column's name).
CREATE OR REPLACE MACRO search_hits(query, since := DATE '0001-01-01', issue_name := '', top := 10) AS TABLE
WITH found AS (
    SELECT f.article_id, f.root_id, f.score, f.matched FROM search_articles(query) AS f
    LEFT JOIN store.search_docs AS r ON r.article_id = f.root_id  -- the original's date: the day shown
    WHERE coalesce(r.dated_at, f.dated_at)
              >= timezone('UTC', CAST(CAST(coalesce(since, DATE '0001-01-01') AS DATE) AS TIMESTAMP))
      AND (coalesce(issue_name, '') = ''
           OR f.root_id IN (SELECT t.article_id FROM article_tags AS t WHERE lower(t.issue) = lower(issue_name)))
), best AS (
    SELECT root_id, max(score) AS score, max(matched) AS matched FROM found
    GROUP BY root_id ORDER BY score DESC, root_id LIMIT top
), shown AS MATERIALIZED (  -- one read of the articles: the hits shown and their matching copies
    SELECT article_id, title, source, url, path, published_at, ingested_at, story_id, duplicate_of, duplicate_kind
    FROM articles
    WHERE article_id IN (SELECT root_id FROM best UNION ALL SELECT f.article_id FROM found AS f SEMI JOIN best USING (root_id))
)
SELECT o.article_id, b.score, b.matched, o.title, o.source, coalesce(o.url, o.path) AS location,
       article_day(o.published_at, o.ingested_at) AS day,
       o.published_at IS NULL AS day_is_ingested,
       o.story_id, s.title AS story,
       tag_list(o.article_id) AS tags,
       (SELECT coalesce(list({'article_id': c.article_id, 'title': c.title, 'source': c.source,
                              'kind': c.duplicate_kind} ORDER BY c.ingested_at, c.article_id), [])
        FROM shown AS c WHERE c.duplicate_of = o.article_id) AS copies
FROM best AS b JOIN shown AS o ON o.article_id = b.root_id
LEFT JOIN store.stories AS s ON s.story_id = o.story_id  -- the title only: not the stories view's counts
ORDER BY b.score DESC, o.article_id;

-- Version 7: full-text search without DuckDB's fts extension (which cannot index a DuckLake table).
-- Our own postings, written in the same transaction as the articles they index, and the one token
-- rule that both the index and the search_articles macro (views.sql) use.

-- The token rule: lower case, accents stripped, split at anything but letters and digits (any
-- script), tokens of 2 to 40 characters that are not English stop words, then a light plural
-- stemmer (a final s dropped unless -ss, -us or -is; -ies to -y), so "guarantees" finds "guarantee".
-- Changing it means re-indexing: do it in a new migration that replaces this macro and rebuilds
-- store.search_terms and store.search_docs from store.articles.
CREATE OR REPLACE MACRO search_tokens(s) AS list_transform(
    list_filter(regexp_split_to_array(lower(strip_accents(coalesce(s, ''))), '[^\p{L}\p{N}]+'),
                lambda t: length(t) BETWEEN 2 AND 40 AND NOT list_contains(
                    ['a', 'about', 'after', 'all', 'also', 'an', 'and', 'any', 'are', 'as', 'at', 'be', 'been',
                     'before', 'but', 'by', 'can', 'could', 'did', 'do', 'does', 'for', 'from', 'had', 'has',
                     'have', 'he', 'her', 'him', 'his', 'how', 'if', 'in', 'into', 'is', 'it', 'its', 'just',
                     'may', 'me', 'more', 'most', 'my', 'no', 'not', 'now', 'of', 'on', 'one', 'only', 'or',
                     'other', 'our', 'out', 'over', 'said', 'says', 'she', 'should', 'so', 'some', 'such',
                     'than', 'that', 'the', 'their', 'them', 'then', 'there', 'these', 'they', 'this', 'those',
                     'to', 'up', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'while', 'who',
                     'will', 'with', 'would', 'you', 'your'], t)),
    lambda t: CASE WHEN length(t) > 4 AND t[-3:] = 'ies' THEN t[:-4] || 'y'
              WHEN length(t) > 3 AND t[-1:] = 's' AND t[-2:] NOT IN ('ss', 'us', 'is') THEN t[:-2]
              ELSE t END);

-- A token as the index stores it: 8 bytes (the low half of its MD5, stable across DuckDB versions),
-- so a search scans numbers, not strings.
CREATE OR REPLACE MACRO search_key(token) AS md5_number_lower(token);

-- The postings of the articles of the given runs (a list of run ids): how often each token occurs in
-- each article, an occurrence in the title counting 3 times. (A list, not one id, so that the run
-- filter is applied inside the scan and only those articles' texts are read.)
CREATE OR REPLACE MACRO search_postings(runs) AS TABLE
SELECT search_key(term) AS term_key, article_id, sum(weight)::USMALLINT AS tf
FROM (SELECT article_id, unnest(search_tokens(title)) AS term, 3 AS weight
      FROM store.articles WHERE list_contains(runs, run_id)
      UNION ALL
      SELECT article_id, unnest(search_tokens(text)) AS term, 1 AS weight
      FROM store.articles WHERE list_contains(runs, run_id))
GROUP BY ALL;

CREATE TABLE store.search_terms (
    term_key   UBIGINT NOT NULL,    -- search_key() of the token
    article_id VARCHAR NOT NULL,
    tf         USMALLINT NOT NULL   -- occurrences in the text, plus 3 per occurrence in the title
);

CREATE TABLE store.search_docs (
    article_id VARCHAR NOT NULL,
    length     INTEGER NOT NULL,    -- the sum of the article's tf: its weighted length in tokens
    root_id    VARCHAR NOT NULL,    -- the original it is a duplicate of, else itself: hits fold on it
    dated_at   TIMESTAMPTZ NOT NULL -- its publication time, else its ingestion time: for `since`
);

-- Index what is stored already. Postings are written in key order, so that a search can skip the
-- blocks of the table whose key range does not hold its tokens.
CREATE OR REPLACE TEMP TABLE search_run AS
SELECT * FROM search_postings((SELECT coalesce(list(DISTINCT run_id), []::VARCHAR[]) FROM store.articles));

-- The search_docs rows of the postings in the temp table search_run: with root_id and dated_at (an
-- article's duplicate_of and dates are written once, never changed), a search reads neither the
-- articles nor their texts to rank and fold. (The table is made just above so that the macro can be
-- created; each run's write makes its own.)
CREATE OR REPLACE MACRO search_documents() AS TABLE
SELECT r.article_id, sum(r.tf)::INTEGER AS length, any_value(coalesce(a.duplicate_of, a.article_id)) AS root_id,
       any_value(coalesce(a.published_at, a.ingested_at)) AS dated_at
FROM search_run AS r JOIN store.articles AS a USING (article_id)
GROUP BY r.article_id;

INSERT INTO store.search_terms SELECT * FROM search_run ORDER BY term_key;
INSERT INTO store.search_docs SELECT * FROM search_documents();
DROP TABLE search_run;

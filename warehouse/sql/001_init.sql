-- Version 1: the stored tables. Public views live in views.sql and are rebuilt on every connect.
CREATE SCHEMA IF NOT EXISTS store;

CREATE TABLE store.runs (
    run_id       VARCHAR NOT NULL,
    flow_run_id  VARCHAR,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL,          -- running, completed, failed, abandoned
    discovered   INTEGER DEFAULT 0,         -- inputs found in the sources
    skipped      INTEGER DEFAULT 0,         -- inputs already stored (same content hash)
    new_articles INTEGER DEFAULT 0,         -- articles stored that are not duplicates
    duplicates   INTEGER DEFAULT 0,         -- articles stored as duplicates of earlier ones
    rejected     INTEGER DEFAULT 0,         -- inputs rejected with a reason
    sources      VARCHAR,                   -- the sources this run read
    message      VARCHAR                    -- why a run failed or was abandoned
);

CREATE TABLE store.raw_inputs (
    content_hash VARCHAR NOT NULL,          -- sha256 of the raw bytes
    media_type   VARCHAR NOT NULL,
    size_bytes   BIGINT NOT NULL,
    raw          BLOB NOT NULL,             -- the input exactly as read, to process again later
    first_source VARCHAR,
    first_locator VARCHAR,
    run_id       VARCHAR NOT NULL
);

CREATE TABLE store.articles (
    article_id     VARCHAR NOT NULL,
    content_hash   VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    locator        VARCHAR NOT NULL,        -- the file path or the URL it was read from
    url            VARCHAR,                 -- canonical URL when known
    path           VARCHAR,                 -- file path for file inputs
    guid           VARCHAR,
    title          VARCHAR,
    title_derived  BOOLEAN NOT NULL DEFAULT FALSE,
    byline         VARCHAR,
    dateline       VARCHAR,
    credit         VARCHAR,
    published_at   TIMESTAMPTZ,             -- NULL when unknown
    language       VARCHAR,
    site_name      VARCHAR,
    text           VARCHAR NOT NULL,
    word_count     INTEGER NOT NULL,
    text_hash      VARCHAR NOT NULL,
    story_id       VARCHAR,
    duplicate_of   VARCHAR,
    duplicate_kind VARCHAR,                 -- exact, url or near
    similarity     DOUBLE,
    minhash        BLOB,
    story_terms    VARCHAR,                 -- JSON object term -> weight
    summary        VARCHAR[],
    run_id         VARCHAR NOT NULL,
    ingested_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE store.article_tags (
    article_id VARCHAR NOT NULL,
    issue      VARCHAR NOT NULL,
    score      DOUBLE NOT NULL,
    evidence   VARCHAR[] NOT NULL,
    run_id     VARCHAR NOT NULL
);

CREATE TABLE store.stories (
    story_id   VARCHAR NOT NULL,
    title      VARCHAR,
    summary    VARCHAR[],
    run_id     VARCHAR NOT NULL,            -- the run that last updated the story
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE store.rejects (
    run_id       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    locator      VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    content_hash VARCHAR,
    rejected_at  TIMESTAMPTZ NOT NULL
);

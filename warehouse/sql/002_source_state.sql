-- Version 2: what each feed source's last polls left behind (validators, health, backoff).
CREATE TABLE store.source_state (
    source               VARCHAR NOT NULL,
    url                  VARCHAR NOT NULL,   -- the URL polled (updated by permanent redirects)
    configured_url       VARCHAR,            -- the URL in the config when the state was written
    etag                 VARCHAR,
    last_modified        VARCHAR,
    validators_at        TIMESTAMPTZ,
    body_hash            VARCHAR,
    last_status          VARCHAR,            -- ok, not modified, unchanged, or the failure: timeout, http 404, …
    last_error           VARCHAR,
    last_success         TIMESTAMPTZ,
    last_polled          TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at         TIMESTAMPTZ,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason      VARCHAR,
    run_id               VARCHAR NOT NULL
);

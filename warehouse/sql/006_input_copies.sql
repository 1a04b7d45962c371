-- Version 6: inputs that brought no article of their own because another input has their exact bytes
-- (a copy read earlier in the same run, or bytes a past run stored or rejected). With articles and
-- rejects they give every input one recorded outcome: see the inputs view.
CREATE TABLE store.input_copies (
    run_id       VARCHAR NOT NULL,   -- the run that read the copy
    source       VARCHAR NOT NULL,
    locator      VARCHAR NOT NULL,   -- the copy's file path or URL
    content_hash VARCHAR NOT NULL,   -- sha256 of its bytes, the same as the original's
    original     VARCHAR NOT NULL,   -- the locator of the input first read with these bytes
    recorded_at  TIMESTAMPTZ NOT NULL
);

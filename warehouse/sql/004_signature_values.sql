-- Version 4: every stored MinHash signature value with its position, so that a run loads only the
-- stored articles whose signatures share enough values with the new ones, not every article.
CREATE TABLE store.signature_values (
    article_id VARCHAR NOT NULL,
    position   SMALLINT NOT NULL,   -- 0-based place in the signature
    value      UBIGINT NOT NULL     -- the 8 bytes at that place, read as one number
);

INSERT INTO store.signature_values
SELECT article_id, (generate_subscripts(parts, 1) - 1)::SMALLINT, ('0x' || unnest(parts))::UBIGINT
FROM (SELECT article_id, regexp_extract_all(hex(minhash), '.{16}') AS parts
      FROM store.articles WHERE minhash IS NOT NULL);

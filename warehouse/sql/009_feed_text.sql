-- Version 9: why an article's text is its feed entry's own text and not its page ('page fetch failed: dns',
-- 'the page gave 12 words'), so that feed teasers can be told from pages; NULL for a page or a file, and for
-- articles stored before this version.
ALTER TABLE store.articles ADD COLUMN feed_text_reason VARCHAR;

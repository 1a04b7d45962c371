-- Version 8: each article's facts (numbers, days, months and names found inside sentences, lower-cased,
-- apostrophes straightened, possessives dropped), which dedup compares exactly for a near-duplicate
-- candidate: a copy keeps its original's facts, the next report of a template changes them. Articles
-- stored before this version have none (NULL): dedup then decides on their signatures alone.
ALTER TABLE store.articles ADD COLUMN facts VARCHAR[];

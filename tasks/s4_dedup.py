"""Duplicate detection (exact, URL, near) and story assignment for a batch against the warehouse."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain

import numpy as np

from config.settings import DedupSettings
from tasks.s3_fingerprint import BandIndex, common_values, distinct_overlap, prepare
from tasks.records import Article, KnownArticle, KnownProbe
from tasks.sources.urls import article_url, url_slug
from tasks.text.hashing import text_hash

__all__ = ["assign", "facts_agree", "known_probe", "number_facts", "seen_at"]

LOGGER = logging.getLogger(__name__)

# A truncated copy keeps most of its shingles inside the original even when Jaccard drops:
# it counts as a near duplicate when at least this share of the smaller text is contained ...
NEAR_CONTAINMENT = 0.75
# ... and the two still overlap this much (so a short piece quoted inside a much longer one is not).
CONTAINMENT_MIN_JACCARD = 0.25
# Candidates are searched a little below the decision thresholds: MinHash estimates are noisy.
LSH_MARGIN = 0.8
# A near-duplicate must also keep the facts (numbers, days, months and names; compared exactly, not
# estimated): a syndicated, trimmed, restyled or lightly edited copy keeps nearly all of them, the next
# report of a template (a market wrap, a forecast, a court list) or an update changes them. Two texts
# are no copies of each other when at least MIN_MISSING_FACTS of the facts of the one with fewer are
# missing from the other, and these are more than 1 - FACT_CONTAINMENT of them. Chosen on the tuning
# half (python -m bench.tune_fact_check): about the middle (0.627) of the gap between syndication
# variants (at least 0.654 of the facts kept) and templated reports of one series (at most 0.600); the
# floor keeps one edited name of a text with two facts from deciding (templated reports miss at least 4).
# The numbers are also checked alone, by the same rule: a template's names repeat in every report (a
# product, its parts, the team) and can carry the share of all facts over the threshold while its numbers
# change (release notes of versions 3.4.0 and 3.5.0 kept 9 of 14 facts but 3 of 8 numbers). On the tuning
# half no syndication variant misses 3 numbers (of 3,580), and no templated pair keeps more than 0.625.
FACT_CONTAINMENT = 0.625
MIN_MISSING_FACTS = 3
EMPTY_TEXT_HASH = text_hash("")
# A text of fewer words says too little to tell a copy from another article: its few shingles are
# mostly its names (weighted facts), which articles of one beat share, and a stock line ("Watch the
# video.", a coder's "priest abuse scandal.") stands under many headlines. Such a text is a near
# duplicate of nothing, and an exact copy only under the same headline. On the NYT tuning half's items
# (a headline and a one-line gist, 3 to 20 words: distinct front-page articles, with [clean] min_words
# = 1) 1,640 of 7,785 were near duplicates and 284 exact ones of another headline, 1,611 of them under
# 11 words; at 20 words and up, none. It is the default [clean] min_words: a text too short to store by
# default is too short to call a copy.
MIN_COPY_WORDS = 20
# What a source repeats in many of its articles (a footer, a sponsor or subscription block, the headings of
# a table of contents) says nothing of whether two of them are copies: a video description of 20 words over a
# channel's footer of 90 is 80 % contained in every other description of the channel. A signature value held
# at its position by at least SOURCE_COMMON_ARTICLES articles of one source (stored ones the lookup brought,
# and the batch) is such a repeated text's; a near-duplicate must also pass the same thresholds on the
# positions whose minimum of the two texts is no such value, when at least MIN_DISTINCT_POSITIONS of them
# are left (fewer: the two texts are little besides what the source repeats, and copies of one text in one
# source are judged as before). Chosen on the tuning half (bench/eval_dedup.py, whose articles are all of one
# source, each stored original with its two variants): 3 made every original and its variants hold their
# text in common (syndication recall 0.71), 4 missed 1 variant of 359, 5 and 6 missed none; the footer of a
# real YouTube channel's feed (13 descriptions) and the headings of a magazine's tables of contents recur in
# far more articles than 5.
SOURCE_COMMON_ARTICLES = 5
MIN_DISTINCT_POSITIONS = 16
# Batch articles join the story index one by one; every so many they are merged into its arrays.
TERM_INDEX_FLUSH = 256



def _article_url(article: Article) -> str | None:
    """The URL that identifies an article (see tasks.sources.urls.article_url), or None."""
    return article_url(article.cleaned.canonical_url or article.doc.url)


def _timestamp(instant: datetime) -> float:
    """Seconds since the epoch, treating a naive datetime as UTC."""
    return (instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)).timestamp()


def seen_at(article: Article, now: datetime) -> datetime:
    """The instant a batch article counts for: its publication, else its ingestion (this run, now).

    The batch side of the warehouse's article_day(published_at, ingested_at) (views.sql), which
    warehouse.read hands dedup as KnownArticle.seen_at for stored articles.
    """
    return article.cleaned.published_at or now


class TermIndex:
    """Inverted index of story term vectors; finds the best cosine match without comparing all pairs.

    Terms are weighted by inverse document frequency over everything compared in one call (the
    stored window and the batch), so names particular to an event count for more than words
    common to a whole beat; with only a handful of articles the weights are nearly flat.
    Each indexed vector keeps its article's instant (seconds since the epoch): a match is only
    looked for among those within window_days of the query's.
    """

    def __init__(self, vectors: list[dict[str, float]], stories: list[str], seen: list[float],
                 batch_vectors: list[dict[str, float]], window_days: float) -> None:
        # Stored vectors are flattened into arrays: 100k articles x 40 terms stay a few numpy passes.
        terms = list(chain.from_iterable((*vectors, *batch_vectors)))
        names = list(dict.fromkeys(terms))
        term_id = {t: i for i, t in enumerate(names)}
        all_ids = np.fromiter(map(term_id.__getitem__, terms), dtype=np.int64, count=len(terms))
        documents = len(vectors) + len(batch_vectors)
        idf = np.log((documents + 1) / (np.bincount(all_ids, minlength=len(names)) + 1.0)) + 1.0
        self._idf = dict(zip(names, idf.tolist()))
        self._unseen_idf = math.log(documents + 1) + 1.0
        lengths = np.fromiter(map(len, vectors), dtype=np.int64, count=len(vectors))
        ids = all_ids[:int(lengths.sum())]
        rows = np.repeat(np.arange(len(vectors)), lengths)
        weights = np.fromiter(chain.from_iterable(v.values() for v in vectors), dtype=np.float64, count=len(ids))
        weights *= idf[ids]
        norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=len(vectors)))
        weights /= np.where(norms[rows] > 0, norms[rows], 1.0)
        # Only terms some batch article has can contribute to a match.
        wanted = np.zeros(len(term_id), dtype=bool)
        wanted[[term_id[t] for t in {t for v in batch_vectors for t in v}]] = True
        keep = np.flatnonzero(wanted[ids])
        # Group postings by term: sorting (term id, position) pairs packed in one integer is far
        # quicker than an argsort.
        order = np.sort((ids[keep].astype(np.uint64) << np.uint64(32)) | keep.astype(np.uint64))
        order = (order & np.uint64(0xFFFFFFFF)).astype(np.int64)
        ids, rows, weights = ids[order], rows[order], weights[order]
        bounds = np.flatnonzero(np.diff(ids)) + 1
        self._stored: dict[str, tuple[np.ndarray, np.ndarray]] = {
            names[int(group[0])]: (r, w) for group, r, w in
            zip(np.split(ids, bounds), np.split(rows, bounds), np.split(weights, bounds)) if len(group)}
        self._added: dict[str, list[tuple[int, float]]] = {}
        self._pending = 0
        self.stories = list(stories)
        self._seen = list(seen)
        self._seen_array = np.array(self._seen, dtype=np.float64)
        self._window_s = window_days * 86400.0

    def weigh(self, vector: dict[str, float]) -> dict[str, float]:
        """Return the vector with idf weights applied, L2-normalised (empty if it has no weight)."""
        weighted = {t: w * self._idf.get(t, self._unseen_idf) for t, w in vector.items()}
        norm = math.sqrt(sum(w * w for w in weighted.values()))
        return {t: w / norm for t, w in weighted.items()} if norm > 0 else {}

    def add(self, vector: dict[str, float], story: str, seen: float) -> None:
        """Index one more article's vector under its story, with the instant it counts for."""
        slot = len(self.stories)
        self.stories.append(story)
        self._seen.append(seen)
        for term, weight in self.weigh(vector).items():
            self._added.setdefault(term, []).append((slot, weight))
        self._pending += 1
        if self._pending >= TERM_INDEX_FLUSH:
            self._flush()

    def _flush(self) -> None:
        """Move the postings added one by one into the array part, so large batches stay fast."""
        for term, postings in self._added.items():
            slots = np.array([p[0] for p in postings], dtype=np.int64)
            weights = np.array([p[1] for p in postings])
            if term in self._stored:
                old_slots, old_weights = self._stored[term]
                slots, weights = np.concatenate([old_slots, slots]), np.concatenate([old_weights, weights])
            self._stored[term] = (slots, weights)
        self._added, self._pending = {}, 0
        self._seen_array = np.array(self._seen, dtype=np.float64)

    def best(self, vector: dict[str, float], threshold: float, seen: float) -> tuple[str, float] | None:
        """Return (story id, cosine) of the closest indexed vector within the window of seen (an
        instant, seconds since the epoch) if it reaches the threshold."""
        query = self.weigh(vector)
        best_slot, best_score = -1, 0.0
        hits = [(self._stored[t][0], self._stored[t][1] * w) for t, w in query.items() if t in self._stored]
        if hits:
            scores = np.bincount(np.concatenate([h[0] for h in hits]),
                                 weights=np.concatenate([h[1] for h in hits]))
            scores[np.abs(self._seen_array[:len(scores)] - seen) > self._window_s] = 0.0
            best_slot = int(scores.argmax())
            best_score = float(scores[best_slot])
        added: dict[int, float] = {}
        for term, weight in query.items():
            for slot, other in self._added.get(term, ()):
                added[slot] = added.get(slot, 0.0) + weight * other
        for slot, score in sorted(added.items()):
            if score > best_score + 1e-12 and abs(self._seen[slot] - seen) <= self._window_s:
                best_slot, best_score = slot, score
        if best_slot < 0 or best_score < threshold - 1e-9:
            return None
        return self.stories[best_slot], best_score


def _enough_words(words: int | None) -> bool:
    """Whether a text is long enough to be called a copy by its words alone (unknown counts are)."""
    return words is None or words >= MIN_COPY_WORDS


def copy_key(hash_of_text: str, words: int | None, title: str | None) -> str:
    """What two texts must share to be exact copies: the text's hash, and under MIN_COPY_WORDS words the
    headline too."""
    return hash_of_text if _enough_words(words) else f"{hash_of_text}:{text_hash(title or '')}"


def facts_agree(facts: frozenset[str] | None, other: frozenset[str] | None) -> bool:
    """Whether two texts' facts allow one to be a copy of the other (True when either is unknown)."""
    if facts is None or other is None:
        return True
    return _contained(facts, other) and _contained(number_facts(facts), number_facts(other))


def number_facts(facts: frozenset[str]) -> frozenset[str]:
    """The facts that are numbers (checked alone too: see FACT_CONTAINMENT)."""
    return frozenset(f for f in facts if f[:1].isdigit())


def _contained(facts: frozenset[str], other: frozenset[str]) -> bool:
    """Whether the smaller of two fact sets is kept in the larger as a copy keeps it (see FACT_CONTAINMENT)."""
    small, large = (facts, other) if len(facts) <= len(other) else (other, facts)
    missing = len(small - large)
    return missing < MIN_MISSING_FACTS or len(small) - missing >= FACT_CONTAINMENT * len(small)


@dataclass
class _Match:
    """A decided duplicate: which article it copies, how, and how closely."""

    original: str
    kind: str
    similarity: float | None


class _Registry:
    """Everything one assign() call compares against: stored articles, then the batch as it is accepted."""

    def __init__(self, known: list[KnownArticle], batch: list[Article], settings: DedupSettings,
                 now: datetime) -> None:
        self.settings = settings
        known = sorted(known, key=lambda k: _timestamp(k.seen_at))
        self.parent = {k.article_id: k.duplicate_of for k in known if k.duplicate_of}
        self.story = {k.article_id: k.story_id for k in known if k.story_id}
        self.by_hash: dict[str, str] = {}
        for k in known:
            self.by_hash.setdefault(copy_key(k.text_hash, k.word_count, k.title), k.article_id)
        self.by_url = self._known_urls(known, batch)
        self._build_near(known, batch)
        self._build_stories(known, batch)

    def _known_urls(self, known: list[KnownArticle], batch: list[Article]) -> dict[str, str]:
        """Map normalised stored URLs to their article, normalising only those the batch could match."""
        slugs = {url_slug(u) for u in (_article_url(a) for a in batch) if u}
        urls: dict[str, str] = {}
        for k in known:
            if k.canonical_url and url_slug(k.canonical_url) in slugs:
                url = article_url(k.canonical_url)
                if url:
                    urls.setdefault(url, k.article_id)
        return urls

    def _build_near(self, known: list[KnownArticle], batch: list[Article]) -> None:
        """Index the stored signatures once; batch signatures are added as articles are accepted. Each
        signature's values its source repeats (see SOURCE_COMMON_ARTICLES) are marked once, over the stored
        articles and the batch."""
        s = self.settings
        width = s.num_perm * 8
        rows = [k for k in known if k.minhash and len(k.minhash) == width]
        if len(rows) < sum(1 for k in known if k.minhash):
            LOGGER.warning("%d stored signatures have another width than num_perm=%d and are ignored",
                           sum(1 for k in known if k.minhash) - len(rows), s.num_perm)
        matrix = np.frombuffer(b"".join(k.minhash for k in rows), dtype="<u8").reshape(len(rows), s.num_perm)
        self.slot_ids = [k.article_id for k in rows]
        self.slot_facts = [k.facts for k in rows]
        self.slot_words = [k.word_count for k in rows]
        self.slot_of: dict[str, int] = {}
        for slot, aid in enumerate(self.slot_ids):
            self.slot_of.setdefault(aid, slot)
        threshold = LSH_MARGIN * min(s.near_threshold, CONTAINMENT_MIN_JACCARD)
        self.near = BandIndex(matrix, s.num_perm, threshold)
        signed = [(a, self.near.decode(a.minhash)) for a in batch]
        signed = [(a, sig) for a, sig in signed if sig is not None]
        in_batch = {a.article_id for a, _ in signed}
        # a stored copy of a batch article (a re-run) is counted once, as the batch article
        groups = [None if k.article_id in in_batch else k.source for k in rows] + [a.doc.source for a, _ in signed]
        stacked = np.vstack([matrix, *[sig[None, :] for _, sig in signed]]) if signed else matrix
        # a stored copy (duplicate_of) is its original's text again: it counts as none of its source's articles
        counted = [not k.duplicate_of for k in rows] + [True] * len(signed)
        common = common_values(stacked, groups, SOURCE_COMMON_ARTICLES, counted)
        self.common_of = {a.article_id: common[len(rows) + i] for i, (a, _) in enumerate(signed)}
        self.slot_common = [self.common_of.get(aid, common[slot]) for slot, aid in enumerate(self.slot_ids)]

    def _build_stories(self, known: list[KnownArticle], batch: list[Article]) -> None:
        """Index the term vectors of stored originals (the window is checked per pair, in TermIndex.best)."""
        originals = [k for k in known if not k.duplicate_of and k.story_terms]
        self.terms = TermIndex([k.story_terms for k in originals],
                               [k.story_id or k.article_id for k in originals],
                               [_timestamp(k.seen_at) for k in originals],
                               [a.story_terms for a in batch if a.story_terms], self.settings.story_window_days)

    def root(self, article_id: str) -> str:
        """Follow duplicate_of links to the original (guarding against cycles)."""
        seen = {article_id}
        while article_id in self.parent and self.parent[article_id] not in seen:
            article_id = self.parent[article_id]
            seen.add(article_id)
        return article_id

    def story_of(self, article_id: str) -> str:
        """Return the story an article belongs to (its original's when it has none of its own)."""
        root = self.root(article_id)
        return self.story.get(article_id) or self.story.get(root) or root

    def find_duplicate(self, article: Article, signature: np.ndarray | None) -> _Match | None:
        """Return the article this one duplicates (exact, then URL, then near), if any."""
        own = article.article_id  # an article re-run against its own stored copy is no duplicate
        key = copy_key(article.text_hash, article.word_count, article.cleaned.title)
        if article.text_hash and article.text_hash != EMPTY_TEXT_HASH and self.by_hash.get(key, own) != own:
            return _Match(self.by_hash[key], "exact", 1.0)
        url = _article_url(article)
        if url and self.by_url.get(url, own) != own:
            original = self.by_url[url]
            return _Match(original, "url", self.near.similarity(signature, self.slot_of.get(original)))
        if signature is None or not _enough_words(article.word_count):
            return None
        best: tuple[float, int] | None = None
        for slot, jaccard, containment in self.near.candidates(signature):
            if self.slot_ids[slot] != own and _enough_words(self.slot_words[slot]) \
                    and self._near(jaccard, containment) and facts_agree(article.facts, self.slot_facts[slot]) \
                    and self._distinct_agree(signature, self.common_of.get(own), slot):
                if best is None or jaccard > best[0] or (jaccard == best[0] and slot < best[1]):
                    best = (jaccard, slot)
        return _Match(self.slot_ids[best[1]], "near", round(best[0], 4)) if best else None

    def _distinct_agree(self, signature: np.ndarray, common: np.ndarray | None, slot: int) -> bool:
        """Whether two texts are still near copies without what their sources repeat (see
        SOURCE_COMMON_ARTICLES; True when too little else is left to tell)."""
        if common is None:
            return True
        left, jaccard, containment = distinct_overlap(signature, common, self.near.row(slot), self.slot_common[slot])
        return left < MIN_DISTINCT_POSITIONS or self._near(jaccard, containment)

    def _near(self, jaccard: float, containment: float) -> bool:
        """Whether two signatures are alike enough for a near copy: their Jaccard, or the smaller one's
        containment in the larger with a lower Jaccard."""
        return jaccard >= self.settings.near_threshold or (
            jaccard >= CONTAINMENT_MIN_JACCARD and containment >= NEAR_CONTAINMENT)

    def relation(self, article: Article, signature: np.ndarray | None, match: _Match,
                 root: str) -> tuple[str, float | None]:
        """How an article copies the original it is marked a duplicate of (kind, similarity). A copy of a copy
        is marked a duplicate of the first copy's original: it is an exact duplicate of that original only
        with its text (and under MIN_COPY_WORDS words its headline), a URL duplicate only with its URL, else a
        near one, with its estimated similarity to the original."""
        if match.original == root:
            return match.kind, match.similarity
        if self.by_hash.get(copy_key(article.text_hash, article.word_count, article.cleaned.title)) == root:
            return "exact", 1.0
        similarity = self.near.similarity(signature, self.slot_of.get(root))
        url = _article_url(article)
        return ("url" if url and self.by_url.get(url) == root else "near"), similarity

    def accept(self, article: Article, signature: np.ndarray | None, seen: float) -> None:
        """Make a decided batch article visible to the articles after it (seen: its instant, epoch seconds)."""
        aid = article.article_id
        if article.duplicate_of:
            self.parent[aid] = article.duplicate_of
        self.story[aid] = article.story_id or aid
        if article.text_hash and article.text_hash != EMPTY_TEXT_HASH:
            self.by_hash.setdefault(copy_key(article.text_hash, article.word_count, article.cleaned.title), aid)
        url = _article_url(article)
        if url:
            self.by_url.setdefault(url, aid)
        if signature is not None:
            self.slot_of.setdefault(aid, self.near.add(signature))
            self.slot_ids.append(aid)
            self.slot_facts.append(article.facts)
            self.slot_words.append(article.word_count)
            self.slot_common.append(self.common_of.get(aid, np.zeros(len(signature), dtype=bool)))
        if not article.duplicate_of and article.story_terms:
            self.terms.add(article.story_terms, article.story_id or aid, seen)


def assign(articles: list[Article], known: list[KnownArticle], settings: DedupSettings, now: datetime) -> None:
    """Mark duplicates and assign story ids against stored and earlier batch articles.

    The batch is decided in the order of the instants its articles count for (seen_at: publication,
    else now; list order among equals), as stored articles are: of two copies the earlier published is
    the original. A duplicate is found whatever the dates; a story is joined only through an article
    within story_window_days of this one, stored or of the batch.
    """
    unprepared = [a for a in articles if not a.text_hash]
    if unprepared:
        prepare(unprepared, settings)
    registry = _Registry(known, articles, settings, now)
    counts = {"exact": 0, "url": 0, "near": 0, "joined": 0, "new": 0}
    instants = [(_timestamp(seen_at(a, now)), a) for a in articles]
    for seen, article in sorted(instants, key=lambda pair: pair[0]):
        article.duplicate_of = article.duplicate_kind = article.similarity = article.story_id = None
        signature = registry.near.decode(article.minhash)
        match = registry.find_duplicate(article, signature)
        if match and registry.root(match.original) == article.article_id:
            match = None  # a stored copy of this very article: nothing to point at
        if match:
            article.duplicate_of = registry.root(match.original)
            article.duplicate_kind, article.similarity = registry.relation(article, signature, match,
                                                                           article.duplicate_of)
            article.story_id = registry.story_of(match.original)
            counts[match.kind] += 1
        else:
            story = registry.terms.best(article.story_terms, settings.story_threshold, seen)
            article.story_id = story[0] if story else article.article_id
            counts["joined" if story else "new"] += 1
        registry.accept(article, signature, seen)
    LOGGER.info("dedup: %d exact, %d url, %d near duplicates; %d joined a story, %d new stories",
                counts["exact"], counts["url"], counts["near"], counts["joined"], counts["new"])


def known_probe(articles: list[Article], settings: DedupSettings) -> KnownProbe | None:
    """What a batch can match among stored articles, so the warehouse loads only those (None: load all).

    A stored signature sharing fewer positions with every new one than the weakest near-duplicate test
    needs (an estimated Jaccard of min(near_threshold, CONTAINMENT_MIN_JACCARD)) cannot match.
    """
    min_equal = math.floor(min(settings.near_threshold, CONTAINMENT_MIN_JACCARD) * settings.num_perm)
    if min_equal < 1:
        return None
    slugs = {url_slug(url) for url in map(_article_url, articles) if url}
    return KnownProbe(text_hashes=sorted({a.text_hash for a in articles if a.text_hash}), url_slugs=sorted(slugs),
                      signatures=[a.minhash for a in articles if a.minhash], min_equal=min_equal)

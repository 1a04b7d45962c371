"""Text fingerprints for deduplication: normalised hashes, MinHash signatures, fact sets and story term vectors."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from datasketch import MinHash, MinHashLSH

from config.settings import DedupSettings
from tasks.records import Article
from tasks.text.hashing import normalise_for_hash, sha256_hex
from tasks.text.language import language_name, stemmer_for, stop_words
from tasks.text.normalise import word_count

LOGGER = logging.getLogger(__name__)

MINHASH_SEED = 1
# 64-bit scheme so the stored signature is exactly num_perm uint64 values.
MINHASH_SCHEME = "affine64"
MINHASH_DTYPE = np.dtype("<u8")
MAX_STORY_TERMS = 40
PROPER_NOUN_BOOST = 2.0
MIN_TERM_CHARS = 2
# LSH banding tuned against misses: a missed candidate is a missed duplicate, an extra one costs
# only a 128-value comparison.
LSH_WEIGHTS = (0.1, 0.9)
_GOLDEN64 = np.uint64(0x9E3779B97F4A7C15)
_MIX64 = np.uint64(0xBF58476D1CE4E5B9)

_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
# Facts: numbers (with their separators), names of days and months, and capitalised words inside a
# sentence (names). A syndicated copy keeps them; an update or the next report of a template (a
# market wrap, a weather forecast, a court list) changes them. Each distinct fact joins the shingle
# set FACT_WEIGHT times, so facts that differ pull two texts' similarity down much more than the
# template's shared wording pulls it up. Chosen on templated series and syndication variants built
# from the BBC tuning half (bench/eval_dedup.py): the lowest weight that keeps every templated report
# apart from the others of its series.
FACT_WEIGHT = 4
_FACT_RE = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")
# The facts dedup compares exactly (tasks/s4_dedup.py): apostrophes of either style alike and a possessive
# "'s" dropped, so a restyled copy ("Kremlin’s") keeps its original's facts ("Kremlin's", "Kremlin").
_POSSESSIVE_RE = re.compile(r"'s$")
_CALENDAR = frozenset("""
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december
""".split())
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Words frequent in any news report: they would make unrelated articles look alike.
_NEWS_STOP_WORDS = frozenset("""
    said says say saying told tell tells telling according added adding asked statement statements
    mr mrs ms dr st year years month months week weeks day days today yesterday tomorrow time times
    percent per cent new news report reports reported reporting people just like make made
    jan feb mar apr jun jul aug sep sept oct nov dec
""".split()) | _CALENDAR


def word_shingles(words: list[str], size: int) -> set[bytes]:
    """Return the distinct runs of `size` consecutive words (the whole text when it is shorter)."""
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> np.ndarray:
    """Return the permutation parameters every signature of this width shares (fixed seed)."""
    return MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations


def signature_from_bytes(data: bytes | None, num_perm: int) -> np.ndarray | None:
    """Decode stored signature bytes into a uint64 array; None when absent or of another width."""
    if not data or len(data) != num_perm * MINHASH_DTYPE.itemsize:
        return None
    return np.frombuffer(data, dtype=MINHASH_DTYPE).astype(np.uint64)


def _minhash_bytes(shingle_sets: list[set[bytes]], num_perm: int) -> list[bytes | None]:
    """Compute one signature per shingle set in bulk; empty sets get None."""
    filled = [i for i, s in enumerate(shingle_sets) if s]
    hashes = MinHash.bulk([list(shingle_sets[i]) for i in filled], num_perm=num_perm, seed=MINHASH_SEED,
                          permutations=_permutations(num_perm), scheme=MINHASH_SCHEME)
    out: list[bytes | None] = [None] * len(shingle_sets)
    for i, mh in zip(filled, hashes):
        out[i] = mh.hashvalues.astype(MINHASH_DTYPE).tobytes()
    return out


@lru_cache(maxsize=32)
def _term_lookup(language: str) -> Callable[[str], str | None]:
    """Return a cached word -> term function for a language (None for stop words and fragments)."""
    stops = stop_words(language) | _NEWS_STOP_WORDS
    stem = stemmer_for(language)

    @lru_cache(maxsize=200_000)
    def term(word: str) -> str | None:
        if len(word) > 1 and word.isupper():  # an acronym ("US", "NATO") even if it spells a stop word
            return word.casefold()
        lower = word.casefold().replace("’", "'")
        if lower in stops or len(lower) < MIN_TERM_CHARS:
            return None
        stemmed = stem(lower)
        return stemmed if len(stemmed) >= MIN_TERM_CHARS and stemmed not in _NEWS_STOP_WORDS else None

    return term


def story_terms(text: str, title: str | None = None, language: str | None = None,
                max_terms: int = MAX_STORY_TERMS) -> dict[str, float]:
    """Return the article's top content terms (stemmed, log-tf, proper nouns boosted), L2-normalised."""
    term_of = _term_lookup(language_name(language))
    counts: Counter[str] = Counter()
    proper: set[str] = set()
    sentences = _SENTENCE_SPLIT_RE.split(text or "")
    if title:
        sentences.insert(0, title)
    for sentence in sentences:
        for position, word in enumerate(_WORD_RE.findall(sentence)):
            term = term_of(word)
            if term is None:
                continue
            counts[term] += 1
            # A capital in mid-sentence marks a name; the first word of a sentence tells nothing.
            if position and word[0].isupper():
                proper.add(term)
            elif word.isupper() and len(word) > 1:
                proper.add(term)
    weights = {t: (1.0 + math.log(n)) * (PROPER_NOUN_BOOST if t in proper else 1.0) for t, n in counts.items()}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:max_terms]
    norm = math.sqrt(sum(w * w for _, w in top))
    return {t: w / norm for t, w in top} if norm else {}


def facts(text: str) -> set[str]:
    """The text's numbers, days, months and names inside sentences, lowercased ("7,462.63" -> "7462.63")."""
    found: set[str] = set()
    for sentence in _SENTENCE_SPLIT_RE.split(text or ""):
        for position, token in enumerate(_FACT_RE.findall(sentence)):
            if token[0].isdigit():
                found.add(token.replace(",", ""))
            elif token.casefold() in _CALENDAR or (position and token[0].isupper()):
                found.add(token.casefold())
    return found


def comparable_facts(text: str) -> frozenset[str]:
    """The text's facts (see facts) as dedup compares two texts' facts: apostrophes straightened, possessives
    dropped. The signature keeps facts as found, so that signatures stored earlier stay comparable."""
    return _comparable(facts(text))


def _comparable(found: set[str]) -> frozenset[str]:
    """Facts as found, made comparable (see comparable_facts)."""
    return frozenset(_POSSESSIVE_RE.sub("", fact.replace("’", "'")) for fact in found)


def fill_missing_facts(articles: list[Article]) -> int:
    """Give articles stored before facts were kept their facts, from their stored (cleaned) text, as prepare
    would have; returns how many were filled."""
    missing = [a for a in articles if a.facts is None]
    for article in missing:
        article.facts = comparable_facts(article.cleaned.text)
    return len(missing)


def fact_shingles(found: set[str], weight: int | None = None) -> set[bytes]:
    """Each fact as `weight` (default FACT_WEIGHT) shingles of its own (they cannot collide with word
    shingles: they hold a NUL)."""
    copies = FACT_WEIGHT if weight is None else weight
    return {f"{fact}\0{copy}".encode("utf-8") for fact in found for copy in range(copies)}


def text_shingles(text: str, size: int, words: list[str] | None = None, found: set[str] | None = None) -> set[bytes]:
    """What a text's MinHash signature is made of: its word shingles and its weighted facts
    (`words`: the text's normalised words, `found`: its facts, when already at hand)."""
    if words is None:
        words = normalise_for_hash(text).split()
    return word_shingles(words, size) | fact_shingles(facts(text) if found is None else found)


def prepare(articles: list[Article], settings: DedupSettings) -> None:
    """Fill word_count, text_hash, minhash, facts and story_terms of each article of the batch."""
    shingle_sets: list[set[bytes]] = []
    for article in articles:
        normalised = normalise_for_hash(article.cleaned.text)
        words = normalised.split()
        article.word_count = word_count(article.cleaned.text)
        article.text_hash = sha256_hex(normalised.encode("utf-8"))
        found = facts(article.cleaned.text)
        shingle_sets.append(text_shingles(article.cleaned.text, settings.shingle_words, words, found))
        article.facts = _comparable(found)
        article.story_terms = story_terms(article.cleaned.text, article.cleaned.title, article.cleaned.language)
    for article, signature in zip(articles, _minhash_bytes(shingle_sets, settings.num_perm)):
        article.minhash = signature
    LOGGER.debug("prepared %d articles", len(articles))


def signature_overlap(signature: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimate Jaccard and containment (of the smaller set in the larger) between one signature and rows.

    Per permutation, the minimum of the union lies in set A exactly when A's value is the smaller
    one, and in the intersection when the two are equal; so equal / (A <= B) estimates |A & B| / |A|.
    A truncated copy is contained whole: each time its value is the smaller, the values are equal.
    """
    if rows.size == 0:
        return np.zeros(0), np.zeros(0)
    equal = (rows == signature).sum(axis=1)
    in_query = (signature <= rows).sum(axis=1)
    in_row = (rows <= signature).sum(axis=1)
    smaller = np.maximum(np.minimum(in_query, in_row), 1)
    return equal / signature.shape[0], np.minimum(equal / smaller, 1.0)


def common_values(signatures: np.ndarray, groups: list[str | None], min_articles: int,
                  counted: list[bool] | None = None) -> np.ndarray:
    """Which values of each signature row are held at the same position by at least `min_articles` rows
    of its group (its source; rows of group None hold none). A value many articles of one source share at
    a position is the minimum of a shingle they all have: their footer, a sponsor block, a table of
    contents' headings. Only the rows `counted` marks (default all) are counted: a copy of an article is
    no article of its own, or the text of a story its source publishes again and again would be what the
    source repeats; the others are marked by the counted rows. Returns a bool array shaped like `signatures`."""
    rows = signatures.astype(np.uint64, copy=False)  # one row per group entry
    common = np.zeros(rows.shape, dtype=bool)
    salt = np.arange(1, rows.shape[1] + 1, dtype=np.uint64) * _MIX64  # one key per (position, value)
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        if group is not None:
            members.setdefault(group, []).append(index)
    for indices in members.values():
        tally = indices if counted is None else [i for i in indices if counted[i]]
        if len(tally) < min_articles:
            continue
        values, inverse, counts = np.unique((rows[tally] ^ salt).ravel(), return_inverse=True, return_counts=True)
        common[tally] = (counts[inverse] >= min_articles).reshape(len(tally), -1)
        if others := sorted(set(indices) - set(tally)):
            keys = (rows[others] ^ salt).ravel()
            at = np.minimum(np.searchsorted(values, keys), len(values) - 1)
            common[others] = ((values[at] == keys) & (counts[at] >= min_articles)).reshape(len(others), -1)
    return common


def distinct_overlap(signature: np.ndarray, common: np.ndarray, row: np.ndarray,
                     row_common: np.ndarray) -> tuple[int, float, float]:
    """Jaccard and containment (of the smaller in the larger) of two signatures over the positions whose
    minimum of the union is no value common in its source (see common_values): the estimates for the
    two texts without what their source repeats. Returns (positions left, Jaccard, containment)."""
    in_query = signature <= row
    keep = ~np.where(in_query, common, row_common)
    left = int(keep.sum())
    equal = int(((signature == row) & keep).sum())
    smaller = max(min(int((in_query & keep).sum()), int(((row <= signature) & keep).sum())), 1)
    return left, equal / max(left, 1), min(equal / smaller, 1.0)


class BandIndex:
    """MinHash LSH over signature rows: stored rows indexed once in sorted arrays, batch rows added live.

    Uses MinHashLSH's banding (bands and rows chosen by datasketch for the threshold), with each
    band reduced to one 64-bit key so 100k stored signatures index in one vectorised pass.
    """

    def __init__(self, signatures: np.ndarray, num_perm: int, threshold: float) -> None:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        self.num_perm, self.bands, self.rows = num_perm, lsh.b, lsh.r
        self._salt = (np.arange(1, self.bands + 1, dtype=np.uint64) * _GOLDEN64)
        self._stored = signatures.reshape(-1, num_perm).astype(np.uint64, copy=False)
        # The low bits of each band key are replaced by the row's slot, so one plain sort (no
        # argsort) orders the whole index; a shorter key only adds rare candidates, all verified.
        self._slot_mask = np.uint64((1 << max(1, len(self._stored).bit_length())) - 1)
        slots = np.arange(len(self._stored), dtype=np.uint64)[:, None]
        self._sorted = np.sort(((self._band_keys(self._stored) & ~self._slot_mask) | slots).ravel())
        self._added: list[np.ndarray] = []
        self._buckets: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self._stored) + len(self._added)

    def decode(self, data: bytes | None) -> np.ndarray | None:
        """Turn stored signature bytes into a row for this index (None if absent or of another width)."""
        return signature_from_bytes(data, self.num_perm)

    def _band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """Hash each band of each row into one uint64 key (band number mixed in)."""
        bands = signatures[:, :self.bands * self.rows].reshape(len(signatures), self.bands, self.rows)
        keys = np.broadcast_to(self._salt, (len(signatures), self.bands)).copy()
        for j in range(self.rows):  # array arithmetic wraps modulo 2**64, as intended
            keys ^= bands[:, :, j]
            keys *= _MIX64
            keys ^= keys >> np.uint64(31)
        return keys

    def add(self, signature: np.ndarray) -> int:
        """Index one more row and return its slot."""
        slot = len(self)
        self._added.append(signature)
        for key in self._band_keys(signature[None, :])[0].tolist():
            self._buckets.setdefault(key, []).append(slot)
        return slot

    def row(self, slot: int) -> np.ndarray:
        """Return the signature stored at a slot."""
        stored = len(self._stored)
        return self._stored[slot] if slot < stored else self._added[slot - stored]

    def candidates(self, signature: np.ndarray) -> list[tuple[int, float, float]]:
        """Return (slot, Jaccard, containment) estimates for every row sharing a band with the signature."""
        keys = self._band_keys(signature[None, :])[0]
        prefixes = keys & ~self._slot_mask
        low = np.searchsorted(self._sorted, prefixes, side="left")
        high = np.searchsorted(self._sorted, prefixes | self._slot_mask, side="right")
        found = [self._sorted[a:b] for a, b in zip(low.tolist(), high.tolist()) if b > a]
        slots = np.unique(np.concatenate(found) & self._slot_mask).astype(np.int64) if found \
            else np.empty(0, dtype=np.int64)
        added = sorted({s for k in keys.tolist() for s in self._buckets.get(k, ())})
        rows = np.vstack([self._stored[slots], *[self.row(s)[None, :] for s in added]])
        jaccard, containment = signature_overlap(signature, rows)
        return list(zip([*slots.tolist(), *added], jaccard.tolist(), containment.tolist()))

    def similarity(self, signature: np.ndarray | None, slot: int | None) -> float | None:
        """Estimated Jaccard between a signature and one indexed row (None if either is missing)."""
        if signature is None or slot is None:
            return None
        return round(float((self.row(slot) == signature).mean()), 4)

"""Near-duplicate detection and story grouping on syndication variants of the BBC News Summary articles."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import PROJECT_ROOT, BbcArticle, Table, in_half, load_bbc, part_main
from bench.templated_series import Report, templated_series
from config.settings import DedupSettings, load_settings
from tasks.records import Article, CleanedArticle, KnownArticle, RawDocument
from tasks.s2_clean import clean_text
from tasks.s3_fingerprint import prepare, text_shingles
from tasks.s4_dedup import assign
from tasks.text.hashing import normalise_for_hash

SEED = 20250101
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc)
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_dedup.json"
# Shares of the set: originals stored first, distinct articles in the new batch, and articles that
# only serve as bases of follow-ups (new text quoting one stored paragraph).
KNOWN_SHARE, HELD_OUT_SHARE = 0.55, 0.30
VARIANTS_PER_ORIGINAL = 2
VARIANT_TYPES = ("headline", "tail", "truncate", "reorder", "edit", "style", "combo")
NEGATIVE_TYPES = ("related: shares passages", "related: high word overlap", "follow-up quoting a paragraph",
                  "distinct: other")
NATURAL_TWIN = "natural: same text, new headline"
TEMPLATED = "templated: "              # + the template: another day's report of a daily series
TEMPLATED_FIRST = "templated: first day"  # stored; the later days come in the batch
# Source articles whose 4-word shingle sets are this alike are the same text (the set holds a few
# stories published twice under different headlines); a lower overlap marks related articles.
TWIN_JACCARD = 0.9
RELATED_JACCARD, RELATED_CONTAINMENT = 0.05, 0.15
HIGH_OVERLAP_QUANTILE = 0.75
MIN_CONTENT_WORD = 4
# A follow-up repeats at most this share of the earlier article's words.
FOLLOW_UP_SHARE = 0.2

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019]?\s+(?=[\"'\u201c\u2018A-Z0-9])")
_WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_AGENCIES = ("BBC", "Reuters", "Press Association", "Global Wire Media", "Example News Group")
_SITES = ("news.example.com", "the Daily Example", "Example Herald online")


@dataclass
class Item:
    """One input of a dedup run: its text, the true group it belongs to and the case it tests."""

    article_id: str
    kind: str
    category: str
    cluster: str
    title: str
    body: str


@dataclass
class Tally:
    """Duplicate decisions of one case: right, wrong and missed links, and the articles seen."""

    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Tally) -> None:
        """Accumulate another tally."""
        self.n, self.tp, self.fp, self.fn = self.n + other.n, self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def scores(self) -> dict[str, float | int]:
        """Counts with precision, recall and F1 (1.0 where nothing could go wrong)."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 1.0
        return {"n": self.n, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


@dataclass
class Split:
    """Source articles by role, with the true groups of identical texts and the related pairs."""

    known: list[BbcArticle]
    held_out: list[BbcArticle]
    bases: list[BbcArticle]
    cluster: dict[str, str]
    related: set[str] = field(default_factory=set)
    pairs: list[tuple[str, str]] = field(default_factory=list)


# --- the source set -------------------------------------------------------------------------------

def _shingles(text: str) -> set[bytes]:
    """The shingles the pipeline's signature is made of (4-word shingles and weighted facts)."""
    return text_shingles(text, 4)


def _overlapping_pairs(articles: list[BbcArticle]) -> list[tuple[float, float, int, int]]:
    """(Jaccard, containment, i, j) of every pair of articles sharing at least one shingle."""
    sets = [_shingles(a.body) for a in articles]
    postings: dict[bytes, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for shingle in s:
            postings[shingle].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for ids in postings.values():
        if 1 < len(ids) <= 50:  # a shingle in 50 articles is a stock phrase, not shared text
            shared.update(itertools.combinations(ids, 2))
    return sorted(((c / len(sets[i] | sets[j]), c / min(len(sets[i]), len(sets[j])), i, j)
                   for (i, j), c in shared.items()), reverse=True)


def split_articles(articles: list[BbcArticle], rng: random.Random) -> Split:
    """Split the set into stored originals, new distinct articles and follow-up bases.

    Same-text pairs and related pairs are put on both sides of the store where possible, so the
    new batch meets its counterpart among the stored articles.
    """
    cluster = {a.key: a.key for a in articles}
    side: dict[str, str] = {}
    pairs = []
    related: set[str] = set()
    for jaccard, containment, i, j in _overlapping_pairs(articles):
        a, b = articles[i].key, articles[j].key
        if jaccard >= TWIN_JACCARD:
            cluster[b] = cluster[a] = min(cluster[a], cluster[b])
        elif jaccard >= RELATED_JACCARD or containment >= RELATED_CONTAINMENT:
            related.update((a, b))
            pairs.append((a, b))
        else:
            continue
        if a not in side and b not in side:
            side[a], side[b] = "known", "held"
        elif a not in side or b not in side:
            placed, other = (a, b) if a in side else (b, a)
            side[other] = "held" if side[placed] == "known" else "known"
    rest = [a for a in articles if a.key not in side]
    rng.shuffle(rest)
    n_known = round(KNOWN_SHARE * len(articles)) - sum(1 for s in side.values() if s == "known")
    n_held = round(HELD_OUT_SHARE * len(articles)) - sum(1 for s in side.values() if s == "held")
    for k, a in enumerate(rest):
        side[a.key] = "known" if k < n_known else "held" if k < n_known + n_held else "base"
    by_role = {role: [a for a in articles if side[a.key] == role] for role in ("known", "held", "base")}
    return Split(by_role["known"], by_role["held"], by_role["base"], cluster, related, pairs)


# --- syndication variants -------------------------------------------------------------------------

def _paragraphs(body: str) -> list[str]:
    """The body's paragraphs."""
    return [p.strip() for p in body.split("\n") if p.strip()]


def _sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences."""
    return _SENTENCE_END.split(paragraph)


def new_headline(title: str, body: str, others: list[str], rng: random.Random) -> str:
    """Another headline for the same text, as a second outlet would write it."""
    lead = _paragraphs(body)[0].split()
    choice = rng.randrange(4)
    if choice == 0:
        return f"{rng.choice(('UPDATE', 'Exclusive', 'Breaking', 'Analysis'))}: {title}"
    if choice == 1:
        return " ".join(lead[:rng.randint(6, 10)]).rstrip(",.;:")
    if choice == 2:
        return f"{title} | {rng.choice(_SITES)}"
    return rng.choice(others)


def boilerplate_tail(others: list[str], category: str, rng: random.Random) -> str:
    """One to three closing blocks a syndicating site adds: copyright, share line, related links."""
    year = rng.choice((2004, 2005))
    blocks = [
        f"Copyright \u00a9 {year} {rng.choice(_AGENCIES)}. All rights reserved.",
        f"\u00a9 {year} {rng.choice(_AGENCIES)}. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
        "Share this article",
        "Share this article: Facebook | Twitter | Email | Print",
        "Related links:\n" + "\n".join(f"- {h}" for h in rng.sample(others, 3)),
        f"More {category} news\n\n" + "\n\n".join(rng.sample(others, 2)),
        "Sign up for our daily newsletter to get the latest headlines in your inbox.",
        f"Follow us on Twitter and Facebook. This article first appeared on {rng.choice(_SITES)}.",
        f"Read more: {rng.choice(others)}",
    ]
    return "\n\n".join(rng.sample(blocks, rng.randint(1, 3)))


def truncate(body: str, rng: random.Random) -> str:
    """Cut the last 20-40 % of the words, at a sentence end."""
    paras = [_sentences(p) for p in _paragraphs(body)]
    total = sum(len(s.split()) for p in paras for s in p)
    keep = (1.0 - rng.uniform(0.2, 0.4)) * total
    out: list[str] = []
    words = 0
    for para in paras:
        kept = []
        for sentence in para:
            if words and words + len(sentence.split()) / 2 > keep:
                break
            kept.append(sentence)
            words += len(sentence.split())
        if kept:
            out.append(" ".join(kept))
        if len(kept) < len(para):
            break
    return "\n".join(out)


def reorder(body: str, rng: random.Random) -> str:
    """Shuffle the paragraphs after the lead (a different order whenever there are two or more)."""
    paras = _paragraphs(body)
    rest = paras[1:]
    if len(rest) > 1:
        shuffled = rest[:]
        while shuffled == rest:
            rng.shuffle(shuffled)
        rest = shuffled
    return "\n".join([paras[0], *rest])


def edit_words(body: str, vocabulary: list[str], rng: random.Random) -> str:
    """Substitute 3-10 words with other words of the set."""
    spots = [m for m in _WORD.finditer(body)]
    chosen = sorted(rng.sample(spots, min(len(spots), rng.randint(3, 10))), key=lambda m: m.start())
    out, last = [], 0
    for m in chosen:
        out += [body[last:m.start()], rng.choice(vocabulary)]
        last = m.end()
    return "".join(out) + body[last:]


def restyle(body: str, rng: random.Random) -> str:
    """Change quote, dash and whitespace styles: curly or straight quotes, wrapped lines, CRLF, spacing."""
    ways = rng.sample(range(5), rng.randint(2, 4))
    if 0 in ways:
        body = re.sub(r'"(\S[^"]*?)"', "\u201c\\1\u201d", body).replace("'", "\u2019")
    if 1 in ways:
        body = body.replace(" - ", " \u2013 ").replace(". ", ".  ")
    if 2 in ways:  # hard-wrapped lines with blank lines between paragraphs
        body = "\n\n".join(_wrap(p, rng.randint(60, 78)) for p in _paragraphs(body))
    if 3 in ways:
        body = body.replace("\n", "\r\n")
    if 4 in ways:
        body = "\n".join(f"  {p}\u00a0 " for p in body.split("\n"))
    return body


def _wrap(paragraph: str, width: int) -> str:
    """Break a paragraph into lines of at most `width` characters."""
    lines, line = [], ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def make_variant(kind: str, source: BbcArticle, others: list[str], vocabulary: list[str],
                 rng: random.Random) -> tuple[str, str]:
    """(headline, body) of one syndication variant of an article."""
    title, body = source.headline, source.body
    steps = [kind] if kind != "combo" else rng.sample(("headline", "tail", "cut", "edit", "style"), rng.randint(2, 4))
    if "cut" in steps:
        steps[steps.index("cut")] = rng.choice(("truncate", "reorder"))
    for step in sorted(steps, key=("truncate", "reorder", "edit", "tail", "style", "headline").index):
        if step == "truncate":
            body = truncate(body, rng)
        elif step == "reorder":
            body = reorder(body, rng)
        elif step == "edit":
            body = edit_words(body, vocabulary, rng)
        elif step == "tail":
            body = f"{body}\n\n{boilerplate_tail(others, source.category, rng)}"
        elif step == "style":
            body = restyle(body, rng)
        elif step == "headline":
            title = new_headline(title, body, others, rng)
    return title, body


def follow_up(base: BbcArticle, quoted: BbcArticle, rng: random.Random) -> str:
    """A new article that repeats a background passage of an earlier one (1-3 sentences) in its middle."""
    sentences = [s for p in _paragraphs(quoted.body)[1:] or _paragraphs(quoted.body) for s in _sentences(p)]
    budget = FOLLOW_UP_SHARE * len(quoted.body.split())
    start = rng.randrange(len(sentences))
    passage = [sentences[start]]
    for sentence in sentences[start + 1:start + rng.randint(1, 3)]:
        if len(" ".join([*passage, sentence]).split()) > budget:
            break
        passage.append(sentence)
    paras = _paragraphs(base.body)
    paras.insert(max(1, len(paras) // 2), " ".join(passage))
    return "\n".join(paras)


# --- the cases --------------------------------------------------------------------------------------

def _content_words(text: str) -> set[str]:
    """Lower-cased words of four letters or more."""
    return {w for w in normalise_for_hash(text).split() if len(w) >= MIN_CONTENT_WORD and w.isalpha()}


def _negative_kinds(split: Split) -> dict[str, str]:
    """Case of each new distinct article: related by shared passages, by word overlap, or other."""
    words = {a.key: _content_words(a.body) for a in [*split.known, *split.held_out]}
    overlap = {}
    for a in split.held_out:
        same = [k for k in split.known if k.category == a.category]
        overlap[a.key] = max((len(words[a.key] & words[k.key]) / len(words[a.key] | words[k.key])
                              for k in same), default=0.0)
    ranked = sorted(overlap.values())
    cut = ranked[int(HIGH_OVERLAP_QUANTILE * (len(ranked) - 1))] if ranked else 1.0
    return {key: NEGATIVE_TYPES[0] if key in split.related else NEGATIVE_TYPES[1] if value >= cut
            else NEGATIVE_TYPES[3] for key, value in overlap.items()}


def templated_items(reports: list[Report]) -> tuple[list[Item], list[Item]]:
    """Each series' first report as a stored original, the later days' as new articles; every report is
    its own group (a link from one day's report to another's is a false duplicate)."""
    first = [Item(r.key, TEMPLATED_FIRST, "templated", r.key, r.title, r.body) for r in reports if r.day == 0]
    later = [Item(r.key, TEMPLATED + r.template, "templated", r.key, r.title, r.body) for r in reports if r.day > 0]
    return first, later


def build_cases(articles: list[BbcArticle], seed: int = SEED, reports: list[Report] | None = None,
                ) -> tuple[Split, list[Item], list[Item]]:
    """Return the split, the stored originals and the new batch (variants, distinct articles, follow-ups,
    and the later days of templated series)."""
    rng = random.Random(seed)
    split = split_articles(articles, rng)
    headlines = [a.headline for a in articles]
    vocabulary = sorted({w for a in articles for w in _WORD.findall(a.body)})
    originals = [Item(f"o:{a.key}", "original", a.category, split.cluster[a.key], a.headline, a.body)
                 for a in split.known]
    order = list(range(len(split.known)))
    rng.shuffle(order)  # types go round in turn over the originals in random order
    batch: list[Item] = []
    for rank, a in zip(order, split.known):
        others = [h for h in headlines if h != a.headline]
        for n in range(VARIANTS_PER_ORIGINAL):
            kind = VARIANT_TYPES[(rank * VARIANTS_PER_ORIGINAL + n) % len(VARIANT_TYPES)]
            title, body = make_variant(kind, a, others, vocabulary, rng)
            batch.append(Item(f"v:{a.key}:{kind}", kind, a.category, split.cluster[a.key], title, body))
    negative = _negative_kinds(split)
    for a in split.held_out:
        twin = split.cluster[a.key] != a.key or any(split.cluster[k.key] == a.key for k in split.known)
        batch.append(Item(f"h:{a.key}", NATURAL_TWIN if twin else negative[a.key], a.category,
                          split.cluster[a.key], a.headline, a.body))
    for a in split.bases:
        quoted = rng.choice([k for k in split.known if k.category == a.category])
        batch.append(Item(f"f:{a.key}", NEGATIVE_TYPES[2], a.category, f"f:{a.key}", a.headline,
                          follow_up(a, quoted, rng)))
    first, later = templated_items(reports or [])
    originals += first
    batch += later
    rng.shuffle(batch)
    return split, originals, batch


def cleaned_texts(items: list[Item], cleaned: bool) -> dict[str, CleanedArticle]:
    """Each item as the clean stage hands it on: through clean_text, or headline and body as they are."""
    if cleaned:
        return {i.article_id: clean_text(f"{i.title}\n\n{i.body}") for i in items}
    return {i.article_id: CleanedArticle(title=i.title, text=i.body, language="en") for i in items}


def to_article(item: Item, cleaned: CleanedArticle) -> Article:
    """A fresh Article around an item's cleaned text."""
    raw = f"{item.title}\n\n{item.body}".encode("utf-8")
    doc = RawDocument(source="bench", locator=item.article_id, content_hash=hashlib.sha256(raw).hexdigest(),
                      raw=raw, media_type="text/plain")
    return Article(article_id=item.article_id, doc=doc, cleaned=cleaned)


def remembered(article: Article) -> KnownArticle:
    """What the warehouse holds of a stored article."""
    return KnownArticle(article_id=article.article_id, text_hash=article.text_hash, canonical_url=None,
                        minhash=article.minhash, story_id=article.story_id, story_terms=article.story_terms,
                        seen_at=NOW - timedelta(days=1), duplicate_of=article.duplicate_of, facts=article.facts,
                        word_count=article.word_count, title=article.cleaned.title, source=article.doc.source)


# --- scoring -----------------------------------------------------------------------------------------

def score(items: list[Item], articles: list[Article], earlier: set[str],
          cluster_of: dict[str, str]) -> dict[str, Tally]:
    """Tally each item's decision: it must point at an earlier member of its group exactly when one exists.

    `earlier` holds the groups already stored; batch items count in list order. A link to the
    wrong article is both a false positive and a missed duplicate.
    """
    seen = set(earlier)
    tallies: dict[str, Tally] = defaultdict(Tally)
    for item, article in zip(items, articles):
        expected = item.cluster in seen
        seen.add(item.cluster)
        target = article.duplicate_of
        right = target is not None and cluster_of.get(target) == item.cluster
        t = tallies[item.kind]
        t.n += 1
        t.tp += int(expected and right)
        t.fn += int(expected and not right)
        t.fp += int(target is not None and not right)
    return dict(tallies)


def story_quality(items: list[Item], stories: dict[str, str], split: Split) -> dict[str, float | int]:
    """How stories group the distinct articles: cross-category pairs joined, and related pairs joined."""
    distinct = [i for i in items if i.kind not in VARIANT_TYPES and not i.article_id.startswith(("f:", "t:"))]
    members: dict[str, list[Item]] = defaultdict(list)
    for item in distinct:
        members[stories[item.article_id]].append(item)
    joined_same = joined_cross = 0
    examples = []
    for group in members.values():
        for a, b in itertools.combinations(group, 2):
            if a.cluster != b.cluster:
                joined_cross += a.category != b.category
                joined_same += a.category == b.category
                if a.category != b.category:
                    examples.append(f"{a.title} ({a.category}) / {b.title} ({b.category})")
    per_category = Counter(i.category for i in distinct)
    cross_pairs = (len(distinct) ** 2 - sum(n * n for n in per_category.values())) // 2
    story_of = {i.article_id.split(":", 1)[1]: stories[i.article_id] for i in distinct}
    related = [(a, b) for a, b in split.pairs if a in story_of and b in story_of]
    return {
        "articles": len(distinct),
        "stories_with_2plus": sum(1 for g in members.values() if len({i.cluster for i in g}) > 1),
        "largest_story": max((len({i.cluster for i in g}) for g in members.values()), default=0),
        "cross_category_pairs_joined": joined_cross,
        "cross_category_pair_rate": round(joined_cross / cross_pairs, 6) if cross_pairs else 0.0,
        "joined_pairs_cross_category_share": round(joined_cross / (joined_cross + joined_same), 4)
        if joined_cross + joined_same else 0.0,
        "related_pairs": len(related),
        "related_pairs_joined": sum(story_of[a] == story_of[b] for a, b in related),
        "same_category_pairs_joined": joined_same,
        "cross_category_examples": examples[:10],
    }


def tail_cleaning(originals: list[Item], batch: list[Item], texts: dict[str, CleanedArticle]) -> dict[str, object]:
    """How much of the added boilerplate clean_text removes from the 'tail' variants."""
    body = {i.cluster: texts[i.article_id].text.split("\n\n") for i in originals}
    left: Counter[str] = Counter()
    tails = [i for i in batch if i.kind == "tail"]
    removed = 0
    for item in tails:
        extra = [p for p in texts[item.article_id].text.split("\n\n") if p not in body[item.cluster]]
        removed += not extra
        left.update(" ".join(p.split()[:5]) for p in extra)
    return {"variants": len(tails), "fully_removed": removed, "left_in_text": dict(left.most_common(10))}


# --- running ---------------------------------------------------------------------------------------

def _timed_dedup(articles: list[Article], known: list[KnownArticle], settings: DedupSettings) -> dict[str, float]:
    """Run prepare and assign on a batch, returning their times in seconds."""
    started = time.perf_counter()
    prepare(articles, settings)
    prepared = time.perf_counter()
    assign(articles, known, settings, NOW)
    return {"prepare_s": prepared - started, "assign_s": time.perf_counter() - prepared}


def _run_pass(name: str, split: Split, originals: list[Item], batch: list[Item], texts: dict[str, CleanedArticle],
              settings: DedupSettings, same_batch: bool) -> dict[str, object]:
    """One configuration: originals stored first (or in the same batch as the new articles)."""
    cluster_of = {i.article_id: i.cluster for i in [*originals, *batch]}
    stored = [to_article(i, texts[i.article_id]) for i in originals]
    new = [to_article(i, texts[i.article_id]) for i in batch]
    if same_batch:
        order = list(range(len(stored) + len(new)))
        random.Random(SEED + 1).shuffle(order)
        items = [[*originals, *batch][k] for k in order]
        articles = [[*stored, *new][k] for k in order]
        times = _timed_dedup(articles, [], settings)
        tallies = score(items, articles, set(), cluster_of)
    else:
        first = _timed_dedup(stored, [], settings)
        times = _timed_dedup(new, [remembered(a) for a in stored], settings)
        tallies = score(batch, new, {i.cluster for i in originals}, cluster_of)
        tallies.update(score(originals, stored, set(), cluster_of))
        items, articles = [*originals, *batch], [*stored, *new]
        times = {"stored_prepare_s": first["prepare_s"], "stored_assign_s": first["assign_s"], **times}
    overall = Tally()
    for tally in tallies.values():
        overall.add(tally)
    count = len(new) if not same_batch else len(articles)
    return {
        "name": name, "same_batch": same_batch,
        "overall": overall.scores(),
        "by_type": {k: v.scores() for k, v in sorted(tallies.items())},
        "stories": story_quality(items, {a.article_id: a.story_id for a in articles}, split),
        "seconds": {k: round(v, 3) for k, v in times.items()},
        "ms_per_article": {"prepare": round(1000 * times["prepare_s"] / count, 3),
                           "assign": round(1000 * times["assign_s"] / count, 3)},
        "batch_articles": count,
    }


def margins(originals: list[Item], batch: list[Item], texts: dict[str, CleanedArticle],
            threshold: float) -> dict[str, dict]:
    """Exact shingle overlap per case: lowest Jaccard of a duplicate with its original, highest of any other.

    Shows how far each case sits from near_threshold; duplicates below it are caught by containment.
    """
    shingles = {k: _shingles(c.text) for k, c in texts.items()}
    postings: dict[bytes, list[str]] = defaultdict(list)
    for item in originals:
        for shingle in shingles[item.article_id]:
            postings[shingle].append(item.article_id)
    stored_cluster = {i.article_id: i.cluster for i in originals}
    clusters = set(stored_cluster.values())
    out: dict[str, dict] = {}
    for item in batch:
        mine = shingles[item.article_id]
        shared = Counter(o for sh in mine for o in postings.get(sh, ()))
        best_own = best_other = 0.0
        for other, count in shared.items():
            jaccard = count / len(mine | shingles[other])
            if stored_cluster[other] == item.cluster:
                best_own = max(best_own, jaccard)
            else:
                best_other = max(best_other, jaccard)
        entry = out.setdefault(item.kind, {"own_min": None, "own_below_threshold": 0, "other_max": 0.0})
        if item.cluster in clusters:
            entry["own_min"] = round(min(entry["own_min"] or 1.0, best_own), 3)
            entry["own_below_threshold"] += best_own < threshold
        entry["other_max"] = round(max(entry["other_max"], best_other), 3)
    return out


def templated_marked(passes: list[dict]) -> dict[str, int]:
    """Templated reports marked a duplicate of another report (false positives), and how many there were."""
    main = passes[0]["by_type"]
    kinds = [k for k in main if k.startswith(TEMPLATED)]
    return {"reports": sum(main[k]["n"] for k in kinds),
            "marked_duplicate": max(sum(p["by_type"].get(k, {}).get("fp", 0) for k in kinds) for p in passes)}


def short_items(data_dir: Path, half: str | None, settings: DedupSettings, limit: int | None = None) -> dict[str, int]:
    """Distinct short articles: the half's NYT front-page items (headline, and the coders' one-line gist as the
    text, 3 to 20 words), through prepare and assign in one batch. Each item is its own front-page article, so
    a duplicate is a false one unless the two items have the same headline and gist."""
    from bench.eval_topics import item_gist, item_key, load_topics

    items = in_half(load_topics(data_dir), half, key=item_key)[:limit]
    articles = [to_article(Item(item_key(i), "short", "nyt", item_key(i), i["title"] or "", item_gist(i)),
                           CleanedArticle(title=i["title"] or None, text=item_gist(i), language="en")) for i in items]
    prepare(articles, settings)
    assign(articles, [], settings, NOW)
    page = {item_key(i): (normalise_for_hash(i["title"] or ""), normalise_for_hash(item_gist(i))) for i in items}
    marked = [a for a in articles if a.duplicate_of]
    same = sum(1 for a in marked if page[a.article_id] == page[a.duplicate_of])
    return {"items": len(items), "marked_duplicate": len(marked), "same_page": same,
            "other_article": len(marked) - same, "near": sum(1 for a in marked if a.duplicate_kind == "near")}


def run(data_dir: Path, limit: int | None = None, half: str | None = "report") -> dict:
    """Build the variants and templated series of one half, run prepare and assign with the shipped
    settings, and score every case."""
    settings = load_settings().dedup
    articles = in_half(load_bbc(Path(data_dir), limit), half)
    reports = in_half(templated_series(SEED), half, key=lambda r: r.series_key)
    split, originals, batch = build_cases(articles, reports=reports)
    started = time.perf_counter()
    cleaned = cleaned_texts([*originals, *batch], cleaned=True)
    clean_ms = 1000 * (time.perf_counter() - started) / (len(originals) + len(batch))
    raw = cleaned_texts([*originals, *batch], cleaned=False)
    passes = [
        _run_pass("stored originals, cleaned", split, originals, batch, cleaned, settings, same_batch=False),
        _run_pass("same batch, cleaned", split, originals, batch, cleaned, settings, same_batch=True),
        _run_pass("stored originals, raw text", split, originals, batch, raw, settings, same_batch=False),
    ]
    return {
        "half": half or "all",
        "settings": {"shingle_words": settings.shingle_words, "num_perm": settings.num_perm,
                     "near_threshold": settings.near_threshold, "story_threshold": settings.story_threshold},
        "articles": len(articles), "stored_originals": len(originals), "new_batch": len(batch),
        "same_text_groups": sum(1 for k, c in split.cluster.items() if k != c),
        "related_pairs": len(split.pairs), "target_f1": 0.95, "clean_text_ms_per_article": round(clean_ms, 3),
        "passes": passes, "templated": templated_marked(passes),
        "margins": margins(originals, batch, cleaned, settings.near_threshold),
        "tail_cleaning": tail_cleaning(originals, batch, cleaned),
        "short_items": short_items(Path(data_dir), half, settings, limit and 100 * limit),
    }


def table(results: dict) -> str:
    """Per-case and overall scores of every pass, with story grouping and timing, as markdown."""
    passes = results["passes"]
    main, margin = passes[0], results["margins"]
    kinds = [*VARIANT_TYPES, NATURAL_TWIN, *NEGATIVE_TYPES, "original", TEMPLATED_FIRST]
    kinds = [k for k in [*kinds, *(k for k in main["by_type"] if k not in kinds)] if k in main["by_type"]]
    cases = Table(f"Near-duplicates per case ({main['name']}; F1 of the other passes on the right)",
                  ["case", "n", "TP", "FP", "FN", "P", "R", "F1", *[f"F1 {p['name']}" for p in passes[1:]],
                   "min J to own", "own J < thr", "max J to other"])
    for kind in [*kinds, "overall"]:
        s = main["overall"] if kind == "overall" else main["by_type"][kind]
        others = [(p["overall"] if kind == "overall" else p["by_type"].get(kind, {})).get("f1", "-")
                  for p in passes[1:]]
        m = margin.get(kind, {})
        own = "-" if m.get("own_min") is None else f"{m['own_min']:.3f}"
        cases.rows.append([kind, s["n"], s["tp"], s["fp"], s["fn"], s["precision"], s["recall"], s["f1"], *others,
                           own, m.get("own_below_threshold", "-") if own != "-" else "-",
                           f"{m['other_max']:.3f}" if m else "-"])
    settings = results["settings"]
    cases.notes.append(
        f"{results['half']} half, {results['articles']} BBC articles and {results['templated']['reports']} templated "
        f"reports of later days: {results['stored_originals']} stored originals, {results['new_batch']} "
        f"new; shingle_words {settings['shingle_words']}, near_threshold {settings['near_threshold']}, "
        f"story_threshold {settings['story_threshold']}; target F1 >= {results['target_f1']}. Negative cases "
        "can only have FP. J: exact Jaccard of the signature's shingles (4-word shingles and weighted facts) of the "
        "cleaned texts against the stored originals (own: the article's original; other: any other). "
        f"Templated reports marked a duplicate of another day's, in any pass: {results['templated']['marked_duplicate']} "
        f"of {results['templated']['reports']}.")
    short = results["short_items"]
    cases.notes.append(
        f"Short articles ({results['half']} half of the NYT front-page items: headline and a one-line gist, each a "
        f"distinct article): {short['other_article']} of {short['items']} marked a duplicate of another article "
        f"({short['near']} near), {short['same_page']} of an item with the same headline and gist.")
    summary = Table("Near-duplicates overall, story grouping and time per pass",
                    ["pass", "P", "R", "F1", "cross-cat pairs joined", "cross-cat rate", "joined cross share",
                     "related joined", "prepare ms/art", "assign ms/art", "prepare+assign s"])
    for p in passes:
        o, st = p["overall"], p["stories"]
        summary.rows.append([p["name"], o["precision"], o["recall"], o["f1"], st["cross_category_pairs_joined"],
                             f"{st['cross_category_pair_rate']:.5f}", st["joined_pairs_cross_category_share"],
                             f"{st['related_pairs_joined']}/{st['related_pairs']}", p["ms_per_article"]["prepare"],
                             p["ms_per_article"]["assign"], round(sum(p["seconds"].values()), 2)])
    tails = results["tail_cleaning"]
    summary.notes += [
        "cross-cat rate: share of all different-category pairs of distinct articles put in one story; joined "
        "cross share: of the distinct-article pairs sharing a story, the share from different categories; "
        "related joined: pairs with shared passages in one story. ms/art: per article of the new batch.",
        f"clean_text: {results['clean_text_ms_per_article']:.2f} ms per article; it removed all added "
        f"boilerplate from {tails['fully_removed']} of {tails['variants']} 'tail' variants; most often left: "
        + "; ".join(f"'{k}...' ({v})" for k, v in list(tails["left_in_text"].items())[:4]),
    ]
    return cases.render() + "\n\n" + summary.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the tables, write bench/out/eval_dedup.json."""
    return part_main(argv, "python -m bench.eval_dedup", __doc__, run, table, DEFAULT_OUT, "at most N articles per category")

if __name__ == "__main__":
    sys.exit(main())

"""Tests for duplicate detection and story assignment (tasks.s4_dedup)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from config.settings import DedupSettings
from tasks import s3_fingerprint as fingerprint, s4_dedup
from tasks.records import Article, CleanedArticle, KnownArticle, RawDocument
from tasks.s3_fingerprint import prepare
from tasks.s4_dedup import MIN_MISSING_FACTS, assign, facts_agree
from tasks.text.hashing import normalise_for_hash, text_hash
from tasks.text.normalise import word_count

DATA = Path(__file__).parent / "data" / "dedup"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
NOW = datetime(2025, 12, 16, 12, 0, tzinfo=timezone.utc)
SETTINGS = DedupSettings()
SEED_BOILERPLATE = ("No comments:", "Agencies - Xinhua", "Today's Top News")
TAIL = ("Agencies - Xinhua\nToday's Top News\n- Consumption to play bigger part in growth\n"
        "- Macao thrives as collaboration deepens\nShare this article. Sign up for our newsletter.")


def make_article(article_id: str, text: str, title: str | None = None, url: str | None = None,
                 canonical_url: str | None = None, published_at: datetime | None = None) -> Article:
    """Build an Article the way the cleaning stage hands it on."""
    doc = RawDocument(source="test", locator=f"{article_id}.txt",
                      content_hash=hashlib.sha256(article_id.encode()).hexdigest(),
                      raw=text.encode("utf-8"), media_type="text/plain", url=url)
    return Article(article_id=article_id, doc=doc,
                   cleaned=CleanedArticle(title=title, text=text, canonical_url=canonical_url, language="en",
                                          published_at=published_at))


def remembered(article: Article, seen_at: datetime = NOW - timedelta(days=1), story_id: str | None = None,
               duplicate_of: str | None = None, with_facts: bool = True) -> KnownArticle:
    """What the warehouse would hand back for an article stored earlier (prepared first); without facts
    as for a row stored before they were kept."""
    if not article.text_hash:
        prepare([article], SETTINGS)
    return KnownArticle(article_id=article.article_id, text_hash=article.text_hash,
                        canonical_url=article.cleaned.canonical_url or article.doc.url, minhash=article.minhash,
                        story_id=story_id or article.article_id, story_terms=article.story_terms,
                        seen_at=seen_at, duplicate_of=duplicate_of, facts=article.facts if with_facts else None,
                        word_count=article.word_count, title=article.cleaned.title, source=article.doc.source)


def read_article(name: str) -> tuple[str, list[str]]:
    """Return the headline and paragraphs of a test article."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return lines[0], [line for line in lines[1:] if line.strip()]


def read_seed(prefix: str) -> tuple[str, str]:
    """Return the first line and body of a seed file, with its trailing boilerplate cut off."""
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith(SEED_BOILERPLATE):
            break
        if line.strip():
            lines.append(line.strip())
    return lines[0], "\n".join(lines[1:])


def run(articles: list[Article], known: list[KnownArticle] | None = None,
        settings: DedupSettings = SETTINGS, now: datetime = NOW) -> list[Article]:
    """Prepare and assign a batch; return it for convenience."""
    prepare(articles, settings)
    assign(articles, known or [], settings, now)
    return articles


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(w * b.get(t, 0.0) for t, w in a.items())


@pytest.fixture()
def bridge() -> tuple[str, list[str]]:
    return read_article("harbour_bridge.txt")


# --- normalisation and exact hashes -------------------------------------------------------------

def test_normalise_for_hash_folds_case_width_quotes_and_dashes() -> None:
    assert normalise_for_hash("  The “Quick” — brown\u00a0FOX’s\tjump…  ") == "the quick brown foxs jump"
    assert normalise_for_hash("Ｆｕｌｌ　ｗｉｄｔｈ") == "full width"  # NFKC
    assert normalise_for_hash("soft\u00adhyphen zero\u200bwidth") == "softhyphen zerowidth"
    assert normalise_for_hash("STRASSE") == normalise_for_hash("straße")


def test_text_hash_differs_when_words_differ() -> None:
    assert text_hash("The council approved the plan.") != text_hash("The council rejected the plan.")
    assert len(text_hash("x")) == 64


_WORDS = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8)
_SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2009", " \n\n "])
_QUOTES = st.sampled_from([("", ""), ('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("«", "»"),
                           ("„", "“")])


_APOSTROPHES = st.sampled_from(["'", "’", "ʼ", "‘", "`"])
_DASHES = st.sampled_from(["-", "–", "—", " - ", " — "])


@hypothesis_settings(max_examples=300, deadline=None)
@given(words=st.lists(st.tuples(_WORDS, st.sampled_from(["", "'s", "'t"]), st.booleans()),
                      min_size=1, max_size=25),
       data=st.data())
def test_text_hash_stable_under_whitespace_and_quote_styles(words: list[tuple[str, str, bool]],
                                                            data: st.DataObject) -> None:
    plain = " ".join(f"{word}{suffix}" + (" -" if dash else "") for word, suffix, dash in words)
    parts = [data.draw(_SPACES)]
    for word, suffix, dash in words:
        opening, closing = data.draw(_QUOTES)
        suffix = suffix.replace("'", data.draw(_APOSTROPHES))
        parts += [opening, word, suffix, closing, data.draw(_DASHES) if dash else "", data.draw(_SPACES)]
    assert text_hash("".join(parts)) == text_hash(plain)


def test_exact_duplicate_with_whitespace_and_quote_changes(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    text = "\n\n".join(paragraphs)
    restyled = "\n".join("  " + p.replace('"', "“", 1).replace('"', "”", 1).replace("'", "’") + "   "
                         for p in paragraphs)
    assert restyled != text
    first, copy = run([make_article("a1", text, title), make_article("a2", restyled, "Another headline")])
    assert first.duplicate_of is None
    assert (copy.duplicate_of, copy.duplicate_kind, copy.similarity) == ("a1", "exact", 1.0)
    assert copy.story_id == first.story_id == "a1"


# --- fingerprints -----------------------------------------------------------------------------

def test_stored_word_count_is_the_one_the_minimum_uses() -> None:
    """One word count: the stored word_count is the count the cleaner's min_words is checked against
    (CJK text two characters to a word; the old count took each run of CJK characters for one word)."""
    chinese = "香港政府今天宣布新的房屋政策。政策将在明年实施。市民对此反应不一。"
    english = "The U.S.-led talks ended on Monday; officials said a deal was close."
    articles = [make_article("c1", chinese), make_article("e1", english)]
    prepare(articles, SETTINGS)
    assert [a.word_count for a in articles] == [word_count(chinese), word_count(english)] == [18, 12]


def test_prepare_fills_fingerprints(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    article, again = make_article("a1", "\n".join(paragraphs), title), make_article("a2", "\n".join(paragraphs))
    prepare([article, again], SETTINGS)
    assert article.word_count == word_count(article.cleaned.text) > 250
    assert article.text_hash == text_hash(article.cleaned.text)
    assert isinstance(article.minhash, bytes) and len(article.minhash) == SETTINGS.num_perm * 8
    assert article.minhash == again.minhash  # fixed seed: signatures are comparable across runs
    assert np.frombuffer(article.minhash, dtype=np.uint64).shape == (SETTINGS.num_perm,)
    terms = article.story_terms
    assert 0 < len(terms) <= 40
    assert math.isclose(math.sqrt(sum(w * w for w in terms.values())), 1.0)
    assert "the" not in terms and "said" not in terms  # stop words and news filler are dropped
    # "Desmond" is a name (capitalised mid-sentence) and outweighs a common word used as often.
    assert terms["desmond"] > terms.get("vehicl", 0.0)


def test_empty_text_gets_no_signature_and_is_no_duplicate() -> None:
    empty, other = run([make_article("e1", ""), make_article("e2", "  ")])
    assert empty.minhash is None and empty.story_terms == {}
    assert other.duplicate_of is None and other.story_id == "e2"


# --- near duplicates --------------------------------------------------------------------------

def test_syndicated_copy_with_other_headline_and_tail_is_near_duplicate(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    original = make_article("orig", "\n".join(paragraphs), title)
    copy = make_article("synd", "\n".join(paragraphs) + "\n" + TAIL, "Marlow bridge to get 14m repair")
    run([original, copy])
    assert copy.duplicate_of == "orig" and copy.duplicate_kind == "near"
    assert SETTINGS.near_threshold <= copy.similarity < 1.0
    assert copy.story_id == original.story_id


def test_truncated_copy_is_near_duplicate(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    kept = paragraphs[:6]  # the last third of the text cut
    assert 0.6 < sum(len(p.split()) for p in kept) / sum(len(p.split()) for p in paragraphs) < 0.8
    original, copy = run([make_article("orig", "\n".join(paragraphs), title),
                          make_article("cut", "\n".join(kept))])
    assert (copy.duplicate_of, copy.duplicate_kind) == ("orig", "near")


def test_containment_catches_a_short_excerpt_below_the_jaccard_threshold(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    strict = DedupSettings(near_threshold=0.9)  # Jaccard alone cannot decide here
    original, copy = run([make_article("orig", "\n".join(paragraphs), title),
                          make_article("cut", "\n".join(paragraphs[:5]))], settings=strict)
    assert (copy.duplicate_of, copy.duplicate_kind) == ("orig", "near")
    assert copy.similarity < 0.9


def test_reordered_paragraphs_are_near_duplicate(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    shuffled = paragraphs[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != paragraphs
    _, copy = run([make_article("orig", "\n".join(paragraphs), title),
                   make_article("shuf", "\n\n".join(shuffled))])
    assert (copy.duplicate_of, copy.duplicate_kind) == ("orig", "near")


def test_a_few_edited_words_are_near_duplicate(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    edited = (text.replace("Tuesday", "Monday").replace("packed", "crowded").replace("nine months", "ten months")
              .replace("Opposition councillor", "Councillor").replace("quay", "wharf"))
    assert edited.count(" ") < text.count(" ") and edited != text
    _, copy = run([make_article("orig", text, title), make_article("edit", edited)])
    assert (copy.duplicate_of, copy.duplicate_kind) == ("orig", "near")
    assert copy.similarity > SETTINGS.near_threshold


MONDAY_WRAP = """The FTSE 100 index rose 1.2% to close at 7,462.63 on Monday, as shares in Northgate Energy jumped 3.5% after the company raised its forecast for the year.
Elsewhere on the index, Orrin Software lost 1.7% and Barrow Mining ended the session 2.4% lower, while the more domestically focused FTSE 250 gained 0.8% to 18,399.
The pound traded at $1.2598 against the dollar and at 1.1783 euros. Brent crude was at $83.69 a barrel.
"Investors are watching the central bank closely this week," said Grace Fenwick, a market analyst at Quayside Bank. "Any hint on interest rates will move the market."
The FTSE 100 is made up of the hundred largest companies listed on the London Stock Exchange by market value. Figures are provisional closing prices.
Market data on this page is supplied by the exchange and delayed by at least a quarter of an hour. The value of shares can fall as well as rise, and past performance is no guide to future returns.
Our markets desk publishes this report every trading day after the close, with the biggest movers, the currencies and the price of oil."""

TUESDAY_WRAP = """The FTSE 100 index fell 0.6% to close at 7,418.02 on Tuesday, as shares in Halden Steel dropped 4.1% after the company cut its forecast for the year.
Elsewhere on the index, Kestrel Foods gained 2.2% and Marlow Retail ended the session 1.3% higher, while the more domestically focused FTSE 250 lost 0.4% to 18,322.
The pound traded at $1.2641 against the dollar and at 1.1802 euros. Brent crude was at $82.10 a barrel.
"Investors are watching the central bank closely this week," said Owen Pritchard, a market analyst at Peverell Insurance. "Any hint on interest rates will move the market."
The FTSE 100 is made up of the hundred largest companies listed on the London Stock Exchange by market value. Figures are provisional closing prices.
Market data on this page is supplied by the exchange and delayed by at least a quarter of an hour. The value of shares can fall as well as rise, and past performance is no guide to future returns.
Our markets desk publishes this report every trading day after the close, with the biggest movers, the currencies and the price of oil."""


def test_facts_are_numbers_days_months_and_names_inside_sentences() -> None:
    found = fingerprint.facts("The FTSE 100 rose 2.1% to 7,462.63 on Monday in March, as Barrow Mining jumped. "
                              "Shares rose.")
    assert found == {"ftse", "100", "2.1", "7462.63", "monday", "march", "barrow", "mining"}
    assert fingerprint.fact_shingles({"100"}, 3) == {b"100\x000", b"100\x001", b"100\x002"}


def test_templated_reports_of_different_days_are_not_duplicates() -> None:
    words = [set(fingerprint.word_shingles(normalise_for_hash(t).split(), SETTINGS.shingle_words))
             for t in (MONDAY_WRAP, TUESDAY_WRAP)]
    wording = len(words[0] & words[1]) / len(words[0] | words[1])
    assert wording >= SETTINGS.near_threshold, "the template's wording alone would make them near-duplicates"
    monday, tuesday = run([make_article("mon", MONDAY_WRAP, "FTSE 100 rises 1.2%"),
                           make_article("tue", TUESDAY_WRAP, "FTSE 100 falls 0.6%")])
    assert tuesday.duplicate_of is None and tuesday.duplicate_kind is None
    stored = make_article("mon", MONDAY_WRAP, "FTSE 100 rises 1.2%")
    [later] = run([make_article("tue", TUESDAY_WRAP, "FTSE 100 falls 0.6%")], [remembered(stored)])
    assert later.duplicate_of is None


def test_facts_decide_the_templated_case_and_spare_the_syndicated_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def tuesday() -> Article:
        return run([make_article("mon", MONDAY_WRAP), make_article("tue", TUESDAY_WRAP)])[1]

    # without the facts' weight and the fact check, the template's wording alone makes Tuesday's report a
    # copy of Monday's; either of the two keeps them apart
    with monkeypatch.context() as patched:
        patched.setattr(fingerprint, "FACT_WEIGHT", 0)
        patched.setattr(s4_dedup, "MIN_MISSING_FACTS", 10**6)
        assert tuesday().duplicate_of == "mon"
        patched.setattr(s4_dedup, "MIN_MISSING_FACTS", MIN_MISSING_FACTS)
        assert tuesday().duplicate_of is None
    with monkeypatch.context() as patched:
        patched.setattr(s4_dedup, "MIN_MISSING_FACTS", 10**6)
        assert tuesday().duplicate_of is None
    # a syndicated copy keeps the facts: new headline, restyled quotes, a tail and a cut last paragraph
    copy = (MONDAY_WRAP.replace('"', "\u201c", 1).rsplit("\n", 1)[0] + "\n" + TAIL)
    _, syndicated = run([make_article("mon", MONDAY_WRAP, "FTSE 100 rises 1.2%"),
                         make_article("copy", copy, "Energy stocks lift London shares")])
    assert (syndicated.duplicate_of, syndicated.duplicate_kind) == ("mon", "near")


# A wrap whose template is long and whose facts are few: the signatures agree well above near_threshold
# even with the facts' weight, so only the exact fact check tells the two days apart.
CLOSE = """Shares in London closed {move} on {day}, the FTSE 100 index ending the session at {close} points, led by {company}, which moved {pct}%.
The index is made up of the hundred largest companies listed on the London Stock Exchange by market value, and the figures given here are provisional closing prices supplied by the exchange.
Market data on this page is delayed by at least a quarter of an hour. The value of shares can fall as well as rise, and past performance is no guide to future returns.
Our markets desk publishes this report every trading day after the close of business, with the biggest movers of the session, the main currencies and the price of oil.
Readers who want the figures for earlier sessions will find them in the archive of this page, which keeps every report of the last twelve months.
Questions about this report can be sent to the markets desk, which answers them on the next trading day."""
WEDNESDAY_CLOSE = CLOSE.format(move="higher", day="Wednesday", close="7,512.40", company="Northgate Energy", pct="3.5")
THURSDAY_CLOSE = CLOSE.format(move="lower", day="Thursday", close="7,488.15", company="Halden Steel", pct="4.1")


def signature_agreement(a: Article, b: Article) -> float:
    """The MinHash estimate of two prepared articles' Jaccard similarity."""
    return float(np.mean(np.frombuffer(a.minhash, dtype="<u8") == np.frombuffer(b.minhash, dtype="<u8")))


def test_comparable_facts_straighten_apostrophes_and_drop_possessives() -> None:
    straight = fingerprint.comparable_facts("Talks went on, and the Kremlin's envoy met O'Neill on Friday.")
    curly = fingerprint.comparable_facts("Talks went on, and the Kremlin\u2019s envoy met O\u2019Neill on Friday.")
    assert straight == curly == {"kremlin", "o'neill", "friday"}
    assert fingerprint.facts("Talks went on, and the Kremlin\u2019s envoy met them.") == {"kremlin\u2019s"}


def test_facts_agree_until_enough_of_the_smaller_sets_facts_are_missing() -> None:
    eight = frozenset("abcdefgh")
    assert facts_agree(None, eight) and facts_agree(eight, None)  # a row stored before facts were kept
    assert facts_agree(frozenset("ab"), frozenset("xy"))  # two missing: below MIN_MISSING_FACTS
    assert facts_agree(eight, frozenset("abcde") | frozenset("xyz"))  # 5 of 8 kept: 0.625
    assert not facts_agree(eight, frozenset("abcd") | frozenset("wxyz"))  # 4 of 8 kept
    assert not facts_agree(frozenset("abcd") | frozenset("wxyz"), eight)  # symmetric
    assert facts_agree(frozenset("abc"), eight)  # a short excerpt keeps all of its facts


RELEASE_340 = ("The PostGIS Team is pleased to release PostGIS 3.4.0! This version works with versions PostgreSQL "
               "12-16, GEOS 3.6 or higher, and Proj 6.1+. To take advantage of all features, GEOS 3.12+ is needed. "
               "To take advantage of all SFCGAL features, SFCGAL 1.4.1+ is needed.\n\nThis release is a major "
               "release, it includes bug fixes since PostGIS 3.3.4 and new features.")
RELEASE_350 = ("The PostGIS Team is pleased to release PostGIS 3.5.0! Best Served with PostgreSQL 17 RC1 and GEOS "
               "3.13.0.\n\nThis version requires PostgreSQL 12 - 17, GEOS 3.8 or higher, and Proj 6.1+. To take "
               "advantage of all features, GEOS 3.12+ is needed. SFCGAL 1.4+ is needed to enable postgis_sfcgal "
               "support. To take advantage of all SFCGAL features, SFCGAL 1.5 is needed.\n\nThis release is a "
               "feature release that includes bug fixes since PostGIS 3.4.3, new features, and a few breaking changes.")


def test_the_numbers_are_checked_alone_where_a_templates_names_repeat() -> None:
    old, new = (fingerprint.comparable_facts(t) for t in (RELEASE_340, RELEASE_350))
    kept = len(old & new) / len(old)
    assert kept >= 0.625, "the names the two share carry all the facts over the threshold"
    assert not facts_agree(old, new), "but 5 of the 8 numbers of 3.4.0's notes are not in 3.5.0's"
    assert facts_agree(fingerprint.comparable_facts(RELEASE_350.rsplit("\n\n", 1)[0]), new), "a cut copy keeps them"


def test_templated_reports_over_the_near_threshold_are_kept_apart_by_their_facts() -> None:
    wednesday, thursday = run([make_article("wed", WEDNESDAY_CLOSE, "London shares rise"),
                               make_article("thu", THURSDAY_CLOSE, "London shares fall")])
    assert signature_agreement(wednesday, thursday) >= SETTINGS.near_threshold + 0.2
    assert not facts_agree(wednesday.facts, thursday.facts)
    assert thursday.duplicate_of is None and thursday.story_id is not None
    [later] = run([make_article("thu", THURSDAY_CLOSE)], [remembered(make_article("wed", WEDNESDAY_CLOSE))])
    assert later.duplicate_of is None
    # a syndicated copy of Wednesday's, restyled (curly possessive), its last paragraph cut, a tail added
    restyled = WEDNESDAY_CLOSE.replace("Exchange by market value", "Exchange\u2019s main market")
    copy = restyled.rsplit("\n", 1)[0] + "\n" + TAIL
    [syndicated] = run([make_article("copy", copy, "FTSE ends higher")],
                       [remembered(make_article("wed", WEDNESDAY_CLOSE))])
    assert (syndicated.duplicate_of, syndicated.duplicate_kind) == ("wed", "near")


# A channel's footer under every video description: longer than most of the descriptions above it.
CHANNEL_FOOTER = """Thanks to our sponsor Boardhouse for the printed circuit boards and the assembly of this project.

If you would like to help support the channel and help me buy more parts, I have a Patreon page: https://www.patreon.com/benchlab

We have also got a shop now! https://shop.benchlab.example

And if you are shopping on AliExpress or Amazon then if you click on these links I will get a little bit of affiliate money: AliExpress https://s.click.example/e/_Ab12 Amazon https://www.amazon.example/?tag=benchlab-20

You can also join us on Discord here: https://discord.example/x7Kq2

There is also the Benchlab newsletter here: https://benchlab.substack.example/"""
VIDEO_BODIES = (
    "Many microcontrollers now have USB built in, and that brings debugging from inside your editor for free.",
    "The new batch of rainbow boards failed quality checks because the level shifter was fitted backwards.",
    "A small train runs around the tree this year, driven by a stepper motor and a cheap radio receiver.",
    "I cut open two memory cards from different brands to see which controller chips sit inside them.",
    "The thermal camera module works as a webcam once the firmware speaks the video class protocol properly.",
    "Three hours of chasing a crash ended at a single missing volatile keyword in the interrupt handler.",
    "The pick and place machine finally placed every resistor on the panel without a single tombstone.",
)


def footer_videos(prefix: str, bodies: tuple[str, ...] = VIDEO_BODIES) -> list[Article]:
    """Video descriptions of one channel: a short body of their own over the channel's long footer."""
    return [make_article(f"{prefix}{i}", f"{body}\n\n{CHANNEL_FOOTER}", f"Video {prefix}{i}",
                         published_at=NOW - timedelta(hours=len(bodies) - i)) for i, body in enumerate(bodies)]


def test_articles_of_one_source_sharing_a_long_footer_are_no_copies() -> None:
    videos = run(footer_videos("v"))
    # the footer alone makes any two of them alike enough for the signature: most of a description is footer
    first, second = (np.frombuffer(v.minhash, dtype="<u8") for v in videos[:2])
    jaccard, containment = fingerprint.signature_overlap(first, second[None, :])
    assert jaccard[0] >= s4_dedup.CONTAINMENT_MIN_JACCARD and containment[0] >= s4_dedup.NEAR_CONTAINMENT
    assert [(v.article_id, v.duplicate_of) for v in videos] == [(v.article_id, None) for v in videos]


def test_a_new_article_over_a_stored_sources_footer_is_no_copy() -> None:
    stored = footer_videos("s")
    run(stored)
    (new,) = run([make_article("n", "Lasers, drones and a smart mug came out of this month's parcel of cheap gadgets.\n\n"
                                    + CHANNEL_FOOTER, "Unbagging")], [remembered(a) for a in stored])
    assert new.duplicate_of is None


def test_a_copy_of_one_of_them_is_still_a_copy() -> None:
    videos = footer_videos("v")
    copy = make_article("again", videos[2].cleaned.text.replace("this year", "this winter"), "Tree train, again")
    run([*videos, copy])
    assert (copy.duplicate_of, copy.duplicate_kind) == ("v2", "near")
    assert [v.duplicate_of for v in videos] == [None] * len(videos)


def test_a_stored_article_without_facts_is_judged_by_its_signature() -> None:
    stored = remembered(make_article("wed", WEDNESDAY_CLOSE), with_facts=False)
    copy = WEDNESDAY_CLOSE.rsplit("\n", 1)[0] + "\n" + TAIL
    [syndicated] = run([make_article("copy", copy)], [stored])
    assert (syndicated.duplicate_of, syndicated.duplicate_kind) == ("wed", "near")
    # no fact check against it: the next day's wrap is taken for a copy, as before facts were kept
    [next_day] = run([make_article("thu", THURSDAY_CLOSE)], [stored])
    assert next_day.duplicate_of == "wed"


# --- short texts: too few words to tell a copy from another article --------------------------------

SHORT = [("Senate Passes Minimum Wage Bill", "Senate passes minimum wage increase; Congress."),
         ("Republican leader makes concession on minimum wage", "minimum wage debate in Congress."),
         ("Storm closes coast road", "Storm closes the coast road at Harris."),
         ("Coast road shut again", "Storm closes the coast road at Harris again on Monday.")]


@pytest.mark.parametrize("floor, duplicates", [(1, {"w2": "w1", "r2": "r1"}), (s4_dedup.MIN_COPY_WORDS, {})])
def test_a_short_text_is_a_near_duplicate_of_nothing(monkeypatch: pytest.MonkeyPatch, floor: int,
                                                     duplicates: dict[str, str]) -> None:
    # a one-line text's few shingles are mostly its names: a debate and a vote on one bill, a road closed
    # twice, pass the near test; under MIN_COPY_WORDS words they are other articles of one story
    monkeypatch.setattr(s4_dedup, "MIN_COPY_WORDS", floor)
    batch = run([make_article(aid, text, title) for aid, (title, text) in zip(("w1", "w2", "r1", "r2"), SHORT)])
    assert {a.article_id: a.duplicate_of for a in batch if a.duplicate_of} == duplicates
    assert [a.story_id for a in batch] == ["w1", "w1", "r1", "r1"]
    # and against stored articles alike
    stored = [remembered(a) for a in run([make_article(aid, text, title)
                                          for aid, (title, text) in zip(("w1", "r1"), SHORT[::2])])]
    later = run([make_article(aid, text, title) for aid, (title, text) in zip(("w2", "r2"), SHORT[1::2])], stored)
    assert {a.article_id: a.duplicate_of for a in later if a.duplicate_of} == duplicates


def test_a_short_text_is_an_exact_copy_only_under_the_same_headline() -> None:
    gist = "Priest abuse scandal widens."
    first, other, again = run([make_article("p1", gist, "Bishops meet over abuse claims"),
                               make_article("p2", gist, "Diocese settles lawsuits"),
                               make_article("p3", gist, "Bishops Meet Over Abuse Claims")])
    assert first.duplicate_of is None and other.duplicate_of is None
    assert (again.duplicate_of, again.duplicate_kind) == ("p1", "exact")
    [stored] = [remembered(first)]
    later_other, later_same = run([make_article("p4", gist, "Diocese settles lawsuits"),
                                   make_article("p5", gist, "Bishops meet over abuse claims")], [stored])
    assert later_other.duplicate_of is None and (later_same.duplicate_of, later_same.duplicate_kind) == ("p1", "exact")


def test_a_text_of_enough_words_is_a_copy_under_any_headline(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    lead = " ".join(" ".join(paragraphs).split()[:s4_dedup.MIN_COPY_WORDS])
    original, renamed = run([make_article("b1", lead, title), make_article("b2", lead, "Another headline")])
    assert (renamed.duplicate_of, renamed.duplicate_kind) == ("b1", "exact")


def test_copy_of_a_copy_points_at_the_root(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    first_copy = text.replace("Tuesday", "Monday") + "\n" + TAIL
    second_copy = first_copy.replace("packed", "crowded") + "\nMore from our partners: weather, traffic, sport."
    root, mid, last = run([make_article("root", text, title), make_article("mid", first_copy),
                           make_article("last", second_copy)])
    assert mid.duplicate_of == "root"
    assert last.duplicate_of == "root" and last.duplicate_kind == "near"
    assert root.story_id == mid.story_id == last.story_id == "root"


def test_stored_duplicate_leads_to_its_root(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    stored_root = make_article("w-root", "\n".join(paragraphs), title)
    stored_copy = make_article("w-copy", "\n".join(paragraphs) + "\n" + TAIL)
    known = [remembered(stored_root, story_id="story-7"),
             remembered(stored_copy, story_id="story-7", duplicate_of="w-root")]
    (new,) = run([make_article("new", "\n".join(paragraphs) + "\n" + TAIL)], known)  # same text as w-copy
    # an exact copy of w-copy, and so a near copy of w-root, not an exact one
    assert (new.duplicate_of, new.duplicate_kind, new.story_id) == ("w-root", "near", "story-7")
    assert new.similarity == stored_copy_similarity(stored_root, stored_copy) < 1.0
    (same,) = run([make_article("same", "\n".join(paragraphs), "Another headline")], known)
    assert (same.duplicate_of, same.duplicate_kind, same.similarity) == ("w-root", "exact", 1.0)


def stored_copy_similarity(root: Article, copy: Article) -> float | None:
    """The similarity a near copy of root with copy's text is given (copy stored as a new article)."""
    (alone,) = run([make_article("alone", copy.cleaned.text)], [remembered(root)])
    assert (alone.duplicate_of, alone.duplicate_kind) == (root.article_id, "near")
    return alone.similarity


def test_a_copy_of_a_copy_in_one_batch_is_described_against_the_original(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    trimmed = "\n".join(paragraphs[:6])
    root, near, exact = run([make_article("a", "\n".join(paragraphs), title),
                             make_article("b", trimmed, "Bridge repairs: the first part"),
                             make_article("c", trimmed, "Bridge to close for repairs")])
    assert (near.duplicate_of, near.duplicate_kind) == ("a", "near")
    # c has b's text, not a's: a near duplicate of a, as similar to it as b is
    assert (exact.duplicate_of, exact.duplicate_kind, exact.similarity) == ("a", "near", near.similarity)


def test_near_duplicate_of_a_stored_article(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    stored = make_article("w1", "\n".join(paragraphs), title)
    known = [remembered(stored, seen_at=NOW - timedelta(days=30), story_id="story-42")]
    (new,) = run([make_article("n1", "\n".join(paragraphs[:7]) + "\n" + TAIL)], known)
    # Duplicates ignore the story window: the copy joins its original's story however old.
    assert (new.duplicate_of, new.duplicate_kind, new.story_id) == ("w1", "near", "story-42")


def test_stored_rows_without_or_with_foreign_signatures_are_skipped(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    stored = remembered(make_article("w1", "\n".join(paragraphs), title))
    no_sig = KnownArticle("w2", "0" * 64, None, None, "w2", {}, NOW, None)
    narrow = KnownArticle("w3", "1" * 64, None, b"\x00" * 64, "w3", {}, NOW, None)  # another num_perm
    (new,) = run([make_article("n1", "\n".join(paragraphs) + "\n" + TAIL)], [no_sig, narrow, stored])
    assert new.duplicate_of == "w1"


def test_first_seen_wins_within_the_batch(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    batch = run([make_article("x", text), make_article("y", text), make_article("z", text + "\n" + TAIL)])
    assert [a.duplicate_of for a in batch] == [None, "x", "x"]


def test_assign_resets_earlier_decisions(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    article = make_article("a1", "\n".join(paragraphs), title)
    article.duplicate_of, article.duplicate_kind, article.similarity = "stale", "near", 0.7
    run([article])
    assert (article.duplicate_of, article.duplicate_kind, article.similarity, article.story_id) == (
        None, None, None, "a1")


def test_an_article_is_not_a_duplicate_of_its_own_stored_copy(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    article = make_article("a1", "\n".join(paragraphs), title)
    (again,) = run([make_article("a1", "\n".join(paragraphs), title)], [remembered(article, story_id="s1")])
    assert again.duplicate_of is None and again.story_id == "s1"
    # Nor of a stored copy that was itself marked as a duplicate of it.
    copy = remembered(make_article("c1", "\n".join(paragraphs)), story_id="s1", duplicate_of="a1")
    (again,) = run([make_article("a1", "\n".join(paragraphs), title)], [copy])
    assert again.duplicate_of is None


# --- URLs ---------------------------------------------------------------------------------------

def test_same_canonical_url_with_tracking_params_is_url_duplicate(bridge: tuple[str, list[str]]) -> None:
    title, paragraphs = bridge
    stored = make_article("w1", "\n".join(paragraphs), title, url="https://marlow.example/news/bridge-repairs")
    _, cup = read_article("cup_final.txt")
    # Rewritten since: different text, but the same article by its canonical address.
    new = make_article("n1", "\n".join(cup), url="https://feeds.example/rss/123",
                       canonical_url="https://Marlow.example/news/bridge-repairs/?utm_source=rss&utm_campaign=x#c")
    (new,) = run([new], [remembered(stored, story_id="story-9")])
    assert (new.duplicate_of, new.duplicate_kind, new.story_id) == ("w1", "url", "story-9")
    other = make_article("n2", "\n".join(cup), url="https://marlow.example/news/cup-final")
    (other,) = run([other], [remembered(stored)])
    assert other.duplicate_of is None


def test_front_page_canonical_url_identifies_no_article(bridge: tuple[str, list[str]]) -> None:
    _, paragraphs = bridge
    _, cup = read_article("cup_final.txt")
    a = make_article("p1", "\n".join(paragraphs), canonical_url="https://site.example/")
    b = make_article("p2", "\n".join(cup), canonical_url="https://site.example")
    run([a, b])
    assert b.duplicate_of is None


# --- stories ----------------------------------------------------------------------------------

def test_seed_reports_share_a_story_but_are_not_duplicates() -> None:
    dateline, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    first = make_article("seed0", body0, None)
    second = make_article("seed2", body2, headline)
    run([first, second])
    assert first.duplicate_of is None and second.duplicate_of is None
    assert first.story_id == second.story_id == "seed0"
    assert cosine(first.story_terms, second.story_terms) > 0.5


def test_unrelated_articles_get_their_own_stories() -> None:
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    cup_title, cup = read_article("cup_final.txt")
    bakery_title, bakery = read_article("bakery_results.txt")
    bridge_title, bridge = read_article("harbour_bridge.txt")
    batch = run([make_article("seed0", body0), make_article("cup", "\n".join(cup), cup_title),
                 make_article("bakery", "\n".join(bakery), bakery_title), make_article("seed2", body2, headline),
                 make_article("bridge", "\n".join(bridge), bridge_title)])
    assert [a.duplicate_of for a in batch] == [None] * 5
    assert [a.story_id for a in batch] == ["seed0", "cup", "bakery", "seed0", "bridge"]
    for other in batch[1:3] + batch[4:]:
        assert cosine(batch[0].story_terms, other.story_terms) < SETTINGS.story_threshold


def test_story_joins_a_stored_article_inside_the_window_only() -> None:
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    stored = make_article("w-seed0", body0)
    recent = remembered(stored, seen_at=NOW - timedelta(days=1), story_id="story-ukraine")
    (joined,) = run([make_article("n-seed2", body2, headline)], [recent])
    assert joined.duplicate_of is None and joined.story_id == "story-ukraine"

    too_old = NOW - timedelta(days=SETTINGS.story_window_days + 1)
    old = remembered(stored, seen_at=too_old, story_id="story-ukraine")
    (alone,) = run([make_article("n-seed2", body2, headline)], [old])
    assert alone.duplicate_of is None and alone.story_id == "n-seed2"


YEARS_AGO = NOW - timedelta(days=3 * 365)


@pytest.mark.parametrize("flush", [s4_dedup.TERM_INDEX_FLUSH, 1])  # 1: batch vectors go through the arrays
def test_stories_in_one_batch_keep_the_window(monkeypatch: pytest.MonkeyPatch, flush: int) -> None:
    """Two reports of one story published years apart (a feed's back catalogue) are two stories;
    within the window they are one. An unknown date counts as the run's (ingestion), as stored
    articles count for their ingestion when their publication is unknown."""
    monkeypatch.setattr(s4_dedup, "TERM_INDEX_FLUSH", flush)
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    window = timedelta(days=SETTINGS.story_window_days)

    def stories(first: datetime | None, second: datetime | None) -> list[str | None]:
        batch = run([make_article("seed0", body0, published_at=first),
                     make_article("seed2", body2, headline, published_at=second)])
        assert [a.duplicate_of for a in batch] == [None, None]
        return [a.story_id for a in batch]

    assert stories(YEARS_AGO, None) == ["seed0", "seed2"]
    assert stories(None, YEARS_AGO) == ["seed0", "seed2"]
    assert stories(YEARS_AGO, YEARS_AGO + timedelta(days=2)) == ["seed0", "seed0"]
    assert stories(YEARS_AGO, YEARS_AGO + window + timedelta(hours=1)) == ["seed0", "seed2"]
    assert stories(NOW - timedelta(days=1), None) == ["seed0", "seed0"]
    assert stories(NOW - window - timedelta(hours=1), None) == ["seed0", "seed2"]


def test_the_best_match_outside_the_window_does_not_hide_one_inside() -> None:
    """The window is checked per pair: of two equally close stored reports, the one years older than the
    new article is passed over for the one inside the window."""
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    report = make_article("w-seed0", body0)
    old = remembered(report, seen_at=YEARS_AGO, story_id="story-old")
    recent = dataclasses.replace(remembered(report, story_id="story-recent"), article_id="w-seed0-again")
    (new,) = run([make_article("n-seed2", body2, headline)], [old, recent])
    assert new.story_id == "story-recent"
    (back,) = run([make_article("n-seed2", body2, headline, published_at=YEARS_AGO + timedelta(days=1))],
                  [old, recent])
    assert back.story_id == "story-old"


def test_a_back_dated_batch_article_joins_no_recent_stored_story() -> None:
    """Between a batch article and a stored one the window is the same: their two dates, not the run's."""
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    stored = remembered(make_article("w-seed0", body0), seen_at=NOW - timedelta(days=1), story_id="story-ukraine")
    (old,) = run([make_article("n-seed2", body2, headline, published_at=YEARS_AGO)], [stored])
    assert old.duplicate_of is None and old.story_id == "n-seed2"
    (recent,) = run([make_article("n-seed2", body2, headline, published_at=NOW - timedelta(days=2))], [stored])
    assert recent.story_id == "story-ukraine"


def test_copies_are_copies_whatever_their_dates(bridge: tuple[str, list[str]]) -> None:
    """The window is for stories only: a copy republished years later is still marked, in the batch
    as against a stored article (which is matched whatever its age)."""
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    batch = run([make_article("a1", text, title, published_at=YEARS_AGO),
                 make_article("a2", text + "\n" + TAIL, None)])
    assert (batch[1].duplicate_of, batch[1].duplicate_kind, batch[1].story_id) == ("a1", "near", "a1")
    stored = remembered(make_article("w1", text, title), seen_at=YEARS_AGO)
    (copy,) = run([make_article("n1", text + "\n" + TAIL)], [stored])
    assert copy.duplicate_of == "w1"


def test_the_earlier_published_copy_is_the_original(bridge: tuple[str, list[str]]) -> None:
    """Within a batch the earliest publication is the original, not the article the feed listed first;
    an undated article counts for now, so after dated ones; equal dates keep the list order."""
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    newer = make_article("newer", text + "\n" + TAIL, None, published_at=NOW - timedelta(days=1))
    older = make_article("older", text, title, published_at=NOW - timedelta(days=2))
    run([newer, older])
    assert (older.duplicate_of, older.story_id) == (None, "older")
    assert (newer.duplicate_of, newer.story_id) == ("older", "older")

    undated, dated = make_article("undated", text), make_article("dated", text, published_at=YEARS_AGO)
    run([undated, dated])
    assert (dated.duplicate_of, undated.duplicate_of, undated.duplicate_kind) == (None, "dated", "exact")


def test_stored_duplicates_are_no_story_candidates() -> None:
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    copy = remembered(make_article("w-copy", body0), story_id="story-x", duplicate_of="w-gone")
    (new,) = run([make_article("n1", body2, headline)], [copy])
    assert new.story_id == "n1"


def test_naive_and_aware_times_mix() -> None:
    _, body0 = read_seed("000")
    headline, body2 = read_seed("002")
    stored = remembered(make_article("w1", body0), seen_at=datetime(2025, 12, 15, 12, 0), story_id="s-1")
    (new,) = run([make_article("n1", body2, headline)], [stored])
    assert new.story_id == "s-1"


def test_large_store_still_finds_the_original(bridge: tuple[str, list[str]]) -> None:
    """Among 20k unrelated stored rows the right original and its story are found."""
    title, paragraphs = bridge
    rng = np.random.default_rng(5)
    filler_terms = [{f"term{rng.integers(0, 5000)}": 1.0 for _ in range(5)} for _ in range(50)]
    known = [KnownArticle(f"k{i}", f"{i:064x}", f"https://x.example/{i}",
                          rng.integers(0, 2**63, size=SETTINGS.num_perm, dtype=np.uint64).tobytes(),
                          f"k{i}", filler_terms[i % 50], NOW - timedelta(hours=1), None) for i in range(20_000)]
    known.append(remembered(make_article("target", "\n".join(paragraphs), title), story_id="story-t"))
    batch = run([make_article("n1", "\n".join(paragraphs[:7]) + "\n" + TAIL),
                 make_article("n2", "\n".join(read_article("cup_final.txt")[1]))], known)
    assert (batch[0].duplicate_of, batch[0].story_id) == ("target", "story-t")
    assert batch[1].duplicate_of is None and batch[1].story_id == "n2"


def test_the_public_steps_mark_a_restyled_copy(bridge: tuple[str, list[str]]) -> None:
    """prepare, then assign: a copy differing only in quotes and spacing is an exact duplicate, and the
    hash it was matched on is the text hash the warehouse stores."""
    title, paragraphs = bridge
    text = "\n".join(paragraphs)
    restyled = text.replace("'", "’").replace(" ", "  ")
    first, copy = make_article("a1", text, title), make_article("a2", restyled)
    prepare([first, copy], SETTINGS)
    assign([first, copy], [], SETTINGS, NOW)
    assert first.text_hash == copy.text_hash == text_hash(text) == text_hash(restyled)
    assert (first.duplicate_of, copy.duplicate_of, copy.duplicate_kind) == (None, "a1", "exact")


def story_updates(count: int) -> list[Article]:
    """One story as a source publishes it again and again, each time with a paragraph of news added."""
    title, paragraphs = read_article("harbour_bridge.txt")
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Monday")
    added = [f"Late on {day} the council said the inquiry into the closure would report in {n + 2} weeks, that "
             f"{n + 3} engineers had surveyed the cables again and that the ferry would run {n + 4} extra trips."
             for n, day in enumerate(days)]
    return [make_article(f"u{i}", "\n\n".join(paragraphs) + "\n\n" + added[i], f"{title} (update {i})",
                         published_at=NOW - timedelta(hours=count - i)) for i in range(count)]


def test_a_story_a_source_publishes_again_in_every_run_stays_a_copy() -> None:
    """A source that publishes a story again with each update, one update a run: from the sixth on, the
    story's text was 'what the source repeats in 5 or more articles' (its stored copies counted as its
    articles) and each new update was stored as a story of its own. Copies of one article count once."""
    known: list[KnownArticle] = []
    for offset, update in enumerate(story_updates(8)):
        (update,) = run([update], known)
        known.append(remembered(update, seen_at=NOW - timedelta(hours=8 - offset), duplicate_of=update.duplicate_of))
    assert [k.duplicate_of for k in known] == [None] + ["u0"] * 7

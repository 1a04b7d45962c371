"""Tests for tasks.s2_clean: text and HTML cleaning, decoding and the batch step, on real sample inputs."""

from __future__ import annotations

import dataclasses
import codecs
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trafilatura
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

import tasks.s2_clean as clean_module
from config.settings import CleanSettings
from tasks.s2_clean import RejectedInput, clean_documents, clean_html, clean_text, decode_bytes
from tasks.records import RawDocument
from tasks.text.header import MAX_FUTURE, MIN_YEAR, plausible_date
from tasks.text.normalise import word_count

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data" / "clean"
SEED_000 = SEEDS / "000_86dcefa09d6f54ea.txt"
SEED_002 = SEEDS / "002_cc2e266a8b9d55b3.txt"
BOILERPLATE = ("No comments", "Post a Comment", "Today's Top News")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def _doc(raw: bytes, locator: str, media_type: str = "text/plain", **extra: object) -> RawDocument:
    return RawDocument(source="test", locator=locator, content_hash=f"h-{locator}", raw=raw,
                       media_type=media_type, **extra)


# --- the seeds ----------------------------------------------------------------------------------

def test_seed_002_title_dateline_and_credit() -> None:
    art = clean_text(_read(SEED_002))
    assert art.title == "US offers 'NATO-like' security to Ukraine"
    assert art.title_derived is False
    assert art.dateline == "BERLIN"
    assert art.credit == "Agencies - Xinhua"
    assert art.text.startswith("The United States has offered")
    assert "Agencies - Xinhua" not in art.text
    assert art.language == "en"


def test_seed_000_dateline_is_not_the_title() -> None:
    art = clean_text(_read(SEED_000))
    assert art.dateline == "WASHINGTON, United States"
    assert art.title != "WASHINGTON, United States"
    assert art.title_derived is True
    assert art.title and art.title.startswith("The United States has said")
    assert len(art.title.split()) <= 14
    assert art.text.startswith("The United States has said")
    assert "WASHINGTON" not in art.text.split("\n\n")[0]


@pytest.mark.parametrize("path", [SEED_000, SEED_002], ids=["seed000", "seed002"])
def test_seed_boilerplate_removed_and_paragraphs_kept(path: Path) -> None:
    raw = _read(path)
    art = clean_text(raw)
    for phrase in BOILERPLATE:
        assert phrase not in art.text
    paragraphs = _paragraphs(art.text)
    assert not any(p.startswith(("-", "*", "\u2022")) for p in paragraphs)
    assert "Trump says war with Venezuela" not in art.text
    assert art.text.startswith("The United States")
    # every body line of the seed survives as its own paragraph
    assert len(paragraphs) >= 15
    assert all(p.strip() == p and p for p in paragraphs)
    assert paragraphs[-1].endswith(("talk\".", "object to."))


def test_seed_002_keeps_mid_text_subheading() -> None:
    paragraphs = _paragraphs(clean_text(_read(SEED_002)).text)
    assert "Article Five" in paragraphs
    assert paragraphs.index("Article Five") < len(paragraphs) - 3


# --- our own sample texts -----------------------------------------------------------------------

def test_reuters_inline_dateline_and_reporting_credit() -> None:
    raw = _read(DATA / "reuters_inline.txt")
    art = clean_text(raw)
    assert art.title == "Central bank holds rates steady as inflation cools"
    assert art.dateline == "LONDON"
    assert art.credit == "Reuters"  # from "(Reuters)" in the dateline: the closing lines are not cut here
    assert art.text.startswith("The Bank of England kept")

    custom = CleanSettings(extra_footer_phrases=("our standards",))
    art = clean_text(raw, custom)
    assert art.credit == "Reporting by Jane Doe; Editing by John Roe"
    assert "Our Standards" not in art.text and "Reporting by" not in art.text
    # an agency named inside a sentence is body text, not a credit
    assert _paragraphs(art.text)[-1] == "The AP reported earlier that markets were pricing in two cuts next year."


def test_blog_share_footer_byline_and_posted_date() -> None:
    art = clean_text(_read(DATA / "blog_share.txt"))
    assert art.title == "Why our town's library is worth saving"
    assert art.byline == "Anna Berg"
    assert art.published_at == datetime(2025, 3, 3, tzinfo=timezone.utc)
    for junk in ("Share this", "Twitter", "Facebook", "Like this", "Loading", "Posted:", "By Anna"):
        assert junk not in art.text
    assert _paragraphs(art.text)[-1].startswith("If you care about the library")
    assert art.credit is None


def test_portal_related_stories_and_copyright_cut() -> None:
    art = clean_text(_read(DATA / "portal_related.txt"))
    assert art.title == "Monsoon floods displace thousands in Assam"
    assert art.dateline == "NEW DELHI, March 12"
    assert art.credit == "PTI"
    assert art.published_at == datetime(2025, 3, 12, 10, 30, tzinfo=timezone.utc)
    for junk in ("Related stories", "Tripura", "\u2022", "Copyright", "Updated"):
        assert junk not in art.text
    # a sentence that merely starts with a footer word ("Comments") is article text
    assert _paragraphs(art.text)[-1] == "Comments from the state's chief minister were not immediately available."
    assert art.text.startswith("Heavy rain has flooded")


def test_markdown_byline_published_and_dash_credit() -> None:
    art = clean_text(_read(DATA / "byline_published.md"))
    assert art.title == "City council approves new cycling lanes"
    assert art.byline == "Maria Lopez"
    assert art.published_at == datetime(2024, 5, 1, 8, 15, tzinfo=timezone.utc)
    assert art.credit == "AP"
    for markup in ("#", "**", "](", "https://", "*remove"):
        assert markup not in art.text
    assert "first proposed by the transport committee, passed" in art.text
    assert "What happens next" in _paragraphs(art.text)
    assert _paragraphs(art.text)[-1].startswith("Construction of the first section")


FERRY_LEAD = ("Ferry fares on the harbour crossing will rise by eight per cent from April, the operator said "
              "on Monday, blaming the cost of fuel.")
FERRY_BODY = ["The operator said season tickets would rise by less, and that children under five would still "
              "travel free.", "Passenger groups said the rise was the third in two years and called on the council "
                              "to subsidise the route."]


@pytest.mark.parametrize("byline_line", ["By Sarah Whitfield, Transport Correspondent",
                                         "By Sarah Whitfield, Transport Correspondent | Published: 3 March 2025"])
def test_byline_after_the_lead_is_moved_out_of_the_text(byline_line: str) -> None:
    raw = "\n\n".join(["Ferry fares to rise in April", FERRY_LEAD, byline_line, *FERRY_BODY])
    art = clean_text(raw)
    assert art.byline == "Sarah Whitfield, Transport Correspondent"
    assert _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY]
    assert art.title == "Ferry fares to rise in April"
    assert clean_text(art.text).text == art.text


@pytest.mark.parametrize("headline", [[], ["Ferry fares to rise in April"]])
@pytest.mark.parametrize(("date_line", "published"), [
    ("Published 3 March 2025", datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("3 March 2025 09:30 GMT", datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)),
])
def test_a_byline_over_its_date_line_is_no_wrapped_paragraph(headline: list[str], date_line: str,
                                                             published: datetime) -> None:
    # two header lines of about the same width, no blank line between: not one hard-wrapped line
    header = f"By Sarah Whitfield, Transport Correspondent\n{date_line}"
    art = clean_text("\n\n".join([*headline, header, FERRY_LEAD, *FERRY_BODY]))
    assert art.byline == "Sarah Whitfield, Transport Correspondent"
    assert art.published_at == published
    assert art.title == (headline[0] if headline else
                         "Ferry fares on the harbour crossing will rise by eight per cent from April")
    assert _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY]


@pytest.mark.parametrize(("header", "byline", "published"), [
    ("By Sarah Whitfield, 3 March 2025", "Sarah Whitfield", datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("By Sarah Whitfield, March 3, 2025", "Sarah Whitfield", datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("By Sarah Whitfield - 3 March 2025 09:30 GMT", "Sarah Whitfield", datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)),
    ("By Sarah Whitfield on 3 March 2025", "Sarah Whitfield", datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("By Sarah Whitfield \u2014 3 March 2025 \u2014 09:30 GMT", "Sarah Whitfield",
     datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)),
    ("By Sarah Whitfield, Transport Correspondent, Published 3 March 2025", "Sarah Whitfield, Transport Correspondent",
     datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("By Sarah Whitfield, Published 03/04/2025", "Sarah Whitfield", None),  # 3 April or 4 March: no date
    # a blog's account name is no byline; the date stays (the line was dropped, and its date with it)
    ("Posted on March 3rd, 2025 by admin", None, datetime(2025, 3, 3, tzinfo=timezone.utc)),
    ("Posted on March 3, 2025 by Sarah Whitfield", "Sarah Whitfield", datetime(2025, 3, 3, tzinfo=timezone.utc)),
])
def test_a_byline_and_its_date_on_one_line_after_a_comma_or_dash(header: str, byline: str,
                                                                   published: datetime | None) -> None:
    # the line was taken as a second headline and dropped: no byline, no date
    art = clean_text("\n".join(["Ferry fares to rise in April", header, "", FERRY_LEAD, *FERRY_BODY]))
    assert (art.title, art.byline, art.published_at) == ("Ferry fares to rise in April", byline, published)
    assert _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY]


@pytest.mark.parametrize("lead", [
    "Published 3 March 2026 by the Office for National Statistics, the figures show that fares rose again.",
    "Updated 3 March 2026 by our reporters in the town hall after the vote on the harbour crossing.",
])
def test_a_lead_opening_with_a_date_and_by_is_no_header_line(lead: str) -> None:
    """Only an account name ('Posted on March 3, 2025 by admin') makes a date line with a name that is no
    person's a header: a lead that opens with a date and 'by' was dropped from the text as one."""
    art = clean_text("\n\n".join(["Ferry fares to rise in April", lead, FERRY_LEAD, *FERRY_BODY]))
    assert _paragraphs(art.text) == [lead, FERRY_LEAD, *FERRY_BODY]


@pytest.mark.parametrize("closing", ["By Daniel Okafor", "By Daniel Okafor."])
def test_a_byline_closing_the_article_is_the_byline(closing: str) -> None:
    art = clean_text("\n\n".join(["Ferry fares to rise in April", FERRY_LEAD, *FERRY_BODY, closing]))
    assert art.byline == "Daniel Okafor"
    assert _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY]
    assert clean_text(art.text).text == art.text
    # a byline at the top comes first; the closing one still leaves the text
    art = clean_text("\n\n".join(["Ferry fares to rise in April", "By Sarah Whitfield", FERRY_LEAD, *FERRY_BODY,
                                   closing]))
    assert art.byline == "Sarah Whitfield" and _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY]


def test_a_closing_sentence_starting_with_by_stays() -> None:
    by_friday = "By Friday the new timetable will be posted at the terminal, the operator said."
    art = clean_text("\n\n".join([FERRY_LEAD, *FERRY_BODY, by_friday]))
    assert art.byline is None and _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY, by_friday]


def test_a_sentence_starting_with_by_after_the_lead_stays() -> None:
    by_tuesday = "By Tuesday the fares had already been posted at the terminal, passengers said."
    art = clean_text("\n\n".join([FERRY_LEAD, by_tuesday, *FERRY_BODY]))
    assert art.byline is None and _paragraphs(art.text) == [FERRY_LEAD, by_tuesday, *FERRY_BODY]


def test_short_real_last_sentence_is_kept() -> None:
    art = clean_text(_read(DATA / "short_last_sentence.txt"))
    paragraphs = _paragraphs(art.text)
    assert paragraphs[-1] == "The vote is on Friday."
    assert "Student reaction" in paragraphs
    assert art.dateline == "NAIROBI"
    assert art.title_derived is True
    assert art.title and art.title.startswith("Kenya's parliament")


def test_afp_dateline_with_agency_and_footer_after_credit() -> None:
    art = clean_text(_read(DATA / "afp_inline.txt"))
    assert art.dateline == "PARIS, March 3"
    assert art.credit == "AFP"
    assert art.text.startswith("French farmers drove")
    assert "You may also like" not in art.text and "marathon" not in art.text and "With AFP" not in art.text


# --- individual rules ---------------------------------------------------------------------------

BODY = ("The committee met for six hours behind closed doors before announcing its decision to the press. "
        "Members said the vote had been close and that further talks would follow next month.")


@pytest.mark.parametrize("lead, dateline, credit, start", [
    ("WASHINGTON, Dec 15 (Xinhua) -- The US Senate passed the bill late on Monday.",
     "WASHINGTON, Dec 15", "Xinhua", "The US Senate passed"),
    ("BERLIN \u2014 The United States has offered new guarantees to its allies.", "BERLIN", None, "The United"),
    ("LONDON (Reuters) - British retail sales rose for a third month in November.",
     "LONDON", "Reuters", "British retail"),
    ("RIO DE JANEIRO, Brazil \u2013 Heavy rain flooded dozens of streets on Sunday.",
     "RIO DE JANEIRO, Brazil", None, "Heavy rain"),
])
def test_inline_datelines(lead: str, dateline: str, credit: str | None, start: str) -> None:
    art = clean_text(f"{lead}\n{BODY}")
    assert art.dateline == dateline
    assert art.credit == credit
    assert art.text.startswith(start)


@pytest.mark.parametrize("lead, dateline, credit, start", [
    ("(CNN)Police in Japan say they have arrested a man on Monday.", None, "CNN", "Police in Japan"),
    ("Tokyo (CNN)Police in Japan say they have arrested a man on Monday.", "Tokyo", "CNN", "Police in Japan"),
    ("Ferguson, Missouri (CNN)Ferguson's police chief is already out.", "Ferguson, Missouri", "CNN", "Ferguson's"),
    ("Kabul, Afghanistan (CNN) -- Thousands of bottles were destroyed.", "Kabul, Afghanistan", "CNN", "Thousands"),
    ("Rio de Janeiro (CNN)Heavy rain flooded dozens of streets on Sunday.", "Rio de Janeiro", "CNN", "Heavy rain"),
    ("WASHINGTON (CNN)During his speech to Congress, he will speak.", "WASHINGTON", "CNN", "During his"),
    ("(The Hollywood Reporter)Melissa Benoist is ready to fly in CBS's new series.", None,
     "The Hollywood Reporter", "Melissa Benoist"),
    ("(CNN)iPhone sales fell sharply in China in the last quarter.", None, "CNN", "iPhone sales"),
    ("Madrid (CNN Espa\u00f1ol) \u2014 \u00a1Incre\u00edble! El Real Madrid gan\u00f3 la final anoche.", "Madrid",
     "CNN Espa\u00f1ol", "\u00a1Incre\u00edble!"),
    ("PARIS (AFP) - \u00ab Nous ne c\u00e9derons pas \u00bb, a d\u00e9clar\u00e9 le pr\u00e9sident mardi soir.", "PARIS", "AFP",
     "\u00ab Nous"),
])
def test_agency_glued_to_the_lead_is_split_off(lead: str, dateline: str | None, credit: str, start: str) -> None:
    """A web page's '(CNN)' cite runs into the first word; it is the credit, not the title's or summary's start."""
    art = clean_text(f"{lead}\n{BODY}")
    assert (art.dateline, art.credit) == (dateline, credit)
    assert art.text.startswith(start) and art.title.startswith(start)


@pytest.mark.parametrize("lead", [
    "(Updated)The vote on the budget has been moved to Monday next week.",
    "(Corrected)The vote on the budget has been moved to Monday next week.",
    "(Refile) Shares in the bank fell sharply on Monday after the results.",
    "(1)First, the committee agreed on the plan for the coming year.",
    "Apple said (in a note) -- that sales rose again in the third quarter.",
    "Microsoft (MSFT) -- the software giant said on Tuesday it would cut 10,000 jobs by March.",
    "Sen. Joe Manchin (D) — who holds the deciding vote — said he would not back the bill.",
])
def test_brackets_opening_a_lead_that_are_no_agency_stay(lead: str) -> None:
    art = clean_text(f"{lead}\n{BODY}")
    assert art.credit is None and art.dateline is None
    assert art.text.startswith(lead)


@pytest.mark.parametrize("lead", [
    "US officials said on Monday that the talks would resume next week in Geneva.",
    "NATO leaders agreed to raise defence spending at their summit in The Hague.",
    "EU ministers - meeting in Brussels - failed to agree on the budget.",
])
def test_sentences_starting_with_acronyms_are_not_datelines(lead: str) -> None:
    art = clean_text(f"{lead}\n{BODY}")
    assert art.dateline is None
    assert art.text.startswith(lead)


def test_a_derived_title_cut_short_does_not_end_on_a_helper_verb() -> None:
    # no comma, dash or clause word to cut at: cut at 14 words, it ended "… plans now could be"
    lead = "Officials fear Newcastle's long awaited new Tyne bridge project budget plans now could be delayed again."
    assert clean_text(f"{lead}\n{BODY}").title == "Officials fear Newcastle's long awaited new Tyne bridge project budget plans now"


def test_derived_title_is_cut_at_a_word_boundary() -> None:
    lead = ("Thousands of residents were evacuated from coastal towns in the south of the country on Sunday "
            "as a powerful storm approached, officials said.")
    art = clean_text(f"{lead}\n{BODY}")
    assert art.title_derived is True
    words = art.title.split()
    assert 5 <= len(words) <= 14
    assert lead.startswith(art.title)
    assert lead[len(art.title)] in " ,"


@pytest.mark.parametrize("lead, title", [
    ("The fire broke out at 3 a.m. Firefighters said the blaze spread quickly through the old building.",
     "The fire broke out at 3 a.m."),
    ("Voting ended at 8 p.m. Results are expected before midnight, officials in the capital said on Tuesday.",
     "Voting ended at 8 p.m."),
])
def test_derived_title_ends_at_a_time_that_ends_the_sentence(lead: str, title: str) -> None:
    """'a.m.' and 'p.m.' are no initials: the lead's first sentence ends after them, and the title keeps their dot."""
    assert clean_text(f"{lead}\n{BODY}").title == title


@pytest.mark.parametrize("lead, title", [
    ("The fire broke out at 3 a.m. on Monday and spread to six homes in the street, police said.",
     "The fire broke out at 3 a.m. on Monday and spread to six homes"),
    ("For years, they've wanted six seasons and a movie, and at 3:01 a.m. ET Tuesday, fans got it. More came.",
     "For years, they've wanted six seasons and a movie"),
])
def test_derived_title_reads_on_past_a_time_in_its_sentence(lead: str, title: str) -> None:
    """'a.m.' before a word in lower case or its time zone does not end the sentence."""
    assert clean_text(f"{lead}\n{BODY}").title == title


@pytest.mark.parametrize("lead, title", [
    ("Viele Familien, z.B. Alleinerziehende, bekommen mehr Geld vom Staat. Das beschloss der Bundestag am Freitag.",
     "Viele Familien, z.B. Alleinerziehende, bekommen mehr Geld vom Staat"),
    ("Die Reform gilt ab Januar, d.h. Familien bekommen mehr Geld. Das beschloss der Bundestag am Freitag.",
     "Die Reform gilt ab Januar, d.h. Familien bekommen mehr Geld"),
])
def test_derived_title_reads_on_past_initials_in_lower_case(lead: str, title: str) -> None:
    """'z.B.', 'u.a.', 'd.h.' before a German noun are initials, not a sentence end."""
    assert clean_text(f"{lead}\n{BODY}").title == title


@pytest.mark.parametrize("lead, title", [
    ("T.J. Maxx has pulled a T-shirt from its shelves after a shopper posted a picture of it.",
     "T.J. Maxx has pulled a T-shirt from its shelves"),
    ("The Rev. Fred Craddock, the pulpit giant, has died at the age of 86 in Georgia.",
     "The Rev. Fred Craddock, the pulpit giant"),
    ("Warner Bros. has won a bidding war for the rights to the novel, the studio said.",
     "Warner Bros. has won a bidding war for the rights to the novel"),
    ("Comic books of the past few years have seen a lot of changes (a female Thor, anyone?) but not at once.",
     "Comic books of the past few years have seen a lot of changes"),
])
def test_derived_title_keeps_initials_and_closes_no_bracket(lead: str, title: str) -> None:
    """Initials and titles such as 'Rev.' do not end the lead's first sentence, a derived title never stops
    inside brackets."""
    assert clean_text(f"{lead}\n{BODY}").title == title


def test_agency_words_inside_sentences_are_not_credits() -> None:
    text = f"Ports reopen after storm\n{BODY}\nReporters from the AP and Reuters were present at the briefing."
    art = clean_text(text)
    assert art.credit is None
    assert art.text.endswith("were present at the briefing.")


@pytest.mark.parametrize("closing, credit", [
    ("(Reuters)", "Reuters"), ("\u2014 AP", "AP"), ("Source: Xinhua", "Xinhua"), ("With AFP", "AFP"),
    ("With inputs from PTI and ANI", "With inputs from PTI and ANI"),
    ("Reuters contributed to this report.", "Reuters contributed to this report"),
])
def test_closing_credit_lines(closing: str, credit: str) -> None:
    art = clean_text(f"Ports reopen after storm\n{BODY}\n{closing}")
    assert art.credit == credit
    assert art.text == BODY


def test_extra_agencies_are_recognised() -> None:
    text = f"Ports reopen after storm\n{BODY}\nSource: Kathimerini"
    assert clean_text(text).credit is None
    art = clean_text(text, CleanSettings(extra_agencies=("kathimerini",)))
    assert art.credit == "Kathimerini"
    assert "Kathimerini" not in art.text


def test_dates_come_only_from_metadata_lines() -> None:
    dated = clean_text(f"Ports reopen after storm\nDecember 16, 2025\n{BODY}")
    assert dated.published_at == datetime(2025, 12, 16, tzinfo=timezone.utc)
    assert "December 16" not in dated.text
    undated = clean_text(f"Ports reopen after storm\nOn March 3, 2025 the harbour was closed to ships. {BODY}")
    assert undated.published_at is None


@pytest.mark.parametrize("date_line, published", [
    ("PUBLISHED: 14:11 EST, 25 October 2013 | UPDATED: 15:36 EST, 25 October 2013",
     datetime(2013, 10, 25, 19, 11, tzinfo=timezone.utc)),
    ("Last updated at 1:25 AM on 3rd August 2011", datetime(2011, 8, 3, tzinfo=timezone.utc)),
    ("Posted 9.30pm BST, 5 May 2024", datetime(2024, 5, 5, 20, 30, tzinfo=timezone.utc)),
])
def test_a_date_line_with_the_time_before_the_day(date_line: str, published: datetime) -> None:
    """MailOnline writes the time first; such a line is the article's date, not its title."""
    art = clean_text(f"By Associated Press\n\n{date_line}\n\n{BODY}")
    assert art.published_at == published
    assert art.byline == "Associated Press"
    assert art.title_derived is True and art.title.startswith("The committee met")
    assert art.text.startswith("The committee met")


# A made-up article with its header on one line, its parts separated by " . ", as the Daily Mail's
# articles come in the CNN/DailyMail corpus.
ONE_LINE_HEADER_LEAD = ("The harbour board has closed the old pier at Wendmouth after divers found cracks in two of "
                        "its piles, a week before the summer ferries were due to start.")
ONE_LINE_HEADER_BODY = ("Repairs will take at least a month, the board said . Ferry passengers will board at the "
                        "new quay instead, and the timetable will not change.")


@pytest.mark.parametrize("header, byline, published", [
    ("By . Daily Mail Reporter . PUBLISHED: . 14:11 EST, 25 October 2013 . | . "
     "UPDATED: . 15:36 EST, 25 October 2013 .", "Daily Mail Reporter", datetime(2013, 10, 25, 19, 11, tzinfo=timezone.utc)),
    ("By . Anna Berg . and Tom Reed . UPDATED: . 18:30 EST, 3 March 2012 .",
     "Anna Berg and Tom Reed", datetime(2012, 3, 3, 23, 30, tzinfo=timezone.utc)),
    ("By . Anna Berg . Last updated at 1:25 AM on 3rd August 2011 .", "Anna Berg", datetime(2011, 8, 3, tzinfo=timezone.utc)),
    ("By . Anna Berg, Transport Correspondent . PUBLISHED: . 03:39 EST, 8 May 2012 . | . "
     "UPDATED: . 18:10 EST, 8 May 2012 .", "Anna Berg, Transport Correspondent", datetime(2012, 5, 8, 8, 39, tzinfo=timezone.utc)),
    ("By . Anna Berg . for MailOnline .", "Anna Berg for MailOnline", None),
    ("PUBLISHED: . 07:04 EST, 9 January 2014 . | . UPDATED: . 07:16 EST, 9 January 2014 .", None,
     datetime(2014, 1, 9, 12, 4, tzinfo=timezone.utc)),
])
@pytest.mark.parametrize("own_line", [False, True])
def test_a_header_on_one_line_with_its_parts_between_dots(header: str, byline: str | None,
                                                          published: datetime | None, own_line: bool) -> None:
    """The header is the byline and the date (the PUBLISHED time, in its zone); it leaves the text, and the
    title is the body's first sentence, not 'By'."""
    raw = f"{header}{chr(10) * 2 if own_line else ' '}{ONE_LINE_HEADER_LEAD} {ONE_LINE_HEADER_BODY}"
    [(_, art)], rejects = clean_documents([_doc(raw.encode(), "header.txt")], CleanSettings(min_words=5))
    assert not rejects
    assert art.byline == byline
    assert art.published_at == published
    assert art.title_derived is True
    assert art.title == "The harbour board has closed the old pier at Wendmouth after divers found cracks"
    assert art.text == f"{ONE_LINE_HEADER_LEAD} {ONE_LINE_HEADER_BODY}"
    assert clean_text(art.text).text == art.text


@pytest.mark.parametrize("raw", [
    "By the time the ferry came . the pier was shut. " + ONE_LINE_HEADER_BODY,
    "By . the harbour wall the water rose. " + ONE_LINE_HEADER_BODY,
    "Published: . in the spring the report said little. " + ONE_LINE_HEADER_BODY,
])
def test_a_lead_with_dots_that_is_no_header_stays(raw: str) -> None:
    art = clean_text(raw)
    assert art.byline is None and art.published_at is None
    assert art.text == raw


def test_normalisation_of_spaces_and_invisible_characters() -> None:
    raw = ("Caf\u0065\u0301 owners protest\r\n\r\nThe\u00a0owners of   small\tcaf\u00e9s in the old town "
           "co\u00adoperated\u200b on a petition\u2060 to the mayor on Friday.  \r\nIt was signed by 300 people.\r")
    art = clean_text(raw)
    assert art.title == "Caf\u00e9 owners protest"
    assert _paragraphs(art.text) == [
        "The owners of small caf\u00e9s in the old town cooperated on a petition to the mayor on Friday.",
        "It was signed by 300 people.",
    ]


def test_hard_wrapped_paragraphs_are_joined() -> None:
    raw = ("Harbour reopens\n\n"
           "The harbour reopened to commercial traffic on Tuesday after a week in\n"
           "which strong winds and high waves had kept every ferry and cargo ship\n"
           "tied up at the quay, the port authority said in a statement.\n\n"
           "Ferry operators said they would run extra sailings over the weekend.")
    paragraphs = _paragraphs(clean_text(raw).text)
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("The harbour reopened") and paragraphs[0].endswith("in a statement.")


def test_empty_and_whitespace_text() -> None:
    for raw in ("", "   \n\n\t", "\u200b\u00ad"):
        art = clean_text(raw)
        assert art.text == "" and art.title is None and art.language is None


# --- HTML ---------------------------------------------------------------------------------------

def test_html_article_fields() -> None:
    html = _read(DATA / "article.html")
    art = clean_html(html, url="https://mirror.example.org/port-strike?utm=1")
    assert art.title == "Port workers end strike after pay deal"
    assert art.title_derived is False
    assert art.byline == "Lena Fischer"
    assert art.site_name == "Harbour Times"
    assert art.canonical_url == "https://news.example.com/business/port-workers-end-strike"
    assert art.published_at == datetime(2025, 11, 4, 8, 30, tzinfo=timezone.utc)
    assert art.dateline == "HAMBURG"
    assert art.language == "en"
    assert art.text.startswith("Dock workers at the port of Hamburg")
    for junk in ("Contact us", "Finally! My parcel", "Most read", "Ferry timetable", "Copyright", "Imprint",
                 "Port workers end strike"):
        assert junk not in art.text
    assert len(_paragraphs(art.text)) == 5


def test_html_site_name_given_stands_in_only_when_the_page_names_none() -> None:
    pier = _read(DATA.parent / "feed_flow" / "pages" / "gazette-pier-repairs.html")
    url = "http://127.0.0.1:8765/gazette/pier-repairs.html"
    assert clean_html(pier, url=url).site_name == "127.0.0.1:8765"
    assert clean_html(pier, url=url, site_name="Harbour Gazette").site_name == "Harbour Gazette"
    named = clean_html(_read(DATA / "article.html"), url="https://mirror.example.org/x", site_name="A feed")
    assert named.site_name == "Harbour Times"


def test_html_copyright_year_is_not_a_publication_date() -> None:
    html = _read(DATA / "copyright_only.html")
    art = clean_html(html, url="https://wyevalley.example.net/mill-wheel")
    assert art.published_at is None
    assert art.title == "Volunteers restore historic mill wheel"
    assert art.text.startswith("A group of volunteers")
    assert "Copyright" not in art.text


def test_html_real_new_year_date_is_kept() -> None:
    html = _read(DATA / "copyright_only.html").replace(
        "<title>", '<meta property="article:published_time" content="2025-01-01T12:00:00Z"><title>')
    art = clean_html(html, url="https://wyevalley.example.net/mill-wheel")
    assert art.published_at == datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("published", ["2024-02-30T10:00:00Z", "2024-13-45T10:00:00Z", "2024-05",
                                       "2099-01-01T10:00:00Z"])
def test_html_impossible_partial_or_future_date_is_not_a_date(published: str) -> None:
    """htmldate reads 2024-02-30 as 1 February, and a missing day as the 1st or today's: no day is invented."""
    html = _read(DATA / "copyright_only.html").replace(
        "<title>", f'<meta property="article:published_time" content="{published}"><title>')
    assert clean_html(html, url="https://wyevalley.example.net/mill-wheel").published_at is None


def test_html_date_written_in_the_page_or_url_is_kept() -> None:
    html = _read(DATA / "copyright_only.html").replace(
        "<title>", '<meta property="article:published_time" content="2024-02-01"><title>')
    assert clean_html(html).published_at == datetime(2024, 2, 1, tzinfo=timezone.utc)
    today = datetime.now().date()  # the day htmldate takes for a missing one
    html = _read(DATA / "copyright_only.html").replace(
        "<title>", f'<meta property="article:published_time" content="{today:%Y-%m-%d}"><title>')
    assert clean_html(html).published_at == datetime(today.year, today.month, today.day, tzinfo=timezone.utc)


@pytest.mark.parametrize("written", ["05/04/2026", "04/05/2026", "5/4/2026"])
def test_html_date_written_only_with_day_and_month_either_way_is_not_a_date(written: str) -> None:
    """05/04/2026 is 5 April in Riverside and 4 May in Springfield: as in plain text ('Published 12/05/2026'),
    a page that writes its date only so has no date (htmldate reads it day first)."""
    html = _read(DATA / "copyright_only.html").replace("</h1>", f"</h1><p>Posted {written}</p>")
    assert f"Posted {written}" in html
    assert clean_html(html, url="https://wyevalley.example.net/mill-wheel").published_at is None


@pytest.mark.parametrize("written", ["13/04/2026", "04/13/2026", "04/04/2026", "05.04.2026"])
def test_html_date_with_only_one_reading_is_kept(written: str) -> None:
    html = _read(DATA / "copyright_only.html").replace("</h1>", f"</h1><p>Posted {written}</p>")
    day, month = (4, 5) if written == "05.04.2026" else (4, 4) if written == "04/04/2026" else (4, 13)
    assert clean_html(html, url="https://wyevalley.example.net/mill-wheel").published_at == datetime(
        2026, day, month, tzinfo=timezone.utc)


def test_html_date_written_unambiguously_too_is_kept() -> None:
    html = _read(DATA / "copyright_only.html").replace(
        "<title>", '<meta property="article:published_time" content="2026-04-05T09:00:00Z"><title>').replace(
        "</h1>", "</h1><p>Posted 05/04/2026</p>")
    assert clean_html(html, url="https://wyevalley.example.net/mill-wheel").published_at == datetime(
        2026, 4, 5, 9, 0, tzinfo=timezone.utc)
    dated_url = "https://wyevalley.example.net/2026/04/05/mill-wheel"
    html = _read(DATA / "copyright_only.html").replace("</h1>", "</h1><p>Posted 05/04/2026</p>")
    assert clean_html(html, url=dated_url).published_at == datetime(2026, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("path", sorted([*DATA.glob("*.html"), *(DATA.parent / "feed_flow" / "pages").glob("*.html"),
                                          DATA.parent / "feeds" / "homepage.html"]), ids=lambda p: p.name)
def test_page_metadata_is_trafilaturas(path: Path) -> None:
    # clean_html reads trafilatura's extract_metadata less the parts it never uses: the fields must agree.
    html = _read(path)
    params = {"extensive_search": False, "original_date": True, "max_date": "2030-01-01"}
    fields = ("title", "author", "url", "date", "sitename")
    for url in (None, "https://example.org/news/2025/11/04/story"):
        ours = clean_module._page_metadata(trafilatura.load_html(html), url, params)
        theirs = trafilatura.extract_metadata(html, default_url=url, date_config=params)
        assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields]


@pytest.mark.parametrize(("html", "words"), [
    ("", 0),
    ("<html><body><nav><a href='/'>Home</a></nav></body></html>", 0),
    ("<div>" * 60000 + "deep" + "</div>" * 60000, 0),
    ("<<<>>>\x00\x01 not really <b html", 0),
    ("<html><body><p>" + "word " * 200000 + "</p></body></html>", 200000),
], ids=["empty", "nav-only", "deep", "junk", "huge"])
def test_odd_html_is_read_without_the_last_resort(html: str, words: int, caplog: pytest.LogCaptureFixture) -> None:
    """Odd markup gives its text (or none) by the ordinary path: clean_html's catch-all, which turns any
    error into an empty article, is not what handles it."""
    with caplog.at_level(logging.WARNING, logger="tasks.s2_clean"):
        art = clean_html(html)
    assert word_count(art.text) == words
    assert not [r for r in caplog.records if "extraction failed" in r.getMessage()]


# --- decoding -----------------------------------------------------------------------------------

SAMPLE = "Stra\u00dfe gesperrt: \u201eNa\u00efve\u201c caf\u00e9 owners \u2014 and 5 \u20ac fees \u2026"


def test_decode_utf8_with_and_without_bom() -> None:
    assert decode_bytes(codecs.BOM_UTF8 + SAMPLE.encode("utf-8")) == SAMPLE
    assert decode_bytes(SAMPLE.encode("utf-8")) == SAMPLE


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_decode_utf16_with_bom(encoding: str) -> None:
    raw = SAMPLE.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    assert decode_bytes(raw) == SAMPLE


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_decode_utf16_without_bom(encoding: str) -> None:
    # saved by a Windows tool with no byte-order mark: it was rejected as "binary content (NUL bytes)"
    assert decode_bytes(SAMPLE.encode(encoding)) == SAMPLE
    doc = _doc(f"Ferry fares to rise in April\n\n{FERRY_LEAD}\n\n{FERRY_BODY[0]}".encode(encoding), "notes.txt")
    kept, rejects = clean_documents([doc], CleanSettings())
    assert not rejects and kept[0][1].title == "Ferry fares to rise in April"
    # a character with a NUL on the letters' side ("\u0100", "\u2500"), a one-byte line end after the text
    odd = "\u0100otearoa is the M\u0101ori name; the road \u2500 long \u2500 runs north for miles and miles."
    assert decode_bytes(odd.encode(encoding)) == odd
    assert decode_bytes(SAMPLE.encode(encoding) + b"\n") == SAMPLE
    with pytest.raises(RejectedInput):  # NULs on both sides of the byte pairs: binary, as before
        decode_bytes(b"\x00\x00A\x00" * 40)


def test_decode_cp1252_and_latin1() -> None:
    western = "Smart \u201cquotes\u201d and an em dash \u2014 in Windows text, na\u00efve caf\u00e9."
    assert decode_bytes(western.encode("cp1252")) == western
    french = "H\u00f4tel de Ville : la r\u00e9union a \u00e9t\u00e9 report\u00e9e \u00e0 jeudi."
    assert decode_bytes(french.encode("latin-1")) == french


@pytest.mark.parametrize("text", ["Caf\u00e9 owners in the old town said the charges had cut their trade.",
                                  "The council spent \u00a35m on the bridge, officials said on Monday.",
                                  "Temperatures reached 30\u00b0C in the afternoon, forecasters said.",
                                  "It\u2019s the council\u2019s third try at a budget \u2014 and the last, it said."])
def test_a_plain_text_with_a_lone_windows_byte_or_two_reads_as_windows_1252(text: str) -> None:
    # one such byte in an otherwise ASCII file was stored as "Caf\ufffd owners"
    assert decode_bytes(text.encode("cp1252")) == text
    assert clean_text(decode_bytes(f"Headline\n\n{text} {text}".encode("cp1252"))).text.startswith(text[:12])


POLISH = "Rząd przyjął w środę projekt ustawy. Źródło: Ślązacy protestują."


@pytest.mark.parametrize(("encoding", "declaration", "body"), [
    ("cp1250", '<meta charset="windows-1250">', "Rząd przyjął projekt ustawy."),
    ("cp1250", '<meta charset="windows-1250">', "Ślązacy i Kaszubi protestują przeciwko zmianom."),
    ("cp1250", '<meta charset="windows-1250">', "Dziś jest środa. Świat."),  # only bytes UTF-8 reads as stray
    ("iso-8859-2", '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2">', POLISH),
    ("cp1251", "<meta charset=windows-1251>", "Правительство одобрило законопроект."),
    ("cp874", "<meta charset=windows-874>", "รัฐบาลอนุมัติร่างกฎหมาย"),
    ("gb18030", '<meta charset="gb2312">', "政府批准了法案——消息人士说。"),
])
def test_decode_a_page_in_the_encoding_it_declares(encoding: str, declaration: str, body: str) -> None:
    # a short page tells detection too little: "Rz¹d przyj¹³" (Windows-1250 read as Windows-1252) was
    # stored, and a real ISO-8859-2 page came out with "dziesi±tej", before the page's own word was read
    page = f"<html><head>{declaration}<title>x</title></head><body><p>{body}</p></body></html>"
    assert decode_bytes(page.encode(encoding)) == page


def test_a_declaration_that_does_not_fit_the_bytes_is_not_followed() -> None:
    page = f'<html><head><meta charset="iso-8859-2"></head><body><p>{POLISH}</p></body></html>'
    assert decode_bytes(page.encode("utf-8")) == page, "UTF-8 bytes are UTF-8 whatever the page says"
    unknown = '<html><head><meta charset="no-such-code"></head><body><p>Café crème, déjà vu.</p></body></html>'
    assert decode_bytes(unknown.encode("cp1252")) == unknown


def test_decode_rejects_binary() -> None:
    with pytest.raises(RejectedInput, match="binary content"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(RejectedInput, match="binary content"):
        decode_bytes(bytes(range(1, 32)) * 20)


def test_a_saved_page_with_a_few_stray_nul_bytes_is_read_as_browsers_read_it() -> None:
    # A real news page (194 KB) carried 22 NUL bytes after an image tag and was rejected as binary content.
    story = SEED_002.read_text(encoding="utf-8").split("\n", 1)[1]
    paragraphs = "".join(f"<p>{p}</p>" for p in story.splitlines() if p.strip())
    page = (f"<html><head><title>Security offer</title></head><body><article>{paragraphs}"
            '<img src="ad.gif" width="120">' + "\x00" * 3 + "</article></body></html>").encode("utf-8")
    kept, rejects = clean_documents([_doc(page, "saved.html", "text/html"), _doc(page, "saved.txt"),
                                     _doc(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "photo.html", "text/html")],
                                    CleanSettings())
    assert [d.locator for d, _ in kept] == ["saved.html"]
    assert kept[0][1].title == "Security offer" and "\x00" not in kept[0][1].text
    assert "offered to provide NATO-style security guarantees for Kyiv" in kept[0][1].text
    assert {r.locator: r.reason for r in rejects} == {"saved.txt": "binary content (NUL bytes)",
                                                       "photo.html": "binary content (NUL bytes)"}


# --- the batch ----------------------------------------------------------------------------------

def test_clean_documents_rejects_bad_docs_and_keeps_good_one() -> None:
    good = _doc(SEED_002.read_bytes(), "good.txt")
    docs = [
        _doc(b"", "empty.txt"),
        _doc(b"\x00\x01\x02binary\x00\xff" * 10, "blob.txt"),
        _doc(b"Short note\nJust seven words are in this one.", "tiny.txt"),
        _doc(b"short text here", "note.txt"),  # no sentence at all: it was 'no text left after removing boilerplate'
        _doc(b"Hello", "word.txt"),
        good,
        _doc(b"<html><body><nav>Home | Sport</nav></body></html>", "nav.html", "text/html"),
    ]
    kept, rejects = clean_documents(docs, CleanSettings())
    assert [d.locator for d, _ in kept] == ["good.txt"]
    assert kept[0][1].title == "US offers 'NATO-like' security to Ukraine"
    reasons = {r.locator: r.reason for r in rejects}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blob.txt"].startswith("binary content")
    assert reasons["tiny.txt"] == "too little text: 7 words (minimum 20)"
    assert reasons["note.txt"] == "too little text: 3 words (minimum 20)"
    assert reasons["word.txt"] == "too little text: 1 word (minimum 20)"
    assert reasons["nav.html"] == "no article text found in HTML"
    assert all("\n" not in r.reason for r in rejects)
    assert {r.content_hash for r in rejects} == {"h-empty.txt", "h-blob.txt", "h-tiny.txt", "h-note.txt", "h-word.txt",
                                                 "h-nav.html"}


def test_clean_documents_sniffs_html_in_txt_and_uses_feed_fields() -> None:
    html = (DATA / "copyright_only.html").read_bytes()
    feed_date = datetime(2025, 6, 2, 7, 0, tzinfo=timezone.utc)
    doc = _doc(html, "page.txt", feed_title="Feed headline", feed_published_at=feed_date)
    kept, rejects = clean_documents([doc], CleanSettings())
    assert not rejects
    art = kept[0][1]
    assert art.title == "Volunteers restore historic mill wheel"  # the page's own title wins
    assert art.published_at == feed_date
    assert "<p>" not in art.text and art.text.startswith("A group of volunteers")

    untitled = _doc(b"Talks resumed on Monday between the two sides after a pause of several weeks, "
                    b"officials said, and a first agreement on prisoner exchanges could follow by Friday.",
                    "lead.txt", feed_title="Talks resume")
    art = clean_documents([untitled], CleanSettings())[0][0][1]
    assert art.title == "Talks resume" and art.title_derived is False


FEED_FRAGMENT = ("<p>A group of volunteers has finished restoring the wooden wheel of the old water mill, "
                 "more than forty years after it last turned.</p><p>The work took three years and was paid "
                 "for by donations &amp; a heritage grant.</p><script>track()</script>")


@pytest.mark.parametrize("feed_content", [_read(DATA / "copyright_only.html"), FEED_FRAGMENT],
                         ids=["feed-page", "feed-fragment"])
def test_clean_documents_falls_back_to_feed_content(feed_content: str) -> None:
    paywall = (b"<html><head><title>Mill wheel turns again</title>"
               b"<link rel='canonical' href='/local/mill-wheel'></head>"
               b"<body><nav>Home</nav><p>Subscribe to read.</p></body></html>")
    page = _doc(paywall, "paywall.html", "text/html", url="https://paper.example.com/story?ref=feed",
                feed_title="Mill reopens", feed_content=feed_content)
    kept, rejects = clean_documents([page], CleanSettings())
    assert not rejects
    art = kept[0][1]
    assert art.text.startswith("A group of volunteers")
    assert "<" not in art.text and "track()" not in art.text and "Subscribe" not in art.text
    assert art.title == "Mill wheel turns again" and art.title_derived is False  # the page's own title
    assert art.canonical_url == "https://paper.example.com/local/mill-wheel"
    assert art.feed_text_reason == "the page gave no article text"  # the feed's text, not the page, and why
    short = _doc(b"<html><body><article><p>The mill wheel turned again on Sunday.</p></article></body></html>",
                 "short.html", "text/html", feed_content=feed_content)
    assert clean_documents([short], CleanSettings())[0][0][1].feed_text_reason == "the page gave 7 words"
    assert clean_documents([dataclasses.replace(short, feed_content=None)], CleanSettings(min_words=1))[0][0][
        1].feed_text_reason is None


def test_an_articles_own_closing_sentence_about_a_post_that_appeared_first_is_kept() -> None:
    """Only a feed's text closes with WordPress's 'The post <title> appeared first on <site>.': a page's or a
    file's last paragraph of those words is the article's own (it was cut as that line)."""
    closing = "The post of harbour master appeared first on the list of jobs the council will cut, officials said."
    art = clean_text("\n\n".join(["Ferry fares to rise in April", FERRY_LEAD, *FERRY_BODY, closing]))
    assert _paragraphs(art.text) == [FERRY_LEAD, *FERRY_BODY, closing]
    page = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in (FERRY_LEAD, *FERRY_BODY, closing))
    assert _paragraphs(clean_html(page + "</article></body></html>").text) == [FERRY_LEAD, *FERRY_BODY, closing]
    notice = "The post Ferry fares to rise in April appeared first on Harbour News."
    feed_text = "".join(f"<p>{p}</p>" for p in (FERRY_LEAD, *FERRY_BODY, notice)).encode("utf-8")
    doc = _doc(feed_text, "https://news.example.com/ferry", "text/html", feed_title="Ferry fares to rise in April",
               feed_content=feed_text.decode("utf-8"))
    assert _paragraphs(clean_documents([doc], CleanSettings())[0][0][1].text) == [FERRY_LEAD, *FERRY_BODY]
    other = feed_text.decode("utf-8").replace("appeared first on", "first appeared on")  # other plugins' wording
    assert _paragraphs(clean_documents([dataclasses.replace(doc, raw=other.encode("utf-8"), feed_content=other)],
                                       CleanSettings())[0][0][1].text) == [FERRY_LEAD, *FERRY_BODY]
    # that wording is ordinary English too: a feed text's own closing sentence ending on anything but a site's
    # name stays (it was cut as the plugins' line)
    for own in ("The post office first appeared on the river road in 1850, and the lane will run past it.",
                "The post by the mayor first appeared on Facebook on Monday."):
        text = "".join(f"<p>{p}</p>" for p in (FERRY_LEAD, *FERRY_BODY, own))
        kept = clean_documents([dataclasses.replace(doc, raw=text.encode("utf-8"), feed_content=text)], CleanSettings())
        assert _paragraphs(kept[0][0][1].text) == [FERRY_LEAD, *FERRY_BODY, own]


def test_the_language_is_read_from_the_headline_and_the_text() -> None:
    # "tour de france drug charges." alone is too few words to tell (French at 0.54); with its headline: English
    out = clean_text("Team thrown out of the race over doping\n\ntour de france drug charges.", CleanSettings(min_words=1))
    assert out.title == "Team thrown out of the race over doping" and out.language == "en"
    assert clean_text("tour de france drug charges.", CleanSettings(min_words=1)).language is None


def test_feed_text_standing_in_for_a_page_keeps_the_feeds_headline() -> None:
    # the page could not be fetched: the document is the feed's own text, whose first heading is a section name
    content = ("<h2>The Problem</h2><p>" + "Every release had to bump the stylesheet version by hand in three "
               "places, and the staging site kept serving the old file for hours afterwards. " * 3 + "</p>")
    doc = _doc(content.encode("utf-8"), "https://blog.example.com/css", "text/html",
               feed_title="Automating CSS versioning in staging", feed_content=content)
    art = clean_documents([doc], CleanSettings())[0][0][1]
    assert art.title == "Automating CSS versioning in staging" and art.title_derived is False
    # a page with no headline of its own whose text is too short: the feed's text, and the feed's headline
    empty_page = _doc(b"<html><body><p>Subscribe to read.</p></body></html>", "https://blog.example.com/p",
                      "text/html", feed_title="Mill reopens", feed_content=content)
    art = clean_documents([empty_page], CleanSettings())[0][0][1]
    assert art.title == "Mill reopens" and "stylesheet" in art.text


def test_feed_text_read_again_as_plain_text_keeps_the_feeds_headline() -> None:
    # The page could not be fetched, and of the feed's text (a how-to note: short lines, code blocks)
    # extraction keeps too little, so it is read again as plain text: the heading trafilatura took for its
    # title ("Flags", a section of the note) is still no headline, and the feed's stays (in a real feed,
    # "SSH Login" was stored as "Keys")
    content = ('<p>Rsync (<strong>R</strong>emote <strong>sync</strong>) copies files between two machines.</p>\n'
               '<h2 id="flags">Flags</h2>\n<p>A few flags matter for most backups of a home folder.</p>\n'
               '<p>archive with <code>rsync -a</code></p>\n'
               '<pre tabindex="0"><code>$ rsync -a ~/photos backup:/srv/photos\nsending incremental file list\n'
               '</code></pre><p>delete removed files with <code>--delete</code></p>\n'
               '<pre tabindex="0"><code>$ rsync -a --delete ~/photos backup:/srv/photos\n</code></pre>'
               '<h2 id="excludes">Excludes</h2>\n<p>edit ~/.rsync-excludes</p>\n'
               '<pre tabindex="0"><code>*.tmp\n.cache/\nnode_modules/\n</code></pre>'
               '<p>Run it nightly with <code>cron</code></p>\n<h2 id="hosts">Hosts</h2>\n<p>Notable options:</p>\n'
               '<ul>\n<li>Port - the SSH port of the backup host</li>\n<li>User - the account that owns the folder'
               '</li>\n<li>Key - the private key used to log in</li>\n</ul>\n<p>Example:</p>\n')
    doc = _doc(content.encode("utf-8"), "https://notes.example.com/rsync", "text/html",
               feed_title="Rsync backups", feed_content=content)
    kept, rejects = clean_documents([doc], CleanSettings())
    assert not rejects
    art = kept[0][1]
    assert "node_modules" in art.text  # read again as plain text
    assert art.title == "Rsync backups" and art.title_derived is False


ONE_BLOCK = ("<p>The harbour authority said ferry services to the islands would resume on Thursday after storm "
             "damage to the main pier was repaired overnight. Officials said the repairs cost about 400,000 pounds "
             "and that a permanent fix would follow in the spring.</p>")


@pytest.mark.parametrize("markup", [ONE_BLOCK, ONE_BLOCK.replace("Officials", "<b>Officials</b>"),
                                    ONE_BLOCK[3:-4].replace("Officials", "<em>Officials</em>")],
                         ids=["one-paragraph", "inline-tag-in-paragraph", "text-with-inline-tag"])
def test_an_html_fragment_of_one_block_is_an_article(markup: str, caplog: pytest.LogCaptureFixture) -> None:
    # a saved article body or a feed's text of one paragraph: trafilatura refuses markup of one block that does
    # not name html, with an ERROR of its own ("parsed tree length: 1, wrong data type or not valid HTML")
    with caplog.at_level(logging.INFO):
        kept, rejects = clean_documents([_doc(markup.encode(), "body.html", "text/html")], CleanSettings())
    assert not rejects
    art = kept[0][1]
    assert art.text.startswith("The harbour authority said") and "Officials said the repairs" in art.text
    assert "<" not in art.text
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # a whole page of the same paragraph reads the same
    page = clean_html(f"<html><body>{markup}</body></html>")
    assert clean_html(markup).text == page.text


def test_clean_documents_turns_unexpected_errors_into_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: str, settings: CleanSettings | None = None, feed_text: bool = False) -> None:
        raise RuntimeError("parser exploded\non two lines " + "x" * 400)

    monkeypatch.setattr(clean_module, "clean_text", broken)
    good_html = _doc((DATA / "article.html").read_bytes(), "ok.html", "text/html")
    kept, rejects = clean_documents([_doc(SEED_000.read_bytes(), "boom.txt"), good_html], CleanSettings())
    assert [d.locator for d, _ in kept] == ["ok.html"]
    assert rejects[0].reason.startswith("cleaning failed: RuntimeError: parser exploded on two lines")
    assert "\n" not in rejects[0].reason and len(rejects[0].reason) <= 200


# --- properties ---------------------------------------------------------------------------------

NEWSY_LINES = st.sampled_from([
    "WASHINGTON, United States", "BERLIN \u2014 The talks went on.", "LONDON (Reuters) - Shares fell sharply today.",
    "By Jane Smith and Ali Khan, Reuters", "Published: 2024-05-01", "Updated 12 March 2025 10:30 GMT",
    "December 16, 2025", "No comments:", "Post a Comment", "Today's Top News", "- Link to a story",
    "\u2022 Another linked headline", "1. Numbered item", "Agencies - Xinhua", "(Reuters)", "\u2014 AP",
    "Share this:", "Copyright 2025 Example", "Article Five", "The vote is on Friday.", "# Heading",
    "**bold** and [a link](https://x.example) here.", "NATO leaders met.", "US officials said so.",
    "A long sentence about the economy that goes on for a while, with commas, and ends here.",
    "Like Loading...", "", " ", "\u00a0", "---", "> quoted line", "Advertisement",
])


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_clean_text_arbitrary_text_is_idempotent(raw: str) -> None:
    out = clean_text(raw)
    assert clean_text(out.text).text == out.text


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(NEWSY_LINES, st.text(max_size=40)), max_size=25),
       st.sampled_from(["\n", "\n\n", "\r\n", "\n \n"]))
def test_clean_text_newsy_text_is_idempotent(lines: list[str], joiner: str) -> None:
    out = clean_text(joiner.join(lines))
    assert clean_text(out.text).text == out.text
    assert "\n\n\n" not in out.text and out.text == out.text.strip()


FRONT_MATTER = """---
title: "Wildfire front reaches the coast"
author: [Jane Doe, Ali Kaya]
date: 2026-11-30T08:15:00+02:00
tags: [fire, greece]
---
# Wildfire front reaches the coast

ATHENS — A wildfire that began in the hills above the town reached the coast on Sunday, forcing the
evacuation of two villages and a campsite, the fire service said.

Firefighters worked through the night to stop the flames from reaching the harbour.
"""


def test_markdown_front_matter_gives_title_author_and_date_and_is_not_text() -> None:
    out = clean_text(FRONT_MATTER)
    assert (out.title, out.title_derived, out.byline) == ("Wildfire front reaches the coast", False, "Jane Doe, Ali Kaya")
    assert out.published_at == datetime(2026, 11, 30, 6, 15, tzinfo=timezone.utc) and out.dateline == "ATHENS"
    assert out.text.startswith("A wildfire that began") and "tags:" not in out.text and "---" not in out.text
    day_only = clean_text(FRONT_MATTER.replace("2026-11-30T08:15:00+02:00", "2026-11-30"))
    assert day_only.published_at == datetime(2026, 11, 30, tzinfo=timezone.utc)
    undated = clean_text(FRONT_MATTER.replace("date: 2026-11-30T08:15:00+02:00\n", "date: soon\n"))
    assert undated.published_at is None, "a date that cannot be read stays unknown"


@pytest.mark.parametrize("change", [("2026-11-30T08:15:00+02:00", "2026-02-30"),  # a date no calendar has
                                    ("[Jane Doe, Ali Kaya]", "[Jane Doe, Ali Kaya")],  # YAML cannot read it
                         ids=["no-such-date", "bracket-left-open"])
def test_one_bad_value_in_front_matter_loses_only_itself(change: tuple[str, str]) -> None:
    out = clean_text(FRONT_MATTER.replace(*change))
    assert out.title == "Wildfire front reaches the coast" and out.text.startswith("A wildfire that began")
    assert "title:" not in out.text and "---" not in out.text
    assert out.published_at == (None if "02-30" in change[1] else datetime(2026, 11, 30, 6, 15, tzinfo=timezone.utc))


@pytest.mark.parametrize("date_line", ["date: 2099-01-01", "date: 2099-01-01T08:00:00Z", "date: ' 2024-02-30'",
                                       "date: 2024-05", "date: 2024", "date: 1970-01-01"])
def test_front_matter_future_impossible_partial_or_old_date_is_not_a_date(date_line: str) -> None:
    out = clean_text(FRONT_MATTER.replace("date: 2026-11-30T08:15:00+02:00", date_line))
    assert out.published_at is None and out.title == "Wildfire front reaches the coast"
    assert out.text.startswith("A wildfire that began") and "date:" not in out.text


def test_a_future_date_line_is_not_a_date_and_a_near_one_is() -> None:
    body = ("\n\nA fire that began in a warehouse on the harbour spread to two fishing boats overnight, the fire "
            "brigade said on the morning after.")
    far = clean_text("Harbour fire spreads\n\nPublished: 1 January 2099" + body)
    assert far.published_at is None and far.text.startswith("A fire that began")
    soon = datetime.now(timezone.utc) + timedelta(hours=6)
    near = clean_text(f"Harbour fire spreads\n\nPublished: {soon:%Y-%m-%d %H:%M} UTC" + body)
    assert near.published_at == soon.replace(second=0, microsecond=0)


def test_plausible_date_is_the_one_rule() -> None:
    now = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)
    assert plausible_date(now + MAX_FUTURE, now) == now + MAX_FUTURE
    assert plausible_date(now + MAX_FUTURE + timedelta(seconds=1), now) is None
    assert plausible_date(datetime(MIN_YEAR, 1, 1, tzinfo=timezone.utc), now) is not None
    assert plausible_date(datetime(MIN_YEAR - 1, 12, 31, tzinfo=timezone.utc), now) is None
    assert plausible_date(None, now) is None


def test_a_byline_beside_a_date_that_cannot_be_read_keeps_the_byline_and_no_date() -> None:
    out = clean_text("Harbour fire spreads\n\nBy Anna Berg | Published 12/05/2026\n\nA fire that began in a "
                     "warehouse on the harbour spread to two fishing boats overnight, the fire brigade said.")
    assert (out.title, out.byline, out.published_at) == ("Harbour fire spreads", "Anna Berg", None)
    assert out.text.startswith("A fire that began")


def test_utf8_with_a_few_stray_windows_bytes_stays_utf8() -> None:
    """One dash of UTF-8 and five bytes that are not (Windows quotes pasted in, a damaged byte): the
    text is UTF-8 with the quotes read as Windows-1252, not the whole file read as a legacy code page."""
    raw = "ATHENS — A wildfire began in the hills.".encode() + b" He said \x93fire\x94, it\x92s gone \xff."
    assert decode_bytes(raw) == "ATHENS — A wildfire began in the hills. He said “fire”, it’s gone \ufffd."
    legacy = "Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9 \u2013 d\u00e9j\u00e0 vu".encode("cp1252") * 3
    assert decode_bytes(legacy) == "Café crème, naïve résumé – déjà vu" * 3, "a legacy file is still detected"
    cut = "Café — a dash".encode() + b" cut \xe2\x80 here."  # a cut-off character is one U+FFFD, not "\ufffd€"
    assert decode_bytes(cut) == "Café — a dash cut \ufffd here."
    letters = "one — dash, ".encode() + "résumé déjà café crème naïve".encode("cp1252")
    assert decode_bytes(letters).endswith("résumé déjà café crème naïve"), "Latin-1 letters are no stray bytes"


_MILL_BODY = ("<p>A group of volunteers has finished restoring the wooden wheel of the old water mill on the river "
              "Wye, more than forty years after it last turned.</p><p>The work took three years and was paid for by "
              "donations from local residents and a grant from the county heritage fund.</p><p>The mill will open "
              "to visitors on weekends, and the group hopes to grind flour there again for a bakery.</p>")


def _mill_page(head: str, heading: str, body_extra: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>"
            f"<div id='menu'><a href='/'>Home</a> <a href='/local'>Local</a></div>{body_extra}"
            f"<div class='content'>{heading}{_MILL_BODY}</div></body></html>")


@pytest.mark.parametrize(("head", "heading", "body_extra"), [
    # og:title names the section the page is filed under
    ("<meta property='og:title' content='Announcements'><title>Gazette: Volunteers restore historic mill wheel"
     "</title>", "<h1>Volunteers restore historic mill wheel</h1>", ""),
    # the JSON-LD headline is the publishing system's name; the page's meta tags sit in its body
    ("<script type='application/ld+json'>{\"@context\": \"https://schema.org\", \"@type\": \"NewsArticle\", "
     "\"headline\": \"pagebuilder\"}</script><title>Volunteers restore historic mill wheel</title>",
     "<h2>Volunteers restore historic mill wheel</h2>",
     "<meta property='og:title' content='Volunteers restore historic mill wheel'>"),
    # the only <h1> is the site's logo, and the <title> adds the site's name to the headline
    ("<meta property='og:site_name' content='Wye Valley Gazette'>"
     "<title>Volunteers restore historic mill wheel | Wye Valley Gazette</title>", "<h1>Wye Valley Gazette</h1>"
     "<h2>Volunteers restore historic mill wheel</h2>", ""),
    # no <title>: the section heading the page's markup calls a title loses to the heading its address names
    ("", "<h2 class='entry-title'>Local news</h2><h2>Volunteers restore historic mill wheel</h2>", ""),
], ids=["og-title-section", "json-ld-cms-name", "logo-h1-and-site-suffix", "section-heading-no-title"])
def test_html_title_is_the_headline_not_the_site_or_section(head: str, heading: str, body_extra: str) -> None:
    url = "https://wyevalleygazette.example.org/local/volunteers-restore-historic-mill-wheel"
    assert clean_html(_mill_page(head, heading, body_extra), url=url).title == "Volunteers restore historic mill wheel"


@pytest.mark.parametrize(("head", "heading", "title"), [
    # a headline with a dot in it, which trafilatura guesses is the site's name, stays whole
    ("<title>Mill repairs cost 57.000 Euro | Gazette</title>", "<h1>Mill repairs cost 57.000 Euro</h1>",
     "Mill repairs cost 57.000 Euro"),
    # og:title that the <title> does not repeat, but that is the page's main heading, stays
    ("<meta property='og:title' content='A wheel turns again'><title>Heritage fund pays for river project</title>",
     "<h1>A wheel turns again</h1>", "A wheel turns again"),
    # a one-word headline the <title> confirms stays, and a one-word <title> replaces no headline
    ("<title>Home</title>", "<h1>Forty years later</h1>", "Forty years later"),
    # a personal site whose name is the page's own title keeps it
    ("<meta property='og:site_name' content='Anna Berg'><title>annaberg.example.org // Anna Berg</title>",
     "<h1>Anna Berg</h1>", "Anna Berg"),
], ids=["dot-in-headline", "og-title-is-main-heading", "one-word-page-title", "site-named-after-its-title"])
def test_html_title_kept_when_the_page_bears_it_out(head: str, heading: str, title: str) -> None:
    assert clean_html(_mill_page(head, heading), url="https://annaberg.example.org/").title == title


@pytest.mark.parametrize(("url", "head", "heading", "title"), [
    # a headline opening with a word the host's first label only begins ("Newsom" on news.example) is
    # no site name: the <title>'s other part ("Daily Report") was taken instead
    ("https://news.example/2026/03/04/newsom-vetoes-bill", "<title>Newsom vetoes bill - Daily Report</title>",
     "<h1>Newsom vetoes bill</h1>", "Newsom vetoes bill"),
    # the site's own name opening the page's main heading is part of the headline as written
    ("https://www.apple.com/newsroom/2026/03/mill/", "<title>Apple - the company that restored a mill</title>",
     "<h1>Apple - the company that restored a mill</h1>", "Apple - the company that restored a mill"),
], ids=["host-label-inside-a-word", "site-name-in-the-main-heading"])
def test_html_title_keeps_a_headline_that_only_looks_like_the_site(url: str, head: str, heading: str,
                                                                   title: str) -> None:
    assert clean_html(_mill_page(head, heading), url=url).title == title


def test_a_shortcode_pair_with_nothing_between_is_dropped_as_a_lone_shortcode_is() -> None:
    # WordPress's editor writes a video or audio shortcode with its closing tag ('[video mp4="…"][/video]'); left
    # unrendered in a feed's text, the pair stayed in the article as if it said it, while a lone one was dropped
    paragraphs = ["The council approved a new cycle lane along the river road on Tuesday, after two years of "
                  "consultation with residents, shop owners and the bus company.",
                  "Work starts in March and should take four months; the road stays open to cars in one direction.",
                  "[1] is how the council's planning file names the works; [/dependencies] ends that list.",
                  "Shop owners said they feared losing parking, but the council promised twenty new spaces nearby."]
    for markup in ('[video width="640" height="360" mp4="https://river.example/lane.mp4"][/video]',
                   '[audio mp3="https://river.example/interview.mp3"][/audio] [time-brightcove not-tgx="true"]'):
        text = "\n\n".join([paragraphs[0], markup, *paragraphs[1:]])
        assert clean_text("Cycle lane approved\n\n" + text).text.split("\n\n") == paragraphs


def test_a_caption_shortcode_and_a_shortcode_opening_a_paragraph_leave_the_text() -> None:
    # '[caption id="…"]A photo of the lane[/caption]' (the photo's words, in its markup) and a shortcode opening a
    # paragraph of the article ('[time-brightcove not-tgx="true"] Work starts …') stayed in the text as written
    lead = ("The council approved a new cycle lane along the river road on Tuesday, after two years of "
            "consultation with residents, shop owners and the bus company.")
    rest = ["Work starts in March and should take four months; the road stays open to cars in one direction.",
            "Shop owners said they feared losing parking, but the council promised twenty new spaces nearby."]
    text = "\n\n".join([lead, '[caption id="attachment_7" align="alignnone" width="640"]<img src="lane.jpg"> '
                          'The river road at dusk. Photo: River Council[/caption]',
                          '[time-brightcove not-tgx="true"] ' + rest[0], rest[1],
                          "[1] marks the council's planning file; [Reuters] and [sic] stay as written."])
    assert clean_text("Cycle lane approved\n\n" + text).text.split("\n\n") == [
        lead, *rest, "[1] marks the council's planning file; [Reuters] and [sic] stay as written."]


def test_a_feed_text_of_two_paragraphs_escaped_twice_is_read_as_its_markup() -> None:
    # a JSON Feed's content_html escaped twice was read as its markup only when it held three closing tags or
    # more: a post of two plain paragraphs was stored as '<p>The council approved … </p> <p>Work starts …</p>'
    paragraphs = [FERRY_LEAD + " " + FERRY_BODY[0], FERRY_BODY[1]]
    escaped = "".join(f"&lt;p&gt;{p}&lt;/p&gt;\n" for p in paragraphs)
    doc = _doc(escaped.encode(), "https://ferry.example/fares", "text/html", feed_content=escaped,
               feed_title="Ferry fares to rise in April", url="https://ferry.example/fares")
    [(_, article)], rejects = clean_documents([doc], CleanSettings(min_words=5))
    assert not rejects and article.text.split("\n\n") == paragraphs
    # a feed's plain text that speaks of tags, escaped once as HTML asks, keeps them as words
    about = ("&lt;p&gt; opens a paragraph and &lt;/p&gt; closes it; " + FERRY_LEAD)
    doc = _doc(about.encode(), "https://ferry.example/tags", "text/html", feed_content=about,
               feed_title="Tags", url="https://ferry.example/tags")
    [(_, article)], rejects = clean_documents([doc], CleanSettings(min_words=5))
    assert article.text.startswith("<p> opens a paragraph and </p> closes it; ")

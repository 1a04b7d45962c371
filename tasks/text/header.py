"""Reading an article's header lines: written dates, datelines, bylines, and a title derived from the lead."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone

LOGGER = logging.getLogger(__name__)

MIN_YEAR, MAX_YEAR = 1990, 2100
# A publication date more than this after the moment it is read is a typo, a placeholder or an event's
# date, not when the text came out; a day absorbs zones (a date without one is read as 00:00 UTC) and clocks.
MAX_FUTURE = timedelta(days=1)
MAX_DERIVED_TITLE_WORDS = 14
MIN_TITLE_CUT_WORDS = 5
MAX_DATELINE_WORDS = 6
MAX_BYLINE_WORDS = 16

_MONTHS = {
    name: number for number, names in enumerate((
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
        ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
        ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names
}
_ZONE_MINUTES = {
    "Z": 0, "UTC": 0, "GMT": 0, "BST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "IST": 330, "PKT": 300, "WIB": 420, "SGT": 480, "HKT": 480, "JST": 540, "KST": 540, "AEST": 600,
    "AEDT": 660, "ET": -300, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
    "PT": -480, "PST": -480, "PDT": -420,
}
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_OFFSET = re.compile(r"^(?:UTC|GMT)?(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?$")
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_TIME = (r"(?:(?:\s*[,|-]\s*|\s+at\s+|\s+|T)(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?"
         r"(?:\.\d+)?\s*(?P<ampm>[ap]\.?m\.?)?)?")
_TZ = r"(?:\s*(?P<tz>\(?(?:Z|[A-Za-z]{2,4}|(?:UTC|GMT)?\s?[+-]\d{1,2}(?::?\d{2})?)\)?))?"
_DATE_PATTERNS = tuple(re.compile(rf"^{_WEEKDAY}{body}{_TIME}{_TZ}$", re.I) for body in (
    r"(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})",
    r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\.?\s+(?P<mname>[a-z]{3,9}\.?),?\s+(?P<year>\d{4})",
    r"(?P<mname>[a-z]{3,9}\.?)\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})",
    r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})",
))
_TIME_FIRST = re.compile(r"^(?P<time>\d{1,2}[:.]\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?)"
                         r"(?P<tz>\s+(?:(?:UTC|GMT)?\s?[+-]\d{1,2}(?::?\d{2})?|(?!on\b)[A-Za-z]{2,4}\b))?"
                         r"(?:\s*,\s*|\s+on\s+|\s+)(?P<date>\S.*\d)$", re.I)

_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "gen", "sen", "rep", "gov", "lt", "col", "maj", "capt", "sgt", "prof",
    "no", "vs", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "inc",
    "corp", "co", "ltd", "jr", "sr", "mt", "ft", "u.s", "u.k", "u.n", "e.g", "i.e", "etc", "approx",
    "rev", "bros", "hon", "det", "supt", "insp", "cpl", "pvt", "adm", "cmdr", "fr",
})
# 'T.J' of 'T.J. Maxx', 'A.J' of 'A.J. Styles', 'z.B' of 'z.B. Kinder'; a time of day ('3 a.m. Firefighters...')
# ends a sentence before a capital that is not its time zone
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")
_TIME_OF_DAY = frozenset({"a.m", "p.m"})

_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(]?[^\W_])")
_CLAUSE_WORDS = frozenset({
    "and", "but", "to", "after", "following", "as", "while", "with", "in", "on", "for", "from", "over",
    "amid", "despite", "which", "who", "that", "when", "where", "because", "since", "if", "before",
    "under", "against", "by", "at", "saying", "according",
})
_WEAK_TAIL = frozenset({"the", "a", "an", "of", "to", "in", "on", "and", "or", "but", "for", "with", "at",
                        "by", "from", "as", "its", "their", "his", "her", "that", "which", "who",
                        # a verb's helper or a word that opens what the cut left out ("… could be", "… than")
                        "be", "been", "being", "is", "are", "was", "were", "will", "would", "could", "should",
                        "can", "may", "might", "must", "shall", "has", "have", "had", "do", "does", "did", "not",
                        "than", "into", "onto", "about", "over", "under", "if", "when", "where", "while",
                        "because", "whose", "whom", "this", "these", "those", "our", "your", "my", "very"})
_TITLE_TRIM = " ,;:\u2014\u2013-"
_DOUBLE_QUOTES = dict.fromkeys(map(ord, "\"\u201c\u201d"), None)

_WORD = r"[^\W\d_][\w.'\u2019/-]*"
_DATELINE_HEAD = rf"(?P<place>{_WORD}(?: {_WORD}){{0,3}})(?:, (?P<extra>[^\W_][\w.'\u2019 ,]{{0,38}}?))?"
_DATELINE_AGENCY = r"(?: ?\((?P<agency>[^()]{2,40})\))?"
_DATELINE_DASH = r"(?: ?[\u2014\u2013]| ?--| -(?= )) ?"
_INLINE_DATELINE = re.compile(rf"^{_DATELINE_HEAD}{_DATELINE_AGENCY}{_DATELINE_DASH}(?P<rest>\S.*)$")
_STANDALONE_DATELINE = re.compile(rf"^{_DATELINE_HEAD}{_DATELINE_AGENCY}$")
# A lead opened by an agency in brackets, after a place in any case or none, glued to the text or dashed:
# '(CNN)Police in Japan ...', 'Tokyo (CNN)Police ...', 'Kabul, Afghanistan (CNN) -- Thousands ...'.
_AGENCY_LEAD = re.compile(rf"^(?:{_DATELINE_HEAD} ?)?\((?P<agency>[^\W\d_][^\W\d_ .&'\u2019-]*(?: [^\W\d_][^\W\d_.&'\u2019-]*){{0,3}})\)"
                          rf"(?:{_DATELINE_DASH}|(?=[\"'\u201c\u2018]?[^\W_]))(?P<rest>\S.*)$")
# The first word after a bracket, opening quotes and marks aside ('¿Quién', '« Nous'): an aside opens with a word
# all in lower case ('the software giant'), a lead with a capital, a figure or a name such as 'iPhone'.
_FIRST_WORD = re.compile(r"[\W_]*([^\W_]+)")
_PLACE_JOINERS = frozenset({"de", "da", "do", "dos", "das", "del", "di", "du", "des", "la", "le", "el", "al",
                            "of", "on", "upon", "am", "im", "an", "der", "sur", "en", "y"})
# Capitalised words that open leads or headers but are not places.
_NOT_PLACES = frozenset({
    "US", "UK", "EU", "UN", "NATO", "BREAKING", "BREAKING NEWS", "UPDATE", "UPDATED", "EXCLUSIVE",
    "WATCH", "LIVE", "VIDEO", "PHOTOS", "OPINION", "ANALYSIS", "EDITORIAL", "COMMENT", "ADVERTISEMENT",
    "SPONSORED", "CORRECTION", "URGENT", "FLASH", "ALERT", "FILE", "NEW", "NEWS", "READ", "TOP",
    "CORRECTED", "CORRECTS", "CLARIFICATION", "CLARIFIED", "AMENDED", "REFILE", "REFILED", "REFILES", "REPEAT",
})
_BYLINE = re.compile(r"^(?:by|written by|words by)\s+(?P<name>\S.*)$", re.I)
_NAME_JOINERS = frozenset({"and", "&", "in", "de", "da", "di", "del", "der", "van", "von", "la", "le", "el",
                           "al", "bin", "ibn", "of", "for", "the", "with", "|", "-", "\u2014", "\u2013"})
_LABEL = r"(?P<label>(?:first |last )?(?:published|updated|posted|modified)|date)(?: on| at)?"
_DATE_LABEL = re.compile(rf"^{_LABEL}\s*:?\s*(?P<value>.+)$", re.I)
_LABEL_ONLY = re.compile(rf"^{_LABEL}\s*:?$", re.I)
_DATE_THEN_BYLINE = re.compile(r"^(?P<value>.+?\d)\s+by\s+(?P<name>\S.*)$", re.I)
MAX_ACCOUNT_WORDS = 3  # 'Posted on March 3, 2025 by admin': a name no person's, short; longer, the words are a sentence
_FIELD_SEPARATOR = re.compile(r"\s+[|\u00b7\u2022]\s+")
# Where a byline may end and its date begin on one line: 'By Anna Berg, 3 March 2026', 'By Anna Berg - 3 March
# 2026', 'By Anna Berg on 3 March 2026'; a dash between that date and its time ('3 March 2026 — 09:30') joins them
_BYLINE_DATE_BREAK = re.compile(r",\s+|\s+[-\u2013\u2014]\s+|\s+on\s+", re.I)
_DASH_BEFORE_TIME = re.compile(r"\s+[-\u2013\u2014]\s+(?=\d{1,2}[:.]\d{2}\b)")
# A header written on one line, its parts separated by " . " as MailOnline's were in plain text:
# 'By . Jane Smith . and Tom Reed . PUBLISHED: . 14:11 EST, 25 October 2013 . | . UPDATED: . ... . The lead'.
_DOT_SEPARATOR = " . "
_NAME_CONTINUATION = re.compile(r"^(?:and|&|for|in|with)\s+\S", re.I)  # 'and Ted Thornhill', 'for MailOnline'
_ROLE_WORDS = frozenset({"editor", "correspondent", "reporter", "writer", "columnist", "critic"})
MAX_ROLE_WORDS = 5


def plausible_date(when: datetime | None, now: datetime | None = None) -> datetime | None:
    """when, if it can be a publication date: in MIN_YEAR or later and at most MAX_FUTURE after now (the
    moment it is read, by default the clock's); else None. Every source of published_at goes through it."""
    if when is None or when.year < MIN_YEAR or when > (now or datetime.now(timezone.utc)) + MAX_FUTURE:
        return None
    return when


def parse_date(value: str) -> datetime | None:
    """Parse a written date ('2024-05-01', 'Mon, 15 Dec 2025 10:30 GMT', 'December 16, 2025') to UTC.

    With a time zone the moment is converted to UTC; without one only the day is kept, at 00:00 UTC.
    Returns None unless the whole string is a plausible date.
    """
    match = _date_match(value)
    return _to_datetime(match) if match else None


def parse_zoned_date(value: str) -> datetime | None:
    """Parse a written date with a time and a time zone ('Mon, 07 Dec 2026 10:00:00 CEST') to UTC; None
    unless the whole string is a plausible date with both (a feed's RFC 822 date in a zone feedparser does
    not know, CEST or AEDT, is read by feedparser as UTC)."""
    match = _date_match(value)
    return _to_datetime(match) if match and match["tz"] and match["hour"] else None


def _date_match(value: str) -> re.Match[str] | None:
    """The first of _DATE_PATTERNS that the whole written date matches (spaces and end punctuation aside).
    A time written before its date ('14:11 EST, 25 October 2013', '1:25 AM on 3rd August 2011', as
    MailOnline writes them) is read as if written after it."""
    value = " ".join(value.split()).strip(" .,")
    time_first = _TIME_FIRST.match(value)
    if time_first:
        value = f"{time_first['date']} {time_first['time']}{time_first['tz'] or ''}"
    return next((match for pattern in _DATE_PATTERNS if (match := pattern.match(value))), None)


def _to_datetime(match: re.Match[str]) -> datetime | None:
    """Build the UTC datetime of a date match, or None for impossible values."""
    parts = match.groupdict()
    month = int(parts["month"]) if parts.get("month") else _MONTHS.get(parts["mname"].lower().rstrip("."))
    try:
        day = date(int(parts["year"]), month or 0, int(parts["day"]))
    except ValueError:
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        return None
    zone = _zone(parts["tz"]) if parts.get("tz") else None
    if parts.get("tz") and zone is None:
        return None
    if zone is None or parts.get("hour") is None:
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    hour, minute, second = int(parts["hour"]), int(parts["minute"]), int(parts["second"] or 0)
    ampm = (parts.get("ampm") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
    return local.astimezone(timezone.utc)


def _zone(name: str) -> timezone | None:
    """A fixed-offset zone for 'UTC', 'GMT+2', '+01:00', '-0500' or a common abbreviation."""
    name = name.strip("()").upper().replace(" ", "")
    if name in _ZONE_MINUTES:
        return timezone(timedelta(minutes=_ZONE_MINUTES[name]))
    match = _OFFSET.match(name)
    if not match:
        return None
    minutes = int(match["h"]) * 60 + int(match["m"] or 0)
    if minutes > 14 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if match["sign"] == "-" else minutes))


def date_is_written(day: date, haystack: str) -> bool:
    """Whether a full date is written in the page or URL in a common numeric or English form."""
    month = _MONTH_NAMES[day.month - 1]
    forms = (f"{day:%Y-%m-%d}", f"{day:%Y/%m/%d}", f"{day:%d/%m/%Y}", f"{day:%m/%d/%Y}", f"{day:%d.%m.%Y}",
             f"{day:%Y%m%d}", f"{day.day} {month} {day.year}", f"{month} {day.day}, {day.year}",
             f"{day.day} {month[:3]} {day.year}", f"{month[:3]} {day.day}, {day.year}")
    low = haystack.lower()
    return any(form.lower() in low for form in forms)


def date_is_written_unambiguously(day: date, haystack: str) -> bool:
    """Whether the date is written in the page or URL in a form that reads only one way: year first
    (2026-04-05, 2026/4/5, 20260405), with the month's name (5 April 2026, Apr. 5th, 2026) or day first
    with dots (05.04.2026). 05/04/2026 is not: it is 4 May in the United States."""
    month = _MONTH_NAMES[day.month - 1]
    name = rf"(?:{month}|{month[:3]}\.?)"
    number = rf"0?{day.day}(?:st|nd|rd|th)?"
    forms = (rf"{day.year}[-/.]0?{day.month}[-/.]0?{day.day}(?!\d)", rf"{day:%Y%m%d}",
             rf"(?<!\d){number}\s+(?:of\s+)?{name},?\s+{day.year}", rf"{name}\s+{number},?\s+{day.year}",
             rf"(?<![\d.]){day.day:02d}\.{day.month:02d}\.{day.year}|(?<![\d.]){day.day}\.{day.month}\.{day.year}")
    return any(re.search(form, haystack, re.I) for form in forms)


def _first_sentence(paragraph: str) -> str:
    """The paragraph's first sentence (abbreviations and initials do not end it)."""
    for match in _SENTENCE_END.finditer(paragraph):
        before = paragraph[:match.start()].split()
        written = before[-1].strip("\"'(\u201c") if before else ""
        token = written.lower()
        after = paragraph[match.end():].split(maxsplit=1)
        following = after[0].strip("\"'()[]\u201c\u2018\u201d\u2019.,;:") if after else ""
        # initials go on ('T.J.', 'z.B.'); 'a.m.' only in lower case or with its zone ('3 a.m. on Monday', 'a.m. ET')
        if paragraph[match.start()] == "." and (token in _ABBREVIATIONS or len(token.rstrip(".")) <= 1 or (
                _INITIALS.match(token.rstrip(".")) and (token.rstrip(".") not in _TIME_OF_DAY or following[:1].islower()
                                                        or (following.isupper() and following in _ZONE_MINUTES)))):
            continue
        return paragraph[:match.start() + 1]
    return paragraph


def derive_title(paragraph: str) -> str | None:
    """A headline made from a lead: its first sentence, cut at a clause boundary to about 14 words."""
    words = _first_sentence(paragraph).split()
    if len(words) > MAX_DERIVED_TITLE_WORDS:
        depth, outside = 0, [True]  # outside[k]: a cut before words[k] leaves no bracket open
        for word in words:
            depth = max(0, depth + word.count("(") - word.count(")"))
            outside.append(depth == 0)
        cut = 0
        for k in range(MAX_DERIVED_TITLE_WORDS, MIN_TITLE_CUT_WORDS - 1, -1):
            if outside[k] and (words[k - 1].endswith((",", ";", ":")) or words[k] in ("\u2014", "\u2013", "-", "--")):
                cut = k
                break
        if not cut:
            cut = next((k for k in range(MAX_DERIVED_TITLE_WORDS, MIN_TITLE_CUT_WORDS, -1)
                        if outside[k] and words[k].lower() in _CLAUSE_WORDS), MAX_DERIVED_TITLE_WORDS)
        words = words[:cut]
        if not outside[len(words)]:  # a bracket cut in half: the title ends before it
            opened = max(i for i, w in enumerate(words) if "(" in w)
            words = words[:opened] or words
        while len(words) > MIN_TITLE_CUT_WORDS and words[-1].lower() in _WEAK_TAIL:
            words.pop()
    title = " ".join(words).strip(_TITLE_TRIM)
    if title.count('"') % 2 or title.count("\u201c") != title.count("\u201d"):
        title = title.translate(_DOUBLE_QUOTES).strip(_TITLE_TRIM)  # a quotation cut in half
    last = title.split()[-1].rstrip(".") if title.split() else ""
    if title.endswith(".") and not title.endswith("..") and not _INITIALS.match(last):  # "3 a.m.", "the U.S." keep theirs
        title = title[:-1].strip(_TITLE_TRIM)
    return title if any(ch.isalnum() for ch in title) else None


def dateline_of(line: str) -> tuple[str | None, str | None, str | None] | None:
    """Split a dateline off a line as (dateline, agency, rest); rest is None when the line is only a dateline.

    The place is in capitals ('BERLIN', 'NEW DELHI, India', 'LONDON (Reuters)'); in a lead it must be
    followed by a dash, so 'US officials said...' is never taken for one. A lead that opens with an agency
    in brackets, glued to its first word or followed by a dash, has it split off too, after a place in any
    case ('Tokyo (CNN)Police ...': dateline 'Tokyo') or none ('(CNN)Police ...': dateline None).
    """
    agency_lead = _agency_lead(line)
    if agency_lead:
        return agency_lead
    match = _STANDALONE_DATELINE.match(line)
    rest = None
    # Three or more capitals with nothing after them read as a shouted headline, not a place.
    if not (match and len(line.split()) <= MAX_DATELINE_WORDS
            and (match["extra"] or match["agency"] or len(match["place"].split()) < 3)):
        match = _INLINE_DATELINE.match(line)
        if not match or len(match["rest"].split()) < 3:
            return None
        rest = match["rest"]
    place = match["place"]
    if not place.isupper() or sum(ch.isalpha() for ch in place) < 2 or place in _NOT_PLACES:
        return None
    dateline = f"{place}, {match['extra'].strip()}" if match["extra"] else place
    return dateline, (match["agency"].strip() if match["agency"] else None), rest


def _agency_lead(line: str) -> tuple[str | None, str, str] | None:
    """(dateline, agency, rest) of a lead opened by a bracketed agency (see dateline_of), else None."""
    match = _AGENCY_LEAD.match(line)
    if not match or len(match["rest"].split()) < 3 or match["agency"].upper() in _NOT_PLACES:
        return None
    opening = _FIRST_WORD.match(match["rest"])
    if opening and opening[1][0].islower() and opening[1].islower():  # 'Microsoft (MSFT) -- the software giant'
        return None
    place = match["place"]
    if place is None:
        return None, match["agency"], match["rest"]
    words = place.split()
    if place in _NOT_PLACES or not words[0][0].isupper() or not words[-1][0].isupper() or any(
            not w[0].isupper() and w.lower() not in _PLACE_JOINERS for w in words):
        return None
    dateline = f"{place}, {match['extra'].strip()}" if match["extra"] else place
    return dateline, match["agency"], match["rest"]


def byline_of(line: str) -> str | None:
    """The names of a 'By ...' line, or None when the line is a sentence starting with 'by'."""
    match = _BYLINE.match(line)
    if not match or len(line.split()) > MAX_BYLINE_WORDS:
        return None
    name = match["name"].strip()
    words = name.replace(",", " ").split()
    if not words or not words[0][0].isupper() or name.endswith(("!", "?")):
        return None
    if all(w[0].isupper() or w.lower() in _NAME_JOINERS for w in words):
        return name if name.endswith((" Jr.", " Sr.")) else name.rstrip(".")
    return None


def date_line_of(line: str) -> tuple[datetime, bool] | None:
    """Parse a metadata date line ('Published: ...', 'Updated ...', a bare date) as (date, is_update)."""
    match = _DATE_LABEL.match(line)
    label, value = (match["label"].lower(), match["value"]) if match else ("", line)
    parsed = parse_date(value)
    return None if parsed is None else (parsed, "updated" in label or "modified" in label)


def _unreadable_date(part: str) -> bool:
    """A labelled date that cannot be read for sure ('Published 12/05/2026', day or month first)."""
    match = _DATE_LABEL.match(part)
    return bool(match) and match["label"].lower() != "date" and re.fullmatch(r"[\d/.\-: ]+", match["value"]) is not None


def _byline_then_date(part: str) -> tuple[str, tuple[datetime, bool] | None] | None:
    """The byline and date of a part that writes both, the name first ('By Anna Berg, 3 March 2026', 'By Sarah
    Whitfield, Transport Correspondent - 5 December 2026'); the date None when it is labelled but cannot be
    read for sure ('By Anna Berg, Published 12/05/2026'). None unless the part is a byline and a date."""
    for cut in _BYLINE_DATE_BREAK.finditer(part):
        byline = byline_of(part[:cut.start()])
        if byline is None:
            continue
        value = _DASH_BEFORE_TIME.sub(" ", part[cut.end():])  # '3 March 2026 — 09:00' is one date
        dated = date_line_of(value)
        if dated or _unreadable_date(value):
            return byline, dated
    return None


def header_fields(line: str) -> list[tuple[str, object]] | None:
    """Byline and date fields of a header line ('By X | Published: ...', 'Posted May 1, 2024 by X').

    Returns [("byline", name), ("date", (datetime, is_update)), ...], or None unless every part is one
    (a labelled date that cannot be read for sure counts as a part, and gives no date); None too when
    no part gives a field.
    """
    fields: list[tuple[str, object]] = []
    for part in _FIELD_SEPARATOR.split(line):
        dated = date_line_of(part)
        byline = None if dated else byline_of(part)
        if not (dated or byline) and (both := _byline_then_date(part)):
            byline, dated = both
        elif not (dated or byline):
            combined = _DATE_THEN_BYLINE.match(part)
            dated = date_line_of(combined["value"]) if combined else None
            # "Posted on March 3, 2026 by admin": the date, and a byline only when the name is a person's
            byline = byline_of("By " + combined["name"]) if combined else None
            if not byline and combined and len(combined["name"].split()) > MAX_ACCOUNT_WORDS:
                dated = None  # 'Published 3 March 2026 by the Office for National Statistics, the figures show...'
            if not dated:
                if _unreadable_date(part):  # "Published 12/05/2026": day or month first? unknown, so no date
                    continue
                return None
        fields.extend([("date", dated)] if dated else [])
        fields.extend([("byline", byline)] if byline else [])
    return fields or None


def dotted_header(paragraph: str) -> tuple[list[tuple[str, object]], str] | None:
    """The byline and date fields of a header written on one line with its parts separated by " . ", and
    the text after it ('' when there is none); None unless the paragraph opens with such a header.

    'By . Jane Smith . for MailOnline . PUBLISHED: . 14:11 EST, 25 October 2013 . | . UPDATED: . ... . The
    lead ...' gives the byline 'Jane Smith for MailOnline', the dates (as header_fields gives them) and
    'The lead ...'. The byline may be several parts ('and Tom Reed', 'for MailOnline', a role such as
    'Political Editor'); a date is a label and its value ('PUBLISHED: . 14:11 EST, 25 October 2013') or
    one part ('Last updated at 1:25 AM on 3rd August 2011'); a '|' between them is left out. The header
    ends at the first part that is none of these; a text with no ' . ' after its first part has none.
    """
    parts = paragraph.split(_DOT_SEPARATOR)
    if len(parts) < 2:
        return None
    # the last part is read without the " ." a header alone in its paragraph ends with
    read = [*parts[:-1], parts[-1].removesuffix(" .")]
    fields: list[tuple[str, object]] = []
    i = 0
    if read[0].strip().lower() == "by":
        byline, i = byline_of("By " + read[1]), 2
        if byline is None:
            return None
        while i < len(read) and (_NAME_CONTINUATION.match(read[i]) or _is_role(read[i])):
            longer = byline_of(f"By {byline} {read[i]}" if _NAME_CONTINUATION.match(read[i])
                               else f"By {byline}, {read[i]}")
            if longer is None:
                break
            byline, i = longer, i + 1
        fields.append(("byline", byline))
    while i < len(read):
        part = read[i].strip()
        if part == "|" and fields:
            i += 1
            continue
        labelled = i + 1 < len(read) and _LABEL_ONLY.match(part) is not None
        written = f"{part} {read[i + 1].strip()}" if labelled else part
        dated = date_line_of(written)
        if dated:
            fields.append(("date", dated))
        elif not (labelled and _unreadable_date(written)):
            break
        i += 2 if labelled else 1
    if not fields:
        return None
    return fields, _DOT_SEPARATOR.join(parts[i:]).strip()


def _is_role(part: str) -> bool:
    """A writer's role in a part of its own ('Political Editor', 'Chief Reporter')."""
    words = part.split()
    return (0 < len(words) <= MAX_ROLE_WORDS and words[-1].lower() in _ROLE_WORDS
            and all(w[0].isupper() for w in words))

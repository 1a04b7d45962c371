"""Stage versions: stored with every result so the warehouse shows which code and settings made it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from config.settings import DedupSettings, SummarySettings, TagSettings
from tasks.s6_tag import taxonomy_files

# Bump a number when the stage's code changes what it produces for the same input.
CLEAN_VERSION = 15  # 2: a byline after the lead leaves the text; a feed names the site a page does not; 3: Markdown front matter, a byline beside a date that cannot be read, stray Windows bytes in UTF-8; 4: the feed's headline over a heading in the feed text that stands in for a page, front matter with one bad value, impossible, partial or future dates NULL, the language read from headline and text; 5: a page in the encoding declared for it (by its server or in it), the feed's author as byline when the text names none, a feed's HTML title as plain text; 6: a page date written only as 05/04/2026, day and month either way round, is no date; a byline at the end of the text is the byline; 7: an HTML fragment of one block is read as an article; 8: a feed text read again as plain text keeps the feed's headline; 9: an agency in brackets opening the lead, glued to it or dashed, after a place in any case or none ("Tokyo (CNN)Police"), is the credit and dateline; a derived title reads on past initials ("T.J.") and titles ("Rev.") and stops outside brackets; a date line with the time before the day ("PUBLISHED: 14:11 EST, 25 October 2013") is a date; 10: a header on one line, its parts between " . " ("By . Jane Smith . PUBLISHED: . 14:11 EST, 25 October 2013 . | . UPDATED: . ... . The lead"), is the byline and date and leaves the text; 11: a derived title ends at a time of day ("3 a.m. Firefighters") but reads on past "a.m. on", "a.m. ET" and lower-case initials ("z.B."); an agency cite before a lower-case name or an opening mark ("(CNN)iPhone", "(CNN Español) — ¡") is split off, a bracket before a word all in lower case ("(MSFT) -- the software giant") is not; 12: a byline over its date line, with no blank line between, is no hard-wrapped paragraph (it was taken as the headline, its byline and date lost); 13: a plain text of ASCII but for a few lone bytes is read as Windows-1252 ("Café", "£5m"), not with \ufffd; 14: a correction or refile mark opening the lead ("(Corrected)The vote") is no credit; a derived title ending in "3 a.m." or "the U.S." keeps the dot; a feed's HTML text with no tag in it has its entities decoded ("AT&amp;T" is "AT&T"); a blog feed's closing "The post ... appeared first on ..." line ("Der Beitrag ... erschien zuerst auf ...") leaves the text; a byline with its date after a comma, dash or "on" ("By Anna Berg, 3 March 2026") is the byline and date (it was dropped as a second headline); "Posted on March 3, 2025 by admin" gives its date ("By Jane Doe — 3 March 2026 — 09:30 GMT" too); UTF-16 without a byte-order mark is read, not rejected as binary; a derived title cut short ends on no helper verb ("… could be"); an HTML page's title is its headline, not its site's or section's name (an og:title, JSON-LD headline or heading that shares no word with the page's <title> and URL slug, or names the site, gives way to one that does), and without the site's name before or after it ("Headline | Site"); 15: a feed's HTML text escaped twice ("&lt;p&gt;…") is the text of its markup; a paragraph of unrendered WordPress shortcodes ('[time-brightcove not-tgx="true"]', '[video mp4="..."][/video]') or an unrendered caption ('[caption id="x"]...[/caption]') is dropped, and such markup opening a paragraph leaves it; a blog feed's closing line worded "The post ... first appeared on ..." leaves the text too
DEDUP_VERSION = 6  # 2: facts weigh more in the signature; 3: a near copy keeps its original's facts (exact check); 4: the story window between the articles of one run, the earlier published copy the original, numbers checked alone; 5: a text under 20 words is no near copy and an exact one only under the same headline, a copy of a copy is described against the original; 6: what a source repeats in 5 or more of its articles (a footer, a sponsor block, a table of contents' headings) does not make two of them near copies, and a stored copy of an article does not count as one of its source's articles (a story published again with each update stays a copy)
SUMMARY_VERSION = 5  # 2: the news sentence scorer; 3: sentence ends after words the Punkt model lists as abbreviations; 4: a German date's day ('am 8. März') ends no sentence; a 'Scroll down for video' prompt is no candidate; 5: a small number before April, August, September or November ends an English sentence ('quarter 3. April'), a German date with them does not ('am 8. April', 'Stand: 1. April 2024')
STORY_SUMMARY_VERSION = 6  # 2: the news sentence scorer; 3: a story of one short report keeps its order; 4: sentence ends (as SUMMARY_VERSION 3); 5: only a report's lede opens the summary; as SUMMARY_VERSION 4; 6: sentence ends (as SUMMARY_VERSION 5)
TAG_VERSION = 9  # 2: calibrated issue models beside the keywords; 3: a character model beside the word model; 4: a model reads only the language of its examples; 5: English keywords match a word's inflections, not the words made from it; 6: a model probability no word of the article raised is no tag; 7: in an article not in English, an English keyword that is a common word of its language (German "war") or meets a word only by a short stem ("Wagen" as "wage") does not match; 8: a common word of the article's language matches no keyword by its stem ("importante" is no "import", "sin embargo" no "embargo"); 9: a title that is the text's own opening (derived from the lead, repeated as the first paragraph, or cut short from it with an ellipsis) is not read a second time


def _files_digest(paths: list[Path]) -> str:
    """A short hash of the files' names and bytes; "missing" when the first cannot be read."""
    digest = hashlib.sha256()
    for index, path in enumerate(paths):
        try:
            digest.update(f"{path.name}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            if index == 0:
                return "missing"
            digest.update(f"{path.name}\0missing".encode())
    return digest.hexdigest()[:8]


def stage_versions(dedup: DedupSettings, summary: SummarySettings, tags: TagSettings) -> dict[str, str]:
    """Version labels for each stage: code version plus the settings that shape its output."""
    return {
        "clean": f"clean-{CLEAN_VERSION}",
        "dedup": (f"dedup-{DEDUP_VERSION}/w{dedup.shingle_words}/p{dedup.num_perm}"
                  f"/n{dedup.near_threshold:g}/s{dedup.story_threshold:g}"),
        "summary": f"summary-{SUMMARY_VERSION}/{summary.algorithm}/k{summary.sentences}",
        "story_summary": f"summary-{STORY_SUMMARY_VERSION}/story/k{summary.story_sentences}",
        # the taxonomy with the model and example files it names: a refitted model retags on reprocess
        "tag": (f"tag-{TAG_VERSION}/taxonomy-{_files_digest(taxonomy_files(tags.taxonomy))}"
                f"/min{tags.min_score:g}/max{tags.max_tags}"),
    }

"""Gathers the stories a run touched and writes each one's multi-article summary."""

from __future__ import annotations

import logging
from collections import Counter
from typing import NamedTuple

from tasks.records import Article, Story
from tasks.s5_summarise import summarise_story
from tasks.text.language import language_name

LOGGER = logging.getLogger(__name__)


class _Member(NamedTuple):
    article_id: str
    title: str | None
    text: str
    source: str
    duplicate_of: str | None
    language: str
    title_derived: bool


def story_title(members: list[_Member], current: str | None = None) -> str | None:
    """The story's title: the title it has, changed only when a better headline joins.

    A publisher's headline is better than a title derived from a lead; titles of the same kind are
    equal, so the first one a story gets stays (a later article, even one published earlier, does
    not take it over). A new story takes the first member's headline, else the first derived title.
    members are the story's original articles (not duplicates), stored ones first.
    """
    headline = next((m.title for m in members if m.title and not m.title_derived), None)
    if current:
        current_is_headline = any(m.title == current and not m.title_derived for m in members)
        return current if current_is_headline or headline is None else headline
    return headline or next((m.title for m in members if m.title), None)


def build_stories(articles: list[Article], stored_members: list[tuple], story_sentences: int,
                  titles: dict[str, str] | None = None) -> list[Story]:
    """One Story per story the run's articles joined, with every member and a fresh summary.

    stored_members are (story_id, article_id, title, text, source, duplicate_of, language,
    title_derived) rows of articles stored by earlier runs, oldest first; the run's own follow them.
    titles are the stored stories' current titles (see story_title).
    """
    titles = titles or {}
    members: dict[str, list[_Member]] = {}
    for story_id, *row in stored_members:
        members.setdefault(story_id, []).append(_Member(*row))
    new_ids: dict[str, list[str]] = {}
    tags: dict[str, Counter] = {}
    for a in articles:
        if not a.story_id:
            continue
        c = a.cleaned
        members.setdefault(a.story_id, []).append(_Member(
            a.article_id, c.title, c.text, a.doc.source, a.duplicate_of, c.language or "en", c.title_derived))
        new_ids.setdefault(a.story_id, []).append(a.article_id)
        tags.setdefault(a.story_id, Counter()).update(t.issue for t in a.tags)
    stories = []
    for story_id, ids in new_ids.items():
        rows = members[story_id]
        originals = [m for m in rows if m.duplicate_of is None] or rows
        language = Counter(m.language for m in originals).most_common(1)[0][0]
        summary = summarise_story([m.text for m in originals], story_sentences, language=language_name(language),
                                  titles=[m.title for m in originals])
        stories.append(Story(
            story_id=story_id, title=story_title(originals, titles.get(story_id)),
            article_ids=[m.article_id for m in rows],
            new_article_ids=ids, sources=sorted({m.source for m in rows}), summary=summary,
            tags=[issue for issue, _ in tags[story_id].most_common()],
            copy_ids=[m.article_id for m in rows if m.duplicate_of is not None]))
    return stories

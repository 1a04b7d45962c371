"""Gathers the stories a run touched and writes each one's multi-article summary."""

from __future__ import annotations

import logging
from collections import Counter

from tasks.models import Article, Story
from tasks.summarise import summarise_story

LOGGER = logging.getLogger(__name__)
_LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
              "pt": "portuguese", "nl": "dutch", "pl": "polish", "cs": "czech", "sk": "slovak",
              "uk": "ukrainian", "ru": "russian"}


def build_stories(articles: list[Article], stored_members: list[tuple], story_sentences: int) -> list[Story]:
    """One Story per story the run's articles joined, with every member and a fresh summary.

    stored_members are (story_id, article_id, title, text, source, duplicate_of, language) rows of
    articles stored by earlier runs, oldest first; the run's own articles follow them.
    """
    members: dict[str, list[tuple[str, str | None, str, str, str | None, str]]] = {}
    for story_id, aid, title, text, source, dup, lang in stored_members:
        members.setdefault(story_id, []).append((aid, title, text, source, dup, lang))
    new_ids: dict[str, list[str]] = {}
    tags: dict[str, Counter] = {}
    for a in articles:
        if not a.story_id:
            continue
        members.setdefault(a.story_id, []).append(
            (a.article_id, a.cleaned.title, a.cleaned.text, a.doc.source, a.duplicate_of, a.cleaned.language or "en"))
        new_ids.setdefault(a.story_id, []).append(a.article_id)
        tags.setdefault(a.story_id, Counter()).update(t.issue for t in a.tags)
    stories = []
    for story_id, ids in new_ids.items():
        rows = members[story_id]
        originals = [r for r in rows if r[4] is None] or rows
        title = next((r[1] for r in originals if r[1]), None)
        language = Counter(r[5] for r in originals).most_common(1)[0][0]
        summary = summarise_story([r[2] for r in originals], story_sentences,
                                  language=_LANGUAGES.get(language, "english"))
        stories.append(Story(
            story_id=story_id, title=title, article_ids=[r[0] for r in rows], new_article_ids=ids,
            sources=sorted({r[3] for r in rows}), summary=summary,
            tags=[issue for issue, _ in tags[story_id].most_common()]))
    return stories

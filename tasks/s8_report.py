"""Writes the run digest: counts, failing sources, each story with its articles, summary and tags."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

from tasks.records import Article, InputCopy, Reject, RunCounts, Story, given_by_source
from tasks.text.normalise import one_line

LOGGER = logging.getLogger(__name__)
MAX_REJECTS_SHOWN = 50


@dataclass
class SourceProblem:
    """A source that failed this run, as shown at the top of the digest."""

    source: str
    status: str
    detail: str = ""

    @property
    def explained(self) -> str:
        """What went wrong, once: the detail after the status unless the detail already starts with it
        ("refused address: 127.0.0.1 resolves to …", not "refused address — refused address: …")."""
        if not self.detail or self.detail == self.status:
            return self.status
        return self.detail if self.detail.startswith(f"{self.status}:") else f"{self.status} — {self.detail}"


@dataclass
class RunDigest:
    """Everything the digest shows of one run."""

    run_id: str
    started_at: datetime
    counts: RunCounts
    sources: list[str]
    articles: list[Article] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    source_problems: list[SourceProblem] = field(default_factory=list)
    abandoned_runs: list[str] = field(default_factory=list)
    dry_run: bool = False
    skipped_sources: list[SourceProblem] = field(default_factory=list)  # sources not polled: not due, disabled
    copies: list[InputCopy] = field(default_factory=list)  # inputs whose bytes another input brought first
    stored_titles: dict[str, str | None] = field(default_factory=dict)  # originals stored before that this
    # run's duplicates copy: article id -> title, so the digest names them as the reader knows them
    source_folders: dict[str, str] = field(default_factory=dict)  # folder source name -> its folder
    # (locator, reason) of rejects the last run said too (a configured folder still missing): no news
    said_before: set[tuple[str, str]] = field(default_factory=set)

    def where(self, a: Article) -> str:
        """Where an article came from: its web address, else its file's path within its source's folder
        (sport/035.txt: the folders of one source can hold files of the same name), else its file name."""
        if a.cleaned.canonical_url or a.doc.url:
            return a.cleaned.canonical_url or a.doc.url or ""
        folder = self.source_folders.get(a.doc.source)
        if folder:
            try:
                return PurePath(a.doc.locator).relative_to(folder).as_posix()
            except ValueError:  # not under its folder (a file named on the command line)
                pass
        return PurePath(a.doc.locator).name or a.doc.locator

    @property
    def found_something(self) -> bool:
        """Whether the run has anything to show: articles, rejects or copies. A run that found nothing does
        not replace the latest page (a quiet hour must not hide the last news), nor does one whose only news
        is a failing source: a feed down for a day would hide the last news at every run. Its own page, its
        Markdown digest and source_health say so. A configured folder or file still missing is said again in
        each run's rejects, and is news only when the last run did not say it. (warehouse.read.quiet_runs
        tells the same runs apart afterwards.)"""
        return bool(self.articles or self.copies
                    or any((r.locator, r.reason) not in self.said_before for r in self.rejects))


# what starts emphasis, a link, HTML, code, strikethrough or a table cell; "_" inside a word and "&" that
# names no entity ("AT&T") start nothing and stay as written
_MARKDOWN_PUNCT = re.compile(r"[\\`*\[\]<|~]|(?<![^\W_])_|_(?![^\W_])|&(?=#|[A-Za-z0-9]+;)")
# what makes a line a list item, heading, quote or rule when a value opens it ("1. ", "- ", "# ", "---"; the
# digest's quoted story summary), and the closing "#"s a heading drops ("### Vote #")
_MARKDOWN_BLOCK = re.compile(r"^(\d{1,9})([.)])|^[-+#>=]|(?<= )#+$")


def _md(text: str | None) -> str:
    """A value as literal markdown text on one line: the punctuation that starts emphasis, links, HTML, code,
    entities or a table cell is escaped, so that a title such as "*Live*: <b>[vote]</b>" reads as written."""
    inline = _MARKDOWN_PUNCT.sub(lambda m: "\\" + m.group(), one_line(text or "", None))
    return _MARKDOWN_BLOCK.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else "\\" + m.group(), inline)


def _code(text: str | None) -> str:
    """A value as a markdown code span on one line: fenced by more backticks than it holds in a row,
    and padded when it starts or ends with one (a file named `a`b.txt` stays one span)."""
    value = one_line(text or "", None)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _article_line(a: Article, where: str, titles: dict[str, str | None] | None = None,
                  stored_titles: dict[str, str | None] | None = None) -> str:
    """One article: title, source, date and where (RunDigest.where); a duplicate names its original by title when this
    run has it (titles: article id -> title) or it is known as stored before (stored_titles), else says
    it was stored before."""
    title = _md(a.cleaned.title) or "(untitled)"
    date = a.cleaned.published_at.date().isoformat() if a.cleaned.published_at else "date unknown"
    line = f"- **{title}** — {_md(a.doc.source)}, {date}, {_code(where)}"
    if a.duplicate_of:
        titles, stored_titles = titles or {}, stored_titles or {}
        if a.duplicate_of in titles:
            named = f"**{_md(titles[a.duplicate_of]) or '(untitled)'}**"
        elif a.duplicate_of in stored_titles:
            named = f"**{_md(stored_titles[a.duplicate_of]) or '(untitled)'}**, stored before"
        else:
            named = "an article stored before"
        line += f" — {a.duplicate_kind} duplicate of {named} (`{a.duplicate_of}`)"
        if a.similarity is not None and a.duplicate_kind == "near":
            line += f" ({a.similarity:.2f})"
    return line


def _tags_line(a: Article) -> str:
    if not a.tags:
        return "  - tags: none"
    return "  - tags: " + "; ".join(f"{_md(t.issue)} (from the source)" if given_by_source(t.evidence)
                                    else f"{_md(t.issue)} {t.score:.2f} ({_md(', '.join(t.evidence[:4]))})"
                                    for t in a.tags)


def _copy_line(c: InputCopy, stored: dict[str, Article], rejected: set[str]) -> str:
    """What became of a copy: it shares the outcome of the input that brought its bytes first."""
    where = f"{_code(c.locator)} ({_md(c.source)})"
    same = f"the same bytes as {_code(c.original)}"
    if c.stored_by_run:
        done = "rejected" if c.original_rejected else "stored"
        return f"- {where}: {'rejected' if c.original_rejected else 'already stored'} — {same}, {done} by run " \
               f"{c.stored_by_run}"
    if c.content_hash in stored:
        return f"- {where}: duplicate — {same}, read in this run (article `{stored[c.content_hash].article_id}`)"
    if c.content_hash in rejected:
        return f"- {where}: rejected — {same}, read and rejected in this run"
    return f"- {where}: {same}, read in this run"


def _copies_section(d: RunDigest) -> list[str]:
    """The copies of the run, one line each, for the digest."""
    if not d.copies:
        return []
    stored = {a.doc.content_hash: a for a in d.articles}
    rejected = {r.content_hash for r in d.rejects if r.content_hash}
    lines = ["## Copies", ""]
    lines += [_copy_line(c, stored, rejected) for c in d.copies[:MAX_REJECTS_SHOWN]]
    if len(d.copies) > MAX_REJECTS_SHOWN:
        lines.append(f"- … and {len(d.copies) - MAX_REJECTS_SHOWN} more (see the inputs view)")
    return [*lines, ""]


def split_stories(d: RunDigest) -> tuple[list[tuple[Story, list[Article]]], list[tuple[Article, list[Article]]]]:
    """The run's stories of more than one distinct article, largest first, each with the run's
    articles in it; and the rest as single articles, each with its duplicates of this run. A story the
    run brought only copies to (no new reporting) comes after those it brought articles to."""
    by_id = {a.article_id: a for a in d.articles}
    stories, singles = [], []
    placed: set[str] = set()
    for story in sorted(d.stories, key=lambda s: (-len(s.article_ids), s.title or "", s.story_id)):
        members = [by_id[i] for i in story.new_article_ids if i in by_id]
        placed.update(a.article_id for a in members)
        copies = set(story.copy_ids) | {a.article_id for a in members if a.duplicate_of}
        if sum(1 for i in dict.fromkeys(story.article_ids) if i not in copies) > 1:
            stories.append((story, members))
        else:
            singles += _singles(members)
    singles += _singles([a for a in d.articles if a.article_id not in placed])
    stories.sort(key=lambda entry: not brought_news(*entry))  # stable: largest first within each
    return stories, singles


def brought_news(story: Story, members: list[Article]) -> bool:
    """Whether the run brought the story an article that is no copy (members: the run's articles in it)."""
    return any(not a.duplicate_of for a in members)


def _singles(articles: list[Article]) -> list[tuple[Article, list[Article]]]:
    """Each original among the articles with the articles that duplicate it; the copies of an original
    not among them (stored before) stand as one entry: the first copy, with the others under it."""
    ids, copies = {a.article_id for a in articles}, copies_of(articles)
    entries, absent_shown = [], set()
    for a in articles:
        if not a.duplicate_of:
            entries.append((a, copies.get(a.article_id, [])))
        elif a.duplicate_of not in ids and a.duplicate_of not in absent_shown:
            absent_shown.add(a.duplicate_of)
            entries.append((a, [c for c in copies[a.duplicate_of] if c is not a]))
    return entries


UNTAGGED = "no tag"


def top_issue(a: Article) -> str:
    """The issue an article is filed under in the digest: its best tag (a source's default tag when it
    earned none), else UNTAGGED."""
    return a.tags[0].issue if a.tags else UNTAGGED


def by_issue(singles: list[tuple[Article, list[Article]]]) -> list[tuple[str, list[tuple[Article, list[Article]]]]]:
    """Single-article entries filed under their top issue, as a news desk's sections: the issues with the
    most entries first (then by name), untagged articles last; within an issue the newest first, then the
    undated, each by title."""
    groups: dict[str, list[tuple[Article, list[Article]]]] = {}
    for entry in singles:
        groups.setdefault(top_issue(entry[0]), []).append(entry)
    for entries in groups.values():
        entries.sort(key=lambda e: _newest_first(e[0]))
    return sorted(groups.items(), key=lambda g: (g[0] == UNTAGGED, -len(g[1]), g[0]))


def _newest_first(a: Article) -> tuple[bool, float, str]:
    """Sort key: dated articles newest first, then the undated; each by title."""
    published = a.cleaned.published_at
    return published is None, -published.timestamp() if published else 0.0, (a.cleaned.title or "").lower()


def copies_of(articles: list[Article]) -> dict[str, list[Article]]:
    """The articles that duplicate each original, in their order, by the original's id."""
    copies: dict[str, list[Article]] = {}
    for a in articles:
        if a.duplicate_of:
            copies.setdefault(a.duplicate_of, []).append(a)
    return copies


def render_digest(d: RunDigest) -> str:
    """The run digest as markdown."""
    c = d.counts
    lines = [f"# Ingest run {d.run_id}{' (dry run: nothing stored)' if d.dry_run else ''}", "",
             f"Started {d.started_at:%Y-%m-%d %H:%M:%S %Z} · sources: {_md(', '.join(d.sources)) or 'none'}", "",
             "| discovered | seen before | new articles | duplicates | rejected |",
             "|---:|---:|---:|---:|---:|",
             f"| {c.discovered} | {c.skipped} | {c.new_articles} | {c.duplicates} | {c.rejected} |", ""]
    if d.source_problems:
        lines += ["## Failing sources", ""]
        lines += [f"- **{_md(p.source)}**: {_md(p.explained)}" for p in d.source_problems]
        lines.append("")
    if d.skipped_sources:
        lines += ["## Sources not polled", ""]
        lines += [f"- **{_md(p.source)}**: {_md(p.status)}: {_md(p.detail)}" for p in d.skipped_sources]
        lines.append("")
    if d.abandoned_runs:
        lines += [f"Earlier runs that stopped before finishing, marked abandoned: {', '.join(d.abandoned_runs)}", ""]
    if not d.articles:
        lines += ["Nothing new in this run.", ""]
    stories, singles = split_stories(d)
    titles = {a.article_id: a.cleaned.title for a in d.articles}
    if stories:
        lines += ["## Stories", ""]
        for s, members in stories:
            known = len(s.article_ids) - len(s.new_article_ids)
            extra = f", {known} stored before" if known else ""
            lines += [f"### {_md(s.title) or '(untitled story)'}", "",
                      f"{len(s.article_ids)} article(s) from {_md(', '.join(s.sources))}{extra} · story `{s.story_id}`", ""]
            if s.summary:
                lines += ["> " + _md(" ".join(s.summary)), ""]
            for a in members:
                lines.append(_article_line(a, d.where(a), titles, d.stored_titles))
                if a.summary and not a.duplicate_of:
                    lines.append("  - summary: " + _md(" ".join(a.summary)))
                lines.append(_tags_line(a))
            lines.append("")
    if singles:
        lines += ["## Single articles", ""]
        for issue, entries in by_issue(singles):
            lines += [f"### {_md(issue)} ({len(entries)})", ""]
            for a, copies in entries:
                lines.append(_article_line(a, d.where(a), titles, d.stored_titles))
                if a.summary:
                    lines.append("  - summary: " + _md(" ".join(a.summary)))
                lines.append(_tags_line(a))
                lines += [_article_line(c, d.where(c), titles, d.stored_titles).replace("- ", "  - copy: ", 1)
                          for c in copies]
            lines.append("")
    lines += _copies_section(d)
    if d.rejects:
        lines += ["## Rejected", ""]
        lines += [f"- {_code(r.locator)} ({_md(r.source)}): {_md(r.reason)}" for r in d.rejects[:MAX_REJECTS_SHOWN]]
        if len(d.rejects) > MAX_REJECTS_SHOWN:
            lines.append(f"- … and {len(d.rejects) - MAX_REJECTS_SHOWN} more (see the inputs view)")
        lines.append("")
    return "\n".join(lines)


def fit_for_ui(markdown: str, limit: int, whole_at: str) -> str:
    """The digest cut to at most about `limit` characters at a section boundary, saying where the whole
    digest is (the Prefect API refuses very large artifacts, and nobody reads them in the UI)."""
    if len(markdown) <= limit:
        return markdown
    note = (f"\n\n_This digest is cut here for the Prefect UI ({len(markdown):,} characters in all); "
            f"{whole_at}._\n")
    room = max(0, limit - len(note))
    cut = max(markdown.rfind("\n### ", 0, room), markdown.rfind("\n## ", 0, room))
    return markdown[:cut if cut > 0 else room].rstrip() + note


def write_digest(markdown: str, reports_dir: Path, run_id: str) -> Path:
    """Save the digest as <reports_dir>/<run_id>.md and return its path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{run_id}.md"
    path.write_text(markdown, encoding="utf-8")
    return path


def remove_run_pages(reports_dir: Path, run_ids: list[str]) -> int:
    """Delete the runs' digests (<run_id>.md and .html; latest.html stays) and return how many files went."""
    removed = 0
    for run_id in run_ids:
        for suffix in (".md", ".html"):
            path = reports_dir / f"{run_id}{suffix}"
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def summary_line(d: RunDigest) -> str:
    """One line for logs and the terminal."""
    c = d.counts
    stories, singles = split_stories(d)  # counted as the digest shows them
    failing = f"; {len(d.source_problems)} failing sources: {', '.join(p.source for p in d.source_problems)}" \
        if d.source_problems else ""
    return (f"run {d.run_id}{' (dry run: nothing stored)' if d.dry_run else ''}: {c.discovered} discovered, "
            f"{c.skipped} seen before, {c.new_articles} new, {c.duplicates} duplicates, {c.rejected} rejected; "
            f"{len(stories)} stories, {len(singles)} single articles{failing}")

"""Writes the run digest as one self-contained HTML page: stories, single articles, problems and the issue trend."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from datetime import datetime
from html import escape
from pathlib import Path

from tasks.files import replaced
from tasks.records import Article, InputCopy, Story, Tag, given_by_source
from tasks.s8_report import MAX_REJECTS_SHOWN, UNTAGGED, RunDigest, brought_news, by_issue, copies_of, split_stories
from tasks.s8_report_chart import IssueTrend, series_colour, trend_svg

LATEST_PAGE = "latest.html"
SAFE_SCHEMES = ("http://", "https://")
EVIDENCE_SHOWN = 8

# Opens every folded part before printing and restores it after, so paper shows everything.
PRINT_SCRIPT = ('addEventListener("beforeprint",function(){document.querySelectorAll("details").forEach('
                'function(d){d.dataset.shut=d.open?"":"1";d.open=true})});'
                'addEventListener("afterprint",function(){document.querySelectorAll("details[data-shut]").forEach('
                'function(d){d.open=!d.dataset.shut;delete d.dataset.shut})});')
# Nothing is fetched (the page opens offline) and no script runs but PRINT_SCRIPT, by its hash: a
# second line of defence behind the escaping of every stored string.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "script-src 'sha256-{digest}'")

STYLE = """
:root{--ink:#1d1d1f;--muted:#5f6368;--line:#d9d9de;--chip:#eef1f6;--accent:#0b57d0;--warn:#a50e0e}
*{box-sizing:border-box}
body{margin:0 auto;max-width:52rem;padding:1rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff;overflow-wrap:anywhere}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-top:.6rem;
border-top:2px solid var(--ink)}h3,h4{font-size:1.1rem;margin:0 0 .3rem}
.issue>h3{margin:1.2rem 0 .2rem;color:var(--muted)}
a{color:var(--accent)}.meta{color:var(--muted);font-size:.9rem;margin:.1rem 0}
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.95rem;margin:.6rem 0}
.counts{list-style:none;padding:0;margin:.6rem 0;display:flex;flex-wrap:wrap;gap:.4rem}
.counts li{border:1px solid var(--line);border-radius:.4rem;padding:.15rem .6rem;font-size:.9rem}
.counts b{font-size:1.05rem;margin-right:.25rem}
.story,.single{border:1px solid var(--line);border-radius:.5rem;padding:.8rem 1rem;margin:.8rem 0;
break-inside:avoid-page}
.summary{margin:.5rem 0;padding:.1rem 0 .1rem .8rem;border-left:3px solid var(--accent)}
.grew{color:#0a7d32;font-weight:600}
.tags{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:.3rem}
.tags details{background:var(--chip);border-radius:1rem;padding:.05rem .6rem;font-size:.85rem}
.tags summary{cursor:pointer}.tags .score{color:var(--muted)}.tags .evidence{display:block;color:var(--muted)}
.members{margin:.4rem 0 0;padding-left:1.2rem}.members>li{margin:.3rem 0}
details.folded>summary{cursor:pointer;color:var(--muted);font-size:.9rem}
.dups{list-style:none;padding-left:.8rem;border-left:2px solid var(--line);font-size:.9rem}
.problems li,.rejects li{margin:.2rem 0}.status{color:var(--warn);font-weight:600}
figure{margin:0}svg.trend{width:100%;height:auto;display:block}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.9rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:.2rem;margin-right:.3rem;
vertical-align:-.05rem}
figcaption{color:var(--muted);font-size:.85rem}
code{font-size:.85em}
@media (max-width:40rem){body{padding:.6rem;font-size:15px}.story,.single{padding:.6rem}}
@media print{nav{display:none}body{max-width:none;font-size:11pt}a{color:inherit}
h2{break-after:avoid}.story,.single{border-color:#999}}
"""


def _e(value: object) -> str:
    """Any stored value as HTML text (quotes escaped too, so it is safe in attributes)."""
    return escape(" ".join(str(value if value is not None else "").split()), quote=True)


def _date(a: Article) -> str:
    return a.cleaned.published_at.date().isoformat() if a.cleaned.published_at else "date unknown"


def _link(a: Article, d: RunDigest) -> str:
    """The article's title, linked when it has a web address; file inputs show their path in their
    source's folder (RunDigest.where)."""
    title = _e(a.cleaned.title) or "(untitled)"
    url = a.cleaned.canonical_url or a.doc.url or ""
    if url.lower().startswith(SAFE_SCHEMES):
        return f'<a href="{_e(url)}" rel="noreferrer">{title}</a>'
    return f'<strong>{title}</strong> <code>{_e(d.where(a))}</code>'


def _tag_chip(issue: str, score: float, evidence: Iterable[str]) -> str:
    """One tag: its name and score; the evidence terms on hover (title) and on expand."""
    evidence = list(evidence)
    terms = ", ".join(list(dict.fromkeys(evidence))[:EVIDENCE_SHOWN])
    if given_by_source(evidence):  # not scored: no number to show
        return (f'<li><details><summary title="from the source">{_e(issue)} <span class="score">source'
                f'</span></summary><span class="evidence">a tag every article of the source gets</span></details></li>')
    return (f'<li><details><summary title="evidence: {_e(terms)}">{_e(issue)} <span class="score">{score:.2f}'
            f'</span></summary><span class="evidence">{_e(terms) or "no evidence terms"}</span></details></li>')


def _tags(tags: list[Tag]) -> str:
    return f'<ul class="tags">{"".join(_tag_chip(t.issue, t.score, t.evidence) for t in tags)}</ul>' if tags else ""


def _story_tags(story: Story, articles: list[Article]) -> list[Tag]:
    """The story's issues, each with its best score and the evidence of the run's articles that carry it,
    highest score first (ties: as ordered on the story, the issue most of its articles carry first)."""
    tags = []
    for issue in story.tags:
        found = [t for a in articles for t in a.tags if t.issue == issue]
        evidence = tuple(term for t in found for term in t.evidence)
        tags.append(Tag(issue, max((t.score for t in found), default=0.0), evidence))
    return sorted(tags, key=lambda t: -t.score)


def _duplicate_line(a: Article, d: RunDigest) -> str:
    how = f"{_e(a.duplicate_kind)} duplicate"
    if a.similarity is not None and a.duplicate_kind == "near":
        how += f" ({a.similarity:.2f})"
    return f'<li>{_link(a, d)} <span class="meta">{_e(a.doc.source)} · {_date(a)} · {how}</span></li>'


def _folded_duplicates(copies: list[Article], d: RunDigest) -> str:
    if not copies:
        return ""
    lines = "".join(_duplicate_line(c, d) for c in copies)
    noun = "duplicate" if len(copies) == 1 else "duplicates"
    return f'<details class="folded"><summary>{len(copies)} {noun}</summary><ul class="dups">{lines}</ul></details>'


def _member(a: Article, copies: list[Article], with_summary: bool, d: RunDigest) -> str:
    """An article of a story: its link, source and date, its own summary folded, its copies folded."""
    summary = (f'<details class="folded"><summary>article summary</summary><p>{_e(" ".join(a.summary))}</p>'
               f'</details>') if with_summary and a.summary else ""
    return (f'<li>{_link(a, d)} <span class="meta">{_e(a.doc.source)} · {_date(a)}</span>{summary}'
            f'{_folded_duplicates(copies, d)}</li>')


def _stored_original(article_id: str, stored_titles: dict[str, str | None]) -> str:
    """An original stored by an earlier run, by its title when known, and its id."""
    if article_id in stored_titles:
        return f'<strong>{_e(stored_titles[article_id]) or "(untitled)"}</strong> <code>{_e(article_id)}</code>'
    return f'article <code>{_e(article_id)}</code>'


def _members(articles: list[Article], with_summary: bool, d: RunDigest) -> str:
    """The run's articles of a story, each duplicate folded under its original; copies of articles
    stored by an earlier run are folded under a line naming that original."""
    ids = {a.article_id for a in articles}
    copies = copies_of(articles)
    items = [_member(a, copies.get(a.article_id, []), with_summary, d) for a in articles if not a.duplicate_of]
    items += [f'<li><span class="meta">stored before: {_stored_original(original, d.stored_titles)}</span>'
              f'{_folded_duplicates(group, d)}</li>' for original, group in copies.items() if original not in ids]
    return f'<ol class="members">{"".join(items)}</ol>'


def _story_meta(story: Story, articles: list[Article]) -> str:
    """Its size, what came from this run, and whether it grew: only an article that is no copy grows it."""
    count = len(story.article_ids)
    known = count - len(story.new_article_ids)
    grew = f' · <span class="grew">grew: {known} stored before</span>' if known and brought_news(story, articles) \
        else (f' · {known} stored before' if known else "")
    return (f'<p class="meta"><strong>{count} articles</strong> · {len(story.new_article_ids)} from this run{grew} · '
            f'sources: {_e(", ".join(story.sources))}</p>')


def _story(story: Story, articles: list[Article], d: RunDigest) -> str:
    summary = f'<p class="summary">{_e(" ".join(story.summary))}</p>' if story.summary else ""
    return (f'<article class="story" id="story-{_e(story.story_id)}"><h3>{_e(story.title) or "(untitled story)"}'
            f'</h3>{_story_meta(story, articles)}{summary}{_tags(_story_tags(story, articles))}'
            f'{_members(articles, with_summary=True, d=d)}</article>')


def _single(a: Article, copies: list[Article], d: RunDigest) -> str:
    stored_titles = d.stored_titles
    summary = f'<p class="summary">{_e(" ".join(a.summary))}</p>' if a.summary else ""
    copy_of = ""
    if a.duplicate_of:
        original = (f'<strong>{_e(stored_titles[a.duplicate_of]) or "(untitled)"}</strong>, stored before'
                    if a.duplicate_of in stored_titles else "an article stored before")
        copy_of = f' · {_e(a.duplicate_kind)} duplicate of {original}: <code>{_e(a.duplicate_of)}</code>'
    return (f'<article class="single" id="article-{_e(a.article_id)}"><h4>{_link(a, d)}</h4>'
            f'<p class="meta">{_e(a.doc.source)} · {_date(a)}{copy_of}</p>{summary}{_tags(a.tags)}'
            f'{_folded_duplicates(copies, d)}</article>')


def _by_issue(singles: list[tuple[Article, list[Article]]], d: RunDigest) -> str:
    """The single articles filed under their top issue, with a line of links to the issues."""
    groups = by_issue(singles)
    if not groups:
        return ""
    # issue names have no hyphen (ISSUE_NAME_RE), so "no-tag" is no issue's anchor
    anchor = {issue: "singles-" + ("no-tag" if issue == UNTAGGED else issue) for issue, _ in groups}
    links = "".join(f'<a href="#{_e(anchor[issue])}">{_e(issue)} ({len(entries)})</a>' for issue, entries in groups)
    return (f'<nav class="issues" aria-label="Single articles by issue">{links}</nav>' + "".join(
        f'<section class="issue" id="{_e(anchor[issue])}"><h3>{_e(issue)} ({len(entries)})</h3>'
        + "".join(_single(a, copies, d) for a, copies in entries) + "</section>" for issue, entries in groups))


def _header(d: RunDigest) -> str:
    c = d.counts
    counts = "".join(f"<li><b>{n:,}</b>{label}</li>" for n, label in (
        (c.discovered, "discovered"), (c.skipped, "seen before"), (c.new_articles, "new articles"),
        (c.duplicates, "duplicates"), (c.rejected, "rejected")))
    note = ' <span class="status">dry run: nothing stored</span>' if d.dry_run else ""
    abandoned = (f'<p class="meta">Earlier runs that stopped before finishing, marked abandoned: '
                 f'{_e(", ".join(d.abandoned_runs))}</p>') if d.abandoned_runs else ""
    # a source down is news before the articles, as the Markdown digest opens with it: named here, explained below
    failing = (f'<p><span class="status">Failing: {_e(", ".join(p.source for p in d.source_problems))}</span> '
               f'(why: <a href="#problems">Failing sources and rejects</a>)</p>') if d.source_problems else ""
    return (f'<header><h1>News digest</h1><p class="meta">Run <code>{_e(d.run_id)}</code>{note} · started '
            f'{d.started_at:%Y-%m-%d %H:%M %Z} · sources: {_e(", ".join(d.sources)) or "none"}</p>{abandoned}'
            f'{failing}<ul class="counts">{counts}</ul>'
            '<nav><a href="#stories">Stories</a><a href="#singles">Single articles</a>'
            '<a href="#problems">Failing sources and rejects</a><a href="#trend">Issue trend</a></nav></header>')


def _copy_item(c: InputCopy) -> str:
    """A copy: where it was read, and the input whose bytes it repeats (its outcome is that input's)."""
    done = (f"{'rejected' if c.original_rejected else 'stored'} by run {_e(c.stored_by_run)}" if c.stored_by_run
            else "read in this run")
    return f'<li><code>{_e(c.locator)}</code> ({_e(c.source)}): the same bytes as <code>{_e(c.original)}</code>, ' \
           f'{done}</li>'


def _listed(items: list, render, label: str) -> str:
    """Up to MAX_REJECTS_SHOWN items as a list under a heading, with a count of the rest."""
    shown = items[:MAX_REJECTS_SHOWN]
    more = len(items) - len(shown)
    return (f'<h3>{label} ({len(items)})</h3><ul class="rejects">' + "".join(render(i) for i in shown)
            + (f'<li class="meta">… and {more} more (see the inputs view)</li>' if more else "") + "</ul>")


def _problems(d: RunDigest) -> str:
    parts = ['<section id="problems"><h2>Failing sources and rejects</h2>']
    if d.source_problems:
        parts.append('<ul class="problems">' + "".join(
            f'<li><strong>{_e(p.source)}</strong>: <span class="status">{_e(p.explained)}</span></li>'
            for p in d.source_problems) + "</ul>")
    elif d.skipped_sources:  # a source not polled may still be failing (backing off, disabled): not "none failed"
        parts.append('<p class="meta">No source polled in this run failed.</p>')
    else:
        parts.append('<p class="meta">No source failed.</p>')
    if d.skipped_sources:
        parts.append(_listed(d.skipped_sources, lambda p: f'<li><strong>{_e(p.source)}</strong>: {_e(p.status)}'
                                                          f'{": " + _e(p.detail) if p.detail else ""}</li>',
                             "Sources not polled"))
    if d.copies:
        parts.append(_listed(d.copies, _copy_item, "Copies of inputs already read"))
    if d.rejects:
        parts.append(_listed(d.rejects, lambda r: f'<li><code>{_e(r.locator)}</code> ({_e(r.source)}): '
                                                  f'{_e(r.reason)}</li>', "Rejected"))
    else:
        parts.append('<p class="meta">No input was rejected.</p>')
    return "".join(parts) + "</section>"


def _trend(trend: IssueTrend) -> str:
    days = len(trend.days)
    head = f'<section id="trend"><h2>Issues over the last {days} days</h2>'
    if trend.empty:
        return head + f'<p class="meta">No tagged article in the last {days} days.</p></section>'
    legend = "".join(f'<li><span class="swatch" style="background:{series_colour(i)}"></span>{_e(issue)} '
                     f'<span class="meta">({trend.total(issue)}'
                     f'{f", {trend.undated[issue]} undated" if trend.undated.get(issue) else ""})</span></li>'
                     for i, issue in enumerate(trend.series))
    if not any(any(counts) for counts in trend.series.values()):  # all undated: a chart would be flat lines at 0
        return (f'{head}<p class="meta">No tagged article of these days has a publication date, so there is '
                f'nothing to draw by day. Undated articles read in them, per issue (duplicates not counted):</p>'
                f'<ul class="legend">{legend}</ul></section>')
    shown = (f"the {len(trend.series)} issues with the most articles, of {trend.issues_in_window}"
             if trend.issues_in_window > len(trend.series) else f"all {len(trend.series)} tagged issues")
    no_day = (" Articles with no publication date (read in these days) are counted in the legend as undated "
              "and drawn on no day: a folder of them read at once is no surge of news." if trend.undated else "")
    return (f'{head}<figure>{trend_svg(trend)}<ul class="legend">{legend}</ul><figcaption>Articles per issue '
            f'per day, {trend.days[0]:%Y-%m-%d} to {trend.days[-1]:%Y-%m-%d} (UTC date of publication; '
            f'duplicates not counted): {shown}, from the whole warehouse.{no_day}</figcaption>'
            '</figure></section>')


def render_page(d: RunDigest, trend: IssueTrend, generated_at: datetime) -> str:
    """The run digest as one self-contained HTML page (inline CSS and SVG, no outside requests), every
    stored string escaped: stories largest first, then single articles, problems, the issue trend."""
    stories, singles = split_stories(d)
    story_html = "".join(_story(s, members, d) for s, members in stories) or \
        '<p class="meta">No story of more than one article in this run.</p>'
    single_html = _by_issue(singles, d) or '<p class="meta">No single article in this run.</p>'
    nothing = '<p class="meta">Nothing new in this run.</p>' if not d.articles else ""
    script_hash = base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP.format(digest=script_hash)}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>News digest {_e(d.run_id)}</title><style>{STYLE}</style></head><body>{_header(d)}<main>'
            f'{nothing}<section id="stories"><h2>Stories ({len(stories)})</h2>{story_html}</section>'
            f'<section id="singles"><h2>Single articles ({len(singles)})</h2>{single_html}</section>'
            f'{_problems(d)}{_trend(trend)}</main><footer><p class="meta">Generated {generated_at:%Y-%m-%d %H:%M %Z}'
            f' by newsdesk.</p></footer><script>{PRINT_SCRIPT}</script></body></html>\n')


def write_page(page: str, reports_dir: Path, run_id: str, latest: bool = True) -> Path:
    """Save the page as <reports_dir>/<run_id>.html and, when latest, as latest.html (each replaced
    whole, so a reader never sees half a page); return the run's path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{run_id}.html"
    for target in (path, reports_dir / LATEST_PAGE) if latest else (path,):
        with replaced(target, prefix=".page-") as temporary:
            temporary.write_text(page, encoding="utf-8")
            os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for every reader
    return path

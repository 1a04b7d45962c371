"""The HTML digest page and its trend chart as plain functions: order, folding, escaping, self-containment."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

from tasks.records import Article, CleanedArticle, InputCopy, RawDocument, Reject, RunCounts, Story, Tag
from tasks.s8_report import RunDigest, SourceProblem, render_digest, summary_line
from tasks.s8_report_chart import IssueTrend, trend_from_counts, trend_svg
from tasks.s8_report_html import LATEST_PAGE, render_page, split_stories, write_page
from warehouse import connect, queries, write

NOW = datetime(2026, 3, 10, 8, 30, tzinfo=timezone.utc)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\' & done'


def _article(aid: str, title: str, story: str | None, source: str = "wire", dup: str | None = None,
             tags: tuple[Tag, ...] = (), url: str | None = None) -> Article:
    doc = RawDocument(source=source, locator=url or f"/in/{aid}.txt", content_hash=aid * 4, raw=b"",
                      media_type="text/plain", url=url)
    cleaned = CleanedArticle(title=title, text=f"{title} text", canonical_url=url)
    return Article(article_id=aid, doc=doc, cleaned=cleaned, story_id=story, duplicate_of=dup,
                   duplicate_kind="near" if dup else None, similarity=0.91 if dup else None,
                   summary=[f"Summary of {title}."], tags=list(tags))


def _digest(**changes) -> RunDigest:
    """A run with a story of three (one new article has a copy), a story that grew, and a single article."""
    tag = Tag("defence", 4.5, ("nato", "troops"))
    articles = [
        _article("a1", "Talks open", "s1", tags=(tag,), url="https://news.example/talks"),
        _article("a2", "Talks, second report", "s1", source="daily", tags=(Tag("defence", 2.0, ("army",)),)),
        _article("a3", "Talks open (copy)", "s1", source="copyshop", dup="a1"),
        _article("b1", "Harbour fire", "s2"),
        _article("c1", "Bakery wins prize", "s3"),
    ]
    stories = [
        Story("s2", "Harbour fire", ["old1", "b1"], ["b1"], ["metro"], ["Fire at the harbour."], []),
        Story("s3", "Bakery wins prize", ["c1"], ["c1"], ["wire"], ["A prize."], []),
        Story("s1", "Talks open", ["a1", "a2", "a3"], ["a1", "a2", "a3"], ["copyshop", "daily", "wire"],
              ["The talks opened.", "Both sides spoke."], ["defence"]),
    ]
    values = dict(run_id="20260310T083000Z-abcdef", started_at=NOW, counts=RunCounts(5, 1, 4, 1, 1),
                  sources=["wire", "daily"], articles=articles, stories=stories,
                  rejects=[Reject("wire", "/in/empty.txt", "empty file")],
                  source_problems=[SourceProblem("metro", "timeout", "read timed out")])
    values.update(changes)
    return RunDigest(**values)


def _trend() -> IssueTrend:
    rows = [("defence", date(2026, 3, 9), 3), ("defence", date(2026, 3, 10), 1), ("economy", date(2026, 3, 10), 2)]
    return trend_from_counts(rows, date(2026, 3, 10), 7, 8)


class _Collect(HTMLParser):
    """Elements, attributes and text of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    return parser


def test_stories_come_largest_first_then_single_articles_then_problems_then_the_trend():
    page = render_page(_digest(), _trend(), NOW)
    order = [page.index(marker) for marker in ('id="story-s1"', 'id="story-s2"', 'id="article-c1"',
                                               'id="problems"', 'id="trend"')]
    assert order == sorted(order)
    stories, singles = split_stories(_digest())
    assert [s.story_id for s, _ in stories] == ["s1", "s2"], "s2 has a stored member, so it is a story"
    assert [a.article_id for a, _ in singles] == ["c1"]


def test_the_markdown_digest_splits_stories_and_single_articles_as_the_page_does():
    markdown = render_digest(_digest())
    stories, singles = markdown.split("## Stories", 1)[1].split("## Single articles")
    assert stories.index("### Talks open") < stories.index("### Harbour fire") and "Bakery" not in stories
    assert "- **Bakery wins prize** — wire" in singles and "  - summary: Summary of Bakery wins prize." in singles
    assert "Talks" not in singles and "Harbour" not in singles


def test_the_run_line_counts_stories_and_single_articles_as_the_digest_shows_them():
    # every article is in a story of its own; the line counts as the page's "Stories (2)" and
    # "Single articles (1)", not the 3 stories the run touched
    line = summary_line(_digest())
    assert line.startswith("run 20260310T083000Z-abcdef: "), line
    # the run's last log line and its artifact's description also name failing sources, and a dry run
    assert line.endswith("1 duplicates, 1 rejected; 2 stories, 1 single articles; 1 failing sources: metro"), line
    assert summary_line(_digest(dry_run=True, source_problems=[])).startswith(
        "run 20260310T083000Z-abcdef (dry run: nothing stored): ")
    page = render_page(_digest(), _trend(), NOW)
    assert "<h2>Stories (2)</h2>" in page and "<h2>Single articles (1)</h2>" in page


def test_a_storys_tags_show_highest_score_first():
    low, high = Tag("territorial_dispute", 0.63, ("border",)), Tag("international_affairs", 0.80, ("talks",))
    articles = [_article("a1", "Talks open", "s1", tags=(low,)), _article("a2", "Talks again", "s1", tags=(low, high))]
    story = Story("s1", "Talks open", ["a1", "a2"], ["a1", "a2"], ["wire"], ["The talks opened."],
                  ["territorial_dispute", "international_affairs"])
    page = render_page(_digest(articles=articles, stories=[story]), _trend(), NOW)
    chips = page[page.index('id="story-s1"'):]
    assert chips.index("international_affairs") < chips.index("territorial_dispute")


def test_a_story_shows_sources_count_summary_tags_with_evidence_and_growth():
    page = render_page(_digest(), _trend(), NOW)
    s1 = page[page.index('id="story-s1"'):page.index('id="story-s2"')]
    assert "3 articles" in s1 and "copyshop, daily, wire" in s1 and "The talks opened. Both sides spoke." in s1
    assert "3 from this run" in s1, "a story counts this run's inputs, copies too: not 'new articles'"
    assert 'title="evidence: nato, troops, army"' in s1 and "defence <span class=\"score\">4.5" in s1
    s2 = page[page.index('id="story-s2"'):page.index('id="singles"')]
    assert "grew: 1 stored before" in s2 and "grew" not in s1


def test_a_duplicate_is_folded_under_its_original():
    page = render_page(_digest(), _trend(), NOW)
    original = page.index("Talks open</a>")
    folded = page.index("Talks open (copy)")
    second = page.index("Talks, second report")
    assert original < folded < second, "the copy sits inside the original's entry, before the next article"
    between = page[original:folded]
    assert '<details class="folded"><summary>1 duplicate</summary>' in between
    assert "near duplicate (0.91)" in page[folded:second]


def test_the_markdown_digest_names_a_duplicates_original_by_its_title():
    markdown = render_digest(_digest())
    assert "near duplicate of **Talks open** (`a1`)" in markdown, markdown
    stored_before = render_digest(_digest(articles=[_article("d1", "Old news again", "s9", dup="old7")],
                                          stories=[Story("s9", "Old news", ["old7", "d1"], ["d1"], ["wire"], [], [])]))
    assert "near duplicate of an article stored before (`old7`)" in stored_before, stored_before


def test_a_copy_of_an_article_stored_before_is_folded_under_a_line_naming_it():
    digest = _digest(articles=[_article("d1", "Old news again", "s9", dup="old7")],
                     stories=[Story("s9", "Old news", ["old5", "old7", "d1"], ["d1"], ["wire"], [], [])])
    page = render_page(digest, _trend(), NOW)
    assert "stored before: article <code>old7</code>" in page and "1 duplicate" in page
    alone = render_page(_digest(articles=digest.articles, stories=[Story("s9", "Old news", ["old7", "d1"], ["d1"],
                                                                         ["wire"], [], [])]), _trend(), NOW)
    single = alone[alone.index('id="article-d1"'):]
    assert "near duplicate of an article stored before: <code>old7</code>" in single


def test_every_stored_string_is_escaped():
    bad = _article("h1", HOSTILE, "sh", source=HOSTILE, tags=(Tag(HOSTILE, 1.0, (HOSTILE,)),),
                   url="javascript:alert(1)")
    bad.summary = [HOSTILE]
    digest = _digest(articles=[bad], stories=[Story("sh", HOSTILE, ["h1"], ["h1"], [HOSTILE], [HOSTILE], [HOSTILE])],
                     rejects=[Reject(HOSTILE, HOSTILE, HOSTILE)], source_problems=[SourceProblem(HOSTILE, HOSTILE,
                                                                                                 "x " + HOSTILE)],
                     sources=[HOSTILE], abandoned_runs=[HOSTILE],
                     skipped_sources=[SourceProblem(HOSTILE, "skipped", HOSTILE)],
                     copies=[InputCopy(HOSTILE, HOSTILE, "h" * 64, HOSTILE, stored_by_run=HOSTILE)])
    trend = trend_from_counts([(HOSTILE, date(2026, 3, 10), 1)], date(2026, 3, 10), 3, 8)
    page = render_page(digest, trend, NOW)
    parsed = _parse(page)
    assert [t for t, _ in parsed.tags].count("script") == 1, "only the page's own print script"
    assert not [t for t, _ in parsed.tags if t == "img"]
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")], "no event handler attribute"
    assert not [attrs for tag, attrs in parsed.tags if tag == "a" and "javascript" in attrs.get("href", "")]
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 14, "every hostile value is shown literally"


def test_the_page_is_self_contained():
    page = render_page(_digest(), _trend(), NOW)
    parsed = _parse(page)
    fetched = [(tag, attrs) for tag, attrs in parsed.tags
               if attrs.get("src") or (tag == "link") or (tag == "script" and attrs.get("src"))]
    assert fetched == [], "nothing is loaded from anywhere"
    assert "@import" not in page and "url(" not in page.replace("url(#", "")
    csp = next(attrs["content"] for tag, attrs in parsed.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1]
    assert any(attrs.get("name") == "viewport" for tag, attrs in parsed.tags if tag == "meta")
    assert "@media print" in page


def test_trend_fills_every_day_and_keeps_the_issues_with_most_articles():
    rows = [("a", date(2026, 3, 1), 5), ("b", date(2026, 3, 3), 2), ("c", date(2026, 3, 3), 9),
            ("old", date(2026, 1, 1), 50)]
    trend = trend_from_counts(rows, date(2026, 3, 3), 3, 2)
    assert trend.days == (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3))
    assert trend.series == {"c": (0, 0, 9), "a": (5, 0, 0)}
    assert trend.issues_in_window == 3


def test_the_chart_has_one_series_per_issue_and_shows_names_as_text():
    trend = trend_from_counts([("defence", date(2026, 3, 10), 2), (HOSTILE, date(2026, 3, 9), 1)],
                              date(2026, 3, 10), 5, 8)
    svg = trend_svg(trend)
    assert svg.startswith('<svg class="trend"') and "viewBox" in svg and "<?xml" not in svg
    assert sorted(re.findall(r'<g id="(series-\d+)"', svg)) == ["series-0", "series-1"]
    assert "<script" not in svg and trend_svg(trend) == svg, "the same data gives the same chart"
    # two issues with the same counts: the second line is dashed, so the first shows through it
    equal = trend_svg(trend_from_counts([("defence", date(2026, 3, 10), 2), ("economy", date(2026, 3, 10), 2)],
                                        date(2026, 3, 10), 5, 8))
    first, second = (equal[equal.index(f'<g id="series-{i}"'):] for i in (0, 1))
    assert "stroke-dasharray" not in first[:first.index("</g>")]
    assert "stroke-dasharray" in second[:second.index("</g>")]
    many = trend_svg(trend_from_counts([(f"issue_{k:02d}", date(2026, 3, 10), 2) for k in range(20)],
                                       date(2026, 3, 10), 5, 20))
    groups = [many[many.index(f'<g id="series-{k}"'):] for k in range(20)]
    assert [("stroke-dasharray" in g[:g.index("</g>")]) for g in groups] == [False] + [True] * 19


def test_a_run_with_no_tagged_article_in_the_window_says_so_instead_of_a_chart():
    page = render_page(_digest(), trend_from_counts([], date(2026, 3, 10), 30, 8), NOW)
    assert "<svg" not in page and "No tagged article in the last 30 days" in page


def test_write_page_saves_the_run_page_and_latest(tmp_path):
    first = write_page("<p>one</p>", tmp_path / "reports", "run-1")
    second = write_page("<p>two</p>", tmp_path / "reports", "run-2")
    assert first.read_text() == "<p>one</p>" and second.read_text() == "<p>two</p>"
    assert (tmp_path / "reports" / LATEST_PAGE).read_text() == "<p>two</p>"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [LATEST_PAGE, "run-1.html", "run-2.html"]


def test_issue_days_counts_originals_per_utc_day_from_the_views(tmp_path):
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        run = "run-1"
        write.begin_run(con, run, None, "wire")
        published = datetime(2026, 3, 9, 23, 30, tzinfo=timezone.utc)
        articles = [_article("a1", "One", "s1", tags=(Tag("defence", 2, ("nato",)),)),
                    _article("a2", "Two", "s1", tags=(Tag("defence", 2, ("nato",)), Tag("economy", 1, ("gdp",)))),
                    _article("a3", "Copy", "s1", dup="a1", tags=(Tag("defence", 2, ("nato",)),))]
        for a in articles:
            a.cleaned.published_at = published
            a.text_hash = a.article_id
        write.write_run(con, run, articles, [], [], RunCounts())
        rows = queries.issue_days(con, date(2026, 3, 1), date(2026, 3, 10))
        assert rows == [("defence", date(2026, 3, 9), 2), ("economy", date(2026, 3, 9), 1)]
        assert queries.issue_days(con, date(2026, 3, 10), date(2026, 3, 10)) == []
    finally:
        con.close()


def test_digest_command_prints_the_latest_page_or_says_there_is_none(tmp_path, write_config, capsys):
    from flows.digest import main

    config = write_config()
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no digest page yet" in err[0]
    page = write_page("<p>page</p>", tmp_path / "reports", "run-1")
    assert main(["--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == str(page.parent / LATEST_PAGE)
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "file not found" in capsys.readouterr().err
    # another warehouse has digests of its own beside its catalog; one that does not exist is said so
    other = tmp_path / "other" / "catalog.sqlite"
    assert main(["--config", str(config), "--warehouse", str(other)]) == 2
    assert f"no warehouse at {other}" in capsys.readouterr().err
    other.parent.mkdir()
    other.write_bytes(b"")
    assert main(["--config", str(config), "--warehouse", str(other)]) == 2
    assert "no digest page yet" in capsys.readouterr().err
    theirs = write_page("<p>theirs</p>", Path(f"{other}.reports"), "run-2")
    assert main(["--config", str(config), "--warehouse", str(other)]) == 0
    assert capsys.readouterr().out.strip() == str(theirs.parent / LATEST_PAGE)
    assert main(["--config", str(config)]) == 0 and capsys.readouterr().out.strip() == str(page.parent / LATEST_PAGE)


def test_sources_not_polled_and_copies_are_listed_with_the_problems():
    digest = _digest(skipped_sources=[SourceProblem("metro", "skipped", "not due until 09:30")],
                     copies=[InputCopy("wire", "/in/again.txt", "h" * 64, "/in/first.txt"),
                             InputCopy("wire", "/in/old.txt", "k" * 64, "/in/before.txt", stored_by_run="run-0")])
    page = render_page(digest, _trend(), NOW)
    problems = page[page.index('id="problems"'):page.index('id="trend"')]
    assert "<h3>Sources not polled (1)</h3>" in problems and "<strong>metro</strong>: skipped: not due until 09:30" \
        in problems
    assert "<h3>Copies of inputs already read (2)</h3>" in problems
    assert "<code>/in/again.txt</code> (wire): the same bytes as <code>/in/first.txt</code>, read in this run" in problems
    assert "the same bytes as <code>/in/before.txt</code>, stored by run run-0" in problems


def test_a_source_backing_off_is_not_reported_as_no_source_failed():
    """A feed still failing but not polled this run (backing off) is listed as not polled; the page must not
    also say that no source failed."""
    digest = _digest(source_problems=[], skipped_sources=[
        SourceProblem("Dead feed", "skipped", "not due until 00:43 UTC (backing off after 1 failure: connect)")])
    problems = (page := render_page(digest, _trend(), NOW))[page.index('id="problems"'):page.index('id="trend"')]
    assert "No source failed." not in problems
    assert "No source polled in this run failed." in problems
    assert "backing off after 1 failure: connect" in problems
    quiet = render_page(_digest(source_problems=[]), _trend(), NOW)
    assert "No source failed." in quiet


def test_a_failing_source_is_named_at_the_top_of_the_page_as_in_the_markdown():
    """A feed that is down shows before the articles (the Markdown digest opens with it too), with a link to
    its reason; a page with no failing source says nothing there."""
    page = render_page(_digest(source_problems=[SourceProblem("metro", "http 500", "HTTP 500 from /feed.rss")]),
                       _trend(), NOW)
    top = page[:page.index('id="stories"')]
    assert '<a href="#problems">' in top and "metro" in top.split("<nav>")[0], top
    assert page.count("HTTP 500 from /feed.rss") == 1, "the reason is given once, in its section"
    assert render_digest(_digest()).index("## Failing sources") < render_digest(_digest()).index("## Stories")
    quiet = render_page(_digest(source_problems=[]), _trend(), NOW)
    assert "failing" not in quiet[:quiet.index("<nav>")].lower()


def test_a_failing_source_is_explained_once_on_the_page_and_in_the_markdown():
    refused = SourceProblem("Feed A", "refused address", "refused address: 127.0.0.1 resolves to 127.0.0.1")
    timeout = SourceProblem("metro", "timeout", "timeout fetching /feed.rss")
    assert refused.explained == "refused address: 127.0.0.1 resolves to 127.0.0.1"
    assert timeout.explained == "timeout — timeout fetching /feed.rss"
    assert SourceProblem("x", "dns").explained == "dns"
    digest = _digest(source_problems=[refused, timeout])
    for shown in (render_digest(digest), render_page(digest, trend_from_counts([], date(2026, 3, 10), 30, 8), NOW)):
        assert shown.count("refused address") == 1, shown
        assert "timeout — timeout fetching /feed.rss" in shown


def test_a_locator_holding_backticks_stays_one_code_span_in_the_markdown():
    from markdown_it import MarkdownIt

    odd = ["/in/back`tick.txt", "/in/``double``.txt", "`edge`"]
    digest = _digest(rejects=[Reject("wire", locator, "empty file") for locator in odd],
                     copies=[InputCopy("wire", "/in/co`py.txt", "h" * 64, "/in/fi``rst.txt")])
    spans = [child.content for token in MarkdownIt().parse(render_digest(digest)) if token.type == "inline"
             for child in token.children or () if child.type == "code_inline"]
    for value in [*odd, "/in/co`py.txt", "/in/fi``rst.txt"]:
        assert value in spans, (value, spans)


def test_copies_of_one_article_stored_before_are_one_entry_and_no_story():
    """A story of one article and its copies (stored before or new) is no story; the run's copies of an
    article stored before are one entry, the first copy with the others folded under it."""
    copies = [_article(f"d{i}", f"Old news, copy {i}", "s9", dup="old1") for i in range(1, 4)]
    story = Story("s9", "Old news", ["old1", "old2", "old3", "d1", "d2", "d3"], ["d1", "d2", "d3"], ["wire"],
                  ["Old."], [], copy_ids=["old2", "old3", "d1", "d2", "d3"])
    digest = _digest(articles=copies, stories=[story])
    stories, singles = split_stories(digest)
    assert stories == [] and [(a.article_id, [c.article_id for c in under]) for a, under in singles] == [
        ("d1", ["d2", "d3"])]
    page = render_page(digest, _trend(), NOW)
    assert "<h2>Stories (0)</h2>" in page and "<h2>Single articles (1)</h2>" in page
    assert "2 duplicates" in page and page.count('id="article-d') == 1
    markdown = render_digest(digest)
    assert "## Single articles" in markdown and "## Stories" not in markdown.split("## Single articles")[0]
    # with a second original in it, it is a story
    two = Story("s9", "Old news", ["old1", "old5", "d1"], ["d1"], ["wire"], ["Old."], [], copy_ids=["d1"])
    assert [s.story_id for s, _ in split_stories(_digest(articles=copies[:1], stories=[two]))[0]] == ["s9"]


def test_a_tag_from_the_source_shows_no_score():
    """A [[sources]] tag is given, not scored: its 0.0 is no probability and is not shown as one."""
    given = Tag("local", 0.0, ("source default",))
    article = _article("g1", "Harbour fire spreads", "sg", tags=(Tag("fires_and_accidents", 0.81, ("blaze",)), given))
    digest = _digest(articles=[article], stories=[Story("sg", "Harbour fire spreads", ["g1"], ["g1"], ["wire"], [], [])])
    markdown = render_digest(digest)
    assert "tags: fires_and_accidents 0.81 (blaze); local (from the source)" in markdown and "0.00" not in markdown
    page = render_page(digest, _trend(), NOW)
    chips = page[page.index('id="article-g1"'):]
    assert 'local <span class="score">source</span>' in chips and "0.00" not in chips
    # a story of two articles from the source: its chip joins their evidence, and still shows no score
    second = _article("g2", "Harbour fire out", "sg", source="daily", tags=(given,))
    story = Story("sg", "Harbour fire", ["g1", "g2"], ["g1", "g2"], ["daily", "wire"], ["Fire."], ["local"])
    both = render_page(_digest(articles=[article, second], stories=[story]), _trend(), NOW)
    assert "0.00" not in both and both.count('local <span class="score">source</span>') == 1


def test_articles_with_no_publication_date_are_not_piled_on_the_day_they_were_read(tmp_path):
    """A folder of undated articles read in one run is no surge of news that day: the chart draws dated
    articles on their day, and counts the undated ones beside it (legend and caption), on no day."""
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        write.begin_run(con, "run-1", None, "wire")
        dated = _article("a1", "Dated", "s1", tags=(Tag("defence", 2, ("nato",)),))
        dated.cleaned.published_at = datetime.now(timezone.utc) - timedelta(days=2)
        undated = [_article(f"u{i}", f"Undated {i}", f"s{i + 2}", tags=(Tag("defence", 2, ("nato",)),))
                   for i in range(3)]
        undated.append(_article("u9", "Undated, economy", "s9", tags=(Tag("economy", 1, ("gdp",)),)))
        for a in [dated, *undated]:
            a.text_hash = a.article_id
        write.write_run(con, "run-1", [dated, *undated], [], [], RunCounts())
        read_on = con.execute("SELECT utc_day(max(ingested_at)) FROM articles").fetchone()[0]
        rows = queries.issue_days(con, read_on - timedelta(days=29), read_on)
    finally:
        con.close()
    published_on = dated.cleaned.published_at.date()
    assert sorted(rows, key=str) == sorted([("defence", published_on, 1), ("defence", None, 3),
                                            ("economy", None, 1)], key=str), rows
    trend = trend_from_counts(rows, read_on, 30, 8)
    assert sum(trend.series["defence"]) == 1, "only the dated article is on a day"
    assert trend.series["economy"] == (0,) * 30 and trend.undated == {"defence": 3, "economy": 1}
    page = render_page(_digest(), trend, NOW)
    chart = page[page.index('id="trend"'):]
    assert 'economy <span class="meta">(1, 1 undated)</span>' in chart, chart
    assert 'defence <span class="meta">(4, 3 undated)</span>' in chart
    assert "no publication date (read in these days) are counted in the legend as undated and drawn on no day" \
        in chart
    # nothing dated (the shipped seeds): no chart of flat lines at 0, but why, and the undated counts
    only_undated = trend_from_counts([("economy", None, 2)], read_on, 30, 8)
    section = render_page(_digest(), only_undated, NOW).split('id="trend"', 1)[1]
    assert not only_undated.empty and "<svg" not in section
    assert "No tagged article of these days has a publication date, so there is nothing to draw by day" in section
    assert 'economy <span class="meta">(2, 2 undated)</span>' in section


def test_titles_and_summaries_read_as_written_in_the_markdown_digest():
    """A headline, summary, source or tag with markdown or HTML in it is shown as its text: no emphasis,
    link, raw HTML or table cell is made of it, and "_" inside a word or "AT&T" stays as written."""
    from markdown_it import MarkdownIt

    title = "*Live*: <b>[Vote](http://x.test)</b> on __rates__ | AT&T &amp; ~~old~~ `x` 50_000 a\\b"
    article = _article("m1", title, "sm", source="<wire>", tags=(Tag("jobs_and_pay", 0.7, ("<i>pay</i>", "*wage*")),))
    article.summary = ["First *point* with <script>x</script> and [a](b)."]
    digest = _digest(articles=[article], stories=[Story("sm", title, ["m1"], ["m1"], ["<wire>"], [], [])],
                     source_problems=[], rejects=[], sources=["a|b <c>"])
    tokens = [child for token in MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(
        render_digest(digest)) for child in (token.children or ())]
    assert not [t.type for t in tokens if t.type not in ("text", "softbreak", "strong_open", "strong_close",
                                                         "code_inline")]
    text = "".join(t.content for t in tokens if t.type == "text")
    for shown in (title, "First *point* with <script>x</script> and [a](b).", "jobs_and_pay 0.70 (<i>pay</i>, *wage*)",
                  "<wire>, date unknown", "sources: a|b <c>"):
        assert shown in text, (shown, text)


def test_a_summary_or_title_opening_or_closing_like_a_markdown_block_reads_as_written():
    """A story summary opening with '1. ', '- ', '# ' or '---' was shown as a list, heading or rule inside the
    digest's quote, and a story title ending in ' #' lost it from its heading."""
    from markdown_it import MarkdownIt

    for opening in ("1. The council", "2) The council", "- The council", "+ The council", "# The council", "---"):
        title, summary = f"{opening} and the vote #", f"{opening} voted on Monday."
        articles = [_article("b1", title, "sb"), _article("b2", "Harbour vote", "sb")]
        digest = _digest(articles=articles, stories=[Story("sb", title, ["b1", "b2"], ["b1", "b2"], ["wire"], [summary])],
                         source_problems=[], rejects=[], sources=["wire"])
        tokens = MarkdownIt("commonmark").parse(render_digest(digest))
        quote = tokens.index(next(t for t in tokens if t.type == "blockquote_open"))
        assert [t.type for t in tokens[quote + 1:quote + 4]] == ["paragraph_open", "inline", "paragraph_close"], opening
        assert tokens[quote + 2].children[0].content == summary, (opening, tokens[quote + 2].content)
        heading = next(tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3")
        assert heading.children[0].content == title, (opening, heading.content)


def test_a_copy_of_an_article_stored_before_names_it_by_its_title_when_known():
    """The digest (page and Markdown alike) names a stored original by its headline, which the reader
    knows, not by an article id shown nowhere else; an unknown title still names the id."""
    copy = _article("d1", "Old news again", "s9", dup="old7")
    in_story = _digest(articles=[copy], stories=[Story("s9", "Old news", ["old5", "old7", "d1"], ["d1"], ["wire"],
                                                       [], [])], stored_titles={"old7": "Harbour <b>fire</b>"})
    page = render_page(in_story, _trend(), NOW)
    assert "stored before: <strong>Harbour &lt;b&gt;fire&lt;/b&gt;</strong> <code>old7</code>" in page, page
    markdown = render_digest(in_story)
    assert "near duplicate of **Harbour \\<b>fire\\</b>**, stored before (`old7`)" in markdown, markdown
    alone = _digest(articles=[copy], stories=[Story("s9", "Old news", ["old7", "d1"], ["d1"], ["wire"], [], [])],
                    stored_titles={"old7": "Harbour fire"})
    single = render_page(alone, _trend(), NOW)
    single = single[single.index('id="article-d1"'):]
    assert "near duplicate of <strong>Harbour fire</strong>, stored before: <code>old7</code>" in single
    untitled = render_digest(_digest(articles=[copy], stories=alone.stories, stored_titles={"old7": None}))
    assert "near duplicate of **(untitled)**, stored before (`old7`)" in untitled


def test_a_story_the_run_only_copied_into_did_not_grow_and_comes_after_the_news():
    """A story whose only article from this run is a copy of one stored before has no new reporting: it
    does not say it grew, and the stories with news come first, on the page and in the Markdown alike."""
    copy = _article("d1", "Chepkemei ban lifted (copy)", "s9", dup="old2")
    fresh = _article("n1", "Jones medals must go", "s5")
    stories = [Story("s9", "Radcliffe yet to answer", ["old1", "old2", "old3", "old4", "old5", "d1"], ["d1"], ["bbc"],
                     ["Old."], [], copy_ids=["d1"]),
               Story("s5", "Jones doping probe", ["old9", "n1"], ["n1"], ["bbc"], ["New."], [])]
    digest = _digest(articles=[copy, fresh], stories=stories)
    assert [s.story_id for s, _ in split_stories(digest)[0]] == ["s5", "s9"]
    page = render_page(digest, _trend(), NOW)
    news, copied = page[page.index('id="story-s5"'):page.index('id="story-s9"')], page[page.index('id="story-s9"'):]
    assert "grew: 1 stored before" in news
    copied = copied[:copied.index("</article>")]
    assert "grew" not in copied and "6 articles" in copied and "1 from this run" in copied, copied
    markdown = render_digest(digest)
    assert markdown.index("### Jones doping probe") < markdown.index("### Radcliffe yet to answer")


def _contrast_on_white(colour: str) -> float:
    """WCAG contrast ratio of a #rrggbb colour against the page's white."""
    linear = [(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
              for c in (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_every_series_colour_shows_on_the_white_page():
    """A line and its legend swatch need 3:1 against the background (WCAG 1.4.11): the yellow of the
    seventh issue (1.3:1) drew a line nobody could see, and the default chart has eight issues."""
    from tasks.s8_report_chart import PALETTE

    weak = {c: round(_contrast_on_white(c), 2) for c in PALETTE if _contrast_on_white(c) < 3}
    assert weak == {}, weak
    assert len(set(c.lower() for c in PALETTE)) == len(PALETTE)


def test_a_file_is_shown_by_its_path_in_its_sources_folder():
    """Two folders of one source hold files of the same name (business/035.txt, sport/035.txt): each
    article names its own, on the page and in the Markdown; a file outside the folder keeps its name."""
    business, sport = _article("b5", "Ad firm profits surge", "sb"), _article("s5", "Collins banned", "ss")
    named = _article("n1", "One file", "sn")
    for a, locator in ((business, "/data/bbc/business/035.txt"), (sport, "/data/bbc/sport/035.txt"),
                       (named, "/elsewhere/one.txt")):
        a.doc = dataclasses.replace(a.doc, locator=locator)
    stories = [Story(s, t, [i], [i], ["wire"], [], []) for s, t, i in (("sb", "Ad", "b5"), ("ss", "Collins", "s5"),
                                                                       ("sn", "One", "n1"))]
    digest = _digest(articles=[business, sport, named], stories=stories, source_folders={"wire": "/data/bbc"})
    page = render_page(digest, _trend(), NOW)
    assert "<code>business/035.txt</code>" in page and "<code>sport/035.txt</code>" in page
    assert "<code>one.txt</code>" in page
    markdown = render_digest(digest)
    assert "`business/035.txt`" in markdown and "`sport/035.txt`" in markdown and "`one.txt`" in markdown


def test_single_articles_are_filed_under_their_top_issue_newest_first_in_page_and_markdown():
    day = datetime(2026, 3, 9, tzinfo=timezone.utc)
    sport, economy = Tag("sport", 0.8, ("goal",)), Tag("economy", 0.7, ("prices",))

    def dated(article: Article, published: datetime | None) -> Article:
        article.cleaned.published_at = published
        return article

    articles = [
        dated(_article("m1", "Market wrap", "t1", tags=(economy,)), day),
        dated(_article("f1", "Cup final", "t2", tags=(sport, economy)), day - timedelta(days=2)),
        dated(_article("f2", "League table", "t3", tags=(sport,)), None),
        dated(_article("f3", "Derby day", "t4", tags=(sport,)), day),
        dated(_article("u1", "Village fete", "t5"), day),
    ]
    stories = [Story(f"t{i}", a.cleaned.title, [a.article_id], [a.article_id], ["wire"], [], [])
               for i, a in enumerate(articles, 1)]
    digest = _digest(articles=articles, stories=stories, counts=RunCounts(5, 0, 5, 0, 0))
    page = render_page(digest, _trend(), NOW)
    singles = page[page.index('id="singles"'):page.index('id="problems"')]
    # the issue with the most articles first, untagged last; within one, the newest first, undated last
    order = [singles.index(f'id="article-{aid}"') for aid in ("f3", "f1", "f2", "m1", "u1")]
    assert order == sorted(order)
    sections = re.findall(r'<section class="issue" id="([^"]+)"><h3>([^<]+)</h3>', singles)
    assert sections == [("singles-sport", "sport (3)"), ("singles-economy", "economy (1)"),
                        ("singles-no-tag", "no tag (1)")]
    links = re.findall(r'<a href="#(singles-[a-z_-]+)">', singles)
    assert links == [anchor for anchor, _ in sections], "each issue is linked from the top of the section"
    markdown = render_digest(digest).split("## Single articles", 1)[1]
    assert [line for line in markdown.splitlines() if line.startswith("### ")] == [
        "### sport (3)", "### economy (1)", "### no tag (1)"]
    positions = [markdown.index(f"**{title}**") for title in ("Derby day", "Cup final", "League table",
                                                              "Market wrap", "Village fete")]
    assert positions == sorted(positions), "the Markdown files and orders them as the page does"


def test_only_a_run_with_articles_rejects_or_copies_replaces_the_latest_page():
    # A feed that is down for a day must not replace latest.html with "Nothing new" at every run.
    failing_only = _digest(articles=[], stories=[], rejects=[], counts=RunCounts(0, 0, 0, 0, 0))
    assert failing_only.source_problems and not failing_only.found_something
    assert _digest().found_something
    assert _digest(articles=[], stories=[], source_problems=[]).found_something, "rejects alone are news"

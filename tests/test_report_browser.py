"""The digest page of a real run (seeds plus a hostile page) in a real headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from pytest_httpserver import HTTPServer

from tests.browser import Chromium, dump_dom
from tests.conftest import DATA, ROOT, SEEDS, latest_artifact
from warehouse import open_warehouse

PAGE_DATA = DATA / "digest"
HOSTILE_TITLE = '<script>alert("title")</script><img src=x onerror=alert(1)> Harbour council votes on ferry fares'
HOSTILE_TAG = "<svg onload=alert(2)>"
HOSTILE_SOURCE = "<b onmouseover=alert(4)>gazette</b>"
SEED_STORY = "US offers 'NATO-like' security to Ukraine"
PHONE_WIDTH = 390


def _serve_gazette(server: HTTPServer) -> str:
    """Serve the hostile feed and its page on the loopback server; return the feed's URL."""
    root = server.url_for("").rstrip("/").encode()
    for path, name, kind in (("/gazette.rss", "gazette.rss", "application/rss+xml"),
                             ("/council.html", "council.html", "text/html; charset=utf-8")):
        body = (PAGE_DATA / name).read_bytes().replace(b"@BASE@", root)
        server.expect_request(path).respond_with_data(body, content_type=kind)
    return server.url_for("/gazette.rss")


@pytest.fixture(scope="module")
def run(prefect_api, tmp_path_factory, _server) -> dict:
    """One real ingest run over the seeds and a feed (on 127.0.0.1) whose page title, source name and
    tag are hostile."""
    from flows.ingest import ingest

    base = tmp_path_factory.mktemp("page")
    shutil.copytree(SEEDS, base / "seeds")
    # the seeds have no publication dates; one dated article puts the trend on its day (drawn as a chart)
    dated = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    (base / "seeds" / "dated-rail-strike.md").write_text(
        f"---\ntitle: Rail workers strike over pay\ndate: {dated}\n---\n\n"
        "Rail workers walked out on Monday in a dispute over pay and conditions, halting most trains. The union "
        "said talks with the rail operators had failed and that more strikes would follow. Commuters faced "
        "crowded buses and long queues at stations across the region.\n",
        encoding="utf-8")
    config = base / "pipeline.toml"
    config.write_text(
        f'[warehouse]\ncatalog = "{(base / "catalog.sqlite").as_posix()}"\nreports_dir = "{(base / "reports").as_posix()}"\n'
        f'[tags]\ntaxonomy = "{(ROOT / "config" / "issues.toml").as_posix()}"\n'
        '[report]\ntrend_issues = 20\n'  # every issue this run tags (about ten) gets its line
        '[http]\nallow_private_hosts = true\n'
        f'[[sources]]\nname = "seeds"\nkind = "folder"\npath = "{(base / "seeds").as_posix()}"\n'
        f'[[sources]]\nname = "{HOSTILE_SOURCE}"\nkind = "feed"\nurl = "{_serve_gazette(_server)}"\n'
        f'tags = ["{HOSTILE_TAG}"]\n', encoding="utf-8")
    state = ingest(config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    pages = sorted((base / "reports").glob("2*.html"))
    assert len(pages) == 1
    with open_warehouse(base / "catalog.sqlite") as con:
        summary = con.execute("SELECT summary FROM stories WHERE title = ?", [SEED_STORY]).fetchone()[0]
        issues = {r[0] for r in con.execute("SELECT DISTINCT issue FROM article_tags").fetchall()}
        stored_title = con.execute("SELECT title FROM articles WHERE source = ?", [HOSTILE_SOURCE]).fetchone()[0]
    return {"page": pages[0], "latest": base / "reports" / "latest.html", "summary": summary, "issues": issues,
            "stored_title": stored_title}


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


def test_the_run_writes_its_page_and_latest(run):
    assert run["page"].read_text(encoding="utf-8") == run["latest"].read_text(encoding="utf-8")
    assert run["stored_title"] == HOSTILE_TITLE, "the hostile title reached the warehouse as it was written"


def test_the_prefect_run_links_to_the_page(run):
    from flows.ingest import PAGE_ARTIFACT_KEY

    artifact = latest_artifact(PAGE_ARTIFACT_KEY)
    assert f"]({run['page'].as_uri()})" in str(artifact.data), "a markdown link to the page (Prefect's link artifact)"


def test_the_seeds_story_and_its_summary_are_in_the_rendered_dom(run):
    dom = dump_dom(run["page"].as_uri())
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)).replace("&amp;", "&").replace("&#x27;", "'")
    text = text.replace("&#39;", "'").replace("&quot;", '"')
    assert SEED_STORY in text
    assert " ".join(run["summary"].split()) in text


def test_the_screenshot_is_not_blank(run, browser, tmp_path):
    browser.visit(run["page"].as_uri(), width=1000)
    shot = Image.open(io.BytesIO(browser.screenshot())).convert("RGB")
    shot.save(tmp_path / "page.png")
    pixels = np.asarray(shot.resize((shot.width // 4, shot.height // 4))).reshape(-1, 3).astype(int)
    inked = float((pixels.sum(axis=1) < 600).mean())
    colours = len({tuple(p) for p in pixels})
    assert shot.height > 1000, "the whole page, not only the first screen"
    assert inked > 0.02 and colours > 50, f"{inked:.3f} of the page inked, {colours} colours"


def test_the_chart_has_one_series_per_tagged_issue(run, browser):
    visit = browser.visit(run["page"].as_uri())
    series = browser.evaluate('Array.from(document.querySelectorAll("#trend svg g[id^=series-]"), g => g.id)')
    legend = browser.evaluate('Array.from(document.querySelectorAll("#trend .legend li"), '
                              'li => li.childNodes[1].textContent.trim())')
    assert len(series) == len(run["issues"]) == len(set(series)), (series, run["issues"])
    assert set(legend) == run["issues"]
    drawn = browser.evaluate('Array.from(document.querySelectorAll("#trend svg g[id^=series-] path"), '
                             'p => p.getTotalLength()).filter(n => n > 0).length')
    assert drawn >= len(series), "each series has a drawn line"
    assert visit.requests == [run["page"].as_uri()], "the page loads nothing but itself"


def test_a_hostile_title_is_not_executed_and_shows_literally(run, browser):
    visit = browser.visit(run["page"].as_uri(), settle_seconds=1.0)
    assert visit.dialogs == []
    headings = browser.evaluate('Array.from(document.querySelectorAll(".single h4"), h => h.textContent)')
    assert any(HOSTILE_TITLE in h for h in headings), headings
    assert browser.evaluate('document.querySelectorAll("main img, main script, main iframe").length') == 0
    assert HOSTILE_TAG in browser.evaluate('document.querySelector("#trend .legend").textContent')
    assert HOSTILE_SOURCE in browser.evaluate('Array.from(document.querySelectorAll(".single .meta"), '
                                              'm => m.textContent).join("\\n")')
    hrefs = browser.evaluate('Array.from(document.links, a => a.href)')
    assert not [h for h in hrefs if h.lower().startswith("javascript")]


def test_the_alert_check_sees_an_alert(browser, tmp_path):
    """The check above can fail: the same browser reports a page that does open an alert."""
    unsafe = tmp_path / "unsafe.html"
    unsafe.write_text(f"<!doctype html><title>x</title><h1>{HOSTILE_TITLE}</h1>", encoding="utf-8")
    assert browser.visit(unsafe.as_uri()).dialogs


def test_the_page_fits_a_phone_and_prints(run, browser):
    browser.visit(run["page"].as_uri(), width=PHONE_WIDTH, height=800)
    overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px wider than a {PHONE_WIDTH}px phone screen"
    chart = browser.evaluate('document.querySelector("#trend svg").getBoundingClientRect().width')
    assert 0 < chart <= PHONE_WIDTH
    pdf = browser.pdf()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1

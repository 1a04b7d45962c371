"""OPML import and export against the kinds of file Miniflux, FreshRSS, Feedly, NetNewsWire and Inoreader write."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import load_settings
from flows.sources import main
from tasks.sources.opml import OpmlFeed, OpmlList, parse_opml, plan_import, tag_name
from tests.conftest import DATA, ROOT
from warehouse import open_warehouse

OPML = DATA / "opml"
BAD_FILES = ("broken.opml", "entities.opml", "rss_not_opml.xml", "missing.opml")


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A copy of the shipped config (comments and all) in tmp_path/config/, its warehouse, reports and
    seeds in tmp_path."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(ROOT / "config" / "issues.toml", folder / "issues.toml")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / "warehouse").mkdir()
    path = folder / "pipeline.toml"
    text = (ROOT / "config" / "pipeline.toml").read_text(encoding="utf-8")
    text = text.replace("[warehouse]\n", f'[warehouse]\nreports_dir = "{(tmp_path / "warehouse/reports").as_posix()}"\n', 1)
    for key, relative in (("catalog", "warehouse/catalog.sqlite"), ("path", "seeds")):
        prefix = "sqlite:" if key == "catalog" else ""  # paths are read from the project root: point them here
        written = f'{key} = "{prefix}{relative}"'
        assert written in text
        text = text.replace(written, f'{key} = "{prefix}{(tmp_path / relative).as_posix()}"', 1)
    path.write_text(text, encoding="utf-8")
    return path


def _feeds(config: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (url, tags) of the config's feed sources."""
    return {s.name: (s.url, s.tags) for s in load_settings(config).sources if s.kind == "feed"}


def _only_added_lines(before: str, after: str) -> bool:
    """True when `after` is `before` with lines added and none changed or removed."""
    ops = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in ops)


def test_miniflux_export_imports_with_categories_as_tags_and_hosts_for_missing_titles(config, capsys):
    before = config.read_text(encoding="utf-8")
    assert main(["import", str(OPML / "miniflux.opml"), "--config", str(config)]) == 0
    feeds = _feeds(config)
    assert feeds == {
        "Hacker News: Front Page": ("https://hnrss.org/frontpage", ()),  # Miniflux's default folder is no tag
        "BBC News - Europe": ("https://feeds.bbci.co.uk/news/world/europe/rss.xml", ("europe",)),
        "euractiv.com": ("https://www.euractiv.com/feed/", ("europe",)),
        "POLITICO Europe": ("https://www.politico.eu/feed/?utm_source=miniflux", ("europe",)),
        "Ars Technica - All content": ("https://feeds.arstechnica.com/arstechnica/index", ("science_tech",)),
        "Nature": ("https://www.nature.com/nature.rss", ("science_tech",)),
    }
    after = config.read_text(encoding="utf-8")
    assert _only_added_lines(before, after), "every comment and setting of the config is kept as it was"
    assert [s.name for s in load_settings(config).sources][0] == "seeds"
    out = capsys.readouterr().out
    assert out.startswith(f"added 6 feeds to {config}:") and "+ euractiv.com <https://www.euractiv.com/feed/>" in out


def test_freshrss_export_skips_its_scraped_pages(config, capsys):
    assert main(["import", str(OPML / "freshrss.opml"), "--config", str(config)]) == 0
    feeds = _feeds(config)
    assert set(feeds) == {"FreshRSS releases", "The Guardian – World news",
                          "Al Jazeera – Breaking News, World News and Video from Al Jazeera",
                          "Le Monde.fr - Actualités et Infos en France et dans le monde"}
    assert feeds["The Guardian – World news"] == ("https://www.theguardian.com/world/rss", ("world",))
    assert feeds["FreshRSS releases"][1] == (), "'Uncategorized' is no tag"
    out = capsys.readouterr().out
    assert "City council agenda: type html+xpath, not a feed" in out


def test_feedly_export_merges_a_feed_listed_in_two_folders(config):
    assert main(["import", str(OPML / "feedly.opml"), "--config", str(config)]) == 0
    feeds = _feeds(config)
    assert feeds["World News"] == ("https://feeds.npr.org/1004/rss.xml", ("security", "world"))
    assert feeds["France 24 - World News & International Headlines"][0] == "https://www.france24.com/en/rss"
    assert len(feeds) == 4


def test_netnewswire_export_with_empty_titles_and_feed_scheme(config):
    assert main(["import", str(OPML / "netnewswire.opml"), "--config", str(config)]) == 0
    feeds = _feeds(config)
    assert feeds["theverge.com"] == ("https://www.theverge.com/rss/index.xml", ("news",))
    assert feeds["Reuters"][0] == "http://www.reutersagency.com/feed/?best-topics=political-general&post_type=best"
    assert feeds["Daring Fireball"] == ("https://daringfireball.net/feeds/main", ())


def test_fifty_feeds_import_in_one_command_nested_folders_included(config, capsys):
    started = time.perf_counter()
    assert main(["import", str(OPML / "inoreader_50.opml"), "--config", str(config)]) == 0
    elapsed = time.perf_counter() - started
    feeds = _feeds(config)
    assert len(feeds) == 50 and elapsed < 10
    assert feeds["Berliner Zeitung"][1] == ("news", "local"), "each folder level is a tag"
    assert feeds["irishtimes.com"][1] == ("news", "local")
    out = capsys.readouterr().out
    assert out.startswith(f"added 50 feeds to {config}:")
    assert "Newsroom style guide: a web page" in out and "no feed URL (xmlUrl)" in out


def test_feeds_already_configured_are_skipped_and_a_second_import_changes_nothing(config, capsys):
    config.write_text(config.read_text(encoding="utf-8") + '\n[[sources]]\nname = "bbc europe"\nkind = "feed"\n'
                      'url = "http://FEEDS.bbci.co.uk/news/world/europe/rss.xml/#top"\n', encoding="utf-8")
    assert main(["import", str(OPML / "miniflux.opml"), "--config", str(config)]) == 0
    first = capsys.readouterr().out
    assert "added 5 feeds" in first and "skipped 1 already configured" in first and "(source 'bbc europe')" in first
    once = config.read_bytes()
    assert main(["import", str(OPML / "miniflux.opml"), "--config", str(config)]) == 0
    assert config.read_bytes() == once
    assert capsys.readouterr().out.startswith(f"added 0 feeds to {config}\nskipped 6 already configured:")


def test_a_name_taken_by_another_source_gets_a_number(config):
    config.write_text(config.read_text(encoding="utf-8") + '\n[[sources]]\nname = "Nature"\nkind = "folder"\n'
                      'path = "seeds"\n', encoding="utf-8")
    assert main(["import", str(OPML / "miniflux.opml"), "--config", str(config)]) == 0
    assert _feeds(config)["Nature (2)"][0] == "https://www.nature.com/nature.rss"


def test_dry_run_says_what_would_be_added_and_changes_nothing(config, capsys):
    before = config.read_bytes()
    assert main(["import", str(OPML / "feedly.opml"), "--config", str(config), "--dry-run"]) == 0
    assert config.read_bytes() == before
    assert capsys.readouterr().out.startswith(f"would add 4 feeds to {config}:")


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_stops_with_one_line_and_changes_nothing(config, name, capsys):
    before = config.read_bytes()
    listing = sorted(p.name for p in config.parent.iterdir())
    assert main(["import", str(OPML / name), "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {OPML / name}: ") and out == ""
    assert config.read_bytes() == before and sorted(p.name for p in config.parent.iterdir()) == listing
    reason = {"broken.opml": "not well-formed XML", "entities.opml": "DTD or entities",
              "rss_not_opml.xml": "not an OPML document", "missing.opml": "cannot read"}[name]
    assert reason in lines[0]


def test_the_command_exits_2_with_one_line_on_bad_xml(config):
    before = config.read_bytes()
    result = subprocess.run([sys.executable, "-m", "flows.sources", "import", str(OPML / "broken.opml"), "--config",
                             str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {OPML / 'broken.opml'}: not well-formed XML "
                                                  "(not well-formed (invalid token): line 9, column 108)"]
    assert config.read_bytes() == before


def test_a_bad_config_stops_with_one_line(tmp_path, capsys):
    bad = tmp_path / "pipeline.toml"
    bad.write_text("[dedup]\nnear_threshold = 'high'\n", encoding="utf-8")
    assert main(["import", str(OPML / "feedly.opml"), "--config", str(bad)]) == 2
    assert "near_threshold" in capsys.readouterr().err
    assert bad.read_text(encoding="utf-8") == "[dedup]\nnear_threshold = 'high'\n"


def test_export_writes_the_configured_feeds_and_imports_back_the_same(config, tmp_path, capsys):
    assert main(["import", str(OPML / "inoreader_50.opml"), "--config", str(config)]) == 0
    capsys.readouterr()
    out = tmp_path / "feeds.opml"
    assert main(["export", "--config", str(config), "--out", str(out)]) == 0
    exported = parse_opml(out.read_bytes())
    assert len(exported.feeds) == 50
    assert main(["export", "--config", str(config)]) == 0
    assert parse_opml(capsys.readouterr().out.encode()).feeds == exported.feeds, "stdout holds the same list"
    fresh = tmp_path / "fresh" / "config" / "pipeline.toml"
    fresh.parent.mkdir(parents=True)
    fresh.write_text(f'[tags]\ntaxonomy = "{(ROOT / "config" / "issues.toml").as_posix()}"\n', encoding="utf-8")
    assert main(["import", str(out), "--config", str(fresh)]) == 0
    assert _feeds(fresh) == _feeds(config)


def test_tag_names_are_lower_case_words_joined_by_underscores():
    assert tag_name("  World News ") == "world_news"
    assert tag_name("Science & Tech") == "science_tech"
    assert tag_name("Économie/Politique") == "économie_politique"


def test_only_http_feed_urls_with_a_host_are_added_and_the_rest_refused_with_their_reason():
    feeds = [OpmlFeed("Good", "https://news.example.org/rss"), OpmlFeed("No host", "http://"),
             OpmlFeed("Mail", "mailto:desk@example.org"), OpmlFeed("", "ftp://files.example.org/feed.xml"),
             OpmlFeed("Local file", "file:///etc/passwd")]
    plan = plan_import(OpmlList(feeds=feeds), [])
    assert plan.added == [{"name": "Good", "kind": "feed", "url": "https://news.example.org/rss"}]
    assert plan.refused == ["No host: http:// is not an http(s) URL",
                            "Mail: mailto:desk@example.org is not an http(s) URL",
                            "ftp://files.example.org/feed.xml: ftp://files.example.org/feed.xml is not an http(s) URL",
                            "Local file: file:///etc/passwd is not an http(s) URL"]


def test_a_feed_without_title_is_named_by_its_site_host_else_its_feed_url():
    plan = plan_import(OpmlList(feeds=[OpmlFeed("", "https://feeds.example.org/world", "https://www.paper.example/"),
                                       OpmlFeed("", "https://feeds.example.org/sport", "javascript:void(0)")]), [])
    assert [t["name"] for t in plan.added] == ["paper.example", "feeds.example.org/sport"]


def test_imported_feeds_are_polled_with_their_categories_as_tags(prefect_api, config, server, tmp_path):
    """End to end: a list naming a feed on 127.0.0.1 is imported, and the next run reads that feed."""
    from flows.ingest import ingest

    root = server.url_for("").rstrip("/")
    feed = (DATA / "feeds" / "world.rss").read_bytes().replace(b"@BASE@", root.encode())
    server.expect_request("/world.rss").respond_with_data(feed, content_type="application/rss+xml")
    for page in (DATA / "feeds" / "articles").iterdir():
        server.expect_request(f"/articles/{page.name}").respond_with_data(page.read_bytes(), content_type="text/html")
    listing = tmp_path / "desk.opml"
    listing.write_text(f'<?xml version="1.0"?><opml version="1.0"><head><title>desk</title></head><body>'
                       f'<outline text="Foreign Desk"><outline type="rss" text="World Desk" xmlUrl="{root}/world.rss"/>'
                       f'</outline></body></opml>', encoding="utf-8")
    assert main(["import", str(listing), "--config", str(config)]) == 0
    text = config.read_text(encoding="utf-8").replace("allow_private_hosts = false", "allow_private_hosts = true")
    config.write_text(text, encoding="utf-8")
    state = ingest(config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    with open_warehouse(tmp_path / "warehouse" / "catalog.sqlite") as con:
        tagged = con.execute("SELECT count(DISTINCT a.article_id) FROM articles a JOIN article_tags t USING "
                             "(article_id) WHERE a.source = 'World Desk' AND t.issue = 'foreign_desk'").fetchone()[0]
    assert tagged >= 1
    assert os.path.exists(tmp_path / "warehouse" / "reports" / "latest.html")


def test_export_to_a_reader_that_left_ends_quietly(config, capsys):
    # `python -m flows.sources export | head`: no BrokenPipeError traceback
    assert main(["import", str(OPML / "inoreader_50.opml"), "--config", str(config)]) == 0
    capsys.readouterr()
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "flows.sources", "export", "--config", str(config)], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")

"""Hostile and broken input: entity attacks, odd encodings, huge and deep markup, binary files, symlinks, odd names."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from pytest_httpserver import HTTPServer

from bench.soak import article, cli_env, sentence, write_config
from tests.conftest import DATA, ROOT, hits
from warehouse import open_warehouse

HOSTILE = DATA / "hostile"
SECRET_MARKER = "SECRET-7f3a9c-do-not-store"
PEAK_RSS_LIMIT_MB = 1536
GERMAN = ("Die Bürgerinnen und Bürger in München müssen sich auf längere Wartezeiten einstellen, teilte die "
          "Stadtverwaltung am Dienstag mit. Grund sind Bauarbeiten an der Brücke über die Isar, die bis zum "
          "Frühjahr dauern sollen. Für Radfahrer und Fußgänger wird eine Umleitung über den Südbahnhof "
          "eingerichtet, und die Straßenbahn fährt in dieser Zeit seltener.")
GERMAN_KEY = "Die Bürgerinnen und Bürger in München"
MOJIBAKE = ("Ã¼", "Ã¤", "Ã¶", "ÃŸ", "â€")
SYSTEM_SECRET = next((line for line in Path("/etc/passwd").read_text(errors="replace").splitlines() if line), "") \
    if Path("/etc/passwd").is_file() else ""


def _passwd_leaks(text: str) -> bool:
    return bool(SYSTEM_SECRET) and SYSTEM_SECRET in text


def _story(serial: int, extra: str = "") -> str:
    """A distinct plain-text article: a headline line, then paragraphs."""
    title, paragraphs = article(random.Random(serial), serial)
    return title + "\n\n" + "\n\n".join(paragraphs) + (f"\n\n{extra}" if extra else "") + "\n"


def _page(serial: int, head: str = "", body_attrs: str = "", extra: str = "") -> str:
    title, paragraphs = article(random.Random(serial), serial)
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f"<html><head><title>{title}</title>{head}</head><body{body_attrs}><article><h1>{title}</h1>\n"
            f"{extra}{body}</article></body></html>\n")


def _german_page(tag: str, head: str) -> str:
    return (f"<html><head>{head}<title>Bauarbeiten in München ({tag})</title></head><body><article>"
            f"<h1>Bauarbeiten in München ({tag})</h1><p>{GERMAN}</p><p>{GERMAN.replace('Dienstag', tag)}</p>"
            "</article></body></html>")


def _string_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns "
                       "WHERE table_catalog = 'news' AND table_schema = 'store' AND (data_type LIKE 'VARCHAR%' OR data_type = 'BLOB')").fetchall()


def _all_stored_text(db: Path) -> str:
    """Every string and blob the warehouse holds, as one text to search."""
    parts = []
    with open_warehouse(db) as con:
        for table, column in _string_columns(con):
            for (value,) in con.execute(f'SELECT "{column}"::VARCHAR FROM {table} WHERE "{column}" IS NOT NULL'
                                        ).fetchall():
                parts.append(value)
        for (raw,) in con.execute("SELECT raw FROM store.raw_inputs").fetchall():
            parts.append(raw.decode("utf-8", "replace"))
    return "\n".join(parts)


# --- feeds and pages from a loopback server, through the flow -----------------------------------------

def _serve_hostile_site(server: HTTPServer, secret: Path) -> dict[str, str]:
    """Serve hostile feeds and their pages; return feed name -> URL."""
    base = server.url_for("").rstrip("/")

    def recorded(name: str) -> bytes:
        return (HOSTILE / name).read_bytes().replace(b"@BASE@", base.encode()).replace(
            b"@SECRET@", str(secret).encode())

    def serve(path: str, body: bytes, content_type: str) -> None:
        server.expect_request(path).respond_with_data(body, content_type=content_type)

    rss, atom, html = "application/rss+xml", "application/atom+xml", "text/html"
    serve("/feeds/xxe.rss", recorded("xxe.rss"), rss)
    serve("/feeds/external-dtd.atom", recorded("external_dtd.atom"), atom)
    serve("/feeds/laughs.rss", recorded("laughs.rss"), rss)
    for evil in ("/evil.dtd", "/evil.ent"):
        serve(evil, b'<!ENTITY ext SYSTEM "file:///etc/passwd">', "application/xml-dtd")

    junk = "J" * 4_000_000
    serve("/feeds/huge-attr.rss", (
        f'<?xml version="1.0"?><rss version="2.0" data-junk="{junk}"><channel><title lang="{"L" * 500_000}">'
        f'Attribute Desk</title><item><title>Bridge repairs <b class="{"C" * 1_000_000}">begin</b></title>'
        f'<link>{base}/pages/huge-attr.html</link><guid>huge-attr</guid></item></channel></rss>').encode(), rss)
    serve("/feeds/bad-encoding.rss", (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Latin Desk M\xfcnchen</title>'
        b'<item><title>Bauarbeiten in M\xfcnchen \x85 \xff\xfe</title><link>' + base.encode()
        + b'/pages/cp1252-declared-utf8.html</link><guid>bad-enc</guid></item></channel></rss>'),
        "application/rss+xml; charset=utf-8")
    items = "".join(f"<item><title>Seite {n}</title><link>{base}/pages/{n}.html</link><guid>{n}</guid></item>"
                    for n in ("utf16-meta-utf8", "bom-utf8-header-latin1", "invalid-utf8"))
    serve("/feeds/bom-conflict.rss", b"\xef\xbb\xbf" + (
        f'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>BOM Desk München'
        f'</title>{items}</channel></rss>').encode("utf-8"), "application/rss+xml; charset=windows-1252")
    serve("/feeds/surrogates.json", json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Broken \ud800 Desk",
        "items": [{"id": "lone-\udc00-id", "url": f"{base}/pages/json-lone.html?x=\ud800",
                   "title": "Tram line \ud83d opens", "content_text": "short \udfff text"}],
    }, ensure_ascii=True).encode(), "application/feed+json")

    serve("/pages/xxe-ferry.html", (
        f'<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">'
        f'<!ENTITY s SYSTEM "file://{secret}">]>\n' + _page(101, extra="<p>&x; &s;</p>")).encode(), html)
    serve("/pages/dtd-library.html", _page(102).encode(), html)
    serve("/pages/laughs-market.html", _page(103).encode(), html)
    serve("/pages/huge-attr.html", _page(104, body_attrs=f' data-x="{"A" * 3_000_000}"',
                                         extra=f'<div class="{"B" * 1_000_000}"></div>').encode(), html)
    serve("/pages/cp1252-declared-utf8.html",
          _german_page("cp1252", '<meta charset="utf-8">').encode("cp1252"), "text/html; charset=utf-8")
    serve("/pages/utf16-meta-utf8.html", b"\xff\xfe" + _german_page(
        "utf16", '<meta charset="utf-8">').encode("utf-16-le"), "text/html; charset=utf-8")
    serve("/pages/bom-utf8-header-latin1.html", b"\xef\xbb\xbf" + _german_page(
        "bom", '<meta charset="windows-1252">').encode("utf-8"), "text/html; charset=iso-8859-1")
    broken = _german_page("stray", "").encode("utf-8")
    cut = broken.index("Südbahnhof".encode())
    serve("/pages/invalid-utf8.html", broken[:cut] + b"\xff\xc3" + broken[cut:], "text/html")
    serve("/pages/json-lone.html", _page(105).encode(), html)
    return {"xxe": "/feeds/xxe.rss", "external-dtd": "/feeds/external-dtd.atom", "laughs": "/feeds/laughs.rss",
            "huge-attr": "/feeds/huge-attr.rss", "bad-encoding": "/feeds/bad-encoding.rss",
            "bom-conflict": "/feeds/bom-conflict.rss", "surrogates": "/feeds/surrogates.json"}


def test_hostile_feeds_through_the_flow(prefect_api, tmp_path: Path, write_config, server: HTTPServer) -> None:
    from flows.ingest import ingest

    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET_MARKER + "\n")
    feeds = _serve_hostile_site(server, secret)
    sources = "".join(f'\n[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{server.url_for(path)}"\n'
                      for name, path in feeds.items())
    cfg = write_config("[http]\nallow_private_hosts = true\nretries = 0\nmax_bytes = 20_000_000\n"
                       "total_timeout = 20.0\n[feeds]\nmin_poll_interval_minutes = 0.0001\n" + sources)
    started = time.monotonic()
    state = ingest(config_path=str(cfg), return_state=True)
    elapsed = time.monotonic() - started
    assert state.is_completed(), state.message
    db = tmp_path / "catalog.sqlite"

    assert hits(server, "/evil.dtd") == 0 and hits(server, "/evil.ent") == 0, "no external DTD or entity fetched"
    stored = _all_stored_text(db)
    assert SECRET_MARKER not in stored and not _passwd_leaks(stored)
    with open_warehouse(db) as con:
        health = {r[0]: r[1:] for r in con.execute(
            "SELECT source, last_status, last_error, failing FROM source_health").fetchall()}
        articles = {r[0]: r[1:] for r in con.execute(
            "SELECT url, title, text, length(title) FROM articles").fetchall()}
        rejects = con.execute("SELECT locator, reason FROM rejects").fetchall()
        runs = con.execute("SELECT status, message FROM runs").fetchall()
    assert runs == [("completed", None)]
    assert set(health) == set(feeds)
    for name, (status, error, failing) in health.items():
        assert "\n" not in (status or "") + (error or ""), name
    assert all(not failing for name, (_, _, failing) in health.items() if name != "surrogates"), health
    assert all("\n" not in reason and len(reason) <= 200 for _, reason in rejects)

    def page(key: str) -> tuple:
        found = [v for url, v in articles.items() if url.endswith(f"/pages/{key}.html")]
        assert len(found) == 1, (key, sorted(articles), rejects)
        return found[0]

    for key in ("xxe-ferry", "dtd-library", "laughs-market", "huge-attr"):
        title, text, title_length = page(key)
        assert title_length < 300 and "haha" not in title and "&" not in title, title
    for key in ("cp1252-declared-utf8", "utf16-meta-utf8", "bom-utf8-header-latin1", "invalid-utf8"):
        title, text, _ = page(key)
        assert GERMAN_KEY in text and "Südbahnhof" in text, (key, text[:200])
        assert not any(m in text + title for m in MOJIBAKE), (key, title, text[:300])
    assert len(articles) == 8 + (1 if health["surrogates"][0] == "ok" else 0), sorted(articles)
    assert elapsed < 120


# --- a folder of hostile files, through the command line, with its peak memory ----------------------

def _junk_html(size: int, seed: int = 5) -> bytes:
    """About `size` bytes of tag soup: unclosed and stray tags, bogus entities, scripts, attributes, text."""
    rng = random.Random(seed)
    pieces = ["<div class='c%d'>", "</div>", "<p>", "</span>", "<b>", "&amp;", "&#x1F600;", "&bogus;", "<!-- x -->",
              "<script>var a = '</div>';</script>", "<a href='javascript:alert(1)'>", "lorem ipsum dolor ",
              "\u00e9t\u00e9 \u4e2d ", "<<>>", "<img src=x onerror=y>", "<table><tr><td>", "</td></tr>",
              "<![CDATA[ x ]]>", "<?php echo 1; ?>", "<style>p{}</style>", "<svg><foreignObject>", "&#0;", "</"]
    chunk = "".join(rng.choice(pieces).replace("%d", str(i)) for i in range(30000))
    body = chunk * (size // len(chunk.encode("utf-8")) + 1)
    return ("<html><head><title>Junk</title></head><body>" + body + "</body></html>").encode("utf-8")


def _long_prose(words: int) -> str:
    rng = random.Random(9)
    paragraphs, count = [], 0
    while count < words:
        paragraph = " ".join(sentence(rng, i) for i in range(4))
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "An extremely long report\n\n" + "\n\n".join(paragraphs)


ODD_NAMES = ["with space.txt", "ünï cødé – 新闻.md", "new\nline.txt", "-rf.txt", "--source=x.txt",
             "tab\tname.txt",
             "quote'\"name.txt", "$(touch pwned).txt", "back\\slash.txt", "semi;colon|pipe&amp.txt",
             " leading space.txt", "trailing space .txt", "é" * 120 + ".txt", "emoji \U0001f600.md"]


def _hostile_folder(root: Path) -> tuple[Path, dict[str, str]]:
    """A source folder of hostile files; returns it and name -> expected outcome ("article", "reject:<text>",
    "article-or-reject", "copy" or "absent")."""
    folder = root / "in"
    outside = root / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(f"Secret report\n\n{SECRET_MARKER} " + _story(900), encoding="utf-8")
    expect: dict[str, str] = {}

    def put(name: str, data: bytes | str, outcome: str) -> None:
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        expect[name] = outcome

    put("deep_nesting.html", "<html><body>" + "<div>" * 50_000 + "<p>" + " ".join(
        sentence(random.Random(1), 1) for _ in range(5)) + "</p>" + "</div>" * 50_000 + "</body></html>",
        "article-or-reject")
    put("junk_20mb.html", _junk_html(20_000_000), "article-or-reject")
    put("huge_attribute.html", _page(201, body_attrs=f' data-blob="{"x" * 5_000_000}"'), "article")
    put("xxe.html", '<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">'
        f'<!ENTITY s SYSTEM "file://{outside / "secret.txt"}">]>\n' + _page(202, extra="<p>&x; &s;</p>"), "article")
    put("elf_binary.txt", b"\x7fELF\x02\x01\x01" + random.Random(3).randbytes(40_000), "reject:binary content")
    noise = random.Random(4)
    put("noise_without_nul.md", b"\x89PNG\r\n\x1a\n" + bytes(noise.randrange(1, 256) for _ in range(20_000)),
        "reject:binary content")
    put("utf16_without_bom.txt", _story(203).encode("utf-16-le"), "article")  # a NUL as every other byte: UTF-16
    put("whitespace_only.txt", b" \n\t\r\n   \n\xc2\xa0\n", "reject:empty file")
    put("truncated_utf8.txt", (_story(204) + "The river \u2014 and the bridge \u2014 reopened on Monday after "
                                             "repairs that lasted most of the winter, officials said \u2014")
        .encode("utf-8")[:-1], "article")
    german = ("Bauarbeiten in München\n\n" + GERMAN + "\n\n" + GERMAN.replace("Dienstag", "Mittwoch")).encode("utf-8")
    cut = german.index("Südbahnhof".encode())
    put("stray_bytes.txt", german[:cut] + b"\xff" + german[cut:], "article")
    put("bom_then_latin1.txt", b"\xef\xbb\xbf" + ("Bericht aus Köln\n\n" + GERMAN).encode("latin-1", "replace"),
        "article-or-reject")
    put("huge_prose.txt", _long_prose(120_000), "reject:too much text")
    put(".hidden.txt", _story(205), "absent")
    for i, name in enumerate(ODD_NAMES):
        put(name, _story(300 + i), "article")
    raw_name = os.fsencode(folder) + b"/latin1-\xe9-name.txt"
    with open(raw_name, "wb") as handle:
        handle.write(_story(400).encode("utf-8"))
    expect[os.fsdecode(b"latin1-\xe9-name.txt")] = "article"
    (folder / "outside_link.txt").symlink_to(outside / "secret.txt")
    expect["outside_link.txt"] = "reject:symbolic link pointing outside the source folder (not followed)"
    (folder / "outside_dir").symlink_to(outside, target_is_directory=True)
    (folder / "a_inside_link.txt").symlink_to(folder / "with space.txt")
    expect["a_inside_link.txt"] = "article"  # read first; "with space.txt" then is a copy of its bytes
    expect["with space.txt"] = "copy"
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "self_link.html").symlink_to(folder / "self_link.html")  # a link that leads back to itself
    expect["self_link.html"] = "reject:symbolic link loop"
    return folder, expect


_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[2:]).returncode\n"
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
            "sys.exit(code)\n")


def test_hostile_folder_through_the_command_line(prefect_api, tmp_path: Path) -> None:
    folder, expect = _hostile_folder(tmp_path)
    cfg = write_config(tmp_path / "w", folder, extra="[discover]\nmax_file_bytes = 30_000_000\n")
    rss_file = tmp_path / "rss.txt"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(rss_file), sys.executable, "-m", "flows.ingest",
                             "--config", str(cfg)], cwd=ROOT, env=cli_env(prefect_api), capture_output=True,
                            text=True, timeout=900)
    elapsed = time.monotonic() - started
    peak_mb = int(rss_file.read_text()) / 1024
    print(f"hostile folder: {len(expect)} files, run {elapsed:.1f} s, peak RSS {peak_mb:.0f} MiB")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert peak_mb < PEAK_RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MiB"

    db = tmp_path / "w" / "catalog.sqlite"
    with open_warehouse(db) as con:
        stored = {r[0]: r[1] for r in con.execute("SELECT path, text FROM articles").fetchall()}
        rejects = {r[0]: r[1] for r in con.execute("SELECT locator, reason FROM rejects").fetchall()}
        runs = con.execute("SELECT status, discovered, skipped, new_articles + duplicates, rejected FROM runs"
                           ).fetchall()
        outcomes = dict(con.execute("SELECT locator, outcome FROM inputs").fetchall())
    copies = {path: outcome for path, outcome in outcomes.items() if path not in stored and path not in rejects}
    names = {Path(p).name: p for p in [*stored, *rejects]}
    assert len(names) == len(stored) + len(rejects), "each input has one outcome"
    assert all(Path(p).parent == folder for p in names.values()), "nothing outside the folder was read"
    for name, outcome in expect.items():
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        path = names.get(shown)
        if outcome == "absent":
            assert path is None, (name, outcome)
        elif outcome == "copy":
            assert path is None and copies.get(str(folder / name)) == "duplicate", (name, copies)
        elif outcome == "article":
            assert path in stored, (name, rejects.get(path))
        elif outcome.startswith("reject:"):
            assert path in rejects and rejects[path].startswith(outcome[7:]), (name, rejects.get(path))
        else:
            assert path in stored or path in rejects, name
    assert all("\n" not in reason and len(reason) <= 200 for reason in rejects.values())
    walked = [n for n, outcome in expect.items() if outcome != "absent"]  # refused links are found, too
    assert runs == [("completed", len(walked), 0, len(stored) + len(copies), len(rejects))] and len(copies) == 1

    assert str(folder / "new\nline.txt") in stored and str(folder / "-rf.txt") in stored
    assert stored[str(folder / "truncated_utf8.txt")].endswith(
        "\u2014 and the bridge \u2014 reopened on Monday after repairs that lasted most of the winter, officials said")
    assert GERMAN_KEY in stored[str(folder / "stray_bytes.txt")]
    for text in stored.values():
        assert not any(m in text for m in MOJIBAKE), text[:300]
    everything = _all_stored_text(db)
    assert SECRET_MARKER not in everything and not _passwd_leaks(everything)
    assert not (ROOT / "pwned").exists() and not (folder / "pwned").exists()

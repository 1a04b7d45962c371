"""Feed ingestion at scale: serve the real-world feeds on loopback, run the ingest flow, count what it kept."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from bench import DEFAULT_DATA, PROJECT_ROOT, Table, write_report

DEFAULT_FEEDS = DEFAULT_DATA / "feeds-realworld"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "feeds_eval.json"
DEFAULT_PREFECT_HOME = PROJECT_ROOT / "bench" / "out" / "prefect-home"
CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml", "rdf": "application/rdf+xml",
                 "json": "application/feed+json"}
PAGE_TYPE = "text/html; charset=utf-8"
TARGET_COVERAGE = 0.99

# Entry links point at the real sites, and the pipeline's HTTP client resolves each host itself and
# connects to it (it has no proxy), so routing by path alone cannot work: every absolute http(s) URL
# in a feed body is rewritten to the loopback server instead, keeping scheme and host in the path
# (https://Example.org:443/a?b -> <base>/https/example.org/a?b), so distinct links stay distinct and
# equal ones stay equal; relative links resolve against the feed's loopback URL by themselves.
# Namespace URIs (xmlns attributes) are left alone. Any path that is not a feed gets a generated page.
URL_RE = re.compile(rb"(https?):(\\?/)\\?/([A-Za-z0-9.\-_~%:@\[\]]+)")
XMLNS_BEFORE_RE = re.compile(rb"xmlns(?::[\w.\-]+)?\s*=\s*[\"']$")


# --- feed files -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedFile:
    """One recorded feed of the set, as the manifest describes it."""

    feed_id: str
    path: Path
    format: str
    regex_items: int | None
    first_title: str | None

    @property
    def served_path(self) -> str:
        """Where the loopback server serves this feed."""
        return f"/feeds/{self.feed_id}.{ 'json' if self.format == 'json' else 'xml'}"


def load_manifest(data_dir: Path, limit: int | None = None) -> list[FeedFile]:
    """The feeds listed in manifest.json (the first `limit` of them when given)."""
    manifest = data_dir / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: not found (pass --data pointing at feeds-realworld)")
    feeds = [FeedFile(feed_id=Path(e["file"]).name.removesuffix(".gz"), path=data_dir / e["file"],
                      format=e.get("format") or "rss", regex_items=e.get("n_items_regex"),
                      first_title=e.get("first_title"))
             for e in json.loads(manifest.read_text(encoding="utf-8"))]
    return feeds[:limit] if limit else feeds


def rewrite_links(body: bytes, base: str) -> bytes:
    """The feed body with every absolute http(s) URL pointed at base (namespace URIs left alone)."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if body.startswith(bom):  # rewrite the text, then encode it back the same way
            text = body[len(bom):].decode(codec, errors="surrogatepass")
            rewritten = rewrite_links(text.encode("utf-8", errors="surrogatepass"), base)
            return bom + rewritten.decode("utf-8", errors="surrogatepass").encode(codec, errors="surrogatepass")
    target = base.encode()

    def replace(match: re.Match[bytes]) -> bytes:
        if XMLNS_BEFORE_RE.search(body[max(0, match.start() - 60):match.start()]):
            return match.group(0)
        scheme, slash, host = match.group(1).lower(), match.group(2), match.group(3).lower()
        if host.endswith(b":443") and scheme == b"https" or host.endswith(b":80") and scheme == b"http":
            host = host.rsplit(b":", 1)[0]
        prefix = target.replace(b"/", slash) if slash != b"/" else target
        return prefix + slash + scheme + slash + host.replace(b":", b"_")

    return URL_RE.sub(replace, body)


# --- generated article pages ------------------------------------------------------------------------

SYLLABLES = ("ka", "lor", "mi", "ven", "dra", "sel", "tor", "bri", "an", "os", "qui", "mar", "el", "dun", "fen",
             "gar", "hol", "ish", "jor", "kel", "lum", "nor", "pel", "ras", "sil", "tam", "ul", "vor", "wen", "yar",
             "zel", "bo", "cre", "dov", "est", "fal", "gri", "hes", "ion", "lan")
# Each page is written on one beat, so pages differ in vocabulary the way real articles do.
BEATS = {
    "transport": "tram bus ferry timetable depot platform tunnel bridge junction railway carriage signal motorway "
                 "roundabout terminal runway freight commuter ticket fare route viaduct interchange",
    "health": "clinic hospital ward nurse surgeon vaccine pharmacy ambulance patient diagnosis therapy outbreak "
              "screening midwife prescription infection hospice dentist laboratory trial",
    "farming": "orchard vineyard harvest cattle dairy barley wheat tractor irrigation greenhouse fertiliser pasture "
               "livestock silo cooperative drought hedgerow beekeeper poultry seedling compost",
    "courts": "tribunal magistrate verdict appeal lawyer prosecutor defendant jury sentence inquiry testimony witness "
              "ruling injunction settlement bail solicitor hearing evidence statute",
    "science": "telescope experiment genome satellite fossil glacier sensor particle microscope sample specimen "
               "observatory reactor probe dataset algorithm enzyme isotope",
    "schools": "classroom headteacher curriculum pupil exam playground tutor scholarship governor inspection "
               "apprenticeship lecture campus dormitory syllabus enrolment graduate textbook",
    "business": "factory shareholder dividend merger startup warehouse export tariff supplier invoice revenue payroll "
                "franchise bakery brewery retailer logistics contract auditor investor",
    "culture": "museum theatre gallery festival orchestra exhibition sculpture novelist choir manuscript premiere "
               "rehearsal archive mural cinema poet ballet curator concert heritage",
    "environment": "reservoir wetland river forest emissions recycling turbine flood erosion habitat wildlife "
                   "pollution coastline estuary peatland meadow reef woodland",
    "housing": "tenant landlord apartment estate mortgage rent developer terrace renovation insulation shelter "
               "zoning construction bungalow lease freehold caretaker",
}
VERBS = ("open", "close", "repair", "expand", "review", "fund", "inspect", "rebuild", "sell", "relocate", "modernise",
         "audit", "survey", "insure", "restore", "extend", "replace", "merge", "license", "redesign", "postpone",
         "approve", "challenge", "rescue", "digitise", "reorganise", "privatise", "subsidise", "monitor", "upgrade")
ADJECTIVES = ("regional", "municipal", "historic", "temporary", "independent", "northern", "southern", "coastal",
              "rural", "crowded", "experimental", "overdue", "ambitious", "modest", "disputed", "costly", "quiet",
              "seasonal", "volunteer", "private", "public", "renovated", "abandoned", "flooded", "fragile", "popular",
              "outdated", "promising", "controversial", "neglected", "efficient", "unfinished")
GROUPS = ("residents", "councillors", "engineers", "teachers", "farmers", "shopkeepers", "nurses", "students",
          "inspectors", "volunteers", "fishermen", "drivers", "researchers", "auditors", "architects", "pensioners",
          "commuters", "landlords", "parents", "campaigners")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
SENTENCES = (
    "{person} said on {day} that the {org} would {verb} the {adj} {noun} in {town} before the end of {month}.",
    "About {num} {group} attended a meeting at the {noun} in {town}, where plans to {verb} it were debated.",
    "The {org} has set aside {num} thousand for the work, a sum {group} described as {adj} but necessary.",
    "According to {person}, the {noun} near {town} had not been looked at properly for {small} years.",
    "{group2} in {town} asked the {org} to publish its figures before anyone agreed to {verb} the {noun}.",
    "A {adj} report by {person} found {small} problems with the {noun} and recommended that officials {verb} it.",
    "Work on the {noun} is expected to take {small} months, and the {adj} {noun2} nearby will stay open meanwhile.",
    "{person} told reporters in {town} that {group} had been consulted {small} times since {month}.",
    "The decision leaves the {org} with {num} applications to {verb} and a {adj} timetable to keep.",
    "Critics said the {adj} plan for the {noun2} in {town} ignored what {group} had asked for in {month}.",
    "Supporters of the project point to the {noun} at {town2}, which the {org} managed to {verb} within budget.",
    "On {day}, {small} {group} from {town} walked to the {noun2} to hand a petition to {person}.",
    "{person} expects the {org} to {verb} a second {noun} in {town2} if the first phase goes well.",
    "Figures released by the {org} show {num} visits to the {adj} {noun} in {month} alone.",
    "Nobody at the {org} would say how long the {noun2} in {town} could stay {adj} without money to {verb} it.",
    "Some {group} in {town2} doubt the {noun} will ever be finished, {person} admitted.",
    "The last time the {org} tried to {verb} a {noun} of this size, in {town2}, it took {small} years.",
    "{group2} have until {day} to comment on the {adj} proposal, which runs to {num} pages.",
)


def _name(rng: random.Random, parts: int) -> str:
    """A made-up proper name of the given number of syllables."""
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def article_page(path: str) -> bytes:
    """A realistic article page generated for one path: title, 4-6 paragraphs unique to the path, boilerplate."""
    rng = random.Random(hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest())
    parts = path.strip("/").split("/")
    site = parts[1] if len(parts) > 1 else "example.org"
    cast = {"person": f"{_name(rng, 2)} {_name(rng, 3)}", "town": _name(rng, 3), "town2": _name(rng, 2),
            "org": f"{_name(rng, 2)} {rng.choice(('Trust', 'Authority', 'Council', 'Group', 'Foundation'))}"}

    nouns = BEATS[rng.choice(sorted(BEATS))].split()

    def sentence() -> str:
        text = rng.choice(SENTENCES).format(
            **cast, noun=rng.choice(nouns), noun2=rng.choice(nouns), verb=rng.choice(VERBS),
            adj=rng.choice(ADJECTIVES), group=rng.choice(GROUPS), group2=rng.choice(GROUPS).capitalize(),
            day=rng.choice(DAYS), month=rng.choice(MONTHS), num=rng.randint(12, 9800), small=rng.randint(2, 11))
        return text[0].upper() + text[1:]

    title = f"{cast['org']} to {rng.choice(VERBS)} {rng.choice(ADJECTIVES)} {rng.choice(nouns)} in {cast['town']}"
    paragraphs = [" ".join(sentence() for _ in range(rng.randint(3, 5))) for _ in range(rng.randint(4, 6))]
    related = "\n".join(f'        <li><a href="/related/{rng.randint(1000, 9999)}">{escape(_name(rng, 3))} '
                        f'{rng.choice(nouns)} reopens</a></li>' for _ in range(3))
    body = "\n".join(f"      <p>{escape(p)}</p>" for p in paragraphs)
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)} | {escape(site)}</title>
  <meta property="og:title" content="{escape(title)}">
  <meta property="og:site_name" content="{escape(site)}">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
  <div class="cookie-banner">We use cookies to improve your experience. <button>Accept cookies</button></div>
  <header class="masthead">
    <a class="logo" href="/">{escape(site)}</a>
    <nav aria-label="Main"><ul><li><a href="/">Home</a></li><li><a href="/news/">News</a></li>
      <li><a href="/local/">Local</a></li><li><a href="/business/">Business</a></li>
      <li><a href="/about/">About</a></li></ul></nav>
  </header>
  <main id="main">
    <article>
      <h1>{escape(title)}</h1>
      <p class="meta">By {escape(cast['person'])}</p>
{body}
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
{related}
      </ul>
    </aside>
    <section class="newsletter"><h2>Sign up for our newsletter</h2>
      <form action="/newsletter"><input name="email" placeholder="Email address"><button>Subscribe</button></form>
    </section>
  </main>
  <footer class="site-footer">
    <ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul>
    <p>&copy; {escape(site)}. All rights reserved.</p>
  </footer>
</body>
</html>
"""
    return html.encode("utf-8")


# --- the loopback server (in its own process, so it does not compete with the flow for the GIL) -----

class _Handler(BaseHTTPRequestHandler):
    """Serves the rewritten feeds at /feeds/<id>.xml and a generated article page at any other path."""

    protocol_version = "HTTP/1.1"
    feeds: dict[str, tuple[bytes, str]] = {}
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        """Answer one GET."""
        feed = self.feeds.get(self.path)
        if feed is not None:
            body, content_type = feed
            kind = "feeds"
        else:
            body, content_type, kind = article_page(self.path), PAGE_TYPE, "pages"
        with self.lock:
            self.counts[kind] += 1
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature http.server uses
        """Stay quiet."""


def _serve(feeds: list[FeedFile], conn: Connection) -> None:
    """Child process: bind a loopback port, rewrite and serve the feeds, report (base, request counts) on stop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Handler.feeds = {f.served_path: (rewrite_links(gzip.decompress(f.path.read_bytes()), base),
                                      CONTENT_TYPES.get(f.format, "application/xml")) for f in feeds}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn.send(base)
    conn.recv()  # any message means stop
    server.shutdown()
    conn.send(dict(_Handler.counts))


class LoopbackServer:
    """The feeds and generated pages served from 127.0.0.1 by a child process."""

    def __init__(self, feeds: list[FeedFile]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(feeds, child), daemon=True)
        self._process.start()
        while not self._conn.poll(0.5):
            if not self._process.is_alive():
                raise RuntimeError(f"the loopback server stopped (exit code {self._process.exitcode})")
        self.base: str = self._conn.recv()

    def stop(self) -> dict[str, int]:
        """Stop serving; the number of feed and page requests answered."""
        self._conn.send("stop")
        counts = self._conn.recv() if self._conn.poll(30) else {}
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
        return counts


# --- what each feed holds ---------------------------------------------------------------------------

@dataclass
class FeedCount:
    """One feed's entries as counted outside the flow, and as the pipeline's parser reads the served body."""

    feed_id: str
    format: str
    regex_items: int | None
    feedparser_items: int
    json_items: int | None
    parsed: list[tuple[str | None, str | None]] = field(default_factory=list)  # (url, guid) per usable entry
    parse_error: str | None = None

    @property
    def present(self) -> int:
        """Entries in the file: the largest of the manifest's count, feedparser's and a JSON Feed's items."""
        return max(self.regex_items or 0, self.feedparser_items, self.json_items or 0, len(self.parsed))


def count_feed(feed: FeedFile, base: str) -> FeedCount:
    """Count one feed's entries in the raw file and read its served body with the pipeline's parser."""
    import feedparser

    from tasks.sources.feeds import FeedParseError, parse_feed

    raw = gzip.decompress(feed.path.read_bytes())
    result = feedparser.parse(io.BytesIO(raw), resolve_relative_uris=False, sanitize_html=False)
    json_items = None
    if feed.format == "json":
        try:
            json_items = len(json.loads(raw.decode("utf-8-sig")).get("items") or [])
        except (UnicodeDecodeError, ValueError, AttributeError):
            json_items = 0
    count = FeedCount(feed.feed_id, feed.format, feed.regex_items, len(result.entries), json_items)
    content_type = CONTENT_TYPES.get(feed.format, "application/xml")
    try:
        parsed = parse_feed(rewrite_links(raw, base), {"content-type": content_type}, base + feed.served_path)
        count.parsed = [(e.url, e.guid) for e in parsed.entries]
    except FeedParseError as exc:
        count.parse_error = str(exc)
    return count


# --- running the flow -------------------------------------------------------------------------------

def write_config(folder: Path, base: str, feeds: list[FeedFile]) -> Path:
    """A pipeline config listing every feed, with a fresh warehouse in folder."""
    taxonomy = (PROJECT_ROOT / "config" / "issues.toml").as_posix()
    lines = [
        "[warehouse]", f'catalog = "sqlite:{(folder / "feeds.sqlite").as_posix()}"',
        f'reports_dir = "{(folder / "reports").as_posix()}"', "",
        "[tags]", f'taxonomy = "{taxonomy}"', "",
        "[http]", "allow_private_hosts = true",
        # one loopback host stands in for 200 sites: let it take the whole connection budget
        "max_connections = 8", "max_per_host = 8", "",
    ]
    for feed in feeds:
        lines += ["[[sources]]", f'name = "{feed.feed_id}"', 'kind = "feed"', f'url = "{base}{feed.served_path}"', ""]
    config_dir = folder / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "pipeline.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_flow(config: Path) -> tuple[bool, str]:
    """Run the ingest flow once on the config; (completed, message)."""
    from flows.ingest import ingest

    state = ingest(config_path=str(config), return_state=True)
    return state.is_completed(), state.message or ""


def read_warehouse(path: Path) -> dict[str, object]:
    """What the run stored: article keys, rejects, source health and the run row."""
    from warehouse import open_warehouse

    with open_warehouse(path) as con:
        articles = con.execute("SELECT source, locator, url, guid, duplicate_of IS NOT NULL, duplicate_kind "
                               "FROM store.articles").fetchall()
        rejects = con.execute("SELECT source, locator, reason FROM rejects").fetchall()
        health = con.execute("SELECT source, last_status, last_error, failing FROM source_health").fetchall()
        runs = con.execute("SELECT status, discovered, skipped, new_articles, duplicates, rejected, message "
                           "FROM runs").fetchall()
        stories = con.execute("SELECT article_count FROM stories").fetchall()
    return {"articles": articles, "rejects": rejects, "health": health, "runs": runs, "stories": stories}


# --- classification ---------------------------------------------------------------------------------

def reason_kind(reason: str) -> str:
    """A reject reason without its particulars ("too little text: 12 words (minimum 20)" -> "too little text")."""
    head = reason.split(";", 1)[0].split(":", 2)  # "; the feed's text is too short …" is a particular too
    kind = ":".join(head[:2]) if reason.startswith("page fetch failed") else head[0]
    return re.sub(r" \([^)]*\)", "", kind)  # "entry's link is not http(s) (file), so …": the scheme too


def classify(feeds: list[FeedFile], counts: dict[str, FeedCount], stored: dict[str, object]) -> dict[str, object]:
    """Sort every entry present into: ingested, a property of the data, rejected, feed failed or missing."""
    by_locator: set[tuple[str, str]] = set()
    guids: set[tuple[str, str]] = set()
    duplicates = 0
    kinds: Counter[str] = Counter()
    for source, locator, url, guid, is_dup, kind in stored["articles"]:  # type: ignore[attr-defined]
        by_locator.update({(source, locator), (source, url or "")})
        if guid:
            guids.add((source, guid))
        duplicates += bool(is_dup)
        kinds[kind or "original"] += 1
    rejected = {(s, loc): reason for s, loc, reason in stored["rejects"]}  # type: ignore[attr-defined]
    failing = {s: status for s, status, _, bad in stored["health"] if bad}  # type: ignore[attr-defined]
    first_url: dict[str, str] = {}  # canonical URL -> the feed whose entry had it first
    first_guid: dict[str, str] = {}
    totals: Counter[str] = Counter()
    shared: Counter[str] = Counter()
    shared_examples: list[dict[str, str | None]] = []
    reject_reasons: Counter[str] = Counter()
    missing: list[dict[str, str | None]] = []
    per_feed: list[dict[str, object]] = []
    for feed in feeds:
        c = counts[feed.feed_id]
        row: Counter[str] = Counter(present=c.present)
        if feed.feed_id in failing and not c.parsed and "has a link or guid" in (c.parse_error or ""):
            row["no link or guid"] = c.present
        elif feed.feed_id in failing:
            row["feed failed"] = c.present
        else:
            row["no link or guid"] = c.present - len(c.parsed)
            for url, guid in c.parsed:  # the pipeline's own rule: known URL or guid, in poll order
                owner = first_url.get(url or "") or first_guid.get(guid or "")
                if owner:
                    how = "link" if url and url in first_url else "guid"
                    where = "the same feed" if owner == feed.feed_id else "an earlier feed"
                    shared[f"{how} shared with an entry of {where}"] += 1
                    row["shared link or guid"] += 1
                    if len(shared_examples) < 20:
                        shared_examples.append({"feed": feed.feed_id, "first_feed": owner, "url": url, "guid": guid})
                    continue
                if url:
                    first_url[url] = feed.feed_id
                if guid:
                    first_guid[guid] = feed.feed_id
                if (url and (feed.feed_id, url) in by_locator) or (guid and (feed.feed_id, guid) in guids):
                    row["ingested"] += 1
                elif (feed.feed_id, url or guid or "") in rejected:
                    row["rejected"] += 1
                    reject_reasons[reason_kind(rejected[(feed.feed_id, url or guid or "")])] += 1
                else:
                    row["missing"] += 1
                    missing.append({"feed": feed.feed_id, "url": url, "guid": guid})
        totals.update(row)
        per_feed.append({"feed": feed.feed_id, "format": feed.format, "title": feed.first_title,
                         "regex_items": c.regex_items, "feedparser_items": c.feedparser_items,
                         "pipeline_parser_items": len(c.parsed), "parse_error": c.parse_error,
                         "status": failing.get(feed.feed_id, "ok"), **dict(row)})
    return {"totals": dict(totals), "shared": dict(shared), "shared_examples": shared_examples,
            "reject_reasons": dict(reject_reasons), "missing": missing[:50],
            "missing_count": len(missing), "duplicates_stored": duplicates, "duplicate_kinds": dict(kinds),
            "per_feed": per_feed}


# --- the command ------------------------------------------------------------------------------------

def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.feeds_eval", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_FEEDS,
                        help="the feeds-realworld folder (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N feeds of the manifest")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes counting entries while the flow runs (default: 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return args


def _tables(result: dict[str, object]) -> list[Table]:
    """The report as printable tables."""
    t = result["entries"]
    present, ingested = t["present"], t["ingested"]
    data_props = t["no link or guid"] + t["shared link or guid"]
    ingestible = present - data_props
    summary = Table("Feed ingestion over the real-world feeds", ["measure", "value"], [
        ["feeds", result["feeds"]],
        ["entries present (manifest regex count)", result["present_by"]["manifest_regex"]],
        ["entries present (feedparser on the raw files)", result["present_by"]["feedparser_raw"]],
        ["entries present (largest count per feed, used below)", present],
        ["  of which: no link or guid (data)", t["no link or guid"]],
        ["  of which: link or guid shared with an earlier entry (data)", t["shared link or guid"]],
        *[[f"    {k}", v] for k, v in sorted(result["shared"].items())],
        ["  of which: in feeds that failed", t["feed failed"]],
        ["entries ingestible", ingestible],
        ["entries ingested (articles stored, duplicates included)", ingested],
        ["  stored as duplicates", result["duplicates_stored"]],
        ["entries rejected", t["rejected"]],
        ["entries missing (no article, no reject)", t["missing"]],
        ["coverage of entries present", f"{result['coverage_present']:.2%}"],
        ["coverage of ingestible entries (target >= 99%)", f"{result['coverage_ingestible']:.2%}"],
        ["requests served: feeds / pages",
         f"{result['requests'].get('feeds', 0)} / {result['requests'].get('pages', 0)}"],
        ["flow wall time (s)", f"{result['flow_seconds']:.0f}"],
        ["total wall time (s)", f"{result['wall_seconds']:.0f}"],
    ])
    rejects = Table("Rejects by reason", ["reason", "entries"],
                    [[k, v] for k, v in sorted(result["reject_reasons"].items(), key=lambda kv: -kv[1])]
                    or [["(none)", 0]])
    errors = Table("Source errors by type", ["status", "feeds", "example"],
                   [[k, len(v), v[0]] for k, v in sorted(result["source_errors"].items(), key=lambda kv: -len(kv[1]))]
                   or [["(none)", 0, ""]])
    notes = [f"- {f['feed']} ({f['title']}): {f['no link or guid']} of {f['present']} entries have no link or guid"
             for f in result["per_feed"] if f.get("no link or guid")]
    notes += [f"- {f['feed']} ({f['title']}): feedparser reads {f['feedparser_items']} entries, the manifest "
              f"{f['regex_items']}, the pipeline's parser {f['pipeline_parser_items']}"
              for f in result["per_feed"]
              if f["feedparser_items"] != (f["regex_items"] or 0) or f["pipeline_parser_items"] + f.get(
                  "no link or guid", 0) != f["present"]]
    data = Table("Data properties", ["what", "entries"],
                 [["no link or guid", t["no link or guid"]], *[[k, v] for k, v in sorted(result["shared"].items())]],
                 notes=notes)
    return [summary, rejects, errors, data]


def main(argv: list[str] | None = None) -> int:
    """Serve the feeds, run the ingest flow over all of them, classify every entry, print and save the numbers."""
    args = _arguments(argv)
    os.environ.setdefault("PREFECT_HOME", str(DEFAULT_PREFECT_HOME))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    started = time.perf_counter()
    feeds = load_manifest(args.data, args.limit)
    server = LoopbackServer(feeds)
    print(f"serving {len(feeds)} feeds at {server.base}", flush=True)
    # Entries are counted in one more process while the flow runs; it is idle in parts of the flow.
    pool = ProcessPoolExecutor(max_workers=max(args.workers, 1), mp_context=multiprocessing.get_context("spawn"))
    counting = pool.map(count_feed, feeds, [server.base] * len(feeds), chunksize=4)
    with tempfile.TemporaryDirectory(prefix="feeds-eval-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, server.base, feeds)
        flow_started = time.perf_counter()
        try:
            completed, message = run_flow(config)
        finally:
            requests = server.stop()
        flow_seconds = round(time.perf_counter() - flow_started, 1)
        print(f"ingest flow {'completed' if completed else 'FAILED: ' + message} in {flow_seconds} s", flush=True)
        stored = read_warehouse(folder / "feeds.sqlite")
    counts = {c.feed_id: c for c in counting}
    pool.shutdown()
    result = classify(feeds, counts, stored)
    totals = result.pop("totals")
    for key in ("present", "ingested", "rejected", "missing", "feed failed", "no link or guid", "shared link or guid"):
        totals.setdefault(key, 0)
    ingestible = totals["present"] - totals["no link or guid"] - totals["shared link or guid"]
    errors: dict[str, list[str]] = defaultdict(list)
    for source, status, error, bad in stored["health"]:
        if bad:
            errors[status].append(f"{source}: {error}")
    run_row = stored["runs"][0] if stored["runs"] else None
    report = {
        "data": str(args.data), "limit": args.limit, "feeds": len(feeds), "flow_completed": completed,
        "flow_message": message, "entries": totals,
        "present_by": {"manifest_regex": sum(f.regex_items or 0 for f in feeds),
                       "feedparser_raw": sum(c.feedparser_items for c in counts.values()),
                       "json_feed_items": sum(c.json_items or 0 for c in counts.values()),
                       "pipeline_parser": sum(len(c.parsed) for c in counts.values())},
        "coverage_present": totals["ingested"] / totals["present"] if totals["present"] else 0.0,
        "coverage_ingestible": totals["ingested"] / ingestible if ingestible else 0.0,
        "target_coverage": TARGET_COVERAGE,
        "source_errors": dict(errors), "requests": requests,
        "run": dict(zip(("status", "discovered", "skipped", "new_articles", "duplicates", "rejected", "message"),
                        run_row)) if run_row else None,
        "largest_story": max((s[0] for s in stored["stories"]), default=0),
        **result,
        "flow_seconds": flow_seconds, "wall_seconds": round(time.perf_counter() - started, 1),
    }
    for table in _tables(report):
        print(table.render(), end="\n\n")
    write_report(args.out, report)
    print(f"numbers written to {args.out}")
    met = completed and report["coverage_ingestible"] >= TARGET_COVERAGE
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

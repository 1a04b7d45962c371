"""SQL safety: hostile titles, text and names are stored and read back unchanged; no SQL is built from values."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from config.settings import CleanSettings
from tasks.s2_clean import clean_documents
from tasks.text.hashing import sha256_hex as content_hash
from tasks.sources.health import SourceState
from tasks.sources.urls import guid_key
from tasks.records import Article, CleanedArticle, RawDocument, Reject, RunCounts, Story, Tag
import warehouse
from warehouse import connect, lake, read, write

DROP = "'); DROP TABLE store.articles; --"
HOSTILE = [
    DROP,
    "Robert'); DROP TABLE runs;--",
    "\" OR \"1\"=\"1",
    "' OR '1'='1' --",
    "a'b\"c`d\\e\\\\f",
    "$$dollar$$ quoting $tag$ and %s and ? and $1 and :name",
    "semi; colon; /* comment */ -- trailing",
    "nul\x00byte",
    "controls \x01\x02\x07\x08\x0b\x0c\x1b\x7f and C1 \x85\x9f",
    "line\nbreaks\r\nand\ttabs\u2028\u2029",
    "unicode \u00e9\u00df\u4e2d\u6587 \U0001f600 \u202eRTL\u202c zero\u200bwidth \ufeffBOM",
    "",
    " ",
    "x" * 100_000,
]
SQL_LEAD = (f"{DROP}\n\nThe council said on Monday that a quote ' and a double quote \" are fine, and that "
            "the string '); DELETE FROM store.runs; -- must be stored as it is written. Officials added that "
            "backslashes \\ and percent signs % and question marks ? are ordinary text in a news article.\n\n"
            "A second paragraph says O'Brien's \"plan\" costs $5 and uses the word SELECT * FROM articles; "
            "with no harm done to anyone reading it later.\n")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_catalog = 'news'"
    ).fetchall()}


def _article(index: int, value: str) -> Article:
    raw = f"{index}:{value}".encode("utf-8")
    doc = RawDocument(source=value or "s", locator=f"/in/{index}/{value}", content_hash=content_hash(raw), raw=raw,
                      media_type="text/plain", url=f"https://example.org/{index}?q={value}", guid=value or None)
    cleaned = CleanedArticle(title=value, text=value or "t", dateline=value, credit=value, byline=value,
                             published_at=datetime(2025, 1, 2, tzinfo=timezone.utc), language=value[:8] or None,
                             site_name=value, canonical_url=f"https://example.org/{index}/{value}")
    return Article(article_id=f"a{index:02d}", doc=doc, cleaned=cleaned, word_count=len(value.split()),
                   text_hash=f"h{index}", story_id=f"s{index}", minhash=value.encode("utf-8"),
                   story_terms={value: 1.0}, summary=[value, value[::-1]],
                   tags=[Tag(issue=f"issue {value}", score=1.5, evidence=(value, "plain"))])


def test_write_run_stores_hostile_values_unchanged(tmp_path: Path) -> None:
    con = connect.connect(tmp_path / "catalog.sqlite")
    tables_before = _tables(con)
    write.begin_run(con, "run-1", DROP, DROP)
    articles = [_article(i, v) for i, v in enumerate(HOSTILE)]
    rejects = [Reject(source=v or "s", locator=f"/bad/{i}/{v}", reason=v or "r", content_hash=f"rh{i}")
               for i, v in enumerate(HOSTILE)]
    stories = [Story(story_id=f"s{i}", title=v, summary=[v]) for i, v in enumerate(HOSTILE)]
    states = [SourceState(source=f"feed {i} {v}", url=f"https://example.org/feed/{i}", etag=v, last_modified=v,
                          last_status=v, last_error=v, disabled_reason=v) for i, v in enumerate(HOSTILE)]
    write.write_run(con, "run-1", articles, rejects, stories, RunCounts(new_articles=len(articles)), states,
                    {s.source: DROP for s in states})
    assert _tables(con) == tables_before

    got = {r[0]: r[1:] for r in con.execute(
        "SELECT article_id, title, text, dateline, credit, byline, site_name, source, locator, guid, url, "
        "summary, minhash, story_terms, language FROM store.articles").fetchall()}
    assert len(got) == len(HOSTILE)
    for a, value in zip(articles, HOSTILE):
        row = got[a.article_id]
        assert row[:6] == (value, value or "t", value, value, value, value), repr(value[:40])
        assert row[6:9] == (value or "s", a.doc.locator, a.doc.guid)
        assert row[9] == a.cleaned.canonical_url
        assert row[10] == [value, value[::-1]] and row[11] == value.encode("utf-8")
        assert json.loads(row[12]) == {value: 1.0} and row[13] == (value[:8] or None)
    raw = dict(con.execute("SELECT content_hash, raw FROM store.raw_inputs").fetchall())
    assert all(raw[a.doc.content_hash] == a.doc.raw for a in articles)
    tags = {(r[0], r[1], tuple(r[2])) for r in con.execute(
        "SELECT article_id, issue, evidence FROM store.article_tags").fetchall()}
    assert tags == {(a.article_id, a.tags[0].issue, a.tags[0].evidence) for a in articles}
    assert sorted(con.execute("SELECT source, locator, reason FROM store.rejects").fetchall()) == \
        sorted((r.source, r.locator, r.reason) for r in rejects)
    assert sorted(con.execute("SELECT story_id, title, summary FROM store.stories").fetchall()) == \
        sorted((s.story_id, s.title, s.summary) for s in stories)
    assert sorted(con.execute("SELECT source, etag, last_error, configured_url FROM store.source_state").fetchall()) \
        == sorted((s.source, s.etag, s.last_error, DROP) for s in states)
    assert con.execute("SELECT run_id, flow_run_id, sources, status FROM store.runs").fetchall() == \
        [("run-1", DROP, DROP, "completed")]
    # what dedup and feeds read back is the same
    known = {k.article_id: k for k in read.load_known_articles(con, datetime(2000, 1, 1, tzinfo=timezone.utc))}
    assert all(known[a.article_id].story_terms == {v: 1.0} for a, v in zip(articles, HOSTILE))
    urls, guids = read.known_urls_and_guids(con)
    assert {a.doc.locator for a in articles} <= urls
    assert {guid_key(a.doc.source, a.doc.guid) for a in articles if a.doc.guid} <= guids
    members = read.story_members(con, [DROP, "s0", "s1"])
    assert {m[1] for m in members} == {"a00", "a01"}
    con.close()


def test_hostile_files_through_the_flow(prefect_api, tmp_path: Path, write_config) -> None:
    from flows.ingest import ingest

    folder = tmp_path / "in"
    folder.mkdir()
    files = {
        "drop.txt": SQL_LEAD.encode("utf-8"),
        f"{DROP}.txt": ("Quotes ' and \" in a headline; -- and /* this */\n\n" + SQL_LEAD).encode("utf-8"),
        "controls.txt": ("Control \x07characters\x1b in a title\n\n" + SQL_LEAD.replace("Officials", "Offi\x01cials")
                         .replace("second", "se\x7fcond")).encode("utf-8"),
        "markup.html": ("<html><head><title>" + DROP.replace("'", "&#39;") + "</title></head><body><article><p>"
                        + SQL_LEAD.replace("\n\n", "</p><p>").replace("<", "&lt;") + "</p></article></body></html>"
                        ).encode("utf-8"),
        "nul.txt": SQL_LEAD.replace("Monday", "Mon\x00day").encode("utf-8"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    cfg = write_config(f'[[sources]]\nname = "{DROP.replace(chr(39), "")}"\nkind = "folder"\n'
                       f'path = "{folder.as_posix()}"\n')
    state = ingest(config_path=str(cfg), return_state=True)
    assert state.is_completed(), state.message

    docs = [RawDocument(source="x", locator=str(folder / n), content_hash=content_hash(b), raw=b,
                        media_type="text/html" if n.endswith(".html") else "text/plain") for n, b in files.items()]
    kept, rejected = clean_documents(docs, CleanSettings())
    expected = {Path(d.locator).name: (c.title, c.text) for d, c in kept}
    with warehouse.open_warehouse(tmp_path / "catalog.sqlite") as con:
        assert {"store.articles", "store.runs", "store.rejects"} <= _tables(con)
        stored = {Path(r[0]).name: (r[1], r[2]) for r in con.execute(
            "SELECT path, title, text FROM articles").fetchall()}
        rejects = {Path(r[0]).name: r[1] for r in con.execute("SELECT locator, reason FROM rejects").fetchall()}
        runs = con.execute("SELECT status, new_articles + duplicates, rejected FROM runs").fetchall()
        raw = {r[0] for r in con.execute("SELECT raw FROM store.raw_inputs").fetchall()}
    assert stored == expected and len(stored) == 4
    assert rejects == {"nul.txt": "binary content (NUL bytes)"} == {Path(r.locator).name: r.reason for r in rejected}
    assert runs == [("completed", 4, 1)]
    assert raw == {b for n, b in files.items() if n != "nul.txt"}, "raw bytes are kept exactly"
    assert stored["drop.txt"][0] == DROP and "'); DELETE FROM store.runs; --" in stored["drop.txt"][1]
    assert stored[f"{DROP}.txt"][0] == "Quotes ' and \" in a headline; -- and /* this */"
    assert stored["markup.html"][0] == DROP
    assert stored["controls.txt"][0] == "Control characters in a title", "control characters are dropped"


def _sql_arguments(tree: ast.AST) -> list[tuple[int, ast.expr]]:
    """The first argument of every .execute / .executemany / .sql / .query call."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "sql", "query") and node.args):
            found.append((node.lineno, node.args[0]))
    return found


def _names(node: ast.AST) -> set[str]:
    """Names an expression reads, less those its own comprehensions bind."""
    read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension) for n in ast.walk(c.target)
             if isinstance(n, ast.Name)}
    return read - bound - {"len"}


def _constant_strings(tree: ast.Module) -> set[str]:
    """Module-level names fixed when the module loads: literals, or text built only from other such names."""
    known: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        try:
            ast.literal_eval(node.value)
            fixed = True
        except (ValueError, TypeError, SyntaxError, RecursionError):
            built = isinstance(node.value, (ast.JoinedStr, ast.BinOp)) or _is_join(node.value)
            fixed = built and _names(node.value) <= known
        if fixed:
            known.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return known


def _is_join(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"


def _is_quoted_format(arg: ast.expr, constants: set[str]) -> bool:
    """CONSTANT.format(quoted(...), ...): a statement that binds no parameters (LOAD, ATTACH), its values
    written as literals by the one quoting function."""
    return (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format"
            and isinstance(arg.func.value, ast.Name) and arg.func.value.id in constants and not arg.keywords
            and all(isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "quoted"
                    for a in arg.args))


def _statement_functions(tree: ast.Module) -> set[str]:
    """Module functions named *_statement whose every return is a quoted format (or a join of them)."""
    constants = _constant_strings(tree)
    found = set()
    for func in tree.body:
        if not (isinstance(func, ast.FunctionDef) and func.name.endswith("_statement")):
            continue
        returns = [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]
        parts = [r.args[0].elt if _is_join(r) and isinstance(r.args[0], ast.GeneratorExp) else r for r in returns]
        if parts and all(_is_quoted_format(p, constants | {"attach"}) for p in parts):
            found.add(func.name)
    return found


def _is_safe_sql(arg: ast.expr, constants: set[str], statements: frozenset[str] = frozenset()) -> bool:
    """A literal, a module constant, the text of a shipped SQL file, a quoted format, or the result of one
    of the module's *_statement functions; never text built from values."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return True
    if isinstance(arg, ast.Name) and arg.id in constants:
        return True
    if _is_quoted_format(arg, constants):
        return True
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in statements:
        return True
    return (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "read_text")


def _sql_built_in_functions(tree: ast.Module) -> list[int]:
    """Lines inside functions where text holding SQL words is formatted or concatenated."""
    keywords = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WHERE ", "DROP ", "CREATE ")
    lines = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            built = (isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp)
                     and isinstance(node.op, (ast.Mod, ast.Add)))
                     or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                         and node.func.attr == "format"))
            if built and any(k in ast.unparse(node).upper() for k in keywords):
                lines.append(node.lineno)
    return lines


STORAGE_FILES = sorted(Path(warehouse.__file__).parent.glob("*.py"))


def test_the_storage_door_is_the_package_and_scanned_whole() -> None:
    assert {p.name for p in STORAGE_FILES} >= {"lake.py", "connect.py", "read.py", "write.py", "upkeep.py",
                                                "upgrade.py", "shell.py"}
    project = Path(warehouse.__file__).parent.parent
    outside = [str(p.relative_to(project)) for folder in ("flows", "tasks", "config", "bench")
               for p in (project / folder).rglob("*.py") if "duckdb.connect(" in p.read_text(encoding="utf-8")]
    assert outside == [], f"only warehouse/ opens DuckDB: {outside}"


@pytest.mark.parametrize("path", STORAGE_FILES, ids=lambda p: p.name)
def test_storage_builds_no_sql_from_values(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lake_tree = ast.parse((Path(warehouse.__file__).parent / "lake.py").read_text(encoding="utf-8"))
    constants = _constant_strings(tree) | _constant_strings(lake_tree)  # lake.py's constants are imported
    statements = frozenset(_statement_functions(tree) | _statement_functions(lake_tree))
    calls = _sql_arguments(tree)
    unsafe = [line for line, arg in calls if not _is_safe_sql(arg, constants, statements)]
    assert unsafe == [], f"SQL built at run time on lines {unsafe} of {path}"
    built = _sql_built_in_functions(tree)
    assert built == [], f"SQL formatted inside functions on lines {built} of {path}"


def test_the_scan_sees_the_storage_queries() -> None:
    calls = sum(len(_sql_arguments(ast.parse(p.read_text(encoding="utf-8")))) for p in STORAGE_FILES)
    assert calls >= 40, "the scan must see the package's queries"
    tree = ast.parse((Path(warehouse.__file__).parent / "lake.py").read_text(encoding="utf-8"))
    assert _statement_functions(tree) == {"load_statement", "attach_statement", "turn_statement"}


def test_quoted_literals_keep_hostile_paths_whole(tmp_path: Path) -> None:
    """Paths (which LOAD and ATTACH cannot bind) with quotes and SQL in them name exactly that file."""
    folder = tmp_path / "it's; DROP TABLE x; --"
    folder.mkdir()
    con = connect.connect(folder / "cat'alog.sqlite")
    write.begin_run(con, "run-1", None, DROP)
    con.close()
    assert sorted(p.name for p in folder.iterdir()) == ["cat'alog.sqlite", "cat'alog.sqlite.files",
                                                          "cat'alog.sqlite.lock"]
    with warehouse.open_warehouse(folder / "cat'alog.sqlite") as con:
        assert con.execute("SELECT sources FROM runs").fetchall() == [(DROP,)]
    assert lake.quoted("a'b") == "'a''b'"
    with pytest.raises(lake.WarehouseError):
        lake.quoted("nul\x00")


@pytest.mark.parametrize("snippet, safe", [
    ('con.execute(f"SELECT * FROM t WHERE a = {x}")', False),
    ('con.execute("SELECT * FROM t WHERE a = %s" % x)', False),
    ('con.execute("SELECT {}".format(x))', False),
    ('con.execute("SELECT " + x)', False),
    ('con.executemany(SQL_INSERT, rows)', True),
    ('con.execute("COMMIT")', True),
])
def test_the_sql_scan_can_fail(snippet: str, safe: bool) -> None:
    module = ("COLUMNS = ('a', 'b')\nSQL_INSERT = f\"INSERT INTO t ({', '.join(COLUMNS)}) VALUES (?, ?)\"\n"
              f"def write(con, x, rows):\n    {snippet}\n")
    tree = ast.parse(module)
    constants = _constant_strings(tree)
    assert constants == {"COLUMNS", "SQL_INSERT"}
    verdicts = [_is_safe_sql(arg, constants) for _, arg in _sql_arguments(tree)]
    assert verdicts == [safe]
    assert bool(_sql_built_in_functions(tree)) is not safe


def test_module_level_sql_from_run_time_values_is_not_constant() -> None:
    tree = ast.parse("import os\nSQL = f\"SELECT * FROM t WHERE a = '{os.environ['A']}'\"\n"
                     "def read(con):\n    return con.execute(SQL)\n")
    assert _constant_strings(tree) == set()
    assert [_is_safe_sql(arg, set()) for _, arg in _sql_arguments(tree)] == [False]

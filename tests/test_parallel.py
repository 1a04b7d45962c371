"""The process pool, and dedup reading only the stored articles a batch can match, change no result."""

from __future__ import annotations

import copy
import functools
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from config.settings import WORKERS_ENV, CleanSettings, ConfigError, DedupSettings, SummarySettings, TagSettings, load_settings
from flows.stages import PREPARED_FIELDS, story_calls, without_raw
from tasks import s2_clean as clean
from tasks import s3_fingerprint as fingerprint
from tasks import s4_dedup as dedup
from flows import pool as parallel
from tasks import s7_stories as stories
from tasks import s5_summarise as summarise
from tasks import s6_tag as tag
from tasks.text.hashing import sha256_hex as content_hash
from tasks.records import Article, CleanedArticle, RawDocument, RunCounts
from warehouse import connect, read, write

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MEDIA = {".html": "text/html", ".md": "text/markdown", ".txt": "text/plain"}
WORKERS = 2


def _documents() -> list[RawDocument]:
    """Every recorded cleaning and dedup input and the seeds, each also as a variant with other bytes,
    plus inputs that are rejected: enough for several chunks of mixed outcomes."""
    files = sorted([*(DATA / "clean").iterdir(), *(DATA / "dedup").iterdir(), *(ROOT / "seeds").iterdir()])
    docs = []
    for round_ in range(2):
        for path in files:
            raw = path.read_bytes() + (b"\n\nEdition two." if round_ else b"")
            docs.append(RawDocument(source="test", locator=f"{round_}/{path.name}", content_hash=content_hash(raw),
                                    raw=raw, media_type=MEDIA.get(path.suffix, "text/plain")))
    for raw in (b"", b"too short", b"\x00\x01binary"):
        docs.append(RawDocument(source="test", locator=f"bad/{raw!r}", content_hash=content_hash(raw), raw=raw,
                                media_type="text/plain"))
    return docs


@pytest.fixture(scope="module")
def pool_mapper():
    """map_chunks forced onto two worker processes, whatever the batch size; the pool stops afterwards."""
    yield functools.partial(parallel.map_chunks, workers=WORKERS, min_items=0)
    parallel.shutdown()


def test_clean_gives_the_same_articles_and_rejects_with_and_without_the_pool(pool_mapper) -> None:
    docs = _documents()
    assert len(parallel.chunked(docs, WORKERS)) > WORKERS, "the batch must span several chunks"
    here_kept, here_rejects = clean.clean_documents(docs, CleanSettings())
    pool_kept, pool_rejects = clean.clean_documents(docs, CleanSettings(), pool_mapper)
    assert [d.locator for d, _ in pool_kept] == [d.locator for d, _ in here_kept]
    assert [c for _, c in pool_kept] == [c for _, c in here_kept]
    assert pool_rejects == here_rejects
    assert here_kept and len(here_rejects) >= 3


def test_later_stages_give_the_same_results_with_and_without_the_pool(pool_mapper) -> None:
    kept, _ = clean.clean_documents(_documents(), CleanSettings())
    taxonomy = tag.load_taxonomy(ROOT / "config" / "issues.toml")
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    runs = []
    for workers in (1, WORKERS):
        articles = [Article(article_id=d.content_hash[:16], doc=d, cleaned=c) for d, c in kept]
        options = {"workers": workers, "min_items": 0, "send": without_raw}
        parallel.update_in_place(fingerprint.prepare, articles, DedupSettings(), fields=PREPARED_FIELDS, **options)
        dedup.assign(articles, [], DedupSettings(), now)
        parallel.update_in_place(summarise.summarise_articles, articles, SummarySettings(), fields=("summary",),
                                 **options)
        parallel.update_in_place(tag.tag_articles, articles, taxonomy, TagSettings(), fields=("tags",), **options)
        runs.append(articles)
    here, pooled = runs
    for a, b in zip(here, pooled, strict=True):
        assert (a.word_count, a.text_hash, a.minhash, a.facts, a.story_terms) == (b.word_count, b.text_hash,
                                                                                   b.minhash, b.facts, b.story_terms)
        assert b.facts is not None
        assert (a.duplicate_of, a.story_id, a.summary, a.tags) == (b.duplicate_of, b.story_id, b.summary, b.tags)
    assert any(a.duplicate_of for a in here), "the variants are duplicates of their originals"


def test_stories_split_over_workers_add_up_to_the_whole_batch() -> None:
    kept, _ = clean.clean_documents(_documents(), CleanSettings())
    articles = [Article(article_id=d.content_hash[:16], doc=d, cleaned=c) for d, c in kept]
    dedup.assign(articles, [], DedupSettings(), datetime(2025, 6, 1, tzinfo=timezone.utc))
    whole = stories.build_stories(articles, [], 3)
    calls = story_calls(articles, [], 3, WORKERS, min_items=2)
    assert len(calls) > 1
    parts = [story for part in parallel.starmap(stories.build_stories, calls, workers=WORKERS) for story in part]
    parallel.shutdown()
    assert parts == whole


_UNPICKLED = 0  # in each process: how many Marker objects it has unpickled


def _new_marker() -> Marker:
    global _UNPICKLED
    _UNPICKLED += 1
    return Marker()


class Marker:
    """An argument that counts, in each process, how often it arrived."""

    def __reduce__(self) -> tuple:
        return _new_marker, ()


def _arrivals(chunk: list[int], marker: Marker) -> list[tuple[int, int]]:
    return [(os.getpid(), _UNPICKLED) for _ in chunk]


def test_the_arguments_chunks_share_reach_each_worker_once_and_their_file_is_removed(
        pool_mapper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    items = list(range(200))
    assert len(parallel.chunked(items, WORKERS)) >= 2 * WORKERS
    seen = pool_mapper(_arrivals, items, Marker())
    assert len(seen) == len(items)
    workers = {pid for pid, _ in seen}
    assert os.getpid() not in workers, "the chunks ran in worker processes"
    for pid in workers:  # pickled with every chunk, a worker would count one arrival per chunk
        assert {count for p, count in seen if p == pid} == {1}
    assert list(tmp_path.iterdir()) == []


def test_chunks_keep_order_and_cover_every_item() -> None:
    items = list(range(1000))
    chunks = parallel.chunked(items, 2)
    assert [i for chunk in chunks for i in chunk] == items
    assert max(len(c) for c in chunks) <= parallel.MAX_CHUNK and len(chunks) >= 2 * parallel.CHUNKS_PER_WORKER
    assert parallel.chunked([], 2) == [] and parallel.chunked([1, 2, 3], 8) == [[1], [2], [3]]


def test_small_batches_and_one_worker_stay_in_this_process() -> None:
    def local(chunk: list[int]) -> list[int]:  # not picklable: would fail in a worker process
        return [x * 2 for x in chunk]

    assert parallel.map_chunks(local, list(range(5)), workers=WORKERS) == [0, 2, 4, 6, 8]
    assert parallel.map_chunks(local, list(range(100)), workers=1) == [x * 2 for x in range(100)]


def test_worker_count_is_the_configured_one_else_the_cpus() -> None:
    assert parallel.worker_count(3) == 3
    assert parallel.worker_count(0) == parallel.worker_count() >= 1


def test_the_environment_overrides_the_configured_workers_when_the_config_is_read(
        write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    """$NEWSDESK_WORKERS is read where the config is read (config/settings.py), not by the pool."""
    cfg = write_config("[parallel]\nworkers = 2\n")
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert load_settings(cfg).parallel.workers == 2
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert load_settings(cfg).parallel.workers == 3
    monkeypatch.setenv(WORKERS_ENV, "none")
    with pytest.raises(ConfigError, match=r"\$NEWSDESK_WORKERS: expected a whole number of at least 1, got 'none'"):
        load_settings(cfg)


def test_dedup_against_the_probed_stored_articles_decides_as_against_all(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read, "PROBE_MAX_SHARE", 1.0)  # read the picked rows by id even when they are many
    settings = DedupSettings()
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    kept, _ = clean.clean_documents(_documents(), CleanSettings())
    articles = [Article(article_id=d.content_hash[:16], doc=d, cleaned=c) for d, c in kept]
    originals = [a for a in articles if a.doc.locator.startswith("0/")]
    variants = [a for a in articles if a.doc.locator.startswith("1/")]
    stored, batch = originals + variants[:3], variants[3:6]  # stored: originals and a few near copies
    dedup.assign(stored, [], settings, now)
    con = connect.connect(tmp_path / "catalog.sqlite")
    write.begin_run(con, "run-1", None, "test")
    write.write_run(con, "run-1", stored, [], [], RunCounts(new_articles=len(stored)))
    with_url = next(a for a in stored if a.cleaned.canonical_url and not a.duplicate_of)
    batch.append(Article(article_id="url-copy", doc=with_url.doc, cleaned=CleanedArticle(
        title="Another headline", text="A different text entirely, " * 10,
        canonical_url=with_url.cleaned.canonical_url)))
    batch.append(Article(article_id=stored[0].article_id, doc=stored[0].doc, cleaned=stored[0].cleaned))  # itself
    fingerprint.prepare(batch, settings)
    later = now + timedelta(days=1)  # no stored article in the story window: only matches are probed
    decided = []
    for probe in (None, dedup.known_probe(batch, settings)):
        known = read.load_known_articles(con, later, probe)
        articles = copy.deepcopy(batch)
        dedup.assign(articles, known, settings, now)
        decisions = [(a.duplicate_of, a.duplicate_kind, a.similarity, a.story_id) for a in articles]
        decided.append((decisions, len(known)))
    con.close()
    (everything, stored_count), (probed, probed_count) = decided
    assert probed == everything
    assert probed_count < stored_count == len(stored)
    kinds = {kind for _, kind, _, _ in everything}
    assert {"exact", "url", "near"} <= kinds, kinds


def _use_the_pool_and_return() -> None:
    """A flow run as Prefect's runner makes one: a multiprocessing child that starts the pool and returns."""
    assert parallel.starmap(pow, [(2, 3), (3, 2), (4, 2)], workers=2) == [8, 9, 16]


def test_a_process_that_ran_on_the_pool_ends_when_its_work_does() -> None:
    # a served run is a multiprocessing child: no atexit hook runs there, and multiprocessing waits for
    # every child process of it at exit, the pool's workers included, unless the pool was shut down
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_use_the_pool_and_return)
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
        child.join()
    assert not alive and child.exitcode == 0, "the run's process waited for its pool's workers"

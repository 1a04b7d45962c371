"""Finds new inputs in folder and file sources, skipping what is already stored before any parsing."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import DiscoverSettings, SourceSettings, path_rule
from tasks.records import InputCopy, RawDocument, Reject
from tasks.text.hashing import sha256_hex

LOGGER = logging.getLogger(__name__)
MEDIA_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
               ".html": "text/html", ".htm": "text/html", ".xhtml": "text/html"}
# A saved feed: its first bytes open an RSS, RDF or Atom document (after a declaration, stylesheet
# instructions, comments or a doctype).
FEED_SNIFF_BYTES = 2048
JSON_FEED_SNIFF_BYTES = 1 << 20  # a JSON Feed's "version" may come after its items
FEED_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?"
                        rb"(?:<!--.*?-->\s*|<\?xml-stylesheet[^>]*>\s*|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>\s*)*"
                        rb"<(?:rss|feed|rdf:RDF)\b", re.DOTALL | re.IGNORECASE)
# A saved JSON Feed: a JSON object whose "version" is the format's URL (jsonfeed.org/version/1, /1.1).
JSON_FEED_START = re.compile(rb'^(?:\xef\xbb\xbf)?\s*\{.*?"version"\s*:\s*"https?://jsonfeed\.org/version/',
                             re.DOTALL)
FEED_FILE_WHAT_TO_DO = ("feeds are read from their http(s) URL (name the URL with --source, or add it to [[sources]] "
                        "as a feed)")


@dataclass
class Discovery:
    """A batch of new inputs, plus the rejects, the copies and the inputs already known."""

    documents: list[RawDocument] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    discovered: int = 0
    skipped: int = 0
    copies: list[InputCopy] = field(default_factory=list)  # the bytes of an input read earlier in this run
    known: list[tuple[str, str, str]] = field(default_factory=list)  # (source, locator, hash): bytes stored before
    # (locator, reason) of the rejects said again: a configured path still missing, recorded at every run
    said_before: set[tuple[str, str]] = field(default_factory=set)
    passed_over: Counter[str] = field(default_factory=Counter)  # files of other extensions in folders, by extension
    missing: list[Reject] = field(default_factory=list)  # configured paths that are not there (also in rejects)

    def passed_over_line(self, extensions: tuple[str, ...]) -> str | None:
        """One line on the folder files not read for their extension, or None when there are none."""
        if not self.passed_over:
            return None
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.passed_over.items(), key=lambda kv: (-kv[1], kv[0])))
        total = sum(self.passed_over.values())
        return (f"{total} file(s) in source folders not read for their extension ({kinds}; "
                f"[discover] extensions: {', '.join(extensions)})")


def _locator(path: Path) -> str:
    """The path as storable text: bytes of a file name that are not UTF-8 are written as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _walk(root: Path, extensions: tuple[str, ...],
          passed_over: Counter[str]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under root with a wanted extension, sorted; links leading outside root are refused. Files of
    other extensions are counted in passed_over by extension (a scraper's .json beside each page, a saved
    page's .css and .png: not inputs, but said in the run's log); hidden files and folders are passed over."""
    wanted = {e.lower() for e in extensions}
    found: list[Path] = []
    refused: list[tuple[Path, str]] = []
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.suffix.lower() not in wanted:
                passed_over[path.suffix.lower() or "no extension"] += 1
                continue
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
                    refused.append((path, "symbolic link loop: the link leads back to itself (not followed)"))
                    continue
                if not target.is_relative_to(real_root):
                    refused.append((path, "symbolic link pointing outside the source folder (not followed)"))
                    continue
            found.append(path)
    return found, refused


def _read(path: Path, source: str, limit: int, tags: tuple[str, ...] = ()) -> RawDocument | Reject:
    """Read one file within the size limit, or say in one line why it cannot be used."""
    locator = _locator(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            return Reject(source, locator, "not a regular file")
        if size > limit:
            return Reject(source, locator, f"file too large: {size:,} bytes (limit {limit:,})")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        return Reject(source, locator, f"unreadable: {exc.strerror or exc.__class__.__name__}")
    if len(raw) > limit:
        return Reject(source, locator, f"file too large: over {limit:,} bytes")
    if FEED_START.search(raw[:FEED_SNIFF_BYTES]):  # whatever its name: a feed is not an article
        return Reject(source, locator, f"an RSS/Atom feed file: {FEED_FILE_WHAT_TO_DO}")
    if JSON_FEED_START.match(raw, 0, JSON_FEED_SNIFF_BYTES):  # anchored: other files fail at their first byte
        return Reject(source, locator, f"a JSON Feed file: {FEED_FILE_WHAT_TO_DO}")
    media_type = MEDIA_TYPES.get(path.suffix.lower(), "text/plain")
    return RawDocument(source=source, locator=locator, content_hash=sha256_hex(raw), raw=raw,
                       media_type=media_type, default_tags=tags)


def split_copies(documents: list[RawDocument]) -> tuple[list[RawDocument], list[InputCopy]]:
    """The documents with distinct bytes, in order, and the later ones that repeat an earlier one's bytes
    (a file and a feed page can carry the same bytes)."""
    first: dict[str, RawDocument] = {}
    copies: list[InputCopy] = []
    for doc in documents:
        if doc.content_hash in first:
            copies.append(InputCopy(doc.source, doc.locator, doc.content_hash, first[doc.content_hash].locator))
        else:
            first[doc.content_hash] = doc
    return list(first.values()), copies


def discover_files(sources: list[SourceSettings], settings: DiscoverSettings, known_hashes: set[str],
                   known_rejects: set[tuple[str, str]], said_last_run: set[tuple[str, str]] | None = None) -> Discovery:
    """List the new inputs of folder and file sources, in a stable order. A configured path that is missing
    is said at every run; it is news (not in said_before) unless the last run said it too (said_last_run)."""
    result = Discovery()
    read: set[str] = set()
    missing: list[Reject] = []  # configured paths that are not there: said at every run, never "seen before"
    for src in sources:
        if not src.enabled or src.kind not in ("folder", "file") or src.path is None:
            continue
        if src.kind == "folder":
            if not src.path.is_dir():
                why = ('source folder is a file (make the source kind = "file")' if src.path.is_file()
                       else f"source folder does not exist ({path_rule()})")
                missing.append(Reject(src.name, _locator(src.path), why))
                continue
            paths, refused = _walk(src.path, settings.extensions, result.passed_over)
        elif not src.path.exists():
            missing.append(Reject(src.name, _locator(src.path), f"file does not exist ({path_rule()})"))
            continue
        else:
            paths, refused = [src.path], []
        result.discovered += len(refused)  # found in the folder, and refused: counted as found
        result.rejects.extend(Reject(src.name, _locator(p), why) for p, why in refused)
        for path in paths:
            locator = _locator(path)
            if locator in read:  # in two sources (overlapping folders): one input, read once
                continue
            read.add(locator)
            result.discovered += 1
            item = _read(path, src.name, settings.max_file_bytes, tuple(src.tags))
            if isinstance(item, Reject):
                result.rejects.append(item)
            elif item.content_hash in known_hashes:
                result.skipped += 1
                result.known.append((item.source, item.locator, item.content_hash))
            else:
                result.documents.append(item)
    result.documents, result.copies = split_copies(result.documents)
    seen: set[tuple[str, str]] = set()
    once = []  # the first of each input's rejects for one reason, in order
    for reject in result.rejects:
        if (reject.locator, reject.reason) not in seen:
            seen.add((reject.locator, reject.reason))
            once.append(reject)
    result.skipped += len(result.rejects) - len(once)
    result.rejects = once
    fresh = [r for r in result.rejects if (r.locator, r.reason) not in known_rejects]
    result.skipped += len(result.rejects) - len(fresh)
    result.missing = list({(r.locator, r.reason): r for r in missing}.values())
    result.rejects = result.missing + fresh
    result.said_before = {(r.locator, r.reason) for r in missing} & (said_last_run or set())
    return result

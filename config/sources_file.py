"""Adds [[sources]] tables to a pipeline config's text, keeping every comment and the layout of the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tomlkit
from tomlkit.items import AoT, Array, Table


def _table(values: Mapping[str, object]) -> Table:
    table = tomlkit.table()
    for key, value in values.items():
        table.add(key, value)
    table.trivia.indent = "\n"  # a blank line before each new [[sources]] header
    return table


def append_sources(text: str, sources: Sequence[Mapping[str, object]]) -> str:
    """The config text with one [[sources]] table per entry added after the configured sources (or
    at the end when there are none); everything already there is kept as it was written."""
    if not sources:
        return text
    doc = tomlkit.parse(text)
    existing = doc.get("sources")
    if isinstance(existing, Array):  # written as sources = [{...}, ...]: add inline tables to it
        for values in sources:
            inline = tomlkit.inline_table()
            inline.update(values)
            existing.append(inline)
        return tomlkit.dumps(doc)
    tables = existing if isinstance(existing, AoT) else tomlkit.aot()
    for values in sources:
        tables.append(_table(values))
    if not isinstance(existing, AoT):
        doc.append("sources", tables)
    elif list(doc.keys())[-1] != "sources":  # more tables follow: keep a blank line before them
        tables[-1].add(tomlkit.nl())
    return tomlkit.dumps(doc)

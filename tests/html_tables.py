"""Read the HTML summaries back: the tables of a document, as rows of cell texts."""

from __future__ import annotations

import math
from html.parser import HTMLParser


class Tables(HTMLParser):
    """Every ``<table>`` of a document as rows of cell texts, and its caption."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.captions: list[str | None] = []  # None: the table of facts
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
            facts = "crmscore-facts" in (dict(attrs).get("class") or "")
            self.captions.append(None if facts else "")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "caption" and self._caption is not None:
            self.captions[-1] = "".join(self._caption)
            self._caption = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._caption):
            if part is not None:
                part.append(data)

    def facts(self) -> dict[str, str]:
        """The first table (name, value) as a dict."""
        return {row[0]: row[1] for row in self.tables[self.captions.index(None)]}

    def rows(self, caption: str) -> dict[str, list[str]]:
        """Body rows of the table with this caption, by their first cell (the index)."""
        table = self.tables[self.captions.index(caption)]
        return {row[0]: row[1:] for row in table if row and row[0] and any(row[1:])}


def number(text: str) -> float:
    return math.nan if text == "-" else float(text.replace(",", ""))

"""MkDocs hook: render the pages' TeX as MathML while the site is built.

``pymdownx.arithmatex`` (generic mode) leaves each equation as TeX in
``<span class="arithmatex">\\(...\\)</span>`` (inline) or
``<div class="arithmatex">\\[...\\]</div>`` (display). This replaces each with the
MathML that ``latex2mathml`` converts it to, which browsers draw natively: the site
needs no MathJax, no script and no network to show its equations. A formula the
converter cannot read fails the build.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from latex2mathml.converter import convert

if TYPE_CHECKING:
    from mkdocs.structure.pages import Page

ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*'
    r"(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<display>.*?)\\\])"
    r"\s*</(?P=tag)>",
    re.DOTALL,
)


def to_mathml(match: re.Match[str]) -> str:
    """The MathML of one arithmatex element (its TeX is HTML-escaped)."""
    display = match.group("display")
    tex = html.unescape(display if display is not None else match.group("inline"))
    mathml = convert(tex.strip(), display="block" if display is not None else "inline")
    if re.search(r"\\[A-Za-z]", mathml):
        raise ValueError(f"latex2mathml left a TeX command in {tex!r}: {mathml}")
    return f'<{match.group("tag")} class="arithmatex">{mathml}</{match.group("tag")}>'


def on_page_content(content: str, *, page: Page, **_kwargs: Any) -> str:
    try:
        return ARITHMATEX.sub(to_mathml, content)
    except ValueError as error:
        raise ValueError(f"{page.file.src_uri}: {error}") from error

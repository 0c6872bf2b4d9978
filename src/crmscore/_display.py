"""Short reprs and HTML tables of crmscore's values, for notebooks and logs (private).

Every class that shows itself as a summary builds it here, so all of them look
alike: ``Name(field=value, ...)`` as text, and as HTML a title, a table of facts and
titled tables, every text HTML-escaped. Callers pass settings, parameters and counts
only: per-customer data (ids, scores, events) never reaches these functions.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pandas as pd

__all__ = ["html_block", "html_table", "short_repr", "value_text"]


def value_text(value: object) -> str:
    """Format one value for a repr: floats with 6 significant digits, the rest by repr."""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else repr(value)
    if isinstance(value, tuple) and len(value) > 6:
        return f"<{len(value)} values>"
    return repr(value)


def short_repr(name: str, fields: Iterable[tuple[str, object]]) -> str:
    """Return ``name(key=value, ...)`` over the given fields, values by :func:`value_text`."""
    return f"{name}({', '.join(f'{key}={value_text(value)}' for key, value in fields)})"


_SCROLL_BOX = "max-width:100%;overflow-x:auto"
_TEXT_CELL = "white-space:normal;overflow-wrap:break-word"


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if math.isfinite(value) else "-"
    return str(value)


def html_table(frame: pd.DataFrame, *, caption: str | None = None, index: bool = True) -> str:
    """Render a small frame as an HTML table (escaped; floats with 6 significant digits)."""
    body = frame.to_html(
        index=index,
        border=0,
        escape=True,
        na_rep="-",
        float_format=lambda v: f"{v:,.6g}",
        classes="crmscore-table",
    )
    if caption:
        head, _, rest = body.partition(">")
        body = f"{head}><caption>{html.escape(caption)}</caption>{rest}"
    # A table wider than the notebook scrolls inside its own box instead of pushing
    # the output area sideways; text cells wrap.
    body = body.replace("<td>", f'<td style="{_TEXT_CELL}">')
    return f'<div style="{_SCROLL_BOX}">{body}</div>'


def html_block(
    title: str,
    *,
    facts: Sequence[tuple[str, Any]] = (),
    tables: Sequence[tuple[str, pd.DataFrame]] = (),
) -> str:
    """Render a titled summary: a table of facts, then each table with its caption."""
    parts = [f'<div class="crmscore-summary"><p><strong>{html.escape(title)}</strong></p>']
    if facts:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(_cell(value))}</td></tr>"
            for name, value in facts
        )
        parts.append(f'<table class="crmscore-facts" border="0">{rows}</table>')
    parts.extend(html_table(frame, caption=caption) for caption, frame in tables)
    parts.append("</div>")
    return "".join(parts)

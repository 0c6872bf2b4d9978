"""docs/policy.md runs: every snippet, in order, in one namespace (they assert the numbers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parents[1] / "docs" / "policy.md"


def snippets() -> list[str]:
    """The ```python blocks of the page, in order."""
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_a_snippet_per_section() -> None:
    assert len(snippets()) >= 10


def test_every_snippet_of_the_policy_page_runs() -> None:
    namespace: dict[str, Any] = {"__name__": "policy_page"}
    for number, code in enumerate(snippets(), start=1):
        exec(compile(code, f"{PAGE.name}, snippet {number}", "exec"), namespace)
    assert "book" in namespace  # the snippets share their setup

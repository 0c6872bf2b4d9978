"""The notebook runner of the docs (docs/hooks/notebooks.py) on small notebooks.

The docs' own notebooks run in the docs build (``mkdocs build --strict`` in
``.ci/run``); here the runner itself: cells, outputs, the .ipynb, and a warning or an
error failing the build.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

HOOK = Path(__file__).resolve().parents[1] / "docs" / "hooks" / "notebooks.py"


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_hook", HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTEBOOK = """\
# %% [markdown]
# # Title
#
# Some *text*.

# %%
import pandas as pd

frame = pd.DataFrame({"a": [1, 2]})
print("rows", len(frame))
frame

# %%
total = int(frame["a"].sum())
"""


def test_cells_outputs_page_and_ipynb(hook: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "small.py"
    path.write_text(NOTEBOOK, encoding="utf-8")
    assert hook.cells(NOTEBOOK)[0] == ("markdown", "# Title\n\nSome *text*.")
    executed = hook.execute(path)
    assert [kind for kind, _, _ in executed] == ["markdown", "code", "code"]
    stream, value = executed[1][2]
    assert stream == {"output_type": "stream", "name": "stdout", "text": "rows 2\n"}
    assert "<table" in value["data"]["text/html"]  # the DataFrame's own HTML
    assert executed[2][2] == []  # an assignment shows nothing
    text, figures = hook.page("small", executed)
    assert figures == []
    assert "[small.ipynb](small.ipynb)" in text
    assert "```text\nrows 2\n```" in text
    notebook = json.loads(hook.notebook_json(executed))
    assert notebook["nbformat"] == 4
    assert [c["cell_type"] for c in notebook["cells"]] == ["markdown", "code", "code"]
    assert notebook["cells"][1]["outputs"] == executed[1][2]
    assert notebook["cells"][2]["execution_count"] == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("import warnings\nwarnings.warn('stale', DeprecationWarning)", DeprecationWarning),
        ("1 / 0", ZeroDivisionError),
    ],
)
def test_a_cell_that_warns_or_raises_fails_the_build(
    hook: ModuleType, code: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        hook.run_cell(code, {}, where="test")


def test_text_before_the_first_cell_is_an_error(hook: ModuleType) -> None:
    with pytest.raises(ValueError, match="before the first"):
        hook.cells("import os\n# %%\nx = 1\n")

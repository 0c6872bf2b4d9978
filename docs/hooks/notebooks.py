"""MkDocs hook: execute the notebooks of docs/notebooks/ and add them to the site.

A notebook is a Python file in the jupytext "percent" format: ``# %% [markdown]``
cells (every line a comment) and ``# %%`` code cells, so it is reviewed, linted and
diffed as code, and runs as a plain script. On every build each notebook runs here,
cell by cell, in one namespace, as a kernel would: what a cell prints, the value of
its last expression (as HTML when it has ``_repr_html_``, like a DataFrame or a
fitted model) and the matplotlib figures it draws become its outputs. The hook adds
to the site, for ``docs/notebooks/<name>.py``:

- ``notebooks/<name>.md``: the page (code, then its outputs);
- ``notebooks/<name>.ipynb``: the executed notebook (nbformat 4), to download;
- ``notebooks/<name>-<n>.png``: the figures.

Nothing is written into ``docs/``, nothing is fetched: the site stays offline. A
cell that raises, or warns (warnings are errors here, as in the tests), fails the
build, so a notebook cannot rot: ``.ci/run`` builds the docs with ``--strict``.
The standard library does all of it (no Jupyter, no kernel, no CDN assets).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs.structure.files import File

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
log = logging.getLogger("mkdocs.hooks.notebooks")

Output = dict[str, Any]  # an nbformat 4 output


def cells(source: str) -> list[tuple[str, str]]:
    """Split a percent-format file into ``(kind, text)`` cells, kind markdown or code."""
    found: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            found.append(("markdown" if "[markdown]" in line else "code", []))
        elif found:
            found[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"Text before the first '# %%' cell marker: {line!r}")
    result = []
    for kind, lines in found:
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)
        else:
            text = "\n".join(lines)
        text = text.strip("\n")
        if text:
            result.append((kind, text))
    return result


def _figures() -> list[bytes]:
    import matplotlib.pyplot as plt  # noqa: PLC0415 (only when a notebook draws)

    pngs = []
    for number in plt.get_fignums():
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", dpi=90)
        pngs.append(buffer.getvalue())
    plt.close("all")
    return pngs


def run_cell(code: str, namespace: dict[str, Any], *, where: str) -> list[Output]:
    """Execute one code cell; return its outputs (stream, value, figures)."""
    tree = ast.parse(code, filename=where)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), warnings.catch_warnings():
        _warnings_as_errors()
        exec(compile(tree, where, "exec"), namespace)
        value = (
            eval(compile(ast.Expression(last.value), where, "eval"), namespace)
            if last is not None
            else None
        )
    outputs: list[Output] = []
    if stdout.getvalue():
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout.getvalue()})
    if value is not None and not _is_artist(value):
        data = {"text/plain": repr(value)}
        if callable(getattr(value, "_repr_html_", None)):
            data["text/html"] = value._repr_html_()
        outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    if "matplotlib.pyplot" in sys.modules:
        for png in _figures():
            data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"}
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    return outputs


def _warnings_as_errors() -> None:
    """Every warning fails the build, except lifetimes' own (pyproject's pytest filters)."""
    warnings.simplefilter("error")
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"lifetimes\.")
    warnings.filterwarnings(
        "ignore", "pkg_resources is deprecated", UserWarning, r"lifetimes\.datasets"
    )


def _is_artist(value: object) -> bool:
    """A matplotlib object (the figure shows it; its repr would be noise)."""
    return type(value).__module__.startswith("matplotlib")


def execute(path: Path) -> list[tuple[str, str, list[Output]]]:
    """Run every cell of a notebook in order; ``(kind, text, outputs)`` per cell."""
    namespace: dict[str, Any] = {"__name__": f"notebook_{path.stem}"}
    done = []
    for n, (kind, text) in enumerate(cells(path.read_text(encoding="utf-8")), start=1):
        outputs = run_cell(text, namespace, where=f"{path}, cell {n}") if kind == "code" else []
        done.append((kind, text, outputs))
    return done


def page(name: str, executed: list[tuple[str, str, list[Output]]]) -> tuple[str, list[bytes]]:
    """The Markdown page of an executed notebook, and its figures in order."""
    parts: list[str] = []
    figures: list[bytes] = []
    for n, (kind, text, outputs) in enumerate(executed):
        if kind == "markdown":
            parts.append(text)
            if n == 0:  # after the title block: where to get the notebook
                parts.append(
                    f"*An executed notebook: download it as [{name}.ipynb]({name}.ipynb) "
                    f"(or the script [{name}.py]({name}.py)); the docs build runs it.*"
                )
            continue
        parts.append(f"```python\n{text}\n```")
        for output in outputs:
            if output["output_type"] == "stream":
                parts.append(f"```text\n{output['text'].rstrip()}\n```")
                continue
            data = output["data"]
            if "image/png" in data:
                figures.append(base64.b64decode(data["image/png"]))
                parts.append(f"![Figure {len(figures)}]({name}-{len(figures)}.png)")
            elif "text/html" in data:
                body = "\n".join(line for line in data["text/html"].splitlines() if line.strip())
                parts.append(f'<div class="notebook-output">\n{body}\n</div>')
            else:
                parts.append(f"```text\n{data['text/plain']}\n```")
    return "\n\n".join(parts) + "\n", figures


def notebook_json(executed: list[tuple[str, str, list[Output]]]) -> str:
    """The executed notebook in nbformat 4 (what Jupyter opens)."""
    nb_cells = []
    count = 0
    for kind, text, outputs in executed:
        source = text.splitlines(keepends=True)
        if kind == "markdown":
            nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": source})
            continue
        count += 1
        nb_cells.append(
            {
                "cell_type": "code",
                "execution_count": count,
                "metadata": {},
                "outputs": outputs,
                "source": source,
            }
        )
    notebook = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    for path in sorted(NOTEBOOKS.glob("*.py")):
        start = time.perf_counter()
        executed = execute(path)
        log.info("notebook %s executed in %.1f s", path.name, time.perf_counter() - start)
        name = path.stem
        text, figures = page(name, executed)
        files.append(File.generated(config, f"notebooks/{name}.md", content=text))
        files.append(
            File.generated(config, f"notebooks/{name}.ipynb", content=notebook_json(executed))
        )
        for n, png in enumerate(figures, start=1):
            files.append(File.generated(config, f"notebooks/{name}-{n}.png", content=png))
    return files


__all__ = ["cells", "execute", "notebook_json", "on_files", "page", "run_cell"]

"""MkDocs hook: draw the figures of docs/plots.md while the site is built.

No figure is committed. On every build this runs ``figures()`` of
``examples/plots_gallery.py`` (the same code the page shows, cut from it by
``pymdownx.snippets``) and adds each figure to the site as ``figures/<name>.png``,
rendered in memory: nothing is written into ``docs/``.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs.structure.files import File

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

GALLERY = Path(__file__).resolve().parents[2] / "examples" / "plots_gallery.py"


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    spec = importlib.util.spec_from_file_location("plots_gallery", GALLERY)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"The figure gallery {GALLERY} is missing.")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    for name, figure in gallery.figures().items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        files.append(File.generated(config, f"figures/{name}.png", content=buffer.getvalue()))
    return files

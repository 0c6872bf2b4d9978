"""The import graph of ``src/`` keeps its layers (read with ``ast``: nothing is imported).

The layers, lowest first (docs/development.md, "Layout"):

0. the ground floor: ``errors`` and the top-level private modules (``_validation``,
   ``_params``, ``_periods``, ``_ids``, ``_frames``, ``_purchases``, ``_groups``,
   ``_progress``, ``_display``, ``_events``, ...);
1. ``rfm``, and ``datasets`` (which needs only the ground floor);
2. ``clv``;
3. ``churn`` (the learned warning fits BG/NBD for its P(alive) feature);
4. ``tiering``;
5. ``actions`` (responses by tier and warning level);
6. ``rescoring``;
7. ``scaleout`` and ``plotting``;
8. ``crmscore/__init__.py``, which gathers the public names.

Two rules, checked for every import, including lazy imports inside functions and
imports under ``TYPE_CHECKING``:

a. a module imports only from its own unit (package or top-level module) or from a
   lower layer; the ground floor may import within itself;
b. no module imports another unit's underscore module (``crmscore.rfm._table`` from
   clv), nor an underscore name from another unit (``_factorize_sorted``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The units of each layer, lowest first. A new package must be placed here.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"<ground>"}),
    frozenset({"rfm", "datasets"}),
    frozenset({"clv"}),
    frozenset({"churn"}),
    frozenset({"tiering"}),
    frozenset({"actions"}),
    frozenset({"rescoring"}),
    frozenset({"scaleout", "plotting"}),
    frozenset({"<top>"}),
)
GROUND_PUBLIC = frozenset({"errors"})


class Import(NamedTuple):
    """One ``import crmscore...`` or ``from crmscore... import`` in a source file."""

    module: str  # the importing module, e.g. crmscore.churn.warning
    path: str  # its file, relative to the source root
    line: int
    target: str  # the imported module, e.g. crmscore.tiering
    names: tuple[str, ...]  # names of a from-import; () for a plain import

    def describe(self) -> str:
        if self.names:
            return f"from {self.target} import {', '.join(self.names)}"
        return f"import {self.target}"


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of a source file, and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def collect_imports(root: Path) -> list[Import]:
    """Every import of the ``crmscore`` package in the files under ``root``."""
    found: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        module, is_package = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = str(path.relative_to(root))
        for node in ast.walk(tree):  # every node: function bodies and TYPE_CHECKING too
            if isinstance(node, ast.Import):
                found.extend(
                    Import(module, relative, node.lineno, alias.name, ())
                    for alias in node.names
                    if alias.name.split(".")[0] == "crmscore"
                )
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:  # relative: resolve against the importing package
                    base = module.split(".")
                    if not is_package:
                        base.pop()
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, *([target] if target else [])])
                if target.split(".")[0] == "crmscore":
                    names = tuple(alias.name for alias in node.names)
                    found.append(Import(module, relative, node.lineno, target, names))
    return found


def unit_of(module: str) -> str:
    """The unit a module belongs to: its package, a top-level module, or a floor."""
    parts = module.split(".")
    if len(parts) == 1:
        return "<top>"
    head = parts[1]
    return "<ground>" if head.startswith("_") or head in GROUND_PUBLIC else head


def layer_of(unit: str) -> int | None:
    return next((number for number, units in enumerate(LAYERS) if unit in units), None)


def violations(imports: list[Import]) -> list[str]:
    """One message per broken rule, naming the file, line, module and import."""
    problems: list[str] = []
    for imp in imports:
        where = f"{imp.path}:{imp.line}: {imp.module}: `{imp.describe()}`"
        own, theirs = unit_of(imp.module), unit_of(imp.target)
        own_layer, their_layer = layer_of(own), layer_of(theirs)
        if own_layer is None or their_layer is None:
            unknown = own if own_layer is None else theirs
            problems.append(f"{where}: unit {unknown!r} has no layer; add it to LAYERS")
            continue
        if own == theirs:  # within a package, or within the ground floor
            continue
        if their_layer >= own_layer:
            problems.append(
                f"{where}: {theirs!r} (layer {their_layer}) is not below "
                f"{own!r} (layer {own_layer})"
            )
        private = [part for part in imp.target.split(".")[2:] if part.startswith("_")]
        if private and theirs != "<ground>":
            problems.append(f"{where}: imports the private module {imp.target} of {theirs!r}")
        hidden = [name for name in imp.names if name.startswith("_")]
        if hidden:
            problems.append(f"{where}: imports the private name(s) {hidden} of {theirs!r}")
    return problems


def test_src_keeps_its_layers() -> None:
    imports = collect_imports(SRC)
    assert len(imports) > 100  # the walk found the package's imports
    problems = violations(imports)
    assert not problems, "Imports against the layer order:\n" + "\n".join(problems)


def test_every_unit_has_a_layer_and_every_layer_a_unit() -> None:
    units = {unit_of(module_name(p, SRC)[0]) for p in SRC.rglob("*.py")}
    assert units == set().union(*LAYERS)


# --- the check itself can fail --------------------------------------------------------

CLEAN = {
    "crmscore/__init__.py": "from crmscore.rescoring import review\n",
    "crmscore/errors.py": "",
    "crmscore/_periods.py": "from crmscore.errors import InvalidDataError\n",
    "crmscore/rfm/__init__.py": "from crmscore.rfm._table import rfm_table\n",
    "crmscore/rfm/_table.py": "from crmscore._periods import to_periods\nfrom . import _x\n",
    "crmscore/rfm/_x.py": "",
    "crmscore/clv/__init__.py": "from crmscore.rfm import rfm_table\n",
    "crmscore/rescoring/__init__.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from crmscore.tiering import TierScheme\n"
    ),
    "crmscore/tiering/__init__.py": "",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_clean_graph_passes(tmp_path: Path) -> None:
    _write(tmp_path, CLEAN)
    imports = collect_imports(tmp_path)
    assert len(imports) == 7
    assert violations(imports) == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(  # upwards, at module level
            "crmscore/churn/warning.py",
            "import attrs\n\nfrom crmscore.tiering import POLICY_TIERS\n",
            "crmscore/churn/warning.py:3: crmscore.churn.warning: "
            "`from crmscore.tiering import POLICY_TIERS`: 'tiering' (layer 4) is not below "
            "'churn' (layer 3)",
            id="upwards",
        ),
        pytest.param(  # upwards, lazily inside a function
            "crmscore/rfm/_table.py",
            "def f():\n    from crmscore.scaleout import rfm_table_dask\n",
            "crmscore/rfm/_table.py:2: crmscore.rfm._table: "
            "`from crmscore.scaleout import rfm_table_dask`: 'scaleout' (layer 7)",
            id="lazy",
        ),
        pytest.param(  # upwards, for the type checker only
            "crmscore/clv/holdout.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import crmscore.plotting\n",
            "crmscore/clv/holdout.py:3: crmscore.clv.holdout: `import crmscore.plotting`",
            id="type-checking",
        ),
        pytest.param(  # sideways: a sibling of the same layer
            "crmscore/plotting/_model.py",
            "from crmscore.scaleout import rfm_table_dask\n",
            "'scaleout' (layer 7) is not below 'plotting' (layer 7)",
            id="same-layer",
        ),
        pytest.param(  # the ground floor reaching up
            "crmscore/_events.py",
            "from crmscore.rfm import rfm_table\n",
            "'rfm' (layer 1) is not below '<ground>' (layer 0)",
            id="ground-floor",
        ),
        pytest.param(  # a relative import that climbs out of its package
            "crmscore/rfm/_scores.py",
            "from ..tiering import Scorecard\n",
            "`from crmscore.tiering import Scorecard`: 'tiering' (layer 4)",
            id="relative",
        ),
        pytest.param(  # downwards, but into another package's private module
            "crmscore/clv/holdout.py",
            "from crmscore.rfm._table import rfm_table\n",
            "crmscore/clv/holdout.py:1: crmscore.clv.holdout: "
            "`from crmscore.rfm._table import rfm_table`: imports the private module "
            "crmscore.rfm._table of 'rfm'",
            id="private-module",
        ),
        pytest.param(  # a private module taken as a name of its package
            "crmscore/scaleout/_dask.py",
            "from crmscore.clv import _fitting\n",
            "imports the private name(s) ['_fitting'] of 'clv'",
            id="private-module-as-name",
        ),
        pytest.param(  # a private name of the ground floor
            "crmscore/rfm/_table.py",
            "from crmscore._ids import _factorize_sorted\n",
            "imports the private name(s) ['_factorize_sorted'] of '<ground>'",
            id="private-name",
        ),
        pytest.param(  # a package the layer table does not know
            "crmscore/recommend/__init__.py",
            "from crmscore.rfm import rfm_table\n",
            "unit 'recommend' has no layer; add it to LAYERS",
            id="unknown-package",
        ),
    ],
)
def test_an_offending_import_is_named(tmp_path: Path, name: str, text: str, expected: str) -> None:
    _write(tmp_path, {**CLEAN, name: text})
    problems = violations(collect_imports(tmp_path))
    assert len(problems) == 1, problems
    assert expected in problems[0]

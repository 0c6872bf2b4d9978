"""Griffe extension: turn Sphinx roles in docstrings into mkdocstrings cross-references.

The docstrings of ``src/`` still use Sphinx roles (:func:`x`, :meth:`x`, :class:`x`,
...), which mkdocs would print as literal text. While mkdocstrings loads the package,
this rewrites each role in a docstring, in memory (``src/`` is not touched):

- to ``[x][canonical.path]``, a link autorefs resolves, when the role's target is an
  object the API reference renders (a ``::: identifier`` of ``docs/*.md`` or one of
  its public, documented members);
- otherwise (a private helper, pandas, the standard library) to plain code, ``x``.

The target is looked up as Sphinx would: as written, then relative to the object
whose docstring it is (its class, its module, the packages above), then from the
top-level package. ``~a.b.c`` shows ``c``. The built site is checked for any role
left over by ``.ci/run``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import griffe

if TYPE_CHECKING:
    from collections.abc import Iterator

DOCS = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:py:)?(?:func|meth|class|attr|mod|data|obj|exc|const):`(?P<target>[^`]+)`")
DIRECTIVE = re.compile(r"^:::\s+(\S+)", re.MULTILINE)


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles of every docstring of the loaded package."""

    def on_package(
        self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **_kwargs: Any
    ) -> None:
        collection = loader.modules_collection
        rendered = self._rendered(collection)
        for obj in _walk(pkg):
            if obj.docstring is None or ":`" not in obj.docstring.value:
                continue
            scopes = [obj.path]
            parent = obj.parent
            while parent is not None:
                scopes.append(parent.path)
                parent = parent.parent
            scopes.append(pkg.path)

            def replace(match: re.Match[str], scopes: list[str] = scopes) -> str:
                target = match.group("target")
                short = target.startswith("~")
                name = target.lstrip("~").lstrip(".")
                text = name.rsplit(".", 1)[-1] if short else name
                path = self._resolve(collection, name, scopes)
                if path is not None and path in rendered:
                    return f"[`{text}`][{path}]"
                return f"`{text}`"

            obj.docstring.value = ROLE.sub(replace, obj.docstring.value)

    @staticmethod
    def _canonical(collection: griffe.ModulesCollection, path: str) -> str | None:
        try:
            return collection[path].canonical_path  # type: ignore[no-any-return]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None

    def _resolve(
        self, collection: griffe.ModulesCollection, name: str, scopes: list[str]
    ) -> str | None:
        for candidate in [name, *(f"{scope}.{name}" for scope in scopes)]:
            path = self._canonical(collection, candidate)
            if path is not None:
                return path
        return None

    def _rendered(self, collection: griffe.ModulesCollection) -> set[str]:
        """Canonical paths of what the API reference renders (so autorefs has an anchor)."""
        rendered: set[str] = set()
        for page in DOCS.glob("*.md"):
            for identifier in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
                try:
                    obj = collection[identifier]
                    target = obj.final_target if obj.is_alias else obj
                except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                    continue
                rendered.add(target.canonical_path)
                if target.is_class:
                    for member_name, member in target.members.items():
                        if member_name.startswith("_"):
                            continue
                        try:
                            documented = member.docstring is not None
                            path = member.canonical_path
                        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                            continue
                        if documented:
                            rendered.add(path)
        return rendered

"""The package's top level (crmscore/__init__.py): its version and its public names."""

from __future__ import annotations

from importlib import metadata

import crmscore


def test_version_comes_from_the_package_metadata() -> None:
    assert crmscore.__version__ == metadata.version("crmscore")


def test_every_public_name_exists() -> None:
    missing = [name for name in crmscore.__all__ if not hasattr(crmscore, name)]
    assert missing == []
    assert "NotFittedError" not in crmscore.__all__  # removed: nothing raised it

"""Shared fixtures: user functions written to real files (srcgrad reads source)."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session")
def make_module(tmp_path_factory):
    """make_module(source) -> an imported module whose file holds `source`."""
    root = tmp_path_factory.mktemp("usermods")

    def make(source: str, name: str | None = None):
        name = name or f"usermod_{next(_counter)}"
        path = root / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return make

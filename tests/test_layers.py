"""Dependencies point one way (catalog <- optimizer <- cli) and the public surface is explicit."""

from __future__ import annotations

import subprocess
import sys

import catalog
import optimizer


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_optimizer_never_imports_click_and_catalog_never_imports_the_optimizer():
    mods = _modules_after("import optimizer; optimizer.optimize; optimizer.estimate")
    assert "click" not in mods
    mods = _modules_after("import catalog; catalog.load_catalog()")
    assert not any(m == "optimizer" or m.startswith("optimizer.") for m in mods)
    assert "ortools" not in mods and "pandas" not in mods


def test_catalog_listing_does_not_import_the_solver():
    mods = _modules_after("import cli; cli.main(['catalog', 'models'], standalone_mode=False)")
    assert "ortools" not in mods and "pandas" not in mods


def test_all_lists_exactly_the_public_names():
    for package in (catalog, optimizer):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
        public = {n for n in dir(package) if not n.startswith("_")}
        assert public == set(package.__all__)

"""The package as a whole: every module imports (a name moved between modules is
found here, not in the one job that reads it), and the configuration imports no torch
(every Snakemake process, a cluster job's included, reads it)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import symlearn


def test_every_module_imports():
    failed = {}
    for module in pkgutil.walk_packages(symlearn.__path__, "symlearn."):
        if module.name.endswith("__main__"):
            continue  # runs the command line
        try:
            importlib.import_module(module.name)
        except Exception as err:  # noqa: BLE001 (each failure is reported)
            failed[module.name] = repr(err)
    assert not failed


def test_the_settings_import_no_torch():
    code = ("import sys, symlearn.settings.checks, symlearn.settings.analysis, "
            "symlearn.settings.resources; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'metatrain', 'e3nn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

"""What produced a run: the configuration as the workflow resolved it, and the
versions of the software, written for the report and table1.

Standard library and PyYAML only: the workflow reads :func:`software_versions` when it
parses the Snakefile, so that a changed version reruns the provenance rule.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import platform
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from ..io import write_text_atomic

#: the distributions whose versions decide the numbers and the figures
PACKAGES = ("symlearn", "torch", "metatrain", "metatensor-torch", "metatomic-torch", "ase",
            "e3nn", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "h5py",
            "snakemake", "snakemake-executor-plugin-slurm")


def software_versions() -> list[tuple[str, str]]:
    """(software, version): Python, the platform and each package as installed."""
    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for name in PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


def write(config: Mapping[str, Any], config_out: str, software_out: str) -> None:
    write_text_atomic(config_out, "# the configuration this run resolved (all config "
                      "files and --config merged)\n"
                      + yaml.safe_dump(dict(config), sort_keys=False))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerows([("software", "version"), *software_versions(),
                      ("executable", sys.executable)])
    write_text_atomic(software_out, table.getvalue())
